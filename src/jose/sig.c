/*
 * Raw JWS signatures (RFC 7518 section 3, RFC 8037 section 3.1) on OpenSSL 3 EVP.
 *
 * Setting up an EVP_PKEY_CTX (fetching the algorithm, checking the key, setting padding and
 * digest) costs about as much as one ECDSA P-256 signature, so each thread keeps a few
 * contexts ready per (key, alg, operation). A slot holds a reference on its key: the pointer
 * that identifies the slot cannot be freed and reused while the slot exists.
 */
#include "jose/jose_int.h"

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ED25519_SIG_LEN 64

enum sig_op {
    SIG_SIGN = 1,
    SIG_VERIFY,
};

struct sig_slot {
    EVP_PKEY *pkey; /* a reference; NULL when the slot is empty */
    enum jose_alg alg;
    enum sig_op op;
    EVP_PKEY_CTX *pctx; /* RSA, ECDSA: initialised for op with padding and digest */
    EVP_MD_CTX *mctx;   /* EdDSA: DigestSign/DigestVerify initialised */
    size_t siglen;      /* length of the JOSE-form signature */
};

struct sig_cache {
    struct sig_slot slot[JOSE_CTX_CACHE_SLOTS];
    unsigned next; /* round-robin eviction */
    uint64_t epoch;
    EVP_MD_CTX *dctx; /* digests for RSA and ECDSA */
};

static pthread_once_t sig_once = PTHREAD_ONCE_INIT;
static pthread_key_t sig_key;
static EVP_MD *sig_md[3]; /* SHA-256, SHA-384, SHA-512, fetched once (implicit fetches are slow) */
static _Atomic uint64_t sig_epoch;
static __thread struct sig_cache *sig_tls;

static void slot_clear(struct sig_slot *s)
{
    EVP_PKEY_CTX_free(s->pctx);
    EVP_MD_CTX_free(s->mctx);
    EVP_PKEY_free(s->pkey);
    memset(s, 0, sizeof *s);
}

static void cache_destroy(void *p)
{
    struct sig_cache *c = p;
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < JOSE_CTX_CACHE_SLOTS; i++) {
        slot_clear(&c->slot[i]);
    }
    EVP_MD_CTX_free(c->dctx);
    free(c);
    sig_tls = NULL;
}

static void sig_init_once(void)
{
    static const char *const names[] = {"SHA256", "SHA384", "SHA512"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        sig_md[i] = EVP_MD_fetch(NULL, names[i], NULL);
    }
    if (pthread_key_create(&sig_key, cache_destroy) != 0) {
        abort();
    }
}

static EVP_MD *md_of(const struct jose_alg_info *ai)
{
    switch (ai->md_len) {
    case 32:
        return sig_md[0];
    case 48:
        return sig_md[1];
    case 64:
        return sig_md[2];
    default:
        return NULL;
    }
}

static struct sig_cache *cache_get(void)
{
    pthread_once(&sig_once, sig_init_once);
    struct sig_cache *c = sig_tls;
    if (c == NULL) {
        c = xcalloc(1, sizeof *c);
        c->dctx = EVP_MD_CTX_new();
        if (c->dctx == NULL) {
            abort();
        }
        c->epoch = atomic_load(&sig_epoch);
        sig_tls = c;
        pthread_setspecific(sig_key, c);
    }
    uint64_t epoch = atomic_load_explicit(&sig_epoch, memory_order_acquire);
    if (c->epoch != epoch) {
        for (size_t i = 0; i < JOSE_CTX_CACHE_SLOTS; i++) {
            slot_clear(&c->slot[i]);
        }
        c->epoch = epoch;
    }
    return c;
}

void jose_cache_flush(void)
{
    atomic_fetch_add_explicit(&sig_epoch, 1, memory_order_release);
}

void jose_thread_cleanup(void)
{
    struct sig_cache *c = sig_tls;
    if (c != NULL) {
        pthread_setspecific(sig_key, NULL);
        cache_destroy(c);
    }
}

