/* Races of users/groups and keys/providers/applications across connections (pg_users.c,
 * pg_oauth.c, and their SQLite twins), on either backend (see testdb.h). Each "node" is a
 * thread with its own store_open. Two kinds of test:
 *  - a stampede: RACERS nodes run the same call at once; the result must be one of the
 *    serial outcomes (every upsert succeeds and exactly one creates; a replaced list is one
 *    node's list, never a union);
 *  - a held lock: one node keeps a write open in a transaction, another must WAIT for it
 *    (checked: still running after HOLD_MS), then see its commit or rollback, and answer as if
 *    the two had run one after the other (the precise error, not a foreign-key failure). */
#include "testdb.h"

#include <pthread.h>
#include <stdatomic.h>

#define RACERS  6
#define ROUNDS  5
#define HOLD_MS 300
#define KEY     "postern Self-signed Certificate"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- stampedes ----------------------------------------------------------------------- */

struct racer {
    const char *path;
    pthread_barrier_t *start;
    int id;
    int64_t user_id, app_id;
    int64_t user_ids[RACERS], group_ids[RACERS];
    bool created[3];
    char msg[ERR_MSG_MAX];
};

static void racer_fail(struct racer *r, const char *what, const struct err *e)
{
    if (!r->msg[0])
        snprintf(r->msg, sizeof(r->msg), "%.20s: %.200s", what, e->msg[0] ? e->msg : "failed");
}

/* The three upserts of one name each, at once on every node. */
static void *upsert_race(void *arg)
{
    struct racer *r = arg;
    struct err e = {0};
    char attrs[32];
    snprintf(attrs, sizeof(attrs), "{\"n\":%d}", r->id);
    struct store *s = store_open(r->path, &e);
    pthread_barrier_wait(r->start);
    if (!s) {
        racer_fail(r, "open", &e);
        return NULL;
    }
    struct store_group g = {.name = "staff", .attributes = attrs};
    if (store_group_upsert(s, &g, &r->created[0], &e) != 0)
        racer_fail(r, "group", &e);
    struct store_provider p = {
        .name = "Cloudflare",
        .authorization_flow = "default-provider-authorization-implicit-consent",
        .client_type = "confidential",
        .client_id = "cf-client",
        .client_secret = "s3cret",
        .signing_key = KEY,
        .access_code_validity = 60,
        .access_token_validity = 3600,
        .refresh_token_validity = 86400,
        .sub_mode = "hashed_user_id",
    };
    if (store_provider_upsert(s, &p, &r->created[1], &e) != 0)
        racer_fail(r, "provider", &e);
    struct store_app a = {.name = "Cloudflare", .slug = "cloudflare", .provider_id = p.id};
    if (r->msg[0] == '\0' && store_app_upsert(s, &a, &r->created[2], &e) != 0)
        racer_fail(r, "application", &e);
    store_close(s);
    return NULL;
}

/* Runs fn on RACERS threads started together; fails the test with the first racer's error. */
static void stampede(struct racer *r, void *(*fn)(void *))
{
    pthread_t t[RACERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i].start = &start;
        r[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, fn, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < RACERS; i++)
        if (r[i].msg[0])
            fail_msg("racer %d: %s", i, r[i].msg);
}

static void simultaneous_upserts_all_succeed_one_creates(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        char path[512];
        struct store *s = tdb_fresh(path);
        tdb_provider(s, "other", "other-client"); /* the key pair, and a provider beside */
        struct racer r[RACERS] = {0};
        for (int i = 0; i < RACERS; i++)
            r[i].path = path;
        stampede(r, upsert_race);
        for (int k = 0; k < 3; k++) {
            int creators = 0;
            for (int i = 0; i < RACERS; i++)
                creators += r[i].created[k];
            if (creators != 1)
                fail_msg("round %d, upsert %d: %d creators", round, k, creators);
        }
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM idp_groups"), 1);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM oauth2_providers"), 2);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM applications"), 1);
        store_close(s);
    }
}

