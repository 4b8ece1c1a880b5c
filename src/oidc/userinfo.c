/*
 * userinfo.c: the UserInfo endpoint (OIDC Core 5.3). The access token comes in the
 * Authorization header (RFC 6750 2.1) or as access_token in a form body (2.2), never both
 * (RFC 6750 2: "MUST NOT use more than one method") and never from the query (2.3 is not
 * offered: URLs end up in logs). Errors follow RFC 6750 3.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

static void bearer_error(struct oidc_job *j, int status, const char *error_z, const char *desc_z)
{
    struct buf h;
    buf_init(&h, 512);
    if (error_z != NULL) {
        buf_printf(&h, "Bearer realm=\"postern\", error=\"%s\", error_description=\"%s\"", error_z,
                   desc_z ? desc_z : "");
        oidc_reply_header(&j->reply, "WWW-Authenticate", h.p);
        oidc_reply_oauth_error(&j->reply, status, error_z, desc_z);
    } else {
        /* 3.1: no authentication at all: no error code. */
        oidc_reply_header(&j->reply, "WWW-Authenticate", "Bearer realm=\"postern\"");
        oidc_reply_oauth_error(&j->reply, status, "invalid_token", desc_z);
    }
    buf_free(&h);
}

/* The token of the request, or NULL with the reply set. */
static const char *bearer_token(struct oidc_job *j)
{
    const char *header = j->authorization;
    const char *form =
        j->method == HTTP_M_POST && j->body_is_form ? oidc_param(j, "access_token") : NULL;
    bool header_bearer = header != NULL && strlen(header) > 7 &&
                         slice_case_eq_z((struct slice){header, 7}, "bearer ");
    if (j->method == HTTP_M_POST && oidc_param_count(j, "access_token") > 1) {
        bearer_error(j, 400, "invalid_request", "access_token is repeated");
        return NULL;
    }
    if ((header != NULL && form != NULL) || (header != NULL && !header_bearer)) {
        bearer_error(j, 400, "invalid_request",
                     header_bearer ? "the token was sent twice" : "not a Bearer token");
        return NULL;
    }
    if (header_bearer) {
        const char *t = header + 7;
        while (*t == ' ') {
            t++;
        }
        return t;
    }
    if (form != NULL) {
        return form;
    }
    bearer_error(j, 401, NULL, "no access token");
    return NULL;
}

void oidc_userinfo_work(struct oidc_job *j)
{
    struct err e = {0};
    struct oidc_at at = {0};
    struct store_user u = {0};
    char **groups = NULL;
    size_t ngroups = 0;
    char *sub = NULL;
    oidc_reply_header(&j->reply, "Cache-Control", "no-store");
    const char *token = bearer_token(j);
    if (token == NULL) {
        return;
    }
    struct store *s = store_thread(&e);
    int rc = s ? oidc_access_token_check(j->o, s, token, &at, &e) : -1;
    if (rc == 0) {
        rc = store_user_get_by_id(s, at.rec.user_id, &u, &e);
        if (rc == STORE_NOT_FOUND || (rc == 0 && !u.is_active)) {
            rc = 1; /* client_credentials tokens have no user: no userinfo either */
        }
    }
    if (rc < 0) {
        oidc_reply_failure(&j->reply, "userinfo", &e);
        goto done;
    }
    if (rc != 0) {
        bearer_error(j, 401, "invalid_token", "the access token is invalid, expired or revoked");
        goto done;
    }
    unsigned scopes = 0;
    size_t unknown = 0;
    oidc_scope_parse(slice_z(at.rec.scope), &scopes, &unknown);
    if ((scopes & OIDC_SCOPE_PROFILE) && oidc_user_groups(s, u.id, &groups, &ngroups, &e) != 0) {
        oidc_reply_failure(&j->reply, "userinfo groups", &e);
        goto done;
    }
    sub = oidc_sub(at.provider.sub_mode, &u, j->o->install_id);
    json_t *body = json_object();
    json_object_set_new(body, "sub", json_string(sub));
    oidc_scope_claims(body, scopes, &u, (const char *const *)groups, ngroups);
    oidc_reply_json(&j->reply, 200, body);
done:
    free(sub);
    oidc_strv_free(groups);
    store_user_free(&u);
    oidc_at_free(&at);
}
