/*
 * Unit tests of src/oidc/redirect.c: redirect URI registration and matching (RFC 6749
 * 3.1.2.3, RFC 9700 4.1.3), and the response URL builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oidc/oidc.h"

static struct oidc_redirects load(const char *json)
{
    struct oidc_redirects l;
    struct err e = {0};
    assert_int_equal(oidc_redirects_parse(json, &l, &e), 0);
    return l;
}

static void test_strict_is_exact(void **state)
{
    (void)state;
    struct oidc_redirects l =
        load("[{\"matching_mode\":\"strict\",\"url\":\"https://a.example/cb\"}]");
    assert_int_equal(l.n, 1);
    assert_true(oidc_redirect_allowed(&l, "https://a.example/cb"));
    /* Simple string comparison: no normalisation of any kind. */
    const char *no[] = {
        "https://a.example/cb/",      "https://A.example/cb",      "https://a.example/CB",
        "https://a.example/cb?x=1",   "https://a.example/cb#x",    "https://a.example:443/cb",
        "https://a.example/cb/../cb", "https://a.example/%63b",    "http://a.example/cb",
        "https://a.example/c",        "https://a.example/cb ",     " https://a.example/cb",
        "https://a.example.evil/cb",  "https://a.example@evil/cb", "",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_false(oidc_redirect_allowed(&l, no[i]));
    }
    assert_false(oidc_redirect_allowed(&l, NULL));
    oidc_redirects_free(&l);
}

static void test_empty_list_accepts_nothing(void **state)
{
    (void)state;
    struct oidc_redirects l = load("[]");
    assert_false(oidc_redirect_allowed(&l, "https://a.example/cb"));
    assert_false(oidc_redirect_registered_strict(&l, "https://a.example/cb"));
    oidc_redirects_free(&l);
    l = load("");
    assert_false(oidc_redirect_allowed(&l, "https://a.example/cb"));
    oidc_redirects_free(&l);
    l = load(NULL);
    assert_int_equal(l.n, 0);
    oidc_redirects_free(&l);
}

static void test_regex_is_anchored(void **state)
{
    (void)state;
    struct oidc_redirects l =
        load("[{\"matching_mode\":\"regex\",\"url\":\"https://a\\\\.example/.*\"}]");
    assert_int_equal(l.v[0].mode, OIDC_MATCH_REGEX);
    assert_string_equal(l.v[0].url, "https://a\\.example/.*");
    assert_true(oidc_redirect_allowed(&l, "https://a.example/"));
    assert_true(oidc_redirect_allowed(&l, "https://a.example/cb?x=1"));
    /* Anchored at both ends. */
    assert_false(oidc_redirect_allowed(&l, "https://evil/?https://a.example/"));
    assert_false(oidc_redirect_allowed(&l, "xhttps://a.example/"));
    assert_false(oidc_redirect_allowed(&l, "https://evil.example/https://a.example/"));
    /* The escaped dot is a dot. */
    assert_false(oidc_redirect_allowed(&l, "https://aXexample/"));
    oidc_redirects_free(&l);

    /* An alternation is anchored as a whole, not only its first branch. */
    l = load("[{\"matching_mode\":\"regex\",\"url\":\"https://a\\\\.example/x|https://"
             "b\\\\.example/y\"}]");
    assert_true(oidc_redirect_allowed(&l, "https://a.example/x"));
    assert_true(oidc_redirect_allowed(&l, "https://b.example/y"));
    assert_false(oidc_redirect_allowed(&l, "https://a.example/xevil"));
    assert_false(oidc_redirect_allowed(&l, "https://evil/https://b.example/y"));
    oidc_redirects_free(&l);
}

/* A permissive pattern must not accept what a browser resolves elsewhere. */
static void test_regex_needs_sane_uri(void **state)
{
    (void)state;
    struct oidc_redirects l =
        load("[{\"matching_mode\":\"regex\",\"url\":\"https://a\\\\.example/cb.*\"}]");
    assert_true(oidc_redirect_allowed(&l, "https://a.example/cb"));
    assert_true(oidc_redirect_allowed(&l, "https://a.example/cb/x?y=../z"));
    assert_true(oidc_redirect_allowed(&l, "https://a.example/cb..x")); /* not a segment */
    const char *no[] = {
        "https://a.example/cb/../..",   "https://a.example/cb/../../other",
        "https://a.example/cb/./x",     "https://a.example/cb/%2e%2e/x",
        "https://a.example/cb/%2E./x",  "https://a.example/cb/..",
        "https://a.example/cb\\@evil",  "https://a.example/cb#@evil",
        "https://a.example/cb\t",       "https://a.example/cb x",
        "https://a.example/cb\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_false(oidc_redirect_allowed(&l, no[i]));
    }
    oidc_redirects_free(&l);

    /* Userinfo: "https://a.example@evil" is the host evil. */
    l = load("[{\"matching_mode\":\"regex\",\"url\":\"https://a\\\\.example.*\"}]");
    assert_false(oidc_redirect_allowed(&l, "https://a.example@evil/cb"));
    assert_false(oidc_redirect_allowed(&l, "https://a.example:x@evil/"));
    assert_true(oidc_redirect_allowed(&l, "https://a.example/x@y")); /* '@' in the path */
    oidc_redirects_free(&l);
}

