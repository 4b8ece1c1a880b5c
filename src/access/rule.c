/*
 * rule.c: policies and their rules, parsed from JSON. A policy is {name, action, include,
 * require, exclude}; each rule is an object with exactly one key, its selector (Cloudflare's
 * "Include / Require / Exclude" rows, each of one selector type with its values).
 */
#include "access/access_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const selector_names[] = {
    [ACCESS_SEL_EVERYONE] = "everyone",
    [ACCESS_SEL_EMAILS] = "emails",
    [ACCESS_SEL_EMAIL_DOMAINS] = "email_domains",
    [ACCESS_SEL_IP_RANGES] = "ip_ranges",
    [ACCESS_SEL_GROUPS] = "groups",
    [ACCESS_SEL_OIDC_CLAIM] = "oidc_claim",
    [ACCESS_SEL_SERVICE_TOKEN] = "service_token",
    [ACCESS_SEL_ANY_SERVICE_TOKEN] = "any_service_token",
    [ACCESS_SEL_LOGIN_METHOD] = "login_method",
};

#define SELECTOR_LIST                                                                              \
    "everyone, emails, email_domains, ip_ranges, groups, oidc_claim, service_token, "              \
    "any_service_token or login_method"

const char *access_selector_name(enum access_selector s)
{
    return (size_t)s < UTIL_ARRAY_LEN(selector_names) ? selector_names[s] : "?";
}

/* ---- values of a rule --------------------------------------------------- */

/* "user@example.com": one '@', a non-empty local part, a DNS name after it. */
static bool email_ok(const char *z)
{
    const char *at = strchr(z, '@');
    return at != NULL && at != z && strchr(at + 1, '@') == NULL &&
           access_dns_name_ok(at + 1, strlen(at + 1));
}

/* Checks and normalises one string value of a rule; returns a static reason or NULL. */
static const char *value_check(enum access_selector sel, char *v, const struct access_idp *idps,
                               size_t nidps, char *why, size_t whylen)
{
    switch (sel) {
    case ACCESS_SEL_EMAILS:
        access_lower(v); /* compared ASCII case-insensitively: store one form */
        return email_ok(v) ? NULL : "expected an email address such as user@example.com";
    case ACCESS_SEL_EMAIL_DOMAINS:
        access_lower(v);
        if (v[0] == '@') {
            return "expected a domain such as example.com, without '@'";
        }
        return access_dns_name_ok(v, strlen(v)) ? NULL : "expected a domain such as example.com";
    case ACCESS_SEL_LOGIN_METHOD:
        if (idps != NULL && access_idp_index(idps, nidps, v) < 0) {
            snprintf(why, whylen, "no identity provider named \"%s\"", v);
            return why;
        }
        return NULL;
    default:
        return NULL;
    }
}

static enum access_str_kind value_kind(enum access_selector sel)
{
    return sel == ACCESS_SEL_EMAILS || sel == ACCESS_SEL_EMAIL_DOMAINS ? ACCESS_STR_TOKEN
                                                                       : ACCESS_STR_NAME;
}

static int rule_strings(struct access_err *ae, const json_t *list, const char *f,
                        const struct access_idp *idps, size_t nidps, struct access_rule *r)
{
    char fi[ACCESS_FIELD_MAX];
    char why[ERR_MSG_MAX];
    r->values = xcalloc(json_array_size(list), sizeof *r->values);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        access_field_i(fi, f, i);
        if (access_check_str(ae, item, fi, value_kind(r->sel), ACCESS_VALUE_MAX) != 0) {
            return -1;
        }
        r->values[i] = xstrdup(json_string_value(item));
        r->nvalues = i + 1;
        const char *bad = value_check(r->sel, r->values[i], idps, nidps, why, sizeof why);
        if (bad != NULL) {
            return access_bad(ae, item, fi, "%s", bad);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(r->values[k], r->values[i]) == 0) {
                return access_bad(ae, item, fi, "\"%s\" is listed twice", r->values[i]);
            }
        }
    }
    return 0;
}

