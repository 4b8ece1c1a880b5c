/*
 * session.c: IdP sessions. The cookie carries 32 random bytes (base64url); the store keeps
 * only their SHA-256 (store.h), so a copy of the database opens no session. The cookie is
 * HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it; top-level
 * navigations from a relying party still do, which the OIDC flow needs) and Secure unless
 * the IdP is served over plain http (RFC 6265 sections 4.1.2.5, 4.1.2.6; RFC 6265bis 5.4.7).
 */
#include "idp/idp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDP_COOKIE_HEADER_MAX 512

void idp_auth_free(struct idp_auth *a)
{
    if (a == NULL) {
        return;
    }
    store_session_free(&a->session);
    store_user_free(&a->user);
}

bool idp_token_shape_ok(struct slice v)
{
    if (v.n != IDP_TOKEN_CHARS) {
        return false;
    }
    for (size_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int idp_auth_from_cookie(struct idp *idp, struct store *s, struct slice cookie_value,
                         struct idp_auth *out, struct err *e)
{
    idp_auth_free(out);
    if (!idp_token_shape_ok(cookie_value)) {
        return STORE_NOT_FOUND;
    }
    int rc = store_session_get(s, cookie_value, &out->session, e);
    if (rc != 0) {
        return rc;
    }
    rc = store_user_get_by_id(s, out->session.user_id, &out->user, e);
    if (rc == 0 && !out->user.is_active) {
        rc = STORE_NOT_FOUND; /* a deactivated user has no valid session */
    }
    if (rc != 0) {
        idp_auth_free(out);
    }
    return rc;
}

int idp_session_create(struct idp *idp, struct store *s, int64_t user_id, const char *amr_json_z,
                       const char *client_ip_z, const char *user_agent_z, char **token_out,
                       struct store_session *out, struct err *e)
{
    char *token = util_random_token(IDP_TOKEN_BYTES);
    char ua[IDP_USER_AGENT_MAX + 1];
    snprintf(ua, sizeof ua, "%s", user_agent_z ? user_agent_z : "");
    int64_t now = util_now();
    struct store_session x = {
        .user_id = user_id,
        .expires_at = now + idp->cfg.session_lifetime,
        .auth_time = now,
        .amr = (char *)(amr_json_z ? amr_json_z : "[]"),
        .client_ip = (char *)(client_ip_z ? client_ip_z : ""),
        .user_agent = ua,
    };
    if (store_session_create(s, slice_z(token), &x, e) != 0) {
        util_free_secret(token);
        return -1;
    }
    if (out != NULL) {
        store_session_free(out);
        *out = x;
        out->amr = xstrdup(x.amr);
        out->client_ip = xstrdup(x.client_ip);
        out->user_agent = xstrdup(x.user_agent);
    }
    *token_out = token;
    return 0;
}

char *idp_session_cookie(const struct idp *idp, const char *token_z)
{
    struct buf b;
    buf_init(&b, IDP_COOKIE_HEADER_MAX);
    buf_printf(&b, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s", IDP_SESSION_COOKIE,
               token_z, (long long)idp->cfg.session_lifetime,
               idp->cfg.cookie_secure ? "; Secure" : "");
    return buf_steal(&b, NULL);
}

char *idp_session_cookie_clear(const struct idp *idp)
{
    struct buf b;
    buf_init(&b, IDP_COOKIE_HEADER_MAX);
    buf_printf(&b, "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s", IDP_SESSION_COOKIE,
               idp->cfg.cookie_secure ? "; Secure" : "");
    return buf_steal(&b, NULL);
}

int idp_logout(struct idp *idp, struct store *s, struct slice cookie_value, const char *client_ip_z,
               struct err *e)
{
    struct idp_auth a = {0};
    int rc = idp_auth_from_cookie(idp, s, cookie_value, &a, e);
    if (rc == STORE_NOT_FOUND && idp_token_shape_ok(cookie_value)) {
        /* The session of an inactive user is not "valid", but it still goes. */
        struct store_session x = {0};
        if (store_session_get(s, cookie_value, &x, e) == 0) {
            store_session_delete(s, x.id, e);
        }
        store_session_free(&x);
    }
    if (rc != 0) {
        return rc;
    }
    rc = store_session_delete(s, a.session.id, e);
    if (rc == 0) {
        idp_event(s, "logout", a.user.username, client_ip_z, NULL, NULL);
    }
    idp_auth_free(&a);
    return rc < 0 ? -1 : rc;
}
