/* Unit tests for src/access/rp_flow.c, rp_jwks.c, rp_answer.c and rp_verify.c: a real code
 * exchange against the IdP double (tests/vectors/access/idp.py, argv[1]), which signs ID
 * tokens with jwcrypto as each test's spec says: the good token, every allowed algorithm,
 * each claim wrong, algorithm confusion, alg none, unknown kids (one re-fetch, then the rate
 * limit), unusable JWKS, unreachable endpoints, OAuth errors, clock skew, PKCE, discovery. */
#include "test_rp_fixture.h"

#include <openssl/evp.h>
#include <pthread.h>

/* Fresh per test: a cache with a short re-fetch limit, and a login. */
#define TEST_REFETCH_MS 400

struct tcase {
    struct tidp t;
    struct access_rp *rp;
    struct access_rp_login l;
    struct ran r;
};

static int case_setup(void **state)
{
    struct tcase *c = calloc(1, sizeof *c);
    struct access_rp_opts o = {.refetch_min_ms = TEST_REFETCH_MS, .timeout_ms = 5000};
    tidp_init(&c->t, FX.base);
    c->rp = access_rp_new(&o);
    access_rp_login_new(&c->l);
    *state = c;
    return 0;
}

static int case_teardown(void **state)
{
    struct tcase *c = *state;
    access_rp_result_free(&c->r.res);
    access_rp_free(c->rp);
    free(c);
    return 0;
}

/* A spec with this login's nonce and the registered redirect URI, plus `more` (stolen). */
static json_t *spec_with(struct tcase *c, json_t *more)
{
    json_t *s = json_pack("{s:s}", "nonce", c->l.nonce);
    if (more != NULL) {
        json_object_update(s, more);
        json_decref(more);
    }
    return s;
}

/* Exchanges a code made from spec; the result is in c->r.res. */
static enum access_rp_diag exchange(struct tcase *c, json_t *more)
{
    char *code = code_for(spec_with(c, more));
    access_rp_result_free(&c->r.res);
    run_rp(c->rp, &c->t.idp, &c->l, code, TEST_REDIR, &c->r);
    free(code);
    return c->r.res.diag;
}

static void assert_diag(struct tcase *c, json_t *more, enum access_rp_diag want)
{
    enum access_rp_diag got = exchange(c, more);
    if (got != want) {
        print_error("want %s, got %s: %s\n", access_rp_diag_name(want), access_rp_diag_name(got),
                    c->r.res.msg);
    }
    assert_int_equal(got, want);
    if (want != ACCESS_RP_OK) {
        assert_null(c->r.res.claims);
        assert_null(c->r.res.email);
        assert_true(c->r.res.msg[0] != '\0');
    }
}

/* ---- the good path ---------------------------------------------------------------------- */

static void test_good_token(void **state)
{
    struct tcase *c = *state;
    assert_diag(c, NULL, ACCESS_RP_OK);
    assert_string_equal(c->r.res.email, "alice@example.com");
    assert_string_equal(json_string_value(json_object_get(c->r.res.claims, "sub")), "user-1");
    /* Only the configured claims are copied out, whole. */
    assert_int_equal(json_object_size(c->r.res.extra), 2);
    assert_string_equal(json_string_value(json_object_get(c->r.res.extra, "name")), "Alice");
    assert_int_equal(json_array_size(json_object_get(c->r.res.extra, "groups")), 2);
    assert_true(c->r.res.skew <= ACCESS_RP_LEEWAY_S && c->r.res.skew >= -ACCESS_RP_LEEWAY_S);
}

/* The token request as the IdP received it: RFC 6749 4.1.3 fields, client_secret_basic with
 * both parts form-encoded (2.3.1), and a code_verifier whose S256 is the challenge we sent. */
