/*
 * Unit tests of src/access/rule.c: policies and their rules (one selector each), parsed
 * strictly, each refusal with its field path, message and node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "fixture.h"

/* Parses one rule given as JSON text, with the fixture's IdPs for login_method. */
static int rule(const char *text, struct access_rule *r, struct access_err *ae)
{
    static const struct access_idp idps[] = {{.name = "Authentik"}, {.name = "Google"}};
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (j == NULL) {
        fail_msg("bad test JSON %s: %s", text, je.text);
    }
    int rc = access_rule_parse(j, "r", idps, 2, r, ae);
    json_decref(j);
    return rc;
}

static void test_selectors(void **state)
{
    (void)state;
    struct access_rule r;
    struct access_err ae = {0};
    assert_int_equal(rule("{\"everyone\": true}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_EVERYONE);
    access_rule_free(&r);

    assert_int_equal(rule("{\"emails\": [\"Alice@Example.COM\", \"bob@example.com\"]}", &r, &ae),
                     0);
    assert_int_equal(r.sel, ACCESS_SEL_EMAILS);
    assert_int_equal(r.nvalues, 2);
    assert_string_equal(r.values[0], "alice@example.com"); /* one form kept */
    access_rule_free(&r);

    assert_int_equal(rule("{\"email_domains\": [\"Example.com\", \"corp.example.org\"]}", &r, &ae),
                     0);
    assert_int_equal(r.sel, ACCESS_SEL_EMAIL_DOMAINS);
    assert_string_equal(r.values[0], "example.com");
    access_rule_free(&r);

    assert_int_equal(
        rule("{\"ip_ranges\": [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_IP_RANGES);
    assert_int_equal(r.ncidrs, 3);
    assert_int_equal(r.cidrs[2].bits, 32);
    access_rule_free(&r);

    assert_int_equal(rule("{\"groups\": [\"admins\", \"Dev Ops\"]}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_GROUPS);
    assert_string_equal(r.values[1], "Dev Ops"); /* group names are exact: not lower-cased */
    access_rule_free(&r);

    assert_int_equal(
        rule("{\"oidc_claim\": {\"name\": \"department\", \"value\": \"R&D\"}}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_OIDC_CLAIM);
    assert_string_equal(r.claim_name, "department");
    assert_string_equal(r.claim_value, "R&D");
    access_rule_free(&r);

    assert_int_equal(rule("{\"service_token\": [\"ci\", \"backup\"]}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_SERVICE_TOKEN);
    assert_int_equal(r.nvalues, 2);
    access_rule_free(&r);

    assert_int_equal(rule("{\"any_service_token\": true}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_ANY_SERVICE_TOKEN);
    access_rule_free(&r);

    assert_int_equal(rule("{\"login_method\": [\"Google\"]}", &r, &ae), 0);
    assert_int_equal(r.sel, ACCESS_SEL_LOGIN_METHOD);
    assert_string_equal(r.values[0], "Google");
    access_rule_free(&r);
}

struct refusal {
    const char *rule;
    const char *field;
    const char *msg;
};

static const struct refusal refusals[] = {
    {"\"everyone\"", "r", "expected a rule such as { everyone: true }"},
    {"[{\"everyone\": true}]", "r", "expected a rule such as { everyone: true }"},
    {"{}", "r",
     "expected one selector: everyone, emails, email_domains, ip_ranges, groups, oidc_claim, "
     "service_token, any_service_token or login_method"},
    {"{\"everyone\": true, \"emails\": [\"a@example.com\"]}", "r",
     "expected exactly one selector per rule (write one rule each)"},
    {"{\"evryone\": true}", "r.evryone",
     "unknown selector (expected everyone, emails, email_domains, ip_ranges, groups, oidc_claim, "
     "service_token, any_service_token or login_method)"},
    {"{\"email\": [\"a@example.com\"]}", "r.email",
     "unknown selector (expected everyone, emails, email_domains, ip_ranges, groups, oidc_claim, "
     "service_token, any_service_token or login_method)"},
    {"{\"everyone\": false}", "r.everyone", "expected true"},
    {"{\"everyone\": \"true\"}", "r.everyone", "expected true"},
    {"{\"any_service_token\": 1}", "r.any_service_token", "expected true"},
    {"{\"emails\": []}", "r.emails", "expected a list of 1 to 1024 values"},
    {"{\"emails\": \"a@example.com\"}", "r.emails", "expected a list of 1 to 1024 values"},
    {"{\"emails\": [\"alice\"]}", "r.emails[0]",
     "expected an email address such as user@example.com"},
    {"{\"emails\": [\"a@b@example.com\"]}", "r.emails[0]",
     "expected an email address such as user@example.com"},
    {"{\"emails\": [\"@example.com\"]}", "r.emails[0]",
     "expected an email address such as user@example.com"},
    {"{\"emails\": [\"a@\"]}", "r.emails[0]", "expected an email address such as user@example.com"},
    {"{\"emails\": [\"a@-x.com\"]}", "r.emails[0]",
     "expected an email address such as user@example.com"},
    {"{\"emails\": [\"a b@example.com\"]}", "r.emails[0]",
     "expected visible ASCII characters only"},
    {"{\"emails\": [\"j\\u00f6rg@example.com\"]}", "r.emails[0]",
     "expected visible ASCII characters only"},
    {"{\"emails\": [\"a@example.com\", \"A@EXAMPLE.com\"]}", "r.emails[1]",
     "\"a@example.com\" is listed twice"},
    {"{\"emails\": [\"a@example.com\", 5]}", "r.emails[1]", "expected a non-empty string"},
    {"{\"email_domains\": [\"@example.com\"]}", "r.email_domains[0]",
     "expected a domain such as example.com, without '@'"},
    {"{\"email_domains\": [\"*.example.com\"]}", "r.email_domains[0]",
     "expected a domain such as example.com"},
    {"{\"email_domains\": [\"example.com.\"]}", "r.email_domains[0]",
     "expected a domain such as example.com"},
    {"{\"email_domains\": [\"example.com\", \"EXAMPLE.COM\"]}", "r.email_domains[1]",
     "\"example.com\" is listed twice"},
    {"{\"ip_ranges\": [\"10.0.0.0/8\", \"10.0.0.300\"]}", "r.ip_ranges[1]",
     "not an IPv4/IPv6 CIDR"},
    {"{\"ip_ranges\": [\"10.0.0.0/33\"]}", "r.ip_ranges[0]",
     "prefix length above 32 for an IPv4 range"},
    {"{\"ip_ranges\": [\"10.0.0.1/8\"]}", "r.ip_ranges[0]",
     "bits set after the prefix length (the network is 10.0.0.0/8; a single address is written "
     "without /)"},
    {"{\"ip_ranges\": [10]}", "r.ip_ranges[0]", "expected a string such as 10.0.0.0/8"},
    {"{\"ip_ranges\": [\"10.0.0.0/8\", \"10.0.0.0/8\"]}", "r.ip_ranges[1]",
     "10.0.0.0/8 is listed twice"},
    {"{\"ip_ranges\": [\"2001:db8::/32\", \"2001:DB8:0::/32\"]}", "r.ip_ranges[1]",
     "2001:db8::/32 is listed twice"},
    {"{\"ip_ranges\": []}", "r.ip_ranges", "expected a list of 1 to 1024 values"},
    {"{\"groups\": [\"\"]}", "r.groups[0]", "expected a non-empty string"},
    {"{\"groups\": [\"admins \"]}", "r.groups[0]", "leading or trailing space"},
    {"{\"groups\": [\"a\\tb\"]}", "r.groups[0]", "control character in the value"},
    {"{\"groups\": [\"admins\", \"admins\"]}", "r.groups[1]", "\"admins\" is listed twice"},
    {"{\"oidc_claim\": \"groups=admins\"}", "r.oidc_claim", "expected {name, value} (a mapping)"},
    {"{\"oidc_claim\": {\"name\": \"groups\"}}", "r.oidc_claim.value", "is required"},
    {"{\"oidc_claim\": {\"value\": \"x\"}}", "r.oidc_claim.name", "is required"},
    {"{\"oidc_claim\": {\"name\": \"a\", \"value\": \"b\", \"op\": \"eq\"}}", "r.oidc_claim.op",
     "unknown field"},
    {"{\"oidc_claim\": {\"name\": \"a b\", \"value\": \"x\"}}", "r.oidc_claim.name",
     "expected visible ASCII characters only"},
    {"{\"oidc_claim\": {\"name\": \"a\", \"value\": true}}", "r.oidc_claim.value",
     "expected a non-empty string"},
    {"{\"service_token\": []}", "r.service_token", "expected a list of 1 to 1024 values"},
    {"{\"login_method\": [\"authentik\"]}", "r.login_method[0]",
     "no identity provider named \"authentik\""},
    {"{\"login_method\": [\"Google\", \"Google\"]}", "r.login_method[1]",
     "\"Google\" is listed twice"},
};

static void test_rule_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        struct access_rule r;
        struct access_err ae = {0};
        if (rule(refusals[i].rule, &r, &ae) != -1) {
            fail_msg("accepted: %s", refusals[i].rule);
        }
        if (strcmp(ae.field, refusals[i].field) != 0 || strcmp(ae.msg, refusals[i].msg) != 0) {
            fail_msg("%s:\n   got %s: %s\n  want %s: %s", refusals[i].rule, ae.field, ae.msg,
                     refusals[i].field, refusals[i].msg);
        }
        assert_null(r.values);
        assert_null(r.cidrs);
        assert_null(r.claim_name);
    }
}

/* Without the list of IdPs (an object checked alone), login_method names are not checked. */
static void test_login_method_unchecked(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:[s]}", "login_method", "Anything");
    struct access_rule r;
    struct access_err ae = {0};
    assert_int_equal(access_rule_parse(j, "r", NULL, 0, &r, &ae), 0);
    access_rule_free(&r);
    json_decref(j);
}

static void test_policy(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    struct access_policy p;
    struct access_err ae = {0};
    json_t *pj = fixture_get(j, "applications/1/policies/1");
    assert_int_equal(access_policy_parse(pj, "p", NULL, 0, &p, &ae), 0);
    assert_string_equal(p.name, "admins");
    assert_int_equal(p.action, ACCESS_ACTION_ALLOW);
    assert_int_equal(p.include.n, 1);
    assert_int_equal(p.include.v[0].sel, ACCESS_SEL_GROUPS);
    assert_int_equal(p.require.n, 1);
    assert_int_equal(p.require.v[0].sel, ACCESS_SEL_LOGIN_METHOD);
    assert_int_equal(p.exclude.n, 1);
    assert_int_equal(p.exclude.v[0].sel, ACCESS_SEL_EMAILS);
    access_policy_free(&p);
    const char *actions[] = {"allow", "block", "bypass", "service_auth"};
    for (size_t i = 0; i < 4; i++) {
        json_object_set_new(pj, "action", json_string(actions[i]));
        assert_int_equal(access_policy_parse(pj, "p", NULL, 0, &p, &ae), 0);
        assert_int_equal(p.action, (int)i);
        assert_string_equal(access_action_name(p.action), actions[i]);
        access_policy_free(&p);
    }
    /* Empty require and exclude lists are the same as none. */
    fixture_set(j, "applications/1/policies/1/require", "[]");
    fixture_set(j, "applications/1/policies/1/exclude", "[]");
    assert_int_equal(access_policy_parse(pj, "p", NULL, 0, &p, &ae), 0);
    assert_int_equal(p.require.n + p.exclude.n, 0);
    access_policy_free(&p);
    json_decref(j);
}

struct prefusal {
    const char *path; /* under applications/1/policies */
    const char *value;
    const char *msg;
};

static const struct prefusal prefusals[] = {
    {"0", "\"allow\"", "access.applications[1].policies[0]: expected a policy (a mapping)"},
    {"0/decision", "\"allow\"", "access.applications[1].policies[0].decision: unknown field"},
    {"0/name", NULL, "access.applications[1].policies[0].name: is required"},
    {"0/name", "\"\"", "access.applications[1].policies[0].name: expected a non-empty string"},
    {"1/name", "\"office\"",
     "access.applications[1].policies[1].name: duplicate policy name \"office\" (also "
     "access.applications[1].policies[0])"},
    {"0/action", NULL, "access.applications[1].policies[0].action: is required"},
    {"0/action", "\"deny\"",
     "access.applications[1].policies[0].action: expected one of allow, block, bypass, "
     "service_auth"},
    {"0/action", "\"Allow\"",
     "access.applications[1].policies[0].action: expected one of allow, block, bypass, "
     "service_auth"},
    {"0/include", NULL,
     "access.applications[1].policies[0].include: is required (a policy matches nobody without)"},
    {"0/include", "[]",
     "access.applications[1].policies[0].include: expected a list of 1 to 64 rules"},
    {"0/include", "{\"everyone\": true}",
     "access.applications[1].policies[0].include: expected a list of 1 to 64 rules"},
    {"0/require", "{\"everyone\": true}",
     "access.applications[1].policies[0].require: expected a list of 0 to 64 rules"},
    {"0/exclude", "null",
     "access.applications[1].policies[0].exclude: expected a list of 0 to 64 rules"},
    /* The example of the brief: the path down to one value. */
    {"0/include/0/ip_ranges/2", "\"192.0.2.256\"",
     "access.applications[1].policies[0].include[0].ip_ranges[2]: not an IPv4/IPv6 CIDR"},
    {"1/require/0/login_method/0", "\"Nope\"",
     "access.applications[1].policies[1].require[0].login_method[0]: no identity provider "
     "named \"Nope\""},
    {"1/exclude/1", "{\"emails\": [\"x\"]}",
     "access.applications[1].policies[1].exclude[1].emails[0]: expected an email address such as "
     "user@example.com"},
};

static void test_policy_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof prefusals / sizeof prefusals[0]; i++) {
        json_t *j = fixture_json();
        char path[128];
        snprintf(path, sizeof path, "applications/1/policies/%s", prefusals[i].path);
        fixture_set(j, path, prefusals[i].value);
        struct access_config c;
        struct access_err ae = {0};
        if (access_config_parse(j, "access", &c, &ae) != -1) {
            fail_msg("accepted: %s", path);
        }
        struct err e;
        access_err_format(&ae, &e);
        if (strcmp(e.msg, prefusals[i].msg) != 0) {
            fail_msg("%s:\n   got %s\n  want %s", path, e.msg, prefusals[i].msg);
        }
        assert_non_null(ae.node);
        json_decref(j);
    }
}

static void test_limits(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:[]}", "groups");
    json_t *list = json_object_get(j, "groups");
    for (int i = 0; i < ACCESS_MAX_VALUES; i++) {
        char g[16];
        snprintf(g, sizeof g, "g%d", i);
        json_array_append_new(list, json_string(g));
    }
    struct access_rule r;
    struct access_err ae = {0};
    assert_int_equal(access_rule_parse(j, "r", NULL, 0, &r, &ae), 0);
    assert_int_equal(r.nvalues, ACCESS_MAX_VALUES);
    access_rule_free(&r);
    json_array_append_new(list, json_string("one-too-many"));
    assert_int_equal(access_rule_parse(j, "r", NULL, 0, &r, &ae), -1);
    assert_string_equal(ae.msg, "expected a list of 1 to 1024 values");
    json_decref(j);

    j = json_pack("{s:s, s:s, s:[]}", "name", "p", "action", "allow", "include");
    list = json_object_get(j, "include");
    for (int i = 0; i <= ACCESS_MAX_RULES; i++) {
        json_array_append_new(list, json_pack("{s:b}", "everyone", 1));
    }
    struct access_policy p;
    assert_int_equal(access_policy_parse(j, "p", NULL, 0, &p, &ae), -1);
    assert_string_equal(ae.msg, "expected a list of 1 to 64 rules");
    json_array_remove(list, 0);
    assert_int_equal(access_policy_parse(j, "p", NULL, 0, &p, &ae), 0);
    assert_int_equal(p.include.n, ACCESS_MAX_RULES);
    access_policy_free(&p);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_rule_refusals),
        cmocka_unit_test(test_login_method_unchecked),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_policy_refusals),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
