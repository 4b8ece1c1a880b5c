/* Unit tests for src/web/template.c, render.c and vars.c: the template language. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

/* Parses one template "t" (plus optional partials) and renders it with v; returns the
 * output (static buffer) or NULL when parsing or rendering failed (message in last_err). */
static struct err last_err;
static char out_text[WEB_PAGE_MAX];

static int add(struct web_tpls *t, const char *name, const char *src)
{
    return web_tpls_add(t, name, slice_z(src), &last_err);
}

static const char *render_set(struct web_tpls *t, const struct web_vars *v, size_t cap)
{
    struct buf out;
    buf_init(&out, cap);
    const char *res = NULL;
    if (web_tpls_check(t, &last_err) == 0 && web_tpls_render(t, "t", v, &out, &last_err) == 0) {
        snprintf(out_text, sizeof out_text, "%s", out.p ? out.p : "");
        res = out_text;
    }
    buf_free(&out);
    return res;
}

static const char *render1(const char *src, const struct web_vars *v)
{
    struct web_tpls *t = web_tpls_new();
    const char *res = NULL;
    memset(&last_err, 0, sizeof last_err);
    if (add(t, "t", src) == 0) {
        res = render_set(t, v, WEB_PAGE_MAX);
    }
    web_tpls_free(t);
    return res;
}

/* Parsing must fail, with msg_part in the message. */
static void assert_parse_error(const char *src, const char *msg_part)
{
    struct web_tpls *t = web_tpls_new();
    memset(&last_err, 0, sizeof last_err);
    int rc = add(t, "t", src);
    if (rc == 0 || strstr(last_err.msg, msg_part) == NULL) {
        print_error("template %s: rc %d, message '%s', expected '%s'\n", src, rc, last_err.msg,
                    msg_part);
        fail();
    }
    web_tpls_free(t);
}

static void test_escapes_every_special_character_in_text(void **state)
{
    struct web_vars *v = web_vars_new();
    assert_int_equal(web_set(v, "x", "a&b<c>d\"e'f`g=h"), 0);
    assert_string_equal(render1("<p>{{x}}</p>", v),
                        "<p>a&amp;b&lt;c&gt;d&quot;e&#39;f&#96;g&#61;h</p>");
    web_vars_free(v);
}

static void test_script_payload_is_inert_in_text_and_attributes(void **state)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "x", "\"><script>alert(1)</script>");
    const char *r = render1("<p title=\"{{x}}\">{{x}}</p><input value='{{x}}'>", v);
    assert_non_null(r);
    assert_null(strstr(r, "<script"));
    assert_string_equal(r, "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">"
                           "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>"
                           "<input value='&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'>");
    /* Breaking out of a single-quoted value, or an event handler through '=', is inert. */
    web_set(v, "x", "' onfocus='alert(1)' x='");
    r = render1("<input value='{{x}}'>", v);
    assert_string_equal(r, "<input value='&#39; onfocus&#61;&#39;alert(1)&#39; x&#61;&#39;'>");
    web_vars_free(v);
}

static void test_unknown_and_non_string_values_render_empty(void **state)
{
    struct web_vars *v = web_vars_new();
    web_set_bool(v, "b", true);
    web_list_add(v, "l");
    assert_string_equal(render1("[{{nope}}][{{b}}][{{l}}][{{a.b.c}}]", v), "[][][][]");
    assert_string_equal(render1("[{{nope}}]", NULL), "[]");
    web_vars_free(v);
}

static void test_sections_inverted_and_truthiness(void **state)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "s", "yes");
    web_set(v, "empty", "");
    web_set_bool(v, "t", true);
    web_set_bool(v, "f", false);
    web_list_add(v, "l1");
    const char *src = "{{#s}}S{{/s}}{{^s}}!S{{/s}}|{{#empty}}E{{/empty}}{{^empty}}!E{{/empty}}|"
                      "{{#t}}T{{/t}}{{^t}}!T{{/t}}|{{#f}}F{{/f}}{{^f}}!F{{/f}}|"
                      "{{#nope}}N{{/nope}}{{^nope}}!N{{/nope}}|{{#l1}}L{{/l1}}{{^l1}}!L{{/l1}}|"
                      "{{#l0}}Z{{/l0}}{{^l0}}!Z{{/l0}}";
    assert_string_equal(render1(src, v), "S|!E|T|!F|!N|L|!Z");
    web_vars_free(v);
}

