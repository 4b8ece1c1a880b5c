/*
 * Unit tests of src/oidc/discovery.c: the provider metadata of one application.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "oidc/oidc.h"

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool has(const json_t *o, const char *k, const char *v)
{
    const json_t *a = json_object_get(o, k);
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
        if (strcmp(json_string_value(json_array_get(a, i)), v) == 0) {
            return true;
        }
    }
    return false;
}

static void test_fields(void **state)
{
    (void)state;
    json_t *d = oidc_discovery_json("http://auth.localhost:9000", "cloudflare", JOSE_ALG_RS256);
    assert_string_equal(str(d, "issuer"), "http://auth.localhost:9000/application/o/cloudflare/");
    assert_string_equal(str(d, "authorization_endpoint"),
                        "http://auth.localhost:9000/application/o/authorize/");
    assert_string_equal(str(d, "token_endpoint"),
                        "http://auth.localhost:9000/application/o/token/");
    assert_string_equal(str(d, "userinfo_endpoint"),
                        "http://auth.localhost:9000/application/o/userinfo/");
    assert_string_equal(str(d, "introspection_endpoint"),
                        "http://auth.localhost:9000/application/o/introspect/");
    assert_string_equal(str(d, "revocation_endpoint"),
                        "http://auth.localhost:9000/application/o/revoke/");
    assert_string_equal(str(d, "jwks_uri"),
                        "http://auth.localhost:9000/application/o/cloudflare/jwks/");
    assert_string_equal(str(d, "end_session_endpoint"),
                        "http://auth.localhost:9000/application/o/cloudflare/end-session/");
    assert_true(has(d, "response_types_supported", "code"));
    assert_int_equal(json_array_size(json_object_get(d, "response_types_supported")), 1);
    assert_true(has(d, "response_modes_supported", "query"));
    assert_true(has(d, "response_modes_supported", "form_post"));
    assert_true(has(d, "grant_types_supported", "authorization_code"));
    assert_true(has(d, "grant_types_supported", "refresh_token"));
    assert_true(has(d, "grant_types_supported", "client_credentials"));
    assert_true(has(d, "subject_types_supported", "public"));
    assert_true(has(d, "id_token_signing_alg_values_supported", "RS256"));
    assert_true(has(d, "scopes_supported", "openid"));
    assert_true(has(d, "scopes_supported", "offline_access"));
    assert_true(has(d, "token_endpoint_auth_methods_supported", "client_secret_basic"));
    assert_true(has(d, "token_endpoint_auth_methods_supported", "client_secret_post"));
    assert_true(has(d, "code_challenge_methods_supported", "S256"));
    assert_true(has(d, "code_challenge_methods_supported", "plain"));
    assert_true(has(d, "claims_supported", "email_verified"));
    assert_true(has(d, "claims_supported", "groups"));
    assert_true(json_is_false(json_object_get(d, "request_parameter_supported")));
    assert_true(json_is_false(json_object_get(d, "request_uri_parameter_supported")));
    assert_true(json_is_true(json_object_get(d, "authorization_response_iss_parameter_supported")));
    json_decref(d);

    d = oidc_discovery_json("https://sso.example.com", "app_2", JOSE_ALG_ES256);
    assert_true(has(d, "id_token_signing_alg_values_supported", "ES256"));
    assert_false(has(d, "id_token_signing_alg_values_supported", "RS256"));
    assert_string_equal(str(d, "issuer"), "https://sso.example.com/application/o/app_2/");
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
