/*
 * token.c: the token endpoint (RFC 6749 3.2, 4.1.3, 4.4, 6; OIDC Core 3.1.3), on a worker.
 * Every answer carries Cache-Control: no-store and Pragma: no-cache (5.1). Errors are JSON
 * {error, error_description} with 400, or 401 for invalid_client (5.2).
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

struct tok_ctx {
    struct oidc_job *j;
    struct store *s;
    struct oidc_client client;
    struct store_app app;
    const char *grant_type;
};

static void refused_event(struct tok_ctx *c, const char *error_z)
{
    json_t *ctx = json_object();
    json_object_set_new(ctx, "client_id",
                        json_string(c->client.client_id ? c->client.client_id : ""));
    json_object_set_new(ctx, "grant_type", json_string(c->grant_type ? c->grant_type : ""));
    json_object_set_new(ctx, "error", json_string(error_z));
    oidc_event(c->j, c->s, "token_refused", NULL, c->app.slug, ctx);
}

static void refuse(struct tok_ctx *c, const char *error_z, const char *desc_z)
{
    oidc_reply_oauth_error(&c->j->reply, 400, error_z, desc_z);
    refused_event(c, error_z);
}

/* A failure of the store or of signing (500 server_error, or 503 temporarily_unavailable
 * while the store cannot be reached: then no event either, it could not be recorded). */
static void fail(struct tok_ctx *c, const char *what_z, const struct err *e)
{
    oidc_reply_failure(&c->j->reply, what_z, e);
    if (!store_unavailable(e)) {
        refused_event(c, "server_error");
    }
}

struct issued_ev {
    struct tok_ctx *c;
    const struct oidc_grant *g;
    const char *username;
};

/* The token_issued event, recorded in the transaction that records the tokens. */
static void issued_event(void *arg, struct store *s, const char *scope_z)
{
    struct issued_ev *ev = arg;
    json_t *ctx = json_object();
    json_object_set_new(ctx, "client_id", json_string(ev->c->client.p.client_id));
    json_object_set_new(ctx, "grant_type", json_string(ev->c->grant_type));
    json_object_set_new(ctx, "scope", json_string(scope_z ? scope_z : ""));
    oidc_event(ev->c->j, s, "token_issued", ev->username, ev->g->slug, ctx);
}

/* Issues, then answers (success or the failure). */
static void issue_and_reply(struct tok_ctx *c, const struct oidc_grant *g,
                            const char *refresh_value, const char *username)
{
    struct err e = {0};
    struct oidc_issued t;
    struct issued_ev ev = {.c = c, .g = g, .username = username};
    int rc = oidc_issue(c->j->o, c->s, g, &t, issued_event, &ev, &e);
    if (rc == STORE_REVOKED) {
        refuse(c, "invalid_grant", "the grant was revoked");
        return;
    }
    if (rc != 0) {
        err_prefix(&e, "for %s", c->client.p.client_id);
        fail(c, "issuing tokens", &e);
        return;
    }
    if (refresh_value != NULL) {
        t.refresh_token = xstrdup(refresh_value);
    }
    oidc_reply_json(&c->j->reply, 200, oidc_issued_json(&t));
    oidc_issued_free(&t);
}

static const char *session_amr(struct store *s, const char *session_id, int64_t *auth_time,
                               struct store_session *sess)
{
    struct err e = {0};
    if (session_id[0] != '\0' && store_session_get_by_id(s, session_id, sess, &e) == 0) {
        if (auth_time != NULL && *auth_time == 0) {
            *auth_time = sess->auth_time;
        }
        return sess->amr;
    }
    return NULL;
}

/* The user of a grant, who must still exist and be active. */
static int grant_user(struct tok_ctx *c, int64_t user_id, struct store_user *u)
{
    struct err e = {0};
    int rc = store_user_get_by_id(c->s, user_id, u, &e);
    if (rc < 0) {
        fail(c, "user", &e);
        return -1;
    }
    if (rc != 0 || !u->is_active) {
        refuse(c, "invalid_grant", "the user is unknown or inactive");
        return -1;
    }
    return 0;
}

struct take_args {
    const char *code;
    int64_t provider_id;
    struct store_code *rec;
};

/* In a batch of record.c: the code's single use shares the commit of token records. */
static int take_code(struct store *s, void *arg, struct err *e)
{
    struct take_args *a = arg;
    return store_code_take(s, slice_z(a->code), a->provider_id, a->rec, e);
}