static void test_token_request_and_pkce(void **state)
{
    struct tcase *c = *state;
    struct err e = {0};
    char *url = access_rp_auth_url(&c->t.idp, c->t.auth, TEST_REDIR, &c->l, &e);
    assert_non_null(url);
    const char *p = strstr(url, "code_challenge=");
    assert_non_null(p);
    char challenge[ACCESS_RP_RANDOM_TEXT] = {0};
    memcpy(challenge, p + 15, strcspn(p + 15, "&"));
    free(url);
    /* The double refuses the code unless S256(code_verifier) is this challenge. */
    assert_diag(c, json_pack("{s:s}", "challenge", challenge), ACCESS_RP_OK);
    json_t *last = get_json(FX.base, "/last");
    json_t *form = json_object_get(json_object_get(last, "token"), "form");
    assert_string_equal(json_string_value(json_object_get(form, "grant_type")),
                        "authorization_code");
    assert_string_equal(json_string_value(json_object_get(form, "redirect_uri")), TEST_REDIR);
    assert_string_equal(json_string_value(json_object_get(form, "code_verifier")), c->l.verifier);
    assert_null(json_object_get(form, "client_secret")); /* never in the body */
    const char *auth =
        json_string_value(json_object_get(json_object_get(last, "token"), "authorization"));
    struct buf dec;
    buf_init(&dec, 512);
    assert_true(strncmp(auth, "Basic ", 6) == 0);
    assert_int_equal(b64_decode(slice_z(auth + 6), &dec), 0);
    /* Each part form-encoded: no raw ':' '/' '+' '&' '=' or space; decoded, the secret. */
    const char *colon = strchr(dec.p, ':');
    assert_non_null(colon);
    assert_null(strpbrk(colon + 1, ":/+&= @"));
    struct http_params pp = {0};
    char pair[256];
    snprintf(pair, sizeof pair, "id=%.*s&secret=%s", (int)(colon - dec.p), dec.p, colon + 1);
    assert_int_equal(http_params_parse(slice_z(pair), &pp), 0);
    assert_string_equal(http_params_get(&pp, "id"), TEST_CLIENT);
    assert_string_equal(http_params_get(&pp, "secret"), TEST_SECRET);
    http_params_free(&pp);
    buf_free(&dec);
    json_decref(last);
    /* A wrong verifier is refused by the IdP: the check above can fail. */
    assert_diag(c, json_pack("{s:s}", "challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuEJSstw-cM"),
                ACCESS_RP_TOKEN_ERROR);
    assert_non_null(strstr(c->r.res.msg, "PKCE"));
}

static void test_pkce_off(void **state)
{
    struct tcase *c = *state;
    c->t.idp.pkce_enabled = false;
    assert_diag(c, NULL, ACCESS_RP_OK);
    json_t *last = get_json(FX.base, "/last");
    assert_null(
        json_object_get(json_object_get(json_object_get(last, "token"), "form"), "code_verifier"));
    json_decref(last);
}

static void test_every_allowed_alg(void **state)
{
    struct tcase *c = *state;
    static const char *const algs[] = {"RS256", "RS384", "RS512", "PS256", "PS512",
                                       "ES256", "ES384", "ES512", "EdDSA"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(algs); i++) {
        assert_diag(c, json_pack("{s:s}", "alg", algs[i]), ACCESS_RP_OK);
    }
}

/* ---- attacks on the signature ----------------------------------------------------------- */

static void test_alg_confusion_hs256(void **state)
{
    struct tcase *c = *state;
    /* HS256 with the RSA public key (PEM) as the secret, kid of the RSA key. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "HS256", "kid", "rs256"),
                ACCESS_RP_NOT_ASYMMETRIC);
    assert_non_null(strstr(c->r.res.msg, "HS256"));
    assert_string_equal(access_rp_diag_text(c->r.res.diag),
                        "The ID token is not signed with an asymmetric key.");
}

static void test_alg_none(void **state)
{
    struct tcase *c = *state;
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "none", "kid", "rs256"), ACCESS_RP_NOT_ASYMMETRIC);
}

static void test_alg_not_allowed(void **state)
{
    struct tcase *c = *state;
    /* PS384: a fine algorithm that jose knows, not on issue 4's list. */
    assert_diag(c, json_pack("{s:s}", "alg", "PS384"), ACCESS_RP_ALG_NOT_ALLOWED);
    /* PS256 with the key published for RS256: the key fixes the algorithm. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "PS256", "kid", "rs256"),
                ACCESS_RP_ALG_NOT_ALLOWED);
}

static void test_forged_signature(void **state)
{
    struct tcase *c = *state;
    /* Signed by a key of the right type that the IdP never published, under its kid. */
    assert_diag(c, json_pack("{s:s,s:s,s:s}", "alg", "ES256", "kid", "es256", "sign_with", "other"),
                ACCESS_RP_SIGNATURE);
}

