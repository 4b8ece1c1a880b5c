/* Unit tests for src/http/fetch.c and fetch_loop.c: outbound requests against real servers on
 * 127.0.0.1 started here (Debian's Python http.server, plain and TLS with a self-signed
 * certificate made by `openssl req -x509`), a listener that never answers, and a port that
 * refuses. The server is tests/vectors/fetch/server.py (its path is argv[1]). Every server is
 * stopped by PID in the group teardown, also when a test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

struct env {
    const char *server_py; /* tests/vectors/fetch/server.py (argv[1]) */
    char dir[64];
    char cert[128], key[128];
    pid_t http_pid, https_pid;
    int http_port, https_port;
    int silent_fd, silent_port; /* listens, never accepts: requests time out */
    int refused_port;           /* nothing listens there */
};

static struct env G;

/* ---- servers -------------------------------------------------------------- */

static pid_t spawn_server(const char *mode, int *port)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(PYTHON, PYTHON, G.server_py, mode, G.cert, G.key, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* The port, then a newline (which may come in a write of its own). */
    char line[32] = {0};
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        ssize_t k = read(p[0], line + n, sizeof(line) - 1 - n);
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    close(p[0]);
    uint64_t v = 0;
    if (pid < 0 || n <= 1 || line[n - 1] != '\n' ||
        util_parse_u64((struct slice){line, n - 1}, 65535, &v) != 0) {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    *port = (int)v;
    return pid;
}

static void stop_server(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* A TCP socket on 127.0.0.1 with a kernel-chosen port; listening or not. */
static int loopback_socket(bool listening, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || (listening && listen(fd, 512) != 0)) {
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static int group_setup(void **state)
{
    /* The test talks to 127.0.0.1 directly, whatever proxy the environment names. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    snprintf(G.dir, sizeof(G.dir), "/tmp/postern-fetch-XXXXXX");
    if (mkdtemp(G.dir) == NULL) {
        return -1;
    }
    snprintf(G.cert, sizeof(G.cert), "%s/cert.pem", G.dir);
    snprintf(G.key, sizeof(G.key), "%s/key.pem", G.dir);
    char cmd[1024];
    /* The certificate names localhost only: https://127.0.0.1 is a name mismatch. */
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
             "-keyout %s -out %s 2>/dev/null",
             G.key, G.cert);
    if (system(cmd) != 0) {
        return -1;
    }
    G.http_pid = spawn_server("http", &G.http_port);
    G.https_pid = spawn_server("https", &G.https_port);
    G.silent_fd = loopback_socket(true, &G.silent_port);
    int fd = loopback_socket(false, &G.refused_port);
    if (fd >= 0) {
        close(fd); /* bound then closed: nothing listens on that port */
    }
    return G.http_pid > 0 && G.https_pid > 0 && G.silent_fd >= 0 && fd >= 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    stop_server(&G.http_pid);
    stop_server(&G.https_pid);
    if (G.silent_fd >= 0) {
        close(G.silent_fd);
    }
    unlink(G.cert);
    unlink(G.key);
    rmdir(G.dir);
    return 0;
}

/* ---- running requests -------------------------------------------------------- */

/* What a done callback saw (a copy: res is only valid during the call). */
struct got {
    int calls;
    enum http_fetch_status status;
    long http_status;
    char error[256];
    char content_type[128];
    int64_t date;
    struct buf body;
    struct event_base *stop; /* loopbreak when set */
};

static void on_done(struct http_fetch_result *res, void *arg)
{
    struct got *g = arg;
    g->calls++;
    g->status = res->status;
    g->http_status = res->http_status;
    memcpy(g->error, res->error, sizeof(g->error));
    memcpy(g->content_type, res->content_type, sizeof(g->content_type));
    g->date = res->date;
    buf_free(&g->body);
    g->body = res->body; /* take the body, as http.h allows */
    buf_init(&res->body, 0);
    if (g->stop != NULL) {
        event_base_loopbreak(g->stop);
    }
}

static void got_free(struct got *g)
{
    buf_free(&g->body);
}

/* One asynchronous request on a fresh loop, run to its end. */
static void run(const struct http_fetch_req *r, struct got *g)
{
    struct event_base *base = event_base_new();
    struct err e = {0};
    memset(g, 0, sizeof(*g));
    g->stop = base;
    assert_int_equal(http_fetch_start(base, r, on_done, g, &e), 0);
    assert_int_equal(g->calls, 0); /* never from inside the start */
    event_base_dispatch(base);
    http_fetch_loop_free(base);
    event_base_free(base);
    assert_int_equal(g->calls, 1);
}

static char *url(bool tls, const char *host, int port, const char *path)
{
    static __thread char u[4][256]; /* per thread: see test_one_loop_per_thread */
    static __thread int i;
    char *s = u[i++ % 4];
    snprintf(s, 256, "%s://%s:%d%s", tls ? "https" : "http", host, port, path);
    return s;
}

static json_t *body_json(const struct got *g)
{
    struct err e = {0};
    json_t *j = util_json_parse((struct slice){g->body.p, g->body.len}, &e);
    assert_non_null(j);
    return j;
}

/* The only value of a request header the echo server saw, or NULL. */
static const char *echoed_header(json_t *j, const char *name)
{
    json_t *v = json_object_get(json_object_get(j, "headers"), name);
    if (v == NULL) {
        return NULL;
    }
    assert_int_equal(json_array_size(v), 1);
    return json_string_value(json_array_get(v, 0));
}

/* ---- plain HTTP ----------------------------------------------------------------- */

static void test_get_json(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo?a=1"),
                               .accept = "application/json"};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 200);
    assert_string_equal(g.error, "");
    assert_string_equal(g.content_type, "application/json");
    json_t *j = body_json(&g);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/echo?a=1");
    assert_string_equal(echoed_header(j, "accept"), "application/json");
    assert_string_equal(echoed_header(j, "user-agent"), "postern");
    assert_null(echoed_header(j, "authorization"));
    /* A Date near now: the server's clock is ours. */
    assert_true(g.date > util_now() - 60 && g.date < util_now() + 60);
    json_decref(j);
    got_free(&g);
}

