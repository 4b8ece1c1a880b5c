/* Shared by test_rp_idp.c and test_rp_cli.c: the IdP double (tests/vectors/access/idp.py,
 * its path is argv[1]) started on 127.0.0.1 over http and https (a self-signed certificate
 * for "localhost" made by `openssl req -x509`), a port where nothing listens, and a test
 * identity provider pointing at them. The servers are stopped by PID in the group teardown,
 * also when a test fails; they die with the test program (PR_SET_PDEATHSIG). */
#ifndef TEST_RP_FIXTURE_H
#define TEST_RP_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access/access.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON       "/usr/bin/python3"
#define TEST_CLIENT  "rp-client"
#define TEST_SECRET  "s3cr3t p@ss/+&="                               /* as idp.py expects it */
#define TEST_REDIR   "http://team.localhost/cdn-cgi/access/callback" /* registered there */
#define TEST_URL_MAX 256

struct rpfx {
    const char *server_py;
    char dir[64];
    char cert[128], key[128];
    pid_t http_pid, https_pid;
    int http_port, https_port, refused_port;
    char base[64];     /* http://127.0.0.1:PORT */
    char tls_base[64]; /* https://localhost:PORT */
    char refused[64];  /* http://127.0.0.1:PORT where nothing listens */
};

static struct rpfx FX;

static inline pid_t fx_spawn(const char *mode, int *port)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(PYTHON, PYTHON, FX.server_py, mode, FX.cert, FX.key, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
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

static inline void fx_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* A port on 127.0.0.1 that was bound, then closed: nothing listens there. */
static inline int fx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static inline int fx_setup(void **state)
{
    (void)state;
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    snprintf(FX.dir, sizeof(FX.dir), "/tmp/postern-rp-XXXXXX");
    if (mkdtemp(FX.dir) == NULL) {
        return -1;
    }
    snprintf(FX.cert, sizeof(FX.cert), "%s/cert.pem", FX.dir);
    snprintf(FX.key, sizeof(FX.key), "%s/key.pem", FX.dir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
             "-keyout %s -out %s 2>/dev/null",
             FX.key, FX.cert);
    if (system(cmd) != 0) {
        return -1;
    }
    FX.http_pid = fx_spawn("http", &FX.http_port);
    FX.https_pid = fx_spawn("https", &FX.https_port);
    FX.refused_port = fx_free_port();
    snprintf(FX.base, sizeof(FX.base), "http://127.0.0.1:%d", FX.http_port);
    snprintf(FX.tls_base, sizeof(FX.tls_base), "https://localhost:%d", FX.https_port);
    snprintf(FX.refused, sizeof(FX.refused), "http://127.0.0.1:%d", FX.refused_port);
    return FX.http_pid > 0 && FX.https_pid > 0 && FX.refused_port > 0 ? 0 : -1;
}

static inline int fx_teardown(void **state)
{
    (void)state;
    fx_stop(&FX.http_pid);
    fx_stop(&FX.https_pid);
    unlink(FX.cert);
    unlink(FX.key);
    rmdir(FX.dir);
    return 0;
}

/* ---- a test identity provider ----------------------------------------------------------- */

struct tidp {
    struct access_idp idp;
    char auth[TEST_URL_MAX], token[TEST_URL_MAX], certs[TEST_URL_MAX];
    char disc[TEST_URL_MAX], issuer[TEST_URL_MAX];
    char *scopes[3];
    char *claims[2];
};

/* Endpoints at base (/authorize, /token, /jwks); no discovery, no issuer. */
static inline void tidp_init(struct tidp *t, const char *base)
{
    memset(t, 0, sizeof *t);
    snprintf(t->auth, sizeof t->auth, "%s/authorize", base);
    snprintf(t->token, sizeof t->token, "%s/token", base);
    snprintf(t->certs, sizeof t->certs, "%s/jwks", base);
    t->scopes[0] = (char *)"openid";
    t->scopes[1] = (char *)"email";
    t->scopes[2] = (char *)"profile";
    t->claims[0] = (char *)"groups";
    t->claims[1] = (char *)"name";
    t->idp = (struct access_idp){
        .name = (char *)"Test IdP",
        .type = ACCESS_IDP_OIDC,
        .client_id = (char *)TEST_CLIENT,
        .client_secret = (char *)TEST_SECRET,
        .auth_url = t->auth,
        .token_url = t->token,
        .certs_url = t->certs,
        .pkce_enabled = true,
        .email_claim_name = (char *)"email",
        .scopes = t->scopes,
        .nscopes = 3,
        .claims = t->claims,
        .nclaims = 2,
    };
}

/* A URL on base: base + path. */
static inline void tidp_url(char *out, const char *base, const char *path)
{
    snprintf(out, TEST_URL_MAX, "%s%s", base, path);
}

/* ---- talking to the double -------------------------------------------------------------- */

/* The code idp.py turns into a token: base64url(JSON spec). Steals spec. */
static inline char *code_for(json_t *spec)
{
    char *s = util_json_dump(spec);
    char *code = b64url_encode_z(s, strlen(s));
    free(s);
    json_decref(spec);
    return code;
}

/* GET base + path as JSON (asserts 200). */
static inline json_t *get_json(const char *base, const char *path)
{
    char url[TEST_URL_MAX];
    tidp_url(url, base, path);
    struct http_fetch_req r = {.url = url};
    struct http_fetch_result res = {0};
    assert_int_equal(http_fetch_sync(&r, &res), 0);
    assert_int_equal(res.http_status, 200);
    struct err e = {0};
    json_t *j = util_json_parse((struct slice){res.body.p, res.body.len}, &e);
    http_fetch_result_free(&res);
    assert_non_null(j);
    return j;
}

/* How many requests idp.py received for path (with its query). */
static inline int count_of(const char *path)
{
    char q[TEST_URL_MAX - 64]; /* fits after a base */
    struct buf enc;
    buf_init(&enc, TEST_URL_MAX);
    assert_int_equal(http_url_encode(slice_z(path), &enc), 0);
    snprintf(q, sizeof q, "/count?p=%s", enc.p);
    buf_free(&enc);
    json_t *j = get_json(FX.base, q);
    int n = (int)json_integer_value(json_object_get(j, "n"));
    json_decref(j);
    return n;
}

/* ---- running the asynchronous calls ----------------------------------------------------- */

struct ran {
    int calls;
    struct access_rp_result res; /* taken from the callback */
    struct event_base *base;
};

static inline void on_done(struct access_rp_result *res, void *arg)
{
    struct ran *r = arg;
    r->calls++;
    r->res = *res; /* take every member */
    memset(res, 0, sizeof *res);
    event_base_loopbreak(r->base);
}

/* Runs access_rp_exchange (code_z != NULL) or access_rp_authorize on a fresh loop to its end:
 * done must run once, never inside the call. */
static inline void run_rp(struct access_rp *rp, const struct access_idp *idp,
                          const struct access_rp_login *l, const char *code_z,
                          const char *redirect_z, struct ran *r)
{
    struct err e = {0};
    memset(r, 0, sizeof *r);
    r->base = event_base_new();
    int rc = code_z != NULL
                 ? access_rp_exchange(rp, r->base, idp, redirect_z, l, code_z, on_done, r, &e)
                 : access_rp_authorize(rp, r->base, idp, redirect_z, l, on_done, r, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(r->calls, 0);
    event_base_dispatch(r->base);
    assert_int_equal(r->calls, 1);
    http_fetch_loop_free(r->base);
    event_base_free(r->base);
    r->base = NULL;
}

#endif
