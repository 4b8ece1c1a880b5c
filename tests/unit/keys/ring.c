/* Tests of src/keys/ring.c: signing by kid, lookups, removal, concurrent use. */
#include "helpers.h"

#include <pthread.h>

static void sign_verifies_with_published_jwk(void **state)
{
    struct keys *r = keys_new();
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all_algs); i++) {
        char kid[KEYS_KID_MAX], name[16];
        snprintf(name, sizeof(name), "k%zu", i);
        gen_ok(r, name, all_algs[i], kid);
        struct jose_jwk *pub = public_jwk(r, kid);
        assert_int_equal(jose_jwk_alg(pub), all_algs[i]);
        assert_string_equal(jose_jwk_kid(pub), kid);
        assert_int_equal(sign_and_verify(r, kid, pub, "header.payload"), 0);

        /* a signature is over these bytes and no others */
        uint8_t sig[JOSE_SIG_MAX];
        size_t siglen = 0;
        struct err e = {0};
        assert_int_equal(keys_sign(r, kid, "abc", 3, sig, &siglen, &e), 0);
        assert_int_equal(siglen, all_algs[i] == JOSE_ALG_RS256 ? 256 : 64); /* R||S for ES256 */
        assert_int_not_equal(
            jose_verify_raw(jose_jwk_pkey(pub), all_algs[i], "abd", 3, sig, siglen, &e), 0);
        sig[siglen - 1] ^= 1;
        assert_int_not_equal(
            jose_verify_raw(jose_jwk_pkey(pub), all_algs[i], "abc", 3, sig, siglen, &e), 0);
        jose_jwk_free(pub);
    }
    keys_free(r);
}

static void another_keys_jwk_does_not_verify(void **state)
{
    struct keys *r = keys_new();
    char a[KEYS_KID_MAX], b[KEYS_KID_MAX];
    gen_ok(r, "a", JOSE_ALG_ES256, a);
    gen_ok(r, "b", JOSE_ALG_ES256, b);
    struct jose_jwk *pub_b = public_jwk(r, b);
    assert_int_not_equal(sign_and_verify(r, a, pub_b, "msg"), 0);
    jose_jwk_free(pub_b);
    keys_free(r);
}

static void unknown_kid_is_an_error(void **state)
{
    struct keys *r = keys_new();
    uint8_t sig[JOSE_SIG_MAX];
    size_t siglen = 0;
    struct err e = {0};
    struct keys_info info;
    char kid[KEYS_KID_MAX];
    gen_ok(r, "only", JOSE_ALG_EDDSA, kid);

    assert_int_equal(keys_sign(r, "no-such-kid", "x", 1, sig, &siglen, &e), -1);
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_non_null(strstr(e.msg, "unknown kid"));
    assert_int_equal(keys_sign(r, NULL, "x", 1, sig, &siglen, &e), -1);
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_int_equal(keys_sign(r, "", "x", 1, sig, &siglen, &e), -1);
    /* a kid is matched exactly: no prefix, no case folding */
    char prefix[KEYS_KID_MAX];
    snprintf(prefix, sizeof(prefix), "%.20s", kid);
    assert_int_equal(keys_sign(r, prefix, "x", 1, sig, &siglen, &e), -1);
    assert_int_equal(keys_get(r, "nope", &info, &e), -1);
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_null(keys_jwk_json(r, "nope", &e));
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_int_equal(keys_remove(r, "nope", &e), -1);
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_int_equal(keys_find_name(r, "other", &info, &e), -1);
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    assert_int_equal(keys_find_name(r, "only", &info, &e), 0);
    assert_string_equal(info.kid, kid);
    keys_free(r);
}

static void remove_stops_signing(void **state)
{
    struct keys *r = keys_new();
    char a[KEYS_KID_MAX], b[KEYS_KID_MAX], c[KEYS_KID_MAX];
    uint8_t sig[JOSE_SIG_MAX];
    size_t siglen;
    struct err e = {0};
    struct keys_info list[4];
    gen_ok(r, "a", JOSE_ALG_EDDSA, a);
    gen_ok(r, "b", JOSE_ALG_EDDSA, b);
    gen_ok(r, "c", JOSE_ALG_EDDSA, c);
    assert_int_equal(keys_remove(r, b, &e), 0);
    assert_int_equal(keys_sign(r, b, "x", 1, sig, &siglen, &e), -1);
    assert_int_equal(keys_sign(r, a, "x", 1, sig, &siglen, &e), 0);
    assert_int_equal(keys_list(r, list, 4), 2);
    assert_string_equal(list[0].kid, a); /* insertion order kept */
    assert_string_equal(list[1].kid, c);
    /* the name is free again */
    gen_ok(r, "b", JOSE_ALG_ES256, NULL);
    assert_int_equal(keys_list(r, list, 1), 3); /* count even when max is smaller */
    keys_free(r);
    keys_free(NULL);
}

