/*
 * introspect.c: token introspection (RFC 7662), for the client the token was issued to.
 * Another client's token, an unknown, expired, rotated or revoked one: {"active": false},
 * nothing more (2.2: no hint why).
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

static void inactive(struct oidc_job *j)
{
    json_t *b = json_object();
    json_object_set_new(b, "active", json_false());
    oidc_reply_json(&j->reply, 200, b);
}

static bool looks_like_jwt(const char *t)
{
    const char *d1 = strchr(t, '.');
    return d1 != NULL && strchr(d1 + 1, '.') != NULL;
}

/* A user's token is active only while its user exists and is active (client_credentials
 * tokens have no user): userinfo and the token endpoint refuse a deactivated user's tokens,
 * and a resource server asking here must not be told otherwise. 1, 0, or -1 on error. */
static int token_user_ok(struct store *s, int64_t user_id, struct err *e)
{
    if (user_id == 0) {
        return 1;
    }
    struct store_user u = {0};
    int rc = store_user_get_by_id(s, user_id, &u, e);
    bool active = rc == 0 && u.is_active;
    store_user_free(&u);
    return rc < 0 ? -1 : active;
}

/* The common members of an active answer. */
static json_t *active_body(struct oidc_job *j, struct store *s, const struct store_token *t,
                           const struct store_provider *p, const char *slug)
{
    struct err e = {0};
    struct store_user u = {0};
    json_t *b = json_object();
    json_object_set_new(b, "active", json_true());
    json_object_set_new(b, "scope", json_string(t->scope));
    json_object_set_new(b, "client_id", json_string(p->client_id));
    if (t->user_id != 0 && store_user_get_by_id(s, t->user_id, &u, &e) == 0) {
        char *sub = oidc_sub(p->sub_mode, &u, j->o->install_id);
        json_object_set_new(b, "username", json_string(u.username));
        json_object_set_new(b, "sub", json_string(sub));
        free(sub);
    } else {
        json_object_set_new(b, "sub", json_string(p->client_id));
    }
    json_object_set_new(b, "token_type",
                        json_string(t->kind == STORE_TOKEN_ACCESS ? "Bearer" : "refresh_token"));
    json_object_set_new(b, "exp", json_integer(t->expires_at));
    json_object_set_new(b, "iat", json_integer(t->created_at));
    json_object_set_new(b, "aud", json_string(p->client_id));
    char *iss = oidc_issuer(j->o->idp->cfg.public_url, slug);
    json_object_set_new(b, "iss", json_string(iss));
    free(iss);
    store_user_free(&u);
    return b;
}

void oidc_introspect_work(struct oidc_job *j)
{
    struct err e = {0};
    struct oidc_client c = {0};
    struct oidc_at at = {0};
    struct store_token rt = {0};
    struct store_app app = {0};
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
    int rc = store_app_get_by_provider(s, c.p.id, &app, &e);
    if (rc < 0) {
        /* Not "inactive": a resource server would refuse a valid token for good. */
        oidc_reply_failure(&j->reply, "introspection", &e);
        goto done;
    }
    if (rc != 0) {
        inactive(j);
        goto done;
    }
    if (looks_like_jwt(token)) {
        rc = oidc_access_token_check(j->o, s, token, &at, &e);
        if (rc == 0 && at.provider.id == c.p.id) {
            int ok = token_user_ok(s, at.rec.user_id, &e);
            rc = ok < 0 ? -1 : ok ? 0 : 1;
        }
        if (rc == 0 && at.provider.id == c.p.id) {
            json_t *b = active_body(j, s, &at.rec, &c.p, app.slug);
            const char *jti = json_string_value(json_object_get(at.claims, "jti"));
            json_object_set_new(b, "jti", json_string(jti ? jti : ""));
            oidc_reply_json(&j->reply, 200, b);
            goto done;
        }
    } else {
        rc = strlen(token) <= OIDC_TOKEN_MAX ? store_token_get(s, slice_z(token), &rt, &e) : 1;
        if (rc == 0 && rt.kind == STORE_TOKEN_REFRESH && rt.provider_id == c.p.id &&
            store_token_active(&rt)) {
            int ok = token_user_ok(s, rt.user_id, &e);
            if (ok > 0) {
                oidc_reply_json(&j->reply, 200, active_body(j, s, &rt, &c.p, app.slug));
                goto done;
            }
            rc = ok < 0 ? -1 : 1;
        }
    }
    if (rc < 0) {
        oidc_reply_failure(&j->reply, "introspection", &e);
        goto done;
    }
    inactive(j);
done:
    oidc_at_free(&at);
    store_token_free(&rt);
    store_app_free(&app);
    oidc_client_free(&c);
}
