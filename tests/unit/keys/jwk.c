/* Tests of src/keys/jwk.c: public JWKs with x5c / x5t / x5t#S256, and JWKS. */
#include "helpers.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Members that would carry private key material (RFC 7518 section 6). */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

static struct slice str_member(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v))
        fail_msg("member %s missing or not a string", name);
    return (struct slice){json_string_value(v), json_string_length(v)};
}

static void check_digest(struct slice b64url, const struct buf *der, const EVP_MD *md)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    assert_int_equal(EVP_Digest(der->p, der->len, d, &dn, md, NULL), 1);
    char *want = b64url_encode_z(d, dn);
    assert_int_equal(b64url.n, strlen(want));
    assert_memory_equal(b64url.p, want, b64url.n);
    free(want);
}

static void jwk_has_certificate_members(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(all_algs); i++) {
        char kid[KEYS_KID_MAX], name[16];
        snprintf(name, sizeof(name), "k%zu", i);
        gen_ok(r, name, all_algs[i], kid);
        json_t *j = keys_jwk_json(r, kid, &e);
        assert_non_null(j);

        assert_true(slice_eq_z(str_member(j, "kid"), kid));
        assert_true(slice_eq_z(str_member(j, "alg"), jose_alg_name(all_algs[i])));
        assert_true(slice_eq_z(str_member(j, "use"), "sig"));
        for (size_t m = 0; m < UTIL_ARRAY_LEN(private_members); m++)
            assert_null(json_object_get(j, private_members[m]));

        /* x5c: exactly one certificate, standard base64 WITH padding (RFC 7517 4.7) */
        json_t *x5c = json_object_get(j, "x5c");
        assert_true(json_is_array(x5c));
        assert_int_equal(json_array_size(x5c), 1);
        const char *c = json_string_value(json_array_get(x5c, 0));
        assert_non_null(c);
        assert_int_equal(strlen(c) % 4, 0);
        assert_int_equal(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789+/="),
                         strlen(c));
        struct buf der;
        buf_init(&der, 16 * 1024);
        assert_int_equal(b64_decode(slice_z(c), &der), 0);

        /* the certificate's key is the JWK's key */
        const unsigned char *p = (const unsigned char *)der.p;
        X509 *x = d2i_X509(NULL, &p, (long)der.len);
        assert_non_null(x);
        assert_ptr_equal(p, (const unsigned char *)der.p + der.len);
        struct jose_jwk *pub = jose_jwk_from_json(j, &e);
        assert_non_null(pub);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), jose_jwk_pkey(pub)), 1);

        /* x5t and x5t#S256 are the digests of that DER (RFC 7517 4.8, 4.9) */
        check_digest(str_member(j, "x5t"), &der, EVP_sha1());
        check_digest(str_member(j, "x5t#S256"), &der, EVP_sha256());

        /* kid is the RFC 7638 thumbprint of the published key */
        char *tp = jose_jwk_thumbprint(pub);
        assert_string_equal(tp, kid);
        free(tp);

        jose_jwk_free(pub);
        X509_free(x);
        buf_free(&der);
        json_decref(j);
    }
    keys_free(r);
}

static void jwks_all_or_some(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    char a[KEYS_KID_MAX], b[KEYS_KID_MAX], c[KEYS_KID_MAX];
    gen_ok(r, "a", JOSE_ALG_RS256, a);
    gen_ok(r, "b", JOSE_ALG_ES256, b);
    gen_ok(r, "c", JOSE_ALG_EDDSA, c);

    json_t *all = keys_jwks_json(r, NULL, &e);
    assert_non_null(all);
    json_t *keys = json_object_get(all, "keys");
    assert_int_equal(json_array_size(keys), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "kid")), a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 2), "kid")), c);

    /* what a relying party does with it: parse, find by kid, verify */
    char *text = util_json_dump(all);
    size_t skipped = 99;
    struct jose_jwks *set = jose_jwks_parse(slice_z(text), &skipped, &e);
    assert_non_null(set);
    assert_int_equal(skipped, 0);
    assert_int_equal(jose_jwks_count(set), 3);
    const struct jose_jwk *kb = jose_jwks_find(set, b);
    assert_non_null(kb);
    assert_int_equal(sign_and_verify(r, b, kb, "payload"), 0);
    jose_jwks_free(set);
    free(text);
    json_decref(all);

    const char *some[] = {c, a, NULL};
    json_t *two = keys_jwks_json(r, some, &e);
    assert_non_null(two);
    keys = json_object_get(two, "keys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "kid")), c);
    json_decref(two);

    const char *none[] = {NULL};
    json_t *empty = keys_jwks_json(r, none, &e);
    assert_int_equal(json_array_size(json_object_get(empty, "keys")), 0);
    json_decref(empty);

    const char *unknown[] = {a, "not-a-kid", NULL};
    assert_null(keys_jwks_json(r, unknown, &e));
    assert_int_equal(e.code, KEYS_E_NOT_FOUND);
    keys_free(r);
}

static void verification_set_checks_own_tokens(void **state)
{
    struct keys *r = keys_new();
    struct err e = {0};
    char kid[KEYS_KID_MAX];
    gen_ok(r, "gate", JOSE_ALG_RS256, kid);
    gen_ok(r, "other", JOSE_ALG_ES256, NULL);
    int64_t now = util_now();
    char payload[256];
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"https://team.example.com\",\"aud\":[\"tag\"],\"sub\":\"u\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
             (long long)now, (long long)now, (long long)now + 300);
    char *tok = keys_jws_sign(r, kid, "JWT", slice_z(payload), &e);
    assert_non_null(tok);

    struct jose_jwks *set = keys_jwks(r, &e);
    assert_non_null(set);
    assert_int_equal(jose_jwks_count(set), 2);
    struct jose_jwt_expect x = {.iss = "https://team.example.com", .aud = "tag"};
    json_t *claims = NULL;
    if (jose_jwt_verify(slice_z(tok), set, &x, &claims, &e) != 0)
        fail_msg("jose_jwt_verify: %s", e.msg);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), "u");
    json_decref(claims);
    jose_jwks_free(set);
    free(tok);
    keys_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwk_has_certificate_members),
        cmocka_unit_test(jwks_all_or_some),
        cmocka_unit_test(verification_set_checks_own_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
