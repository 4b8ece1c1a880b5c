/* Algorithm names (RFC 7518 section 3.1, RFC 8037 section 3.1): only asymmetric ones exist. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void names_round_trip(void **state)
{
    static const char *const names[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "ES512", "EdDSA"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        enum jose_alg a = jose_alg_from_name(slice_z(names[i]));
        assert_int_not_equal(a, JOSE_ALG_UNKNOWN);
        assert_string_equal(jose_alg_name(a), names[i]);
    }
    assert_int_equal(jose_alg_from_name(SLICE_LIT("RS256")), JOSE_ALG_RS256);
    assert_int_equal(jose_alg_from_name(SLICE_LIT("EdDSA")), JOSE_ALG_EDDSA);
}

static void none_hmac_and_lookalikes_are_unknown(void **state)
{
    static const char *const bad[] = {"none",  "None",   "NONE",    "HS256", "HS384",    "HS512",
                                      "rs256", "RS256 ", " RS256",  "RS25",  "RS2566",   "ES256K",
                                      "EDDSA", "eddsa",  "Ed25519", "dir",   "RSA-OAEP", ""};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        assert_int_equal(jose_alg_from_name(slice_z(bad[i])), JOSE_ALG_UNKNOWN);
    }
    /* A NUL inside the name must not make "RS256\0x" match "RS256". */
    assert_int_equal(jose_alg_from_name((struct slice){"RS256\0x", 7}), JOSE_ALG_UNKNOWN);
    assert_string_equal(jose_alg_name(JOSE_ALG_UNKNOWN), "unknown");
    assert_string_equal(jose_alg_name((enum jose_alg)999), "unknown");
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(none_hmac_and_lookalikes_are_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
