/*
 * postern: the command line. The only file that knows every module.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "access/access.h"
#include "admin/admin.h"
#include "demo.h"
#include "http/http.h"
#include "idp/idp.h"
#include "oidc/oidc.h"
#include "store/store.h"
#include "web/web.h"
#include "util/util.h"

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "0.1.0"
#endif

#define EXIT_USAGE ADMIN_EXIT_USAGE

static const char usage_main[] =
    "Usage: postern COMMAND [OPTIONS]\n"
    "\n"
    "Self-hosted single sign-on: an OpenID Connect identity provider and an access\n"
    "gateway in one program.\n"
    "\n"
    "Commands:\n"
    "  demo [--port N] [--data-dir DIR]\n"
    "                        try it: an IdP, a gateway and a protected page on\n"
    "                        *.localhost, ready to log in to (what `make run` starts)\n"
    "  serve --config FILE   run the server described by FILE (YAML)\n"
    "  apply --config FILE OBJECTS.yaml...\n"
    "                        create or update users, groups, providers, applications\n"
    "                        and the gateway's access: section\n"
    "  user add|passwd|list|del   manage users\n"
    "  group add|list|del    manage groups\n"
    "  provider show NAME    print a provider's client ID, secret and URLs\n"
    "  events                list recent events (logins, tokens, changes)\n"
    "  access service-token add|list|del, rotate-keys, apps, idps, test-idp NAME\n"
    "                        the access gateway: service tokens, signing keys,\n"
    "                        applications (AUD tags) and identity providers;\n"
    "                        test-idp checks one without a browser\n"
    "  migrate --config FILE | --store URL\n"
    "                        bring the store's schema up to date (serve also does)\n"
    "  store export|import   move every configuration object (users with password\n"
    "                        hashes, groups, keys, providers, applications, gateway\n"
    "                        objects) to another store, e.g. SQLite to PostgreSQL;\n"
    "                        sessions, tokens, consents and events are not moved\n"
    "  version               print the version\n"
    "  help [COMMAND]        show this help, or a command's\n"
    "\n"
    "Run 'postern COMMAND --help' for a command's options.\n";

static const char usage_serve[] =
    "Usage: postern serve --config FILE\n"
    "\n"
    "Runs the HTTP server described by FILE until SIGTERM or SIGINT, then finishes the\n"
    "requests in flight and exits. GET /healthz answers 200 on every host but the\n"
    "gateway's (its team domain and applications).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration file (YAML), for example:\n"
    "                        server:\n"
    "                          listen: [\"127.0.0.1:8080\"]\n"
    "                          data_dir: ./data\n"
    "  -h, --help          show this help\n"
    "\n"
    "Configuration keys (see docs/configuration.md):\n"
    "  server.listen            list of \"HOST:PORT\", or { address, tls: { cert, key } }\n"
    "  server.data_dir          directory for the database and keys (created 0700)\n"
    "  server.threads           event-loop threads (default: one per core)\n"
    "  server.worker_threads    threads for blocking work (default: 4)\n"
    "  server.max_connections   open connections across all threads (default: 10000)\n"
    "  server.timeouts          header, body, idle, shutdown (durations: 10s, 2m)\n"
    "  store                    database URL (default: sqlite:DATA_DIR/postern.db)\n"
    "  log_level                debug, info, warn or error (default: info)\n";

static const char usage_version[] = "Usage: postern version\n\nPrints the version.\n";

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return true;
        }
    }
    return false;
}

static void healthz(struct http_req *req, void *ctx)
{
    (void)ctx;
    http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* What the ready callback of the server needs. */
struct serve_ready {
    const struct admin_config *cfg;
    const struct main_serve_hooks *hooks; /* may be NULL */
};

