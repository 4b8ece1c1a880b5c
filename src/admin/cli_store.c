/*
 * `postern migrate` and `postern store export|import` (issue 6, "Moving up"): the schema
 * brought up to date on purpose (`serve` and the other commands also do it when they start),
 * and a whole installation moved from one store to another (SQLite to PostgreSQL and back).
 * Unlike the other commands these open a store without making the IdP's secret and keys:
 * an import needs an empty target, and an export must not write to its source.
 */
#include "admin/admin_int.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define MOVE_INPUT_MAX  (1024 * 1024 * 1024) /* bytes of an export that import reads */
#define MOVE_READ_CHUNK (64 * 1024)
#define SQLITE_PREFIX   "sqlite:"

static const char usage_migrate[] =
    "Usage: postern migrate (--config FILE | --store URL)\n"
    "\n"
    "Brings the store's schema up to this postern's version, one step at a time, and prints\n"
    "the version before and after (the steps are logged on standard error). Safe to run while\n"
    "servers run, and on several nodes at once. A store migrated by a newer postern is\n"
    "refused (exit status 1). `serve` and the other commands also migrate when they start.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (its `store`, or SQLite in its data_dir)\n"
    "  -s, --store URL     the store itself: sqlite:PATH or postgres://USER@HOST:PORT/DB\n"
    "  -h, --help          show this help\n";

static const char usage_store[] =
    "Usage: postern store export (--config FILE | --store URL) [--output FILE|-]\n"
    "       postern store import (--config FILE | --store URL) [--input FILE|-]\n"
    "\n"
    "Moves an installation from one store to another, e.g. from SQLite to PostgreSQL when\n"
    "one node is not enough (docs/operations.md), and back.\n"
    "\n"
    "export writes one JSON document (format postern-store-export, version 1) with every\n"
    "configuration object: users with their ids, uuids and password hashes (every sub_mode\n"
    "keeps its subjects), groups and memberships, certificate-key pairs, providers (client\n"
    "IDs and secrets), applications and bindings, the gateway's identity providers,\n"
    "applications (AUD tags), service tokens (client IDs and secret digests) and signing\n"
    "keys (with the grace periods of retired ones), and the settings (the IdP's secret, the\n"
    "team domain). Objects come in a fixed order: exports of equal stores are equal. The\n"
    "file is created with mode 0600: it holds private keys, secrets and password hashes.\n"
    "\n"
    "import writes such a document into a store that holds none of these objects (a new\n"
    "database; it is migrated first), in one transaction: on any error nothing is written,\n"
    "and the error names the object and the field. There is no merge or replace: to import\n"
    "again, drop the target database (or remove the SQLite file) and start over.\n"
    "\n"
    "Not moved (runtime state): IdP and gateway sessions, authorization codes, access and\n"
    "refresh tokens, consents, login states, failed-login counters and events. After a move\n"
    "users log in again, clients get new tokens, and consents are asked again. The times the\n"
    "store stamps (created, updated, password changed, last used) become the import's.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (its `store`, or SQLite in its data_dir)\n"
    "  -s, --store URL     the store itself: sqlite:PATH or postgres://USER@HOST:PORT/DB\n"
    "  -o, --output FILE   export: where to write (default: - for standard output)\n"
    "  -i, --input FILE    import: what to read (default: - for standard input)\n"
    "  -h, --help          show this help\n";

struct store_opts {
    const char *config;
    const char *store;
    const char *output;
    const char *input;
};

/* --config or --store (one of them), and the file options when io. Returns -1 to go on, or
 * the exit status (help shown, usage error). */
static int parse(int argc, char **argv, const char *usage, bool io, struct store_opts *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"store", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'}, {"input", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},         {0}};
    memset(o, 0, sizeof *o);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, io ? "c:s:o:i:h" : "c:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 's':
            o->store = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'i':
            o->input = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return ADMIN_EXIT_USAGE;
        }
    }
    if ((o->config == NULL) == (o->store == NULL)) {
        return admin_usage_error(usage, "give one of --config FILE and --store URL");
    }
    if (optind != argc) {
        return admin_usage_error(usage, "unexpected argument");
    }
    return -1;
}

/* The URL of --store, or of the config (its `store`, else SQLite in its data_dir, which is
 * created when create). A secret (it may hold a password): util_free_secret it. */