/* RFC 6749 section 2.3.1: id and secret form-urlencoded, then "id:secret" in base64. The
 * expected header was computed independently (Python urllib.parse.quote + base64). */
static void test_post_client_secret_basic(void **state)
{
    const char form[] = "grant_type=authorization_code&code=abc%2B&redirect_uri=x";
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo"),
                               .method = "POST",
                               .content_type = "application/x-www-form-urlencoded",
                               .body = SLICE_LIT(form),
                               .basic_user = "my:client%id",
                               .basic_password = "p@ss:w rd+/~",
                               .accept = "application/json"};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 200);
    json_t *j = body_json(&g);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(j, "body")), form);
    assert_string_equal(echoed_header(j, "authorization"),
                        "Basic bXklM0FjbGllbnQlMjVpZDpwJTQwc3MlM0F3JTIwcmQlMkIlMkZ+");
    assert_string_equal(echoed_header(j, "content-type"), "application/x-www-form-urlencoded");
    assert_string_equal(echoed_header(j, "content-length"), "56");
    assert_null(echoed_header(j, "expect")); /* no 100-continue round trip */
    json_decref(j);
    got_free(&g);
}

static void test_post_empty_password_and_body(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo"),
                               .method = "POST",
                               .basic_user = "public"};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    json_t *j = body_json(&g);
    assert_string_equal(echoed_header(j, "authorization"), "Basic cHVibGljOg=="); /* public: */
    assert_string_equal(json_string_value(json_object_get(j, "body")), "");
    json_decref(j);
    got_free(&g);
}

static void test_status_500_is_a_response(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/500")};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 500);
    assert_int_equal(g.body.len, 16);
    assert_memory_equal(g.body.p, "{\"error\":\"boom\"}", 16);
    got_free(&g);
}

/* An IdP answering 302 is a diagnosis, not something to follow. */
static void test_redirect_not_followed(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/redirect")};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 302);
    assert_int_equal(g.body.len, 0);
    got_free(&g);
}

static void test_date_parsed(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/date")};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.date, 784111777); /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 5.6.7) */
    got_free(&g);
}