static void test_lists_scopes_and_parent_lookup(void **state)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "app", "Wiki");
    web_set(v, "name", "outer");
    const char *names[] = {"a<1>", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        struct web_vars *it = web_list_add(v, "items");
        assert_non_null(it);
        web_set(it, "name", names[i]);
        struct web_vars *sub = web_list_add(it, "tags");
        web_setf(sub, "t", "%zu", i);
    }
    /* Inner names shadow outer ones; an unknown inner name is found in the parent. */
    assert_string_equal(render1("<ul>{{#items}}<li>{{name}}@{{app}}:{{#tags}}{{t}}{{name}}"
                                "{{/tags}}</li>{{/items}}</ul>{{name}}",
                                v),
                        "<ul><li>a&lt;1&gt;@Wiki:0a&lt;1&gt;</li><li>b@Wiki:1b</li>"
                        "<li>c@Wiki:2c</li></ul>outer");
    web_vars_free(v);
}

static void test_objects_and_dotted_names(void **state)
{
    struct web_vars *v = web_vars_new();
    struct web_vars *app = web_child(v, "app");
    web_set(app, "name", "Grafana");
    struct web_vars *owner = web_child(app, "owner");
    web_set(owner, "email", "ops@example.com");
    assert_ptr_equal(web_child(v, "app"), app); /* the same object again */
    assert_string_equal(render1("{{app.name}}/{{app.owner.email}}/{{app.nope}}/{{nope.name}}"
                                "/{{#app}}{{name}}{{/app}}/{{#app.owner}}{{email}}{{/app.owner}}",
                                v),
                        "Grafana/ops@example.com///Grafana/ops@example.com");
    web_vars_free(v);
}

static void test_partials(void **state)
{
    struct web_tpls *t = web_tpls_new();
    struct web_vars *v = web_vars_new();
    web_set(v, "x", "<X>");
    assert_int_equal(add(t, "t", "[{{>head}}|{{#l}}{{>item}}{{/l}}]"), 0);
    assert_int_equal(add(t, "head", "<b>{{x}}</b>"), 0);
    assert_int_equal(add(t, "item", "({{i}})"), 0);
    web_setf(web_list_add(v, "l"), "i", "1");
    web_setf(web_list_add(v, "l"), "i", "2");
    assert_string_equal(render_set(t, v, WEB_PAGE_MAX), "[<b>&lt;X&gt;</b>|(1)(2)]");
    web_tpls_free(t);
    web_vars_free(v);
}

static void test_partial_errors_found_by_check(void **state)
{
    struct web_tpls *t = web_tpls_new();
    assert_int_equal(add(t, "t", "{{>missing}}"), 0);
    assert_int_equal(web_tpls_check(t, &last_err), -1);
    assert_non_null(strstr(last_err.msg, "unknown partial 'missing'"));
    web_tpls_free(t);

    t = web_tpls_new();
    assert_int_equal(add(t, "t", "{{>a}}"), 0);
    assert_int_equal(add(t, "a", "{{>b}}"), 0);
    assert_int_equal(add(t, "b", "{{>a}}"), 0);
    assert_int_equal(web_tpls_check(t, &last_err), -1);
    assert_non_null(strstr(last_err.msg, "include each other"));
    web_tpls_free(t);

    /* A chain deeper than WEB_TPL_MAX_PARTIALS. */
    t = web_tpls_new();
    char name[8], src[32];
    for (int i = 0; i <= WEB_TPL_MAX_PARTIALS + 1; i++) {
        if (i == 0) {
            snprintf(name, sizeof name, "t");
        } else {
            snprintf(name, sizeof name, "p%d", i);
        }
        if (i <= WEB_TPL_MAX_PARTIALS) {
            snprintf(src, sizeof src, "{{>p%d}}", i + 1);
        } else {
            snprintf(src, sizeof src, "end");
        }
        assert_int_equal(add(t, name, src), 0);
    }
    assert_int_equal(web_tpls_check(t, &last_err), -1);
    assert_non_null(strstr(last_err.msg, "deeper"));
    web_tpls_free(t);

    /* Also at render time, without a check. */
    t = web_tpls_new();
    assert_int_equal(add(t, "t", "{{>t}}"), 0);
    struct buf out;
    buf_init(&out, 1024);
    assert_int_equal(web_tpls_render(t, "t", NULL, &out, &last_err), -1);
    assert_int_equal(web_tpls_render(t, "nope", NULL, &out, &last_err), -1);
    buf_free(&out);
    web_tpls_free(t);
}

