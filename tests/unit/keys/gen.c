/* Tests of src/keys/gen.c: key generation and the self-signed certificate. */
#include "helpers.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static X509 *cert_of(struct keys *r, const char *kid)
{
    struct err e = {0};
    char *pem = NULL;
    if (keys_cert_pem(r, kid, &pem, &e) < 0)
        fail_msg("keys_cert_pem: %s", e.msg);
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    free(pem);
    assert_non_null(x);
    return x;
}

static void check_cert(X509 *x, const char *name, enum jose_alg alg)
{
    char cn[128];
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, name);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

    /* self-signed: verifies with its own key */
    EVP_PKEY *pub = X509_get0_pubkey(x);
    assert_int_equal(X509_verify(x, pub), 1);

    /* serial: positive, 128 bits at most, not tiny */
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_false(BN_is_negative(serial));
    assert_true(BN_num_bits(serial) <= 128);
    assert_true(BN_num_bits(serial) > 64);
    BN_free(serial);

    /* a leaf signing certificate: CA:FALSE, digitalSignature only, both critical */
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
    assert_true(i >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 1);
    i = X509_get_ext_by_NID(x, NID_key_usage, -1);
    assert_true(i >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 1);

    int sig_nid = X509_get_signature_nid(x);
    switch (alg) {
    case JOSE_ALG_RS256:
        assert_int_equal(sig_nid, NID_sha256WithRSAEncryption);
        assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
        assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
        break;
    case JOSE_ALG_ES256: {
        char group[32];
        size_t n;
        assert_int_equal(sig_nid, NID_ecdsa_with_SHA256);
        assert_int_equal(EVP_PKEY_get_group_name(pub, group, sizeof(group), &n), 1);
        assert_string_equal(group, "prime256v1");
        break;
    }
    case JOSE_ALG_EDDSA:
        assert_int_equal(sig_nid, NID_ED25519);
        assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_ED25519);
        break;
    default:
        fail();
    }
}

static void generates_each_type(void **state)
{
    struct keys *r = keys_new();
    const char *names[] = {"rsa-key", "ec_key", "ed.key"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all_algs); i++) {
        char kid[KEYS_KID_MAX];
        struct keys_info info;
        struct err e = {0};
        gen_ok(r, names[i], all_algs[i], kid);
        assert_int_equal(strlen(kid), 43); /* base64url of a SHA-256 thumbprint */
        assert_int_equal(keys_get(r, kid, &info, &e), 0);
        assert_string_equal(info.name, names[i]);
        assert_string_equal(info.kid, kid);
        assert_int_equal(info.alg, all_algs[i]);
        /* the default validity is ten years */
        assert_int_equal(info.not_after - info.not_before,
                         (int64_t)KEYS_VALIDITY_DAYS_DEFAULT * 86400);
        assert_true(info.not_before <= util_now() && info.not_before > util_now() - 60);

        X509 *x = cert_of(r, kid);
        check_cert(x, names[i], all_algs[i]);
        X509_free(x);
    }
    assert_int_equal(keys_list(r, NULL, 0), 3);
    keys_free(r);
}

static void validity_is_configurable(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    char kid[KEYS_KID_MAX];
    struct keys_info info;
    assert_int_equal(keys_generate(r, "short", JOSE_ALG_EDDSA, 30, kid, &e), 0);
    assert_int_equal(keys_get(r, kid, &info, &e), 0);
    assert_int_equal(info.not_after - info.not_before, 30 * 86400);

    assert_int_equal(keys_generate(r, "neg", JOSE_ALG_EDDSA, -1, NULL, &e), -1);
    assert_int_equal(e.code, KEYS_E_INVALID);
    assert_int_equal(keys_generate(r, "huge", JOSE_ALG_EDDSA, KEYS_VALIDITY_DAYS_MAX + 1, NULL, &e),
                     -1);
    assert_int_equal(e.code, KEYS_E_INVALID);
    assert_int_equal(keys_list(r, NULL, 0), 1);
    keys_free(r);
}

static void fresh_keys_differ(void **state)
{
    struct keys *r = keys_new();
    char a[KEYS_KID_MAX], b[KEYS_KID_MAX];
    gen_ok(r, "a", JOSE_ALG_ES256, a);
    gen_ok(r, "b", JOSE_ALG_ES256, b);
    assert_string_not_equal(a, b);
    X509 *xa = cert_of(r, a), *xb = cert_of(r, b);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)),
                         0);
    X509_free(xa);
    X509_free(xb);
    keys_free(r);
}

static void names_are_checked(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    char long_name[KEYS_NAME_MAX + 2];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const char *bad[] = {"",  "../etc/passwd", ".hidden", "a/b", "a b", "-flag",
                         "é", "name\n",        long_name, NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(keys_generate(r, bad[i], JOSE_ALG_EDDSA, 0, NULL, &e), -1);
        assert_int_equal(e.code, KEYS_E_INVALID);
    }
    assert_int_equal(keys_generate(r, NULL, JOSE_ALG_EDDSA, 0, NULL, &e), -1);
    long_name[KEYS_NAME_MAX] = '\0';
    gen_ok(r, long_name, JOSE_ALG_EDDSA, NULL);
    gen_ok(r, "Self-signed_Certificate.2024", JOSE_ALG_EDDSA, NULL);
    /* a name is unique in the ring */
    assert_int_equal(keys_generate(r, long_name, JOSE_ALG_ES256, 0, NULL, &e), -1);
    assert_int_equal(e.code, KEYS_E_EXISTS);
    assert_int_equal(keys_list(r, NULL, 0), 2);
    keys_free(r);
}

static void only_signing_algorithms(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    const enum jose_alg refused[] = {JOSE_ALG_UNKNOWN, JOSE_ALG_PS256, JOSE_ALG_RS512,
                                     JOSE_ALG_ES384};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(refused); i++) {
        assert_int_equal(keys_generate(r, "k", refused[i], 0, NULL, &e), -1);
        assert_int_equal(e.code, KEYS_E_INVALID);
    }
    assert_int_equal(keys_list(r, NULL, 0), 0);
    keys_free(r);
}

static void ring_is_bounded(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    char name[16];
    for (int i = 0; i < KEYS_MAX; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        gen_ok(r, name, JOSE_ALG_EDDSA, NULL);
    }
    assert_int_equal(keys_generate(r, "one-more", JOSE_ALG_EDDSA, 0, NULL, &e), -1);
    assert_int_equal(e.code, KEYS_E_FULL);
    assert_int_equal(keys_list(r, NULL, 0), KEYS_MAX);
    keys_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generates_each_type),     cmocka_unit_test(validity_is_configurable),
        cmocka_unit_test(fresh_keys_differ),       cmocka_unit_test(names_are_checked),
        cmocka_unit_test(only_signing_algorithms), cmocka_unit_test(ring_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
