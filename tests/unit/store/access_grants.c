/* Tests of the access gateway's grants in the store (src/store/store_access.c,
 * sqlite_access_grants.c, pg_access_grants.c), through store.h on either backend (see
 * testdb.h): global sessions and the revocation list (read through its index), login states
 * and one-time tokens (single use, also under races), purge, limits, and that no raw secret
 * reaches the database. */
#include "access_fixture.h"

#include "store/sqlite_int.h"

#include <pthread.h>

/* ---- global sessions and the revocation list ------------------------------------------ */

static void sessions(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char id[STORE_ID_SIZE], d[STORE_ID_SIZE];
    session(s, "org-cookie-token-1", T0 + 3600, id);
    OK(store_digest(TOK("org-cookie-token-1"), d, &e));
    assert_string_equal(id, d);

    struct store_access_session x = {0};
    OK(store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_string_equal(x.id, id);
    assert_string_equal(x.identity, "{\"email\":\"alice@example.com\"}");
    assert_string_equal(x.idp, "Authentik");
    assert_int_equal(x.created_at, T0);
    assert_int_equal(x.revoked_at, 0);
    OK(store_access_session_get_by_id(s, id, &x, &e));
    RC(STORE_NOT_FOUND, store_access_session_get(s, TOK("org-cookie-token-2"), &x, &e));
    RC(STORE_NOT_FOUND, store_access_session_get(s, TOK(""), &x, &e));

    /* refused: an empty token, identity that is not a JSON object, a duplicate */
    struct store_access_session bad = {.expires_at = T0 + 1};
    RC(-1, store_access_session_create(s, TOK(""), &bad, &e));
    assert_string_equal(e.msg, "session token must not be empty");
    bad.identity = "[\"alice\"]";
    RC(-1, store_access_session_create(s, TOK("t"), &bad, &e));
    assert_string_equal(e.msg, "identity must be a JSON object");
    bad.identity = NULL;
    RC(-1, store_access_session_create(s, TOK("org-cookie-token-1"), &bad, &e));
    assert_string_equal(e.msg, "gateway session already exists");

    /* expired: said, with the row */
    util_set_fake_now(T0 + 3600);
    RC(STORE_EXPIRED, store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_int_equal(x.expires_at, T0 + 3600);
    util_set_fake_now(T0 + 10);

    /* logout: revoked everywhere; a second logout keeps the first time */
    struct store_access_session r = {0};
    OK(store_access_session_revoke(s, TOK("org-cookie-token-1"), &r, &e));
    assert_int_equal(r.revoked_at, T0 + 10);
    assert_string_equal(r.idp, "Authentik");
    RC(STORE_REVOKED, store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_int_equal(x.revoked_at, T0 + 10);
    util_set_fake_now(T0 + 3600); /* revoked wins over expired */
    RC(STORE_REVOKED, store_access_session_get_by_id(s, id, &x, &e));
    util_set_fake_now(T0 + 20);
    OK(store_access_session_revoke_by_id(s, id, NULL, &e));
    OK(store_access_session_revoke_by_id(s, id, &r, &e));
    assert_int_equal(r.revoked_at, T0 + 10);
    RC(STORE_NOT_FOUND, store_access_session_revoke(s, TOK("unknown"), &r, &e));
    RC(STORE_NOT_FOUND, store_access_session_revoke_by_id(s, "", &r, &e));
    store_access_session_free(&x);
    store_access_session_free(&r);
    store_close(s);
}

static void revocation_list(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char ids[6][STORE_ID_SIZE], tok[32];
    for (int i = 0; i < 6; i++) {
        snprintf(tok, sizeof(tok), "session-%d", i);
        session(s, tok, T0 + 3600, ids[i]);
    }
    struct store_access_revoked_list l = {0};
    OK(store_access_session_revoked_since(s, 0, NULL, &l, &e));
    assert_int_equal(l.n, 0);
    util_set_fake_now(T0 + 10);
    OK(store_access_session_revoke_by_id(s, ids[0], NULL, &e));
    OK(store_access_session_revoke_by_id(s, ids[1], NULL, &e));
    util_set_fake_now(T0 + 20);
    for (int i = 2; i < 5; i++)
        OK(store_access_session_revoke_by_id(s, ids[i], NULL, &e));

    OK(store_access_session_revoked_since(s, T0 + 15, NULL, &l, &e));
    assert_int_equal(l.n, 3);
    OK(store_access_session_revoked_since(s, T0 + 20, "", &l, &e));
    assert_int_equal(l.n, 3); /* since is inclusive */
    assert_int_equal(l.v[0].revoked_at, T0 + 20);
    assert_int_equal(l.v[0].expires_at, T0 + 3600);
    assert_true(strcmp(l.v[0].id, l.v[1].id) < 0 && strcmp(l.v[1].id, l.v[2].id) < 0);
    /* read on from a row: the rest, nothing twice */
    char after[STORE_ID_SIZE];
    memcpy(after, l.v[0].id, sizeof(after));
    OK(store_access_session_revoked_since(s, T0 + 20, after, &l, &e));
    assert_int_equal(l.n, 2);
    assert_true(strcmp(l.v[0].id, after) > 0);
    OK(store_access_session_revoked_since(s, 0, NULL, &l, &e));
    assert_int_equal(l.n, 5);
    assert_int_equal(l.v[0].revoked_at, T0 + 10);
    for (size_t i = 0; i < l.n; i++)
        assert_string_not_equal(l.v[i].id, ids[5]); /* never revoked */
    OK(store_access_session_revoked_since(s, T0 + 21, NULL, &l, &e));
    assert_int_equal(l.n, 0);

    /* more than a page: STORE_LIST_MAX, then the rest from the last row */
    OK(store_tx_begin(s, &e));
    for (int i = 0; i < STORE_LIST_MAX + 5; i++) {
        char id[STORE_ID_SIZE];
        snprintf(tok, sizeof(tok), "bulk-%d", i);
        session(s, tok, T0 + 3600, id);
        OK(store_access_session_revoke_by_id(s, id, NULL, &e));
    }
    OK(store_tx_commit(s, &e));
    OK(store_access_session_revoked_since(s, T0 + 20, NULL, &l, &e));
    assert_int_equal(l.n, STORE_LIST_MAX);
    memcpy(after, l.v[l.n - 1].id, sizeof(after));
    int64_t at = l.v[l.n - 1].revoked_at;
    OK(store_access_session_revoked_since(s, at, after, &l, &e));
    assert_int_equal(l.n, 8); /* 3 + STORE_LIST_MAX + 5 revoked at T0 + 20 */
    store_access_revoked_list_free(&l);
    store_close(s);
}

/* Every gateway node runs this query every few seconds: it must not scan the table. */
static void revocation_list_is_indexed(void **state)
{
    char path[512], sql[1024];
    struct store *s = tdb_fresh(path);
    store_close(s);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sq_access_revoked_sql);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char plan[1024] = "";
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW && used < sizeof(plan) - 1)
        used += (size_t)snprintf(plan + used, sizeof(plan) - used, "%s; ",
                                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!strstr(plan, "USING INDEX access_sessions_revoked (revoked_at>?)") &&
        !strstr(plan, "USING INDEX access_sessions_revoked ((revoked_at,id)>(?,?))"))
        fail_msg("plan: %s", plan);
    assert_null(strstr(plan, "SCAN"));
    assert_null(strstr(plan, "TEMP B-TREE")); /* the index gives the order */
}

/* The same property on PostgreSQL, whose plans depend on the table's size: with sequential
 * scans priced out (as on a table of real size), the server's statistics must show that the
 * gateway's queries, from the start and from a row, read the index. */
#define STATS_WAIT_MS 10000

static void revocation_list_is_indexed_pg(void **state)
{
    char path[512], url[TDB_PATH_MAX + 64], id[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    session(s, "revoked-one", T0 + 3600, id);
    OK(store_access_session_revoke_by_id(s, id, NULL, &e));
    store_close(s);
    snprintf(url, sizeof(url), "%s%%20-cenable_seqscan%%3Doff", path);
    s = tdb_open(url);
    struct store_access_revoked_list l = {0};
    OK(store_access_session_revoked_since(s, T0, NULL, &l, &e));
    assert_int_equal(l.n, 1);
    OK(store_access_session_revoked_since(s, T0, id, &l, &e));
    assert_int_equal(l.n, 0);
    store_access_revoked_list_free(&l);
    store_close(s); /* a server process reports its statistics when it ends */
    long long scans = 0;
    for (int waited = 0; waited < STATS_WAIT_MS && scans < 2; waited += 50) {
        usleep(50 * 1000);
        scans = tdb_int(path, "SELECT idx_scan FROM pg_stat_user_indexes "
                              "WHERE schemaname = current_schema() "
                              "AND indexrelname = 'access_sessions_revoked'");
    }
    assert_int_equal(scans, 2);
}

/* ---- login states -------------------------------------------------------------------- */

static void new_state(struct store *s, const char *state, const char *binding, int64_t expires_at)
{
    struct err e = {0};
    struct store_access_state x = {.nonce = "nonce-Zx81",
                                   .code_verifier = "verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r",
                                   .idp = "Authentik",
                                   .app_domain = "service.localhost",
                                   .redirect_url = "http://service.localhost/after?x=1",
                                   .expires_at = expires_at};
    OK(store_access_state_create(s, slice_z(state), slice_z(binding), &x, &e));
    assert_int_equal(x.used_at, 0);
    assert_int_equal(x.expires_at, expires_at ? expires_at : util_now() + 600);
}

static void login_states(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    new_state(s, "STATE-raw-a1b2c3", "BINDING-cookie-d4e5", 0);
    struct store_access_state x = {0};

    /* another browser (no cookie, another cookie) cannot take it, nor burn it */
    RC(STORE_NOT_FOUND, store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK(""), &x, &e));
    RC(STORE_NOT_FOUND,
       store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e6"), &x, &e));
    assert_null(x.nonce);
    util_set_fake_now(T0 + 599);
    OK(store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e5"), &x, &e));
    assert_string_equal(x.nonce, "nonce-Zx81");
    assert_string_equal(x.code_verifier, "verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r");
    assert_string_equal(x.idp, "Authentik");
    assert_string_equal(x.app_domain, "service.localhost");
    assert_string_equal(x.redirect_url, "http://service.localhost/after?x=1");
    assert_int_equal(x.created_at, T0);
    assert_int_equal(x.expires_at, T0 + STORE_ACCESS_STATE_TTL_S);
    assert_int_equal(x.used_at, T0 + 599);
    /* a replayed callback */
    RC(STORE_REUSED,
       store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e5"), &x, &e));
    assert_int_equal(x.used_at, T0 + 599);
    RC(STORE_NOT_FOUND,
       store_access_state_take(s, TOK("STATE-raw-a1b2c4"), TOK("BINDING-cookie-d4e5"), &x, &e));

    /* expired before the callback: refused once as expired, then as reused */
    new_state(s, "STATE-late", "B", T0 + 600);
    util_set_fake_now(T0 + 600);
    RC(STORE_EXPIRED, store_access_state_take(s, TOK("STATE-late"), TOK("B"), &x, &e));
    RC(STORE_REUSED, store_access_state_take(s, TOK("STATE-late"), TOK("B"), &x, &e));

    /* refused at creation: empty state, binding, nonce or idp */
    struct store_access_state bad = {.nonce = "n", .idp = "Authentik"};
    RC(-1, store_access_state_create(s, TOK(""), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "state must not be empty");
    RC(-1, store_access_state_create(s, TOK("s"), TOK(""), &bad, &e));
    assert_string_equal(e.msg, "binding must not be empty");
    bad.nonce = "";
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "nonce must not be empty");
    bad.nonce = "n";
    bad.idp = NULL;
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "idp must not be empty");
    bad.idp = "Authentik";
    RC(-1, store_access_state_create(s, TOK("STATE-late"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "login state already exists");

    /* state and binding are kept hashed; the nonce as given (it is compared to the token) */
    assert_true(tdb_holds(path, "nonce-Zx81"));
    const char *raw[] = {"STATE-raw-a1b2c3", "BINDING-cookie-d4e5"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(raw); i++)
        assert_false(tdb_holds(path, raw[i]));
    store_access_state_free(&x);
    store_close(s);
}

/* ---- one-time tokens ------------------------------------------------------------------ */

static void one_time_tokens(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char aud[STORE_AUD_SIZE], aud2[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    app(s, "myapp", "service.localhost", aud);
    app(s, "other", "other.localhost", aud2);
    session(s, "org-token", T0 + 3600, sid);

    struct store_access_ticket t = {.redirect_path = "/dashboard?tab=1"};
    memcpy(t.session_id, sid, sizeof(sid));
    memcpy(t.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("ONE-TIME-9z8y7x"), &t, &e));
    assert_int_equal(t.expires_at, T0 + STORE_ACCESS_TICKET_TTL_S);
    struct store_access_ticket x = {0};
    /* presented on another application's domain: refused, and still usable on its own */
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud2, &x, &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), NULL, &x, &e));
    util_set_fake_now(T0 + 59);
    OK(store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud, &x, &e));
    assert_string_equal(x.session_id, sid);
    assert_string_equal(x.aud, aud);
    assert_string_equal(x.redirect_path, "/dashboard?tab=1");
    assert_int_equal(x.used_at, T0 + 59);
    RC(STORE_REUSED, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud, &x, &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-other"), aud, &x, &e));

    /* after 60 s: expired once, then reused */
    struct store_access_ticket late = {0};
    memcpy(late.session_id, sid, sizeof(sid));
    memcpy(late.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("late"), &late, &e));
    assert_true(late.id[0] != '\0');
    util_set_fake_now(T0 + 59 + 60);
    RC(STORE_EXPIRED, store_access_ticket_take(s, TOK("late"), aud, &x, &e));
    assert_string_equal(x.redirect_path, "/"); /* "" reads as "/" */
    RC(STORE_REUSED, store_access_ticket_take(s, TOK("late"), aud, &x, &e));

    /* references must exist, and the message says which */
    struct store_access_ticket bad = {0};
    memcpy(bad.aud, aud, sizeof(aud));
    snprintf(bad.session_id, sizeof(bad.session_id), "%064d", 7);
    RC(-1, store_access_ticket_create(s, TOK("b1"), &bad, &e));
    assert_string_equal(e.msg, "session_id: no such gateway session");
    memcpy(bad.session_id, sid, sizeof(sid));
    snprintf(bad.aud, sizeof(bad.aud), "%064d", 7);
    RC(-1, store_access_ticket_create(s, TOK("b1"), &bad, &e));
    assert_string_equal(e.msg, "aud: no application has this aud");
    RC(-1, store_access_ticket_create(s, TOK(""), &t, &e));
    assert_string_equal(e.msg, "one-time token must not be empty");

    /* deleting the application, or the session, takes its tokens */
    RC(-1, store_access_ticket_create(s, TOK("for-other"), &(struct store_access_ticket){0}, &e));
    assert_string_equal(e.msg, "session_id: no such gateway session");
    struct store_access_ticket o = {0};
    memcpy(o.session_id, sid, sizeof(sid));
    memcpy(o.aud, aud2, sizeof(aud2));
    OK(store_access_ticket_create(s, TOK("for-other"), &o, &e));
    OK(store_access_app_delete(s, "other", &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("for-other"), aud2, &x, &e));
    assert_true(tdb_holds(path, "/dashboard?tab=1")); /* the search works */
    assert_false(tdb_holds(path, "ONE-TIME-9z8y7x"));
    store_access_ticket_free(&x);
    store_close(s);
}

/* ---- single use under races --------------------------------------------------------- */

struct taker {
    const char *path;
    pthread_barrier_t *start;
    bool ticket; /* else a login state */
    struct slice value, binding_or_aud;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void *take_one(void *arg)
{
    struct taker *t = arg;
    struct err e = {0};
    struct store_access_state x = {0};
    struct store_access_ticket k = {0};
    struct store *s = store_open(t->path, &e);
    pthread_barrier_wait(t->start);
    if (!s)
        t->rc = -1;
    else if (t->ticket)
        t->rc = store_access_ticket_take(s, t->value, t->binding_or_aud.p, &k, &e);
    else
        t->rc = store_access_state_take(s, t->value, t->binding_or_aud, &x, &e);
    if (t->rc < 0)
        snprintf(t->msg, sizeof(t->msg), "%s", e.msg);
    store_access_state_free(&x);
    store_access_ticket_free(&k);
    store_close(s);
    return NULL;
}

static void single_use_races_have_one_winner(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "org", T0 + 3600, sid);
    for (int round = 0; round < 10; round++) {
        bool ticket = round % 2;
        char value[32];
        snprintf(value, sizeof(value), "race-%d", round);
        if (ticket) {
            struct store_access_ticket t = {0};
            memcpy(t.session_id, sid, sizeof(sid));
            memcpy(t.aud, aud, sizeof(aud));
            OK(store_access_ticket_create(s, slice_z(value), &t, &e));
        } else {
            new_state(s, value, "cookie", 0);
        }
        pthread_t th[RACERS];
        struct taker t[RACERS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            t[i] = (struct taker){.path = path,
                                  .start = &start,
                                  .ticket = ticket,
                                  .value = slice_z(value),
                                  .binding_or_aud = ticket ? slice_z(aud) : TOK("cookie")};
            assert_int_equal(pthread_create(&th[i], NULL, take_one, &t[i]), 0);
        }
        int won = 0, reused = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (t[i].rc < 0)
                fail_msg("round %d taker %d: %s", round, i, t[i].msg);
            won += t[i].rc == 0;
            reused += t[i].rc == STORE_REUSED;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(won, 1);
        assert_int_equal(reused, RACERS - 1);
    }
    store_close(s);
}

/* ---- purge and limits ----------------------------------------------------------------- */

static void purge_expired_grants(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], s1[STORE_ID_SIZE], s2[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "short", T0 + 650, s1);
    session(s, "long", T0 + 86400, s2);
    OK(store_access_session_revoke_by_id(s, s2, NULL, &e));
    new_state(s, "st-1", "b", 0);
    new_state(s, "st-2", "b", T0 + 5000);
    struct store_access_ticket t = {0};
    memcpy(t.session_id, s1, sizeof(s1));
    memcpy(t.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("tk-1"), &t, &e));
    t.expires_at = T0 + 5000; /* outlives its session: goes with it */
    OK(store_access_ticket_create(s, TOK("tk-2"), &t, &e));

    struct store_purged p = {0};
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions + p.access_states + p.access_tickets, 0);
    util_set_fake_now(T0 + 600);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_states, 1);
    assert_int_equal(p.access_tickets, 1);
    assert_int_equal(p.access_sessions, 0);
    util_set_fake_now(T0 + 700);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions, 1); /* "short"; tk-2 went with it */
    assert_int_equal(p.access_tickets, 0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_tickets"), 0);
    util_set_fake_now(T0 + 86400);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions, 1); /* revoked or not, expired rows go */
    assert_int_equal(p.access_states, 1);
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM access_sessions) + (SELECT "
                                   "count(*) FROM access_states)"),
                     0);
    store_close(s);
}

