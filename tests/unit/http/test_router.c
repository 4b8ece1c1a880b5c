/* Unit tests for src/http/router.c: host matching and prefix rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

static void h(struct http_req *r, void *ctx)
{
    (void)r;
    (void)ctx;
}

/* Tags for the routes: the lookup reports the ctx of the winner. */
static int ANY_ROOT, ANY_A, ANY_A_SLASH, ANY_AB, EX_ROOT, EX_A, WILD_ROOT, WILD_DEEP, OTHER;

static const void *lookup(const struct http_router *r, const char *host, const char *path)
{
    void *ctx = NULL;
    if (!http_router_lookup(r, host, path, &ctx, NULL)) {
        return NULL;
    }
    return ctx;
}

static struct http_router *sample(void)
{
    struct http_router *r = http_router_new();
    assert_int_equal(http_router_add(r, NULL, "/", h, &ANY_ROOT, 0), 0);
    assert_int_equal(http_router_add(r, "*", "/a", h, &ANY_A, 0), 0);
    assert_int_equal(http_router_add(r, NULL, "/a/", h, &ANY_A_SLASH, 0), 0);
    assert_int_equal(http_router_add(r, NULL, "/a/b", h, &ANY_AB, 0), 0);
    assert_int_equal(http_router_add(r, "app.example.com", "/", h, &EX_ROOT, 0), 0);
    assert_int_equal(http_router_add(r, "App.Example.COM", "/a", h, &EX_A, 0), 0);
    assert_int_equal(http_router_add(r, "*.example.com", "/", h, &WILD_ROOT, 0), 0);
    assert_int_equal(http_router_add(r, "*.deep.example.com", "/", h, &WILD_DEEP, 0), 0);
    return r;
}

static void test_exact_host_port_and_case_ignored(void **state)
{
    struct http_router *r = sample();
    assert_ptr_equal(lookup(r, "app.example.com", "/x"), &EX_ROOT);
    assert_ptr_equal(lookup(r, "APP.example.com:8443", "/x"), &EX_ROOT);
    assert_ptr_equal(lookup(r, "app.example.com.", "/x"), &EX_ROOT); /* trailing dot */
    assert_ptr_equal(lookup(r, "app.example.com", "/a"), &EX_A);
    assert_ptr_equal(lookup(r, "app.example.com", "/a/zz"), &EX_A);
    /* Not a prefix of the host name: "app.example.com.evil" is another host. */
    assert_ptr_equal(lookup(r, "app.example.com.evil", "/x"), &ANY_ROOT);
    assert_ptr_equal(lookup(r, "xapp.example.com", "/x"), &WILD_ROOT);
    http_router_free(r);
}

static void test_wildcard_is_one_leftmost_label(void **state)
{
    struct http_router *r = sample();
    assert_ptr_equal(lookup(r, "x.example.com", "/"), &WILD_ROOT);
    assert_ptr_equal(lookup(r, "X.EXAMPLE.COM:80", "/q"), &WILD_ROOT);
    /* Two labels in front: not matched by "*.example.com". */
    assert_ptr_equal(lookup(r, "a.b.example.com", "/"), &ANY_ROOT);
    /* The bare domain is not matched by its wildcard. */
    assert_ptr_equal(lookup(r, "example.com", "/"), &ANY_ROOT);
    assert_ptr_equal(lookup(r, ".example.com", "/"), &ANY_ROOT);
    /* A longer wildcard suffix is more specific. */
    assert_ptr_equal(lookup(r, "z.deep.example.com", "/"), &WILD_DEEP);
    /* An exact host beats a wildcard that also matches it. */
    assert_ptr_equal(lookup(r, "app.example.com", "/"), &EX_ROOT);
    http_router_free(r);
}

static void test_any_host(void **state)
{
    struct http_router *r = sample();
    assert_ptr_equal(lookup(r, "other.test", "/x"), &ANY_ROOT);
    assert_ptr_equal(lookup(r, NULL, "/x"), &ANY_ROOT);
    assert_ptr_equal(lookup(r, "[::1]:8080", "/a"), &ANY_A);
    assert_ptr_equal(lookup(r, "127.0.0.1", "/a/b"), &ANY_AB);
    http_router_free(r);
}

static void test_prefix_rules(void **state)
{
    struct http_router *r = sample();
    /* "/a" matches "/a" and "/a/..." but not "/ab". */
    assert_ptr_equal(lookup(r, "h", "/a"), &ANY_A);
    assert_ptr_equal(lookup(r, "h", "/ab"), &ANY_ROOT);
    /* "/a/" matches "/a/" and below (longer than "/a"). */
    assert_ptr_equal(lookup(r, "h", "/a/"), &ANY_A_SLASH);
    assert_ptr_equal(lookup(r, "h", "/a/x"), &ANY_A_SLASH);
    /* The longest prefix wins: "/a/b" over "/a/" and "/a". */
    assert_ptr_equal(lookup(r, "h", "/a/b"), &ANY_AB);
    assert_ptr_equal(lookup(r, "h", "/a/b/c"), &ANY_AB);
    assert_ptr_equal(lookup(r, "h", "/a/bc"), &ANY_A_SLASH);
    http_router_free(r);
}

static void test_most_specific_host_falls_back_by_path(void **state)
{
    struct http_router *r = http_router_new();
    assert_int_equal(http_router_add(r, "app.test", "/only", h, &EX_A, 0), 0);
    assert_int_equal(http_router_add(r, NULL, "/healthz", h, &ANY_ROOT, 0), 0);
    /* The host has routes, but none for this path: the any-host route serves it. */
    assert_ptr_equal(lookup(r, "app.test", "/healthz"), &ANY_ROOT);
    assert_ptr_equal(lookup(r, "app.test", "/only/x"), &EX_A);
    /* Nothing at all: no route. */
    assert_null(lookup(r, "app.test", "/nothing"));
    assert_null(lookup(r, "else.test", "/only"));
    http_router_free(r);
}

static void test_body_limits_and_invalid_routes(void **state)
{
    struct http_router *r = http_router_new();
    size_t limit = 0;
    void *ctx = NULL;
    assert_int_equal(http_router_add(r, NULL, "/d", h, &OTHER, 0), 0);
    assert_int_equal(http_router_add(r, NULL, "/big", h, &OTHER, 1 << 20), 0);
    assert_true(http_router_lookup(r, "h", "/d", &ctx, &limit));
    assert_int_equal(limit, HTTP_DEFAULT_BODY_LIMIT);
    assert_true(http_router_lookup(r, "h", "/big/x", &ctx, &limit));
    assert_int_equal(limit, 1 << 20);
    /* Refused: prefix not starting with '/', no handler, malformed wildcards. */
    assert_int_equal(http_router_add(r, NULL, "x", h, NULL, 0), -1);
    assert_int_equal(http_router_add(r, NULL, "/x", NULL, NULL, 0), -1);
    assert_int_equal(http_router_add(r, "a.*.com", "/", h, NULL, 0), -1);
    assert_int_equal(http_router_add(r, "*example.com", "/", h, NULL, 0), -1);
    assert_int_equal(http_router_add(r, "*.", "/", h, NULL, 0), -1);
    assert_int_equal(http_router_add(r, "", "/", h, NULL, 0), -1);
    http_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_host_port_and_case_ignored),
        cmocka_unit_test(test_wildcard_is_one_leftmost_label),
        cmocka_unit_test(test_any_host),
        cmocka_unit_test(test_prefix_rules),
        cmocka_unit_test(test_most_specific_host_falls_back_by_path),
        cmocka_unit_test(test_body_limits_and_invalid_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
