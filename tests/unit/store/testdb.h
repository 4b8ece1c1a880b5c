/* Helpers shared by the store's test programs, for either backend (issue 6: one suite, both
 * backends). POSTERN_TEST_STORE=pg selects PostgreSQL, on the server whose URL is in
 * POSTERN_TEST_PG (tests/run.py starts a throwaway one); anything else selects SQLite.
 *
 * Every test gets a fresh, migrated database of its own: a file in a temporary directory
 * (SQLite), or a schema of its own (PostgreSQL, `t<pid>_<n>`, reached with the URL's
 * `options=-csearch_path=...`), so that programs and tests never see each other's rows.
 * `path` is where a store opens it: the file, or the URL with its schema. A plain connection
 * of that backend (tdb_int, tdb_exec, tdb_holds) bypasses the store to check what is in the
 * database; their SQL is valid in both dialects. The schemas are dropped at the end. */
#ifndef POSTERN_TEST_STORE_TESTDB_H
#define POSTERN_TEST_STORE_TESTDB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

#define T0 1800000000 /* the fake "now" of every test (2027-01-15) */

/* A database's location: a file name, or a PostgreSQL URL with its schema. */
#define TDB_PATH_MAX 512
/* Bytes read back from a plain connection's error message. */
#define TDB_MSG_MAX 256
/* The largest SQLite file (and WAL) that tdb_holds reads. */
#define TDB_FILE_MAX (64 * 1024 * 1024)

static char tdir[] = "/tmp/postern-storetest-XXXXXX";
static int tcounter;
static PGconn *tadmin; /* creates and drops the schemas (PostgreSQL) */

/* PostgreSQL selected for this run (POSTERN_TEST_STORE=pg). */
static inline bool tdb_pg(void)
{
    const char *z = getenv("POSTERN_TEST_STORE");
    return z && strcmp(z, "pg") == 0;
}

/* The server's URL, or NULL when none was given. */
static inline const char *tdb_pg_url(void)
{
    const char *z = getenv("POSTERN_TEST_PG");
    return z && z[0] ? z : NULL;
}

static inline bool tdb_is_url(const char *path)
{
    return strncmp(path, "postgres://", 11) == 0 || strncmp(path, "postgresql://", 13) == 0;
}

/* A plain libpq connection; fails the test when it cannot connect. */
static inline PGconn *tdb_pg_connect(const char *url)
{
    char msg[TDB_MSG_MAX];
    PGconn *c = PQconnectdb(url);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    fail_msg("cannot connect to the PostgreSQL of the tests: %s", msg);
    return NULL;
}

