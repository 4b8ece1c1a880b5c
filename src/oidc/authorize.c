/*
 * authorize.c: the authorization endpoint (RFC 6749 4.1.1, OIDC Core 3.1.2), on a worker.
 *
 * Order of the checks, each failing the way the RFC says:
 *  1. client_id and redirect_uri: unknown client, missing or unregistered URI -> an error
 *     page (400), never a redirect (RFC 6749 4.1.2.1: the URI is not trusted yet);
 *  2. every other parameter -> a redirect to the URI with error, error_description, state;
 *  3. the IdP session: none, or too old for prompt=login / max_age -> the login page (with
 *     a marker that stops loops), or login_required under prompt=none;
 *  4. the application's bindings -> a "Permission denied" page (403), as Authentik;
 *  5. consent (explicit-consent flow) -> the consent page, or consent_required;
 *  6. a single-use code, stored hashed, returned by query or form_post, with state and iss
 *     (RFC 9207).
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"
#include "keys/keys.h"

#include <string.h>

#define LOGIN_NEXT_MAX IDP_NEXT_MAX /* a longer `next` would be refused by the login page */

struct authz_ctx {
    struct oidc_job *j;
    struct store *s;
    struct oidc_authz a;
    struct store_provider p;
    struct store_app app;
    struct oidc_redirects uris;
    struct idp_auth auth;
    bool have_auth;
    char *iss;
};

/* Sends the response (code or error) to the client: a 302 with the fields in the query, or
 * the form_post page (OAuth 2.0 Form Post Response Mode) whose Continue button posts them. */
static void respond_to_client(struct authz_ctx *c, const char *const *names,
                              const char *const *values, size_t n)
{
    struct oidc_job *j = c->j;
    if (c->a.form_post) {
        struct web_field f[8];
        size_t nf = 0;
        for (size_t i = 0; i < n && nf < UTIL_ARRAY_LEN(f); i++) {
            if (values[i] != NULL) {
                f[nf++] = (struct web_field){names[i], values[i]};
            }
        }
        struct web_form_post fp = {
            .action = c->a.redirect_uri, .app_name = c->app.name, .fields = f, .nfields = nf};
        struct buf page;
        buf_init(&page, WEB_PAGE_MAX);
        if (web_page_form_post(j->o->web, &fp, &page) == 0) {
            /* The client's callback usually redirects on to its application, on another
             * origin: form-action 'self' <origin> would be enforced on that redirect too
             * (web.h, w3c/webappsec-csp#8). The form's only action is the registered URI. */
            oidc_reply_page(&j->reply, 200, &page, WEB_FORM_REDIRECTS, NULL);
        } else {
            oidc_reply_error_page(&j->reply, j->o, 500, "Something went wrong", NULL);
        }
        buf_free(&page);
        return;
    }
    struct buf url;
    buf_init(&url, OIDC_REDIRECT_URI_MAX + 3 * (OIDC_STATE_MAX + 1024));
    if (oidc_url_with_params(&url, c->a.redirect_uri, names, values, n) == 0) {
        oidc_reply_redirect(&j->reply, url.p);
    } else {
        oidc_reply_error_page(&j->reply, j->o, 400, "Request too large", NULL);
    }
    buf_free(&url);
}

static void redirect_error(struct authz_ctx *c, const char *error_z, const char *desc_z)
{
    const char *names[] = {"error", "error_description", "state", "iss"};
    const char *values[] = {error_z, desc_z, c->a.state, c->iss};
    respond_to_client(c, names, values, UTIL_ARRAY_LEN(names));
}

/* A failure once the redirect URI is trusted: server_error to the client (RFC 6749
 * 4.1.2.1), or temporarily_unavailable while the store cannot be reached. */
static void redirect_failure(struct authz_ctx *c, const char *what_z, const struct err *e)
{
    bool down = oidc_failure_log(what_z, e);
    redirect_error(c, down ? "temporarily_unavailable" : "server_error",
                   down ? OIDC_UNAVAILABLE_DESC : NULL);
}

/* The authorize URL to come back to after the login page: the request's own parameters
 * (GET or POST alike) and a fresh marker. force: a signed-in user must authenticate again
 * (prompt=login, max_age), so the login page shows its form anyway. */
