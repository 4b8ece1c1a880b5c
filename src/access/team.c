/*
 * team.c: the team domain's pages: /cdn-cgi/access/login/<app host> (DESIGN.md: "IdP choice,
 * or straight redirect"), /cdn-cgi/access/certs and /cdn-cgi/access/logout. The callback is
 * callback.c's.
 *
 * A login: the browser comes from an application with redirect_url (a path on that
 * application's host). With a valid global session (the org CF_Authorization cookie) and the
 * policies allowing it, the gateway hands a one-time token to the application's
 * /cdn-cgi/access/authorized, which sets the app cookie: no IdP login. Otherwise the browser
 * picks an identity provider (or goes straight to the only one with instant_auth) and leaves
 * with a fresh state, nonce and PKCE verifier, recorded in the store and bound to this browser
 * by the CF_Access_State cookie.
 */
#include "access/gate_int.h"

#include <string.h>

#define LOGIN_PREFIX "/cdn-cgi/access/login/"

/* ---- the one-time token towards the application ------------------------------------------ */

struct ticket_job {
    struct access_gate *g;
    struct gate_snap *snap;
    const struct gate_app *ga;
    char session_id[STORE_ID_SIZE];
    char *redirect;
    char *app_base;
    char *token; /* raw one-time token, made on the worker */
    int rc;
    struct err e;
};

static void ticket_work(void *arg)
{
    struct ticket_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc = -1;
    if (s == NULL) {
        return;
    }
    j->token = util_random_token(32);
    struct store_access_ticket t = {0};
    snprintf(t.session_id, sizeof t.session_id, "%s", j->session_id);
    snprintf(t.aud, sizeof t.aud, "%s", j->ga->aud);
    t.redirect_path = j->redirect;
    j->rc = store_access_ticket_create(s, slice_z(j->token), &t, &j->e);
    t.redirect_path = NULL;
    store_access_ticket_free(&t);
}

static void ticket_job_free(struct ticket_job *j)
{
    gate_snap_put(j->snap);
    free(j->redirect);
    free(j->app_base);
    util_free_secret(j->token);
    free(j);
}

static void ticket_done(struct http_req *r, void *arg)
{
    struct ticket_job *j = arg;
    if (j->rc != 0) {
        gate_page_failure(j->g, r, "one-time token", &j->e, "Sign-in failed",
                          "Please try again in a moment.");
    } else {
        struct buf url;
        buf_init(&url, ACCESS_URL_MAX + 128);
        buf_printf(&url, "%s/cdn-cgi/access/authorized?token=%s", j->app_base, j->token);
        http_redirect(r, 302, url.p);
        buf_free(&url);
    }
    ticket_job_free(j);
}

/* Sends the browser to the application with a one-time token of session_id. */
void gate_send_to_app(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct gate_app *ga, struct slice host, const char *session_id_z,
                      const char *redirect_z)
{
    struct buf base;
    buf_init(&base, ACCESS_URL_MAX);
    if (gate_app_base(snap, host, &base) != 0) {
        buf_free(&base);
        gate_page_error(g, r, 400, "Unknown application", NULL);
        return;
    }
    struct ticket_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    j->ga = ga;
    snprintf(j->session_id, sizeof j->session_id, "%s", session_id_z);
    j->redirect = xstrdup(redirect_z);
    j->app_base = buf_steal(&base, NULL);
    buf_free(&base);
    if (http_defer(r, ticket_work, ticket_done, j) != 0) {
        ticket_job_free(j);
    }
}

/* ---- starting an IdP login ------------------------------------------------------------ */

struct start_job {
    struct access_gate *g;
    struct http_req *r; /* kept until answered (the server keeps it, client gone or not) */
    struct gate_snap *snap;
    const struct access_idp *idp;
    struct access_rp_login l;
    char binding[64];
    bool new_binding;
    char *host;
    char *redirect;
    int rc;
    struct err e;
};

static void start_job_free(struct start_job *j)
{
    access_rp_login_wipe(&j->l);
    gate_snap_put(j->snap);
    free(j->host);
    free(j->redirect);
    free(j);
}

static void start_work(void *arg)
{
    struct start_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc = -1;
    if (s == NULL) {
        return;
    }
    struct store_access_state st = {
        .nonce = j->l.nonce,
        .code_verifier = j->idp->pkce_enabled ? j->l.verifier : "",
        .idp = j->idp->name,
        .app_domain = j->host,
        .redirect_url = j->redirect,
    };
    j->rc = store_access_state_create(s, slice_z(j->l.state), slice_z(j->binding), &st, &j->e);
}

