/*
 * postern: the command line. The only file that knows every module.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin/admin.h"
#include "http/http.h"
#include "store/store.h"
#include "util/util.h"

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2

static const char usage_main[] =
    "Usage: postern COMMAND [OPTIONS]\n"
    "\n"
    "Self-hosted single sign-on: an OpenID Connect identity provider and an access\n"
    "gateway in one program.\n"
    "\n"
    "Commands:\n"
    "  serve --config FILE   run the server described by FILE (YAML)\n"
    "  version               print the version\n"
    "  help [COMMAND]        show this help, or a command's\n"
    "\n"
    "Run 'postern COMMAND --help' for a command's options.\n";

static const char usage_serve[] =
    "Usage: postern serve --config FILE\n"
    "\n"
    "Runs the HTTP server described by FILE until SIGTERM or SIGINT, then finishes the\n"
    "requests in flight and exits. GET /healthz answers 200 on every host.\n"
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

/* Creates the data directory (one level) with mode 0700 when it does not exist. */
static int ensure_data_dir(const char *dir, struct err *e)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return err_set(e, errno, "data_dir %s: %s", dir, strerror(errno));
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return err_set(e, ENOTDIR, "data_dir %s: not a directory", dir);
    }
    return 0;
}

/* Runs once the server accepts and handles SIGTERM: a supervisor may rely on these lines. */
static void announce(struct http_server *srv, void *arg)
{
    const struct admin_config *cfg = arg;
    for (size_t i = 0; i < cfg->server.nlisten; i++) {
        const struct http_listen *l = &cfg->server.listen[i];
        const char *colon = strrchr(l->address, ':');
        log_info("listening on %s://%.*s:%d", l->tls_cert ? "https" : "http",
                 (int)(colon - l->address), l->address, http_server_port(srv, i));
    }
}

/* Opens the store and brings its schema up to date; refuses a schema newer than ours. */
static int prepare_store(const struct admin_config *cfg, struct err *e)
{
    char *url = cfg->store_url ? xstrdup(cfg->store_url) : store_default_url(cfg->data_dir);
    struct store *st = store_open(url, e);
    util_free_secret(url);
    if (st == NULL) {
        return -1;
    }
    int rc = store_migrate(st, e);
    store_close(st);
    return rc;
}

static int serve_run(struct admin_config *cfg)
{
    struct err e = {0};
    if (ensure_data_dir(cfg->data_dir, &e) != 0 || prepare_store(cfg, &e) != 0) {
        log_error("%s", e.msg);
        return 1;
    }
    struct http_router *router = http_router_new();
    http_router_add(router, NULL, "/healthz", healthz, NULL, 0);
    cfg->server.on_ready = announce;
    cfg->server.on_ready_arg = cfg;
    struct http_server *srv = http_server_new(&cfg->server, router, &e);
    if (srv == NULL) {
        log_error("cannot start the server: %s", e.msg);
        http_router_free(router);
        return 1;
    }
    int rc = http_server_run(srv);
    http_server_free(srv);
    http_router_free(router);
    log_info("stopped");
    return rc == 0 ? 0 : 1;
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
    int rc = serve_run(&cfg);
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
    {"serve", cmd_serve, usage_serve},
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
