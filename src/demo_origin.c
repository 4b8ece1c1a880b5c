/*
 * demo_origin.c: the website behind the demo's gateway (see demo.h). It does what
 * Cloudflare's documentation asks of an origin ("Validate JWTs"): fetch
 * <team domain>/cdn-cgi/access/certs, take the key of the token's kid, verify the signature,
 * then check that aud holds the application's AUD tag and that iss is the team domain; exp,
 * nbf and iat with a minute of clock skew. The keys are kept DEMO_ORIGIN_JWKS_TTL_MS, and a
 * token with an unknown kid (a key rotated since) fetches them again, at most every
 * DEMO_ORIGIN_REFETCH_MS so that made-up kids cannot make the origin hammer the gateway.
 *
 * The verification runs on the worker pool (http_defer): the fetch is blocking. The page is
 * rendered with web's templates (everything escaped) under the same strict
 * Content-Security-Policy as Postern's own pages.
 */
#include "demo.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jose/jose.h"
#include "web/web.h"

#define ORIGIN_CERTS_PATH "/cdn-cgi/access/certs"
#define ORIGIN_CERTS_MAX  (256 * 1024)
#define ORIGIN_HEADER_MAX 1024 /* Cf-Access-Authenticated-User-Email kept for the page */
#define ORIGIN_CLAIM_MAX  2048 /* a claim's value as shown */
#define ORIGIN_TIME_MAX   64
#define ORIGIN_URL_MAX    512 /* the certs URL: team domain + path */
#define ORIGIN_LINK_MAX   300

struct origin {
    const struct demo_origin_config *c;
    struct web *web;
    struct web_tpls *tpls;
    char certs_url[ORIGIN_URL_MAX];
    pthread_mutex_t mu;     /* guards what follows */
    struct jose_jwks *keys; /* NULL until fetched */
    int64_t fetched_ms;     /* monotonic time of the last good fetch */
    int64_t tried_ms;       /* of the last attempt; 0: never */
};

/* The page. Only values, never markup, come from the request: web escapes each of them and
 * refuses a template that would put one where it could change the page's meaning. */
