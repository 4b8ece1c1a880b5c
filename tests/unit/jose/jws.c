/*
 * JWS compact: RFC 7515 appendix A, RFC 8037 appendix A.4/A.5 and RFC 7520 section 4
 * vectors, then the attack list: every token below is what an attacker can send, and each
 * must fail for the stated reason (the error code), not by accident.
 */
#include "helpers.h"
#include "jose/jose_int.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char claims[] = "{\"sub\":\"alice\",\"exp\":4102444800,\"iat\":1700000000}";

static void rfc7515_a2_rs256_verifies(void **state)
{
    struct jose_jwk *k = vec_jwk("rfc7515_a2.jwk");
    char *tok = vec_read("rfc7515_a2.jws");
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), 0);
    assert_int_equal(j.alg, JOSE_ALG_RS256);
    assert_null(j.kid);
    /* RFC 7515 A.2.1: the payload octets, CRLFs included. */
    static const char payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    assert_int_equal(j.payload.len, strlen(payload));
    assert_memory_equal(j.payload.p, payload, strlen(payload));
    assert_int_equal(j.signature.len, 256);
    assert_int_equal(jose_jws_verify(&j, k, &e), 0);
    jose_jws_free(&j);
    jose_jws_free(&j); /* idempotent */
    free(tok);
    jose_jwk_free(k);
}

static void rfc7515_a3_es256_verifies(void **state)
{
    struct jose_jwk *k = vec_jwk("rfc7515_a3.jwk");
    char *tok = vec_read("rfc7515_a3.jws");
    assert_int_equal(verify_code(tok, k), JOSE_ERR_NONE);
    /* RFC 7515 A.3.1: R and S are 32 bytes each; the first byte of R is 14. */
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), 0);
    assert_int_equal(j.signature.len, 64);
    assert_int_equal((uint8_t)j.signature.p[0], 14);
    jose_jws_free(&j);
    free(tok);
    jose_jwk_free(k);
}

/* RFC 7515 A.1 is HS256: refused at parse, and its key is not a key for us. */
static void rfc7515_a1_hs256_is_refused(void **state)
{
    char *tok = vec_read("rfc7515_a1.jws");
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_UNSUPPORTED);
    assert_null(j.header);
    jose_jws_free(&j);
    json_t *oct = vec_json("rfc7515_a1.jwk");
    assert_null(jose_jwk_from_json(oct, &e));
    json_decref(oct);
    free(tok);
}

/* RFC 8037 A.4 (sign, deterministic: the exact token) and A.5 (verify). */
static void rfc8037_ed25519(void **state)
{
    EVP_PKEY *priv = vec_private_key("rfc8037_a1.jwk");
    struct jose_jwk *pub = vec_jwk("rfc8037_a1.jwk");
    char *want = vec_read("rfc8037_a4.jws");
    struct jose_pkey_signer ps = {priv, JOSE_ALG_EDDSA};
    struct err e = {0};
    char *tok = jose_jws_sign(JOSE_ALG_EDDSA, NULL, NULL, SLICE_LIT("Example of Ed25519 signing"),
                              jose_pkey_sign, &ps, &e);
    assert_non_null(tok);
    assert_string_equal(tok, want);
    assert_int_equal(verify_code(want, pub), JOSE_ERR_NONE);
    free(tok);
    free(want);
    jose_jwk_free(pub);
    EVP_PKEY_free(priv);
}

