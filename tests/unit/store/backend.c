/* Tests of a backend's own part (src/store/sqlite.c, src/store/pg.c) on either backend (see
 * testdb.h): migrations, meta, transactions, concurrent writers and migrators; and what only
 * SQLite has: WAL, STRICT tables, the file's mode, a file that is not a database. */
#include "testdb.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

static void fresh_db_migrates_to_latest(void **state)
{
    char path[512];
    struct err e = {0};
    int v = -1;
    size_t n = 0;
    struct store *s = tdb_empty(path);
    tdb_migrations(s, &n);
    int latest = store_schema_latest(s);
    assert_int_equal(latest, (int)n);
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, 0);
    OK(store_migrate(s, &e));
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, latest);
    store_close(s);

    assert_int_equal(tdb_int(path, "SELECT count(*) FROM schema_version"), latest);
    assert_int_equal(tdb_int(path, "SELECT min(applied_at) > 1700000000 FROM schema_version"), 1);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 0); /* the table exists */
    if (tdb_is_url(path)) {
        /* every column is BIGINT or TEXT (as SQLite's STRICT INTEGER and TEXT), in the
         * schema of the URL (the first of its search_path), not in public */
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM information_schema.columns "
                                       "WHERE table_schema = current_schema() "
                                       "AND data_type NOT IN ('bigint', 'text')"),
                         0);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_schema = current_schema() "
                                       "AND table_name IN ('schema_version', 'meta', 'users')"),
                         3);
        assert_int_equal(tdb_int(path, "SELECT current_schema() <> 'public'"), 1);
        return;
    }
    /* every table is STRICT */
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM pragma_table_list "
                                   "WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' "
                                   "AND strict = 0"),
                     0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM pragma_table_list WHERE name = 'meta'"),
                     1);
    /* WAL is a property of the file */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void reopen_is_idempotent(void **state)
{
    char path[512];
    struct err e = {0};
    int v = -1;
    size_t n = 0;
    struct store *s = tdb_fresh(path);
    tdb_migrations(s, &n);
    OK(store_migrate(s, &e));
    assert_int_equal(store_meta_set(s, "k", SLICE_LIT("v"), &e), 0);
    store_close(s);

    s = tdb_open(path);
    OK(store_migrate(s, &e));
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, store_schema_latest(s));
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(store_meta_get(s, "k", &b, &e), 0);
    assert_string_equal(b.p, "v");
    buf_free(&b);
    store_close(s);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM schema_version"), (long long)n);
}

static void meta_round_trip(void **state)
{
    char path[512];
    struct err e = {0};
    struct buf b;
    struct store *s = tdb_fresh(path);
    buf_init(&b, 1024);

    assert_int_equal(store_meta_get(s, "instance", &b, &e), STORE_NOT_FOUND);
    assert_int_equal(store_meta_set(s, "instance", SLICE_LIT("one"), &e), 0);
    assert_int_equal(store_meta_get(s, "instance", &b, &e), 0);
    assert_string_equal(b.p, "one");
    /* update replaces, and the buffer is reset, not appended to */
    assert_int_equal(store_meta_set(s, "instance", SLICE_LIT("two-longer"), &e), 0);
    assert_int_equal(store_meta_get(s, "instance", &b, &e), 0);
    assert_string_equal(b.p, "two-longer");
    assert_int_equal(b.len, 10);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 1);

    /* the empty value is a value */
    assert_int_equal(store_meta_set(s, "empty", (struct slice){NULL, 0}, &e), 0);
    assert_int_equal(store_meta_get(s, "empty", &b, &e), 0);
    assert_int_equal(b.len, 0);

    /* SQL metacharacters are data */
    assert_int_equal(store_meta_set(s, "q'; DROP TABLE meta; --", SLICE_LIT("x'y"), &e), 0);
    assert_int_equal(store_meta_get(s, "q'; DROP TABLE meta; --", &b, &e), 0);
    assert_string_equal(b.p, "x'y");

    assert_int_equal(store_meta_delete(s, "instance", &e), 0);
    assert_int_equal(store_meta_get(s, "instance", &b, &e), STORE_NOT_FOUND);
    assert_int_equal(store_meta_delete(s, "instance", &e), STORE_NOT_FOUND);

    /* add: only when absent, and says which */
    bool added = false;
    assert_int_equal(store_meta_add(s, "secret", SLICE_LIT("first"), &added, &e), 0);
    assert_true(added);
    assert_int_equal(store_meta_add(s, "secret", SLICE_LIT("second"), &added, &e), 0);
    assert_false(added);
    assert_int_equal(store_meta_get(s, "secret", &b, &e), 0);
    assert_string_equal(b.p, "first");

    /* a named lock: only inside a transaction */
    assert_int_equal(store_tx_lock(s, "postern.test", &e), -1);
    assert_int_equal(e.code, STORE_E_STATE);
    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_tx_lock(s, "postern.test", &e), 0);
    assert_int_equal(store_tx_commit(s, &e), 0);
    buf_free(&b);
    store_close(s);
}

