/*
 * rp_verify.c: ID token validation (OpenID Connect Core 1.0 section 3.1.3.7; RFC 8725),
 * one diagnosis per failure. Pure: the keys come from the caller (rp_jwks.c's cache).
 *
 * The algorithm is checked before anything else, from the header alone: "none" and HMAC
 * are refused apart ("not signed with an asymmetric key": the classic confusion attack signs
 * HS256 with the RSA public key as the secret), then the allow-list of issue 4. jose then
 * refuses a header alg that is not the key's own (RFC 8725 section 3.1).
 */
#include "access/rp_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RP_HEADER_MAX 4096 /* decoded protected header */
#define RP_SUB_MAX    255  /* OIDC Core section 2: sub is at most 255 ASCII characters */
/* RFC 7519 NumericDate values past the year 9999 are refused (jwt.c does the same). */
#define RP_MAX_NUMERIC_DATE INT64_C(253402300799)

/* Issue 4: the algorithms an IdP may sign ID tokens with. */
static const enum jose_alg allowed_algs[] = {
    JOSE_ALG_RS256, JOSE_ALG_RS384, JOSE_ALG_RS512, JOSE_ALG_PS256, JOSE_ALG_PS512,
    JOSE_ALG_ES256, JOSE_ALG_ES384, JOSE_ALG_ES512, JOSE_ALG_EDDSA,
};

static bool alg_allowed(enum jose_alg a)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(allowed_algs); i++) {
        if (allowed_algs[i] == a) {
            return true;
        }
    }
    return false;
}

/* Reads the header's alg without the rest of the JWS rules (an alg=none token has an empty
 * signature, which jose_jws_parse refuses as malformed before it looks at alg). */
static enum access_rp_diag check_alg(struct slice token, struct access_rp_result *out)
{
    struct buf hb;
    struct err e = {0};
    char name[RP_QUOTE_MAX];
    json_t *h = NULL;
    enum access_rp_diag d = ACCESS_RP_MALFORMED;
    const char *dot = memchr(token.p, '.', token.n);
    buf_init(&hb, RP_HEADER_MAX);
    if (dot == NULL || b64url_decode((struct slice){token.p, (size_t)(dot - token.p)}, &hb) != 0) {
        rp_set(out, d, "the ID token is not a compact JWS (bad header)");
        goto done;
    }
    h = util_json_parse((struct slice){hb.p, hb.len}, &e);
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg)) {
        rp_set(out, d, "the ID token's header has no string alg");
        goto done;
    }
    struct slice a = {json_string_value(alg), json_string_length(alg)};
    rp_quote(a, name, sizeof name);
    /* RFC 7518 section 3.1: names are case-sensitive; "None" or "hs256" are no better. */
    if (slice_case_eq_z(a, "none") || (a.n >= 2 && strncasecmp(a.p, "HS", 2) == 0)) {
        d = rp_set(out, ACCESS_RP_NOT_ASYMMETRIC,
                   "the ID token's alg is \"%s\": the IdP must sign with an asymmetric key "
                   "(RS256, ES256, EdDSA...)",
                   name);
        goto done;
    }
    if (!alg_allowed(jose_alg_from_name(a))) {
        d = rp_set(out, ACCESS_RP_ALG_NOT_ALLOWED,
                   "the ID token's alg \"%s\" is not one of RS256, RS384, RS512, PS256, PS512, "
                   "ES256, ES384, ES512, EdDSA",
                   name);
        goto done;
    }
    d = ACCESS_RP_OK;
done:
    json_decref(h);
    buf_free(&hb);
    return d;
}

/* The key named by kid; without a kid, the only key of a set of one. */
static const struct jose_jwk *pick_key(const struct jose_jws *j, const struct jose_jwks *keys,
                                       struct access_rp_result *out)
{
    char kid[RP_QUOTE_MAX];
    if (j->kid != NULL) {
        const struct jose_jwk *k = jose_jwks_find(keys, j->kid);
        if (k == NULL) {
            rp_quote(slice_z(j->kid), kid, sizeof kid);
            rp_set(out, ACCESS_RP_UNKNOWN_KID, "no key with kid \"%s\" in the JWKS", kid);
        }
        return k;
    }
    if (jose_jwks_count(keys) == 1) {
        return jose_jwks_get(keys, 0);
    }
    rp_set(out, ACCESS_RP_UNKNOWN_KID, "the ID token has no kid and the JWKS holds %zu keys",
           jose_jwks_count(keys));
    return NULL;
}