static void test_regex_bad_or_long(void **state)
{
    (void)state;
    /* A pattern that does not compile matches nothing (and does not crash). */
    struct oidc_redirects l = load("[{\"matching_mode\":\"regex\",\"url\":\"https://(a\"}]");
    assert_false(oidc_redirect_allowed(&l, "https://(a"));
    oidc_redirects_free(&l);
    /* A pattern cannot close the anchoring group early: wrapped, "x)|(.*" would read
     * "^(x)|(.*)$" and match anything; it must compile alone first, and does not. */
    l = load("[{\"matching_mode\":\"regex\",\"url\":\"x)|(.*\"}]");
    assert_false(oidc_redirect_allowed(&l, "https://evil/"));
    assert_false(oidc_redirect_allowed(&l, "x"));
    oidc_redirects_free(&l);
    l = load("[{\"matching_mode\":\"regex\",\"url\":\"https://a/)|(https://evil/.*\"}]");
    assert_false(oidc_redirect_allowed(&l, "https://evil/x"));
    oidc_redirects_free(&l);
    /* Over-long URIs and patterns match nothing. */
    char uri[OIDC_REDIRECT_URI_MAX + 10];
    memset(uri, 'a', sizeof uri);
    memcpy(uri, "https://a.example/", 18);
    uri[sizeof uri - 1] = '\0';
    l = load("[{\"matching_mode\":\"regex\",\"url\":\"https://a\\\\.example/.*\"}]");
    assert_false(oidc_redirect_allowed(&l, uri));
    uri[OIDC_REDIRECT_URI_MAX] = '\0';
    assert_true(oidc_redirect_allowed(&l, uri));
    oidc_redirects_free(&l);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct oidc_redirects l;
    struct err e = {0};
    const char *bad[] = {
        "{}",
        "[{\"matching_mode\":\"glob\",\"url\":\"x\"}]",
        "[{\"matching_mode\":\"strict\"}]",
        "[{\"matching_mode\":\"strict\",\"url\":\"\"}]",
        "[{\"matching_mode\":\"strict\",\"url\":\"a\"},{\"url\":5}]",
        "[1]",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(oidc_redirects_parse(bad[i], &l, &e), -1);
        assert_null(l.v);
        assert_int_equal(l.n, 0);
    }
    /* matching_mode defaults to strict */
    assert_int_equal(oidc_redirects_parse("[{\"url\":\"https://x/\"}]", &l, &e), 0);
    assert_int_equal(l.v[0].mode, OIDC_MATCH_STRICT);
    oidc_redirects_free(&l);
}

static void test_post_logout_strict_only(void **state)
{
    (void)state;
    struct oidc_redirects l = load("[{\"matching_mode\":\"strict\",\"url\":\"https://a/out\"},"
                                   "{\"matching_mode\":\"regex\",\"url\":\"https://b/.*\"}]");
    assert_true(oidc_redirect_registered_strict(&l, "https://a/out"));
    assert_false(oidc_redirect_registered_strict(&l, "https://a/out?x"));
    assert_false(oidc_redirect_registered_strict(&l, "https://b/x"));
    assert_false(oidc_redirect_registered_strict(&l, "https://b/.*"));
    assert_false(oidc_redirect_registered_strict(&l, ""));
    assert_true(oidc_redirect_allowed(&l, "https://b/x"));
    oidc_redirects_free(&l);
}

static void test_url_with_params(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    const char *names[] = {"code", "state", "iss"};
    const char *values[] = {"abc", "a b&c=d", NULL};
    assert_int_equal(oidc_url_with_params(&b, "https://a/cb", names, values, 3), 0);
    assert_string_equal(b.p, "https://a/cb?code=abc&state=a%20b%26c%3Dd");
    buf_reset(&b);
    /* The registered URI's own query is kept. */
    assert_int_equal(oidc_url_with_params(&b, "https://a/cb?x=1", names, values, 2), 0);
    assert_string_equal(b.p, "https://a/cb?x=1&code=abc&state=a%20b%26c%3Dd");
    buf_reset(&b);
    assert_int_equal(oidc_url_with_params(&b, "https://a/cb?", names, values, 1), 0);
    assert_string_equal(b.p, "https://a/cb?code=abc");
    buf_free(&b);
    buf_init(&b, 10);
    assert_int_equal(oidc_url_with_params(&b, "https://a/cb", names, values, 3), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_is_exact),
        cmocka_unit_test(test_empty_list_accepts_nothing),
        cmocka_unit_test(test_regex_is_anchored),
        cmocka_unit_test(test_regex_needs_sane_uri),
        cmocka_unit_test(test_regex_bad_or_long),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_post_logout_strict_only),
        cmocka_unit_test(test_url_with_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
