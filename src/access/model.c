/*
 * model.c: the `access:` section (team domain, identity providers, applications) parsed from
 * JSON into structs, strictly: one precise message naming the field path and the node.
 * Policies and rules are in rule.c, URLs and domains in domain.c, the way back in json.c.
 */
#include "access/access_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reporting ---------------------------------------------------------- */

int access_bad(struct access_err *ae, const json_t *node, const char *field, const char *fmt, ...)
{
    if (ae == NULL) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ae->msg, sizeof ae->msg, fmt, ap);
    va_end(ap);
    snprintf(ae->field, sizeof ae->field, "%s", field);
    ae->node = node;
    return -1;
}

int access_err_format(const struct access_err *ae, struct err *e)
{
    return err_set(e, 0, "%s: %s", ae->field, ae->msg);
}

void access_field(char out[ACCESS_FIELD_MAX], const char *field, const char *key)
{
    snprintf(out, ACCESS_FIELD_MAX, "%s%s%s", field, field[0] ? "." : "", key);
}

void access_field_i(char out[ACCESS_FIELD_MAX], const char *field, size_t i)
{
    snprintf(out, ACCESS_FIELD_MAX, "%s[%zu]", field, i);
}

/* ---- typed getters ------------------------------------------------------ */

int access_check_object(struct access_err *ae, const json_t *obj, const char *field,
                        const char *what, const char *const *known)
{
    if (!json_is_object(obj)) {
        return access_bad(ae, obj, field, "expected %s (a mapping)", what);
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            char f[ACCESS_FIELD_MAX];
            access_field(f, field, key);
            return access_bad(ae, val, f, "unknown field");
        }
    }
    return 0;
}

int access_check_str(struct access_err *ae, const json_t *v, const char *field,
                     enum access_str_kind kind, size_t max)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return access_bad(ae, v, field, "expected a non-empty string");
    }
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max) {
        return access_bad(ae, v, field, "longer than %zu bytes", max);
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return access_bad(ae, v, field, "control character in the value");
        }
        if (kind == ACCESS_STR_TOKEN && (s[i] == ' ' || s[i] > 0x7e)) {
            return access_bad(ae, v, field, "expected visible ASCII characters only");
        }
    }
    if (kind == ACCESS_STR_NAME && (s[0] == ' ' || s[n - 1] == ' ')) {
        return access_bad(ae, v, field, "leading or trailing space");
    }
    return 0;
}

int access_get_str(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                   bool required, enum access_str_kind kind, size_t max, char **out)
{
    const json_t *v = json_object_get(obj, key);
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, key);
    if (v == NULL) {
        return required ? access_bad(ae, obj, f, "is required") : 0;
    }
    if (access_check_str(ae, v, f, kind, max) != 0) {
        return -1;
    }
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

int access_get_bool(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                    bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        char f[ACCESS_FIELD_MAX];
        access_field(f, field, key);
        return access_bad(ae, v, f, "expected true or false");
    }
    *out = json_is_true(v);
    return 0;
}

int access_get_array(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                     size_t max, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) > max) {
        char f[ACCESS_FIELD_MAX];
        access_field(f, field, key);
        return access_bad(ae, v, f, "expected a list of at most %zu items", max);
    }
    *out = v;
    return 0;
}

void access_free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int access_get_str_list(struct access_err *ae, const json_t *obj, const char *key,
                        const char *field, enum access_str_kind kind, size_t max_items,
                        size_t max_len, char ***out, size_t *n)
{
    const json_t *list;
    char f[ACCESS_FIELD_MAX];
    char fi[ACCESS_FIELD_MAX];
    *out = NULL;
    *n = 0;
    if (access_get_array(ae, obj, key, field, max_items, &list) != 0) {
        return -1;
    }
    if (list == NULL) {
        return 0;
    }
    access_field(f, field, key);
    char **v = xcalloc(json_array_size(list) + 1, sizeof *v);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        access_field_i(fi, f, i);
        if (access_check_str(ae, item, fi, kind, max_len) != 0) {
            goto fail;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(v[k], json_string_value(item)) == 0) {
                access_bad(ae, item, fi, "\"%s\" is listed twice", v[k]);
                goto fail;
            }
        }
        v[i] = xstrdup(json_string_value(item));
    }
    *out = v;
    *n = json_array_size(list);
    return 0;
fail:
    access_free_list(v, i);
    return -1;
}

