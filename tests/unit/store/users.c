/* Tests of users, groups and memberships through store.h, on either backend (sqlite_users.c,
 * pg_users.c; see testdb.h). */
#include "testdb.h"

static void user_create_and_lookups(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_user u = {
        .username = "alice",
        .name = "Alice Example",
        .email = "Alice@Example.com",
        .is_active = true,
        .attributes = "{\"team\":\"ops\"}",
        .password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    };
    OK(store_user_create(s, &u, &e));
    assert_true(u.id > 0);
    assert_int_equal(u.created_at, T0);
    assert_int_equal(u.updated_at, T0);
    assert_int_equal(u.password_changed_at, T0);
    /* a random version 4 UUID */
    assert_int_equal(strlen(u.uuid), 36);
    assert_int_equal(u.uuid[14], '4');
    assert_non_null(strchr("89ab", u.uuid[19]));

    struct store_user g = {0};
    OK(store_user_get_by_id(s, u.id, &g, &e));
    assert_string_equal(g.username, "alice");
    assert_string_equal(g.name, "Alice Example");
    assert_string_equal(g.email, "Alice@Example.com");
    assert_string_equal(g.attributes, "{\"team\":\"ops\"}");
    assert_string_equal(g.password_hash, u.password_hash);
    assert_string_equal(g.uuid, u.uuid);
    assert_true(g.is_active);
    /* the record is refilled, not leaked, when reused */
    OK(store_user_get_by_name(s, "alice", &g, &e));
    assert_int_equal(g.id, u.id);
    RC(STORE_NOT_FOUND, store_user_get_by_name(s, "Alice", &g, &e)); /* usernames are exact */
    RC(STORE_NOT_FOUND, store_user_get_by_id(s, 999, &g, &e));

    /* the login form: username, or email in any ASCII case */
    OK(store_user_get_by_login(s, "alice", &g, &e));
    assert_int_equal(g.id, u.id);
    OK(store_user_get_by_login(s, "ALICE@example.COM", &g, &e));
    assert_int_equal(g.id, u.id);
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "", &g, &e));
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "alice@example.co", &g, &e));

    /* defaults: no email, no password, empty attributes */
    struct store_user b = {.username = "bob", .is_active = false};
    OK(store_user_create(s, &b, &e));
    OK(store_user_get_by_id(s, b.id, &g, &e));
    assert_string_equal(g.email, "");
    assert_string_equal(g.password_hash, "");
    assert_string_equal(g.attributes, "{}");
    assert_string_equal(g.name, "");
    assert_false(g.is_active);
    assert_int_equal(g.password_changed_at, 0);
    assert_string_not_equal(g.uuid, u.uuid);
    /* an empty email never matches the login of another empty email */
    RC(STORE_NOT_FOUND, store_user_get_by_login(s, "", &g, &e));

    /* a username equal to another user's email wins over the email */
    struct store_user c = {.username = "alice@example.com", .is_active = true};
    OK(store_user_create(s, &c, &e));
    OK(store_user_get_by_login(s, "alice@example.com", &g, &e));
    assert_int_equal(g.id, c.id);

    /* a given UUID is kept (store import) */
    struct store_user d = {.username = "dora", .uuid = "123e4567-e89b-42d3-a456-426614174000"};
    OK(store_user_create(s, &d, &e));
    OK(store_user_get_by_name(s, "dora", &g, &e));
    assert_string_equal(g.uuid, "123e4567-e89b-42d3-a456-426614174000");
    struct store_user bad = {.username = "eve", .uuid = "short"};
    RC(-1, store_user_create(s, &bad, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    store_user_free(&g);
    store_user_free(&g); /* a freed record is zeroed: freeing twice is fine */
    store_close(s);
}

static void user_uniqueness_names_the_field(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    tdb_user(s, "alice", "alice@example.com");
    tdb_user(s, "nomail1", "");
    tdb_user(s, "nomail2", ""); /* many users without email */

    struct store_user u = {.username = "alice", .email = "other@example.com"};
    RC(-1, store_user_create(s, &u, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "username already exists");
    assert_int_equal(u.uuid[0], '\0'); /* the generated UUID is dropped with the row */

    struct store_user v = {.username = "alice2", .email = "ALICE@EXAMPLE.COM"};
    RC(-1, store_user_create(s, &v, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "email already used by another user");

    struct store_user w = {.username = ""};
    RC(-1, store_user_create(s, &w, &e));
    assert_string_equal(e.msg, "username must not be empty");

    /* an update may not take another user's email or name either */
    struct store_user x = {.username = "xavier", .email = "x@example.com"};
    OK(store_user_create(s, &x, &e));
    x.email = "Alice@example.com";
    RC(-1, store_user_update(s, &x, &e));
    assert_string_equal(e.msg, "email already used by another user");
    x.email = "x@example.com";
    x.username = "alice";
    RC(-1, store_user_update(s, &x, &e));
    assert_string_equal(e.msg, "username already exists");
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM users"), 4);
    store_close(s);
}

static void user_json_and_limits(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_user u = {.username = "a", .attributes = "[1,2]"};
    RC(-1, store_user_create(s, &u, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "attributes must be a JSON object");
    u.attributes = "{\"a\":1,\"a\":2}"; /* duplicate keys are refused like everywhere */
    RC(-1, store_user_create(s, &u, &e));
    u.attributes = "{not json";
    RC(-1, store_user_create(s, &u, &e));

    char *big = malloc(STORE_TEXT_MAX + 2);
    memset(big, 'n', STORE_TEXT_MAX + 1);
    big[STORE_TEXT_MAX + 1] = '\0';
    u.attributes = NULL;
    u.name = big;
    RC(-1, store_user_create(s, &u, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    big[STORE_TEXT_MAX] = '\0';
    OK(store_user_create(s, &u, &e));
    free(big);

    /* SQL metacharacters are data */
    struct store_user q = {.username = "q'; DROP TABLE users; --", .name = "x\"y"};
    OK(store_user_create(s, &q, &e));
    struct store_user g = {0};
    OK(store_user_get_by_login(s, "q'; DROP TABLE users; --", &g, &e));
    assert_string_equal(g.name, "x\"y");
    store_user_free(&g);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM users"), 2);
    store_close(s);
}

static void user_update_password_list_delete(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_user u = {
        .username = "carol", .password_hash = "$argon2id$old", .is_active = true};
    OK(store_user_create(s, &u, &e));

    util_set_fake_now(T0 + 10);
    u.name = "Carol C.";
    u.email = "carol@example.com";
    u.is_active = false;
    u.password_hash = ""; /* ignored by update: a file without a password keeps it */
    OK(store_user_update(s, &u, &e));
    assert_int_equal(u.updated_at, T0 + 10);
    struct store_user g = {0};
    OK(store_user_get_by_id(s, u.id, &g, &e));
    assert_string_equal(g.name, "Carol C.");
    assert_false(g.is_active);
    assert_string_equal(g.password_hash, "$argon2id$old");
    assert_int_equal(g.password_changed_at, T0);
    assert_int_equal(g.created_at, T0);

    util_set_fake_now(T0 + 20);
    OK(store_user_set_password(s, u.id, "$argon2id$new", &e));
    OK(store_user_get_by_id(s, u.id, &g, &e));
    assert_string_equal(g.password_hash, "$argon2id$new");
    assert_int_equal(g.password_changed_at, T0 + 20);
    RC(STORE_NOT_FOUND, store_user_set_password(s, 999, "$x", &e));
    struct store_user ghost = {.id = 999, .username = "ghost"};
    RC(STORE_NOT_FOUND, store_user_update(s, &ghost, &e));

    /* list: ordered by username, paged */
    const char *names[] = {"eve", "dave", "bob", "frank"};
    for (size_t i = 0; i < 4; i++)
        tdb_user(s, names[i], "");
    struct store_user_list l = {0};
    OK(store_user_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].username, "bob");
    assert_string_equal(l.v[4].username, "frank");
    OK(store_user_list(s, &(struct store_page){.limit = 2, .offset = 2}, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].username, "dave");
    assert_string_equal(l.v[1].username, "eve");
    OK(store_user_list(s, &(struct store_page){.limit = 2, .offset = 10}, &l, &e));
    assert_int_equal(l.n, 0);
    store_user_list_free(&l);

    OK(store_user_delete(s, u.id, &e));
    RC(STORE_NOT_FOUND, store_user_delete(s, u.id, &e));
    RC(STORE_NOT_FOUND, store_user_get_by_id(s, u.id, &g, &e));
    store_user_free(&g);
    store_close(s);
}

static void groups_and_memberships(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t alice = tdb_user(s, "alice", ""), bob = tdb_user(s, "bob", "");
    bool created = false;
    struct store_group staff = {.name = "staff"}, admins = {.name = "admins"};
    OK(store_group_upsert(s, &staff, &created, &e));
    assert_true(created);
    assert_true(staff.id > 0);
    OK(store_group_upsert(s, &admins, NULL, &e));

    util_set_fake_now(T0 + 5);
    struct store_group again = {.name = "staff", .attributes = "{\"x\":1}"};
    OK(store_group_upsert(s, &again, &created, &e));
    assert_false(created);
    assert_int_equal(again.id, staff.id);
    assert_int_equal(again.created_at, T0);
    assert_int_equal(again.updated_at, T0 + 5);
    struct store_group g = {0};
    OK(store_group_get_by_name(s, "staff", &g, &e));
    assert_string_equal(g.attributes, "{\"x\":1}");
    OK(store_group_get_by_id(s, admins.id, &g, &e));
    assert_string_equal(g.name, "admins");
    RC(STORE_NOT_FOUND, store_group_get_by_name(s, "nope", &g, &e));
    struct store_group empty = {.name = ""};
    RC(-1, store_group_upsert(s, &empty, NULL, &e));
    assert_string_equal(e.msg, "group name must not be empty");

    OK(store_member_add(s, alice, staff.id, &e));
    OK(store_member_add(s, alice, staff.id, &e)); /* idempotent */
    OK(store_member_add(s, alice, admins.id, &e));
    OK(store_member_add(s, bob, staff.id, &e));
    RC(-1, store_member_add(s, alice, 999, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    RC(-1, store_member_add(s, 999, staff.id, &e));

    struct store_group_list gl = {0};
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 2);
    assert_string_equal(gl.v[0].name, "admins");
    assert_string_equal(gl.v[1].name, "staff");
    struct store_user_list ul = {0};
    OK(store_group_members(s, staff.id, NULL, &ul, &e));
    assert_int_equal(ul.n, 2);
    assert_string_equal(ul.v[0].username, "alice");
    assert_string_equal(ul.v[1].username, "bob");
    OK(store_group_members(s, staff.id, &(struct store_page){.limit = 1, .offset = 1}, &ul, &e));
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.v[0].username, "bob");

    OK(store_member_remove(s, bob, staff.id, &e));
    RC(STORE_NOT_FOUND, store_member_remove(s, bob, staff.id, &e));

    /* set_groups: exactly these, atomically; an unknown name changes nothing */
    const char *want[] = {"staff"};
    OK(store_user_set_groups(s, alice, want, 1, &e));
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 1);
    assert_string_equal(gl.v[0].name, "staff");
    const char *bad[] = {"admins", "no-such-group"};
    RC(STORE_NOT_FOUND, store_user_set_groups(s, alice, bad, 2, &e));
    assert_non_null(strstr(e.msg, "no-such-group"));
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 1);
    assert_string_equal(gl.v[0].name, "staff");
    OK(store_user_set_groups(s, alice, NULL, 0, &e));
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 0);

    /* list, delete: memberships go with the group */
    OK(store_user_set_groups(s, alice, (const char *[]){"staff", "admins"}, 2, &e));
    OK(store_group_list(s, NULL, &gl, &e));
    assert_int_equal(gl.n, 2);
    assert_string_equal(gl.v[0].name, "admins");
    OK(store_group_delete(s, staff.id, &e));
    RC(STORE_NOT_FOUND, store_group_delete(s, staff.id, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM group_members"), 1);
    /* and with the user */
    OK(store_user_delete(s, alice, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM group_members"), 0);
    store_group_list_free(&gl);
    store_user_list_free(&ul);
    store_group_free(&g);
    store_close(s);
}

static void outer_transaction_wraps_calls(void **state)
{
    /* `postern apply` runs in one transaction: atomic functions use a savepoint inside it,
     * and a rollback undoes everything. */
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t alice = tdb_user(s, "alice", "");
    OK(store_tx_begin(s, &e));
    struct store_group g = {.name = "staff"};
    OK(store_group_upsert(s, &g, NULL, &e));
    OK(store_user_set_groups(s, alice, (const char *[]){"staff"}, 1, &e));
    RC(STORE_NOT_FOUND, store_user_set_groups(s, alice, (const char *[]){"nope"}, 1, &e));
    /* the failed call rolled back its savepoint only */
    struct store_group_list gl = {0};
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 1);
    OK(store_tx_rollback(s, &e));
    OK(store_user_groups(s, alice, &gl, &e));
    assert_int_equal(gl.n, 0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM idp_groups"), 0);
    store_group_list_free(&gl);
    store_close(s);
}

/* store_user_import keeps the id (the sub of sub_mode user_id) and the uuid; a user created
 * afterwards gets a fresh id (PostgreSQL: the identity sequence moved past the kept ids). */
static void import_keeps_the_id(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_user u = {.username = "kept", .id = 4711, .is_active = true};
    snprintf(u.uuid, sizeof(u.uuid), "%s", "6f1c7e2a-2b7d-4a3e-9c1b-0d2e3f4a5b6c");
    OK(store_user_import(s, &u, &e));
    assert_int_equal(u.id, 4711);
    struct store_user got = {0};
    OK(store_user_get_by_name(s, "kept", &got, &e));
    assert_int_equal(got.id, 4711);
    assert_string_equal(got.uuid, "6f1c7e2a-2b7d-4a3e-9c1b-0d2e3f4a5b6c");
    int64_t next = tdb_user(s, "next", "");
    assert_true(next > 4711);
    struct store_user dup = {.username = "other", .id = 4711};
    RC(-1, store_user_import(s, &dup, &e));
    assert_string_equal(e.msg, "id already used by another user");
    struct store_user neg = {.username = "neg", .id = -1};
    RC(-1, store_user_import(s, &neg, &e));
    /* store_user_create ignores a leftover id */
    struct store_user again = {.username = "again", .id = 4711};
    OK(store_user_create(s, &again, &e));
    assert_true(again.id > next);
    store_user_free(&got);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_create_and_lookups),
        cmocka_unit_test(user_uniqueness_names_the_field),
        cmocka_unit_test(user_json_and_limits),
        cmocka_unit_test(user_update_password_list_delete),
        cmocka_unit_test(groups_and_memberships),
        cmocka_unit_test(outer_transaction_wraps_calls),
        cmocka_unit_test(import_keeps_the_id),
    };
    return TDB_RUN(tests);
}