static const char page_tpl[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"color-scheme\" content=\"light dark\">\n"
    "<title>{{app}} · Postern demo origin</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/postern.css\">\n"
    "<link rel=\"stylesheet\" href=\"/demo.css\">\n"
    "<link rel=\"icon\" href=\"/static/logo.svg\">\n</head>\n<body>\n<div class=\"page\">\n"
    "<main class=\"card demo-card\">\n<div class=\"brand\">\n"
    "<img class=\"brand-logo\" src=\"/static/logo.svg\" alt=\"\" width=\"40\" height=\"40\">\n"
    "<span class=\"brand-name\">{{app}}</span>\n</div>\n"
    "<p class=\"eyebrow\">The origin of {{host}}</p>\n"
    "<h1>Hello, {{display}}</h1>\n"
    "<p class=\"lead\">The gateway let you in and told this page who you are. The page "
    "checked it: the token is signed by the gateway and made for this application.</p>\n"
    "<dl class=\"demo-facts\">\n"
    "<dt>Email</dt><dd id=\"email\">{{email}}</dd>\n"
    "<dt>Name</dt><dd id=\"name\">{{name}}</dd>\n"
    "<dt>Groups</dt><dd id=\"groups\">{{groups}}</dd>\n"
    "<dt>Signed in with</dt><dd>{{idp}}</dd>\n"
    "<dt>Who may enter</dt><dd>{{who}}</dd>\n</dl>\n"
    "<h2 class=\"subtitle\">Cf-Access-Jwt-Assertion: verified</h2>\n"
    "<ul class=\"demo-checks\">\n"
    "<li>signature: {{alg}}, key <code>{{kid}}</code> of "
    "<code>{{certs_url}}</code></li>\n"
    "<li>aud: the AUD tag of {{app}}, <code>{{aud}}</code></li>\n"
    "<li>iss: <code>{{iss}}</code></li>\n"
    "<li>exp: {{exp}}</li>\n</ul>\n"
    "<table class=\"demo-claims\">\n<caption>Claims of the token</caption>\n"
    "<thead><tr><th scope=\"col\">claim</th><th scope=\"col\">value</th></tr></thead>\n"
    "<tbody>\n{{#claims}}<tr><th scope=\"row\">{{k}}</th><td>{{v}}</td></tr>\n{{/claims}}"
    "</tbody>\n</table>\n"
    "<p class=\"note\">Cf-Access-Authenticated-User-Email: <code>{{header_email}}</code>"
    "{{^header_matches}} (differs from the token!){{/header_matches}}</p>\n"
    "<div class=\"actions\">\n"
    "{{#links}}<a class=\"btn btn-secondary\" href=\"{{url}}\">Open {{label}}</a>\n"
    "{{/links}}"
    "<a class=\"btn btn-secondary\" href=\"{{logout}}\">Sign out of the applications</a>\n"
    "<a class=\"btn btn-secondary\" href=\"{{idp_logout}}\">Sign out of the identity "
    "provider</a>\n"
    "</div>\n</main>\n<footer class=\"footer\">A page of <code>postern demo</code>, "
    "served on 127.0.0.1 behind the gateway</footer>\n</div>\n</body>\n</html>\n";

/* What the page adds to postern.css: a wider card, the facts and the claims. */
static const char demo_css[] =
    ".demo-card { max-width: 640px; }\n"
    ".demo-facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px;"
    " margin: 0 0 8px; }\n"
    ".demo-facts dt { font-weight: 600; }\n"
    ".demo-facts dd { margin: 0; overflow-wrap: anywhere; }\n"
    ".demo-checks { margin: 0 0 16px; padding-left: 20px; font-size: .9375rem; }\n"
    ".demo-checks li { overflow-wrap: anywhere; }\n"
    ".demo-claims { width: 100%; border-collapse: collapse; font-size: .875rem;"
    " table-layout: fixed; }\n"
    ".demo-claims caption { text-align: left; font-weight: 600; margin-bottom: 6px; }\n"
    ".demo-claims th, .demo-claims td { text-align: left; vertical-align: top;"
    " padding: 6px 8px; border-top: 1px solid var(--pt-border); overflow-wrap: anywhere; }\n"
    ".demo-claims th[scope=row] { width: 32%; font-family: ui-monospace, monospace;"
    " font-weight: 600; }\n"
    "code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .875em;"
    " overflow-wrap: anywhere; }\n"
    "@media (max-width: 480px) { .demo-facts { grid-template-columns: 1fr; } }\n";

/* ---- the keys ---------------------------------------------------------------------------- */

/* Fetches the certs (mu held). Keeps the previous keys when the fetch fails. */
static int fetch_keys(struct origin *o, struct err *e)
{
    o->tried_ms = util_mono_ms();
    struct http_fetch_req rq = {.url = o->certs_url,
                                .accept = "application/json",
                                .timeout_ms = DEMO_ORIGIN_FETCH_MS,
                                .max_body = ORIGIN_CERTS_MAX};
    struct http_fetch_result res = {0};
    int rc = -1;
    if (http_fetch_sync(&rq, &res) != 0) {
        err_set(e, 0, "cannot fetch %s: %s", o->certs_url, res.error);
    } else if (res.http_status != 200) {
        err_set(e, 0, "%s answered %ld", o->certs_url, res.http_status);
    } else {
        struct jose_jwks *k = jose_jwks_parse((struct slice){res.body.p, res.body.len}, NULL, e);
        if (k != NULL) {
            jose_jwks_free(o->keys);
            o->keys = k;
            o->fetched_ms = o->tried_ms;
            rc = 0;
        } else {
            err_prefix(e, "%s", o->certs_url);
        }
    }
    http_fetch_result_free(&res);
    return rc;
}

/* ---- one request ------------------------------------------------------------------------ */

struct check {
    struct origin *o;
    const struct demo_origin_app *app;
    char *token;        /* Cf-Access-Jwt-Assertion */
    char *header_email; /* Cf-Access-Authenticated-User-Email, or NULL */
    char alg[16];
    char kid[JOSE_KID_MAX + 1];
    json_t *claims; /* verified */
    struct err e;   /* why not */
};

static void check_free(struct check *k)
{
    util_free_secret(k->token);
    free(k->header_email);
    json_decref(k->claims);
    free(k);
}

static int verify_locked(struct check *k, const struct jose_jwt_expect *x)
{
    struct origin *o = k->o;
    int64_t now = util_mono_ms();
    if ((o->keys == NULL || now - o->fetched_ms >= DEMO_ORIGIN_JWKS_TTL_MS) &&
        fetch_keys(o, &k->e) != 0 && o->keys == NULL) {
        return -1;
    }
    struct slice t = slice_z(k->token);
    memset(&k->e, 0, sizeof k->e);
    if (jose_jwt_verify(t, o->keys, x, &k->claims, &k->e) == 0) {
        return 0;
    }
    if (k->e.code != JOSE_ERR_KEY || util_mono_ms() - o->tried_ms < DEMO_ORIGIN_REFETCH_MS) {
        return -1;
    }
    /* A kid we do not know: the gateway may have rotated its key since the last fetch. */
    struct err fe = {0};
    if (fetch_keys(o, &fe) != 0) {
        k->e = fe;
        return -1;
    }
    memset(&k->e, 0, sizeof k->e);
    return jose_jwt_verify(t, o->keys, x, &k->claims, &k->e);
}

static void check_work(void *arg)
{
    struct check *k = arg;
    struct jose_jws j = {0};
    if (jose_jws_parse(slice_z(k->token), &j, &k->e) != 0) {
        jose_jws_free(&j);
        return;
    }
    snprintf(k->alg, sizeof k->alg, "%s", jose_alg_name(j.alg));
    snprintf(k->kid, sizeof k->kid, "%s", j.kid ? j.kid : "(none)");
    jose_jws_free(&j);
    struct jose_jwt_expect x = {
        .iss = k->o->c->team_url, .aud = k->app->aud, .leeway = DEMO_ORIGIN_LEEWAY_S};
    pthread_mutex_lock(&k->o->mu);
    if (verify_locked(k, &x) != 0) {
        json_decref(k->claims);
        k->claims = NULL;
    }
    pthread_mutex_unlock(&k->o->mu);
}

/* ---- the page --------------------------------------------------------------------------- */

static void fmt_time(int64_t t, char out[ORIGIN_TIME_MAX])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, ORIGIN_TIME_MAX, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        snprintf(out, ORIGIN_TIME_MAX, "%lld", (long long)t);
    }
}