static void test_syntax_errors(void **state)
{
    assert_parse_error("a {{x", "'{{' without '}}'");
    assert_parse_error("{{#a}}x", "unclosed section 'a'");
    assert_parse_error("{{#a}}{{#b}}{{/a}}{{/b}}", "mismatched section close, expected 'b'");
    assert_parse_error("{{/a}}", "not open");
    assert_parse_error("{{{x}}}", "bad variable name");
    assert_parse_error("{{&x}}", "bad variable name");
    assert_parse_error("{{}}", "bad variable name");
    assert_parse_error("{{ }}", "bad variable name");
    assert_parse_error("{{a..b}}", "bad variable name");
    assert_parse_error("{{.}}", "bad variable name");
    assert_parse_error("{{a b}}", "bad variable name");
    assert_parse_error("{{#}}{{/}}", "bad section name");
    assert_parse_error("{{>a.b}}", "bad partial name");
    assert_parse_error("x\ny\n{{#open}}", "t:3: unclosed section 'open'");
    char deep[512] = "";
    for (int i = 0; i <= WEB_TPL_MAX_NESTING; i++) {
        strncat(deep, "{{#a}}", sizeof deep - strlen(deep) - 1);
    }
    assert_parse_error(deep, "nested too deep");
    /* Comments and spaces inside tags are fine. */
    assert_string_equal(render1("a{{! anything {{ here }}b{{ x }}", NULL), "ab");
}

static void test_limits_of_a_template(void **state)
{
    struct web_tpls *t = web_tpls_new();
    char *big = malloc(WEB_TPL_MAX_BYTES + 2);
    memset(big, 'a', WEB_TPL_MAX_BYTES + 1);
    big[WEB_TPL_MAX_BYTES + 1] = '\0';
    assert_int_equal(add(t, "big", big), -1);
    assert_int_equal(web_tpls_add(t, "nul", (struct slice){"a\0b", 3}, &last_err), -1);
    assert_int_equal(add(t, "bad name", "x"), -1);
    assert_int_equal(add(t, "dup", "x"), 0);
    assert_int_equal(add(t, "dup", "y"), -1);
    /* Too many nodes. */
    size_t n = 0;
    for (int i = 0; i < WEB_TPL_MAX_NODES + 1 && n + 8 < WEB_TPL_MAX_BYTES; i++) {
        memcpy(big + n, "a{{x}}", 6);
        n += 6;
    }
    big[n] = '\0';
    assert_int_equal(add(t, "many", big), -1);
    assert_non_null(strstr(last_err.msg, "too many nodes"));
    free(big);
    web_tpls_free(t);
}

