/* Helpers shared by the store's test programs: a temporary directory, fresh migrated
 * databases, and a plain SQLite connection that bypasses the store to check what is on disk. */
#ifndef POSTERN_TEST_STORE_TESTDB_H
#define POSTERN_TEST_STORE_TESTDB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

#define T0 1800000000 /* the fake "now" of every test (2027-01-15) */

static char tdir[] = "/tmp/postern-storetest-XXXXXX";
static int tcounter;

static inline int tdir_setup(void **state)
{
    (void)state;
    return mkdtemp(tdir) ? 0 : -1;
}

static inline int tdir_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tdir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tdir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    util_set_fake_now(0);
    return rmdir(tdir);
}

/* Every test starts at T0 on a fresh, migrated database whose path goes to path. */
static inline struct store *tdb_fresh(char path[512])
{
    struct err e = {0};
    util_set_fake_now(T0);
    snprintf(path, 512, "%s/t%d.db", tdir, ++tcounter);
    struct store *s = store_open(path, &e);
    if (!s)
        fail_msg("store_open: %s", e.msg);
    if (store_migrate(s, &e) < 0)
        fail_msg("migrate: %s", e.msg);
    return s;
}

static inline struct store *tdb_open(const char *path)
{
    struct err e = {0};
    struct store *s = store_open(path, &e);
    if (!s)
        fail_msg("store_open: %s", e.msg);
    return s;
}

/* One integer from a query run on a separate plain connection (WAL: it sees commits). */
static inline long long tdb_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
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

#endif
