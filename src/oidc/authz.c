/*
 * authz.c: the parameters of an authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1,
 * RFC 7636 4.3), checked in two steps: what identifies the client and where to answer
 * (errors on a page), then the rest (errors redirected to the client with its state).
 */
#include "oidc/oidc_int.h"

#include <string.h>

/* Every parameter of the request that the login and consent round trips must carry. Other
 * parameters are ignored (OIDC Core 3.1.2.1: "unknown parameters MUST be ignored"). */
const char *const oidc_authz_names[] = {
    "client_id", "redirect_uri", "response_type",   "response_mode",         "scope",
    "state",     "nonce",        "code_challenge",  "code_challenge_method", "prompt",
    "max_age",   "login_hint",   OIDC_MARKER_PARAM,
};
const size_t oidc_authz_nnames = UTIL_ARRAY_LEN(oidc_authz_names);

/* RFC 6749 3.1: "Request and response parameters MUST NOT be included more than once." */
static const char *repeated(const struct http_params *p)
{
    for (size_t i = 0; i < oidc_authz_nnames; i++) {
        if (http_params_count(p, oidc_authz_names[i]) > 1) {
            return oidc_authz_names[i];
        }
    }
    return NULL;
}

int oidc_authz_parse_client(const struct http_params *p, struct oidc_authz *a, const char **why)
{
    memset(a, 0, sizeof *a);
    a->max_age_s = -1;
    if (http_params_count(p, "client_id") > 1 || http_params_count(p, "redirect_uri") > 1) {
        *why = "The request repeats client_id or redirect_uri.";
        return -1;
    }
    a->client_id = http_params_get(p, "client_id");
    a->redirect_uri = http_params_get(p, "redirect_uri");
    if (a->client_id == NULL || *a->client_id == '\0' ||
        strlen(a->client_id) > OIDC_CLIENT_ID_MAX) {
        *why = "The request has no valid client_id.";
        return -1;
    }
    /* OIDC Core 3.1.2.1: redirect_uri is REQUIRED (so no "the only registered URI"). */
    if (a->redirect_uri == NULL || *a->redirect_uri == '\0') {
        *why = "The request has no redirect_uri.";
        return -1;
    }
    if (strlen(a->redirect_uri) > OIDC_REDIRECT_URI_MAX || strchr(a->redirect_uri, '#')) {
        *why = "The redirect_uri is not registered for this application.";
        return -1;
    }
    return 0;
}

static int fail(const char **error, const char **desc, const char *e, const char *d)
{
    *error = e;
    *desc = d;
    return -1;
}

static bool too_long(const char *z, size_t max)
{
    return z != NULL && strlen(z) > max;
}

static int parse_pkce(struct oidc_authz *a, const char **error, const char **desc)
{
    if (a->code_challenge == NULL) {
        if (a->code_challenge_method != NULL) {
            return fail(error, desc, "invalid_request",
                        "code_challenge_method without code_challenge");
        }
        return 0;
    }
    if (!oidc_pkce_syntax_ok(a->code_challenge)) {
        return fail(error, desc, "invalid_request",
                    "code_challenge must be 43 to 128 unreserved characters (RFC 7636 4.2)");
    }
    if (a->code_challenge_method == NULL) {
        a->code_challenge_method = "plain"; /* RFC 7636 4.3 */
    } else if (!oidc_pkce_method_ok(a->code_challenge_method)) {
        return fail(error, desc, "invalid_request", "code_challenge_method must be S256 or plain");
    }
    return 0;
}

int oidc_authz_parse(const struct http_params *p, struct oidc_authz *a, const char **error,
                     const char **desc)
{
    /* state first: every error below is answered with it (4.1.2.1), unless it is itself
     * the problem. */
    if (http_params_count(p, "state") <= 1) {
        const char *st = http_params_get(p, "state");
        a->state = too_long(st, OIDC_STATE_MAX) ? NULL : st;
    }
    a->response_mode = http_params_get(p, "response_mode");
    if (http_params_count(p, "response_mode") <= 1 && a->response_mode != NULL &&
        strcmp(a->response_mode, "form_post") == 0) {
        a->form_post = true;
    }
    const char *rep = repeated(p);
    if (rep != NULL) {
        a->form_post = false;
        return fail(error, desc, "invalid_request", "a parameter is repeated");
    }
    if (too_long(http_params_get(p, "state"), OIDC_STATE_MAX)) {
        return fail(error, desc, "invalid_request", "state is too long");
    }
    if (a->response_mode != NULL && strcmp(a->response_mode, "query") != 0 && !a->form_post) {
        return fail(error, desc, "invalid_request", "response_mode must be query or form_post");
    }
    if (http_params_get(p, "request") != NULL) {
        return fail(error, desc, "request_not_supported", "request objects are not supported");
    }
    if (http_params_get(p, "request_uri") != NULL) {
        return fail(error, desc, "request_uri_not_supported", "request_uri is not supported");
    }
    a->response_type = http_params_get(p, "response_type");
    if (a->response_type == NULL || *a->response_type == '\0') {
        return fail(error, desc, "invalid_request", "response_type is missing");
    }
    if (strcmp(a->response_type, "code") != 0) {
        return fail(error, desc, "unsupported_response_type", "only response_type=code");
    }
    a->scope = http_params_get(p, "scope");
    size_t unknown = 0;
    if (a->scope == NULL || oidc_scope_parse(slice_z(a->scope), &a->scopes, &unknown) != 0) {
        return fail(error, desc, "invalid_scope", "scope is missing or malformed");
    }
    if (a->scopes == 0) {
        return fail(error, desc, "invalid_scope",
                    "none of the scopes is supported (openid email profile offline_access)");
    }
    a->nonce = http_params_get(p, "nonce");
    if (too_long(a->nonce, OIDC_NONCE_MAX)) {
        return fail(error, desc, "invalid_request", "nonce is too long");
    }
    a->prompt = http_params_get(p, "prompt");
    if (oidc_prompt_parse(a->prompt, &a->prompt_flags) != 0) {
        return fail(error, desc, "invalid_request", "prompt is invalid");
    }
    a->max_age = http_params_get(p, "max_age");
    if (a->max_age != NULL && *a->max_age != '\0') {
        uint64_t v;
        if (util_parse_u64(slice_z(a->max_age), (uint64_t)INT32_MAX, &v) != 0) {
            return fail(error, desc, "invalid_request", "max_age must be a number of seconds");
        }
        a->max_age_s = (int64_t)v;
    }
    a->login_hint = http_params_get(p, "login_hint");
    if (too_long(a->login_hint, OIDC_LOGIN_HINT_MAX)) {
        a->login_hint = NULL; /* a hint only: drop it */
    }
    a->marker = http_params_get(p, OIDC_MARKER_PARAM);
    a->code_challenge = http_params_get(p, "code_challenge");
    a->code_challenge_method = http_params_get(p, "code_challenge_method");
    return parse_pkce(a, error, desc);
}