static void test_connection_refused(void **state)
{
    char want[64];
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.refused_port, "/token"),
                               .method = "POST",
                               .body = SLICE_LIT("code=topsecretcode"),
                               .basic_user = "id",
                               .basic_password = "topsecret"};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_UNREACHABLE);
    assert_int_equal(g.http_status, 0);
    snprintf(want, sizeof(want), "connection refused by 127.0.0.1:%d", G.refused_port);
    assert_string_equal(g.error, want);
    assert_null(strstr(g.error, "topsecret"));
    got_free(&g);
}

static void test_unknown_host(void **state)
{
    struct http_fetch_req r = {.url = "http://no-such-host.invalid/", .connect_timeout_ms = 3000};
    struct got g;
    run(&r, &g);
    /* Without DNS at all the resolver may time out instead; never OK. */
    assert_true(g.status == HTTP_FETCH_UNREACHABLE || g.status == HTTP_FETCH_TIMEOUT);
    if (g.status == HTTP_FETCH_UNREACHABLE) {
        assert_string_equal(g.error, "cannot resolve the host name no-such-host.invalid");
    }
    got_free(&g);
}

static void test_timeout_within_bound(void **state)
{
    char want[128];
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.silent_port, "/"),
                               .timeout_ms = 300};
    struct got g;
    int64_t t0 = util_mono_ms();
    run(&r, &g);
    int64_t took = util_mono_ms() - t0;
    assert_int_equal(g.status, HTTP_FETCH_TIMEOUT);
    assert_true(took >= 290 && took < 2000);
    snprintf(want, sizeof(want), "timed out after 300 ms waiting for the response of 127.0.0.1:%d",
             G.silent_port);
    assert_string_equal(g.error, want);
    got_free(&g);
}

static void test_body_limits(void **state)
{
    struct got g;
    /* Content-Length above the limit: refused before one byte of the body is read. */
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/big/100000"),
                               .max_body = 20000};
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TOO_BIG);
    assert_int_equal(g.http_status, 200);
    assert_non_null(strstr(g.error, "larger than 20000 bytes"));
    assert_int_equal(g.body.len, 0);
    got_free(&g);
    r.max_body = 1000;
    /* No length (chunked): the transfer is aborted when the limit is passed. */
    r.url = url(false, "127.0.0.1", G.http_port, "/chunked/5000");
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TOO_BIG);
    assert_true(g.body.len <= 1000);
    got_free(&g);
    /* Exactly at the limit: fine, both ways. */
    r.url = url(false, "127.0.0.1", G.http_port, "/big/1000");
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.body.len, 1000);
    got_free(&g);
    r.url = url(false, "127.0.0.1", G.http_port, "/chunked/1000");
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.body.len, 1000);
    assert_int_equal(g.body.p[999], 'y');
    got_free(&g);
    /* The default limit is 1 MiB. */
    r.max_body = 0;
    r.url = url(false, "127.0.0.1", G.http_port, "/big/1048577");
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TOO_BIG);
    got_free(&g);
}

/* ---- HTTPS ----------------------------------------------------------------------- */

static void test_tls_self_signed_untrusted(void **state)
{
    struct http_fetch_req r = {.url = url(true, "localhost", G.https_port, "/echo")};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TLS);
    assert_int_equal(g.http_status, 0);
    assert_string_equal(g.error, "certificate verify failed: self-signed certificate");
    got_free(&g);
}

static void test_tls_ca_file_trusts(void **state)
{
    struct http_fetch_req r = {.url = url(true, "localhost", G.https_port, "/echo"),
                               .ca_file = G.cert};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 200);
    json_t *j = body_json(&g);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    json_decref(j);
    got_free(&g);
}

static void test_tls_name_mismatch(void **state)
{
    char want[128];
    struct http_fetch_req r = {.url = url(true, "127.0.0.1", G.https_port, "/echo"),
                               .ca_file = G.cert};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TLS);
    snprintf(want, sizeof(want),
             "certificate of 127.0.0.1:%d does not match the host name 127.0.0.1", G.https_port);
    assert_string_equal(g.error, want);
    got_free(&g);
}

