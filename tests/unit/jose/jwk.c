/* JWK import and export (RFC 7517, RFC 7518 section 6, RFC 8037 section 2), RFC 7638
 * thumbprints, and the keys that must never become verification keys. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Imports JSON text; returns the key or NULL with *code set. */
static struct jose_jwk *import(const char *text, int *code)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    struct err e = {0};
    struct jose_jwk *k = jose_jwk_from_json(j, &e);
    json_decref(j);
    if (code != NULL) {
        *code = k ? JOSE_ERR_NONE : e.code;
    }
    if (k == NULL) {
        assert_true(e.msg[0] != '\0');
    }
    return k;
}

/* Replaces member `name` of a vector JWK with `value` (NULL removes it). */
static struct jose_jwk *import_edited(const char *vec, const char *name, json_t *value, int *code)
{
    json_t *j = vec_json(vec);
    if (value != NULL) {
        json_object_set_new(j, name, value);
    } else {
        json_object_del(j, name);
    }
    char *s = json_dumps(j, 0);
    json_decref(j);
    struct jose_jwk *k = import(s, code);
    free(s);
    return k;
}

static void rfc_keys_import_with_default_algs(void **state)
{
    struct {
        const char *file;
        enum jose_alg alg;
        const char *kid;
    } cases[] = {
        {"rfc7515_a2.jwk", JOSE_ALG_RS256, NULL},
        {"rfc7515_a3.jwk", JOSE_ALG_ES256, NULL},
        {"rfc8037_a1.jwk", JOSE_ALG_EDDSA, NULL},
        {"rfc7520_3.4.jwk", JOSE_ALG_RS256, "bilbo.baggins@hobbiton.example"},
        {"rfc7520_3.2.jwk", JOSE_ALG_ES512, "bilbo.baggins@hobbiton.example"},
        {"rfc7638_3.1.jwk", JOSE_ALG_RS256, "2011-04-29"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        struct jose_jwk *k = vec_jwk(cases[i].file);
        assert_int_equal(jose_jwk_alg(k), cases[i].alg);
        if (cases[i].kid) {
            assert_string_equal(jose_jwk_kid(k), cases[i].kid);
        } else {
            assert_null(jose_jwk_kid(k));
        }
        assert_non_null(jose_jwk_pkey(k));
        jose_jwk_free(k);
    }
}

static void export_has_no_private_members(void **state)
{
    static const char *const files[] = {"rfc7515_a3.jwk", "rfc8037_a1.jwk", "rfc7520_3.4.jwk",
                                        "rfc7520_3.2.jwk"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(files); i++) {
        struct jose_jwk *k = vec_jwk(files[i]);
        json_t *out = jose_jwk_to_json(k);
        json_t *in = vec_json(files[i]);
        static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
        for (size_t m = 0; m < UTIL_ARRAY_LEN(priv); m++) {
            assert_null(json_object_get(out, priv[m]));
        }
        /* Public members come back byte for byte. */
        static const char *const pub[] = {"kty", "n", "e", "crv", "x", "y", "kid"};
        for (size_t m = 0; m < UTIL_ARRAY_LEN(pub); m++) {
            const json_t *a = json_object_get(in, pub[m]);
            const json_t *b = json_object_get(out, pub[m]);
            assert_true((a == NULL) == (b == NULL));
            if (a != NULL) {
                assert_string_equal(json_string_value(a), json_string_value(b));
            }
        }
        assert_string_equal(json_string_value(json_object_get(out, "use")), "sig");
        assert_string_equal(json_string_value(json_object_get(out, "alg")),
                            jose_alg_name(jose_jwk_alg(k)));
        json_decref(in);
        json_decref(out);
        jose_jwk_free(k);
    }
}

/* RFC 7638 section 3.1. */
static void rfc7638_thumbprint(void **state)
{
    struct jose_jwk *k = vec_jwk("rfc7638_3.1.jwk");
    char *want = vec_read("rfc7638_3.1.thumbprint");
    char *tp = jose_jwk_thumbprint(k);
    assert_string_equal(tp, want);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    free(tp);
    free(want);
    jose_jwk_free(k);
}

static void generated_keys_round_trip(void **state)
{
    static const char *const kinds[] = {"RSA", "P-256", "P-384", "P-521", "ED25519"};
    static const enum jose_alg algs[] = {JOSE_ALG_PS256, JOSE_ALG_ES256, JOSE_ALG_ES384,
                                         JOSE_ALG_ES512, JOSE_ALG_EDDSA};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(kinds); i++) {
        EVP_PKEY *priv = gen_key(kinds[i]);
        struct err e = {0};
        struct jose_jwk *a = jose_jwk_from_pkey(priv, "key-1", algs[i], &e);
        assert_non_null(a);
        json_t *ja = jose_jwk_to_json(a);
        struct jose_jwk *b = jose_jwk_from_json(ja, &e);
        assert_non_null(b);
        json_t *jb = jose_jwk_to_json(b);
        assert_true(json_equal(ja, jb));
        assert_int_equal(jose_jwk_alg(b), algs[i]);
        assert_string_equal(jose_jwk_kid(b), "key-1");
        char *ta = jose_jwk_thumbprint(a);
        char *tb = jose_jwk_thumbprint(b);
        assert_non_null(ta);
        assert_string_equal(ta, tb);
        assert_int_equal(strlen(ta), 43);
        /* The imported public key verifies what the private key signed. */
        uint8_t sig[JOSE_SIG_MAX];
        size_t n = 0;
        assert_int_equal(jose_sign_raw(priv, algs[i], "abc", 3, sig, &n, &e), 0);
        assert_int_equal(jose_verify_raw(jose_jwk_pkey(b), algs[i], "abc", 3, sig, n, &e), 0);
        free(ta);
        free(tb);
        json_decref(ja);
        json_decref(jb);
        jose_jwk_free(a);
        jose_jwk_free(b);
        EVP_PKEY_free(priv); /* the jwk held its own reference */
    }
}

