/*
 * `postern demo`: the walkthrough (Authentik behind Cloudflare Access) in one command, with
 * Postern in both roles on *.localhost names, which browsers resolve to the loopback address
 * by themselves:
 *
 *   http://auth.localhost:PORT     the IdP: provider "Cloudflare", application "cloudflare"
 *   http://team.localhost:PORT     the gateway's team domain, identity provider "Authentik"
 *   http://service.localhost:PORT  application "myapp" (everyone), and second.localhost
 *                                  (single sign-on) and private.localhost (access denied)
 *   http://127.0.0.1:ORIGIN        their origin: a page that verifies the gateway's token
 *
 * The configuration is written to DATA_DIR/postern.yaml (so that the other commands work on
 * the running demo) without the user's password, which is random, set in the store and
 * printed once. The server is `serve`'s (main_serve). The origin is a child process with a
 * server of its own: the gateway forwards the Host the browser sent, so on the gateway's
 * listener the origin's requests would come back to the gateway, and one process has only one
 * place for SIGINT and SIGTERM (libevent's signal base). It is forked before any thread
 * exists, and dies with its parent (PR_SET_PDEATHSIG).
 *
 * SIGINT and SIGTERM are blocked from the start until the servers handle them, so that Ctrl-C
 * at any moment ends in the same clean stop: servers drained, origin ended, a temporary data
 * directory removed.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idp/idp.h"
#include "store/store.h"

#define DEMO_PATH_MAX        4096
#define DEMO_URL_MAX         256
#define DEMO_CONFIG_MAX      (16 * 1024)
#define DEMO_PASSWORD_BYTES  12    /* 16 base64url characters, 96 bits */
#define DEMO_CLIENT_ID_BYTES 30    /* 40 characters, as Authentik's */
#define DEMO_SECRET_BYTES    48    /* 64 characters */
#define DEMO_ORIGIN_START_MS 30000 /* the origin answers within this (sanitizer builds) */
#define DEMO_ORIGIN_STOP_MS  15000 /* then SIGKILL */
#define DEMO_NAPPS           3

static const char usage_demo[] =
    "Usage: postern demo [--port N] [--data-dir DIR]\n"
    "\n"
    "Runs the walkthrough \"Authentik behind Cloudflare Access\" with Postern in both roles,\n"
    "ready to log in to, until Ctrl-C:\n"
    "  http://auth.localhost:PORT     identity provider (provider and application\n"
    "                                 \"Cloudflare\", slug cloudflare)\n"
    "  http://team.localhost:PORT     access gateway's team domain (identity provider\n"
    "                                 \"Authentik\")\n"
    "  http://service.localhost:PORT  application \"myapp\": everyone may sign in\n"
    "  http://second.localhost:PORT   application \"second\": single sign-on\n"
    "  http://private.localhost:PORT  application \"private\": admin@example.com only\n"
    "Their origin is a page of the demo that verifies Cf-Access-Jwt-Assertion and shows the\n"
    "identity it received. Browsers resolve *.localhost to 127.0.0.1 by themselves.\n"
    "\n"
    "Prints the URL to open and the user demo's password, made at random at every start.\n"
    "The configuration is written to DATA_DIR/postern.yaml: other commands work on the\n"
    "running demo with --config DATA_DIR/postern.yaml.\n"
    "\n"
    "Options:\n"
    "  -p, --port N         port of every URL above (default 9000; 0: a free one)\n"
    "  -d, --data-dir DIR   keep the data in DIR (created if missing) instead of a\n"
    "                       temporary directory removed at exit\n"
    "  -h, --help           show this help\n";

struct demo {
    int port;        /* of the public URLs */
    int origin_port; /* of the origin on 127.0.0.1 */
    int hold[2];     /* the two ports, reserved until the servers have bound them */
    char data_dir[DEMO_PATH_MAX];
    bool temporary; /* data_dir was made here: removed at exit */
    char config[DEMO_PATH_MAX];
    char *password; /* a secret: wiped once printed */
    char auth[DEMO_URL_MAX], team[DEMO_URL_MAX];
    struct demo_origin_app apps[DEMO_NAPPS];
    char aud[DEMO_NAPPS][STORE_AUD_SIZE];
    pid_t origin;
    int ready_fd; /* read end: the origin writes one byte when it accepts */
    sigset_t old_mask;
};

/* ---- ports ------------------------------------------------------------------------------ */

