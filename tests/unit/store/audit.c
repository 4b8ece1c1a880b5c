/* Tests of login throttling, events and purge through store.h, on either backend
 * (sqlite_audit.c, pg_audit.c; see testdb.h). */
#include "testdb.h"

#include <pthread.h>

static void throttling(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    const struct store_throttle pol = {.window_s = 60, .max_failures = 3, .lock_s = 300};
    struct store_attempts a = {0};
    RC(STORE_NOT_FOUND, store_attempt_get(s, "user:alice", &a, &e));

    OK(store_attempt_fail(s, "user:alice", &pol, &a, &e));
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.window_start, T0);
    assert_int_equal(a.locked_until, 0);
    util_set_fake_now(T0 + 10);
    OK(store_attempt_fail(s, "user:alice", &pol, NULL, &e));
    OK(store_attempt_get(s, "user:alice", &a, &e));
    assert_int_equal(a.failures, 2);
    assert_int_equal(a.locked_until, 0);
    util_set_fake_now(T0 + 20);
    OK(store_attempt_fail(s, "user:alice", &pol, &a, &e));
    assert_int_equal(a.failures, 3);
    assert_int_equal(a.locked_until, T0 + 20 + 300);
    /* keys are independent */
    OK(store_attempt_fail(s, "ip:192.0.2.1", &pol, &a, &e));
    assert_int_equal(a.failures, 1);

    /* a window that ended starts again at 1; the lock stays until it ends */
    util_set_fake_now(T0 + 100);
    OK(store_attempt_fail(s, "user:alice", &pol, &a, &e));
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.window_start, T0 + 100);
    assert_int_equal(a.locked_until, T0 + 320);

    /* success forgets */
    OK(store_attempt_reset(s, "user:alice", &e));
    OK(store_attempt_reset(s, "user:alice", &e));
    RC(STORE_NOT_FOUND, store_attempt_get(s, "user:alice", &a, &e));

    /* max_failures 1 locks on the first failure; 0 never locks */
    const struct store_throttle one = {.window_s = 60, .max_failures = 1, .lock_s = 5};
    OK(store_attempt_fail(s, "user:b", &one, &a, &e));
    assert_int_equal(a.locked_until, T0 + 105);
    const struct store_throttle never = {.window_s = 60, .max_failures = 0, .lock_s = 5};
    for (int i = 0; i < 5; i++)
        OK(store_attempt_fail(s, "user:c", &never, &a, &e));
    assert_int_equal(a.failures, 5);
    assert_int_equal(a.locked_until, 0);
    RC(-1, store_attempt_fail(s, "", &pol, &a, &e));
    store_close(s);
}

#define FAILERS    4
#define FAILS_EACH 25

struct failer {
    const char *path;
    pthread_barrier_t *start;
    int errors;
};

static void *fail_many(void *arg)
{
    struct failer *f = arg;
    struct err e = {0};
    const struct store_throttle pol = {.window_s = 3600, .max_failures = 1000, .lock_s = 60};
    struct store *s = store_open(f->path, &e);
    pthread_barrier_wait(f->start);
    for (int i = 0; i < FAILS_EACH; i++)
        if (!s || store_attempt_fail(s, "ip:198.51.100.7", &pol, NULL, &e) != 0)
            f->errors++;
    store_close(s);
    return NULL;
}

static void concurrent_failures_all_count(void **state)
{
    /* A password-guessing burst over several connections must not lose counts. */
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    pthread_t t[FAILERS];
    struct failer f[FAILERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, FAILERS);
    for (int i = 0; i < FAILERS; i++) {
        f[i] = (struct failer){.path = path, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, fail_many, &f[i]), 0);
    }
    for (int i = 0; i < FAILERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(f[i].errors, 0);
    }
    pthread_barrier_destroy(&start);
    struct store_attempts a = {0};
    OK(store_attempt_get(s, "ip:198.51.100.7", &a, &e));
    assert_int_equal(a.failures, FAILERS * FAILS_EACH);
    store_close(s);
}