static void authorize_done(struct access_rp_result *res, void *arg);

static void start_done(struct http_req *r, void *arg)
{
    struct start_job *j = arg;
    if (j->rc != 0) {
        gate_page_failure(j->g, r, "login state", &j->e, "Sign-in failed",
                          "Please try again in a moment.");
        start_job_free(j);
        return;
    }
    struct buf cb;
    buf_init(&cb, ACCESS_URL_MAX);
    buf_printf(&cb, "%s/cdn-cgi/access/callback", j->snap->cfg.team.text);
    j->r = r;
    struct err e = {0};
    if (access_rp_authorize(j->g->rp, http_req_base(r), j->idp, cb.p, &j->l, authorize_done, j,
                            &e) != 0) {
        log_error("access: %s: %s", j->idp->name, e.msg);
        gate_page_error(j->g, r, 500, "Sign-in failed", NULL);
        start_job_free(j);
    }
    buf_free(&cb);
}

static void authorize_done(struct access_rp_result *res, void *arg)
{
    struct start_job *j = arg;
    struct http_req *r = j->r;
    if (res->diag != ACCESS_RP_OK) {
        log_warn("access: identity provider %s: %s", j->idp->name, res->msg);
        gate_page_error(j->g, r, 502, "The identity provider cannot be reached",
                        access_rp_diag_text(res->diag));
    } else {
        if (j->new_binding) {
            gate_set_cookie(r, j->snap, GATE_STATE_COOKIE, j->binding, "/cdn-cgi/access/",
                            STORE_ACCESS_STATE_TTL_S, true, ACCESS_SAME_SITE_LAX);
        }
        http_redirect(r, 302, res->url);
    }
    start_job_free(j);
}

void gate_login_start(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct access_idp *idp, const char *host_z, const char *redirect_z)
{
    struct start_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    j->idp = idp;
    access_rp_login_new(&j->l);
    /* Several tabs logging in at once share one binding value: a new cookie would orphan the
     * other tabs' states. */
    struct slice cookie;
    if (http_req_cookie(r, GATE_STATE_COOKIE, &cookie) && cookie.n >= 32 &&
        cookie.n < sizeof j->binding && gate_is_b64url(cookie)) {
        memcpy(j->binding, cookie.p, cookie.n);
    } else {
        char *b = util_random_token(32);
        snprintf(j->binding, sizeof j->binding, "%s", b);
        free(b);
        j->new_binding = true;
    }
    j->host = xstrdup(host_z);
    j->redirect = xstrdup(redirect_z);
    if (http_defer(r, start_work, start_done, j) != 0) {
        start_job_free(j);
    }
}

/* ---- /cdn-cgi/access/login/<host> ----------------------------------------------------- */

/* The identity providers an application may use: its list, or every one. */
static size_t app_idps(const struct gate_snap *snap, const struct access_app *app,
                       const struct access_idp **out, size_t max)
{
    size_t n = 0;
    if (app->nidps == 0) {
        for (size_t i = 0; i < snap->cfg.nidps && n < max; i++) {
            out[n++] = &snap->cfg.idps[i];
        }
        return n;
    }
    for (size_t i = 0; i < app->nidps && n < max; i++) {
        const struct access_idp *p = access_config_idp(&snap->cfg, app->idps[i]);
        if (p != NULL) {
            out[n++] = p;
        }
    }
    return n;
}

static void idp_choice(struct access_gate *g, struct http_req *r, const struct access_app *app,
                       const struct access_idp **idps, size_t n, const char *host_z,
                       const char *redirect_z)
{
    struct web_link links[ACCESS_MAX_IDPS];
    struct buf urls[ACCESS_MAX_IDPS];
    for (size_t i = 0; i < n; i++) {
        buf_init(&urls[i], ACCESS_URL_MAX * 2);
        buf_printf(&urls[i], LOGIN_PREFIX "%s?redirect_url=", host_z);
        http_url_encode(slice_z(redirect_z), &urls[i]);
        buf_append_z(&urls[i], "&idp=");
        http_url_encode(slice_z(idps[i]->name), &urls[i]);
        links[i] = (struct web_link){.url = urls[i].p, .label = idps[i]->name};
    }
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_idp_choice p = {.app_name = app->name, .idps = links, .nidps = n};
    if (g->web != NULL && web_page_idp_choice(g->web, &p, &page) == 0) {
        web_respond_page(r, 200, &page);
    } else {
        http_respond_error(r, 500, NULL);
    }
    buf_free(&page);
    for (size_t i = 0; i < n; i++) {
        buf_free(&urls[i]);
    }
}

