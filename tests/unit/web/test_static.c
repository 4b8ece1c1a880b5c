/* Unit tests for src/web/static.c and respond.c: the asset handler (ETag, 304, headers) and
 * the security headers of pages, through a real server on 127.0.0.1 in a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "web/web.h"

#define RESP_MAX (512 * 1024)

static struct web *site;
static struct http_router *router;
static struct http_server *server;
static pthread_t thread;
static int port;

static void h_page(struct http_req *r, void *ctx)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_message m = {.title = "Hello"};
    if (web_page_message(site, &m, &page) != 0) {
        buf_free(&page);
        http_respond(r, 500, NULL, NULL, 0);
        return;
    }
    const char *path = http_req_path(r);
    if (strcmp(path, "/page-origin") == 0) {
        web_respond_page_ex(r, 200, &page, WEB_FORM_ORIGIN, "https://rp.example.com:8443");
    } else if (strcmp(path, "/page-redirects") == 0) {
        web_respond_page_ex(r, 200, &page, WEB_FORM_REDIRECTS, NULL);
    } else if (strcmp(path, "/page-bad-origin") == 0) {
        web_respond_page_ex(r, 200, &page, WEB_FORM_ORIGIN, "https://x.example/; script-src *");
    } else if (strcmp(path, "/error") == 0) {
        buf_free(&page);
        web_respond_error(site, r, 404, "Application not found", "No application <here>.");
        return;
    } else {
        web_respond_page(r, 200, &page);
    }
    buf_free(&page);
}

static void *run(void *arg)
{
    http_server_run(server);
    return NULL;
}

static int setup(void **state)
{
    struct err e = {0};
    log_set_level(LOG_WARN); /* no access log lines in the test output */
    site = web_new(NULL, &e);
    router = http_router_new();
    if (site == NULL || web_routes_add(router, NULL, site) != 0 ||
        http_router_add(router, NULL, "/page", h_page, NULL, 0) != 0 ||
        http_router_add(router, NULL, "/page-origin", h_page, NULL, 0) != 0 ||
        http_router_add(router, NULL, "/page-redirects", h_page, NULL, 0) != 0 ||
        http_router_add(router, NULL, "/page-bad-origin", h_page, NULL, 0) != 0 ||
        http_router_add(router, NULL, "/error", h_page, NULL, 0) != 0) {
        return -1;
    }
    struct http_listen l = {.address = "127.0.0.1:0"};
    struct http_server_config cfg = {.listen = &l, .nlisten = 1, .threads = 1};
    server = http_server_new(&cfg, router, &e);
    if (server == NULL) {
        print_error("server: %s\n", e.msg);
        return -1;
    }
    port = http_server_port(server, 0);
    return pthread_create(&thread, NULL, run, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    http_server_stop(server);
    pthread_join(thread, NULL);
    http_server_free(server);
    http_router_free(router);
    web_free(site);
    return 0;
}

struct resp {
    int status;
    char head[8192];
    const char *body;
    size_t body_len;
    char raw[RESP_MAX];
};

/* One request on a new connection ("Connection: close"), the whole answer read. */
static void request(const char *method, const char *target, const char *extra, struct resp *r)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: auth.localhost\r\n%s"
                     "Connection: close\r\n\r\n",
                     method, target, extra ? extra : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd, r->raw + got, sizeof r->raw - 1 - got)) > 0) {
        got += (size_t)k;
    }
    close(fd);
    r->raw[got] = '\0';
    const char *end = strstr(r->raw, "\r\n\r\n");
    assert_non_null(end);
    size_t hl = (size_t)(end - r->raw) + 2;
    assert_true(hl < sizeof r->head);
    memcpy(r->head, r->raw, hl);
    r->head[hl] = '\0';
    r->body = end + 4;
    r->body_len = got - (size_t)(r->body - r->raw);
    assert_int_equal(strncmp(r->raw, "HTTP/1.1 ", 9), 0);
    r->status = (int)strtol(r->raw + 9, NULL, 10);
}

/* The value of a response header (case-sensitive name as our server writes it). */
static const char *header(const struct resp *r, const char *name, char *out, size_t outsz)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strstr(r->head, pat);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(pat);
    const char *e = strstr(p, "\r\n");
    snprintf(out, outsz, "%.*s", (int)(e - p), p);
    return out;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
    char v[1024];
    if (header(r, name, v, sizeof v) == NULL || strcmp(v, want) != 0) {
        print_error("%s: got '%s', want '%s'\n%s", name, header(r, name, v, sizeof v) ? v : "",
                    want, r->head);
        fail();
    }
}