static void grant_code(struct tok_ctx *c)
{
    struct oidc_job *j = c->j;
    struct err e = {0};
    const char *code = oidc_param(j, "code");
    const char *redirect_uri = oidc_param(j, "redirect_uri");
    const char *verifier = oidc_param(j, "code_verifier");
    struct store_code rec = {0};
    struct store_user u = {0};
    struct store_session sess = {0};
    if (code == NULL || *code == '\0' || strlen(code) > OIDC_TOKEN_MAX) {
        refuse(c, "invalid_request", "code is missing");
        return;
    }
    struct take_args ta = {.code = code, .provider_id = c->client.p.id, .rec = &rec};
    int rc = oidc_record_run(c->s, take_code, &ta, &e);
    if (rc < 0) {
        fail(c, "code", &e);
        goto done;
    }
    if (rc == STORE_REUSED) {
        /* RFC 6749 4.1.2: the store revoked every token the code issued. */
        refuse(c, "invalid_grant", "the code was already used; its tokens are revoked");
        goto done;
    }
    if (rc != 0) {
        refuse(c, "invalid_grant", "the code is unknown or expired");
        goto done;
    }
    if (redirect_uri == NULL || strcmp(redirect_uri, rec.redirect_uri) != 0) {
        refuse(c, "invalid_grant", "redirect_uri differs from the authorization request");
        goto done;
    }
    if (rec.code_challenge[0] != '\0') {
        if (!oidc_pkce_verify(rec.code_challenge_method, rec.code_challenge, verifier)) {
            refuse(c, "invalid_grant", "code_verifier does not match the code_challenge");
            goto done;
        }
    } else if (verifier != NULL || strcmp(c->client.p.client_type, "public") == 0) {
        /* A verifier for a code without challenge is a PKCE downgrade (RFC 9700 4.8.2). */
        refuse(c, "invalid_grant", "the authorization request had no code_challenge");
        goto done;
    }
    if (grant_user(c, rec.user_id, &u) != 0) {
        goto done;
    }
    unsigned scopes = 0;
    size_t unknown = 0;
    oidc_scope_parse(slice_z(rec.scope), &scopes, &unknown);
    int64_t auth_time = rec.auth_time;
    const char *amr = session_amr(c->s, rec.session_id, NULL, &sess);
    struct oidc_grant g = {
        .p = &c->client.p,
        .slug = c->app.slug,
        .user = &u,
        .scopes = scopes,
        .nonce = rec.nonce,
        .auth_time = auth_time,
        .amr = amr,
        .code_id = rec.id,
        .session_id = rec.session_id,
        .refresh = (scopes & OIDC_SCOPE_OFFLINE) != 0,
        .id_token = (scopes & OIDC_SCOPE_OPENID) != 0,
    };
    issue_and_reply(c, &g, NULL, u.username);
done:
    store_code_free(&rec);
    store_user_free(&u);
    store_session_free(&sess);
}

static void grant_refresh(struct tok_ctx *c)
{
    struct oidc_job *j = c->j;
    struct err e = {0};
    const char *rt = oidc_param(j, "refresh_token");
    const char *scope = oidc_param(j, "scope");
    struct store_token old = {0}, nt = {0};
    struct store_user u = {0};
    struct store_session sess = {0};
    char *fresh = NULL;
    struct buf sc;
    buf_init(&sc, OIDC_SCOPE_MAX);
    if (rt == NULL || *rt == '\0' || strlen(rt) > OIDC_TOKEN_MAX) {
        refuse(c, "invalid_request", "refresh_token is missing");
        goto done;
    }
    int rc = store_token_get(c->s, slice_z(rt), &old, &e);
    if (rc < 0) {
        fail(c, "refresh token", &e);
        goto done;
    }
    if (rc != 0 || old.kind != STORE_TOKEN_REFRESH || old.provider_id != c->client.p.id) {
        refuse(c, "invalid_grant", "the refresh token is unknown");
        goto done;
    }
    unsigned had = 0, want = 0;
    size_t unknown = 0;
    oidc_scope_parse(slice_z(old.scope), &had, &unknown);
    want = had;
    if (scope != NULL) {
        /* RFC 6749 6: narrower or equal, never wider. */
        if (oidc_scope_parse(slice_z(scope), &want, &unknown) != 0 || unknown > 0 ||
            (want & ~had) != 0) {
            refuse(c, "invalid_scope", "the scope is wider than the one granted");
            goto done;
        }
    }
    oidc_scope_format(want, &sc);
    fresh = oidc_random_token(OIDC_CODE_BYTES);
    int64_t rttl = c->client.p.refresh_token_validity > 0 ? c->client.p.refresh_token_validity
                                                          : OIDC_DEFAULT_REFRESH_TTL;
    rc = store_token_rotate(c->s, slice_z(rt), slice_z(fresh), c->client.p.id, sc.p,
                            util_now() + rttl, &nt, NULL, &e);
    if (rc < 0) {
        fail(c, "rotation", &e);
        goto done;
    }
    if (rc == STORE_REUSED) {
        /* RFC 9700 4.14.2: a replayed refresh token; the store revoked the family. */
        refuse(c, "invalid_grant", "the refresh token was already used; the grant is revoked");
        goto done;
    }
    if (rc != 0) {
        refuse(c, "invalid_grant", "the refresh token is expired or unknown");
        goto done;
    }
    if (grant_user(c, nt.user_id, &u) != 0) {
        goto done;
    }
    int64_t auth_time = 0;
    const char *amr = session_amr(c->s, nt.session_id, &auth_time, &sess);
    struct oidc_grant g = {
        .p = &c->client.p,
        .slug = c->app.slug,
        .user = &u,
        .scopes = want,
        .auth_time = auth_time,
        .amr = amr,
        .code_id = nt.code_id,
        .session_id = nt.session_id,
        .refresh = false, /* the rotation recorded it */
        .id_token = (want & OIDC_SCOPE_OPENID) != 0,
    };
    issue_and_reply(c, &g, fresh, u.username);
done:
    util_free_secret(fresh);
    buf_free(&sc);
    store_token_free(&old);
    store_token_free(&nt);
    store_user_free(&u);
    store_session_free(&sess);
}

