/*
 * `postern access ...`: the gateway's service tokens, signing keys, applications and identity
 * providers (issue 4). Like the other commands, each opens the store of the configuration
 * file and works on it directly; running gateways see the changes at their next reload.
 */
#include "admin/admin_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/access.h"
#include "http/http.h"
#include "store/store.h"

#define CLI_YEAR_S          (365 * 86400)
#define CLI_TOKEN_DEFAULT_S CLI_YEAR_S /* Cloudflare's default service-token duration */
#define CLI_TOKEN_MIN_S     60
#define CLI_TOKEN_MAX_S     (10 * CLI_YEAR_S)
#define CLI_YEARS_MAX       100 /* what a "Ny" duration may say before the bounds apply */
#define CLI_TIME_MAX        32  /* "2026-11-29T05:43:19Z" and room */
#define CLI_KID_MAX         64  /* access_keys_rotate's kid_out */
#define CLI_CALLBACK_PATH   "/cdn-cgi/access/callback"
#define CLI_TEST_PATH       "/cdn-cgi/access/test/" /* + the IdP's name, percent-encoded */
#define CLI_CHECK_COL       22                      /* width of a check's name */
#define CLI_DIAG_COL        15                      /* width of "OK" or a diagnosis name */
#define CLI_OPT_DURATION    1u                      /* which options a command takes */
#define CLI_OPT_GRACE       2u

static const char usage_access[] =
    "Usage: postern access COMMAND --config FILE ...\n"
    "\n"
    "The access gateway's objects in the store (configure its applications and identity\n"
    "providers in the `access:` section of the configuration file or of `postern apply`).\n"
    "\n"
    "Commands:\n"
    "  service-token add NAME [--duration 1y]\n"
    "                      create a service token; prints its client ID and secret once\n"
    "  service-token list  name, client ID, created, expires, last used (never a secret)\n"
    "  service-token del NAME\n"
    "                      delete a service token: requests using it are refused\n"
    "  rotate-keys [--grace 7d]\n"
    "                      a new signing key for app tokens; the previous one keeps verifying\n"
    "                      during the grace period\n"
    "  apps                applications: name, domain, AUD tag, origin\n"
    "  idps                identity providers: name, type, client ID, URLs (never the secret)\n"
    "  test-idp NAME       check an identity provider without a browser; prints the URL of\n"
    "                      the interactive test\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help (or a command's: postern access COMMAND --help)\n";

static const char usage_token[] =
    "Usage: postern access service-token add NAME --config FILE [--duration DURATION]\n"
    "       postern access service-token list --config FILE\n"
    "       postern access service-token del NAME --config FILE\n"
    "\n"
    "A service token lets a program through applications whose policy has the action\n"
    "service_auth and a service_token (by NAME) or any_service_token rule: it sends the\n"
    "headers CF-Access-Client-Id and CF-Access-Client-Secret with each request. `add` prints\n"
    "both header lines; the secret is shown only then (the store keeps only its hash).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      the configuration file (for the store)\n"
    "      --duration D       how long the token is valid: 1m to 10y (such as 30d, 52w, 1y),\n"
    "                         or forever (default: 1y)\n"
    "  -h, --help             show this help\n";

static const char usage_rotate[] =
    "Usage: postern access rotate-keys --config FILE [--grace DURATION]\n"
    "\n"
    "Makes a new signing key for the gateway's app tokens (published at\n"
    "/cdn-cgi/access/certs). The previous key keeps verifying the tokens it signed during\n"
    "the grace period; --grace 0 stops it at once (a leaked key). Prints the new kid and\n"
    "until when the previous key verifies.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      the configuration file (for the store)\n"
    "      --grace D          0 to 366d (such as 12h, 7d, 2w; default: 7d)\n"
    "  -h, --help             show this help\n";

static const char usage_apps[] =
    "Usage: postern access apps --config FILE\n"
    "\n"
    "Lists the gateway's applications: name, domain, AUD tag and origin. An origin that\n"
    "validates Cf-Access-Jwt-Assertion checks the token's aud against the AUD tag.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

