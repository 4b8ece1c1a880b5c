/*
 * JSON Web Keys (RFC 7517; key types and members of RFC 7518 section 6 and RFC 8037
 * section 2): import of public keys into OpenSSL 3 EVP_PKEYs, export, RFC 7638 thumbprints.
 */
#include "jose/jose_int.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#define JWK_MEMBER_MAX  1100 /* decoded bytes of one member: an RSA-8192 modulus and a bit */
#define EC_POINT_MAX    (1 + 2 * 66)
#define ED25519_KEY_LEN 32

/* Decodes a base64url member into out (cap JWK_MEMBER_MAX). Missing, not a string or not
 * base64url: error naming the member. */
static int member_b64(const json_t *j, const char *name, struct buf *out, struct err *e)
{
    const json_t *v = json_object_get(j, name);
    if (!json_is_string(v)) {
        return err_set(e, JOSE_ERR_KEY, "JWK member \"%s\" missing or not a string", name);
    }
    struct slice s = {json_string_value(v), json_string_length(v)};
    if (b64url_decode(s, out) != 0 || out->len == 0) {
        return err_set(e, JOSE_ERR_KEY, "JWK member \"%s\" is not base64url", name);
    }
    return 0;
}

/* An optional string member: NULL when absent, error when present but not a string. */
static int member_str(const json_t *j, const char *name, const char **out, struct err *e)
{
    const json_t *v = json_object_get(j, name);
    *out = NULL;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_string(v)) {
        return err_set(e, JOSE_ERR_KEY, "JWK member \"%s\" is not a string", name);
    }
    *out = json_string_value(v);
    return 0;
}

/* RFC 7517 sections 4.2 and 4.3: a key published for encryption, or whose key_ops do not
 * include "verify", must not verify signatures. */
static int check_usage(const json_t *j, struct err *e)
{
    const char *use;
    if (member_str(j, "use", &use, e) != 0) {
        return -1;
    }
    if (use != NULL && strcmp(use, "sig") != 0) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "JWK \"use\" is not \"sig\"");
    }
    const json_t *ops = json_object_get(j, "key_ops");
    if (ops == NULL) {
        return 0;
    }
    if (!json_is_array(ops)) {
        return err_set(e, JOSE_ERR_KEY, "JWK \"key_ops\" is not an array");
    }
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op)
    {
        if (!json_is_string(op)) {
            return err_set(e, JOSE_ERR_KEY, "JWK \"key_ops\" holds a non-string");
        }
        if (strcmp(json_string_value(op), "verify") == 0) {
            return 0;
        }
    }
    return err_set(e, JOSE_ERR_UNSUPPORTED, "JWK \"key_ops\" lacks \"verify\"");
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, struct err *e)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
        err_set(e, JOSE_ERR_KEY, "%s key rejected by OpenSSL", type);
    }
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* RFC 7518 section 6.3.1. Leading zero octets of n (emitted by some libraries) are
 * tolerated and stripped; the size limits apply to the value. */
static EVP_PKEY *rsa_import(const json_t *j, struct err *e)
{
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL;
    BIGNUM *ex = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    struct buf nb, eb;
    buf_init(&nb, JWK_MEMBER_MAX);
    buf_init(&eb, JWK_MEMBER_MAX);
    if (member_b64(j, "n", &nb, e) != 0 || member_b64(j, "e", &eb, e) != 0) {
        goto done;
    }
    n = BN_bin2bn((const unsigned char *)nb.p, (int)nb.len, NULL);
    ex = BN_bin2bn((const unsigned char *)eb.p, (int)eb.len, NULL);
    if (n == NULL || ex == NULL) {
        err_set(e, JOSE_ERR_INTERNAL, "out of memory");
        goto done;
    }
    int bits = BN_num_bits(n);
    if (bits < JOSE_RSA_MIN_BITS || bits > JOSE_RSA_MAX_BITS) {
        err_set(e, JOSE_ERR_KEY, "RSA key of %d bits (%d to %d accepted)", bits, JOSE_RSA_MIN_BITS,
                JOSE_RSA_MAX_BITS);
        goto done;
    }
    if (!BN_is_odd(n) || !BN_is_odd(ex) || BN_num_bits(ex) < 2 ||
        BN_num_bytes(ex) > JOSE_RSA_MAX_E_BYTES) {
        err_set(e, JOSE_ERR_KEY, "RSA modulus or exponent out of range");
        goto done;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex) != 1) {
        err_set(e, JOSE_ERR_INTERNAL, "out of memory");
        goto done;
    }
    pkey = pkey_fromdata("RSA", bld, e);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(ex);
    buf_free(&nb);
    buf_free(&eb);
    return pkey;
}