static void test_tls_missing_ca_file(void **state)
{
    struct http_fetch_req r = {.url = url(true, "localhost", G.https_port, "/echo"),
                               .ca_file = "/nonexistent/ca.pem"};
    struct got g;
    run(&r, &g);
    assert_int_equal(g.status, HTTP_FETCH_TLS);
    assert_true(slice_starts_with_z(slice_z(g.error), "cannot use the CA file"));
    got_free(&g);
}

/* Plain HTTP to the TLS port: the server's TLS alert is not an HTTP response. */
static void test_http_to_tls_port(void **state)
{
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.https_port, "/echo"),
                               .timeout_ms = 3000};
    struct got g;
    run(&r, &g);
    assert_true(g.status == HTTP_FETCH_PROTOCOL || g.status == HTTP_FETCH_TIMEOUT);
    assert_string_not_equal(g.error, "");
    got_free(&g);
}

/* ---- refused before anything is sent ---------------------------------------------- */

static void test_bad_urls(void **state)
{
    static char longurl[HTTP_FETCH_MAX_URL + 64];
    snprintf(longurl, sizeof(longurl), "http://127.0.0.1:%d/", G.http_port);
    size_t n = strlen(longurl);
    memset(longurl + n, 'a', sizeof(longurl) - n - 1);
    longurl[sizeof(longurl) - 1] = '\0';
    const char *bad[] = {
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1/",
        "dict://127.0.0.1:11211/stat",
        "ldap://127.0.0.1/",
        "javascript:alert(1)",
        "not a url",
        "",
        "http://",
        "http://:80/",
        "//127.0.0.1/x",
        "/relative",
        "http://user:pw@127.0.0.1:1/",
        "http://user@127.0.0.1:1/",
        "http://127.0.0.1:1/\r\nX-Injected: 1",
        "http://127.0.0.1:1/a b",
        "http://127.0.0.1:99999/",
        longurl,
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        struct http_fetch_req r = {.url = bad[i]};
        struct got g;
        run(&r, &g);
        if (g.status != HTTP_FETCH_BAD_URL) {
            print_error("accepted: %.60s (%s)\n", bad[i], g.error);
        }
        assert_int_equal(g.status, HTTP_FETCH_BAD_URL);
        assert_int_equal(g.http_status, 0);
        assert_string_not_equal(g.error, "");
        got_free(&g);
    }
    /* Our check speaks first (curl's protocol allow-list is the second lock). */
    struct got g;
    run(&(struct http_fetch_req){.url = "file:///etc/passwd"}, &g);
    assert_string_equal(g.error, "only http:// and https:// URLs are allowed, not file:");
    got_free(&g);
    run(&(struct http_fetch_req){.url = "http://u:topsecret@127.0.0.1/"}, &g);
    assert_string_equal(g.error, "credentials in the URL are refused");
    got_free(&g);
    /* The scheme is case-insensitive (RFC 3986 section 3.1). */
    struct http_fetch_req ok = {.url = url(false, "127.0.0.1", G.http_port, "/500")};
    char upper[256];
    snprintf(upper, sizeof(upper), "HTTP%s", ok.url + 4);
    ok.url = upper;
    run(&ok, &g);
    assert_int_equal(g.status, HTTP_FETCH_OK);
    assert_int_equal(g.http_status, 500);
    got_free(&g);
}

static void test_misuse_refused_at_start(void **state)
{
    struct event_base *base = event_base_new();
    struct got g = {0};
    struct err e = {0};
    const char *u = url(false, "127.0.0.1", G.http_port, "/echo");
    char long_value[300];
    memset(long_value, 'a', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    struct http_fetch_req reqs[] = {
        {.url = u, .method = "PUT"},
        {.url = u, .method = "get"},
        {.url = u, .body = SLICE_LIT("x=1")}, /* a GET with a body */
        {.url = u, .accept = "application/json\r\nX-Injected: 1"},
        {.url = u, .method = "POST", .content_type = "text/plain\nX: y"},
        {.url = u, .accept = long_value},
        {.url = u, .timeout_ms = -1},
        {.url = u, .connect_timeout_ms = -5},
        {.url = NULL},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reqs); i++) {
        e.msg[0] = '\0';
        assert_int_equal(http_fetch_start(base, &reqs[i], on_done, &g, &e), -1);
        assert_string_not_equal(e.msg, "");
    }
    assert_int_equal(http_fetch_start(base, NULL, on_done, &g, &e), -1);
    assert_int_equal(http_fetch_start(NULL, &reqs[0], on_done, &g, &e), -1);
    assert_int_equal(http_fetch_start(base, &(struct http_fetch_req){.url = u}, NULL, &g, &e), -1);
    event_base_loop(base, EVLOOP_NONBLOCK);
    http_fetch_loop_free(base);
    event_base_free(base);
    assert_int_equal(g.calls, 0); /* -1 means done is never called */
}

