/* Tests of src/idp/password.c: argon2id hashes, verification, re-hash, the dummy path. */
#include "helpers.h"

#include <sodium.h>
#include <time.h>

#define PW "correct horse battery staple"

static void policy(void **state)
{
    struct err e = {0};
    assert_int_equal(idp_password_policy(SLICE_LIT("12345678"), &e), 0);
    assert_int_equal(idp_password_policy(SLICE_LIT("1234567"), &e), -1);
    assert_int_equal(e.code, IDP_E_INVALID);
    assert_string_equal(e.msg, "password: must be at least 8 characters long");
    /* characters, not bytes: 8 two-byte characters pass, 7 do not */
    assert_int_equal(
        idp_password_policy(
            slice_z("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), &e),
        0);
    assert_int_equal(idp_password_policy(
                         slice_z("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), &e),
                     -1);
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\n"), &e), -1);
    assert_string_equal(e.msg, "password: control characters are not allowed");
    assert_int_equal(idp_password_policy((struct slice){"abcd\0efgh", 9}, &e), -1);
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\x7f"), &e), -1);
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\xc2\x85"), &e), -1); /* C1 NEL */
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\xff"), &e), -1);
    assert_string_equal(e.msg, "password: not valid UTF-8");
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\xc0\xaf"), &e), -1); /* overlong */
    assert_int_equal(idp_password_policy(SLICE_LIT("abcdefgh\xed\xa0\x80"), &e),
                     -1); /* surrogate */
    char big[IDP_PASSWORD_MAX + 2];
    memset(big, 'a', sizeof big);
    assert_int_equal(idp_password_policy((struct slice){big, IDP_PASSWORD_MAX}, &e), 0);
    assert_int_equal(idp_password_policy((struct slice){big, IDP_PASSWORD_MAX + 1}, &e), -1);
    /* no message ever holds the password */
    assert_null(strstr(e.msg, "aaaa"));
}

static void hash_and_verify(void **state)
{
    struct err e = {0};
    char *h1 = idp_password_hash(SLICE_LIT(PW), &e);
    char *h2 = idp_password_hash(SLICE_LIT(PW), &e);
    assert_non_null(h1);
    assert_non_null(h2);
    assert_true(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_string_not_equal(h1, h2); /* random salt */
    assert_true(idp_password_verify(h1, SLICE_LIT(PW)));
    assert_true(idp_password_verify(h2, SLICE_LIT(PW)));
    assert_false(idp_password_verify(h1, SLICE_LIT(PW "x")));
    assert_false(idp_password_verify(h1, SLICE_LIT("correct horse battery stapl")));
    assert_false(idp_password_verify(h1, SLICE_LIT("")));
    assert_false(idp_password_needs_rehash(h1));
    /* a tampered hash never verifies */
    h1[strlen(h1) - 2] = h1[strlen(h1) - 2] == 'A' ? 'B' : 'A';
    assert_false(idp_password_verify(h1, SLICE_LIT(PW)));
    free(h1);
    free(h2);
    char big[IDP_PASSWORD_MAX + 1];
    memset(big, 'a', sizeof big);
    assert_null(idp_password_hash((struct slice){big, sizeof big}, &e));
}

static void needs_rehash(void **state)
{
    char phc[crypto_pwhash_STRBYTES];
    /* more passes */
    assert_int_equal(crypto_pwhash_str_alg(phc, PW, strlen(PW), 3, IDP_PWHASH_MEMLIMIT,
                                           crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_true(idp_password_verify(phc, SLICE_LIT(PW)));
    assert_true(idp_password_needs_rehash(phc));
    /* less memory */
    assert_int_equal(crypto_pwhash_str_alg(phc, PW, strlen(PW), IDP_PWHASH_OPSLIMIT,
                                           8 * 1024 * 1024, crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_true(idp_password_verify(phc, SLICE_LIT(PW)));
    assert_true(idp_password_needs_rehash(phc));
    /* argon2i (an import): verifies, and is re-hashed to argon2id */
    assert_int_equal(crypto_pwhash_str_alg(phc, PW, strlen(PW), 3, IDP_PWHASH_MEMLIMIT,
                                           crypto_pwhash_ALG_ARGON2I13),
                     0);
    assert_true(strncmp(phc, "$argon2i$", 9) == 0);
    assert_true(idp_password_verify(phc, SLICE_LIT(PW)));
    assert_true(idp_password_needs_rehash(phc));
    /* another kind of hash: never verifies, re-hash wanted */
    const char *bcrypt = "$2y$10$abcdefghijklmnopqrstuuJ2m6yE0Jd1H6v2yJ5uY7k6o1a5V8fKe";
    assert_false(idp_password_verify(bcrypt, SLICE_LIT(PW)));
    assert_true(idp_password_needs_rehash(bcrypt));
    assert_false(idp_password_needs_rehash(""));
    assert_false(idp_password_needs_rehash(NULL));
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The dummy path does the work of a real verification: an unknown user is not faster. */
static void dummy_verify(void **state)
{
    struct err e = {0};
    char *h = idp_password_hash(SLICE_LIT(PW), &e);
    assert_false(idp_password_verify(NULL, SLICE_LIT(PW)));
    assert_false(idp_password_verify("", SLICE_LIT(PW)));
    double real = 1e9, dummy = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = secs();
        assert_false(idp_password_verify(h, SLICE_LIT("wrong password")));
        double t1 = secs();
        assert_false(idp_password_verify(NULL, SLICE_LIT("wrong password")));
        double t2 = secs();
        real = t1 - t0 < real ? t1 - t0 : real;
        dummy = t2 - t1 < dummy ? t2 - t1 : dummy;
    }
    print_message("# verify: real %.1f ms, dummy %.1f ms\n", real * 1e3, dummy * 1e3);
    assert_true(dummy > real * 0.5);
    assert_true(dummy < real * 2.0);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy),
        cmocka_unit_test(hash_and_verify),
        cmocka_unit_test(needs_rehash),
        cmocka_unit_test(dummy_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