/* Reserves 127.0.0.1:want (0: a free port) for a server of ours that has not bound it yet: a
 * socket bound, never listening (it gets no connection), with SO_REUSEPORT like the server's
 * own, so that the server can bind next to it and nobody else can take the port meanwhile.
 * The first bind, without SO_REUSEPORT, fails when anyone listens on the port already: a
 * second demo must not share port 9000 with the first through SO_REUSEPORT. */
static int reserve_port(int want, int *fd_out, int *port_out, struct err *e)
{
    int one = 1, port = want;
    for (int pass = 0; pass < 2; pass++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t alen = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            (pass == 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
            bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
            int saved = errno;
            if (fd >= 0) {
                close(fd);
            }
            return err_set(e, 0, "cannot use 127.0.0.1:%d: %s%s", port, strerror(saved),
                           saved == EADDRINUSE ? " (try --port 0 for a free port)" : "");
        }
        port = ntohs(a.sin_port);
        if (pass == 0) {
            close(fd);
        } else {
            *fd_out = fd;
        }
    }
    *port_out = port;
    return 0;
}

static void release_ports(struct demo *d)
{
    for (size_t i = 0; i < 2; i++) {
        if (d->hold[i] >= 0) {
            close(d->hold[i]);
            d->hold[i] = -1;
        }
    }
}

/* ---- the data directory and the configuration ------------------------------------------- */

/* The first line of every configuration the demo writes: a kept data directory is reused only
 * when it is the demo's own, so that --data-dir never overwrites a real postern.yaml nor adds
 * the demo's users and applications to a real database. */
#define DEMO_CONFIG_MARK "# Written by `postern demo`"