/* ---- claims ----------------------------------------------------------------------------- */

static void test_wrong_claims(void **state)
{
    struct tcase *c = *state;
    int64_t now = util_now();
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "iss", "http://127.0.0.1:1"),
                ACCESS_RP_ISS_MISMATCH);
    assert_diag(c, json_pack("{s:{s:n}}", "claims", "iss"), ACCESS_RP_ISS_MISMATCH);
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "aud", "another-client"),
                ACCESS_RP_AUD_MISMATCH);
    assert_diag(c, json_pack("{s:{s:n}}", "claims", "aud"), ACCESS_RP_AUD_MISMATCH);
    /* Several audiences: azp required and equal to our client_id. */
    assert_diag(c, json_pack("{s:{s:[s,s]}}", "claims", "aud", TEST_CLIENT, "other"),
                ACCESS_RP_AUD_MISMATCH);
    assert_diag(
        c,
        json_pack("{s:{s:[s,s],s:s}}", "claims", "aud", TEST_CLIENT, "other", "azp", TEST_CLIENT),
        ACCESS_RP_OK);
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "azp", "other"), ACCESS_RP_AUD_MISMATCH);
    assert_diag(c, json_pack("{s:{s:I}}", "claims", "exp", (json_int_t)(now - 120)),
                ACCESS_RP_EXPIRED);
    assert_diag(c, json_pack("{s:{s:n}}", "claims", "exp"), ACCESS_RP_MALFORMED);
    assert_diag(c, json_pack("{s:{s:I}}", "claims", "iat", (json_int_t)(now + 600)),
                ACCESS_RP_IAT_FUTURE);
    assert_diag(c, json_pack("{s:{s:I}}", "claims", "nbf", (json_int_t)(now + 600)),
                ACCESS_RP_IAT_FUTURE);
    /* Within the leeway: accepted. */
    assert_diag(c, json_pack("{s:{s:I}}", "claims", "iat", (json_int_t)(now + 30)), ACCESS_RP_OK);
    assert_diag(c, json_pack("{s:{s:n}}", "claims", "sub"), ACCESS_RP_MALFORMED);
}

static void test_nonce(void **state)
{
    struct tcase *c = *state;
    struct access_rp_login other;
    access_rp_login_new(&other);
    /* A token minted for another login (replay, injection). */
    assert_diag(c, json_pack("{s:s}", "nonce", other.nonce), ACCESS_RP_NONCE_MISMATCH);
    assert_diag(c, json_pack("{s:n}", "nonce"), ACCESS_RP_NONCE_MISMATCH);
}

static void test_email_claim(void **state)
{
    struct tcase *c = *state;
    assert_diag(c, json_pack("{s:{s:n}}", "claims", "email"), ACCESS_RP_EMAIL_MISSING);
    assert_non_null(strstr(c->r.res.msg, "\"email\""));
    assert_diag(c, json_pack("{s:{s:i}}", "claims", "email", 7), ACCESS_RP_EMAIL_MISSING);
    /* A header towards the origin: no CR LF smuggled through the IdP. */
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "email", "a@b.c\r\nX-Evil: 1"),
                ACCESS_RP_EMAIL_MISSING);
    /* email_claim_name picks another claim. */
    c->t.idp.email_claim_name = (char *)"upn";
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "upn", "bob@corp.example"), ACCESS_RP_OK);
    assert_string_equal(c->r.res.email, "bob@corp.example");
    assert_diag(c, NULL, ACCESS_RP_EMAIL_MISSING);
}

/* ---- issuer ----------------------------------------------------------------------------- */

static void test_issuer_configured(void **state)
{
    struct tcase *c = *state;
    snprintf(c->t.issuer, sizeof c->t.issuer, "https://idp.example/realms/x");
    c->t.idp.issuer = c->t.issuer;
    assert_diag(c, NULL, ACCESS_RP_ISS_MISMATCH); /* the double says its own base */
    assert_non_null(strstr(c->r.res.msg, "https://idp.example/realms/x"));
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "iss", c->t.issuer), ACCESS_RP_OK);
}

/* ---- JWKS and kids ---------------------------------------------------------------------- */