/* RFC 6749 4.4. The token's subject is the client itself (Authentik uses a service account;
 * Postern has none): sub = client_id, no ID token, no refresh token. */
static void grant_client_credentials(struct tok_ctx *c)
{
    if (strcmp(c->client.p.client_type, "public") == 0) {
        refuse(c, "unauthorized_client", "public clients cannot use client_credentials");
        return;
    }
    unsigned want = 0;
    size_t unknown = 0;
    const char *scope = oidc_param(c->j, "scope");
    if (scope != NULL && oidc_scope_parse(slice_z(scope), &want, &unknown) != 0) {
        refuse(c, "invalid_scope", "scope is malformed");
        return;
    }
    struct oidc_grant g = {
        .p = &c->client.p,
        .slug = c->app.slug,
        .scopes = want & ~(unsigned)OIDC_SCOPE_OFFLINE,
        .code_id = "",
        .session_id = "",
    };
    issue_and_reply(c, &g, NULL, NULL);
}

static const char *const token_params[] = {"grant_type",    "code",          "redirect_uri",
                                           "code_verifier", "refresh_token", "scope"};

void oidc_token_work(struct oidc_job *j)
{
    struct err e = {0};
    struct tok_ctx c = {.j = j};
    oidc_reply_header(&j->reply, "Cache-Control", "no-store");
    oidc_reply_header(&j->reply, "Pragma", "no-cache");
    c.s = store_thread(&e);
    if (c.s == NULL) {
        oidc_reply_failure(&j->reply, "store", &e);
        return;
    }
    c.grant_type = oidc_param(j, "grant_type");
    if (!j->body_is_form || j->query_nonempty) {
        oidc_reply_oauth_error(&j->reply, 400, "invalid_request",
                               "send the parameters as an application/x-www-form-urlencoded "
                               "body, not in the query");
        return;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(token_params); i++) {
        if (oidc_param_count(j, token_params[i]) > 1) {
            oidc_reply_oauth_error(&j->reply, 400, "invalid_request", "a parameter is repeated");
            return;
        }
    }
    enum oidc_client_rc crc = oidc_client_auth(j, c.s, &c.client, &e);
    if (crc == OIDC_CLIENT_ERROR) {
        fail(&c, "client", &e);
        goto done;
    }
    if (crc != OIDC_CLIENT_OK) {
        oidc_client_reply_error(j, &c.client, crc, &e);
        json_t *ctx = json_object();
        json_object_set_new(ctx, "client_id",
                            json_string(c.client.client_id ? c.client.client_id : ""));
        json_object_set_new(ctx, "error", json_string("invalid_client"));
        oidc_event(j, c.s, "token_refused", NULL, NULL, ctx);
        goto done;
    }
    int rc = oidc_client_app(c.s, &c.client.p, &c.app, &e);
    if (rc < 0) {
        fail(&c, "application", &e);
        goto done;
    }
    if (rc != 0) {
        refuse(&c, "unauthorized_client", "the client has no application");
        goto done;
    }
    if (c.grant_type == NULL) {
        refuse(&c, "invalid_request", "grant_type is missing");
    } else if (strcmp(c.grant_type, "authorization_code") == 0) {
        grant_code(&c);
    } else if (strcmp(c.grant_type, "refresh_token") == 0) {
        grant_refresh(&c);
    } else if (strcmp(c.grant_type, "client_credentials") == 0) {
        grant_client_credentials(&c);
    } else {
        refuse(&c, "unsupported_grant_type", NULL);
    }
done:
    oidc_client_free(&c.client);
    store_app_free(&c.app);
}