/* PostgreSQL: INSERT ... ON CONFLICT (name) resolves a race on name only. Two nodes inserting
 * the same new provider both pass the conflict check, then the second one meets the first's
 * client_id (a unique index that is not the conflict target): an error, unless the upserts of
 * one name wait for each other (lock_name in pg_oauth.c). The race is made certain here: an
 * index whose expression sleeps is put before the unique indexes, between the check and the
 * insertion into them, so every racer passes the check before any inserts. (SQLite: a plain
 * stampede, its writers being serialized.) */
static void upserts_of_one_new_name_wait_for_each_other(void **state)
{
    (void)state;
    char path[512], msg[TDB_MSG_MAX];
    struct store *s = tdb_fresh(path);
    tdb_provider(s, "other", "other-client");
    static const char slow[] =
        "CREATE FUNCTION pga_slow(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS "
        "$$BEGIN PERFORM pg_sleep(0.2); RETURN t; END$$;"
        "CREATE INDEX pga_slow_p ON oauth2_providers (pga_slow(name));"
        "ALTER TABLE oauth2_providers DROP CONSTRAINT oauth2_providers_name_key, "
        "DROP CONSTRAINT oauth2_providers_client_id_key;"
        "ALTER TABLE oauth2_providers ADD CONSTRAINT oauth2_providers_name_key UNIQUE (name), "
        "ADD CONSTRAINT oauth2_providers_client_id_key UNIQUE (client_id);"
        "CREATE INDEX pga_slow_a ON applications (pga_slow(slug));"
        "ALTER TABLE applications DROP CONSTRAINT applications_slug_key, "
        "DROP CONSTRAINT applications_provider_id_key;"
        "ALTER TABLE applications ADD CONSTRAINT applications_slug_key UNIQUE (slug), "
        "ADD CONSTRAINT applications_provider_id_key UNIQUE (provider_id);";
    if (tdb_pg() && tdb_exec(path, slow, msg) != 0)
        fail_msg("slow index: %s", msg);
    struct racer r[RACERS] = {0};
    for (int i = 0; i < RACERS; i++)
        r[i].path = path;
    stampede(r, upsert_race);
    int creators = 0;
    for (int i = 0; i < RACERS; i++)
        creators += r[i].created[1] + r[i].created[2];
    assert_int_equal(creators, 2);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM oauth2_providers"), 2);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM applications"), 1);
    store_close(s);
}

/* Racer i makes the user's groups {g_i, g_i+1} and the application's bindings
 * [user u_i, group g_i]. */
static void *replace_race(void *arg)
{
    struct racer *r = arg;
    struct err e = {0};
    char n1[16], n2[16];
    snprintf(n1, sizeof(n1), "g%d", r->id);
    snprintf(n2, sizeof(n2), "g%d", (r->id + 1) % RACERS);
    struct store *s = store_open(r->path, &e);
    pthread_barrier_wait(r->start);
    if (!s) {
        racer_fail(r, "open", &e);
        return NULL;
    }
    if (store_user_set_groups(s, r->user_id, (const char *[]){n1, n2}, 2, &e) != 0)
        racer_fail(r, "set_groups", &e);
    struct store_binding b[2] = {
        {.order = 10, .user_id = r->user_ids[r->id], .enabled = true},
        {.order = 20, .group_id = r->group_ids[r->id], .enabled = true},
    };
    if (store_app_bindings_set(s, r->app_id, b, 2, &e) != 0)
        racer_fail(r, "bindings_set", &e);
    store_close(s);
    return NULL;
}

