/* Races of the access gateway's rows across connections (pg_access.c, pg_access_grants.c and
 * their SQLite twins), on either backend (see testdb.h). Each "node" is a thread with its own
 * store_open. access.c and access_grants.c already run stampedes of key ensure/rotate and of
 * single-use takes; this file adds what they do not:
 *  - stampedes: upserts of one name (every node succeeds, exactly one creates, all see one
 *    row and one AUD tag), logouts of one session while the clock moves (the first
 *    revocation time stays and every caller reads it);
 *  - a held lock: one node has written in an open transaction (store_tx_begin), another runs
 *    the same kind of call and must WAIT (still running after HOLD_MS), then answer as if the
 *    two had run one after the other: after a commit it sees the first's work (no second
 *    creation, the first's key and rotation, STORE_REUSED, the first revocation time), after
 *    a rollback it does the work itself. A stampede finds a missing lock only when the
 *    threads happen to interleave; a held lock finds it on every run. SQLite serializes
 *    writers (BEGIN IMMEDIATE), so the expected answers are the same on both backends;
 *  - PostgreSQL only: the revocation list's query, as the store sends it, planned as a
 *    prepared statement is after a few runs (generic plan), on a table of real proportions. */
#include "access_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define ROUNDS  3
#define HOLD_MS 300
#define TICK_MS 1 /* the clock moves on by a second this often during a logout stampede */
#define GRACE_S 3600
#define BINDING "state-cookie-binding"
/* The revocation list's table for the plan: PLAN_ROWS sessions, one in PLAN_EVERY revoked. */
#define PLAN_ROWS  20000
#define PLAN_EVERY 100
#define PLAN_MAX   2048

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- one node's call ------------------------------------------------------------------- */

enum op { OP_IDP, OP_APP, OP_ENSURE, OP_ROTATE, OP_STATE, OP_TICKET, OP_LOGOUT, OP_LOGOUT_ID };

struct node {
    const char *path;
    pthread_barrier_t *start; /* NULL: runs as soon as connected */
    enum op op;
    const char *name;         /* key pair, or raw login state, ticket or session token */
    const char *config;       /* OP_IDP, OP_APP */
    int64_t if_current;       /* OP_ROTATE */
    char aud[STORE_AUD_SIZE]; /* OP_TICKET: the application's; OP_APP: the one it got */
    char sid[STORE_ID_SIZE];  /* OP_LOGOUT_ID */
    int rc;
    bool flag;   /* created, inserted, rotated */
    int64_t got; /* the row's or current key's id, used_at, revoked_at */
    atomic_bool done;
    char msg[ERR_MSG_MAX];
};

static int run_op(struct store *s, struct node *n, struct err *e)
{
    struct store_access_idp p = {.name = "shared", .type = "oidc", .config = (char *)n->config};
    struct store_access_app a = {
        .name = "shared", .domain = "shared.localhost", .config = (char *)n->config};
    struct store_access_key k = {0};
    struct store_access_state st = {0};
    struct store_access_ticket tk = {0};
    struct store_access_session x = {0};
    int rc = -1;
    switch (n->op) {
    case OP_IDP:
        rc = store_access_idp_upsert(s, &p, &n->flag, e);
        n->got = p.id;
        break;
    case OP_APP:
        rc = store_access_app_upsert(s, &a, &n->flag, e);
        n->got = a.id;
        memcpy(n->aud, a.aud, sizeof(n->aud));
        break;
    case OP_ENSURE:
        rc = store_access_key_ensure(s, n->name, &k, &n->flag, e);
        n->got = k.id;
        break;
    case OP_ROTATE:
        rc = store_access_key_rotate(s, n->name, GRACE_S, n->if_current, &k, &n->flag, e);
        n->got = k.id;
        break;
    case OP_STATE:
        rc = store_access_state_take(s, slice_z(n->name), TOK(BINDING), &st, e);
        n->got = st.used_at;
        break;
    case OP_TICKET:
        rc = store_access_ticket_take(s, slice_z(n->name), n->aud, &tk, e);
        n->got = tk.used_at;
        break;
    case OP_LOGOUT:
        rc = store_access_session_revoke(s, slice_z(n->name), &x, e);
        n->got = x.revoked_at;
        break;
    case OP_LOGOUT_ID:
        rc = store_access_session_revoke_by_id(s, n->sid, &x, e);
        n->got = x.revoked_at;
        break;
    }
    store_access_key_free(&k);
    store_access_state_free(&st);
    store_access_ticket_free(&tk);
    store_access_session_free(&x);
    return rc;
}

