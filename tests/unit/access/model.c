/*
 * Unit tests of src/access/model.c: the `access:` section (team domain, identity providers,
 * applications) parsed strictly, each refusal with its field path, message and node.
 * Policies and rules: rule.c; URLs, domains and matching: domain.c; JSON back: json.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "fixture.h"

static void test_fixture_parses(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(j, "access", &c, &ae), 0);
    assert_string_equal(c.team.text, "http://team.localhost:9000");
    assert_string_equal(c.team.host, "team.localhost");
    assert_int_equal(c.team.port, 9000);
    assert_false(c.team.https);

    assert_int_equal(c.nidps, 2);
    const struct access_idp *p = &c.idps[0];
    assert_string_equal(p->name, "Authentik");
    assert_int_equal(p->type, ACCESS_IDP_OIDC);
    assert_string_equal(p->client_id, "cf-client");
    assert_string_equal(p->client_secret, "cf-secret-0123456789");
    assert_string_equal(p->auth_url, "http://auth.localhost:9000/application/o/authorize/");
    assert_string_equal(p->token_url, "http://auth.localhost:9000/application/o/token/");
    assert_string_equal(p->certs_url, "http://auth.localhost:9000/application/o/cloudflare/jwks/");
    assert_null(p->discovery_url);
    assert_null(p->issuer);
    assert_null(p->ca_file);
    /* Defaults. */
    assert_true(p->pkce_enabled);
    assert_string_equal(p->email_claim_name, "email");
    assert_int_equal(p->nscopes, 3);
    assert_string_equal(p->scopes[0], "openid");
    assert_string_equal(p->scopes[1], "email");
    assert_string_equal(p->scopes[2], "profile");
    assert_int_equal(p->nclaims, 0);
    /* With discovery, the endpoints may be left to it. */
    p = &c.idps[1];
    assert_null(p->auth_url);
    assert_null(p->token_url);
    assert_null(p->certs_url);
    assert_string_equal(p->discovery_url,
                        "https://idp.example.com/.well-known/openid-configuration");
    assert_int_equal(p->nclaims, 1);
    assert_string_equal(p->claims[0], "groups");

    assert_int_equal(c.napps, 2);
    const struct access_app *a = &c.apps[0];
    assert_string_equal(a->name, "myapp");
    assert_string_equal(a->domain, "service.localhost");
    assert_string_equal(a->host, "service.localhost");
    assert_string_equal(a->path, "");
    assert_false(a->wildcard);
    assert_string_equal(a->origin.text, "http://127.0.0.1:8081");
    assert_string_equal(a->origin.host, "127.0.0.1");
    assert_int_equal(a->origin.port, 8081);
    assert_int_equal(a->session_duration, 24 * 3600);
    assert_int_equal(a->nidps, 1);
    assert_string_equal(a->idps[0], "Authentik");
    assert_true(a->instant_auth);
    assert_int_equal(a->same_site, ACCESS_SAME_SITE_LAX);
    assert_true(a->http_only_cookie);
    assert_null(a->aud);
    assert_int_equal(a->npolicies, 1);
    assert_string_equal(a->policies[0].name, "allow");
    assert_int_equal(a->policies[0].action, ACCESS_ACTION_ALLOW);

    a = &c.apps[1];
    assert_string_equal(a->path, "/admin");
    assert_int_equal(a->session_duration, ACCESS_DEFAULT_SESSION_S);
    assert_int_equal(a->nidps, 0); /* all */
    assert_false(a->instant_auth);
    assert_int_equal(a->npolicies, 2);
    assert_int_equal(a->policies[0].action, ACCESS_ACTION_BYPASS);
    assert_int_equal(a->policies[0].include.v[0].ncidrs, 3);

    assert_ptr_equal(access_config_idp(&c, "Other"), &c.idps[1]);
    assert_null(access_config_idp(&c, "authentik")); /* names are exact */
    assert_ptr_equal(access_config_app(&c, "admin"), &c.apps[1]);
    assert_null(access_config_app(&c, "nope"));
    access_config_free(&c);
    access_config_free(&c); /* a zeroed struct is fine */
    json_decref(j);
}

