/* Unit tests for src/access/rp.c and rp_verify.c without a network: the secrets of a login
 * and PKCE (RFC 7636 appendix B), the authorization URL (decoded back and compared), the
 * diagnosis tables, and access_rp_verify on tokens signed here (ES256, keys made with
 * OpenSSL) or assembled by hand (none, HMAC, bad JSON), at a fixed clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access/access.h"
#include "http/http.h"
#include "jose/jose.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define NOW       INT64_C(1700000000)
#define CLIENT    "gate-client"
#define ISSUER    "https://idp.example/realms/main"
#define TOKEN_URL "https://idp.example/realms/main/token"
#define NONCE     "n-0123456789"

static EVP_PKEY *key1, *key2;
static struct jose_jwks *one_key, *two_keys;

static int group_setup(void **state)
{
    (void)state;
    struct err e = {0};
    key1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    key2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    one_key = jose_jwks_new();
    two_keys = jose_jwks_new();
    if (key1 == NULL || key2 == NULL ||
        jose_jwks_add(one_key, jose_jwk_from_pkey(key1, "k1", JOSE_ALG_ES256, &e)) != 0 ||
        jose_jwks_add(two_keys, jose_jwk_from_pkey(key1, "k1", JOSE_ALG_ES256, &e)) != 0 ||
        jose_jwks_add(two_keys, jose_jwk_from_pkey(key2, "k2", JOSE_ALG_ES256, &e)) != 0) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    jose_jwks_free(one_key);
    jose_jwks_free(two_keys);
    EVP_PKEY_free(key1);
    EVP_PKEY_free(key2);
    return 0;
}

/* ---- login secrets and PKCE ------------------------------------------------------------- */

