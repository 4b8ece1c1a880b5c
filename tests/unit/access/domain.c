/*
 * Unit tests of src/access/domain.c: the URLs of the configuration, application domains, and
 * which application serves a request (Cloudflare Access's application paths: one-label
 * wildcards, port ignored, exact host first, longest path prefix).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "access/access_int.h"

static void assert_url(const char *in, unsigned flags, const char *text, const char *host,
                       unsigned port, bool https)
{
    struct access_url u;
    const char *why = NULL;
    if (access_url_parse(in, flags, &u, &why) != 0) {
        fail_msg("%s: %s", in, why);
    }
    assert_string_equal(u.text, text);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_int_equal(u.https, https);
    access_url_free(&u);
}

static void assert_url_refused(const char *in, unsigned flags, const char *msg)
{
    struct access_url u;
    const char *why = NULL;
    assert_int_equal(access_url_parse(in, flags, &u, &why), -1);
    assert_non_null(why);
    if (strcmp(why, msg) != 0) {
        fail_msg("%s: got \"%s\", want \"%s\"", in, why, msg);
    }
    assert_null(u.text);
    assert_null(u.host);
}

static void test_urls(void **state)
{
    (void)state;
    const unsigned O = ACCESS_URL_ORIGIN;
    assert_url("http://team.localhost:9000", O, "http://team.localhost:9000", "team.localhost",
               9000, false);
    assert_url("HTTPS://Team.Example.COM/", O, "https://team.example.com", "team.example.com", 443,
               true);
    assert_url("http://127.0.0.1:8081", O, "http://127.0.0.1:8081", "127.0.0.1", 8081, false);
    assert_url("http://[::1]:8081", O, "http://[::1]:8081", "[::1]", 8081, false);
    assert_url("http://[2001:DB8::1]", O, "http://[2001:db8::1]", "[2001:db8::1]", 80, false);
    assert_url("http://my_app:3000", O, "http://my_app:3000", "my_app", 3000, false);
    assert_url("http://a.example:080", O, "http://a.example:80", "a.example", 80, false);
    /* Paths and queries where the flags allow them; the path keeps its case. */
    assert_url("https://Auth.example.com/Application/o/token/", 0,
               "https://auth.example.com/Application/o/token/", "auth.example.com", 443, true);
    assert_url("https://a.example/authorize?tenant=x&a=%2F", ACCESS_URL_QUERY,
               "https://a.example/authorize?tenant=x&a=%2F", "a.example", 443, true);

    assert_url_refused("team.localhost", O, "expected an http:// or https:// URL");
    assert_url_refused("//team.localhost", O, "expected an http:// or https:// URL");
    assert_url_refused("ws://team.localhost", O, "expected an http:// or https:// URL");
    assert_url_refused("http:/team.localhost", O, "expected an http:// or https:// URL");
    assert_url_refused("http://", O, "expected a host after ://");
    assert_url_refused("http://:80", O, "expected a host after ://");
    assert_url_refused("http://a.example:", O, "invalid port (expected 1 to 65535)");
    assert_url_refused("http://a.example:x", O, "invalid port (expected 1 to 65535)");
    assert_url_refused("http://a.example:-1", O, "invalid port (expected 1 to 65535)");
    assert_url_refused("http://a.example:1:2", O, "invalid port (expected 1 to 65535)");
    assert_url_refused("http://u:p@a.example", O, "credentials (user@) are not allowed in the URL");
    assert_url_refused("http://a.example@evil.example", O,
                       "credentials (user@) are not allowed in the URL");
    assert_url_refused("http://[::1", O, "invalid IPv6 address in brackets");
    assert_url_refused("http://[::g]", O, "invalid IPv6 address in brackets");
    assert_url_refused("http://[]", O, "invalid IPv6 address in brackets");
    assert_url_refused("http://::1", O, "expected a host after ://");
    assert_url_refused("http://a..b", O, "expected a host name such as auth.example.com");
    assert_url_refused("http://a.b.", O, "expected a host name such as auth.example.com");
    assert_url_refused("http://a%2eb", O, "expected a host name such as auth.example.com");
    assert_url_refused("http://a.example/x", O,
                       "expected scheme://host[:port] only, without a path or query");
    assert_url_refused("http://a.example?x", O,
                       "expected scheme://host[:port] only, without a path or query");
    assert_url_refused("http://a.example#", O, "a fragment (#) is not allowed");
    assert_url_refused("http://a.example/x?y", 0, "a query (?) is not allowed");
    assert_url_refused("http://a.example/x y", 0,
                       "a character outside RFC 3986 in the URL's path or query");
    assert_url_refused("http://a.example/x%4", 0, "invalid %-escape in the URL");
    assert_url_refused("http://a.example/x%", 0, "invalid %-escape in the URL");
    char big[ACCESS_URL_MAX + 32];
    snprintf(big, sizeof big, "http://a.example/%0*d", ACCESS_URL_MAX, 0);
    assert_url_refused(big, 0, "URL too long");
}

