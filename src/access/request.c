/*
 * request.c: every request to an application, and the gateway's routes.
 *
 * Order (DESIGN.md, Cloudflare's): bypass and service_auth policies first (with the client
 * address and an authenticated service token), then the app token of the CF_Authorization
 * cookie (or the cf-access-token header), verified on the event loop, and the allow / block
 * policies with its identity. Allowed: the request goes to the origin with
 * Cf-Access-Jwt-Assertion and Cf-Access-Authenticated-User-Email, every Cf-Access-* header of
 * the client removed first (http_proxy also drops names with '_'). Not signed in: a browser
 * is sent to the team domain's login; an API client (X-Requested-With: XMLHttpRequest) and a
 * service-token client get 401, never a redirect.
 */
#include "access/gate_int.h"

#include <string.h>

static const char *const strip[] = {"cf-access-"};

/* To the origin: the client's Cf-Access-* headers removed, then the gateway's own (token_z
 * and email_z may be NULL: bypass). */
void gate_forward(struct http_req *r, const struct gate_app *ga, const char *token_z,
                  const char *email_z)
{
    struct http_proxy_header add[2];
    size_t n = 0;
    if (token_z != NULL) {
        add[n++] = (struct http_proxy_header){"Cf-Access-Jwt-Assertion", token_z};
    }
    if (email_z != NULL && *email_z != '\0') {
        add[n++] = (struct http_proxy_header){"Cf-Access-Authenticated-User-Email", email_z};
    }
    struct http_proxy_opts o = {
        .strip_prefixes = strip, .nstrip = 1, .add = add, .nadd = n, .allow_upgrade = true};
    http_proxy(r, ga->origin, &o);
}

static bool is_xhr(struct http_req *r)
{
    const char *x = http_req_header(r, "X-Requested-With");
    return x != NULL && strcasecmp(x, "XMLHttpRequest") == 0;
}

/* To the team domain's login, with the path and query the browser asked for. */
static void to_login(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    struct slice target = http_req_target(r);
    struct slice host = http_req_host(r);
    struct buf url;
    buf_init(&url, ACCESS_URL_MAX + GATE_REDIRECT_MAX * 3 + 64);
    int rc = buf_printf(&url, "%s/cdn-cgi/access/login/%.*s?redirect_url=", snap->cfg.team.text,
                        (int)host.n, host.p);
    if (rc == 0 && target.n > 0 && target.n <= GATE_REDIRECT_MAX && target.p[0] == '/') {
        rc = http_url_encode(target, &url);
    } else if (rc == 0) {
        rc = buf_append_z(&url, "%2F");
    }
    if (rc != 0) {
        gate_page_error(g, r, 414, "Address too long", NULL);
    } else {
        http_resp_header(r, "Cache-Control", "no-store");
        http_redirect(r, 302, url.p);
    }
    buf_free(&url);
}

/* The app token of the request: the cookie, or the cf-access-token header of API clients. */
static bool request_token(struct http_req *r, struct slice *out)
{
    if (http_req_cookie(r, GATE_COOKIE, out)) {
        return true;
    }
    const char *h = http_req_header(r, "cf-access-token");
    if (h != NULL) {
        *out = slice_z(h);
        return true;
    }
    return false;
}

static void with_identity(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                          const struct gate_app *ga)
{
    struct slice token;
    struct gate_identity id;
    struct err e = {0};
    if (!request_token(r, &token) ||
        gate_token_verify(g, snap, token, GATE_TOKEN_APP, ga->aud, &id, &e) != 0) {
        if (is_xhr(r)) {
            gate_json_error(r, 401, "not signed in");
        } else {
            to_login(g, r, snap);
        }
        return;
    }
    struct access_subject subj;
    gate_subject(&subj, r, &id);
    struct access_match m;
    enum access_decision d = access_policy_decide(ga->app, &subj, &m);
    if (d == ACCESS_ALLOW) {
        char *tok = xstrndup(token.p, token.n);
        gate_forward(r, ga, tok, id.email);
        free(tok);
    } else {
        log_info("access: %s: %s for %s (policy %s)", ga->app->name, access_decision_name(d),
                 id.email ? id.email : "?", m.name ? m.name : "none");
        if (is_xhr(r)) {
            gate_json_error(r, 403, "access denied");
        } else {
            gate_page_denied(g, r, ga->app->name, id.email, "/cdn-cgi/access/logout");
        }
    }
    gate_identity_free(&id);
}

