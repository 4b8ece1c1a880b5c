/*
 * flow.c: the login page, /if/flow/default-authentication-flow/ (Authentik's URL).
 *
 * GET  ?next=<relative URL>[&prompt=login][&login_hint=...]: the form, or straight to next
 *      when the browser already holds a valid session (unless prompt=login).
 * POST username, password, csrf_token, next: the login (login.c, on the worker pool), then
 *      a 302 to next with a new session cookie; or the form again with one message for any
 *      wrong credential (200), or 429 while throttled.
 *
 * The form's CSRF token is bound to a random pre-session cookie (postern_csrf), since there is
 * no session yet; that stops login CSRF (signing a victim into the attacker's account).
 * Handlers run on the event loop: they only parse and copy; SQL and argon2id run in
 * http_defer work with the worker's own store connection (store_thread).
 */
#include "idp/idp_int.h"

#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOW_PURPOSE_LOGIN "login"
#define FLOW_MSG_EXPIRED   "This form has expired. Please log in again."
#define FLOW_MSG_INVALID   "The request could not be understood. Please log in again."
#define FLOW_RETRY_MAX     16 /* digits of a Retry-After value */

/* ---- shared request helpers ---------------------------------------------------------- */

bool idp_req_token_cookie(struct http_req *r, const char *name_z, char out[IDP_TOKEN_CHARS + 1])
{
    struct slice v;
    if (!http_req_cookie(r, name_z, &v) || !idp_token_shape_ok(v)) {
        out[0] = '\0';
        return false;
    }
    memcpy(out, v.p, v.n);
    out[v.n] = '\0';
    return true;
}

const char *idp_req_param(struct http_req *r, const char *name_z)
{
    const struct http_params *p =
        http_req_method(r) == HTTP_M_POST ? http_req_form(r) : http_req_query_params(r);
    /* Repeated parameters are ambiguous (which `next` wins?): treated as absent. */
    if (p == NULL || http_params_count(p, name_z) != 1) {
        return NULL;
    }
    return http_params_get(p, name_z);
}

char *idp_param_dup(const char *v, size_t max, bool *too_long)
{
    if (too_long != NULL) {
        *too_long = false;
    }
    if (v == NULL) {
        return NULL;
    }
    if (strlen(v) > max) {
        if (too_long != NULL) {
            *too_long = true;
        }
        return NULL;
    }
    return xstrdup(v);
}

bool idp_path_is(const char *path_z, const char *flow_path_z)
{
    size_t n = strlen(flow_path_z);
    return strcmp(path_z, flow_path_z) == 0 ||
           (strlen(path_z) == n - 1 && strncmp(path_z, flow_path_z, n - 1) == 0);
}

void idp_respond_405(struct http_req *r, const char *allow_z)
{
    http_resp_header(r, "Allow", allow_z);
    http_respond_error(r, 405, NULL);
}

void idp_respond_failure(struct idp *idp, struct http_req *r, const char *what_z,
                         const struct err *e)
{
    if (store_unavailable(e)) {
        /* Not a bug: the database is down or overloaded; the store reconnects by itself. */
        log_error("store unavailable: %s", e->msg);
        web_respond_unavailable(idp->web, r);
        return;
    }
    log_error("idp: %s: %s", what_z, e->msg[0] ? e->msg : "failed");
    if (idp->web != NULL) {
        web_respond_error(idp->web, r, 500, "Something went wrong",
                          "The server could not complete the request. Please try again later.");
    } else {
        http_respond_error(r, 500, NULL);
    }
}

/* ---- the form ---------------------------------------------------------------------- */

struct form_view {
    const char *next;
    const char *app_name; /* the application of next, when it is an authorization request */
    const char *username; /* prefilled: login_hint, or what was typed */
    const char *error;
    int status;
    int64_t retry_after; /* 429 */
};

/* The binding of the form's token: the browser's pre-session cookie, or a new one (set here).
 * The cookie value is random and not a secret of anyone else's: it only ties the token to
 * this browser. */
static void render_form(struct idp *idp, struct http_req *r, const struct form_view *v)
{
    char binding[IDP_TOKEN_CHARS + 1];
    char *fresh = NULL;
    if (!idp_req_token_cookie(r, IDP_CSRF_COOKIE, binding)) {
        fresh = util_random_token(IDP_TOKEN_BYTES);
        memcpy(binding, fresh, IDP_TOKEN_CHARS + 1);
        char *cookie = idp_csrf_cookie(idp, fresh);
        http_resp_header(r, "Set-Cookie", cookie);
        free(cookie);
        free(fresh);
    }
    char *token = idp_csrf_token(idp, slice_z(binding), FLOW_PURPOSE_LOGIN);
    struct web_login page = {
        .action = IDP_LOGIN_PATH,
        .csrf_token = token,
        .next = v->next,
        .app_name = v->app_name,
        .username = v->username,
        .error = v->error,
    };
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    if (web_page_login(idp->web, &page, &out) < 0) {
        struct err e = {0};
        err_set(&e, 0, "the login page does not render");
        buf_free(&out);
        free(token);
        idp_respond_failure(idp, r, "login", &e);
        return;
    }
    if (v->status == 429 && v->retry_after > 0) {
        char ra[FLOW_RETRY_MAX];
        snprintf(ra, sizeof ra, "%lld", (long long)v->retry_after);
        http_resp_header(r, "Retry-After", ra); /* RFC 6585 section 4 */
    }
    /* The POST ends in a 302 to next and, through authorize, to a client's redirect URI on
     * another origin: form-action 'self' would block it in Chrome (web.h). */
    web_respond_page_ex(r, v->status, &out, WEB_FORM_REDIRECTS, NULL);
    buf_free(&out);
    free(token);
}