/* A node: connects, waits for the others (start), runs its call. */
static void *node_run(void *arg)
{
    struct node *n = arg;
    struct err e = {0};
    struct store *s = store_open(n->path, &e);
    if (n->start)
        pthread_barrier_wait(n->start);
    n->rc = s ? run_op(s, n, &e) : -2;
    snprintf(n->msg, sizeof(n->msg), "%s", e.msg);
    store_close(s);
    atomic_store(&n->done, true);
    return NULL;
}

/* ---- stampedes ----------------------------------------------------------------------- */

/* Runs the RACERS nodes at once, once all are connected; with tick, the clock moves on by a
 * second every TICK_MS until they are all done, so that their writes carry different times. */
static void stampede(struct node *n, bool tick)
{
    pthread_t t[RACERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS + 1);
    for (int i = 0; i < RACERS; i++) {
        n[i].start = &start;
        atomic_init(&n[i].done, false);
        assert_int_equal(pthread_create(&t[i], NULL, node_run, &n[i]), 0);
    }
    pthread_barrier_wait(&start);
    for (int i = 0; tick && i < RACERS;) {
        if (atomic_load(&n[i].done)) {
            i++;
            continue;
        }
        util_set_fake_now(util_now() + 1);
        sleep_ms(TICK_MS);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

/* Two `postern apply` runs, or admin calls on two nodes, for one new name: both succeed, one
 * creates, the other updates the row it made (PostgreSQL: the advisory lock of pg_access.c;
 * without it both would find no row and the second insert would fail on the unique name). */
static void upserts_of_one_name_all_succeed_one_creates(void **state)
{
    (void)state;
    char cfg[RACERS][32];
    for (int i = 0; i < RACERS; i++)
        snprintf(cfg[i], sizeof(cfg[i]), "{\"node\":%d}", i);
    for (int round = 0; round < ROUNDS; round++) {
        char path[TDB_PATH_MAX];
        store_close(tdb_fresh(path));
        /* passes 0-1: a new name (provider, application); 2-3: the same names again */
        for (int pass = 0; pass < 4; pass++) {
            enum op op = pass % 2 ? OP_APP : OP_IDP;
            struct node n[RACERS] = {0};
            for (int i = 0; i < RACERS; i++)
                n[i] = (struct node){.path = path, .op = op, .config = cfg[i]};
            stampede(n, false);
            int created = 0;
            for (int i = 0; i < RACERS; i++) {
                if (n[i].rc != 0)
                    fail_msg("round %d pass %d node %d: %d %s", round, pass, i, n[i].rc, n[i].msg);
                created += n[i].flag;
                assert_int_equal(n[i].got, n[0].got);
                if (op == OP_APP) /* the AUD tag is made once, for the life of the app */
                    assert_string_equal(n[i].aud, n[0].aud);
            }
            if (created != (pass < 2))
                fail_msg("round %d pass %d: %d creations", round, pass, created);
        }
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_idps"), 1);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_apps"), 1);
    }
}

/* A user logging out through several nodes at once, by cookie and by id, while the clock
 * moves: the first revocation's time stays (the revocation list is read in revoked_at order,
 * and a later time would move an entry that nodes have already read past), and every caller
 * reads that time back. */
static void logouts_at_once_keep_the_first_time(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        char path[TDB_PATH_MAX], sid[STORE_ID_SIZE], sql[160];
        struct store *s = tdb_fresh(path);
        session(s, "logout-race", T0 + 86400, sid);
        store_close(s);
        struct node n[RACERS] = {0};
        for (int i = 0; i < RACERS; i++) {
            n[i] = (struct node){
                .path = path, .op = i % 2 ? OP_LOGOUT_ID : OP_LOGOUT, .name = "logout-race"};
            memcpy(n[i].sid, sid, sizeof(sid));
        }
        stampede(n, true);
        snprintf(sql, sizeof(sql), "SELECT revoked_at FROM access_sessions WHERE id = '%s'", sid);
        long long first = tdb_int(path, sql);
        assert_true(first >= T0 && first <= util_now());
        for (int i = 0; i < RACERS; i++) {
            if (n[i].rc != 0)
                fail_msg("round %d node %d: %d %s", round, i, n[i].rc, n[i].msg);
            if (n[i].got != first)
                fail_msg("round %d node %d read revoked_at %lld, the row has %lld", round, i,
                         (long long)n[i].got, first);
        }
    }
}

