/*
 * policy.c: which policy of an application decides a request (Cloudflare Access's order,
 * DESIGN.md): bypass and service_auth first, then allow and block, each in order; first
 * match wins; no match denies.
 *
 * A rule's outcome is three-valued (Kleene's logic): yes, no, or unknown when it needs
 * something the gateway does not know yet (the identity before the login, an unparsable
 * client address). A policy is include-any AND require-all AND NOT exclude-any in that
 * logic, and an unknown outcome always resolves towards refusing: a granting policy (allow,
 * bypass, service_auth) must surely match; a block policy that might match blocks.
 */
#include "access/access.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

enum tri { T_NO = 0, T_UNKNOWN = 1, T_YES = 2 };

static enum tri tri_or(enum tri a, enum tri b)
{
    return a > b ? a : b;
}

static enum tri tri_and(enum tri a, enum tri b)
{
    return a < b ? a : b;
}

static enum tri tri_not(enum tri a)
{
    return (enum tri)(T_YES - a);
}

static enum tri tri_of(bool b)
{
    return b ? T_YES : T_NO;
}

struct eval {
    const struct access_subject *s;
    bool identified; /* false before the login: identity selectors are unknown */
    bool ip_known;
    struct access_ip ip;
};

static const char *nonempty(const char *z)
{
    return z != NULL && z[0] != '\0' ? z : NULL;
}

static bool ascii_case_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a | 0x20) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b | 0x20) : *b;
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

static bool in_list(char *const *v, size_t n, const char *z, bool nocase)
{
    for (size_t i = 0; z != NULL && i < n; i++) {
        if (nocase ? ascii_case_eq(v[i], z) : strcmp(v[i], z) == 0) {
            return true;
        }
    }
    return false;
}

/* A claim value equals the configured string: a string exactly; true / false and integers
 * as their JSON text (email_verified: true matches "true"). */
static bool claim_scalar_eq(const json_t *c, const char *value)
{
    char t[32];
    switch (json_typeof(c)) {
    case JSON_STRING:
        return strlen(json_string_value(c)) == json_string_length(c) &&
               strcmp(json_string_value(c), value) == 0;
    case JSON_TRUE:
        return strcmp(value, "true") == 0;
    case JSON_FALSE:
        return strcmp(value, "false") == 0;
    case JSON_INTEGER:
        snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(c));
        return strcmp(t, value) == 0;
    default:
        return false;
    }
}

/* oidc_claim: a scalar claim equal to the value, or an array claim holding it. */
static bool claim_match(const json_t *claims, const struct access_rule *r)
{
    const json_t *c = json_is_object(claims) ? json_object_get(claims, r->claim_name) : NULL;
    if (c == NULL) {
        return false;
    }
    if (!json_is_array(c)) {
        return claim_scalar_eq(c, r->claim_value);
    }
    size_t i;
    const json_t *el;
    json_array_foreach(c, i, el)
    {
        if (claim_scalar_eq(el, r->claim_value)) {
            return true;
        }
    }
    return false;
}

/* emails_ending_in: the part after the last '@', exactly (a subdomain is another domain). */
static bool email_domain_match(const char *email, char *const *v, size_t n)
{
    const char *at = email != NULL ? strrchr(email, '@') : NULL;
    return at != NULL && in_list(v, n, at + 1, true);
}

static bool groups_match(const struct access_subject *s, char *const *v, size_t n)
{
    for (size_t i = 0; s->groups != NULL && i < s->ngroups; i++) {
        if (in_list(v, n, s->groups[i], false)) {
            return true;
        }
    }
    return false;
}

static bool ip_match(const struct eval *x, const struct access_rule *r)
{
    for (size_t i = 0; i < r->ncidrs; i++) {
        if (access_cidr_contains(&r->cidrs[i], &x->ip)) {
            return true;
        }
    }
    return false;
}