static int slot_setup(struct sig_slot *s, EVP_PKEY *pkey, const struct jose_alg_info *ai,
                      enum sig_op op, struct err *e)
{
    int ok;
    if (ai->kty == JOSE_KTY_OKP) {
        s->mctx = EVP_MD_CTX_new();
        if (s->mctx == NULL) {
            goto fail;
        }
        ok = op == SIG_SIGN ? EVP_DigestSignInit_ex(s->mctx, NULL, NULL, NULL, NULL, pkey, NULL)
                            : EVP_DigestVerifyInit_ex(s->mctx, NULL, NULL, NULL, NULL, pkey, NULL);
        if (ok != 1) {
            goto fail;
        }
        s->siglen = ED25519_SIG_LEN;
    } else {
        EVP_MD *md = md_of(ai);
        s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (md == NULL || s->pctx == NULL) {
            goto fail;
        }
        ok = op == SIG_SIGN ? EVP_PKEY_sign_init(s->pctx) : EVP_PKEY_verify_init(s->pctx);
        if (ok != 1) {
            goto fail;
        }
        if (ai->kty == JOSE_KTY_RSA &&
            EVP_PKEY_CTX_set_rsa_padding(s->pctx, ai->pss ? RSA_PKCS1_PSS_PADDING
                                                          : RSA_PKCS1_PADDING) != 1) {
            goto fail;
        }
        if (EVP_PKEY_CTX_set_signature_md(s->pctx, md) != 1) {
            goto fail;
        }
        /* RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash. */
        if (ai->pss && (EVP_PKEY_CTX_set_rsa_mgf1_md(s->pctx, md) != 1 ||
                        EVP_PKEY_CTX_set_rsa_pss_saltlen(s->pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
            goto fail;
        }
        s->siglen = ai->kty == JOSE_KTY_RSA ? (size_t)EVP_PKEY_get_size(pkey) : 2 * ai->coord;
    }
    if (EVP_PKEY_up_ref(pkey) != 1) {
        goto fail;
    }
    s->pkey = pkey;
    s->alg = ai->alg;
    s->op = op;
    return 0;
fail:
    ERR_clear_error();
    slot_clear(s);
    return err_set(e, JOSE_ERR_KEY, "cannot set up %s %s with this key", ai->name,
                   op == SIG_SIGN ? "signing" : "verification");
}

/* The slot for (pkey, alg, op), set up on first use. The key is checked against the
 * algorithm once, when the slot is made. */
static struct sig_slot *slot_get(struct sig_cache *c, EVP_PKEY *pkey,
                                 const struct jose_alg_info *ai, enum sig_op op, struct err *e)
{
    for (size_t i = 0; i < JOSE_CTX_CACHE_SLOTS; i++) {
        struct sig_slot *s = &c->slot[i];
        if (s->pkey == pkey && s->alg == ai->alg && s->op == op) {
            return s;
        }
    }
    if (jose_key_fits(pkey, ai->alg, e) != 0) {
        return NULL;
    }
    struct sig_slot *s = &c->slot[c->next];
    c->next = (c->next + 1) % JOSE_CTX_CACHE_SLOTS;
    slot_clear(s);
    return slot_setup(s, pkey, ai, op, e) == 0 ? s : NULL;
}

static int digest(struct sig_cache *c, const struct jose_alg_info *ai, const void *in, size_t n,
                  uint8_t out[EVP_MAX_MD_SIZE], size_t *outlen)
{
    unsigned int len = 0;
    EVP_MD *md = md_of(ai);
    if (md == NULL || EVP_DigestInit_ex2(c->dctx, md, NULL) != 1 ||
        EVP_DigestUpdate(c->dctx, in, n) != 1 || EVP_DigestFinal_ex(c->dctx, out, &len) != 1) {
        ERR_clear_error();
        return -1;
    }
    *outlen = len;
    return 0;
}

/* DER ECDSA-Sig-Value (RFC 3279 section 2.2.3) to the fixed-width R||S of RFC 7518 section
 * 3.4. Strict DER: minimal lengths and integers, no trailing bytes. */
int jose_ecdsa_der_to_rs(const uint8_t *der, size_t n, size_t coord, uint8_t *rs)
{
    size_t i = 0;
    size_t len;
    if (n < 2 || der[i++] != 0x30) {
        return -1;
    }
    if (der[i] < 0x80) {
        len = der[i++];
    } else if (der[i] == 0x81 && n > 2 && der[i + 1] >= 0x80) {
        len = der[i + 1];
        i += 2;
    } else {
        return -1;
    }
    if (len != n - i) {
        return -1;
    }
    memset(rs, 0, 2 * coord);
    for (size_t k = 0; k < 2; k++) {
        if (n - i < 2 || der[i] != 0x02) {
            return -1;
        }
        size_t l = der[i + 1];
        i += 2;
        if (l == 0 || l >= 0x80 || l > n - i) {
            return -1;
        }
        const uint8_t *v = der + i;
        i += l;
        if ((v[0] & 0x80) || (l > 1 && v[0] == 0 && !(v[1] & 0x80))) {
            return -1; /* negative, or not minimal */
        }
        while (l > 0 && v[0] == 0) {
            v++;
            l--;
        }
        if (l > coord) {
            return -1;
        }
        memcpy(rs + k * coord + (coord - l), v, l);
    }
    return i == n ? 0 : -1;
}

size_t jose_ecdsa_rs_to_der(const uint8_t *rs, size_t coord, uint8_t der[JOSE_ECDSA_DER_MAX])
{
    uint8_t body[JOSE_ECDSA_DER_MAX];
    size_t b = 0;
    for (size_t k = 0; k < 2; k++) {
        const uint8_t *v = rs + k * coord;
        size_t l = coord;
        while (l > 1 && v[0] == 0) {
            v++;
            l--;
        }
        size_t pad = (v[0] & 0x80) ? 1 : 0;
        body[b++] = 0x02;
        body[b++] = (uint8_t)(l + pad);
        if (pad) {
            body[b++] = 0;
        }
        memcpy(body + b, v, l);
        b += l;
    }
    size_t i = 0;
    der[i++] = 0x30;
    if (b >= 0x80) {
        der[i++] = 0x81;
    }
    der[i++] = (uint8_t)b;
    memcpy(der + i, body, b);
    return i + b;
}

int jose_sign_raw(EVP_PKEY *priv, enum jose_alg alg, const void *in, size_t n,
                  uint8_t sig[JOSE_SIG_MAX], size_t *siglen, struct err *e)
{
    const struct jose_alg_info *ai = jose_alg_info(alg);
    if (ai == NULL) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "algorithm not accepted");
    }
    if (priv == NULL || (in == NULL && n > 0) || sig == NULL || siglen == NULL) {
        return err_set(e, JOSE_ERR_INTERNAL, "jose_sign_raw: bad arguments");
    }
    struct sig_cache *c = cache_get();
    struct sig_slot *s = slot_get(c, priv, ai, SIG_SIGN, e);
    if (s == NULL) {
        return -1;
    }
    uint8_t dig[EVP_MAX_MD_SIZE];
    uint8_t der[JOSE_ECDSA_DER_MAX];
    size_t dlen = 0;
    size_t len;
    switch (ai->kty) {
    case JOSE_KTY_OKP:
        len = JOSE_SIG_MAX;
        if (EVP_DigestSign(s->mctx, sig, &len, in, n) != 1 || len != s->siglen) {
            slot_clear(s);
            goto fail;
        }
        break;
    case JOSE_KTY_RSA:
        len = JOSE_SIG_MAX;
        if (digest(c, ai, in, n, dig, &dlen) != 0 ||
            EVP_PKEY_sign(s->pctx, sig, &len, dig, dlen) != 1 || len != s->siglen) {
            goto fail;
        }
        break;
    case JOSE_KTY_EC:
        len = sizeof der;
        if (digest(c, ai, in, n, dig, &dlen) != 0 ||
            EVP_PKEY_sign(s->pctx, der, &len, dig, dlen) != 1 ||
            jose_ecdsa_der_to_rs(der, len, ai->coord, sig) != 0) {
            goto fail;
        }
        len = s->siglen;
        break;
    default:
        goto fail;
    }
    *siglen = len;
    return 0;
fail:
    ERR_clear_error();
    return err_set(e, JOSE_ERR_INTERNAL, "%s signing failed", ai->name);
}

