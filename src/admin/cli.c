/*
 * The management commands: apply, user, group, provider, events. Each opens the store named
 * by the configuration file, like `serve` does, and works on it directly.
 */
#include "admin/admin_int.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "store/store.h"

#define CLI_PASSWORD_MAX 1024

/* ---- common -------------------------------------------------------------------------- */

int admin_ensure_data_dir(const char *dir, struct err *e)
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

/* Loads the config, opens and migrates the store, and loads or creates the IdP's secret and
 * default signing key (so that a provider applied before the first `serve` has its key). */
int admin_cli_open(const char *config_z, struct admin_cli *cli, struct err *e)
{
    memset(cli, 0, sizeof *cli);
    if (admin_config_load(config_z, &cli->cfg, e) != 0) {
        return -1;
    }
    log_set_level(cli->cfg.log_level > LOG_WARN ? cli->cfg.log_level : LOG_WARN);
    if (admin_ensure_data_dir(cli->cfg.data_dir, e) != 0) {
        return -1;
    }
    char *url = cli->cfg.store_url ? xstrdup(cli->cfg.store_url)
                                   : store_default_url(cli->cfg.data_dir);
    cli->store = store_open(url, e);
    util_free_secret(url);
    if (cli->store == NULL || store_migrate(cli->store, e) != 0) {
        return -1;
    }
    struct idp_config ic = cli->cfg.idp;
    if (!cli->cfg.idp_enabled) {
        ic.public_url = (char *)ADMIN_NO_PUBLIC_URL; /* copied by idp_init, never served */
    }
    return idp_init(&cli->idp, &ic, cli->store, e);
}

void admin_cli_close(struct admin_cli *cli)
{
    idp_free(&cli->idp);
    store_close(cli->store);
    admin_config_free(&cli->cfg);
    memset(cli, 0, sizeof *cli);
}

/* Reads a password: from a terminal without echo (asked twice), else one line of stdin. */
char *admin_read_password(bool confirm, struct err *e)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char *pw = xcalloc(1, CLI_PASSWORD_MAX);
    char *again = xcalloc(1, CLI_PASSWORD_MAX);
    char *result = NULL;
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
        tty = false;
    }
    if (tty) {
        fputs("Password: ", stderr);
    }
    bool ok = fgets(pw, CLI_PASSWORD_MAX, stdin) != NULL;
    if (ok && tty && confirm) {
        fputs("\nRepeat password: ", stderr);
        ok = fgets(again, CLI_PASSWORD_MAX, stdin) != NULL;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    again[strcspn(again, "\r\n")] = '\0';
    if (!ok) {
        err_set(e, 0, "no password given on standard input");
    } else if (tty && confirm && strcmp(pw, again) != 0) {
        err_set(e, 0, "the two passwords differ");
    } else {
        result = xstrdup(pw);
    }
    util_wipe(pw, CLI_PASSWORD_MAX);
    util_wipe(again, CLI_PASSWORD_MAX);
    free(pw);
    free(again);
    return result;
}

int admin_usage_error(const char *usage, const char *msg)
{
    fprintf(stderr, "postern: %s\n\n%s", msg, usage);
    return ADMIN_EXIT_USAGE;
}

static int fail(struct admin_cli *cli, const struct err *e)
{
    fprintf(stderr, "postern: %s\n", e->msg);
    admin_cli_close(cli);
    return 1;
}

/* Parses --config FILE (required), the options of the user commands and --help. Returns
 * -1 to go on, or the exit status when the command is over (help shown, usage error). */
int admin_parse_opts(int argc, char **argv, const char *usage, struct admin_cli_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"email", required_argument, NULL, 'm'},
                                         {"group", required_argument, NULL, 'g'},
                                         {"password", no_argument, NULL, 'p'},
                                         {"action", required_argument, NULL, 'a'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    memset(o, 0, sizeof *o);
    o->limit = 50;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'n': o->name = optarg; break;
        case 'm': o->email = optarg; break;
        case 'p': o->password = true; break;
        case 'a': o->action = optarg; break;
        case 'g':
            if (o->ngroups == ADMIN_CLI_MAX_GROUPS) {
                return admin_usage_error(usage, "too many --group options");
            }
            o->groups[o->ngroups++] = optarg;
            break;
        case 'l':
            if (util_parse_u64(slice_z(optarg), ADMIN_CLI_LIST_MAX, &v) != 0 || v == 0) {
                return admin_usage_error(usage, "--limit takes a number from 1 to 1000");
            }
            o->limit = (long)v;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return ADMIN_EXIT_USAGE;
        }
    }
    if (o->config == NULL) {
        return admin_usage_error(usage, "--config FILE is required");
    }
    return -1; /* go on */
}

/* ---- apply --------------------------------------------------------------------------- */

static const char usage_apply[] =
    "Usage: postern apply --config FILE OBJECTS.yaml...\n"
    "\n"
    "Creates or updates the users, groups, providers and applications of each OBJECTS file\n"
    "(same keys as in the configuration file), idempotently by username, group name,\n"
    "provider name and application slug, and the gateway's `access:` section (team domain,\n"
    "identity providers and applications, by name). Each file is applied in one transaction:\n"
    "a mistake anywhere in it changes nothing, and is reported as FILE:LINE: FIELD: message.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

int admin_cmd_apply(int argc, char **argv)
{
    struct admin_cli_opts o;
    int rc = admin_parse_opts(argc, argv, usage_apply, &o);
    if (rc >= 0) {
        return rc;
    }
    if (optind >= argc) {
        return admin_usage_error(usage_apply, "name at least one OBJECTS.yaml file");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    for (int i = optind; i < argc; i++) {
        struct yaml_doc doc;
        struct admin_apply_stats st;
        if (util_yaml_load_file(argv[i], &doc, &e) != 0 ||
            admin_apply_objects(cli.store, &doc, &st, &e) != 0) {
            util_yaml_free(&doc);
            return fail(&cli, &e);
        }
        printf("%s: %d created, %d updated\n", argv[i], st.created, st.updated);
        util_yaml_free(&doc);
    }
    admin_cli_close(&cli);
    return 0;
}

int admin_apply_objects(struct store *s, const struct yaml_doc *doc,
                        struct admin_apply_stats *st, struct err *e)
{
    static const char *const known[] = {"users",        "groups",           "providers",
                                        "applications", "certificate_keypairs", "access",
                                        NULL};
    struct admin_ctx x = {doc, e};
    if (!json_is_object(doc->root)) {
        return admin_bad(&x, doc->root, "(top level)",
                         "expected a mapping of users, groups, providers, applications, access");
    }
    if (admin_check_keys(&x, doc->root, "", known) != 0) {
        return -1;
    }
    return admin_apply(s, doc, doc->root, st, e);
}
