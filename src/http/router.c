/*
 * router.c: routes by Host and by prefix of the canonical path.
 *
 * Hosts compare case-insensitively (RFC 9110 section 4.2.3: the host is case-insensitive),
 * without the port. Among the routes that match a request, the most specific host wins
 * (exact, then the longest wildcard suffix, then any host), then the longest prefix. A table
 * scan: routers hold tens of routes, and a scan has no worst case to tune.
 */
#include "http/server_int.h"

#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_ROUTES 4096

struct http_router *http_router_new(void)
{
    return xcalloc(1, sizeof(struct http_router));
}

void http_router_free(struct http_router *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].host);
        free(r->v[i].prefix);
    }
    free(r->v);
    free(r);
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool case_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

/* A configured host: lower-cased, port and one trailing dot removed. */
static char *host_norm(const char *z, size_t *len)
{
    size_t n = strlen(z);
    const char *colon = z[0] == '[' ? NULL : memchr(z, ':', n);
    if (z[0] == '[') {
        const char *end = memchr(z, ']', n);
        n = end != NULL ? (size_t)(end - z) + 1 : n;
    } else if (colon != NULL) {
        n = (size_t)(colon - z);
    }
    if (n > 1 && z[n - 1] == '.') {
        n--;
    }
    char *h = xstrndup(z, n);
    for (size_t i = 0; i < n; i++) {
        h[i] = (char)lower((unsigned char)h[i]);
    }
    *len = n;
    return h;
}

int http_router_add(struct http_router *r, const char *host, const char *prefix, http_handler_fn fn,
                    void *ctx, size_t body_limit)
{
    if (prefix == NULL || prefix[0] != '/' || fn == NULL || r->n >= HTTP_MAX_ROUTES) {
        return -1;
    }
    struct http_route rt = {.kind = HOST_ANY, .fn = fn, .ctx = ctx};
    rt.body_limit = body_limit ? body_limit : HTTP_DEFAULT_BODY_LIMIT;
    if (host != NULL && strcmp(host, "*") != 0) {
        if (host[0] == '\0' || (host[0] == '*' && host[1] != '.') || strchr(host + 1, '*')) {
            return -1;
        }
        if (host[0] == '*') {
            rt.kind = HOST_WILDCARD;
            rt.host = host_norm(host + 1, &rt.host_len); /* ".example.com" */
            if (rt.host_len < 2) {
                free(rt.host);
                return -1;
            }
        } else {
            rt.kind = HOST_EXACT;
            rt.host = host_norm(host, &rt.host_len);
        }
    }
    rt.prefix = xstrdup(prefix);
    rt.prefix_len = strlen(prefix);
    r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
    r->v[r->n++] = rt;
    return 0;
}

/* Specificity of a route's host for this request host; 0 when it does not match. */
static size_t host_score(const struct http_route *rt, struct slice host)
{
    switch (rt->kind) {
    case HOST_ANY:
        return 1;
    case HOST_EXACT:
        return host.n == rt->host_len && case_eq(host.p, rt->host, host.n) ? SIZE_MAX : 0;
    case HOST_WILDCARD: {
        /* One label, not empty, in front of the suffix: "*.a.com" matches "x.a.com" only. */
        if (host.n <= rt->host_len) {
            return 0;
        }
        size_t label = host.n - rt->host_len;
        if (!case_eq(host.p + label, rt->host, rt->host_len) || memchr(host.p, '.', label)) {
            return 0;
        }
        return 1 + rt->host_len;
    }
    }
    return 0;
}

/* "/" matches every path; "/a/" matches "/a/" and below; "/a" matches "/a" and "/a/...". */
static bool prefix_match(const struct http_route *rt, struct slice path)
{
    size_t n = rt->prefix_len;
    if (path.n < n || memcmp(path.p, rt->prefix, n) != 0) {
        return false;
    }
    return path.n == n || rt->prefix[n - 1] == '/' || path.p[n] == '/';
}

const struct http_route *http_router_match(const struct http_router *r, struct slice host,
                                           struct slice path)
{
    /* Match on the host without a trailing dot: "example.com." names "example.com". */
    if (host.n > 1 && host.p[host.n - 1] == '.') {
        host.n--;
    }
    const struct http_route *best = NULL;
    size_t best_host = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct http_route *rt = &r->v[i];
        size_t hs = host_score(rt, host);
        if (hs == 0 || hs < best_host || !prefix_match(rt, path)) {
            continue;
        }
        if (best == NULL || hs > best_host || rt->prefix_len > best->prefix_len) {
            best = rt;
            best_host = hs;
        }
    }
    return best;
}

struct slice http_host_without_port(struct slice host)
{
    if (host.n == 0) {
        return (struct slice){"", 0};
    }
    if (host.p[0] == '[') {
        const char *end = memchr(host.p, ']', host.n);
        host.n = end != NULL ? (size_t)(end - host.p) + 1 : host.n;
    } else {
        const char *colon = memchr(host.p, ':', host.n);
        host.n = colon != NULL ? (size_t)(colon - host.p) : host.n;
    }
    return host;
}

bool http_router_lookup(const struct http_router *r, const char *host_z, const char *path_z,
                        void **ctx, size_t *body_limit)
{
    struct slice host = http_host_without_port(slice_z(host_z != NULL ? host_z : ""));
    const struct http_route *rt = http_router_match(r, host, slice_z(path_z));
    if (rt == NULL) {
        return false;
    }
    if (ctx != NULL) {
        *ctx = rt->ctx;
    }
    if (body_limit != NULL) {
        *body_limit = rt->body_limit;
    }
    return true;
}
