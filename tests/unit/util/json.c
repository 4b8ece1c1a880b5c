/* The strict JSON reader of DESIGN.md: duplicate keys, trailing data, bad UTF-8 and
 * "\u0000" are all refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/util.h"

static void refuse(const char *s, size_t n)
{
    struct err e = {0};
    json_t *j = util_json_parse((struct slice){s, n}, &e);
    assert_null(j);
    assert_true(e.msg[0] != '\0');
}

static void test_refusals(void **state)
{
    (void)state;
    refuse("{\"a\":1,\"a\":2}", 13);
    refuse("{\"a\":1} x", 9);
    refuse("{\"a\":\"\\u0000\"}", 14);
    refuse("{\"a\":\"\xff\"}", 9);
    refuse("", 0);
    refuse("{\"a\":1", 6);
}

static void test_accepts(void **state)
{
    (void)state;
    struct err e = {0};
    json_t *j = util_json_parse(slice_z("{\"a\":[1,\"x\"],\"b\":true} "), &e);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "a"), 0)), 1);
    char *s = util_json_dump(j);
    assert_string_equal(s, "{\"a\":[1,\"x\"],\"b\":true}");
    free(s);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
