/*
 * routes.c: the endpoints under /application/o/ and what runs on the event-loop thread:
 * method and path checks, the cached discovery / JWKS documents; everything else is queued
 * to the worker pool (oidc_job_start).
 *
 * The fixed endpoints are routes of their own ("/application/o/token/" ...), longer than the
 * slug route "/application/o/", so that /application/o/token/jwks/ can never be taken for
 * the JWKS of an application "token" (and the store refuses such slugs anyway). Each handler
 * answers only its exact path.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t contexts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oidc *contexts;

enum slug_action { SLUG_DISCOVERY, SLUG_JWKS, SLUG_END_SESSION };

static void not_found_json(struct http_req *req)
{
    static const char body[] = "{\"error\":\"not_found\",\"error_description\":\"no such "
                               "endpoint or application\"}";
    http_respond(req, 404, "application/json", body, sizeof body - 1);
}

static bool method_is(struct http_req *req, bool get, bool post)
{
    enum http_method m = http_req_method(req);
    if ((get && (m == HTTP_M_GET || m == HTTP_M_HEAD)) || (post && m == HTTP_M_POST)) {
        return true;
    }
    const char *allow = get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
    http_resp_header(req, "Allow", allow);
    http_respond_error(req, 405, NULL);
    return false;
}

static bool exact(struct http_req *req, const char *path_z)
{
    if (strcmp(http_req_path(req), path_z) == 0) {
        return true;
    }
    not_found_json(req);
    return false;
}

static void h_authorize(struct http_req *req, void *ctx)
{
    if (exact(req, OIDC_PREFIX "authorize/") && method_is(req, true, true)) {
        oidc_job_start(req, ctx, oidc_authorize_work, NULL, 0);
    }
}

static void h_token(struct http_req *req, void *ctx)
{
    if (exact(req, OIDC_PREFIX "token/") && method_is(req, false, true)) {
        oidc_job_start(req, ctx, oidc_token_work, NULL, 0);
    }
}

static void h_userinfo(struct http_req *req, void *ctx)
{
    if (exact(req, OIDC_PREFIX "userinfo/") && method_is(req, true, true)) {
        oidc_job_start(req, ctx, oidc_userinfo_work, NULL, 0);
    }
}

static void h_introspect(struct http_req *req, void *ctx)
{
    if (exact(req, OIDC_PREFIX "introspect/") && method_is(req, false, true)) {
        oidc_job_start(req, ctx, oidc_introspect_work, NULL, 0);
    }
}

static void h_revoke(struct http_req *req, void *ctx)
{
    if (exact(req, OIDC_PREFIX "revoke/") && method_is(req, false, true)) {
        oidc_job_start(req, ctx, oidc_revoke_work, NULL, 0);
    }
}

static void h_reserved(struct http_req *req, void *ctx)
{
    (void)ctx;
    not_found_json(req); /* /application/o/device/: the device flow is not implemented */
}

/* /application/o/<slug>/<rest> */
static void h_slug(struct http_req *req, void *ctx)
{
    struct oidc *o = ctx;
    const char *path = http_req_path(req) + strlen(OIDC_PREFIX);
    const char *slash = strchr(path, '/');
    if (slash == NULL || !oidc_slug_ok((struct slice){path, (size_t)(slash - path)})) {
        not_found_json(req);
        return;
    }
    const char *rest = slash + 1;
    int action;
    if (strcmp(rest, ".well-known/openid-configuration") == 0 ||
        strcmp(rest, ".well-known/openid-configuration/") == 0) {
        action = SLUG_DISCOVERY;
    } else if (strcmp(rest, "jwks/") == 0) {
        action = SLUG_JWKS;
    } else if (strcmp(rest, "end-session/") == 0) {
        action = SLUG_END_SESSION;
    } else {
        not_found_json(req);
        return;
    }
    char slug[OIDC_SLUG_MAX + 1];
    size_t n = (size_t)(slash - path);
    memcpy(slug, path, n);
    slug[n] = '\0';
    if (action == SLUG_END_SESSION) {
        if (method_is(req, true, true)) {
            oidc_job_start(req, o, oidc_endsession_work, slug, 0);
        }
        return;
    }
    if (!method_is(req, true, false)) {
        return;
    }
    enum oidc_meta_kind kind = action == SLUG_DISCOVERY ? OIDC_META_DISCOVERY : OIDC_META_JWKS;
    if (!oidc_cache_serve(o->cache, req, slug, kind)) {
        oidc_job_start(req, o, oidc_meta_work, slug, (int)kind);
    }
}