/* RFC 7520 section 4.1: RS256 with a kid; re-signing gives the RFC's token exactly. */
static void rfc7520_4_1_rs256(void **state)
{
    EVP_PKEY *priv = vec_private_key("rfc7520_3.4.jwk");
    struct jose_jwk *pub = vec_jwk("rfc7520_3.4.jwk");
    char *want = vec_read("rfc7520_4.1.jws");
    char *payload = vec_read("rfc7520_4.payload");
    assert_int_equal(verify_code(want, pub), JOSE_ERR_NONE);
    struct jose_pkey_signer ps = {priv, JOSE_ALG_RS256};
    struct err e = {0};
    char *tok = jose_jws_sign(JOSE_ALG_RS256, "bilbo.baggins@hobbiton.example", NULL,
                              slice_z(payload), jose_pkey_sign, &ps, &e);
    assert_non_null(tok);
    assert_string_equal(tok, want);
    struct jose_jws j;
    assert_int_equal(jose_jws_parse(slice_z(want), &j, &e), 0);
    assert_string_equal(j.kid, "bilbo.baggins@hobbiton.example");
    assert_string_equal(j.payload.p, payload);
    jose_jws_free(&j);
    free(tok);
    free(payload);
    free(want);
    jose_jwk_free(pub);
    EVP_PKEY_free(priv);
}

/* RFC 7520 section 4.2: PS384 (randomised: verify only). The key's default alg is RS256, so
 * the same key must be declared PS384 to accept it. */
static void rfc7520_4_2_ps384(void **state)
{
    struct jose_jwk *rs = vec_jwk("rfc7520_3.4.jwk");
    struct err e = {0};
    struct jose_jwk *ps =
        jose_jwk_from_pkey(jose_jwk_pkey(rs), jose_jwk_kid(rs), JOSE_ALG_PS384, &e);
    assert_non_null(ps);
    char *tok = vec_read("rfc7520_4.2.jws");
    assert_int_equal(verify_code(tok, ps), JOSE_ERR_NONE);
    assert_int_equal(verify_code(tok, rs), JOSE_ERR_KEY);
    free(tok);
    jose_jwk_free(ps);
    jose_jwk_free(rs);
}

/* RFC 7520 section 4.3: ES512 on P-521 (verify), and our own ES512 round trip with its key. */
static void rfc7520_4_3_es512(void **state)
{
    struct jose_jwk *pub = vec_jwk("rfc7520_3.2.jwk");
    char *tok = vec_read("rfc7520_4.3.jws");
    assert_int_equal(verify_code(tok, pub), JOSE_ERR_NONE);
    EVP_PKEY *priv = vec_private_key("rfc7520_3.2.jwk");
    struct jose_pkey_signer ps = {priv, JOSE_ALG_ES512};
    struct err e = {0};
    char *mine = jose_jws_sign(JOSE_ALG_ES512, jose_jwk_kid(pub), NULL, SLICE_LIT("x"),
                               jose_pkey_sign, &ps, &e);
    assert_non_null(mine);
    assert_int_equal(verify_code(mine, pub), JOSE_ERR_NONE);
    free(mine);
    EVP_PKEY_free(priv);
    free(tok);
    jose_jwk_free(pub);
}

static void sign_round_trips(void **state)
{
    static const char *const kinds[] = {"RSA", "P-256", "ED25519"};
    static const enum jose_alg algs[] = {JOSE_ALG_RS256, JOSE_ALG_ES256, JOSE_ALG_EDDSA};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(kinds); i++) {
        EVP_PKEY *priv = gen_key(kinds[i]);
        struct err e = {0};
        struct jose_jwk *pub = jose_jwk_from_pkey(priv, "k1", algs[i], &e);
        struct jose_pkey_signer ps = {priv, algs[i]};
        char *tok = jose_jws_sign(algs[i], "k1", "JWT", slice_z(claims), jose_pkey_sign, &ps, &e);
        assert_non_null(tok);
        struct jose_jws j;
        assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), 0);
        assert_string_equal(j.kid, "k1");
        assert_string_equal(json_string_value(json_object_get(j.header, "typ")), "JWT");
        assert_string_equal(json_string_value(json_object_get(j.header, "alg")),
                            jose_alg_name(algs[i]));
        assert_string_equal(j.payload.p, claims);
        assert_int_equal(jose_jws_verify(&j, pub, &e), 0);
        jose_jws_free(&j);
        free(tok);
        jose_jwk_free(pub);
        EVP_PKEY_free(priv);
    }
}

