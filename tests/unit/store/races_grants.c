/* Tests of pg_grants.c and pg_audit.c: the interleavings of two
 * connections that SQLite's single writer never shows. One connection holds a transaction
 * half done (store_tx_begin), another runs an operation on the same grant; the second must
 * wait, then see what the first committed. PostgreSQL only (POSTERN_TEST_STORE=pg). */
#include "testdb.h"

#include <pthread.h>
#include <time.h>

#define TOK(z) SLICE_LIT(z)
/* How long a blocked operation is given to show that it waits. */
#define WAIT_MS 300

struct fixture {
    char path[TDB_PATH_MAX];
    struct store *s;
    int64_t prov, alice;
};

static void fixture(struct fixture *f)
{
    f->s = tdb_fresh(f->path);
    f->prov = tdb_provider(f->s, "P", "p");
    f->alice = tdb_user(f->s, "alice", "alice@example.com");
}

static void new_code(struct fixture *f, struct slice code)
{
    struct err e = {0};
    struct store_code c = {.provider_id = f->prov,
                           .user_id = f->alice,
                           .redirect_uri = "https://rp/cb",
                           .scope = "openid",
                           .auth_time = T0,
                           .expires_at = T0 + 60};
    OK(store_code_create(f->s, code, &c, &e));
}

static void new_token(struct store *s, int64_t prov, int64_t user, struct slice key,
                      enum store_token_kind kind, const char *code_id)
{
    struct err e = {0};
    struct store_token t = {
        .kind = kind, .provider_id = prov, .user_id = user, .expires_at = T0 + 999};
    snprintf(t.code_id, sizeof(t.code_id), "%s", code_id);
    OK(store_token_insert(s, key, &t, &e));
}

static long long active_tokens(const char *path)
{
    return tdb_int(path, "SELECT count(*) FROM oauth2_tokens WHERE revoked_at = 0 "
                         "AND rotated_at = 0");
}

/* ---- an operation run on a second connection, in a thread --------------------------- */

enum op { OP_INSERT, OP_TAKE, OP_REVOKE_CODE, OP_ROTATE, OP_REVOKE_FAMILY, OP_PURGE, OP_LOGOUT };

struct other {
    const char *path;
    enum op op;
    int64_t prov, user;
    const char *key, *new_key, *id;
    int rc;
    int done; /* set (atomically) when the operation returned */
    char msg[ERR_MSG_MAX];
};

static void *run_other(void *arg)
{
    struct other *o = arg;
    struct err e = {0};
    struct store *s = store_open(o->path, &e);
    struct store_token t = {.kind = STORE_TOKEN_ACCESS,
                            .provider_id = o->prov,
                            .user_id = o->user,
                            .expires_at = T0 + 999};
    struct store_code c = {0};
    struct store_purged p = {0};
    int64_t n = 0;
    if (!s) {
        o->rc = -1;
    } else if (o->op == OP_INSERT) {
        snprintf(t.code_id, sizeof(t.code_id), "%s", o->id);
        o->rc = store_token_insert(s, slice_z(o->key), &t, &e);
        memset(&t, 0, sizeof(t));
    } else if (o->op == OP_TAKE) {
        o->rc = store_code_take(s, slice_z(o->key), o->prov, &c, &e);
    } else if (o->op == OP_REVOKE_CODE) {
        o->rc = store_token_revoke_code(s, o->id, &n, &e);
    } else if (o->op == OP_ROTATE) {
        memset(&t, 0, sizeof(t));
        o->rc = store_token_rotate(s, slice_z(o->key), slice_z(o->new_key), o->prov, NULL, T0 + 999,
                                   &t, NULL, &e);
    } else if (o->op == OP_REVOKE_FAMILY) {
        o->rc = store_token_revoke_family(s, o->id, &n, &e);
    } else if (o->op == OP_LOGOUT) {
        o->rc = store_session_delete(s, o->id, &e);
    } else {
        o->rc = store_purge(s, &p, &e);
    }
    if (o->rc < 0)
        snprintf(o->msg, sizeof(o->msg), "%s", e.msg);
    store_token_free(&t);
    store_code_free(&c);
    store_close(s);
    __atomic_store_n(&o->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts o, checks that it waits (for the transaction open on the first connection). */
static void start_blocked(pthread_t *th, struct other *o)
{
    assert_int_equal(pthread_create(th, NULL, run_other, o), 0);
    sleep_ms(WAIT_MS);
    if (__atomic_load_n(&o->done, __ATOMIC_SEQ_CST))
        fail_msg("operation %d did not wait: rc %d %s", o->op, o->rc, o->msg);
}

static int finish(pthread_t th, struct other *o)
{
    pthread_join(th, NULL);
    if (o->rc < 0)
        fail_msg("operation %d: %s", o->op, o->msg);
    return o->rc;
}

/* ---- code replay against a token being made ------------------------------------------ */

static void replay_then_insert_is_refused(void **state)
{
    /* The replay holds the grant (closed, uncommitted): the insert waits, then is refused. */
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_code(&f, TOK("code-1"));
    struct store_code c = {0};
    OK(store_code_take(f.s, TOK("code-1"), f.prov, &c, &e));
    OK(store_tx_begin(f.s, &e));
    RC(STORE_REUSED, store_code_take(f.s, TOK("code-1"), f.prov, &c, &e));
    struct other o = {.path = f.path,
                      .op = OP_INSERT,
                      .prov = f.prov,
                      .user = f.alice,
                      .key = "jti-late",
                      .id = c.id};
    pthread_t th;
    start_blocked(&th, &o);
    OK(store_tx_commit(f.s, &e));
    assert_int_equal(finish(th, &o), STORE_REVOKED);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 0);
    store_code_free(&c);
    store_close(f.s);
}

static void insert_then_replay_revokes_it(void **state)
{
    /* The insert checked the grant open and is not committed yet: the replay (code_take, or
     * revoke_code directly) waits for it, then revokes its token too. */
    for (int k = 0; k < 2; k++) {
        struct fixture f;
        struct err e = {0};
        fixture(&f);
        new_code(&f, TOK("code-2"));
        struct store_code c = {0};
        OK(store_code_take(f.s, TOK("code-2"), f.prov, &c, &e));
        OK(store_tx_begin(f.s, &e));
        new_token(f.s, f.prov, f.alice, TOK("jti-2"), STORE_TOKEN_ACCESS, c.id);
        new_token(f.s, f.prov, f.alice, TOK("refresh-2"), STORE_TOKEN_REFRESH, c.id);
        struct other o = {.path = f.path,
                          .op = k == 0 ? OP_TAKE : OP_REVOKE_CODE,
                          .prov = f.prov,
                          .key = "code-2",
                          .id = c.id};
        pthread_t th;
        start_blocked(&th, &o);
        OK(store_tx_commit(f.s, &e));
        assert_int_equal(finish(th, &o), k == 0 ? STORE_REUSED : 0);
        assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 2);
        assert_int_equal(active_tokens(f.path), 0);
        store_code_free(&c);
        store_close(f.s);
    }
}