static bool exists(const char *dir_z, const char *name_z)
{
    char path[DEMO_PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s", dir_z, name_z);
    return n > 0 && (size_t)n < sizeof path && lstat(path, &st) == 0;
}

static int check_kept_dir(const char *dir_z, struct err *e)
{
    char path[DEMO_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/postern.yaml", dir_z);
    if (n < 0 || (size_t)n >= sizeof path) {
        return err_set(e, 0, "--data-dir: path too long");
    }
    bool has_config = exists(dir_z, "postern.yaml");
    if (!has_config && !exists(dir_z, "postern.db")) {
        return 0; /* a new directory, or one without Postern's files */
    }
    struct buf b;
    buf_init(&b, DEMO_CONFIG_MAX);
    struct err ignored = {0};
    bool ours = has_config && util_read_file(path, DEMO_CONFIG_MAX, &b, &ignored) == 0 &&
                slice_starts_with_z((struct slice){b.p, b.len}, DEMO_CONFIG_MARK);
    if (b.p != NULL) {
        util_wipe(b.p, b.len);
    }
    buf_free(&b);
    if (!ours) {
        return err_set(e, 0,
                       "%s holds a Postern configuration or database that postern demo "
                       "did not make: give another --data-dir",
                       dir_z);
    }
    return 0;
}

static int make_data_dir(struct demo *d, const char *given, struct err *e)
{
    if (given != NULL) {
        if (strlen(given) >= sizeof d->data_dir - 32) {
            return err_set(e, 0, "--data-dir: path too long");
        }
        snprintf(d->data_dir, sizeof d->data_dir, "%s", given);
        return admin_ensure_data_dir(d->data_dir, e) != 0 ? -1 : check_kept_dir(d->data_dir, e);
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) >= sizeof d->data_dir - 64) {
        tmp = "/tmp";
    }
    snprintf(d->data_dir, sizeof d->data_dir, "%s/postern-demo-XXXXXX", tmp);
    if (mkdtemp(d->data_dir) == NULL) { /* mode 0700 */
        return err_set(e, errno, "cannot make a temporary directory in %s: %s", tmp,
                       strerror(errno));
    }
    d->temporary = true;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_data_dir(const struct demo *d)
{
    if (d->temporary && nftw(d->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        log_warn("demo: cannot remove %s: %s", d->data_dir, strerror(errno));
    }
}

/* A YAML double-quoted scalar (JSON's string syntax is YAML's). */
static int put_str(struct buf *b, const char *z)
{
    json_t *s = json_string(z);
    char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    int rc = q ? buf_append_z(b, q) : -1;
    if (q != NULL) {
        util_wipe(q, strlen(q)); /* may be a client secret */
    }
    free(q);
    json_decref(s);
    return rc;
}

/* The walkthrough's objects, field by field (seeds/authentik-cloudflare-sso.md): the
 * provider "Cloudflare" (implicit consent, confidential, strict redirect URI, the
 * self-signed key), the application "Cloudflare" (slug cloudflare, policy engine mode any),
 * the gateway's OpenID Connect login method "Authentik" and the application "myapp" (24
 * hours, instant auth, allow everyone). The client ID and secret are new at every start, in
 * both places at once. */
static int config_text(const struct demo *d, struct buf *b)
{
    char *id = util_random_token(DEMO_CLIENT_ID_BYTES);
    char *secret = util_random_token(DEMO_SECRET_BYTES);
    char listen[64], origin[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
    snprintf(origin, sizeof origin, "http://127.0.0.1:%d", d->origin_port);
    int rc = 0;
    rc |= buf_printf(b,
                     DEMO_CONFIG_MARK " at every start: the walkthrough's objects\n"
                                      "# with Postern as identity provider and as access gateway.\n"
                                      "server:\n  listen: [\"%s\"]\n  data_dir: ",
                     listen);
    rc |= put_str(b, d->data_dir);
    rc |= buf_printf(b, "\nlog_level: info\nidp:\n  public_url: \"%s\"\n", d->auth);
    rc |= buf_append_z(b, "groups:\n  - { name: staff }\n  - { name: admins }\n"
                          "users:\n"
                          "  - { username: demo, name: Demo User, email: demo@example.com, "
                          "groups: [staff] }\n"
                          "  - { username: admin, name: Admin, email: admin@example.com, "
                          "groups: [admins] }\n"
                          "providers:\n  - name: Cloudflare\n"
                          "    authorization_flow: "
                          "default-provider-authorization-implicit-consent\n"
                          "    client_type: confidential\n    client_id: ");
    rc |= put_str(b, id);
    rc |= buf_append_z(b, "\n    client_secret: ");
    rc |= put_str(b, secret);
    rc |= buf_printf(b,
                     "\n    redirect_uris:\n      - { matching_mode: strict, url: "
                     "\"%s/cdn-cgi/access/callback\" }\n"
                     "    signing_key: postern Self-signed Certificate\n"
                     "applications:\n  - { name: Cloudflare, slug: cloudflare, "
                     "provider: Cloudflare, policy_engine_mode: any }\n"
                     "access:\n  team_domain: \"%s\"\n  identity_providers:\n"
                     "    - name: Authentik\n      type: oidc\n      client_id: ",
                     d->team, d->team);
    rc |= put_str(b, id);
    rc |= buf_append_z(b, "\n      client_secret: ");
    rc |= put_str(b, secret);
    rc |= buf_printf(b,
                     "\n      auth_url: \"%s/application/o/authorize/\"\n"
                     "      token_url: \"%s/application/o/token/\"\n"
                     "      certs_url: \"%s/application/o/cloudflare/jwks/\"\n"
                     "      claims: [groups]\n  applications:\n",
                     d->auth, d->auth, d->auth);
    static const char *const policies[DEMO_NAPPS] = {
        "{ name: allow, action: allow, include: [ { everyone: true } ] }",
        "{ name: allow, action: allow, include: [ { everyone: true } ] }",
        "{ name: admins, action: allow, include: [ { emails: [ admin@example.com ] } ] }",
    };
    for (size_t i = 0; i < DEMO_NAPPS; i++) {
        rc |= buf_printf(b,
                         "    - name: %s\n      domain: %s\n      origin: \"%s\"\n"
                         "      session_duration: 24h\n      identity_providers: [Authentik]\n"
                         "      instant_auth: true\n      policies:\n        - %s\n",
                         d->apps[i].name, d->apps[i].host, origin, policies[i]);
    }
    util_free_secret(id);
    util_free_secret(secret);
    return rc == 0 ? 0 : -1;
}

static int write_config(struct demo *d, struct err *e)
{
    struct buf b;
    buf_init(&b, DEMO_CONFIG_MAX);
    int n = snprintf(d->config, sizeof d->config, "%s/postern.yaml", d->data_dir);
    if (n < 0 || (size_t)n >= sizeof d->config) {
        buf_free(&b);
        return err_set(e, 0, "--data-dir: path too long");
    }
    int rc = -1;
    int fd = open(d->config, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_set(e, errno, "%s: %s", d->config, strerror(errno));
    } else if (config_text(d, &b) != 0) {
        err_set(e, 0, "the demo's configuration does not fit in %d bytes", DEMO_CONFIG_MAX);
    } else if (write(fd, b.p, b.len) != (ssize_t)b.len || fchmod(fd, 0600) != 0) {
        err_set(e, errno, "%s: %s", d->config, strerror(errno));
    } else {
        rc = 0;
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = err_set(e, errno, "%s: %s", d->config, strerror(errno));
    }
    util_wipe(b.p, b.len); /* the client secret */
    buf_free(&b);
    return rc;
}

/* ---- once the store is ready: the password, the AUD tags, the origin --------------------- */

static int set_password_and_read_auds(struct demo *d, const struct admin_config *cfg, struct err *e)
{
    char *url = cfg->store_url ? xstrdup(cfg->store_url) : store_default_url(cfg->data_dir);
    struct store *s = store_open(url, e);
    util_free_secret(url);
    struct store_user u = {0};
    int rc = s == NULL ? -1 : store_user_get_by_name(s, "demo", &u, e);
    if (rc == STORE_NOT_FOUND) {
        rc = err_set(e, 0, "the user demo was not created");
    }
    if (rc == 0) {
        rc = idp_user_set_password(s, u.id, slice_z(d->password), e);
    }
    for (size_t i = 0; rc == 0 && i < DEMO_NAPPS; i++) {
        struct store_access_app a = {0};
        rc = store_access_app_get_by_name(s, d->apps[i].name, &a, e);
        if (rc == 0) {
            snprintf(d->aud[i], sizeof d->aud[i], "%s", a.aud);
            d->apps[i].aud = d->aud[i];
        } else if (rc == STORE_NOT_FOUND) {
            rc = err_set(e, 0, "the application %s was not created", d->apps[i].name);
        }
        store_access_app_free(&a);
    }
    store_user_free(&u);
    store_close(s);
    return rc == 0 ? 0 : -1;
}

/* The child: the origin's own server. Never returns. */
static void origin_child(struct demo *d, pid_t parent, int ready_w)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(1); /* the parent is already gone */
    }
    close(d->ready_fd);
    close(d->hold[0]); /* the gateway's port is the parent's */
    d->hold[0] = -1;
    char listen[64], idp_logout[DEMO_URL_MAX + 64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d->origin_port);
    snprintf(idp_logout, sizeof idp_logout, "%s/if/flow/default-invalidation-flow/", d->auth);
    struct demo_origin_config oc = {
        .listen = listen,
        .team_url = d->team,
        .idp_logout = idp_logout,
        .public_port = d->port,
        .apps = d->apps,
        .napps = DEMO_NAPPS,
        .ready_fd = ready_w,
    };
    util_free_secret(d->password);
    d->password = NULL;
    int rc = demo_origin_run(&oc);
    release_ports(d);
    exit(rc); /* exit, not _exit: the sanitizers' leak check runs in the child too */
}

static int start_origin(struct demo *d, struct err *e)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return err_set(e, errno, "pipe: %s", strerror(errno));
    }
    d->ready_fd = p[0];
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[1]);
        return err_set(e, errno, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        origin_child(d, parent, p[1]);
    }
    close(p[1]);
    d->origin = pid;
    struct pollfd pf = {.fd = d->ready_fd, .events = POLLIN};
    char c;
    if (poll(&pf, 1, DEMO_ORIGIN_START_MS) != 1 || read(d->ready_fd, &c, 1) != 1) {
        return err_set(e, 0, "the demo's origin did not start on 127.0.0.1:%d", d->origin_port);
    }
    return 0;
}