static void test_etag_match(void **state)
{
    const char *tag = "\"abc\"";
    assert_true(web_etag_match("\"abc\"", tag));
    assert_true(web_etag_match("W/\"abc\"", tag));
    assert_true(web_etag_match("\"x\", \"abc\"", tag));
    assert_true(web_etag_match(" \"x\",W/\"abc\" , \"y\"", tag));
    assert_true(web_etag_match("*", tag));
    assert_true(web_etag_match(" * ", tag));
    assert_false(web_etag_match("\"abcd\"", tag));
    assert_false(web_etag_match("\"ab\"", tag));
    assert_false(web_etag_match("abc", tag));
    assert_false(web_etag_match("\"abc", tag));
    assert_false(web_etag_match("", tag));
    assert_false(web_etag_match("*, \"x\"", tag));
    assert_false(web_etag_match("w/\"abc\"", tag));
    assert_false(web_etag_match(NULL, tag));
}

static void test_asset_lookup(void **state)
{
    const struct web_asset *css = web_asset_find(site, "postern.css");
    const struct web_asset *svg = web_asset_find(site, "logo.svg");
    assert_non_null(css);
    assert_non_null(svg);
    assert_string_equal(css->content_type, "text/css; charset=utf-8");
    assert_string_equal(svg->content_type, "image/svg+xml");
    assert_int_equal(strlen(css->etag), 34);
    assert_true(css->etag[0] == '"' && css->etag[33] == '"');
    assert_string_not_equal(css->etag, svg->etag);
    assert_null(web_asset_find(site, "nope.css"));
    assert_null(web_asset_find(site, "../postern.css"));
    assert_null(web_asset_find(site, ""));
}

static void test_static_get_and_304(void **state)
{
    static struct resp r;
    const struct web_asset *css = web_asset_find(site, "postern.css");
    request("GET", "/static/postern.css?v=123", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/css; charset=utf-8");
    assert_header(&r, "Cache-Control", "public, max-age=86400");
    assert_header(&r, "ETag", css->etag);
    assert_header(&r, "X-Content-Type-Options", "nosniff");
    assert_int_equal(r.body_len, css->len);
    assert_memory_equal(r.body, css->data, css->len);

    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", css->etag);
    request("GET", "/static/postern.css", inm, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    assert_header(&r, "ETag", css->etag);
    assert_header(&r, "Cache-Control", "public, max-age=86400");

    snprintf(inm, sizeof inm, "If-None-Match: \"other\", W/%s\r\n", css->etag);
    request("GET", "/static/postern.css", inm, &r);
    assert_int_equal(r.status, 304);

    request("GET", "/static/postern.css", "If-None-Match: \"other\"\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, css->len);

    request("HEAD", "/static/logo.svg", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "image/svg+xml");
    assert_int_equal(r.body_len, 0);
}

static void test_static_errors(void **state)
{
    static struct resp r;
    request("GET", "/static/nope.css", NULL, &r);
    assert_int_equal(r.status, 404);
    request("GET", "/static/", NULL, &r);
    assert_int_equal(r.status, 404);
    request("GET", "/static/x/../../static/postern.css", NULL, &r); /* canonical: served */
    assert_int_equal(r.status, 200);
    request("GET", "/static/%2e%2e/etc/passwd", NULL, &r);
    assert_true(r.status == 404 || r.status == 400);
    request("POST", "/static/postern.css", "Content-Length: 0\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_header(&r, "Allow", "GET, HEAD");
}

static const char *const csp_self =
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

static void test_page_security_headers(void **state)
{
    static struct resp r;
    request("GET", "/page", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    assert_header(&r, "Content-Security-Policy", csp_self);
    assert_header(&r, "X-Frame-Options", "DENY");
    assert_header(&r, "Referrer-Policy", "no-referrer");
    assert_header(&r, "X-Content-Type-Options", "nosniff");
    assert_header(&r, "Cache-Control", "no-store");
    assert_non_null(strstr(r.body, "<h1>Hello</h1>"));

    request("GET", "/page-origin", NULL, &r);
    assert_header(&r, "Content-Security-Policy",
                  "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
                  "form-action 'self' https://rp.example.com:8443; frame-ancestors 'none'; "
                  "base-uri 'none'");
    request("GET", "/page-redirects", NULL, &r);
    assert_header(&r, "Content-Security-Policy",
                  "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
                  "frame-ancestors 'none'; base-uri 'none'");
    /* Anything but an exact origin is refused: no page without its headers. */
    request("GET", "/page-bad-origin", NULL, &r);
    assert_int_equal(r.status, 500);
    assert_null(strstr(r.raw, "script-src"));
}

static void test_error_response(void **state)
{
    static struct resp r;
    request("GET", "/error", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_header(&r, "Content-Security-Policy", csp_self);
    assert_non_null(strstr(r.body, "<h1>Application not found</h1>"));
    assert_non_null(strstr(r.body, "No application &lt;here&gt;."));
    assert_non_null(strstr(r.body, "Error 404"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_asset_lookup),
        cmocka_unit_test(test_static_get_and_304),
        cmocka_unit_test(test_static_errors),
        cmocka_unit_test(test_page_security_headers),
        cmocka_unit_test(test_error_response),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
