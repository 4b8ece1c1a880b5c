/*
 * static.c: GET /static/<name> from the assets embedded at build time (no file access at
 * run time), with a strong ETag computed at start and conditional requests
 * (RFC 9110 section 13.1.2 If-None-Match; section 15.4.5 304 Not Modified).
 */
#include "web/web_int.h"

#include "http/http.h"

#include <string.h>

#define WEB_STATIC_CACHE  "public, max-age=86400"

const struct web_asset *web_asset_find(const struct web *w, const char *name_z)
{
    for (size_t i = 0; i < w->nassets; i++) {
        if (strcmp(w->assets[i].name, name_z) == 0) {
            return &w->assets[i];
        }
    }
    return NULL;
}

static const char *skip_ows_commas(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',') {
        p++;
    }
    return p;
}

/* If-None-Match = "*" / #entity-tag; entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
 * Weak comparison: the opaque tags are equal, W/ or not. A malformed list matches nothing
 * (the full response is always a correct answer). */
bool web_etag_match(const char *inm, const char *etag_z)
{
    if (inm == NULL || etag_z == NULL) {
        return false;
    }
    const char *p = skip_ows_commas(inm);
    if (p[0] == '*') {
        return *skip_ows_commas(p + 1) == '\0';
    }
    size_t elen = strlen(etag_z);
    while (*p != '\0') {
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        if (*p != '"') {
            return false;
        }
        const char *end = strchr(p + 1, '"');
        if (end == NULL) {
            return false;
        }
        size_t n = (size_t)(end - p) + 1;
        if (n == elen && memcmp(p, etag_z, n) == 0) {
            return true;
        }
        p = skip_ows_commas(end + 1);
    }
    return false;
}

void web_static_handler(struct http_req *req, void *ctx)
{
    const struct web *w = ctx;
    enum http_method m = http_req_method(req);
    if (m != HTTP_M_GET && m != HTTP_M_HEAD) {
        http_resp_header(req, "Allow", "GET, HEAD");
        http_respond_error(req, 405, NULL);
        return;
    }
    const char *path = http_req_path(req);
    size_t plen = strlen(w->static_prefix);
    const struct web_asset *a =
        strncmp(path, w->static_prefix, plen) == 0 ? web_asset_find(w, path + plen) : NULL;
    if (a == NULL) {
        http_respond_error(req, 404, NULL);
        return;
    }
    /* An SVG opened on its own is a document: no script, no outside resource. */
    if (http_resp_header(req, "ETag", a->etag) != 0 ||
        http_resp_header(req, "Cache-Control", WEB_STATIC_CACHE) != 0 ||
        http_resp_header(req, "X-Content-Type-Options", "nosniff") != 0 ||
        http_resp_header(req, "Content-Security-Policy", "default-src 'none'") != 0) {
        http_respond(req, 500, NULL, NULL, 0);
        return;
    }
    if (web_etag_match(http_req_header(req, "If-None-Match"), a->etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    http_respond(req, 200, a->content_type, a->data, a->len);
}

int web_routes_add(struct http_router *r, const char *host_z, const struct web *w)
{
    return http_router_add(r, host_z, w->static_prefix, web_static_handler, (void *)w, 0);
}