static int failing_signer(void *ctx, const void *in, size_t n, uint8_t sig[JOSE_SIG_MAX],
                          size_t *siglen, struct err *e)
{
    return err_set(e, 42, "signer says no");
}

static void sign_refuses_bad_requests(void **state)
{
    EVP_PKEY *priv = gen_key("P-256");
    struct jose_pkey_signer ps = {priv, JOSE_ALG_ES256};
    struct err e = {0};
    assert_null(
        jose_jws_sign(JOSE_ALG_UNKNOWN, NULL, NULL, SLICE_LIT("x"), jose_pkey_sign, &ps, &e));
    assert_null(
        jose_jws_sign(JOSE_ALG_ES256, NULL, NULL, SLICE_LIT("x"), failing_signer, NULL, &e));
    assert_int_equal(e.code, 42);
    /* A signer whose key does not fit the algorithm. */
    assert_null(jose_jws_sign(JOSE_ALG_ES384, NULL, NULL, SLICE_LIT("x"), jose_pkey_sign, &ps, &e));
    /* Too large a payload. */
    char *big = xmalloc(JOSE_MAX_TOKEN);
    memset(big, 'a', JOSE_MAX_TOKEN);
    assert_null(jose_jws_sign(JOSE_ALG_ES256, NULL, NULL, (struct slice){big, JOSE_MAX_TOKEN},
                              jose_pkey_sign, &ps, &e));
    free(big);
    EVP_PKEY_free(priv);
}

/* ---- the attack list ----------------------------------------------------------------- */

struct fixture {
    EVP_PKEY *rsa, *ec, *ed, *p384, *attacker;
    struct jose_jwk *krsa, *kec, *ked, *kp384;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    struct err e = {0};
    f->rsa = gen_key("RSA");
    f->ec = gen_key("P-256");
    f->ed = gen_key("ED25519");
    f->p384 = gen_key("P-384");
    f->attacker = gen_key("P-256");
    f->krsa = jose_jwk_from_pkey(f->rsa, "rsa", JOSE_ALG_RS256, &e);
    f->kec = jose_jwk_from_pkey(f->ec, "ec", JOSE_ALG_ES256, &e);
    f->ked = jose_jwk_from_pkey(f->ed, "ed", JOSE_ALG_EDDSA, &e);
    f->kp384 = jose_jwk_from_pkey(f->p384, "p384", JOSE_ALG_ES384, &e);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    jose_jwk_free(f->krsa);
    jose_jwk_free(f->kec);
    jose_jwk_free(f->ked);
    jose_jwk_free(f->kp384);
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    EVP_PKEY_free(f->ed);
    EVP_PKEY_free(f->p384);
    EVP_PKEY_free(f->attacker);
    free(f);
    jose_thread_cleanup();
    return 0;
}

static void alg_none(void **state)
{
    struct fixture *f = *state;
    static const char *const hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
                                       "{\"alg\":\"NONE\"}", "{\"alg\":\"nOnE\"}",
                                       "{\"alg\":\"\"}",     "{\"typ\":\"JWT\"}"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(hdrs); i++) {
        char *h = b64u(hdrs[i]);
        char *p = b64u(claims);
        size_t n = strlen(h) + strlen(p) + 3;
        char *t = xmalloc(n);
        snprintf(t, n, "%s.%s.", h, p); /* the unsecured JWS form: empty signature */
        assert_int_equal(verify_code(t, f->krsa), JOSE_ERR_MALFORMED);
        char *t2 = join3(h, p, "AAAA"); /* and with some signature */
        int c = verify_code(t2, f->krsa);
        assert_true(c == JOSE_ERR_UNSUPPORTED || c == JOSE_ERR_MALFORMED);
        free(t2);
        free(t);
        free(h);
        free(p);
    }
}

