/* Tests of src/idp/init.c: the server secret and the default signing key are created once,
 * also when two nodes start together; configuration checks; key ring names. */
#include "helpers.h"

#include <pthread.h>

static struct idp_config config(const char *url)
{
    struct idp_config c;
    idp_config_defaults(&c);
    c.public_url = (char *)url;
    return c;
}

static size_t keypairs(struct store *s)
{
    struct store_keypair_list l = {0};
    struct err e = {0};
    assert_int_equal(store_keypair_list(s, &l, &e), 0);
    size_t n = l.n;
    store_keypair_list_free(&l);
    return n;
}

static void twice(void **state)
{
    struct fixture *f = *state;
    struct idp_config c = config("https://auth.example.com/");
    struct idp a, b;
    struct err e = {0};
    assert_int_equal(idp_init(&a, &c, f->s, &e), 0);
    assert_string_equal(a.cfg.public_url, "https://auth.example.com");
    assert_true(a.cfg.cookie_secure);
    assert_int_equal(keypairs(f->s), 1);
    struct keys_info ka, kb;
    assert_int_equal(idp_key_find(&a, IDP_DEFAULT_KEY_NAME, &ka, &e), 0);
    assert_int_equal(ka.alg, JOSE_ALG_RS256);
    struct store_keypair k = {0};
    assert_int_equal(store_keypair_get_by_name(f->s, IDP_DEFAULT_KEY_NAME, &k, &e), 0);
    assert_string_equal(k.kid, ka.kid);
    assert_string_equal(k.alg, "RS256");
    assert_non_null(strstr(k.key_pem, "BEGIN PRIVATE KEY"));
    store_keypair_free(&k);
    struct buf v;
    buf_init(&v, 256);
    assert_int_equal(store_meta_get(f->s, IDP_SECRET_META_KEY, &v, &e), 0);
    assert_int_equal(v.len, 43);

    /* a second start: the same secret, the same (one) key */
    assert_int_equal(idp_init(&b, &c, f->s, &e), 0);
    assert_memory_equal(a.secret, b.secret, sizeof a.secret);
    assert_int_equal(keypairs(f->s), 1);
    assert_int_equal(idp_key_find(&b, IDP_DEFAULT_KEY_NAME, &kb, &e), 0);
    assert_string_equal(ka.kid, kb.kid);
    /* a CSRF token of one node checks on the other */
    char *t = idp_csrf_token(&a, SLICE_LIT("x"), "login");
    assert_true(idp_csrf_check(&b, SLICE_LIT("x"), "login", t));
    free(t);
    /* both sign with it, and the signature verifies with the published key */
    char *jws = keys_jws_sign(b.keys, kb.kid, "JWT", SLICE_LIT("{\"a\":1}"), &e);
    assert_non_null(jws);
    free(jws);

    buf_free(&v);
    idp_free(&a);
    idp_free(&b);
    idp_free(&b); /* zeroed: fine */
}

struct node {
    const char *url;
    struct idp idp;
    int rc;
    struct err e;
};

static void *start_node(void *arg)
{
    struct node *n = arg;
    struct store *s = store_open(n->url, &n->e);
    struct idp_config c = config("http://auth.localhost:9000");
    n->rc = s ? idp_init(&n->idp, &c, s, &n->e) : -1;
    store_close(s);
    return NULL;
}

