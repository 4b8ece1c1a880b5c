/*
 * issue.c: minting the tokens of a grant, on a worker. The access token is a JWT (RFC 9068,
 * typ at+jwt) recorded by its jti, the ID token is signed by the provider's key with its kid
 * and carries at_hash, the refresh token is opaque and recorded hashed by the store. Every
 * record carries the code it descends from, so that a replayed code revokes them all.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"
#include "keys/keys.h"

#include <stdio.h>
#include <string.h>

void oidc_strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

int oidc_user_groups(struct store *s, int64_t user_id, char ***names, size_t *n, struct err *e)
{
    struct store_group_list gl = {0};
    *names = NULL;
    *n = 0;
    if (store_user_groups(s, user_id, &gl, e) != 0) {
        return -1;
    }
    *names = xcalloc(gl.n + 1, sizeof **names);
    for (size_t i = 0; i < gl.n; i++) {
        (*names)[i] = xstrdup(gl.v[i].name);
    }
    *n = gl.n;
    store_group_list_free(&gl);
    return 0;
}

void oidc_issued_free(struct oidc_issued *t)
{
    util_free_secret(t->access_token);
    util_free_secret(t->id_token);
    util_free_secret(t->refresh_token);
    free(t->scope);
    memset(t, 0, sizeof *t);
}

json_t *oidc_issued_json(const struct oidc_issued *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "access_token", json_string(t->access_token));
    json_object_set_new(j, "token_type", json_string("Bearer"));
    json_object_set_new(j, "expires_in", json_integer(t->expires_in));
    if (t->scope != NULL && *t->scope != '\0') {
        json_object_set_new(j, "scope", json_string(t->scope));
    }
    if (t->id_token != NULL) {
        json_object_set_new(j, "id_token", json_string(t->id_token));
    }
    if (t->refresh_token != NULL) {
        json_object_set_new(j, "refresh_token", json_string(t->refresh_token));
    }
    return j;
}

static char *sign_claims(struct oidc *o, const char *kid, const char *typ, json_t *claims,
                         struct err *e)
{
    char *payload = claims ? util_json_dump(claims) : NULL;
    json_decref(claims);
    if (payload == NULL) {
        err_set(e, 0, "claims could not be serialised");
        return NULL;
    }
    char *tok = keys_jws_sign(o->idp->keys, kid, typ, slice_z(payload), e);
    free(payload);
    return tok;
}

static char *id_token(struct oidc *o, struct store *s, const struct oidc_grant *g,
                      const struct keys_info *ki, const char *iss, const char *sub, int64_t now,
                      int64_t exp, const char *access_token, struct err *e)
{
    char **groups = NULL;
    size_t ngroups = 0;
    bool with_claims = g->p->include_claims_in_id_token;
    if (with_claims && (g->scopes & OIDC_SCOPE_PROFILE) &&
        oidc_user_groups(s, g->user->id, &groups, &ngroups, e) != 0) {
        return NULL;
    }
    char *at_hash = oidc_token_hash(access_token, ki->alg);
    struct oidc_id_token_in in = {
        .iss = iss,
        .sub = sub,
        .client_id = g->p->client_id,
        .iat = now,
        .exp = exp,
        .auth_time = g->auth_time,
        .nonce = g->nonce,
        .at_hash = at_hash,
        .amr_json = g->amr,
        .scopes = g->scopes,
        .include_claims = with_claims,
        .user = g->user,
        .groups = (const char *const *)groups,
        .ngroups = ngroups,
    };
    char *tok = sign_claims(o, ki->kid, "JWT", oidc_id_token_claims(&in), e);
    free(at_hash);
    oidc_strv_free(groups);
    return tok;
}

int oidc_issue(struct oidc *o, struct store *s, const struct oidc_grant *g, struct oidc_issued *out,
               oidc_issue_tx_fn in_tx, void *arg, struct err *e)
{
    memset(out, 0, sizeof *out);
    struct keys_info ki;
    if (oidc_provider_key(o, s, g->p, &ki, e) != 0) {
        return -1;
    }
    int rc = -1;
    char *iss = oidc_issuer(o->idp->cfg.public_url, g->slug);
    char *sub =
        g->user ? oidc_sub(g->p->sub_mode, g->user, o->install_id) : xstrdup(g->p->client_id);
    char *jti = oidc_random_token(OIDC_JTI_BYTES);
    struct buf scope;
    buf_init(&scope, OIDC_SCOPE_MAX);
    oidc_scope_format(g->scopes, &scope);
    out->scope = buf_steal(&scope, NULL);
    int64_t now = util_now();
    int64_t ttl =
        g->p->access_token_validity > 0 ? g->p->access_token_validity : OIDC_DEFAULT_ACCESS_TTL;
    out->expires_in = ttl;
    if (g->refresh) {
        out->refresh_token = oidc_random_token(OIDC_CODE_BYTES);
    }
    /* The records go to the queue first and are committed while the tokens are signed
     * (record.c); the answer waits for them. */
    struct oidc_rec rec = {
        .g = g,
        .scope = out->scope,
        .jti = jti,
        .refresh_token = out->refresh_token,
        .access_exp = now + ttl,
        .in_tx = in_tx,
        .arg = arg,
    };
    oidc_record_queue(&rec);
    struct oidc_access_token_in at = {
        .iss = iss,
        .sub = sub,
        .client_id = g->p->client_id,
        .jti = jti,
        .iat = now,
        .exp = now + ttl,
        .auth_time = g->auth_time,
        .scope = out->scope,
    };
    char *access = sign_claims(o, ki.kid, OIDC_AT_TYP, oidc_access_token_claims(&at), e);
    char *idt = NULL;
    if (access != NULL && g->id_token) {
        idt = id_token(o, s, g, &ki, iss, sub, now, now + ttl, access, e);
    }
    if (access == NULL || (g->id_token && idt == NULL)) {
        /* Taken out of the queue unless a batch took it: then its rows stand for tokens
         * nobody received (and nobody can use). */
        oidc_record_cancel(&rec);
        util_free_secret(access);
        goto done;
    }
    rc = oidc_record_finish(&rec, s, e);
    out->access_token = access;
    out->id_token = idt;
done:
    if (rc != 0) {
        oidc_issued_free(out);
    }
    free(iss);
    free(sub);
    util_free_secret(jti);
    return rc;
}
