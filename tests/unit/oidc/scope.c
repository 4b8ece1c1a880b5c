/*
 * Unit tests of src/oidc/scope.c: scope (RFC 6749 3.3) and prompt (OIDC Core 3.1.2.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oidc/oidc.h"

static unsigned parse_ok(const char *z, size_t want_unknown)
{
    unsigned m = 99;
    size_t unknown = 99;
    assert_int_equal(oidc_scope_parse(slice_z(z), &m, &unknown), 0);
    assert_int_equal(unknown, want_unknown);
    return m;
}

static void test_scope_parse(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("openid", 0), OIDC_SCOPE_OPENID);
    assert_int_equal(parse_ok("openid email profile offline_access", 0), OIDC_SCOPES_ALL);
    assert_int_equal(parse_ok("profile openid", 0), OIDC_SCOPE_OPENID | OIDC_SCOPE_PROFILE);
    assert_int_equal(parse_ok("openid groups ak_proxy", 2), OIDC_SCOPE_OPENID);
    assert_int_equal(parse_ok("openid openid", 0), OIDC_SCOPE_OPENID);
    assert_int_equal(parse_ok("OpenID", 1), 0); /* case-sensitive (3.3) */
    assert_int_equal(parse_ok("x", 1), 0);
    unsigned m;
    size_t u;
    const char *bad[] = {"",         " openid",  "openid ",  "openid  email", "openid\temail",
                         "open\"id", "open\\id", "openid\n", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(oidc_scope_parse(slice_z(bad[i]), &m, &u), -1);
    }
    char big[OIDC_SCOPE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(oidc_scope_parse(slice_z(big), &m, &u), -1);
}

static void test_scope_format_and_narrowing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(oidc_scope_format(OIDC_SCOPE_OFFLINE | OIDC_SCOPE_OPENID, &b), 0);
    assert_string_equal(b.p, "openid offline_access");
    buf_reset(&b);
    assert_int_equal(oidc_scope_format(0, &b), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(oidc_scope_format(OIDC_SCOPES_ALL, &b), 0);
    assert_string_equal(b.p, "openid email profile offline_access");
    /* Round trip, and the narrowing rule of the refresh grant: wanted & ~granted == 0. */
    unsigned granted = parse_ok(b.p, 0);
    assert_int_equal(granted, OIDC_SCOPES_ALL);
    unsigned g2 = parse_ok("openid email", 0);
    unsigned narrower = parse_ok("openid", 0);
    unsigned wider = parse_ok("openid profile", 0);
    assert_int_equal(narrower & ~g2, 0);
    assert_int_not_equal(wider & ~g2, 0);
    buf_free(&b);
    const char *names[4];
    assert_int_equal(oidc_scope_names(OIDC_SCOPE_EMAIL | OIDC_SCOPE_OPENID, names), 2);
    assert_string_equal(names[0], "openid");
    assert_string_equal(names[1], "email");
}

static void test_prompt(void **state)
{
    (void)state;
    unsigned p;
    assert_int_equal(oidc_prompt_parse(NULL, &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(oidc_prompt_parse("", &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(oidc_prompt_parse("none", &p), 0);
    assert_int_equal(p, OIDC_PROMPT_NONE);
    assert_int_equal(oidc_prompt_parse("login consent", &p), 0);
    assert_int_equal(p, OIDC_PROMPT_LOGIN | OIDC_PROMPT_CONSENT);
    assert_int_equal(oidc_prompt_parse("select_account", &p), 0);
    assert_int_equal(p, OIDC_PROMPT_SELECT_ACCOUNT);
    assert_int_equal(oidc_prompt_parse("none login", &p), -1); /* none stands alone */
    assert_int_equal(oidc_prompt_parse("consent none", &p), -1);
    assert_int_equal(oidc_prompt_parse("login login", &p), -1);
    assert_int_equal(oidc_prompt_parse("relogin", &p), -1);
    assert_int_equal(oidc_prompt_parse("NONE", &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_parse),
        cmocka_unit_test(test_scope_format_and_narrowing),
        cmocka_unit_test(test_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