int jose_verify_raw(EVP_PKEY *pub, enum jose_alg alg, const void *in, size_t n, const uint8_t *sig,
                    size_t siglen, struct err *e)
{
    const struct jose_alg_info *ai = jose_alg_info(alg);
    if (ai == NULL) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "algorithm not accepted");
    }
    if (pub == NULL || (in == NULL && n > 0) || (sig == NULL && siglen > 0)) {
        return err_set(e, JOSE_ERR_INTERNAL, "jose_verify_raw: bad arguments");
    }
    struct sig_cache *c = cache_get();
    struct sig_slot *s = slot_get(c, pub, ai, SIG_VERIFY, e);
    if (s == NULL) {
        return -1;
    }
    /* Exact length: RSA signatures are as long as the modulus (RFC 8017 section 8.2.2), ECDSA
     * ones are R||S (a DER signature is refused here), Ed25519 ones are 64 bytes. */
    if (siglen != s->siglen) {
        return err_set(e, JOSE_ERR_SIGNATURE, "%s signature of %zu bytes (%zu expected)", ai->name,
                       siglen, s->siglen);
    }
    uint8_t dig[EVP_MAX_MD_SIZE];
    uint8_t der[JOSE_ECDSA_DER_MAX];
    size_t dlen = 0;
    int rc = -1;
    switch (ai->kty) {
    case JOSE_KTY_OKP:
        rc = EVP_DigestVerify(s->mctx, sig, siglen, in, n);
        if (rc != 1) {
            slot_clear(s); /* do not reuse a context that saw a failure */
        }
        break;
    case JOSE_KTY_RSA:
        if (digest(c, ai, in, n, dig, &dlen) == 0) {
            rc = EVP_PKEY_verify(s->pctx, sig, siglen, dig, dlen);
        }
        break;
    case JOSE_KTY_EC:
        if (digest(c, ai, in, n, dig, &dlen) == 0) {
            size_t derlen = jose_ecdsa_rs_to_der(sig, ai->coord, der);
            rc = EVP_PKEY_verify(s->pctx, der, derlen, dig, dlen);
        }
        break;
    default:
        break;
    }
    if (rc != 1) {
        ERR_clear_error();
        return err_set(e, JOSE_ERR_SIGNATURE, "%s signature does not verify", ai->name);
    }
    return 0;
}

int jose_pkey_sign(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX], size_t *siglen,
                   struct err *e)
{
    const struct jose_pkey_signer *ps = ctx;
    if (ps == NULL) {
        return err_set(e, JOSE_ERR_INTERNAL, "jose_pkey_sign: no signer");
    }
    return jose_sign_raw(ps->priv, ps->alg, in, n, sig, siglen, e);
}