struct oidc *oidc_new(struct idp *idp, struct err *e)
{
    struct oidc *o = xcalloc(1, sizeof *o);
    o->idp = idp;
    o->web = idp->web;
    if (o->web == NULL) {
        o->own_web = web_new(idp->brand, e);
        if (o->own_web == NULL) {
            free(o);
            err_prefix(e, "oidc: pages");
            return NULL;
        }
        o->web = o->own_web;
    }
    o->cache = oidc_cache_new();
    /* The installation's salt for hashed subjects: derived from the server secret (kept in
     * the store, shared by every node), never the secret itself. */
    static const char label[] = "postern-oidc-installation-id";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf hex;
    buf_init(&hex, sizeof o->install_id - 1);
    if (HMAC(EVP_sha256(), idp->secret, sizeof idp->secret, (const unsigned char *)label,
             sizeof label - 1, md, &mdlen) == NULL ||
        hex_encode(md, mdlen, &hex) != 0) {
        buf_free(&hex);
        oidc_free(o);
        err_set(e, 0, "oidc: cannot derive the installation id");
        return NULL;
    }
    memcpy(o->install_id, hex.p, hex.len + 1);
    buf_free(&hex);
    return o;
}

void oidc_free(struct oidc *o)
{
    if (o == NULL) {
        return;
    }
    web_free(o->own_web);
    oidc_cache_free(o->cache);
    free(o);
}

int oidc_routes_add(struct http_router *r, struct oidc *o)
{
    const struct {
        const char *prefix;
        http_handler_fn fn;
        size_t limit;
    } routes[] = {
        {OIDC_PREFIX "authorize/", h_authorize, OIDC_AUTHZ_BODY_MAX},
        {OIDC_PREFIX "token/", h_token, OIDC_FORM_BODY_MAX},
        {OIDC_PREFIX "userinfo/", h_userinfo, OIDC_FORM_BODY_MAX},
        {OIDC_PREFIX "introspect/", h_introspect, OIDC_FORM_BODY_MAX},
        {OIDC_PREFIX "revoke/", h_revoke, OIDC_FORM_BODY_MAX},
        {OIDC_PREFIX "device/", h_reserved, OIDC_FORM_BODY_MAX},
        {OIDC_PREFIX, h_slug, OIDC_FORM_BODY_MAX},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(routes); i++) {
        if (http_router_add(r, o->idp->cfg.host, routes[i].prefix, routes[i].fn, o,
                            routes[i].limit) != 0) {
            return -1;
        }
    }
    return 0;
}

int oidc_routes(struct http_router *r, struct idp *idp)
{
    struct err e = {0};
    struct oidc *o = oidc_new(idp, &e);
    if (o == NULL) {
        log_error("%s", e.msg);
        return -1;
    }
    if (oidc_routes_add(r, o) != 0) {
        oidc_free(o);
        return -1;
    }
    pthread_mutex_lock(&contexts_lock);
    o->next = contexts;
    contexts = o;
    pthread_mutex_unlock(&contexts_lock);
    return 0;
}

void oidc_shutdown(void)
{
    pthread_mutex_lock(&contexts_lock);
    struct oidc *o = contexts;
    contexts = NULL;
    pthread_mutex_unlock(&contexts_lock);
    while (o != NULL) {
        struct oidc *next = o->next;
        oidc_free(o);
        o = next;
    }
    oidc_record_shutdown();
}