/* ---- many transfers, one loop ---------------------------------------------------------- */

#define MANY 64

struct many {
    int calls[MANY + 8];
    int ok, refused, finished;
    struct event_base *base;
    int want;
};

struct many_ref {
    struct many *m;
    int i;
};

static void on_many(struct http_fetch_result *res, void *arg)
{
    struct many_ref *ref = arg;
    struct many *m = ref->m;
    m->calls[ref->i]++;
    if (res->status == HTTP_FETCH_OK) {
        char want[32];
        snprintf(want, sizeof(want), "\"/echo/%d\"", ref->i);
        if (res->http_status == 200 && res->body.p != NULL && strstr(res->body.p, want) != NULL) {
            m->ok++;
        }
    } else if (res->status == HTTP_FETCH_UNREACHABLE) {
        m->refused++;
    }
    if (++m->finished == m->want) {
        event_base_loopbreak(m->base);
    }
}

static void test_many_concurrent(void **state)
{
    static struct many m;
    static struct many_ref refs[MANY + 8];
    memset(&m, 0, sizeof(m));
    m.base = event_base_new();
    m.want = MANY + 8;
    struct err e = {0};
    char u[64];
    for (int i = 0; i < MANY + 8; i++) {
        refs[i] = (struct many_ref){&m, i};
        if (i < MANY) {
            snprintf(u, sizeof(u), "http://127.0.0.1:%d/echo/%d", G.http_port, i);
        } else {
            snprintf(u, sizeof(u), "http://127.0.0.1:%d/", G.refused_port);
        }
        struct http_fetch_req r = {.url = u, .method = i % 2 ? "POST" : "GET"};
        assert_int_equal(http_fetch_start(m.base, &r, on_many, &refs[i], &e), 0);
    }
    int64_t t0 = util_mono_ms();
    event_base_dispatch(m.base);
    print_message("# %d transfers on one loop in %lld ms\n", MANY + 8,
                  (long long)(util_mono_ms() - t0));
    http_fetch_loop_free(m.base);
    event_base_free(m.base);
    for (int i = 0; i < MANY + 8; i++) {
        assert_int_equal(m.calls[i], 1);
    }
    assert_int_equal(m.ok, MANY);
    assert_int_equal(m.refused, 8);
}

/* ---- freeing a loop with transfers in flight ------------------------------------------------ */

static void test_loop_free_cancels_in_flight(void **state)
{
    static struct got g[5];
    struct event_base *base = event_base_new();
    struct err e = {0};
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 5; i++) {
        struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.silent_port, "/")};
        assert_int_equal(http_fetch_start(base, &r, on_done, &g[i], &e), 0);
    }
    /* A refused URL queued but not yet delivered is delivered by the free, as itself. */
    struct got bad = {0};
    assert_int_equal(
        http_fetch_start(base, &(struct http_fetch_req){.url = "file:///"}, on_done, &bad, &e), 0);
    struct timeval tv = {0, 200 * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base); /* connected, waiting: nothing can finish */
    assert_int_equal(bad.calls, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g[i].calls, 0);
    }
    http_fetch_loop_free(base);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].status, HTTP_FETCH_CANCELLED);
        got_free(&g[i]);
    }
    http_fetch_loop_free(base); /* twice is harmless */
    event_base_free(base);
    got_free(&bad);
}

