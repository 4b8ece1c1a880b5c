/*
 * Unit tests of src/access/policy.c: Cloudflare Access's evaluation order (bypass and
 * service_auth first, then allow / block in order, first match wins, no match denies), the
 * include / require / exclude logic, every selector, and the fail-closed handling of what is
 * unknown (the identity before the login, an unparsable client address).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "access/access.h"

/* An application whose policies are the JSON list given. */
static struct access_app load(const char *policies)
{
    static const struct access_idp idps[] = {{.name = "Authentik"}, {.name = "Google"}};
    char text[4096];
    snprintf(text, sizeof text,
             "{\"name\": \"t\", \"domain\": \"t.example\", \"origin\": \"http://127.0.0.1:1\", "
             "\"policies\": %s}",
             policies);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL) {
        fail_msg("bad test JSON %s: %s", text, je.text);
    }
    struct access_app a;
    struct access_err ae = {0};
    if (access_app_parse(j, "app", idps, 2, &a, &ae) != 0) {
        fail_msg("%s: %s", ae.field, ae.msg);
    }
    json_decref(j);
    return a;
}

#define P(name, action, rules) "{\"name\": \"" name "\", \"action\": \"" action "\", " rules "}"

static void expect(const struct access_app *a, const struct access_subject *s, bool pre,
                   enum access_decision want, int index)
{
    struct access_match m = {.index = 99, .name = "junk"};
    enum access_decision d = pre ? access_policy_pre(a, s, &m) : access_policy_decide(a, s, &m);
    if (d != want || m.index != index) {
        fail_msg("%s: got %s (policy %d), want %s (policy %d)", pre ? "pre" : "decide",
                 access_decision_name(d), m.index, access_decision_name(want), index);
    }
    if (index >= 0) {
        assert_ptr_equal(m.name, a->policies[index].name);
    } else {
        assert_null(m.name);
    }
}

static const struct access_subject alice = {
    .ip = "192.0.2.10", .email = "alice@example.com", .idp = "Authentik"};

static void test_no_match_denies(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("a", "allow", "\"include\": [{\"emails\": [\"bob@example.com\"]}]") "]");
    expect(&a, &alice, false, ACCESS_DENY, -1);
    expect(&a, &alice, true, ACCESS_CONTINUE, -1);
    /* m may be NULL. */
    assert_int_equal(access_policy_decide(&a, &alice, NULL), ACCESS_DENY);
    access_app_free(&a);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    struct access_app a = load("[" P("all", "allow", "\"include\": [{\"everyone\": true}]") "," P(
        "none", "block", "\"include\": [{\"everyone\": true}]") "]");
    expect(&a, &alice, false, ACCESS_ALLOW, 0);
    access_app_free(&a);
    a = load("[" P("none", "block", "\"include\": [{\"everyone\": true}]") "," P(
        "all", "allow", "\"include\": [{\"everyone\": true}]") "]");
    expect(&a, &alice, false, ACCESS_BLOCK, 0);
    access_app_free(&a);
    /* Two allow policies: the first that matches names the decision. */
    a = load("[" P("bob", "allow", "\"include\": [{\"emails\": [\"bob@example.com\"]}]") "," P(
        "alice", "allow",
        "\"include\": [{\"emails\": [\"alice@example.com\"]}]") "," P("all", "allow",
                                                                      "\"include\": "
                                                                      "[{\"everyone\": "
                                                                      "true}]") "]");
    expect(&a, &alice, false, ACCESS_ALLOW, 1);
    access_app_free(&a);
}

static void test_block_before_allow(void **state)
{
    (void)state;
    struct access_app a = load("[" P(
        "no-mallory", "block",
        "\"include\": [{\"emails\": [\"mallory@example.com\"]}]") "," P("staff", "allow",
                                                                        "\"include\": "
                                                                        "[{\"email_domains\": "
                                                                        "[\"example.com\"]}]") "]");
    struct access_subject m = alice;
    m.email = "Mallory@Example.com";
    expect(&a, &m, false, ACCESS_BLOCK, 0);
    expect(&a, &alice, false, ACCESS_ALLOW, 1);
    access_app_free(&a);
}