/* Runs sql on the admin connection; fails the test when it fails. */
static inline void tdb_admin_exec(const char *sql)
{
    char msg[TDB_MSG_MAX];
    if (!tadmin)
        tadmin = tdb_pg_connect(tdb_pg_url());
    PGresult *r = PQexec(tadmin, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    snprintf(msg, sizeof(msg), "%s", ok ? "" : PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        fail_msg("%s: %s", sql, msg);
}

static inline int tdir_setup(void **state)
{
    (void)state;
    if (!mkdtemp(tdir))
        return -1;
    if (!tdb_pg())
        return 0;
    tadmin = PQconnectdb(tdb_pg_url());
    if (PQstatus(tadmin) != CONNECTION_OK) {
        fprintf(stderr, "# cannot connect to POSTERN_TEST_PG: %s", PQerrorMessage(tadmin));
        PQfinish(tadmin);
        tadmin = NULL;
        return -1;
    }
    /* A schema still in use by a connection a failed test left open must not hang the end. */
    PQclear(PQexec(tadmin, "SET lock_timeout = '10s'; SET client_min_messages = warning"));
    return 0;
}

static inline int tdir_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tdir);
    struct dirent *de;
    char path[TDB_PATH_MAX];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tdir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    util_set_fake_now(0);
    /* Each schema this program made (the throwaway server goes anyway; a shared one stays
     * clean). */
    for (int i = 1; tadmin && i <= tcounter; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS t%d_%d CASCADE", (int)getpid(), i);
        PGresult *r = PQexec(tadmin, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "# %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(tadmin);
    tadmin = NULL;
    return rmdir(tdir);
}

/* A new, empty database's location in path: a file name, or a new schema and the URL that
 * opens it (libpq decodes %3D in the URL's options to "="). */
static inline void tdb_new(char path[TDB_PATH_MAX])
{
    if (!tdb_pg()) {
        snprintf(path, TDB_PATH_MAX, "%s/t%d.db", tdir, ++tcounter);
        return;
    }
    const char *base = tdb_pg_url();
    char schema[64], sql[128];
    snprintf(schema, sizeof(schema), "t%d_%d", (int)getpid(), ++tcounter);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    tdb_admin_exec(sql);
    int n = snprintf(path, TDB_PATH_MAX, "%s%coptions=-csearch_path%%3D%s", base,
                     strchr(base, '?') ? '&' : '?', schema);
    if (n < 0 || n >= TDB_PATH_MAX)
        fail_msg("POSTERN_TEST_PG is too long");
}

static inline struct store *tdb_open(const char *path)
{
    struct err e = {0};
    struct store *s = store_open(path, &e);
    if (!s)
        fail_msg("store_open: %s", e.msg);
    return s;
}

/* Every test starts at T0 on a fresh database, empty (tdb_empty) or migrated (tdb_fresh),
 * whose location goes to path. */
static inline struct store *tdb_empty(char path[TDB_PATH_MAX])
{
    util_set_fake_now(T0);
    tdb_new(path);
    return tdb_open(path);
}

static inline struct store *tdb_fresh(char path[TDB_PATH_MAX])
{
    struct err e = {0};
    struct store *s = tdb_empty(path);
    if (store_migrate(s, &e) < 0)
        fail_msg("migrate: %s", e.msg);
    return s;
}

static inline bool tdb_store_is_pg(struct store *s)
{
    return strcmp(store_backend(s)->name, "postgres") == 0;
}

/* The backend's migrations, and its migrate() with an explicit list. */
static inline const struct store_migration *tdb_migrations(struct store *s, size_t *n)
{
    *n = tdb_store_is_pg(s) ? store_pg_migrations_n : store_sqlite_migrations_n;
    return tdb_store_is_pg(s) ? store_pg_migrations : store_sqlite_migrations;
}

static inline int tdb_migrate_list(struct store *s, const struct store_migration *m, size_t n,
                                   struct err *e)
{
    return tdb_store_is_pg(s) ? store_pg_migrate_list(s, m, n, e)
                              : store_sqlite_migrate_list(s, m, n, e);
}

/* One integer (a boolean reads as 0 or 1) from a query run on a separate plain connection,
 * which sees what the store committed (SQLite: WAL); -1 when there is no row. */
static inline long long tdb_int(const char *path, const char *sql)
{
    char msg[TDB_MSG_MAX];
    long long v = -1;
    if (tdb_is_url(path)) {
        PGconn *c = tdb_pg_connect(path);
        PGresult *r = PQexec(c, sql);
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        snprintf(msg, sizeof(msg), "%s", ok ? "" : PQresultErrorMessage(r));
        if (ok && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
            const char *z = PQgetvalue(r, 0, 0);
            v = strcmp(z, "t") == 0 ? 1 : strcmp(z, "f") == 0 ? 0 : strtoll(z, NULL, 10);
        }
        PQclear(r);
        PQfinish(c);
        if (!ok)
            fail_msg("%s: %s", sql, msg);
        return v;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs sql (statements with no result) on a plain connection, with foreign keys enforced as
 * the store has them: 0, or -1 and the database's message in msg. */
static inline int tdb_exec(const char *path, const char *sql, char msg[TDB_MSG_MAX])
{
    msg[0] = '\0';
    if (tdb_is_url(path)) {
        PGconn *c = tdb_pg_connect(path);
        PGresult *r = PQexec(c, sql);
        int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        snprintf(msg, TDB_MSG_MAX, "%s", rc ? PQresultErrorMessage(r) : "");
        PQclear(r);
        PQfinish(c);
        return rc;
    }
    sqlite3 *db = NULL;
    char *m = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &m) == SQLITE_OK ? 0 : -1;
    snprintf(msg, TDB_MSG_MAX, "%s", m ? m : "");
    sqlite3_free(m);
    sqlite3_close(db);
    return rc;
}

static inline bool tdb_file_contains(const char *path, const char *needle)
{
    struct err e = {0};
    struct buf b;
    buf_init(&b, TDB_FILE_MAX);
    if (util_read_file(path, TDB_FILE_MAX, &b, &e) < 0) {
        buf_free(&b);
        return false; /* no such file (e.g. no -wal after a checkpoint) */
    }
    bool found = memmem(b.p, b.len, needle, strlen(needle)) != NULL;
    buf_free(&b);
    return found;
}

/* Whether needle is anywhere in the database: its bytes on disk (SQLite: the file and its
 * WAL), or any column of any row of any table of the schema (PostgreSQL, whose files are the
 * server's). Raw secrets must never be; a stored value must be, which shows the search works. */
static inline bool tdb_holds(const char *path, const char *needle)
{
    static const char sql[] =
        "SELECT count(*) FROM information_schema.tables t "
        "WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "AND strpos(query_to_xml(format('SELECT * FROM %I.%I', t.table_schema, t.table_name), "
        "true, false, '')::text, $1) > 0";
    if (!tdb_is_url(path)) {
        char wal[TDB_PATH_MAX + 8];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        return tdb_file_contains(path, needle) || tdb_file_contains(wal, needle);
    }
    char msg[TDB_MSG_MAX];
    PGconn *c = tdb_pg_connect(path);
    const char *params[1] = {needle};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    snprintf(msg, sizeof(msg), "%s", ok ? "" : PQresultErrorMessage(r));
    bool found = ok && strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
    PQfinish(c);
    if (!ok)
        fail_msg("searching the schema: %s", msg);
    return found;
}

/* Asserts a call's result and shows the store's message when it differs. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s returned %d: %s", #call, rc_, e.msg);                                     \
    } while (0)

#define RC(want, call)                                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s returned %d, not %d: %s", #call, rc_, (want), e.msg);                     \
    } while (0)

/* A user with a unique name, created; returns its id. */
static inline int64_t tdb_user(struct store *s, const char *username, const char *email)
{
    struct err e = {0};
    struct store_user u = {.username = (char *)username,
                           .email = (char *)email,
                           .name = (char *)"Test User",
                           .is_active = true};
    OK(store_user_create(s, &u, &e));
    return u.id;
}

/* The default key pair and a confidential provider using it; returns the provider's id. */
static inline int64_t tdb_provider(struct store *s, const char *name, const char *client_id)
{
    struct err e = {0};
    struct store_keypair in = {.name = (char *)"postern Self-signed Certificate",
                               .kid = (char *)"kid-default",
                               .alg = (char *)"RS256",
                               .key_pem = (char *)"-----BEGIN PRIVATE KEY-----\nx\n",
                               .cert_pem = (char *)"-----BEGIN CERTIFICATE-----\ny\n"};
    struct store_keypair out = {0};
    OK(store_keypair_insert_if_absent(s, &in, &out, NULL, &e));
    store_keypair_free(&out);
    struct store_provider p = {
        .name = (char *)name,
        .authorization_flow = (char *)"default-provider-authorization-implicit-consent",
        .client_type = (char *)"confidential",
        .client_id = (char *)client_id,
        .client_secret = (char *)"s3cret-client-secret",
        .redirect_uris = (char *)"[{\"matching_mode\":\"strict\",\"url\":\"https://rp/cb\"}]",
        .signing_key = (char *)"postern Self-signed Certificate",
        .access_code_validity = 60,
        .access_token_validity = 3600,
        .refresh_token_validity = 30 * 86400,
        .sub_mode = (char *)"hashed_user_id",
        .include_claims_in_id_token = true,
    };
    OK(store_provider_upsert(s, &p, NULL, &e));
    return p.id;
}

/* Runs the tests common to both backends and those of the selected backend only (only may be
 * NULL). Without a server for the PostgreSQL variant, every test is reported failed, as a
 * broken install must not pass unseen, or skipped when POSTERN_TEST_NO_PG=1 says so. */
static inline int tdb_run(const struct CMUnitTest *both, size_t nb, const struct CMUnitTest *only,
                          size_t no)
{
    size_t n = nb + no;
    struct CMUnitTest *v = calloc(n, sizeof(*v));
    assert_non_null(v);
    memcpy(v, both, nb * sizeof(*v));
    if (no)
        memcpy(v + nb, only, no * sizeof(*v));
    int rc = 0;
    if (tdb_pg() && !tdb_pg_url()) {
        const char *no_pg = getenv("POSTERN_TEST_NO_PG");
        bool skip = no_pg && strcmp(no_pg, "1") == 0;
        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++)
            if (skip)
                printf("ok %zu # SKIP %s: POSTERN_TEST_NO_PG=1\n", i + 1, v[i].name);
            else
                printf("not ok %zu - %s: POSTERN_TEST_PG is not set (tests/run.py starts a "
                       "throwaway PostgreSQL; POSTERN_TEST_NO_PG=1 skips)\n",
                       i + 1, v[i].name);
        rc = skip ? 0 : 1;
    } else {
        rc = _cmocka_run_group_tests(tdb_pg() ? "store/pg" : "store/sqlite", v, n, tdir_setup,
                                     tdir_teardown);
    }
    free(v);
    return rc;
}

#define TDB_RUN(both) tdb_run(both, UTIL_ARRAY_LEN(both), NULL, 0)
#define TDB_RUN2(both, sq, pgsql)                                                                  \
    (tdb_pg() ? tdb_run(both, UTIL_ARRAY_LEN(both), pgsql, UTIL_ARRAY_LEN(pgsql))                  \
              : tdb_run(both, UTIL_ARRAY_LEN(both), sq, UTIL_ARRAY_LEN(sq)))

#endif