static char *hs256_token(const char *payload, const void *secret, size_t slen)
{
    char *h = b64u("{\"alg\":\"HS256\",\"kid\":\"rsa\"}");
    char *p = b64u(payload);
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = xmalloc(n);
    snprintf(input, n, "%s.%s", h, p);
    uint8_t mac[64];
    size_t maclen = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, slen,
                              (const unsigned char *)input, strlen(input), mac, sizeof mac,
                              &maclen));
    char *s = b64url_encode_z(mac, maclen);
    char *t = join3(h, p, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return t;
}

/* The classic: HS256 keyed with the bytes of the server's public key (PEM and JWK). */
static void alg_confusion(void **state)
{
    struct fixture *f = *state;
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, f->rsa), 1);
    char *pem = NULL;
    long pemlen = BIO_get_mem_data(bio, &pem);
    char *t = hs256_token(claims, pem, (size_t)pemlen);
    assert_int_equal(verify_code(t, f->krsa), JOSE_ERR_UNSUPPORTED);
    free(t);
    json_t *jwk = jose_jwk_to_json(f->krsa);
    char *jwks = util_json_dump(jwk);
    t = hs256_token(claims, jwks, strlen(jwks));
    assert_int_equal(verify_code(t, f->krsa), JOSE_ERR_UNSUPPORTED);
    free(t);
    /* The same MAC under the key's own alg name: a 32-byte "signature" for RSA-2048. */
    char *h = b64u("{\"alg\":\"RS256\",\"kid\":\"rsa\"}");
    t = hs256_token(claims, pem, (size_t)pemlen);
    char *dot = strchr(t, '.');
    size_t n = strlen(h) + strlen(dot) + 1;
    char *t2 = xmalloc(n);
    snprintf(t2, n, "%s%s", h, dot);
    assert_int_equal(verify_code(t2, f->krsa), JOSE_ERR_SIGNATURE);
    free(t2);
    free(t);
    free(h);
    free(jwks);
    json_decref(jwk);
    BIO_free(bio);
}

static void key_alg_mismatch(void **state)
{
    struct fixture *f = *state;
    char *rs = make_token("{\"alg\":\"RS256\"}", claims, f->rsa, JOSE_ALG_RS256);
    char *ps = make_token("{\"alg\":\"PS256\"}", claims, f->rsa, JOSE_ALG_PS256);
    char *es = make_token("{\"alg\":\"ES256\"}", claims, f->ec, JOSE_ALG_ES256);
    char *ed = make_token("{\"alg\":\"EdDSA\"}", claims, f->ed, JOSE_ALG_EDDSA);
    assert_int_equal(verify_code(rs, f->krsa), JOSE_ERR_NONE);
    assert_int_equal(verify_code(rs, f->kec), JOSE_ERR_KEY);  /* RS256 token, ES256 key */
    assert_int_equal(verify_code(es, f->krsa), JOSE_ERR_KEY); /* ES256 token, RS256 key */
    assert_int_equal(verify_code(ps, f->krsa), JOSE_ERR_KEY); /* same RSA key, other alg */
    assert_int_equal(verify_code(ed, f->kec), JOSE_ERR_KEY);
    assert_int_equal(verify_code(es, f->ked), JOSE_ERR_KEY);
    free(rs);
    free(ps);
    free(es);
    free(ed);
}