/* Runs once the server accepts and handles SIGTERM: a supervisor may rely on these lines. */
static void announce(struct http_server *srv, void *arg)
{
    const struct serve_ready *x = arg;
    const struct admin_config *cfg = x->cfg;
    for (size_t i = 0; i < cfg->server.nlisten; i++) {
        const struct http_listen *l = &cfg->server.listen[i];
        const char *colon = strrchr(l->address, ':');
        log_info("listening on %s://%.*s:%d", l->tls_cert ? "https" : "http",
                 (int)(colon - l->address), l->address, http_server_port(srv, i));
    }
    if (x->hooks != NULL && x->hooks->ready != NULL) {
        x->hooks->ready(srv, x->hooks->arg);
    }
}

/* Everything `serve` holds while it runs. */
struct serve_state {
    struct web *web;
    struct idp idp;
    bool idp_ready;
    struct access_gate *gate;
    struct web *gate_web; /* the gateway's pages: assets under /cdn-cgi/access/static/ */
    struct http_router *router;
};

/* "auth.localhost" of "http://auth.localhost:9000" (public_url is checked by the config). */
static char *url_host(const char *url_z)
{
    const char *h = strstr(url_z, "://");
    h = h ? h + 3 : url_z;
    size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
    return xstrndup(h, n);
}

/* Opens the store, brings its schema up to date (refusing a schema newer than ours), and for
 * the IdP loads or creates its secret and keys, then applies the objects of the config file
 * (with an `idp:` or an `access:` section: the gateway's configuration lives in the store). */
static int prepare_store(struct admin_config *cfg, struct serve_state *st, struct err *e)
{
    char *url = cfg->store_url ? xstrdup(cfg->store_url) : store_default_url(cfg->data_dir);
    struct store *s = store_open(url, e);
    int rc = s != NULL && store_migrate(s, e) == 0 ? store_global_init(url, e) : -1;
    util_free_secret(url);
    if (rc == 0 && cfg->idp_enabled) {
        if (cfg->access_enabled && cfg->idp.host == NULL) {
            /* Both roles on one listener: the IdP answers on its own host only, so that no
             * path of a protected application reaches it. */
            cfg->idp.host = url_host(cfg->idp.public_url);
        }
        rc = idp_init(&st->idp, &cfg->idp, s, e);
        st->idp_ready = rc == 0;
    }
    if (rc == 0 && (cfg->idp_enabled || cfg->access_enabled)) {
        struct admin_apply_stats stats;
        rc = admin_apply(s, &cfg->doc, cfg->doc.root, &stats, e);
        if (rc == 0 && cfg->idp_enabled) {
            rc = idp_keys_sync(&st->idp, s, NULL, e);
        }
        if (rc == 0) {
            log_info("config objects: %d created, %d updated", stats.created, stats.updated);
        }
    }
    store_close(s);
    return rc;
}

static int add_routes(struct admin_config *cfg, struct serve_state *st, struct err *e)
{
    st->router = http_router_new();
    http_router_add(st->router, NULL, "/healthz", healthz, NULL, 0);
    if (!cfg->idp_enabled && !cfg->access_enabled) {
        return 0;
    }
    st->web = web_new(&cfg->branding, e);
    if (st->web == NULL) {
        return -1;
    }
    if (cfg->idp_enabled) {
        st->idp.web = st->web;
        if (idp_routes(st->router, &st->idp) != 0 || oidc_routes(st->router, &st->idp) != 0) {
            return err_set(e, 0, "cannot register the IdP's routes");
        }
    }
    if (cfg->access_enabled) {
        st->gate_web = web_new(&cfg->branding, e);
        if (st->gate_web == NULL) {
            return -1;
        }
        if (web_set_static_prefix(st->gate_web, ACCESS_STATIC_PREFIX) != 0) {
            return err_set(e, 0, "cannot set the gateway's asset path");
        }
        st->gate = access_gate_new(st->gate_web, e);
        if (st->gate == NULL) {
            return err_prefix(e, "access");
        }
        if (access_routes(st->router, st->gate) != 0) {
            return err_set(e, 0, "cannot register the gateway's routes");
        }
    }
    return 0;
}

