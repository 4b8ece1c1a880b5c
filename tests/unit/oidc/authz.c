/*
 * Unit tests of src/oidc/authz.c: the parameters of an authorization request and which
 * errors go to a page (client_id, redirect_uri) or back to the client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oidc/oidc_int.h"

#define OK_Q "client_id=cf&redirect_uri=https%3A%2F%2Fa%2Fcb&response_type=code&scope=openid"
#define CH   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static struct http_params P;

static int teardown(void **state)
{
    (void)state;
    http_params_free(&P);
    return 0;
}

static void parse_query(const char *q)
{
    http_params_free(&P);
    assert_int_equal(http_params_parse(slice_z(q), &P), 0);
}

/* Step 1 then step 2; returns the error code of step 2 ("" when fine, "page" for step 1). */
static const char *run(const char *q, struct oidc_authz *a)
{
    parse_query(q);
    const char *why = NULL, *error = NULL, *desc = NULL;
    if (oidc_authz_parse_client(&P, a, &why) != 0) {
        assert_non_null(why);
        return "page";
    }
    if (oidc_authz_parse(&P, a, &error, &desc) != 0) {
        assert_non_null(desc);
        return error;
    }
    return "";
}

static void test_minimal(void **state)
{
    (void)state;
    struct oidc_authz a;
    assert_string_equal(run(OK_Q, &a), "");
    assert_string_equal(a.client_id, "cf");
    assert_string_equal(a.redirect_uri, "https://a/cb");
    assert_int_equal(a.scopes, OIDC_SCOPE_OPENID);
    assert_false(a.form_post);
    assert_int_equal(a.max_age_s, -1);
    assert_null(a.state);
    assert_null(a.code_challenge);
}

static void test_full(void **state)
{
    (void)state;
    struct oidc_authz a;
    assert_string_equal(run(OK_Q "&state=xyz&nonce=n1&response_mode=form_post&prompt=login"
                                 "&max_age=0&login_hint=alice&code_challenge=" CH
                                 "&code_challenge_method=S256&unknown=1&acr_values=x",
                            &a),
                        "");
    assert_string_equal(a.state, "xyz");
    assert_string_equal(a.nonce, "n1");
    assert_true(a.form_post);
    assert_int_equal(a.prompt_flags, OIDC_PROMPT_LOGIN);
    assert_int_equal(a.max_age_s, 0);
    assert_string_equal(a.login_hint, "alice");
    assert_string_equal(a.code_challenge_method, "S256");
    /* RFC 7636 4.3: no method means plain */
    assert_string_equal(run(OK_Q "&code_challenge=" CH, &a), "");
    assert_string_equal(a.code_challenge_method, "plain");
    /* unknown scopes are dropped, known ones kept */
    assert_string_equal(run("client_id=cf&redirect_uri=x%3A%2Fy&response_type=code"
                            "&scope=openid+groups+email",
                            &a),
                        "");
    assert_int_equal(a.scopes, OIDC_SCOPE_OPENID | OIDC_SCOPE_EMAIL);
}

static void test_page_errors(void **state)
{
    (void)state;
    struct oidc_authz a;
    assert_string_equal(run("redirect_uri=https%3A%2F%2Fa%2Fcb&response_type=code", &a), "page");
    assert_string_equal(run("client_id=&redirect_uri=https%3A%2F%2Fa%2Fcb", &a), "page");
    assert_string_equal(run("client_id=cf&response_type=code&scope=openid", &a), "page");
    assert_string_equal(run("client_id=cf&redirect_uri=&response_type=code", &a), "page");
    assert_string_equal(run(OK_Q "&client_id=cf", &a), "page");
    assert_string_equal(run(OK_Q "&redirect_uri=https%3A%2F%2Fa%2Fcb", &a), "page");
    assert_string_equal(run("client_id=cf&redirect_uri=https%3A%2F%2Fa%2Fcb%23frag", &a), "page");
}

static void test_redirect_errors(void **state)
{
    (void)state;
    struct oidc_authz a;
    assert_string_equal(run("client_id=cf&redirect_uri=x%3A%2Fy&scope=openid", &a),
                        "invalid_request");
    assert_string_equal(
        run("client_id=cf&redirect_uri=x%3A%2Fy&scope=openid&response_type=token", &a),
        "unsupported_response_type");
    assert_string_equal(run("client_id=cf&redirect_uri=x%3A%2Fy&scope=openid"
                            "&response_type=code+id_token",
                            &a),
                        "unsupported_response_type");
    assert_string_equal(run("client_id=cf&redirect_uri=x%3A%2Fy&response_type=code", &a),
                        "invalid_scope");
    assert_string_equal(
        run("client_id=cf&redirect_uri=x%3A%2Fy&response_type=code&scope=groups", &a),
        "invalid_scope");
    assert_string_equal(run(OK_Q "&state=a&state=b", &a), "invalid_request");
    assert_null(a.state); /* a repeated state is not echoed */
    assert_string_equal(run(OK_Q "&scope=email&state=s1", &a), "invalid_request");
    assert_string_equal(a.state, "s1"); /* ... a valid one is */
    assert_string_equal(run(OK_Q "&response_mode=fragment", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&prompt=none+login", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&max_age=-1", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&max_age=1e3", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&code_challenge=short", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&code_challenge=" CH "&code_challenge_method=S512", &a),
                        "invalid_request");
    assert_string_equal(run(OK_Q "&code_challenge_method=S256", &a), "invalid_request");
    assert_string_equal(run(OK_Q "&request=eyJ", &a), "request_not_supported");
    assert_string_equal(run(OK_Q "&request_uri=https%3A%2F%2Fx", &a), "request_uri_not_supported");
    /* form_post is kept for the error when it was asked for once */
    assert_string_equal(run("client_id=cf&redirect_uri=x%3A%2Fy&scope=openid"
                            "&response_mode=form_post&response_type=token",
                            &a),
                        "unsupported_response_type");
    assert_true(a.form_post);
}

static void test_bounds(void **state)
{
    (void)state;
    struct oidc_authz a;
    struct buf q;
    buf_init(&q, 64 * 1024);
    buf_append_z(&q, OK_Q "&state=");
    for (int i = 0; i <= OIDC_STATE_MAX; i++) {
        buf_append_c(&q, 's');
    }
    assert_string_equal(run(q.p, &a), "invalid_request");
    assert_null(a.state);
    buf_reset(&q);
    buf_append_z(&q, OK_Q "&nonce=");
    for (int i = 0; i <= OIDC_NONCE_MAX; i++) {
        buf_append_c(&q, 'n');
    }
    assert_string_equal(run(q.p, &a), "invalid_request");
    buf_reset(&q);
    buf_append_z(&q, OK_Q "&login_hint=");
    for (int i = 0; i <= OIDC_LOGIN_HINT_MAX; i++) {
        buf_append_c(&q, 'h');
    }
    assert_string_equal(run(q.p, &a), "");
    assert_null(a.login_hint); /* dropped, not an error */
    buf_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_minimal, teardown),
        cmocka_unit_test_teardown(test_full, teardown),
        cmocka_unit_test_teardown(test_page_errors, teardown),
        cmocka_unit_test_teardown(test_redirect_errors, teardown),
        cmocka_unit_test_teardown(test_bounds, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
