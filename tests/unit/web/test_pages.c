/* Unit tests for src/web/site.c and pages.c: every embedded template parses, every page
 * renders the elements it promises, hostile values stay inert, the branding is validated.
 * With WEB_DUMP_DIR set, the pages and assets are also written there (for screenshots). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "web/web.h"

#define EVIL "\"><script>alert(1)</script>"

static struct web *site;

static int setup(void **state)
{
    struct err e = {0};
    site = web_new(NULL, &e);
    if (site == NULL) {
        print_error("web_new: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    web_free(site);
    return 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void dump(const char *name, const char *html, size_t len)
{
    const char *dir = getenv("WEB_DUMP_DIR");
    if (dir == NULL) {
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(html, 1, len, f);
    fclose(f);
}

/* What every page must have (issue 5, "The pages"). */
static void assert_page(const char *p)
{
    assert_true(strncmp(p, "<!doctype html>\n<html lang=\"en\">", 32) == 0);
    assert_non_null(strstr(p, "<meta charset=\"utf-8\">"));
    assert_non_null(
        strstr(p, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_int_equal(count(p, "<title>"), 1);
    assert_int_equal(count(p, "<h1"), 1);
    assert_int_equal(count(p, "</h1>"), 1);
    assert_non_null(strstr(p, "<link rel=\"stylesheet\" href=\"/static/postern.css?v&#61;"));
    assert_non_null(strstr(p, "src=\"/static/logo.svg\""));
    assert_non_null(strstr(p, "</html>"));
    /* No JavaScript and no inline style (the CSP would block them anyway). */
    assert_null(strstr(p, "<script"));
    assert_null(strstr(p, "<style"));
    assert_null(strstr(p, "style="));
    for (const char *on = strstr(p, " on"); on; on = strstr(on + 1, " on")) {
        const char *q = on + 3;
        while (*q >= 'a' && *q <= 'z') {
            q++;
        }
        assert_false(*q == '='); /* no event handler attribute */
    }
    /* Every visible input has a label tied to it. */
    for (const char *in = strstr(p, "<input "); in; in = strstr(in + 1, "<input ")) {
        const char *end = strchr(in, '>');
        assert_non_null(end);
        if (strstr(in, "type=\"hidden\"") != NULL && strstr(in, "type=\"hidden\"") < end) {
            continue;
        }
        const char *id = strstr(in, " id=\"");
        assert_true(id != NULL && id < end);
        char want[128];
        const char *q = strchr(id + 5, '"');
        snprintf(want, sizeof want, "<label for=\"%.*s\">", (int)(q - id - 5), id + 5);
        assert_non_null(strstr(p, want));
    }
}

static void test_login_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_login l = {
        .action = "/if/flow/default-authentication-flow/?next=%2Fapplication%2Fo%2Fauthorize%2F",
        .csrf_token = "tok-123",
        .next = "/application/o/authorize/?client_id=cf&state=x",
        .app_name = "Grafana",
    };
    assert_int_equal(web_page_login(site, &l, &out), 0);
    dump("login.html", out.p, out.len);
    const char *p = out.p;
    assert_page(p);
    assert_non_null(strstr(p, "<title>Log in · Postern</title>"));
    assert_non_null(strstr(p, "<form class=\"form\" method=\"post\" action=\"/if/flow/"
                              "default-authentication-flow/?next&#61;%2Fapplication"));
    assert_non_null(strstr(p, "name=\"username\" type=\"text\" autocomplete=\"username\""));
    assert_non_null(strstr(p, "<label for=\"username\">Username or email</label>"));
    assert_non_null(
        strstr(p, "name=\"password\" type=\"password\" autocomplete=\"current-password\""));
    assert_non_null(strstr(p, "<input type=\"hidden\" name=\"csrf_token\" value=\"tok-123\">"));
    assert_non_null(strstr(p, "<input type=\"hidden\" name=\"next\" value=\"/application/o/"
                              "authorize/?client_id&#61;cf&amp;state&#61;x\">"));
    assert_non_null(strstr(p, "to continue to <strong>Grafana</strong>"));
    assert_non_null(strstr(p, "<button class=\"btn btn-primary\" type=\"submit\">Log in"));
    assert_null(strstr(p, "role=\"alert\"")); /* no error: no alert area */
    assert_int_equal(count(p, "autofocus"), 1);
    assert_non_null(strstr(p, "value=\"\" autofocus"));

    /* With an error and a prefilled username: the alert, focus on the password. */
    buf_reset(&out);
    l.error = "Invalid username or password.";
    l.username = "alice";
    l.app_name = NULL;
    assert_int_equal(web_page_login(site, &l, &out), 0);
    dump("login-error.html", out.p, out.len);
    p = out.p;
    assert_page(p);
    assert_non_null(strstr(p, "<div class=\"alert\" role=\"alert\" id=\"form-error\">Invalid "
                              "username or password.</div>"));
    assert_non_null(strstr(p, "value=\"alice\" aria-invalid=\"true\""));
    assert_non_null(strstr(p, "required autofocus aria-invalid=\"true\""));
    assert_null(strstr(p, "to continue to"));
    buf_free(&out);
}

static void test_login_page_with_hostile_values(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_login l = {
        .action = "javascript:alert(1)",
        .csrf_token = EVIL,
        .next = EVIL,
        .app_name = EVIL,
        .username = EVIL,
        .error = EVIL,
    };
    assert_int_equal(web_page_login(site, &l, &out), 0);
    assert_page(out.p);
    assert_null(strstr(out.p, "javascript:"));
    assert_non_null(strstr(out.p, "action=\"#\""));
    assert_int_equal(count(out.p, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), 5);
    buf_free(&out);
}

static void test_consent_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    const char *scopes[] = {"openid", "email", "profile", "offline_access", "<weird>"};
    struct web_field fields[] = {{"request", "r-1"}, {"x\"y", "v<"}};
    struct web_consent c = {
        .action = "/application/o/authorize/",
        .csrf_token = "tok-9",
        .app_name = "Grafana",
        .user = "alice@example.com",
        .scopes = scopes,
        .nscopes = 5,
        .fields = fields,
        .nfields = 2,
    };
    assert_int_equal(web_page_consent(site, &c, &out), 0);
    dump("consent.html", out.p, out.len);
    const char *p = out.p;
    assert_page(p);
    assert_non_null(strstr(p, "<h1>Authorize Grafana</h1>"));
    assert_non_null(strstr(p, "<li>See your email address</li>"));
    assert_non_null(strstr(p, "<li>See your name, username and groups</li>"));
    assert_non_null(strstr(p, "<li>Confirm your identity</li>"));
    assert_non_null(strstr(p, "&lt;weird&gt;"));
    assert_non_null(strstr(p, "<input type=\"hidden\" name=\"csrf_token\" value=\"tok-9\">"));
    assert_non_null(strstr(p, "<input type=\"hidden\" name=\"request\" value=\"r-1\">"));
    assert_non_null(strstr(p, "name=\"x&quot;y\" value=\"v&lt;\""));
    const char *allow = strstr(p, "name=\"decision\" value=\"allow\">Allow</button>");
    const char *deny = strstr(p, "name=\"decision\" value=\"deny\">Deny</button>");
    assert_true(allow != NULL && deny != NULL && allow < deny); /* Enter means Allow */
    assert_non_null(strstr(p, "method=\"post\" action=\"/application/o/authorize/\""));
    assert_non_null(strstr(p, "alice@example.com"));
    buf_free(&out);
}

