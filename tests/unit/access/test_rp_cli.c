/* Unit tests for src/access/rp_test.c: access_rp_test_idp, the blocking checks behind
 * `postern access test-idp`, against the IdP double (tests/vectors/access/idp.py, argv[1]):
 * a good configuration, then one fault at a time, each named by the right check. */
#include "test_rp_fixture.h"

static const struct access_rp_check *check_of(const struct access_rp_report *r, const char *what)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->checks[i].what, what) == 0) {
            return &r->checks[i];
        }
    }
    fail_msg("no check named %s", what);
    return NULL;
}

static void assert_check(const struct access_rp_report *r, const char *what,
                         enum access_rp_diag want)
{
    const struct access_rp_check *c = check_of(r, what);
    if (c->diag != want) {
        print_error("%s: want %s, got %s: %s\n", what, access_rp_diag_name(want),
                    access_rp_diag_name(c->diag), c->msg);
    }
    assert_int_equal(c->diag, want);
    assert_true(c->msg[0] != '\0');
}

static void test_good(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), 0);
    assert_int_equal(r.n, 4); /* jwks, token endpoint, authorization endpoint, clock */
    assert_check(&r, "jwks", ACCESS_RP_OK);
    assert_non_null(strstr(check_of(&r, "jwks")->msg, "10 usable key(s)"));
    assert_non_null(strstr(check_of(&r, "jwks")->msg, "eddsa (EdDSA)"));
    assert_check(&r, "token endpoint", ACCESS_RP_OK);
    assert_non_null(strstr(check_of(&r, "token endpoint")->msg, "authenticated"));
    assert_check(&r, "authorization endpoint", ACCESS_RP_OK);
    assert_check(&r, "clock", ACCESS_RP_OK);
    /* The authorization request the IdP saw: a real one, for our redirect URI. */
    json_t *last = get_json(FX.base, "/last");
    json_t *a = json_object_get(last, "authorize");
    assert_string_equal(json_string_value(json_object_get(a, "redirect_uri")), TEST_REDIR);
    assert_string_equal(json_string_value(json_object_get(a, "client_id")), TEST_CLIENT);
    assert_string_equal(json_string_value(json_object_get(a, "code_challenge_method")), "S256");
    json_decref(last);
}

static void test_discovery(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    tidp_url(t.disc, FX.base, "/alt/.well-known/openid-configuration");
    t.idp.discovery_url = t.disc;
    t.idp.auth_url = t.idp.token_url = t.idp.certs_url = NULL;
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), 0);
    assert_int_equal(r.n, 5);
    assert_check(&r, "discovery", ACCESS_RP_OK);
    tidp_url(t.disc, FX.base, "/bad/.well-known/openid-configuration");
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "discovery", ACCESS_RP_DISCOVERY);
    /* Without the document, the endpoints it should have given are unknown. */
    assert_check(&r, "jwks", ACCESS_RP_DISCOVERY);
    assert_check(&r, "token endpoint", ACCESS_RP_DISCOVERY);
}

static void test_wrong_secret(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    t.idp.client_secret = (char *)"not the secret";
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "token endpoint", ACCESS_RP_INVALID_CLIENT);
    assert_check(&r, "jwks", ACCESS_RP_OK);
}

static void test_redirect_not_registered(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    assert_int_equal(access_rp_test_idp(&t.idp, "http://team.localhost/wrong", &r), -1);
    assert_check(&r, "authorization endpoint", ACCESS_RP_REDIRECT_URI);
    const char *msg = check_of(&r, "authorization endpoint")->msg;
    assert_non_null(strstr(msg, "Redirect URI Error")); /* the page's title */
    assert_non_null(strstr(msg, "http://team.localhost/wrong"));
}

static void test_unreachable_and_unusable(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    tidp_url(t.token, FX.refused, "/token");
    tidp_url(t.certs, FX.base, "/jwks-empty");
    tidp_url(t.auth, FX.refused, "/authorize");
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "token endpoint", ACCESS_RP_UNREACHABLE);
    assert_non_null(strstr(check_of(&r, "token endpoint")->msg, t.token));
    assert_check(&r, "jwks", ACCESS_RP_JWKS_UNUSABLE);
    assert_check(&r, "authorization endpoint", ACCESS_RP_UNREACHABLE);
    /* A token URL that is not an OAuth endpoint at all. */
    tidp_init(&t, FX.base);
    tidp_url(t.token, FX.base, "/token-html");
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "token endpoint", ACCESS_RP_HTTP_ERROR);
}

static void test_tls(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.tls_base);
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "jwks", ACCESS_RP_TLS);
    assert_check(&r, "token endpoint", ACCESS_RP_TLS);
    t.idp.ca_file = FX.cert;
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), 0);
}

static void test_clock(void **state)
{
    (void)state;
    struct tidp t;
    struct access_rp_report r;
    tidp_init(&t, FX.base);
    tidp_url(t.certs, FX.base, "/skew/jwks");
    assert_int_equal(access_rp_test_idp(&t.idp, TEST_REDIR, &r), -1);
    assert_check(&r, "jwks", ACCESS_RP_OK);
    assert_check(&r, "clock", ACCESS_RP_CLOCK_SKEW);
    assert_true(r.skew >= 290 && r.skew <= 310);
}

static void test_misuse(void **state)
{
    (void)state;
    struct access_rp_report r;
    assert_int_equal(access_rp_test_idp(NULL, TEST_REDIR, &r), -1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.checks[0].diag, ACCESS_RP_INTERNAL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s tests/vectors/access/idp.py\n", argv[0]);
        return 2;
    }
    FX.server_py = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_redirect_not_registered),
        cmocka_unit_test(test_unreachable_and_unusable),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