static void serve_state_free(struct serve_state *st)
{
    access_gate_free(st->gate); /* after http_server_free: the origins' pools */
    oidc_shutdown();
    http_router_free(st->router);
    if (st->idp_ready) {
        idp_free(&st->idp);
    }
    web_free(st->web);
    web_free(st->gate_web);
    store_global_shutdown();
}

int main_serve(struct admin_config *cfg, const struct main_serve_hooks *h)
{
    struct err e = {0};
    struct serve_state st = {0};
    struct http_server *srv = NULL;
    struct serve_ready ready = {cfg, h};
    int rc = 1;
    if (admin_ensure_data_dir(cfg->data_dir, &e) != 0 || prepare_store(cfg, &st, &e) != 0 ||
        (h != NULL && h->prepared != NULL && h->prepared(cfg, h->arg, &e) != 0) ||
        add_routes(cfg, &st, &e) != 0) {
        log_error("%s", e.msg);
        goto done;
    }
    cfg->server.on_ready = announce;
    cfg->server.on_ready_arg = &ready;
    srv = http_server_new(&cfg->server, st.router, &e);
    if (srv == NULL) {
        log_error("cannot start the server: %s", e.msg);
        goto done;
    }
    if (st.gate != NULL && access_gate_start(st.gate, &e) != 0) {
        log_error("%s", e.msg);
        http_server_free(srv);
        goto done;
    }
    rc = http_server_run(srv) == 0 ? 0 : 1;
    http_server_free(srv);
    log_info("stopped");
done:
    serve_state_free(&st);
    return rc;
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *config = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            config = optarg;
        } else if (c == 'h') {
            fputs(usage_serve, stdout);
            return 0;
        } else {
            fputs(usage_serve, stderr);
            return EXIT_USAGE;
        }
    }
    if (config == NULL || optind != argc) {
        fprintf(stderr, "postern serve: %s\n\n%s",
                config == NULL ? "--config FILE is required" : "unexpected argument",
                usage_serve);
        return EXIT_USAGE;
    }
    struct admin_config cfg;
    struct err e = {0};
    if (admin_config_load(config, &cfg, &e) != 0) {
        fprintf(stderr, "postern: %s\n", e.msg);
        admin_config_free(&cfg);
        return EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    int rc = main_serve(&cfg, NULL);
    admin_config_free(&cfg);
    return rc;
}

static int cmd_version(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_version, stdout);
        return 0;
    }
    if (argc > 1) {
        fputs(usage_version, stderr);
        return EXIT_USAGE;
    }
    printf("postern %s\n", POSTERN_VERSION);
    return 0;
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"demo", demo_cmd, NULL},
    {"serve", cmd_serve, usage_serve},
    {"apply", admin_cmd_apply, NULL},
    {"user", admin_cmd_user, NULL},
    {"group", admin_cmd_group, NULL},
    {"provider", admin_cmd_provider, NULL},
    {"events", admin_cmd_events, NULL},
    {"access", admin_cmd_access, NULL},
    {"migrate", admin_cmd_migrate, NULL},
    {"store", admin_cmd_store, NULL},
    {"version", cmd_version, usage_version},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stdout);
        return 0;
    }
    const struct command *c = find_command(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "postern: unknown command '%s'\n\n%s", argv[1], usage_main);
        return EXIT_USAGE;
    }
    if (c->usage == NULL) {
        /* The command prints its own help. */
        char *help_argv[] = {argv[1], "--help", NULL};
        return c->run(2, help_argv);
    }
    fputs(c->usage, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        return cmd_help(argc - 1, argv + 1);
    }
    if (strcmp(name, "--version") == 0) {
        return cmd_version(1, argv + 1);
    }
    const struct command *c = find_command(name);
    if (c == NULL) {
        fprintf(stderr, "postern: unknown command '%s'\n\n%s", name, usage_main);
        return EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
