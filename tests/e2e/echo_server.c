/*
 * echo_server: a test server on src/http alone, for the end-to-end tests of the HTTP core
 * (bodies, keep-alive, the worker pool, shutdown, TLS) and for bench/http.
 *
 *   echo_server --listen 127.0.0.1:0 [--tls-cert F --tls-key F] [--listen ...]
 *               [--threads N] [--max-conn N] [--workers N] [--header-timeout MS]
 *               [--body-timeout MS] [--idle-timeout MS] [--shutdown-timeout MS]
 *               [--log-level debug|info|warn|error]
 *
 * Prints "listening on http[s]://ADDR:PORT" per listener on stderr once ready.
 * Routes:
 *   GET  /healthz            "ok\n"
 *   ANY  /echo               the body back; X-Method, X-Path, X-Query, X-Tls, X-Host headers
 *   ANY  /small/             body limit 16 bytes, answers the body length
 *   GET  /info               JSON: method, path, query, host, tls, remote_ip, cookie "a", form
 *   GET  /slow?ms=N          sleeps N ms (default 300) on the worker pool, answers "slow done\n"
 *   GET  /later?ms=N         keeps the request, answers from a loop timer (no pool)
 *   GET  /big?n=N            N bytes of 'x'
 *   GET  /inject             tries header injection, answers what http_resp_header returned
 *   GET  /redirect           302 to /echo
 *   GET  /error              http_respond_error(403) with markup in the message
 *   Host "vhost.test" /      "vhost\n" (host routing)
 */
#include "http/http.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ECHO_MAX_LISTEN 8
#define ECHO_MAX_BIG    (64 * 1024 * 1024)

static const char *param(struct http_req *r, const char *name)
{
    const struct http_params *p = http_req_query_params(r);
    return p != NULL ? http_params_get(p, name) : NULL;
}

static uint64_t param_u64(struct http_req *r, const char *name, uint64_t dflt, uint64_t max)
{
    const char *v = param(r, name);
    uint64_t x = 0;
    if (v == NULL || util_parse_u64(slice_z(v), max, &x) != 0) {
        return dflt;
    }
    return x;
}