static int rule_cidrs(struct access_err *ae, const json_t *list, const char *f,
                      struct access_rule *r)
{
    char fi[ACCESS_FIELD_MAX];
    r->cidrs = xcalloc(json_array_size(list), sizeof *r->cidrs);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        access_field_i(fi, f, i);
        if (!json_is_string(item)) {
            return access_bad(ae, item, fi, "expected a string such as 10.0.0.0/8");
        }
        struct err e = {0};
        struct slice s = {json_string_value(item), json_string_length(item)};
        if (access_cidr_parse(s, &r->cidrs[i], &e) != 0) {
            return access_bad(ae, item, fi, "%s", e.msg);
        }
        r->ncidrs = i + 1;
        for (size_t k = 0; k < i; k++) {
            if (memcmp(&r->cidrs[k], &r->cidrs[i], sizeof r->cidrs[i]) == 0) {
                char t[ACCESS_CIDR_TEXT_MAX];
                access_cidr_format(&r->cidrs[i], t);
                return access_bad(ae, item, fi, "%s is listed twice", t);
            }
        }
    }
    return 0;
}

static int rule_claim(struct access_err *ae, const json_t *v, const char *f, struct access_rule *r)
{
    static const char *const known[] = {"name", "value", NULL};
    if (access_check_object(ae, v, f, "{name, value}", known) != 0 ||
        access_get_str(ae, v, "name", f, true, ACCESS_STR_TOKEN, ACCESS_NAME_MAX, &r->claim_name) !=
            0 ||
        access_get_str(ae, v, "value", f, true, ACCESS_STR_TEXT, ACCESS_VALUE_MAX,
                       &r->claim_value) != 0) {
        return -1;
    }
    return 0;
}

static int rule_value(struct access_err *ae, const json_t *v, const char *f,
                      const struct access_idp *idps, size_t nidps, struct access_rule *r)
{
    switch (r->sel) {
    case ACCESS_SEL_EVERYONE:
    case ACCESS_SEL_ANY_SERVICE_TOKEN:
        /* "everyone: false" would read as a rule that matches nobody: refused as unclear. */
        return json_is_true(v) ? 0 : access_bad(ae, v, f, "expected true");
    case ACCESS_SEL_OIDC_CLAIM:
        return rule_claim(ae, v, f, r);
    default:
        break;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > ACCESS_MAX_VALUES) {
        return access_bad(ae, v, f, "expected a list of 1 to %d values", ACCESS_MAX_VALUES);
    }
    if (r->sel == ACCESS_SEL_IP_RANGES) {
        return rule_cidrs(ae, v, f, r);
    }
    return rule_strings(ae, v, f, idps, nidps, r);
}

static int rule_fields(const json_t *j, const char *field, const struct access_idp *idps,
                       size_t nidps, struct access_rule *r, struct access_err *ae)
{
    if (!json_is_object(j)) {
        return access_bad(ae, j, field, "expected a rule such as { everyone: true }");
    }
    if (json_object_size(j) != 1) {
        return access_bad(ae, j, field,
                          json_object_size(j) == 0
                              ? "expected one selector: " SELECTOR_LIST
                              : "expected exactly one selector per rule (write one rule each)");
    }
    const char *key = json_object_iter_key(json_object_iter((json_t *)j));
    const json_t *v = json_object_get(j, key);
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, key);
    for (size_t s = 0; s < UTIL_ARRAY_LEN(selector_names); s++) {
        if (strcmp(key, selector_names[s]) == 0) {
            r->sel = (enum access_selector)s;
            return rule_value(ae, v, f, idps, nidps, r);
        }
    }
    return access_bad(ae, v, f, "unknown selector (expected " SELECTOR_LIST ")");
}

