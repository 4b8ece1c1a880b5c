/*
 * reply.c: an answer prepared on a worker thread (where the SQL and the signing happen) and
 * sent on the request's event-loop thread, and the jobs that carry a request's data to the
 * worker. Nothing here touches a struct http_req off its loop thread: oidc_job_start copies
 * what the work needs first.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

void oidc_reply_free(struct oidc_reply *r)
{
    buf_free(&r->body);
    free(r->location);
    r->location = NULL;
    for (size_t i = 0; i < r->nhdr; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    r->nhdr = 0;
}

void oidc_reply_reset(struct oidc_reply *r)
{
    oidc_reply_free(r);
    memset(r, 0, sizeof *r);
    buf_init(&r->body, WEB_PAGE_MAX);
}

void oidc_reply_header(struct oidc_reply *r, const char *name_z, const char *value_z)
{
    if (r->nhdr >= OIDC_REPLY_HEADERS) {
        log_error("oidc: too many reply headers (%s dropped)", name_z);
        return;
    }
    r->hname[r->nhdr] = xstrdup(name_z);
    r->hvalue[r->nhdr] = xstrdup(value_z);
    r->nhdr++;
}

void oidc_reply_json(struct oidc_reply *r, int status, json_t *j)
{
    char *s = j ? util_json_dump(j) : NULL;
    json_decref(j);
    buf_reset(&r->body);
    if (s == NULL || buf_append_z(&r->body, s) != 0) {
        free(s);
        buf_reset(&r->body);
        buf_append_z(&r->body, "{\"error\":\"server_error\"}");
        status = 500;
    } else {
        free(s);
    }
    r->status = status;
    r->content_type = "application/json";
}

void oidc_reply_oauth_error(struct oidc_reply *r, int status, const char *error_z,
                            const char *desc_z)
{
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(error_z));
    if (desc_z != NULL) {
        json_object_set_new(j, "error_description", json_string(desc_z));
    }
    oidc_reply_json(r, status, j);
}

void oidc_reply_redirect(struct oidc_reply *r, const char *url_z)
{
    free(r->location);
    r->location = xstrdup(url_z);
    r->status = 302;
    /* Referrer-Policy: the code must not leak through the Referer of the client's page. */
    oidc_reply_header(r, "Cache-Control", "no-store");
    oidc_reply_header(r, "Referrer-Policy", "no-referrer");
}

void oidc_reply_page(struct oidc_reply *r, int status, struct buf *page, enum web_form_action fa,
                     const char *origin_z)
{
    buf_free(&r->body);
    r->body = *page;
    buf_init(page, WEB_PAGE_MAX);
    r->status = status;
    r->page = true;
    r->fa = fa;
    r->origin[0] = '\0';
    if (origin_z != NULL) {
        snprintf(r->origin, sizeof r->origin, "%s", origin_z);
    }
}

void oidc_reply_error_page(struct oidc_reply *r, const struct oidc *o, int status,
                           const char *title_z, const char *message_z)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_error p = {.status = status, .title = title_z, .message = message_z};
    if (o->web != NULL && web_page_error(o->web, &p, &page) == 0) {
        oidc_reply_page(r, status, &page, WEB_FORM_SELF, NULL);
    } else {
        buf_reset(&r->body);
        buf_append_z(&r->body, title_z);
        r->status = status;
        r->content_type = "text/plain; charset=utf-8";
    }
    buf_free(&page);
}

bool oidc_failure_log(const char *what_z, const struct err *e)
{
    if (store_unavailable(e)) {
        log_error("store unavailable: %s", e->msg);
        return true;
    }
    log_error("oidc: %s: %s", what_z, e != NULL && e->msg[0] ? e->msg : "failed");
    return false;
}

void oidc_reply_failure(struct oidc_reply *r, const char *what_z, const struct err *e)
{
    if (!oidc_failure_log(what_z, e)) {
        oidc_reply_oauth_error(r, 500, "server_error", NULL);
        return;
    }
    oidc_reply_header(r, "Retry-After", WEB_UNAVAILABLE_RETRY_S);
    oidc_reply_oauth_error(r, WEB_UNAVAILABLE_STATUS, "temporarily_unavailable",
                           OIDC_UNAVAILABLE_DESC);
}

void oidc_reply_failure_page(struct oidc_reply *r, const struct oidc *o, const char *what_z,
                             const struct err *e)
{
    if (!oidc_failure_log(what_z, e)) {
        oidc_reply_error_page(r, o, 500, "Something went wrong", NULL);
        return;
    }
    oidc_reply_header(r, "Retry-After", WEB_UNAVAILABLE_RETRY_S);
    oidc_reply_error_page(r, o, WEB_UNAVAILABLE_STATUS, WEB_UNAVAILABLE_TITLE,
                          WEB_UNAVAILABLE_MESSAGE);
}