static void h_healthz(struct http_req *r, void *ctx)
{
    http_respond(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void h_echo(struct http_req *r, void *ctx)
{
    char q[256];
    struct slice query = http_req_query(r);
    snprintf(q, sizeof q, "%.*s", (int)UTIL_MIN(query.n, 200), query.p ? query.p : "");
    struct slice host = http_req_host(r);
    char h[256];
    snprintf(h, sizeof h, "%.*s", (int)UTIL_MIN(host.n, 200), host.p ? host.p : "");
    struct slice m = http_req_head(r)->method_raw;
    char meth[32];
    snprintf(meth, sizeof meth, "%.*s", (int)UTIL_MIN(m.n, 20), m.p);
    http_resp_header(r, "X-Method", meth);
    http_resp_header(r, "X-Path", http_req_path(r));
    http_resp_header(r, "X-Query", q);
    http_resp_header(r, "X-Host", h);
    http_resp_header(r, "X-Tls", http_req_is_tls(r) ? "yes" : "no");
    struct slice body = http_req_body(r);
    http_respond(r, 200, "application/octet-stream", body.p, body.n);
}

static void h_small(struct http_req *r, void *ctx)
{
    char b[64];
    int n = snprintf(b, sizeof b, "%zu\n", http_req_body(r).n);
    http_respond(r, 200, "text/plain", b, (size_t)n);
}

static void h_info(struct http_req *r, void *ctx)
{
    struct buf b;
    buf_init(&b, 16 * 1024);
    struct slice q = http_req_query(r), host = http_req_host(r), ck = {NULL, 0};
    bool has_ck = http_req_cookie(r, "a", &ck);
    const struct http_params *form = http_req_form(r);
    const char *ua = http_req_header(r, "user-agent");
    buf_printf(&b,
               "{\"method\": %d, \"path\": \"%s\", \"query\": \"%.*s\", \"host\": \"%.*s\", "
               "\"tls\": %s, \"remote_ip\": \"%s\", \"cookie_a\": \"%.*s\", \"form_x\": \"%s\", "
               "\"user_agent\": \"%s\"}\n",
               (int)http_req_method(r), http_req_path(r), (int)q.n, q.p ? q.p : "", (int)host.n,
               host.p ? host.p : "", http_req_is_tls(r) ? "true" : "false", http_req_remote_ip(r),
               has_ck ? (int)ck.n : 0, has_ck ? ck.p : "",
               form && http_params_get(form, "x") ? http_params_get(form, "x") : "", ua ? ua : "");
    http_respond_buf(r, 200, "application/json", &b);
    buf_free(&b);
}

struct slow_job {
    uint64_t ms;
};

static void slow_work(void *arg)
{
    struct slow_job *j = arg;
    struct timespec ts = {(time_t)(j->ms / 1000), (long)(j->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void slow_done(struct http_req *r, void *arg)
{
    free(arg);
    http_respond(r, 200, "text/plain", "slow done\n", 10);
}

static void h_slow(struct http_req *r, void *ctx)
{
    struct slow_job *j = xmalloc(sizeof(*j));
    j->ms = param_u64(r, "ms", 300, 60000);
    if (http_defer(r, slow_work, slow_done, j) != 0) {
        free(j);
    }
}

static void later_fire(evutil_socket_t fd, short what, void *arg)
{
    http_respond(arg, 200, "text/plain", "later\n", 6);
}

static void h_later(struct http_req *r, void *ctx)
{
    uint64_t ms = param_u64(r, "ms", 100, 60000);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_base_once(http_req_base(r), -1, EV_TIMEOUT, later_fire, r, &tv);
}

static void h_big(struct http_req *r, void *ctx)
{
    size_t n = (size_t)param_u64(r, "n", 1024 * 1024, ECHO_MAX_BIG);
    struct buf b;
    buf_init(&b, n);
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    while (b.len < n) {
        buf_append(&b, chunk, UTIL_MIN(sizeof chunk, n - b.len));
    }
    http_respond_buf(r, 200, "application/octet-stream", &b);
    buf_free(&b);
}

static void h_inject(struct http_req *r, void *ctx)
{
    char b[128];
    int a = http_resp_header(r, "X-Ok", "fine");
    int c = http_resp_header(r, "X-Bad", "a\r\nSet-Cookie: evil=1");
    int d = http_resp_header(r, "X-Bad\r\nX", "v");
    int e = http_resp_header(r, "Content-Length", "0");
    int n = snprintf(b, sizeof b, "%d %d %d %d\n", a, c, d, e);
    http_respond(r, 200, "text/plain", b, (size_t)n);
}

static void h_redirect(struct http_req *r, void *ctx)
{
    http_redirect(r, 302, "/echo");
}

static void h_error(struct http_req *r, void *ctx)
{
    http_respond_error(r, 403, "no <script>\"access\"</script> & denied");
}

static void h_vhost(struct http_req *r, void *ctx)
{
    http_respond(r, 200, "text/plain", "vhost\n", 6);
}

static int usage(void)
{
    fprintf(stderr, "usage: echo_server --listen ADDR [--tls-cert F --tls-key F] "
                    "[--threads N] [--max-conn N] [--workers N] [--header-timeout MS] "
                    "[--body-timeout MS] [--idle-timeout MS] [--shutdown-timeout MS] "
                    "[--log-level L]\n");
    return 2;
}

static int int_arg(const char *v)
{
    uint64_t x = 0;
    if (v == NULL || util_parse_u64(slice_z(v), 1000000000, &x) != 0) {
        fprintf(stderr, "echo_server: bad number \"%s\"\n", v ? v : "");
        exit(2);
    }
    return (int)x;
}

int main(int argc, char **argv)
{
    struct http_listen listen[ECHO_MAX_LISTEN] = {0};
    struct http_server_config cfg = {.listen = listen};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            return usage();
        }
        i++;
        if (strcmp(a, "--listen") == 0 && cfg.nlisten < ECHO_MAX_LISTEN) {
            listen[cfg.nlisten++].address = (char *)v;
        } else if (strcmp(a, "--tls-cert") == 0 && cfg.nlisten > 0) {
            listen[cfg.nlisten - 1].tls_cert = (char *)v;
        } else if (strcmp(a, "--tls-key") == 0 && cfg.nlisten > 0) {
            listen[cfg.nlisten - 1].tls_key = (char *)v;
        } else if (strcmp(a, "--threads") == 0) {
            cfg.threads = int_arg(v);
        } else if (strcmp(a, "--max-conn") == 0) {
            cfg.max_connections = int_arg(v);
        } else if (strcmp(a, "--workers") == 0) {
            cfg.worker_threads = int_arg(v);
        } else if (strcmp(a, "--header-timeout") == 0) {
            cfg.header_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--body-timeout") == 0) {
            cfg.body_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            cfg.idle_timeout_ms = int_arg(v);
        } else if (strcmp(a, "--shutdown-timeout") == 0) {
            cfg.shutdown_timeout_ms = int_arg(v);
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
    if (cfg.nlisten == 0) {
        return usage();
    }
    struct http_router *router = http_router_new();
    http_router_add(router, NULL, "/healthz", h_healthz, NULL, 0);
    http_router_add(router, NULL, "/echo", h_echo, NULL, 1024 * 1024);
    http_router_add(router, NULL, "/small/", h_small, NULL, 16);
    http_router_add(router, NULL, "/info", h_info, NULL, 0);
    http_router_add(router, NULL, "/slow", h_slow, NULL, 0);
    http_router_add(router, NULL, "/later", h_later, NULL, 0);
    http_router_add(router, NULL, "/big", h_big, NULL, 0);
    http_router_add(router, NULL, "/inject", h_inject, NULL, 0);
    http_router_add(router, NULL, "/redirect", h_redirect, NULL, 0);
    http_router_add(router, NULL, "/error", h_error, NULL, 0);
    http_router_add(router, "vhost.test", "/", h_vhost, NULL, 0);

    struct err e = {0};
    struct http_server *s = http_server_new(&cfg, router, &e);
    if (s == NULL) {
        fprintf(stderr, "echo_server: %s\n", e.msg);
        http_router_free(router);
        return 1;
    }
    for (size_t i = 0; i < cfg.nlisten; i++) {
        const char *a = listen[i].address;
        const char *colon = strrchr(a, ':');
        fprintf(stderr, "listening on %s://%.*s:%d\n", listen[i].tls_cert ? "https" : "http",
                (int)(colon - a), a, http_server_port(s, i));
    }
    int rc = http_server_run(s);
    http_server_free(s);
    http_router_free(router);
    fprintf(stderr, "echo_server: stopped\n");
    return rc == 0 ? 0 : 1;
}
