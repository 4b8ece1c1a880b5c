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

/* Values of struct err.code set by this module, so that callers can tell an expired token
 * from a forged one without parsing messages. */
enum jose_errc {
    JOSE_ERR_NONE = 0,
    JOSE_ERR_MALFORMED,     /* not a compact JWS, bad base64url or JSON, too large */
    JOSE_ERR_UNSUPPORTED,   /* alg none / HMAC / unknown, "crit", JWE, unusable key type */
    JOSE_ERR_KEY,           /* no key for the kid, bad key, alg differs from the key's */
    JOSE_ERR_SIGNATURE,     /* the signature does not verify */
    JOSE_ERR_EXPIRED,       /* exp is past (with leeway) */
    JOSE_ERR_NOT_YET_VALID, /* nbf or iat in the future (with leeway) */
    JOSE_ERR_CLAIM,         /* a required claim is missing or iss / aud / a date is wrong */
    JOSE_ERR_INTERNAL,      /* OpenSSL failure, bad arguments */
};

/* Limits (RFC 7518 section 3.3: RSA keys of 2048 bits or more). */
#define JOSE_RSA_MIN_BITS    2048
#define JOSE_RSA_MAX_BITS    8192
#define JOSE_RSA_MAX_E_BYTES 8 /* public exponents above 2^64 are refused, as OpenSSL does */
#define JOSE_KID_MAX         256

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
 * are ignored. "use" other than "sig" and key_ops without "verify" make it unusable (NULL).
 * Without "alg" the key gets the default of its type: RS256, ES256/384/512 by curve, EdDSA. */
struct jose_jwk *jose_jwk_from_json(const json_t *j, struct err *e);
/* Wraps a public key (the reference is taken: EVP_PKEY_up_ref). kid is copied and may be
 * NULL. alg JOSE_ALG_UNKNOWN picks the default for the key type; an alg that does not fit
 * the key (type, curve, RSA size) is an error. */
struct jose_jwk *jose_jwk_from_pkey(EVP_PKEY *pub, const char *kid_z, enum jose_alg alg,
                                    struct err *e);
/* Public JWK members: kty, kid, alg, use=sig, n/e or crv/x/y. Caller owns the result. */
json_t *jose_jwk_to_json(const struct jose_jwk *k);
void jose_jwk_free(struct jose_jwk *k);
const char *jose_jwk_kid(const struct jose_jwk *k);
enum jose_alg jose_jwk_alg(const struct jose_jwk *k);
EVP_PKEY *jose_jwk_pkey(const struct jose_jwk *k); /* borrowed */
/* True when the JWK had no "alg" and got its type's default: a relying party may then accept
 * another algorithm of the same key type (RS* / PS* for RSA), never HMAC or none. */
bool jose_jwk_alg_default(const struct jose_jwk *k);
/* RFC 7638 thumbprint (SHA-256), base64url. xmalloc'd. */
char *jose_jwk_thumbprint(const struct jose_jwk *k);

/* ---- JWKS --------------------------------------------------------------- */

#define JOSE_JWKS_MAX_KEYS 64

struct jose_jwks;
/* Parses {"keys":[...]} (at most JOSE_JWKS_MAX_KEYS entries). Keys that cannot be used are
 * skipped (counted in *skipped when non-NULL); two usable keys with one kid are an error. */
struct jose_jwks *jose_jwks_parse(struct slice json, size_t *skipped, struct err *e);
struct jose_jwks *jose_jwks_new(void);
/* Takes ownership of k, also on failure (full set, duplicate kid: k is freed). */
int jose_jwks_add(struct jose_jwks *s, struct jose_jwk *k);
size_t jose_jwks_count(const struct jose_jwks *s);
const struct jose_jwk *jose_jwks_get(const struct jose_jwks *s, size_t i);
const struct jose_jwk *jose_jwks_find(const struct jose_jwks *s, const char *kid_z);
json_t *jose_jwks_to_json(const struct jose_jwks *s);
void jose_jwks_free(struct jose_jwks *s);

/* ---- signatures --------------------------------------------------------- */

#define JOSE_SIG_MAX 1024 /* RSA-8192 */

/* Signs with a private key, producing the JOSE form (R||S for ECDSA, RFC 7518 3.4).
 * The key must fit alg (type, curve, RSA of 2048 to 8192 bits). Used by src/keys, which
 * owns every private key. */