int access_idp_index(const struct access_idp *idps, size_t nidps, const char *name_z)
{
    for (size_t i = 0; i < nidps; i++) {
        if (strcmp(idps[i].name, name_z) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- identity providers ------------------------------------------------- */

/* Claims the gateway sets itself in the app token (DESIGN.md): copying them from the IdP
 * would let the IdP choose the token's audience, issuer or lifetime. */
static const char *const reserved_claims[] = {"iss",     "sub", "aud",   "exp",  "nbf",
                                              "iat",     "jti", "email", "type", "identity_nonce",
                                              "country", NULL};

static int idp_url(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                   bool required, unsigned flags, char **out)
{
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, key);
    if (access_get_str(ae, obj, key, field, required, ACCESS_STR_TOKEN, ACCESS_URL_MAX, out) != 0) {
        return -1;
    }
    if (*out == NULL) {
        return 0; /* optional and absent */
    }
    struct access_url u = {0};
    const char *why = NULL;
    if (access_url_parse(*out, flags, &u, &why) != 0) {
        return access_bad(ae, json_object_get(obj, key), f, "%s", why);
    }
    if (!(flags & ACCESS_URL_VERBATIM)) {
        free(*out);
        *out = u.text; /* normalised */
        u.text = NULL;
    }
    access_url_free(&u);
    return 0;
}

static int idp_scopes(struct access_err *ae, const json_t *obj, const char *field,
                      struct access_idp *p)
{
    static const char *const defaults[] = {"openid", "email", "profile"};
    if (json_object_get(obj, "scopes") == NULL) {
        p->nscopes = UTIL_ARRAY_LEN(defaults);
        p->scopes = xcalloc(p->nscopes, sizeof *p->scopes);
        for (size_t i = 0; i < p->nscopes; i++) {
            p->scopes[i] = xstrdup(defaults[i]);
        }
        return 0;
    }
    /* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), RFC 6749 section 3.3 */
    if (access_get_str_list(ae, obj, "scopes", field, ACCESS_STR_TOKEN, ACCESS_MAX_SCOPES,
                            ACCESS_NAME_MAX, &p->scopes, &p->nscopes) != 0) {
        return -1;
    }
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "scopes");
    const json_t *list = json_object_get(obj, "scopes");
    bool openid = false;
    for (size_t i = 0; i < p->nscopes; i++) {
        if (strchr(p->scopes[i], '"') != NULL || strchr(p->scopes[i], '\\') != NULL) {
            char fi[ACCESS_FIELD_MAX];
            access_field_i(fi, f, i);
            return access_bad(ae, json_array_get(list, i), fi,
                              "'\"' and '\\' are not allowed in a scope (RFC 6749 section 3.3)");
        }
        openid = openid || strcmp(p->scopes[i], "openid") == 0;
    }
    if (!openid) {
        return access_bad(ae, list, f,
                          "must contain openid (OpenID Connect Core 1.0 section "
                          "3.1.2.1)");
    }
    return 0;
}

static int idp_claims(struct access_err *ae, const json_t *obj, const char *field,
                      struct access_idp *p)
{
    if (access_get_str_list(ae, obj, "claims", field, ACCESS_STR_TOKEN, ACCESS_MAX_CLAIMS,
                            ACCESS_NAME_MAX, &p->claims, &p->nclaims) != 0) {
        return -1;
    }
    for (size_t i = 0; i < p->nclaims; i++) {
        for (size_t k = 0; reserved_claims[k] != NULL; k++) {
            if (strcmp(p->claims[i], reserved_claims[k]) == 0) {
                char f[ACCESS_FIELD_MAX];
                char fi[ACCESS_FIELD_MAX];
                access_field(f, field, "claims");
                access_field_i(fi, f, i);
                return access_bad(ae, json_array_get(json_object_get(obj, "claims"), i), fi,
                                  "\"%s\" is set by the gateway itself", p->claims[i]);
            }
        }
    }
    return 0;
}

static int idp_type(struct access_err *ae, const json_t *obj, const char *field,
                    struct access_idp *p)
{
    const json_t *v = json_object_get(obj, "type");
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "type");
    if (v == NULL) {
        return access_bad(ae, obj, f, "is required");
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), "oidc") != 0) {
        return access_bad(ae, v, f, "expected oidc (the only type for now)");
    }
    p->type = ACCESS_IDP_OIDC;
    return 0;
}