static void test_optional_fields(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    fixture_set(j, "identity_providers/0/pkce_enabled", "false");
    fixture_set(j, "identity_providers/0/email_claim_name", "\"mail\"");
    fixture_set(j, "identity_providers/0/scopes", "[\"openid\", \"groups\"]");
    fixture_set(j, "identity_providers/0/claims", "[\"groups\", \"department\"]");
    fixture_set(j, "identity_providers/0/ca_file", "\"/etc/postern/ca.pem\"");
    fixture_set(j, "identity_providers/0/issuer",
                "\"HTTP://Auth.localhost:9000/application/o/cf/\"");
    fixture_set(j, "identity_providers/0/auth_url",
                "\"https://auth.example.com/authorize?tenant=a\"");
    fixture_set(j, "applications/0/same_site", "\"none\"");
    fixture_set(j, "applications/0/http_only_cookie", "false");
    fixture_set(j, "applications/0/aud",
                "\"2f6c0b0c2d7a4f1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f\"");
    fixture_set(j, "applications/0/session_duration", "\"30m\"");
    fixture_set(j, "applications/1/session_duration", "3600");
    fixture_set(j, "applications/1/identity_providers", "[]");
    fixture_set(j, "applications/1/origin", "\"https://[::1]\"");
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(j, "access", &c, &ae), 0);
    const struct access_idp *p = &c.idps[0];
    assert_false(p->pkce_enabled);
    assert_string_equal(p->email_claim_name, "mail");
    assert_int_equal(p->nscopes, 2);
    assert_string_equal(p->scopes[1], "groups");
    assert_int_equal(p->nclaims, 2);
    assert_string_equal(p->claims[1], "department");
    assert_string_equal(p->ca_file, "/etc/postern/ca.pem");
    assert_string_equal(p->issuer, "HTTP://Auth.localhost:9000/application/o/cf/"); /* exact */
    assert_string_equal(p->auth_url, "https://auth.example.com/authorize?tenant=a");
    assert_int_equal(c.apps[0].same_site, ACCESS_SAME_SITE_NONE);
    assert_false(c.apps[0].http_only_cookie);
    assert_string_equal(c.apps[0].aud,
                        "2f6c0b0c2d7a4f1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f");
    assert_int_equal(c.apps[0].session_duration, 1800);
    assert_int_equal(c.apps[1].session_duration, 3600);
    assert_int_equal(c.apps[1].nidps, 0);
    assert_true(c.apps[1].origin.https);
    assert_string_equal(c.apps[1].origin.host, "[::1]");
    assert_int_equal(c.apps[1].origin.port, 443);
    access_config_free(&c);
    json_decref(j);

    /* Only the team domain is required. */
    j = json_pack("{s:s}", "team_domain", "https://team.example.com/");
    assert_int_equal(access_config_parse(j, "access", &c, &ae), 0);
    assert_string_equal(c.team.text, "https://team.example.com");
    assert_true(c.team.https);
    assert_int_equal(c.team.port, 443);
    assert_int_equal(c.nidps + c.napps, 0);
    access_config_free(&c);
    json_decref(j);
}

/* One broken field: path to set (value NULL removes it), the full message, and where the
 * node must point: at the value set (node NULL), or at the node of that path. */
struct refusal {
    const char *path;
    const char *value;
    const char *msg;
    const char *node;
};