static const char usage_idps[] =
    "Usage: postern access idps --config FILE\n"
    "\n"
    "Lists the gateway's identity providers: name, type, client ID, URLs, and the redirect\n"
    "URI to register at each (never the client secret).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

static const char usage_test_idp[] =
    "Usage: postern access test-idp NAME --config FILE\n"
    "\n"
    "Checks the identity provider NAME as the gateway uses it, without a browser, and prints\n"
    "one line per check: OK, or what is wrong and where.\n"
    "  discovery               the discovery document (when discovery_url is set)\n"
    "  jwks                    the signing keys (certs_url): reachable, at least one usable\n"
    "  token endpoint          client_id and client_secret accepted (a made-up code is sent:\n"
    "                          invalid_grant is the good answer, invalid_client a bad secret)\n"
    "  authorization endpoint  the gateway's redirect URI (team domain +\n"
    "                          " CLI_CALLBACK_PATH ") registered at the provider\n"
    "  clock                   the provider's Date within 60 s of this machine's clock\n"
    "Then the URL of the interactive test (team domain + " CLI_TEST_PATH "NAME): a real\n"
    "login in a browser that shows the identity and claims received, or what is wrong with\n"
    "the ID token.\n"
    "\n"
    "Exit status: 0 when every check passes, 1 when one fails, 2 on a usage error.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

struct access_opts {
    const char *config;
    const char *duration;
    const char *grace;
};

static int fail(struct admin_cli *cli, const struct err *e)
{
    fprintf(stderr, "postern: %s\n", e->msg);
    admin_cli_close(cli);
    return 1;
}

/* --config, and --duration / --grace where allowed. -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, const char *usage, unsigned allowed,
                      struct access_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    memset(o, 0, sizeof *o);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'd':
            if (!(allowed & CLI_OPT_DURATION)) {
                return admin_usage_error(usage, "--duration is for service-token add");
            }
            o->duration = optarg;
            break;
        case 'g':
            if (!(allowed & CLI_OPT_GRACE)) {
                return admin_usage_error(usage, "--grace is for rotate-keys");
            }
            o->grace = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return ADMIN_EXIT_USAGE;
        }
    }
    if (o->config == NULL) {
        return admin_usage_error(usage, "--config FILE is required");
    }
    return -1;
}

/* util_parse_duration's units, and "Ny" (365 days) as Cloudflare offers for service tokens. */
static int parse_duration(const char *z, int64_t min, int64_t max, int64_t *out)
{
    size_t n = strlen(z);
    int64_t sec;
    if (n > 1 && z[n - 1] == 'y') {
        uint64_t years;
        if (util_parse_u64((struct slice){z, n - 1}, CLI_YEARS_MAX, &years) != 0) {
            return -1;
        }
        sec = (int64_t)years * CLI_YEAR_S;
    } else if (util_parse_duration(slice_z(z), &sec) != 0) {
        return -1;
    }
    if (sec < min || sec > max) {
        return -1;
    }
    *out = sec;
    return 0;
}

