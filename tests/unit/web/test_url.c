/* Unit tests for src/web/url.c: escaping, THE URL RULE, colours, origins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

static void test_escape(void **state)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(web_escape(SLICE_LIT("plain text é"), &b), 0);
    assert_string_equal(b.p, "plain text é");
    buf_reset(&b);
    assert_int_equal(web_escape(SLICE_LIT("&<>\"'`="), &b), 0);
    assert_string_equal(b.p, "&amp;&lt;&gt;&quot;&#39;&#96;&#61;");
    buf_reset(&b);
    assert_int_equal(web_escape(SLICE_LIT(""), &b), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    /* The cap is honoured. */
    buf_init(&b, 8);
    assert_int_equal(web_escape(SLICE_LIT("<<<"), &b), -1);
    buf_free(&b);
}

static void test_url_rule_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "//evil.com",
        "//evil.com/path",
        "/\\evil.com",
        "\\\\evil.com",
        "\\/evil.com",
        "/ok\\..\\x",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\r/evil.com",
        " /x",
        "/x y",
        "/x\x7f",
        "/caf\xc3\xa9",
        "evil.com",
        "ftp://x/",
        "https:evil.com",
        "https:/evil.com",
        "https:///evil.com",
        "https://",
        "https://?x",
        "http:\\\\evil.com",
        "#frag",
        "?q=1",
        "mailto:a@b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (web_url_ok(bad[i])) {
            print_error("accepted: '%s'\n", bad[i]);
            fail();
        }
    }
    assert_false(web_url_ok(NULL));
    char *big = malloc(WEB_URL_MAX + 2);
    memset(big, 'a', WEB_URL_MAX + 1);
    big[0] = '/';
    big[WEB_URL_MAX + 1] = '\0';
    assert_false(web_url_ok(big));
    big[WEB_URL_MAX] = '\0';
    assert_true(web_url_ok(big));
    free(big);
}

static void test_url_rule_keeps(void **state)
{
    static const char *const good[] = {
        "/",
        "/ok",
        "/if/flow/default-authentication-flow/?next=%2Fapplication%2Fo%2Fauthorize%2F",
        "/a?b=1&c=2#f",
        "/@evil.com", /* a path on this site */
        "https://ok",
        "https://ok.example.com:8443/x?y#z",
        "HTTP://ok.example.com",
        "http://127.0.0.1:9000/",
        "http://[::1]:9000/",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!web_url_ok(good[i])) {
            print_error("refused: '%s'\n", good[i]);
            fail();
        }
    }
}

static void test_set_url_stores_hash_for_bad_urls(void **state)
{
    struct web_vars *v = web_vars_new();
    struct web_tpls *t = web_tpls_new();
    struct err e;
    assert_int_equal(web_tpls_add(t, "t", SLICE_LIT("<a href=\"{{u}}\">"), &e), 0);
    static const char *const cases[][2] = {
        {"javascript:alert(1)", "#"}, {"data:text/html,x", "#"}, {"//evil.com", "#"},
        {"/\\evil.com", "#"},         {"\\\\evil", "#"},         {"/ok", "/ok"},
        {"https://ok", "https://ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = web_set_url(v, "u", cases[i][0]);
        assert_int_equal(rc, strcmp(cases[i][1], "#") == 0 ? -1 : 0);
        struct buf out;
        buf_init(&out, 1024);
        assert_int_equal(web_tpls_render(t, "t", v, &out, &e), 0);
        char want[128];
        snprintf(want, sizeof want, "<a href=\"%s\">", cases[i][1]);
        assert_string_equal(out.p, want);
        buf_free(&out);
    }
    web_tpls_free(t);
    web_vars_free(v);
}

static void test_colours(void **state)
{
    static const char *const good[] = {"#fff", "#FFF", "#0f766e", "#ABCDEF", "#000000"};
    static const char *const bad[] = {
        "",
        "fff",
        "#ff",
        "#ffff",
        "#fffffff",
        "#ggg",
        "#12345g",
        "red",
        "#fff;",
        "#fff}",
        "#fff ",
        "rgb(0,0,0)",
        "#fff</style>",
        "#0f766e;background:url(//evil)",
        "#\xc3\xa9\xc3\xa9\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(web_colour_ok(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (web_colour_ok(bad[i])) {
            print_error("accepted colour: '%s'\n", bad[i]);
            fail();
        }
    }
    assert_false(web_colour_ok(NULL));
}

static void test_origins(void **state)
{
    char o[WEB_ORIGIN_MAX + 1];
    assert_int_equal(web_url_origin("https://RP.Example.com/cb?x=1", o, sizeof o), 0);
    assert_string_equal(o, "https://rp.example.com");
    assert_int_equal(
        web_url_origin("HTTP://team.localhost:9000/cdn-cgi/access/callback", o, sizeof o), 0);
    assert_string_equal(o, "http://team.localhost:9000");
    assert_int_equal(web_url_origin("http://[::1]:8080", o, sizeof o), 0);
    assert_string_equal(o, "http://[::1]:8080");
    assert_int_equal(web_url_origin("https://x.example#f", o, sizeof o), 0);
    assert_string_equal(o, "https://x.example");
    static const char *const bad[] = {
        "/relative",
        "//evil.com",
        "javascript:x",
        "https://user@host/",
        "https://host:0/",
        "https://host:65536/",
        "https://host:/",
        "https://host:8a/",
        "https://ho_st/",
        "https://host;x/",
        "https://[::1/",
        "https://[]/",
        "https://h'; script-src *",
        "https://h%20x/",
        "https://[fe80::1%25eth0]/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (web_url_origin(bad[i], o, sizeof o) == 0) {
            print_error("origin accepted: '%s' -> '%s'\n", bad[i], o);
            fail();
        }
    }
    char small[10];
    assert_int_equal(web_url_origin("https://long.example.com/", small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_url_rule_rejects),
        cmocka_unit_test(test_url_rule_keeps),
        cmocka_unit_test(test_set_url_stores_hash_for_bad_urls),
        cmocka_unit_test(test_colours),
        cmocka_unit_test(test_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
