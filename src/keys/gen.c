/*
 * Key generation and the self-signed certificate that goes with each key (published as x5c
 * in the JWKS and as public_cert on the Gate's certs endpoint).
 */
#include "keys/keys_int.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <string.h>

#define KEYS_SERIAL_BYTES 16 /* RFC 5280 4.1.2.2: positive, at most 20 octets */

static EVP_PKEY *generate_pkey(enum jose_alg alg, struct err *e)
{
    EVP_PKEY *pk = NULL;
    switch (alg) {
    case JOSE_ALG_RS256:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)KEYS_RSA_BITS);
        break;
    case JOSE_ALG_ES256:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case JOSE_ALG_EDDSA:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        err_set(e, KEYS_E_INVALID, "keys: can generate RS256, ES256 or EdDSA keys only");
        return NULL;
    }
    if (!pk)
        keys_ossl_fail(e, KEYS_E_CRYPTO, "key generation");
    return pk;
}

/* A random positive serial (RFC 5280 4.1.2.2): 127 random bits, so DER never needs a
 * leading zero octet and the value is never negative. */
static int set_serial(X509 *x)
{
    uint8_t raw[KEYS_SERIAL_BYTES];
    util_random(raw, sizeof(raw));
    raw[0] &= 0x7f;
    raw[KEYS_SERIAL_BYTES - 1] |= 0x01; /* never zero */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

X509 *keys_make_cert(EVP_PKEY *pk, const char *name_z, enum jose_alg alg, int days, struct err *e)
{
    X509V3_CTX ctx;
    time_t now = (time_t)util_now();
    X509 *x = X509_new();
    if (!x || X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0)
        goto fail;
    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now))
        goto fail;
    X509_NAME *subject = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)name_z, -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, subject) != 1 || X509_set_pubkey(x, pk) != 1)
        goto fail;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* A signing key, not a CA (RFC 5280 4.2.1.9, 4.2.1.3). */
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0)
        goto fail;
    /* Ed25519 signs the message itself (RFC 8410 section 6): no digest. */
    const EVP_MD *md = alg == JOSE_ALG_EDDSA ? NULL : EVP_sha256();
    if (X509_sign(x, pk, md) <= 0)
        goto fail;
    return x;
fail:
    keys_ossl_fail(e, KEYS_E_CRYPTO, "certificate");
    X509_free(x);
    return NULL;
}

int keys_generate(struct keys *r, const char *name_z, enum jose_alg alg, int validity_days,
                  char kid_out[KEYS_KID_MAX], struct err *e)
{
    if (keys_check_name(name_z, e) < 0)
        return -1;
    if (validity_days == 0)
        validity_days = KEYS_VALIDITY_DAYS_DEFAULT;
    if (validity_days < 0 || validity_days > KEYS_VALIDITY_DAYS_MAX)
        return err_set(e, KEYS_E_INVALID, "keys: validity must be 1..%d days",
                       KEYS_VALIDITY_DAYS_MAX);
    /* Generation is slow (RSA): done before taking the ring's lock. */
    EVP_PKEY *pk = generate_pkey(alg, e);
    if (!pk)
        return -1;
    X509 *cert = keys_make_cert(pk, name_z, alg, validity_days, e);
    if (!cert) {
        EVP_PKEY_free(pk);
        return -1;
    }
    struct key *k = keys_key_new(name_z, pk, cert, e);
    if (!k)
        return -1;
    char kid[KEYS_KID_MAX];
    memcpy(kid, k->kid, sizeof(kid)); /* once in the ring, k may be removed at any time */
    if (keys_ring_add(r, k, e) < 0) {
        keys_key_free(k);
        return -1;
    }
    if (kid_out)
        memcpy(kid_out, kid, KEYS_KID_MAX);
    log_info("keys: generated %s key %s (kid %s)", jose_alg_name(alg), name_z, kid);
    return 0;
}