static void test_unknown_kid_refetch(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.certs, FX.base, "/jwks-late?t=refetch");
    /* The cache is primed by a good login (first fetch, without "late"). */
    assert_diag(c, NULL, ACCESS_RP_OK);
    assert_int_equal(count_of("/jwks-late?t=refetch"), 1);
    /* The IdP rotated a key in: one re-fetch finds it. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", "late"), ACCESS_RP_OK);
    assert_int_equal(count_of("/jwks-late?t=refetch"), 2);
    /* A random kid right after: refused without asking the IdP again. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", "random-1"),
                ACCESS_RP_UNKNOWN_KID);
    assert_non_null(strstr(c->r.res.msg, "not re-fetched"));
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", "random-2"),
                ACCESS_RP_UNKNOWN_KID);
    assert_int_equal(count_of("/jwks-late?t=refetch"), 2);
    /* Once the limit has passed: one re-fetch, then refusal. */
    usleep((TEST_REFETCH_MS + 100) * 1000);
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", "random-3"),
                ACCESS_RP_UNKNOWN_KID);
    assert_non_null(strstr(c->r.res.msg, "re-fetched once"));
    assert_int_equal(count_of("/jwks-late?t=refetch"), 3);
    /* The known keys still work from the cache, without a fetch. */
    assert_diag(c, NULL, ACCESS_RP_OK);
    assert_int_equal(count_of("/jwks-late?t=refetch"), 3);
}

static void test_unknown_kid_fresh_fetch(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.certs, FX.base, "/jwks-late?t=fresh");
    /* Nothing cached: the JWKS just fetched lacks the kid; fetching again tells nothing. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", "nope"), ACCESS_RP_UNKNOWN_KID);
    assert_int_equal(count_of("/jwks-late?t=fresh"), 1);
    uint64_t fetches = access_rp_fetches(c->rp);
    assert_int_equal(fetches, 2); /* the token request and one JWKS */
}

static void test_kid_absent(void **state)
{
    struct tcase *c = *state;
    /* No kid, and the JWKS holds ten keys: refused rather than tried key by key. */
    assert_diag(c, json_pack("{s:s,s:s}", "alg", "ES256", "kid", ""), ACCESS_RP_UNKNOWN_KID);
    assert_non_null(strstr(c->r.res.msg, "no kid"));
}

static void test_jwks_unusable(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.certs, FX.base, "/jwks-empty");
    assert_diag(c, NULL, ACCESS_RP_JWKS_UNUSABLE);
    assert_non_null(strstr(c->r.res.msg, "empty"));
    tidp_url(c->t.certs, FX.base, "/jwks-oct");
    assert_diag(c, NULL, ACCESS_RP_JWKS_UNUSABLE);
    assert_non_null(strstr(c->r.res.msg, "no usable key"));
    tidp_url(c->t.certs, FX.base, "/jwks-html");
    assert_diag(c, NULL, ACCESS_RP_JWKS_UNUSABLE);
    tidp_url(c->t.certs, FX.base, "/jwks-404");
    assert_diag(c, NULL, ACCESS_RP_JWKS_UNUSABLE);
    assert_non_null(strstr(c->r.res.msg, "HTTP 404"));
}

static void test_jwks_cached(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.certs, FX.base, "/jwks-late?t=cached");
    for (int i = 0; i < 3; i++) {
        assert_diag(c, NULL, ACCESS_RP_OK);
    }
    assert_int_equal(count_of("/jwks-late?t=cached"), 1);
}

/* ---- the token endpoint ----------------------------------------------------------------- */

static void test_unreachable(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.token, FX.refused, "/token");
    assert_diag(c, NULL, ACCESS_RP_UNREACHABLE);
    assert_non_null(strstr(c->r.res.msg, c->t.token)); /* which URL */
    assert_non_null(strstr(c->r.res.msg, "refused"));  /* and why */
    tidp_init(&c->t, FX.base);
    tidp_url(c->t.certs, FX.refused, "/jwks");
    assert_diag(c, NULL, ACCESS_RP_UNREACHABLE);
    assert_non_null(strstr(c->r.res.msg, "JWKS"));
}

static void test_invalid_client(void **state)
{
    struct tcase *c = *state;
    c->t.idp.client_secret = (char *)"wrong";
    assert_diag(c, NULL, ACCESS_RP_INVALID_CLIENT);
    assert_non_null(strstr(c->r.res.msg, "invalid_client"));
    /* 401 without an OAuth body. */
    c->t.idp.client_secret = (char *)TEST_SECRET;
    tidp_url(c->t.token, FX.base, "/token-401");
    assert_diag(c, NULL, ACCESS_RP_INVALID_CLIENT);
}

