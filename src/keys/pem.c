/*
 * PEM import and export of keys and certificates (files: file.c; the store of a multi-node
 * installation: keys_export_pem / keys_import_pem).
 */
#include "keys/keys_int.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <string.h>

/* An encrypted PEM must fail, never prompt on the terminal (OpenSSL's default callback). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

struct key *keys_key_from_pem(const char *name_z, struct slice key_pem, struct slice cert_pem,
                              struct err *e)
{
    if (key_pem.n == 0 || key_pem.n > KEYS_PEM_MAX || cert_pem.n == 0 ||
        cert_pem.n > KEYS_PEM_MAX) {
        err_set(e, KEYS_E_INVALID, "keys: %s: a PEM must be 1..%d bytes", name_z, KEYS_PEM_MAX);
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(key_pem.p, (int)key_pem.n); /* read-only, no copy */
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!pk) {
        keys_ossl_fail(e, KEYS_E_INVALID, "private key PEM (encrypted keys are not supported)");
        err_prefix(e, "%s", name_z);
        return NULL;
    }
    b = BIO_new_mem_buf(cert_pem.p, (int)cert_pem.n);
    X509 *cert = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!cert) {
        EVP_PKEY_free(pk);
        keys_ossl_fail(e, KEYS_E_INVALID, "certificate PEM");
        err_prefix(e, "%s", name_z);
        return NULL;
    }
    return keys_key_new(name_z, pk, cert, e);
}

/* Copies a memory BIO's bytes into an exact-size xmalloc'd string (one copy, no realloc
 * leaving stale secrets behind), then wipes the BIO's copy. */
static int bio_take(BIO *b, char **out, size_t *len)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0 || !p)
        return -1;
    *out = xmalloc((size_t)n + 1);
    memcpy(*out, p, (size_t)n);
    (*out)[n] = '\0';
    if (len)
        *len = (size_t)n;
    OPENSSL_cleanse(p, (size_t)n);
    return 0;
}

int keys_priv_pem(EVP_PKEY *pk, char **out, size_t *len, struct err *e)
{
    /* secmem: OpenSSL clears the BIO's buffers when it grows and frees them. */
    BIO *b = BIO_new(BIO_s_secmem());
    int rc = -1;
    if (!b || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        bio_take(b, out, len) < 0)
        keys_ossl_fail(e, KEYS_E_CRYPTO, "private key PEM");
    else
        rc = 0;
    BIO_free(b);
    return rc;
}

int keys_x509_pem(X509 *cert, char **out, size_t *len, struct err *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!b || PEM_write_bio_X509(b, cert) != 1 || bio_take(b, out, len) < 0)
        keys_ossl_fail(e, KEYS_E_CRYPTO, "certificate PEM");
    else
        rc = 0;
    BIO_free(b);
    return rc;
}

int keys_import_pem(struct keys *r, const char *name_z, struct slice key_pem, struct slice cert_pem,
                    char kid_out[KEYS_KID_MAX], struct err *e)
{
    if (keys_check_name(name_z, e) < 0)
        return -1;
    struct key *k = keys_key_from_pem(name_z, key_pem, cert_pem, e);
    if (!k)
        return -1;
    char kid[KEYS_KID_MAX];
    memcpy(kid, k->kid, sizeof(kid));
    if (keys_ring_add(r, k, e) < 0) {
        keys_key_free(k);
        return -1;
    }
    if (kid_out)
        memcpy(kid_out, kid, KEYS_KID_MAX);
    return 0;
}

int keys_export_pem(struct keys *r, const char *kid_z, char **key_pem, size_t *key_len,
                    char **cert_pem, struct err *e)
{
    int rc = -1;
    char *kp = NULL, *cp = NULL;
    size_t kn = 0;
    pthread_rwlock_rdlock(&r->lock);
    struct key *k = keys_find_locked(r, kid_z);
    if (!k) {
        err_set(e, KEYS_E_NOT_FOUND, "keys: unknown kid \"%.64s\"", kid_z ? kid_z : "");
        goto done;
    }
    if (key_pem && keys_priv_pem(k->priv, &kp, &kn, e) < 0)
        goto done;
    if (cert_pem && keys_x509_pem(k->cert, &cp, NULL, e) < 0)
        goto done;
    rc = 0;
done:
    pthread_rwlock_unlock(&r->lock);
    if (rc < 0) {
        util_free_secret(kp);
        return -1;
    }
    if (key_pem) {
        *key_pem = kp;
        if (key_len)
            *key_len = kn;
    }
    if (cert_pem)
        *cert_pem = cp;
    return 0;
}

int keys_cert_pem(struct keys *r, const char *kid_z, char **cert_pem, struct err *e)
{
    return keys_export_pem(r, kid_z, NULL, NULL, cert_pem, e);
}
