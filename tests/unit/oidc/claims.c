/*
 * Unit tests of src/oidc/claims.c: subjects, at_hash (OIDC Core A.3 vector), ID token and
 * access token claims per scope, issuers and slugs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oidc/oidc.h"

static struct store_user alice(void)
{
    struct store_user u = {0};
    u.id = 42;
    memcpy(u.uuid, "0b1e2f4a-1111-4222-8333-444455556666", STORE_UUID_SIZE);
    u.username = "alice";
    u.name = "Alice Example";
    u.email = "alice@example.com";
    u.is_active = true;
    return u;
}

static void expect_sub(const char *mode, const struct store_user *u, const char *want)
{
    char *s = oidc_sub(mode, u, "inst");
    assert_string_equal(s, want);
    free(s);
}

#define ALICE_HASHED "c3f360a888c250b50cd310a5d95282bd78bc1f7cdd89cf8e31313349f5924d7a"

static void test_sub_modes(void **state)
{
    (void)state;
    struct store_user u = alice();
    /* hex SHA-256("<uuid>-<install_id>"), computed independently with Python's hashlib */
    expect_sub("hashed_user_id", &u, ALICE_HASHED);
    expect_sub(NULL, &u, ALICE_HASHED);
    expect_sub("", &u, ALICE_HASHED);
    expect_sub("something_else", &u, ALICE_HASHED);
    expect_sub("user_id", &u, "42");
    expect_sub("user_uuid", &u, "0b1e2f4a-1111-4222-8333-444455556666");
    expect_sub("user_username", &u, "alice");
    expect_sub("user_email", &u, "alice@example.com");
    /* No email: the hashed id, never an empty subject. */
    u.email = "";
    expect_sub("user_email", &u, ALICE_HASHED);
    /* Another installation: another subject for the same user. */
    char *other = oidc_sub("hashed_user_id", &u, "other-install");
    assert_string_not_equal(other, ALICE_HASHED);
    assert_int_equal(strlen(other), 64);
    free(other);
}

static void test_at_hash(void **state)
{
    (void)state;
    /* OpenID Connect Core 1.0, Appendix A.3/A.4: this access token has this at_hash. */
    char *h = oidc_token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", JOSE_ALG_RS256);
    assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ");
    free(h);
    h = oidc_token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", JOSE_ALG_ES256);
    assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ");
    free(h);
    /* Left halves of SHA-384 and SHA-512 (Python hashlib). */
    h = oidc_token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", JOSE_ALG_ES384);
    assert_string_equal(h, "jtAeDp945y1dDqU3nkIVGNZP1HjH_MFs");
    free(h);
    h = oidc_token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", JOSE_ALG_EDDSA);
    assert_string_equal(h, "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM");
    free(h);
    assert_null(oidc_token_hash("x", JOSE_ALG_UNKNOWN));
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static struct oidc_id_token_in base_in(const struct store_user *u, unsigned scopes)
{
    static const char *const groups[] = {"admins", "staff"};
    struct oidc_id_token_in in = {
        .iss = "http://auth.localhost:9000/application/o/cloudflare/",
        .sub = "SUB",
        .client_id = "cf-client",
        .iat = 1000,
        .exp = 4600,
        .auth_time = 990,
        .nonce = "n-0S6_WzA2Mj",
        .at_hash = "77QmUPtjPfzWtF2AnpK9RQ",
        .amr_json = "[\"pwd\"]",
        .scopes = scopes,
        .include_claims = true,
        .user = u,
        .groups = groups,
        .ngroups = 2,
    };
    return in;
}

static void test_id_token_openid_only(void **state)
{
    (void)state;
    struct store_user u = alice();
    struct oidc_id_token_in in = base_in(&u, OIDC_SCOPE_OPENID);
    json_t *c = oidc_id_token_claims(&in);
    assert_non_null(c);
    assert_string_equal(str(c, "iss"), "http://auth.localhost:9000/application/o/cloudflare/");
    assert_string_equal(str(c, "sub"), "SUB");
    assert_string_equal(str(c, "aud"), "cf-client");
    assert_string_equal(str(c, "azp"), "cf-client");
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 4600);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1000);
    assert_int_equal(json_integer_value(json_object_get(c, "auth_time")), 990);
    assert_string_equal(str(c, "nonce"), "n-0S6_WzA2Mj");
    assert_string_equal(str(c, "at_hash"), "77QmUPtjPfzWtF2AnpK9RQ");
    assert_string_equal(str(c, "acr"), OIDC_ACR);
    json_t *amr = json_object_get(c, "amr");
    assert_int_equal(json_array_size(amr), 1);
    assert_string_equal(json_string_value(json_array_get(amr, 0)), "pwd");
    /* openid alone: no email, no profile */
    assert_null(json_object_get(c, "email"));
    assert_null(json_object_get(c, "email_verified"));
    assert_null(json_object_get(c, "name"));
    assert_null(json_object_get(c, "groups"));
    json_decref(c);
}

