/* YAML to JSON: types, line numbers, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/util.h"

static const char config[] = "server:\n"
                             "  listen: [\"127.0.0.1:8080\"]\n"
                             "  data_dir: ./data\n"
                             "  threads: 2\n"
                             "idp:\n"
                             "  public_url: http://auth.localhost:9000\n"
                             "flags: { a: true, b: no, c: \"1\", d: ~, e: 24h }\n";

static void test_types_and_lines(void **state)
{
    (void)state;
    struct yaml_doc d;
    struct err e = {0};
    assert_int_equal(util_yaml_parse(slice_z(config), "c.yaml", &d, &e), 0);
    json_t *server = json_object_get(d.root, "server");
    assert_int_equal(util_yaml_line(&d, server), 2);
    assert_int_equal(json_integer_value(json_object_get(server, "threads")), 2);
    assert_int_equal(util_yaml_line(&d, json_object_get(server, "threads")), 4);
    json_t *listen = json_object_get(server, "listen");
    assert_string_equal(json_string_value(json_array_get(listen, 0)), "127.0.0.1:8080");
    json_t *flags = json_object_get(d.root, "flags");
    assert_true(json_is_true(json_object_get(flags, "a")));
    assert_string_equal(json_string_value(json_object_get(flags, "b")), "no");
    assert_string_equal(json_string_value(json_object_get(flags, "c")), "1");
    assert_true(json_is_null(json_object_get(flags, "d")));
    assert_string_equal(json_string_value(json_object_get(flags, "e")), "24h");
    util_yaml_free(&d);
}

static void refuse(const char *text, const char *needle)
{
    struct yaml_doc d;
    struct err e = {0};
    assert_int_equal(util_yaml_parse(slice_z(text), "bad.yaml", &d, &e), -1);
    if (strstr(e.msg, needle) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
    }
    util_yaml_free(&d);
}

static void test_refusals(void **state)
{
    (void)state;
    refuse("a: 1\na: 2\n", "bad.yaml:2: duplicate key");
    refuse("a: &x 1\nb: *x\n", "bad.yaml:2: aliases");
    refuse("a: !!python/object 1\n", "tags");
    refuse("a: 1\n---\nb: 2\n", "only one YAML document");
    refuse("a: [1, 2\n", "bad.yaml:");
    refuse("? [a]\n: 1\n", "mapping keys");
}

static void test_depth_bounded(void **state)
{
    (void)state;
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        deep[n++] = '[';
    }
    deep[n] = '\0';
    refuse(deep, "nested too deeply");
}

static void test_empty(void **state)
{
    (void)state;
    struct yaml_doc d;
    struct err e = {0};
    assert_int_equal(util_yaml_parse(slice_z(""), "e.yaml", &d, &e), 0);
    assert_true(json_is_object(d.root));
    util_yaml_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_lines),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth_bounded),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