static void meta_limits(void **state)
{
    char path[512], key[STORE_META_KEY_MAX + 2];
    struct err e = {0};
    struct buf b;
    struct store *s = tdb_fresh(path);

    assert_int_equal(store_meta_set(s, "", SLICE_LIT("x"), &e), -1);
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(store_meta_set(s, key, SLICE_LIT("x"), &e), -1);
    key[STORE_META_KEY_MAX] = '\0';
    assert_int_equal(store_meta_set(s, key, SLICE_LIT("x"), &e), 0);

    size_t big_n = STORE_META_VALUE_MAX + 1;
    char *big = malloc(big_n);
    memset(big, 'a', big_n);
    assert_int_equal(store_meta_set(s, "big", (struct slice){big, big_n}, &e), -1);
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    assert_int_equal(store_meta_set(s, "big", (struct slice){big, big_n - 1}, &e), 0);
    /* the caller's buffer bounds what it accepts */
    buf_init(&b, 100);
    assert_int_equal(store_meta_get(s, "big", &b, &e), -1);
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    buf_free(&b);
    buf_init(&b, STORE_META_VALUE_MAX);
    assert_int_equal(store_meta_get(s, "big", &b, &e), 0);
    assert_int_equal(b.len, big_n - 1);
    buf_free(&b);
    free(big);
    store_close(s);
}

static void schema_newer_is_refused(void **state)
{
    char path[512], want[256], msg[TDB_MSG_MAX];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int latest = store_schema_latest(s);
    store_close(s);

    if (tdb_exec(path, "INSERT INTO schema_version VALUES (99, 'from the future', 1)", msg) < 0)
        fail_msg("%s", msg);
    s = tdb_open(path);
    assert_int_equal(store_migrate(s, &e), -1);
    assert_int_equal(e.code, STORE_E_SCHEMA_NEWER);
    snprintf(want, sizeof(want),
             "database schema version 99 is newer than this postern (knows up to %d); "
             "upgrade postern",
             latest);
    assert_string_equal(e.msg, want);
    /* the refusal left nothing open: the connection still works for reads */
    int v = 0;
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, 99);
    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_tx_rollback(s, &e), 0);
    store_close(s);
}