static int idp_fields(const json_t *j, const char *field, struct access_idp *p,
                      struct access_err *ae)
{
    static const char *const known[] = {
        "name",      "type",          "client_id", "client_secret", "auth_url",         "token_url",
        "certs_url", "discovery_url", "issuer",    "pkce_enabled",  "email_claim_name", "scopes",
        "claims",    "ca_file",       NULL};
    if (access_check_object(ae, j, field, "an identity provider", known) != 0 ||
        access_get_str(ae, j, "name", field, true, ACCESS_STR_NAME, ACCESS_NAME_MAX, &p->name) ||
        idp_type(ae, j, field, p) != 0 ||
        access_get_str(ae, j, "client_id", field, true, ACCESS_STR_TOKEN, ACCESS_CLIENT_ID_MAX,
                       &p->client_id) != 0 ||
        access_get_str(ae, j, "client_secret", field, true, ACCESS_STR_TEXT, ACCESS_SECRET_MAX,
                       &p->client_secret) != 0 ||
        idp_url(ae, j, "discovery_url", field, false, 0, &p->discovery_url) != 0) {
        return -1;
    }
    /* With a discovery document the endpoints may come from it (OpenID Connect Discovery
     * 1.0 section 3); without one, all three are needed. */
    bool need = p->discovery_url == NULL;
    p->pkce_enabled = true;
    if (idp_url(ae, j, "auth_url", field, need, ACCESS_URL_QUERY, &p->auth_url) != 0 ||
        idp_url(ae, j, "token_url", field, need, 0, &p->token_url) != 0 ||
        idp_url(ae, j, "certs_url", field, need, 0, &p->certs_url) != 0 ||
        idp_url(ae, j, "issuer", field, false, ACCESS_URL_VERBATIM, &p->issuer) != 0 ||
        access_get_bool(ae, j, "pkce_enabled", field, &p->pkce_enabled) != 0 ||
        access_get_str(ae, j, "email_claim_name", field, false, ACCESS_STR_TOKEN, ACCESS_NAME_MAX,
                       &p->email_claim_name) != 0 ||
        idp_scopes(ae, j, field, p) != 0 || idp_claims(ae, j, field, p) != 0 ||
        access_get_str(ae, j, "ca_file", field, false, ACCESS_STR_NAME, ACCESS_FILE_MAX,
                       &p->ca_file) != 0) {
        return -1;
    }
    if (p->email_claim_name == NULL) {
        p->email_claim_name = xstrdup(ACCESS_DEFAULT_EMAIL_CLAIM);
    }
    return 0;
}

int access_idp_parse(const json_t *j, const char *field, struct access_idp *out,
                     struct access_err *ae)
{
    memset(out, 0, sizeof *out);
    if (idp_fields(j, field, out, ae) != 0) {
        access_idp_free(out);
        return -1;
    }
    return 0;
}

void access_idp_free(struct access_idp *p)
{
    free(p->name);
    free(p->client_id);
    util_free_secret(p->client_secret);
    free(p->auth_url);
    free(p->token_url);
    free(p->certs_url);
    free(p->discovery_url);
    free(p->issuer);
    free(p->email_claim_name);
    access_free_list(p->scopes, p->nscopes);
    access_free_list(p->claims, p->nclaims);
    free(p->ca_file);
    memset(p, 0, sizeof *p);
}

/* ---- applications ------------------------------------------------------- */

static int app_domain(struct access_err *ae, const json_t *j, const char *field,
                      struct access_app *a)
{
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "domain");
    if (access_get_str(ae, j, "domain", field, true, ACCESS_STR_TOKEN,
                       ACCESS_HOST_MAX + ACCESS_PATH_MAX, &a->domain) != 0) {
        return -1;
    }
    const char *why = NULL;
    if (access_domain_parse(a->domain, a, &why) != 0) {
        return access_bad(ae, json_object_get(j, "domain"), f, "%s", why);
    }
    return 0;
}

static int app_origin(struct access_err *ae, const json_t *j, const char *field,
                      struct access_app *a)
{
    char *text = NULL;
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "origin");
    if (access_get_str(ae, j, "origin", field, true, ACCESS_STR_TOKEN, ACCESS_URL_MAX, &text)) {
        return -1;
    }
    const char *why = NULL;
    int rc = access_url_parse(text, ACCESS_URL_ORIGIN, &a->origin, &why);
    free(text);
    return rc == 0 ? 0 : access_bad(ae, json_object_get(j, "origin"), f, "%s", why);
}

