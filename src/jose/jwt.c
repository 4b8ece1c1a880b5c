/*
 * JWT validation (RFC 7519 section 7.2, RFC 8725 section 3): signature with a key chosen by
 * kid from the caller's set, then the registered claims. exp, iat, iss and aud are required
 * (DESIGN.md), nbf is checked when present.
 */
#include "jose/jose_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* Dates beyond the year 9999 are refused, which also keeps the arithmetic below far from
 * int64 overflow. */
#define JOSE_MAX_NUMERIC_DATE INT64_C(253402300799)

/* RFC 7519 section 2 NumericDate: a JSON number of seconds, possibly non-integer. Sets
 * *present; a value of the wrong type or out of range is an error. */
static int claim_date(const json_t *c, const char *name, bool *present, int64_t *out, struct err *e)
{
    const json_t *v = json_object_get(c, name);
    *present = v != NULL;
    if (v == NULL) {
        return 0;
    }
    if (json_is_integer(v)) {
        json_int_t t = json_integer_value(v);
        if (t < 0 || t > JOSE_MAX_NUMERIC_DATE) {
            return err_set(e, JOSE_ERR_CLAIM, "claim \"%s\" out of range", name);
        }
        *out = (int64_t)t;
        return 0;
    }
    if (json_is_real(v)) {
        double t = json_real_value(v);
        if (!isfinite(t) || t < 0 || t > (double)JOSE_MAX_NUMERIC_DATE) {
            return err_set(e, JOSE_ERR_CLAIM, "claim \"%s\" out of range", name);
        }
        *out = (int64_t)t;
        return 0;
    }
    return err_set(e, JOSE_ERR_CLAIM, "claim \"%s\" is not a NumericDate", name);
}

static int check_times(const json_t *c, int64_t now, int64_t leeway, struct err *e)
{
    bool has_exp, has_nbf, has_iat;
    int64_t exp = 0, nbf = 0, iat = 0;
    if (claim_date(c, "exp", &has_exp, &exp, e) != 0 ||
        claim_date(c, "nbf", &has_nbf, &nbf, e) != 0 ||
        claim_date(c, "iat", &has_iat, &iat, e) != 0) {
        return -1;
    }
    if (!has_exp || !has_iat) {
        return err_set(e, JOSE_ERR_CLAIM, "claim \"%s\" missing", has_exp ? "iat" : "exp");
    }
    /* RFC 7519 section 4.1.4: valid only before exp. */
    if (now - leeway >= exp) {
        return err_set(e, JOSE_ERR_EXPIRED, "token expired");
    }
    /* Section 4.1.5: not before nbf. */
    if (has_nbf && now + leeway < nbf) {
        return err_set(e, JOSE_ERR_NOT_YET_VALID, "token not valid yet (nbf)");
    }
    /* Section 4.1.6 only records iat; a token issued in the future is a clock or forgery
     * problem, refused like nbf. */
    if (iat > now + leeway) {
        return err_set(e, JOSE_ERR_NOT_YET_VALID, "token issued in the future (iat)");
    }
    return 0;
}

static int check_iss(const json_t *c, const char *want, struct err *e)
{
    const json_t *iss = json_object_get(c, "iss");
    if (!json_is_string(iss)) {
        return err_set(e, JOSE_ERR_CLAIM, "claim \"iss\" missing or not a string");
    }
    if (want != NULL && strcmp(json_string_value(iss), want) != 0) {
        return err_set(e, JOSE_ERR_CLAIM, "wrong issuer");
    }
    return 0;
}