static void test_id_token_scopes(void **state)
{
    (void)state;
    struct store_user u = alice();
    struct oidc_id_token_in in = base_in(&u, OIDC_SCOPE_OPENID | OIDC_SCOPE_EMAIL);
    json_t *c = oidc_id_token_claims(&in);
    assert_string_equal(str(c, "email"), "alice@example.com");
    assert_true(json_is_true(json_object_get(c, "email_verified")));
    assert_null(json_object_get(c, "preferred_username"));
    json_decref(c);

    in = base_in(&u, OIDC_SCOPE_OPENID | OIDC_SCOPE_PROFILE);
    c = oidc_id_token_claims(&in);
    assert_null(json_object_get(c, "email"));
    assert_string_equal(str(c, "name"), "Alice Example");
    assert_string_equal(str(c, "given_name"), "Alice");
    assert_string_equal(str(c, "preferred_username"), "alice");
    assert_string_equal(str(c, "nickname"), "alice");
    json_t *g = json_object_get(c, "groups");
    assert_int_equal(json_array_size(g), 2);
    assert_string_equal(json_string_value(json_array_get(g, 0)), "admins");
    assert_string_equal(json_string_value(json_array_get(g, 1)), "staff");
    json_decref(c);

    /* include_claims_in_id_token false: the scope claims go to userinfo only. */
    in = base_in(&u, OIDC_SCOPES_ALL);
    in.include_claims = false;
    c = oidc_id_token_claims(&in);
    assert_null(json_object_get(c, "email"));
    assert_null(json_object_get(c, "name"));
    assert_string_equal(str(c, "sub"), "SUB");
    json_decref(c);
}

static void test_id_token_optional_members(void **state)
{
    (void)state;
    struct store_user u = alice();
    u.email = "";
    u.name = "";
    struct oidc_id_token_in in = base_in(&u, OIDC_SCOPES_ALL);
    in.nonce = "";
    in.auth_time = 0;
    in.at_hash = NULL;
    in.amr_json = "not json";
    json_t *c = oidc_id_token_claims(&in);
    assert_null(json_object_get(c, "nonce"));
    assert_null(json_object_get(c, "auth_time"));
    assert_null(json_object_get(c, "at_hash"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "amr"), 0)), "pwd");
    assert_null(json_object_get(c, "email"));
    assert_true(json_is_false(json_object_get(c, "email_verified")));
    assert_string_equal(str(c, "given_name"), "");
    json_decref(c);
    in.amr_json = "[\"pwd\",\"otp\"]";
    c = oidc_id_token_claims(&in);
    assert_int_equal(json_array_size(json_object_get(c, "amr")), 2);
    json_decref(c);
    in.amr_json = "[1]"; /* not strings: the default */
    c = oidc_id_token_claims(&in);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "amr"), 0)), "pwd");
    json_decref(c);
}

static void test_access_token_claims(void **state)
{
    (void)state;
    struct oidc_access_token_in in = {
        .iss = "I",
        .sub = "S",
        .client_id = "C",
        .jti = "J",
        .iat = 10,
        .exp = 20,
        .auth_time = 5,
        .scope = "openid email",
    };
    json_t *c = oidc_access_token_claims(&in);
    assert_string_equal(str(c, "iss"), "I");
    assert_string_equal(str(c, "sub"), "S");
    assert_string_equal(str(c, "aud"), "C");
    assert_string_equal(str(c, "client_id"), "C");
    assert_string_equal(str(c, "jti"), "J");
    assert_string_equal(str(c, "scope"), "openid email");
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 20);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), 10);
    assert_int_equal(json_integer_value(json_object_get(c, "auth_time")), 5);
    json_decref(c);
    in.scope = "";
    in.auth_time = 0;
    c = oidc_access_token_claims(&in);
    assert_null(json_object_get(c, "scope"));
    assert_null(json_object_get(c, "auth_time"));
    json_decref(c);
}

static void test_issuer_and_slug(void **state)
{
    (void)state;
    char *iss = oidc_issuer("http://auth.localhost:9000", "cloudflare");
    assert_string_equal(iss, "http://auth.localhost:9000/application/o/cloudflare/");
    char slug[OIDC_SLUG_MAX + 1];
    assert_int_equal(oidc_issuer_slug("http://auth.localhost:9000", iss, slug, sizeof slug), 0);
    assert_string_equal(slug, "cloudflare");
    free(iss);
    const char *bad[] = {
        "http://auth.localhost:9000/application/o/cloudflare",
        "http://auth.localhost:9001/application/o/cloudflare/",
        "http://auth.localhost:9000/application/o/token/",
        "http://auth.localhost:9000/application/o/a/b/",
        "http://auth.localhost:9000/application/o//",
        "http://auth.localhost:9000/application/x/cloudflare/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(oidc_issuer_slug("http://auth.localhost:9000", bad[i], slug, sizeof slug),
                         -1);
    }
    assert_true(oidc_slug_ok(SLICE_LIT("cloudflare")));
    assert_true(oidc_slug_ok(SLICE_LIT("my_app-2")));
    const char *reserved[] = {"authorize", "token", "device", "userinfo", "introspect", "revoke"};
    for (size_t i = 0; i < 6; i++) {
        assert_false(oidc_slug_ok(slice_z(reserved[i])));
    }
    assert_false(oidc_slug_ok(SLICE_LIT("")));
    assert_false(oidc_slug_ok(SLICE_LIT("a.b")));
    assert_false(oidc_slug_ok(SLICE_LIT("a/b")));
    assert_false(oidc_slug_ok(SLICE_LIT("..")));
    assert_false(oidc_slug_ok(SLICE_LIT("a%2fb")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sub_modes),
        cmocka_unit_test(test_at_hash),
        cmocka_unit_test(test_id_token_openid_only),
        cmocka_unit_test(test_id_token_scopes),
        cmocka_unit_test(test_id_token_optional_members),
        cmocka_unit_test(test_access_token_claims),
        cmocka_unit_test(test_issuer_and_slug),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
