/* Tests of src/idp/login.c and src/idp/throttle.c: the password login, its events, and
 * brute-force throttling per username and per client IP. */
#include "helpers.h"

#include <sodium.h>

#define T0 1800000000
#define PW "s3cret-pass"

static char *alice_hash;

static int group_setup(void **state)
{
    struct err e = {0};
    alice_hash = idp_password_hash(SLICE_LIT(PW), &e);
    return alice_hash ? 0 : -1;
}

static int group_teardown(void **state)
{
    free(alice_hash);
    return 0;
}

static int setup(void **state)
{
    if (fx_setup(state) < 0) {
        return -1;
    }
    struct fixture *f = *state;
    f->idp.cfg.throttle_max_failures = 3;
    f->idp.cfg.throttle_window = 600;
    f->idp.cfg.throttle_lockout = 300;
    util_set_fake_now(T0);
    fx_user(f->s, "alice", "Alice@Example.com", alice_hash, true);
    fx_user(f->s, "inactive", NULL, alice_hash, false);
    fx_user(f->s, "nopass", NULL, NULL, true);
    return 0;
}

static enum idp_login_result try_login(struct fixture *f, const char *login, const char *pw,
                                       const char *ip, int64_t *retry)
{
    struct idp_login_input in = {.login = login, .password = slice_z(pw), .client_ip = ip};
    char *tok = NULL;
    struct err e = {0};
    enum idp_login_result r = idp_login(&f->idp, f->s, &in, &tok, NULL, retry, &e);
    if (r == IDP_LOGIN_OK) {
        assert_non_null(tok);
    } else {
        assert_null(tok);
    }
    if (r == IDP_LOGIN_ERROR) {
        fprintf(stderr, "login error: %s\n", e.msg);
    }
    util_free_secret(tok);
    return r;
}

static void success(void **state)
{
    struct fixture *f = *state;
    struct idp_login_input in = {.login = "alice",
                                 .password = SLICE_LIT(PW),
                                 .client_ip = "192.0.2.10",
                                 .user_agent = "Browser/1.0"};
    char *tok = NULL;
    struct idp_auth a = {0};
    struct err e = {0};
    assert_int_equal(idp_login(&f->idp, f->s, &in, &tok, &a, NULL, &e), IDP_LOGIN_OK);
    assert_string_equal(a.user.username, "alice");
    assert_int_equal(a.session.auth_time, T0);
    assert_string_equal(a.session.amr, "[\"pwd\"]");
    struct idp_auth b = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &b, &e), 0);
    assert_string_equal(b.session.id, a.session.id);
    assert_string_equal(b.session.user_agent, "Browser/1.0");
    assert_int_equal(fx_events(f->s, "login"), 1);
    /* by email, any case */
    assert_int_equal(try_login(f, "alice@example.com", PW, "192.0.2.10", NULL), IDP_LOGIN_OK);
    assert_int_equal(try_login(f, "ALICE@EXAMPLE.COM", PW, "192.0.2.10", NULL), IDP_LOGIN_OK);
    /* a new login ends the session the browser had (no fixation, no pile-up) */
    util_set_fake_now(T0 + 50);
    char *tok2 = NULL;
    in.old_token = slice_z(tok);
    assert_int_equal(idp_login(&f->idp, f->s, &in, &tok2, &a, NULL, &e), IDP_LOGIN_OK);
    assert_string_not_equal(tok, tok2);
    assert_int_equal(a.session.auth_time, T0 + 50); /* fresh auth_time (prompt=login) */
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &b, &e), STORE_NOT_FOUND);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok2), &b, &e), 0);
    idp_auth_free(&a);
    idp_auth_free(&b);
    util_free_secret(tok);
    util_free_secret(tok2);
}

