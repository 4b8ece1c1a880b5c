/*
 * A valid `access:` section (issue 4's example, plus a second IdP and application) and helpers
 * to break one field of it at a time. Included by the access unit tests.
 */
#ifndef POSTERN_TEST_ACCESS_FIXTURE_H
#define POSTERN_TEST_ACCESS_FIXTURE_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"

static const char fixture_yaml[] =
    "team_domain: http://team.localhost:9000\n"
    "identity_providers:\n"
    "  - name: Authentik\n"
    "    type: oidc\n"
    "    client_id: cf-client\n"
    "    client_secret: cf-secret-0123456789\n"
    "    auth_url: http://auth.localhost:9000/application/o/authorize/\n"
    "    token_url: http://auth.localhost:9000/application/o/token/\n"
    "    certs_url: http://auth.localhost:9000/application/o/cloudflare/jwks/\n"
    "  - name: Other\n"
    "    type: oidc\n"
    "    client_id: other\n"
    "    client_secret: other-secret\n"
    "    discovery_url: https://idp.example.com/.well-known/openid-configuration\n"
    "    claims: [groups]\n"
    "applications:\n"
    "  - name: myapp\n"
    "    domain: service.localhost\n"
    "    origin: http://127.0.0.1:8081\n"
    "    session_duration: 24h\n"
    "    identity_providers: [Authentik]\n"
    "    instant_auth: true\n"
    "    policies:\n"
    "      - { name: allow, action: allow, include: [ { everyone: true } ] }\n"
    "  - name: admin\n"
    "    domain: service.localhost/admin\n"
    "    origin: http://127.0.0.1:8082\n"
    "    policies:\n"
    "      - name: office\n"
    "        action: bypass\n"
    "        include: [ { ip_ranges: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7] } ]\n"
    "      - name: admins\n"
    "        action: allow\n"
    "        include: [ { groups: [admins] } ]\n"
    "        require: [ { login_method: [Authentik] } ]\n"
    "        exclude: [ { emails: [mallory@example.com] } ]\n";

/* The fixture as JSON (through util_yaml, as the config file would be). */
static json_t *fixture_json(void)
{
    struct yaml_doc doc = {0};
    struct err e = {0};
    if (util_yaml_parse(slice_z(fixture_yaml), "fixture.yaml", &doc, &e) != 0) {
        fail_msg("fixture: %s", e.msg);
    }
    json_t *j = json_incref(doc.root);
    util_yaml_free(&doc);
    return j;
}

/* The node at "applications/0/policies/1" (array indexes and object keys), or NULL. */
static json_t *fixture_get(json_t *root, const char *path)
{
    json_t *cur = root;
    char *copy = strdup(path);
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t != NULL && cur != NULL;
         t = strtok_r(NULL, "/", &save)) {
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(t, NULL, 10))
                                 : json_object_get(cur, t);
    }
    free(copy);
    return cur;
}

/* Sets (or with value_json NULL removes) the member at path; returns the new node. */
static json_t *fixture_set(json_t *root, const char *path, const char *value_json)
{
    char *copy = strdup(path);
    char *slash = strrchr(copy, '/');
    const char *last = slash != NULL ? slash + 1 : copy;
    json_t *parent = root;
    if (slash != NULL) {
        *slash = '\0';
        parent = fixture_get(root, copy);
    }
    assert_non_null(parent);
    json_t *v = NULL;
    if (value_json != NULL) {
        json_error_t je;
        v = json_loads(value_json, JSON_DECODE_ANY, &je);
        if (v == NULL) {
            fail_msg("bad test JSON %s: %s", value_json, je.text);
        }
    }
    if (json_is_array(parent)) {
        size_t i = strtoul(last, NULL, 10);
        if (v == NULL) {
            json_array_remove(parent, i);
        } else if (i == json_array_size(parent)) {
            json_array_append_new(parent, v);
        } else {
            json_array_set_new(parent, i, v);
        }
    } else if (v == NULL) {
        json_object_del(parent, last);
    } else {
        json_object_set_new(parent, last, v);
    }
    free(copy);
    return v;
}

#endif
