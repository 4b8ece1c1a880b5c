/*
 * Unit tests of src/http/cookie.c: the Cookie request header (RFC 6265 section 5.4).
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

static struct http_cookie C[HTTP_MAX_COOKIES + 8];
static char *copy;

/* Parses an exact-size copy of the header (ASan sees a read past its end). */
static size_t parse_n(const char *h, size_t n, size_t max)
{
    free(copy);
    copy = xmalloc(n ? n : 1);
    memcpy(copy, h, n);
    memset(C, 0xa5, sizeof C);
    return http_cookie_parse((struct slice){copy, n}, C, max);
}
#define PARSE(z) parse_n((z), strlen(z), UTIL_ARRAY_LEN(C))

static int teardown(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    return 0;
}

static void assert_cookie(size_t i, const char *name, const char *value)
{
    if (C[i].name.n != strlen(name) || memcmp(C[i].name.p, name, C[i].name.n) != 0 ||
        C[i].value.n != strlen(value) || memcmp(C[i].value.p, value, C[i].value.n) != 0) {
        fail_msg("cookie %zu: %.*s=%.*s, want %s=%s", i, (int)C[i].name.n, C[i].name.p,
                 (int)C[i].value.n, C[i].value.p, name, value);
    }
}

static void test_basic(void **state)
{
    assert_int_equal(PARSE("a=b"), 1);
    assert_cookie(0, "a", "b");
    assert_int_equal(PARSE("a=b; c=d"), 2);
    assert_cookie(0, "a", "b");
    assert_cookie(1, "c", "d");
    /* missing or extra whitespace, as some clients send it */
    assert_int_equal(PARSE("a=b;c=d;  e=f ;\tg = h"), 4);
    assert_cookie(1, "c", "d");
    assert_cookie(2, "e", "f");
    assert_cookie(3, "g", "h");
    /* an empty value, a value with '=' in it, a JWT */
    assert_int_equal(PARSE("a=; b==x=; CF_Authorization=eyJh.eyJz.c2ln-_"), 3);
    assert_cookie(0, "a", "");
    assert_cookie(1, "b", "=x=");
    assert_cookie(2, "CF_Authorization", "eyJh.eyJz.c2ln-_");
    /* repeated names are all returned, in order */
    assert_int_equal(PARSE("s=1; s=2"), 2);
    assert_cookie(0, "s", "1");
    assert_cookie(1, "s", "2");
}

static void test_quotes(void **state)
{
    assert_int_equal(PARSE("a=\"b\"; c=\"\"; d=\"x y\""), 3);
    assert_cookie(0, "a", "b");
    assert_cookie(1, "c", "");
    assert_cookie(2, "d", "x y");
    /* unbalanced or inner quotes: skipped */
    assert_int_equal(PARSE("a=\"b; c=d\"; e=x\"y; f=\"; g=1"), 1);
    assert_cookie(0, "g", "1");
    assert_int_equal(PARSE("a=\"\"\"\""), 0);
}

static void test_malformed_skipped(void **state)
{
    assert_int_equal(PARSE(""), 0);
    assert_int_equal(PARSE(";;; ;"), 0);
    assert_int_equal(PARSE("novalue; a=1"), 1);
    assert_cookie(0, "a", "1");
    assert_int_equal(PARSE("=nameless; a=1"), 1);
    assert_int_equal(PARSE(" = x; a=1"), 1);
    assert_int_equal(PARSE("a b=1; c=2"), 1);
    assert_cookie(0, "c", "2");
    assert_int_equal(PARSE("a(b)=1; a,b=1; a@b=1; a/b=1; a\"b=1; c=2"), 1);
    assert_cookie(0, "c", "2");
    assert_int_equal(PARSE("a=x\x01y; b=\x7f; c=2"), 1);
    assert_cookie(0, "c", "2");
    assert_int_equal(PARSE("\xc3\xa9=1; c=2"), 1);
    /* a NUL in the header (the head parser never lets one through, but still) */
    static const char nul[] = "a=x\0y; b=\0; c=2";
    assert_int_equal(parse_n(nul, sizeof nul - 1, UTIL_ARRAY_LEN(C)), 1);
    assert_cookie(0, "c", "2");
    /* bytes a browser sets although RFC 6265 excludes them from cookie-octet */
    assert_int_equal(PARSE("a=x y,z\\w; b=\xc3\xa9"), 2);
    assert_cookie(0, "a", "x y,z\\w");
    assert_cookie(1, "b", "\xc3\xa9");
}

static void test_max(void **state)
{
    assert_int_equal(parse_n("a=1; b=2; c=3", 13, 2), 2);
    assert_cookie(1, "b", "2");
    assert_int_equal(parse_n("a=1; b=2; c=3", 13, 0), 0);
    assert_int_equal(http_cookie_parse((struct slice){NULL, 0}, NULL, 0), 0);
    /* malformed pairs do not use a slot */
    assert_int_equal(parse_n("x; a=1; y; b=2", 14, 2), 2);
    assert_cookie(0, "a", "1");
    assert_cookie(1, "b", "2");
    /* HTTP_MAX_COOKIES + 1 cookies: the caller's bound is the limit; nothing written past */
    char h[2048];
    size_t n = 0;
    for (int i = 0; i <= HTTP_MAX_COOKIES; i++) {
        n += (size_t)snprintf(h + n, sizeof h - n, "c%d=%d; ", i, i);
    }
    assert_int_equal(parse_n(h, n, HTTP_MAX_COOKIES), HTTP_MAX_COOKIES);
    assert_cookie(HTTP_MAX_COOKIES - 1, "c63", "63");
    assert_int_equal(C[HTTP_MAX_COOKIES].name.n, 0xa5a5a5a5a5a5a5a5ULL);
}

/* The value check tests eight bytes at a time (bytes.h): in a 1.1 KB value (the gateway's
 * token), one byte of every value at positions around each word boundary must get the
 * byte-by-byte verdict: a control byte, DEL or an inner DQUOTE drops the pair; SP, comma,
 * backslash and obs-text are kept (see cookie.c). */
static void test_long_value(void **state)
{
    enum { LEN = 1100 };
    static const size_t at[] = {1,  6,  7,   8,    9,    15,   16,   17,
                                63, 64, 550, 1090, 1091, 1092, 1097, 1098};
    char h[LEN + 2];
    for (size_t k = 0; k < UTIL_ARRAY_LEN(at); k++) {
        for (unsigned c = 0; c < 256; c++) {
            if (c == ';') {
                continue; /* a separator, not a value byte */
            }
            h[0] = 'a';
            h[1] = '=';
            memset(h + 2, 't', LEN);
            h[2 + at[k]] = (char)c;
            bool ok = c >= 0x20 && c != 0x7f && c != '"';
            size_t n = parse_n(h, sizeof h, UTIL_ARRAY_LEN(C));
            if (n != (ok ? 1 : 0)) {
                fail_msg("byte 0x%02x at %zu: %zu cookies, want %d", c, at[k], n, ok);
            }
            if (ok) {
                assert_int_equal(C[0].value.n, LEN);
                assert_memory_equal(C[0].value.p, h + 2, LEN);
            }
        }
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_basic, teardown),
        cmocka_unit_test_teardown(test_quotes, teardown),
        cmocka_unit_test_teardown(test_malformed_skipped, teardown),
        cmocka_unit_test_teardown(test_max, teardown),
        cmocka_unit_test_teardown(test_long_value, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