static enum access_rp_diag check_signature(struct slice token, const struct jose_jwks *keys,
                                           json_t **claims, struct access_rp_result *out)
{
    struct jose_jws j;
    struct err e = {0};
    enum access_rp_diag d = ACCESS_RP_MALFORMED;
    if (jose_jws_parse(token, &j, &e) != 0) {
        return rp_set(out, d, "the ID token is not a valid JWS: %s", e.msg);
    }
    const struct jose_jwk *k = pick_key(&j, keys, out);
    if (k == NULL) {
        d = out->diag;
        goto done;
    }
    /* A JWK without "alg" (RFC 7517 section 4.4: optional) is RS256 by default; an IdP may
     * still sign PS256 with it. The token's alg is then taken within the key's own family
     * (RSA: RS* and PS*; the allow-list was checked first), never across key types. */
    struct jose_jwk *family = NULL;
    if (jose_jwk_alg_default(k) && j.alg != jose_jwk_alg(k)) {
        family = jose_jwk_from_pkey(jose_jwk_pkey(k), jose_jwk_kid(k), j.alg, NULL);
        k = family != NULL ? family : k;
    }
    int vrc = jose_jws_verify(&j, k, &e);
    jose_jwk_free(family);
    if (vrc != 0) {
        d = rp_set(out, e.code == JOSE_ERR_KEY ? ACCESS_RP_ALG_NOT_ALLOWED : ACCESS_RP_SIGNATURE,
                   "the ID token's signature: %s", e.msg);
        goto done;
    }
    *claims = util_json_parse((struct slice){j.payload.p, j.payload.len}, &e);
    if (!json_is_object(*claims)) {
        json_decref(*claims);
        *claims = NULL;
        rp_set(out, d, "the ID token's claims are not a JSON object");
        goto done;
    }
    d = ACCESS_RP_OK;
done:
    jose_jws_free(&j);
    return d;
}

/* ---- claims ----------------------------------------------------------------------------- */

static enum access_rp_diag check_iss(const json_t *c, const struct access_rp_expect *x,
                                     struct access_rp_result *out)
{
    char got[RP_QUOTE_MAX];
    const json_t *v = json_object_get(c, "iss");
    if (!json_is_string(v)) {
        return rp_set(out, ACCESS_RP_ISS_MISMATCH, "the ID token has no iss");
    }
    const char *iss = json_string_value(v);
    rp_quote(slice_z(iss), got, sizeof got);
    if (x->issuer != NULL) {
        if (strcmp(iss, x->issuer) != 0) {
            return rp_set(out, ACCESS_RP_ISS_MISMATCH, "iss is \"%s\", expected \"%s\"", got,
                          x->issuer);
        }
        return ACCESS_RP_OK;
    }
    if (!rp_same_origin(iss, x->token_url)) {
        return rp_set(out, ACCESS_RP_ISS_MISMATCH,
                      "iss \"%s\" is not on the token endpoint's origin (%s); set issuer or "
                      "discovery_url",
                      got, x->token_url != NULL ? x->token_url : "unknown");
    }
    return ACCESS_RP_OK;
}

/* OIDC Core 3.1.3.7 steps 3 to 5: aud contains client_id; azp, when present, is client_id;
 * with several audiences azp must be present. */