void oidc_reply_send(struct http_req *req, struct oidc_reply *r)
{
    if (r->status == 0) {
        http_respond_error(req, 500, NULL);
        return;
    }
    for (size_t i = 0; i < r->nhdr; i++) {
        if (http_resp_header(req, r->hname[i], r->hvalue[i]) != 0) {
            log_error("oidc: header %s refused", r->hname[i]);
            http_respond_error(req, 500, NULL);
            return;
        }
    }
    if (r->location != NULL) {
        http_redirect(req, r->status, r->location);
    } else if (r->page) {
        web_respond_page_ex(req, r->status, &r->body, r->fa, r->origin[0] ? r->origin : NULL);
    } else {
        http_respond_buf(req, r->status, r->content_type, &r->body);
    }
}

/* ---- jobs ------------------------------------------------------------------------- */

static void params_copy(const struct http_params *from, struct http_params *to)
{
    to->n = 0;
    to->v = from->n ? xcalloc(from->n, sizeof *to->v) : NULL;
    for (size_t i = 0; i < from->n; i++) {
        to->v[i].name = xstrdup(from->v[i].name);
        to->v[i].value = xstrdup(from->v[i].value);
        to->n++;
    }
}

static char *dup_or_null(const char *z)
{
    return z ? xstrdup(z) : NULL;
}

static void job_free(struct oidc_job *j)
{
    /* Parameters and headers may hold secrets (client_secret, codes, tokens). */
    for (size_t i = 0; i < j->params.n; i++) {
        free(j->params.v[i].name);
        util_free_secret(j->params.v[i].value);
    }
    free(j->params.v); /* a copy made by params_copy, not one block as http_params_parse's */
    util_free_secret(j->cookie);
    util_free_secret(j->authorization);
    free(j->client_ip);
    free(j->user_agent);
    free(j->slug);
    oidc_reply_free(&j->reply);
    free(j);
}

static void job_run(void *arg)
{
    struct oidc_job *j = arg;
    j->work(j);
}

static void job_done(struct http_req *req, void *arg)
{
    struct oidc_job *j = arg;
    oidc_reply_send(req, &j->reply);
    job_free(j);
}

void oidc_job_start(struct http_req *req, struct oidc *o, oidc_work_fn work, const char *slug_z,
                    int kind)
{
    struct oidc_job *j = xcalloc(1, sizeof *j);
    j->o = o;
    j->work = work;
    j->kind = kind;
    j->method = http_req_method(req);
    j->slug = dup_or_null(slug_z);
    buf_init(&j->reply.body, WEB_PAGE_MAX);
    const struct http_params *p = NULL;
    if (j->method == HTTP_M_POST) {
        p = http_req_form(req);
        j->body_is_form = p != NULL;
        j->query_nonempty = http_req_query(req).n > 0;
        if (p == NULL && http_req_body(req).n == 0) {
            static const struct http_params empty;
            p = &empty; /* an empty body is an empty form */
        }
    } else {
        p = http_req_query_params(req);
    }
    j->params_ok = p != NULL;
    if (p != NULL) {
        params_copy(p, &j->params);
    }
    struct slice cookie;
    if (http_req_cookie(req, IDP_SESSION_COOKIE, &cookie) && cookie.n > 0) {
        j->cookie = slice_dup(cookie);
    }
    j->authorization = dup_or_null(http_req_header(req, "authorization"));
    j->client_ip = xstrdup(http_req_remote_ip(req) ? http_req_remote_ip(req) : "");
    j->user_agent = dup_or_null(http_req_header(req, "user-agent"));
    if (http_defer(req, job_run, job_done, j) != 0) {
        job_free(j); /* the request was answered (503) */
    }
}

const char *oidc_param(const struct oidc_job *j, const char *name_z)
{
    return http_params_get(&j->params, name_z);
}

size_t oidc_param_count(const struct oidc_job *j, const char *name_z)
{
    return http_params_count(&j->params, name_z);
}

char *oidc_random_token(size_t bytes)
{
    return util_random_token(bytes);
}

void oidc_event(struct oidc_job *j, struct store *s, const char *action_z, const char *user_z,
                const char *app_z, json_t *context)
{
    idp_event(s, action_z, user_z, j->client_ip, app_z, context);
    json_decref(context);
}