/* With a valid org session: the policies decide, and no IdP login is needed. */
static bool with_session(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                         const struct gate_app *ga, struct slice host, const char *redirect_z)
{
    struct slice cookie;
    if (!http_req_cookie(r, GATE_COOKIE, &cookie)) {
        return false;
    }
    struct gate_identity id;
    struct err e = {0};
    if (gate_token_verify(g, snap, cookie, GATE_TOKEN_ORG, snap->cfg.team.host, &id, &e) != 0) {
        return false;
    }
    struct access_subject subj;
    gate_subject(&subj, r, &id);
    struct access_match m;
    enum access_decision d = access_policy_decide(ga->app, &subj, &m);
    log_info("access: %s: %s for %s (policy %s)", ga->app->name, access_decision_name(d),
             id.email ? id.email : "?", m.name ? m.name : "none");
    if (d == ACCESS_ALLOW) {
        gate_send_to_app(g, r, snap, ga, host, id.session_id, redirect_z);
    } else {
        gate_page_denied(g, r, ga->app->name, id.email, "/cdn-cgi/access/logout");
    }
    gate_identity_free(&id);
    return true;
}

void gate_team_login(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    const char *path = http_req_path(r);
    const char *host_z = path + strlen(LOGIN_PREFIX);
    const struct http_params *q = http_req_query_params(r);
    const char *redirect = gate_redirect_path(q ? http_params_get(q, "redirect_url") : NULL);
    struct buf p;
    buf_init(&p, GATE_REDIRECT_MAX + 2);
    gate_path_only(redirect, &p);
    const struct access_app *app = access_app_match(snap->cfg.apps, snap->cfg.napps, host_z, p.p);
    buf_free(&p);
    const struct gate_app *ga = gate_snap_app(snap, app);
    struct buf base;
    buf_init(&base, ACCESS_URL_MAX);
    bool host_ok = gate_app_base(snap, slice_z(host_z), &base) == 0;
    buf_free(&base);
    if (ga == NULL || !host_ok) {
        gate_page_error(g, r, 404, "Unknown application",
                        "No application is configured at this address.");
        return;
    }
    if (with_session(g, r, snap, ga, slice_z(host_z), redirect)) {
        return;
    }
    const struct access_idp *idps[ACCESS_MAX_IDPS];
    size_t n = app_idps(snap, app, idps, ACCESS_MAX_IDPS);
    const char *want = q ? http_params_get(q, "idp") : NULL;
    for (size_t i = 0; want != NULL && i < n; i++) {
        if (strcmp(idps[i]->name, want) == 0) {
            gate_login_start(g, r, snap, idps[i], host_z, redirect);
            return;
        }
    }
    if (n == 0) {
        gate_page_error(g, r, 500, "No identity provider",
                        "This application has no identity provider to sign in with.");
    } else if (n == 1 && app->instant_auth) {
        gate_login_start(g, r, snap, idps[0], host_z, redirect);
    } else {
        idp_choice(g, r, app, idps, n, host_z, redirect);
    }
}

/* ---- /cdn-cgi/access/certs ---------------------------------------------------------- */

void gate_team_certs(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    http_resp_header(r, "Cache-Control", "public, max-age=60");
    http_resp_header(r, "Access-Control-Allow-Origin", "*");
    http_respond(r, 200, "application/json", snap->certs.p, snap->certs.len);
}

/* ---- /cdn-cgi/access/test/<idp> (Cloudflare's "Test" button) ------------------------------ */

void gate_team_test(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    const char *name = http_req_path(r) + strlen("/cdn-cgi/access/test/");
    const struct access_idp *idp = access_config_idp(&snap->cfg, name);
    if (idp == NULL) {
        gate_page_error(g, r, 404, "Unknown identity provider",
                        "No identity provider of this name is configured.");
        return;
    }
    gate_login_start(g, r, snap, idp, "", ""); /* no application: the callback shows the test */
}
