#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

static const char *vec_dir = "tests/vectors/jose";

void vec_set_dir(int argc, char **argv)
{
    if (argc > 1) {
        vec_dir = argv[1];
    }
}

char *vec_read(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", vec_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open vector %s", path);
    }
    char *p = xmalloc(65536);
    size_t n = fread(p, 1, 65535, f);
    fclose(f);
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) {
        n--;
    }
    p[n] = '\0';
    return p;
}

json_t *vec_json(const char *name)
{
    char *s = vec_read(name);
    json_error_t je;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    free(s);
    assert_non_null(j);
    return j;
}

struct jose_jwk *vec_jwk(const char *name)
{
    json_t *j = vec_json(name);
    struct err e = {0};
    struct jose_jwk *k = jose_jwk_from_json(j, &e);
    if (k == NULL) {
        fail_msg("%s: %s", name, e.msg);
    }
    json_decref(j);
    return k;
}

static BIGNUM *member_bn(const json_t *j, const char *name)
{
    struct buf b;
    buf_init(&b, 4096);
    const char *s = json_string_value(json_object_get(j, name));
    assert_non_null(s);
    assert_int_equal(b64url_decode(slice_z(s), &b), 0);
    BIGNUM *bn = BN_bin2bn((const unsigned char *)b.p, (int)b.len, NULL);
    buf_free(&b);
    return bn;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

EVP_PKEY *vec_private_key(const char *name)
{
    json_t *j = vec_json(name);
    const char *kty = json_string_value(json_object_get(j, "kty"));
    const char *crv = json_string_value(json_object_get(j, "crv"));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn[8] = {0};
    if (strcmp(kty, "RSA") == 0) {
        static const char *const jn[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
        static const char *const on[] = {
            OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
            OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
            OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
            OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
        for (size_t i = 0; i < 8; i++) {
            bn[i] = member_bn(j, jn[i]);
            assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, on[i], bn[i]), 1);
        }
        pkey = fromdata("RSA", bld);
    } else if (strcmp(kty, "EC") == 0) {
        struct buf x, y;
        buf_init(&x, 100);
        buf_init(&y, 100);
        assert_int_equal(b64url_decode(slice_z(json_string_value(json_object_get(j, "x"))), &x), 0);
        assert_int_equal(b64url_decode(slice_z(json_string_value(json_object_get(j, "y"))), &y), 0);
        uint8_t pt[1 + 2 * 66];
        pt[0] = 4;
        memcpy(pt + 1, x.p, x.len);
        memcpy(pt + 1 + x.len, y.p, y.len);
        bn[0] = member_bn(j, "d");
        assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, crv, 0),
                         1);
        assert_int_equal(
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + x.len + y.len),
            1);
        assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn[0]), 1);
        pkey = fromdata("EC", bld);
        buf_free(&x);
        buf_free(&y);
    } else {
        struct buf d;
        buf_init(&d, 100);
        assert_int_equal(b64url_decode(slice_z(json_string_value(json_object_get(j, "d"))), &d), 0);
        pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, (unsigned char *)d.p, d.len);
        buf_free(&d);
    }
    assert_non_null(pkey);
    for (size_t i = 0; i < 8; i++) {
        BN_free(bn[i]);
    }
    OSSL_PARAM_BLD_free(bld);
    json_decref(j);
    return pkey;
}

EVP_PKEY *gen_rsa(size_t bits)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
    assert_non_null(k);
    return k;
}

EVP_PKEY *gen_key(const char *what)
{
    EVP_PKEY *k;
    if (strcmp(what, "RSA") == 0) {
        return gen_rsa(2048);
    }
    if (strcmp(what, "ED25519") == 0) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", what);
    }
    assert_non_null(k);
    return k;
}

char *b64u(const char *s)
{
    return b64url_encode_z(s, strlen(s));
}

char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *p = xmalloc(n);
    snprintf(p, n, "%s.%s.%s", a, b, c);
    return p;
}

char *make_token_sig(const char *header, const char *payload, const void *sig, size_t n)
{
    char *h = b64u(header);
    char *p = b64u(payload);
    char *s = b64url_encode_z(sig, n);
    char *t = join3(h, p, s);
    free(h);
    free(p);
    free(s);
    return t;
}

char *make_token(const char *header, const char *payload, EVP_PKEY *priv, enum jose_alg alg)
{
    char *h = b64u(header);
    char *p = b64u(payload);
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = xmalloc(n);
    snprintf(input, n, "%s.%s", h, p);
    uint8_t sig[JOSE_SIG_MAX];
    size_t siglen = 0;
    struct err e = {0};
    if (jose_sign_raw(priv, alg, input, strlen(input), sig, &siglen, &e) != 0) {
        fail_msg("make_token: %s", e.msg);
    }
    char *s = b64url_encode_z(sig, siglen);
    char *t = join3(h, p, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return t;
}

int verify_code(const char *token, const struct jose_jwk *k)
{
    struct jose_jws j;
    struct err e = {0};
    if (jose_jws_parse(slice_z(token), &j, &e) != 0) {
        assert_int_not_equal(e.code, JOSE_ERR_NONE);
        return e.code;
    }
    int rc = jose_jws_verify(&j, k, &e);
    jose_jws_free(&j);
    if (rc != 0) {
        assert_int_not_equal(e.code, JOSE_ERR_NONE);
        return e.code;
    }
    return JOSE_ERR_NONE;
}