static void wrong_curve(void **state)
{
    struct fixture *f = *state;
    /* An ES384 token against the P-256 key, and a P-384 signature labelled ES256. */
    char *t384 = make_token("{\"alg\":\"ES384\"}", claims, f->p384, JOSE_ALG_ES384);
    assert_int_equal(verify_code(t384, f->kec), JOSE_ERR_KEY);
    assert_int_equal(verify_code(t384, f->kp384), JOSE_ERR_NONE);
    char *dot = strchr(t384, '.');
    char *h = b64u("{\"alg\":\"ES256\"}");
    size_t n = strlen(h) + strlen(dot) + 1;
    char *t = xmalloc(n);
    snprintf(t, n, "%s%s", h, dot);
    assert_int_equal(verify_code(t, f->kp384), JOSE_ERR_KEY);
    assert_int_equal(verify_code(t, f->kec), JOSE_ERR_SIGNATURE); /* 96 bytes, 64 expected */
    free(t);
    free(h);
    free(t384);
}

/* Re-encodes the token with its signature bytes replaced. */
static char *with_sig(const char *tok, const void *sig, size_t n)
{
    const char *dot = strrchr(tok, '.');
    char *s = b64url_encode_z(sig, n);
    size_t len = (size_t)(dot - tok) + strlen(s) + 2;
    char *t = xmalloc(len);
    snprintf(t, len, "%.*s.%s", (int)(dot - tok), tok, s);
    free(s);
    return t;
}

static char *with_suffix(const char *tok, size_t cut, const char *add)
{
    size_t n = strlen(tok) - cut + strlen(add) + 1;
    char *t = xmalloc(n);
    snprintf(t, n, "%.*s%s", (int)(strlen(tok) - cut), tok, add);
    return t;
}

static void truncated_and_padded_signatures(void **state)
{
    struct fixture *f = *state;
    struct {
        EVP_PKEY *k;
        enum jose_alg alg;
        const char *hdr;
        struct jose_jwk *pub;
    } cases[] = {
        {f->rsa, JOSE_ALG_RS256, "{\"alg\":\"RS256\"}", f->krsa},
        {f->ec, JOSE_ALG_ES256, "{\"alg\":\"ES256\"}", f->kec},
        {f->ed, JOSE_ALG_EDDSA, "{\"alg\":\"EdDSA\"}", f->ked},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *tok = make_token(cases[i].hdr, claims, cases[i].k, cases[i].alg);
        assert_int_equal(verify_code(tok, cases[i].pub), JOSE_ERR_NONE);
        struct jose_jws j;
        struct err e = {0};
        assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), 0);
        uint8_t sig[JOSE_SIG_MAX + 1];
        size_t n = j.signature.len;
        memcpy(sig, j.signature.p, n);
        jose_jws_free(&j);
        char *t;
        /* Truncated: one byte short, half, 3 bytes (whole base64 group). */
        t = with_sig(tok, sig, n - 1);
        assert_int_equal(verify_code(t, cases[i].pub), JOSE_ERR_SIGNATURE);
        free(t);
        t = with_sig(tok, sig, n / 2);
        assert_int_equal(verify_code(t, cases[i].pub), JOSE_ERR_SIGNATURE);
        free(t);
        t = with_suffix(tok, 4, "");
        assert_int_not_equal(verify_code(t, cases[i].pub), JOSE_ERR_NONE);
        free(t);
        /* Extra bytes after or before the signature. */
        sig[n] = 0;
        t = with_sig(tok, sig, n + 1);
        assert_int_equal(verify_code(t, cases[i].pub), JOSE_ERR_SIGNATURE);
        free(t);
        uint8_t pre[JOSE_SIG_MAX + 1];
        pre[0] = 0;
        memcpy(pre + 1, sig, n);
        t = with_sig(tok, pre, n + 1);
        assert_int_equal(verify_code(t, cases[i].pub), JOSE_ERR_SIGNATURE);
        free(t);
        /* base64 padding and padding-like characters. */
        static const char *const pads[] = {"=", "==", "===", "%3D", ".", " ", "\n", "A"};
        for (size_t p = 0; p < UTIL_ARRAY_LEN(pads); p++) {
            t = with_suffix(tok, 0, pads[p]);
            int c = verify_code(t, cases[i].pub);
            assert_true(c == JOSE_ERR_MALFORMED || c == JOSE_ERR_SIGNATURE);
            free(t);
        }
        free(tok);
    }
}

