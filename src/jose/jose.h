/*
 * jose: JWK, JWKS, JWS (compact) and JWT claim checks on OpenSSL 3 EVP + jansson.
 * Knows nothing of HTTP or the store. RFC 7515, 7517, 7518, 7519, 8037.
 *
 * The rule that matters: the algorithm is fixed by the key, never by the token. A JWK
 * carries exactly one allowed algorithm (its "alg", or the default for its type); a token
 * whose header names another algorithm is rejected. "none" and HMAC algorithms are never
 * accepted. Header parameters "jwk", "jku", "x5u" and "x5c" never supply a key.
 */
#ifndef POSTERN_JOSE_H
#define POSTERN_JOSE_H

#include "util/util.h"

typedef struct evp_pkey_st EVP_PKEY;

enum jose_alg {
    JOSE_ALG_UNKNOWN = 0,
    JOSE_ALG_RS256,
    JOSE_ALG_RS384,
    JOSE_ALG_RS512,
    JOSE_ALG_PS256,
    JOSE_ALG_PS384,
    JOSE_ALG_PS512,
    JOSE_ALG_ES256,
    JOSE_ALG_ES384,
    JOSE_ALG_ES512,
    JOSE_ALG_EDDSA,
};

const char *jose_alg_name(enum jose_alg a);
/* JOSE_ALG_UNKNOWN for "none", "HS256" and anything not listed above. */
enum jose_alg jose_alg_from_name(struct slice name);

/* ---- JWK ---------------------------------------------------------------- */

struct jose_jwk; /* a public key, its kid and its one allowed algorithm */

/* Imports a public JWK (RSA, EC P-256/P-384/P-521, OKP Ed25519). Private members ("d", ...)
 * are ignored. "use" other than "sig" and key_ops without "verify" make it unusable. */
struct jose_jwk *jose_jwk_from_json(const json_t *j, struct err *e);
/* Wraps a public key (the reference is taken: EVP_PKEY_up_ref). kid is copied. */
struct jose_jwk *jose_jwk_from_pkey(EVP_PKEY *pub, const char *kid_z, enum jose_alg alg,
                                    struct err *e);
/* Public JWK members: kty, kid, alg, use=sig, n/e or crv/x/y. Caller owns the result. */
json_t *jose_jwk_to_json(const struct jose_jwk *k);
void jose_jwk_free(struct jose_jwk *k);
const char *jose_jwk_kid(const struct jose_jwk *k);
enum jose_alg jose_jwk_alg(const struct jose_jwk *k);
EVP_PKEY *jose_jwk_pkey(const struct jose_jwk *k); /* borrowed */
/* RFC 7638 thumbprint (SHA-256), base64url. xmalloc'd. */
char *jose_jwk_thumbprint(const struct jose_jwk *k);

/* ---- JWKS --------------------------------------------------------------- */

#define JOSE_JWKS_MAX_KEYS 64

struct jose_jwks;
/* Parses {"keys":[...]}. Keys that cannot be used are skipped (counted in *skipped when
 * non-NULL); duplicate kids are an error. */
struct jose_jwks *jose_jwks_parse(struct slice json, size_t *skipped, struct err *e);
struct jose_jwks *jose_jwks_new(void);
int jose_jwks_add(struct jose_jwks *s, struct jose_jwk *k); /* takes ownership */
size_t jose_jwks_count(const struct jose_jwks *s);
const struct jose_jwk *jose_jwks_get(const struct jose_jwks *s, size_t i);
const struct jose_jwk *jose_jwks_find(const struct jose_jwks *s, const char *kid_z);
json_t *jose_jwks_to_json(const struct jose_jwks *s);
void jose_jwks_free(struct jose_jwks *s);

/* ---- signatures --------------------------------------------------------- */

#define JOSE_SIG_MAX 1024 /* RSA-8192 */

/* Signs with a private key, producing the JOSE form (R||S for ECDSA, RFC 7518 3.4).
 * Used by src/keys, which owns every private key. */
int jose_sign_raw(EVP_PKEY *priv, enum jose_alg alg, const void *in, size_t n,
                  uint8_t sig[JOSE_SIG_MAX], size_t *siglen, struct err *e);
/* Verifies a JOSE-form signature with a public key. 0 when valid. */
int jose_verify_raw(EVP_PKEY *pub, enum jose_alg alg, const void *in, size_t n,
                    const uint8_t *sig, size_t siglen, struct err *e);

/* Something that signs on the caller's behalf (src/keys: sign(kid, bytes)). */
typedef int (*jose_signer_fn)(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX],
                              size_t *siglen, struct err *e);

/* ---- JWS compact -------------------------------------------------------- */

#define JOSE_MAX_TOKEN (16 * 1024)

/* Builds header {"alg":..,"kid":..,"typ":typ} (typ may be NULL), signs
 * base64url(header).base64url(payload). Returns an xmalloc'd token, NULL on error. */
char *jose_jws_sign(enum jose_alg alg, const char *kid_z, const char *typ_z, struct slice payload,
                    jose_signer_fn signer, void *ctx, struct err *e);

struct jose_jws {
    json_t *header;       /* owned */
    struct buf payload;   /* decoded */
    struct slice signing_input; /* points into the token passed to parse */
    struct buf signature; /* decoded */
    enum jose_alg alg;
    const char *kid;      /* borrowed from header, may be NULL */
};

/* Splits and decodes a compact JWS (strict base64url, strict JSON, "crit" refused).
 * Does not verify. */
int jose_jws_parse(struct slice token, struct jose_jws *out, struct err *e);
void jose_jws_free(struct jose_jws *j);
/* Verifies with the given key: header alg must equal the key's alg. */
int jose_jws_verify(const struct jose_jws *j, const struct jose_jwk *k, struct err *e);

/* ---- JWT ---------------------------------------------------------------- */

struct jose_jwt_expect {
    const char *iss;          /* required value of iss; NULL: iss must still be present */
    const char *aud;          /* must be aud or one of aud[]; NULL: aud must still be present */
    int64_t now;              /* 0: util_now() */
    int64_t leeway;           /* seconds, for exp/nbf/iat */
    const char *const *required; /* extra claims that must be present, NULL-terminated */
};

/* Parses, finds the key by kid (or the only key when the token has no kid and the set has
 * one key), verifies the signature, then checks exp (required), nbf, iat (required, not in
 * the future), iss, aud. On success *claims holds the payload object (caller owns). */
int jose_jwt_verify(struct slice token, const struct jose_jwks *keys,
                    const struct jose_jwt_expect *x, json_t **claims, struct err *e);

#endif
