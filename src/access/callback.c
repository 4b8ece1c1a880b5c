/*
 * callback.c: /cdn-cgi/access/callback on the team domain, the redirect URI registered at the
 * identity providers.
 *
 * 1. The state is taken from the store once, and only with this browser's CF_Access_State
 *    value (a replayed or stolen state is refused: RFC 6749 section 10.12).
 * 2. The code is exchanged at the IdP's token endpoint and the ID token verified (the relying
 *    party: rp*.c): signature from the JWKS, iss, aud, azp, exp, iat, the nonce of this login.
 * 3. A global session is recorded (its id becomes the tokens' identity_nonce), the org
 *    CF_Authorization cookie set, and the application's policies decide: allowed, the browser
 *    goes on to the application with a one-time token; else the access-denied page.
 */
#include "access/gate_int.h"

#include <string.h>

struct cb_job {
    struct access_gate *g;
    struct gate_snap *snap;
    struct http_req *r;
    char *state, *binding, *code;
    struct store_access_state st;
    const struct access_idp *idp;
    json_t *identity; /* built from the ID token */
    char *session_token;
    char session_id[STORE_ID_SIZE];
    char *org_token;
    int64_t expires_at;
    int rc;
    struct err e;
};

static void cb_free(struct cb_job *j)
{
    gate_snap_put(j->snap);
    util_free_secret(j->state);
    util_free_secret(j->binding);
    util_free_secret(j->code);
    store_access_state_free(&j->st);
    json_decref(j->identity);
    util_free_secret(j->session_token);
    util_free_secret(j->org_token);
    free(j);
}

static void restart_page(struct access_gate *g, struct http_req *r, const char *why_z)
{
    gate_page_error(g, r, 400, "This sign-in cannot continue", why_z);
}

/* ---- 1. the state ---------------------------------------------------------------------- */

static void take_work(void *arg)
{
    struct cb_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc =
        s ? store_access_state_take(s, slice_z(j->state), slice_z(j->binding), &j->st, &j->e) : -1;
}

static void exchange_done(struct access_rp_result *res, void *arg);

static void take_done(struct http_req *r, void *arg)
{
    struct cb_job *j = arg;
    if (j->rc < 0) {
        /* Not the browser's fault, and the state was not taken: the same callback URL works
         * once the store answers again. */
        gate_page_failure(j->g, r, "callback", &j->e, "Sign-in failed",
                          "Please try again in a moment.");
        cb_free(j);
        return;
    }
    if (j->rc != 0) {
        log_warn("access: callback from %s: state %s", http_req_remote_ip(r),
                 j->rc == STORE_REUSED    ? "used twice"
                 : j->rc == STORE_EXPIRED ? "expired"
                                          : "unknown or from another browser");
        restart_page(j->g, r,
                     j->rc == STORE_EXPIRED
                         ? "The sign-in took too long. Go back to the application and try again."
                         : "This sign-in link is not valid in this browser. Go back to the "
                           "application and try again.");
        cb_free(j);
        return;
    }
    j->idp = access_config_idp(&j->snap->cfg, j->st.idp);
    if (j->idp == NULL) {
        restart_page(j->g, r, "The identity provider of this sign-in is no longer configured.");
        cb_free(j);
        return;
    }
    struct access_rp_login l = {0};
    snprintf(l.state, sizeof l.state, "%s", j->state);
    snprintf(l.nonce, sizeof l.nonce, "%s", j->st.nonce);
    snprintf(l.verifier, sizeof l.verifier, "%s", j->st.code_verifier);
    struct buf cb;
    buf_init(&cb, ACCESS_URL_MAX);
    buf_printf(&cb, "%s/cdn-cgi/access/callback", j->snap->cfg.team.text);
    struct err e = {0};
    j->r = r;
    int rc = access_rp_exchange(j->g->rp, http_req_base(r), j->idp, cb.p, &l, j->code,
                                exchange_done, j, &e);
    access_rp_login_wipe(&l);
    buf_free(&cb);
    if (rc != 0) {
        log_warn("access: callback: %s", e.msg);
        restart_page(j->g, r, "The identity provider's answer cannot be used.");
        cb_free(j);
    }
}

/* ---- 2. the identity ----------------------------------------------------------------- */

/* What the gateway keeps of an ID token: email, name, sub, the IdP's name, groups, and the
 * configured claims (top level when their name is free, and all of them under "custom", which
 * oidc_claim rules read). */