/* A claim as text: a string as is, anything else as compact JSON; times also in UTC. */
static void claim_text(const char *key, const json_t *v, struct buf *out)
{
    buf_reset(out);
    if (json_is_string(v)) {
        buf_append_z(out, json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s == NULL || buf_append_z(out, s) != 0) {
        buf_reset(out);
        buf_append_z(out, "(too long to show)");
    }
    free(s);
    if (json_is_integer(v) &&
        (strcmp(key, "exp") == 0 || strcmp(key, "iat") == 0 || strcmp(key, "nbf") == 0)) {
        char when[ORIGIN_TIME_MAX];
        fmt_time(json_integer_value(v), when);
        buf_printf(out, " (%s)", when);
    }
}

static const char *claim_str(const json_t *claims, const char *key)
{
    const char *s = json_string_value(json_object_get(claims, key));
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static void set_identity(struct web_vars *v, const struct check *k)
{
    const json_t *c = k->claims;
    const char *email = claim_str(c, "email");
    const char *name = claim_str(c, "name");
    web_set(v, "email", email ? email : "(none)");
    web_set(v, "name", name ? name : "(none)");
    web_set(v, "display", name ? name : email ? email : "there");
    struct buf b;
    buf_init(&b, ORIGIN_CLAIM_MAX);
    const json_t *groups = json_object_get(c, "groups");
    size_t i;
    const json_t *g;
    json_array_foreach(groups, i, g)
    {
        if (json_is_string(g)) {
            buf_printf(&b, "%s%s", b.len ? ", " : "", json_string_value(g));
        }
    }
    web_set(v, "groups", b.len ? b.p : "(none)");
    const json_t *idp = json_object_get(c, "idp");
    claim_text("idp", idp, &b);
    web_set(v, "idp", idp != NULL && b.len ? b.p : "(not said)");
    buf_free(&b);
}

static void set_token(struct web_vars *v, const struct check *k)
{
    const struct origin *o = k->o;
    web_set(v, "alg", k->alg);
    web_set(v, "kid", k->kid);
    web_set(v, "certs_url", o->certs_url);
    web_set(v, "aud", k->app->aud);
    web_set(v, "iss", o->c->team_url);
    char when[ORIGIN_TIME_MAX];
    fmt_time(json_integer_value(json_object_get(k->claims, "exp")), when);
    web_set(v, "exp", when);
    struct buf b;
    buf_init(&b, ORIGIN_CLAIM_MAX);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)k->claims, key, val)
    {
        struct web_vars *row = web_list_add(v, "claims");
        if (row == NULL) {
            break;
        }
        claim_text(key, val, &b);
        web_set(row, "k", key);
        web_set(row, "v", b.p);
    }
    buf_free(&b);
    const char *he = k->header_email;
    web_set(v, "header_email", he ? he : "(absent)");
    const char *email = claim_str(k->claims, "email");
    web_set_bool(v, "header_matches", he != NULL && email != NULL && strcmp(he, email) == 0);
}

