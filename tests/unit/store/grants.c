/* Tests of IdP sessions, single-use authorization codes, tokens, refresh rotation with reuse
 * detection (sqlite_grants.c, pg_grants.c) and the hashing of store_idp.c, through store.h on
 * either backend (see testdb.h). */
#include "testdb.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#define TOK(z) SLICE_LIT(z)

struct fixture {
    char path[512];
    struct store *s;
    int64_t prov, other_prov, alice, bob;
    char sid[STORE_ID_SIZE]; /* alice's session */
};

static void fixture(struct fixture *f)
{
    struct err e = {0};
    f->s = tdb_fresh(f->path);
    f->prov = tdb_provider(f->s, "Cloudflare", "cf");
    f->other_prov = tdb_provider(f->s, "Other", "other");
    f->alice = tdb_user(f->s, "alice", "alice@example.com");
    f->bob = tdb_user(f->s, "bob", "");
    struct store_session x = {.user_id = f->alice, .expires_at = T0 + 3600};
    OK(store_session_create(f->s, TOK("alice-session-cookie"), &x, &e));
    memcpy(f->sid, x.id, sizeof(f->sid));
    store_session_free(&x);
}

static void new_code(struct fixture *f, struct slice code, int64_t user, int64_t expires_at)
{
    struct err e = {0};
    struct store_code c = {.provider_id = f->prov,
                           .user_id = user,
                           .redirect_uri = "https://rp/cb",
                           .scope = "openid email",
                           .nonce = "n-0S6_WzA2Mj",
                           .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                           .code_challenge_method = "S256",
                           .auth_time = T0 - 5,
                           .expires_at = expires_at};
    if (user == f->alice)
        memcpy(c.session_id, f->sid, sizeof(c.session_id));
    OK(store_code_create(f->s, code, &c, &e)); /* c's strings are ours: nothing to free */
}

/* Inserts a token issued from code_id (may be ""); returns nothing, asserts success. */
static void new_token(struct fixture *f, struct slice key, enum store_token_kind kind,
                      const char *code_id, int64_t expires_at)
{
    struct err e = {0};
    struct store_token t = {.kind = kind,
                            .provider_id = f->prov,
                            .user_id = f->alice,
                            .scope = "openid email",
                            .expires_at = expires_at};
    snprintf(t.code_id, sizeof(t.code_id), "%s", code_id);
    memcpy(t.session_id, f->sid, sizeof(t.session_id));
    OK(store_token_insert(f->s, key, &t, &e));
}

static bool active(struct store *s, struct slice key)
{
    struct err e = {0};
    struct store_token t = {0};
    OK(store_token_get(s, key, &t, &e));
    bool a = store_token_active(&t);
    store_token_free(&t);
    return a;
}

/* ---- sessions ----------------------------------------------------------------------- */