/* Past HTTP_FETCH_MAX_INFLIGHT the next request gets BUSY (through done, later). */
static void test_busy_beyond_inflight_bound(void **state)
{
    static struct got g[HTTP_FETCH_MAX_INFLIGHT + 1];
    struct event_base *base = event_base_new();
    struct err e = {0};
    memset(g, 0, sizeof(g));
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.silent_port, "/")};
    for (int i = 0; i <= HTTP_FETCH_MAX_INFLIGHT; i++) {
        assert_int_equal(http_fetch_start(base, &r, on_done, &g[i], &e), 0);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g[HTTP_FETCH_MAX_INFLIGHT].calls, 1);
    assert_int_equal(g[HTTP_FETCH_MAX_INFLIGHT].status, HTTP_FETCH_BUSY);
    http_fetch_loop_free(base);
    for (int i = 0; i <= HTTP_FETCH_MAX_INFLIGHT; i++) {
        assert_int_equal(g[i].calls, 1);
        if (i < HTTP_FETCH_MAX_INFLIGHT) {
            assert_int_equal(g[i].status, HTTP_FETCH_CANCELLED);
        }
        got_free(&g[i]);
    }
    event_base_free(base);
}

/* ---- done callbacks that start more work -------------------------------------------------- */

struct chain {
    struct event_base *base;
    int first, second;
    enum http_fetch_status second_status;
    int restart_rc;
};

static void on_second(struct http_fetch_result *res, void *arg)
{
    struct chain *c = arg;
    c->second++;
    c->second_status = res->status;
    event_base_loopbreak(c->base);
}

/* Like the Gate: the token answer arrives, then the JWKS is fetched from the same callback. */
static void on_first(struct http_fetch_result *res, void *arg)
{
    struct chain *c = arg;
    struct err e = {0};
    c->first++;
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo/jwks")};
    c->restart_rc = http_fetch_start(c->base, &r, on_second, c, &e);
}

static void test_done_starts_next_request(void **state)
{
    struct chain c = {.base = event_base_new()};
    struct err e = {0};
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo/token"),
                               .method = "POST"};
    assert_int_equal(http_fetch_start(c.base, &r, on_first, &c, &e), 0);
    event_base_dispatch(c.base);
    http_fetch_loop_free(c.base);
    event_base_free(c.base);
    assert_int_equal(c.first, 1);
    assert_int_equal(c.restart_rc, 0);
    assert_int_equal(c.second, 1);
    assert_int_equal(c.second_status, HTTP_FETCH_OK);
}

/* A done run by http_fetch_loop_free cannot start a request on the dying loop. */
static void test_no_start_while_freeing(void **state)
{
    struct chain c = {.base = event_base_new()};
    struct err e = {0};
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.silent_port, "/")};
    assert_int_equal(http_fetch_start(c.base, &r, on_first, &c, &e), 0);
    event_base_loop(c.base, EVLOOP_NONBLOCK);
    http_fetch_loop_free(c.base);
    assert_int_equal(c.first, 1);
    assert_int_equal(c.restart_rc, -1);
    assert_int_equal(c.second, 0);
    /* Once freed, the base can fetch again (a new multi is made). */
    c.restart_rc = 1;
    r.url = url(false, "127.0.0.1", G.http_port, "/echo/again");
    assert_int_equal(http_fetch_start(c.base, &r, on_second, &c, &e), 0);
    event_base_dispatch(c.base);
    assert_int_equal(c.second, 1);
    assert_int_equal(c.second_status, HTTP_FETCH_OK);
    http_fetch_loop_free(c.base);
    event_base_free(c.base);
}

/* Two loops on one thread: freeing one leaves the other working (the per-thread cache). */
static void test_two_loops(void **state)
{
    struct got a = {0}, b = {0};
    struct event_base *ba = event_base_new(), *bb = event_base_new();
    struct err e = {0};
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/500")};
    b.stop = bb;
    assert_int_equal(http_fetch_start(ba, &r, on_done, &a, &e), 0);
    assert_int_equal(http_fetch_start(bb, &r, on_done, &b, &e), 0);
    http_fetch_loop_free(ba);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, HTTP_FETCH_CANCELLED);
    event_base_free(ba);
    assert_int_equal(http_fetch_start(bb, &r, on_done, &b, &e), 0);
    while (b.calls < 2) {
        event_base_dispatch(bb);
    }
    assert_int_equal(b.status, HTTP_FETCH_OK);
    assert_int_equal(b.http_status, 500);
    http_fetch_loop_free(bb);
    event_base_free(bb);
    got_free(&a);
    got_free(&b);
}