static void set_links(struct web_vars *v, const struct check *k)
{
    const struct demo_origin_config *c = k->o->c;
    char url[ORIGIN_LINK_MAX];
    for (size_t i = 0; i < c->napps; i++) {
        if (&c->apps[i] == k->app) {
            continue;
        }
        struct web_vars *l = web_list_add(v, "links");
        snprintf(url, sizeof url, "http://%s:%d/", c->apps[i].host, c->public_port);
        if (l != NULL) {
            web_set_url(l, "url", url);
            web_setf(l, "label", "%s (%s)", c->apps[i].name, c->apps[i].who);
        }
    }
    web_set_url(v, "logout", "/cdn-cgi/access/logout");
    web_set_url(v, "idp_logout", c->idp_logout);
}

static void check_done(struct http_req *r, void *arg)
{
    struct check *k = arg;
    const struct origin *o = k->o;
    if (k->claims == NULL) {
        log_info("demo origin: %s: token refused: %s", k->app->host, k->e.msg);
        web_respond_error(o->web, r, 401, "The token was not accepted", k->e.msg);
        check_free(k);
        return;
    }
    struct web_vars *v = web_vars_new();
    web_set(v, "app", k->app->name);
    web_set(v, "host", k->app->host);
    web_set(v, "who", k->app->who);
    set_identity(v, k);
    set_token(v, k);
    set_links(v, k);
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct err e = {0};
    if (web_tpls_render(o->tpls, "origin", v, &page, &e) == 0) {
        web_respond_page(r, 200, &page);
    } else {
        log_error("demo origin: the page does not render: %s", e.msg);
        http_respond_error(r, 500, NULL);
    }
    buf_free(&page);
    web_vars_free(v);
    check_free(k);
}

static const struct demo_origin_app *app_of(const struct origin *o, struct slice host)
{
    for (size_t i = 0; i < o->c->napps; i++) {
        if (slice_case_eq_z(host, o->c->apps[i].host)) {
            return &o->c->apps[i];
        }
    }
    return NULL;
}

