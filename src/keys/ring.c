/*
 * The key ring: named keys looked up by kid under a read-write lock, and signing, the only
 * use ever made of a private key.
 */
#include "keys/keys_int.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS_OSSL_ERR_MAX 160

int keys_ossl_fail(struct err *e, int code, const char *what)
{
    char detail[KEYS_OSSL_ERR_MAX] = "failed";
    unsigned long ec = ERR_peek_last_error();
    if (ec)
        ERR_error_string_n(ec, detail, sizeof(detail));
    ERR_clear_error();
    return err_set(e, code, "keys: %s: %s", what, detail);
}

/* A name becomes a file name and a certificate CN: letters, digits, '.', '_', '-', starting
 * with a letter or digit (so never "..", never a hidden file). */
int keys_check_name(const char *name_z, struct err *e)
{
    size_t n = name_z ? strlen(name_z) : 0;
    if (n == 0 || n > KEYS_NAME_MAX)
        return err_set(e, KEYS_E_INVALID, "keys: a key name must be 1..%d characters",
                       KEYS_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name_z[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return err_set(e, KEYS_E_INVALID,
                           "keys: key name may hold only letters, digits, '.', '_' and '-', "
                           "and start with a letter or digit");
    }
    return 0;
}

enum jose_alg keys_alg_of(EVP_PKEY *pk, struct err *e)
{
    char group[32];
    size_t glen = 0;
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(pk) < KEYS_RSA_MIN_BITS) {
            err_set(e, KEYS_E_INVALID, "keys: RSA keys must have at least %d bits",
                    KEYS_RSA_MIN_BITS);
            return JOSE_ALG_UNKNOWN;
        }
        return JOSE_ALG_RS256;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) == 1 &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
            return JOSE_ALG_ES256;
        err_set(e, KEYS_E_INVALID, "keys: only the EC curve P-256 is supported for signing");
        return JOSE_ALG_UNKNOWN;
    case EVP_PKEY_ED25519:
        return JOSE_ALG_EDDSA;
    default:
        err_set(e, KEYS_E_INVALID, "keys: unsupported key type (RSA, EC P-256 or Ed25519)");
        return JOSE_ALG_UNKNOWN;
    }
}

static int64_t asn1_time_secs(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* kid = RFC 7638 thumbprint of the public JWK: stable across restarts, exports and nodes. */
static int derive_kid(EVP_PKEY *pub, enum jose_alg alg, char kid[KEYS_KID_MAX], struct err *e)
{
    struct jose_jwk *jwk = jose_jwk_from_pkey(pub, NULL, alg, e);
    if (!jwk)
        return err_prefix(e, "keys: kid");
    char *tp = jose_jwk_thumbprint(jwk);
    jose_jwk_free(jwk);
    if (!tp || strlen(tp) >= KEYS_KID_MAX) {
        free(tp);
        return err_set(e, KEYS_E_CRYPTO, "keys: JWK thumbprint failed");
    }
    snprintf(kid, KEYS_KID_MAX, "%s", tp);
    free(tp);
    return 0;
}

struct key *keys_key_new(const char *name_z, EVP_PKEY *priv, X509 *cert, struct err *e)
{
    struct key *k = xcalloc(1, sizeof(*k));
    k->priv = priv;
    k->cert = cert;
    if (keys_check_name(name_z, e) < 0)
        goto fail;
    snprintf(k->name, sizeof(k->name), "%s", name_z);
    k->alg = keys_alg_of(priv, e);
    if (k->alg == JOSE_ALG_UNKNOWN)
        goto fail;
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (!pub || EVP_PKEY_eq(priv, pub) != 1) {
        ERR_clear_error();
        err_set(e, KEYS_E_INVALID, "keys: %s: the certificate is not for this private key", name_z);
        goto fail;
    }
    if (derive_kid(pub, k->alg, k->kid, e) < 0)
        goto fail;
    k->not_before = asn1_time_secs(X509_get0_notBefore(cert));
    k->not_after = asn1_time_secs(X509_get0_notAfter(cert));
    return k;
fail:
    keys_key_free(k);
    return NULL;
}

void keys_key_free(struct key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->priv); /* OpenSSL clears private components as it frees them */
    X509_free(k->cert);
    util_wipe(k, sizeof(*k));
    free(k);
}

struct keys *keys_new(void)
{
    struct keys *r = xcalloc(1, sizeof(*r));
    if (pthread_rwlock_init(&r->lock, NULL) != 0) {
        log_error("keys: pthread_rwlock_init failed");
        abort();
    }
    return r;
}

void keys_free(struct keys *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        keys_key_free(r->k[i]);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

struct key *keys_find_locked(struct keys *r, const char *kid_z)
{
    if (!kid_z)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->k[i]->kid, kid_z) == 0)
            return r->k[i];
    return NULL;
}

static struct key *find_name_locked(struct keys *r, const char *name_z)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->k[i]->name, name_z) == 0)
            return r->k[i];
    return NULL;
}

