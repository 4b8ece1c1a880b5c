/* Tests of src/store/sqlite.c: migrations, meta, transactions, concurrency, file mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

static char dir[] = "/tmp/postern-sqlite-XXXXXX";
static int counter;

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

/* A fresh database file name for each test. */
static void fresh_path(char *out, size_t n)
{
    snprintf(out, n, "%s/t%d.db", dir, ++counter);
}

static struct store *open_ok(const char *path)
{
    struct err e = {0};
    struct store *s = store_open(path, &e);
    if (!s)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static void migrate_ok(struct store *s)
{
    struct err e = {0};
    if (store_migrate(s, &e) < 0)
        fail_msg("migrate: %s", e.msg);
}

/* Runs one integer query through a plain SQLite connection, bypassing the store. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void fresh_db_migrates_to_latest(void **state)
{
    char path[512];
    struct err e = {0};
    int v = -1;
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    int latest = store_schema_latest(s);
    assert_int_equal(latest, (int)store_sqlite_migrations_n);
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, 0);
    migrate_ok(s);
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, latest);
    store_close(s);

    assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_version"), latest);
    assert_int_equal(raw_int(path, "SELECT min(applied_at) > 1700000000 FROM schema_version"), 1);
    /* every table is STRICT */
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_table_list "
                                   "WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' "
                                   "AND strict = 0"),
                     0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_table_list WHERE name = 'meta'"),
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
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);
    migrate_ok(s);
    assert_int_equal(store_meta_set(s, "k", SLICE_LIT("v"), &e), 0);
    store_close(s);

    s = open_ok(path);
    migrate_ok(s);
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, store_schema_latest(s));
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(store_meta_get(s, "k", &b, &e), 0);
    assert_string_equal(b.p, "v");
    buf_free(&b);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_version"),
                     (long long)store_sqlite_migrations_n);
}

static void meta_round_trip(void **state)
{
    char path[512];
    struct err e = {0};
    struct buf b;
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);
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
    assert_int_equal(raw_int(path, "SELECT count(*) FROM meta"), 1);

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
    buf_free(&b);
    store_close(s);
}

static void meta_limits(void **state)
{
    char path[512], key[STORE_META_KEY_MAX + 2];
    struct err e = {0};
    struct buf b;
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);

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
    char path[512], want[256];
    struct err e = {0};
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);
    int latest = store_schema_latest(s);
    store_close(s);

    raw_exec(path, "INSERT INTO schema_version VALUES (99, 'from the future', 1)");
    s = open_ok(path);
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
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);
    buf_init(&b, 64);

    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_meta_set(s, "ghost", SLICE_LIT("boo"), &e), 0);
    assert_int_equal(store_meta_get(s, "ghost", &b, &e), 0); /* visible inside */
    assert_int_equal(store_tx_rollback(s, &e), 0);
    assert_int_equal(store_meta_get(s, "ghost", &b, &e), STORE_NOT_FOUND);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM meta"), 0);

    assert_int_equal(store_tx_begin(s, &e), 0);
    assert_int_equal(store_meta_set(s, "kept", SLICE_LIT("1"), &e), 0);
    assert_int_equal(store_tx_commit(s, &e), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM meta"), 1);

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
    assert_int_equal(raw_int(path, "SELECT count(*) FROM meta WHERE key = 'lost'"), 0);
}

static void failed_migration_rolls_back(void **state)
{
    char path[512];
    struct err e = {0};
    int v = -1;
    const struct store_migration list[] = {
        store_sqlite_migrations[0],
        {2, "broken", "CREATE TABLE half (x INTEGER) STRICT; INSERT INTO nosuch VALUES (1);"},
    };
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    assert_int_equal(store_sqlite_migrate_list(s, list, 2, &e), -1);
    assert_non_null(strstr(e.msg, "migration 2 (broken)"));
    assert_non_null(strstr(e.msg, "nosuch"));
    assert_int_equal(store_schema_version(s, &v, &e), 0);
    assert_int_equal(v, 1);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), 0);

    /* a list with a gap is a programming error, caught before anything runs */
    const struct store_migration gap[] = {store_sqlite_migrations[0], {3, "gap", "SELECT 1"}};
    s = open_ok(path);
    assert_int_equal(store_sqlite_migrate_list(s, gap, 2, &e), -1);
    assert_non_null(strstr(e.msg, "numbered 3"));
    store_close(s);
}

static void file_mode_is_0600(void **state)
{
    char path[512], wal[520];
    struct stat st;
    struct err e = {0};
    mode_t old = umask(0);
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);
    assert_int_equal(store_meta_set(s, "k", SLICE_LIT("v"), &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    store_close(s);

    /* an existing database readable by others is tightened */
    assert_int_equal(chmod(path, 0644), 0);
    s = open_ok(path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    store_close(s);
    umask(old);
}

static void not_a_database(void **state)
{
    char path[512];
    struct err e = {0};
    fresh_path(path, sizeof(path));
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
    fresh_path(path, sizeof(path));
    struct store *s = open_ok(path);
    migrate_ok(s);

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
    assert_int_equal(raw_int(path, "SELECT count(*) FROM meta"), WRITERS * WRITES_EACH);
}

/* Three steps that fail when run twice (CREATE TABLE without IF NOT EXISTS). */
static const struct store_migration race_list[] = {
    {1, "base",
     "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, "
     "name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;"},
    {2, "a", "CREATE TABLE a (x INTEGER) STRICT;"},
    {3, "b", "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1);"},
};

static void *migrator(void *arg)
{
    struct worker *w = arg;
    struct err e = {0};
    pthread_barrier_wait(w->start);
    struct store *s = store_open(w->path, &e);
    if (!s || store_sqlite_migrate_list(s, race_list, UTIL_ARRAY_LEN(race_list), &e) < 0) {
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
        fresh_path(path, sizeof(path));
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
        assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_version"), 3);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM a"), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_db_migrates_to_latest),
        cmocka_unit_test(reopen_is_idempotent),
        cmocka_unit_test(meta_round_trip),
        cmocka_unit_test(meta_limits),
        cmocka_unit_test(schema_newer_is_refused),
        cmocka_unit_test(tx_rollback_leaves_no_row),
        cmocka_unit_test(failed_migration_rolls_back),
        cmocka_unit_test(file_mode_is_0600),
        cmocka_unit_test(not_a_database),
        cmocka_unit_test(threads_write_concurrently),
        cmocka_unit_test(simultaneous_starts_migrate_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