/* RFC 7518 section 6.2.1: x and y are exactly one coordinate long; the point must be on the
 * curve (EVP_PKEY_public_check), which defeats invalid-curve inputs. */
static EVP_PKEY *ec_import(const json_t *j, const char *crv, struct err *e)
{
    const struct jose_alg_info *ai = jose_alg_info(jose_alg_default(JOSE_KTY_EC, crv));
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    struct buf xb, yb;
    buf_init(&xb, JWK_MEMBER_MAX);
    buf_init(&yb, JWK_MEMBER_MAX);
    if (ai == NULL) {
        err_set(e, JOSE_ERR_UNSUPPORTED, "EC curve not supported");
        goto done;
    }
    if (member_b64(j, "x", &xb, e) != 0 || member_b64(j, "y", &yb, e) != 0) {
        goto done;
    }
    if (xb.len != ai->coord || yb.len != ai->coord) {
        err_set(e, JOSE_ERR_KEY, "EC coordinates must be %zu bytes for %s", ai->coord, ai->crv);
        goto done;
    }
    uint8_t point[EC_POINT_MAX];
    point[0] = 0x04; /* uncompressed (SEC 1 section 2.3.3) */
    memcpy(point + 1, xb.p, ai->coord);
    memcpy(point + 1 + ai->coord, yb.p, ai->coord);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ai->ossl_group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * ai->coord) !=
            1) {
        err_set(e, JOSE_ERR_INTERNAL, "out of memory");
        goto done;
    }
    pkey = pkey_fromdata("EC", bld, e);
    if (pkey == NULL) {
        goto done;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        err_set(e, JOSE_ERR_KEY, "EC point is not on %s", ai->crv);
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    ERR_clear_error();
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    buf_free(&xb);
    buf_free(&yb);
    return pkey;
}

/* RFC 8037 section 2: OKP keys; only Ed25519 signs among the curves we know. */
static EVP_PKEY *okp_import(const json_t *j, const char *crv, struct err *e)
{
    EVP_PKEY *pkey = NULL;
    struct buf xb;
    buf_init(&xb, JWK_MEMBER_MAX);
    if (strcmp(crv, "Ed25519") != 0) {
        err_set(e, JOSE_ERR_UNSUPPORTED, "OKP curve not supported");
        goto done;
    }
    if (member_b64(j, "x", &xb, e) != 0) {
        goto done;
    }
    if (xb.len != ED25519_KEY_LEN) {
        err_set(e, JOSE_ERR_KEY, "Ed25519 key must be %d bytes", ED25519_KEY_LEN);
        goto done;
    }
    pkey =
        EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, (const unsigned char *)xb.p, xb.len);
    if (pkey == NULL) {
        ERR_clear_error();
        err_set(e, JOSE_ERR_KEY, "Ed25519 key rejected by OpenSSL");
    }
done:
    buf_free(&xb);
    return pkey;
}

static struct jose_jwk *jwk_new(EVP_PKEY *pkey, enum jose_kty kty, enum jose_alg alg,
                                const char *kid_z)
{
    struct jose_jwk *k = xcalloc(1, sizeof *k);
    k->pkey = pkey;
    k->kty = kty;
    k->alg = alg;
    k->kid = kid_z ? xstrdup(kid_z) : NULL;
    return k;
}

static int check_kid(const char *kid, struct err *e)
{
    if (kid != NULL && strlen(kid) > JOSE_KID_MAX) {
        return err_set(e, JOSE_ERR_KEY, "kid longer than %d bytes", JOSE_KID_MAX);
    }
    return 0;
}