static void from_pkey_defaults_and_refusals(void **state)
{
    EVP_PKEY *p384 = gen_key("P-384");
    EVP_PKEY *small = gen_rsa(1024);
    struct err e = {0};
    struct jose_jwk *k = jose_jwk_from_pkey(p384, NULL, JOSE_ALG_UNKNOWN, &e);
    assert_non_null(k);
    assert_int_equal(jose_jwk_alg(k), JOSE_ALG_ES384);
    assert_null(jose_jwk_kid(k));
    jose_jwk_free(k);
    assert_null(jose_jwk_from_pkey(p384, "x", JOSE_ALG_ES256, &e)); /* wrong curve */
    assert_int_equal(e.code, JOSE_ERR_KEY);
    assert_null(jose_jwk_from_pkey(p384, "x", JOSE_ALG_RS256, &e));
    assert_null(jose_jwk_from_pkey(small, "x", JOSE_ALG_RS256, &e));
    assert_int_equal(e.code, JOSE_ERR_KEY);
    assert_null(jose_jwk_from_pkey(NULL, "x", JOSE_ALG_RS256, &e));
    char kid[JOSE_KID_MAX + 2];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    assert_null(jose_jwk_from_pkey(p384, kid, JOSE_ALG_ES384, &e));
    EVP_PKEY_free(p384);
    EVP_PKEY_free(small);
}