static int on_prepared(struct admin_config *cfg, void *arg, struct err *e)
{
    struct demo *d = arg;
    if (set_password_and_read_auds(d, cfg, e) != 0) {
        return err_prefix(e, "demo");
    }
    return start_origin(d, e);
}

/* ---- ready, and the end ---------------------------------------------------------------- */

static void on_ready(struct http_server *srv, void *arg)
{
    struct demo *d = arg;
    (void)srv;
    release_ports(d); /* both servers have bound theirs now */
    printf("\nPostern demo: the walkthrough with Postern as identity provider and gateway.\n\n"
           "  Open http://service.localhost:%d/ and sign in as demo / %s\n\n",
           d->port, d->password);
    util_free_secret(d->password);
    d->password = NULL;
    printf("  Identity provider  %s/  (Authentik's role)\n"
           "  Team domain        %s/  (Cloudflare Access's role)\n"
           "  Applications       http://service.localhost:%d/  myapp: everyone\n"
           "                     http://second.localhost:%d/   second: single sign-on\n"
           "                     http://private.localhost:%d/  private: admin@example.com only\n"
           "  Origin             http://127.0.0.1:%d/  (refuses requests without the "
           "gateway's token)\n"
           "  Test the IdP       %s/cdn-cgi/access/test/Authentik\n"
           "  Configuration      %s\n"
           "  Data               %s%s\n\n"
           "Press Ctrl-C to stop.\n",
           d->auth, d->team, d->port, d->port, d->port, d->origin_port, d->team, d->config,
           d->data_dir, d->temporary ? " (removed at exit)" : "");
    fflush(stdout);
    /* From here on the servers' control loops take SIGINT and SIGTERM (see the top). */
    sigprocmask(SIG_SETMASK, &d->old_mask, NULL);
}