static void sessions(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    char want[STORE_ID_SIZE];
    OK(store_digest(TOK("alice-session-cookie"), want, &e));
    assert_string_equal(f.sid, want);
    assert_int_equal(strlen(f.sid), 64);

    struct store_session x = {0};
    OK(store_session_get(f.s, TOK("alice-session-cookie"), &x, &e));
    assert_int_equal(x.user_id, f.alice);
    assert_string_equal(x.id, f.sid);
    assert_string_equal(x.amr, "[]");
    assert_int_equal(x.auth_time, T0); /* 0 given: now */
    assert_int_equal(x.last_seen, T0);
    assert_int_equal(x.created_at, T0);
    RC(STORE_NOT_FOUND, store_session_get(f.s, TOK("alice-session-cookiE"), &x, &e));
    RC(STORE_NOT_FOUND, store_session_get(f.s, TOK(""), &x, &e));
    OK(store_session_get_by_id(f.s, f.sid, &x, &e));

    /* all fields, and refusals */
    struct store_session y = {.user_id = f.bob,
                              .expires_at = T0 + 60,
                              .auth_time = T0 - 1,
                              .amr = "[\"pwd\",\"otp\"]",
                              .client_ip = "2001:db8::1",
                              .user_agent = "Mozilla/5.0 \"quoted\""};
    OK(store_session_create(f.s, TOK("bob-1"), &y, &e));
    OK(store_session_get(f.s, TOK("bob-1"), &x, &e));
    assert_string_equal(x.amr, "[\"pwd\",\"otp\"]");
    assert_string_equal(x.client_ip, "2001:db8::1");
    assert_string_equal(x.user_agent, "Mozilla/5.0 \"quoted\"");
    assert_int_equal(x.auth_time, T0 - 1);
    RC(-1, store_session_create(f.s, TOK(""), &y, &e)); /* an empty token is a bug */
    assert_string_equal(e.msg, "session token must not be empty");
    RC(-1, store_session_create(f.s, TOK("bob-1"), &y, &e));
    assert_string_equal(e.msg, "session already exists");
    y.amr = "{}";
    RC(-1, store_session_create(f.s, TOK("bob-2"), &y, &e));
    assert_string_equal(e.msg, "amr must be a JSON array");
    y.amr = NULL;
    y.user_id = 999;
    RC(-1, store_session_create(f.s, TOK("bob-3"), &y, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);

    /* touch slides the expiry; an expired session is gone for get and touch */
    util_set_fake_now(T0 + 30);
    OK(store_session_touch(f.s, x.id, T0 + 90, &e));
    OK(store_session_get(f.s, TOK("bob-1"), &x, &e));
    assert_int_equal(x.last_seen, T0 + 30);
    assert_int_equal(x.expires_at, T0 + 90);
    OK(store_session_touch(f.s, x.id, 0, &e)); /* 0: keep the expiry */
    OK(store_session_get(f.s, TOK("bob-1"), &x, &e));
    assert_int_equal(x.expires_at, T0 + 90);
    util_set_fake_now(T0 + 90);
    RC(STORE_NOT_FOUND, store_session_get(f.s, TOK("bob-1"), &x, &e));
    RC(STORE_NOT_FOUND, store_session_touch(f.s, x.id, T0 + 1000, &e));
    util_set_fake_now(T0);

    OK(store_session_create(f.s, TOK("alice-2"),
                            &(struct store_session){.user_id = f.alice, .expires_at = T0 + 9}, &e));
    int64_t n = 0;
    OK(store_session_delete_user(f.s, f.alice, &n, &e));
    assert_int_equal(n, 2);
    RC(STORE_NOT_FOUND, store_session_get(f.s, TOK("alice-session-cookie"), &x, &e));
    RC(STORE_NOT_FOUND, store_session_delete(f.s, f.sid, &e));
    OK(store_session_delete(f.s, x.id, &e)); /* bob's (expired) row */
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM idp_sessions"), 0);
    store_session_free(&x);
    store_close(f.s);
}

/* ---- codes ------------------------------------------------------------------------- */

static void code_single_use(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_code(&f, TOK("code-1"), f.alice, T0 + 60);
    struct store_code c = {0};
    /* another client cannot take (or burn) it */
    RC(STORE_NOT_FOUND, store_code_take(f.s, TOK("code-1"), f.other_prov, &c, &e));
    RC(STORE_NOT_FOUND, store_code_take(f.s, TOK("code-2"), f.prov, &c, &e));

    util_set_fake_now(T0 + 3);
    OK(store_code_take(f.s, TOK("code-1"), f.prov, &c, &e));
    assert_int_equal(c.provider_id, f.prov);
    assert_int_equal(c.user_id, f.alice);
    assert_string_equal(c.session_id, f.sid);
    assert_string_equal(c.redirect_uri, "https://rp/cb");
    assert_string_equal(c.scope, "openid email");
    assert_string_equal(c.nonce, "n-0S6_WzA2Mj");
    assert_string_equal(c.code_challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert_string_equal(c.code_challenge_method, "S256");
    assert_int_equal(c.auth_time, T0 - 5);
    assert_int_equal(c.created_at, T0);
    assert_int_equal(c.expires_at, T0 + 60);
    assert_int_equal(c.used_at, T0 + 3);
    char code_id[STORE_ID_SIZE];
    memcpy(code_id, c.id, sizeof(code_id));

    /* the exchange issues tokens from the code... */
    new_token(&f, TOK("jti-access-1"), STORE_TOKEN_ACCESS, code_id, T0 + 3600);
    new_token(&f, TOK("refresh-1"), STORE_TOKEN_REFRESH, code_id, T0 + 86400);
    assert_true(active(f.s, TOK("jti-access-1")));
    /* ...then the code comes back: reuse, and everything it issued is revoked */
    RC(STORE_REUSED, store_code_take(f.s, TOK("code-1"), f.prov, &c, &e));
    assert_string_equal(c.id, code_id);
    assert_int_equal(c.user_id, f.alice); /* the caller can log whose grant it was */
    assert_false(active(f.s, TOK("jti-access-1")));
    assert_false(active(f.s, TOK("refresh-1")));
    RC(STORE_REUSED, store_code_take(f.s, TOK("code-1"), f.prov, &c, &e));
    /* the grant is closed: a token still being made for it is refused */
    struct store_token late = {.kind = STORE_TOKEN_ACCESS,
                               .provider_id = f.prov,
                               .user_id = f.alice,
                               .expires_at = T0 + 60};
    memcpy(late.code_id, code_id, sizeof(late.code_id));
    RC(STORE_REVOKED, store_token_insert(f.s, TOK("jti-late"), &late, &e));
    RC(STORE_NOT_FOUND, store_token_get(f.s, TOK("jti-late"), &late, &e));
    /* a refresh of the revoked grant is a replay too */
    struct store_token nt = {0};
    RC(STORE_REUSED, store_token_rotate(f.s, TOK("refresh-1"), TOK("refresh-2"), f.prov, NULL,
                                        T0 + 86400, &nt, NULL, &e));

    /* expired before first use */
    new_code(&f, TOK("code-old"), f.alice, T0 + 10);
    util_set_fake_now(T0 + 10);
    RC(STORE_EXPIRED, store_code_take(f.s, TOK("code-old"), f.prov, &c, &e));
    assert_int_equal(c.used_at, T0 + 10);
    RC(STORE_REUSED, store_code_take(f.s, TOK("code-old"), f.prov, &c, &e));
    RC(-1, store_code_create(f.s, TOK(""), &c, &e));
    store_code_free(&c);
    store_token_free(&nt);
    store_close(f.s);
}

#define TAKERS 8

struct taker {
    const char *path;
    pthread_barrier_t *start;
    int64_t prov;
    struct slice code;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void *take_code(void *arg)
{
    struct taker *t = arg;
    struct err e = {0};
    struct store_code c = {0};
    struct store *s = store_open(t->path, &e);
    pthread_barrier_wait(t->start);
    t->rc = s ? store_code_take(s, t->code, t->prov, &c, &e) : -1;
    if (t->rc < 0)
        snprintf(t->msg, sizeof(t->msg), "%s", e.msg);
    store_code_free(&c);
    store_close(s);
    return NULL;
}

static void code_race_has_one_winner(void **state)
{
    struct fixture f;
    fixture(&f);
    for (int round = 0; round < 10; round++) {
        char code[32];
        snprintf(code, sizeof(code), "race-code-%d", round);
        new_code(&f, slice_z(code), f.alice, T0 + 60);
        pthread_t th[TAKERS];
        struct taker t[TAKERS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, TAKERS);
        for (int i = 0; i < TAKERS; i++) {
            t[i] = (struct taker){
                .path = f.path, .start = &start, .prov = f.prov, .code = slice_z(code)};
            assert_int_equal(pthread_create(&th[i], NULL, take_code, &t[i]), 0);
        }
        int won = 0, reused = 0;
        for (int i = 0; i < TAKERS; i++) {
            pthread_join(th[i], NULL);
            if (t[i].rc < 0)
                fail_msg("round %d taker %d: %s", round, i, t[i].msg);
            won += t[i].rc == 0;
            reused += t[i].rc == STORE_REUSED;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(won, 1);
        assert_int_equal(reused, TAKERS - 1);
    }
    store_close(f.s);
}

/* ---- tokens -------------------------------------------------------------------------- */

static void tokens_insert_get_revoke(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_token(&f, TOK("jti-1"), STORE_TOKEN_ACCESS, "", T0 + 60);
    struct store_token t = {0};
    OK(store_token_get(f.s, TOK("jti-1"), &t, &e));
    char want[STORE_ID_SIZE];
    OK(store_digest(TOK("jti-1"), want, &e));
    assert_string_equal(t.id, want);
    assert_int_equal(t.kind, STORE_TOKEN_ACCESS);
    assert_int_equal(t.provider_id, f.prov);
    assert_int_equal(t.user_id, f.alice);
    assert_string_equal(t.scope, "openid email");
    assert_string_equal(t.code_id, "");
    assert_string_equal(t.parent_id, "");
    assert_string_equal(t.session_id, f.sid);
    assert_int_equal(t.created_at, T0);
    assert_int_equal(t.expires_at, T0 + 60);
    assert_true(store_token_active(&t));
    util_set_fake_now(T0 + 60);
    assert_false(store_token_active(&t)); /* expired */
    util_set_fake_now(T0);

    /* client_credentials: no user */
    struct store_token cc = {
        .kind = STORE_TOKEN_ACCESS, .provider_id = f.prov, .scope = "api", .expires_at = T0 + 60};
    OK(store_token_insert(f.s, TOK("jti-cc"), &cc, &e));
    OK(store_token_get(f.s, TOK("jti-cc"), &t, &e));
    assert_int_equal(t.user_id, 0);
    assert_string_equal(t.session_id, "");
    RC(-1, store_token_insert(f.s, TOK("jti-cc"), &cc, &e));
    assert_string_equal(e.msg, "token already exists");
    RC(-1, store_token_insert(f.s, TOK(""), &cc, &e));
    cc.kind = 7;
    RC(-1, store_token_insert(f.s, TOK("jti-kind"), &cc, &e));

    OK(store_token_revoke(f.s, TOK("jti-1"), &e));
    OK(store_token_revoke(f.s, TOK("jti-1"), &e)); /* RFC 7009: revoking twice is fine */
    OK(store_token_get(f.s, TOK("jti-1"), &t, &e));
    assert_int_equal(t.revoked_at, T0);
    assert_false(store_token_active(&t));
    RC(STORE_NOT_FOUND, store_token_revoke(f.s, TOK("jti-unknown"), &e));
    RC(STORE_NOT_FOUND, store_token_get(f.s, TOK("jti-unknown"), &t, &e));

    /* revoke everything a code issued */
    new_code(&f, TOK("code-x"), f.alice, T0 + 60);
    char code_id[STORE_ID_SIZE];
    OK(store_digest(TOK("code-x"), code_id, &e));
    new_token(&f, TOK("jti-x1"), STORE_TOKEN_ACCESS, code_id, T0 + 60);
    new_token(&f, TOK("refresh-x1"), STORE_TOKEN_REFRESH, code_id, T0 + 60);
    int64_t n = 0;
    OK(store_token_revoke_code(f.s, code_id, &n, &e));
    assert_int_equal(n, 2);
    assert_false(active(f.s, TOK("refresh-x1")));
    assert_true(active(f.s, TOK("jti-cc")));
    store_token_free(&t);
    store_close(f.s);
}

static void refresh_rotation_and_reuse(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_code(&f, TOK("code-r"), f.alice, T0 + 60);
    struct store_code c = {0};
    OK(store_code_take(f.s, TOK("code-r"), f.prov, &c, &e));
    new_token(&f, TOK("jti-a1"), STORE_TOKEN_ACCESS, c.id, T0 + 3600);
    new_token(&f, TOK("refresh-1"), STORE_TOKEN_REFRESH, c.id, T0 + 86400);

    struct store_token nt = {0}, old = {0};
    /* another client, an access token, an unknown token: nothing changes */
    RC(STORE_NOT_FOUND, store_token_rotate(f.s, TOK("refresh-1"), TOK("refresh-2"), f.other_prov,
                                           NULL, T0 + 1, &nt, &old, &e));
    RC(STORE_NOT_FOUND, store_token_rotate(f.s, TOK("jti-a1"), TOK("refresh-2"), f.prov, NULL,
                                           T0 + 1, &nt, &old, &e));
    RC(STORE_NOT_FOUND,
       store_token_rotate(f.s, TOK("nope"), TOK("refresh-2"), f.prov, NULL, T0 + 1, &nt, &old, &e));
    assert_true(active(f.s, TOK("refresh-1")));

    util_set_fake_now(T0 + 100);
    OK(store_token_rotate(f.s, TOK("refresh-1"), TOK("refresh-2"), f.prov, "openid", T0 + 9999, &nt,
                          &old, &e));
    char r1[STORE_ID_SIZE], r2[STORE_ID_SIZE];
    OK(store_digest(TOK("refresh-1"), r1, &e));
    OK(store_digest(TOK("refresh-2"), r2, &e));
    assert_string_equal(old.id, r1);
    assert_int_equal(old.rotated_at, 0); /* as it was before */
    assert_string_equal(nt.id, r2);
    assert_int_equal(nt.kind, STORE_TOKEN_REFRESH);
    assert_string_equal(nt.parent_id, r1);
    assert_string_equal(nt.code_id, c.id);
    assert_string_equal(nt.session_id, f.sid);
    assert_int_equal(nt.user_id, f.alice);
    assert_string_equal(nt.scope, "openid"); /* narrowed */
    assert_int_equal(nt.created_at, T0 + 100);
    assert_int_equal(nt.expires_at, T0 + 9999);
    assert_false(active(f.s, TOK("refresh-1"))); /* rotated */
    assert_true(active(f.s, TOK("refresh-2")));
    /* the new access token of the rotation */
    new_token(&f, TOK("jti-a2"), STORE_TOKEN_ACCESS, nt.code_id, T0 + 3600);

    /* a second rotation keeps the old scope when none is given */
    OK(store_token_rotate(f.s, TOK("refresh-2"), TOK("refresh-3"), f.prov, "", T0 + 9999, &nt, NULL,
                          &e));
    assert_string_equal(nt.scope, "openid");
    assert_string_equal(nt.parent_id, r2);

    /* the stolen refresh-1 is replayed: the whole family goes */
    RC(STORE_REUSED, store_token_rotate(f.s, TOK("refresh-1"), TOK("refresh-4"), f.prov, NULL,
                                        T0 + 9999, &nt, &old, &e));
    assert_string_equal(old.id, r1);
    assert_int_equal(nt.id[0], '\0'); /* nothing rotated */
    assert_false(active(f.s, TOK("refresh-3")));
    assert_false(active(f.s, TOK("refresh-2")));
    assert_false(active(f.s, TOK("jti-a1")));
    assert_false(active(f.s, TOK("jti-a2")));
    RC(STORE_NOT_FOUND, store_token_get(f.s, TOK("refresh-4"), &nt, &e));
    /* and the legitimate client's next refresh fails the same way */
    RC(STORE_REUSED, store_token_rotate(f.s, TOK("refresh-3"), TOK("refresh-5"), f.prov, NULL,
                                        T0 + 9999, &nt, NULL, &e));

    /* expiry */
    new_token(&f, TOK("refresh-e"), STORE_TOKEN_REFRESH, "", T0 + 200);
    util_set_fake_now(T0 + 200);
    RC(STORE_EXPIRED, store_token_rotate(f.s, TOK("refresh-e"), TOK("refresh-e2"), f.prov, NULL,
                                         T0 + 999, &nt, NULL, &e));
    store_token_free(&nt);
    store_token_free(&old);
    store_code_free(&c);
    store_close(f.s);
}

static void family_without_code(void **state)
{
    /* A family not started by a code is its tree of rotations, up and down. */
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    new_token(&f, TOK("root"), STORE_TOKEN_REFRESH, "", T0 + 999);
    struct store_token nt = {0};
    OK(store_token_rotate(f.s, TOK("root"), TOK("child"), f.prov, NULL, T0 + 999, &nt, NULL, &e));
    OK(store_token_rotate(f.s, TOK("child"), TOK("grandchild"), f.prov, NULL, T0 + 999, &nt, NULL,
                          &e));
    new_token(&f, TOK("unrelated"), STORE_TOKEN_REFRESH, "", T0 + 999);
    char child[STORE_ID_SIZE];
    OK(store_digest(TOK("child"), child, &e));
    int64_t n = 0;
    OK(store_token_revoke_family(f.s, child, &n, &e));
    assert_int_equal(n, 3);
    assert_false(active(f.s, TOK("grandchild")));
    assert_true(active(f.s, TOK("unrelated")));
    RC(STORE_NOT_FOUND, store_token_revoke_family(f.s, "0000", &n, &e));
    store_token_free(&nt);
    store_close(f.s);
}

struct rotator {
    const char *path;
    pthread_barrier_t *start;
    int64_t prov;
    int id;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void *rotate_one(void *arg)
{
    struct rotator *r = arg;
    struct err e = {0};
    struct store_token nt = {0};
    char key[32];
    snprintf(key, sizeof(key), "rotated-%d", r->id);
    struct store *s = store_open(r->path, &e);
    pthread_barrier_wait(r->start);
    r->rc = s ? store_token_rotate(s, TOK("refresh-race"), slice_z(key), r->prov, NULL, T0 + 999,
                                   &nt, NULL, &e)
              : -1;
    if (r->rc < 0)
        snprintf(r->msg, sizeof(r->msg), "%s", e.msg);
    store_token_free(&nt);
    store_close(s);
    return NULL;
}

static void refresh_race_revokes_family(void **state)
{
    struct fixture f;
    fixture(&f);
    new_token(&f, TOK("refresh-race"), STORE_TOKEN_REFRESH, "", T0 + 999);
    pthread_t th[TAKERS];
    struct rotator r[TAKERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, TAKERS);
    for (int i = 0; i < TAKERS; i++) {
        r[i] = (struct rotator){.path = f.path, .start = &start, .prov = f.prov, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, rotate_one, &r[i]), 0);
    }
    int won = 0, reused = 0;
    for (int i = 0; i < TAKERS; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc < 0)
            fail_msg("rotator %d: %s", i, r[i].msg);
        won += r[i].rc == 0;
        reused += r[i].rc == STORE_REUSED;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(won, 1);
    assert_int_equal(reused, TAKERS - 1);
    /* the winner's new token went with the family */
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 2);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens WHERE revoked_at = 0"), 0);
    store_close(f.s);
}

/* ---- what is in the database ------------------------------------------------------- */

static void raw_secrets_never_stored(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    const char *raw[] = {"alice-session-cookie", "RAW-CODE-9f8e7d6c5b4a", "RAW-JTI-0a1b2c3d4e5f",
                         "RAW-REFRESH-aabbccddeeff", "RAW-REFRESH-NEXT-112233"};
    new_code(&f, slice_z(raw[1]), f.alice, T0 + 60);
    new_token(&f, slice_z(raw[2]), STORE_TOKEN_ACCESS, "", T0 + 60);
    new_token(&f, slice_z(raw[3]), STORE_TOKEN_REFRESH, "", T0 + 60);
    struct store_token nt = {0};
    OK(store_token_rotate(f.s, slice_z(raw[3]), slice_z(raw[4]), f.prov, NULL, T0 + 60, &nt, NULL,
                          &e));
    store_token_free(&nt);

    /* the rows are there, under their digests */
    char d[STORE_ID_SIZE], sql[1024];
    OK(store_digest(slice_z(raw[1]), d, &e));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM oauth2_codes WHERE id = '%s'", d);
    assert_int_equal(tdb_int(f.path, sql), 1);
    OK(store_digest(slice_z(raw[4]), d, &e));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM oauth2_tokens WHERE id = '%s'", d);
    assert_int_equal(tdb_int(f.path, sql), 1);

    /* and no raw value anywhere in the database (SQLite: its file, its WAL) or any column */
    /* the search finds what is stored (a stored nonce), so its silence below means something */
    assert_true(tdb_holds(f.path, "n-0S6_WzA2Mj"));
    for (size_t i = 0; i < UTIL_ARRAY_LEN(raw); i++) {
        assert_false(tdb_holds(f.path, raw[i]));
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM idp_sessions WHERE id || amr || client_ip "
                 "|| user_agent LIKE '%%%s%%') + (SELECT count(*) FROM oauth2_codes WHERE "
                 "id || redirect_uri || scope || nonce LIKE '%%%s%%') + (SELECT count(*) FROM "
                 "oauth2_tokens WHERE id || scope LIKE '%%%s%%')",
                 raw[i], raw[i], raw[i]);
        assert_int_equal(tdb_int(f.path, sql), 0);
    }
    store_close(f.s);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 3);
    if (tdb_is_url(f.path))
        return;
    /* SQLite: after the checkpoint that closing runs, in the database file itself */
    assert_true(tdb_file_contains(f.path, "n-0S6_WzA2Mj"));
    for (size_t i = 0; i < UTIL_ARRAY_LEN(raw); i++)
        assert_false(tdb_file_contains(f.path, raw[i]));
}

static void user_delete_cascades(void **state)
{
    struct fixture f;
    struct err e = {0};
    fixture(&f);
    struct store_group g = {.name = "staff"};
    OK(store_group_upsert(f.s, &g, NULL, &e));
    OK(store_member_add(f.s, f.alice, g.id, &e));
    new_code(&f, TOK("code-c"), f.alice, T0 + 60);
    new_token(&f, TOK("jti-c"), STORE_TOKEN_ACCESS, "", T0 + 60);
    new_token(&f, TOK("refresh-c"), STORE_TOKEN_REFRESH, "", T0 + 60);
    OK(store_consent_set(
        f.s, &(struct store_consent){.user_id = f.alice, .provider_id = f.prov, .scope = "openid"},
        &e));
    struct store_event ev = {.action = "login", .username = "alice"};
    OK(store_event_add(f.s, &ev, &e));
    new_code(&f, TOK("code-bob"), f.bob, T0 + 60);

    OK(store_user_delete(f.s, f.alice, &e));
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM idp_sessions"), 0);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_codes"), 1); /* bob's */
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 0);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM group_members"), 0);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM consents"), 0);
    /* events keep the name */
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM events WHERE username = 'alice'"), 1);

    /* logout keeps codes and tokens, without their session */
    struct store_session x = {.user_id = f.bob, .expires_at = T0 + 60};
    OK(store_session_create(f.s, TOK("bob-cookie"), &x, &e));
    struct store_token t = {.kind = STORE_TOKEN_REFRESH,
                            .provider_id = f.prov,
                            .user_id = f.bob,
                            .expires_at = T0 + 60};
    memcpy(t.session_id, x.id, sizeof(t.session_id));
    OK(store_token_insert(f.s, TOK("refresh-bob"), &t, &e));
    OK(store_session_delete(f.s, x.id, &e));
    OK(store_token_get(f.s, TOK("refresh-bob"), &t, &e));
    assert_string_equal(t.session_id, "");
    assert_true(store_token_active(&t));
    /* deleting the provider takes its codes and tokens */
    OK(store_provider_delete(f.s, f.prov, &e));
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_codes"), 0);
    assert_int_equal(tdb_int(f.path, "SELECT count(*) FROM oauth2_tokens"), 0);
    store_token_free(&t);
    store_session_free(&x);
    store_close(f.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sessions),
        cmocka_unit_test(code_single_use),
        cmocka_unit_test(code_race_has_one_winner),
        cmocka_unit_test(tokens_insert_get_revoke),
        cmocka_unit_test(refresh_rotation_and_reuse),
        cmocka_unit_test(family_without_code),
        cmocka_unit_test(refresh_race_revokes_family),
        cmocka_unit_test(raw_secrets_never_stored),
        cmocka_unit_test(user_delete_cascades),
    };
    return TDB_RUN(tests);
}