static int app_duration(struct access_err *ae, const json_t *j, const char *field,
                        struct access_app *a)
{
    const json_t *v = json_object_get(j, "session_duration");
    a->session_duration = ACCESS_DEFAULT_SESSION_S;
    if (v == NULL) {
        return 0;
    }
    int64_t sec = -1;
    if (json_is_integer(v)) {
        sec = json_integer_value(v);
    } else if (!json_is_string(v) ||
               util_parse_duration(slice_z(json_string_value(v)), &sec) != 0) {
        sec = -1;
    }
    if (sec < ACCESS_MIN_SESSION_S || sec > ACCESS_MAX_SESSION_S) {
        char f[ACCESS_FIELD_MAX];
        access_field(f, field, "session_duration");
        return access_bad(ae, v, f, "expected a duration such as 30m, 24h or 7d, from 1m to 730h");
    }
    a->session_duration = sec;
    return 0;
}

static int app_idps(struct access_err *ae, const json_t *j, const char *field,
                    const struct access_idp *idps, size_t nidps, struct access_app *a)
{
    if (access_get_str_list(ae, j, "identity_providers", field, ACCESS_STR_NAME, ACCESS_MAX_IDPS,
                            ACCESS_NAME_MAX, &a->idps, &a->nidps) != 0) {
        return -1;
    }
    for (size_t i = 0; idps != NULL && i < a->nidps; i++) {
        if (access_idp_index(idps, nidps, a->idps[i]) < 0) {
            char f[ACCESS_FIELD_MAX];
            char fi[ACCESS_FIELD_MAX];
            access_field(f, field, "identity_providers");
            access_field_i(fi, f, i);
            return access_bad(ae, json_array_get(json_object_get(j, "identity_providers"), i), fi,
                              "no identity provider named \"%s\"", a->idps[i]);
        }
    }
    return 0;
}

static int app_same_site(struct access_err *ae, const json_t *j, const char *field,
                         struct access_app *a)
{
    const json_t *v = json_object_get(j, "same_site");
    a->same_site = ACCESS_SAME_SITE_LAX;
    if (v == NULL) {
        return 0;
    }
    for (int s = ACCESS_SAME_SITE_LAX; s <= ACCESS_SAME_SITE_NONE; s++) {
        if (json_is_string(v) && strcmp(json_string_value(v), access_same_site_name(s)) == 0) {
            a->same_site = (enum access_same_site)s;
            return 0;
        }
    }
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "same_site");
    return access_bad(ae, v, f, "expected one of lax, strict, none");
}

/* The AUD tag travels in tokens and cookies' audience checks: unreserved URL characters. */
static int app_aud(struct access_err *ae, const json_t *j, const char *field, struct access_app *a)
{
    if (access_get_str(ae, j, "aud", field, false, ACCESS_STR_TOKEN, ACCESS_AUD_MAX, &a->aud)) {
        return -1;
    }
    for (const char *p = a->aud; p != NULL && *p != '\0'; p++) {
        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", *p) ==
            NULL) {
            char f[ACCESS_FIELD_MAX];
            access_field(f, field, "aud");
            return access_bad(ae, json_object_get(j, "aud"), f,
                              "expected letters, digits, '-', '.', '_' or '~'");
        }
    }
    return 0;
}

static int app_policies(struct access_err *ae, const json_t *j, const char *field,
                        const struct access_idp *idps, size_t nidps, struct access_app *a)
{
    const json_t *list = json_object_get(j, "policies");
    char f[ACCESS_FIELD_MAX];
    char fi[ACCESS_FIELD_MAX];
    access_field(f, field, "policies");
    if (list == NULL) {
        return access_bad(ae, j, f,
                          "is required (an application without a policy denies "
                          "everyone)");
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > ACCESS_MAX_POLICIES) {
        return access_bad(ae, list, f, "expected a list of 1 to %d policies", ACCESS_MAX_POLICIES);
    }
    a->policies = xcalloc(json_array_size(list), sizeof *a->policies);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        access_field_i(fi, f, i);
        if (access_policy_parse(v, fi, idps, nidps, &a->policies[i], ae) != 0) {
            return -1;
        }
        a->npolicies = i + 1;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(a->policies[k].name, a->policies[i].name) == 0) {
                char fn[ACCESS_FIELD_MAX];
                access_field(fn, fi, "name");
                return access_bad(ae, json_object_get(v, "name"), fn,
                                  "duplicate policy name \"%s\" (also %s[%zu])",
                                  a->policies[i].name, f, k);
            }
        }
    }
    return 0;
}