static void der_instead_of_rs(void **state)
{
    struct fixture *f = *state;
    char *tok = make_token("{\"alg\":\"ES256\"}", claims, f->ec, JOSE_ALG_ES256);
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse(slice_z(tok), &j, &e), 0);
    uint8_t der[JOSE_ECDSA_DER_MAX];
    size_t dn = jose_ecdsa_rs_to_der((const uint8_t *)j.signature.p, 32, der);
    jose_jws_free(&j);
    char *t = with_sig(tok, der, dn);
    assert_int_equal(verify_code(t, f->kec), JOSE_ERR_SIGNATURE);
    free(t);
    free(tok);
}

/* Changes the last character of part `which` (0..2) so that its unused low bits are set. */
static char *noncanonical(const char *tok, int which)
{
    char *t = xstrdup(tok);
    char *end = t;
    for (int i = 0; i <= which; i++) {
        end = strchr(end + (i ? 1 : 0), '.');
        if (end == NULL) {
            end = t + strlen(t);
            break;
        }
    }
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *c = end - 1;
    int v = (int)(strchr(alpha, *c) - alpha);
    *c = alpha[v | 1];
    return t;
}

static void noncanonical_base64url(void **state)
{
    struct fixture *f = *state;
    /* Lengths chosen so that every part ends in a partial group: 26-byte header, 65-byte
     * payload, 64-byte signature. */
    char *tok = make_token("{\"alg\":\"ES256\",\"kid\":\"xy\"}",
                           "{\"sub\":\"alice\",\"exp\":4102444800,\"iat\":1700000000,\"x\":\"12\"}",
                           f->ec, JOSE_ALG_ES256);
    assert_int_equal(verify_code(tok, f->kec), JOSE_ERR_NONE);
    for (int part = 0; part < 3; part++) {
        char *t = noncanonical(tok, part);
        assert_string_not_equal(t, tok);
        assert_int_equal(verify_code(t, f->kec), JOSE_ERR_MALFORMED);
        free(t);
    }
    /* Standard-alphabet characters. */
    char *t = xstrdup(tok);
    char *s = strrchr(t, '.') + 1;
    s[3] = '+';
    assert_int_equal(verify_code(t, f->kec), JOSE_ERR_MALFORMED);
    s[3] = '/';
    assert_int_equal(verify_code(t, f->kec), JOSE_ERR_MALFORMED);
    free(t);
    free(tok);
}

static void wrong_shapes(void **state)
{
    struct fixture *f = *state;
    char *tok = make_token("{\"alg\":\"ES256\"}", claims, f->ec, JOSE_ALG_ES256);
    const char *d1 = strchr(tok, '.');
    const char *d2 = strrchr(tok, '.');
    int hl = (int)(d1 - tok);
    int pl = (int)(d2 - d1 - 1);
    char buf[4096];
    /* JWE-shaped (five parts). */
    snprintf(buf, sizeof buf, "%s.%s.%s", tok, "AAAA", "AAAA");
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_UNSUPPORTED);
    snprintf(buf, sizeof buf, "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA");
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_UNSUPPORTED);
    /* Four, two, one parts; empty parts; only dots. */
    snprintf(buf, sizeof buf, "%.*s.%.*s", hl, tok, pl, d1 + 1); /* two parts */
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s%.*s", hl, tok, pl, d1 + 1); /* one part */
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s.%.*s.", hl, tok, pl, d1 + 1); /* empty signature */
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%s.AAAA", tok);
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, ".%.*s%s", pl, d1 + 1, d2);
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s.%s", hl, tok, d2);
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    static const char *const junk[] = {"", ".", "..", "...", "....", "a.b.c", "\0"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(junk); i++) {
        assert_int_not_equal(verify_code(junk[i], f->kec), JOSE_ERR_NONE);
    }
    /* Whitespace around or inside. */
    snprintf(buf, sizeof buf, " %s", tok);
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s .%s", hl, tok, d1 + 1);
    assert_int_equal(verify_code(buf, f->kec), JOSE_ERR_MALFORMED);
    /* A NUL byte inside: the slice length counts, not strlen. */
    size_t n = strlen(tok);
    memcpy(buf, tok, n);
    buf[n] = '\0';
    buf[n + 1] = 'A';
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse((struct slice){buf, n + 2}, &j, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_MALFORMED);
    free(tok);
}

