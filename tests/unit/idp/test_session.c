/* Tests of src/idp/session.c: IdP sessions, their cookie, lookups, expiry, logout. */
#include "helpers.h"

#define T0 1800000000

static void create_and_lookup(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    util_set_fake_now(T0);
    int64_t uid = fx_user(f->s, "alice", "alice@example.com", NULL, true);
    char *tok = NULL;
    struct store_session x = {0};
    assert_int_equal(
        idp_session_create(&f->idp, f->s, uid, "[\"pwd\"]", "192.0.2.1", "UA/1", &tok, &x, &e), 0);
    assert_non_null(tok);
    assert_int_equal(strlen(tok), IDP_TOKEN_CHARS);
    assert_true(idp_token_shape_ok(slice_z(tok)));
    assert_int_equal(x.user_id, uid);
    assert_int_equal(x.auth_time, T0);
    assert_int_equal(x.expires_at, T0 + IDP_DEFAULT_SESSION_LIFETIME);
    /* the store keeps the hash, never the token */
    assert_int_equal(strlen(x.id), 64);
    assert_null(strstr(x.id, tok));

    struct idp_auth a = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), 0);
    assert_string_equal(a.user.username, "alice");
    assert_string_equal(a.session.id, x.id);
    assert_string_equal(a.session.amr, "[\"pwd\"]");
    assert_int_equal(a.session.auth_time, T0);

    /* a second session is another token */
    char *tok2 = NULL;
    assert_int_equal(
        idp_session_create(&f->idp, f->s, uid, "[\"pwd\"]", "192.0.2.1", NULL, &tok2, NULL, &e), 0);
    assert_string_not_equal(tok, tok2);

    /* malformed, unknown and near-miss cookies find nothing (and are not looked up) */
    char near[IDP_TOKEN_CHARS + 1];
    memcpy(near, tok, sizeof near);
    near[0] = near[0] == 'A' ? 'B' : 'A';
    const char *bad[] = {"",
                         "x",
                         near,
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                         "' OR 1=1 --AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(bad[i]), &a, &e),
                         STORE_NOT_FOUND);
    }
    char longer[IDP_TOKEN_CHARS + 2];
    snprintf(longer, sizeof longer, "%sA", tok);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(longer), &a, &e), STORE_NOT_FOUND);

    /* expiry */
    util_set_fake_now(T0 + IDP_DEFAULT_SESSION_LIFETIME - 1);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), 0);
    util_set_fake_now(T0 + IDP_DEFAULT_SESSION_LIFETIME);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), STORE_NOT_FOUND);

    idp_auth_free(&a);
    store_session_free(&x);
    util_free_secret(tok);
    util_free_secret(tok2);
}

static void inactive_and_deleted_users(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    int64_t uid = fx_user(f->s, "bob", NULL, NULL, true);
    char *tok = NULL;
    assert_int_equal(
        idp_session_create(&f->idp, f->s, uid, "[\"pwd\"]", "::1", NULL, &tok, NULL, &e), 0);
    struct idp_auth a = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), 0);
    struct store_user u = {0};
    assert_int_equal(store_user_get_by_id(f->s, uid, &u, &e), 0);
    u.is_active = false;
    assert_int_equal(store_user_update(f->s, &u, &e), 0);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), STORE_NOT_FOUND);
    assert_null(a.user.username); /* nothing handed out */
    u.is_active = true;
    assert_int_equal(store_user_update(f->s, &u, &e), 0);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), 0);
    assert_int_equal(store_user_delete(f->s, uid, &e), 0);
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), STORE_NOT_FOUND);
    idp_auth_free(&a);
    store_user_free(&u);
    util_free_secret(tok);
}

static void cookies(void **state)
{
    struct fixture *f = *state;
    f->idp.cfg.session_lifetime = 3600;
    char *c = idp_session_cookie(&f->idp, "TOKEN");
    assert_string_equal(
        c, "postern_session=TOKEN; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure");
    util_free_secret(c);
    c = idp_session_cookie_clear(&f->idp);
    assert_string_equal(c, "postern_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
    free(c);
    f->idp.cfg.cookie_secure = false;
    c = idp_session_cookie(&f->idp, "TOKEN");
    assert_string_equal(c, "postern_session=TOKEN; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax");
    util_free_secret(c);
    /* lifetime from the config */
    struct err e = {0};
    int64_t uid = fx_user(f->s, "carol", NULL, NULL, true);
    char *tok = NULL;
    struct store_session x = {0};
    util_set_fake_now(T0);
    assert_int_equal(idp_session_create(&f->idp, f->s, uid, NULL, NULL, NULL, &tok, &x, &e), 0);
    assert_int_equal(x.expires_at, T0 + 3600);
    assert_string_equal(x.amr, "[]");
    store_session_free(&x);
    util_free_secret(tok);
}

static void logout(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    int64_t uid = fx_user(f->s, "dave", NULL, NULL, true);
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(
        idp_session_create(&f->idp, f->s, uid, "[\"pwd\"]", "::1", NULL, &t1, NULL, &e), 0);
    assert_int_equal(
        idp_session_create(&f->idp, f->s, uid, "[\"pwd\"]", "::1", NULL, &t2, NULL, &e), 0);
    assert_int_equal(idp_logout(&f->idp, f->s, slice_z(t1), "198.51.100.7", &e), 0);
    struct idp_auth a = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(t1), &a, &e), STORE_NOT_FOUND);
    /* only that session */
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(t2), &a, &e), 0);
    assert_int_equal(fx_events(f->s, "logout"), 1);
    struct store_event_list l = {0};
    struct store_page pg = {0};
    assert_int_equal(store_event_list(f->s, "logout", NULL, &pg, &l, &e), 0);
    assert_string_equal(l.v[0].username, "dave");
    assert_string_equal(l.v[0].client_ip, "198.51.100.7");
    store_event_list_free(&l);
    /* again: nothing to do, no event */
    assert_int_equal(idp_logout(&f->idp, f->s, slice_z(t1), "198.51.100.7", &e), STORE_NOT_FOUND);
    assert_int_equal(idp_logout(&f->idp, f->s, SLICE_LIT("junk"), NULL, &e), STORE_NOT_FOUND);
    assert_int_equal(fx_events(f->s, "logout"), 1);
    idp_auth_free(&a);
    util_free_secret(t1);
    util_free_secret(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_and_lookup, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(inactive_and_deleted_users, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(cookies, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(logout, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
