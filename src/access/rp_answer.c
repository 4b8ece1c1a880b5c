/*
 * rp_answer.c: what the identity provider answers, turned into diagnoses: transfers that
 * failed, OAuth error objects (RFC 6749 section 5.2), the token response (section 5.1), the
 * discovery document (OpenID Connect Discovery 1.0 sections 3 and 4) and the JWKS.
 * Everything here reads untrusted bytes: bounded, strict JSON, quoted with rp_quote.
 */
#include "access/access_int.h"
#include "access/rp_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RP_WELL_KNOWN "/.well-known/openid-configuration"

int64_t rp_skew(const struct http_fetch_result *res)
{
    return res->date != 0 ? res->date - util_now() : 0;
}

enum access_rp_diag rp_fetch_failed(const char *what, const char *url,
                                    const struct http_fetch_result *res,
                                    struct access_rp_result *out)
{
    out->skew = rp_skew(res);
    switch (res->status) {
    case HTTP_FETCH_OK:
        break;
    case HTTP_FETCH_TLS:
        return rp_set(out, ACCESS_RP_TLS, "%s %s: TLS failure: %s", what, url, res->error);
    case HTTP_FETCH_BAD_URL:
    case HTTP_FETCH_UNREACHABLE:
    case HTTP_FETCH_TIMEOUT:
        return rp_set(out, ACCESS_RP_UNREACHABLE, "%s %s unreachable: %s", what, url, res->error);
    case HTTP_FETCH_TOO_BIG:
    case HTTP_FETCH_PROTOCOL:
        return rp_set(out, ACCESS_RP_HTTP_ERROR, "%s %s: %s", what, url, res->error);
    case HTTP_FETCH_BUSY:
    case HTTP_FETCH_CANCELLED:
        return rp_set(out, ACCESS_RP_INTERNAL, "%s %s: %s (%s)", what, url, res->error,
                      http_fetch_status_name(res->status));
    }
    return rp_set(out, ACCESS_RP_INTERNAL, "%s %s: unexpected fetch status", what, url);
}

/* ---- OAuth errors ----------------------------------------------------------------------- */

bool rp_mentions_redirect(struct slice s)
{
    static const char *const words[] = {"redirect_uri", "redirect uri", "redirect_url",
                                        "redirect url", "redirect-uri", "redirecturi"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(words); i++) {
        size_t w = strlen(words[i]);
        for (size_t k = 0; k + w <= s.n; k++) {
            if (strncasecmp(s.p + k, words[i], w) == 0) {
                return true;
            }
        }
    }
    return false;
}

static enum access_rp_diag oauth_error(const char *where, const char *error_z, const char *desc_z,
                                       enum access_rp_diag other, struct access_rp_result *out)
{
    char err[RP_QUOTE_MAX], desc[RP_QUOTE_MAX];
    rp_quote(slice_z(error_z), err, sizeof err);
    rp_quote(slice_z(desc_z != NULL ? desc_z : ""), desc, sizeof desc);
    const char *colon = desc[0] != '\0' ? ": " : "";
    bool grant_or_request =
        strcmp(error_z, "invalid_grant") == 0 || strcmp(error_z, "invalid_request") == 0;
    /* Google says redirect_uri_mismatch, oidc-provider invalid_redirect_uri; Keycloak and
     * ours say invalid_request / invalid_grant and name the parameter in the description. */
    if (rp_mentions_redirect(slice_z(error_z)) ||
        (grant_or_request && desc_z != NULL && rp_mentions_redirect(slice_z(desc_z)))) {
        return rp_set(out, ACCESS_RP_REDIRECT_URI, "%s: %s%s%s", where, err, colon, desc);
    }
    if (strcmp(error_z, "invalid_client") == 0 || strcmp(error_z, "unauthorized_client") == 0) {
        /* Authentik also answers invalid_client when the redirect URI is not registered. */
        return rp_set(out, ACCESS_RP_INVALID_CLIENT,
                      "%s: %s%s%s (wrong client_id or client_secret, or a client not allowed "
                      "this grant)",
                      where, err, colon, desc);
    }
    return rp_set(out, other, "%s: %s%s%s", where, err, colon, desc);
}

enum access_rp_diag rp_oauth_error(const char *where, const char *error_z, const char *desc_z,
                                   struct access_rp_result *out)
{
    return oauth_error(where, error_z, desc_z, ACCESS_RP_TOKEN_ERROR, out);
}