static void simultaneous_replacements_give_one_list(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        char path[512];
        struct err e = {0};
        struct store *s = tdb_fresh(path);
        struct racer r[RACERS] = {0};
        int64_t alice = tdb_user(s, "alice", "");
        struct store_app a = {.name = "App", .slug = "app"};
        OK(store_app_upsert(s, &a, NULL, &e));
        for (int i = 0; i < RACERS; i++) {
            char name[16];
            snprintf(name, sizeof(name), "g%d", i);
            struct store_group g = {.name = name};
            OK(store_group_upsert(s, &g, NULL, &e));
            snprintf(name, sizeof(name), "u%d", i);
            r[0].user_ids[i] = tdb_user(s, name, "");
            r[0].group_ids[i] = g.id;
        }
        for (int i = 0; i < RACERS; i++) {
            memcpy(r[i].user_ids, r[0].user_ids, sizeof(r[i].user_ids));
            memcpy(r[i].group_ids, r[0].group_ids, sizeof(r[i].group_ids));
            r[i].path = path;
            r[i].user_id = alice;
            r[i].app_id = a.id;
        }
        stampede(r, replace_race);

        /* the groups of one racer: two consecutive names, nothing more */
        struct store_group_list gl = {0};
        OK(store_user_groups(s, alice, &gl, &e));
        if (gl.n != 2)
            fail_msg("round %d: %zu groups after the race (a union of lists)", round, gl.n);
        int i0 = gl.v[0].name[1] - '0', i1 = gl.v[1].name[1] - '0';
        assert_true(i1 == i0 + 1 || (i0 == 0 && i1 == RACERS - 1));
        /* the bindings of one racer */
        struct store_binding_list bl = {0};
        OK(store_app_bindings(s, a.id, &bl, &e));
        if (bl.n != 2)
            fail_msg("round %d: %zu bindings after the race (a union of lists)", round, bl.n);
        int w = -1;
        for (int i = 0; i < RACERS; i++)
            if (bl.v[0].user_id == r[0].user_ids[i])
                w = i;
        assert_true(w >= 0);
        assert_int_equal(bl.v[1].group_id, r[0].group_ids[w]);
        store_group_list_free(&gl);
        store_binding_list_free(&bl);
        store_close(s);
    }
}

/* ---- one node waits for another's open transaction -------------------------------------- */

enum wait_op { W_KEYPAIR, W_SET_GROUPS, W_PROVIDER, W_BINDINGS };

struct waiter {
    const char *path;
    enum wait_op op;
    int64_t id;
    atomic_bool done;
    int rc;
    bool inserted;
    char kid[64];
    struct err e;
};

static void *wait_run(void *arg)
{
    struct waiter *w = arg;
    struct store *s = store_open(w->path, &w->e);
    if (!s) {
        w->rc = -2;
        atomic_store(&w->done, true);
        return NULL;
    }
    struct store_keypair in = {.name = KEY, .kid = "kid-B", .alg = "RS256", .key_pem = "B"};
    struct store_keypair out = {0};
    struct store_provider p = {
        .name = "late",
        .authorization_flow = "f",
        .client_type = "public",
        .client_id = "late-client",
        .signing_key = "spare",
        .access_code_validity = 60,
        .access_token_validity = 3600,
        .refresh_token_validity = 86400,
        .sub_mode = "hashed_user_id",
    };
    struct store_binding b = {.order = 1, .group_id = 0, .user_id = 0, .enabled = true};
    switch (w->op) {
    case W_KEYPAIR:
        w->rc = store_keypair_insert_if_absent(s, &in, &out, &w->inserted, &w->e);
        snprintf(w->kid, sizeof(w->kid), "%s", out.kid ? out.kid : "");
        break;
    case W_SET_GROUPS:
        w->rc = store_user_set_groups(s, w->id, (const char *[]){"staff"}, 1, &w->e);
        break;
    case W_PROVIDER:
        w->rc = store_provider_upsert(s, &p, NULL, &w->e);
        break;
    case W_BINDINGS:
        b.user_id = 1; /* any user: the application is what goes away */
        w->rc = store_app_bindings_set(s, w->id, &b, 1, &w->e);
        break;
    }
    store_keypair_free(&out);
    store_close(s);
    atomic_store(&w->done, true);
    return NULL;
}

/* Starts the waiter, checks that it waits for holder's transaction, then ends that
 * transaction (commit or not) and waits for the waiter's answer. */