static void oversized_token(void **state)
{
    struct fixture *f = *state;
    /* A valid token right at the limit passes; one byte more is refused before any work. */
    size_t hdr = strlen("eyJhbGciOiJFZERTQSJ9") + 1;
    size_t sig = 86 + 1;
    size_t room = JOSE_MAX_TOKEN - hdr - sig; /* base64url characters for the payload */
    size_t plen = room / 4 * 3;               /* bytes that encode to exactly that */
    char *payload = xmalloc(plen + 1);
    memset(payload, 'a', plen);
    payload[plen] = '\0';
    char *tok = make_token("{\"alg\":\"EdDSA\"}", payload, f->ed, JOSE_ALG_EDDSA);
    assert_true(strlen(tok) <= JOSE_MAX_TOKEN);
    assert_int_equal(verify_code(tok, f->ked), JOSE_ERR_NONE);
    free(tok);
    free(payload);
    char *big = xmalloc(JOSE_MAX_TOKEN + 2);
    memset(big, 'A', JOSE_MAX_TOKEN + 1);
    big[10] = '.';
    big[20] = '.';
    big[JOSE_MAX_TOKEN + 1] = '\0';
    struct jose_jws j;
    struct err e = {0};
    assert_int_equal(jose_jws_parse(slice_z(big), &j, &e), -1);
    assert_int_equal(e.code, JOSE_ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "longer"));
    free(big);
}

static void bad_headers(void **state)
{
    struct fixture *f = *state;
    static const char *const hdrs[] = {
        "{\"alg\":\"ES256\",\"alg\":\"none\"}", /* duplicate member: which one wins? neither */
        "{\"alg\":\"none\",\"alg\":\"ES256\"}",
        "{\"alg\":\"ES256\",\"kid\":\"ec\",\"kid\":\"other\"}",
        "[\"ES256\"]",
        "\"ES256\"",
        "{\"alg\":[\"ES256\"]}",
        "{\"alg\":null}",
        "{\"alg\":\"ES256\",\"kid\":7}",
        "{\"alg\":\"ES256\"",
        "{\"alg\":\"ES256\"}x",
        "{\"alg\":\"ES256\"}{}",
        "{\"alg\":\"ES256\",\"kid\":\"a\\u0000b\"}",
        "{\"alg\":\"ES256\",\"x\":\"\xff\"}", /* invalid UTF-8 */
        "",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(hdrs); i++) {
        char *t = make_token(hdrs[i], claims, f->ec, JOSE_ALG_ES256);
        int c = verify_code(t, f->kec);
        if (c != JOSE_ERR_MALFORMED) {
            fail_msg("header %zu: code %d", i, c);
        }
        free(t);
    }
}

static void crit_is_refused(void **state)
{
    struct fixture *f = *state;
    static const char *const hdrs[] = {
        "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"ES256\",\"crit\":[\"b64\"],\"b64\":false}",
        "{\"alg\":\"ES256\",\"crit\":[]}",
        "{\"alg\":\"ES256\",\"crit\":null}",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(hdrs); i++) {
        char *t = make_token(hdrs[i], claims, f->ec, JOSE_ALG_ES256);
        assert_int_equal(verify_code(t, f->kec), JOSE_ERR_UNSUPPORTED);
        free(t);
    }
}