static void test_pkce_rfc7636_vector(void **state)
{
    (void)state;
    char c[ACCESS_RP_RANDOM_TEXT];
    access_rp_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
    assert_string_equal(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void assert_b64url_43(const char *z)
{
    assert_int_equal(strlen(z), 43);
    for (const char *p = z; *p; p++) {
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    }
}

static void test_login_new(void **state)
{
    (void)state;
    struct access_rp_login a, b;
    access_rp_login_new(&a);
    access_rp_login_new(&b);
    assert_b64url_43(a.state);
    assert_b64url_43(a.nonce);
    assert_b64url_43(a.verifier); /* RFC 7636 4.1: 43 to 128 unreserved characters */
    assert_string_not_equal(a.state, a.nonce);
    assert_string_not_equal(a.nonce, a.verifier);
    assert_string_not_equal(a.state, b.state);
    access_rp_login_wipe(&a);
    for (size_t i = 0; i < sizeof a; i++) {
        assert_int_equal(((unsigned char *)&a)[i], 0);
    }
}

/* ---- the authorization URL -------------------------------------------------------------- */

static char *scopes[] = {"openid", "email", "groups:read"};

static struct access_idp test_idp(void)
{
    return (struct access_idp){
        .name = "x",
        .client_id = "id with space&amp",
        .pkce_enabled = true,
        .scopes = scopes,
        .nscopes = 3,
    };
}

/* The query of url after `prefix`, decoded. */
static void params_after(const char *url, const char *prefix, struct http_params *p)
{
    assert_true(strncmp(url, prefix, strlen(prefix)) == 0);
    assert_int_equal(http_params_parse(slice_z(url + strlen(prefix)), p), 0);
}

static void test_auth_url(void **state)
{
    (void)state;
    struct access_idp idp = test_idp();
    struct access_rp_login l;
    struct http_params p = {0};
    struct err e = {0};
    char challenge[ACCESS_RP_RANDOM_TEXT];
    access_rp_login_new(&l);
    char *url = access_rp_auth_url(&idp, "https://idp.example/authorize",
                                   "https://team.example.com/cdn-cgi/access/callback", &l, &e);
    assert_non_null(url);
    params_after(url, "https://idp.example/authorize?", &p);
    assert_int_equal(p.n, 8);
    assert_string_equal(http_params_get(&p, "response_type"), "code");
    assert_string_equal(http_params_get(&p, "client_id"), "id with space&amp");
    assert_string_equal(http_params_get(&p, "redirect_uri"),
                        "https://team.example.com/cdn-cgi/access/callback");
    assert_string_equal(http_params_get(&p, "scope"), "openid email groups:read");
    assert_string_equal(http_params_get(&p, "state"), l.state);
    assert_string_equal(http_params_get(&p, "nonce"), l.nonce);
    access_rp_pkce_challenge(l.verifier, challenge);
    assert_string_equal(http_params_get(&p, "code_challenge"), challenge);
    assert_string_equal(http_params_get(&p, "code_challenge_method"), "S256");
    /* Percent-encoded on the wire: no raw space, '&' only between parameters. */
    assert_null(strchr(url, ' '));
    assert_non_null(strstr(url, "scope=openid%20email%20groups%3Aread"));
    http_params_free(&p);
    free(url);
}

static void test_auth_url_query_and_no_pkce(void **state)
{
    (void)state;
    struct access_idp idp = test_idp();
    struct access_rp_login l;
    struct http_params p = {0};
    struct err e = {0};
    idp.pkce_enabled = false;
    access_rp_login_new(&l);
    /* The endpoint's own query is kept (Google's hd=, Azure's p=). */
    char *url =
        access_rp_auth_url(&idp, "https://idp.example/auth?p=B2C_1_signin", "https://t/cb", &l, &e);
    params_after(url, "https://idp.example/auth?", &p);
    assert_string_equal(http_params_get(&p, "p"), "B2C_1_signin");
    assert_null(http_params_get(&p, "code_challenge"));
    assert_null(http_params_get(&p, "code_challenge_method"));
    assert_int_equal(p.n, 7);
    http_params_free(&p);
    free(url);
    url = access_rp_auth_url(&idp, "https://idp.example/auth?", "https://t/cb", &l, &e);
    assert_true(strncmp(url, "https://idp.example/auth?response_type=code&", 44) == 0);
    free(url);
}

static void test_auth_url_too_long(void **state)
{
    (void)state;
    struct access_idp idp = test_idp();
    struct access_rp_login l;
    struct err e = {0};
    char *redirect = calloc(1, HTTP_FETCH_MAX_URL);
    memset(redirect, '/', HTTP_FETCH_MAX_URL - 1); /* each one 3 bytes once encoded */
    access_rp_login_new(&l);
    assert_null(access_rp_auth_url(&idp, "https://idp.example/auth", redirect, &l, &e));
    assert_non_null(strstr(e.msg, "longer"));
    assert_null(access_rp_auth_url(NULL, "https://idp.example/auth", "x", &l, &e));
    free(redirect);
}

static void test_diag_tables(void **state)
{
    (void)state;
    for (int d = ACCESS_RP_OK; d <= ACCESS_RP_INTERNAL; d++) {
        assert_string_not_equal(access_rp_diag_name(d), "unknown");
        assert_string_not_equal(access_rp_diag_text(d), "Unknown failure.");
        for (int k = ACCESS_RP_OK; k < d; k++) {
            assert_string_not_equal(access_rp_diag_name(d), access_rp_diag_name(k));
        }
    }
    assert_string_equal(access_rp_diag_name(ACCESS_RP_INTERNAL + 1), "unknown");
    assert_string_equal(access_rp_diag_name(ACCESS_RP_REDIRECT_URI), "redirect_uri");
    assert_string_equal(access_rp_diag_text(ACCESS_RP_REDIRECT_URI),
                        "The redirect URI is not registered at the identity provider.");
}

/* ---- access_rp_verify ------------------------------------------------------------------- */

static json_t *claims_ok(void)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:[s],s:s}", "iss", ISSUER, "sub", "u-1", "aud",
                     CLIENT, "exp", (json_int_t)(NOW + 300), "iat", (json_int_t)NOW, "nonce", NONCE,
                     "email", "a@example.com", "groups", "g1", "name", "A");
}

/* ES256 with key1, kid as given (NULL: none). Steals c. */
static char *sign_es256(json_t *c, const char *kid)
{
    struct err e = {0};
    struct jose_pkey_signer s = {.priv = key1, .alg = JOSE_ALG_ES256};
    char *payload = util_json_dump(c);
    char *t = jose_jws_sign(JOSE_ALG_ES256, kid, "JWT", slice_z(payload), jose_pkey_sign, &s, &e);
    assert_non_null(t);
    free(payload);
    json_decref(c);
    return t;
}

/* header.payload.signature from raw parts (for what no signer makes). */
static char *assemble(const char *header, const char *payload, const char *sig)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    assert_int_equal(b64url_encode(header, strlen(header), &b), 0);
    buf_append_c(&b, '.');
    assert_int_equal(b64url_encode(payload, strlen(payload), &b), 0);
    buf_append_c(&b, '.');
    assert_int_equal(b64url_encode(sig, strlen(sig), &b), 0);
    return buf_steal(&b, NULL);
}

static char *claim_names[] = {"groups", "name", "absent"};