static void hold_then_release(struct store *holder, struct waiter *w, bool commit)
{
    struct err e = {0};
    pthread_t t;
    atomic_init(&w->done, false);
    assert_int_equal(pthread_create(&t, NULL, wait_run, w), 0);
    sleep_ms(HOLD_MS);
    if (atomic_load(&w->done))
        fail_msg("op %d did not wait for the open transaction (rc %d: %s)", w->op, w->rc, w->e.msg);
    if (commit)
        OK(store_tx_commit(holder, &e));
    else
        OK(store_tx_rollback(holder, &e));
    pthread_join(t, NULL);
}

static void keypair_waits_for_the_uncommitted_winner(void **state)
{
    (void)state;
    for (int commit = 1; commit >= 0; commit--) {
        char path[512];
        struct err e = {0};
        struct store *s = tdb_fresh(path);
        struct store_keypair in = {.name = KEY, .kid = "kid-A", .alg = "RS256", .key_pem = "A"};
        struct store_keypair out = {0};
        bool inserted = false;
        OK(store_tx_begin(s, &e));
        OK(store_keypair_insert_if_absent(s, &in, &out, &inserted, &e));
        assert_true(inserted);
        struct waiter w = {.path = path, .op = W_KEYPAIR};
        hold_then_release(s, &w, commit);
        if (w.rc != 0)
            fail_msg("waiter: %d %s", w.rc, w.e.msg);
        /* committed: the waiter gets the winner's row; rolled back: its own */
        assert_int_equal(w.inserted, !commit);
        assert_string_equal(w.kid, commit ? "kid-A" : "kid-B");
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM certificate_keypairs"), 1);
        store_keypair_free(&out);
        store_close(s);
    }
}

/* A row deleted by an open transaction: the waiter answers as if after the delete, with the
 * call's own words, never a foreign-key failure on a row it had read before the commit. */
static void writes_wait_for_a_delete_of_what_they_read(void **state)
{
    (void)state;
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t alice = tdb_user(s, "alice", "");
    struct store_group g = {.name = "staff"};
    OK(store_group_upsert(s, &g, NULL, &e));
    struct store_keypair in = {.name = "spare", .kid = "kid-S", .alg = "RS256", .key_pem = "S"};
    struct store_keypair out = {0};
    OK(store_keypair_insert_if_absent(s, &in, &out, NULL, &e));
    struct store_app a = {.name = "App", .slug = "app"};
    OK(store_app_upsert(s, &a, NULL, &e));
    tdb_user(s, "bob", ""); /* user id 2 exists too; bindings name user 1 */

    OK(store_tx_begin(s, &e));
    OK(store_group_delete(s, g.id, &e));
    struct waiter w1 = {.path = path, .op = W_SET_GROUPS, .id = alice};
    hold_then_release(s, &w1, true);
    if (w1.rc != STORE_NOT_FOUND)
        fail_msg("set_groups after a group delete: %d %s", w1.rc, w1.e.msg);
    assert_string_equal(w1.e.msg, "group \"staff\" does not exist");
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM group_members"), 0);

    OK(store_tx_begin(s, &e));
    OK(store_keypair_delete(s, "spare", &e));
    struct waiter w2 = {.path = path, .op = W_PROVIDER};
    hold_then_release(s, &w2, true);
    if (w2.rc != -1 || w2.e.code != STORE_E_CONSTRAINT)
        fail_msg("provider after a key delete: %d %s", w2.rc, w2.e.msg);
    assert_string_equal(w2.e.msg, "signing_key: no certificate-key pair named \"spare\"");

    OK(store_tx_begin(s, &e));
    OK(store_app_delete(s, a.id, &e));
    struct waiter w3 = {.path = path, .op = W_BINDINGS, .id = a.id};
    hold_then_release(s, &w3, true);
    if (w3.rc != STORE_NOT_FOUND)
        fail_msg("bindings after an application delete: %d %s", w3.rc, w3.e.msg);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM app_bindings"), 0);

    /* rolled back: the waiter goes on with the row it locked */
    OK(store_tx_begin(s, &e));
    struct store_group g2 = {.name = "staff"};
    OK(store_group_upsert(s, &g2, NULL, &e));
    OK(store_tx_commit(s, &e));
    OK(store_tx_begin(s, &e));
    OK(store_group_delete(s, g2.id, &e));
    struct waiter w4 = {.path = path, .op = W_SET_GROUPS, .id = alice};
    hold_then_release(s, &w4, false);
    if (w4.rc != 0)
        fail_msg("set_groups after a rolled back delete: %d %s", w4.rc, w4.e.msg);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM group_members"), 1);
    store_keypair_free(&out);
    store_close(s);
}