static void test_redirect_uri_refused(void **state)
{
    struct tcase *c = *state;
    /* The IdP compares redirect_uri with the authorization request's. */
    assert_diag(c, json_pack("{s:s}", "redirect_uri", "http://team.localhost/elsewhere"),
                ACCESS_RP_REDIRECT_URI);
    assert_non_null(strstr(c->r.res.msg, "redirect_uri does not match"));
    assert_diag(c,
                json_pack("{s:{s:i,s:{s:s,s:s}}}", "error", "status", 400, "body", "error",
                          "invalid_request", "error_description",
                          "Invalid parameter: redirect_uri"),
                ACCESS_RP_REDIRECT_URI);
    assert_diag(c,
                json_pack("{s:{s:i,s:{s:s}}}", "error", "status", 400, "body", "error",
                          "redirect_uri_mismatch"),
                ACCESS_RP_REDIRECT_URI);
}

static void test_token_errors(void **state)
{
    struct tcase *c = *state;
    assert_diag(c,
                json_pack("{s:{s:i,s:{s:s,s:s}}}", "error", "status", 400, "body", "error",
                          "invalid_grant", "error_description", "code expired\r\n<b>"),
                ACCESS_RP_TOKEN_ERROR);
    assert_non_null(strstr(c->r.res.msg, "code expired?\?<b>")); /* quoted, not raw */
    assert_diag(c, json_pack("{s:b}", "no_id_token", 1), ACCESS_RP_HTTP_ERROR);
    assert_non_null(strstr(c->r.res.msg, "id_token"));
    assert_diag(c, json_pack("{s:{s:i,s:s}}", "raw", "status", 502, "body", "<html>"),
                ACCESS_RP_HTTP_ERROR);
    assert_non_null(strstr(c->r.res.msg, "HTTP 502"));
    tidp_url(c->t.token, FX.base, "/token-html");
    assert_diag(c, NULL, ACCESS_RP_HTTP_ERROR);
    assert_non_null(strstr(c->r.res.msg, "HTTP 404"));
}

static void test_callback_error(void **state)
{
    (void)state;
    struct access_rp_result r;
    access_rp_callback_error("invalid_request", "redirect_uri not registered", &r);
    assert_int_equal(r.diag, ACCESS_RP_REDIRECT_URI);
    access_rp_callback_error("access_denied", "user said no", &r);
    assert_int_equal(r.diag, ACCESS_RP_AUTH_ERROR);
    assert_non_null(strstr(r.msg, "user said no"));
    access_rp_callback_error("unauthorized_client", NULL, &r);
    assert_int_equal(r.diag, ACCESS_RP_INVALID_CLIENT);
    access_rp_callback_error(NULL, NULL, &r);
    assert_int_equal(r.diag, ACCESS_RP_AUTH_ERROR);
}

/* ---- clocks ----------------------------------------------------------------------------- */

static void test_clock_skew(void **state)
{
    struct tcase *c = *state;
    /* The IdP's clock is 5 minutes ahead (its Date says so): iat in our future. */
    assert_diag(c, json_pack("{s:i,s:i}", "clock", 300, "date_offset", 300), ACCESS_RP_CLOCK_SKEW);
    assert_true(c->r.res.skew >= 290 && c->r.res.skew <= 310);
    assert_non_null(strstr(c->r.res.msg, "Date"));
    /* An hour behind: the token is already expired by our clock. */
    assert_diag(c, json_pack("{s:i,s:i}", "clock", -3600, "date_offset", -3600),
                ACCESS_RP_CLOCK_SKEW);
    /* Same token time, but the IdP's Date agrees with ours: the token itself is wrong. */
    assert_diag(c, json_pack("{s:i}", "clock", 300), ACCESS_RP_IAT_FUTURE);
    /* 5 minutes behind, token still valid: accepted, with the skew reported. */
    assert_diag(c, json_pack("{s:i,s:i}", "clock", -200, "date_offset", -200), ACCESS_RP_OK);
    assert_true(c->r.res.skew <= -190 && c->r.res.skew >= -210);
}

/* ---- discovery -------------------------------------------------------------------------- */