static struct access_rp_expect expect(void)
{
    return (struct access_rp_expect){.issuer = ISSUER,
                                     .token_url = TOKEN_URL,
                                     .client_id = CLIENT,
                                     .nonce = NONCE,
                                     .claims = claim_names,
                                     .nclaims = 3,
                                     .now = NOW};
}

/* Verifies token (freed) with keys and x; returns the diagnosis, asserting the result is
 * empty on failure. */
static enum access_rp_diag verify_with(char *token, const struct jose_jwks *keys,
                                       const struct access_rp_expect *x, struct access_rp_result *r)
{
    enum access_rp_diag d = access_rp_verify(slice_z(token), keys, x, r);
    free(token);
    assert_int_equal(d, r->diag);
    if (d != ACCESS_RP_OK) {
        assert_null(r->claims);
        assert_null(r->email);
        assert_null(r->extra);
        assert_true(r->msg[0] != '\0');
    }
    return d;
}

static enum access_rp_diag verify(char *token)
{
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    enum access_rp_diag d = verify_with(token, one_key, &x, &r);
    access_rp_result_free(&r);
    return d;
}

/* claims_ok() with key set to value (NULL value: removed), signed with kid k1. */
static char *with(const char *key, json_t *value)
{
    json_t *c = claims_ok();
    if (value == NULL) {
        json_object_del(c, key);
    } else {
        json_object_set_new(c, key, value);
    }
    return sign_es256(c, "k1");
}

static void test_verify_ok(void **state)
{
    (void)state;
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k1"), one_key, &x, &r), ACCESS_RP_OK);
    assert_string_equal(r.email, "a@example.com");
    assert_string_equal(json_string_value(json_object_get(r.claims, "sub")), "u-1");
    assert_int_equal(json_object_size(r.extra), 2); /* "absent" is not invented */
    assert_string_equal(json_string_value(json_object_get(r.extra, "name")), "A");
    assert_int_equal(r.skew, 0);
    access_rp_result_free(&r);
    assert_null(r.claims);
    /* A Date 200 s behind ours while the token is valid: accepted, skew reported. */
    x.idp_date = NOW - 200;
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k1"), one_key, &x, &r), ACCESS_RP_OK);
    assert_int_equal(r.skew, -200);
    access_rp_result_free(&r);
}

static void test_verify_kid(void **state)
{
    (void)state;
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    /* No kid: the only key of a set of one; not a guess among two. */
    assert_int_equal(verify(sign_es256(claims_ok(), NULL)), ACCESS_RP_OK);
    assert_int_equal(verify_with(sign_es256(claims_ok(), NULL), two_keys, &x, &r),
                     ACCESS_RP_UNKNOWN_KID);
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k1"), two_keys, &x, &r), ACCESS_RP_OK);
    access_rp_result_free(&r);
    /* Signed by key1, presented as key2's. */
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k2"), two_keys, &x, &r),
                     ACCESS_RP_SIGNATURE);
    assert_int_equal(verify(sign_es256(claims_ok(), "k9")), ACCESS_RP_UNKNOWN_KID);
}

static void test_verify_algs(void **state)
{
    (void)state;
    const char *p = "{\"iss\":\"" ISSUER "\"}";
    assert_int_equal(verify(assemble("{\"alg\":\"none\",\"kid\":\"k1\"}", p, "")),
                     ACCESS_RP_NOT_ASYMMETRIC);
    assert_int_equal(verify(assemble("{\"alg\":\"None\"}", p, "x")), ACCESS_RP_NOT_ASYMMETRIC);
    assert_int_equal(verify(assemble("{\"alg\":\"HS256\",\"kid\":\"k1\"}", p, "mac")),
                     ACCESS_RP_NOT_ASYMMETRIC);
    assert_int_equal(verify(assemble("{\"alg\":\"hs512\"}", p, "mac")), ACCESS_RP_NOT_ASYMMETRIC);
    assert_int_equal(verify(assemble("{\"alg\":\"PS384\",\"kid\":\"k1\"}", p, "s")),
                     ACCESS_RP_ALG_NOT_ALLOWED);
    assert_int_equal(verify(assemble("{\"alg\":\"ES256K\",\"kid\":\"k1\"}", p, "s")),
                     ACCESS_RP_ALG_NOT_ALLOWED);
    assert_int_equal(verify(assemble("{\"alg\":\"RSA-OAEP\",\"kid\":\"k1\"}", p, "s")),
                     ACCESS_RP_ALG_NOT_ALLOWED);
    /* An allowed alg that is not the key's own (the key is ES256). */
    assert_int_equal(verify(assemble("{\"alg\":\"RS256\",\"kid\":\"k1\"}", p, "s")),
                     ACCESS_RP_ALG_NOT_ALLOWED);
    /* "crit" we cannot understand. */
    assert_int_equal(
        verify(assemble("{\"alg\":\"ES256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", p, "s")),
        ACCESS_RP_MALFORMED);
}

