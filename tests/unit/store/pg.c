/* Tests of what only the PostgreSQL backend has (src/store/pg.c, pg_util.c): a server that
 * refuses, kills or stops accepting connections, and the reconnection with its backoff;
 * parameters the server would refuse (not UTF-8, too long); and the places where PostgreSQL
 * differs from SQLite underneath while the store must not (constraint messages, transactions,
 * savepoints), checked by running the same calls on both backends. Needs POSTERN_TEST_PG. */
#include "testdb.h"

#include "store/pg_int.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#define PASSWORD "pw-Secret-8d1f"
/* Slack for timers: a call "at once" takes less, a wait past a deadline adds this. */
#define SLACK_MS 250

/* A TCP port of 127.0.0.1 that nobody listens on (it was free a moment ago). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server of POSTERN_TEST_PG as postgres://USER:PASSWORD@HOST:PORT/DB (the server trusts
 * every local connection, so the password is only there to be kept out of messages). */
static void url_with_password(const char *db, char out[TDB_PATH_MAX])
{
    const char *base = tdb_pg_url();
    const char *hp = strstr(base, "://");
    assert_non_null(hp);
    hp += 3;
    const char *at = strchr(hp, '@');
    const char *slash = strchr(hp, '/');
    if (at && (!slash || at < slash))
        hp = at + 1;
    size_t n = slash ? (size_t)(slash - hp) : strlen(hp);
    snprintf(out, TDB_PATH_MAX, "postgres://postgres:%s@%.*s/%s", PASSWORD, (int)n, hp, db);
}

/* Ends the server process of s's connection, from another connection, and waits for it. */
static void kill_connection(struct store *s)
{
    char sql[128];
    int pid = PQbackendPID(pg(s)->conn);
    assert_true(pid > 0);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d, 5000)", pid);
    tdb_admin_exec(sql);
}

/* ---- connections ---------------------------------------------------------------------- */

