/*
 * Unit tests of src/http/params.c: query strings, application/x-www-form-urlencoded bodies,
 * and the query-component encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static struct http_params P;

/* Parses an exact-size copy (ASan sees a read past its end); the copy is freed at once, so
 * the result must not point into the input. */
static int parse_n(const char *s, size_t n)
{
    char *copy = xmalloc(n ? n : 1);
    memcpy(copy, s, n);
    http_params_free(&P);
    P.v = (void *)1; /* parse must set both fields, also on failure */
    P.n = 77;
    int rc = http_params_parse((struct slice){copy, n}, &P);
    free(copy);
    if (rc != 0) {
        assert_null(P.v);
        assert_int_equal(P.n, 0);
    }
    return rc;
}
#define PARSE(z) parse_n((z), strlen(z))

static int teardown(void **state)
{
    (void)state;
    http_params_free(&P);
    return 0;
}

static void assert_param(size_t i, const char *name, const char *value)
{
    assert_true(i < P.n);
    assert_string_equal(P.v[i].name, name);
    assert_string_equal(P.v[i].value, value);
}

static void test_basic(void **state)
{
    assert_int_equal(PARSE("a=1&b=%20x+y"), 0);
    assert_int_equal(P.n, 2);
    assert_param(0, "a", "1");
    assert_param(1, "b", " x y");
    assert_string_equal(http_params_get(&P, "b"), " x y");
    assert_null(http_params_get(&P, "c"));
    assert_null(http_params_get(&P, "A"));
    assert_int_equal(http_params_count(&P, "a"), 1);
    assert_int_equal(http_params_count(&P, "z"), 0);

    assert_int_equal(PARSE("redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1%26y%3D2&"
                           "state=a%2Bb%2b&scope=openid+email"),
                     0);
    assert_string_equal(http_params_get(&P, "redirect_uri"), "https://app.example/cb?x=1&y=2");
    assert_string_equal(http_params_get(&P, "state"), "a+b+");
    assert_string_equal(http_params_get(&P, "scope"), "openid email");
    /* names are decoded too; UTF-8 passes through */
    assert_int_equal(PARSE("n%61me=%C3%A9&%2B=+"), 0);
    assert_param(0, "name", "\xc3\xa9");
    assert_param(1, "+", " ");
}

static void test_shapes(void **state)
{
    assert_int_equal(PARSE(""), 0);
    assert_int_equal(P.n, 0);
    assert_null(P.v);
    assert_int_equal(PARSE("&&&"), 0);
    assert_int_equal(P.n, 0);
    assert_int_equal(PARSE("a"), 0);
    assert_param(0, "a", "");
    assert_int_equal(PARSE("a=&b&=c&&d=e=f&"), 0);
    assert_int_equal(P.n, 4);
    assert_param(0, "a", "");
    assert_param(1, "b", "");
    assert_param(2, "", "c");
    assert_param(3, "d", "e=f");
    assert_string_equal(http_params_get(&P, ""), "c");
    assert_int_equal(PARSE("="), 0);
    assert_param(0, "", "");
    /* repeated parameters: OAuth2 callers refuse them with http_params_count */
    assert_int_equal(PARSE("code=1&code=2&x=0"), 0);
    assert_int_equal(http_params_count(&P, "code"), 2);
    assert_string_equal(http_params_get(&P, "code"), "1");
    /* characters a raw query may hold are kept as they are */
    assert_int_equal(PARSE("a=/?:@!$'()*,;~"), 0);
    assert_param(0, "a", "/?:@!$'()*,;~");
}

static void test_invalid(void **state)
{
    static const char *bad[] = {
        "a=%",   "a=%2",   "a=%zz", "a=%2g",  "a=%g2", "%=1",   "a=1&b=%",          "a=%00",
        "%00=a", "a=b%00", "a=%0",  "a=%%41", "a=%-1", "a=% 1", "a=1&b=2&c=%0&d=4",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        if (PARSE(bad[i]) != -1) {
            fail_msg("%s accepted", bad[i]);
        }
    }
    static const char nul[] = "a=b\0c";
    assert_int_equal(parse_n(nul, sizeof nul - 1), -1);
    /* encoded once only: %2541 is "%41", not "A" */
    assert_int_equal(PARSE("a=%2541"), 0);
    assert_param(0, "a", "%41");
}