static enum tri rule_eval(const struct access_rule *r, const struct eval *x)
{
    const struct access_subject *s = x->s;
    const char *token = nonempty(s->service_token);
    switch (r->sel) {
    case ACCESS_SEL_EVERYONE:
        return T_YES;
    case ACCESS_SEL_IP_RANGES:
        return x->ip_known ? tri_of(ip_match(x, r)) : T_UNKNOWN;
    case ACCESS_SEL_SERVICE_TOKEN:
        return tri_of(in_list(r->values, r->nvalues, token, false));
    case ACCESS_SEL_ANY_SERVICE_TOKEN:
        return tri_of(token != NULL);
    default:
        break;
    }
    if (!x->identified) {
        return T_UNKNOWN;
    }
    switch (r->sel) {
    case ACCESS_SEL_EMAILS:
        return tri_of(in_list(r->values, r->nvalues, nonempty(s->email), true));
    case ACCESS_SEL_EMAIL_DOMAINS:
        return tri_of(email_domain_match(nonempty(s->email), r->values, r->nvalues));
    case ACCESS_SEL_GROUPS:
        return tri_of(groups_match(s, r->values, r->nvalues));
    case ACCESS_SEL_LOGIN_METHOD:
        return tri_of(in_list(r->values, r->nvalues, nonempty(s->idp), false));
    case ACCESS_SEL_OIDC_CLAIM:
        return tri_of(claim_match(s->claims, r));
    default:
        return T_UNKNOWN; /* a selector this code does not know never grants */
    }
}

static enum tri policy_eval(const struct access_policy *p, const struct eval *x)
{
    enum tri inc = T_NO;
    enum tri req = T_YES;
    enum tri exc = T_NO;
    for (size_t i = 0; i < p->include.n; i++) {
        inc = tri_or(inc, rule_eval(&p->include.v[i], x));
    }
    for (size_t i = 0; i < p->require.n; i++) {
        req = tri_and(req, rule_eval(&p->require.v[i], x));
    }
    for (size_t i = 0; i < p->exclude.n; i++) {
        exc = tri_or(exc, rule_eval(&p->exclude.v[i], x));
    }
    return tri_and(tri_and(inc, req), tri_not(exc));
}

static void eval_init(struct eval *x, const struct access_subject *s, bool identified)
{
    x->s = s;
    x->identified = identified;
    x->ip_known = access_ip_parse(s->ip, &x->ip) == 0;
}

static enum access_decision decided(struct access_match *m, const struct access_app *app, int i,
                                    enum access_decision d)
{
    if (m != NULL) {
        m->index = i;
        m->name = i >= 0 ? app->policies[i].name : NULL;
    }
    return d;
}

enum access_decision access_policy_pre(const struct access_app *app, const struct access_subject *s,
                                       struct access_match *m)
{
    struct eval x;
    eval_init(&x, s, false);
    for (size_t i = 0; i < app->npolicies; i++) {
        const struct access_policy *p = &app->policies[i];
        if (p->action == ACCESS_ACTION_BYPASS && policy_eval(p, &x) == T_YES) {
            return decided(m, app, (int)i, ACCESS_BYPASS);
        }
        /* Service Auth authenticates a service, never a person: only with a token. */
        if (p->action == ACCESS_ACTION_SERVICE_AUTH && nonempty(s->service_token) != NULL &&
            policy_eval(p, &x) == T_YES) {
            return decided(m, app, (int)i, ACCESS_SERVICE_AUTH);
        }
    }
    return decided(m, app, -1, ACCESS_CONTINUE);
}

enum access_decision access_policy_decide(const struct access_app *app,
                                          const struct access_subject *s, struct access_match *m)
{
    struct eval x;
    eval_init(&x, s, true);
    for (size_t i = 0; i < app->npolicies; i++) {
        const struct access_policy *p = &app->policies[i];
        if (p->action == ACCESS_ACTION_ALLOW && policy_eval(p, &x) == T_YES) {
            return decided(m, app, (int)i, ACCESS_ALLOW);
        }
        if (p->action == ACCESS_ACTION_BLOCK && policy_eval(p, &x) != T_NO) {
            return decided(m, app, (int)i, ACCESS_BLOCK);
        }
    }
    return decided(m, app, -1, ACCESS_DENY);
}

const char *access_decision_name(enum access_decision d)
{
    switch (d) {
    case ACCESS_CONTINUE:
        return "continue";
    case ACCESS_BYPASS:
        return "bypass";
    case ACCESS_SERVICE_AUTH:
        return "service_auth";
    case ACCESS_ALLOW:
        return "allow";
    case ACCESS_BLOCK:
        return "block";
    case ACCESS_DENY:
        return "deny";
    }
    return "?";
}