int access_rule_parse(const json_t *j, const char *field, const struct access_idp *idps,
                      size_t nidps, struct access_rule *out, struct access_err *ae)
{
    memset(out, 0, sizeof *out);
    if (rule_fields(j, field, idps, nidps, out, ae) != 0) {
        access_rule_free(out);
        return -1;
    }
    return 0;
}

void access_rule_free(struct access_rule *r)
{
    access_free_list(r->values, r->nvalues);
    free(r->cidrs);
    free(r->claim_name);
    free(r->claim_value);
    memset(r, 0, sizeof *r);
}

/* ---- policies ----------------------------------------------------------- */

static void rules_free(struct access_rules *l)
{
    for (size_t i = 0; i < l->n; i++) {
        access_rule_free(&l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int policy_rules(struct access_err *ae, const json_t *j, const char *key, const char *field,
                        bool required, const struct access_idp *idps, size_t nidps,
                        struct access_rules *out)
{
    const json_t *list = json_object_get(j, key);
    char f[ACCESS_FIELD_MAX];
    char fi[ACCESS_FIELD_MAX];
    access_field(f, field, key);
    if (list == NULL) {
        return required ? access_bad(ae, j, f, "is required (a policy matches nobody without)") : 0;
    }
    size_t min = required ? 1 : 0;
    if (!json_is_array(list) || json_array_size(list) < min ||
        json_array_size(list) > ACCESS_MAX_RULES) {
        return access_bad(ae, list, f, "expected a list of %zu to %d rules", min, ACCESS_MAX_RULES);
    }
    out->v = xcalloc(json_array_size(list) + 1, sizeof *out->v);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        access_field_i(fi, f, i);
        if (access_rule_parse(v, fi, idps, nidps, &out->v[i], ae) != 0) {
            return -1;
        }
        out->n = i + 1;
    }
    return 0;
}

static int policy_action(struct access_err *ae, const json_t *j, const char *field,
                         struct access_policy *p)
{
    const json_t *v = json_object_get(j, "action");
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "action");
    if (v == NULL) {
        return access_bad(ae, j, f, "is required");
    }
    for (int a = ACCESS_ACTION_ALLOW; a <= ACCESS_ACTION_SERVICE_AUTH; a++) {
        if (json_is_string(v) && strcmp(json_string_value(v), access_action_name(a)) == 0) {
            p->action = (enum access_action)a;
            return 0;
        }
    }
    return access_bad(ae, v, f, "expected one of allow, block, bypass, service_auth");
}

static int policy_fields(const json_t *j, const char *field, const struct access_idp *idps,
                         size_t nidps, struct access_policy *p, struct access_err *ae)
{
    static const char *const known[] = {"name", "action", "include", "require", "exclude", NULL};
    if (access_check_object(ae, j, field, "a policy", known) != 0 ||
        access_get_str(ae, j, "name", field, true, ACCESS_STR_NAME, ACCESS_NAME_MAX, &p->name) ||
        policy_action(ae, j, field, p) != 0 ||
        policy_rules(ae, j, "include", field, true, idps, nidps, &p->include) != 0 ||
        policy_rules(ae, j, "require", field, false, idps, nidps, &p->require) != 0 ||
        policy_rules(ae, j, "exclude", field, false, idps, nidps, &p->exclude) != 0) {
        return -1;
    }
    return 0;
}

int access_policy_parse(const json_t *j, const char *field, const struct access_idp *idps,
                        size_t nidps, struct access_policy *out, struct access_err *ae)
{
    memset(out, 0, sizeof *out);
    if (policy_fields(j, field, idps, nidps, out, ae) != 0) {
        access_policy_free(out);
        return -1;
    }
    return 0;
}

void access_policy_free(struct access_policy *p)
{
    free(p->name);
    rules_free(&p->include);
    rules_free(&p->require);
    rules_free(&p->exclude);
    memset(p, 0, sizeof *p);
}
