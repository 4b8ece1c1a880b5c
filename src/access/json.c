/*
 * json.c: the model back to JSON, in the one normalised form the store keeps: every key
 * written (defaults made explicit), keys in the order of the configuration file, values as
 * the parsers normalised them. Parsing the result gives equal structs and equal JSON.
 */
#include "access/access_int.h"

#include <stdio.h>

static json_t *str_list(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

static void set_str(json_t *o, const char *key, const char *z)
{
    if (z != NULL) {
        json_object_set_new(o, key, json_string(z));
    }
}

/* The largest of h, m, s that divides exactly: 24h, 90m, 45s (Cloudflare writes 24h, 730h). */
static json_t *duration(int64_t sec)
{
    char t[32];
    if (sec % 3600 == 0) {
        snprintf(t, sizeof t, "%lldh", (long long)(sec / 3600));
    } else if (sec % 60 == 0) {
        snprintf(t, sizeof t, "%lldm", (long long)(sec / 60));
    } else {
        snprintf(t, sizeof t, "%llds", (long long)sec);
    }
    return json_string(t);
}

json_t *access_rule_to_json(const struct access_rule *r)
{
    json_t *v;
    switch (r->sel) {
    case ACCESS_SEL_EVERYONE:
    case ACCESS_SEL_ANY_SERVICE_TOKEN:
        v = json_true();
        break;
    case ACCESS_SEL_OIDC_CLAIM:
        v = json_pack("{s:s, s:s}", "name", r->claim_name, "value", r->claim_value);
        break;
    case ACCESS_SEL_IP_RANGES:
        v = json_array();
        for (size_t i = 0; i < r->ncidrs; i++) {
            char t[ACCESS_CIDR_TEXT_MAX];
            access_cidr_format(&r->cidrs[i], t);
            json_array_append_new(v, json_string(t));
        }
        break;
    default:
        v = str_list(r->values, r->nvalues);
        break;
    }
    json_t *o = json_object();
    json_object_set_new(o, access_selector_name(r->sel), v);
    return o;
}

static json_t *rules(const struct access_rules *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        json_array_append_new(a, access_rule_to_json(&l->v[i]));
    }
    return a;
}

json_t *access_policy_to_json(const struct access_policy *p)
{
    json_t *o = json_object();
    set_str(o, "name", p->name);
    set_str(o, "action", access_action_name(p->action));
    json_object_set_new(o, "include", rules(&p->include));
    json_object_set_new(o, "require", rules(&p->require));
    json_object_set_new(o, "exclude", rules(&p->exclude));
    return o;
}

json_t *access_idp_to_json(const struct access_idp *p, bool with_secret)
{
    json_t *o = json_object();
    set_str(o, "name", p->name);
    set_str(o, "type", "oidc");
    set_str(o, "client_id", p->client_id);
    if (with_secret) {
        set_str(o, "client_secret", p->client_secret);
    }
    set_str(o, "auth_url", p->auth_url);
    set_str(o, "token_url", p->token_url);
    set_str(o, "certs_url", p->certs_url);
    set_str(o, "discovery_url", p->discovery_url);
    set_str(o, "issuer", p->issuer);
    json_object_set_new(o, "pkce_enabled", json_boolean(p->pkce_enabled));
    set_str(o, "email_claim_name", p->email_claim_name);
    json_object_set_new(o, "scopes", str_list(p->scopes, p->nscopes));
    json_object_set_new(o, "claims", str_list(p->claims, p->nclaims));
    set_str(o, "ca_file", p->ca_file);
    return o;
}

json_t *access_app_to_json(const struct access_app *a)
{
    json_t *o = json_object();
    set_str(o, "name", a->name);
    set_str(o, "domain", a->domain);
    set_str(o, "origin", a->origin.text);
    json_object_set_new(o, "session_duration", duration(a->session_duration));
    json_object_set_new(o, "identity_providers", str_list(a->idps, a->nidps));
    json_object_set_new(o, "instant_auth", json_boolean(a->instant_auth));
    set_str(o, "same_site", access_same_site_name(a->same_site));
    json_object_set_new(o, "http_only_cookie", json_boolean(a->http_only_cookie));
    set_str(o, "aud", a->aud);
    json_t *pl = json_array();
    for (size_t i = 0; i < a->npolicies; i++) {
        json_array_append_new(pl, access_policy_to_json(&a->policies[i]));
    }
    json_object_set_new(o, "policies", pl);
    return o;
}

json_t *access_config_to_json(const struct access_config *c, bool with_secrets)
{
    json_t *o = json_object();
    set_str(o, "team_domain", c->team.text);
    json_t *il = json_array();
    for (size_t i = 0; i < c->nidps; i++) {
        json_array_append_new(il, access_idp_to_json(&c->idps[i], with_secrets));
    }
    json_object_set_new(o, "identity_providers", il);
    json_t *al = json_array();
    for (size_t i = 0; i < c->napps; i++) {
        json_array_append_new(al, access_app_to_json(&c->apps[i]));
    }
    json_object_set_new(o, "applications", al);
    return o;
}