/* Why k cannot join the ring holding r->k[0..] and ks[0..upto), or 0. Under the lock. */
static int check_new_locked(struct keys *r, struct key *const *ks, size_t upto, const struct key *k,
                            struct err *e)
{
    const struct key *old = find_name_locked(r, k->name);
    for (size_t i = 0; !old && i < upto; i++)
        if (strcmp(ks[i]->name, k->name) == 0)
            old = ks[i];
    if (old)
        return err_set(e, KEYS_E_EXISTS, "keys: a key named %s exists already", k->name);
    old = keys_find_locked(r, k->kid);
    for (size_t i = 0; !old && i < upto; i++)
        if (strcmp(ks[i]->kid, k->kid) == 0)
            old = ks[i];
    if (old)
        return err_set(e, KEYS_E_EXISTS, "keys: %s is the same key as %s", k->name, old->name);
    return 0;
}

int keys_ring_add_all(struct keys *r, struct key *const *ks, size_t n, struct err *e)
{
    int rc = 0;
    pthread_rwlock_wrlock(&r->lock);
    if (n > KEYS_MAX - r->n)
        rc = err_set(e, KEYS_E_FULL, "keys: a ring holds at most %d keys", KEYS_MAX);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_new_locked(r, ks, i, ks[i], e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        r->k[r->n++] = ks[i];
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int keys_ring_add(struct keys *r, struct key *k, struct err *e)
{
    return keys_ring_add_all(r, &k, 1, e);
}

int keys_remove(struct keys *r, const char *kid_z, struct err *e)
{
    struct key *k = NULL;
    pthread_rwlock_wrlock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->k[i]->kid, kid_z) == 0) {
            k = r->k[i];
            memmove(&r->k[i], &r->k[i + 1], (r->n - i - 1) * sizeof(r->k[0]));
            r->n--;
            break;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    if (!k)
        return err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kid_z);
    /* A signature in progress holds its own reference to the EVP_PKEY. */
    keys_key_free(k);
    return 0;
}

static void info_of(const struct key *k, struct keys_info *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->name, k->name, sizeof(out->name));
    memcpy(out->kid, k->kid, sizeof(out->kid));
    out->alg = k->alg;
    out->not_before = k->not_before;
    out->not_after = k->not_after;
}

size_t keys_list(struct keys *r, struct keys_info *out, size_t max)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t n = r->n;
    for (size_t i = 0; i < n && i < max; i++)
        info_of(r->k[i], &out[i]);
    pthread_rwlock_unlock(&r->lock);
    return n;
}

int keys_get(struct keys *r, const char *kid_z, struct keys_info *out, struct err *e)
{
    pthread_rwlock_rdlock(&r->lock);
    struct key *k = keys_find_locked(r, kid_z);
    if (k)
        info_of(k, out);
    pthread_rwlock_unlock(&r->lock);
    if (!k)
        return err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kid_z ? kid_z : "");
    return 0;
}

int keys_find_name(struct keys *r, const char *name_z, struct keys_info *out, struct err *e)
{
    pthread_rwlock_rdlock(&r->lock);
    struct key *k = find_name_locked(r, name_z);
    if (k)
        info_of(k, out);
    pthread_rwlock_unlock(&r->lock);
    if (!k)
        return err_set(e, KEYS_E_NOT_FOUND, "keys: no key named \"%.64s\"", name_z);
    return 0;
}

/* ---- signing ----------------------------------------------------------- */

int keys_sign(struct keys *r, const char *kid_z, const void *in, size_t n,
              uint8_t sig[JOSE_SIG_MAX], size_t *siglen, struct err *e)
{
    EVP_PKEY *pk = NULL;
    enum jose_alg alg = JOSE_ALG_UNKNOWN;
    pthread_rwlock_rdlock(&r->lock);
    struct key *k = keys_find_locked(r, kid_z);
    if (k && EVP_PKEY_up_ref(k->priv) == 1) {
        pk = k->priv;
        alg = k->alg;
    }
    pthread_rwlock_unlock(&r->lock);
    if (!pk)
        return err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kid_z ? kid_z : "");
    /* Outside the lock: a slow RSA signature never holds up a key rotation. EVP signing
     * contexts are per call, so concurrent signatures with one key are safe. */
    int rc = jose_sign_raw(pk, alg, in, n, sig, siglen, e);
    EVP_PKEY_free(pk);
    return rc;
}

int keys_signer(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX], size_t *siglen,
                struct err *e)
{
    const struct keys_signer_ctx *c = ctx;
    return keys_sign(c->ring, c->kid, in, n, sig, siglen, e);
}

char *keys_jws_sign(struct keys *r, const char *kid_z, const char *typ_z, struct slice payload,
                    struct err *e)
{
    struct keys_info info;
    if (keys_get(r, kid_z, &info, e) < 0)
        return NULL;
    struct keys_signer_ctx ctx = {r, info.kid};
    return jose_jws_sign(info.alg, info.kid, typ_z, payload, keys_signer, &ctx, e);
}