static const struct refusal refusals[] = {
    /* the section */
    {"foo", "1", "access.foo: unknown field", NULL},
    {"team_domain", NULL, "access.team_domain: is required", ""},
    {"team_domain", "5", "access.team_domain: expected a non-empty string", NULL},
    {"team_domain", "\"\"", "access.team_domain: expected a non-empty string", NULL},
    {"team_domain", "\"team.localhost\"", "access.team_domain: expected an http:// or https:// URL",
     NULL},
    {"team_domain", "\"http://team.localhost:9000/cdn\"",
     "access.team_domain: expected scheme://host[:port] only, without a path or query", NULL},
    {"team_domain", "\"http://team.localhost:9000?x=1\"",
     "access.team_domain: expected scheme://host[:port] only, without a path or query", NULL},
    {"team_domain", "\"http://team.localhost:0\"",
     "access.team_domain: invalid port (expected 1 to 65535)", NULL},
    {"team_domain", "\"http://team.localhost:65536\"",
     "access.team_domain: invalid port (expected 1 to 65535)", NULL},
    {"team_domain", "\"http://admin@team.localhost\"",
     "access.team_domain: credentials (user@) are not allowed in the URL", NULL},
    {"team_domain", "\"http://team.localhost/#x\"",
     "access.team_domain: a fragment (#) is not allowed", NULL},
    {"team_domain", "\"http://team..localhost\"",
     "access.team_domain: expected a host name such as auth.example.com", NULL},
    {"team_domain", "\"http://team localhost\"",
     "access.team_domain: expected visible ASCII characters only", NULL},
    {"identity_providers", "{}", "access.identity_providers: expected a list of at most 64 items",
     NULL},
    {"applications", "\"myapp\"", "access.applications: expected a list of at most 1024 items",
     NULL},
    /* identity providers */
    {"identity_providers/0", "\"Authentik\"",
     "access.identity_providers[0]: expected an identity provider (a mapping)", NULL},
    {"identity_providers/0/secret", "\"x\"", "access.identity_providers[0].secret: unknown field",
     NULL},
    {"identity_providers/0/name", NULL, "access.identity_providers[0].name: is required",
     "identity_providers/0"},
    {"identity_providers/0/name", "\" Authentik\"",
     "access.identity_providers[0].name: leading or trailing space", NULL},
    {"identity_providers/1/name", "\"Authentik\"",
     "access.identity_providers[1].name: duplicate identity provider name \"Authentik\" (also "
     "access.identity_providers[0])",
     NULL},
    {"identity_providers/0/type", NULL, "access.identity_providers[0].type: is required",
     "identity_providers/0"},
    {"identity_providers/0/type", "\"saml\"",
     "access.identity_providers[0].type: expected oidc (the only type for now)", NULL},
    {"identity_providers/0/client_id", NULL, "access.identity_providers[0].client_id: is required",
     "identity_providers/0"},
    {"identity_providers/0/client_secret", NULL,
     "access.identity_providers[0].client_secret: is required", "identity_providers/0"},
    {"identity_providers/0/client_secret", "\"\"",
     "access.identity_providers[0].client_secret: expected a non-empty string", NULL},
    {"identity_providers/0/client_secret", "\"s3cr\\u0001t\"",
     "access.identity_providers[0].client_secret: control character in the value", NULL},
    {"identity_providers/0/auth_url", NULL, "access.identity_providers[0].auth_url: is required",
     "identity_providers/0"},
    {"identity_providers/0/token_url", NULL, "access.identity_providers[0].token_url: is required",
     "identity_providers/0"},
    {"identity_providers/0/certs_url", NULL, "access.identity_providers[0].certs_url: is required",
     "identity_providers/0"},
    {"identity_providers/0/token_url", "\"ftp://auth.localhost/token\"",
     "access.identity_providers[0].token_url: expected an http:// or https:// URL", NULL},
    {"identity_providers/0/token_url", "\"http://auth.localhost/token?x=1\"",
     "access.identity_providers[0].token_url: a query (?) is not allowed", NULL},
    {"identity_providers/0/certs_url", "\"http://auth.localhost/jwks#k\"",
     "access.identity_providers[0].certs_url: a fragment (#) is not allowed", NULL},
    {"identity_providers/0/certs_url", "\"http://auth.localhost/jw\\\\ks\"",
     "access.identity_providers[0].certs_url: a character outside RFC 3986 in the URL's path or "
     "query",
     NULL},
    {"identity_providers/0/certs_url", "\"http://auth.localhost/jwks%zz\"",
     "access.identity_providers[0].certs_url: invalid %-escape in the URL", NULL},
    {"identity_providers/0/auth_url", "\"http://[::1/authorize\"",
     "access.identity_providers[0].auth_url: invalid IPv6 address in brackets", NULL},
    {"identity_providers/1/discovery_url", "\"idp.example.com\"",
     "access.identity_providers[1].discovery_url: expected an http:// or https:// URL", NULL},
    {"identity_providers/0/issuer", "\"Authentik\"",
     "access.identity_providers[0].issuer: expected an http:// or https:// URL", NULL},
    {"identity_providers/0/pkce_enabled", "\"yes\"",
     "access.identity_providers[0].pkce_enabled: expected true or false", NULL},
    {"identity_providers/0/email_claim_name", "\"\"",
     "access.identity_providers[0].email_claim_name: expected a non-empty string", NULL},
    {"identity_providers/0/scopes", "\"openid\"",
     "access.identity_providers[0].scopes: expected a list of at most 32 items", NULL},
    {"identity_providers/0/scopes", "[\"email\", \"profile\"]",
     "access.identity_providers[0].scopes: must contain openid (OpenID Connect Core 1.0 section "
     "3.1.2.1)",
     NULL},
    {"identity_providers/0/scopes", "[]",
     "access.identity_providers[0].scopes: must contain openid (OpenID Connect Core 1.0 section "
     "3.1.2.1)",
     NULL},
    {"identity_providers/0/scopes", "[\"openid\", \"openid\"]",
     "access.identity_providers[0].scopes[1]: \"openid\" is listed twice",
     "identity_providers/0/scopes/1"},
    {"identity_providers/0/scopes", "[\"openid\", \"a b\"]",
     "access.identity_providers[0].scopes[1]: expected visible ASCII characters only",
     "identity_providers/0/scopes/1"},
    {"identity_providers/0/scopes", "[\"openid\", \"a\\\"b\"]",
     "access.identity_providers[0].scopes[1]: '\"' and '\\' are not allowed in a scope (RFC 6749 "
     "section 3.3)",
     "identity_providers/0/scopes/1"},
    {"identity_providers/1/claims/0", "\"aud\"",
     "access.identity_providers[1].claims[0]: \"aud\" is set by the gateway itself", NULL},
    {"identity_providers/1/claims/1", "\"email\"",
     "access.identity_providers[1].claims[1]: \"email\" is set by the gateway itself", NULL},
    {"identity_providers/1/claims/1", "7",
     "access.identity_providers[1].claims[1]: expected a non-empty string", NULL},
    {"identity_providers/0/ca_file", "\"\"",
     "access.identity_providers[0].ca_file: expected a non-empty string", NULL},
    /* applications */
    {"applications/0", "[]", "access.applications[0]: expected an application (a mapping)", NULL},
    {"applications/0/path", "\"/x\"", "access.applications[0].path: unknown field", NULL},
    {"applications/0/name", NULL, "access.applications[0].name: is required", "applications/0"},
    {"applications/1/name", "\"myapp\"",
     "access.applications[1].name: duplicate application name \"myapp\"", NULL},
    {"applications/0/domain", NULL, "access.applications[0].domain: is required", "applications/0"},
    {"applications/0/domain", "\"service.localhost:9000\"",
     "access.applications[0].domain: a port is not allowed (host matching ignores the port)", NULL},
    {"applications/0/domain", "\"http://service.localhost\"",
     "access.applications[0].domain: expected a host and an optional path, without a scheme "
     "(http://)",
     NULL},
    {"applications/0/domain", "\"a.*.example.com\"",
     "access.applications[0].domain: a wildcard is only allowed as the whole leftmost label "
     "(*.example.com)",
     NULL},
    {"applications/0/domain", "\"*.*.example.com\"",
     "access.applications[0].domain: a wildcard is only allowed as the whole leftmost label "
     "(*.example.com)",
     NULL},
    {"applications/0/domain", "\"*example.com\"",
     "access.applications[0].domain: a wildcard is only allowed as the whole leftmost label "
     "(*.example.com)",
     NULL},
    {"applications/0/domain", "\"*\"",
     "access.applications[0].domain: a wildcard is only allowed as the whole leftmost label "
     "(*.example.com)",
     NULL},
    {"applications/0/domain", "\"example.com/app/*\"",
     "access.applications[0].domain: a wildcard is only allowed as the whole leftmost label "
     "(*.example.com)",
     NULL},
    {"applications/0/domain", "\"*.\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"-a.example.com\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"a-.example.com\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"a..example.com\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"service.localhost.\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"a_b.example.com\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"[::1]\"",
     "access.applications[0].domain: a port is not allowed (host matching ignores the port)", NULL},
    {"applications/0/domain", "\"/admin\"",
     "access.applications[0].domain: expected a host name such as app.example.com", NULL},
    {"applications/0/domain", "\"service.localhost//x\"",
     "access.applications[0].domain: expected a canonical path: no '//', '.' or '..' segment",
     NULL},
    {"applications/0/domain", "\"service.localhost/a/../b\"",
     "access.applications[0].domain: expected a canonical path: no '//', '.' or '..' segment",
     NULL},
    {"applications/0/domain", "\"service.localhost/./b\"",
     "access.applications[0].domain: expected a canonical path: no '//', '.' or '..' segment",
     NULL},
    {"applications/0/domain", "\"service.localhost/a/..\"",
     "access.applications[0].domain: expected a canonical path: no '//', '.' or '..' segment",
     NULL},
    {"applications/0/domain", "\"service.localhost/a?x=1\"",
     "access.applications[0].domain: a query (?) or fragment (#) is not allowed in a domain", NULL},
    {"applications/0/domain", "\"service.localhost/a#x\"",
     "access.applications[0].domain: a query (?) or fragment (#) is not allowed in a domain", NULL},
    {"applications/0/domain", "\"service.localhost/%61dmin\"",
     "access.applications[0].domain: the path may only hold letters, digits and "
     "-._~!$&'()+,;=:@/ (decoded, without %-escapes)",
     NULL},
    {"applications/0/domain", "\"service.localhost/a\\\\b\"",
     "access.applications[0].domain: the path may only hold letters, digits and "
     "-._~!$&'()+,;=:@/ (decoded, without %-escapes)",
     NULL},
    {"applications/0/domain", "\"team.localhost\"",
     "access.applications[0].domain: \"team.localhost\" is the team domain's host", NULL},
    {"applications/0/domain", "\"Team.Localhost/app\"",
     "access.applications[0].domain: \"team.localhost\" is the team domain's host", NULL},
    /* The second application repeats the first one's domain once normalised. */
    {"applications/0/domain", "\"SERVICE.localhost/admin/\"",
     "access.applications[1].domain: \"service.localhost/admin\" is already the domain of "
     "application \"myapp\"",
     "applications/1/domain"},
    {"applications/0/origin", NULL, "access.applications[0].origin: is required", "applications/0"},
    {"applications/0/origin", "\"http://127.0.0.1:8081/app\"",
     "access.applications[0].origin: expected scheme://host[:port] only, without a path or query",
     NULL},
    {"applications/0/origin", "\"127.0.0.1:8081\"",
     "access.applications[0].origin: expected an http:// or https:// URL", NULL},
    {"applications/0/session_duration", "\"forever\"",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/session_duration", "\"59s\"",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/session_duration", "\"731h\"",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/session_duration", "0",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/session_duration", "\"-1h\"",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/session_duration", "true",
     "access.applications[0].session_duration: expected a duration such as 30m, 24h or 7d, from "
     "1m to 730h",
     NULL},
    {"applications/0/identity_providers", "\"Authentik\"",
     "access.applications[0].identity_providers: expected a list of at most 64 items", NULL},
    {"applications/0/identity_providers/0", "\"Nope\"",
     "access.applications[0].identity_providers[0]: no identity provider named \"Nope\"", NULL},
    {"applications/0/identity_providers/0", "\"authentik\"",
     "access.applications[0].identity_providers[0]: no identity provider named \"authentik\"",
     NULL},
    {"applications/0/identity_providers/1", "\"Authentik\"",
     "access.applications[0].identity_providers[1]: \"Authentik\" is listed twice", NULL},
    {"applications/0/instant_auth", "\"true\"",
     "access.applications[0].instant_auth: expected true or false", NULL},
    {"applications/0/same_site", "\"Lax\"",
     "access.applications[0].same_site: expected one of lax, strict, none", NULL},
    {"applications/0/http_only_cookie", "1",
     "access.applications[0].http_only_cookie: expected true or false", NULL},
    {"applications/0/aud", "\"a/b\"",
     "access.applications[0].aud: expected letters, digits, '-', '.', '_' or '~'", NULL},
    {"applications/0/aud", "\"\"", "access.applications[0].aud: expected a non-empty string", NULL},
    {"applications/0/policies", NULL,
     "access.applications[0].policies: is required (an application without a policy denies "
     "everyone)",
     "applications/0"},
    {"applications/0/policies", "[]",
     "access.applications[0].policies: expected a list of 1 to 64 policies", NULL},
};