static void take_waits_for_take(void **state)
{
    /* A take not committed yet: a second take waits, then finds the code used. */
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_code(&f, TOK("code-3"));
    struct store_code c = {0};
    OK(store_tx_begin(f.s, &e));
    OK(store_code_take(f.s, TOK("code-3"), f.prov, &c, &e));
    struct other o = {.path = f.path, .op = OP_TAKE, .prov = f.prov, .key = "code-3"};
    pthread_t th;
    start_blocked(&th, &o);
    OK(store_tx_commit(f.s, &e));
    assert_int_equal(finish(th, &o), STORE_REUSED);
    /* and a take rolled back leaves the code to the next one */
    new_code(&f, TOK("code-4"));
    OK(store_tx_begin(f.s, &e));
    OK(store_code_take(f.s, TOK("code-4"), f.prov, &c, &e));
    struct other o2 = {.path = f.path, .op = OP_TAKE, .prov = f.prov, .key = "code-4"};
    start_blocked(&th, &o2);
    OK(store_tx_rollback(f.s, &e));
    assert_int_equal(finish(th, &o2), 0);
    store_code_free(&c);
    store_close(f.s);
}

/* ---- refresh rotation against a replay of an older token of the family ---------------- */

static void rotation_then_family_replay(void **state)
{
    /* root -> child, then child -> grandchild is being rotated (uncommitted) when the stolen
     * root is replayed: the replay waits and its revocation includes grandchild. With a code
     * (the grant) and without (the tree of rotations); by rotation and by revoke_family. */
    for (int k = 0; k < 4; k++) {
        struct fixture f;
        struct err e = {0};
        fixture(&f);
        char code_id[STORE_ID_SIZE] = "";
        if (k % 2) {
            new_code(&f, TOK("code-f"));
            OK(store_digest(TOK("code-f"), code_id, &e));
        }
        new_token(f.s, f.prov, f.alice, TOK("root"), STORE_TOKEN_REFRESH, code_id);
        struct store_token nt = {0};
        OK(store_token_rotate(f.s, TOK("root"), TOK("child"), f.prov, NULL, T0 + 999, &nt, NULL,
                              &e));
        OK(store_tx_begin(f.s, &e));
        OK(store_token_rotate(f.s, TOK("child"), TOK("grandchild"), f.prov, NULL, T0 + 999, &nt,
                              NULL, &e));
        char root_id[STORE_ID_SIZE];
        OK(store_digest(TOK("root"), root_id, &e));
        struct other o = {.path = f.path,
                          .op = k < 2 ? OP_ROTATE : OP_REVOKE_FAMILY,
                          .prov = f.prov,
                          .key = "root",
                          .new_key = "stolen-next",
                          .id = root_id};
        pthread_t th;
        start_blocked(&th, &o);
        OK(store_tx_commit(f.s, &e));
        assert_int_equal(finish(th, &o), k < 2 ? STORE_REUSED : 0);
        assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 3);
        assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens WHERE revoked_at = 0"),
                         0);
        store_token_free(&nt);
        store_close(f.s);
    }
}