static int app_fields(const json_t *j, const char *field, const struct access_idp *idps,
                      size_t nidps, struct access_app *a, struct access_err *ae)
{
    static const char *const known[] = {"name",
                                        "domain",
                                        "origin",
                                        "session_duration",
                                        "identity_providers",
                                        "instant_auth",
                                        "policies",
                                        "same_site",
                                        "http_only_cookie",
                                        "aud",
                                        NULL};
    a->http_only_cookie = true;
    if (access_check_object(ae, j, field, "an application", known) != 0 ||
        access_get_str(ae, j, "name", field, true, ACCESS_STR_NAME, ACCESS_NAME_MAX, &a->name) ||
        app_domain(ae, j, field, a) != 0 || app_origin(ae, j, field, a) != 0 ||
        app_duration(ae, j, field, a) != 0 || app_idps(ae, j, field, idps, nidps, a) != 0 ||
        access_get_bool(ae, j, "instant_auth", field, &a->instant_auth) != 0 ||
        app_same_site(ae, j, field, a) != 0 ||
        access_get_bool(ae, j, "http_only_cookie", field, &a->http_only_cookie) != 0 ||
        app_aud(ae, j, field, a) != 0 || app_policies(ae, j, field, idps, nidps, a) != 0) {
        return -1;
    }
    return 0;
}

int access_app_parse(const json_t *j, const char *field, const struct access_idp *idps,
                     size_t nidps, struct access_app *out, struct access_err *ae)
{
    memset(out, 0, sizeof *out);
    if (app_fields(j, field, idps, nidps, out, ae) != 0) {
        access_app_free(out);
        return -1;
    }
    return 0;
}

void access_app_free(struct access_app *a)
{
    free(a->name);
    free(a->domain);
    free(a->host);
    free(a->path);
    access_url_free(&a->origin);
    access_free_list(a->idps, a->nidps);
    free(a->aud);
    for (size_t i = 0; i < a->npolicies; i++) {
        access_policy_free(&a->policies[i]);
    }
    free(a->policies);
    memset(a, 0, sizeof *a);
}

/* ---- the whole section -------------------------------------------------- */

static int config_team(struct access_err *ae, const json_t *j, const char *field,
                       struct access_config *c)
{
    char *text = NULL;
    char f[ACCESS_FIELD_MAX];
    access_field(f, field, "team_domain");
    if (access_get_str(ae, j, "team_domain", field, true, ACCESS_STR_TOKEN, ACCESS_URL_MAX,
                       &text) != 0) {
        return -1;
    }
    const char *why = NULL;
    int rc = access_url_parse(text, ACCESS_URL_ORIGIN, &c->team, &why);
    free(text);
    return rc == 0 ? 0 : access_bad(ae, json_object_get(j, "team_domain"), f, "%s", why);
}

static int config_idps(struct access_err *ae, const json_t *j, const char *field,
                       struct access_config *c)
{
    const json_t *list;
    char f[ACCESS_FIELD_MAX];
    char fi[ACCESS_FIELD_MAX];
    if (access_get_array(ae, j, "identity_providers", field, ACCESS_MAX_IDPS, &list) != 0) {
        return -1;
    }
    access_field(f, field, "identity_providers");
    c->idps = xcalloc(json_array_size(list) + 1, sizeof *c->idps);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        access_field_i(fi, f, i);
        if (access_idp_parse(v, fi, &c->idps[i], ae) != 0) {
            return -1;
        }
        c->nidps = i + 1;
        int k = access_idp_index(c->idps, i, c->idps[i].name);
        if (k >= 0) {
            char fn[ACCESS_FIELD_MAX];
            access_field(fn, fi, "name");
            return access_bad(ae, json_object_get(v, "name"), fn,
                              "duplicate identity provider name \"%s\" (also %s[%d])",
                              c->idps[i].name, f, k);
        }
    }
    return 0;
}

/* Two applications with the same domain, or one on the team domain's host, would make the
 * choice of policies depend on their order: refused. Two AUD tags alike would let the token
 * of one application open the other. */
