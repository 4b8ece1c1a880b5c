/*
 * Unit tests of src/http/path.c: the one canonical decode of a request path.
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

static struct buf path;
static struct slice query;
static char *copy;

static int canon_n(const char *t, size_t n, size_t cap)
{
    free(copy);
    copy = xmalloc(n ? n : 1);
    memcpy(copy, t, n);
    buf_free(&path);
    buf_init(&path, cap);
    query = (struct slice){"junk", 4};
    int rc = http_path_canonical((struct slice){copy, n}, &path, &query);
    if (rc != 0) {
        assert_int_equal(path.len, 0);
        assert_null(query.p);
        assert_int_equal(query.n, 0);
    }
    return rc;
}
#define CANON(z) canon_n((z), strlen(z), 4096)

static int teardown(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    buf_free(&path);
    return 0;
}

static void test_canonical(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"/", "/"},
        {"/a", "/a"},
        {"/a/", "/a/"},
        {"/a/b/c", "/a/b/c"},
        {"//", "/"},
        {"//a", "/a"},
        {"/a//b", "/a/b"},
        {"/a///", "/a/"},
        {"/.", "/"},
        {"/./", "/"},
        {"/./a", "/a"},
        {"/a/./b", "/a/b"},
        {"/a/.", "/a/"},
        {"/a/..", "/"},
        {"/a/../", "/"},
        {"/a/../b", "/b"},
        {"/a/b/..", "/a/"},
        {"/a/b/../..", "/"},
        {"/a/b/../../c/", "/c/"},
        {"/a/./../b/./c/..", "/b/"},
        {"/a//..", "/"},
        /* dot-segments are resolved after the decode: encoded dots are dots */
        {"/a/%2e%2e/b", "/b"},
        {"/a/%2E%2E/b", "/b"},
        {"/a/.%2e/b", "/b"},
        {"/a/%2e./b", "/b"},
        {"/a/%2e/b", "/a/b"},
        /* not dot-segments */
        {"/...", "/..."},
        {"/..a", "/..a"},
        {"/a..", "/a.."},
        {"/.a/", "/.a/"},
        {"/%2e%2e%2e", "/..."},
        {"/a;b", "/a;b"},
        {"/a;/..", "/"},
        /* exactly one decode */
        {"/%41%62%63", "/Abc"},
        {"/a%20b", "/a b"},
        {"/%25", "/%"},
        {"/%2541", "/%41"},
        {"/%252e%252e/x", "/%2e%2e/x"},
        {"/%3F%23", "/?#"},
        {"/%C3%A9", "/\xc3\xa9"},
        {"/%ff", "/\xff"},
        {"/a+b", "/a+b"},
        {"/cdn-cgi/access/login/app.example", "/cdn-cgi/access/login/app.example"},
        {"/application/o/authorize/", "/application/o/authorize/"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        if (CANON(cases[i].in) != 0) {
            fail_msg("%s refused", cases[i].in);
        }
        if (strcmp(path.p, cases[i].out) != 0) {
            fail_msg("%s -> %s, want %s", cases[i].in, path.p, cases[i].out);
        }
        assert_int_equal(path.len, strlen(cases[i].out));
        assert_null(query.p);
    }
}

static void test_refused(void **state)
{
    static const char *bad[] = {
        "",
        "*",
        "a/b",
        "http://a.example/b",
        "//a.example/b/../../..",
        "/..",
        "/../",
        "/../a",
        "/a/../..",
        "/a/../../b",
        "/%2e%2e",
        "/a/%2E%2E/%2e%2e",
        /* encoded separators, backslashes */
        "/a%2Fb",
        "/a%2fb",
        "/a%5Cb",
        "/a%5cb",
        "/a\\b",
        "/a\\..\\..\\b",
        "/%2F%2F",
        /* controls after the decode */
        "/a%00",
        "/%00",
        "/a%01",
        "/a%0A",
        "/a%0d%0aSet-Cookie:x",
        "/a%1F",
        "/a%7F",
        "/a%7f",
        /* bad escapes */
        "/%",
        "/a%",
        "/a%2",
        "/a%zz",
        "/a%2g",
        "/a%g2",
        "/a%%32%46",
        "/a% 2",
        /* fragments, raw bytes that are not VCHAR */
        "/a#b",
        "/a?x#y",
        "/#",
        "/a b",
        "/a\tb",
        "/a\x01",
        "/a\x7f",
        "/\xc3\xa9",
        "/a?x=1 2",
        "/a?x=\x80",
        /* path parameters that hide a dot-segment from us but not from Tomcat */
        "/.;/admin",
        "/..;/admin",
        "/public/..;/admin",
        "/public/..;jsessionid=1/admin",
        "/public/%2e%2e;/admin",
        "/public/.;x",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        if (CANON(bad[i]) != -1) {
            fail_msg("%s accepted as %s", bad[i], path.p);
        }
    }
    static const char nul[] = "/a\0b";
    assert_int_equal(canon_n(nul, sizeof nul - 1, 100), -1);
}