/* RFC 8725 section 3.10: keys named by the token are never used. The attacker signs with
 * their own key and embeds it (or points to it); verification uses ours and fails. */
static void header_keys_are_ignored(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    struct jose_jwk *ak = jose_jwk_from_pkey(f->attacker, "ec", JOSE_ALG_ES256, &e);
    json_t *ajwk = jose_jwk_to_json(ak);
    char *ajwk_s = util_json_dump(ajwk);
    char hdr[2048];
    static const char *const prefix[] = {
        "{\"alg\":\"ES256\",\"kid\":\"ec\",\"jwk\":",
        "{\"alg\":\"ES256\",\"kid\":\"ec\",\"jku\":\"https://evil.example/jwks.json\",\"j\":",
        "{\"alg\":\"ES256\",\"kid\":\"ec\",\"x5u\":\"https://evil.example/c.pem\",\"j\":",
        "{\"alg\":\"ES256\",\"kid\":\"ec\",\"x5c\":[\"MIIB\"],\"x5t\":\"AAAA\",\"j\":",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(prefix); i++) {
        snprintf(hdr, sizeof hdr, "%s%s}", prefix[i], ajwk_s);
        char *t = make_token(hdr, claims, f->attacker, JOSE_ALG_ES256);
        assert_int_equal(verify_code(t, f->kec), JOSE_ERR_SIGNATURE);
        assert_int_equal(verify_code(t, ak), JOSE_ERR_NONE); /* it is a well-made token */
        free(t);
    }
    free(ajwk_s);
    json_decref(ajwk);
    jose_jwk_free(ak);
}

static void tampering(void **state)
{
    struct fixture *f = *state;
    char *a = make_token("{\"alg\":\"EdDSA\"}", claims, f->ed, JOSE_ALG_EDDSA);
    char *b = make_token("{\"alg\":\"EdDSA\"}", "{\"sub\":\"admin\",\"exp\":4102444800}", f->ed,
                         JOSE_ALG_EDDSA);
    /* Header and payload of b with the signature of a. */
    const char *sa = strrchr(a, '.');
    const char *sb = strrchr(b, '.');
    size_t n = (size_t)(sb - b) + strlen(sa) + 1;
    char *t = xmalloc(n);
    snprintf(t, n, "%.*s%s", (int)(sb - b), b, sa);
    assert_int_equal(verify_code(t, f->ked), JOSE_ERR_SIGNATURE);
    free(t);
    /* Another Ed25519 key's valid signature. */
    EVP_PKEY *other = gen_key("ED25519");
    char *c = make_token("{\"alg\":\"EdDSA\"}", claims, other, JOSE_ALG_EDDSA);
    assert_int_equal(verify_code(c, f->ked), JOSE_ERR_SIGNATURE);
    free(c);
    EVP_PKEY_free(other);
    free(a);
    free(b);
}

int main(int argc, char **argv)
{
    vec_set_dir(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7515_a2_rs256_verifies),
        cmocka_unit_test(rfc7515_a3_es256_verifies),
        cmocka_unit_test(rfc7515_a1_hs256_is_refused),
        cmocka_unit_test(rfc8037_ed25519),
        cmocka_unit_test(rfc7520_4_1_rs256),
        cmocka_unit_test(rfc7520_4_2_ps384),
        cmocka_unit_test(rfc7520_4_3_es512),
        cmocka_unit_test(sign_round_trips),
        cmocka_unit_test(sign_refuses_bad_requests),
        cmocka_unit_test_setup_teardown(alg_none, setup, teardown),
        cmocka_unit_test_setup_teardown(alg_confusion, setup, teardown),
        cmocka_unit_test_setup_teardown(key_alg_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_curve, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_and_padded_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(der_instead_of_rs, setup, teardown),
        cmocka_unit_test_setup_teardown(noncanonical_base64url, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_token, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(crit_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(header_keys_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(tampering, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    jose_thread_cleanup();
    return rc;
}