static json_t *identity_of(const struct access_idp *idp, const struct access_rp_result *res)
{
    json_t *id = json_object();
    json_object_set_new(id, "email", json_string(res->email));
    const json_t *c = res->claims;
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    json_object_set_new(id, "name", json_string(name ? name : ""));
    json_object_set_new(id, "sub", json_string(sub ? sub : ""));
    json_object_set_new(id, "idp", json_string(idp->name));
    json_t *groups = json_object_get(c, "groups");
    if (json_is_array(groups)) {
        json_t *g = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(groups, i, v)
        {
            if (json_is_string(v) && json_array_size(g) < ACCESS_MAX_VALUES) {
                json_array_append(g, v);
            }
        }
        json_object_set_new(id, "groups", g);
    }
    json_t *custom = res->extra ? json_deep_copy(res->extra) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(custom, k, v)
    {
        if (json_object_get(id, k) == NULL) {
            json_object_set(id, k, v);
        }
    }
    json_object_set_new(id, "custom", custom);
    return id;
}

static void session_work(void *arg);
static void session_done(struct http_req *r, void *arg);

/* The "Test" button's end (a login started by /cdn-cgi/access/test/<idp>): what came back,
 * or the one diagnosis; no session is made. */
static void test_result(struct cb_job *j, struct http_req *r, const struct access_rp_result *res)
{
    struct buf msg;
    buf_init(&msg, WEB_PAGE_MAX / 2);
    const char *title = "Your connection works!";
    int status = 200;
    if (res->diag == ACCESS_RP_OK) {
        json_t *id = identity_of(j->idp, res);
        char *ids = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS);
        char *cls = json_dumps(res->claims, JSON_COMPACT | JSON_SORT_KEYS);
        buf_printf(&msg, "Signed in through %s as %s. Identity kept: %s. ID token claims: %s",
                   j->idp->name, res->email, ids ? ids : "{}", cls ? cls : "{}");
        free(ids);
        free(cls);
        json_decref(id);
    } else {
        title = access_rp_diag_text(res->diag);
        status = 502;
        buf_printf(&msg, "%s: %s (%s)", j->idp->name, res->msg, access_rp_diag_name(res->diag));
    }
    log_info("access: test of %s: %s", j->idp->name, access_rp_diag_name(res->diag));
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_message p = {.title = title, .message = msg.p ? msg.p : ""};
    if (j->g->web != NULL && web_page_message(j->g->web, &p, &page) == 0) {
        web_respond_page(r, status, &page);
    } else {
        http_respond(r, status, "text/plain; charset=utf-8", msg.p, msg.len);
    }
    buf_free(&page);
    buf_free(&msg);
}

static void exchange_done(struct access_rp_result *res, void *arg)
{
    struct cb_job *j = arg;
    struct http_req *r = j->r;
    if (j->st.app_domain[0] == '\0') {
        gate_set_cookie(r, j->snap, GATE_STATE_COOKIE, "", "/cdn-cgi/access/", -1, true,
                        ACCESS_SAME_SITE_LAX);
        test_result(j, r, res);
        cb_free(j);
        return;
    }
    if (res->diag != ACCESS_RP_OK) {
        log_warn("access: sign-in through %s failed: %s: %s", j->idp->name,
                 access_rp_diag_name(res->diag), res->msg);
        gate_page_error(j->g, r, 502, "Sign-in failed", access_rp_diag_text(res->diag));
        cb_free(j);
        return;
    }
    j->identity = identity_of(j->idp, res);
    if (http_defer(r, session_work, session_done, j) != 0) {
        cb_free(j);
    }
}

/* ---- 3. the session ---------------------------------------------------------------------- */

static const struct access_app *login_app(const struct gate_snap *snap, const struct cb_job *j)
{
    struct buf p;
    buf_init(&p, GATE_REDIRECT_MAX + 2);
    gate_path_only(gate_redirect_path(j->st.redirect_url), &p);
    const struct access_app *a =
        access_app_match(snap->cfg.apps, snap->cfg.napps, j->st.app_domain, p.p);
    buf_free(&p);
    return a;
}

