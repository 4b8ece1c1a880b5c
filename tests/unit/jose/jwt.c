/* JWT validation (RFC 7519 section 7.2): key by kid, signature, then exp / nbf / iat with
 * leeway, iss, aud (string or array), required claims. Each refusal is checked by its code. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1700000000
#define ISS "https://auth.example.com/application/o/app/"
#define AUD "client-1"

struct fixture {
    EVP_PKEY *rsa, *ec, *ed, *attacker;
    struct jose_jwks *keys;
    struct jose_jwt_expect x;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    struct err e = {0};
    f->rsa = gen_key("RSA");
    f->ec = gen_key("P-256");
    f->ed = gen_key("ED25519");
    f->attacker = gen_key("P-256");
    f->keys = jose_jwks_new();
    assert_int_equal(jose_jwks_add(f->keys, jose_jwk_from_pkey(f->rsa, "rsa", JOSE_ALG_RS256, &e)),
                     0);
    assert_int_equal(jose_jwks_add(f->keys, jose_jwk_from_pkey(f->ec, "ec", JOSE_ALG_ES256, &e)),
                     0);
    assert_int_equal(jose_jwks_add(f->keys, jose_jwk_from_pkey(f->ed, "ed", JOSE_ALG_EDDSA, &e)),
                     0);
    f->x = (struct jose_jwt_expect){.iss = ISS, .aud = AUD, .now = NOW, .leeway = 60};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    jose_jwks_free(f->keys);
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    EVP_PKEY_free(f->ed);
    EVP_PKEY_free(f->attacker);
    free(f);
    util_set_fake_now(0);
    jose_thread_cleanup();
    return 0;
}

/* An ES256 token with kid "ec" carrying exactly these claims. */
static char *es(struct fixture *f, const char *claims)
{
    return make_token("{\"alg\":\"ES256\",\"kid\":\"ec\"}", claims, f->ec, JOSE_ALG_ES256);
}

/* jose_jwt_verify's error code; on success the claims must be an object. */
static int check_with(const char *tok, const struct jose_jwks *keys,
                      const struct jose_jwt_expect *x)
{
    struct err e = {0};
    json_t *c = (json_t *)1;
    int rc = jose_jwt_verify(slice_z(tok), keys, x, &c, &e);
    if (rc != 0) {
        assert_null(c);
        assert_int_not_equal(e.code, JOSE_ERR_NONE);
        return e.code;
    }
    assert_true(json_is_object(c));
    json_decref(c);
    return JOSE_ERR_NONE;
}

static int check(struct fixture *f, const char *claims)
{
    char *t = es(f, claims);
    int c = check_with(t, f->keys, &f->x);
    free(t);
    return c;
}

#define GOOD "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\""

static void valid_tokens_of_each_algorithm(void **state)
{
    struct fixture *f = *state;
    char claims[512];
    snprintf(claims, sizeof claims, "{" GOOD ",\"exp\":%d,\"iat\":%d,\"sub\":\"u1\"}", NOW + 300,
             NOW);
    struct {
        const char *hdr;
        EVP_PKEY *k;
        enum jose_alg alg;
    } cases[] = {
        {"{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":\"JWT\"}", f->rsa, JOSE_ALG_RS256},
        {"{\"alg\":\"ES256\",\"kid\":\"ec\"}", f->ec, JOSE_ALG_ES256},
        {"{\"kid\":\"ed\",\"alg\":\"EdDSA\"}", f->ed, JOSE_ALG_EDDSA},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *t = make_token(cases[i].hdr, claims, cases[i].k, cases[i].alg);
        json_t *c = NULL;
        struct err e = {0};
        assert_int_equal(jose_jwt_verify(slice_z(t), f->keys, &f->x, &c, &e), 0);
        assert_string_equal(json_string_value(json_object_get(c, "sub")), "u1");
        json_decref(c);
        /* claims may be NULL when the caller only wants the verdict. */
        assert_int_equal(jose_jwt_verify(slice_z(t), f->keys, &f->x, NULL, &e), 0);
        free(t);
    }
}