static void fmt_time(int64_t t, char out[CLI_TIME_MAX])
{
    if (t == 0) {
        snprintf(out, CLI_TIME_MAX, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, CLI_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Service token names appear in policies (service_token: [NAME]) and in events: printable
 * UTF-8 of at most ACCESS_NAME_MAX bytes, no surrounding spaces (the model's rule). */
static bool name_ok(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n > ACCESS_NAME_MAX || z[0] == ' ' || z[n - 1] == ' ') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)z; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    json_t *utf8 = json_string(z); /* NULL when z is not valid UTF-8 */
    json_decref(utf8);
    return utf8 != NULL;
}

/* ---- service tokens ------------------------------------------------------------------ */

static int token_add(struct admin_cli *cli, const char *name, int64_t duration)
{
    struct err e = {0};
    struct store_service_token t = {
        .name = (char *)name, /* read only by the store; never freed here */
        .expires_at = duration > 0 ? util_now() + duration : 0,
    };
    char secret[STORE_SERVICE_SECRET_SIZE];
    if (store_service_token_create(cli->store, &t, secret, &e) != 0) {
        if (e.code == STORE_E_CONSTRAINT && strstr(e.msg, "name already exists") != NULL) {
            err_set(&e, STORE_E_CONSTRAINT,
                    "a service token named \"%s\" already exists (delete it first, or choose "
                    "another name)",
                    name);
        } else {
            err_prefix(&e, "service token \"%s\"", name);
        }
        return fail(cli, &e);
    }
    admin_model_event(cli->store, "model_created", "service_token", name, NULL);
    char expires[CLI_TIME_MAX];
    fmt_time(t.expires_at, expires);
    printf("service token %s created; expires: %s\n"
           "Send both headers with each request. The secret is shown only now: Postern keeps\n"
           "only its hash (lost, it cannot be read back: delete the token and add another).\n"
           "CF-Access-Client-Id: %s\n"
           "CF-Access-Client-Secret: %s\n",
           name, expires, t.client_id, secret);
    fflush(stdout);
    util_wipe(secret, sizeof secret);
    return 0;
}

static int token_list(struct admin_cli *cli)
{
    struct err e = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    struct store_service_token_list l = {0};
    printf("%-24s %-39s %-20s %-20s %s\n", "NAME", "CLIENT ID", "CREATED", "EXPIRES", "LAST USED");
    do {
        if (store_service_token_list(cli->store, &pg, &l, &e) != 0) {
            store_service_token_list_free(&l);
            return fail(cli, &e);
        }
        for (size_t i = 0; i < l.n; i++) {
            const struct store_service_token *t = &l.v[i];
            char created[CLI_TIME_MAX], expires[CLI_TIME_MAX], used[CLI_TIME_MAX];
            fmt_time(t->created_at, created);
            fmt_time(t->expires_at, expires);
            fmt_time(t->last_used, used);
            bool expired = t->expires_at != 0 && t->expires_at <= util_now();
            printf("%-24s %-39s %-20s %-20s %s%s\n", t->name, t->client_id, created, expires, used,
                   expired ? " (expired)" : "");
        }
        pg.offset += l.n;
    } while (l.n == pg.limit);
    store_service_token_list_free(&l);
    return 0;
}

static int token_del(struct admin_cli *cli, const char *name)
{
    struct err e = {0};
    int rc = store_service_token_delete(cli->store, name, &e);
    if (rc == STORE_NOT_FOUND) {
        err_set(&e, 0, "no service token named \"%s\"", name);
    }
    if (rc != 0) {
        return fail(cli, &e);
    }
    admin_model_event(cli->store, "model_deleted", "service_token", name, NULL);
    printf("service token %s deleted\n", name);
    return 0;
}

static int cmd_token(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0) {
        fputs(usage_token, stdout);
        return 0;
    }
    struct access_opts o;
    int rc = parse_opts(argc - 1, argv + 1, usage_token, CLI_OPT_DURATION, &o);
    if (rc >= 0) {
        return rc;
    }
    bool list = strcmp(verb, "list") == 0;
    if (!list && strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0) {
        return admin_usage_error(usage_token, "expected service-token add, list or del");
    }
    if (argc - 1 - optind != (list ? 0 : 1)) {
        return admin_usage_error(usage_token, list ? "no argument expected" : "name one token");
    }
    const char *name = list ? NULL : argv[1 + optind];
    if (o.duration != NULL && strcmp(verb, "add") != 0) {
        return admin_usage_error(usage_token, "--duration is for service-token add");
    }
    int64_t duration = CLI_TOKEN_DEFAULT_S;
    if (o.duration != NULL && strcmp(o.duration, "forever") == 0) {
        duration = 0;
    } else if (o.duration != NULL &&
               parse_duration(o.duration, CLI_TOKEN_MIN_S, CLI_TOKEN_MAX_S, &duration) != 0) {
        return admin_usage_error(usage_token,
                                 "--duration takes 1m to 10y (such as 30d or 1y), or forever");
    }
    if (name != NULL && strcmp(verb, "add") == 0 && !name_ok(name)) {
        return admin_usage_error(usage_token,
                                 "a token name is 1 to 128 bytes of printable UTF-8 without "
                                 "leading or trailing spaces");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    rc = list
             ? token_list(&cli)
             : (strcmp(verb, "add") == 0 ? token_add(&cli, name, duration) : token_del(&cli, name));
    if (rc == 0) {
        admin_cli_close(&cli);
    }
    return rc;
}

/* ---- signing keys -------------------------------------------------------------------- */

static void print_keys(const struct store_access_key_list *l, const char *prev_kid)
{
    const struct store_access_key *prev = NULL;
    for (size_t i = 0; i < l->n && prev_kid[0] != '\0'; i++) {
        if (l->v[i].retired_at != 0 && strcmp(l->v[i].kid, prev_kid) == 0) {
            prev = &l->v[i];
        }
    }
    char until[CLI_TIME_MAX];
    if (prev != NULL) {
        fmt_time(prev->not_after, until);
        printf("previous key: kid %s verifies until %s\n", prev_kid, until);
    } else if (prev_kid[0] != '\0') {
        printf("previous key: kid %s no longer verifies (no grace period)\n", prev_kid);
    } else {
        printf("there was no previous key\n");
    }
    printf("keys that verify app tokens now:\n");
    for (size_t i = 0; i < l->n; i++) {
        fmt_time(l->v[i].not_after, until);
        printf("  %-44s %-6s %s\n", l->v[i].kid, l->v[i].alg,
               l->v[i].retired_at == 0 ? "current (signs)" : until);
    }
}

static int rotate(struct admin_cli *cli, int64_t grace)
{
    struct err e = {0};
    struct store_access_key_list l = {0};
    char prev[CLI_KID_MAX] = "", kid[CLI_KID_MAX];
    if (store_access_key_list(cli->store, &l, &e) != 0) {
        return fail(cli, &e);
    }
    if (l.n > 0 && l.v[0].retired_at == 0) {
        snprintf(prev, sizeof prev, "%s", l.v[0].kid);
    }
    store_access_key_list_free(&l);
    if (access_keys_rotate(cli->store, grace, kid, &e) != 0 ||
        store_access_key_list(cli->store, &l, &e) != 0) {
        store_access_key_list_free(&l);
        return fail(cli, &e);
    }
    json_t *ctx = json_pack("{s:s, s:s, s:s, s:I}", "model", "access_signing_key", "name", kid,
                            "previous", prev, "grace_s", (json_int_t)grace);
    idp_event(cli->store, "key_rotated", NULL, NULL, NULL, ctx);
    json_decref(ctx);
    printf("new signing key: kid %s; it signs app tokens from now on\n", kid);
    print_keys(&l, prev);
    store_access_key_list_free(&l);
    return 0;
}

static int cmd_rotate(int argc, char **argv)
{
    struct access_opts o;
    int rc = parse_opts(argc, argv, usage_rotate, CLI_OPT_GRACE, &o);
    if (rc >= 0) {
        return rc;
    }
    if (optind != argc) {
        return admin_usage_error(usage_rotate, "unexpected argument");
    }
    int64_t grace = ACCESS_KEY_GRACE_S;
    if (o.grace != NULL && parse_duration(o.grace, 0, STORE_ACCESS_GRACE_MAX_S, &grace) != 0) {
        return admin_usage_error(usage_rotate, "--grace takes 0 to 366d (such as 12h or 7d)");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    rc = rotate(&cli, grace);
    if (rc == 0) {
        admin_cli_close(&cli);
    }
    return rc;
}

/* ---- applications and identity providers ---------------------------------------------- */

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
    const char *z = json_string_value(json_object_get(obj, key));
    return z != NULL ? z : dflt;
}

static int apps_list(struct admin_cli *cli)
{
    struct err e = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    struct store_access_app_list l = {0};
    printf("%-24s %-32s %-64s %s\n", "NAME", "DOMAIN", "AUD TAG", "ORIGIN");
    do {
        if (store_access_app_list(cli->store, &pg, &l, &e) != 0) {
            store_access_app_list_free(&l);
            return fail(cli, &e);
        }
        for (size_t i = 0; i < l.n; i++) {
            struct err ignored = {0};
            json_t *cfg = util_json_parse(slice_z(l.v[i].config), &ignored);
            printf("%-24s %-32s %-64s %s\n", l.v[i].name, l.v[i].domain, l.v[i].aud,
                   str_or(cfg, "origin", "-"));
            json_decref(cfg);
        }
        pg.offset += l.n;
    } while (l.n == pg.limit);
    store_access_app_list_free(&l);
    return 0;
}

static void print_idp(const struct store_access_idp *p, const char *team_z)
{
    struct err ignored = {0};
    json_t *cfg = util_json_parse(slice_z(p->config), &ignored);
    const char *disc = str_or(cfg, "discovery_url", NULL);
    const char *from = disc ? "(from discovery)" : "-";
    printf("%s\n", p->name);
    printf("  Type:           %s\n", p->type);
    printf("  Client ID:      %s\n", str_or(cfg, "client_id", "-"));
    printf("  Auth URL:       %s\n", str_or(cfg, "auth_url", from));
    printf("  Token URL:      %s\n", str_or(cfg, "token_url", from));
    printf("  Certs URL:      %s\n", str_or(cfg, "certs_url", from));
    if (disc != NULL) {
        printf("  Discovery URL:  %s\n", disc);
    }
    if (team_z[0] != '\0') {
        printf("  Redirect URI:   %s" CLI_CALLBACK_PATH " (register it at the provider)\n", team_z);
    }
    /* The parsed copy holds the client secret: wiped before it is freed. */
    json_t *secret = json_object_get(cfg, "client_secret");
    if (json_is_string(secret)) {
        util_wipe((char *)json_string_value(secret), json_string_length(secret));
    }
    json_decref(cfg);
}

static int idps_list(struct admin_cli *cli)
{
    struct err e = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    struct store_access_idp_list l = {0};
    struct buf team;
    buf_init(&team, ACCESS_URL_MAX);
    int rc = store_meta_get(cli->store, ACCESS_META_TEAM, &team, &e);
    char *team_z = rc == 0 ? slice_dup((struct slice){team.p, team.len}) : xstrdup("");
    buf_free(&team);
    if (rc < 0) {
        free(team_z);
        return fail(cli, &e);
    }
    do {
        if (store_access_idp_list(cli->store, &pg, &l, &e) != 0) {
            store_access_idp_list_free(&l);
            free(team_z);
            return fail(cli, &e);
        }
        for (size_t i = 0; i < l.n; i++) {
            print_idp(&l.v[i], team_z);
        }
        pg.offset += l.n;
    } while (l.n == pg.limit);
    if (pg.offset == 0) {
        printf("(no identity providers: add them to the access: section and apply it)\n");
    }
    store_access_idp_list_free(&l);
    free(team_z);
    return 0;
}

static int cmd_show(int argc, char **argv, const char *usage, int (*show)(struct admin_cli *))
{
    struct access_opts o;
    int rc = parse_opts(argc, argv, usage, 0, &o);
    if (rc >= 0) {
        return rc;
    }
    if (optind != argc) {
        return admin_usage_error(usage, "unexpected argument");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    rc = show(&cli);
    if (rc == 0) {
        admin_cli_close(&cli);
    }
    return rc;
}

/* ---- test-idp ------------------------------------------------------------------------ */

/* The stored identity provider `name` as the gateway parses it, and the team domain. 0, or 1
 * (and a message on stderr). The parsed JSON held the client secret: wiped before it is freed. */
static int load_idp(struct admin_cli *cli, const char *name, struct access_idp *idp,
                    struct buf *team)
{
    struct err e = {0};
    struct store_access_idp p = {0};
    struct access_err ae = {0};
    json_t *cfg = NULL;
    int rc = store_meta_get(cli->store, ACCESS_META_TEAM, team, &e);
    if (rc == STORE_NOT_FOUND) {
        err_set(&e, 0, "no access.team_domain in the store: apply an access: section first");
    }
    if (rc == 0) {
        rc = store_access_idp_get(cli->store, name, &p, &e);
        if (rc == STORE_NOT_FOUND) {
            err_set(&e, 0, "no identity provider named \"%s\" (see postern access idps)", name);
        }
    }
    if (rc == 0) {
        cfg = util_json_parse(slice_z(p.config), &e);
        rc = cfg == NULL ? -1 : access_idp_parse(cfg, "config", idp, &ae);
        if (cfg != NULL && rc != 0) {
            access_err_format(&ae, &e);
            err_prefix(&e, "stored identity provider \"%s\"", name);
        }
    }
    json_t *secret = json_object_get(cfg, "client_secret");
    if (json_is_string(secret)) {
        util_wipe((char *)json_string_value(secret), json_string_length(secret));
    }
    json_decref(cfg);
    store_access_idp_free(&p);
    if (rc != 0) {
        fprintf(stderr, "postern: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* "OK" or the diagnosis, then the sentence and the detail (URLs, the IdP's own words: quoted
 * printable ASCII by the relying party, never the secret). */
static void print_check(const struct access_rp_check *c)
{
    if (c->diag == ACCESS_RP_OK) {
        printf("%-*s %-*s %s\n", CLI_CHECK_COL, c->what, CLI_DIAG_COL, "OK", c->msg);
    } else {
        printf("%-*s %-*s %s %s\n", CLI_CHECK_COL, c->what, CLI_DIAG_COL,
               access_rp_diag_name(c->diag), access_rp_diag_text(c->diag), c->msg);
    }
}

static int test_idp(struct admin_cli *cli, const char *name)
{
    struct access_idp idp = {0};
    struct access_rp_report rep;
    struct buf team, url;
    buf_init(&team, ACCESS_URL_MAX);
    buf_init(&url, 2 * ACCESS_URL_MAX);
    int rc = load_idp(cli, name, &idp, &team);
    if (rc == 0) {
        buf_append(&url, team.p, team.len);
        buf_append_z(&url, CLI_CALLBACK_PATH);
        printf("identity provider %s; redirect URI %s\n", name, url.p);
        fflush(stdout);
        rc = access_rp_test_idp(&idp, url.p, &rep) == 0 ? 0 : 1;
        size_t failed = 0;
        for (size_t i = 0; i < rep.n; i++) {
            print_check(&rep.checks[i]);
            failed += rep.checks[i].diag != ACCESS_RP_OK;
        }
        printf("%zu of %zu checks passed\n", rep.n - failed, rep.n);
        buf_reset(&url);
        buf_append(&url, team.p, team.len);
        buf_append_z(&url, CLI_TEST_PATH);
        http_url_encode(slice_z(name), &url);
        printf("interactive test (a real login in a browser): %s\n", url.p);
    }
    access_idp_free(&idp);
    buf_free(&team);
    buf_free(&url);
    return rc;
}

static int cmd_test_idp(int argc, char **argv)
{
    struct access_opts o;
    int rc = parse_opts(argc, argv, usage_test_idp, 0, &o);
    if (rc >= 0) {
        return rc;
    }
    if (argc - optind != 1) {
        return admin_usage_error(usage_test_idp, "name one identity provider");
    }
    const char *name = argv[optind];
    if (strlen(name) > ACCESS_NAME_MAX) {
        return admin_usage_error(usage_test_idp, "an identity provider's name is at most 128 "
                                                 "bytes");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    rc = test_idp(&cli, name);
    admin_cli_close(&cli);
    return rc;
}

/* argv[0] is "access"; argv[1] the command. */
int admin_cmd_access(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(usage_access, stdout);
        return 0;
    }
    if (strcmp(sub, "service-token") == 0) {
        return cmd_token(argc - 1, argv + 1);
    }
    if (strcmp(sub, "rotate-keys") == 0) {
        return cmd_rotate(argc - 1, argv + 1);
    }
    if (strcmp(sub, "apps") == 0) {
        return cmd_show(argc - 1, argv + 1, usage_apps, apps_list);
    }
    if (strcmp(sub, "idps") == 0) {
        return cmd_show(argc - 1, argv + 1, usage_idps, idps_list);
    }
    if (strcmp(sub, "test-idp") == 0) {
        return cmd_test_idp(argc - 1, argv + 1);
    }
    return admin_usage_error(usage_access,
                             "expected service-token, rotate-keys, apps, idps or test-idp");
}
