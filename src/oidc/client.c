/*
 * client.c: authenticating the client at the token, introspection and revocation endpoints
 * (RFC 6749 2.3.1): client_secret_basic or client_secret_post, never both (2.3: "MUST NOT
 * use more than one authentication method in each request"); a public client sends only its
 * client_id (and must then prove the code with PKCE). Secrets are compared in constant time.
 */
#include "oidc/oidc_int.h"

#include <string.h>

void oidc_client_free(struct oidc_client *c)
{
    store_provider_free(&c->p);
    free(c->client_id);
    c->client_id = NULL;
}

static bool is_basic(const char *authz_z)
{
    return authz_z != NULL && strlen(authz_z) >= 6 &&
           slice_case_eq_z((struct slice){authz_z, 6}, "basic ");
}

enum oidc_client_rc oidc_client_auth(struct oidc_job *j, struct store *s, struct oidc_client *c,
                                     struct err *e)
{
    memset(c, 0, sizeof *c);
    if (oidc_param_count(j, "client_id") > 1 || oidc_param_count(j, "client_secret") > 1) {
        return OIDC_CLIENT_BAD_REQUEST;
    }
    const char *body_id = oidc_param(j, "client_id");
    const char *body_secret = oidc_param(j, "client_secret");
    char *id = NULL;
    char *secret = NULL;
    enum oidc_client_rc rc = OIDC_CLIENT_INVALID;
    if (is_basic(j->authorization)) {
        c->used_basic = true;
        if (body_secret != NULL) {
            return OIDC_CLIENT_BAD_REQUEST;
        }
        if (oidc_basic_decode(slice_z(j->authorization), &id, &secret) != 0) {
            return OIDC_CLIENT_INVALID;
        }
        if (body_id != NULL && strcmp(body_id, id) != 0) {
            goto done; /* two different identities */
        }
    } else {
        if (body_id == NULL || *body_id == '\0') {
            return OIDC_CLIENT_INVALID;
        }
        id = xstrdup(body_id);
        secret = body_secret ? xstrdup(body_secret) : NULL;
    }
    c->client_id = xstrndup(id, strnlen(id, OIDC_CLIENT_ID_MAX)); /* for events: bounded */
    if (strlen(id) > OIDC_CLIENT_ID_MAX) {
        goto done;
    }
    int r = oidc_client_lookup(s, id, &c->p, e);
    if (r == STORE_NOT_FOUND) {
        goto done;
    }
    if (r != 0) {
        rc = OIDC_CLIENT_ERROR;
        goto done;
    }
    if (strcmp(c->p.client_type, "public") == 0) {
        rc = OIDC_CLIENT_OK;
        goto done;
    }
    const char *want = c->p.client_secret ? c->p.client_secret : "";
    if (secret != NULL && *want != '\0' &&
        util_ct_equal(secret, strlen(secret), want, strlen(want))) {
        rc = OIDC_CLIENT_OK;
    }
done:
    if (rc != OIDC_CLIENT_OK) {
        store_provider_free(&c->p);
    }
    free(id);
    util_free_secret(secret);
    return rc;
}

void oidc_client_reply_error(struct oidc_job *j, const struct oidc_client *c,
                             enum oidc_client_rc rc, const struct err *e)
{
    switch (rc) {
    case OIDC_CLIENT_BAD_REQUEST:
        oidc_reply_oauth_error(&j->reply, 400, "invalid_request",
                               "use exactly one client authentication method");
        break;
    case OIDC_CLIENT_ERROR:
        oidc_reply_failure(&j->reply, "client", e);
        break;
    default:
        /* RFC 6749 5.2: 401, with WWW-Authenticate when the client used the header. */
        if (c->used_basic) {
            oidc_reply_header(&j->reply, "WWW-Authenticate", "Basic realm=\"postern\"");
        }
        oidc_reply_oauth_error(&j->reply, 401, "invalid_client", "client authentication failed");
        break;
    }
}