void access_rp_callback_error(const char *error_z, const char *description_z,
                              struct access_rp_result *out)
{
    memset(out, 0, sizeof *out);
    oauth_error("the identity provider refused the login", error_z != NULL ? error_z : "",
                description_z, ACCESS_RP_AUTH_ERROR, out);
}

bool rp_oauth_answer(const struct http_fetch_result *res, json_t **doc, const char **error,
                     const char **desc)
{
    *doc = NULL;
    *error = *desc = NULL;
    if (res->body.len == 0) {
        return false;
    }
    struct err ignored = {0};
    json_t *j = util_json_parse((struct slice){res->body.p, res->body.len}, &ignored);
    const json_t *ev = json_object_get(j, "error");
    if (!json_is_object(j) || !json_is_string(ev)) {
        json_decref(j);
        return false;
    }
    const json_t *dv = json_object_get(j, "error_description");
    *doc = j;
    *error = json_string_value(ev);
    *desc = json_is_string(dv) ? json_string_value(dv) : NULL;
    return true;
}

enum access_rp_diag rp_token_answer(const char *url, const struct http_fetch_result *res,
                                    char **id_token, struct access_rp_result *out)
{
    char where[ACCESS_RP_MSG_MAX];
    json_t *doc = NULL;
    const char *error, *desc;
    *id_token = NULL;
    out->skew = rp_skew(res);
    snprintf(where, sizeof where, "token endpoint %s", url);
    if (rp_oauth_answer(res, &doc, &error, &desc)) {
        enum access_rp_diag d = rp_oauth_error(where, error, desc, out);
        json_decref(doc);
        return d;
    }
    if (res->http_status == 401) {
        return rp_set(out, ACCESS_RP_INVALID_CLIENT,
                      "%s answered HTTP 401 without an OAuth error: the client authentication "
                      "(client_secret_basic) was refused",
                      where);
    }
    if (res->http_status != 200) {
        return rp_set(out, ACCESS_RP_HTTP_ERROR,
                      "%s answered HTTP %ld (%s), not an OAuth answer: is token_url right?", where,
                      res->http_status, res->content_type[0] ? res->content_type : "no type");
    }
    struct err e = {0};
    doc = util_json_parse((struct slice){res->body.p, res->body.len}, &e);
    const json_t *t = json_object_get(doc, "id_token");
    enum access_rp_diag d;
    if (!json_is_object(doc)) {
        d = rp_set(out, ACCESS_RP_HTTP_ERROR, "%s answered HTTP 200 without a JSON object", where);
    } else if (!json_is_string(t)) {
        d = rp_set(out, ACCESS_RP_HTTP_ERROR,
                   "%s answered without an id_token: is it an OpenID Connect provider, and is the "
                   "openid scope granted?",
                   where);
    } else if (json_string_length(t) == 0 || json_string_length(t) > JOSE_MAX_TOKEN) {
        d = rp_set(out, ACCESS_RP_MALFORMED, "%s: id_token empty or longer than %d bytes", where,
                   JOSE_MAX_TOKEN);
    } else {
        *id_token = xstrndup(json_string_value(t), json_string_length(t));
        d = ACCESS_RP_OK;
    }
    json_decref(doc);
    return d;
}

/* ---- URLs ------------------------------------------------------------------------------- */

bool rp_same_origin(const char *a_z, const char *b_z)
{
    struct access_url a, b;
    const char *why;
    if (a_z == NULL || b_z == NULL) {
        return false;
    }
    if (access_url_parse(a_z, ACCESS_URL_QUERY, &a, &why) != 0) {
        return false;
    }
    if (access_url_parse(b_z, ACCESS_URL_QUERY, &b, &why) != 0) {
        access_url_free(&a);
        return false;
    }
    bool same = a.https == b.https && a.port == b.port && strcmp(a.host, b.host) == 0;
    access_url_free(&a);
    access_url_free(&b);
    return same;
}

/* ---- discovery -------------------------------------------------------------------------- */

void rp_disc_free(struct rp_disc *d)
{
    free(d->issuer);
    free(d->authorization_endpoint);
    free(d->token_endpoint);
    free(d->jwks_uri);
    memset(d, 0, sizeof *d);
}

/* Discovery section 4.3: the issuer is the discovery URL without the well-known suffix. */
static bool issuer_fits_url(const char *iss, const char *url)
{
    size_t n = strlen(url), w = strlen(RP_WELL_KNOWN), k = strlen(iss);
    if (n <= w || strcmp(url + n - w, RP_WELL_KNOWN) != 0) {
        /* Not the standard location: at least the same origin. */
        return rp_same_origin(iss, url);
    }
    n -= w;
    return (k == n || (k == n + 1 && iss[n] == '/')) && strncmp(iss, url, n) == 0;
}