static void page_handler(struct http_req *r, void *ctx)
{
    struct origin *o = ctx;
    const struct demo_origin_app *app = app_of(o, http_req_host(r));
    const char *token = http_req_header(r, "Cf-Access-Jwt-Assertion");
    if (app == NULL) {
        web_respond_error(o->web, r, 404, "Not an application of the demo",
                          "This origin serves service.localhost, second.localhost and "
                          "private.localhost, through the gateway.");
        return;
    }
    if (token == NULL || strlen(token) > JOSE_MAX_TOKEN) {
        web_respond_error(o->web, r, 401, "No token from the gateway",
                          "Requests reach this page through the gateway, which adds "
                          "Cf-Access-Jwt-Assertion. Open the application's URL instead.");
        return;
    }
    struct check *k = xcalloc(1, sizeof *k);
    k->o = o;
    k->app = app;
    k->token = xstrdup(token);
    const char *he = http_req_header(r, "Cf-Access-Authenticated-User-Email");
    k->header_email = he && strlen(he) <= ORIGIN_HEADER_MAX ? xstrdup(he) : NULL;
    if (http_defer(r, check_work, check_done, k) != 0) {
        check_free(k);
    }
}

static void css_handler(struct http_req *r, void *ctx)
{
    (void)ctx;
    http_resp_header(r, "Cache-Control", "no-cache");
    http_resp_header(r, "X-Content-Type-Options", "nosniff");
    http_respond(r, 200, "text/css; charset=utf-8", demo_css, sizeof demo_css - 1);
}

/* ---- the server ------------------------------------------------------------------------- */

static void origin_ready(struct http_server *srv, void *arg)
{
    const struct origin *o = arg;
    log_info("demo origin: listening on http://127.0.0.1:%d", http_server_port(srv, 0));
    if (o->c->ready_fd >= 0) {
        ssize_t w = write(o->c->ready_fd, "r", 1);
        (void)w;
        close(o->c->ready_fd);
    }
    /* demo.c blocked these until the servers handle them: this one does now. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static int origin_open(struct origin *o, struct http_router *rt, struct err *e)
{
    snprintf(o->certs_url, sizeof o->certs_url, "%s%s", o->c->team_url, ORIGIN_CERTS_PATH);
    o->web = web_new(NULL, e);
    o->tpls = web_tpls_new();
    if (o->web == NULL || web_tpls_add(o->tpls, "origin", SLICE_LIT(page_tpl), e) != 0 ||
        web_tpls_check(o->tpls, e) != 0) {
        return -1;
    }
    if (http_router_add(rt, NULL, "/", page_handler, o, 0) != 0 ||
        http_router_add(rt, NULL, "/demo.css", css_handler, o, 0) != 0 ||
        web_routes_add(rt, NULL, o->web) != 0) {
        return err_set(e, 0, "cannot add the origin's routes");
    }
    return 0;
}

int demo_origin_run(const struct demo_origin_config *c)
{
    struct origin o = {.c = c};
    struct err e = {0};
    struct http_router *rt = http_router_new();
    struct http_server *srv = NULL;
    int rc = 1;
    pthread_mutex_init(&o.mu, NULL);
    if (origin_open(&o, rt, &e) != 0) {
        log_error("demo origin: %s", e.msg);
        goto done;
    }
    struct http_listen l = {.address = (char *)c->listen};
    struct http_server_config sc = {.listen = &l,
                                    .nlisten = 1,
                                    .threads = 1,
                                    .worker_threads = 2,
                                    .on_ready = origin_ready,
                                    .on_ready_arg = &o};
    srv = http_server_new(&sc, rt, &e);
    if (srv == NULL) {
        log_error("demo origin: %s", e.msg);
        goto done;
    }
    rc = http_server_run(srv) == 0 ? 0 : 1;
done:
    http_server_free(srv);
    http_router_free(rt);
    web_tpls_free(o.tpls);
    web_free(o.web);
    jose_jwks_free(o.keys);
    pthread_mutex_destroy(&o.mu);
    return rc;
}
