/* Raw signatures: every algorithm round trip, RFC 8037 and RFC 7520 deterministic signatures,
 * JOSE R||S form for ECDSA (DER refused), exact lengths, key/alg binding, the context cache. */
#include "helpers.h"
#include "jose/jose_int.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

static void round_trip(EVP_PKEY *k, enum jose_alg alg, size_t want_len)
{
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(k, alg, msg, strlen(msg), sig, &n, &e), 0);
    assert_int_equal(n, want_len);
    assert_int_equal(jose_verify_raw(k, alg, msg, strlen(msg), sig, n, &e), 0);
    /* Any changed bit of the message or of the signature fails. */
    assert_int_not_equal(jose_verify_raw(k, alg, msg, strlen(msg) - 1, sig, n, &e), 0);
    assert_int_equal(e.code, JOSE_ERR_SIGNATURE);
    sig[n / 2] ^= 0x01;
    assert_int_not_equal(jose_verify_raw(k, alg, msg, strlen(msg), sig, n, &e), 0);
    assert_int_equal(e.code, JOSE_ERR_SIGNATURE);
    sig[n / 2] ^= 0x01;
    /* The context that saw the failure still verifies a good signature. */
    assert_int_equal(jose_verify_raw(k, alg, msg, strlen(msg), sig, n, &e), 0);
}

static void every_algorithm_round_trips(void **state)
{
    EVP_PKEY *rsa = gen_key("RSA");
    EVP_PKEY *p256 = gen_key("P-256");
    EVP_PKEY *p384 = gen_key("P-384");
    EVP_PKEY *p521 = gen_key("P-521");
    EVP_PKEY *ed = gen_key("ED25519");
    round_trip(rsa, JOSE_ALG_RS256, 256);
    round_trip(rsa, JOSE_ALG_RS384, 256);
    round_trip(rsa, JOSE_ALG_RS512, 256);
    round_trip(rsa, JOSE_ALG_PS256, 256);
    round_trip(rsa, JOSE_ALG_PS384, 256);
    round_trip(rsa, JOSE_ALG_PS512, 256);
    round_trip(p256, JOSE_ALG_ES256, 64);
    round_trip(p384, JOSE_ALG_ES384, 96);
    round_trip(p521, JOSE_ALG_ES512, 132);
    round_trip(ed, JOSE_ALG_EDDSA, 64);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p521);
    EVP_PKEY_free(ed);
}

/* RFC 8037 appendix A.4: Ed25519 is deterministic, so our signature must be the RFC's. */
static void rfc8037_a4_signature_is_exact(void **state)
{
    EVP_PKEY *priv = vec_private_key("rfc8037_a1.jwk");
    static const char input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    for (int round = 0; round < 3; round++) { /* also through the cached context */
        assert_int_equal(jose_sign_raw(priv, JOSE_ALG_EDDSA, input, strlen(input), sig, &n, &e), 0);
        char *b = b64url_encode_z(sig, n);
        assert_string_equal(b, "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5Bh"
                               "VsPt9g7sVvpAr_MuM0KAg");
        free(b);
    }
    EVP_PKEY_free(priv);
}

/* RFC 7520 section 4.1: RSASSA-PKCS1-v1_5 is deterministic too. */
static void rfc7520_4_1_signature_is_exact(void **state)
{
    EVP_PKEY *priv = vec_private_key("rfc7520_3.4.jwk");
    char *tok = vec_read("rfc7520_4.1.jws");
    const char *dot = strrchr(tok, '.');
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(priv, JOSE_ALG_RS256, tok, (size_t)(dot - tok), sig, &n, &e), 0);
    char *b = b64url_encode_z(sig, n);
    assert_string_equal(b, dot + 1);
    free(b);
    free(tok);
    EVP_PKEY_free(priv);
}

