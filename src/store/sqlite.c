/*
 * The SQLite backend: one connection per thread (SQLITE_OPEN_NOMUTEX), WAL so that readers
 * never wait for the writer, a busy timeout for writers, STRICT tables, and every statement
 * prepared once per connection and cached.
 */
#include "store/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a writer waits for another connection's write transaction to end. */
#define SQLITE_BUSY_TIMEOUT_MS 5000
/* Between two attempts at the write lock, a waiting writer sleeps until a commit of this
 * process wakes it, or at most this long (a rollback, or a writer in another process, wakes
 * nobody): first SQLITE_BUSY_POLL_US, then SQLITE_BUSY_SLOW_POLL_US after
 * SQLITE_BUSY_FAST_TRIES attempts. */
#define SQLITE_BUSY_POLL_US      200
#define SQLITE_BUSY_SLOW_POLL_US 2000
#define SQLITE_BUSY_FAST_TRIES   50
/* Checkpoint the WAL into the database once it holds this many pages (32 MiB; SQLite's
 * default is 1000). Each checkpoint syncs the WAL and the database and writes every page the
 * WAL changed: with commits at the token endpoint's pace, eight times fewer checkpoints
 * measured 5-10% more tokens per second (the newest pages, changed by every commit, are
 * copied once per checkpoint). */
#define SQLITE_CHECKPOINT_PAGES 8000
/* The database holds password hashes and token digests: no access for group or others. */
#define SQLITE_FILE_MODE 0600

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_has_version_table[] =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'";
static const char sql_version[] = "SELECT coalesce(max(version), 0) FROM schema_version";
static const char sql_version_insert[] =
    "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)";
static const char sql_meta_get[] = "SELECT value FROM meta WHERE key = ?1";
static const char sql_meta_set[] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char sql_meta_delete[] = "DELETE FROM meta WHERE key = ?1";
static const char sql_meta_add[] =
    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";

/* PRAGMAs run on every new connection (journal_mode is checked apart). */
static const char *const open_pragmas =
    "PRAGMA synchronous = NORMAL;" /* WAL: durable at checkpoints, never corrupt */
    "PRAGMA foreign_keys = ON;"
    "PRAGMA trusted_schema = OFF;"  /* no SQL functions run from the schema itself */
    "PRAGMA secure_delete = FAST;"; /* deleted token rows do not linger in free pages */

/* ---- waiting for the write lock ------------------------------------------------------
 *
 * SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10... ms between attempts
 * at the write lock. A write transaction of the token endpoint lasts some tens of
 * microseconds, so with several workers writing, those sleeps and not the work set the pace
 * (one 1-ms sleep per token, measured with strace). Instead, a waiting connection sleeps on a
 * condition variable that every commit of this process signals (the WAL hook runs once the
 * write lock is released), with a short timeout for what signals nothing. */

static pthread_once_t busy_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cv;
static uint64_t busy_commits; /* under busy_mu */

static void busy_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&busy_cv, &a);
    pthread_condattr_destroy(&a);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* sqlite3_busy_handler: non-zero to try again. count is 0 at the first wait of a lock. */
static int on_busy(void *arg, int count)
{
    struct sqlite_store *s = arg;
    int64_t now = mono_us();
    if (count == 0)
        s->busy_since_us = now;
    if (now - s->busy_since_us >= (int64_t)SQLITE_BUSY_TIMEOUT_MS * 1000)
        return 0;
    int64_t wait_us =
        count < SQLITE_BUSY_FAST_TRIES ? SQLITE_BUSY_POLL_US : SQLITE_BUSY_SLOW_POLL_US;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)wait_us * 1000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    pthread_mutex_lock(&busy_mu);
    uint64_t seen = busy_commits;
    while (busy_commits == seen)
        if (pthread_cond_timedwait(&busy_cv, &busy_mu, &until) != 0)
            break;
    pthread_mutex_unlock(&busy_mu);
    return 1;
}

/* sqlite3_wal_hook, after each commit, the write lock released. Replaces SQLite's default
 * hook, whose only work is the automatic checkpoint: done here the same way. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)arg;
    pthread_mutex_lock(&busy_mu);
    busy_commits++;
    pthread_cond_broadcast(&busy_cv);
    pthread_mutex_unlock(&busy_mu);
    if (pages >= SQLITE_CHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* Runs a cached statement that returns no row. */
static int run(struct sqlite_store *s, const char *sql, const char *what, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    return sq_exec(s, st, what, e);
}

