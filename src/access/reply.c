/*
 * reply.c: what the gateway's handlers share to answer: URLs of the team domain and of an
 * application, the one check of a redirect_url, cookies, and the pages people see.
 */
#include "access/gate_int.h"

#include <stdio.h>
#include <string.h>

/* "scheme://host[:port]" for a host of an application: the team domain's scheme and port,
 * whatever port the browser named (a port taken from the request could send a one-time
 * token to another service on the same host). */
int gate_app_base(const struct gate_snap *snap, struct slice host, struct buf *out)
{
    const struct access_url *t = &snap->cfg.team;
    bool default_port = (t->https && t->port == 443) || (!t->https && t->port == 80);
    buf_reset(out);
    if (host.n == 0 || host.n > ACCESS_HOST_MAX) {
        return -1;
    }
    for (size_t i = 0; i < host.n; i++) {
        char c = host.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok) {
            return -1; /* an IPv6 literal or anything else is not an application host */
        }
    }
    int rc = buf_printf(out, "%s://%.*s", t->https ? "https" : "http", (int)host.n, host.p);
    if (rc == 0 && !default_port) {
        rc = buf_printf(out, ":%u", (unsigned)t->port);
    }
    return rc;
}

/* A redirect_url is a path on the application's own host: one leading '/', not "//" or
 * "/\" (a browser reads both as another host), no backslash, no control or non-ASCII byte,
 * bounded. Anything else is "/". */
const char *gate_redirect_path(const char *z)
{
    if (z == NULL || z[0] != '/' || z[1] == '/' || z[1] == '\\') {
        return "/";
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)z; *p != '\0'; p++, n++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '\\' || n >= GATE_REDIRECT_MAX) {
            return "/";
        }
    }
    return z;
}

/* The path part of a redirect path (up to '?' or '#'), for app matching. */
void gate_path_only(const char *z, struct buf *out)
{
    buf_reset(out);
    size_t n = strcspn(z, "?#");
    if (n == 0 || buf_append(out, z, n) != 0 || buf_append_c(out, '\0') != 0) {
        buf_reset(out);
        buf_append(out, "/", 2);
    }
}

/* Set-Cookie for a CF_Authorization-style cookie. max_age < 0 clears it. */
int gate_set_cookie(struct http_req *r, const struct gate_snap *snap, const char *name_z,
                    const char *value_z, const char *path_z, int64_t max_age, bool http_only,
                    enum access_same_site same_site)
{
    char line[GATE_TOKEN_MAX + 256];
    const char *ss = same_site == ACCESS_SAME_SITE_STRICT ? "Strict"
                     : same_site == ACCESS_SAME_SITE_NONE ? "None"
                                                          : "Lax";
    bool secure = snap->cfg.team.https || same_site == ACCESS_SAME_SITE_NONE;
    int n = snprintf(line, sizeof line, "%s=%s; Path=%s; Max-Age=%lld%s%s; SameSite=%s", name_z,
                     max_age < 0 ? "" : value_z, path_z, (long long)(max_age < 0 ? 0 : max_age),
                     http_only ? "; HttpOnly" : "", secure ? "; Secure" : "", ss);
    if (n < 0 || (size_t)n >= sizeof line) {
        return -1;
    }
    return http_resp_header(r, "Set-Cookie", line);
}

void gate_page_error(struct access_gate *g, struct http_req *r, int status, const char *title_z,
                     const char *message_z)
{
    if (g->web != NULL) {
        web_respond_error(g->web, r, status, title_z, message_z);
    } else {
        http_respond_error(r, status, message_z);
    }
}

void gate_page_denied(struct access_gate *g, struct http_req *r, const char *app_z,
                      const char *email_z, const char *signout_z)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_access_denied p = {.app_name = app_z, .email = email_z, .signout_url = signout_z};
    if (g->web != NULL && web_page_access_denied(g->web, &p, &page) == 0) {
        web_respond_page(r, 403, &page);
    } else {
        http_respond_error(r, 403, "You do not have access to this application.");
    }
    buf_free(&page);
}

/* A JSON answer for machines: 401 / 403 to API clients and service tokens, never a
 * redirect. */
void gate_json_error(struct http_req *r, int status, const char *message_z)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(message_z));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    http_resp_header(r, "Cache-Control", "no-store");
    http_respond(r, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

bool gate_failure_log(const char *what_z, const struct err *e)
{
    if (store_unavailable(e)) {
        log_error("store unavailable: %s", e->msg);
        return true;
    }
    log_error("access: %s: %s", what_z, e != NULL && e->msg[0] ? e->msg : "failed");
    return false;
}

void gate_page_failure(struct access_gate *g, struct http_req *r, const char *what_z,
                       const struct err *e, const char *title_z, const char *message_z)
{
    if (gate_failure_log(what_z, e)) {
        web_respond_unavailable(g->web, r); /* a plain error page without g->web */
    } else {
        gate_page_error(g, r, 500, title_z, message_z);
    }
}

void gate_json_failure(struct http_req *r, const char *what_z, const struct err *e)
{
    if (!gate_failure_log(what_z, e)) {
        gate_json_error(r, 500, "server error");
        return;
    }
    http_resp_header(r, "Retry-After", WEB_UNAVAILABLE_RETRY_S);
    gate_json_error(r, WEB_UNAVAILABLE_STATUS, "temporarily unavailable");
}

bool gate_is_b64url(struct slice s)
{
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return s.n > 0;
}

/* Who is asking, for the policies: the client address and, when known, the identity of a
 * verified token. */
void gate_subject(struct access_subject *out, struct http_req *r, const struct gate_identity *id)
{
    memset(out, 0, sizeof *out);
    out->ip = http_req_remote_ip(r);
    if (id == NULL) {
        return;
    }
    out->email = id->email;
    out->groups = id->groups;
    out->ngroups = id->ngroups;
    out->idp = id->idp;
    out->claims = json_object_get(id->claims, "custom"); /* the configured IdP claims */
    out->service_token = id->service;
}