static void test_discovery(void **state)
{
    struct tcase *c = *state;
    tidp_url(c->t.disc, FX.base, "/alt/.well-known/openid-configuration");
    c->t.idp.discovery_url = c->t.disc;
    c->t.idp.auth_url = c->t.idp.token_url = c->t.idp.certs_url = NULL;
    /* The discovered issuer (BASE/alt/) is now the expected iss. */
    assert_diag(c, NULL, ACCESS_RP_ISS_MISMATCH);
    char iss[TEST_URL_MAX];
    tidp_url(iss, FX.base, "/alt/");
    assert_diag(c, json_pack("{s:{s:s}}", "claims", "iss", iss), ACCESS_RP_OK);
    /* authorize takes the discovered authorization_endpoint. */
    access_rp_result_free(&c->r.res);
    run_rp(c->rp, &c->t.idp, &c->l, NULL, TEST_REDIR, &c->r);
    assert_int_equal(c->r.res.diag, ACCESS_RP_OK);
    char want[TEST_URL_MAX];
    tidp_url(want, FX.base, "/authorize?response_type=code&");
    assert_true(strncmp(c->r.res.url, want, strlen(want)) == 0);
    access_rp_result_free(&c->r.res);
    /* Cached: one fetch of the document for all of the above. */
    assert_int_equal(count_of("/alt/.well-known/openid-configuration"), 1);
}

static void test_discovery_refused(void **state)
{
    struct tcase *c = *state;
    c->t.idp.discovery_url = c->t.disc;
    c->t.idp.token_url = c->t.idp.certs_url = NULL;
    tidp_url(c->t.disc, FX.base, "/bad/.well-known/openid-configuration");
    assert_diag(c, NULL, ACCESS_RP_DISCOVERY);
    assert_non_null(strstr(c->r.res.msg, "evil.example"));
    tidp_url(c->t.disc, FX.base, "/partial/.well-known/openid-configuration");
    assert_diag(c, NULL, ACCESS_RP_DISCOVERY);
    assert_non_null(strstr(c->r.res.msg, "token_endpoint"));
    /* A configured issuer the document does not name. */
    tidp_url(c->t.disc, FX.base, "/.well-known/openid-configuration");
    c->t.idp.issuer = (char *)"https://idp.example";
    assert_diag(c, NULL, ACCESS_RP_DISCOVERY);
    tidp_url(c->t.disc, FX.refused, "/.well-known/openid-configuration");
    assert_diag(c, NULL, ACCESS_RP_UNREACHABLE);
}

/* ---- TLS -------------------------------------------------------------------------------- */

static void test_tls(void **state)
{
    struct tcase *c = *state;
    tidp_init(&c->t, FX.tls_base);
    /* A self-signed certificate: refused with the system's CAs. */
    assert_diag(c, NULL, ACCESS_RP_TLS);
    assert_non_null(strstr(c->r.res.msg, "token endpoint"));
    /* Trusted through ca_file: the whole exchange works over TLS (iss https://localhost). */
    c->t.idp.ca_file = FX.cert;
    assert_diag(c, NULL, ACCESS_RP_OK);
}

/* ---- loops and threads ------------------------------------------------------------------ */

/* A loop freed while the token request hangs: done still runs, once, with the cause. */
static void test_cancelled(void **state)
{
    struct tcase *c = *state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0); /* never accepted: the request hangs */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(c->t.token, sizeof c->t.token, "http://127.0.0.1:%d/token", ntohs(sa.sin_port));
    struct err e = {0};
    struct ran r = {0};
    r.base = event_base_new();
    assert_int_equal(
        access_rp_exchange(c->rp, r.base, &c->t.idp, TEST_REDIR, &c->l, "code", on_done, &r, &e),
        0);
    event_base_loop(r.base, EVLOOP_NONBLOCK); /* the transfer starts */
    assert_int_equal(r.calls, 0);
    http_fetch_loop_free(r.base);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res.diag, ACCESS_RP_INTERNAL);
    assert_non_null(strstr(r.res.msg, "cancelled"));
    access_rp_result_free(&r.res);
    event_base_free(r.base);
    close(fd);
}

#define TEST_THREADS 4
#define TEST_ROUNDS  6

struct worker {
    struct tcase *c;
    pthread_t th;
    int ok, unknown;
};