/* Runs a cached statement that returns one integer. */
static int run_int(struct sqlite_store *s, const char *sql, int64_t *out, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sq_done(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, sql, e);
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

/* One attempt at "PRAGMA journal_mode = WAL": 1 when the mode is WAL, 0 when SQLite
 * answered busy, -1 on any other failure. */
static int try_wal(struct sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "journal_mode", e);
    rc = sqlite3_step(st);
    int ok =
        rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_BUSY)
        return 0;
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "journal_mode", e);
    if (!ok)
        return err_set(e, STORE_E_IO, "sqlite: the file system does not support WAL mode");
    return 1;
}

/* Switching a new file to WAL needs it to itself for a moment, and SQLite answers busy
 * without calling the busy handler when another connection (a second node starting at the
 * same time) holds it: retried here, every millisecond, within the writers' timeout. */
static int check_wal(struct sqlite_store *s, struct err *e)
{
    int64_t until = mono_us() + (int64_t)SQLITE_BUSY_TIMEOUT_MS * 1000;
    for (;;) {
        int rc = try_wal(s, e);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (mono_us() >= until)
            return sq_fail(s, SQLITE_BUSY, "journal_mode", e);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static void sq_close(struct store *base)
{
    struct sqlite_store *s = sq(base);
    if (!s)
        return;
    for (size_t i = 0; i < SQ_STMT_SLOTS; i++)
        sqlite3_finalize(s->slot[i].st);
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
    pthread_once(&busy_once, busy_init);
    sqlite3_busy_handler(s->db, on_busy, s);
    if (check_wal(s, e) < 0)
        goto fail;
    sqlite3_wal_hook(s->db, on_commit, NULL);
    char *msg = NULL;
    rc = sqlite3_exec(s->db, open_pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        err_set(e, sq_errcode(rc), "sqlite: pragmas: %s", msg ? msg : sqlite3_errstr(rc));
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
    if (run_int(s, sql_has_version_table, &has, e) < 0)
        return -1;
    if (has && run_int(s, sql_version, &v, e) < 0)
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
    sqlite3_stmt *st = sq_stmt(s, sql_version_insert, e);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, util_now());
    int rc = sqlite3_step(st);
    sq_done(st);
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
    if (run(s, sql_begin, "begin", e) < 0)
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
        return run(s, sql_rollback, "rollback", e);
    }
    const struct store_migration *step = &m[v]; /* versions are 1..n in order */
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, step->sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        err_set(e, sq_errcode(rc), "sqlite: migration %d (%s): %s", step->version, step->name,
                msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        goto fail;
    }
    if (record_version(s, step, e) < 0 || run(s, sql_commit, "commit", e) < 0)
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
    sqlite3_stmt *st = sq_stmt(s, sql_meta_get, e);
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
    sq_done(st);
    return ret;
}

/* meta_set and meta_add: sql inserts (or replaces) key and value; *changes gets whether it
 * wrote. */
static int meta_write(struct sqlite_store *s, const char *sql, const char *key_z,
                      struct slice value, int64_t *changes, struct err *e)
{
    if (check_key(key_z, e) < 0)
        return -1;
    if (value.n > STORE_META_VALUE_MAX)
        return err_set(e, STORE_E_TOO_BIG, "meta %s: value longer than %d bytes", key_z,
                       STORE_META_VALUE_MAX);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key_z, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value.n ? value.p : "", (int)value.n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "meta", e);
    *changes = sqlite3_changes64(s->db);
    return 0;
}

static int sq_meta_set(struct store *base, const char *key_z, struct slice value, struct err *e)
{
    int64_t changes;
    return meta_write(sq(base), sql_meta_set, key_z, value, &changes, e);
}

static int sq_meta_add(struct store *base, const char *key_z, struct slice value, bool *added,
                       struct err *e)
{
    int64_t changes = 0;
    int rc = meta_write(sq(base), sql_meta_add, key_z, value, &changes, e);
    *added = rc == 0 && changes > 0;
    return rc;
}