static void test_error_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_error e = {
        .status = 400,
        .title = "Redirect URI not registered",
        .message = "The application sent a redirect URI that is not registered for it. "
                   "Ask its administrator to add it to the provider.",
    };
    assert_int_equal(web_page_error(site, &e, &out), 0);
    dump("error.html", out.p, out.len);
    assert_page(out.p);
    assert_non_null(strstr(out.p, "<h1>Redirect URI not registered</h1>"));
    assert_non_null(strstr(out.p, "Error 400"));
    assert_non_null(strstr(out.p, "<title>Redirect URI not registered · Postern</title>"));
    assert_null(strstr(out.p, "class=\"actions\""));
    buf_reset(&out);
    e.link_url = "//evil.com";
    e.title = NULL;
    assert_int_equal(web_page_error(site, &e, &out), 0);
    assert_page(out.p);
    assert_non_null(strstr(out.p, "<h1>Something went wrong</h1>"));
    assert_non_null(strstr(out.p, "href=\"#\">Go back</a>"));
    buf_free(&out);
}

static void test_logged_out_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_logged_out l = {.login_url = "/if/flow/default-authentication-flow/"};
    assert_int_equal(web_page_logged_out(site, &l, &out), 0);
    dump("logged_out.html", out.p, out.len);
    assert_page(out.p);
    assert_non_null(strstr(out.p, "<h1>You have been logged out</h1>"));
    assert_non_null(strstr(out.p, "href=\"/if/flow/default-authentication-flow/\">Log in "
                                  "again</a>"));
    buf_free(&out);
}

