/*
 * The SQLite backend: one connection per thread (SQLITE_OPEN_NOMUTEX), WAL so that readers
 * never wait for the writer, a busy timeout for writers, STRICT tables, and every statement
 * prepared once per connection and cached.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a writer waits for another connection's write transaction to end. */
#define SQLITE_BUSY_TIMEOUT_MS 5000
/* The database holds password hashes and token digests: no access for group or others. */
#define SQLITE_FILE_MODE 0600

/* Every statement this backend runs, prepared on first use and kept per connection. */
enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_HAS_VERSION_TABLE,
    STMT_VERSION,
    STMT_VERSION_INSERT,
    STMT_META_GET,
    STMT_META_SET,
    STMT_META_DELETE,
    STMT_COUNT
};

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_HAS_VERSION_TABLE] =
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
    [STMT_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [STMT_VERSION_INSERT] =
        "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
    [STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [STMT_META_SET] = ("INSERT INTO meta (key, value) VALUES (?1, ?2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    [STMT_META_DELETE] = "DELETE FROM meta WHERE key = ?1",
};

/* PRAGMAs run on every new connection (journal_mode is checked apart). */
static const char *const open_pragmas =
    "PRAGMA synchronous = NORMAL;" /* WAL: durable at checkpoints, never corrupt */
    "PRAGMA foreign_keys = ON;"
    "PRAGMA trusted_schema = OFF;"  /* no SQL functions run from the schema itself */
    "PRAGMA secure_delete = FAST;"; /* deleted token rows do not linger in free pages */

struct sqlite_store {
    struct store base; /* first: a struct store * is a struct sqlite_store * */
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
};

static struct sqlite_store *sq(struct store *s)
{
    return (struct sqlite_store *)s;
}

static int errcode_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_E_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_E_CONSTRAINT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return STORE_E_IO;
    default:
        return STORE_E_INTERNAL;
    }
}

static int sq_fail(struct sqlite_store *s, int rc, const char *what, struct err *e)
{
    return err_set(e, errcode_of(rc), "sqlite: %s: %s", what,
                   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

static sqlite3_stmt *stmt_get(struct sqlite_store *s, enum stmt_id id, struct err *e)
{
    if (!s->stmt[id]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            s->stmt[id] = NULL;
            sq_fail(s, rc, "prepare", e);
            return NULL;
        }
    }
    return s->stmt[id];
}

/* Leaves a cached statement ready for its next use. */
static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no row. */
static int run(struct sqlite_store *s, enum stmt_id id, const char *what, struct err *e)
{
    sqlite3_stmt *st = stmt_get(s, id, e);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, what, e);
    return 0;
}

/* Runs a statement that returns one integer. */
static int run_int(struct sqlite_store *s, enum stmt_id id, int64_t *out, struct err *e)
{
    sqlite3_stmt *st = stmt_get(s, id, e);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    stmt_done(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, stmt_sql[id], e);
    return 0;
}

/* Creates the file 0600 whatever the umask before SQLite opens it (SQLite would create it
 * 0644 & ~umask; its -wal and -shm files copy the database file's mode). An existing file
 * readable by others is tightened, with a warning. */
static int create_private(const char *path, struct err *e)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, SQLITE_FILE_MODE);
    if (fd >= 0) {
        int rc = fchmod(fd, SQLITE_FILE_MODE);
        int saved = errno;
        close(fd);
        if (rc < 0)
            return err_set(e, STORE_E_IO, "sqlite: chmod %s: %s", path, strerror(saved));
        return 0;
    }
    if (errno != EEXIST)
        return err_set(e, STORE_E_IO, "sqlite: cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) < 0)
        return err_set(e, STORE_E_IO, "sqlite: %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(e, STORE_E_IO, "sqlite: %s is not a regular file", path);
    if ((st.st_mode & 077) != 0) {
        if (chmod(path, SQLITE_FILE_MODE) < 0)
            return err_set(e, STORE_E_IO, "sqlite: %s is mode %04o and chmod 600 failed: %s", path,
                           (unsigned)(st.st_mode & 07777), strerror(errno));
        log_warn("store: %s was mode %04o, now 0600", path, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

static int check_wal(struct sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "journal_mode", e);
    rc = sqlite3_step(st);
    int ok =
        rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "journal_mode", e);
    if (!ok)
        return err_set(e, STORE_E_IO, "sqlite: the file system does not support WAL mode");
    return 0;
}

static void sq_close(struct store *base)
{
    struct sqlite_store *s = sq(base);
    if (!s)
        return;
    for (size_t i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    /* Closing rolls back an open transaction. */
    sqlite3_close_v2(s->db);
    free(s);
}

static int sq_open(const char *path, struct store **out, struct err *e)
{
    *out = NULL;
    if (!path[0] || strcmp(path, ":memory:") == 0)
        return err_set(e, STORE_E_UNSUPPORTED, "sqlite: a database file path is required");
    if (create_private(path, e) < 0)
        return -1;

    struct sqlite_store *s = xcalloc(1, sizeof(*s));
    s->base.ops = &store_sqlite_ops;
    /* No SQLITE_OPEN_URI: the path is taken literally. */
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, "open", e);
        goto fail;
    }
    /* Defensive mode: no writable_schema, no direct shadow-table writes. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_busy_timeout(s->db, SQLITE_BUSY_TIMEOUT_MS);
    if (check_wal(s, e) < 0)
        goto fail;
    char *msg = NULL;
    rc = sqlite3_exec(s->db, open_pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        err_set(e, errcode_of(rc), "sqlite: pragmas: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        goto fail;
    }
    *out = &s->base;
    return 0;
fail:
    err_prefix(e, "%s", path);
    sq_close(&s->base);
    return -1;
}

/* ---- schema ------------------------------------------------------------ */

static int read_version(struct sqlite_store *s, int *version, struct err *e)
{
    int64_t has = 0, v = 0;
    if (run_int(s, STMT_HAS_VERSION_TABLE, &has, e) < 0)
        return -1;
    if (has && run_int(s, STMT_VERSION, &v, e) < 0)
        return -1;
    if (v < 0 || v > INT32_MAX)
        return err_set(e, STORE_E_INTERNAL, "sqlite: schema_version holds %lld", (long long)v);
    *version = (int)v;
    return 0;
}

static int sq_schema_version(struct store *base, int *version, struct err *e)
{
    return read_version(sq(base), version, e);
}

static int sq_schema_latest(void)
{
    return store_sqlite_migrations[store_sqlite_migrations_n - 1].version;
}

static int record_version(struct sqlite_store *s, const struct store_migration *m, struct err *e)
{
    sqlite3_stmt *st = stmt_get(s, STMT_VERSION_INSERT, e);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, util_now());
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "schema_version", e);
    return 0;
}