static void tx_rollback_leaves_no_row(void **state)
{
    char path[512];
    struct err e = {0};
    struct buf b;
    struct store *s = tdb_fresh(path);
    buf_init(&b, 64);

    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_meta_set(s, "ghost", SLICE_LIT("boo"), &e), 0);
    assert_int_equal(store_meta_get(s, "ghost", &b, &e), 0); /* visible inside */
    assert_int_equal(store_tx_rollback(s, &e), 0);
    assert_int_equal(store_meta_get(s, "ghost", &b, &e), STORE_NOT_FOUND);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 0);

    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_meta_set(s, "kept", SLICE_LIT("1"), &e), 0);
    assert_int_equal(store_tx_commit(s, &e), 0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 1);

    /* misuse is refused, not silently accepted */
    assert_int_equal(store_tx_commit(s, &e), -1);
    assert_int_equal(e.code, STORE_E_STATE);
    assert_int_equal(store_tx_rollback(s, &e), -1);
    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_tx_begin(s, &e), -1);
    assert_int_equal(e.code, STORE_E_STATE);
    assert_int_equal(store_migrate(s, &e), -1);
    assert_int_equal(e.code, STORE_E_STATE);
    /* closing with an open transaction rolls it back */
    assert_int_equal(store_meta_set(s, "lost", SLICE_LIT("1"), &e), 0);
    buf_free(&b);
    store_close(s);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta WHERE key = 'lost'"), 0);
}

static void failed_migration_rolls_back(void **state)
{
    char path[512];
    struct err e = {0};
    int v = -1;
    size_t n = 0;
    struct store *s = tdb_empty(path);
    const struct store_migration *m = tdb_migrations(s, &n);
    bool pg = tdb_store_is_pg(s);
    const struct store_migration list[] = {
        m[0],
        {2, "broken",
         pg ? "CREATE TABLE half (x BIGINT); INSERT INTO nosuch VALUES (1);"
            : "CREATE TABLE half (x INTEGER) STRICT; INSERT INTO nosuch VALUES (1);"},
    };
    assert_int_equal(tdb_migrate_list(s, list, 2, &e), -1);
    assert_non_null(strstr(e.msg, "migration 2 (broken)"));
    assert_non_null(strstr(e.msg, "nosuch"));
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, 1);
    store_close(s);
    assert_int_equal(tdb_int(path, pg ? "SELECT count(*) FROM information_schema.tables "
                                        "WHERE table_schema = current_schema() "
                                        "AND table_name = 'half'"
                                      : "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"),
                     0);

    /* a list with a gap is a programming error, caught before anything runs */
    const struct store_migration gap[] = {m[0], {3, "gap", "SELECT 1"}};
    s = tdb_open(path);
    assert_int_equal(tdb_migrate_list(s, gap, 2, &e), -1);
    assert_non_null(strstr(e.msg, "numbered 3"));
    store_close(s);
}

/* ---- SQLite only ---------------------------------------------------------------------- */

