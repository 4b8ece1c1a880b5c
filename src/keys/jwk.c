/*
 * Public JWKs of the ring's keys, with their certificate (RFC 7517 sections 4.7-4.9).
 * Built from the certificate's public key, which has no private half to leak.
 */
#include "keys/keys_int.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>

/* base64url(digest(der)) for x5t (SHA-1) and x5t#S256 (SHA-256). */
static json_t *thumb(const unsigned char *der, size_t n, const EVP_MD *md)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    if (EVP_Digest(der, n, d, &dn, md, NULL) != 1)
        return NULL;
    char *z = b64url_encode_z(d, dn);
    json_t *j = z ? json_string(z) : NULL;
    free(z);
    return j;
}

/* x5c: one certificate, standard base64 with padding (RFC 7517 4.7). */
static json_t *x5c(const unsigned char *der, size_t n)
{
    struct buf b;
    json_t *arr = NULL;
    buf_init(&b, 4 * (n / 3 + 1) + 1);
    if (b64_encode(der, n, &b) == 0)
        arr = json_pack("[s]", b.p);
    buf_free(&b);
    return arr;
}

static json_t *key_jwk_locked(const struct key *k, struct err *e)
{
    unsigned char *der = NULL;
    json_t *j = NULL;
    int dn = i2d_X509(k->cert, &der);
    if (dn <= 0) {
        keys_ossl_fail(e, KEYS_E_CRYPTO, "certificate DER");
        return NULL;
    }
    struct jose_jwk *pub = jose_jwk_from_pkey(X509_get0_pubkey(k->cert), k->kid, k->alg, e);
    if (!pub)
        goto done;
    j = jose_jwk_to_json(pub);
    jose_jwk_free(pub);
    /* jose gives kty, kid, alg, use=sig and the key; the certificate members are ours */
    if (!j || json_object_set_new(j, "x5c", x5c(der, (size_t)dn)) < 0 ||
        json_object_set_new(j, "x5t", thumb(der, (size_t)dn, EVP_sha1())) < 0 ||
        json_object_set_new(j, "x5t#S256", thumb(der, (size_t)dn, EVP_sha256())) < 0) {
        json_decref(j);
        j = NULL;
        err_set(e, KEYS_E_CRYPTO, "keys: %s: cannot build the JWK", k->name);
    }
done:
    OPENSSL_free(der);
    return j;
}

json_t *keys_jwk_json(struct keys *r, const char *kid_z, struct err *e)
{
    json_t *j = NULL;
    pthread_rwlock_rdlock(&r->lock);
    struct key *k = keys_find_locked(r, kid_z);
    if (k)
        j = key_jwk_locked(k, e);
    else
        err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kid_z ? kid_z : "");
    pthread_rwlock_unlock(&r->lock);
    return j;
}

static int append_locked(json_t *arr, const struct key *k, struct err *e)
{
    json_t *j = key_jwk_locked(k, e);
    if (!j)
        return -1;
    return json_array_append_new(arr, j) == 0 ? 0 : -1;
}

json_t *keys_jwks_json(struct keys *r, const char *const *kids, struct err *e)
{
    json_t *arr = json_array();
    int rc = 0;
    pthread_rwlock_rdlock(&r->lock);
    if (!kids) {
        for (size_t i = 0; rc == 0 && i < r->n; i++)
            rc = append_locked(arr, r->k[i], e);
    } else {
        for (size_t i = 0; rc == 0 && kids[i]; i++) {
            struct key *k = keys_find_locked(r, kids[i]);
            if (!k)
                rc = err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kids[i]);
            else
                rc = append_locked(arr, k, e);
        }
    }
    pthread_rwlock_unlock(&r->lock);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return json_pack("{s:o}", "keys", arr);
}

struct jose_jwks *keys_jwks(struct keys *r, struct err *e)
{
    struct jose_jwks *set = jose_jwks_new();
    int rc = 0;
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const struct key *k = r->k[i];
        struct jose_jwk *pub = jose_jwk_from_pkey(X509_get0_pubkey(k->cert), k->kid, k->alg, e);
        /* jose_jwks_add owns pub from the call on, also when it fails */
        if (!pub || jose_jwks_add(set, pub) < 0)
            rc = err_set(e, KEYS_E_CRYPTO, "keys: %s: cannot add to a JWKS", k->name);
    }
    pthread_rwlock_unlock(&r->lock);
    if (rc < 0) {
        jose_jwks_free(set);
        return NULL;
    }
    return set;
}
