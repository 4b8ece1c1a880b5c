#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/util.h"

static void test_u64(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(util_parse_u64(slice_z("0"), UINT64_MAX, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(util_parse_u64(slice_z("18446744073709551615"), UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(util_parse_u64(slice_z("18446744073709551616"), UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_u64(slice_z("100"), 99, &v), -1);
    assert_int_equal(util_parse_u64(slice_z("99"), 99, &v), 0);
    assert_int_equal(util_parse_u64(slice_z(""), 99, &v), -1);
    assert_int_equal(util_parse_u64(slice_z("+1"), 99, &v), -1);
    assert_int_equal(util_parse_u64(slice_z(" 1"), 99, &v), -1);
    assert_int_equal(util_parse_u64(slice_z("1 "), 99, &v), -1);
}

static void test_hex(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(util_parse_hex_u64(slice_z("fF"), UINT64_MAX, &v), 0);
    assert_int_equal(v, 255);
    assert_int_equal(util_parse_hex_u64(slice_z("ffffffffffffffff"), UINT64_MAX, &v), 0);
    assert_int_equal(util_parse_hex_u64(slice_z("10000000000000000"), UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_hex_u64(slice_z("0x10"), UINT64_MAX, &v), -1);
    assert_int_equal(util_parse_hex_u64(slice_z("g"), UINT64_MAX, &v), -1);
}

static void test_duration(void **state)
{
    (void)state;
    int64_t s;
    assert_int_equal(util_parse_duration(slice_z("1m"), &s), 0);
    assert_int_equal(s, 60);
    assert_int_equal(util_parse_duration(slice_z("24h"), &s), 0);
    assert_int_equal(s, 86400);
    assert_int_equal(util_parse_duration(slice_z("30d"), &s), 0);
    assert_int_equal(s, 30 * 86400);
    assert_int_equal(util_parse_duration(slice_z("90"), &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(util_parse_duration(slice_z("2w"), &s), 0);
    assert_int_equal(s, 14 * 86400);
    assert_int_equal(util_parse_duration(slice_z("h"), &s), -1);
    assert_int_equal(util_parse_duration(slice_z("1y"), &s), -1);
    assert_int_equal(util_parse_duration(slice_z("-1s"), &s), -1);
    assert_int_equal(util_parse_duration(slice_z("99999999999999d"), &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
