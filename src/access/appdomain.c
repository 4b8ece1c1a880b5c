/*
 * appdomain.c: the gateway's own paths on an application's domain and the logouts:
 *   /cdn-cgi/access/authorized?token=   a one-time token from the team domain becomes the
 *                                       app cookie (CF_Authorization, type app);
 *   /cdn-cgi/access/get-identity        the identity of the cookie's holder, as JSON;
 *   /cdn-cgi/access/logout              (app or team domain) ends the session everywhere.
 */
#include "access/gate_int.h"

#include <string.h>

/* ---- /cdn-cgi/access/authorized ---------------------------------------------------------- */

#define AUTHZ_CANDIDATES 16 /* applications on one host tried for a one-time token */

struct authz_job {
    struct access_gate *g;
    struct gate_snap *snap;
    char *token;
    const struct gate_app *cand[AUTHZ_CANDIDATES];
    size_t ncand;
    const struct gate_app *ga; /* the one the token was for */
    struct store_access_ticket t;
    char *app_token;
    int64_t exp;
    int rc;
    struct err e;
};

static void authz_free(struct authz_job *j)
{
    gate_snap_put(j->snap);
    util_free_secret(j->token);
    store_access_ticket_free(&j->t);
    util_free_secret(j->app_token);
    free(j);
}

static void authz_work(void *arg)
{
    struct authz_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc = -1;
    if (s == NULL) {
        return;
    }
    j->rc = STORE_NOT_FOUND;
    for (size_t i = 0; i < j->ncand && j->rc == STORE_NOT_FOUND; i++) {
        j->rc = store_access_ticket_take(s, slice_z(j->token), j->cand[i]->aud, &j->t, &j->e);
        j->ga = j->cand[i];
    }
    if (j->rc != 0) {
        return;
    }
    struct store_access_session x = {0};
    j->rc = store_access_session_get_by_id(s, j->t.session_id, &x, &j->e);
    if (j->rc == 0) {
        json_t *identity = util_json_parse(slice_z(x.identity), &j->e);
        int64_t cap = util_now() + j->ga->app->session_duration;
        j->exp = x.expires_at < cap ? x.expires_at : cap; /* never past its session */
        j->app_token = identity ? gate_token_mint(j->snap, GATE_TOKEN_APP, j->ga->aud, identity,
                                                  x.id, j->exp, &j->e)
                                : NULL;
        j->rc = j->app_token ? 0 : -1;
        json_decref(identity);
    }
    store_access_session_free(&x);
}

static void authz_done(struct http_req *r, void *arg)
{
    struct authz_job *j = arg;
    if (j->rc < 0) {
        gate_page_failure(j->g, r, "authorized", &j->e, "This sign-in link has expired",
                          "Open the application again to sign in.");
        authz_free(j);
        return;
    }
    if (j->rc != 0) {
        log_warn("access: authorized from %s: one-time token refused (%d)", http_req_remote_ip(r),
                 j->rc);
        gate_page_error(j->g, r, 400, "This sign-in link has expired",
                        "Open the application again to sign in.");
        authz_free(j);
        return;
    }
    const struct access_app *a = j->ga->app;
    /* An application under a path prefix keeps its cookie there: another application of
     * the same host (Path=/) keeps its own, and the browser sends the more specific first
     * (RFC 6265 section 5.4). */
    gate_set_cookie(r, j->snap, GATE_COOKIE, j->app_token, a->path[0] ? a->path : "/",
                    j->exp - util_now(), a->http_only_cookie, a->same_site);
    http_redirect(r, 302, gate_redirect_path(j->t.redirect_path));
    authz_free(j);
}

void gate_app_authorized(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    const struct http_params *q = http_req_query_params(r);
    const char *token = q ? http_params_get(q, "token") : NULL;
    if (token == NULL || strlen(token) > 128 || !gate_is_b64url(slice_z(token))) {
        gate_page_error(g, r, 400, "This sign-in link is not valid",
                        "Open the application again to sign in.");
        return;
    }
    struct authz_job *j = xcalloc(1, sizeof *j);
    struct slice host = http_req_host(r);
    char host_z[ACCESS_HOST_MAX + 1];
    snprintf(host_z, sizeof host_z, "%.*s", (int)host.n, host.p);
    /* The applications on this host (path-prefixed ones share it): the store says which one
     * the token was for. */
    for (size_t i = 0; i < snap->cfg.napps && j->ncand < AUTHZ_CANDIDATES; i++) {
        const struct access_app *a = &snap->cfg.apps[i];
        if (access_app_match(a, 1, host_z, a->path[0] ? a->path : "/") == a) {
            j->cand[j->ncand++] = &snap->apps[i];
        }
    }
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    j->token = xstrdup(token);
    if (http_defer(r, authz_work, authz_done, j) != 0) {
        authz_free(j);
    }
}

/* ---- /cdn-cgi/access/get-identity ------------------------------------------------------- */