/* One migration step in its own write transaction. BEGIN IMMEDIATE takes the write lock
 * before the version is read, so of two processes starting at once the second waits, then
 * sees the step done. Sets *done when nothing is left to apply. */
static int migrate_step(struct sqlite_store *s, const struct store_migration *m, size_t n,
                        bool *done, struct err *e)
{
    int latest = m[n - 1].version, v = 0;
    if (run(s, STMT_BEGIN, "begin", e) < 0)
        return -1;
    if (read_version(s, &v, e) < 0)
        goto fail;
    if (v > latest) {
        err_set(e, STORE_E_SCHEMA_NEWER,
                "database schema version %d is newer than this postern (knows up to %d); "
                "upgrade postern",
                v, latest);
        goto fail;
    }
    if (v == latest) {
        *done = true;
        return run(s, STMT_ROLLBACK, "rollback", e);
    }
    const struct store_migration *step = &m[v]; /* versions are 1..n in order */
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, step->sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        err_set(e, errcode_of(rc), "sqlite: migration %d (%s): %s", step->version, step->name,
                msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        goto fail;
    }
    if (record_version(s, step, e) < 0 || run(s, STMT_COMMIT, "commit", e) < 0)
        goto fail;
    log_info("store: applied migration %d (%s)", step->version, step->name);
    return 0;
fail:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int store_sqlite_migrate_list(struct store *base, const struct store_migration *m, size_t n,
                              struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (n == 0)
        return err_set(e, STORE_E_INTERNAL, "sqlite: no migrations");
    for (size_t i = 0; i < n; i++)
        if (m[i].version != (int)i + 1)
            return err_set(e, STORE_E_INTERNAL, "sqlite: migration %zu is numbered %d", i + 1,
                           m[i].version);
    if (!sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: migrate inside a transaction");
    bool done = false;
    while (!done)
        if (migrate_step(s, m, n, &done, e) < 0)
            return -1;
    return 0;
}

static int sq_migrate(struct store *base, struct err *e)
{
    return store_sqlite_migrate_list(base, store_sqlite_migrations, store_sqlite_migrations_n, e);
}

/* ---- meta -------------------------------------------------------------- */

static int check_key(const char *key_z, struct err *e)
{
    size_t n = strlen(key_z);
    if (n == 0 || n > STORE_META_KEY_MAX)
        return err_set(e, STORE_E_INTERNAL, "meta key must be 1..%d bytes", STORE_META_KEY_MAX);
    return 0;
}

static int sq_meta_get(struct store *base, const char *key_z, struct buf *out, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (check_key(key_z, e) < 0)
        return -1;
    sqlite3_stmt *st = stmt_get(s, STMT_META_GET, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key_z, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        int vn = sqlite3_column_bytes(st, 0);
        buf_reset(out);
        if (vn > 0 && buf_append(out, v, (size_t)vn) < 0)
            ret = err_set(e, STORE_E_TOO_BIG, "meta %s: value of %d bytes is too big", key_z, vn);
    } else if (rc == SQLITE_DONE) {
        ret = STORE_NOT_FOUND;
    } else {
        ret = sq_fail(s, rc, "meta_get", e);
    }
    stmt_done(st);
    return ret;
}

static int sq_meta_set(struct store *base, const char *key_z, struct slice value, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (check_key(key_z, e) < 0)
        return -1;
    if (value.n > STORE_META_VALUE_MAX)
        return err_set(e, STORE_E_TOO_BIG, "meta %s: value longer than %d bytes", key_z,
                       STORE_META_VALUE_MAX);
    sqlite3_stmt *st = stmt_get(s, STMT_META_SET, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key_z, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value.n ? value.p : "", (int)value.n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "meta_set", e);
    return 0;
}

static int sq_meta_delete(struct store *base, const char *key_z, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (check_key(key_z, e) < 0)
        return -1;
    sqlite3_stmt *st = stmt_get(s, STMT_META_DELETE, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key_z, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "meta_delete", e);
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_NOT_FOUND;
}

/* ---- transactions ------------------------------------------------------ */

static int sq_tx_begin(struct store *base, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (!sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: a transaction is already open");
    return run(s, STMT_BEGIN, "begin", e);
}

static int sq_tx_commit(struct store *base, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: commit without a transaction");
    return run(s, STMT_COMMIT, "commit", e);
}

static int sq_tx_rollback(struct store *base, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: rollback without a transaction");
    return run(s, STMT_ROLLBACK, "rollback", e);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .schema_latest = sq_schema_latest,
    .migrate = sq_migrate,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .meta_delete = sq_meta_delete,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
};