/* One loop per thread, as in the server: each thread's requests use its own multi. */
#define THREADS    4
#define PER_THREAD 10

static void *thread_main(void *arg)
{
    int *ok = arg;
    for (int round = 0; round < 2; round++) {
        struct event_base *base = event_base_new();
        for (int i = 0; i < PER_THREAD; i++) {
            struct got g = {.stop = base};
            struct err e = {0};
            struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/500")};
            if (http_fetch_start(base, &r, on_done, &g, &e) != 0) {
                break;
            }
            event_base_dispatch(base);
            *ok += g.calls == 1 && g.status == HTTP_FETCH_OK && g.http_status == 500;
            got_free(&g);
        }
        http_fetch_loop_free(base);
        event_base_free(base);
    }
    return NULL;
}

static void test_one_loop_per_thread(void **state)
{
    pthread_t t[THREADS];
    int ok[THREADS] = {0};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &ok[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ok[i], 2 * PER_THREAD);
    }
}

/* ---- the blocking variant ---------------------------------------------------------------- */

static void test_sync(void **state)
{
    struct http_fetch_result res;
    struct http_fetch_req r = {.url = url(false, "127.0.0.1", G.http_port, "/echo/sync"),
                               .accept = "application/json"};
    assert_int_equal(http_fetch_sync(&r, &res), 0);
    assert_int_equal(res.status, HTTP_FETCH_OK);
    assert_int_equal(res.http_status, 200);
    assert_non_null(strstr(res.body.p, "\"/echo/sync\""));
    http_fetch_result_free(&res);

    r.url = url(false, "127.0.0.1", G.refused_port, "/");
    assert_int_equal(http_fetch_sync(&r, &res), -1);
    assert_int_equal(res.status, HTTP_FETCH_UNREACHABLE);
    assert_null(res.body.p);
    http_fetch_result_free(&res);

    r.url = "file:///etc/passwd";
    assert_int_equal(http_fetch_sync(&r, &res), -1);
    assert_int_equal(res.status, HTTP_FETCH_BAD_URL);
    http_fetch_result_free(&res);

    r.url = url(true, "localhost", G.https_port, "/echo");
    r.ca_file = G.cert;
    assert_int_equal(http_fetch_sync(&r, &res), 0);
    assert_int_equal(res.http_status, 200);
    http_fetch_result_free(&res);

    r.method = "DELETE";
    assert_int_equal(http_fetch_sync(&r, &res), -1);
    assert_int_equal(res.status, HTTP_FETCH_PROTOCOL);
    assert_string_equal(res.error, "fetch: method must be GET or POST");
    http_fetch_result_free(&res);
}

static void test_status_names(void **state)
{
    assert_string_equal(http_fetch_status_name(HTTP_FETCH_OK), "ok");
    assert_string_equal(http_fetch_status_name(HTTP_FETCH_TLS), "tls");
    assert_string_equal(http_fetch_status_name(HTTP_FETCH_CANCELLED), "cancelled");
    assert_string_equal(http_fetch_status_name((enum http_fetch_status)99), "unknown");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s tests/vectors/fetch/server.py\n", argv[0]);
        return 2;
    }
    G.server_py = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_json),
        cmocka_unit_test(test_post_client_secret_basic),
        cmocka_unit_test(test_post_empty_password_and_body),
        cmocka_unit_test(test_status_500_is_a_response),
        cmocka_unit_test(test_redirect_not_followed),
        cmocka_unit_test(test_date_parsed),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_unknown_host),
        cmocka_unit_test(test_timeout_within_bound),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_tls_self_signed_untrusted),
        cmocka_unit_test(test_tls_ca_file_trusts),
        cmocka_unit_test(test_tls_name_mismatch),
        cmocka_unit_test(test_tls_missing_ca_file),
        cmocka_unit_test(test_http_to_tls_port),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_misuse_refused_at_start),
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_loop_free_cancels_in_flight),
        cmocka_unit_test(test_busy_beyond_inflight_bound),
        cmocka_unit_test(test_done_starts_next_request),
        cmocka_unit_test(test_no_start_while_freeing),
        cmocka_unit_test(test_two_loops),
        cmocka_unit_test(test_one_loop_per_thread),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