static void test_verify_malformed(void **state)
{
    (void)state;
    assert_int_equal(verify(xstrdup("")), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(xstrdup("abc")), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(xstrdup("a.b.c")), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(assemble("{\"kid\":\"k1\"}", "{}", "s")), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(assemble("[1]", "{}", "s")), ACCESS_RP_MALFORMED);
    /* Claims that are not an object, correctly signed. */
    assert_int_equal(verify(sign_es256(json_pack("[i]", 1), "k1")), ACCESS_RP_MALFORMED);
    char *big = calloc(1, JOSE_MAX_TOKEN + 2);
    memset(big, 'a', JOSE_MAX_TOKEN + 1);
    assert_int_equal(verify(big), ACCESS_RP_MALFORMED);
    /* One flipped payload byte. */
    char *t = sign_es256(claims_ok(), "k1");
    char *dot = strchr(t, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t), ACCESS_RP_SIGNATURE);
}

static void test_verify_iss(void **state)
{
    (void)state;
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    assert_int_equal(verify(with("iss", json_string(ISSUER "/"))), ACCESS_RP_ISS_MISMATCH);
    assert_int_equal(verify(with("iss", NULL)), ACCESS_RP_ISS_MISMATCH);
    assert_int_equal(verify(with("iss", json_integer(1))), ACCESS_RP_ISS_MISMATCH);
    /* No issuer known: the token endpoint's origin (scheme, host, port) is required. */
    x.issuer = NULL;
    assert_int_equal(verify_with(with("iss", json_string("https://idp.example")), one_key, &x, &r),
                     ACCESS_RP_OK);
    access_rp_result_free(&r);
    assert_int_equal(
        verify_with(with("iss", json_string("https://IDP.example:443/x")), one_key, &x, &r),
        ACCESS_RP_OK);
    access_rp_result_free(&r);
    static const char *const bad[] = {"http://idp.example", "https://idp.example:8443",
                                      "https://idp.example.evil", "https://evil/idp.example",
                                      "not a url"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        assert_int_equal(verify_with(with("iss", json_string(bad[i])), one_key, &x, &r),
                         ACCESS_RP_ISS_MISMATCH);
    }
    x.token_url = NULL;
    assert_int_equal(verify_with(with("iss", json_string("https://idp.example")), one_key, &x, &r),
                     ACCESS_RP_ISS_MISMATCH);
}

static void test_verify_aud_azp(void **state)
{
    (void)state;
    assert_int_equal(verify(with("aud", json_pack("[s]", CLIENT))), ACCESS_RP_OK);
    assert_int_equal(verify(with("aud", json_pack("[s,s]", "x", CLIENT))), ACCESS_RP_AUD_MISMATCH);
    assert_int_equal(verify(with("aud", json_pack("[s,i]", CLIENT, 1))), ACCESS_RP_AUD_MISMATCH);
    assert_int_equal(verify(with("aud", json_pack("[]"))), ACCESS_RP_AUD_MISMATCH);
    assert_int_equal(verify(with("aud", json_string(CLIENT "x"))), ACCESS_RP_AUD_MISMATCH);
    assert_int_equal(verify(with("aud", json_integer(0))), ACCESS_RP_AUD_MISMATCH);
    json_t *many = json_array();
    for (int i = 0; i <= JOSE_JWT_MAX_AUD; i++) {
        json_array_append_new(many, json_string(CLIENT));
    }
    assert_int_equal(verify(with("aud", many)), ACCESS_RP_AUD_MISMATCH);
    assert_int_equal(verify(with("azp", json_string(CLIENT))), ACCESS_RP_OK);
    assert_int_equal(verify(with("azp", json_integer(1))), ACCESS_RP_AUD_MISMATCH);
    json_t *c = claims_ok();
    json_object_set_new(c, "aud", json_pack("[s,s]", "x", CLIENT));
    json_object_set_new(c, "azp", json_string(CLIENT));
    assert_int_equal(verify(sign_es256(c, "k1")), ACCESS_RP_OK);
}