static int login_redirect(struct authz_ctx *c, int64_t now, bool force)
{
    struct oidc_job *j = c->j;
    char marker[OIDC_MARKER_MAX];
    if (oidc_marker_make(j->o->idp->secret, c->a.client_id, now, marker) != 0) {
        return -1;
    }
    struct buf next;
    buf_init(&next, LOGIN_NEXT_MAX);
    int rc = buf_append_z(&next, OIDC_PREFIX "authorize/");
    char sep = '?';
    for (size_t i = 0; rc == 0 && i < oidc_authz_nnames; i++) {
        const char *name = oidc_authz_names[i];
        const char *v = strcmp(name, OIDC_MARKER_PARAM) == 0 ? marker : oidc_param(j, name);
        if (v == NULL) {
            continue;
        }
        rc = buf_append_c(&next, sep) | buf_append_z(&next, name) | buf_append_c(&next, '=') |
             http_url_encode(slice_z(v), &next);
        sep = '&';
    }
    if (rc != 0) {
        buf_free(&next);
        return -1;
    }
    char *login = idp_login_url_ex(j->o->idp, next.p, force, c->a.login_hint);
    oidc_reply_redirect(&j->reply, login);
    free(login);
    buf_free(&next);
    return 0;
}

/* Step 3. Returns true when the session may be used now; otherwise the reply is set. */
static bool session_ok(struct authz_ctx *c)
{
    struct oidc_job *j = c->j;
    int64_t now = util_now();
    const struct oidc_authz *a = &c->a;
    int64_t auth_time = c->have_auth ? c->auth.session.auth_time : 0;
    /* OIDC Core 3.1.2.1: "max_age=0 is equivalent to prompt=login". */
    bool need = !c->have_auth || (a->prompt_flags & OIDC_PROMPT_LOGIN) || a->max_age_s == 0 ||
                (a->max_age_s > 0 && now - auth_time > a->max_age_s);
    int64_t marker_t = 0;
    bool marked = a->marker != NULL && oidc_marker_check(j->o->idp->secret, a->client_id, a->marker,
                                                         now, &marker_t) == 0;
    if (need && c->have_auth && marked && auth_time >= marker_t) {
        need = false; /* the user logged in after this request sent them to the login page */
    }
    if (!need) {
        return true;
    }
    if (a->prompt_flags & OIDC_PROMPT_NONE) {
        redirect_error(c, "login_required", "the user must log in");
    } else if (marked) {
        /* Back from the login page without a new authentication: answer instead of looping. */
        redirect_error(c, "login_required", "the login did not authenticate the user again");
    } else if (login_redirect(c, now, c->have_auth) != 0) {
        redirect_error(c, "invalid_request", "the request is too large");
    }
    return false;
}

/* Step 4. true: allowed; false: the reply is set. */
static bool policy_ok(struct authz_ctx *c)
{
    struct err e = {0};
    struct store_binding_list bl = {0};
    struct store_group_list gl = {0};
    int64_t *gids = NULL;
    bool ok = false;
    if (store_app_bindings(c->s, c->app.id, &bl, &e) != 0 ||
        (bl.n > 0 && store_user_groups(c->s, c->auth.user.id, &gl, &e) != 0)) {
        err_prefix(&e, "bindings of %s", c->app.slug);
        oidc_reply_failure_page(&c->j->reply, c->j->o, "authorize", &e);
        goto done;
    }
    gids = xcalloc(gl.n + 1, sizeof *gids);
    for (size_t i = 0; i < gl.n; i++) {
        gids[i] = gl.v[i].id;
    }
    ok = oidc_policy_allows(c->app.policy_engine_mode, bl.v, bl.n, c->auth.user.id, gids, gl.n);
    if (!ok) {
        oidc_reply_error_page(&c->j->reply, c->j->o, 403, "Permission denied",
                              "You are not allowed to use this application.");
    }
done:
    free(gids);
    store_binding_list_free(&bl);
    store_group_list_free(&gl);
    return ok;
}

/* Step 6. */
static void issue_code(struct authz_ctx *c)
{
    struct oidc_job *j = c->j;
    struct err e = {0};
    struct buf scope;
    buf_init(&scope, OIDC_SCOPE_MAX);
    oidc_scope_format(c->a.scopes, &scope);
    int64_t ttl = c->p.access_code_validity > 0 ? c->p.access_code_validity : OIDC_DEFAULT_CODE_TTL;
    struct store_code code = {
        .provider_id = c->p.id,
        .user_id = c->auth.user.id,
        .redirect_uri = (char *)c->a.redirect_uri,
        .scope = scope.p ? scope.p : "",
        .nonce = (char *)(c->a.nonce ? c->a.nonce : ""),
        .code_challenge = (char *)(c->a.code_challenge ? c->a.code_challenge : ""),
        .code_challenge_method = (char *)(c->a.code_challenge ? c->a.code_challenge_method : ""),
        .auth_time = c->auth.session.auth_time,
        .expires_at = util_now() + ttl,
    };
    memcpy(code.session_id, c->auth.session.id, STORE_ID_SIZE);
    char *value = oidc_random_token(OIDC_CODE_BYTES);
    if (store_code_create(c->s, slice_z(value), &code, &e) != 0) {
        err_prefix(&e, "code for %s", c->a.client_id);
        redirect_failure(c, "authorize", &e);
        goto done;
    }
    json_t *ctx = json_object();
    json_object_set_new(ctx, "client_id", json_string(c->a.client_id));
    json_object_set_new(ctx, "scope", json_string(code.scope));
    oidc_event(j, c->s, "authorize_application", c->auth.user.username, c->app.slug, ctx);
    const char *names[] = {"code", "state", "iss"};
    const char *values[] = {value, c->a.state, c->iss};
    respond_to_client(c, names, values, UTIL_ARRAY_LEN(names));
done:
    util_free_secret(value);
    buf_free(&scope);
}