static void two_nodes_at_once(void **state)
{
    struct fixture *f = *state;
    struct node n[2] = {{.url = f->url}, {.url = f->url}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, start_node, &n[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (n[i].rc != 0) {
            fail_msg("node %d: %s", i, n[i].e.msg);
        }
    }
    assert_memory_equal(n[0].idp.secret, n[1].idp.secret, sizeof n[0].idp.secret);
    assert_int_equal(keypairs(f->s), 1);
    struct keys_info k0, k1;
    struct err e = {0};
    assert_int_equal(idp_key_find(&n[0].idp, IDP_DEFAULT_KEY_NAME, &k0, &e), 0);
    assert_int_equal(idp_key_find(&n[1].idp, IDP_DEFAULT_KEY_NAME, &k1, &e), 0);
    assert_string_equal(k0.kid, k1.kid);
    assert_false(n[0].idp.cfg.cookie_secure); /* http:// */
    idp_free(&n[0].idp);
    idp_free(&n[1].idp);
}

static void keys_sync(void **state)
{
    struct fixture *f = *state;
    struct idp_config c = config("https://auth.example.com");
    struct idp a;
    struct err e = {0};
    assert_int_equal(idp_init(&a, &c, f->s, &e), 0);
    /* another pair appears in the store (postern apply, another node) */
    struct keys *tmp = keys_new();
    char kid[KEYS_KID_MAX];
    char *key_pem = NULL, *cert_pem = NULL;
    size_t key_len = 0;
    assert_int_equal(keys_generate(tmp, "ec", JOSE_ALG_ES256, 0, kid, &e), 0);
    assert_int_equal(keys_export_pem(tmp, kid, &key_pem, &key_len, &cert_pem, &e), 0);
    struct store_keypair in = {.name = (char *)"My EC key (2026)",
                               .kid = kid,
                               .alg = (char *)"ES256",
                               .key_pem = key_pem,
                               .cert_pem = cert_pem};
    struct store_keypair out = {0};
    assert_int_equal(store_keypair_insert_if_absent(f->s, &in, &out, NULL, &e), 0);
    struct keys_info info;
    assert_int_not_equal(idp_key_find(&a, "My EC key (2026)", &info, &e), 0);
    size_t added = 0;
    assert_int_equal(idp_keys_sync(&a, f->s, &added, &e), 0);
    assert_int_equal(added, 1);
    assert_int_equal(idp_key_find(&a, "My EC key (2026)", &info, &e), 0);
    assert_string_equal(info.kid, kid);
    assert_int_equal(info.alg, JOSE_ALG_ES256);
    assert_int_equal(idp_keys_sync(&a, f->s, &added, &e), 0);
    assert_int_equal(added, 0);

    /* deleted and made again under the same name with another key: the ring follows */
    assert_int_equal(store_keypair_delete(f->s, "My EC key (2026)", &e), 0);
    char kid2[KEYS_KID_MAX];
    char *key2 = NULL, *cert2 = NULL;
    assert_int_equal(keys_generate(tmp, "ec2", JOSE_ALG_ES256, 0, kid2, &e), 0);
    assert_int_equal(keys_export_pem(tmp, kid2, &key2, &key_len, &cert2, &e), 0);
    struct store_keypair in2 = {.name = (char *)"My EC key (2026)",
                                .kid = kid2,
                                .alg = (char *)"ES256",
                                .key_pem = key2,
                                .cert_pem = cert2};
    assert_int_equal(store_keypair_insert_if_absent(f->s, &in2, &out, NULL, &e), 0);
    assert_int_equal(idp_keys_sync(&a, f->s, &added, &e), 0);
    assert_int_equal(added, 1);
    assert_int_equal(idp_key_find(&a, "My EC key (2026)", &info, &e), 0);
    assert_string_equal(info.kid, kid2);
    struct keys_info all[8];
    assert_int_equal(keys_list(a.keys, all, 8), 2); /* the default and this one */

    /* a name that collides with it once mapped: refused, naming both */
    char kid3[KEYS_KID_MAX];
    char *key3 = NULL, *cert3 = NULL;
    assert_int_equal(keys_generate(tmp, "ec3", JOSE_ALG_ES256, 0, kid3, &e), 0);
    assert_int_equal(keys_export_pem(tmp, kid3, &key3, &key_len, &cert3, &e), 0);
    struct store_keypair in3 = {.name = (char *)"My EC key [2026]",
                                .kid = kid3,
                                .alg = (char *)"ES256",
                                .key_pem = key3,
                                .cert_pem = cert3};
    assert_int_equal(store_keypair_insert_if_absent(f->s, &in3, &out, NULL, &e), 0);
    assert_int_equal(idp_keys_sync(&a, f->s, &added, &e), -1);
    assert_int_equal(e.code, IDP_E_KEYS);
    assert_non_null(strstr(e.msg, "My EC key [2026]"));
    assert_int_equal(store_keypair_delete(f->s, "My EC key [2026]", &e), 0);

    /* deleted: it leaves the ring */
    assert_int_equal(store_keypair_delete(f->s, "My EC key (2026)", &e), 0);
    assert_int_equal(idp_keys_sync(&a, f->s, &added, &e), 0);
    assert_int_not_equal(idp_key_find(&a, "My EC key (2026)", &info, &e), 0);
    assert_int_equal(keys_list(a.keys, all, 8), 1);
    util_free_secret(key2);
    free(cert2);
    util_free_secret(key3);
    free(cert3);
    store_keypair_free(&out);
    util_free_secret(key_pem);
    free(cert_pem);
    keys_free(tmp);
    idp_free(&a);
}

static void bad_config(void **state)
{
    struct fixture *f = *state;
    const char *urls[] = {NULL,
                          "",
                          "auth.example.com",
                          "ftp://auth.example.com",
                          "https://",
                          "https://auth.example.com/sub",
                          "https://auth example.com",
                          "javascript://x",
                          "http://"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(urls); i++) {
        struct idp_config c = config(urls[i]);
        struct idp a;
        struct err e = {0};
        assert_int_equal(idp_init(&a, &c, f->s, &e), -1);
        assert_int_equal(e.code, IDP_E_CONFIG);
        assert_null(a.keys);
    }
    struct idp_config c = config("https://auth.example.com");
    c.throttle_lockout = -1;
    struct idp a;
    struct err e = {0};
    assert_int_equal(idp_init(&a, &c, f->s, &e), -1);
    /* nothing was created by a refused configuration */
    assert_int_equal(keypairs(f->s), 0);
    /* zeros take the defaults; 0 failures keeps throttling off */
    c = config("https://auth.example.com");
    c.session_lifetime = 0;
    c.throttle_window = 0;
    c.throttle_lockout = 0;
    c.throttle_max_failures = 0;
    assert_int_equal(idp_init(&a, &c, f->s, &e), 0);
    assert_int_equal(a.cfg.session_lifetime, IDP_DEFAULT_SESSION_LIFETIME);
    assert_int_equal(a.cfg.throttle_window, IDP_DEFAULT_THROTTLE_WINDOW);
    assert_int_equal(a.cfg.throttle_lockout, IDP_DEFAULT_THROTTLE_LOCKOUT);
    assert_int_equal(a.cfg.throttle_max_failures, 0);
    idp_free(&a);
}

static void ring_names(void **state)
{
    char n[KEYS_NAME_MAX + 1];
    idp_key_ring_name("postern Self-signed Certificate", n);
    assert_string_equal(n, "postern_Self-signed_Certificate");
    idp_key_ring_name("key.v2_a-b", n);
    assert_string_equal(n, "key.v2_a-b");
    idp_key_ring_name(" lead", n);
    assert_string_equal(n, "k_lead");
    idp_key_ring_name("../../etc/passwd", n);
    assert_string_equal(n, "k.._.._etc_passwd");
    idp_key_ring_name("", n);
    assert_string_equal(n, "k");
    char big[200];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    idp_key_ring_name(big, n);
    assert_int_equal(strlen(n), KEYS_NAME_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(twice, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(two_nodes_at_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(keys_sync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_config, fx_setup, fx_teardown),
        cmocka_unit_test(ring_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