static void limits(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "org", T0 + 3600, sid);
    size_t n = STORE_TEXT_MAX + 1;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    char *bigjson = xmalloc(n + 16);
    snprintf(bigjson, n + 16, "{\"a\":\"%s\"}", big);

    struct store_access_session x = {.identity = bigjson, .expires_at = T0 + 1};
    RC(-1, store_access_session_create(s, TOK("t"), &x, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_idp p = {.name = "x", .type = "oidc", .config = bigjson};
    RC(-1, store_access_idp_upsert(s, &p, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_app a = {.name = "y", .domain = big};
    RC(-1, store_access_app_upsert(s, &a, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_state st = {.nonce = "n", .idp = "i", .redirect_url = big};
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &st, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    RC(-1, store_access_state_create(s, slice_z(big), TOK("b"), &st, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_ticket t = {.redirect_path = big};
    memcpy(t.session_id, sid, sizeof(sid));
    memcpy(t.aud, aud, sizeof(aud));
    RC(-1, store_access_ticket_create(s, TOK("k"), &t, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_service_token tok = {.name = big};
    char secret[STORE_SERVICE_SECRET_SIZE];
    RC(-1, store_service_token_create(s, &tok, secret, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_key k = {0};
    RC(-1, store_access_key_ensure(s, big, &k, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    /* nothing of it was written */
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM access_sessions) + (SELECT "
                                   "count(*) FROM access_idps) + (SELECT count(*) FROM "
                                   "access_apps) + (SELECT count(*) FROM access_states) + "
                                   "(SELECT count(*) FROM access_tickets) + (SELECT count(*) "
                                   "FROM access_service_tokens)"),
                     2);
    free(big);
    free(bigjson);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test(sessions),
        cmocka_unit_test(revocation_list),
        cmocka_unit_test(login_states),
        cmocka_unit_test(one_time_tokens),
        cmocka_unit_test(single_use_races_have_one_winner),
        cmocka_unit_test(purge_expired_grants),
        cmocka_unit_test(limits),
    };
    const struct CMUnitTest sqlite_only[] = {cmocka_unit_test(revocation_list_is_indexed)};
    const struct CMUnitTest pg_only[] = {cmocka_unit_test(revocation_list_is_indexed_pg)};
    return TDB_RUN2(both, sqlite_only, pg_only);
}