/* ---- inside the caller's transaction -------------------------------------------------- */

/* A refused upsert inside `postern apply`'s transaction undoes itself only. */
static void refused_upserts_leave_the_transaction_usable(void **state)
{
    (void)state;
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t pid = tdb_provider(s, "first", "first-client");
    OK(store_tx_begin(s, &e));
    struct store_group g = {.name = "before"};
    OK(store_group_upsert(s, &g, NULL, &e));
    struct store_app bad = {.name = "x", .slug = "token"};
    RC(-1, store_app_upsert(s, &bad, NULL, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_non_null(strstr(e.msg, "slug must not be empty or one of"));
    struct store_provider p = {0};
    OK(store_provider_get_by_id(s, pid, &p, &e));
    free(p.name);
    p.name = xstrdup("second"); /* the first one's client_id */
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "client_id already used by another provider");
    struct store_group empty = {.name = ""};
    RC(-1, store_group_upsert(s, &empty, NULL, &e));
    assert_string_equal(e.msg, "group name must not be empty");
    struct store_group g2 = {.name = "after"};
    OK(store_group_upsert(s, &g2, NULL, &e));
    OK(store_tx_commit(s, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM idp_groups"), 2);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM applications"), 0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM oauth2_providers"), 1);
    store_provider_free(&p);
    store_close(s);
}

/* ---- values ---------------------------------------------------------------------------- */

/* The login's email match folds ASCII only (SQLite's NOCASE), and values are parameters. */
static void email_folds_ascii_only_and_values_are_data(void **state)
{
    (void)state;
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t id = tdb_user(s, "u1", "\xc3\xa0lice@Example.com"); /* "àlice" */
    struct store_user g = {0};
    OK(store_user_get_by_login(s, "\xc3\xa0LICE@EXAMPLE.COM", &g, &e));
    assert_int_equal(g.id, id);
    /* "Àlice": a different address to SQLite, so to PostgreSQL too */
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "\xc3\x80lice@example.com", &g, &e));
    int64_t id2 = tdb_user(s, "u2", "\xc3\x80lice@example.com");
    assert_true(id2 != id);
    /* LIKE / regex metacharacters and quotes are plain characters */
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "%lice@example.com", &g, &e));
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "_lice@example.com", &g, &e));
    const char *evil = "x'); DROP TABLE users; --";
    int64_t id3 = tdb_user(s, evil, "");
    OK(store_user_get_by_login(s, evil, &g, &e));
    assert_int_equal(g.id, id3);
    struct store_group grp = {.name = (char *)evil};
    OK(store_group_upsert(s, &grp, NULL, &e));
    struct store_group got = {0};
    OK(store_group_get_by_name(s, evil, &got, &e));
    assert_int_equal(got.id, grp.id);
    store_group_free(&got);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM users"), 3);
    /* byte order, whatever the database's locale: "B" before "a" */
    tdb_user(s, "B", "");
    tdb_user(s, "a", "");
    struct store_user_list l = {0};
    OK(store_user_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].username, "B");
    assert_string_equal(l.v[1].username, "a");
    store_user_list_free(&l);
    store_user_free(&g);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simultaneous_upserts_all_succeed_one_creates),
        cmocka_unit_test(upserts_of_one_new_name_wait_for_each_other),
        cmocka_unit_test(simultaneous_replacements_give_one_list),
        cmocka_unit_test(keypair_waits_for_the_uncommitted_winner),
        cmocka_unit_test(writes_wait_for_a_delete_of_what_they_read),
        cmocka_unit_test(refused_upserts_leave_the_transaction_usable),
        cmocka_unit_test(email_folds_ascii_only_and_values_are_data),
    };
    return TDB_RUN(tests);
}