/* ---- one node waits for another's open transaction -------------------------------------- */

/* Starts the waiter w, checks that it waits for holder's open transaction, then ends that
 * transaction (commit or rollback) and waits for w's answer. */
static void hold_then_release(struct store *holder, struct node *w, bool commit)
{
    struct err e = {0};
    pthread_t t;
    w->start = NULL;
    atomic_init(&w->done, false);
    assert_int_equal(pthread_create(&t, NULL, node_run, w), 0);
    sleep_ms(HOLD_MS);
    if (atomic_load(&w->done)) {
        pthread_join(t, NULL);
        fail_msg("op %d did not wait for the open transaction (rc %d: %s)", w->op, w->rc, w->msg);
    }
    if (commit)
        OK(store_tx_commit(holder, &e));
    else
        OK(store_tx_rollback(holder, &e));
    pthread_join(t, NULL);
}

/* The holder's call, in its own open transaction. */
static void hold(struct store *s, struct node *h)
{
    struct err e = {0};
    OK(store_tx_begin(s, &e));
    int rc = run_op(s, h, &e);
    if (rc != 0)
        fail_msg("holder op %d: %d %s", h->op, rc, e.msg);
}

static void upsert_waits_then_updates_or_creates(void **state)
{
    (void)state;
    for (int commit = 1; commit >= 0; commit--)
        for (enum op op = OP_IDP; op <= OP_APP; op++) {
            char path[TDB_PATH_MAX];
            struct store *s = tdb_fresh(path);
            struct node h = {.op = op, .config = "{\"by\":\"holder\"}"};
            hold(s, &h);
            assert_true(h.flag);
            struct node w = {.path = path, .op = op, .config = "{\"by\":\"waiter\"}"};
            hold_then_release(s, &w, commit);
            if (w.rc != 0)
                fail_msg("waiter op %d: %d %s", op, w.rc, w.msg);
            /* committed: it updates the holder's row; rolled back: it creates its own */
            assert_int_equal(w.flag, !commit);
            if (commit)
                assert_int_equal(w.got, h.got);
            if (op == OP_APP && commit)
                assert_string_equal(w.aud, h.aud);
            if (op == OP_APP && !commit)
                assert_string_not_equal(w.aud, h.aud);
            const char *table = op == OP_APP ? "access_apps" : "access_idps";
            char sql[128];
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
            assert_int_equal(tdb_int(path, sql), 1);
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE config LIKE '%%waiter%%'",
                     table);
            assert_int_equal(tdb_int(path, sql), 1);
            store_close(s);
        }
}

static long long current_key_named(const char *path, const char *keypair)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM access_keys WHERE retired_at = 0 AND keypair_name = '%s'",
             keypair);
    return tdb_int(path, sql);
}

/* Two nodes starting at once on an empty database, then both rotating the key they both saw:
 * one key, one rotation; the other node reads the winner's key. */
