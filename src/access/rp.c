/*
 * rp.c: the relying party's small pieces: diagnoses, the secrets of a login (state, nonce,
 * PKCE verifier), the authorization URL, the token request body, results.
 */
#include "access/rp_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* The token request body: a code and a redirect URI, each at most 3x longer encoded. */
#define RP_TOKEN_BODY_MAX (3 * (ACCESS_RP_CODE_MAX + ACCESS_URL_MAX) + 512)

static const struct {
    const char *name;
    const char *text;
} diags[] = {
    [ACCESS_RP_OK] = {"ok", "The connection works."},
    [ACCESS_RP_UNREACHABLE] = {"unreachable", "A URL of the identity provider is unreachable."},
    [ACCESS_RP_TLS] = {"tls", "The TLS connection to the identity provider failed."},
    [ACCESS_RP_HTTP_ERROR] = {"http_error",
                              "The identity provider answered with an unexpected status or "
                              "content."},
    [ACCESS_RP_DISCOVERY] = {"discovery", "The discovery document is unusable."},
    [ACCESS_RP_REDIRECT_URI] = {"redirect_uri",
                                "The redirect URI is not registered at the identity provider."},
    [ACCESS_RP_INVALID_CLIENT] = {"invalid_client",
                                  "The token endpoint refused the client: check client_id and "
                                  "client_secret."},
    [ACCESS_RP_TOKEN_ERROR] = {"token_error", "The token endpoint refused the authorization code."},
    [ACCESS_RP_AUTH_ERROR] = {"auth_error",
                              "The identity provider refused the authorization request."},
    [ACCESS_RP_JWKS_UNUSABLE] = {"jwks_unusable",
                                 "The identity provider's JWKS is empty or unusable."},
    [ACCESS_RP_UNKNOWN_KID] = {"unknown_kid",
                               "The ID token is signed with a key that is not in the JWKS."},
    [ACCESS_RP_NOT_ASYMMETRIC] = {"not_asymmetric",
                                  "The ID token is not signed with an asymmetric key."},
    [ACCESS_RP_ALG_NOT_ALLOWED] = {"alg_not_allowed",
                                   "The ID token's signing algorithm is not allowed."},
    [ACCESS_RP_MALFORMED] = {"malformed", "The ID token is malformed."},
    [ACCESS_RP_SIGNATURE] = {"signature", "The ID token's signature does not verify."},
    [ACCESS_RP_ISS_MISMATCH] = {"iss_mismatch",
                                "The ID token's issuer (iss) is not the expected one."},
    [ACCESS_RP_AUD_MISMATCH] = {"aud_mismatch",
                                "The ID token is not for this client (aud or azp)."},
    [ACCESS_RP_EXPIRED] = {"expired", "The ID token has expired."},
    [ACCESS_RP_IAT_FUTURE] = {"iat_future", "The ID token is issued in the future."},
    [ACCESS_RP_CLOCK_SKEW] = {"clock_skew",
                              "The clocks of the identity provider and of the gateway differ "
                              "by more than 60 seconds."},
    [ACCESS_RP_NONCE_MISMATCH] = {"nonce_mismatch",
                                  "The ID token's nonce is not the one of this login."},
    [ACCESS_RP_EMAIL_MISSING] = {"email_missing", "The ID token has no usable email claim."},
    [ACCESS_RP_INTERNAL] = {"internal", "The gateway could not run the request."},
};

const char *access_rp_diag_name(enum access_rp_diag d)
{
    if ((unsigned)d >= UTIL_ARRAY_LEN(diags) || diags[d].name == NULL) {
        return "unknown";
    }
    return diags[d].name;
}

const char *access_rp_diag_text(enum access_rp_diag d)
{
    if ((unsigned)d >= UTIL_ARRAY_LEN(diags) || diags[d].text == NULL) {
        return "Unknown failure.";
    }
    return diags[d].text;
}

enum access_rp_diag rp_set(struct access_rp_result *out, enum access_rp_diag d, const char *fmt,
                           ...)
{
    out->diag = d;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
    return d;
}

