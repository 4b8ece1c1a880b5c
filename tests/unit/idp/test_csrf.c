/* Tests of src/idp/csrf.c: tokens bound to a browser and a purpose, time-limited, unforgeable. */
#include "helpers.h"

#define T0 1800000000

static struct idp idp_a, idp_b;

static int setup(void **state)
{
    memset(idp_a.secret, 0x11, sizeof idp_a.secret);
    memset(idp_b.secret, 0x22, sizeof idp_b.secret);
    util_set_fake_now(T0);
    return 0;
}

static int teardown(void **state)
{
    util_set_fake_now(0);
    return 0;
}

static void valid(void **state)
{
    char *t = idp_csrf_token(&idp_a, SLICE_LIT("binding-1"), "login");
    assert_non_null(t);
    assert_int_equal(strlen(t), 55); /* base64url of 41 bytes */
    assert_true(idp_csrf_check(&idp_a, SLICE_LIT("binding-1"), "login", t));
    /* another node with the same secret accepts it */
    struct idp same = idp_a;
    assert_true(idp_csrf_check(&same, SLICE_LIT("binding-1"), "login", t));
    free(t);
}

static void wrong_binding_purpose_secret(void **state)
{
    char *t = idp_csrf_token(&idp_a, SLICE_LIT("binding-1"), "login");
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-2"), "login", t));
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-"), "login", t));
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-11"), "login", t));
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-1"), "logout", t));
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-1"), "consent", t));
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("binding-1"), "", t));
    assert_false(idp_csrf_check(&idp_b, SLICE_LIT("binding-1"), "login", t));
    /* purpose and binding cannot be shifted into each other */
    char *u = idp_csrf_token(&idp_a, SLICE_LIT("b"), "login");
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT(""), "loginb", u));
    free(u);
    /* an empty binding never checks, even with a token made for it */
    u = idp_csrf_token(&idp_a, SLICE_LIT(""), "login");
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT(""), "login", u));
    free(u);
    free(t);
}

static void expiry(void **state)
{
    char *t = idp_csrf_token(&idp_a, SLICE_LIT("b"), "login");
    util_set_fake_now(T0 + IDP_CSRF_LIFETIME - 1);
    assert_true(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    util_set_fake_now(T0 + IDP_CSRF_LIFETIME);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    util_set_fake_now(T0 + 10 * IDP_CSRF_LIFETIME);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    /* from the future: a little skew between nodes is fine, more is not */
    util_set_fake_now(T0 - IDP_CSRF_SKEW);
    assert_true(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    util_set_fake_now(T0 - IDP_CSRF_SKEW - 1);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    util_set_fake_now(T0);
    free(t);
}

static void tampered(void **state)
{
    char *t = idp_csrf_token(&idp_a, SLICE_LIT("b"), "login");
    size_t n = strlen(t);
    /* every single-character change is refused */
    for (size_t i = 0; i < n; i++) {
        char saved = t[i];
        t[i] = saved == 'A' ? 'B' : 'A';
        assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
        t[i] = saved;
    }
    assert_true(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", t));
    /* truncated, extended, padded, other alphabets, nonsense */
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)n - 1, t);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", buf));
    snprintf(buf, sizeof buf, "%sA", t);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", buf));
    snprintf(buf, sizeof buf, "%s=", t);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", buf));
    const char *junk[] = {"",
                          "x",
                          "====",
                          "null",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                          "AQAAAABrSWYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(junk); i++) {
        assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", junk[i]));
    }
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", NULL));
    memset(buf, 'A', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", buf));
    /* the version byte */
    struct buf raw;
    buf_init(&raw, 128);
    assert_int_equal(b64url_decode(slice_z(t), &raw), 0);
    raw.p[0] = 2;
    char *v2 = b64url_encode_z(raw.p, raw.len);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", v2));
    /* a later issued_at with the old MAC */
    raw.p[0] = 1;
    raw.p[8] ^= 1;
    char *later = b64url_encode_z(raw.p, raw.len);
    assert_false(idp_csrf_check(&idp_a, SLICE_LIT("b"), "login", later));
    free(v2);
    free(later);
    buf_free(&raw);
    free(t);
}

static void cookie(void **state)
{
    struct idp i = idp_a;
    i.cfg.cookie_secure = true;
    char *c = idp_csrf_cookie(&i, "VALUE");
    assert_string_equal(c, "postern_csrf=VALUE; Path=/if/flow/; HttpOnly; SameSite=Lax; Secure");
    free(c);
    i.cfg.cookie_secure = false;
    c = idp_csrf_cookie(&i, "VALUE");
    assert_string_equal(c, "postern_csrf=VALUE; Path=/if/flow/; HttpOnly; SameSite=Lax");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid),  cmocka_unit_test(wrong_binding_purpose_secret),
        cmocka_unit_test(expiry), cmocka_unit_test(tampered),
        cmocka_unit_test(cookie),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
