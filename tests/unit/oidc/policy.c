/*
 * Unit tests of src/oidc/policy.c: application bindings, policy_engine_mode any | all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "oidc/oidc.h"

#define ALICE 1
#define BOB   2
#define STAFF 10
#define ADMIN 11

static const int64_t alice_groups[] = {STAFF};
static const int64_t bob_groups[] = {STAFF, ADMIN};

static bool alice_ok(const char *mode, const struct store_binding *b, size_t n)
{
    return oidc_policy_allows(mode, b, n, ALICE, alice_groups, 1);
}

static bool bob_ok(const char *mode, const struct store_binding *b, size_t n)
{
    return oidc_policy_allows(mode, b, n, BOB, bob_groups, 2);
}

static void test_none_bound_is_everyone(void **state)
{
    (void)state;
    assert_true(alice_ok("any", NULL, 0));
    assert_true(alice_ok("all", NULL, 0));
    assert_true(oidc_policy_allows("any", NULL, 0, 99, NULL, 0));
    /* Only disabled bindings: none counts (Authentik filters enabled=True). */
    struct store_binding off[] = {{.user_id = BOB, .enabled = false}};
    assert_true(alice_ok("any", off, 1));
}

static void test_any(void **state)
{
    (void)state;
    struct store_binding b[] = {
        {.order = 0, .user_id = BOB, .enabled = true},
        {.order = 1, .group_id = ADMIN, .enabled = true},
    };
    assert_false(alice_ok("any", b, 2));
    assert_true(bob_ok("any", b, 2));
    struct store_binding g[] = {{.group_id = STAFF, .enabled = true}};
    assert_true(alice_ok("any", g, 1));
    assert_true(bob_ok("any", g, 1));
    /* unknown mode: any */
    assert_true(alice_ok("whatever", g, 1));
    assert_true(alice_ok(NULL, g, 1));
}

static void test_all(void **state)
{
    (void)state;
    struct store_binding b[] = {
        {.group_id = STAFF, .enabled = true},
        {.group_id = ADMIN, .enabled = true},
    };
    assert_false(alice_ok("all", b, 2)); /* staff, not admin */
    assert_true(bob_ok("all", b, 2));
    assert_true(alice_ok("any", b, 2));
    /* a disabled binding does not count */
    b[1].enabled = false;
    assert_true(alice_ok("all", b, 2));
}

static void test_negate(void **state)
{
    (void)state;
    struct store_binding b[] = {{.group_id = ADMIN, .negate = true, .enabled = true}};
    assert_true(alice_ok("any", b, 1)); /* not an admin: passes */
    assert_false(bob_ok("any", b, 1));  /* admin: fails */
    struct store_binding u[] = {
        {.group_id = STAFF, .enabled = true},
        {.user_id = BOB, .negate = true, .enabled = true},
    };
    assert_true(alice_ok("all", u, 2));
    assert_false(bob_ok("all", u, 2));
}

static void test_deleted_target_fails_closed(void **state)
{
    (void)state;
    /* The only bound user was deleted: nobody, not everyone; negated or not. */
    struct store_binding b[] = {{.user_id = 0, .group_id = 0, .enabled = true}};
    assert_false(alice_ok("any", b, 1));
    assert_false(alice_ok("all", b, 1));
    b[0].negate = true;
    assert_false(alice_ok("any", b, 1));
    assert_false(bob_ok("any", b, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_bound_is_everyone),
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_negate),
        cmocka_unit_test(test_deleted_target_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