static int app_conflicts(struct access_err *ae, const json_t *v, const char *fi,
                         const struct access_config *c, size_t i)
{
    const struct access_app *a = &c->apps[i];
    char fn[ACCESS_FIELD_MAX];
    for (size_t k = 0; k < i; k++) {
        if (strcmp(c->apps[k].name, a->name) == 0) {
            access_field(fn, fi, "name");
            return access_bad(ae, json_object_get(v, "name"), fn,
                              "duplicate application name \"%s\"", a->name);
        }
        if (strcmp(c->apps[k].domain, a->domain) == 0) {
            access_field(fn, fi, "domain");
            return access_bad(ae, json_object_get(v, "domain"), fn,
                              "\"%s\" is already the domain of application \"%s\"", a->domain,
                              c->apps[k].name);
        }
        if (a->aud != NULL && c->apps[k].aud != NULL && strcmp(c->apps[k].aud, a->aud) == 0) {
            access_field(fn, fi, "aud");
            return access_bad(ae, json_object_get(v, "aud"), fn,
                              "already the AUD tag of application \"%s\"", c->apps[k].name);
        }
    }
    if (!a->wildcard && c->team.host != NULL && strcmp(a->host, c->team.host) == 0) {
        access_field(fn, fi, "domain");
        return access_bad(ae, json_object_get(v, "domain"), fn, "\"%s\" is the team domain's host",
                          a->host);
    }
    return 0;
}

static int config_apps(struct access_err *ae, const json_t *j, const char *field,
                       struct access_config *c)
{
    const json_t *list;
    char f[ACCESS_FIELD_MAX];
    char fi[ACCESS_FIELD_MAX];
    if (access_get_array(ae, j, "applications", field, ACCESS_MAX_APPS, &list) != 0) {
        return -1;
    }
    access_field(f, field, "applications");
    c->apps = xcalloc(json_array_size(list) + 1, sizeof *c->apps);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        access_field_i(fi, f, i);
        if (access_app_parse(v, fi, c->idps, c->nidps, &c->apps[i], ae) != 0) {
            return -1;
        }
        c->napps = i + 1;
        if (app_conflicts(ae, v, fi, c, i) != 0) {
            return -1;
        }
    }
    return 0;
}

int access_config_parse(const json_t *j, const char *field, struct access_config *out,
                        struct access_err *ae)
{
    static const char *const known[] = {"team_domain", "identity_providers", "applications", NULL};
    memset(out, 0, sizeof *out);
    if (access_check_object(ae, j, field, "the access section", known) != 0 ||
        config_team(ae, j, field, out) != 0 || config_idps(ae, j, field, out) != 0 ||
        config_apps(ae, j, field, out) != 0) {
        access_config_free(out);
        return -1;
    }
    return 0;
}

void access_config_free(struct access_config *c)
{
    access_url_free(&c->team);
    for (size_t i = 0; i < c->nidps; i++) {
        access_idp_free(&c->idps[i]);
    }
    free(c->idps);
    for (size_t i = 0; i < c->napps; i++) {
        access_app_free(&c->apps[i]);
    }
    free(c->apps);
    memset(c, 0, sizeof *c);
}

const struct access_idp *access_config_idp(const struct access_config *c, const char *name_z)
{
    int i = access_idp_index(c->idps, c->nidps, name_z);
    return i >= 0 ? &c->idps[i] : NULL;
}

const struct access_app *access_config_app(const struct access_config *c, const char *name_z)
{
    for (size_t i = 0; i < c->napps; i++) {
        if (strcmp(c->apps[i].name, name_z) == 0) {
            return &c->apps[i];
        }
    }
    return NULL;
}

/* ---- names -------------------------------------------------------------- */

const char *access_action_name(enum access_action a)
{
    switch (a) {
    case ACCESS_ACTION_ALLOW:
        return "allow";
    case ACCESS_ACTION_BLOCK:
        return "block";
    case ACCESS_ACTION_BYPASS:
        return "bypass";
    case ACCESS_ACTION_SERVICE_AUTH:
        return "service_auth";
    }
    return "?";
}

const char *access_same_site_name(enum access_same_site s)
{
    switch (s) {
    case ACCESS_SAME_SITE_LAX:
        return "lax";
    case ACCESS_SAME_SITE_STRICT:
        return "strict";
    case ACCESS_SAME_SITE_NONE:
        return "none";
    }
    return "?";
}