/* One event loop per thread, one shared access_rp: good tokens and random kids mixed. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct access_rp_login l;
    access_rp_login_new(&l);
    for (int i = 0; i < TEST_ROUNDS; i++) {
        json_t *spec = json_pack("{s:s}", "nonce", l.nonce);
        if (i % 2 == 1) {
            json_object_set_new(spec, "alg", json_string("ES256"));
            json_object_set_new(spec, "kid", json_sprintf("random-%p-%d", (void *)w, i));
        }
        char *code = code_for(spec);
        struct ran r;
        struct err e = {0};
        memset(&r, 0, sizeof r);
        r.base = event_base_new();
        if (access_rp_exchange(w->c->rp, r.base, &w->c->t.idp, TEST_REDIR, &l, code, on_done, &r,
                               &e) == 0) {
            event_base_dispatch(r.base);
        }
        w->ok += r.calls == 1 && r.res.diag == ACCESS_RP_OK;
        w->unknown += r.calls == 1 && r.res.diag == ACCESS_RP_UNKNOWN_KID;
        access_rp_result_free(&r.res);
        http_fetch_loop_free(r.base);
        event_base_free(r.base);
        free(code);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct tcase *c = *state;
    struct worker w[TEST_THREADS];
    tidp_url(c->t.certs, FX.base, "/jwks-late?t=threads");
    for (int i = 0; i < TEST_THREADS; i++) {
        w[i] = (struct worker){.c = c};
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    int ok = 0, unknown = 0;
    for (int i = 0; i < TEST_THREADS; i++) {
        pthread_join(w[i].th, NULL);
        ok += w[i].ok;
        unknown += w[i].unknown;
    }
    assert_int_equal(ok, TEST_THREADS * TEST_ROUNDS / 2);
    assert_int_equal(unknown, TEST_THREADS * TEST_ROUNDS / 2);
    /* Random kids from 4 loops at once: far fewer JWKS requests than tokens. The first
     * fetches may race (nothing cached yet: one per loop at most); re-fetches are limited. */
    int n = count_of("/jwks-late?t=threads");
    assert_true(n >= 1 && n <= TEST_THREADS + 2);
}

/* ---- misuse ----------------------------------------------------------------------------- */

static void test_misuse(void **state)
{
    struct tcase *c = *state;
    struct err e = {0};
    struct event_base *base = event_base_new();
    char *long_code = calloc(1, ACCESS_RP_CODE_MAX + 2);
    memset(long_code, 'c', ACCESS_RP_CODE_MAX + 1);
    assert_int_equal(
        access_rp_exchange(c->rp, base, &c->t.idp, TEST_REDIR, &c->l, long_code, on_done, NULL, &e),
        -1);
    assert_int_equal(
        access_rp_exchange(c->rp, base, &c->t.idp, TEST_REDIR, &c->l, "", on_done, NULL, &e), -1);
    assert_int_equal(
        access_rp_exchange(c->rp, NULL, &c->t.idp, TEST_REDIR, &c->l, "x", on_done, NULL, &e), -1);
    assert_int_equal(access_rp_authorize(c->rp, base, NULL, TEST_REDIR, &c->l, on_done, NULL, &e),
                     -1);
    free(long_code);
    event_base_free(base);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s tests/vectors/access/idp.py\n", argv[0]);
        return 2;
    }
    FX.server_py = argv[1];
#define T(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)
    const struct CMUnitTest tests[] = {
        T(test_good_token),
        T(test_token_request_and_pkce),
        T(test_pkce_off),
        T(test_every_allowed_alg),
        T(test_alg_confusion_hs256),
        T(test_alg_none),
        T(test_alg_not_allowed),
        T(test_forged_signature),
        T(test_wrong_claims),
        T(test_nonce),
        T(test_email_claim),
        T(test_issuer_configured),
        T(test_unknown_kid_refetch),
        T(test_unknown_kid_fresh_fetch),
        T(test_kid_absent),
        T(test_jwks_unusable),
        T(test_jwks_cached),
        T(test_unreachable),
        T(test_invalid_client),
        T(test_redirect_uri_refused),
        T(test_token_errors),
        T(test_callback_error),
        T(test_clock_skew),
        T(test_discovery),
        T(test_discovery_refused),
        T(test_tls),
        T(test_cancelled),
        T(test_threads),
        T(test_misuse),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