static void unusable_keys_are_refused(void **state)
{
    int code;
    /* Shared secrets never verify (alg confusion needs one). */
    assert_null(import("{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ\"}", &code));
    assert_int_equal(code, JOSE_ERR_UNSUPPORTED);
    char *oct = vec_read("rfc7515_a1.jwk");
    assert_null(import(oct, &code));
    free(oct);
    assert_null(import("[]", &code));
    assert_null(import("{}", &code));
    assert_null(import("{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", &code));
    assert_null(import("{\"kty\":5}", &code));
    /* use / key_ops (RFC 7517 sections 4.2, 4.3). */
    assert_null(import_edited("rfc7515_a2.jwk", "use", json_string("enc"), &code));
    assert_int_equal(code, JOSE_ERR_UNSUPPORTED);
    assert_null(import_edited("rfc7515_a2.jwk", "use", json_integer(1), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "key_ops", json_pack("[s]", "sign"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "key_ops", json_pack("[i]", 1), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "key_ops", json_string("verify"), &code));
    struct jose_jwk *k =
        import_edited("rfc7515_a2.jwk", "key_ops", json_pack("[s,s]", "sign", "verify"), &code);
    assert_non_null(k);
    jose_jwk_free(k);
    /* An alg that does not fit the key, or is not ours. */
    assert_null(import_edited("rfc7515_a2.jwk", "alg", json_string("HS256"), &code));
    assert_int_equal(code, JOSE_ERR_UNSUPPORTED);
    assert_null(import_edited("rfc7515_a2.jwk", "alg", json_string("none"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "alg", json_string("ES256"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "alg", json_string("RSA-OAEP"), &code));
    assert_null(import_edited("rfc7515_a3.jwk", "alg", json_string("ES384"), &code));
    assert_null(import_edited("rfc7515_a3.jwk", "alg", json_string("EdDSA"), &code));
    assert_null(import_edited("rfc8037_a1.jwk", "alg", json_string("ES256"), &code));
    k = import_edited("rfc7515_a2.jwk", "alg", json_string("PS512"), &code);
    assert_non_null(k);
    assert_int_equal(jose_jwk_alg(k), JOSE_ALG_PS512);
    jose_jwk_free(k);
    /* Curves we do not sign with. */
    assert_null(import_edited("rfc8037_a1.jwk", "crv", json_string("X25519"), &code));
    assert_null(import_edited("rfc8037_a1.jwk", "crv", json_string("Ed448"), &code));
    assert_null(import_edited("rfc7515_a3.jwk", "crv", json_string("secp256k1"), &code));
    assert_null(import_edited("rfc7515_a3.jwk", "crv", NULL, &code));
    /* kid of the wrong type or too long. */
    assert_null(import_edited("rfc7515_a3.jwk", "kid", json_integer(7), &code));
    char kid[JOSE_KID_MAX + 2];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    assert_null(import_edited("rfc7515_a3.jwk", "kid", json_string(kid), &code));
}

static void malformed_members_are_refused(void **state)
{
    int code;
    /* RSA: missing, not base64url, padded, even exponent, tiny exponent, e of 9 bytes. */
    assert_null(import_edited("rfc7515_a2.jwk", "n", NULL, &code));
    assert_int_equal(code, JOSE_ERR_KEY);
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string("AQAB="), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string("AQA+"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string(""), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string("AQAA"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string("AQ"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "e", json_string("AQAAAAAAAAAB"), &code));
    assert_null(import_edited("rfc7515_a2.jwk", "n", json_integer(5), &code));
    /* EC: wrong coordinate length, point off the curve, point of another curve. */
    assert_null(import_edited("rfc7515_a3.jwk", "x",
                              json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE"), &code));
    assert_null(import_edited("rfc7515_a3.jwk", "y",
                              json_string("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"), &code));
    assert_int_equal(code, JOSE_ERR_KEY); /* non-canonical base64url: last bits set */
    /* Valid base64url, right length, one bit of y changed: off the curve. */
    json_t *j = vec_json("rfc7515_a3.jwk");
    json_object_set_new(j, "y", json_string("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5b0"));
    struct err e = {0};
    assert_null(jose_jwk_from_json(j, &e));
    assert_int_equal(e.code, JOSE_ERR_KEY);
    /* OpenSSL's import already checks the point; EVP_PKEY_public_check is a second net. */
    assert_true(strstr(e.msg, "rejected") != NULL || strstr(e.msg, "not on") != NULL);
    json_decref(j);
    assert_null(import_edited("rfc7515_a3.jwk", "crv", json_string("P-384"), &code));
    /* OKP: 31 bytes. */
    assert_null(import_edited("rfc8037_a1.jwk", "x",
                              json_string("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ"), &code));
}

static void small_rsa_is_refused(void **state)
{
    EVP_PKEY *small = gen_rsa(1024);
    EVP_PKEY *big = gen_key("RSA");
    struct err e = {0};
    /* Export a 2048-bit key, then swap in the 1024-bit modulus. */
    struct jose_jwk *k = jose_jwk_from_pkey(big, NULL, JOSE_ALG_RS256, &e);
    json_t *j = jose_jwk_to_json(k);
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(small, "n", &n), 1);
    uint8_t bin[128];
    assert_int_equal(BN_bn2binpad(n, bin, sizeof bin), 128);
    char *nb = b64url_encode_z(bin, sizeof bin);
    json_object_set_new(j, "n", json_string(nb));
    assert_null(jose_jwk_from_json(j, &e));
    assert_int_equal(e.code, JOSE_ERR_KEY);
    /* A leading zero octet on a 2048-bit modulus is tolerated (some libraries add it). */
    uint8_t bin2[257];
    BIGNUM *n2 = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(big, "n", &n2), 1);
    bin2[0] = 0;
    assert_int_equal(BN_bn2binpad(n2, bin2 + 1, 256), 256);
    char *nb2 = b64url_encode_z(bin2, sizeof bin2);
    json_object_set_new(j, "n", json_string(nb2));
    struct jose_jwk *k2 = jose_jwk_from_json(j, &e);
    assert_non_null(k2);
    assert_int_equal(EVP_PKEY_get_bits(jose_jwk_pkey(k2)), 2048);
    jose_jwk_free(k2);
    free(nb);
    free(nb2);
    BN_free(n);
    BN_free(n2);
    json_decref(j);
    jose_jwk_free(k);
    EVP_PKEY_free(small);
    EVP_PKEY_free(big);
}

static int teardown(void **state)
{
    jose_thread_cleanup();
    return 0;
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(rfc_keys_import_with_default_algs, teardown),
        cmocka_unit_test_teardown(export_has_no_private_members, teardown),
        cmocka_unit_test_teardown(rfc7638_thumbprint, teardown),
        cmocka_unit_test_teardown(generated_keys_round_trip, teardown),
        cmocka_unit_test_teardown(from_pkey_defaults_and_refusals, teardown),
        cmocka_unit_test_teardown(unusable_keys_are_refused, teardown),
        cmocka_unit_test_teardown(malformed_members_are_refused, teardown),
        cmocka_unit_test_teardown(small_rsa_is_refused, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