int jose_sign_raw(EVP_PKEY *priv, enum jose_alg alg, const void *in, size_t n,
                  uint8_t sig[JOSE_SIG_MAX], size_t *siglen, struct err *e);
/* Verifies a JOSE-form signature with a public key. 0 when valid. The signature length must
 * be exact (modulus size, R||S of the curve, 64 for Ed25519): DER and padding are refused. */
int jose_verify_raw(EVP_PKEY *pub, enum jose_alg alg, const void *in, size_t n, const uint8_t *sig,
                    size_t siglen, struct err *e);

/* Something that signs on the caller's behalf (src/keys: sign(kid, bytes)). */
typedef int (*jose_signer_fn)(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX],
                              size_t *siglen, struct err *e);

/* A jose_signer_fn over a private key the caller holds (tests, benchmarks). ctx points to a
 * struct jose_pkey_signer. */
struct jose_pkey_signer {
    EVP_PKEY *priv; /* borrowed */
    enum jose_alg alg;
};
int jose_pkey_sign(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX], size_t *siglen,
                   struct err *e);

/* jose_sign_raw and jose_verify_raw keep, per thread, a few OpenSSL contexts already set up
 * for a (key, alg) pair: building them costs as much as an ECDSA signature. Each cached
 * context holds a reference on its key. jose_cache_flush() makes every thread drop its
 * contexts at its next call (call it when a private key is retired, so that no copy of it
 * outlives the rotation); jose_thread_cleanup() frees the calling thread's contexts now
 * (this also happens by itself when a thread exits). */
#define JOSE_CTX_CACHE_SLOTS 8
void jose_cache_flush(void);
void jose_thread_cleanup(void);

/* ---- JWS compact -------------------------------------------------------- */

#define JOSE_MAX_TOKEN (16 * 1024)

/* Builds header {"alg":..,"kid":..,"typ":typ} (kid and typ may be NULL), signs
 * base64url(header).base64url(payload) with signer, which must use alg: a signature of the
 * wrong length for alg is refused. Returns an xmalloc'd token, NULL on error. */
char *jose_jws_sign(enum jose_alg alg, const char *kid_z, const char *typ_z, struct slice payload,
                    jose_signer_fn signer, void *ctx, struct err *e);

struct jose_jws {
    json_t *header;             /* owned */
    struct buf payload;         /* decoded */
    struct slice signing_input; /* points into the token passed to parse */
    struct buf signature;       /* decoded */
    enum jose_alg alg;
    const char *kid; /* borrowed from header, may be NULL */
};

/* Splits and decodes a compact JWS (strict base64url, strict JSON, "crit" refused, alg
 * must be one of enum jose_alg). Does not verify. On failure *out is left empty (free is
 * still allowed). */
int jose_jws_parse(struct slice token, struct jose_jws *out, struct err *e);
void jose_jws_free(struct jose_jws *j);
/* Verifies with the given key: header alg must equal the key's alg. */
int jose_jws_verify(const struct jose_jws *j, const struct jose_jwk *k, struct err *e);

/* ---- JWT ---------------------------------------------------------------- */

#define JOSE_JWT_MAX_LEEWAY 3600
#define JOSE_JWT_MAX_AUD    64 /* entries of an "aud" array */

struct jose_jwt_expect {
    const char *iss;             /* required value of iss; NULL: iss must still be present */
    const char *aud;             /* must be aud or one of aud[]; NULL: aud must still be present */
    int64_t now;                 /* 0: util_now() */
    int64_t leeway;              /* seconds, for exp/nbf/iat; 0..JOSE_JWT_MAX_LEEWAY */
    const char *const *required; /* extra claims that must be present, NULL-terminated */
};

/* The claim checks of jose_jwt_verify alone (exp, nbf, iat, iss, aud, required), for claims
 * whose signature was checked otherwise. claims must be an object. */
int jose_jwt_check_claims(const json_t *claims, const struct jose_jwt_expect *x, struct err *e);

/* Parses, finds the key by kid (or the only key when the token has no kid and the set has
 * one key), verifies the signature, then checks exp (required), nbf, iat (required, not in
 * the future), iss, aud. On success *claims holds the payload object (caller owns). */
int jose_jwt_verify(struct slice token, const struct jose_jwks *keys,
                    const struct jose_jwt_expect *x, json_t **claims, struct err *e);

#endif