static void key_writes_wait_then_see_the_winner(void **state)
{
    (void)state;
    for (int commit = 1; commit >= 0; commit--) {
        char path[TDB_PATH_MAX];
        struct store *s = tdb_fresh(path);
        const char *pairs[] = {"gate-A", "gate-B", "gate-C", "gate-D"};
        for (size_t i = 0; i < UTIL_ARRAY_LEN(pairs); i++)
            keypair(s, pairs[i], pairs[i]);

        struct node h = {.op = OP_ENSURE, .name = "gate-A"};
        hold(s, &h);
        assert_true(h.flag);
        struct node w = {.path = path, .op = OP_ENSURE, .name = "gate-B"};
        hold_then_release(s, &w, commit);
        if (w.rc != 0)
            fail_msg("ensure: %d %s", w.rc, w.msg);
        assert_int_equal(w.flag, !commit);
        if (commit)
            assert_int_equal(w.got, h.got);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 1);
        assert_int_equal(current_key_named(path, commit ? "gate-A" : "gate-B"), 1);

        long long cur = tdb_int(path, "SELECT id FROM access_keys WHERE retired_at = 0");
        h = (struct node){.op = OP_ROTATE, .name = "gate-C", .if_current = cur};
        hold(s, &h);
        assert_true(h.flag);
        w = (struct node){.path = path, .op = OP_ROTATE, .name = "gate-D", .if_current = cur};
        hold_then_release(s, &w, commit);
        if (w.rc != 0)
            fail_msg("rotate: %d %s", w.rc, w.msg);
        /* committed: the current key is no longer the one it saw, so it writes nothing */
        assert_int_equal(w.flag, !commit);
        if (commit)
            assert_int_equal(w.got, h.got);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 2);
        assert_int_equal(current_key_named(path, commit ? "gate-C" : "gate-D"), 1);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys WHERE retired_at > 0 "
                                       "AND not_after = retired_at + 3600"),
                         1);
        store_close(s);
    }
}

/* Two callbacks with one login state, two redirects with one one-time token, two logouts of
 * one session, the first still in its transaction: the second waits, then reads the first's
 * use (STORE_REUSED, and the first's time), never a second winner; after a rollback it wins. */
static void grants_wait_then_answer_after_the_first(void **state)
{
    (void)state;
    for (int commit = 1; commit >= 0; commit--) {
        char path[TDB_PATH_MAX], aud[STORE_AUD_SIZE], sid[STORE_ID_SIZE], sql[160];
        struct err e = {0};
        struct store *s = tdb_fresh(path);
        app(s, "myapp", "service.localhost", aud);
        session(s, "org-token", T0 + 3600, sid);
        struct store_access_state st = {.nonce = "nonce-Zx81", .idp = "Authentik"};
        OK(store_access_state_create(s, TOK("STATE-raw"), TOK(BINDING), &st, &e));
        struct store_access_ticket tk = {0};
        memcpy(tk.session_id, sid, sizeof(sid));
        memcpy(tk.aud, aud, sizeof(aud));
        OK(store_access_ticket_create(s, TOK("ONE-TIME-raw"), &tk, &e));

        const struct node ops[] = {
            {.op = OP_STATE, .name = "STATE-raw"},
            {.op = OP_TICKET, .name = "ONE-TIME-raw"},
            {.op = OP_LOGOUT, .name = "org-token"},
        };
        for (size_t k = 0; k < UTIL_ARRAY_LEN(ops); k++) {
            util_set_fake_now(T0 + 10 * (int64_t)k);
            struct node h = ops[k];
            memcpy(h.aud, aud, sizeof(aud));
            hold(s, &h);
            assert_int_equal(h.got, util_now());
            /* the waiter's time differs from the holder's: which one is kept shows who won */
            util_set_fake_now(util_now() + 5);
            struct node w = ops[k];
            w.path = path;
            memcpy(w.aud, aud, sizeof(aud));
            if (w.op == OP_LOGOUT) { /* the other node has the session's id (an app token) */
                w.op = OP_LOGOUT_ID;
                memcpy(w.sid, sid, sizeof(sid));
            }
            hold_then_release(s, &w, commit);
            int want = commit && w.op != OP_LOGOUT_ID ? STORE_REUSED : 0;
            if (w.rc != want)
                fail_msg("waiter op %d: %d, not %d: %s", w.op, w.rc, want, w.msg);
            assert_int_equal(w.got, commit ? h.got : util_now());
        }
        assert_int_equal(tdb_int(path, "SELECT used_at FROM access_states"), commit ? T0 : T0 + 5);
        assert_int_equal(tdb_int(path, "SELECT used_at FROM access_tickets"),
                         commit ? T0 + 10 : T0 + 15);
        snprintf(sql, sizeof(sql), "SELECT revoked_at FROM access_sessions WHERE id = '%s'", sid);
        assert_int_equal(tdb_int(path, sql), commit ? T0 + 20 : T0 + 25);
        store_close(s);
    }
}

/* ---- PostgreSQL: the revocation list's plan ---------------------------------------------- */