static void test_values_in_unsafe_html_contexts_are_refused(void **state)
{
    assert_parse_error("<a {{x}}>", "inside a tag");
    assert_parse_error("<a href={{x}}>", "unquoted");
    assert_parse_error("<a class=x{{x}}>", "unquoted");
    assert_parse_error("<{{x}}>", "inside a tag");
    assert_parse_error("<a b=\"1\" {{x}}=\"2\">", "inside a tag");
    assert_parse_error("<!-- {{x}} -->", "comment");
    assert_parse_error("<meta name=\"description\" content=\"{{x}}\">", "<meta>");
    assert_parse_error("<img srcset=\"{{x}} 2x\">", "srcset");
    /* A URL attribute: the value must start it, or follow a literal ? or #. */
    assert_parse_error("<a href=\"/base/{{x}}\">", "must start it");
    assert_parse_error("<a href=\"{{a}}{{b}}\">", "must start it");
    assert_parse_error("<form action=\" {{x}}\">", "must start it");
    assert_parse_error("<img SRC=\"x{{x}}\">", "must start it");
    assert_non_null(render1("<a href=\"/search?q={{q}}#{{f}}\">", NULL));
    /* No JavaScript and no inline style, even literal. */
    assert_parse_error("<script>alert(1)</script>", "not allowed");
    assert_parse_error("<STYLE>p{}</STYLE>", "not allowed");
    assert_parse_error("<iframe src=\"/x\"></iframe>", "not allowed");
    assert_parse_error("<base href=\"/\">", "not allowed");
    assert_parse_error("<svg><script></script></svg>", "not allowed");
    assert_parse_error("<a onclick=\"x()\">", "event handler");
    assert_parse_error("<a OnMouseOver='{{x}}'>", "event handler");
    assert_parse_error("<p style=\"color:red\">", "style=");
    assert_parse_error("<p style=\"{{x}}\">", "style=");
    /* A partial only between tags. */
    assert_parse_error("<a title=\"{{>p}}\">", "between tags");
    /* The template must end between tags. */
    assert_parse_error("<a href=\"x\"", "ends inside");
    assert_parse_error("<!-- open", "ends inside");
    assert_parse_error("<a =\"x\">", "without an attribute name");
}

static void test_sections_must_keep_the_html_context(void **state)
{
    /* Skipping the section would put x in a URL attribute: refused. */
    assert_parse_error("<a {{#c}}href=\"{{/c}}{{x}}\">", "another context");
    assert_parse_error("{{#c}}<a title=\"{{/c}}\">", "another context");
    assert_parse_error("<a href=\"{{#c}}/x{{/c}}{{u}}\">", "another context");
    assert_parse_error("<a href=\"/x{{#c}}?{{/c}}{{u}}\">", "another context");
    assert_parse_error("<a {{#c}}><b {{/c}}>", "another context");
    assert_parse_error("<a{{#c}}>", "split");
    /* Conditional attributes and classes are fine. */
    struct web_vars *v = web_vars_new();
    web_set_bool(v, "req", true);
    web_set(v, "cls", "wide");
    assert_string_equal(render1("<input name=\"a\"{{#req}} required{{/req}}{{^req}} x{{/req}}>"
                                "<p class=\"c{{#cls}} {{cls}}{{/cls}}\">",
                                v),
                        "<input name=\"a\" required><p class=\"c wide\">");
    web_vars_free(v);
}

static void test_url_context(void **state)
{
    struct web_vars *v = web_vars_new();
    const char *tpl = "<a href=\"{{u}}\">x</a>";
    web_set(v, "u", "/ok"); /* a plain string, not a URL value */
    assert_string_equal(render1(tpl, v), "<a href=\"#\">x</a>");
    assert_int_equal(web_set_url(v, "u", "javascript:alert(1)"), -1);
    assert_string_equal(render1(tpl, v), "<a href=\"#\">x</a>");
    assert_int_equal(web_set_url(v, "u", "/a?b=1&c=2"), 0);
    assert_string_equal(render1(tpl, v), "<a href=\"/a?b&#61;1&amp;c&#61;2\">x</a>");
    assert_int_equal(web_set_url(v, "u", "https://ok.example/p"), 0);
    assert_string_equal(render1("<form action='{{u}}'><img src=\"{{u}}\">", v),
                        "<form action='https://ok.example/p'><img src=\"https://ok.example/p\">");
    /* Unknown in a URL attribute: "#", in text: nothing. */
    assert_string_equal(render1("<a href=\"{{nope}}\">{{nope}}</a>", v), "<a href=\"#\"></a>");
    /* A URL value in text and plain attributes is escaped like any other. */
    assert_string_equal(render1("<p title=\"{{u}}\">{{u}}</p>", v),
                        "<p title=\"https://ok.example/p\">https://ok.example/p</p>");
    web_vars_free(v);
}