struct jose_jwk *jose_jwk_from_json(const json_t *j, struct err *e)
{
    const char *kty_s, *crv, *kid, *alg_s;
    if (!json_is_object(j)) {
        err_set(e, JOSE_ERR_KEY, "JWK is not an object");
        return NULL;
    }
    if (member_str(j, "kty", &kty_s, e) != 0 || member_str(j, "crv", &crv, e) != 0 ||
        member_str(j, "kid", &kid, e) != 0 || member_str(j, "alg", &alg_s, e) != 0 ||
        check_kid(kid, e) != 0 || check_usage(j, e) != 0) {
        return NULL;
    }
    enum jose_kty kty = JOSE_KTY_NONE;
    if (kty_s != NULL && strcmp(kty_s, "RSA") == 0) {
        kty = JOSE_KTY_RSA;
    } else if (kty_s != NULL && strcmp(kty_s, "EC") == 0) {
        kty = JOSE_KTY_EC;
    } else if (kty_s != NULL && strcmp(kty_s, "OKP") == 0) {
        kty = JOSE_KTY_OKP;
    } else {
        /* "oct" among others: a shared secret is never a verification key here. */
        err_set(e, JOSE_ERR_UNSUPPORTED, "JWK kty missing or not RSA, EC or OKP");
        return NULL;
    }
    if (kty != JOSE_KTY_RSA && crv == NULL) {
        err_set(e, JOSE_ERR_KEY, "JWK without \"crv\"");
        return NULL;
    }
    /* The key's one algorithm: its "alg" when given (it must fit the key), else the
     * default of its type (RFC 7517 section 4.4 makes "alg" optional). */
    enum jose_alg alg = jose_alg_default(kty, crv);
    if (alg_s != NULL) {
        alg = jose_alg_from_name(slice_z(alg_s));
        const struct jose_alg_info *ai = jose_alg_info(alg);
        if (ai == NULL || ai->kty != kty || (ai->crv != NULL && strcmp(ai->crv, crv) != 0)) {
            err_set(e, JOSE_ERR_UNSUPPORTED, "JWK \"alg\" not accepted for this key");
            return NULL;
        }
    }
    if (alg == JOSE_ALG_UNKNOWN) {
        err_set(e, JOSE_ERR_UNSUPPORTED, "JWK curve not supported");
        return NULL;
    }
    EVP_PKEY *pkey = kty == JOSE_KTY_RSA  ? rsa_import(j, e)
                     : kty == JOSE_KTY_EC ? ec_import(j, crv, e)
                                          : okp_import(j, crv, e);
    if (pkey == NULL) {
        return NULL;
    }
    struct jose_jwk *k = jwk_new(pkey, kty, alg, kid);
    if (k != NULL) {
        k->alg_default = alg_s == NULL;
    }
    return k;
}

bool jose_jwk_alg_default(const struct jose_jwk *k)
{
    return k->alg_default;
}

struct jose_jwk *jose_jwk_from_pkey(EVP_PKEY *pub, const char *kid_z, enum jose_alg alg,
                                    struct err *e)
{
    enum jose_kty kty = JOSE_KTY_NONE;
    const char *crv = NULL;
    if (pub == NULL) {
        err_set(e, JOSE_ERR_INTERNAL, "no key");
        return NULL;
    }
    if (EVP_PKEY_is_a(pub, "RSA")) {
        kty = JOSE_KTY_RSA;
    } else if (EVP_PKEY_is_a(pub, "EC")) {
        kty = JOSE_KTY_EC;
        crv = jose_ec_curve(pub);
    } else if (EVP_PKEY_is_a(pub, "ED25519")) {
        kty = JOSE_KTY_OKP;
        crv = "Ed25519";
    }
    if (alg == JOSE_ALG_UNKNOWN) {
        alg = jose_alg_default(kty, crv);
    }
    if (check_kid(kid_z, e) != 0 || jose_key_fits(pub, alg, e) != 0) {
        return NULL;
    }
    if (EVP_PKEY_up_ref(pub) != 1) {
        err_set(e, JOSE_ERR_INTERNAL, "EVP_PKEY_up_ref failed");
        return NULL;
    }
    return jwk_new(pub, kty, alg, kid_z);
}