static struct access_app app(const char *domain)
{
    struct access_app a = {0};
    const char *why = NULL;
    if (access_domain_parse(domain, &a, &why) != 0) {
        fail_msg("%s: %s", domain, why);
    }
    a.name = xstrdup(domain);
    return a;
}

static void test_domains(void **state)
{
    (void)state;
    struct access_app a = app("Service.LOCALHOST");
    assert_string_equal(a.domain, "service.localhost");
    assert_string_equal(a.host, "service.localhost");
    assert_string_equal(a.path, "");
    assert_false(a.wildcard);
    access_app_free(&a);
    a = app("*.Example.com/Admin/");
    assert_string_equal(a.domain, "*.example.com/Admin");
    assert_string_equal(a.host, "example.com");
    assert_string_equal(a.path, "/Admin"); /* paths are case-sensitive */
    assert_true(a.wildcard);
    access_app_free(&a);
    a = app("a.example.com/");
    assert_string_equal(a.domain, "a.example.com");
    assert_string_equal(a.path, "");
    access_app_free(&a);
    a = app("a.example.com/v1/api:list;x=1@y");
    assert_string_equal(a.path, "/v1/api:list;x=1@y");
    access_app_free(&a);
    a = app("127.0.0.1");
    assert_string_equal(a.host, "127.0.0.1");
    access_app_free(&a);
    /* Refused ones leave nothing behind. */
    struct access_app b = {0};
    const char *why = NULL;
    assert_int_equal(access_domain_parse("a.example.com/a//b", &b, &why), -1);
    assert_null(b.host);
    assert_null(b.path);
    assert_false(b.wildcard);
    assert_int_equal(access_domain_parse("*.example.com/x/.", &b, &why), -1);
    assert_false(b.wildcard);
}

/* A table of applications like a gateway in front of several services. */
static const char *const domains[] = {
    "service.localhost",            /* 0 */
    "service.localhost/admin",      /* 1 */
    "service.localhost/admin/keys", /* 2 */
    "*.example.com",                /* 3 */
    "*.example.com/api",            /* 4 */
    "www.example.com",              /* 5 */
    "*.b.example.com",              /* 6 */
    "example.com/public",           /* 7 */
};

static int match(const struct access_app *apps, const char *host, const char *path)
{
    const struct access_app *a =
        access_app_match(apps, sizeof domains / sizeof domains[0], host, path);
    return a != NULL ? (int)(a - apps) : -1;
}

