/*
 * logout.c: /if/flow/default-invalidation-flow/ (Authentik's URL).
 *
 * Authentik logs out on a plain GET; any page on the web could then sign our users out with
 * an <img>. Here a GET only asks: it shows who is signed in and a confirmation that carries
 * a CSRF token bound to the session (purpose "logout"). The logout itself needs that token:
 * POST csrf_token=..., or GET ?csrf_token=... (the confirmation's link: web has no
 * confirmation form yet). Then the session is deleted, the cookie cleared, a `logout` event
 * recorded, and the logged-out page shown. Without a valid session: the logged-out page.
 */
#include "idp/idp_int.h"

#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGOUT_PURPOSE "logout"
#define LOGOUT_URL_MAX (sizeof(IDP_LOGOUT_PATH) + 32 + IDP_CSRF_TOKEN_MAX)

enum logout_state {
    LOGOUT_NO_SESSION, /* nothing to end */
    LOGOUT_CONFIRM,    /* a session and no (valid) token: ask */
    LOGOUT_DONE,       /* ended */
    LOGOUT_ERROR,
};

struct logout_job {
    struct idp *idp;
    char cookie[IDP_TOKEN_CHARS + 1];
    char *token;    /* csrf_token sent, or NULL */
    bool token_bad; /* a token was sent and did not check */
    char ip[64];
    /* results */
    enum logout_state state;
    char *username; /* the signed-in user, for the confirmation */
    char *confirm;  /* CSRF token for the confirmation */
    struct err e;
};

static void job_free(struct logout_job *j)
{
    util_wipe(j->cookie, sizeof j->cookie);
    free(j->token);
    free(j->username);
    free(j->confirm);
    free(j);
}

static void logout_work(void *arg)
{
    struct logout_job *j = arg;
    struct idp_auth a = {0};
    struct store *s = store_thread(&j->e);
    int rc = s ? idp_auth_from_cookie(j->idp, s, slice_z(j->cookie), &a, &j->e) : -1;
    if (rc != 0) {
        j->state = rc < 0 ? LOGOUT_ERROR : LOGOUT_NO_SESSION;
        if (rc > 0 && s != NULL) {
            /* e.g. the session of a deactivated user: it goes too, quietly */
            struct err ignored = {0};
            idp_logout(j->idp, s, slice_z(j->cookie), j->ip, &ignored);
        }
        goto done;
    }
    struct slice binding = {a.session.id, strlen(a.session.id)};
    if (j->token == NULL || !idp_csrf_check(j->idp, binding, LOGOUT_PURPOSE, j->token)) {
        j->token_bad = j->token != NULL;
        j->state = LOGOUT_CONFIRM;
        j->username = xstrdup(a.user.username);
        j->confirm = idp_csrf_token(j->idp, binding, LOGOUT_PURPOSE);
        goto done;
    }
    rc = store_session_delete(s, a.session.id, &j->e);
    if (rc < 0) {
        j->state = LOGOUT_ERROR;
        goto done;
    }
    idp_event(s, "logout", a.user.username, j->ip, NULL, NULL);
    j->state = LOGOUT_DONE;
done:
    idp_auth_free(&a);
}

static void respond_logged_out(struct idp *idp, struct http_req *r)
{
    char *clear = idp_session_cookie_clear(idp);
    http_resp_header(r, "Set-Cookie", clear);
    free(clear);
    char *login = idp_login_url(idp, "/");
    struct web_logged_out page = {.login_url = login};
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    if (web_page_logged_out(idp->web, &page, &out) == 0) {
        web_respond_page(r, 200, &out);
    } else {
        struct err e = {0};
        err_set(&e, 0, "the logged-out page does not render");
        idp_respond_failure(idp, r, "logout", &e);
    }
    buf_free(&out);
    free(login);
}

static void respond_confirm(struct idp *idp, struct http_req *r, const struct logout_job *j)
{
    struct buf url, msg, out;
    buf_init(&url, LOGOUT_URL_MAX);
    buf_init(&msg, IDP_USERNAME_MAX + 128);
    buf_init(&out, WEB_PAGE_MAX);
    buf_append_z(&url, IDP_LOGOUT_PATH "?csrf_token=");
    http_url_encode(slice_z(j->confirm), &url);
    buf_printf(&msg, "You are signed in as %s. Do you want to log out?", j->username);
    struct web_message page = {
        .title = "Log out",
        .message = msg.p,
        .link_url = url.p,
        .link_text = "Log out",
    };
    /* A token that failed (expired, another session's): 403, and a fresh one to go on. */
    int status = j->token_bad ? 403 : 200;
    if (web_page_message(idp->web, &page, &out) == 0) {
        web_respond_page(r, status, &out);
    } else {
        struct err e = {0};
        err_set(&e, 0, "the logout page does not render");
        idp_respond_failure(idp, r, "logout", &e);
    }
    buf_free(&url);
    buf_free(&msg);
    buf_free(&out);
}

static void logout_done(struct http_req *r, void *arg)
{
    struct logout_job *j = arg;
    switch (j->state) {
    case LOGOUT_ERROR:
        idp_respond_failure(j->idp, r, "logout", &j->e);
        break;
    case LOGOUT_CONFIRM:
        respond_confirm(j->idp, r, j);
        break;
    case LOGOUT_NO_SESSION:
    case LOGOUT_DONE:
        respond_logged_out(j->idp, r);
        break;
    }
    job_free(j);
}

void idp_logout_handler(struct http_req *r, void *ctx)
{
    struct idp *idp = ctx;
    if (!idp_path_is(http_req_path(r), IDP_LOGOUT_PATH)) {
        http_respond_error(r, 404, NULL);
        return;
    }
    enum http_method m = http_req_method(r);
    if (m != HTTP_M_GET && m != HTTP_M_HEAD && m != HTTP_M_POST) {
        idp_respond_405(r, "GET, HEAD, POST");
        return;
    }
    struct logout_job *j = xcalloc(1, sizeof *j);
    j->idp = idp;
    if (!idp_req_token_cookie(r, IDP_SESSION_COOKIE, j->cookie)) {
        job_free(j);
        respond_logged_out(idp, r);
        return;
    }
    /* HEAD must not change anything: it never carries the token on. */
    j->token = m == HTTP_M_HEAD
                   ? NULL
                   : idp_param_dup(idp_req_param(r, "csrf_token"), IDP_CSRF_TOKEN_MAX, NULL);
    snprintf(j->ip, sizeof j->ip, "%s", http_req_remote_ip(r));
    if (http_defer(r, logout_work, logout_done, j) != 0) {
        job_free(j);
    }
}

int idp_routes(struct http_router *r, struct idp *idp)
{
    if (idp->web == NULL) {
        log_error("idp: routes need the web pages (idp->web)");
        return -1;
    }
    const char *host = idp->cfg.host;
    /* Without the trailing '/': the router then matches "/x" and "/x/..." (handlers accept
     * exactly "/x" and "/x/"). */
    static const char login_prefix[] = "/if/flow/" IDP_LOGIN_FLOW;
    static const char logout_prefix[] = "/if/flow/" IDP_LOGOUT_FLOW;
    if (http_router_add(r, host, login_prefix, idp_login_handler, idp, IDP_FORM_BODY_MAX) < 0 ||
        http_router_add(r, host, logout_prefix, idp_logout_handler, idp, IDP_FORM_BODY_MAX) < 0 ||
        web_routes_add(r, host, idp->web) < 0) {
        log_error("idp: a route cannot be added");
        return -1;
    }
    return 0;
}