static char *store_url(const struct store_opts *o, bool create, struct err *e)
{
    if (o->store != NULL) {
        return xstrdup(o->store);
    }
    struct admin_config cfg;
    char *url = NULL;
    if (admin_config_load(o->config, &cfg, e) == 0 &&
        (!create || admin_ensure_data_dir(cfg.data_dir, e) == 0)) {
        url = cfg.store_url ? xstrdup(cfg.store_url) : store_default_url(cfg.data_dir);
    }
    admin_config_free(&cfg);
    return url;
}

/* An export reads: a SQLite path that does not exist is a mistake, not an empty store
 * (opening it would create one). */
static int sqlite_exists(const char *url, struct err *e)
{
    const char *path = url;
    if (strncasecmp(url, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0) {
        path = url + strlen(SQLITE_PREFIX);
    } else if (strstr(url, "://") != NULL) {
        return 0; /* a server */
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return err_set(e, errno, "no store at %s: %s", path, strerror(errno));
    }
    return 0;
}

static struct store *open_url(const struct store_opts *o, bool create, bool must_exist,
                              struct err *e)
{
    char *url = store_url(o, create, e);
    struct store *s = NULL;
    if (url != NULL && (!must_exist || sqlite_exists(url, e) == 0)) {
        s = store_open(url, e);
    }
    util_free_secret(url);
    return s;
}

static int fail(struct store *s, const struct err *e)
{
    fprintf(stderr, "postern: %s\n", e->msg);
    store_close(s);
    return 1;
}

/* ---- migrate ------------------------------------------------------------------------- */

int admin_cmd_migrate(int argc, char **argv)
{
    struct store_opts o;
    int rc = parse(argc, argv, usage_migrate, false, &o);
    if (rc >= 0) {
        return rc;
    }
    log_set_level(LOG_INFO); /* the store logs each step it applies */
    struct err e = {0};
    int before = 0, after = 0;
    struct store *s = open_url(&o, true, false, &e);
    if (s == NULL || store_schema_version(s, &before, &e) != 0) {
        return fail(s, &e);
    }
    printf("schema version %d (this postern: %d)\n", before, store_schema_latest(s));
    fflush(stdout);
    if (store_migrate(s, &e) != 0 || store_schema_version(s, &after, &e) != 0) {
        return fail(s, &e);
    }
    if (after == before) {
        printf("schema version %d: up to date, nothing applied\n", after);
    } else {
        printf("schema version %d: %d step(s) applied\n", after, after - before);
    }
    store_close(s);
    return 0;
}

/* ---- export -------------------------------------------------------------------------- */

/* Writes text to path through a new 0600 file renamed into place: a failed export leaves
 * no half-written file, and never widens the mode of an existing one. */
static int write_file(const char *path, const char *text, size_t n, struct err *e)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        return err_set(e, 0, "%s: path too long", path);
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        return err_set(e, errno, "%s: %s", path, strerror(errno));
    }
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, text + done, n - done);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        done += (size_t)k;
    }
    int err = done == n && fsync(fd) == 0 ? 0 : errno;
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        unlink(tmp);
        return err_set(e, err, "%s: %s", path, strerror(err));
    }
    return 0;
}

static int write_output(const char *path, const char *text, struct err *e)
{
    size_t n = strlen(text);
    if (path != NULL && strcmp(path, "-") != 0) {
        return write_file(path, text, n, e);
    }
    if (fwrite(text, 1, n, stdout) != n || fflush(stdout) != 0) {
        return err_set(e, errno, "standard output: %s", strerror(errno));
    }
    return 0;
}

/* How many objects the document holds (settings and every section's elements). */
static size_t count_objects(const json_t *doc)
{
    const json_t *objects = json_object_get(doc, "objects");
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)objects, key, v)
    {
        n += json_is_array(v) ? json_array_size(v) : json_object_size(v);
    }
    return n;
}