void rp_quote(struct slice in, char *out, size_t out_n)
{
    size_t k = 0;
    if (out_n == 0) {
        return;
    }
    for (size_t i = 0; i < in.n && k + 1 < out_n; i++) {
        unsigned char c = (unsigned char)in.p[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

void access_rp_result_free(struct access_rp_result *r)
{
    if (r == NULL) {
        return;
    }
    free(r->url);
    free(r->email);
    json_decref(r->claims);
    json_decref(r->extra);
    memset(r, 0, sizeof *r);
}

/* ---- the secrets of a login ------------------------------------------------------------- */

static void random_text(char out[ACCESS_RP_RANDOM_TEXT])
{
    char *t = util_random_token(ACCESS_RP_RANDOM_BYTES);
    size_t n = strlen(t);
    /* 32 bytes are 43 base64url characters: always fits. */
    memcpy(out, t, UTIL_MIN(n, (size_t)ACCESS_RP_RANDOM_TEXT - 1));
    out[UTIL_MIN(n, (size_t)ACCESS_RP_RANDOM_TEXT - 1)] = '\0';
    util_free_secret(t);
}

void access_rp_login_new(struct access_rp_login *l)
{
    random_text(l->state);
    random_text(l->nonce);
    random_text(l->verifier);
}

void access_rp_login_wipe(struct access_rp_login *l)
{
    util_wipe(l, sizeof *l);
}

void access_rp_pkce_challenge(const char *verifier_z, char out[ACCESS_RP_RANDOM_TEXT])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf b;
    out[0] = '\0';
    if (EVP_Digest(verifier_z, strlen(verifier_z), md, &mdlen, EVP_sha256(), NULL) != 1) {
        return; /* an empty challenge: the IdP refuses the login, nothing is weakened */
    }
    buf_init(&b, ACCESS_RP_RANDOM_TEXT - 1);
    if (b64url_encode(md, mdlen, &b) == 0) {
        memcpy(out, b.p, b.len + 1);
    }
    buf_free(&b);
}

/* ---- the authorization request ---------------------------------------------------------- */

static int add_param(struct buf *b, bool *first, const char *name_z, const char *value_z)
{
    int rc = buf_printf(b, "%s%s=", *first ? "" : "&", name_z);
    *first = false;
    if (rc != 0) {
        return -1;
    }
    return http_url_encode(slice_z(value_z), b);
}

/* RFC 6749 section 3.3: scope = scope-token *( SP scope-token ). */
static char *scope_join(const struct access_idp *idp)
{
    struct buf s;
    buf_init(&s, ACCESS_MAX_SCOPES * (ACCESS_NAME_MAX + 1));
    for (size_t i = 0; i < idp->nscopes; i++) {
        if ((i > 0 && buf_append_c(&s, ' ') != 0) || buf_append_z(&s, idp->scopes[i]) != 0) {
            break;
        }
    }
    if (idp->nscopes == 0) {
        buf_append_z(&s, "openid");
    }
    return buf_steal(&s, NULL);
}

char *access_rp_auth_url(const struct access_idp *idp, const char *endpoint_z,
                         const char *redirect_uri_z, const struct access_rp_login *l, struct err *e)
{
    struct buf b;
    char challenge[ACCESS_RP_RANDOM_TEXT];
    char *scope = NULL;
    char *url = NULL;
    bool first = true;
    if (idp == NULL || endpoint_z == NULL || redirect_uri_z == NULL || l == NULL) {
        err_set(e, 0, "access_rp_auth_url: missing argument");
        return NULL;
    }
    buf_init(&b, HTTP_FETCH_MAX_URL);
    /* The endpoint may carry a query of its own (OIDC Core 3.1.2.1 allows it): keep it. */
    size_t n = strlen(endpoint_z);
    const char *q = strchr(endpoint_z, '?');
    const char *sep = q == NULL                                                ? "?"
                      : (endpoint_z[n - 1] == '?' || endpoint_z[n - 1] == '&') ? ""
                                                                               : "&";
    scope = scope_join(idp);
    int rc = buf_printf(&b, "%s%s", endpoint_z, sep);
    rc = rc || add_param(&b, &first, "response_type", "code");
    rc = rc || add_param(&b, &first, "client_id", idp->client_id);
    rc = rc || add_param(&b, &first, "redirect_uri", redirect_uri_z);
    rc = rc || add_param(&b, &first, "scope", scope);
    rc = rc || add_param(&b, &first, "state", l->state);
    rc = rc || add_param(&b, &first, "nonce", l->nonce);
    if (idp->pkce_enabled) {
        access_rp_pkce_challenge(l->verifier, challenge);
        rc = rc || add_param(&b, &first, "code_challenge", challenge);
        rc = rc || add_param(&b, &first, "code_challenge_method", "S256");
    }
    if (rc != 0) {
        err_set(e, 0, "authorization URL longer than %d bytes", HTTP_FETCH_MAX_URL);
        goto done;
    }
    url = buf_steal(&b, NULL);
done:
    free(scope);
    buf_free(&b);
    return url;
}

/* ---- the token request ------------------------------------------------------------------ */

int rp_token_body(const char *code_z, const char *redirect_uri_z, const char *verifier_z,
                  struct buf *out)
{
    bool first = true;
    buf_init(out, RP_TOKEN_BODY_MAX);
    /* RFC 6749 section 4.1.3; RFC 7636 section 4.5. client_id is not repeated in the body:
     * the client authenticates with HTTP Basic (section 2.3.1). */
    int rc = add_param(out, &first, "grant_type", "authorization_code");
    rc = rc || add_param(out, &first, "code", code_z);
    rc = rc || add_param(out, &first, "redirect_uri", redirect_uri_z);
    if (verifier_z != NULL) {
        rc = rc || add_param(out, &first, "code_verifier", verifier_z);
    }
    return rc ? -1 : 0;
}