static void session_work(void *arg)
{
    struct cb_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc = -1;
    if (s == NULL) {
        return;
    }
    const struct access_app *app = login_app(j->snap, j);
    int64_t life = app ? app->session_duration : ACCESS_DEFAULT_SESSION_S;
    j->expires_at = util_now() + life;
    j->session_token = util_random_token(32);
    char *text = json_dumps(j->identity, JSON_COMPACT);
    struct store_access_session x = {
        .identity = text, .idp = (char *)j->idp->name, .expires_at = j->expires_at};
    j->rc = store_access_session_create(s, slice_z(j->session_token), &x, &j->e);
    if (j->rc == 0) {
        snprintf(j->session_id, sizeof j->session_id, "%s", x.id);
        j->org_token = gate_token_mint(j->snap, GATE_TOKEN_ORG, j->snap->cfg.team.host, j->identity,
                                       x.id, j->expires_at, &j->e);
        j->rc = j->org_token ? 0 : -1;
    }
    x.identity = NULL;
    x.idp = NULL;
    store_access_session_free(&x);
    free(text);
}

static void session_done(struct http_req *r, void *arg)
{
    struct cb_job *j = arg;
    if (j->rc != 0) {
        gate_page_failure(j->g, r, "session", &j->e, "Sign-in failed",
                          "Please try again in a moment.");
        cb_free(j);
        return;
    }
    const char *email = json_string_value(json_object_get(j->identity, "email"));
    log_info("access: %s signed in through %s", email, j->idp->name);
    gate_set_cookie(r, j->snap, GATE_COOKIE, j->org_token, "/", j->expires_at - util_now(), true,
                    ACCESS_SAME_SITE_LAX);
    gate_set_cookie(r, j->snap, GATE_STATE_COOKIE, "", "/cdn-cgi/access/", -1, true,
                    ACCESS_SAME_SITE_LAX);
    const struct gate_app *ga = gate_snap_app(j->snap, login_app(j->snap, j));
    if (ga == NULL) {
        gate_page_error(j->g, r, 404, "Unknown application",
                        "You are signed in, but the application is no longer configured.");
        cb_free(j);
        return;
    }
    struct gate_identity id = {0};
    id.claims = json_incref(j->identity);
    id.email = email;
    id.idp = j->idp->name;
    json_t *groups = json_object_get(j->identity, "groups");
    size_t i;
    json_t *v;
    json_array_foreach(groups, i, v)
    {
        if (id.ngroups < ACCESS_MAX_VALUES) {
            id.groups[id.ngroups++] = json_string_value(v);
        }
    }
    struct access_subject subj;
    gate_subject(&subj, r, &id);
    struct access_match m;
    enum access_decision d = access_policy_decide(ga->app, &subj, &m);
    log_info("access: %s: %s for %s (policy %s)", ga->app->name, access_decision_name(d), email,
             m.name ? m.name : "none");
    if (d == ACCESS_ALLOW) {
        gate_send_to_app(j->g, r, j->snap, ga, slice_z(j->st.app_domain), j->session_id,
                         gate_redirect_path(j->st.redirect_url));
    } else {
        gate_page_denied(j->g, r, ga->app->name, email, "/cdn-cgi/access/logout");
    }
    gate_identity_free(&id);
    cb_free(j);
}

void gate_team_callback(struct access_gate *g, struct http_req *r, struct gate_snap *snap)
{
    const struct http_params *q = http_req_query_params(r);
    const char *error = q ? http_params_get(q, "error") : NULL;
    if (error != NULL) {
        struct access_rp_result res = {0};
        access_rp_callback_error(error, http_params_get(q, "error_description"), &res);
        log_warn("access: the identity provider refused the sign-in: %s", res.msg);
        gate_page_error(g, r, 400, "The identity provider refused the sign-in",
                        access_rp_diag_text(res.diag));
        access_rp_result_free(&res);
        return;
    }
    const char *state = q ? http_params_get(q, "state") : NULL;
    const char *code = q ? http_params_get(q, "code") : NULL;
    struct slice binding;
    if (state == NULL || code == NULL || *state == '\0' || *code == '\0' ||
        strlen(state) > ACCESS_RP_RANDOM_TEXT * 2 || strlen(code) > ACCESS_RP_CODE_MAX ||
        http_params_count(q, "state") > 1 || http_params_count(q, "code") > 1) {
        restart_page(g, r, "The sign-in answer is incomplete.");
        return;
    }
    if (!http_req_cookie(r, GATE_STATE_COOKIE, &binding) || binding.n == 0 || binding.n > 128) {
        restart_page(g, r,
                     "This sign-in was started in another browser, or its cookie was blocked. "
                     "Go back to the application and try again.");
        return;
    }
    struct cb_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    j->state = xstrdup(state);
    j->code = xstrdup(code);
    j->binding = xstrndup(binding.p, binding.n);
    if (http_defer(r, take_work, take_done, j) != 0) {
        cb_free(j);
    }
}