/* The text of the last statement of the connection named app_name (pg_stat_activity shows a
 * prepared statement's text while and after it runs); the caller frees it. */
static char *last_statement(PGconn *c, const char *app_name)
{
    static const char sql[] = "SELECT query FROM pg_stat_activity WHERE application_name = $1";
    const char *params[1] = {app_name};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    char *z = ok ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    if (!z)
        fail_msg("no connection named %s in pg_stat_activity", app_name);
    return z;
}

/* Every gateway node polls the revocation list every few seconds. The store prepares its
 * statements once per connection, and after five runs the server may keep a generic plan,
 * made without the parameters' values: that plan, on a table where most sessions are not
 * revoked, must read the partial index access_sessions_revoked, which gives both the range
 * and the order (no sequential scan, no bitmap, no sort). The statement is the one the store
 * sent, read back from pg_stat_activity, so that this test follows the source. (The SQLite
 * twin, and the PostgreSQL check with sequential scans priced out, are in access_grants.c.) */
static void revocation_list_generic_plan_reads_the_index(void **state)
{
    (void)state;
    char path[TDB_PATH_MAX], url[TDB_PATH_MAX + 64], app_name[32], sql[512], msg[TDB_MSG_MAX];
    struct err e = {0};
    store_close(tdb_fresh(path));
    snprintf(sql, sizeof(sql),
             "INSERT INTO access_sessions (id, created_at, expires_at, revoked_at) "
             "SELECT encode(sha256(i::text::bytea), 'hex'), 1, 2, "
             "CASE WHEN i %% %d = 0 THEN i ELSE 0 END FROM generate_series(1, %d) i; "
             "ANALYZE access_sessions",
             PLAN_EVERY, PLAN_ROWS);
    if (tdb_exec(path, sql, msg) != 0)
        fail_msg("filling access_sessions: %s", msg);
    snprintf(app_name, sizeof(app_name), "races_access_%d", (int)getpid());
    snprintf(url, sizeof(url), "%s&application_name=%s", path, app_name);
    struct store *s = tdb_open(url);
    struct store_access_revoked_list l = {0};
    OK(store_access_session_revoked_since(s, 0, NULL, &l, &e));
    assert_int_equal(l.n, PLAN_ROWS / PLAN_EVERY);
    assert_int_equal(l.v[0].revoked_at, PLAN_EVERY);

    PGconn *c = tdb_pg_connect(path);
    char *query = last_statement(c, app_name);
    assert_non_null(strstr(query, "access_sessions"));
    assert_non_null(strstr(query, "$3")); /* the statement itself, with its parameters */
    PQclear(PQexec(c, "SET plan_cache_mode = force_generic_plan"));
    PGresult *r = PQprepare(c, "revoked", query, 0, NULL);
    snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
    bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!prepared)
        fail_msg("PREPARE %s: %s", query, msg);
    r = PQexec(c, "EXPLAIN EXECUTE revoked(5, '', 1000)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char plan[PLAN_MAX] = "";
    size_t used = 0;
    for (int i = 0; i < PQntuples(r) && used < sizeof(plan) - 1; i++)
        used += (size_t)snprintf(plan + used, sizeof(plan) - used, "%s; ", PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    free(query);
    if (!strstr(plan, "Index Scan using access_sessions_revoked") || strstr(plan, "Seq Scan") ||
        strstr(plan, "Bitmap") || strstr(plan, "Sort"))
        fail_msg("generic plan: %s", plan);
    store_access_revoked_list_free(&l);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test(upserts_of_one_name_all_succeed_one_creates),
        cmocka_unit_test(logouts_at_once_keep_the_first_time),
        cmocka_unit_test(upsert_waits_then_updates_or_creates),
        cmocka_unit_test(key_writes_wait_then_see_the_winner),
        cmocka_unit_test(grants_wait_then_answer_after_the_first),
    };
    const struct CMUnitTest pg_only[] = {
        cmocka_unit_test(revocation_list_generic_plan_reads_the_index),
    };
    return tdb_pg() ? tdb_run(both, UTIL_ARRAY_LEN(both), pg_only, UTIL_ARRAY_LEN(pg_only))
                    : tdb_run(both, UTIL_ARRAY_LEN(both), NULL, 0);
}