static void file_mode_is_0600(void **state)
{
    char path[512], wal[520];
    struct stat st;
    struct err e = {0};
    mode_t old = umask(0);
    struct store *s = tdb_fresh(path);
    assert_int_equal(store_meta_set(s, "k", SLICE_LIT("v"), &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    store_close(s);

    /* an existing database readable by others is tightened */
    assert_int_equal(chmod(path, 0644), 0);
    s = tdb_open(path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    store_close(s);
    umask(old);
}

static void not_a_database(void **state)
{
    char path[512];
    struct err e = {0};
    tdb_new(path);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'J', sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    assert_null(store_open(path, &e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_non_null(strstr(e.msg, path));
}

/* ---- concurrency ------------------------------------------------------- */

#define WRITERS     4
#define WRITES_EACH 100

struct worker {
    const char *path;
    pthread_barrier_t *start;
    int id;
    int failures;
    char msg[ERR_MSG_MAX];
};

static void *writer(void *arg)
{
    struct worker *w = arg;
    struct err e = {0};
    struct buf b;
    char key[32];
    buf_init(&b, 64);
    struct store *s = store_open(w->path, &e); /* one connection per thread */
    pthread_barrier_wait(w->start);
    if (!s) {
        w->failures++;
        goto done;
    }
    for (int i = 0; i < WRITES_EACH; i++) {
        snprintf(key, sizeof(key), "w%d-%d", w->id, i);
        if (store_tx_begin(s, &e) < 0 || store_meta_set(s, key, slice_z(key), &e) < 0 ||
            store_tx_commit(s, &e) < 0) {
            w->failures++;
            break;
        }
        /* read another writer's keys while it writes */
        snprintf(key, sizeof(key), "w%d-%d", (w->id + 1) % WRITERS, i / 2);
        if (store_meta_get(s, key, &b, &e) < 0) {
            w->failures++;
            break;
        }
    }
done:
    if (w->failures)
        snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
    buf_free(&b);
    store_close(s);
    return NULL;
}

static void threads_write_concurrently(void **state)
{
    char path[512];
    pthread_t t[WRITERS];
    struct worker w[WRITERS];
    pthread_barrier_t start;
    struct store *s = tdb_fresh(path);

    pthread_barrier_init(&start, NULL, WRITERS);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct worker){.path = path, .start = &start, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fail_msg("writer %d: %s", i, w[i].msg);
    }
    pthread_barrier_destroy(&start);
    store_close(s);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), WRITERS * WRITES_EACH);
}

/* Three steps that fail when run twice (CREATE TABLE without IF NOT EXISTS), in each dialect. */
static const struct store_migration race_sqlite[] = {
    {1, "base",
     "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, "
     "name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;"},
    {2, "a", "CREATE TABLE a (x INTEGER) STRICT;"},
    {3, "b", "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1);"},
};
static const struct store_migration race_pg[] = {
    {1, "base",
     "CREATE TABLE schema_version (version BIGINT PRIMARY KEY NOT NULL, "
     "name TEXT NOT NULL, applied_at BIGINT NOT NULL);"},
    {2, "a", "CREATE TABLE a (x BIGINT);"},
    {3, "b", "CREATE TABLE b (x BIGINT); INSERT INTO a VALUES (1);"},
};

static void *migrator(void *arg)
{
    struct worker *w = arg;
    struct err e = {0};
    pthread_barrier_wait(w->start);
    struct store *s = store_open(w->path, &e);
    const struct store_migration *list = s && tdb_store_is_pg(s) ? race_pg : race_sqlite;
    if (!s || tdb_migrate_list(s, list, UTIL_ARRAY_LEN(race_pg), &e) < 0) {
        w->failures++;
        snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
    }
    store_close(s);
    return NULL;
}

static void simultaneous_starts_migrate_once(void **state)
{
    for (int round = 0; round < 5; round++) {
        char path[512];
        pthread_t t[WRITERS];
        struct worker w[WRITERS];
        pthread_barrier_t start;
        tdb_new(path);
        pthread_barrier_init(&start, NULL, WRITERS);
        for (int i = 0; i < WRITERS; i++) {
            w[i] = (struct worker){.path = path, .start = &start, .id = i};
            assert_int_equal(pthread_create(&t[i], NULL, migrator, &w[i]), 0);
        }
        for (int i = 0; i < WRITERS; i++) {
            pthread_join(t[i], NULL);
            if (w[i].failures)
                fail_msg("round %d, migrator %d: %s", round, i, w[i].msg);
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM schema_version"), 3);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM a"), 1);
    }
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test(fresh_db_migrates_to_latest),
        cmocka_unit_test(reopen_is_idempotent),
        cmocka_unit_test(meta_round_trip),
        cmocka_unit_test(meta_limits),
        cmocka_unit_test(schema_newer_is_refused),
        cmocka_unit_test(tx_rollback_leaves_no_row),
        cmocka_unit_test(failed_migration_rolls_back),
        cmocka_unit_test(threads_write_concurrently),
        cmocka_unit_test(simultaneous_starts_migrate_once),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test(file_mode_is_0600),
        cmocka_unit_test(not_a_database),
    };
    if (tdb_pg())
        return tdb_run(both, UTIL_ARRAY_LEN(both), NULL, 0);
    return tdb_run(both, UTIL_ARRAY_LEN(both), sqlite_only, UTIL_ARRAY_LEN(sqlite_only));
}