static enum access_rp_diag check_aud(const json_t *c, const char *client_id,
                                     struct access_rp_result *out)
{
    const json_t *aud = json_object_get(c, "aud");
    const json_t *azp = json_object_get(c, "azp");
    bool found = false;
    size_t n = 1;
    if (json_is_string(aud)) {
        found = strcmp(json_string_value(aud), client_id) == 0;
    } else if (json_is_array(aud) && json_array_size(aud) > 0 &&
               json_array_size(aud) <= JOSE_JWT_MAX_AUD) {
        size_t i;
        const json_t *a;
        n = json_array_size(aud);
        json_array_foreach(aud, i, a)
        {
            if (!json_is_string(a)) {
                return rp_set(out, ACCESS_RP_AUD_MISMATCH,
                              "aud holds a value that is not a string");
            }
            found = found || strcmp(json_string_value(a), client_id) == 0;
        }
    } else {
        return rp_set(out, ACCESS_RP_AUD_MISMATCH, "the ID token has no usable aud");
    }
    if (!found) {
        return rp_set(out, ACCESS_RP_AUD_MISMATCH, "aud does not contain our client_id \"%s\"",
                      client_id);
    }
    if (azp == NULL && n > 1) {
        return rp_set(out, ACCESS_RP_AUD_MISMATCH,
                      "aud has %zu values and there is no azp (OIDC Core 3.1.3.7)", n);
    }
    if (azp != NULL && (!json_is_string(azp) || strcmp(json_string_value(azp), client_id) != 0)) {
        return rp_set(out, ACCESS_RP_AUD_MISMATCH, "azp is not our client_id \"%s\"", client_id);
    }
    return ACCESS_RP_OK;
}

/* A NumericDate (RFC 7519 section 2): a number of seconds, maybe with a fraction. */
static int claim_date(const json_t *c, const char *name, bool *present, int64_t *out)
{
    const json_t *v = json_object_get(c, name);
    *present = v != NULL;
    if (v == NULL) {
        return 0;
    }
    double t = json_is_integer(v) ? (double)json_integer_value(v)
               : json_is_real(v)  ? json_real_value(v)
                                  : -1;
    if (!isfinite(t) || t < 0 || t > (double)RP_MAX_NUMERIC_DATE) {
        return -1;
    }
    *out = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)t;
    return 0;
}

/* A time check failed: the IdP's clock, when its Date says it is off, is the better story. */
static enum access_rp_diag time_failure(const struct access_rp_expect *x, int64_t now,
                                        enum access_rp_diag d, const char *what, int64_t delta,
                                        struct access_rp_result *out)
{
    int64_t skew = x->idp_date != 0 ? x->idp_date - now : 0;
    if (skew > ACCESS_RP_LEEWAY_S || skew < -ACCESS_RP_LEEWAY_S) {
        return rp_set(out, ACCESS_RP_CLOCK_SKEW,
                      "%s (%lld s); the IdP's Date is %+lld s from our clock (leeway %d s)", what,
                      (long long)delta, (long long)skew, ACCESS_RP_LEEWAY_S);
    }
    return rp_set(out, d, "%s (%lld s, leeway %d s)", what, (long long)delta, ACCESS_RP_LEEWAY_S);
}

static enum access_rp_diag check_times(const json_t *c, const struct access_rp_expect *x,
                                       int64_t now, struct access_rp_result *out)
{
    bool has_exp, has_iat, has_nbf;
    int64_t exp = 0, iat = 0, nbf = 0;
    if (claim_date(c, "exp", &has_exp, &exp) != 0 || claim_date(c, "iat", &has_iat, &iat) != 0 ||
        claim_date(c, "nbf", &has_nbf, &nbf) != 0) {
        return rp_set(out, ACCESS_RP_MALFORMED, "exp, iat or nbf is not a NumericDate");
    }
    if (!has_exp || !has_iat) {
        return rp_set(out, ACCESS_RP_MALFORMED, "the ID token has no %s (OIDC Core 2)",
                      has_exp ? "iat" : "exp");
    }
    if (now - ACCESS_RP_LEEWAY_S >= exp) {
        return time_failure(x, now, ACCESS_RP_EXPIRED, "the ID token expired", now - exp, out);
    }
    if (iat > now + ACCESS_RP_LEEWAY_S) {
        return time_failure(x, now, ACCESS_RP_IAT_FUTURE, "iat is ahead of our clock", iat - now,
                            out);
    }
    if (has_nbf && nbf > now + ACCESS_RP_LEEWAY_S) {
        return time_failure(x, now, ACCESS_RP_IAT_FUTURE, "nbf is ahead of our clock", nbf - now,
                            out);
    }
    return ACCESS_RP_OK;
}