static void stop_origin(struct demo *d)
{
    if (d->origin <= 0) {
        return;
    }
    kill(d->origin, SIGTERM);
    int status = 0;
    int64_t deadline = util_mono_ms() + DEMO_ORIGIN_STOP_MS;
    pid_t w;
    while ((w = waitpid(d->origin, &status, WNOHANG)) == 0 && util_mono_ms() < deadline) {
        poll(NULL, 0, 20);
    }
    if (w == 0) {
        log_warn("demo: the origin did not stop: killed");
        kill(d->origin, SIGKILL);
        waitpid(d->origin, &status, 0);
    }
    d->origin = 0;
}

static void demo_init(struct demo *d, int port)
{
    memset(d, 0, sizeof *d);
    d->port = port;
    d->hold[0] = d->hold[1] = -1;
    d->ready_fd = -1;
    static const struct demo_origin_app apps[DEMO_NAPPS] = {
        {"myapp", "service.localhost", NULL, "everyone"},
        {"second", "second.localhost", NULL, "everyone"},
        {"private", "private.localhost", NULL, "admin@example.com only"},
    };
    memcpy(d->apps, apps, sizeof apps);
}

static int demo_run(struct demo *d, const char *data_dir)
{
    struct err e = {0};
    struct admin_config cfg = {0};
    int rc = 1;
    d->password = util_random_token(DEMO_PASSWORD_BYTES);
    if (reserve_port(d->port, &d->hold[0], &d->port, &e) != 0 ||
        reserve_port(0, &d->hold[1], &d->origin_port, &e) != 0 ||
        make_data_dir(d, data_dir, &e) != 0) {
        fprintf(stderr, "postern demo: %s\n", e.msg);
        goto done;
    }
    snprintf(d->auth, sizeof d->auth, "http://auth.localhost:%d", d->port);
    snprintf(d->team, sizeof d->team, "http://team.localhost:%d", d->port);
    if (write_config(d, &e) != 0 || admin_config_load(d->config, &cfg, &e) != 0) {
        fprintf(stderr, "postern demo: %s\n", e.msg);
        goto done;
    }
    log_set_level(cfg.log_level);
    struct main_serve_hooks h = {on_prepared, on_ready, d};
    rc = main_serve(&cfg, &h);
done:
    admin_config_free(&cfg);
    release_ports(d);
    stop_origin(d);
    if (d->ready_fd >= 0) {
        close(d->ready_fd);
    }
    remove_data_dir(d);
    if (d->temporary) {
        printf("Stopped; %s removed.\n", d->data_dir);
    }
    util_free_secret(d->password);
    return rc;
}

/* msg_z NULL: getopt has said what is wrong already. */
static int usage_error(const char *msg_z)
{
    if (msg_z != NULL) {
        fprintf(stderr, "postern demo: %s\n", msg_z);
    }
    fprintf(stderr, "\n%s", usage_demo);
    return ADMIN_EXIT_USAGE;
}

int demo_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *data_dir = NULL;
    uint64_t port = DEMO_DEFAULT_PORT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:d:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_demo, stdout);
            return 0;
        }
        if (c == 'p' && util_parse_u64(slice_z(optarg), 65535, &port) == 0) {
            continue;
        }
        if (c == 'd' && optarg[0] != '\0') {
            data_dir = optarg;
            continue;
        }
        return usage_error(c == 'p'   ? "--port: expected 0 to 65535"
                           : c == 'd' ? "--data-dir: expected a directory"
                                      : NULL);
    }
    if (optind != argc) {
        return usage_error("unexpected argument");
    }
    struct demo d;
    demo_init(&d, (int)port);
    /* Blocked until the servers take them (on_ready); see the top of the file. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &d.old_mask);
    return demo_run(&d, data_dir);
}