/* An optional endpoint: an http(s) URL, https when the document came over https. */
static int disc_url(const json_t *doc, const char *key, bool https, char **out, const char **why)
{
    const json_t *v = json_object_get(doc, key);
    struct access_url u;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_string(v) || access_url_parse(json_string_value(v), ACCESS_URL_QUERY, &u, why)) {
        *why = json_is_string(v) ? *why : "not a string";
        return -1;
    }
    bool ok = !https || u.https;
    access_url_free(&u);
    if (!ok) {
        *why = "an http:// endpoint in a document served over https";
        return -1;
    }
    *out = xstrdup(json_string_value(v));
    return 0;
}

enum access_rp_diag rp_disc_parse(const char *url, const char *want_issuer,
                                  const struct http_fetch_result *res, struct rp_disc *out,
                                  struct access_rp_result *r)
{
    struct err e = {0};
    char iss[RP_QUOTE_MAX];
    const char *why = NULL;
    json_t *doc = NULL;
    enum access_rp_diag d = ACCESS_RP_DISCOVERY;
    memset(out, 0, sizeof *out);
    if (res->http_status != 200) {
        rp_set(r, d, "discovery document %s: HTTP %ld", url, res->http_status);
        goto done;
    }
    doc = util_json_parse((struct slice){res->body.p, res->body.len}, &e);
    const json_t *iv = json_object_get(doc, "issuer");
    if (!json_is_object(doc) || !json_is_string(iv)) {
        rp_set(r, d, "discovery document %s: %s", url,
               doc == NULL ? e.msg : "not an object with a string issuer");
        goto done;
    }
    const char *issuer = json_string_value(iv);
    rp_quote(slice_z(issuer), iss, sizeof iss);
    if (want_issuer != NULL ? strcmp(issuer, want_issuer) != 0 : !issuer_fits_url(issuer, url)) {
        rp_set(r, d, "discovery document %s: issuer \"%s\" is not %s%s", url, iss,
               want_issuer != NULL ? "the configured " : "the one of the discovery URL ",
               want_issuer != NULL ? want_issuer : "(OpenID Connect Discovery 4.3)");
        goto done;
    }
    bool https = strncmp(url, "https:", 6) == 0;
    const char *key = "authorization_endpoint";
    if (disc_url(doc, key, https, &out->authorization_endpoint, &why) != 0 ||
        disc_url(doc, key = "token_endpoint", https, &out->token_endpoint, &why) != 0 ||
        disc_url(doc, key = "jwks_uri", https, &out->jwks_uri, &why) != 0) {
        rp_set(r, d, "discovery document %s: %s: %s", url, key, why);
        goto done;
    }
    out->issuer = xstrdup(issuer);
    d = ACCESS_RP_OK;
done:
    json_decref(doc);
    if (d != ACCESS_RP_OK) {
        rp_disc_free(out);
    }
    return d;
}

/* ---- JWKS ------------------------------------------------------------------------------- */

enum access_rp_diag rp_jwks_parse(const char *url, const struct http_fetch_result *res,
                                  struct jose_jwks **out, struct access_rp_result *r)
{
    struct err e = {0};
    size_t skipped = 0;
    *out = NULL;
    if (res->http_status != 200) {
        return rp_set(r, ACCESS_RP_JWKS_UNUSABLE, "JWKS %s: HTTP %ld", url, res->http_status);
    }
    struct jose_jwks *s = jose_jwks_parse((struct slice){res->body.p, res->body.len}, &skipped, &e);
    if (s == NULL) {
        return rp_set(r, ACCESS_RP_JWKS_UNUSABLE, "JWKS %s: %s", url, e.msg);
    }
    if (jose_jwks_count(s) == 0) {
        jose_jwks_free(s);
        if (skipped == 0) {
            return rp_set(r, ACCESS_RP_JWKS_UNUSABLE, "JWKS %s is empty (no keys)", url);
        }
        return rp_set(r, ACCESS_RP_JWKS_UNUSABLE,
                      "JWKS %s has no usable key (%zu skipped: symmetric, unknown type, too "
                      "small, or not for signatures)",
                      url, skipped);
    }
    *out = s;
    return ACCESS_RP_OK;
}