static void check_refusal(const struct refusal *r)
{
    json_t *j = fixture_json();
    json_t *set = fixture_set(j, r->path, r->value);
    struct access_config c;
    memset(&c, 0x5a, sizeof c);
    struct access_err ae = {0};
    if (access_config_parse(j, "access", &c, &ae) != -1) {
        fail_msg("accepted: %s = %s", r->path, r->value ? r->value : "(removed)");
    }
    struct err e = {0};
    assert_int_equal(access_err_format(&ae, &e), -1);
    if (strcmp(e.msg, r->msg) != 0) {
        fail_msg("%s = %s:\n   got \"%s\"\n  want \"%s\"", r->path, r->value, e.msg, r->msg);
    }
    const json_t *want = r->node == NULL ? set : r->node[0] ? fixture_get(j, r->node) : j;
    if (ae.node != want) {
        fail_msg("%s: the error points at another node", r->msg);
    }
    /* Nothing is left to free. */
    assert_null(c.idps);
    assert_null(c.apps);
    assert_null(c.team.text);
    assert_int_equal(c.nidps + c.napps, 0);
    json_decref(j);
}

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        check_refusal(&refusals[i]);
    }
}

static void test_not_a_mapping(void **state)
{
    (void)state;
    json_t *j = json_array();
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(j, "access", &c, &ae), -1);
    assert_string_equal(ae.field, "access");
    assert_string_equal(ae.msg, "expected the access section (a mapping)");
    assert_ptr_equal(ae.node, j);
    json_decref(j);
}

