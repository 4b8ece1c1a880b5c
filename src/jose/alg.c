/* Algorithm names and parameters: RFC 7518 section 3.1 (JWS), RFC 8037 section 3.1 (EdDSA). */
#include "jose/jose_int.h"

#include <string.h>

static const struct jose_alg_info algs[] = {
    {JOSE_ALG_RS256, "RS256", JOSE_KTY_RSA, "SHA256", 32, false, NULL, NULL, 0},
    {JOSE_ALG_RS384, "RS384", JOSE_KTY_RSA, "SHA384", 48, false, NULL, NULL, 0},
    {JOSE_ALG_RS512, "RS512", JOSE_KTY_RSA, "SHA512", 64, false, NULL, NULL, 0},
    {JOSE_ALG_PS256, "PS256", JOSE_KTY_RSA, "SHA256", 32, true, NULL, NULL, 0},
    {JOSE_ALG_PS384, "PS384", JOSE_KTY_RSA, "SHA384", 48, true, NULL, NULL, 0},
    {JOSE_ALG_PS512, "PS512", JOSE_KTY_RSA, "SHA512", 64, true, NULL, NULL, 0},
    {JOSE_ALG_ES256, "ES256", JOSE_KTY_EC, "SHA256", 32, false, "P-256", "prime256v1", 32},
    {JOSE_ALG_ES384, "ES384", JOSE_KTY_EC, "SHA384", 48, false, "P-384", "secp384r1", 48},
    {JOSE_ALG_ES512, "ES512", JOSE_KTY_EC, "SHA512", 64, false, "P-521", "secp521r1", 66},
    {JOSE_ALG_EDDSA, "EdDSA", JOSE_KTY_OKP, NULL, 0, false, "Ed25519", "ED25519", 0},
};

const struct jose_alg_info *jose_alg_info(enum jose_alg a)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algs); i++) {
        if (algs[i].alg == a) {
            return &algs[i];
        }
    }
    return NULL;
}

const char *jose_alg_name(enum jose_alg a)
{
    const struct jose_alg_info *ai = jose_alg_info(a);
    return ai ? ai->name : "unknown";
}

/* Exact, case-sensitive match (RFC 7515 section 4.1.1). "none", "HS256" and every name not in
 * the table give JOSE_ALG_UNKNOWN, which nothing accepts. */
enum jose_alg jose_alg_from_name(struct slice name)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algs); i++) {
        if (slice_eq_z(name, algs[i].name)) {
            return algs[i].alg;
        }
    }
    return JOSE_ALG_UNKNOWN;
}

enum jose_alg jose_alg_default(enum jose_kty kty, const char *crv)
{
    if (kty == JOSE_KTY_RSA) {
        return JOSE_ALG_RS256;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algs) && crv != NULL; i++) {
        if (algs[i].kty == kty && strcmp(algs[i].crv, crv) == 0) {
            return algs[i].alg;
        }
    }
    return JOSE_ALG_UNKNOWN;
}

const char *jose_ec_curve(EVP_PKEY *pkey)
{
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1) {
        return NULL;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algs); i++) {
        if (algs[i].kty == JOSE_KTY_EC &&
            (strcmp(group, algs[i].ossl_group) == 0 || strcmp(group, algs[i].crv) == 0)) {
            return algs[i].crv;
        }
    }
    return NULL;
}

int jose_key_fits(EVP_PKEY *pkey, enum jose_alg alg, struct err *e)
{
    const struct jose_alg_info *ai = jose_alg_info(alg);
    if (ai == NULL || pkey == NULL) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "algorithm not accepted");
    }
    switch (ai->kty) {
    case JOSE_KTY_RSA: {
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            return err_set(e, JOSE_ERR_KEY, "%s needs an RSA key", ai->name);
        }
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < JOSE_RSA_MIN_BITS || bits > JOSE_RSA_MAX_BITS) {
            return err_set(e, JOSE_ERR_KEY, "RSA key of %d bits (%d to %d accepted)", bits,
                           JOSE_RSA_MIN_BITS, JOSE_RSA_MAX_BITS);
        }
        return 0;
    }
    case JOSE_KTY_EC: {
        const char *crv = jose_ec_curve(pkey);
        if (crv == NULL || strcmp(crv, ai->crv) != 0) {
            return err_set(e, JOSE_ERR_KEY, "%s needs an EC key on %s", ai->name, ai->crv);
        }
        return 0;
    }
    case JOSE_KTY_OKP:
        if (!EVP_PKEY_is_a(pkey, "ED25519")) {
            return err_set(e, JOSE_ERR_KEY, "%s needs an Ed25519 key", ai->name);
        }
        return 0;
    default:
        return err_set(e, JOSE_ERR_UNSUPPORTED, "algorithm not accepted");
    }
}
