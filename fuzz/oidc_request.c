/*
 * Fuzz target: what a client sends the OIDC endpoints before any lookup. The input is tried
 * as an authorization request's query (oidc_authz_parse_client, oidc_authz_parse), as an
 * Authorization: Basic header (oidc_basic_decode), as a scope and a prompt, as a redirect URI
 * against strict and regex registrations, as a PKCE verifier and as a login marker.
 * Invariants: whatever step 1 accepts has a client_id and a redirect_uri without '#'; an
 * accepted scope is not empty and has no space at either end; a decoded Basic id is
 * non-empty; a URI the regex accepts is structurally sane; a strict match is byte-equal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "oidc/oidc_int.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_INPUT (16 * 1024)

static const char REDIRECTS[] =
    "[{\"matching_mode\":\"strict\",\"url\":\"https://a.example/cb\"},"
    "{\"matching_mode\":\"regex\",\"url\":\"https://app\\\\.example\\\\.com/cb.*\"}]";

static void authz(struct slice s)
{
    struct http_params p;
    if (http_params_parse(s, &p) != 0) {
        return;
    }
    struct oidc_authz a;
    const char *why = NULL, *error = NULL, *desc = NULL;
    if (oidc_authz_parse_client(&p, &a, &why) == 0) {
        CHECK(a.client_id != NULL && *a.client_id != '\0');
        CHECK(a.redirect_uri != NULL && strchr(a.redirect_uri, '#') == NULL);
        if (oidc_authz_parse(&p, &a, &error, &desc) == 0) {
            CHECK(a.scopes != 0 && (a.scopes & ~(unsigned)OIDC_SCOPES_ALL) == 0);
            CHECK(strcmp(a.response_type, "code") == 0);
            CHECK(a.code_challenge == NULL || oidc_pkce_syntax_ok(a.code_challenge));
            CHECK(a.code_challenge == NULL || oidc_pkce_method_ok(a.code_challenge_method));
            CHECK(a.state == NULL || strlen(a.state) <= OIDC_STATE_MAX);
        } else {
            CHECK(error != NULL && desc != NULL);
        }
    } else {
        CHECK(why != NULL);
    }
    http_params_free(&p);
}

static void basic(struct slice s)
{
    char *id = NULL, *secret = NULL;
    if (oidc_basic_decode(s, &id, &secret) == 0) {
        CHECK(id != NULL && *id != '\0' && secret != NULL);
    } else {
        CHECK(id == NULL && secret == NULL);
    }
    free(id);
    util_free_secret(secret);
}

static void redirect(const char *z, const struct oidc_redirects *l)
{
    bool ok = oidc_redirect_allowed(l, z);
    if (ok && strcmp(z, "https://a.example/cb") != 0) {
        CHECK(oidc_redirect_uri_sane(z));
        CHECK(strncmp(z, "https://app.example.com/cb", 26) == 0);
    }
    CHECK(oidc_redirect_registered_strict(l, z) == (strcmp(z, "https://a.example/cb") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    struct slice s = {(const char *)data, size};
    authz(s);
    basic(s);

    unsigned mask = 0;
    size_t unknown = 0;
    if (oidc_scope_parse(s, &mask, &unknown) == 0) {
        CHECK(size > 0 && data[0] != ' ' && data[size - 1] != ' ');
        CHECK((mask & ~(unsigned)OIDC_SCOPES_ALL) == 0);
    }

    /* The C-string views stop at the first NUL, as the decoded parameters would. */
    char *z = xstrndup((const char *)data, strnlen((const char *)data, size));
    unsigned prompt = 0;
    if (oidc_prompt_parse(z, &prompt) == 0 && (prompt & OIDC_PROMPT_NONE)) {
        CHECK(prompt == OIDC_PROMPT_NONE);
    }
    struct oidc_redirects l;
    struct err e = {0};
    CHECK(oidc_redirects_parse(REDIRECTS, &l, &e) == 0);
    redirect(z, &l);
    oidc_redirects_free(&l);
    if (oidc_pkce_verify("plain", z, z)) {
        CHECK(oidc_pkce_syntax_ok(z));
    }
    static const uint8_t key[32] = {7};
    int64_t t = 0;
    if (oidc_marker_check(key, "cf-client", z, 1700000000, &t) == 0) {
        abort(); /* a forged MAC, found by chance: impossible */
    }
    free(z);
    return 0;
}
