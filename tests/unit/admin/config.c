/* The configuration file: every value read, and every mistake named by file, line, field.
 * Runs in tests/vectors/config/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"

static void test_full_file(void **state)
{
    (void)state;
    struct admin_config c;
    struct err e = {0};
    assert_int_equal(admin_config_load("full.yaml", &c, &e), 0);
    assert_int_equal(c.server.nlisten, 2);
    assert_string_equal(c.server.listen[0].address, "127.0.0.1:8080");
    assert_null(c.server.listen[0].tls_cert);
    assert_string_equal(c.server.listen[1].address, "[::1]:8443");
    assert_string_equal(c.server.listen[1].tls_cert, "/etc/postern/cert.pem");
    assert_string_equal(c.server.listen[1].tls_key, "/etc/postern/key.pem");
    assert_string_equal(c.data_dir, "/var/lib/postern");
    assert_int_equal(c.server.threads, 2);
    assert_int_equal(c.server.worker_threads, 8);
    assert_int_equal(c.server.max_connections, 500);
    assert_int_equal(c.server.header_timeout_ms, 5000);
    assert_int_equal(c.server.body_timeout_ms, 20000);
    assert_int_equal(c.server.idle_timeout_ms, 120000);
    assert_int_equal(c.server.shutdown_timeout_ms, 30000);
    assert_int_equal(c.log_level, LOG_WARN);
    admin_config_free(&c);
}

static void expect_error(const char *file, const char *msg)
{
    struct admin_config c;
    struct err e = {0};
    assert_int_equal(admin_config_load(file, &c, &e), -1);
    if (strcmp(e.msg, msg) != 0) {
        fail_msg("%s: got \"%s\", expected \"%s\"", file, e.msg, msg);
    }
    admin_config_free(&c);
}

static void test_errors_name_file_line_field(void **state)
{
    (void)state;
    expect_error("typo.yaml", "typo.yaml:3: server.data_dr: unknown field");
    expect_error("badport.yaml",
                 "badport.yaml:4: server.listen[1]: invalid port in \"localhost:http\"");
    expect_error("threads.yaml",
                 "threads.yaml:2: server.threads: expected a whole number from 1 to 256");
    expect_error("timeout.yaml", "timeout.yaml:2: server.timeouts.header: expected a duration "
                                 "such as 10s, 2m or 1h");
    expect_error("tlskey.yaml",
                 "tlskey.yaml:4: server.listen[0].tls.key: expected a non-empty string");
    expect_error("loglevel.yaml",
                 "loglevel.yaml:1: log_level: expected one of debug, info, warn, error");
    expect_error("notmap.yaml", "notmap.yaml:1: server: expected a mapping");
    expect_error("unknown_top.yaml", "unknown_top.yaml:2: frobs: unknown field");
}

static void test_syntax_and_missing_file(void **state)
{
    (void)state;
    struct admin_config c;
    struct err e = {0};
    assert_int_equal(admin_config_load("syntax.yaml", &c, &e), -1);
    assert_true(strncmp(e.msg, "syntax.yaml:", 12) == 0);
    admin_config_free(&c);
    assert_int_equal(admin_config_load("does-not-exist.yaml", &c, &e), -1);
    assert_string_equal(e.msg, "does-not-exist.yaml: No such file or directory");
    admin_config_free(&c);
}

static void test_defaults(void **state)
{
    (void)state;
    struct admin_config c;
    struct err e = {0};
    assert_int_equal(admin_config_load("loglevel.yaml", &c, &e), -1);
    admin_config_free(&c);
    assert_int_equal(admin_config_load("/dev/null", &c, &e), 0);
    assert_int_equal(c.server.nlisten, 1);
    assert_string_equal(c.server.listen[0].address, ADMIN_DEFAULT_LISTEN);
    assert_string_equal(c.data_dir, ADMIN_DEFAULT_DATA_DIR);
    assert_int_equal(c.log_level, LOG_INFO);
    admin_config_free(&c);
}

static void test_idp_section(void **state)
{
    (void)state;
    struct admin_config c;
    struct err e = {0};
    assert_int_equal(admin_config_load("idp.yaml", &c, &e), 0);
    assert_true(c.idp_enabled);
    assert_string_equal(c.idp.public_url, "https://auth.example.com");
    assert_true(c.idp.cookie_secure);
    assert_int_equal(c.idp.session_lifetime, 8 * 3600);
    assert_int_equal(c.idp.throttle_max_failures, 3);
    assert_int_equal(c.idp.throttle_window, 600);
    assert_int_equal(c.idp.throttle_lockout, 3600);
    admin_config_free(&c);
    assert_int_equal(admin_config_load("full.yaml", &c, &e), 0);
    assert_false(c.idp_enabled);
    admin_config_free(&c);
    expect_error("idp_path.yaml",
                 "idp_path.yaml:2: idp.public_url: expected http(s)://HOST[:PORT] without a path");
    expect_error("idp_nourl.yaml", "idp_nourl.yaml:2: idp.public_url: is required");
}

static void test_addresses(void **state)
{
    (void)state;
    assert_int_equal(admin_check_address("127.0.0.1:0", NULL), 0);
    assert_int_equal(admin_check_address("[::1]:443", NULL), 0);
    assert_int_equal(admin_check_address(":8080", NULL), 0);
    assert_int_equal(admin_check_address("127.0.0.1", NULL), -1);
    assert_int_equal(admin_check_address("127.0.0.1:65536", NULL), -1);
    assert_int_equal(admin_check_address("::1:80", NULL), 0); /* host part checked at bind */
    assert_int_equal(admin_check_address("[::1:80", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_file_line_field),
        cmocka_unit_test(test_syntax_and_missing_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_idp_section),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
