/* Tests of src/idp/users.c: validation rules, errors that name the field, idempotent upserts. */
#include "helpers.h"

static void username_rules(void **state)
{
    const char *good[] = {"alice",          "a", "Alice.Example", "bob_1", "c-d", "e+f",
                          "me@example.com", "0", "A.B_C-D+E@F"};
    const char *bad[] = {"",      "al ice", "alice\n", "al/ice", "al\\ice", "\xc3\xa9lise",
                         "a:b",   "a<b>",   "a\"b",    "a'b",    "a;b",     "a,b",
                         "a%20b", "a\tb",   "a#b",     "a?b"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        assert_true(idp_username_ok(good[i]));
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        assert_false(idp_username_ok(bad[i]));
    }
    char u[IDP_USERNAME_MAX + 2];
    memset(u, 'x', sizeof u);
    u[IDP_USERNAME_MAX] = '\0';
    assert_true(idp_username_ok(u));
    u[IDP_USERNAME_MAX] = 'x';
    u[IDP_USERNAME_MAX + 1] = '\0';
    assert_false(idp_username_ok(u));
    assert_false(idp_username_ok(NULL));
}

static void email_rules(void **state)
{
    const char *good[] = {"alice@example.com", "a@b",         "a.b+tag@sub.example.co.uk",
                          "A_B-C@x-y.z",       "x@localhost", "o'hara@example.com"};
    const char *bad[] = {"",
                         "alice",
                         "@example.com",
                         "alice@",
                         "a@b@c",
                         "a b@example.com",
                         "alice@exa mple.com",
                         "alice@example.com\n",
                         "\"a\"@example.com",
                         "a<b@example.com",
                         "alice@.example.com",
                         "alice@example.com.",
                         "alice@example..com",
                         "a,b@example.com",
                         "a;b@example.com",
                         "a:b@example.com",
                         "a\\b@example.com",
                         "a(b)@example.com",
                         "al\xc3\xaf"
                         "ce@example.com",
                         "alice@[127.0.0.1]",
                         "a\tb@example.com",
                         "alice@example.com\r\nBcc: x@y"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        assert_true(idp_email_ok(good[i]));
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        if (idp_email_ok(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    char local[80];
    memset(local, 'l', 65);
    local[65] = '\0';
    char addr[100];
    snprintf(addr, sizeof addr, "%s@x.y", local);
    assert_false(idp_email_ok(addr)); /* local part over 64 */
    local[64] = '\0';
    snprintf(addr, sizeof addr, "%s@x.y", local);
    assert_true(idp_email_ok(addr));
}

static void group_name_rules(void **state)
{
    assert_true(idp_group_name_ok("staff"));
    assert_true(idp_group_name_ok("Domain Admins"));
    assert_true(idp_group_name_ok("\xc3\xa9quipe"));
    assert_false(idp_group_name_ok(""));
    assert_false(idp_group_name_ok(" staff"));
    assert_false(idp_group_name_ok("staff "));
    assert_false(idp_group_name_ok("sta\nff"));
    assert_false(idp_group_name_ok("sta\x7f"));
    assert_false(idp_group_name_ok("bad\xff"));
    assert_false(idp_group_name_ok(NULL));
}

/* Each invalid object gives IDP_E_INVALID, a message naming the field, and the node. */
static void upsert_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"[]", "users[3]: must be an object"},
        {"{}", "users[3].username: is required"},
        {"{\"username\": 5}", "users[3].username: must be a string"},
        {"{\"username\": \"a b\"}", "users[3].username: 1 to 150 letters, digits or . _ @ + -"},
        {"{\"username\": \"a\", \"emial\": \"x\"}", "users[3].emial: unknown field"},
        {"{\"username\": \"a\", \"email\": \"nope\"}", "users[3].email: not a valid email address"},
        {"{\"username\": \"a\", \"email\": 1}", "users[3].email: must be a string"},
        {"{\"username\": \"a\", \"name\": \"x\\ny\"}",
         "users[3].name: at most 256 bytes of text, no control characters or outer spaces"},
        {"{\"username\": \"a\", \"is_active\": \"yes\"}",
         "users[3].is_active: must be true or false"},
        {"{\"username\": \"a\", \"attributes\": []}", "users[3].attributes: must be an object"},
        {"{\"username\": \"a\", \"groups\": \"staff\"}",
         "users[3].groups: must be a list of group names"},
        {"{\"username\": \"a\", \"groups\": [\"ok\", 7]}",
         "users[3].groups[1]: not a valid group name"},
        {"{\"username\": \"a\", \"groups\": [\"x\", \"x\"]}",
         "users[3].groups[1]: \"x\" is listed twice"},
        {"{\"username\": \"a\", \"password\": \"short\"}",
         "users[3]: password: must be at least 8 characters long"},
        {"{\"username\": \"a\", \"password\": 12345678}", "users[3].password: must be a string"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        json_t *j = fx_json(cases[i].json);
        struct idp_upsert out;
        struct err e = {0};
        assert_int_equal(idp_user_upsert(f->s, j, "users[3]", &out, &e), -1);
        assert_int_equal(e.code, IDP_E_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
        assert_non_null(out.where);
        json_decref(j);
    }
    /* nothing was written */
    struct store_user_list l = {0};
    struct err e = {0};
    struct store_page pg = {0};
    assert_int_equal(store_user_list(f->s, &pg, &l, &e), 0);
    assert_int_equal(l.n, 0);
    store_user_list_free(&l);
}

static void group_upsert(void **state)
{
    struct fixture *f = *state;
    struct idp_upsert out;
    struct err e = {0};
    json_t *j = fx_json("{\"name\": \"staff\", \"attributes\": {\"level\": 2}}");
    assert_int_equal(idp_group_upsert(f->s, j, "groups[0]", &out, &e), 0);
    assert_true(out.created);
    assert_true(out.changed);
    int64_t id = out.id;
    assert_int_equal(idp_group_upsert(f->s, j, "groups[0]", &out, &e), 0);
    assert_false(out.created);
    assert_false(out.changed);
    assert_int_equal(out.id, id);
    json_decref(j);
    /* without attributes: kept */
    j = fx_json("{\"name\": \"staff\"}");
    assert_int_equal(idp_group_upsert(f->s, j, NULL, &out, &e), 0);
    assert_false(out.changed);
    json_decref(j);
    struct store_group g = {0};
    assert_int_equal(store_group_get_by_name(f->s, "staff", &g, &e), 0);
    assert_string_equal(g.attributes, "{\"level\":2}");
    store_group_free(&g);
    j = fx_json("{\"name\": \"staff\", \"attributes\": {}}");
    assert_int_equal(idp_group_upsert(f->s, j, NULL, &out, &e), 0);
    assert_true(out.changed);
    json_decref(j);
    static const char *bad[] = {"{\"name\": \" x\"}", "{\"name\": \"\"}", "{}",
                                "{\"name\": \"x\", \"users\": []}",
                                "{\"name\": \"x\", \"attributes\": 1}"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        j = fx_json(bad[i]);
        assert_int_equal(idp_group_upsert(f->s, j, "groups[1]", &out, &e), -1);
        assert_int_equal(e.code, IDP_E_INVALID);
        assert_true(strncmp(e.msg, "groups[1]", 9) == 0);
        json_decref(j);
    }
}

static void user_upsert_idempotent(void **state)
{
    struct fixture *f = *state;
    struct idp_upsert out;
    struct err e = {0};
    json_t *g = fx_json("{\"name\": \"staff\"}");
    assert_int_equal(idp_group_upsert(f->s, g, NULL, &out, &e), 0);
    json_decref(g);
    g = fx_json("{\"name\": \"admins\"}");
    assert_int_equal(idp_group_upsert(f->s, g, NULL, &out, &e), 0);
    json_decref(g);

    json_t *j = fx_json("{\"username\": \"alice\", \"name\": \"Alice Example\", "
                        "\"email\": \"alice@example.com\", \"password\": \"s3cret-pass\", "
                        "\"groups\": [\"staff\"], \"attributes\": {\"team\": \"blue\"}}");
    assert_int_equal(idp_user_upsert(f->s, j, "users[0]", &out, &e), 0);
    assert_true(out.created);
    assert_true(out.changed);
    assert_true(out.password_changed);
    int64_t id = out.id;
    struct store_user u = {0};
    assert_int_equal(store_user_get_by_name(f->s, "alice", &u, &e), 0);
    char *hash = xstrdup(u.password_hash);
    assert_true(u.is_active);
    assert_string_equal(u.name, "Alice Example");
    assert_string_equal(u.attributes, "{\"team\":\"blue\"}");
    assert_true(idp_password_verify(u.password_hash, SLICE_LIT("s3cret-pass")));

    /* a session, which an unchanged re-apply must keep */
    char *tok = NULL;
    assert_int_equal(
        idp_session_create(&f->idp, f->s, id, "[\"pwd\"]", "1.2.3.4", NULL, &tok, NULL, &e), 0);

    /* the same object again: nothing changes, not even the hash (no new salt) */
    assert_int_equal(idp_user_upsert(f->s, j, "users[0]", &out, &e), 0);
    assert_false(out.created);
    assert_false(out.changed);
    assert_false(out.password_changed);
    assert_int_equal(out.id, id);
    assert_int_equal(store_user_get_by_name(f->s, "alice", &u, &e), 0);
    assert_string_equal(u.password_hash, hash);
    struct idp_auth a = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), 0);
    json_decref(j);

    /* a partial update keeps the absent fields */
    j = fx_json(
        "{\"username\": \"alice\", \"groups\": [\"staff\", \"admins\"], \"is_active\": true}");
    assert_int_equal(idp_user_upsert(f->s, j, NULL, &out, &e), 0);
    assert_true(out.changed);
    assert_int_equal(store_user_get_by_name(f->s, "alice", &u, &e), 0);
    assert_string_equal(u.name, "Alice Example");
    assert_string_equal(u.email, "alice@example.com");
    assert_string_equal(u.password_hash, hash);
    struct store_group_list gl = {0};
    assert_int_equal(store_user_groups(f->s, id, &gl, &e), 0);
    assert_int_equal(gl.n, 2);
    assert_string_equal(gl.v[0].name, "admins");
    assert_string_equal(gl.v[1].name, "staff");
    json_decref(j);

    /* a new password: re-hashed, and the old sessions end */
    j = fx_json("{\"username\": \"alice\", \"password\": \"another-pass\", \"email\": null}");
    assert_int_equal(idp_user_upsert(f->s, j, NULL, &out, &e), 0);
    assert_true(out.password_changed);
    assert_int_equal(store_user_get_by_name(f->s, "alice", &u, &e), 0);
    assert_true(idp_password_verify(u.password_hash, SLICE_LIT("another-pass")));
    assert_string_equal(u.email, "");
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), STORE_NOT_FOUND);
    json_decref(j);

    /* groups: [] empties; an unknown group fails naming it, and changes nothing */
    j = fx_json(
        "{\"username\": \"alice\", \"groups\": [\"staff\", \"nope\"], \"name\": \"Changed\"}");
    assert_int_equal(idp_user_upsert(f->s, j, "users[0]", &out, &e), -1);
    assert_int_equal(e.code, IDP_E_INVALID);
    assert_non_null(strstr(e.msg, "users[0].groups"));
    assert_non_null(strstr(e.msg, "nope"));
    assert_non_null(out.where);
    assert_int_equal(store_user_get_by_name(f->s, "alice", &u, &e), 0);
    assert_string_equal(u.name, "Alice Example"); /* rolled back */
    json_decref(j);
    j = fx_json("{\"username\": \"alice\", \"groups\": []}");
    assert_int_equal(idp_user_upsert(f->s, j, NULL, &out, &e), 0);
    assert_int_equal(store_user_groups(f->s, id, &gl, &e), 0);
    assert_int_equal(gl.n, 0);
    json_decref(j);

    /* a second user with alice's email: the store's constraint, with the path */
    j = fx_json("{\"username\": \"bob\", \"email\": \"bob@example.com\"}");
    assert_int_equal(idp_user_upsert(f->s, j, NULL, &out, &e), 0);
    assert_true(out.created);
    json_decref(j);
    j = fx_json("{\"username\": \"alice\", \"email\": \"BOB@example.com\"}");
    assert_int_equal(idp_user_upsert(f->s, j, "users[0]", &out, &e), -1);
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_true(strncmp(e.msg, "users[0]: ", 10) == 0);
    json_decref(j);

    /* a new user without password cannot log in with any */
    assert_int_equal(store_user_get_by_name(f->s, "bob", &u, &e), 0);
    assert_string_equal(u.password_hash, "");
    assert_true(u.is_active);

    store_group_list_free(&gl);
    idp_auth_free(&a);
    util_free_secret(tok);
    free(hash);
    store_user_free(&u);
}