void jose_jwk_free(struct jose_jwk *k)
{
    if (k == NULL) {
        return;
    }
    EVP_PKEY_free(k->pkey);
    free(k->kid);
    free(k);
}

const char *jose_jwk_kid(const struct jose_jwk *k)
{
    return k->kid;
}

enum jose_alg jose_jwk_alg(const struct jose_jwk *k)
{
    return k->alg;
}

EVP_PKEY *jose_jwk_pkey(const struct jose_jwk *k)
{
    return k->pkey;
}

/* The public members of a key, base64url-encoded; each xmalloc'd (NULL when unused). */
struct jwk_pub {
    const char *kty;
    const char *crv;
    char *n, *e, *x, *y;
};

static void jwk_pub_free(struct jwk_pub *m)
{
    free(m->n);
    free(m->e);
    free(m->x);
    free(m->y);
}

static char *bn_param_b64(EVP_PKEY *pkey, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        ERR_clear_error();
        return NULL;
    }
    int len = pad ? (int)pad : BN_num_bytes(bn);
    uint8_t *bin = xmalloc(len > 0 ? (size_t)len : 1);
    if (len > 0 && BN_bn2binpad(bn, bin, len) == len) {
        out = b64url_encode_z(bin, (size_t)len);
    }
    free(bin);
    BN_free(bn);
    return out;
}

/* RFC 7518 section 6.3.1.1 (n, e without leading zeros), 6.2.1.2 (x, y full width),
 * RFC 8037 section 2 (x). */
static int jwk_pub_get(const struct jose_jwk *k, struct jwk_pub *m)
{
    memset(m, 0, sizeof *m);
    const struct jose_alg_info *ai = jose_alg_info(k->alg);
    switch (k->kty) {
    case JOSE_KTY_RSA:
        m->kty = "RSA";
        m->n = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        m->e = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        return m->n && m->e ? 0 : -1;
    case JOSE_KTY_EC:
        m->kty = "EC";
        m->crv = ai->crv;
        m->x = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, ai->coord);
        m->y = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, ai->coord);
        return m->x && m->y ? 0 : -1;
    case JOSE_KTY_OKP: {
        uint8_t raw[ED25519_KEY_LEN];
        size_t len = sizeof raw;
        m->kty = "OKP";
        m->crv = "Ed25519";
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != sizeof raw) {
            ERR_clear_error();
            return -1;
        }
        m->x = b64url_encode_z(raw, len);
        return m->x ? 0 : -1;
    }
    default:
        return -1;
    }
}

static void set_str(json_t *o, const char *name, const char *v)
{
    if (v != NULL) {
        json_object_set_new(o, name, json_string(v));
    }
}

json_t *jose_jwk_to_json(const struct jose_jwk *k)
{
    struct jwk_pub m;
    json_t *o = NULL;
    if (jwk_pub_get(k, &m) == 0) {
        o = json_object();
        set_str(o, "kty", m.kty);
        set_str(o, "kid", k->kid);
        set_str(o, "alg", jose_alg_name(k->alg));
        set_str(o, "use", "sig");
        set_str(o, "n", m.n);
        set_str(o, "e", m.e);
        set_str(o, "crv", m.crv);
        set_str(o, "x", m.x);
        set_str(o, "y", m.y);
    }
    jwk_pub_free(&m);
    return o;
}

/* RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
 * None of the values needs JSON escaping (base64url and fixed names). */
char *jose_jwk_thumbprint(const struct jose_jwk *k)
{
    struct jwk_pub m;
    struct buf b;
    char *out = NULL;
    buf_init(&b, 4096);
    if (jwk_pub_get(k, &m) != 0) {
        goto done;
    }
    int rc;
    if (k->kty == JOSE_KTY_RSA) {
        rc = buf_printf(&b, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", m.e, m.n);
    } else if (k->kty == JOSE_KTY_EC) {
        rc = buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", m.crv, m.x,
                        m.y);
    } else {
        rc = buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", m.crv, m.x);
    }
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_Digest(b.p, b.len, md, &mdlen, EVP_sha256(), NULL) == 1) {
        out = b64url_encode_z(md, mdlen);
    }
done:
    ERR_clear_error();
    jwk_pub_free(&m);
    buf_free(&b);
    return out;
}
