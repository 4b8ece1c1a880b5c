/*
 * Unit tests of src/oidc/pkce.c: RFC 7636, with the Appendix B vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oidc/oidc.h"

#define B_VERIFIER  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define B_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static void test_rfc7636_appendix_b(void **state)
{
    (void)state;
    assert_true(oidc_pkce_verify("S256", B_CHALLENGE, B_VERIFIER));
    /* One character off, either side. */
    assert_false(
        oidc_pkce_verify("S256", B_CHALLENGE, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
    assert_false(
        oidc_pkce_verify("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", B_VERIFIER));
    /* The challenge itself is not a verifier (S256 is not plain). */
    assert_false(oidc_pkce_verify("S256", B_CHALLENGE, B_CHALLENGE));
    /* Method names are exact. */
    assert_false(oidc_pkce_verify("s256", B_CHALLENGE, B_VERIFIER));
    assert_false(oidc_pkce_verify("", B_CHALLENGE, B_VERIFIER));
    assert_false(oidc_pkce_verify(NULL, B_CHALLENGE, B_VERIFIER));
    assert_false(oidc_pkce_verify("S256", B_CHALLENGE, NULL));
    assert_false(oidc_pkce_verify("S256", NULL, B_VERIFIER));
}

static void test_plain(void **state)
{
    (void)state;
    assert_true(oidc_pkce_verify("plain", B_VERIFIER, B_VERIFIER));
    assert_false(oidc_pkce_verify("plain", B_CHALLENGE, B_VERIFIER));
    /* plain still needs a syntactically valid verifier */
    assert_false(oidc_pkce_verify("plain", "short", "short"));
}

static void test_syntax(void **state)
{
    (void)state;
    char s[200];
    memset(s, 'a', sizeof s);
    s[42] = '\0';
    assert_false(oidc_pkce_syntax_ok(s)); /* 42: too short */
    s[42] = 'a';
    s[43] = '\0';
    assert_true(oidc_pkce_syntax_ok(s));
    s[43] = 'a';
    s[128] = '\0';
    assert_true(oidc_pkce_syntax_ok(s));
    s[128] = 'a';
    s[129] = '\0';
    assert_false(oidc_pkce_syntax_ok(s)); /* 129: too long */
    assert_true(
        oidc_pkce_syntax_ok("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"));
    const char *bad_chars = "+/= %\"\\\x7f\xc3";
    for (const char *c = bad_chars; *c; c++) {
        memset(s, 'a', 50);
        s[50] = '\0';
        s[20] = *c;
        assert_false(oidc_pkce_syntax_ok(s));
    }
    assert_false(oidc_pkce_syntax_ok(NULL));
    assert_true(oidc_pkce_method_ok("S256"));
    assert_true(oidc_pkce_method_ok("plain"));
    assert_false(oidc_pkce_method_ok("S512"));
    assert_false(oidc_pkce_method_ok("PLAIN"));
    assert_false(oidc_pkce_method_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7636_appendix_b),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