static void test_match(void **state)
{
    (void)state;
    struct access_app apps[sizeof domains / sizeof domains[0]];
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        apps[i] = app(domains[i]);
    }
    /* Host: case-insensitive, port and one trailing dot ignored. */
    assert_int_equal(match(apps, "service.localhost", "/"), 0);
    assert_int_equal(match(apps, "SERVICE.Localhost:9000", "/x"), 0);
    assert_int_equal(match(apps, "service.localhost.", "/"), 0);
    assert_int_equal(match(apps, "service.localhost:", "/"), 0);
    assert_int_equal(match(apps, "service.localhost..", "/"), -1);
    assert_int_equal(match(apps, "service.localhostx", "/"), -1);
    assert_int_equal(match(apps, "xservice.localhost", "/"), -1);
    assert_int_equal(match(apps, "a.service.localhost", "/"), -1);
    assert_int_equal(match(apps, "", "/"), -1);
    assert_int_equal(match(apps, NULL, "/"), -1);
    assert_int_equal(match(apps, "[::1]:9000", "/"), -1);

    /* Longest prefix, on segment boundaries. */
    assert_int_equal(match(apps, "service.localhost", "/admin"), 1);
    assert_int_equal(match(apps, "service.localhost", "/admin/"), 1);
    assert_int_equal(match(apps, "service.localhost", "/admin/users"), 1);
    assert_int_equal(match(apps, "service.localhost", "/administrator"), 0);
    assert_int_equal(match(apps, "service.localhost", "/admin/keys"), 2);
    assert_int_equal(match(apps, "service.localhost", "/admin/keys/1"), 2);
    assert_int_equal(match(apps, "service.localhost", "/admin/keysx"), 1);
    assert_int_equal(match(apps, "service.localhost", "/Admin"), 0); /* case-sensitive path */
    assert_int_equal(match(apps, "service.localhost", NULL), 0);
    assert_int_equal(match(apps, "service.localhost", ""), 0);

    /* Wildcard: exactly one label in front of the suffix; never the apex. */
    assert_int_equal(match(apps, "alpha.example.com", "/"), 3);
    assert_int_equal(match(apps, "ALPHA.EXAMPLE.COM:443", "/"), 3);
    assert_int_equal(match(apps, "alpha.example.com", "/api/v1"), 4);
    assert_int_equal(match(apps, "alpha.example.com", "/apis"), 3);
    assert_int_equal(match(apps, "foo.bar.example.com", "/"), -1);
    assert_int_equal(match(apps, "x.b.example.com", "/"), 6);
    assert_int_equal(match(apps, "b.example.com", "/"), 3);
    assert_int_equal(match(apps, ".example.com", "/"), -1);
    assert_int_equal(match(apps, "example.com", "/"), -1);
    assert_int_equal(match(apps, "example.com", "/public/x"), 7);
    assert_int_equal(match(apps, "alpha.example.com.evil", "/"), -1);
    assert_int_equal(match(apps, "alphaexample.com", "/"), -1);

    /* An exact host beats a wildcard, even one with a longer path prefix. */
    assert_int_equal(match(apps, "www.example.com", "/"), 5);
    assert_int_equal(match(apps, "www.example.com", "/api/v1"), 5);
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        access_app_free(&apps[i]);
    }
}

/* The choice never depends on the order of the applications. */
static void test_match_order_free(void **state)
{
    (void)state;
    enum { N = sizeof domains / sizeof domains[0] };
    struct access_app fwd[N];
    struct access_app rev[N];
    for (size_t i = 0; i < N; i++) {
        fwd[i] = app(domains[i]);
        rev[N - 1 - i] = app(domains[i]);
    }
    const char *hosts[] = {"service.localhost", "www.example.com", "alpha.example.com",
                           "x.b.example.com",   "b.example.com",   "example.com"};
    const char *paths[] = {"/", "/admin", "/admin/keys/x", "/api", "/api/v1", "/public"};
    for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++) {
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            const struct access_app *a = access_app_match(fwd, N, hosts[h], paths[p]);
            const struct access_app *b = access_app_match(rev, N, hosts[h], paths[p]);
            assert_int_equal(a == NULL, b == NULL);
            if (a != NULL) {
                assert_string_equal(a->domain, b->domain);
            }
        }
    }
    for (size_t i = 0; i < N; i++) {
        access_app_free(&fwd[i]);
        access_app_free(&rev[i]);
    }
}

static void test_dns_names(void **state)
{
    (void)state;
    char label[ACCESS_LABEL_MAX + 2];
    memset(label, 'a', sizeof label);
    assert_true(access_dns_name_ok(label, ACCESS_LABEL_MAX));
    assert_false(access_dns_name_ok(label, ACCESS_LABEL_MAX + 1));
    char name[ACCESS_HOST_MAX + 2];
    memset(name, 'a', sizeof name);
    for (size_t i = 50; i < sizeof name; i += 51) {
        name[i] = '.';
    }
    assert_true(access_dns_name_ok(name, ACCESS_HOST_MAX));
    assert_false(access_dns_name_ok(name, ACCESS_HOST_MAX + 1));
    assert_true(access_dns_name_ok("x-1.example", 11));
    assert_true(access_dns_name_ok("1.2.3.4", 7));
    assert_false(access_dns_name_ok("", 0));
    assert_false(access_dns_name_ok(".", 1));
    assert_false(access_dns_name_ok("a.-b", 4));
    assert_false(access_dns_name_ok("a b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),      cmocka_unit_test(test_domains),
        cmocka_unit_test(test_match),     cmocka_unit_test(test_match_order_free),
        cmocka_unit_test(test_dns_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