static int sq_meta_delete(struct store *base, const char *key_z, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (check_key(key_z, e) < 0)
        return -1;
    sqlite3_stmt *st = sq_stmt(s, sql_meta_delete, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key_z, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sq_done(st);
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
    return run(s, sql_begin, "begin", e);
}

static int sq_tx_commit(struct store *base, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: commit without a transaction");
    return run(s, sql_commit, "commit", e);
}

static int sq_tx_rollback(struct store *base, struct err *e)
{
    struct sqlite_store *s = sq(base);
    if (sqlite3_get_autocommit(s->db))
        return err_set(e, STORE_E_STATE, "sqlite: rollback without a transaction");
    return run(s, sql_rollback, "rollback", e);
}

static int sq_tx_lock(struct store *base, const char *name_z, struct err *e)
{
    if (sqlite3_get_autocommit(sq(base)->db))
        return err_set(e, STORE_E_STATE, "sqlite: lock %s outside a transaction", name_z);
    return 0; /* BEGIN IMMEDIATE holds the database's write lock */
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
    .meta_add = sq_meta_add,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .tx_lock = sq_tx_lock,

    .user_create = sq_user_create,
    .user_update = sq_user_update,
    .user_set_password = sq_user_set_password,
    .user_get_by_id = sq_user_get_by_id,
    .user_get_by_name = sq_user_get_by_name,
    .user_get_by_login = sq_user_get_by_login,
    .user_list = sq_user_list,
    .user_delete = sq_user_delete,
    .group_upsert = sq_group_upsert,
    .group_get_by_id = sq_group_get_by_id,
    .group_get_by_name = sq_group_get_by_name,
    .group_list = sq_group_list,
    .group_delete = sq_group_delete,
    .member_add = sq_member_add,
    .member_remove = sq_member_remove,
    .user_set_groups = sq_user_set_groups,
    .user_groups = sq_user_groups,
    .group_members = sq_group_members,

    .keypair_insert_if_absent = sq_keypair_insert_if_absent,
    .keypair_get_by_name = sq_keypair_get_by_name,
    .keypair_list = sq_keypair_list,
    .keypair_delete = sq_keypair_delete,
    .provider_upsert = sq_provider_upsert,
    .provider_get_by_id = sq_provider_get_by_id,
    .provider_get_by_name = sq_provider_get_by_name,
    .provider_get_by_client_id = sq_provider_get_by_client_id,
    .provider_list = sq_provider_list,
    .provider_delete = sq_provider_delete,
    .app_upsert = sq_app_upsert,
    .app_get_by_id = sq_app_get_by_id,
    .app_get_by_slug = sq_app_get_by_slug,
    .app_get_by_provider = sq_app_get_by_provider,
    .app_list = sq_app_list,
    .app_delete = sq_app_delete,
    .app_bindings_set = sq_app_bindings_set,
    .app_bindings = sq_app_bindings,

    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_touch = sq_session_touch,
    .session_delete = sq_session_delete,
    .session_delete_user = sq_session_delete_user,
    .code_create = sq_code_create,
    .code_take = sq_code_take,
    .token_insert = sq_token_insert,
    .token_get = sq_token_get,
    .token_revoke = sq_token_revoke,
    .token_revoke_code = sq_token_revoke_code,
    .token_revoke_family = sq_token_revoke_family,
    .token_rotate = sq_token_rotate,
    .consent_get = sq_consent_get,
    .consent_set = sq_consent_set,
    .consent_delete = sq_consent_delete,

    .attempt_fail = sq_attempt_fail,
    .attempt_get = sq_attempt_get,
    .attempt_reset = sq_attempt_reset,
    .event_add = sq_event_add,
    .event_list = sq_event_list,
    .event_purge = sq_event_purge,
    .purge = sq_purge,

    .access_idp_upsert = sq_access_idp_upsert,
    .access_idp_get = sq_access_idp_get,
    .access_idp_list = sq_access_idp_list,
    .access_idp_delete = sq_access_idp_delete,
    .access_app_upsert = sq_access_app_upsert,
    .access_app_get_by_name = sq_access_app_get_by_name,
    .access_app_get_by_domain = sq_access_app_get_by_domain,
    .access_app_get_by_aud = sq_access_app_get_by_aud,
    .access_app_list = sq_access_app_list,
    .access_app_delete = sq_access_app_delete,
    .service_token_create = sq_service_token_create,
    .service_token_verify = sq_service_token_verify,
    .service_token_list = sq_service_token_list,
    .service_token_delete = sq_service_token_delete,
    .service_token_touch = sq_service_token_touch,
    .service_token_secret_hash = sq_service_token_secret_hash,
    .access_key_ensure = sq_access_key_ensure,
    .access_key_rotate = sq_access_key_rotate,
    .access_key_list = sq_access_key_list,
    .access_session_create = sq_access_session_create,
    .access_session_get = sq_access_session_get,
    .access_session_revoke = sq_access_session_revoke,
    .access_session_revoked_since = sq_access_session_revoked_since,
    .access_state_create = sq_access_state_create,
    .access_state_take = sq_access_state_take,
    .access_ticket_create = sq_access_ticket_create,
    .access_ticket_take = sq_access_ticket_take,
};