/* ---- deferred work ---------------------------------------------------------------- */

struct login_job {
    struct idp *idp;
    bool post;         /* else: GET */
    bool skip_session; /* GET without a session cookie to check (or prompt=login) */
    char *app_name;    /* result: the application the login is for, or NULL */
    char *next;        /* validated */
    char *login;       /* POST */
    char *password;    /* POST; a secret, wiped */
    size_t password_len;
    char *hint; /* GET: login_hint */
    char ip[64];
    char *user_agent;
    char cookie[IDP_TOKEN_CHARS + 1]; /* the session cookie sent, if any */
    /* results */
    enum idp_login_result res;
    bool session_valid;
    char *token;
    int64_t retry_after;
    struct err e;
};

static void job_free(struct login_job *j)
{
    if (j->password != NULL) {
        util_wipe(j->password, j->password_len);
        free(j->password);
    }
    util_free_secret(j->token);
    free(j->next);
    free(j->app_name);
    free(j->login);
    free(j->hint);
    free(j->user_agent);
    util_wipe(j->cookie, sizeof j->cookie);
    free(j);
}

/* The name of the application a login is for, so that the page can say it ("to continue
 * to ..."): next is an authorization request of a registered client. NULL otherwise; never
 * taken from a parameter that could name anything (a link saying "continue to your bank"
 * would help phishing). */
static char *app_name_of_next(struct store *s, const char *next_z)
{
    size_t n = strlen(IDP_AUTHORIZE_PATH);
    if (strncmp(next_z, IDP_AUTHORIZE_PATH, n) != 0 || next_z[n] != '?') {
        return NULL;
    }
    struct http_params q = {0};
    char *name = NULL;
    if (http_params_parse(slice_z(next_z + n + 1), &q) == 0) {
        const char *client_id = http_params_get(&q, "client_id");
        struct store_provider p = {0};
        struct store_app a = {0};
        struct err e = {0};
        if (client_id != NULL && store_provider_get_by_client_id(s, client_id, &p, &e) == 0 &&
            store_app_get_by_provider(s, p.id, &a, &e) == 0 && a.name[0] != '\0') {
            name = xstrdup(a.name);
        }
        store_provider_free(&p);
        store_app_free(&a);
    }
    http_params_free(&q);
    return name;
}

static void login_work(void *arg)
{
    struct login_job *j = arg;
    struct store *s = store_thread(&j->e);
    if (s == NULL) {
        j->res = IDP_LOGIN_ERROR;
        return;
    }
    j->app_name = app_name_of_next(s, j->next);
    if (!j->post && j->skip_session) {
        j->res = IDP_LOGIN_OK;
        return;
    }
    if (!j->post) {
        struct idp_auth a = {0};
        int rc = idp_auth_from_cookie(j->idp, s, slice_z(j->cookie), &a, &j->e);
        j->session_valid = rc == 0;
        j->res = rc < 0 ? IDP_LOGIN_ERROR : IDP_LOGIN_OK;
        idp_auth_free(&a);
        return;
    }
    struct idp_login_input in = {
        .login = j->login,
        .password = {j->password, j->password_len},
        .client_ip = j->ip,
        .user_agent = j->user_agent,
        .old_token = slice_z(j->cookie),
    };
    j->res = idp_login(j->idp, s, &in, &j->token, NULL, &j->retry_after, &j->e);
    /* The password is not needed any more: wipe it now, not when the loop gets to it. */
    util_wipe(j->password, j->password_len);
}

static void login_done(struct http_req *r, void *arg)
{
    struct login_job *j = arg;
    struct idp *idp = j->idp;
    struct form_view v = {.next = j->next,
                          .app_name = j->app_name,
                          .username = j->post ? j->login : j->hint,
                          .status = 200};
    if (j->res == IDP_LOGIN_ERROR) {
        idp_respond_failure(idp, r, "login", &j->e);
    } else if (!j->post && j->session_valid) {
        http_redirect(r, 302, j->next);
    } else if (!j->post) {
        render_form(idp, r, &v);
    } else if (j->res == IDP_LOGIN_OK) {
        char *cookie = idp_session_cookie(idp, j->token);
        http_resp_header(r, "Set-Cookie", cookie);
        http_resp_header(r, "Cache-Control", "no-store");
        util_free_secret(cookie);
        http_redirect(r, 302, j->next);
    } else {
        v.error = IDP_LOGIN_FAILED_MSG;
        v.status = j->res == IDP_LOGIN_THROTTLED ? 429 : 200;
        v.retry_after = j->retry_after;
        render_form(idp, r, &v);
    }
    job_free(j);
}

