/*
 * Unit tests of src/oidc/marker.c: the signed "login requested at" marker that stops
 * prompt=login / max_age loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oidc/oidc.h"

static const uint8_t KEY[32] = {1, 2, 3};
static const uint8_t OTHER_KEY[32] = {1, 2, 4};

static void test_round_trip(void **state)
{
    (void)state;
    char m[OIDC_MARKER_MAX];
    assert_int_equal(oidc_marker_make(KEY, "cf-client", 1700000000, m), 0);
    assert_non_null(strchr(m, '.'));
    int64_t t = 0;
    assert_int_equal(oidc_marker_check(KEY, "cf-client", m, 1700000000, &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(oidc_marker_check(KEY, "cf-client", m, 1700000000 + OIDC_LOGIN_MARKER_TTL, &t),
                     0);
}

static void test_refused(void **state)
{
    (void)state;
    char m[OIDC_MARKER_MAX];
    int64_t t = 0;
    int64_t now = 1700000000;
    assert_int_equal(oidc_marker_make(KEY, "cf-client", now, m), 0);
    /* another client, another key */
    assert_int_equal(oidc_marker_check(KEY, "other", m, now, &t), -1);
    assert_int_equal(oidc_marker_check(OTHER_KEY, "cf-client", m, now, &t), -1);
    /* stale, or from the future */
    assert_int_equal(oidc_marker_check(KEY, "cf-client", m, now + OIDC_LOGIN_MARKER_TTL + 1, &t),
                     -1);
    assert_int_equal(oidc_marker_check(KEY, "cf-client", m, now - OIDC_JWT_LEEWAY - 1, &t), -1);
    /* a changed time keeps the MAC of the old one */
    char forged[OIDC_MARKER_MAX];
    memcpy(forged, m, sizeof forged);
    forged[9] = forged[9] == '9' ? '8' : '9';
    assert_int_equal(oidc_marker_check(KEY, "cf-client", forged, now, &t), -1);
    /* a changed MAC */
    memcpy(forged, m, sizeof forged);
    size_t n = strlen(forged);
    forged[n - 1] = forged[n - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(oidc_marker_check(KEY, "cf-client", forged, now, &t), -1);
    /* shapes */
    const char *bad[] = {
        "", ".", "1700000000", "1700000000.", "-1.abc", "+1700000000.x", "0.AAAA", "abc.def", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(oidc_marker_check(KEY, "cf-client", bad[i], now, &t), -1);
    }
    assert_int_equal(oidc_marker_check(KEY, "cf-client", NULL, now, &t), -1);
    assert_int_equal(oidc_marker_make(KEY, "cf-client", 0, m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
