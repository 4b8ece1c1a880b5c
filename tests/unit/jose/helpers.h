/* Shared by the jose unit tests: vector files, generated keys, hand-made tokens. */
#ifndef POSTERN_TEST_JOSE_HELPERS_H
#define POSTERN_TEST_JOSE_HELPERS_H

#include "jose/jose.h"

#include <jansson.h>
#include <openssl/evp.h>

/* argv[1] of the test program: the tests/vectors/jose directory. */
void vec_set_dir(int argc, char **argv);
/* The file's content without a trailing newline; xmalloc'd. Fails the test if missing. */
char *vec_read(const char *name);
json_t *vec_json(const char *name);
/* A public JWK from a vector file (private members ignored). */
struct jose_jwk *vec_jwk(const char *name);
/* A private key from the private members of a vector JWK (RSA with CRT, EC d, OKP d). */
EVP_PKEY *vec_private_key(const char *name);

/* A fresh key: "RSA" 2048 bits (or bits), "P-256" / "P-384" / "P-521", "ED25519". */
EVP_PKEY *gen_key(const char *what);
EVP_PKEY *gen_rsa(size_t bits);

/* base64url of a string; xmalloc'd. */
char *b64u(const char *s);
/* base64url(header).base64url(payload).base64url(sig by priv with alg); xmalloc'd.
 * Any header and payload text, so that tests can say exactly what an attacker sends. */
char *make_token(const char *header, const char *payload, EVP_PKEY *priv, enum jose_alg alg);
/* Same, with a given signature (raw bytes). */
char *make_token_sig(const char *header, const char *payload, const void *sig, size_t n);
/* "h.p.s" joined from three already-encoded parts. */
char *join3(const char *a, const char *b, const char *c);

/* Runs jose_jws_parse + jose_jws_verify; returns the err code (JOSE_ERR_NONE when valid). */
int verify_code(const char *token, const struct jose_jwk *k);

#endif