/* The message never repeats a secret, whatever is wrong with it. */
static void test_secret_not_echoed(void **state)
{
    (void)state;
    const char *values[] = {"\"hunter2\\u0007\"", "\"hunter2\\nx\"", "42"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *j = fixture_json();
        fixture_set(j, "identity_providers/0/client_secret", values[i]);
        struct access_config c;
        struct access_err ae = {0};
        assert_int_equal(access_config_parse(j, "access", &c, &ae), -1);
        assert_null(strstr(ae.msg, "hunter2"));
        assert_null(strstr(ae.msg, "42"));
        json_decref(j);
    }
}

/* Limits: one item over is refused. */
static void test_limits(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    json_t *idps = fixture_get(j, "identity_providers");
    for (int i = 2; i <= ACCESS_MAX_IDPS; i++) {
        json_t *p = json_deep_copy(json_array_get(idps, 1));
        char name[32];
        snprintf(name, sizeof name, "idp%d", i);
        json_object_set_new(p, "name", json_string(name));
        json_array_append_new(idps, p);
    }
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(j, "access", &c, &ae), -1);
    assert_string_equal(ae.msg, "expected a list of at most 64 items");
    json_array_remove(idps, 0);
    assert_int_equal(access_config_parse(j, "access", &c, &ae), -1); /* apps name Authentik */
    assert_string_equal(ae.field, "access.applications[0].identity_providers[0]");
    fixture_set(j, "applications/0/identity_providers", "[]");
    fixture_set(j, "applications/1/policies/1/require", NULL);
    assert_int_equal(access_config_parse(j, "access", &c, &ae), 0);
    assert_int_equal(c.nidps, ACCESS_MAX_IDPS);
    access_config_free(&c);

    char big[ACCESS_NAME_MAX + 2];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(fixture_get(j, "applications/0"), "name", json_string(big));
    assert_int_equal(access_config_parse(j, "access", &c, &ae), -1);
    assert_string_equal(ae.msg, "longer than 128 bytes");
    json_decref(j);
}