/* Steps 1 and 2. true: the request is well-formed and its client known. */
static bool load_request(struct authz_ctx *c)
{
    struct oidc_job *j = c->j;
    struct err e = {0};
    const char *why = NULL;
    if (!j->params_ok || oidc_authz_parse_client(&j->params, &c->a, &why) != 0) {
        oidc_reply_error_page(&j->reply, j->o, 400, "Invalid authorization request",
                              why ? why : "The request could not be decoded.");
        return false;
    }
    int rc = store_provider_get_by_client_id(c->s, c->a.client_id, &c->p, &e);
    if (rc == 0) {
        rc = store_app_get_by_provider(c->s, c->p.id, &c->app, &e);
    }
    if (rc == STORE_NOT_FOUND) {
        oidc_reply_error_page(&j->reply, j->o, 400, "Unknown application",
                              "No application uses this client_id.");
        return false;
    }
    if (rc != 0 || oidc_redirects_parse(c->p.redirect_uris, &c->uris, &e) != 0) {
        /* The redirect URI is not trusted yet: a page, never a redirect (4.1.2.1). */
        err_prefix(&e, "client %s", c->a.client_id);
        oidc_reply_failure_page(&j->reply, j->o, "authorize", &e);
        return false;
    }
    if (!oidc_redirect_allowed(&c->uris, c->a.redirect_uri)) {
        oidc_reply_error_page(&j->reply, j->o, 400, "Redirect URI not registered",
                              "The redirect_uri of this request is not registered for the "
                              "application.");
        return false;
    }
    c->iss = oidc_issuer(j->o->idp->cfg.public_url, c->app.slug);
    const char *error = NULL, *desc = NULL;
    if (oidc_authz_parse(&j->params, &c->a, &error, &desc) != 0) {
        redirect_error(c, error, desc);
        return false;
    }
    if (c->a.form_post && !web_url_ok(c->a.redirect_uri)) {
        c->a.form_post = false;
        redirect_error(c, "invalid_request", "form_post needs an http(s) redirect_uri");
        return false;
    }
    /* RFC 7636, RFC 9700 2.1.1: a public client cannot prove itself otherwise. */
    if (strcmp(c->p.client_type, "public") == 0 && c->a.code_challenge == NULL) {
        redirect_error(c, "invalid_request", "public clients must use PKCE (code_challenge)");
        return false;
    }
    return true;
}

void oidc_authorize_work(struct oidc_job *j)
{
    struct err e = {0};
    struct authz_ctx c = {.j = j};
    c.s = store_thread(&e);
    if (c.s == NULL) {
        oidc_reply_failure_page(&j->reply, j->o, "store", &e);
        return;
    }
    if (!load_request(&c)) {
        goto done;
    }
    if (j->cookie != NULL) {
        int rc = idp_auth_from_cookie(j->o->idp, c.s, slice_z(j->cookie), &c.auth, &e);
        if (rc < 0) {
            redirect_failure(&c, "session", &e);
            goto done;
        }
        c.have_auth = rc == 0 && c.auth.user.is_active;
    }
    if (!session_ok(&c) || !policy_ok(&c)) {
        goto done;
    }
    switch (oidc_consent(j, c.s, &c.a, &c.p, &c.app, &c.auth, &e)) {
    case OIDC_CONSENT_GIVEN:
        issue_code(&c);
        break;
    case OIDC_CONSENT_DENIED:
        redirect_error(&c, "access_denied", "the user denied the request");
        break;
    case OIDC_CONSENT_NEEDED:
        redirect_error(&c, "consent_required", "the user must consent");
        break;
    case OIDC_CONSENT_SHOWN:
        break;
    case OIDC_CONSENT_ERROR:
        redirect_failure(&c, "consent", &e);
        break;
    }
done:
    idp_auth_free(&c.auth);
    store_provider_free(&c.p);
    store_app_free(&c.app);
    oidc_redirects_free(&c.uris);
    free(c.iss);
}