static void refused_connection_hides_the_password(void **state)
{
    struct err e = {0};
    char url[TDB_PATH_MAX];
    snprintf(url, sizeof(url), "postgres://postern:%s@127.0.0.1:%d/postern", PASSWORD,
             closed_port());
    assert_null(store_open(url, &e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_non_null(strstr(e.msg, "postgres: cannot connect"));
    assert_null(strstr(e.msg, PASSWORD));

    /* the server answers, and refuses: no such database */
    url_with_password("no_such_database_x", url);
    assert_null(store_open(url, &e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_non_null(strstr(e.msg, "no_such_database_x"));
    assert_null(strstr(e.msg, PASSWORD));
}

static void killed_connection_reconnects(void **state)
{
    char path[TDB_PATH_MAX];
    struct err e = {0};
    struct buf b;
    buf_init(&b, 64);
    struct store *s = tdb_fresh(path);
    OK(store_meta_set(s, "k", SLICE_LIT("v"), &e));
    int before = PQbackendPID(pg(s)->conn);
    kill_connection(s);

    /* the next call fails as an I/O error, or succeeds on a new connection */
    int rc = store_meta_get(s, "k", &b, &e);
    if (rc != 0) {
        assert_int_equal(rc, -1);
        assert_int_equal(e.code, STORE_E_IO);
    }
    /* and once the backoff has passed, the store works again by itself */
    usleep((PG_RECONNECT_BACKOFF_MS + SLACK_MS) * 1000);
    OK(store_meta_get(s, "k", &b, &e));
    assert_string_equal(b.p, "v");
    OK(store_meta_set(s, "k2", SLICE_LIT("v2"), &e)); /* statements are prepared again */
    assert_int_not_equal(PQbackendPID(pg(s)->conn), before);
    buf_free(&b);
    store_close(s);
}

/* While the server refuses new connections, calls fail at once with STORE_E_IO (not one
 * connect timeout each), at most one attempt per PG_RECONNECT_BACKOFF_MS, and the store
 * comes back by itself when the server does. */
static void reconnect_backoff(void **state)
{
    char url[TDB_PATH_MAX], db[64], sql[160];
    struct err e = {0};
    int v = 0;
    snprintf(db, sizeof(db), "postern_backoff_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    tdb_admin_exec(sql);
    url_with_password(db, url);
    struct store *s = tdb_open(url);
    OK(store_schema_version(s, &v, &e));

    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", db);
    tdb_admin_exec(sql);
    kill_connection(s);
    RC(-1, store_schema_version(s, &v, &e)); /* the query on the dead connection */
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(strstr(e.msg, PASSWORD));
    int64_t attempt = now_ms();
    RC(-1, store_schema_version(s, &v, &e)); /* a reconnect, refused by the server */
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(strstr(e.msg, PASSWORD));
    int64_t t = now_ms();
    RC(-1, store_schema_version(s, &v, &e)); /* within the backoff: no attempt at all */
    assert_int_equal(e.code, STORE_E_IO);
    assert_true(now_ms() - t < SLACK_MS);

    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", db);
    tdb_admin_exec(sql);
    if (now_ms() - attempt < PG_RECONNECT_BACKOFF_MS - SLACK_MS)
        RC(-1, store_schema_version(s, &v, &e)); /* the server is back, the backoff is not over */
    int64_t wait = attempt + PG_RECONNECT_BACKOFF_MS + SLACK_MS - now_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);
    OK(store_schema_version(s, &v, &e));
    store_close(s);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    tdb_admin_exec(sql);
}

/* Like RC, for a test whose store s must be closed first (a transaction may be open). */
#define RC_CLOSE(want, wcode, call)                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want) || (rc_ < 0 && e.code != (wcode))) {                                     \
            char m_[ERR_MSG_MAX];                                                                  \
            snprintf(m_, sizeof(m_), "%s", e.msg);                                                 \
            store_close(s);                                                                        \
            fail_msg("%s returned %d (code %d), not %d: %s", #call, rc_, e.code, (want), m_);      \
        }                                                                                          \
    } while (0)

/* A connection lost inside a caller's transaction loses the transaction: its commit must say
 * so, never reconnect and report success for writes that are gone. */
static void connection_lost_inside_a_transaction(void **state)
{
    char path[TDB_PATH_MAX];
    struct err e = {0};
    struct store *s = tdb_fresh(path);

    /* killed, then committed */
    RC_CLOSE(0, 0, store_tx_begin(s, &e));
    RC_CLOSE(0, 0, store_meta_set(s, "lost-1", SLICE_LIT("x"), &e));
    kill_connection(s);
    RC_CLOSE(-1, STORE_E_IO, store_tx_commit(s, &e));
    RC_CLOSE(0, 0, store_meta_delete(s, "lost-1", &e) == STORE_NOT_FOUND ? 0 : -1); /* back */

    /* killed, a call fails, then committed */
    RC_CLOSE(0, 0, store_tx_begin(s, &e));
    RC_CLOSE(0, 0, store_meta_set(s, "lost-2", SLICE_LIT("x"), &e));
    kill_connection(s);
    RC_CLOSE(-1, STORE_E_IO, store_meta_set(s, "lost-3", SLICE_LIT("x"), &e));
    RC_CLOSE(-1, STORE_E_IO, store_meta_set(s, "lost-4", SLICE_LIT("x"), &e)); /* no reconnect */
    RC_CLOSE(-1, STORE_E_IO, store_tx_commit(s, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 0);
    usleep((PG_RECONNECT_BACKOFF_MS + SLACK_MS) * 1000);
    RC_CLOSE(0, 0, store_meta_set(s, "after", SLICE_LIT("x"), &e));
    store_close(s);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM meta"), 1);
}

/* ---- parameters ----------------------------------------------------------------------- */

static void text_not_utf8_is_refused(void **state)
{
    char path[TDB_PATH_MAX];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    const char *bad[] = {"\xff", "caf\xc3", "\xc3\x28", "\xed\xa0\x80" /* a surrogate */,
                         "\xc0\xaf" /* overlong "/" */};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        RC(-1, store_meta_set(s, "k", slice_z(bad[i]), &e));
        assert_int_equal(e.code, STORE_E_CONSTRAINT);
        assert_non_null(strstr(e.msg, "not valid UTF-8"));
        struct store_user u = {.username = (char *)bad[i]};
        RC(-1, store_user_create(s, &u, &e));
        assert_int_equal(e.code, STORE_E_CONSTRAINT);
        assert_non_null(strstr(e.msg, "not valid UTF-8"));
        struct store_event ev = {.action = "login", .client_ip = (char *)bad[i]};
        RC(-1, store_event_add(s, &ev, &e));
        assert_int_equal(e.code, STORE_E_CONSTRAINT);
    }
    /* the connection is fine after the refusals, and UTF-8 is kept byte for byte */
    struct store_user u = {.username = "j\xc3\xb6rg \xf0\x9f\x94\x91", .is_active = true};
    OK(store_user_create(s, &u, &e));
    struct store_user g = {0};
    OK(store_user_get_by_id(s, u.id, &g, &e));
    assert_string_equal(g.username, "j\xc3\xb6rg \xf0\x9f\x94\x91");
    store_user_free(&g);
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM "
                                   "meta) + (SELECT count(*) FROM events)"),
                     1);
    store_close(s);
}

static void text_too_long_is_refused(void **state)
{
    char path[TDB_PATH_MAX];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char *big = xmalloc(STORE_TEXT_MAX + 2);
    memset(big, 'x', STORE_TEXT_MAX + 1);
    big[STORE_TEXT_MAX + 1] = '\0';

    struct store_user u = {.username = "u", .name = big};
    RC(-1, store_user_create(s, &u, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_event ev = {.action = "login", .client_ip = big};
    RC(-1, store_event_add(s, &ev, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_user_list l = {0};
    struct store_user got = {0};
    RC(-1, store_user_get_by_login(s, big, &got, &e)); /* a lookup's parameter too */
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM "
                                   "events)"),
                     0);
    /* STORE_TEXT_MAX bytes exactly is a value */
    big[STORE_TEXT_MAX] = '\0';
    OK(store_user_create(s, &u, &e));
    OK(store_user_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 1);
    assert_int_equal(strlen(l.v[0].name), STORE_TEXT_MAX);
    store_user_list_free(&l);
    store_user_free(&got);
    free(big);
    store_close(s);
}

/* ---- the same as SQLite ------------------------------------------------------------- */

#define STEPS_MAX 16

struct outcome {
    int n;
    int rc[STEPS_MAX];
    int code[STEPS_MAX];
    char msg[STEPS_MAX][ERR_MSG_MAX];
};

static void record(struct outcome *o, int rc, const struct err *e)
{
    assert_true(o->n < STEPS_MAX);
    o->rc[o->n] = rc;
    o->code[o->n] = rc < 0 ? e->code : 0;
    snprintf(o->msg[o->n], ERR_MSG_MAX, "%s", rc < 0 ? e->msg : "");
    o->n++;
}

/* Writes that a constraint refuses, each named by its field. */
static void refusals(struct store *s, struct outcome *o)
{
    struct err e = {0};
    tdb_user(s, "alice", "alice@example.com");
    int64_t prov = tdb_provider(s, "P", "client-p");
    struct store_user u = {.username = "alice"};
    record(o, store_user_create(s, &u, &e), &e);
    u = (struct store_user){.username = "alice2", .email = "ALICE@example.COM"};
    record(o, store_user_create(s, &u, &e), &e);
    u = (struct store_user){.username = ""};
    record(o, store_user_create(s, &u, &e), &e);
    struct store_app a = {.name = "x", .slug = "token"};
    record(o, store_app_upsert(s, &a, NULL, &e), &e);
    a = (struct store_app){.name = "x", .slug = "ok", .provider_id = prov};
    record(o, store_app_upsert(s, &a, NULL, &e), &e);
    a = (struct store_app){.name = "y", .slug = "ok2", .provider_id = prov};
    record(o, store_app_upsert(s, &a, NULL, &e), &e);
    struct store_keypair k = {
        .name = "copy", .kid = "kid-default", .alg = "RS256", .key_pem = "k", .cert_pem = "c"};
    struct store_keypair out = {0};
    record(o, store_keypair_insert_if_absent(s, &k, &out, NULL, &e), &e);
    store_keypair_free(&out);
    struct store_group g = {.name = ""};
    record(o, store_group_upsert(s, &g, NULL, &e), &e);
    struct store_access_app aa = {.name = "gate", .domain = "a.localhost"};
    record(o, store_access_app_upsert(s, &aa, NULL, &e), &e);
    aa = (struct store_access_app){.name = "gate2", .domain = "a.localhost"};
    record(o, store_access_app_upsert(s, &aa, NULL, &e), &e);
    struct store_session x = {.user_id = 999, .expires_at = T0 + 1};
    record(o, store_session_create(s, SLICE_LIT("cookie"), &x, &e), &e);
    store_session_free(&x);
}

static void constraint_messages_as_sqlite(void **state)
{
    char path[TDB_PATH_MAX], file[TDB_PATH_MAX];
    struct outcome want = {0}, got = {0};
    snprintf(file, sizeof(file), "%s/same.db", tdir);
    struct err e = {0};
    struct store *sq = tdb_open(file);
    OK(store_migrate(sq, &e));
    refusals(sq, &want);
    store_close(sq);
    struct store *s = tdb_fresh(path);
    refusals(s, &got);
    store_close(s);

    assert_string_equal(want.msg[0], "username already exists");
    assert_string_equal(want.msg[1], "email already used by another user");
    assert_non_null(strstr(want.msg[3], "slug must not be empty or one of"));
    assert_int_equal(got.n, want.n);
    for (int i = 0; i < want.n; i++) {
        if (got.rc[i] != want.rc[i] || got.code[i] != want.code[i] ||
            strcmp(got.msg[i], want.msg[i]) != 0)
            fail_msg("step %d: PostgreSQL %d/%d \"%s\", SQLite %d/%d \"%s\"", i, got.rc[i],
                     got.code[i], got.msg[i], want.rc[i], want.code[i], want.msg[i]);
    }
}

/* A caller's transaction with atomic calls inside it (savepoints), one of which fails, and
 * a refused write; what it leaves in the database, as a list of counts. */
static void transaction_steps(struct store *s, struct outcome *o, bool commit)
{
    struct err e = {0};
    int64_t alice = tdb_user(s, "alice", "");
    record(o, store_tx_begin(s, &e), &e);
    struct store_group g = {.name = "staff"};
    record(o, store_group_upsert(s, &g, NULL, &e), &e);
    record(o, store_user_set_groups(s, alice, (const char *[]){"staff"}, 1, &e), &e);
    /* a nested atomic section that fails rolls back its savepoint only */
    record(o, store_user_set_groups(s, alice, (const char *[]){"staff", "nope"}, 2, &e), &e);
    struct store_group_list gl = {0};
    record(o, store_user_groups(s, alice, &gl, &e), &e);
    record(o, (int)gl.n, &e);
    store_group_list_free(&gl);
    record(o, store_tx_begin(s, &e), &e); /* not nested */
    record(o, commit ? store_tx_commit(s, &e) : store_tx_rollback(s, &e), &e);
}

static void transactions_as_sqlite(void **state)
{
    char path[TDB_PATH_MAX], file[TDB_PATH_MAX];
    const char *count = "SELECT (SELECT count(*) FROM idp_groups) * 10 + (SELECT count(*) FROM "
                        "group_members)";
    for (int commit = 0; commit < 2; commit++) {
        struct outcome want = {0}, got = {0};
        struct err e = {0};
        snprintf(file, sizeof(file), "%s/tx%d.db", tdir, commit);
        struct store *sq = tdb_open(file);
        OK(store_migrate(sq, &e));
        transaction_steps(sq, &want, commit);
        store_close(sq);
        struct store *s = tdb_fresh(path);
        transaction_steps(s, &got, commit);
        store_close(s);
        for (int i = 0; i < want.n; i++)
            if (got.rc[i] != want.rc[i] || got.code[i] != want.code[i])
                fail_msg("step %d: PostgreSQL %d/%d \"%s\", SQLite %d/%d \"%s\"", i, got.rc[i],
                         got.code[i], got.msg[i], want.rc[i], want.code[i], want.msg[i]);
        assert_int_equal(tdb_int(path, count), tdb_int(file, count));
        assert_int_equal(tdb_int(path, count), commit ? 11 : 0);
    }
}

/* A write refused by a constraint inside a caller's transaction (`postern apply` reports it and
 * goes on, or rolls back): the transaction stays usable and the other writes are kept, as
 * with SQLite, where a failed statement undoes itself only. */
/* store.h: a call refused inside the caller's transaction undoes only itself, but the caller
 * must then roll back. SQLite would let a later write through; PostgreSQL refuses every later
 * call with STORE_E_STATE (never a silent commit of a half transaction), and after the
 * rollback nothing of it remains and the connection is usable again. */
static void refused_write_inside_a_transaction(void **state)
{
    char path[TDB_PATH_MAX];
    const char *count = "SELECT count(*) FROM users";
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    tdb_user(s, "alice", "");
    OK(store_tx_begin(s, &e));
    tdb_user(s, "bob", "");
    struct store_user dup = {.username = "alice"};
    RC(-1, store_user_create(s, &dup, &e));
    assert_string_equal(e.msg, "username already exists");
    struct store_user c = {.username = "carol"};
    RC(-1, store_user_create(s, &c, &e));
    assert_int_equal(e.code, STORE_E_STATE);
    assert_non_null(strstr(e.msg, "roll it back"));
    RC(-1, store_tx_commit(s, &e)); /* refused, and rolled back */
    assert_int_equal(e.code, STORE_E_STATE);
    assert_int_equal(tdb_int(path, count), 1);
    OK(store_tx_begin(s, &e));
    tdb_user(s, "dave", "");
    struct store_user dup2 = {.username = "alice"};
    RC(-1, store_user_create(s, &dup2, &e));
    OK(store_tx_rollback(s, &e));
    tdb_user(s, "erin", "");
    store_close(s);
    assert_int_equal(tdb_int(path, count), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_connection_hides_the_password),
        cmocka_unit_test(killed_connection_reconnects),
        cmocka_unit_test(reconnect_backoff),
        cmocka_unit_test(connection_lost_inside_a_transaction),
        cmocka_unit_test(text_not_utf8_is_refused),
        cmocka_unit_test(text_too_long_is_refused),
        cmocka_unit_test(constraint_messages_as_sqlite),
        cmocka_unit_test(transactions_as_sqlite),
        cmocka_unit_test(refused_write_inside_a_transaction),
    };
    return TDB_RUN(tests);
}
