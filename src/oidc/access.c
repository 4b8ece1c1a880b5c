/*
 * access.c: is this bearer token one of our access tokens, still valid? The signature is
 * checked with our own keys (the algorithm fixed by the key), the header must say typ
 * at+jwt (RFC 9068 4: an ID token, also signed by us, is not an access token), the claims
 * iss / aud / exp / iat must be right, and the store must know the jti as an active access
 * token of the client named in the token (revocation, RFC 7009 / 7662).
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"
#include "keys/keys.h"

#include <string.h>

void oidc_at_free(struct oidc_at *a)
{
    json_decref(a->claims);
    a->claims = NULL;
    store_token_free(&a->rec);
    store_provider_free(&a->provider);
}

static bool typ_is_at(struct slice token)
{
    struct jose_jws jws;
    struct err e = {0};
    bool ok = false;
    if (jose_jws_parse(token, &jws, &e) == 0) {
        const char *typ = json_string_value(json_object_get(jws.header, "typ"));
        /* RFC 9068 4: "at+jwt", or its media type spelling. */
        ok = typ != NULL &&
             (strcmp(typ, OIDC_AT_TYP) == 0 || strcmp(typ, "application/at+jwt") == 0);
    }
    jose_jws_free(&jws);
    return ok;
}

int oidc_access_token_check(struct oidc *o, struct store *s, const char *token_z,
                            struct oidc_at *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    struct slice tok = slice_z(token_z);
    if (tok.n == 0 || tok.n > OIDC_TOKEN_MAX || !typ_is_at(tok)) {
        return 1;
    }
    struct jose_jwks *ks = keys_jwks(o->idp->keys, e);
    if (ks == NULL) {
        return -1;
    }
    struct jose_jwt_expect x = {.leeway = OIDC_JWT_LEEWAY};
    struct err ve = {0};
    int rc = jose_jwt_verify(tok, ks, &x, &out->claims, &ve);
    jose_jwks_free(ks);
    if (rc != 0) {
        return 1;
    }
    rc = 1;
    const char *iss = json_string_value(json_object_get(out->claims, "iss"));
    const char *client_id = json_string_value(json_object_get(out->claims, "client_id"));
    const char *aud = json_string_value(json_object_get(out->claims, "aud"));
    const char *jti = json_string_value(json_object_get(out->claims, "jti"));
    char slug[OIDC_SLUG_MAX + 1];
    if (iss == NULL || client_id == NULL || aud == NULL || jti == NULL ||
        strcmp(aud, client_id) != 0 ||
        oidc_issuer_slug(o->idp->cfg.public_url, iss, slug, sizeof slug) != 0) {
        goto done;
    }
    struct store_app app = {0};
    int r = store_provider_get_by_client_id(s, client_id, &out->provider, e);
    if (r == 0) {
        r = store_app_get_by_provider(s, out->provider.id, &app, e);
    }
    bool same_app = r == 0 && strcmp(app.slug, slug) == 0;
    store_app_free(&app);
    if (r < 0) {
        rc = -1;
        goto done;
    }
    if (!same_app) {
        goto done;
    }
    r = store_token_get(s, slice_z(jti), &out->rec, e);
    if (r < 0) {
        rc = -1;
        goto done;
    }
    if (r == 0 && out->rec.kind == STORE_TOKEN_ACCESS && out->rec.provider_id == out->provider.id &&
        store_token_active(&out->rec)) {
        rc = 0;
    }
done:
    if (rc != 0) {
        oidc_at_free(out);
    }
    return rc;
}