void gate_app_identity(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                       const struct gate_app *ga)
{
    struct slice cookie;
    struct gate_identity id;
    struct err e = {0};
    if (!http_req_cookie(r, GATE_COOKIE, &cookie) ||
        gate_token_verify(g, snap, cookie, GATE_TOKEN_APP, ga->aud, &id, &e) != 0) {
        gate_json_error(r, 401, "not signed in");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "email", json_string(id.email ? id.email : ""));
    json_object_set(o, "name", json_object_get(id.claims, "name"));
    json_t *groups = json_object_get(id.claims, "groups");
    json_object_set_new(o, "groups", groups ? json_incref(groups) : json_array());
    json_t *idp = json_object();
    json_object_set_new(idp, "id", json_string(id.idp ? id.idp : ""));
    json_object_set_new(idp, "type", json_string("oidc"));
    json_object_set_new(o, "idp", idp);
    json_object_set_new(o, "user_uuid", json_string(id.sub ? id.sub : ""));
    json_object_set_new(o, "ip", json_string(http_req_remote_ip(r)));
    json_object_set_new(o, "iat", json_integer(id.iat));
    json_t *custom = json_object_get(id.claims, "custom");
    json_object_set_new(o, "custom", custom ? json_incref(custom) : json_object());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    gate_identity_free(&id);
    http_resp_header(r, "Cache-Control", "no-store");
    http_respond(r, 200, "application/json", text, strlen(text));
    free(text);
}

/* ---- logout ---------------------------------------------------------------------------- */

struct logout_job {
    struct access_gate *g;
    struct gate_snap *snap;
    char session_id[STORE_ID_SIZE];
    int64_t expires_at;
    int64_t token_exp; /* of the cookie's token: how long this node must refuse it */
    bool team;         /* team domain: the logged-out page; app domain: on to the team's logout */
    int rc;
    struct err e;
};

static void logout_work(void *arg)
{
    struct logout_job *j = arg;
    struct store *s = store_thread(&j->e);
    struct store_access_session x = {0};
    j->rc = s ? store_access_session_revoke_by_id(s, j->session_id, &x, &j->e) : -1;
    j->expires_at = x.expires_at;
    store_access_session_free(&x);
}

static void logged_out_page(struct access_gate *g, struct http_req *r)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_logged_out p = {0};
    if (g->web != NULL && web_page_logged_out(g->web, &p, &page) == 0) {
        web_respond_page(r, 200, &page);
    } else {
        http_respond(r, 200, "text/plain; charset=utf-8", "You have been logged out.\n", 26);
    }
    buf_free(&page);
}

static void logout_reply(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                         bool team)
{
    gate_set_cookie(r, snap, GATE_COOKIE, "", "/", -1, true, ACCESS_SAME_SITE_LAX);
    if (team) {
        logged_out_page(g, r);
        return;
    }
    struct buf url;
    buf_init(&url, ACCESS_URL_MAX + 64);
    buf_printf(&url, "%s/cdn-cgi/access/logout", snap->cfg.team.text);
    http_redirect(r, 302, url.p);
    buf_free(&url);
}

static void logout_done(struct http_req *r, void *arg)
{
    struct logout_job *j = arg;
    if (j->rc < 0 && gate_failure_log("logout", &j->e)) {
        /* The other nodes cannot learn of this logout now: say so and keep the cookie, so
         * that the logout can be tried again; this node refuses the session meanwhile. */
        gate_revoked_add(j->g, j->session_id, j->token_exp);
        web_respond_unavailable(j->g->web, r);
        gate_snap_put(j->snap);
        free(j);
        return;
    }
    if (j->rc == 0) {
        gate_revoked_add(j->g, j->session_id, j->expires_at); /* this node: at once */
        log_info("access: session ended (logout)");
    }
    logout_reply(j->g, r, j->snap, j->team);
    gate_snap_put(j->snap);
    free(j);
}

/* Ends the session of a CF_Authorization token (app or org; an expired one still names its
 * session), then clears the cookie. */
static void logout(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                   enum gate_token_type type, const char *aud_z, bool team)
{
    struct slice cookie;
    json_t *claims = NULL;
    struct err e = {0};
    const char *sid = NULL;
    json_int_t exp = 0;
    if (http_req_cookie(r, GATE_COOKIE, &cookie)) {
        struct jose_jwt_expect x = {
            .iss = snap->cfg.team.text, .aud = aud_z, .leeway = JOSE_JWT_MAX_LEEWAY};
        if (jose_jwt_verify(cookie, snap->jwks, &x, &claims, &e) == 0) {
            sid = json_string_value(json_object_get(claims, "identity_nonce"));
            exp = json_integer_value(json_object_get(claims, "exp"));
        }
    }
    (void)type;
    if (sid == NULL || strlen(sid) >= STORE_ID_SIZE) {
        json_decref(claims);
        logout_reply(g, r, snap, team);
        return;
    }
    struct logout_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    snprintf(j->session_id, sizeof j->session_id, "%s", sid);
    j->token_exp = (int64_t)exp;
    j->team = team;
    json_decref(claims);
    if (http_defer(r, logout_work, logout_done, j) != 0) {
        gate_snap_put(j->snap);
        free(j);
    }
}

void gate_app_logout(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                     const struct gate_app *ga)
{
    logout(g, r, snap, GATE_TOKEN_APP, ga->aud, false);
}

void gate_team_logout(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    logout(g, r, snap, GATE_TOKEN_ORG, snap->cfg.team.host, true);
}