/* Inside the caller's transaction (postern apply): no nested BEGIN, the caller commits. */
static void upsert_in_caller_tx(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    struct idp_upsert out;
    assert_int_equal(store_tx_begin(f->s, &e), 0);
    json_t *j = fx_json("{\"username\": \"carol\"}");
    assert_int_equal(idp_user_upsert(f->s, j, NULL, &out, &e), 0);
    assert_int_equal(store_tx_rollback(f->s, &e), 0);
    struct store_user u = {0};
    assert_int_equal(store_user_get_by_name(f->s, "carol", &u, &e), STORE_NOT_FOUND);
    json_decref(j);
    store_user_free(&u);
}

static void set_password(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    int64_t id = fx_user(f->s, "dave", NULL, NULL, true);
    char *tok = NULL;
    assert_int_equal(
        idp_session_create(&f->idp, f->s, id, "[\"pwd\"]", "::1", NULL, &tok, NULL, &e), 0);
    assert_int_equal(idp_user_set_password(f->s, id, SLICE_LIT("short"), &e), -1);
    assert_string_equal(e.msg, "password: must be at least 8 characters long");
    assert_int_equal(idp_user_set_password(f->s, id, SLICE_LIT("long enough"), &e), 0);
    struct store_user u = {0};
    assert_int_equal(store_user_get_by_id(f->s, id, &u, &e), 0);
    assert_true(idp_password_verify(u.password_hash, SLICE_LIT("long enough")));
    struct idp_auth a = {0};
    assert_int_equal(idp_auth_from_cookie(&f->idp, f->s, slice_z(tok), &a, &e), STORE_NOT_FOUND);
    assert_int_equal(idp_user_set_password(f->s, id + 100, SLICE_LIT("long enough"), &e),
                     STORE_NOT_FOUND);
    store_user_free(&u);
    util_free_secret(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(username_rules),
        cmocka_unit_test(email_rules),
        cmocka_unit_test(group_name_rules),
        cmocka_unit_test_setup_teardown(upsert_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(group_upsert, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(user_upsert_idempotent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(upsert_in_caller_tx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(set_password, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
