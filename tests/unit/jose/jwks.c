/* JWK Sets (RFC 7517 section 5): unusable keys skipped, duplicate kids refused, lookup. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* {"keys":[ the listed vector JWKs, with the given kids ]} as text. */
static char *set_text(const char *const *files, const char *const *kids, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *k = vec_json(files[i]);
        if (kids[i] != NULL) {
            json_object_set_new(k, "kid", json_string(kids[i]));
        }
        json_array_append_new(arr, k);
    }
    json_t *o = json_pack("{s:o}", "keys", arr);
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static void parse_skips_unusable_and_finds_by_kid(void **state)
{
    static const char *const files[] = {"rfc7515_a2.jwk", "rfc7515_a1.jwk", "rfc7515_a3.jwk",
                                        "rfc8037_a1.jwk", "rfc7520_3.2.jwk"};
    static const char *const kids[] = {"rsa", "hmac", "ec", "ed", NULL};
    char *text = set_text(files, kids, 5);
    size_t skipped = 99;
    struct err e = {0};
    struct jose_jwks *s = jose_jwks_parse(slice_z(text), &skipped, &e);
    assert_non_null(s);
    assert_int_equal(skipped, 1); /* the oct key */
    assert_int_equal(jose_jwks_count(s), 4);
    assert_int_equal(jose_jwk_alg(jose_jwks_find(s, "rsa")), JOSE_ALG_RS256);
    assert_int_equal(jose_jwk_alg(jose_jwks_find(s, "ec")), JOSE_ALG_ES256);
    assert_int_equal(jose_jwk_alg(jose_jwks_find(s, "ed")), JOSE_ALG_EDDSA);
    assert_int_equal(jose_jwk_alg(jose_jwks_find(s, "bilbo.baggins@hobbiton.example")),
                     JOSE_ALG_ES512);
    assert_null(jose_jwks_find(s, "hmac"));
    assert_null(jose_jwks_find(s, "RSA"));
    assert_null(jose_jwks_find(s, ""));
    assert_null(jose_jwks_find(s, NULL));
    assert_non_null(jose_jwks_get(s, 3));
    assert_null(jose_jwks_get(s, 4));
    /* Export and parse again: the same keys. */
    json_t *out = jose_jwks_to_json(s);
    char *again = json_dumps(out, 0);
    struct jose_jwks *s2 = jose_jwks_parse(slice_z(again), &skipped, &e);
    assert_non_null(s2);
    assert_int_equal(skipped, 0);
    assert_int_equal(jose_jwks_count(s2), 4);
    for (size_t i = 0; i < 4; i++) {
        char *a = jose_jwk_thumbprint(jose_jwks_get(s, i));
        char *b = jose_jwk_thumbprint(jose_jwks_get(s2, i));
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    free(again);
    json_decref(out);
    jose_jwks_free(s2);
    jose_jwks_free(s);
    free(text);
}

static void duplicate_kids_are_refused(void **state)
{
    static const char *const files[] = {"rfc7515_a2.jwk", "rfc7515_a3.jwk"};
    static const char *const kids[] = {"same", "same"};
    char *text = set_text(files, kids, 2);
    struct err e = {0};
    assert_null(jose_jwks_parse(slice_z(text), NULL, &e));
    assert_int_equal(e.code, JOSE_ERR_KEY);
    free(text);
    /* A skipped key does not collide with a usable one of the same kid. */
    static const char *const files2[] = {"rfc7515_a1.jwk", "rfc7515_a3.jwk"};
    text = set_text(files2, kids, 2);
    struct jose_jwks *s = jose_jwks_parse(slice_z(text), NULL, &e);
    assert_non_null(s);
    assert_int_equal(jose_jwks_count(s), 1);
    jose_jwks_free(s);
    free(text);
}

static void malformed_sets_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":\"x\"}",
        "{\"keys\":[]} trailing",
        "{\"keys\":[],\"keys\":[]}", /* duplicate member names */
        "{\"keys\":[{\"kty\":\"EC\",\"kty\":\"RSA\"}]",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        struct err e = {0};
        assert_null(jose_jwks_parse(slice_z(bad[i]), NULL, &e));
        assert_int_equal(e.code, JOSE_ERR_MALFORMED);
    }
    /* Duplicate members inside one key: the whole document is refused. */
    char *a2 = vec_read("rfc7515_a2.jwk");
    size_t n = strlen(a2) + 64;
    char *dup = xmalloc(n);
    snprintf(dup, n, "{\"keys\":[%.*s,\"e\":\"AQAB\"}]}", (int)strlen(a2) - 1, a2);
    struct err e = {0};
    assert_null(jose_jwks_parse(slice_z(dup), NULL, &e));
    free(dup);
    free(a2);
    /* Non-object entries are skipped, not fatal. */
    size_t skipped = 0;
    struct jose_jwks *s = jose_jwks_parse(SLICE_LIT("{\"keys\":[1,\"x\",null,[]]}"), &skipped, &e);
    assert_non_null(s);
    assert_int_equal(skipped, 4);
    assert_int_equal(jose_jwks_count(s), 0);
    jose_jwks_free(s);
}

static void size_is_bounded(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_z(&b, "{\"keys\":["), 0);
    for (int i = 0; i <= JOSE_JWKS_MAX_KEYS; i++) {
        assert_int_equal(buf_printf(&b, "%s{\"kty\":\"oct\",\"k\":\"AA\"}", i ? "," : ""), 0);
    }
    assert_int_equal(buf_append_z(&b, "]}"), 0);
    struct err e = {0};
    assert_null(jose_jwks_parse((struct slice){b.p, b.len}, NULL, &e));
    assert_int_equal(e.code, JOSE_ERR_MALFORMED);
    buf_free(&b);
}

static void add_takes_ownership(void **state)
{
    struct jose_jwks *s = jose_jwks_new();
    EVP_PKEY *k = gen_key("ED25519");
    struct err e = {0};
    for (int i = 0; i < JOSE_JWKS_MAX_KEYS; i++) {
        char kid[16];
        snprintf(kid, sizeof kid, "k%d", i);
        assert_int_equal(jose_jwks_add(s, jose_jwk_from_pkey(k, kid, JOSE_ALG_EDDSA, &e)), 0);
    }
    /* Full, then duplicate: refused, and the key is freed (LeakSanitizer checks). */
    assert_int_equal(jose_jwks_add(s, jose_jwk_from_pkey(k, "extra", JOSE_ALG_EDDSA, &e)), -1);
    jose_jwks_free(s);
    s = jose_jwks_new();
    assert_int_equal(jose_jwks_add(s, jose_jwk_from_pkey(k, "a", JOSE_ALG_EDDSA, &e)), 0);
    assert_int_equal(jose_jwks_add(s, jose_jwk_from_pkey(k, "a", JOSE_ALG_EDDSA, &e)), -1);
    assert_int_equal(jose_jwks_add(s, jose_jwk_from_pkey(k, NULL, JOSE_ALG_EDDSA, &e)), 0);
    assert_int_equal(jose_jwks_count(s), 2);
    jose_jwks_free(s);
    jose_jwks_free(NULL);
    EVP_PKEY_free(k);
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_skips_unusable_and_finds_by_kid),
        cmocka_unit_test(duplicate_kids_are_refused),
        cmocka_unit_test(malformed_sets_are_refused),
        cmocka_unit_test(size_is_bounded),
        cmocka_unit_test(add_takes_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