static void test_bypass_first(void **state)
{
    (void)state;
    /* A bypass after a block still wins: bypass and service_auth are looked at first. */
    struct access_app a =
        load("[" P("nobody", "block", "\"include\": [{\"everyone\": true}]") "," P(
            "office", "bypass", "\"include\": [{\"ip_ranges\": [\"10.0.0.0/8\"]}]") "]");
    struct access_subject s = {.ip = "10.1.2.3"};
    expect(&a, &s, true, ACCESS_BYPASS, 1);
    s.ip = "11.1.2.3";
    expect(&a, &s, true, ACCESS_CONTINUE, -1);
    expect(&a, &alice, false, ACCESS_BLOCK, 0);
    access_app_free(&a);
    /* The identity-time call never looks at bypass or service_auth policies. */
    a = load("[" P("open", "bypass", "\"include\": [{\"everyone\": true}]") "," P(
        "svc", "service_auth", "\"include\": [{\"everyone\": true}]") "]");
    struct access_subject anyone = {0};
    expect(&a, &anyone, true, ACCESS_BYPASS, 0);
    expect(&a, &alice, false, ACCESS_DENY, -1);
    access_app_free(&a);
    /* ...and the first call never looks at allow or block. */
    a = load("[" P("all", "allow", "\"include\": [{\"everyone\": true}]") "," P(
        "none", "block", "\"include\": [{\"everyone\": true}]") "]");
    expect(&a, &alice, true, ACCESS_CONTINUE, -1);
    access_app_free(&a);
}

/* Before the login, rules that need an identity are unknown: such a bypass never matches,
 * even when the subject carries identity fields (they are not trusted there). */
static void test_bypass_without_identity(void **state)
{
    (void)state;
    const char *policies[] = {
        "[" P("b", "bypass", "\"include\": [{\"emails\": [\"alice@example.com\"]}]") "]",
        "[" P("b", "bypass", "\"include\": [{\"email_domains\": [\"example.com\"]}]") "]",
        "[" P("b", "bypass", "\"include\": [{\"login_method\": [\"Authentik\"]}]") "]",
        "[" P("b", "bypass", "\"include\": [{\"groups\": [\"admins\"]}]") "]",
        "[" P("b", "bypass",
              "\"include\": [{\"oidc_claim\": {\"name\": \"a\", \"value\": "
              "\"b\"}}]") "]",
        /* An exclude that cannot be checked excludes. */
        "[" P("b", "bypass",
              "\"include\": [{\"everyone\": true}], \"exclude\": [{\"emails\": "
              "[\"mallory@example.com\"]}]") "]",
        /* A require that cannot be checked is not met. */
        "[" P("b", "bypass",
              "\"include\": [{\"ip_ranges\": [\"192.0.2.0/24\"]}], \"require\": "
              "[{\"groups\": [\"admins\"]}]") "]",
    };
    const char *groups[] = {"admins"};
    json_t *claims = json_pack("{s:s}", "a", "b");
    struct access_subject s = alice;
    s.groups = groups;
    s.ngroups = 1;
    s.claims = claims;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        struct access_app a = load(policies[i]);
        expect(&a, &s, true, ACCESS_CONTINUE, -1);
        access_app_free(&a);
    }
    /* The same bypass with an identity-free exclude does match. */
    struct access_app a = load("[" P("b", "bypass",
                                     "\"include\": [{\"everyone\": true}], "
                                     "\"exclude\": [{\"ip_ranges\": [\"10.0.0.0/8\"]}]") "]");
    expect(&a, &s, true, ACCESS_BYPASS, 0);
    s.ip = "10.0.0.1";
    expect(&a, &s, true, ACCESS_CONTINUE, -1);
    access_app_free(&a);
    json_decref(claims);
}

static void test_service_auth(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("svc", "service_auth", "\"include\": [{\"everyone\": true}]") "]");
    struct access_subject s = {.ip = "192.0.2.1"};
    expect(&a, &s, true, ACCESS_CONTINUE, -1); /* never without a service token */
    s.service_token = "";
    expect(&a, &s, true, ACCESS_CONTINUE, -1);
    s.service_token = "ci";
    expect(&a, &s, true, ACCESS_SERVICE_AUTH, 0);
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);

    a = load("[" P("ci-only", "service_auth", "\"include\": [{\"service_token\": [\"ci\"]}]") "," P(
        "any", "service_auth",
        "\"include\": [{\"any_service_token\": true}], "
        "\"require\": [{\"ip_ranges\": [\"10.0.0.0/8\"]}]") "]");
    s.service_token = "ci";
    expect(&a, &s, true, ACCESS_SERVICE_AUTH, 0);
    s.service_token = "backup";
    expect(&a, &s, true, ACCESS_CONTINUE, -1);
    s.ip = "10.9.9.9";
    expect(&a, &s, true, ACCESS_SERVICE_AUTH, 1);
    s.service_token = "CI"; /* token names are exact */
    expect(&a, &s, true, ACCESS_SERVICE_AUTH, 1);
    s.ip = "192.0.2.1";
    expect(&a, &s, true, ACCESS_CONTINUE, -1);
    access_app_free(&a);
}