static void test_verify_times(void **state)
{
    (void)state;
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    assert_int_equal(verify(with("exp", json_integer(NOW - ACCESS_RP_LEEWAY_S))),
                     ACCESS_RP_EXPIRED);
    assert_int_equal(verify(with("exp", json_integer(NOW - ACCESS_RP_LEEWAY_S + 1))), ACCESS_RP_OK);
    assert_int_equal(verify(with("exp", json_real((double)NOW + 10.5))), ACCESS_RP_OK);
    assert_int_equal(verify(with("exp", json_string("tomorrow"))), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("exp", json_integer(-1))), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("exp", json_real(1e300))), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("exp", NULL)), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("iat", NULL)), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("iat", json_integer(NOW + ACCESS_RP_LEEWAY_S))), ACCESS_RP_OK);
    assert_int_equal(verify(with("iat", json_integer(NOW + ACCESS_RP_LEEWAY_S + 1))),
                     ACCESS_RP_IAT_FUTURE);
    assert_int_equal(verify(with("nbf", json_integer(NOW + 3600))), ACCESS_RP_IAT_FUTURE);
    /* The same failures, when the IdP's Date is 2 minutes off: its clock is to blame. */
    x.idp_date = NOW + 120;
    assert_int_equal(verify_with(with("iat", json_integer(NOW + 120)), one_key, &x, &r),
                     ACCESS_RP_CLOCK_SKEW);
    assert_int_equal(r.skew, 120);
    x.idp_date = NOW - 7200;
    assert_int_equal(verify_with(with("exp", json_integer(NOW - 3600)), one_key, &x, &r),
                     ACCESS_RP_CLOCK_SKEW);
    /* A Date within the leeway does not excuse anything. */
    x.idp_date = NOW + ACCESS_RP_LEEWAY_S;
    assert_int_equal(verify_with(with("iat", json_integer(NOW + 120)), one_key, &x, &r),
                     ACCESS_RP_IAT_FUTURE);
}

static void test_verify_nonce_sub_email(void **state)
{
    (void)state;
    struct access_rp_result r;
    struct access_rp_expect x = expect();
    assert_int_equal(verify(with("nonce", json_string(NONCE "x"))), ACCESS_RP_NONCE_MISMATCH);
    assert_int_equal(verify(with("nonce", json_string("n-012345678"))), ACCESS_RP_NONCE_MISMATCH);
    assert_int_equal(verify(with("nonce", json_integer(1))), ACCESS_RP_NONCE_MISMATCH);
    assert_int_equal(verify(with("nonce", NULL)), ACCESS_RP_NONCE_MISMATCH);
    x.nonce = NULL; /* a caller that lost the login's nonce fails closed */
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k1"), one_key, &x, &r),
                     ACCESS_RP_NONCE_MISMATCH);
    assert_int_equal(verify(with("sub", NULL)), ACCESS_RP_MALFORMED);
    assert_int_equal(verify(with("sub", json_string(""))), ACCESS_RP_MALFORMED);
    char long_value[ACCESS_VALUE_MAX + 2];
    memset(long_value, 'e', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    assert_int_equal(verify(with("email", json_string(long_value))), ACCESS_RP_EMAIL_MISSING);
    assert_int_equal(verify(with("email", json_string("a@b\x7f"))), ACCESS_RP_EMAIL_MISSING);
    assert_int_equal(verify(with("email", json_string("a@b\n"))), ACCESS_RP_EMAIL_MISSING);
    assert_int_equal(verify(with("email", json_string(""))), ACCESS_RP_EMAIL_MISSING);
    assert_int_equal(verify(with("email", json_null())), ACCESS_RP_EMAIL_MISSING);
    assert_int_equal(verify(with("email", NULL)), ACCESS_RP_EMAIL_MISSING);
    x = expect();
    x.email_claim = "preferred_username";
    assert_int_equal(verify_with(with("preferred_username", json_string("alice")), one_key, &x, &r),
                     ACCESS_RP_OK);
    assert_string_equal(r.email, "alice");
    access_rp_result_free(&r);
    x.client_id = NULL;
    assert_int_equal(verify_with(sign_es256(claims_ok(), "k1"), one_key, &x, &r),
                     ACCESS_RP_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkce_rfc7636_vector),
        cmocka_unit_test(test_login_new),
        cmocka_unit_test(test_auth_url),
        cmocka_unit_test(test_auth_url_query_and_no_pkce),
        cmocka_unit_test(test_auth_url_too_long),
        cmocka_unit_test(test_diag_tables),
        cmocka_unit_test(test_verify_ok),
        cmocka_unit_test(test_verify_kid),
        cmocka_unit_test(test_verify_algs),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_verify_iss),
        cmocka_unit_test(test_verify_aud_azp),
        cmocka_unit_test(test_verify_times),
        cmocka_unit_test(test_verify_nonce_sub_email),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
