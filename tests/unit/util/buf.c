#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void test_append_and_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append_z(&b, "hello"), 0);
    assert_int_equal(buf_append_z(&b, "world"), 0);
    assert_string_equal(b.p, "helloworld");
    assert_int_equal(buf_append_c(&b, '!'), -1); /* the cap holds */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "helloworld");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.p, "42-x");
    assert_int_equal(buf_printf(&b, "%s", "0123456789"), -1);
    assert_string_equal(b.p, "42-x");
    size_t n;
    char *s = buf_steal(&b, &n);
    assert_int_equal(n, 4);
    assert_string_equal(s, "42-x");
    free(s);
    assert_null(b.p);
    buf_free(&b);
}

static void test_huge_append_refused(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_slices(void **state)
{
    (void)state;
    struct slice s = slice_trim_ows(slice_z(" \tv a\t "));
    assert_true(slice_eq_z(s, "v a"));
    assert_true(slice_case_eq_z(slice_z("Content-Length"), "content-length"));
    assert_false(slice_case_eq_z(slice_z("Content-Lengt"), "content-length"));
    assert_true(slice_starts_with_z(slice_z("/cdn-cgi/x"), "/cdn-cgi/"));
    assert_true(util_ct_equal("abc", 3, "abc", 3));
    assert_false(util_ct_equal("abc", 3, "abd", 3));
    assert_false(util_ct_equal("abc", 3, "abcd", 4));
}

static void test_random_token(void **state)
{
    (void)state;
    char *a = util_random_token(32);
    char *b = util_random_token(32);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_huge_append_refused),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_random_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