static int store_export(const struct store_opts *o)
{
    struct err e = {0};
    json_t *doc = NULL;
    struct store *s = open_url(o, false, true, &e);
    if (s == NULL || admin_store_export(s, &doc, &e) != 0) {
        return fail(s, &e);
    }
    store_close(s);
    char *text = json_dumps(doc, JSON_INDENT(2));
    size_t n = count_objects(doc), len = strlen(text);
    json_decref(doc);
    char *out = xmalloc(len + 2); /* and a final newline, which jansson leaves out */
    memcpy(out, text, len);
    memcpy(out + len, "\n", 2);
    util_free_secret(text);
    int rc = write_output(o->output, out, &e);
    util_free_secret(out);
    if (rc != 0) {
        return fail(NULL, &e);
    }
    bool file = o->output != NULL && strcmp(o->output, "-") != 0;
    fprintf(stderr,
            "postern: exported %zu objects%s%s. It holds private keys, client secrets, password "
            "hashes and the IdP's secret: keep it as safe as the store itself.\n",
            n, file ? " to (mode 0600) " : "", file ? o->output : "");
    return 0;
}

/* ---- import -------------------------------------------------------------------------- */

/* The whole input, at most MOVE_INPUT_MAX bytes, into b. */
static int read_input(const char *path, struct buf *b, struct err *e)
{
    bool std = path == NULL || strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "r");
    const char *name = std ? "standard input" : path;
    if (f == NULL) {
        return err_set(e, errno, "%s: %s", name, strerror(errno));
    }
    char *chunk = xmalloc(MOVE_READ_CHUNK);
    int rc = 0;
    size_t k;
    while (rc == 0 && (k = fread(chunk, 1, MOVE_READ_CHUNK, f)) > 0) {
        if (buf_append(b, chunk, k) != 0) {
            rc = err_set(e, 0, "%s: larger than %d bytes", name, MOVE_INPUT_MAX);
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = err_set(e, EIO, "%s: read error", name);
    }
    util_wipe(chunk, MOVE_READ_CHUNK);
    free(chunk);
    if (!std) {
        fclose(f);
    }
    return rc;
}

static json_t *parse_input(const char *path, struct err *e)
{
    struct buf b;
    buf_init(&b, MOVE_INPUT_MAX);
    json_t *doc = NULL;
    if (read_input(path, &b, e) == 0) {
        json_error_t je;
        doc = json_loadb(b.p ? b.p : "", b.len, JSON_REJECT_DUPLICATES, &je);
        if (doc == NULL) {
            err_set(e, 0, "%s: not a JSON document: line %d, column %d: %s",
                    path && strcmp(path, "-") ? path : "standard input", je.line, je.column,
                    je.text);
        }
    }
    util_wipe(b.p, b.len);
    buf_free(&b);
    return doc;
}

static int store_import(const struct store_opts *o)
{
    struct err e = {0};
    struct admin_import_stats st;
    struct store *s = NULL;
    json_t *doc = parse_input(o->input, &e);
    if (doc != NULL) {
        s = open_url(o, true, false, &e);
    }
    int rc = s != NULL && store_migrate(s, &e) == 0 ? admin_store_import(s, doc, &st, &e) : -1;
    json_decref(doc);
    if (rc != 0) {
        fprintf(stderr, "postern: nothing imported: %s\n", e.msg);
        store_close(s);
        return 1;
    }
    store_close(s);
    printf("imported: %d settings, %d groups, %d users, %d certificate-key pairs, %d providers, "
           "%d applications, %d gateway identity providers, %d gateway applications, "
           "%d service tokens, %d gateway signing keys\n",
           st.meta, st.groups, st.users, st.keypairs, st.providers, st.applications, st.access_idps,
           st.access_apps, st.service_tokens, st.access_keys);
    printf("not moved: sessions, codes, tokens, consents, login states, failed-login counters "
           "and events (users log in again)\n");
    return 0;
}

/* argv[0] is "store"; argv[1] the subcommand. */
int admin_cmd_store(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(usage_store, stdout);
        return 0;
    }
    bool is_export = strcmp(sub, "export") == 0;
    if (!is_export && strcmp(sub, "import") != 0) {
        return admin_usage_error(usage_store, "expected export or import");
    }
    struct store_opts o;
    int rc = parse(argc - 1, argv + 1, usage_store, true, &o);
    if (rc >= 0) {
        return rc;
    }
    if ((is_export && o.input) || (!is_export && o.output)) {
        return admin_usage_error(usage_store,
                                 is_export ? "--input is for import" : "--output is for export");
    }
    log_set_level(LOG_WARN);
    return is_export ? store_export(&o) : store_import(&o);
}