void gate_app_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct gate_app *ga)
{
    if (http_req_header(r, "CF-Access-Client-Id") != NULL ||
        http_req_header(r, "CF-Access-Client-Secret") != NULL) {
        gate_service_request(g, r, snap, ga);
        return;
    }
    struct access_subject subj;
    gate_subject(&subj, r, NULL);
    struct access_match m;
    if (access_policy_pre(ga->app, &subj, &m) == ACCESS_BYPASS) {
        gate_forward(r, ga, NULL, NULL);
        return;
    }
    with_identity(g, r, snap, ga);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

#define CDN "/cdn-cgi/access/"

static bool path_is(const char *path_z, const char *want_z)
{
    size_t n = strlen(want_z);
    return strncmp(path_z, want_z, n) == 0 && (path_z[n] == '\0' || strcmp(path_z + n, "/") == 0);
}

static void team_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    const char *path = http_req_path(r);
    enum http_method mth = http_req_method(r);
    if (mth != HTTP_M_GET && mth != HTTP_M_HEAD) {
        gate_page_error(g, r, 405, "Method not allowed", NULL);
    } else if (strncmp(path, CDN "login/", strlen(CDN "login/")) == 0) {
        gate_team_login(g, r, snap);
    } else if (path_is(path, CDN "callback")) {
        gate_team_callback(g, r, snap);
    } else if (path_is(path, CDN "certs")) {
        gate_team_certs(g, r, snap);
    } else if (path_is(path, CDN "logout")) {
        gate_team_logout(g, r, snap);
    } else if (strncmp(path, CDN "test/", strlen(CDN "test/")) == 0) {
        gate_team_test(g, r, snap);
    } else {
        gate_page_error(g, r, 404, "Not found", NULL);
    }
}

static void app_own_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                            const struct gate_app *ga)
{
    const char *path = http_req_path(r);
    if (path_is(path, CDN "authorized")) {
        gate_app_authorized(g, r, snap);
    } else if (path_is(path, CDN "get-identity")) {
        gate_app_identity(g, r, snap, ga);
    } else if (path_is(path, CDN "logout")) {
        gate_app_logout(g, r, snap, ga);
    } else {
        gate_page_error(g, r, 404, "Not found", NULL);
    }
}

static void gate_handler(struct http_req *r, void *ctx)
{
    struct access_gate *g = ctx;
    struct gate_snap *snap = gate_snap_get(g);
    struct slice host = http_req_host(r);
    const char *path = http_req_path(r);
    if (snap == NULL) {
        gate_page_error(g, r, 503, "Starting", "The gateway is not ready yet.");
        return;
    }
    char host_z[ACCESS_HOST_MAX + 1];
    if (host.n > ACCESS_HOST_MAX) {
        gate_page_error(g, r, 400, "Bad host", NULL);
    } else if (g->web != NULL && strncmp(path, ACCESS_STATIC_PREFIX,
                                         strlen(ACCESS_STATIC_PREFIX)) == 0) {
        web_static_handler(r, g->web); /* the pages' own stylesheet and logo */
    } else if (snprintf(host_z, sizeof host_z, "%.*s", (int)host.n, host.p),
               strcasecmp(host_z, snap->cfg.team.host) == 0) {
        team_request(g, r, snap);
    } else {
        const struct gate_app *ga =
            gate_snap_app(snap, access_app_match(snap->cfg.apps, snap->cfg.napps, host_z, path));
        if (ga == NULL) {
            gate_page_error(g, r, 404, "Unknown application",
                            "No application is configured at this address.");
        } else if (strncmp(path, CDN, strlen(CDN)) == 0) {
            app_own_request(g, r, snap, ga);
        } else {
            gate_app_request(g, r, snap, ga);
        }
    }
    gate_snap_put(snap);
}

int access_routes(struct http_router *rt, struct access_gate *g)
{
    struct gate_snap *snap = gate_snap_get(g);
    int rc = http_router_add(rt, snap->cfg.team.host, "/", gate_handler, g, 0);
    /* Each application's host: an exact route beats the any-host ones of other roles (the
     * IdP's, /healthz), so that no path of an application is taken from its origin.
     * Applications added later are served through the any-host route. */
    for (size_t i = 0; rc == 0 && i < snap->cfg.napps; i++) {
        const struct access_app *a = &snap->cfg.apps[i];
        char host[ACCESS_HOST_MAX + 3];
        snprintf(host, sizeof host, "%s%s", a->wildcard ? "*." : "", a->host);
        rc = http_router_add(rt, host, "/", gate_handler, g, HTTP_BODY_STREAM);
    }
    if (rc == 0) {
        rc = http_router_add(rt, "*", "/", gate_handler, g, HTTP_BODY_STREAM);
    }
    gate_snap_put(snap);
    return rc;
}
