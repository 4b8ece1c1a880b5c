/*
 * Private to src/jose: the algorithm table and the JWK structure shared by its files.
 */
#ifndef POSTERN_JOSE_INT_H
#define POSTERN_JOSE_INT_H

#include "jose/jose.h"

#include <openssl/evp.h>

enum jose_kty {
    JOSE_KTY_NONE = 0,
    JOSE_KTY_RSA,
    JOSE_KTY_EC,
    JOSE_KTY_OKP,
};

/* One row per algorithm of RFC 7518 section 3.1 and RFC 8037 section 3.1 that we accept. */
struct jose_alg_info {
    enum jose_alg alg;
    const char *name; /* "RS256" */
    enum jose_kty kty;
    const char *md;         /* OpenSSL digest name; NULL for EdDSA (it hashes internally) */
    int md_len;             /* digest bytes (also the PSS salt length, RFC 7518 section 3.5) */
    bool pss;               /* RSASSA-PSS, else PKCS#1 v1.5 for RSA */
    const char *crv;        /* JWK "crv" the key must have (EC, OKP) */
    const char *ossl_group; /* OpenSSL group name of that curve */
    size_t coord;           /* EC: bytes of one coordinate, R and S (RFC 7518 section 3.4) */
};

const struct jose_alg_info *jose_alg_info(enum jose_alg a);
/* The algorithm a key of this type and curve gets when its JWK has no "alg". */
enum jose_alg jose_alg_default(enum jose_kty kty, const char *crv);
/* The EC curve ("P-256") of an EVP_PKEY, or NULL when it is not one we know. */
const char *jose_ec_curve(EVP_PKEY *pkey);

struct jose_jwk {
    EVP_PKEY *pkey; /* one reference owned */
    char *kid;      /* NULL when the key has none */
    enum jose_alg alg;
    enum jose_kty kty;
    bool alg_default; /* imported without "alg": alg is its type's default */
};

/* Keeps e's message (set by a lower layer) and sets this module's code. Returns -1. */
static inline int jose_err_code(struct err *e, enum jose_errc code)
{
    if (e != NULL) {
        e->code = code;
    }
    return -1;
}

/* Checks that pkey can serve alg (type, curve, RSA size). */
int jose_key_fits(EVP_PKEY *pkey, enum jose_alg alg, struct err *e);

/* ECDSA signature forms (RFC 7518 section 3.4). Exposed for the unit tests. */
#define JOSE_ECDSA_DER_MAX 141 /* SEQUENCE of two 66-byte INTEGERs with sign bytes */
int jose_ecdsa_der_to_rs(const uint8_t *der, size_t n, size_t coord, uint8_t *rs);
size_t jose_ecdsa_rs_to_der(const uint8_t *rs, size_t coord, uint8_t der[JOSE_ECDSA_DER_MAX]);

#endif