static void jws_sign_with_the_keys_alg(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all_algs); i++) {
        char kid[KEYS_KID_MAX], name[16];
        snprintf(name, sizeof(name), "j%zu", i);
        gen_ok(r, name, all_algs[i], kid);
        char *tok = keys_jws_sign(r, kid, "JWT", SLICE_LIT("{\"sub\":\"alice\"}"), &e);
        if (!tok)
            fail_msg("keys_jws_sign: %s", e.msg);
        struct jose_jws jws;
        assert_int_equal(jose_jws_parse(slice_z(tok), &jws, &e), 0);
        assert_int_equal(jws.alg, all_algs[i]);
        assert_string_equal(jws.kid, kid);
        struct jose_jwk *pub = public_jwk(r, kid);
        assert_int_equal(jose_jws_verify(&jws, pub, &e), 0);
        jose_jwk_free(pub);
        jose_jws_free(&jws);
        free(tok);

        /* through the generic signer interface */
        struct keys_signer_ctx ctx = {r, kid};
        tok = jose_jws_sign(all_algs[i], kid, NULL, SLICE_LIT("{}"), keys_signer, &ctx, &e);
        assert_non_null(tok);
        free(tok);
    }
    assert_null(keys_jws_sign(r, "missing", NULL, SLICE_LIT("{}"), &e));
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    keys_free(r);
}

/* ---- concurrency ------------------------------------------------------- */

#define SIGNERS    4
#define SIGNS_EACH 150

struct signer_arg {
    struct keys *ring;
    const char *kid;
    const struct jose_jwk *pub;
    int bad;
};

static void *signer_thread(void *p)
{
    struct signer_arg *a = p;
    char msg[32];
    for (int i = 0; i < SIGNS_EACH; i++) {
        uint8_t sig[JOSE_SIG_MAX];
        size_t siglen = 0;
        struct err e = {0};
        snprintf(msg, sizeof(msg), "m%d", i);
        if (keys_sign(a->ring, a->kid, msg, strlen(msg), sig, &siglen, &e) < 0 ||
            jose_verify_raw(jose_jwk_pkey(a->pub), jose_jwk_alg(a->pub), msg, strlen(msg), sig,
                            siglen, &e) != 0)
            a->bad++;
    }
    return NULL;
}

static void concurrent_sign_during_rotation(void **state)
{
    struct keys *r = keys_new();
    char kid[KEYS_KID_MAX];
    struct err e = {0};
    gen_ok(r, "shared", JOSE_ALG_ES256, kid);
    struct jose_jwk *pub = public_jwk(r, kid);
    pthread_t t[SIGNERS];
    struct signer_arg a[SIGNERS];
    for (int i = 0; i < SIGNERS; i++) {
        a[i] = (struct signer_arg){r, kid, pub, 0};
        assert_int_equal(pthread_create(&t[i], NULL, signer_thread, &a[i]), 0);
    }
    /* meanwhile: keys come and go, JWKS are exported */
    for (int i = 0; i < 20; i++) {
        char other[KEYS_KID_MAX];
        gen_ok(r, "rotating", JOSE_ALG_EDDSA, other);
        json_t *jwks = keys_jwks_json(r, NULL, &e);
        assert_non_null(jwks);
        json_decref(jwks);
        assert_int_equal(keys_remove(r, other, &e), 0);
    }
    for (int i = 0; i < SIGNERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    jose_jwk_free(pub);
    keys_free(r);
}

/* A key removed while a signature with it is in flight stays valid until that signature is
 * done (the signer holds its own reference). */
static void *remove_thread(void *p)
{
    struct signer_arg *a = p;
    struct err e = {0};
    keys_remove(a->ring, a->kid, &e);
    return NULL;
}

static void remove_while_signing(void **state)
{
    for (int round = 0; round < 10; round++) {
        struct keys *r = keys_new();
        char kid[KEYS_KID_MAX];
        gen_ok(r, "victim", JOSE_ALG_RS256, kid);
        struct signer_arg a = {r, kid, NULL, 0};
        pthread_t t;
        uint8_t sig[JOSE_SIG_MAX];
        size_t siglen = 0;
        struct err e = {0};
        assert_int_equal(pthread_create(&t, NULL, remove_thread, &a), 0);
        int rc = keys_sign(r, kid, "x", 1, sig, &siglen, &e);
        assert_true(rc == 0 || e.code == KEYS_E_NOT_FOUND);
        pthread_join(t, NULL);
        assert_int_equal(keys_list(r, NULL, 0), 0);
        keys_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_verifies_with_published_jwk),
        cmocka_unit_test(another_keys_jwk_does_not_verify),
        cmocka_unit_test(unknown_kid_is_an_error),
        cmocka_unit_test(remove_stops_signing),
        cmocka_unit_test(jws_sign_with_the_keys_alg),
        cmocka_unit_test(concurrent_sign_during_rotation),
        cmocka_unit_test(remove_while_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