static void test_idp_choice_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_link idps[] = {
        {"/cdn-cgi/access/login/service.localhost?idp=authentik&redirect_url=%2F", "Authentik"},
        {"https://accounts.google.example/o/oauth2/auth?x=1", "Google"},
        {"javascript:alert(1)", "Evil <b>"},
    };
    struct web_idp_choice c = {.app_name = "myapp", .idps = idps, .nidps = 3};
    assert_int_equal(web_page_idp_choice(site, &c, &out), 0);
    dump("idp_choice.html", out.p, out.len);
    const char *p = out.p;
    assert_page(p);
    assert_non_null(strstr(p, "to continue to <strong>myapp</strong>"));
    assert_non_null(strstr(p, "href=\"/cdn-cgi/access/login/service.localhost?idp&#61;"
                              "authentik&amp;redirect_url&#61;%2F\">Continue with Authentik</a>"));
    assert_non_null(strstr(p, "Continue with Google</a>"));
    assert_non_null(strstr(p, "href=\"#\">Continue with Evil &lt;b&gt;</a>"));
    assert_int_equal(count(p, "<ul class=\"idps\">"), 1);
    assert_null(strstr(p, "role=\"alert\""));
    buf_reset(&out);
    c.nidps = 0;
    assert_int_equal(web_page_idp_choice(site, &c, &out), 0);
    assert_page(out.p);
    assert_null(strstr(out.p, "<ul class=\"idps\">"));
    assert_non_null(strstr(out.p, "role=\"alert\""));
    buf_free(&out);
}

static void test_access_denied_page(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_access_denied d = {
        .app_name = "myapp",
        .email = "bob@example.com",
        .signout_url = "/cdn-cgi/access/logout",
    };
    assert_int_equal(web_page_access_denied(site, &d, &out), 0);
    dump("access_denied.html", out.p, out.len);
    const char *p = out.p;
    assert_page(p);
    assert_non_null(strstr(p, "<h1>Access denied</h1>"));
    assert_non_null(strstr(p, "<strong>myapp</strong>"));
    assert_non_null(strstr(p, "<strong>bob@example.com</strong>"));
    assert_non_null(strstr(p, "href=\"/cdn-cgi/access/logout\">Sign out</a>"));
    buf_free(&out);
}

static void test_message_and_form_post_pages(void **state)
{
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_message m = {.title = "Your connection works!",
                            .message = "Postern received the identity of alice@example.com.",
                            .link_url = "/"};
    assert_int_equal(web_page_message(site, &m, &out), 0);
    dump("message.html", out.p, out.len);
    assert_page(out.p);
    assert_non_null(strstr(out.p, "<h1>Your connection works!</h1>"));
    assert_non_null(strstr(out.p, "href=\"/\">Continue</a>"));

    buf_reset(&out);
    struct web_field f[] = {{"code", "c-1"}, {"state", "s\"1"}};
    struct web_form_post fp = {
        .action = "https://rp.example.com/cb", .app_name = "RP", .fields = f, .nfields = 2};
    assert_int_equal(web_page_form_post(site, &fp, &out), 0);
    dump("form_post.html", out.p, out.len);
    assert_page(out.p);
    assert_non_null(strstr(out.p, "method=\"post\" action=\"https://rp.example.com/cb\""));
    assert_non_null(strstr(out.p, "name=\"code\" value=\"c-1\""));
    assert_non_null(strstr(out.p, "name=\"state\" value=\"s&quot;1\""));
    buf_free(&out);
}

static void test_output_cap(void **state)
{
    struct buf out;
    buf_init(&out, 512);
    struct web_message m = {.title = "t"};
    assert_int_equal(web_page_message(site, &m, &out), -1);
    buf_free(&out);
}