static void test_require_is_and(void **state)
{
    (void)state;
    struct access_app a = load("[" P("a", "allow",
                                     "\"include\": [{\"everyone\": true}], "
                                     "\"require\": [{\"emails\": [\"alice@example.com\"]}, "
                                     "{\"ip_ranges\": [\"192.0.2.0/24\"]}]") "]");
    expect(&a, &alice, false, ACCESS_ALLOW, 0);
    struct access_subject s = alice;
    s.ip = "198.51.100.1";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s = alice;
    s.email = "bob@example.com";
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_include_is_or(void **state)
{
    (void)state;
    struct access_app a = load("[" P("a", "allow",
                                     "\"include\": [{\"emails\": [\"bob@example.com\"]}, "
                                     "{\"groups\": [\"admins\"]}]") "]");
    expect(&a, &alice, false, ACCESS_DENY, -1);
    const char *groups[] = {"users", "admins"};
    struct access_subject s = alice;
    s.groups = groups;
    s.ngroups = 2;
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s = alice;
    s.email = "BOB@example.com";
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    access_app_free(&a);
}

static void test_exclude_is_not(void **state)
{
    (void)state;
    struct access_app a = load("[" P("a", "allow",
                                     "\"include\": [{\"everyone\": true}], "
                                     "\"exclude\": [{\"email_domains\": [\"evil.example\"]}, "
                                     "{\"emails\": [\"bob@example.com\"]}]") "]");
    expect(&a, &alice, false, ACCESS_ALLOW, 0);
    struct access_subject s = alice;
    s.email = "x@evil.example";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "x@EVIL.Example";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "x@sub.evil.example"; /* another domain */
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.email = "bob@example.com";
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_emails_and_domains(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("a", "allow", "\"include\": [{\"emails\": [\"Alice@Example.com\"]}]") "," P(
            "d", "allow", "\"include\": [{\"email_domains\": [\"corp.example\"]}]") "]");
    struct access_subject s = alice;
    s.email = "ALICE@EXAMPLE.COM";
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.email = "alice@example.com ";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "alice@example.co";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "x@corp.example";
    expect(&a, &s, false, ACCESS_ALLOW, 1);
    s.email = "\"x@corp.example\"@evil.example"; /* the part after the LAST '@' */
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "x@evil.example@corp.example";
    expect(&a, &s, false, ACCESS_ALLOW, 1);
    s.email = "x@corp.example.evil.example";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "corp.example";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = "";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.email = NULL;
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_groups(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("g", "allow", "\"include\": [{\"groups\": [\"admins\", \"ops\"]}]") "]");
    const char *g1[] = {"users", "ops"};
    const char *g2[] = {"Admins", "OPS", "admins2"};
    struct access_subject s = alice;
    s.groups = g1;
    s.ngroups = 2;
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.groups = g2;
    s.ngroups = 3;
    expect(&a, &s, false, ACCESS_DENY, -1); /* group names are exact */
    s.ngroups = 0;
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.groups = NULL;
    s.ngroups = 5;
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_login_method(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("g", "allow", "\"include\": [{\"login_method\": [\"Google\"]}]") "]");
    struct access_subject s = alice;
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.idp = "Google";
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.idp = "google";
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.idp = NULL;
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_oidc_claim(void **state)
{
    (void)state;
    struct access_app a = load("[" P("c", "allow",
                                     "\"include\": [{\"oidc_claim\": {\"name\": \"dept\", "
                                     "\"value\": \"R&D\"}}, {\"oidc_claim\": {\"name\": "
                                     "\"email_verified\", \"value\": \"true\"}}, "
                                     "{\"oidc_claim\": {\"name\": \"level\", \"value\": "
                                     "\"3\"}}]") "]");
    const struct {
        const char *claims;
        enum access_decision want;
    } cases[] = {
        {"{\"dept\": \"R&D\"}", ACCESS_ALLOW},
        {"{\"dept\": \"r&d\"}", ACCESS_DENY},
        {"{\"dept\": \"R&D \"}", ACCESS_DENY},
        {"{\"dept\": [\"Sales\", \"R&D\"]}", ACCESS_ALLOW},
        {"{\"dept\": [\"Sales\", [\"R&D\"]]}", ACCESS_DENY},
        {"{\"dept\": []}", ACCESS_DENY},
        {"{\"dept\": {\"name\": \"R&D\"}}", ACCESS_DENY},
        {"{\"dept\": null}", ACCESS_DENY},
        {"{\"other\": \"R&D\"}", ACCESS_DENY},
        {"{\"email_verified\": true}", ACCESS_ALLOW},
        {"{\"email_verified\": false}", ACCESS_DENY},
        {"{\"email_verified\": \"true\"}", ACCESS_ALLOW},
        {"{\"level\": 3}", ACCESS_ALLOW},
        {"{\"level\": 3.0}", ACCESS_DENY},
        {"{\"level\": [1, 3]}", ACCESS_ALLOW},
        {"{\"level\": 33}", ACCESS_DENY},
        {"[\"R&D\"]", ACCESS_DENY},
        {"\"R&D\"", ACCESS_DENY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *c = json_loads(cases[i].claims, JSON_DECODE_ANY, &je);
        assert_non_null(c);
        struct access_subject s = alice;
        s.claims = c;
        if (access_policy_decide(&a, &s, NULL) != cases[i].want) {
            fail_msg("claims %s: want %s", cases[i].claims, access_decision_name(cases[i].want));
        }
        json_decref(c);
    }
    struct access_subject s = alice; /* no claims */
    expect(&a, &s, false, ACCESS_DENY, -1);
    /* A claim string with a NUL inside is not the configured value. */
    json_t *c = json_pack("{s:s#}", "dept", "R&D\0x", (int)5);
    s.claims = c;
    expect(&a, &s, false, ACCESS_DENY, -1);
    json_decref(c);
    access_app_free(&a);
}

/* An unknown client address resolves towards refusing. */
static void test_unknown_ip(void **state)
{
    (void)state;
    struct access_app a = load("[" P("a", "allow",
                                     "\"include\": [{\"everyone\": true}], "
                                     "\"exclude\": [{\"ip_ranges\": [\"10.0.0.0/8\"]}]") "]");
    struct access_subject s = alice;
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.ip = NULL;
    expect(&a, &s, false, ACCESS_DENY, -1);
    s.ip = "not an address";
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);

    a = load(
        "[" P("bad-net", "block", "\"include\": [{\"ip_ranges\": [\"203.0.113.0/24\"]}]") "," P(
            "all", "allow", "\"include\": [{\"everyone\": true}]") "]");
    s = alice;
    expect(&a, &s, false, ACCESS_ALLOW, 1);
    s.ip = "203.0.113.9";
    expect(&a, &s, false, ACCESS_BLOCK, 0);
    s.ip = NULL; /* might be in the blocked range: blocked */
    expect(&a, &s, false, ACCESS_BLOCK, 0);
    access_app_free(&a);

    /* A block whose unknown part cannot make it match does not block. */
    a = load("[" P(
        "x", "block",
        "\"include\": [{\"ip_ranges\": [\"203.0.113.0/24\"]}], "
        "\"require\": [{\"emails\": [\"bob@example.com\"]}]") "," P("all", "allow",
                                                                    "\"include\": [{\"everyone\": "
                                                                    "true}]") "]");
    s.ip = NULL; /* the require is surely not met, so the block surely does not match */
    expect(&a, &s, false, ACCESS_ALLOW, 1);
    access_app_free(&a);
}

static void test_ip_forms(void **state)
{
    (void)state;
    struct access_app a =
        load("[" P("v4", "allow", "\"include\": [{\"ip_ranges\": [\"10.0.0.0/8\"]}]") "," P(
            "v6", "allow", "\"include\": [{\"ip_ranges\": [\"2001:db8::/32\"]}]") "]");
    struct access_subject s = alice;
    s.ip = "::ffff:10.0.0.1";
    expect(&a, &s, false, ACCESS_ALLOW, 0);
    s.ip = "2001:db8::7";
    expect(&a, &s, false, ACCESS_ALLOW, 1);
    s.ip = "::1";
    expect(&a, &s, false, ACCESS_DENY, -1);
    access_app_free(&a);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(access_decision_name(ACCESS_CONTINUE), "continue");
    assert_string_equal(access_decision_name(ACCESS_BYPASS), "bypass");
    assert_string_equal(access_decision_name(ACCESS_SERVICE_AUTH), "service_auth");
    assert_string_equal(access_decision_name(ACCESS_ALLOW), "allow");
    assert_string_equal(access_decision_name(ACCESS_BLOCK), "block");
    assert_string_equal(access_decision_name(ACCESS_DENY), "deny");
    assert_string_equal(access_selector_name(ACCESS_SEL_ANY_SERVICE_TOKEN), "any_service_token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_match_denies),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_block_before_allow),
        cmocka_unit_test(test_bypass_first),
        cmocka_unit_test(test_bypass_without_identity),
        cmocka_unit_test(test_service_auth),
        cmocka_unit_test(test_require_is_and),
        cmocka_unit_test(test_include_is_or),
        cmocka_unit_test(test_exclude_is_not),
        cmocka_unit_test(test_emails_and_domains),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_login_method),
        cmocka_unit_test(test_oidc_claim),
        cmocka_unit_test(test_unknown_ip),
        cmocka_unit_test(test_ip_forms),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