/* Every wrong credential: one result, an event with the reason, never the password. */
static void failures(void **state)
{
    struct fixture *f = *state;
    f->idp.cfg.throttle_max_failures = 0; /* off here */
    const char *cases[][2] = {
        {"alice", "wrong-password-123"},
        {"nobody", "wrong-password-123"},
        {"inactive", PW},
        {"nopass", "wrong-password-123"},
        {"nopass", ""},
        {"Alice", PW}, /* usernames are exact */
        {"alice ", PW},
        {"", PW},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        assert_int_equal(try_login(f, cases[i][0], cases[i][1], "192.0.2.20", NULL),
                         IDP_LOGIN_FAILED);
    }
    struct store_event_list l = {0};
    struct store_page pg = {0};
    struct err e = {0};
    assert_int_equal(store_event_list(f->s, NULL, NULL, &pg, &l, &e), 0);
    assert_int_equal(l.n, UTIL_ARRAY_LEN(cases));
    size_t unknown = 0, wrong = 0, inactive = 0;
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(l.v[i].action, "login_failed");
        assert_string_equal(l.v[i].client_ip, "192.0.2.20");
        assert_null(strstr(l.v[i].context, "wrong-password"));
        assert_null(strstr(l.v[i].context, PW));
        assert_null(strstr(l.v[i].username, "password"));
        unknown += strstr(l.v[i].context, "unknown user") != NULL;
        wrong += strstr(l.v[i].context, "wrong password") != NULL;
        inactive += strstr(l.v[i].context, "inactive user") != NULL;
    }
    assert_int_equal(unknown, 4);
    assert_int_equal(wrong, 3);
    assert_int_equal(inactive, 1);
    store_event_list_free(&l);
    /* control characters of a typed login do not reach the events table */
    assert_int_equal(try_login(f, "evil\r\nname", PW, "192.0.2.20", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(store_event_list(f->s, NULL, NULL, &pg, &l, &e), 0);
    assert_string_equal(l.v[0].username, "evil??name");
    store_event_list_free(&l);
}

static void throttle_user(void **state)
{
    struct fixture *f = *state;
    int64_t retry = 0;
    /* three failures from three addresses lock the username */
    assert_int_equal(try_login(f, "alice", "bad-1", "192.0.2.1", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "alice@example.com", "bad-2", "192.0.2.2", NULL),
                     IDP_LOGIN_FAILED);
    assert_int_equal(fx_events(f->s, "login_throttled"), 0);
    assert_int_equal(try_login(f, "alice", "bad-3", "192.0.2.3", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(fx_events(f->s, "login_throttled"), 1);
    /* now even the right password is refused, from anywhere, by username or email */
    util_set_fake_now(T0 + 10);
    assert_int_equal(try_login(f, "alice", PW, "203.0.113.9", &retry), IDP_LOGIN_THROTTLED);
    assert_int_equal(retry, 290);
    assert_int_equal(try_login(f, "ALICE@example.COM", PW, "203.0.113.9", NULL),
                     IDP_LOGIN_THROTTLED);
    /* refused attempts are neither counted nor recorded one by one */
    size_t events = fx_events(f->s, NULL);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(try_login(f, "alice", "guess", "203.0.113.9", NULL), IDP_LOGIN_THROTTLED);
    }
    assert_int_equal(fx_events(f->s, NULL), events);
    /* other users are not affected */
    fx_user(f->s, "bob", NULL, alice_hash, true);
    assert_int_equal(try_login(f, "bob", PW, "203.0.113.9", NULL), IDP_LOGIN_OK);
    /* the lock ends */
    util_set_fake_now(T0 + 300);
    assert_int_equal(try_login(f, "alice", PW, "203.0.113.10", NULL), IDP_LOGIN_OK);
    /* and a success forgot the username's failures: two more do not lock */
    assert_int_equal(try_login(f, "alice", "bad-4", "203.0.113.11", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "alice", "bad-5", "203.0.113.12", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "alice", PW, "203.0.113.13", NULL), IDP_LOGIN_OK);
    /* an unknown username locks like a real one (no enumeration by lockout) */
    for (int i = 0; i < 3; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "198.51.100.%d", i);
        assert_int_equal(try_login(f, "ghost", "x-guess-x", ip, NULL), IDP_LOGIN_FAILED);
    }
    assert_int_equal(try_login(f, "ghost", "x-guess-x", "198.51.100.99", NULL),
                     IDP_LOGIN_THROTTLED);
}

static void throttle_ip(void **state)
{
    struct fixture *f = *state;
    int64_t retry = 0;
    /* password spraying: one address, many usernames */
    assert_int_equal(try_login(f, "u1", "guess-guess", "192.0.2.50", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "u2", "guess-guess", "192.0.2.50", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "u3", "guess-guess", "192.0.2.50", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.50", &retry), IDP_LOGIN_THROTTLED);
    assert_int_equal(retry, 300);
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.51", NULL), IDP_LOGIN_OK);
    /* a success does not reset the address */
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.50", NULL), IDP_LOGIN_THROTTLED);
    /* IPv6: the /64 counts as one */
    assert_int_equal(try_login(f, "v1", "guess-guess", "2001:db8:1:2::1", NULL), IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "v2", "guess-guess", "2001:db8:1:2:aaaa::2", NULL),
                     IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "v3", "guess-guess", "2001:db8:1:2:ffff:ffff:ffff:ffff", NULL),
                     IDP_LOGIN_FAILED);
    assert_int_equal(try_login(f, "alice", PW, "2001:db8:1:2::77", NULL), IDP_LOGIN_THROTTLED);
    assert_int_equal(try_login(f, "alice", PW, "2001:db8:1:3::77", NULL), IDP_LOGIN_OK);
    /* after the lockout the address may try again */
    util_set_fake_now(T0 + 301);
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.50", NULL), IDP_LOGIN_OK);
}

static void throttle_window(void **state)
{
    struct fixture *f = *state;
    /* failures further apart than the window never add up to a lock */
    for (int i = 0; i < 6; i++) {
        util_set_fake_now(T0 + i * 400);
        assert_int_equal(try_login(f, "alice", "wrong-wrong", "192.0.2.60", NULL),
                         IDP_LOGIN_FAILED);
        if (i % 2 == 1) {
            util_set_fake_now(T0 + i * 400 + 1);
        }
    }
    util_set_fake_now(T0 + 6 * 400);
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.60", NULL), IDP_LOGIN_OK);
    /* throttling off: no lock at all */
    f->idp.cfg.throttle_max_failures = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(try_login(f, "alice", "wrong-wrong", "192.0.2.61", NULL),
                         IDP_LOGIN_FAILED);
    }
    assert_int_equal(try_login(f, "alice", PW, "192.0.2.61", NULL), IDP_LOGIN_OK);
}