static void events(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    for (int i = 0; i < 25; i++) {
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "{\"n\":%d}", i);
        util_set_fake_now(T0 + i);
        struct store_event ev = {.action = i % 5 == 0 ? "login_failed" : "login",
                                 .username = i % 2 ? "alice" : "bob",
                                 .client_ip = "192.0.2.1",
                                 .app = "cloudflare",
                                 .context = ctx};
        OK(store_event_add(s, &ev, &e));
        assert_true(ev.id > 0);
        assert_int_equal(ev.created_at, T0 + i);
    }
    struct store_event_list l = {0};
    OK(store_event_list(s, NULL, NULL, &(struct store_page){.limit = 10}, &l, &e));
    assert_int_equal(l.n, 10);
    assert_string_equal(l.v[0].context, "{\"n\":24}"); /* newest first */
    assert_int_equal(l.v[0].created_at, T0 + 24);
    assert_string_equal(l.v[9].context, "{\"n\":15}");
    assert_string_equal(l.v[0].client_ip, "192.0.2.1");
    assert_string_equal(l.v[0].app, "cloudflare");
    OK(store_event_list(s, NULL, NULL, &(struct store_page){.limit = 10, .offset = 20}, &l, &e));
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[4].context, "{\"n\":0}");
    OK(store_event_list(s, "login_failed", NULL, NULL, &l, &e));
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].context, "{\"n\":20}");
    OK(store_event_list(s, NULL, "alice", NULL, &l, &e));
    assert_int_equal(l.n, 12);
    OK(store_event_list(s, "login_failed", "alice", NULL, &l, &e));
    assert_int_equal(l.n, 2); /* 15 and 5 */
    assert_string_equal(l.v[1].context, "{\"n\":5}");
    OK(store_event_list(s, "logout", NULL, NULL, &l, &e));
    assert_int_equal(l.n, 0);

    /* defaults and refusals */
    struct store_event bare = {.action = "logout"};
    OK(store_event_add(s, &bare, &e));
    OK(store_event_list(s, "logout", NULL, NULL, &l, &e));
    assert_string_equal(l.v[0].context, "{}");
    assert_string_equal(l.v[0].username, "");
    struct store_event bad = {.action = "x", .context = "[\"secret\"]"};
    RC(-1, store_event_add(s, &bad, &e));
    assert_string_equal(e.msg, "context must be a JSON object");
    struct store_event none = {.action = ""};
    RC(-1, store_event_add(s, &none, &e));
    assert_string_equal(e.msg, "action must not be empty");

    int64_t n = 0;
    OK(store_event_purge(s, T0 + 10, &n, &e));
    assert_int_equal(n, 10);
    OK(store_event_list(s, NULL, NULL, NULL, &l, &e));
    assert_int_equal(l.n, 16);
    store_event_list_free(&l);
    store_close(s);
}

static void purge(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t prov = tdb_provider(s, "P", "p");
    int64_t alice = tdb_user(s, "alice", "");
    /* one of each, expiring at T0 + 10, and one of each living on */
    OK(store_session_create(s, SLICE_LIT("s-old"),
                            &(struct store_session){.user_id = alice, .expires_at = T0 + 10}, &e));
    OK(store_session_create(s, SLICE_LIT("s-new"),
                            &(struct store_session){.user_id = alice, .expires_at = T0 + 99999},
                            &e));
    struct store_code c = {
        .provider_id = prov, .user_id = alice, .redirect_uri = "r", .expires_at = T0 + 10};
    OK(store_code_create(s, SLICE_LIT("code-lonely"), &c, &e));
    OK(store_code_create(s, SLICE_LIT("code-granted"), &c, &e));
    struct store_token t = {
        .kind = STORE_TOKEN_REFRESH, .provider_id = prov, .user_id = alice, .expires_at = T0 + 10};
    OK(store_token_insert(s, SLICE_LIT("t-old"), &t, &e));
    OK(store_digest(SLICE_LIT("code-granted"), t.code_id, &e));
    t.expires_at = T0 + 30 * 86400; /* a 30-day refresh token of code-granted */
    OK(store_token_insert(s, SLICE_LIT("t-new"), &t, &e));
    OK(store_consent_set(
        s,
        &(struct store_consent){
            .user_id = alice, .provider_id = prov, .scope = "a", .expires_at = T0 + 10},
        &e));
    const struct store_throttle pol = {.window_s = 60, .max_failures = 1, .lock_s = 100000};
    OK(store_attempt_fail(s, "user:locked", &pol, NULL, &e));
    const struct store_throttle soft = {.window_s = 60, .max_failures = 0, .lock_s = 0};
    OK(store_attempt_fail(s, "user:soft", &soft, NULL, &e));

    struct store_purged p = {0};
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.sessions + p.codes + p.tokens + p.consents + p.attempts, 0);

    util_set_fake_now(T0 + 10); /* expired now */
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.sessions, 1);
    assert_int_equal(p.tokens, 1);
    assert_int_equal(p.consents, 1);
    assert_int_equal(p.codes, 0); /* kept: a replay must still revoke */
    assert_int_equal(p.attempts, 0);

    util_set_fake_now(T0 + 10 + STORE_CODE_RETAIN_S);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.codes, 1);    /* the lonely one; the granted one lives with its token */
    assert_int_equal(p.attempts, 1); /* the soft one; the locked one is still locked */
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM oauth2_codes"), 1);
    struct store_code got = {0};
    RC(STORE_EXPIRED, store_code_take(s, SLICE_LIT("code-granted"), prov, &got, &e));
    RC(STORE_REUSED, store_code_take(s, SLICE_LIT("code-granted"), prov, &got, &e));
    struct store_token tt = {0};
    OK(store_token_get(s, SLICE_LIT("t-new"), &tt, &e));
    assert_false(store_token_active(&tt)); /* the replay revoked the grant */

    util_set_fake_now(T0 + 30 * 86400);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.tokens, 1);
    assert_int_equal(p.codes, 1);
    assert_int_equal(p.sessions, 1);
    assert_int_equal(p.attempts, 1);
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM idp_sessions) + (SELECT "
                                   "count(*) FROM oauth2_tokens) + (SELECT count(*) FROM "
                                   "oauth2_codes) + (SELECT count(*) FROM login_attempts)"),
                     0);
    OK(store_purge(s, NULL, &e));
    store_token_free(&tt);
    store_code_free(&got);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(throttling),
        cmocka_unit_test(concurrent_failures_all_count),
        cmocka_unit_test(events),
        cmocka_unit_test(purge),
    };
    return TDB_RUN(tests);
}
