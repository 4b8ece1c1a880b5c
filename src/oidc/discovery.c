/*
 * discovery.c: the OpenID Provider Metadata of one application (OpenID Connect Discovery 1.0
 * section 3, RFC 8414), at Authentik's URLs. The endpoints are shared by every application;
 * the issuer, the JWKS and the end-session endpoint are per slug.
 */
#include "oidc/oidc.h"

#include <jansson.h>

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

#define STRINGS(...)                                                                               \
    strings((const char *const[]){__VA_ARGS__},                                                    \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void set_url(json_t *d, const char *key, const char *base, const char *path)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "%s%s", base, path);
    json_object_set_new(d, key, json_string(b.p ? b.p : ""));
    buf_free(&b);
}

json_t *oidc_discovery_json(const char *public_url_z, const char *slug_z, enum jose_alg alg)
{
    char *iss = oidc_issuer(public_url_z, slug_z);
    json_t *d = json_object();
    json_object_set_new(d, "issuer", json_string(iss));
    set_url(d, "authorization_endpoint", public_url_z, OIDC_PREFIX "authorize/");
    set_url(d, "token_endpoint", public_url_z, OIDC_PREFIX "token/");
    set_url(d, "userinfo_endpoint", public_url_z, OIDC_PREFIX "userinfo/");
    set_url(d, "end_session_endpoint", iss, "end-session/");
    set_url(d, "introspection_endpoint", public_url_z, OIDC_PREFIX "introspect/");
    set_url(d, "revocation_endpoint", public_url_z, OIDC_PREFIX "revoke/");
    set_url(d, "jwks_uri", iss, "jwks/");
    json_object_set_new(d, "response_types_supported", STRINGS("code"));
    json_object_set_new(d, "response_modes_supported", STRINGS("query", "form_post"));
    json_object_set_new(d, "grant_types_supported",
                        STRINGS("authorization_code", "refresh_token", "client_credentials"));
    json_object_set_new(d, "subject_types_supported", STRINGS("public"));
    const char *an = jose_alg_name(alg);
    json_object_set_new(d, "id_token_signing_alg_values_supported", STRINGS(an ? an : "RS256"));
    json_object_set_new(d, "scopes_supported",
                        STRINGS("openid", "email", "profile", "offline_access"));
    json_object_set_new(d, "token_endpoint_auth_methods_supported",
                        STRINGS("client_secret_basic", "client_secret_post"));
    json_object_set_new(d, "introspection_endpoint_auth_methods_supported",
                        STRINGS("client_secret_basic", "client_secret_post"));
    json_object_set_new(d, "revocation_endpoint_auth_methods_supported",
                        STRINGS("client_secret_basic", "client_secret_post"));
    json_object_set_new(d, "acr_values_supported", STRINGS(OIDC_ACR));
    json_object_set_new(d, "claims_supported",
                        STRINGS("sub", "iss", "aud", "azp", "exp", "iat", "auth_time", "nonce",
                                "at_hash", "acr", "amr", "email", "email_verified", "name",
                                "given_name", "preferred_username", "nickname", "groups"));
    json_object_set_new(d, "code_challenge_methods_supported", STRINGS("S256", "plain"));
    json_object_set_new(d, "prompt_values_supported",
                        STRINGS("none", "login", "consent", "select_account"));
    json_object_set_new(d, "claims_parameter_supported", json_false());
    json_object_set_new(d, "request_parameter_supported", json_false());
    json_object_set_new(d, "request_uri_parameter_supported", json_false());
    json_object_set_new(d, "authorization_response_iss_parameter_supported", json_true());
    free(iss);
    return d;
}