static void test_max_params(void **state)
{
    char *s = xmalloc(HTTP_MAX_PARAMS * 8 + 16);
    size_t n = 0;
    for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
        n += (size_t)snprintf(s + n, 8, "p%d=&", i);
    }
    assert_int_equal(parse_n(s, n), 0);
    assert_int_equal(P.n, HTTP_MAX_PARAMS);
    assert_param(HTTP_MAX_PARAMS - 1, "p255", "");
    /* empty pairs do not count */
    memcpy(s + n, "&&&", 3);
    assert_int_equal(parse_n(s, n + 3), 0);
    memcpy(s + n, "x", 1);
    assert_int_equal(parse_n(s, n + 1), -1);
    free(s);
}

static void test_free_and_get_on_empty(void **state)
{
    struct http_params e = {NULL, 0};
    assert_null(http_params_get(&e, "a"));
    assert_int_equal(http_params_count(&e, "a"), 0);
    assert_null(http_params_get(NULL, "a"));
    http_params_free(&e);
    http_params_free(NULL);
}

static void test_url_encode(void **state)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(http_url_encode(SLICE_LIT("AZaz09-._~"), &b), 0);
    assert_string_equal(b.p, "AZaz09-._~");
    buf_reset(&b);
    assert_int_equal(http_url_encode(SLICE_LIT("a b+c&d=e/f?g#h%\xc3\xa9"), &b), 0);
    assert_string_equal(b.p, "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25%C3%A9");
    buf_reset(&b);
    assert_int_equal(http_url_encode((struct slice){"\0\x01\xff", 3}, &b), 0);
    assert_string_equal(b.p, "%00%01%FF");
    /* appends to what is there */
    assert_int_equal(http_url_encode(SLICE_LIT("x"), &b), 0);
    assert_string_equal(b.p, "%00%01%FFx");
    buf_free(&b);

    /* round trip through the decoder, for every byte but NUL */
    char all[255];
    for (int i = 0; i < 255; i++) {
        all[i] = (char)(i + 1);
    }
    buf_init(&b, 4096);
    assert_int_equal(buf_append_z(&b, "v="), 0);
    assert_int_equal(http_url_encode((struct slice){all, sizeof all}, &b), 0);
    assert_int_equal(PARSE(b.p), 0);
    assert_int_equal(strlen(http_params_get(&P, "v")), sizeof all);
    assert_memory_equal(http_params_get(&P, "v"), all, sizeof all);
    buf_free(&b);

    /* all or nothing at the cap, also when the output spans several internal chunks */
    buf_init(&b, 7);
    assert_int_equal(buf_append_z(&b, "ab"), 0);
    assert_int_equal(http_url_encode(SLICE_LIT("  "), &b), -1);
    assert_string_equal(b.p, "ab");
    assert_int_equal(http_url_encode(SLICE_LIT("c "), &b), 0);
    assert_string_equal(b.p, "abc%20");
    buf_free(&b);
    char big[300];
    memset(big, ' ', sizeof big);
    buf_init(&b, 500);
    assert_int_equal(buf_append_z(&b, "ab"), 0);
    assert_int_equal(http_url_encode((struct slice){big, sizeof big}, &b), -1);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.p, "ab");
    buf_free(&b);
    buf_init(&b, 0);
    assert_int_equal(http_url_encode(SLICE_LIT(""), &b), 0);
    assert_int_equal(http_url_encode(SLICE_LIT("a"), &b), -1);
    buf_free(&b);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_basic, teardown),
        cmocka_unit_test_teardown(test_shapes, teardown),
        cmocka_unit_test_teardown(test_invalid, teardown),
        cmocka_unit_test_teardown(test_max_params, teardown),
        cmocka_unit_test_teardown(test_free_and_get_on_empty, teardown),
        cmocka_unit_test_teardown(test_url_encode, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