static void ecdsa_der_is_refused(void **state)
{
    EVP_PKEY *k = gen_key("P-256");
    uint8_t rs[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(k, JOSE_ALG_ES256, msg, strlen(msg), rs, &n, &e), 0);
    uint8_t der[JOSE_ECDSA_DER_MAX];
    size_t dn = jose_ecdsa_rs_to_der(rs, 32, der);
    assert_true(dn >= 8 && dn <= 72);
    /* The same signature in DER, as OpenSSL or a careless signer would give it. */
    assert_int_equal(jose_verify_raw(k, JOSE_ALG_ES256, msg, strlen(msg), der, dn, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_SIGNATURE);
    /* Wrong lengths either side of 64, and R||S of P-384 size. */
    assert_int_equal(jose_verify_raw(k, JOSE_ALG_ES256, msg, strlen(msg), rs, 63, &e), -1);
    uint8_t longer[65];
    memcpy(longer, rs, 64);
    longer[64] = 0;
    assert_int_equal(jose_verify_raw(k, JOSE_ALG_ES256, msg, strlen(msg), longer, 65, &e), -1);
    assert_int_equal(jose_verify_raw(k, JOSE_ALG_ES256, msg, strlen(msg), rs, 0, &e), -1);
    /* And the good one still verifies. */
    assert_int_equal(jose_verify_raw(k, JOSE_ALG_ES256, msg, strlen(msg), rs, 64, &e), 0);
    EVP_PKEY_free(k);
}

static void der_conversion_is_strict(void **state)
{
    uint8_t rs[132], back[132], der[JOSE_ECDSA_DER_MAX];
    /* High bits set and leading zeros: both need care in DER. */
    for (size_t coord = 32; coord <= 66; coord = coord == 32 ? 48 : coord == 48 ? 66 : 999) {
        for (int v = 0; v < 4; v++) {
            util_random(rs, 2 * coord);
            if (v & 1) {
                rs[0] = 0x80;
            } else {
                rs[0] = 0;
                rs[1] = 0x01;
            }
            if (v & 2) {
                memset(rs + coord, 0, 5);
            }
            size_t dn = jose_ecdsa_rs_to_der(rs, coord, der);
            assert_int_equal(jose_ecdsa_der_to_rs(der, dn, coord, back), 0);
            assert_memory_equal(rs, back, 2 * coord);
            assert_int_not_equal(jose_ecdsa_der_to_rs(der, dn - 1, coord, back), 0);
        }
    }
    /* Hand-made DER: negative integer, non-minimal integer, trailing byte, long-form length
     * where the short form fits, too wide for the curve. */
    static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01};
    static const uint8_t nonmin[] = {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01};
    static const uint8_t trail[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00};
    static const uint8_t longlen[] = {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    static const uint8_t ok[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
    assert_int_equal(jose_ecdsa_der_to_rs(neg, sizeof neg, 32, back), -1);
    assert_int_equal(jose_ecdsa_der_to_rs(nonmin, sizeof nonmin, 32, back), -1);
    assert_int_equal(jose_ecdsa_der_to_rs(trail, sizeof trail, 32, back), -1);
    assert_int_equal(jose_ecdsa_der_to_rs(longlen, sizeof longlen, 32, back), -1);
    assert_int_equal(jose_ecdsa_der_to_rs(ok, sizeof ok, 32, back), 0);
    assert_int_equal(back[31], 1);
    assert_int_equal(back[63], 2);
    uint8_t wide[2 + 2 + 33 + 3];
    wide[0] = 0x30;
    wide[1] = 2 + 33 + 3;
    wide[2] = 0x02;
    wide[3] = 33;
    memset(wide + 4, 0x11, 33);
    wide[37] = 0x02;
    wide[38] = 1;
    wide[39] = 1;
    assert_int_equal(jose_ecdsa_der_to_rs(wide, sizeof wide, 32, back), -1);
}

static void key_must_fit_the_algorithm(void **state)
{
    EVP_PKEY *rsa = gen_key("RSA");
    EVP_PKEY *p256 = gen_key("P-256");
    EVP_PKEY *p384 = gen_key("P-384");
    EVP_PKEY *ed = gen_key("ED25519");
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    /* Wrong curve: ES256 is P-256 only (RFC 7518 section 3.4). */
    assert_int_equal(jose_sign_raw(p384, JOSE_ALG_ES256, msg, 3, sig, &n, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_KEY);
    assert_int_equal(jose_sign_raw(p256, JOSE_ALG_ES384, msg, 3, sig, &n, &e), -1);
    assert_int_equal(jose_sign_raw(p256, JOSE_ALG_RS256, msg, 3, sig, &n, &e), -1);
    assert_int_equal(jose_sign_raw(rsa, JOSE_ALG_ES256, msg, 3, sig, &n, &e), -1);
    assert_int_equal(jose_sign_raw(ed, JOSE_ALG_ES256, msg, 3, sig, &n, &e), -1);
    assert_int_equal(jose_sign_raw(p256, JOSE_ALG_EDDSA, msg, 3, sig, &n, &e), -1);
    assert_int_equal(jose_sign_raw(p256, JOSE_ALG_UNKNOWN, msg, 3, sig, &n, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_UNSUPPORTED);
    /* A P-384 signature offered as ES256 for a P-384 key is refused before any math. */
    assert_int_equal(jose_sign_raw(p384, JOSE_ALG_ES384, msg, 3, sig, &n, &e), 0);
    assert_int_equal(jose_verify_raw(p384, JOSE_ALG_ES256, msg, 3, sig, 64, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_KEY);
    /* RSA signature checked as PSS and the other way round. */
    assert_int_equal(jose_sign_raw(rsa, JOSE_ALG_RS256, msg, 3, sig, &n, &e), 0);
    assert_int_equal(jose_verify_raw(rsa, JOSE_ALG_PS256, msg, 3, sig, n, &e), -1);
    assert_int_equal(jose_verify_raw(rsa, JOSE_ALG_RS384, msg, 3, sig, n, &e), -1);
    assert_int_equal(jose_verify_raw(rsa, JOSE_ALG_RS256, msg, 3, sig, n, &e), 0);
    /* Truncated RSA signature (RFC 8017 section 8.2.2 step 1). */
    assert_int_equal(jose_verify_raw(rsa, JOSE_ALG_RS256, msg, 3, sig + 1, n - 1, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_SIGNATURE);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
}

static void small_rsa_is_refused(void **state)
{
    EVP_PKEY *small = gen_rsa(1024);
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(small, JOSE_ALG_RS256, msg, 3, sig, &n, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_KEY);
    memset(sig, 1, 128);
    assert_int_equal(jose_verify_raw(small, JOSE_ALG_RS256, msg, 3, sig, 128, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_KEY);
    EVP_PKEY_free(small);
}

static void public_key_cannot_sign(void **state)
{
    struct jose_jwk *k = vec_jwk("rfc7515_a3.jwk"); /* "d" is ignored on import */
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(jose_jwk_pkey(k), JOSE_ALG_ES256, msg, 3, sig, &n, &e), -1);
    jose_jwk_free(k);
}

/* More keys than cache slots, used in turn, after a flush, and freed while cached. */
static void cache_survives_churn(void **state)
{
    enum { NKEYS = JOSE_CTX_CACHE_SLOTS + 3 };
    EVP_PKEY *k[NKEYS];
    uint8_t sig[NKEYS][JOSE_SIG_MAX];
    size_t n[NKEYS];
    struct err e = {0};
    for (int i = 0; i < NKEYS; i++) {
        k[i] = gen_key(i % 2 ? "P-256" : "ED25519");
        enum jose_alg a = i % 2 ? JOSE_ALG_ES256 : JOSE_ALG_EDDSA;
        assert_int_equal(jose_sign_raw(k[i], a, msg, strlen(msg), sig[i], &n[i], &e), 0);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NKEYS; i++) {
            enum jose_alg a = i % 2 ? JOSE_ALG_ES256 : JOSE_ALG_EDDSA;
            assert_int_equal(jose_verify_raw(k[i], a, msg, strlen(msg), sig[i], n[i], &e), 0);
            /* Another key's signature never verifies, whatever the cache holds. */
            int o = (i + 2) % NKEYS;
            assert_int_equal(jose_verify_raw(k[i], a, msg, strlen(msg), sig[o], n[o], &e), -1);
        }
        if (round == 1) {
            jose_cache_flush();
        }
    }
    /* The caller's reference goes; the cache keeps the key alive until it lets go. */
    for (int i = 0; i < NKEYS; i++) {
        EVP_PKEY_free(k[i]);
    }
    jose_thread_cleanup();
    jose_thread_cleanup(); /* twice is fine */
}

struct thread_arg {
    EVP_PKEY *k;
    const uint8_t *sig;
    size_t n;
    int ok;
};

static void *verify_thread(void *p)
{
    struct thread_arg *a = p;
    struct err e = {0};
    a->ok = 0;
    for (int i = 0; i < 50; i++) {
        if (jose_verify_raw(a->k, JOSE_ALG_ES256, msg, strlen(msg), a->sig, a->n, &e) == 0) {
            a->ok++;
        }
    }
    return NULL; /* the thread's cache is freed by the key destructor */
}

static void threads_share_keys(void **state)
{
    EVP_PKEY *k = gen_key("P-256");
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    assert_int_equal(jose_sign_raw(k, JOSE_ALG_ES256, msg, strlen(msg), sig, &n, &e), 0);
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){k, sig, n, 0};
        assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].ok, 50);
    }
    EVP_PKEY_free(k);
}

static int teardown(void **state)
{
    jose_thread_cleanup();
    return 0;
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(every_algorithm_round_trips, teardown),
        cmocka_unit_test_teardown(rfc8037_a4_signature_is_exact, teardown),
        cmocka_unit_test_teardown(rfc7520_4_1_signature_is_exact, teardown),
        cmocka_unit_test_teardown(ecdsa_der_is_refused, teardown),
        cmocka_unit_test_teardown(der_conversion_is_strict, teardown),
        cmocka_unit_test_teardown(key_must_fit_the_algorithm, teardown),
        cmocka_unit_test_teardown(small_rsa_is_refused, teardown),
        cmocka_unit_test_teardown(public_key_cannot_sign, teardown),
        cmocka_unit_test_teardown(cache_survives_churn, teardown),
        cmocka_unit_test_teardown(threads_share_keys, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