static void test_query(void **state)
{
    assert_int_equal(CANON("/a/../b?x=%2F&y=..#"), -1);
    assert_int_equal(CANON("/a/../b?x=%2F&y=../.."), 0);
    assert_string_equal(path.p, "/b");
    assert_int_equal(query.n, strlen("x=%2F&y=../.."));
    assert_memory_equal(query.p, "x=%2F&y=../..", query.n);
    assert_ptr_equal(query.p, copy + strlen("/a/../b?"));
    assert_int_equal(CANON("/?"), 0);
    assert_string_equal(path.p, "/");
    assert_non_null(query.p);
    assert_int_equal(query.n, 0);
    assert_int_equal(CANON("/p?a?b/c%zz"), 0); /* the query is not decoded here */
    assert_string_equal(path.p, "/p");
    assert_memory_equal(query.p, "a?b/c%zz", 8);
    assert_int_equal(CANON("/%3F?q"), 0);
    assert_string_equal(path.p, "/?");
    assert_memory_equal(query.p, "q", 1);
    assert_int_equal(CANON("?q"), -1);
}

static void test_cap(void **state)
{
    /* the result is never longer than the target: a cap of target.n is always enough */
    assert_int_equal(canon_n("/abc", 4, 4), 0);
    assert_string_equal(path.p, "/abc");
    assert_int_equal(canon_n("/abc", 4, 3), -1);
    assert_int_equal(canon_n("/abc/", 5, 5), 0);
    assert_int_equal(canon_n("/abc/", 5, 4), -1);
    assert_int_equal(canon_n("/./././", 7, 1), 0);
    assert_string_equal(path.p, "/");
    assert_int_equal(canon_n("/a/../", 6, 6), 0);
    assert_string_equal(path.p, "/");
    assert_int_equal(canon_n("/a/../", 6, 1), -1); /* "/a" is held before ".." removes it */
    assert_int_equal(canon_n("/%41%42", 7, 3), 0);
    assert_string_equal(path.p, "/AB");
    assert_int_equal(canon_n("/", 1, 0), -1);
    /* the buffer is reset first, then reused */
    buf_free(&path);
    buf_init(&path, 100);
    assert_int_equal(buf_append_z(&path, "old"), 0);
    struct slice q;
    assert_int_equal(http_path_canonical(SLICE_LIT("/new"), &path, &q), 0);
    assert_string_equal(path.p, "/new");
    assert_int_equal(http_path_canonical(SLICE_LIT("/.."), &path, &q), -1);
    assert_int_equal(path.len, 0);
}

/* Canonical output is a fixed point: canonicalising it again changes nothing (when it has
 * no byte that would need encoding). */
static void test_idempotent(void **state)
{
    static const char *in[] = {"/a/./b/../c//d/", "/x/%2e%2e/y", "/", "/a/..", "/%41/b"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(in); i++) {
        assert_int_equal(CANON(in[i]), 0);
        char *once = xstrdup(path.p);
        assert_int_equal(CANON(once), 0);
        assert_string_equal(path.p, once);
        free(once);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_canonical, teardown),
        cmocka_unit_test_teardown(test_refused, teardown),
        cmocka_unit_test_teardown(test_query, teardown),
        cmocka_unit_test_teardown(test_cap, teardown),
        cmocka_unit_test_teardown(test_idempotent, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