static void keys(void **state)
{
    char k[IDP_THROTTLE_KEY_MAX];
    idp_throttle_ip_key("192.0.2.1", k);
    assert_string_equal(k, "ip:192.0.2.1");
    idp_throttle_ip_key("2001:db8:1:2:3:4:5:6", k);
    assert_string_equal(k, "ip:2001:db8:1:2::/64");
    idp_throttle_ip_key("2001:DB8:1:2::", k);
    assert_string_equal(k, "ip:2001:db8:1:2::/64");
    idp_throttle_ip_key("::ffff:192.0.2.1", k);
    assert_string_equal(k, "ip:192.0.2.1");
    idp_throttle_ip_key("::1", k);
    assert_string_equal(k, "ip:::/64");
    idp_throttle_ip_key(NULL, k);
    assert_string_equal(k, "ip:");
    idp_throttle_user_key("alice", k);
    assert_string_equal(k, "user:alice");
}

/* A hash made with other parameters is replaced at the next successful login. */
static void rehash_on_login(void **state)
{
    struct fixture *f = *state;
    char old[crypto_pwhash_STRBYTES];
    assert_int_equal(crypto_pwhash_str_alg(old, PW, strlen(PW), 3, 8 * 1024 * 1024,
                                           crypto_pwhash_ALG_ARGON2ID13),
                     0);
    int64_t id = fx_user(f->s, "olduser", NULL, old, true);
    assert_int_equal(try_login(f, "olduser", "not-it-at-all", "192.0.2.70", NULL),
                     IDP_LOGIN_FAILED);
    struct store_user u = {0};
    struct err e = {0};
    assert_int_equal(store_user_get_by_id(f->s, id, &u, &e), 0);
    assert_string_equal(u.password_hash, old); /* a failure changes nothing */
    assert_int_equal(try_login(f, "olduser", PW, "192.0.2.70", NULL), IDP_LOGIN_OK);
    assert_int_equal(store_user_get_by_id(f->s, id, &u, &e), 0);
    assert_string_not_equal(u.password_hash, old);
    assert_true(strncmp(u.password_hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_false(idp_password_needs_rehash(u.password_hash));
    assert_int_equal(try_login(f, "olduser", PW, "192.0.2.70", NULL), IDP_LOGIN_OK);
    store_user_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(success, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(failures, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(throttle_user, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(throttle_ip, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(throttle_window, setup, fx_teardown),
        cmocka_unit_test(keys),
        cmocka_unit_test_setup_teardown(rehash_on_login, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
