/*
 * demo.h: `postern demo` (demo.c), its origin page (demo_origin.c), and what main.c offers
 * them: the `serve` machinery with two hooks. Top-level files, like main.c: they know every
 * module.
 */
#ifndef POSTERN_DEMO_H
#define POSTERN_DEMO_H

#include "admin/admin.h"
#include "http/http.h"

/* ---- main.c ---------------------------------------------------------------------------- */

struct main_serve_hooks {
    /* After the store is ready (schema, the IdP's keys, the config's objects applied) and
     * before any thread is started, so that the process may still fork. Non-zero: stop. */
    int (*prepared)(struct admin_config *cfg, void *arg, struct err *e);
    /* Once the listeners accept, after the "listening on" log lines. */
    void (*ready)(struct http_server *srv, void *arg);
    void *arg;
};

/* What `postern serve` runs: until SIGTERM or SIGINT. h may be NULL. Returns an exit status
 * (0, or 1 when the server could not start or failed). */
int main_serve(struct admin_config *cfg, const struct main_serve_hooks *h);

/* ---- demo.c ---------------------------------------------------------------------------- */

#define DEMO_DEFAULT_PORT 9000

/* `postern demo [--port N] [--data-dir DIR]`; argv[0] is "demo". Returns an exit status. */
int demo_cmd(int argc, char **argv);

/* ---- demo_origin.c: the protected applications' origin --------------------------------- */

/*
 * A small web server on 127.0.0.1 standing for the website behind the gateway. It trusts
 * nothing it is sent: it verifies Cf-Access-Jwt-Assertion the way Cloudflare tells origins to
 * (the key of the token's kid from <team domain>/cdn-cgi/access/certs, the signature, aud =
 * the AUD tag of the application whose host was asked for, iss = the team domain, exp), then
 * shows the identity and every verified claim. Anything else gets a 401 page saying why.
 */

#define DEMO_ORIGIN_JWKS_TTL_MS (5 * 60 * 1000) /* the certs are fetched again after this */
#define DEMO_ORIGIN_REFETCH_MS  (10 * 1000)     /* unknown kid: at most one fetch this often */
#define DEMO_ORIGIN_FETCH_MS    5000            /* one fetch of the certs */
#define DEMO_ORIGIN_LEEWAY_S    60              /* clock skew on exp / nbf / iat */

struct demo_origin_app {
    const char *name; /* "myapp" */
    const char *host; /* "service.localhost" */
    const char *aud;  /* its AUD tag */
    const char *who;  /* who its policy lets in, in words: "everyone" */
};

struct demo_origin_config {
    const char *listen;     /* "127.0.0.1:PORT" */
    const char *team_url;   /* "http://team.localhost:9000": iss, and where the certs are */
    const char *idp_logout; /* the IdP's logout page (a link on the page) */
    int public_port;        /* the port of the applications' URLs (links between them) */
    const struct demo_origin_app *apps;
    size_t napps;
    int ready_fd; /* one byte is written here once the origin accepts; -1: none */
};

/* Runs the origin until SIGTERM or SIGINT (it is a process of its own: see demo.c). Returns
 * an exit status. */
int demo_origin_run(const struct demo_origin_config *c);

#endif
