/*
 * keys: the only module that ever holds a private key. A key ring of named signing keys
 * (RSA-2048 / RS256, EC P-256 / ES256, Ed25519 / EdDSA), each with a self-signed X.509
 * certificate. Callers sign through keys_sign(kid, bytes) and publish public JWKs; no
 * function hands out a private EVP_PKEY, so that the ring can later move into a separate,
 * privilege-separated process behind the same calls (OpenBSD relayd's ca.c, h2o's
 * neverbleed).
 *
 * The one exception is keys_export_pem(), which exists so that the store can hold the keys of
 * a multi-node installation; its output is a secret (wipe it: util_free_secret).
 *
 * Thread safety: a ring may be used by any number of threads at once (a read-write lock;
 * signing runs outside the lock). Key material is never logged.
 */
#ifndef POSTERN_KEYS_H
#define POSTERN_KEYS_H

#include "jose/jose.h"
#include "util/util.h"

#define KEYS_MAX                   JOSE_JWKS_MAX_KEYS /* keys in one ring */
#define KEYS_NAME_MAX              64   /* [A-Za-z0-9._-], starting with a letter or digit */
#define KEYS_KID_MAX               64   /* a kid and its NUL fit in char[KEYS_KID_MAX] */
#define KEYS_RSA_BITS              2048 /* generated RSA keys */
#define KEYS_RSA_MIN_BITS          2048 /* smaller imported RSA keys are refused */
#define KEYS_VALIDITY_DAYS_DEFAULT (10 * 365)
#define KEYS_VALIDITY_DAYS_MAX     (100 * 365)
#define KEYS_PEM_MAX               (64 * 1024) /* one key or certificate file */
#define KEYS_KEY_SUFFIX            ".key.pem"  /* <dir>/<name>.key.pem, mode 0600 */
#define KEYS_CERT_SUFFIX           ".crt.pem"  /* <dir>/<name>.crt.pem, mode 0644 */

/* struct err.code values set by keys. */
enum keys_errcode {
    KEYS_E_NOT_FOUND = 1, /* no key with that kid / name */
    KEYS_E_INVALID,       /* bad name, unsupported key type or algorithm, key/cert mismatch */
    KEYS_E_EXISTS,        /* name or kid already in the ring */
    KEYS_E_FULL,          /* KEYS_MAX keys */
    KEYS_E_IO,            /* a file cannot be read or written */
    KEYS_E_PERM,          /* a private key file readable by others, or owned by another user */
    KEYS_E_CRYPTO,        /* OpenSSL failed */
};

struct keys; /* the ring; opaque */

/* What may be known about a key without touching its private half. */
struct keys_info {
    char name[KEYS_NAME_MAX + 1];
    char kid[KEYS_KID_MAX]; /* RFC 7638 JWK thumbprint (SHA-256, base64url) */
    enum jose_alg alg;      /* the one algorithm the key signs with */
    int64_t not_before;     /* certificate validity, seconds since the epoch */
    int64_t not_after;
};

struct keys *keys_new(void);
/* Frees every key (OpenSSL wipes private key memory). NULL is fine. */
void keys_free(struct keys *r);

/* Generates a key pair for alg (JOSE_ALG_RS256 → RSA-2048, JOSE_ALG_ES256 → P-256,
 * JOSE_ALG_EDDSA → Ed25519) and its self-signed certificate (CN = name, random 127-bit
 * serial, valid validity_days from now, 0 = KEYS_VALIDITY_DAYS_DEFAULT; CA:FALSE,
 * keyUsage digitalSignature), and adds it to the ring. kid_out (may be NULL) gets the kid. */
int keys_generate(struct keys *r, const char *name_z, enum jose_alg alg, int validity_days,
                  char kid_out[KEYS_KID_MAX], struct err *e);

/* Adds a key from PEM text: an unencrypted private key (PKCS#8 or traditional) and the
 * certificate of its public key. The algorithm follows from the key type. */
int keys_import_pem(struct keys *r, const char *name_z, struct slice key_pem, struct slice cert_pem,
                    char kid_out[KEYS_KID_MAX], struct err *e);
/* The private key (PKCS#8 PEM; *key_pem is a secret: util_free_secret it) and the
 * certificate PEM (free() it). Either output pointer may be NULL when not wanted. */
int keys_export_pem(struct keys *r, const char *kid_z, char **key_pem, size_t *key_len,
                    char **cert_pem, struct err *e);

int keys_remove(struct keys *r, const char *kid_z, struct err *e);

/* Writes <dir>/<name>.key.pem (0600 whatever the umask: written to a temporary file opened
 * O_CREAT|O_EXCL, fsynced, renamed into place) and <dir>/<name>.crt.pem for every key.
 * Creates dir 0700 when missing. */
int keys_save(struct keys *r, const char *dir_z, struct err *e);
/* Adds every <name>.key.pem of dir with its <name>.crt.pem. Refuses (naming the file) a
 * private key file that is not a regular file, is readable or writable by group or others, or
 * belongs to another user than root or ourselves. Nothing is added when one key fails. */
int keys_load_dir(struct keys *r, const char *dir_z, struct err *e);

/* Fills up to max entries, in insertion order; returns how many keys the ring holds. */
size_t keys_list(struct keys *r, struct keys_info *out, size_t max);
int keys_get(struct keys *r, const char *kid_z, struct keys_info *out, struct err *e);
int keys_find_name(struct keys *r, const char *name_z, struct keys_info *out, struct err *e);

/* ---- signing: the only use of a private key ---------------------------- */

/* Signs with the key's own algorithm; JOSE form (R||S for ECDSA). */
int keys_sign(struct keys *r, const char *kid_z, const void *in, size_t n,
              uint8_t sig[JOSE_SIG_MAX], size_t *siglen, struct err *e);

/* keys_sign as a jose_signer_fn: jose_jws_sign(alg, kid, typ, payload, keys_signer, &ctx, e).
 * The alg given to jose_jws_sign must be the key's (keys_get); keys_jws_sign does it all. */
struct keys_signer_ctx {
    struct keys *ring;
    const char *kid;
};
int keys_signer(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX], size_t *siglen,
                struct err *e);
/* A compact JWS with header {"alg": the key's, "kid": kid, "typ": typ}; xmalloc'd. */
char *keys_jws_sign(struct keys *r, const char *kid_z, const char *typ_z, struct slice payload,
                    struct err *e);

/* ---- public keys ------------------------------------------------------- */

/* The public JWK (RFC 7517): kty, kid, alg, use=sig, n/e or crv/x(/y), and x5c (standard
 * base64 DER, section 4.7), x5t (base64url SHA-1 of the DER, 4.8), x5t#S256 (4.9).
 * Caller owns the result; NULL on error. */
json_t *keys_jwk_json(struct keys *r, const char *kid_z, struct err *e);
/* {"keys":[...]} of the keys whose kid is in kids (NULL-terminated), or of all keys when
 * kids is NULL. An unknown kid in kids is an error. */
json_t *keys_jwks_json(struct keys *r, const char *const *kids, struct err *e);
/* The public keys as a verification set (e.g. the Gate checking its own app tokens). */
struct jose_jwks *keys_jwks(struct keys *r, struct err *e);
/* The certificate PEM (Cloudflare's public_cert); xmalloc'd. */
int keys_cert_pem(struct keys *r, const char *kid_z, char **cert_pem, struct err *e);

#endif