static void audience(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f, "{\"iss\":\"" ISS "\",\"aud\":[\"other\",\"" AUD
                              "\"],\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_NONE);
    assert_int_equal(
        check(f, "{\"iss\":\"" ISS "\",\"aud\":\"other\",\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_CLAIM);
    assert_int_equal(
        check(f, "{\"iss\":\"" ISS
                 "\",\"aud\":[\"other\",\"client-10\"],\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_CLAIM);
    assert_int_equal(
        check(f, "{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_CLAIM);
    assert_int_equal(check(f, "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD
                              "\",7],\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(
        check(f, "{\"iss\":\"" ISS "\",\"aud\":7,\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_CLAIM);
    assert_int_equal(check(f, "{\"iss\":\"" ISS "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(check(f, "{\"iss\":\"" ISS
                              "\",\"aud\":\"CLIENT-1\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    /* Without an expected audience, aud must still be there. */
    f->x.aud = NULL;
    assert_int_equal(
        check(f, "{\"iss\":\"" ISS "\",\"aud\":\"any\",\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_NONE);
    assert_int_equal(check(f, "{\"iss\":\"" ISS "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
}

static void issuer(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f, "{\"iss\":\"https://evil.example/\",\"aud\":\"" AUD
                              "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(check(f,
                           "{\"iss\":\"https://auth.example.com/application/o/app\",\"aud\":\"" AUD
                           "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(check(f,
                           "{\"iss\":\"HTTPS://AUTH.EXAMPLE.COM/application/o/app/\",\"aud\":\"" AUD
                           "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(check(f, "{\"aud\":\"" AUD "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(check(f, "{\"iss\":[\"" ISS "\"],\"aud\":\"" AUD
                              "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
    f->x.iss = NULL;
    assert_int_equal(
        check(f, "{\"iss\":\"whoever\",\"aud\":\"" AUD "\",\"exp\":1700000300,\"iat\":1700000000}"),
        JOSE_ERR_NONE);
    assert_int_equal(check(f, "{\"aud\":\"" AUD "\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_CLAIM);
}

static int times(struct fixture *f, const char *exp, const char *iat, const char *nbf)
{
    char claims[512];
    int n = snprintf(claims, sizeof claims, "{" GOOD);
    if (exp) {
        n += snprintf(claims + n, sizeof claims - (size_t)n, ",\"exp\":%s", exp);
    }
    if (iat) {
        n += snprintf(claims + n, sizeof claims - (size_t)n, ",\"iat\":%s", iat);
    }
    if (nbf) {
        n += snprintf(claims + n, sizeof claims - (size_t)n, ",\"nbf\":%s", nbf);
    }
    snprintf(claims + n, sizeof claims - (size_t)n, "}");
    return check(f, claims);
}

static void expiry(void **state)
{
    struct fixture *f = *state; /* now 1700000000, leeway 60 */
    assert_int_equal(times(f, "1700000300", "1700000000", NULL), JOSE_ERR_NONE);
    assert_int_equal(times(f, "1699999939", "1699990000", NULL), JOSE_ERR_EXPIRED);
    assert_int_equal(times(f, "1699999940", "1699990000", NULL), JOSE_ERR_EXPIRED); /* edge */
    assert_int_equal(times(f, "1699999941", "1699990000", NULL), JOSE_ERR_NONE);    /* leeway */
    assert_int_equal(times(f, "1000000000", "999999999", NULL), JOSE_ERR_EXPIRED);
    assert_int_equal(times(f, "0", "0", NULL), JOSE_ERR_EXPIRED);
    f->x.leeway = 0;
    assert_int_equal(times(f, "1700000000", "1699990000", NULL), JOSE_ERR_EXPIRED);
    assert_int_equal(times(f, "1700000001", "1699990000", NULL), JOSE_ERR_NONE);
    assert_int_equal(times(f, "1700000000.5", "1699990000", NULL), JOSE_ERR_EXPIRED);
    assert_int_equal(times(f, "1700000001.5", "1699990000.25", NULL), JOSE_ERR_NONE);
}

static void not_yet_valid(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(times(f, "1700000300", "1700000000", "1700000061"), JOSE_ERR_NOT_YET_VALID);
    assert_int_equal(times(f, "1700000300", "1700000000", "1700000060"), JOSE_ERR_NONE);
    assert_int_equal(times(f, "1700000300", "1700000000", "1600000000"), JOSE_ERR_NONE);
    assert_int_equal(times(f, "1700000300", "1700000000", "\"1\""), JOSE_ERR_CLAIM);
    /* iat in the future. */
    assert_int_equal(times(f, "1700000300", "1700000061", NULL), JOSE_ERR_NOT_YET_VALID);
    assert_int_equal(times(f, "1700000300", "1700000060", NULL), JOSE_ERR_NONE);
    assert_int_equal(times(f, "1800000000", "1790000000", NULL), JOSE_ERR_NOT_YET_VALID);
}

static void missing_or_malformed_dates(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(times(f, NULL, "1700000000", NULL), JOSE_ERR_CLAIM); /* no exp */
    assert_int_equal(times(f, "1700000300", NULL, NULL), JOSE_ERR_CLAIM); /* no iat */
    assert_int_equal(times(f, NULL, NULL, NULL), JOSE_ERR_CLAIM);
    static const char *const bad[] = {
        "\"1700000300\"",      "true",        "null", "[1700000300]", "{}", "-1", "1e300", "-1e300",
        "9223372036854775807", "253402300800"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        assert_int_equal(times(f, bad[i], "1700000000", NULL), JOSE_ERR_CLAIM);
        assert_int_equal(times(f, "1700000300", bad[i], NULL), JOSE_ERR_CLAIM);
        assert_int_equal(times(f, "1700000300", "1700000000", bad[i]), JOSE_ERR_CLAIM);
    }
}

static void required_claims(void **state)
{
    struct fixture *f = *state;
    static const char *const req[] = {"nonce", "sub", NULL};
    f->x.required = req;
    assert_int_equal(
        check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000,\"nonce\":\"n\",\"sub\":\"s\"}"),
        JOSE_ERR_NONE);
    assert_int_equal(check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000,\"sub\":\"s\"}"),
                     JOSE_ERR_CLAIM);
    assert_int_equal(
        check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000,\"nonce\":null,\"sub\":\"s\"}"),
        JOSE_ERR_CLAIM);
}

static void bad_payloads(void **state)
{
    struct fixture *f = *state;
    /* Duplicate claims: a parser that keeps the last one would see another audience, or a
     * later expiry. */
    assert_int_equal(check(f, "{" GOOD ",\"aud\":\"other\",\"exp\":1700000300,\"iat\":1700000000}"),
                     JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "{" GOOD ",\"exp\":1,\"iat\":1700000000,\"exp\":1700000300}"),
                     JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "[]"), JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "null"), JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "\"claims\""), JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "hello"), JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000} "), JOSE_ERR_NONE);
    assert_int_equal(check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000}}"),
                     JOSE_ERR_MALFORMED);
    assert_int_equal(check(f, "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000,\"n\":\"\\u0000\"}"),
                     JOSE_ERR_MALFORMED);
}

static void key_selection(void **state)
{
    struct fixture *f = *state;
    static const char claims[] = "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000}";
    char *t;
    /* Unknown kid. */
    t = make_token("{\"alg\":\"ES256\",\"kid\":\"nope\"}", claims, f->ec, JOSE_ALG_ES256);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_KEY);
    free(t);
    /* No kid, several keys: refused rather than tried in turn. */
    t = make_token("{\"alg\":\"ES256\"}", claims, f->ec, JOSE_ALG_ES256);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_KEY);
    /* No kid, one key: that key. */
    struct jose_jwks *one = jose_jwks_new();
    struct err e = {0};
    assert_int_equal(jose_jwks_add(one, jose_jwk_from_pkey(f->ec, NULL, JOSE_ALG_ES256, &e)), 0);
    assert_int_equal(check_with(t, one, &f->x), JOSE_ERR_NONE);
    free(t);
    /* A kid, and a single key without one: no match. */
    t = es(f, claims);
    assert_int_equal(check_with(t, one, &f->x), JOSE_ERR_KEY);
    free(t);
    jose_jwks_free(one);
    /* Empty set. */
    struct jose_jwks *none = jose_jwks_new();
    t = es(f, claims);
    assert_int_equal(check_with(t, none, &f->x), JOSE_ERR_KEY);
    free(t);
    jose_jwks_free(none);
    /* The kid of the RSA key on an ES256 token signed by the EC key: alg fixed by key. */
    t = make_token("{\"alg\":\"ES256\",\"kid\":\"rsa\"}", claims, f->ec, JOSE_ALG_ES256);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_KEY);
    free(t);
    t = make_token("{\"alg\":\"RS256\",\"kid\":\"ec\"}", claims, f->rsa, JOSE_ALG_RS256);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_KEY);
    free(t);
    /* An attacker's key under our kid. */
    t = make_token("{\"alg\":\"ES256\",\"kid\":\"ec\"}", claims, f->attacker, JOSE_ALG_ES256);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_SIGNATURE);
    free(t);
    /* HS256 under the RSA key's kid. */
    t = make_token_sig("{\"alg\":\"HS256\",\"kid\":\"rsa\"}", claims,
                       "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_UNSUPPORTED);
    free(t);
    t = make_token_sig("{\"alg\":\"none\",\"kid\":\"rsa\"}", claims, "x", 1);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_UNSUPPORTED);
    free(t);
}

static void clock_and_leeway(void **state)
{
    struct fixture *f = *state;
    static const char claims[] = "{" GOOD ",\"exp\":1700000300,\"iat\":1700000000}";
    char *t = es(f, claims);
    f->x.now = 0; /* util_now() */
    util_set_fake_now(NOW);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_NONE);
    util_set_fake_now(NOW + 1000);
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_EXPIRED);
    util_set_fake_now(0); /* the real clock: long past 2023 */
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_EXPIRED);
    f->x.now = NOW;
    f->x.leeway = -1;
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_INTERNAL);
    f->x.leeway = JOSE_JWT_MAX_LEEWAY + 1;
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_INTERNAL);
    f->x.leeway = JOSE_JWT_MAX_LEEWAY;
    assert_int_equal(check_with(t, f->keys, &f->x), JOSE_ERR_NONE);
    free(t);
    struct err e = {0};
    json_t *arr = json_array();
    assert_int_equal(jose_jwt_check_claims(arr, &f->x, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_INTERNAL);
    json_decref(arr);
}

/* RFC 7515 A.2 through the JWT path: the signature is good, the claims are not enough
 * (no iat, no aud): refused for that reason. */
static void rfc7515_a2_as_jwt(void **state)
{
    struct jose_jwks *s = jose_jwks_new();
    assert_int_equal(jose_jwks_add(s, vec_jwk("rfc7515_a2.jwk")), 0);
    char *t = vec_read("rfc7515_a2.jws");
    struct jose_jwt_expect x = {.iss = "joe", .aud = NULL, .now = 1300819000, .leeway = 0};
    struct err e = {0};
    assert_int_equal(jose_jwt_verify(slice_z(t), s, &x, NULL, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_CLAIM);
    assert_non_null(strstr(e.msg, "iat"));
    x.now = 1300819380;
    assert_int_equal(jose_jwt_verify(slice_z(t), s, &x, NULL, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_CLAIM); /* missing iat is checked before expiry */
    free(t);
    jose_jwks_free(s);
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(valid_tokens_of_each_algorithm, setup, teardown),
        cmocka_unit_test_setup_teardown(audience, setup, teardown),
        cmocka_unit_test_setup_teardown(issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(not_yet_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_or_malformed_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(required_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(key_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(clock_and_leeway, setup, teardown),
        cmocka_unit_test(rfc7515_a2_as_jwt),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    jose_thread_cleanup();
    return rc;
}