static void test_render_bounds(void **state)
{
    struct web_vars *v = web_vars_new();
    for (int i = 0; i < 20; i++) {
        web_list_add(v, "l");
    }
    /* 20^5 = 3.2M visits of the innermost (empty) value: stopped by WEB_TPL_MAX_STEPS. */
    assert_null(render1("{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{nope}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}", v));
    assert_non_null(strstr(last_err.msg, "too many render steps"));
    /* The output cap. */
    struct web_tpls *t = web_tpls_new();
    assert_int_equal(add(t, "t", "{{#l}}0123456789{{/l}}"), 0);
    assert_null(render_set(t, v, 100));
    assert_non_null(strstr(last_err.msg, "larger than its buffer"));
    assert_non_null(render_set(t, v, 200));
    web_tpls_free(t);
    web_vars_free(v);
}

static void test_vars_limits(void **state)
{
    struct web_vars *v = web_vars_new();
    assert_int_equal(web_set(v, "a.b", "x"), -1);
    assert_int_equal(web_set(v, "", "x"), -1);
    assert_int_equal(web_set(v, "a b", "x"), -1);
    assert_int_equal(web_set(v, "ok", NULL), 0);
    char *big = malloc(WEB_VALUE_MAX + 2);
    memset(big, 'x', WEB_VALUE_MAX + 1);
    big[WEB_VALUE_MAX + 1] = '\0';
    web_set(v, "big", "before");
    assert_int_equal(web_set(v, "big", big), -1);
    assert_string_equal(render1("[{{big}}]", v), "[]"); /* not left with the old value */
    big[WEB_VALUE_MAX] = '\0';
    assert_int_equal(web_set(v, "big", big), 0);
    free(big);
    /* Replacing keeps one value; NULL unsets. */
    web_set(v, "r", "1");
    web_set(v, "r", "2");
    assert_string_equal(render1("{{r}}", v), "2");
    web_set(v, "r", NULL);
    assert_string_equal(render1("[{{r}}]", v), "[]");
    /* A full scope. */
    char name[16];
    int ok = 0;
    for (int i = 0; i < WEB_VARS_MAX + 5; i++) {
        snprintf(name, sizeof name, "n%d", i);
        ok += web_set(v, name, "v") == 0;
    }
    assert_true(ok < WEB_VARS_MAX + 5);
    web_vars_free(v);
    /* A full list; a name of another kind. */
    v = web_vars_new();
    for (int i = 0; i < WEB_LIST_MAX; i++) {
        assert_non_null(web_list_add(v, "l"));
    }
    assert_null(web_list_add(v, "l"));
    web_set(v, "s", "x");
    assert_null(web_list_add(v, "s"));
    assert_null(web_child(v, "l"));
    assert_int_equal(web_setf(v, "f", "%d-%s", 7, "x"), 0);
    assert_string_equal(render1("{{f}}", v), "7-x");
    web_vars_free(v);
    web_vars_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_every_special_character_in_text),
        cmocka_unit_test(test_script_payload_is_inert_in_text_and_attributes),
        cmocka_unit_test(test_unknown_and_non_string_values_render_empty),
        cmocka_unit_test(test_sections_inverted_and_truthiness),
        cmocka_unit_test(test_lists_scopes_and_parent_lookup),
        cmocka_unit_test(test_objects_and_dotted_names),
        cmocka_unit_test(test_partials),
        cmocka_unit_test(test_partial_errors_found_by_check),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits_of_a_template),
        cmocka_unit_test(test_values_in_unsafe_html_contexts_are_refused),
        cmocka_unit_test(test_sections_must_keep_the_html_context),
        cmocka_unit_test(test_url_context),
        cmocka_unit_test(test_render_bounds),
        cmocka_unit_test(test_vars_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