static enum access_rp_diag check_nonce_sub(const json_t *c, const char *nonce,
                                           struct access_rp_result *out)
{
    const json_t *v = json_object_get(c, "nonce");
    if (!json_is_string(v) || nonce == NULL ||
        !util_ct_equal(json_string_value(v), json_string_length(v), nonce, strlen(nonce))) {
        return rp_set(out, ACCESS_RP_NONCE_MISMATCH, "%s",
                      v == NULL ? "the ID token has no nonce"
                                : "the ID token's nonce is not the one of this login (a replayed "
                                  "or injected token)");
    }
    const json_t *sub = json_object_get(c, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        json_string_length(sub) > RP_SUB_MAX) {
        return rp_set(out, ACCESS_RP_MALFORMED, "sub missing, not a string, or longer than %d",
                      RP_SUB_MAX);
    }
    return ACCESS_RP_OK;
}

/* The email becomes a header towards the origin and a claim of our own token: a bounded
 * string without control characters (no header injection). */
static enum access_rp_diag check_email(const json_t *c, const char *name,
                                       struct access_rp_result *out)
{
    const json_t *v = json_object_get(c, name);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return rp_set(out, ACCESS_RP_EMAIL_MISSING,
                      "the claim \"%s\" is %s (email_claim_name; is the email scope granted?)",
                      name, v == NULL ? "missing" : "not a non-empty string");
    }
    struct slice s = {json_string_value(v), json_string_length(v)};
    if (s.n > ACCESS_VALUE_MAX) {
        return rp_set(out, ACCESS_RP_EMAIL_MISSING, "the claim \"%s\" is longer than %d bytes",
                      name, ACCESS_VALUE_MAX);
    }
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch < 0x20 || ch == 0x7f) {
            return rp_set(out, ACCESS_RP_EMAIL_MISSING,
                          "the claim \"%s\" holds a control character", name);
        }
    }
    return ACCESS_RP_OK;
}

static json_t *copy_claims(const json_t *c, const struct access_rp_expect *x)
{
    json_t *extra = json_object();
    for (size_t i = 0; i < x->nclaims; i++) {
        json_t *v = json_object_get(c, x->claims[i]);
        if (v != NULL) {
            json_object_set(extra, x->claims[i], v);
        }
    }
    return extra;
}

enum access_rp_diag access_rp_verify(struct slice id_token, const struct jose_jwks *keys,
                                     const struct access_rp_expect *x, struct access_rp_result *out)
{
    json_t *c = NULL;
    enum access_rp_diag d;
    memset(out, 0, sizeof *out);
    if (keys == NULL || x == NULL || x->client_id == NULL) {
        return rp_set(out, ACCESS_RP_INTERNAL, "access_rp_verify: missing argument");
    }
    int64_t now = x->now != 0 ? x->now : util_now();
    out->skew = x->idp_date != 0 ? x->idp_date - now : 0;
    const char *email_claim = x->email_claim != NULL ? x->email_claim : ACCESS_DEFAULT_EMAIL_CLAIM;
    if (id_token.n > JOSE_MAX_TOKEN) {
        return rp_set(out, ACCESS_RP_MALFORMED, "the ID token is longer than %d bytes",
                      JOSE_MAX_TOKEN);
    }
    if ((d = check_alg(id_token, out)) != ACCESS_RP_OK ||
        (d = check_signature(id_token, keys, &c, out)) != ACCESS_RP_OK ||
        (d = check_iss(c, x, out)) != ACCESS_RP_OK ||
        (d = check_aud(c, x->client_id, out)) != ACCESS_RP_OK ||
        (d = check_times(c, x, now, out)) != ACCESS_RP_OK ||
        (d = check_nonce_sub(c, x->nonce, out)) != ACCESS_RP_OK ||
        (d = check_email(c, email_claim, out)) != ACCESS_RP_OK) {
        json_decref(c);
        return d;
    }
    out->email = xstrdup(json_string_value(json_object_get(c, email_claim)));
    out->extra = copy_claims(c, x);
    out->claims = c;
    out->diag = ACCESS_RP_OK;
    snprintf(out->msg, sizeof out->msg, "the ID token is valid");
    return ACCESS_RP_OK;
}
