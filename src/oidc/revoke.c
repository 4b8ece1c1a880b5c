/*
 * revoke.c: token revocation (RFC 7009). 200 whatever the token (2.2: "invalid tokens do not
 * cause an error"), but only the authenticated client's own tokens are touched. A refresh
 * token takes its whole family with it: the grant of its code, with every access token
 * issued from it (2.1: "SHOULD also invalidate all access tokens based on the same
 * authorization grant"). An access token is revoked alone.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

void oidc_revoke_work(struct oidc_job *j)
{
    struct err e = {0};
    struct oidc_client c = {0};
    struct oidc_at at = {0};
    struct store_token rt = {0};
    oidc_reply_header(&j->reply, "Cache-Control", "no-store");
    struct store *s = store_thread(&e);
    if (s == NULL) {
        oidc_reply_failure(&j->reply, "store", &e);
        return;
    }
    if (!j->body_is_form) {
        oidc_reply_oauth_error(&j->reply, 400, "invalid_request", "send a form body");
        return;
    }
    enum oidc_client_rc crc = oidc_client_auth(j, s, &c, &e);
    if (crc != OIDC_CLIENT_OK) {
        oidc_client_reply_error(j, &c, crc, &e);
        goto done;
    }
    const char *token = oidc_param(j, "token");
    if (token == NULL || oidc_param_count(j, "token") != 1) {
        oidc_reply_oauth_error(&j->reply, 400, "invalid_request", "token is missing");
        goto done;
    }
    int rc = 0;
    if (strchr(token, '.') != NULL) {
        /* A JWT: only an active one of ours has anything left to revoke. */
        rc = oidc_access_token_check(j->o, s, token, &at, &e);
        if (rc == 0 && at.provider.id == c.p.id) {
            const char *jti = json_string_value(json_object_get(at.claims, "jti"));
            rc = store_token_revoke(s, slice_z(jti ? jti : ""), &e);
        }
    } else if (strlen(token) <= OIDC_TOKEN_MAX) {
        rc = store_token_get(s, slice_z(token), &rt, &e);
        if (rc == 0 && rt.kind == STORE_TOKEN_REFRESH && rt.provider_id == c.p.id) {
            rc = store_token_revoke_family(s, rt.id, NULL, &e);
        }
    }
    if (rc < 0) {
        oidc_reply_failure(&j->reply, "revocation", &e);
        goto done;
    }
    j->reply.status = 200;
    j->reply.content_type = NULL;
    buf_reset(&j->reply.body);
done:
    oidc_at_free(&at);
    store_token_free(&rt);
    oidc_client_free(&c);
}
