/*
 * Unit tests of src/access/json.c: the normalised JSON the store keeps. parse -> JSON ->
 * parse gives the same structs and the same JSON; defaults are written out; the display form
 * has no client_secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "fixture.h"

static json_t *normalised(const json_t *in, bool with_secrets)
{
    struct access_config c;
    struct access_err ae = {0};
    if (access_config_parse(in, "access", &c, &ae) != 0) {
        fail_msg("%s: %s", ae.field, ae.msg);
    }
    json_t *out = access_config_to_json(&c, with_secrets);
    access_config_free(&c);
    return out;
}

/* Everything the model can hold, in unusual spellings. */
static json_t *rich_fixture(void)
{
    json_t *j = fixture_json();
    fixture_set(j, "team_domain", "\"HTTPS://Team.Example.com:8443/\"");
    fixture_set(j, "identity_providers/0/issuer", "\"https://auth.example.com/application/o/cf/\"");
    fixture_set(j, "identity_providers/0/scopes", "[\"openid\", \"email\", \"groups\"]");
    fixture_set(j, "identity_providers/0/ca_file", "\"/etc/ssl/ca.pem\"");
    fixture_set(j, "identity_providers/0/pkce_enabled", "false");
    fixture_set(j, "applications/0/session_duration", "5400");
    fixture_set(j, "applications/0/aud", "\"aud-tag_1.x~\"");
    fixture_set(j, "applications/0/same_site", "\"strict\"");
    fixture_set(j, "applications/1/domain", "\"*.Example.com/Admin/\"");
    fixture_set(j, "applications/1/session_duration", "\"7d\"");
    fixture_set(j, "applications/1/policies/2",
                "{\"name\": \"rest\", \"action\": \"block\", \"include\": ["
                "{\"email_domains\": [\"Example.ORG\"]},"
                "{\"oidc_claim\": {\"name\": \"dept\", \"value\": \"R&D\"}},"
                "{\"service_token\": [\"ci\"]}, {\"any_service_token\": true},"
                "{\"ip_ranges\": [\"2001:DB8:0::/48\", \"0.0.0.0/0\"]},"
                "{\"emails\": [\"Bob@Example.com\"]}]}");
    fixture_set(j, "applications/1/policies/3",
                "{\"name\": \"svc\", \"action\": \"service_auth\", \"include\": "
                "[{\"everyone\": true}]}");
    return j;
}

static void test_round_trip(void **state)
{
    (void)state;
    json_t *srcs[] = {fixture_json(), rich_fixture()};
    for (size_t i = 0; i < 2; i++) {
        json_t *once = normalised(srcs[i], true);
        json_t *twice = normalised(once, true);
        if (!json_equal(once, twice)) {
            char *a = util_json_dump(once);
            char *b = util_json_dump(twice);
            fail_msg("not stable:\n%s\n%s", a, b);
        }
        /* And byte for byte (key order included): what the store compares. */
        char *a = util_json_dump(once);
        char *b = util_json_dump(twice);
        assert_string_equal(a, b);
        free(a);
        free(b);
        json_decref(once);
        json_decref(twice);
        json_decref(srcs[i]);
    }
}

static void test_normal_form(void **state)
{
    (void)state;
    json_t *src = rich_fixture();
    json_t *n = normalised(src, true);
    json_decref(src);
    char *s = util_json_dump(fixture_get(n, "team_domain"));
    assert_string_equal(s, "\"https://team.example.com:8443\"");
    free(s);
    /* Defaults written out. */
    json_t *idp = fixture_get(n, "identity_providers/1");
    s = util_json_dump(idp);
    assert_string_equal(s, "{\"name\":\"Other\",\"type\":\"oidc\",\"client_id\":\"other\","
                           "\"client_secret\":\"other-secret\",\"discovery_url\":"
                           "\"https://idp.example.com/.well-known/openid-configuration\","
                           "\"pkce_enabled\":true,\"email_claim_name\":\"email\",\"scopes\":"
                           "[\"openid\",\"email\",\"profile\"],\"claims\":[\"groups\"]}");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/0"));
    assert_string_equal(s, "{\"name\":\"myapp\",\"domain\":\"service.localhost\",\"origin\":"
                           "\"http://127.0.0.1:8081\",\"session_duration\":\"90m\","
                           "\"identity_providers\":[\"Authentik\"],\"instant_auth\":true,"
                           "\"same_site\":\"strict\",\"http_only_cookie\":true,\"aud\":"
                           "\"aud-tag_1.x~\",\"policies\":[{\"name\":\"allow\",\"action\":"
                           "\"allow\",\"include\":[{\"everyone\":true}],\"require\":[],"
                           "\"exclude\":[]}]}");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/1/domain"));
    assert_string_equal(s, "\"*.example.com/Admin\"");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/1/session_duration"));
    assert_string_equal(s, "\"168h\"");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/1/policies/2/include"));
    assert_string_equal(s, "[{\"email_domains\":[\"example.org\"]},{\"oidc_claim\":{\"name\":"
                           "\"dept\",\"value\":\"R&D\"}},{\"service_token\":[\"ci\"]},"
                           "{\"any_service_token\":true},{\"ip_ranges\":[\"2001:db8::/48\","
                           "\"0.0.0.0/0\"]},{\"emails\":[\"bob@example.com\"]}]");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/1/policies/0/include/0/ip_ranges"));
    assert_string_equal(s, "[\"10.0.0.0/8\",\"2001:db8::/32\",\"192.0.2.7/32\"]");
    free(s);
    s = util_json_dump(fixture_get(n, "applications/1/policies/3/action"));
    assert_string_equal(s, "\"service_auth\"");
    free(s);
    json_decref(n);
}

static void test_durations(void **state)
{
    (void)state;
    const struct {
        const char *in;
        const char *out;
    } cases[] = {{"\"24h\"", "\"24h\""}, {"\"1d\"", "\"24h\""}, {"\"730h\"", "\"730h\""},
                 {"\"1m\"", "\"1m\""},   {"61", "\"61s\""},     {"\"120s\"", "\"2m\""},
                 {"\"1w\"", "\"168h\""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = fixture_json();
        fixture_set(j, "applications/0/session_duration", cases[i].in);
        json_t *n = normalised(j, true);
        char *s = util_json_dump(fixture_get(n, "applications/0/session_duration"));
        assert_string_equal(s, cases[i].out);
        free(s);
        json_decref(n);
        json_decref(j);
    }
}

/* For display: no secret, and it does not pass for a complete object. */
static void test_without_secret(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    json_t *n = normalised(j, false);
    char *s = util_json_dump(n);
    assert_null(strstr(s, "cf-secret-0123456789"));
    assert_null(strstr(s, "other-secret"));
    assert_null(strstr(s, "client_secret"));
    free(s);
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(n, "access", &c, &ae), -1);
    assert_string_equal(ae.field, "access.identity_providers[0].client_secret");
    json_decref(n);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_normal_form),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_without_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