static void defer_job(struct http_req *r, struct login_job *j)
{
    if (http_defer(r, login_work, login_done, j) != 0) {
        job_free(j); /* answered 503 when the pool is full */
    }
}

static struct login_job *job_new(struct idp *idp, struct http_req *r, const char *next)
{
    struct login_job *j = xcalloc(1, sizeof *j);
    j->idp = idp;
    j->next = xstrdup(next);
    snprintf(j->ip, sizeof j->ip, "%s", http_req_remote_ip(r));
    const char *ua = http_req_header(r, "user-agent");
    j->user_agent = xstrndup(ua ? ua : "", ua ? UTIL_MIN(strlen(ua), IDP_USER_AGENT_MAX) : 0);
    idp_req_token_cookie(r, IDP_SESSION_COOKIE, j->cookie);
    return j;
}

/* A prefilled username comes from the URL: shown (escaped) only when it could be one. */
static const char *hint_or_null(const char *hint)
{
    if (hint == NULL || hint[0] == '\0' || strlen(hint) > IDP_LOGIN_HINT_MAX) {
        return NULL;
    }
    for (const char *p = hint; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7F) {
            return NULL;
        }
    }
    return hint;
}

static void login_get(struct idp *idp, struct http_req *r)
{
    const char *next = idp_next_or_root(idp_req_param(r, "next"));
    const char *prompt = idp_req_param(r, "prompt");
    const char *hint = hint_or_null(idp_req_param(r, "login_hint"));
    bool force = prompt != NULL && strcmp(prompt, "login") == 0;
    char cookie[IDP_TOKEN_CHARS + 1];
    struct login_job *j = job_new(idp, r, next);
    j->skip_session = force || !idp_req_token_cookie(r, IDP_SESSION_COOKIE, cookie);
    j->hint = hint ? xstrdup(hint) : NULL;
    defer_job(r, j);
}

static void login_post(struct idp *idp, struct http_req *r)
{
    const struct http_params *form = http_req_form(r);
    const char *next = idp_next_or_root(idp_req_param(r, "next"));
    struct form_view v = {.next = next, .status = 400, .error = FLOW_MSG_INVALID};
    if (form == NULL) {
        render_form(idp, r, &v);
        return;
    }
    const char *login = idp_req_param(r, "username");
    const char *password = idp_req_param(r, "password");
    const char *token = idp_req_param(r, "csrf_token");
    v.username = hint_or_null(login);
    char binding[IDP_TOKEN_CHARS + 1];
    if (!idp_req_token_cookie(r, IDP_CSRF_COOKIE, binding) ||
        !idp_csrf_check(idp, slice_z(binding), FLOW_PURPOSE_LOGIN, token)) {
        v.status = 403;
        v.error = FLOW_MSG_EXPIRED;
        render_form(idp, r, &v);
        return;
    }
    bool long_login = false, long_pw = false;
    char *login_copy = idp_param_dup(login, IDP_LOGIN_MAX, &long_login);
    char *pw_copy = idp_param_dup(password, IDP_PASSWORD_MAX, &long_pw);
    if (password != NULL) {
        /* The decoded form belongs to the request: wipe our copy's source now. */
        util_wipe((char *)password, strlen(password));
    }
    if (login_copy == NULL || login_copy[0] == '\0' || pw_copy == NULL || pw_copy[0] == '\0') {
        /* Nothing to check (or more than any account could hold): the same answer as a
         * wrong password, without a lookup. */
        free(login_copy);
        util_free_secret(pw_copy);
        v.status = 200;
        v.error = IDP_LOGIN_FAILED_MSG;
        render_form(idp, r, &v);
        return;
    }
    struct login_job *j = job_new(idp, r, next);
    j->post = true;
    j->login = login_copy;
    j->password = pw_copy;
    j->password_len = strlen(pw_copy);
    defer_job(r, j);
}

void idp_login_handler(struct http_req *r, void *ctx)
{
    struct idp *idp = ctx;
    if (!idp_path_is(http_req_path(r), IDP_LOGIN_PATH)) {
        http_respond_error(r, 404, NULL);
        return;
    }
    switch (http_req_method(r)) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
        login_get(idp, r);
        break;
    case HTTP_M_POST:
        login_post(idp, r);
        break;
    default:
        idp_respond_405(r, "GET, HEAD, POST");
    }
}
