/*
 * keys internals, shared by the files of src/keys/ and nothing else.
 */
#ifndef POSTERN_KEYS_INT_H
#define POSTERN_KEYS_INT_H

#include "keys/keys.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>

/* One key of the ring. Immutable once in the ring; freed only after removal. */
struct key {
    char name[KEYS_NAME_MAX + 1];
    char kid[KEYS_KID_MAX];
    enum jose_alg alg;
    EVP_PKEY *priv; /* never leaves src/keys */
    X509 *cert;
    int64_t not_before;
    int64_t not_after;
};

struct keys {
    pthread_rwlock_t lock; /* readers: lookups, exports; writers: add, remove */
    struct key *k[KEYS_MAX];
    size_t n;
};

/* Sets e from OpenSSL's error queue (then clears it). Returns -1. */
int keys_ossl_fail(struct err *e, int code, const char *what);
int keys_check_name(const char *name_z, struct err *e);
/* The algorithm a key signs with, from its type; JOSE_ALG_UNKNOWN when unsupported. */
enum jose_alg keys_alg_of(EVP_PKEY *pk, struct err *e);
/* Builds a key: checks that cert carries priv's public key, derives kid and validity.
 * Takes ownership of priv and cert in every case. NULL on error. */
struct key *keys_key_new(const char *name_z, EVP_PKEY *priv, X509 *cert, struct err *e);
void keys_key_free(struct key *k);
/* Adds k to the ring (ownership moves to the ring on success only). */
int keys_ring_add(struct keys *r, struct key *k, struct err *e);
/* Adds all of ks or none (ownership moves on success only). */
int keys_ring_add_all(struct keys *r, struct key *const *ks, size_t n, struct err *e);
/* Under the lock (either kind). */
struct key *keys_find_locked(struct keys *r, const char *kid_z);
/* A self-signed certificate for pk (gen.c). */
X509 *keys_make_cert(EVP_PKEY *pk, const char *name_z, enum jose_alg alg, int days, struct err *e);
/* Parses a private key PEM and a certificate PEM into a key (pem.c). */
struct key *keys_key_from_pem(const char *name_z, struct slice key_pem, struct slice cert_pem,
                              struct err *e);
/* PEM of the private key in out (xmalloc'd, a secret) / of the certificate. */
int keys_priv_pem(EVP_PKEY *pk, char **out, size_t *len, struct err *e);
int keys_x509_pem(X509 *cert, char **out, size_t *len, struct err *e);

#endif
