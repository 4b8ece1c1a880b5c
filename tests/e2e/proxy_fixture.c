/*
 * proxy_fixture: a test server on src/http alone that reverse-proxies to one origin, for
 * tests/e2e/test_proxy.py (passed as PROXY_FIXTURE).
 *
 *   proxy_fixture --listen 127.0.0.1:0 --origin URL [--tls-cert F --tls-key F]
 *                 [--threads N] [--connect-timeout MS] [--response-timeout MS]
 *                 [--origin-idle MS] [--max-idle N] [--tunnel-idle MS] [--ca-file F]
 *                 [--idle-timeout MS] [--body-timeout MS] [--shutdown-timeout MS]
 *                 [--log-level L]
 *
 * Prints "listening on http[s]://ADDR:PORT" on stderr once it accepts connections.
 * Routes (any host):
 *   /                   HTTP_BODY_STREAM: proxied, client headers starting with "cf-access-"
 *                       removed, "Cf-Access-Jwt-Assertion: test" added, upgrades allowed
 *   /__fixture/healthz  "ok\n" (not proxied)
 *   /__fixture/deny     HTTP_BODY_STREAM, answers 403 itself without reading the body
 *   /__fixture/later/   HTTP_BODY_STREAM, proxied 100 ms later from a timer (a kept request)
 *   /__fixture/buffered/ a 1 MiB body read by the server first, then proxied
 *   /__fixture/badhdr   proxied with an added header whose value holds a CR LF (refused: 500)
 *   /__fixture/cookie/  proxied with a Set-Cookie response header added by the handler
 */
#include "http/http.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE_BUFFERED_LIMIT (1024 * 1024)
#define FIXTURE_LATER_MS       100

static struct http_origin *origin;

static const char *const strip[] = {"cf-access-"};
static const struct http_proxy_header added[] = {{"Cf-Access-Jwt-Assertion", "test"}};
static const struct http_proxy_opts popts = {
    .strip_prefixes = strip, .nstrip = 1, .add = added, .nadd = 1, .allow_upgrade = true};

static void h_proxy(struct http_req *r, void *ctx)
{
    http_proxy(r, origin, &popts);
}

static void h_healthz(struct http_req *r, void *ctx)
{
    http_respond(r, 200, "text/plain", "ok\n", 3);
}

static void h_deny(struct http_req *r, void *ctx)
{
    http_respond_error(r, 403, "denied by the fixture");
}

static void later_fire(evutil_socket_t fd, short what, void *arg)
{
    http_proxy(arg, origin, &popts);
}

static void h_later(struct http_req *r, void *ctx)
{
    struct timeval tv = {0, FIXTURE_LATER_MS * 1000};
    event_base_once(http_req_base(r), -1, EV_TIMEOUT, later_fire, r, &tv);
}

static void h_cookie(struct http_req *r, void *ctx)
{
    http_resp_header(r, "Set-Cookie", "CF_Authorization=refreshed; HttpOnly");
    http_proxy(r, origin, &popts);
}

static void h_badhdr(struct http_req *r, void *ctx)
{
    static const struct http_proxy_header bad[] = {{"X-Evil", "a\r\nInjected: 1"}};
    struct http_proxy_opts o = popts;
    o.add = bad;
    http_proxy(r, origin, &o);
}

static void on_ready(struct http_server *s, void *arg)
{
    const struct http_listen *l = arg;
    const char *colon = strrchr(l->address, ':');
    fprintf(stderr, "listening on %s://%.*s:%d\n", l->tls_cert ? "https" : "http",
            (int)(colon - l->address), l->address, http_server_port(s, 0));
    fflush(stderr);
}

static int usage(void)
{
    fprintf(stderr, "usage: proxy_fixture --listen ADDR --origin URL [options]\n");
    return 2;
}

static int int_arg(const char *v)
{
    uint64_t x = 0;
    if (util_parse_u64(slice_z(v), 1000000000, &x) != 0) {
        fprintf(stderr, "proxy_fixture: bad number \"%s\"\n", v);
        exit(2);
    }
    return (int)x;
}

int main(int argc, char **argv)
{
    struct http_listen listen = {0};
    struct http_server_config cfg = {
        .listen = &listen, .on_ready = on_ready, .on_ready_arg = &listen};
    struct http_origin_opts oo = {0};
    const char *url = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--listen") == 0) {
            listen.address = (char *)v;
            cfg.nlisten = 1;
        } else if (strcmp(a, "--origin") == 0) {
            url = v;
        } else if (strcmp(a, "--tls-cert") == 0) {
            listen.tls_cert = (char *)v;
        } else if (strcmp(a, "--tls-key") == 0) {
            listen.tls_key = (char *)v;
        } else if (strcmp(a, "--threads") == 0) {
            cfg.threads = int_arg(v);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            cfg.idle_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--body-timeout") == 0) {
            cfg.body_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--shutdown-timeout") == 0) {
            cfg.shutdown_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--connect-timeout") == 0) {
            oo.connect_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--response-timeout") == 0) {
            oo.response_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--origin-idle") == 0) {
            oo.idle_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--max-idle") == 0) {
            oo.max_idle = int_arg(v);
        } else if (strcmp(a, "--tunnel-idle") == 0) {
            oo.tunnel_idle_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--ca-file") == 0) {
            oo.ca_file = v;
        } else if (strcmp(a, "--log-level") == 0) {
            enum log_level l;
            if (log_parse_level(v, &l) != 0) {
                return usage();
            }
            log_set_level(l);
        } else {
            return usage();
        }
    }
    if (cfg.nlisten == 0 || url == NULL) {
        return usage();
    }
    struct err e = {0};
    origin = http_origin_new(url, &oo, &e);
    if (origin == NULL) {
        fprintf(stderr, "proxy_fixture: %s\n", e.msg);
        return 1;
    }
    struct http_router *router = http_router_new();
    http_router_add(router, NULL, "/", h_proxy, NULL, HTTP_BODY_STREAM);
    http_router_add(router, NULL, "/__fixture/healthz", h_healthz, NULL, 0);
    http_router_add(router, NULL, "/__fixture/deny", h_deny, NULL, HTTP_BODY_STREAM);
    http_router_add(router, NULL, "/__fixture/later/", h_later, NULL, HTTP_BODY_STREAM);
    http_router_add(router, NULL, "/__fixture/buffered/", h_proxy, NULL, FIXTURE_BUFFERED_LIMIT);
    http_router_add(router, NULL, "/__fixture/badhdr", h_badhdr, NULL, HTTP_BODY_STREAM);
    http_router_add(router, NULL, "/__fixture/cookie/", h_cookie, NULL, HTTP_BODY_STREAM);
    struct http_server *s = http_server_new(&cfg, router, &e);
    if (s == NULL) {
        fprintf(stderr, "proxy_fixture: %s\n", e.msg);
        http_router_free(router);
        http_origin_free(origin);
        return 1;
    }
    int rc = http_server_run(s);
    http_server_free(s);
    http_router_free(router);
    http_origin_free(origin);
    fprintf(stderr, "proxy_fixture: stopped\n");
    return rc == 0 ? 0 : 1;
}
