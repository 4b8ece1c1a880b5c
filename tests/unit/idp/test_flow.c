/* Tests of src/idp/flow.c and src/idp/logout.c: the login and logout pages, driven over real
 * HTTP against an in-process server (the handlers defer to the worker pool, which uses
 * store_thread connections to the same temporary database). */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "web/web.h"

#define PW       "s3cret-pass"
#define RESP_MAX (512 * 1024)
#define REQ_MAX  (64 * 1024)

static struct fixture *fx;
static struct web *web;
static struct http_router *router;
static struct http_server *server;
static pthread_t server_thread;
static int port;

static void *run_server(void *arg)
{
    http_server_run(server);
    return NULL;
}

static int group_setup(void **state)
{
    if (fx_setup((void **)&fx) < 0) {
        return -1;
    }
    struct err e = {0};
    fx->idp.cfg.throttle_max_failures = 3;
    fx->idp.cfg.throttle_window = 600;
    fx->idp.cfg.throttle_lockout = 300;
    char *phc = idp_password_hash(SLICE_LIT(PW), &e);
    fx_user(fx->s, "alice", "alice@example.com", phc, true);
    fx_user(fx->s, "bob", "bob@example.com", phc, true);
    fx_user(fx->s, "carol", NULL, phc, true);
    fx_user(fx->s, "dave", NULL, phc, true);
    free(phc);
    web = web_new(NULL, &e);
    if (web == NULL || store_global_init(fx->url, &e) < 0) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    fx->idp.web = web;
    router = http_router_new();
    if (idp_routes(router, &fx->idp) < 0) {
        return -1;
    }
    struct http_listen l = {.address = (char *)"127.0.0.1:0"};
    struct http_server_config cfg = {.listen = &l, .nlisten = 1, .threads = 1, .worker_threads = 2};
    server = http_server_new(&cfg, router, &e);
    if (server == NULL) {
        fprintf(stderr, "server: %s\n", e.msg);
        return -1;
    }
    port = http_server_port(server, 0);
    pthread_create(&server_thread, NULL, run_server, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    http_server_stop(server);
    pthread_join(server_thread, NULL);
    http_server_free(server);
    http_router_free(router);
    web_free(web);
    store_global_shutdown();
    void *p = fx;
    return fx_teardown(&p);
}

/* ---- a small HTTP/1.1 client ------------------------------------------------------- */

struct resp {
    int status;
    char *raw;  /* head and body */
    char *body; /* into raw */
};

static void resp_free(struct resp *r)
{
    free(r->raw);
    memset(r, 0, sizeof *r);
}

/* Sends one request (Connection: close) and reads the whole answer. */
static struct resp request(const char *method, const char *target, const char *cookie,
                           const char *form)
{
    struct resp r = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static char req[REQ_MAX];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: auth.example.com\r\nConnection: close\r\n"
                     "User-Agent: idp-test\r\n%s%s%s%s%zu\r\n\r\n%s",
                     method, target, cookie ? "Cookie: " : "", cookie ? cookie : "",
                     cookie ? "\r\n" : "",
                     form ? "Content-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: "
                          : "Content-Length: ",
                     form ? strlen(form) : 0, form ? form : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    r.raw = calloc(1, RESP_MAX);
    size_t got = 0;
    ssize_t k;
    while ((k = recv(fd, r.raw + got, RESP_MAX - 1 - got, 0)) > 0) {
        got += (size_t)k;
    }
    close(fd);
    assert_true(got > 12);
    r.status = (int)strtol(r.raw + 9, NULL, 10);
    char *sep = strstr(r.raw, "\r\n\r\n");
    assert_non_null(sep);
    *sep = '\0';
    r.body = sep + 4;
    return r;
}

static struct resp get(const char *target, const char *cookie)
{
    return request("GET", target, cookie, NULL);
}

/* The value of the first header `name` (case-insensitive), copied into out; false if none.
 * With a value prefix, the first header whose value starts with it. */
static bool header(const struct resp *r, const char *name, const char *prefix, char *out,
                   size_t outsz)
{
    const char *p = r->raw;
    size_t nl = strlen(name);
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') {
                v++;
            }
            if (prefix != NULL && strncmp(v, prefix, strlen(prefix)) != 0) {
                continue;
            }
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            snprintf(out, outsz, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

/* The value="..." of the input named name in the page (in the same tag). */
static bool input_value(const struct resp *r, const char *name, char *out, size_t outsz)
{
    char pat[128];
    snprintf(pat, sizeof pat, "name=\"%s\"", name);
    const char *p = strstr(r->body, pat);
    if (p == NULL) {
        return false;
    }
    const char *v = strstr(p, "value=\"");
    const char *close = strchr(p, '>');
    if (v == NULL || close == NULL || v > close) {
        return false;
    }
    v += strlen("value=\"");
    const char *end = strchr(v, '"');
    snprintf(out, outsz, "%.*s", (int)(end - v), v);
    return true;
}

/* The href of the logout confirmation, with the template's "&#61;" turned back into '='. */
static bool logout_link(const struct resp *r, char *out, size_t outsz)
{
    const char *a = strstr(r->body, "href=\"" IDP_LOGOUT_PATH "?csrf_token&#61;");
    if (a == NULL) {
        return false;
    }
    a += strlen("href=\"" IDP_LOGOUT_PATH "?csrf_token&#61;");
    const char *end = strchr(a, '"');
    snprintf(out, outsz, "%s?csrf_token=%.*s", IDP_LOGOUT_PATH, (int)(end - a), a);
    return true;
}

/* "name=value" of a Set-Cookie for name, up to the first ';'. */
static bool cookie_pair(const struct resp *r, const char *name, char *out, size_t outsz)
{
    char prefix[64], full[512];
    snprintf(prefix, sizeof prefix, "%s=", name);
    if (!header(r, "Set-Cookie", prefix, full, sizeof full)) {
        return false;
    }
    snprintf(out, outsz, "%.*s", (int)strcspn(full, ";"), full);
    return true;
}

static char *url_enc(const char *s)
{
    struct buf b;
    buf_init(&b, 3 * 16384);
    http_url_encode(slice_z(s), &b);
    return buf_steal(&b, NULL);
}

/* Loads the form: csrf cookie "postern_csrf=..." and the token. */
static void load_form(const char *target, char *csrf_cookie, size_t cc, char *token, size_t tc)
{
    struct resp r = get(target, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cookie_pair(&r, IDP_CSRF_COOKIE, csrf_cookie, cc));
    assert_true(input_value(&r, "csrf_token", token, tc));
    resp_free(&r);
}

/* Logs in; returns the response (302 expected) and the session cookie pair. */
static struct resp post_login(const char *user, const char *pw, const char *next, char *session,
                              size_t sz)
{
    char csrf[128], token[128], cookie[512], form[4096];
    load_form(IDP_LOGIN_PATH, csrf, sizeof csrf, token, sizeof token);
    char *u = url_enc(user), *p = url_enc(pw), *n = url_enc(next);
    snprintf(form, sizeof form, "username=%s&password=%s&csrf_token=%s&next=%s", u, p, token, n);
    snprintf(cookie, sizeof cookie, "%s", csrf);
    free(u);
    free(p);
    free(n);
    struct resp r = request("POST", IDP_LOGIN_PATH, cookie, form);
    if (session != NULL && !cookie_pair(&r, IDP_SESSION_COOKIE, session, sz)) {
        session[0] = '\0';
    }
    return r;
}

/* ---- scenarios -------------------------------------------------------------------- */

static void login_page(void **state)
{
    struct resp r =
        get(IDP_LOGIN_PATH "?next=%2Fapplication%2Fo%2Fauthorize%2F%3Fa%3D1%26b%3D2", NULL);
    char v[1024];
    assert_int_equal(r.status, 200);
    assert_true(header(&r, "Content-Type", NULL, v, sizeof v));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_true(header(&r, "Content-Security-Policy", NULL, v, sizeof v));
    assert_null(strstr(v, "form-action")); /* the POST ends in redirects to other origins */
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_true(header(&r, "Cache-Control", NULL, v, sizeof v));
    assert_string_equal(v, "no-store");
    assert_true(header(&r, "Set-Cookie", "postern_csrf=", v, sizeof v));
    assert_non_null(strstr(v, "; Path=/if/flow/; HttpOnly; SameSite=Lax; Secure"));
    assert_non_null(strstr(r.body, "name=\"username\""));
    assert_non_null(strstr(r.body, "name=\"password\""));
    assert_true(input_value(&r, "csrf_token", v, sizeof v));
    assert_int_equal(strlen(v), 55);
    assert_true(input_value(&r, "next", v, sizeof v));
    assert_string_equal(v, "/application/o/authorize/?a&#61;1&amp;b&#61;2");
    resp_free(&r);
    /* an invalid next is replaced by "/" already in the form */
    r = get(IDP_LOGIN_PATH "?next=%2F%2Fevil.com", NULL);
    assert_true(input_value(&r, "next", v, sizeof v));
    assert_string_equal(v, "/");
    resp_free(&r);
    /* login_hint prefills the username, escaped */
    r = get(IDP_LOGIN_PATH "?login_hint=%22%3E%3Cscript%3Ex", NULL);
    assert_true(input_value(&r, "username", v, sizeof v));
    assert_string_equal(v, "&quot;&gt;&lt;script&gt;x");
    assert_null(strstr(r.body, "<script>"));
    resp_free(&r);
    /* without the trailing slash too; HEAD; other paths and methods */
    r = get("/if/flow/default-authentication-flow?next=/", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = request("HEAD", IDP_LOGIN_PATH, NULL, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = get(IDP_LOGIN_PATH "extra", NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = request("PUT", IDP_LOGIN_PATH, NULL, "a=b");
    assert_int_equal(r.status, 405);
    assert_true(header(&r, "Allow", NULL, v, sizeof v));
    resp_free(&r);
    r = get("/static/postern.css", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void login_success_and_session(void **state)
{
    char session[256], v[1024];
    struct resp r =
        post_login("alice", PW, "/application/o/authorize/?x=1", session, sizeof session);
    assert_int_equal(r.status, 302);
    assert_true(header(&r, "Location", NULL, v, sizeof v));
    assert_string_equal(v, "/application/o/authorize/?x=1");
    assert_true(header(&r, "Set-Cookie", "postern_session=", v, sizeof v));
    assert_non_null(strstr(v, "; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure"));
    assert_int_equal(strlen(session), strlen("postern_session=") + IDP_TOKEN_CHARS);
    resp_free(&r);
    /* with the session, the login page goes straight to next */
    r = get(IDP_LOGIN_PATH "?next=%2Fafter", session);
    assert_int_equal(r.status, 302);
    assert_true(header(&r, "Location", NULL, v, sizeof v));
    assert_string_equal(v, "/after");
    resp_free(&r);
    /* unless prompt=login */
    r = get(IDP_LOGIN_PATH "?next=%2Fafter&prompt=login", session);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "name=\"password\""));
    resp_free(&r);
    /* by email; an evil next falls back to "/" */
    r = post_login("alice@example.com", PW, "//evil.com", NULL, 0);
    assert_int_equal(r.status, 302);
    assert_true(header(&r, "Location", NULL, v, sizeof v));
    assert_string_equal(v, "/");
    resp_free(&r);
    assert_int_equal(fx_events(fx->s, "login"), 2);
}

static void login_failures(void **state)
{
    char v[1024], session[256];
    /* wrong password, unknown user: the same page and message, no session */
    const char *who[][2] = {{"bob", "wrong-password"}, {"nobody", "wrong-password"}};
    char *bodies[2];
    for (int i = 0; i < 2; i++) {
        struct resp r = post_login(who[i][0], who[i][1], "/n", session, sizeof session);
        assert_int_equal(r.status, 200);
        assert_string_equal(session, "");
        assert_non_null(strstr(r.body, "Invalid username or password"));
        assert_null(strstr(r.body, "wrong-password")); /* the password is never echoed */
        assert_true(input_value(&r, "username", v, sizeof v));
        assert_string_equal(v, who[i][0]);
        assert_true(input_value(&r, "next", v, sizeof v));
        assert_string_equal(v, "/n");
        /* the pages differ only in the echoed username and the token */
        char *b = strstr(r.body, "role=\"alert\"");
        assert_non_null(b);
        bodies[i] = strndup(b, 120);
        resp_free(&r);
    }
    assert_string_equal(bodies[0], bodies[1]);
    free(bodies[0]);
    free(bodies[1]);
    /* empty fields: the same message */
    struct resp r = post_login("bob", "", "/", session, sizeof session);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Invalid username or password"));
    resp_free(&r);
}

static void csrf_required(void **state)
{
    char csrf[128], token[128], other_csrf[128], other_token[128], form[1024];
    load_form(IDP_LOGIN_PATH, csrf, sizeof csrf, token, sizeof token);
    load_form(IDP_LOGIN_PATH, other_csrf, sizeof other_csrf, other_token, sizeof other_token);
    /* no token, no cookie, a token of another browser, a forged one */
    snprintf(form, sizeof form, "username=carol&password=%s&next=/", PW);
    struct resp r = request("POST", IDP_LOGIN_PATH, csrf, form);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "This form has expired"));
    resp_free(&r);
    snprintf(form, sizeof form, "username=carol&password=%s&next=/&csrf_token=%s", PW, token);
    r = request("POST", IDP_LOGIN_PATH, NULL, form);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = request("POST", IDP_LOGIN_PATH, other_csrf, form);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    /* a repeated csrf_token is ambiguous: refused */
    snprintf(form, sizeof form, "username=carol&password=%s&csrf_token=%s&csrf_token=%s", PW, token,
             token);
    r = request("POST", IDP_LOGIN_PATH, csrf, form);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    /* the right pair works */
    snprintf(form, sizeof form, "username=carol&password=%s&next=/&csrf_token=%s", PW, token);
    r = request("POST", IDP_LOGIN_PATH, csrf, form);
    assert_int_equal(r.status, 302);
    resp_free(&r);
    /* a body that is not a form */
    r = request("POST", IDP_LOGIN_PATH, csrf, NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static void throttled_429(void **state)
{
    char v[64];
    struct err e = {0};
    /* every test client is 127.0.0.1: start from a clean address */
    assert_int_equal(store_attempt_reset(fx->s, "ip:127.0.0.1", &e), 0);
    for (int i = 0; i < 3; i++) {
        struct resp r = post_login("dave", "not-the-password", "/", NULL, 0);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    struct resp r = post_login("dave", PW, "/", NULL, 0);
    assert_int_equal(r.status, 429);
    assert_non_null(strstr(r.body, "Invalid username or password"));
    assert_true(header(&r, "Retry-After", NULL, v, sizeof v));
    assert_true(strtol(v, NULL, 10) > 0 && strtol(v, NULL, 10) <= 300);
    resp_free(&r);
    assert_int_equal(fx_events(fx->s, "login_throttled"), 2); /* the user, and 127.0.0.1 */
    /* the address is locked too now: lift it for the next tests */
    assert_int_equal(store_attempt_reset(fx->s, "ip:127.0.0.1", &e), 0);
}

static void logout_flow(void **state)
{
    char session[256], v[2048], link[2048];
    struct resp r = post_login("bob", PW, "/", session, sizeof session);
    assert_int_equal(r.status, 302);
    resp_free(&r);
    /* GET asks first: no logout by a cross-site <img> */
    r = get(IDP_LOGOUT_PATH, session);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "bob"));
    assert_true(logout_link(&r, link, sizeof link));
    resp_free(&r);
    r = get(IDP_LOGIN_PATH "?next=%2Fstill", session);
    assert_int_equal(r.status, 302); /* still signed in */
    resp_free(&r);
    /* a forged token: asked again, 403 */
    r = get(IDP_LOGOUT_PATH "?csrf_token=AQAAAABrSWYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            session);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    r = request("POST", IDP_LOGOUT_PATH, session, "csrf_token=nope");
    assert_int_equal(r.status, 403);
    resp_free(&r);
    /* HEAD with the token changes nothing */
    r = request("HEAD", link, session, NULL);
    resp_free(&r);
    r = get(IDP_LOGIN_PATH, session);
    assert_int_equal(r.status, 302);
    resp_free(&r);
    /* the confirmation's token logs out */
    r = get(link, session);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "logged out"));
    assert_true(header(&r, "Set-Cookie", "postern_session=", v, sizeof v));
    assert_string_equal(v, "postern_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
    resp_free(&r);
    r = get(IDP_LOGIN_PATH, session);
    assert_int_equal(r.status, 200); /* the form again */
    resp_free(&r);
    assert_int_equal(fx_events(fx->s, "logout"), 1);
    /* POST with the token of the confirmation page */
    r = post_login("bob", PW, "/", session, sizeof session);
    resp_free(&r);
    r = get(IDP_LOGOUT_PATH, session);
    char form[256];
    assert_true(logout_link(&r, link, sizeof link));
    snprintf(form, sizeof form, "%s", strchr(link, '?') + 1);
    resp_free(&r);
    r = request("POST", IDP_LOGOUT_PATH, session, form);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "logged out"));
    resp_free(&r);
    assert_int_equal(fx_events(fx->s, "logout"), 2);
    /* a logout token of one session is worth nothing for another */
    char session2[256];
    r = post_login("bob", PW, "/", session2, sizeof session2);
    resp_free(&r);
    r = request("POST", IDP_LOGOUT_PATH, session2, form);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    /* without a session: the logged-out page */
    r = get(IDP_LOGOUT_PATH, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "logged out"));
    resp_free(&r);
}

/* Every payload of the list, as `next` of a signed-in browser: the 302 stays on "/". */
static void open_redirect_payloads(void **state)
{
    char session[256], v[8192];
    struct resp r = post_login("alice", PW, "/", session, sizeof session);
    assert_int_equal(r.status, 302);
    resp_free(&r);
    char path[512];
    snprintf(path, sizeof path, "%s/open-redirect.txt", getenv("IDP_VECTORS"));
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char line[8192], target[32768];
    size_t n = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0') {
            continue;
        }
        char *enc = url_enc(line);
        snprintf(target, sizeof target, "%s?next=%s", IDP_LOGIN_PATH, enc);
        free(enc);
        if (strlen(target) > 8000) {
            continue; /* past the request-line limit: 414 before us */
        }
        r = get(target, session);
        assert_int_equal(r.status, 302);
        assert_true(header(&r, "Location", NULL, v, sizeof v));
        if (strcmp(v, "/") != 0) {
            fail_msg("payload [%s] redirected to [%s]", line, v);
        }
        resp_free(&r);
        n++;
    }
    fclose(fp);
    print_message("# %zu payloads over HTTP, all to \"/\"\n", n);
    assert_true(n >= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_page),
        cmocka_unit_test(login_success_and_session),
        cmocka_unit_test(login_failures),
        cmocka_unit_test(csrf_required),
        cmocka_unit_test(throttled_429),
        cmocka_unit_test(logout_flow),
        cmocka_unit_test(open_redirect_payloads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