/* RFC 7519 section 4.1.3: a string or an array of strings, one of which must be ours. */
static int check_aud(const json_t *c, const char *want, struct err *e)
{
    const json_t *aud = json_object_get(c, "aud");
    if (json_is_string(aud)) {
        if (want != NULL && strcmp(json_string_value(aud), want) != 0) {
            return err_set(e, JOSE_ERR_CLAIM, "wrong audience");
        }
        return 0;
    }
    if (!json_is_array(aud) || json_array_size(aud) == 0 ||
        json_array_size(aud) > JOSE_JWT_MAX_AUD) {
        return err_set(e, JOSE_ERR_CLAIM, "claim \"aud\" missing or malformed");
    }
    bool found = want == NULL;
    size_t i;
    const json_t *a;
    json_array_foreach(aud, i, a)
    {
        if (!json_is_string(a)) {
            return err_set(e, JOSE_ERR_CLAIM, "claim \"aud\" holds a non-string");
        }
        if (want != NULL && strcmp(json_string_value(a), want) == 0) {
            found = true;
        }
    }
    return found ? 0 : err_set(e, JOSE_ERR_CLAIM, "wrong audience");
}

int jose_jwt_check_claims(const json_t *c, const struct jose_jwt_expect *x, struct err *e)
{
    if (!json_is_object(c) || x == NULL) {
        return err_set(e, JOSE_ERR_INTERNAL, "jose_jwt_check_claims: bad arguments");
    }
    int64_t now = x->now ? x->now : util_now();
    if (x->leeway < 0 || x->leeway > JOSE_JWT_MAX_LEEWAY || now < 0 ||
        now > JOSE_MAX_NUMERIC_DATE) {
        return err_set(e, JOSE_ERR_INTERNAL, "bad leeway or clock");
    }
    if (check_times(c, now, x->leeway, e) != 0 || check_iss(c, x->iss, e) != 0 ||
        check_aud(c, x->aud, e) != 0) {
        return -1;
    }
    for (const char *const *r = x->required; r != NULL && *r != NULL; r++) {
        const json_t *v = json_object_get(c, *r);
        if (v == NULL || json_is_null(v)) {
            return err_set(e, JOSE_ERR_CLAIM, "required claim missing");
        }
    }
    return 0;
}

/* The header's kid names the key. Without a kid, a set of exactly one key is unambiguous;
 * anything else is refused rather than tried key by key. */
static const struct jose_jwk *pick_key(const struct jose_jws *j, const struct jose_jwks *keys,
                                       struct err *e)
{
    const struct jose_jwk *k;
    if (j->kid != NULL) {
        k = jose_jwks_find(keys, j->kid);
        if (k == NULL) {
            err_set(e, JOSE_ERR_KEY, "no key for the token's kid");
        }
        return k;
    }
    if (jose_jwks_count(keys) == 1) {
        return jose_jwks_get(keys, 0);
    }
    err_set(e, JOSE_ERR_KEY, "token without kid and %zu keys to choose from",
            jose_jwks_count(keys));
    return NULL;
}

int jose_jwt_verify(struct slice token, const struct jose_jwks *keys,
                    const struct jose_jwt_expect *x, json_t **claims, struct err *e)
{
    struct jose_jws j;
    json_t *c = NULL;
    int rc = -1;
    if (claims != NULL) {
        *claims = NULL;
    }
    if (jose_jws_parse(token, &j, e) != 0) {
        return -1;
    }
    if (keys == NULL || x == NULL) {
        err_set(e, JOSE_ERR_INTERNAL, "jose_jwt_verify: bad arguments");
        goto done;
    }
    const struct jose_jwk *k = pick_key(&j, keys, e);
    if (k == NULL || jose_jws_verify(&j, k, e) != 0) {
        goto done;
    }
    c = util_json_parse((struct slice){j.payload.p, j.payload.len}, e);
    if (c == NULL) {
        err_prefix(e, "JWT claims");
        jose_err_code(e, JOSE_ERR_MALFORMED);
        goto done;
    }
    if (!json_is_object(c)) {
        err_set(e, JOSE_ERR_MALFORMED, "JWT claims are not a JSON object");
        goto done;
    }
    if (jose_jwt_check_claims(c, x, e) != 0) {
        goto done;
    }
    if (claims != NULL) {
        *claims = c;
        c = NULL;
    }
    rc = 0;
done:
    json_decref(c);
    jose_jws_free(&j);
    return rc;
}