static void test_branding_is_validated(void **state)
{
    static const struct web_branding bad[] = {
        {.primary = "red"},
        {.background = "#fff;}body{display:none"},
        {.primary_dark = "#12345"},
        {.background_dark = "url(x)"},
        {.logo_url = "javascript:alert(1)"},
        {.logo_url = "http://cdn.example.com/logo.svg"}, /* CSP img-src: 'self' https: */
        {.logo_url = "//cdn.example.com/logo.svg"},
        {.title = ""},
        {.title = "0123456789012345678901234567890123456789012345678901234567890123456789"
                  "0123456789012345678901234567890123456789"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        struct web *w = web_new(&bad[i], &e);
        if (w != NULL) {
            print_error("branding %zu accepted\n", i);
            web_free(w);
            fail();
        }
        assert_non_null(strstr(e.msg, "branding: "));
    }
}

static void test_branding_reaches_pages_and_css(void **state)
{
    struct web_branding b = {.title = "Acme <SSO>",
                             .logo_url = "https://cdn.example.com/acme.svg",
                             .primary = "#FACC15", /* light: dark text on buttons */
                             .background = "#123"};
    struct err e = {0};
    struct web *w = web_new(&b, &e);
    assert_non_null(w);
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_message m = {.title = "Hello"};
    assert_int_equal(web_page_message(w, &m, &out), 0);
    assert_non_null(strstr(out.p, "<title>Hello · Acme &lt;SSO&gt;</title>"));
    assert_non_null(strstr(out.p, "<span class=\"brand-name\">Acme &lt;SSO&gt;</span>"));
    assert_non_null(strstr(out.p, "src=\"https://cdn.example.com/acme.svg\""));
    const struct web_asset *css = web_asset_find(w, "postern.css");
    assert_non_null(css);
    char *text = strndup((const char *)css->data, css->len);
    assert_non_null(strstr(text, "--pt-primary:#FACC15;--pt-on-primary:#111418;"));
    assert_non_null(strstr(text, "--pt-bg:#123;--pt-on-bg:#c9ced6;"));
    assert_non_null(strstr(text, "@media (prefers-color-scheme: dark){:root{--pt-primary:"
                                 "#2dd4bf;"));
    /* The default primary gets white text; the ETag differs from the default site's. */
    const struct web_asset *css0 = web_asset_find(site, "postern.css");
    free(text);
    text = strndup((const char *)css0->data, css0->len);
    assert_non_null(strstr(text, "--pt-primary:#0f766e;--pt-on-primary:#ffffff;"));
    assert_non_null(strstr(text, "--pt-accent:#0f766e;"));
    assert_string_not_equal(css->etag, css0->etag);
    free(text);
    buf_free(&out);
    web_free(w);
}

/* A light primary gets dark button text; the dump shows a branded login page. */
static void test_branded_login(void **state)
{
    struct web_branding b = {.title = "Acme SSO",
                             .primary = "#facc15",
                             .background = "#1e293b",
                             .primary_dark = "#fde047",
                             .background_dark = "#020617"};
    struct err e = {0};
    struct web *w = web_new(&b, &e);
    assert_non_null(w);
    struct buf out;
    buf_init(&out, WEB_PAGE_MAX);
    struct web_login l = {.action = "/login", .csrf_token = "t", .app_name = "Wiki"};
    assert_int_equal(web_page_login(w, &l, &out), 0);
    assert_page(out.p);
    const struct web_asset *css = web_asset_find(w, "postern.css");
    char *text = strndup((const char *)css->data, css->len);
    assert_non_null(strstr(text, "--pt-primary:#facc15;--pt-on-primary:#111418;"));
    assert_non_null(strstr(text, "--pt-bg:#1e293b;--pt-on-bg:#c9ced6;"));
    /* Pale yellow does not read on the white card: links and focus use the text colour. */
    assert_non_null(strstr(text, "--pt-accent:#111827;"));
    /* On the dark card it does. */
    assert_non_null(strstr(text, "--pt-accent:#fde047;"));
    free(text);
    const char *dir = getenv("WEB_DUMP_DIR");
    if (dir != NULL) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s/branded", dir);
        mkdir(sub, 0755);
        snprintf(sub, sizeof sub, "%s/branded/static", dir);
        mkdir(sub, 0755);
        dump("branded/login.html", out.p, out.len);
        dump("branded/static/postern.css", (const char *)css->data, css->len);
        const struct web_asset *logo = web_asset_find(w, "logo.svg");
        dump("branded/static/logo.svg", (const char *)logo->data, logo->len);
    }
    buf_free(&out);
    web_free(w);
}

static void test_dump_assets(void **state)
{
    const char *dir = getenv("WEB_DUMP_DIR");
    const char *names[] = {"postern.css", "logo.svg"};
    for (size_t i = 0; i < 2; i++) {
        const struct web_asset *a = web_asset_find(site, names[i]);
        assert_non_null(a);
        assert_true(a->len > 100);
        if (dir != NULL) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s/static", dir);
            mkdir(sub, 0755);
            char name[64];
            snprintf(name, sizeof name, "static/%s", names[i]);
            dump(name, (const char *)a->data, a->len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_page),
        cmocka_unit_test(test_login_page_with_hostile_values),
        cmocka_unit_test(test_consent_page),
        cmocka_unit_test(test_error_page),
        cmocka_unit_test(test_logged_out_page),
        cmocka_unit_test(test_idp_choice_page),
        cmocka_unit_test(test_access_denied_page),
        cmocka_unit_test(test_message_and_form_post_pages),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_branding_is_validated),
        cmocka_unit_test(test_branding_reaches_pages_and_css),
        cmocka_unit_test(test_branded_login),
        cmocka_unit_test(test_dump_assets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