static void other_families_do_not_wait(void **state)
{
    /* The locks are per grant / per tree: an unrelated rotation goes through at once. */
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_token(f.s, f.prov, f.alice, TOK("a-root"), STORE_TOKEN_REFRESH, "");
    new_token(f.s, f.prov, f.alice, TOK("b-root"), STORE_TOKEN_REFRESH, "");
    struct store_token nt = {0};
    OK(store_tx_begin(f.s, &e));
    OK(store_token_rotate(f.s, TOK("a-root"), TOK("a-child"), f.prov, NULL, T0 + 999, &nt, NULL,
                          &e));
    struct other o = {
        .path = f.path, .op = OP_ROTATE, .prov = f.prov, .key = "b-root", .new_key = "b-child"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_other, &o), 0);
    assert_int_equal(finish(th, &o), 0);
    OK(store_tx_commit(f.s, &e));
    assert_int_equal(active_tokens(f.path), 2);
    store_token_free(&nt);
    store_close(f.s);
}

/* ---- logout next to a grant being written ------------------------------------------- */

static void logout_waits_for_the_grant(void **state)
{
    /* A replay holds the grant's code and tokens; a logout of their session comes, then the
     * replay's transaction inserts a token of that session (the foreign key check reads the
     * session's row). Had the logout locked the session's row first, it would wait for the
     * grant and the grant for it: a deadlock, one of the two failed. */
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    struct store_session x = {.user_id = f.alice, .expires_at = T0 + 3600};
    OK(store_session_create(f.s, TOK("cookie"), &x, &e));
    struct store_code c = {.provider_id = f.prov,
                           .user_id = f.alice,
                           .redirect_uri = "https://rp/cb",
                           .expires_at = T0 + 60};
    memcpy(c.session_id, x.id, sizeof(c.session_id));
    OK(store_code_create(f.s, TOK("code-l"), &c, &e));
    struct store_token t = {.kind = STORE_TOKEN_REFRESH,
                            .provider_id = f.prov,
                            .user_id = f.alice,
                            .expires_at = T0 + 999};
    memcpy(t.code_id, c.id, sizeof(t.code_id));
    memcpy(t.session_id, x.id, sizeof(t.session_id));
    OK(store_token_insert(f.s, TOK("refresh-l"), &t, &e));

    OK(store_tx_begin(f.s, &e));
    int64_t n = 0;
    OK(store_token_revoke_code(f.s, c.id, &n, &e));
    assert_int_equal(n, 1);
    struct other o = {.path = f.path, .op = OP_LOGOUT, .id = x.id};
    pthread_t th;
    start_blocked(&th, &o);
    struct store_token t2 = {.kind = STORE_TOKEN_ACCESS,
                             .provider_id = f.prov,
                             .user_id = f.alice,
                             .expires_at = T0 + 60};
    memcpy(t2.session_id, x.id, sizeof(t2.session_id));
    OK(store_token_insert(f.s, TOK("jti-l"), &t2, &e));
    OK(store_tx_commit(f.s, &e));
    assert_int_equal(finish(th, &o), 0);
    /* the logout kept the tokens, without their session */
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens WHERE session_id IS NULL"),
                     2);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM idp_sessions"), 0);
    store_session_free(&x);
    store_close(f.s);
}

/* ---- housekeeping ------------------------------------------------------------------ */

static void purges_take_turns(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    OK(store_session_create(f.s, TOK("s-old"),
                            &(struct store_session){.user_id = f.alice, .expires_at = T0 + 1}, &e));
    util_set_fake_now(T0 + 1);
    struct store_purged p = {0};
    OK(store_tx_begin(f.s, &e));
    OK(store_purge(f.s, &p, &e));
    assert_int_equal(p.sessions, 1);
    struct other o = {.path = f.path, .op = OP_PURGE};
    pthread_t th;
    start_blocked(&th, &o);
    OK(store_tx_commit(f.s, &e));
    assert_int_equal(finish(th, &o), 0);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM idp_sessions"), 0);
    store_close(f.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(take_waits_for_take),
        cmocka_unit_test(replay_then_insert_is_refused),
        cmocka_unit_test(insert_then_replay_revokes_it),
        cmocka_unit_test(rotation_then_family_replay),
        cmocka_unit_test(other_families_do_not_wait),
        cmocka_unit_test(logout_waits_for_the_grant),
        cmocka_unit_test(purges_take_turns),
    };
    if (!tdb_pg()) {
        printf("1..0 # SKIP PostgreSQL only (POSTERN_TEST_STORE=pg)\n");
        return 0;
    }
    return TDB_RUN(tests);
}