/* Two applications with one AUD tag: a token of one would open the other. */
static void test_duplicate_aud(void **state)
{
    (void)state;
    json_t *j = fixture_json();
    fixture_set(j, "applications/0/aud", "\"tag-1\"");
    json_t *second = fixture_set(j, "applications/1/aud", "\"tag-1\"");
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(j, "access", &c, &ae), -1);
    assert_string_equal(ae.field, "access.applications[1].aud");
    assert_string_equal(ae.msg, "already the AUD tag of application \"myapp\"");
    assert_ptr_equal(ae.node, second);
    fixture_set(j, "applications/1/aud", "\"tag-2\"");
    assert_int_equal(access_config_parse(j, "access", &c, &ae), 0);
    access_config_free(&c);
    json_decref(j);
}

/* What admin does with a refusal: FILE:LINE from the node, through util_yaml_line. */
static void test_yaml_line(void **state)
{
    (void)state;
    char text[sizeof fixture_yaml + 16];
    const char *at = strstr(fixture_yaml, "\"2001:db8::/32\"");
    assert_non_null(at);
    size_t pre = (size_t)(at - fixture_yaml);
    snprintf(text, sizeof text, "%.*s\"2001:db8::zz/32\"%s", (int)pre, fixture_yaml,
             at + strlen("\"2001:db8::/32\""));
    struct yaml_doc doc = {0};
    struct err e = {0};
    assert_int_equal(util_yaml_parse(slice_z(text), "gate.yaml", &doc, &e), 0);
    struct access_config c;
    struct access_err ae = {0};
    assert_int_equal(access_config_parse(doc.root, "access", &c, &ae), -1);
    char line[ERR_MSG_MAX * 2];
    snprintf(line, sizeof line, "%s:%d: %s: %s", doc.path, util_yaml_line(&doc, ae.node), ae.field,
             ae.msg);
    assert_string_equal(line, "gate.yaml:31: access.applications[1].policies[0].include[0]."
                              "ip_ranges[1]: not an IPv4/IPv6 CIDR");
    util_yaml_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_parses),    cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_refusals),          cmocka_unit_test(test_not_a_mapping),
        cmocka_unit_test(test_secret_not_echoed), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_duplicate_aud),     cmocka_unit_test(test_yaml_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
