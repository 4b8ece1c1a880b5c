/* Tests of certificate-key pairs, providers, applications and bindings, consents, through
 * store.h on either backend (sqlite_oauth.c, pg_oauth.c; see testdb.h). */
#include "testdb.h"

#include <pthread.h>

#define DEFAULT_KEY "postern Self-signed Certificate"

static void keypair_insert_if_absent(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_keypair a = {.name = DEFAULT_KEY,
                              .kid = "kid-A",
                              .alg = "RS256",
                              .key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n",
                              .cert_pem = "-----BEGIN CERTIFICATE-----\nCA\n"};
    struct store_keypair b = {.name = DEFAULT_KEY,
                              .kid = "kid-B",
                              .alg = "ES256",
                              .key_pem = "-----BEGIN PRIVATE KEY-----\nBBBB\n",
                              .cert_pem = "-----BEGIN CERTIFICATE-----\nCB\n"};
    struct store_keypair out = {0};
    bool inserted = false;
    OK(store_keypair_insert_if_absent(s, &a, &out, &inserted, &e));
    assert_true(inserted);
    assert_string_equal(out.kid, "kid-A");
    assert_string_equal(out.key_pem, a.key_pem);
    assert_int_equal(out.created_at, T0);
    /* the second one loses and gets the winner */
    OK(store_keypair_insert_if_absent(s, &b, &out, &inserted, &e));
    assert_false(inserted);
    assert_string_equal(out.kid, "kid-A");
    assert_string_equal(out.alg, "RS256");
    assert_string_equal(out.cert_pem, a.cert_pem);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM certificate_keypairs"), 1);

    /* another name with the same kid is refused */
    struct store_keypair c = a;
    c.name = "copy";
    RC(-1, store_keypair_insert_if_absent(s, &c, &out, NULL, &e));
    assert_string_equal(e.msg, "kid already used by another certificate-key pair");
    struct store_keypair d = b;
    d.name = "second";
    OK(store_keypair_insert_if_absent(s, &d, &out, NULL, &e));

    struct store_keypair_list l = {0};
    OK(store_keypair_list(s, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, DEFAULT_KEY);
    assert_string_equal(l.v[1].name, "second");
    OK(store_keypair_get_by_name(s, "second", &out, &e));
    assert_string_equal(out.kid, "kid-B");
    RC(STORE_NOT_FOUND, store_keypair_get_by_name(s, "none", &out, &e));

    /* a key that signs for a provider cannot be deleted */
    tdb_provider(s, "Cloudflare", "cf-client");
    RC(-1, store_keypair_delete(s, DEFAULT_KEY, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_non_null(strstr(e.msg, "is the signing_key of a provider"));
    OK(store_keypair_delete(s, "second", &e));
    RC(STORE_NOT_FOUND, store_keypair_delete(s, "second", &e));
    store_keypair_list_free(&l);
    store_keypair_free(&out);
    store_close(s);
}

#define RACERS 6

struct key_racer {
    const char *path;
    pthread_barrier_t *start;
    int id;
    bool inserted;
    char kid[64];
    char msg[ERR_MSG_MAX];
};

static void *key_race(void *arg)
{
    struct key_racer *r = arg;
    struct err e = {0};
    char kid[32], pem[64];
    snprintf(kid, sizeof(kid), "kid-%d", r->id);
    snprintf(pem, sizeof(pem), "-----BEGIN PRIVATE KEY-----\n%d\n", r->id);
    struct store_keypair in = {
        .name = DEFAULT_KEY, .kid = kid, .alg = "RS256", .key_pem = pem, .cert_pem = "c"};
    struct store_keypair out = {0};
    struct store *s = store_open(r->path, &e); /* each node / thread has its connection */
    pthread_barrier_wait(r->start);
    if (!s || store_keypair_insert_if_absent(s, &in, &out, &r->inserted, &e) != 0)
        snprintf(r->msg, sizeof(r->msg), "%s", e.msg[0] ? e.msg : "failed");
    else
        snprintf(r->kid, sizeof(r->kid), "%s", out.kid);
    store_keypair_free(&out);
    store_close(s);
    return NULL;
}

static void keypair_simultaneous_starts_make_one(void **state)
{
    for (int round = 0; round < 5; round++) {
        char path[512];
        struct store *s = tdb_fresh(path);
        pthread_t t[RACERS];
        struct key_racer r[RACERS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (struct key_racer){.path = path, .start = &start, .id = i};
            assert_int_equal(pthread_create(&t[i], NULL, key_race, &r[i]), 0);
        }
        int winners = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(t[i], NULL);
            if (r[i].msg[0])
                fail_msg("round %d racer %d: %s", round, i, r[i].msg);
            winners += r[i].inserted;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(winners, 1);
        /* every node ends up with the winner's key */
        for (int i = 1; i < RACERS; i++)
            assert_string_equal(r[i].kid, r[0].kid);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM certificate_keypairs"), 1);
        store_close(s);
    }
}

static void provider_upsert_and_lookups(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t id = tdb_provider(s, "Cloudflare", "cf-client");
    struct store_provider p = {0};
    OK(store_provider_get_by_id(s, id, &p, &e));
    assert_string_equal(p.name, "Cloudflare");
    assert_string_equal(p.client_type, "confidential");
    assert_string_equal(p.client_id, "cf-client");
    assert_string_equal(p.client_secret, "s3cret-client-secret"); /* provider show prints it */
    assert_string_equal(p.signing_key, DEFAULT_KEY);
    assert_int_equal(p.access_code_validity, 60);
    assert_int_equal(p.access_token_validity, 3600);
    assert_int_equal(p.refresh_token_validity, 30 * 86400);
    assert_string_equal(p.sub_mode, "hashed_user_id");
    assert_true(p.include_claims_in_id_token);
    assert_non_null(strstr(p.redirect_uris, "\"matching_mode\":\"strict\""));
    OK(store_provider_get_by_client_id(s, "cf-client", &p, &e));
    assert_int_equal(p.id, id);
    RC(STORE_NOT_FOUND, store_provider_get_by_client_id(s, "CF-CLIENT", &p, &e));
    OK(store_provider_get_by_name(s, "Cloudflare", &p, &e));
    assert_int_equal(p.id, id);

    /* upsert by name replaces every field and keeps the id */
    util_set_fake_now(T0 + 7);
    struct store_provider u = {.name = "Cloudflare",
                               .authorization_flow = "flow2",
                               .client_type = "public",
                               .client_id = "cf-new",
                               .client_secret = "",
                               .redirect_uris = "[]",
                               .signing_key = DEFAULT_KEY,
                               .access_code_validity = 30,
                               .access_token_validity = 600,
                               .refresh_token_validity = 86400,
                               .sub_mode = "user_email",
                               .include_claims_in_id_token = false};
    bool created = true;
    OK(store_provider_upsert(s, &u, &created, &e));
    assert_false(created);
    assert_int_equal(u.id, id);
    OK(store_provider_get_by_id(s, id, &p, &e));
    assert_string_equal(p.client_id, "cf-new");
    assert_string_equal(p.client_type, "public");
    assert_int_equal(p.access_code_validity, 30);
    assert_false(p.include_claims_in_id_token);
    assert_int_equal(p.created_at, T0);
    assert_int_equal(p.updated_at, T0 + 7);
    RC(STORE_NOT_FOUND, store_provider_get_by_client_id(s, "cf-client", &p, &e));

    int64_t other = tdb_provider(s, "Other", "other-client");
    assert_true(other != id);
    struct store_provider_list l = {0};
    OK(store_provider_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "Cloudflare");
    assert_string_equal(l.v[1].name, "Other");
    store_provider_list_free(&l);
    store_provider_free(&p);
    store_close(s);
}

static void provider_refusals_name_the_field(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    tdb_provider(s, "A", "client-a");
    struct store_provider p = {.name = "B",
                               .authorization_flow = "f",
                               .client_type = "confidential",
                               .client_id = "client-a",
                               .client_secret = "x",
                               .signing_key = DEFAULT_KEY,
                               .access_code_validity = 60,
                               .access_token_validity = 60,
                               .refresh_token_validity = 60,
                               .sub_mode = "user_id"};
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "client_id already used by another provider");
    p.client_id = "client-b";
    p.signing_key = "no such key";
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "signing_key: no certificate-key pair named \"no such key\"");
    p.signing_key = DEFAULT_KEY;
    p.client_type = "secret-agent";
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "client_type must be confidential or public");
    p.client_type = "confidential";
    p.client_secret = "";
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "client_secret is required for a confidential client");
    p.client_secret = "x";
    p.access_code_validity = 0;
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "access_code_validity must be positive");
    p.access_code_validity = 60;
    p.redirect_uris = "{\"url\":\"x\"}";
    RC(-1, store_provider_upsert(s, &p, NULL, &e));
    assert_string_equal(e.msg, "redirect_uris must be a JSON array");
    p.redirect_uris = NULL; /* "" / NULL: the empty list, which accepts nothing */
    OK(store_provider_upsert(s, &p, NULL, &e));
    struct store_provider g = {0};
    OK(store_provider_get_by_name(s, "B", &g, &e));
    assert_string_equal(g.redirect_uris, "[]");
    store_provider_free(&g);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM oauth2_providers"), 2);
    store_close(s);
}

static void applications_and_bindings(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t prov = tdb_provider(s, "Cloudflare", "cf");
    struct store_app a = {.name = "Cloudflare", .slug = "cloudflare", .provider_id = prov};
    bool created = false;
    OK(store_app_upsert(s, &a, &created, &e));
    assert_true(created);
    struct store_app g = {0};
    OK(store_app_get_by_slug(s, "cloudflare", &g, &e));
    assert_int_equal(g.id, a.id);
    assert_int_equal(g.provider_id, prov);
    assert_string_equal(g.policy_engine_mode, "any"); /* default */
    assert_string_equal(g.meta, "{}");
    OK(store_app_get_by_provider(s, prov, &g, &e));
    assert_string_equal(g.slug, "cloudflare");
    OK(store_app_get_by_id(s, a.id, &g, &e));
    RC(STORE_NOT_FOUND, store_app_get_by_provider(s, 0, &g, &e));
    RC(STORE_NOT_FOUND, store_app_get_by_slug(s, "nope", &g, &e));

    /* upsert by slug */
    struct store_app a2 = {.name = "CF",
                           .slug = "cloudflare",
                           .provider_id = prov,
                           .policy_engine_mode = "all",
                           .meta = "{\"launch_url\":\"https://x\"}"};
    OK(store_app_upsert(s, &a2, &created, &e));
    assert_false(created);
    assert_int_equal(a2.id, a.id);
    OK(store_app_get_by_slug(s, "cloudflare", &g, &e));
    assert_string_equal(g.name, "CF");
    assert_string_equal(g.policy_engine_mode, "all");

    /* refusals */
    const char *reserved[] = {"authorize",  "token",  "device", "userinfo",
                              "introspect", "revoke", ""};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reserved); i++) {
        struct store_app r = {.name = "x", .slug = (char *)reserved[i]};
        RC(-1, store_app_upsert(s, &r, NULL, &e));
        assert_int_equal(e.code, STORE_E_CONSTRAINT);
        assert_non_null(strstr(e.msg, "slug must not be empty or one of"));
    }
    struct store_app dup = {.name = "x", .slug = "second", .provider_id = prov};
    RC(-1, store_app_upsert(s, &dup, NULL, &e));
    assert_string_equal(e.msg, "provider already used by another application");
    dup.provider_id = 0;
    dup.policy_engine_mode = "some";
    RC(-1, store_app_upsert(s, &dup, NULL, &e));
    assert_string_equal(e.msg, "policy_engine_mode must be any or all");
    dup.policy_engine_mode = NULL;
    dup.meta = "[]";
    RC(-1, store_app_upsert(s, &dup, NULL, &e));
    assert_string_equal(e.msg, "meta must be a JSON object");
    dup.meta = NULL;
    OK(store_app_upsert(s, &dup, NULL, &e)); /* an application without provider */
    struct store_app_list l = {0};
    OK(store_app_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].slug, "cloudflare");
    assert_int_equal(l.v[1].provider_id, 0);
    store_app_list_free(&l);

    /* bindings: replaced atomically, ordered */
    int64_t alice = tdb_user(s, "alice", ""), bob = tdb_user(s, "bob", "");
    struct store_group staff = {.name = "staff"};
    OK(store_group_upsert(s, &staff, NULL, &e));
    struct store_binding v[] = {
        {.order = 20, .group_id = staff.id, .enabled = true},
        {.order = 10, .user_id = alice, .enabled = true},
        {.order = 30, .user_id = bob, .negate = true, .enabled = false},
    };
    OK(store_app_bindings_set(s, a.id, v, 3, &e));
    struct store_binding_list bl = {0};
    OK(store_app_bindings(s, a.id, &bl, &e));
    assert_int_equal(bl.n, 3);
    assert_int_equal(bl.v[0].user_id, alice);
    assert_int_equal(bl.v[0].order, 10);
    assert_int_equal(bl.v[1].group_id, staff.id);
    assert_int_equal(bl.v[1].user_id, 0);
    assert_true(bl.v[2].negate);
    assert_false(bl.v[2].enabled);
    struct store_binding both = {.user_id = alice, .group_id = staff.id};
    RC(-1, store_app_bindings_set(s, a.id, &both, 1, &e));
    assert_non_null(strstr(e.msg, "a user or a group, not both"));
    struct store_binding neither = {.order = 1};
    RC(-1, store_app_bindings_set(s, a.id, &neither, 1, &e));
    struct store_binding unknown[] = {{.user_id = alice}, {.user_id = 999}};
    RC(-1, store_app_bindings_set(s, a.id, unknown, 2, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_non_null(strstr(e.msg, "binding 2"));
    OK(store_app_bindings(s, a.id, &bl, &e));
    assert_int_equal(bl.n, 3); /* nothing changed */
    RC(STORE_NOT_FOUND, store_app_bindings_set(s, 999, v, 1, &e));

    /* deleting the bound user keeps the binding, matching nobody: the application does not
     * become open to everyone */
    OK(store_app_bindings_set(s, a.id, &(struct store_binding){.user_id = bob}, 1, &e));
    OK(store_user_delete(s, bob, &e));
    OK(store_app_bindings(s, a.id, &bl, &e));
    assert_int_equal(bl.n, 1);
    assert_int_equal(bl.v[0].user_id, 0);
    assert_int_equal(bl.v[0].group_id, 0);
    OK(store_group_delete(s, staff.id, &e));

    /* deleting the provider leaves the application without one; deleting the application
     * takes its bindings */
    OK(store_provider_delete(s, prov, &e));
    RC(STORE_NOT_FOUND, store_provider_delete(s, prov, &e));
    OK(store_app_get_by_id(s, a.id, &g, &e));
    assert_int_equal(g.provider_id, 0);
    OK(store_app_delete(s, a.id, &e));
    RC(STORE_NOT_FOUND, store_app_delete(s, a.id, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM app_bindings"), 0);
    store_binding_list_free(&bl);
    store_app_free(&g);
    store_close(s);
}

static void consents(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    int64_t prov = tdb_provider(s, "P", "p");
    int64_t alice = tdb_user(s, "alice", "");
    struct store_consent c = {0};
    RC(STORE_NOT_FOUND, store_consent_get(s, alice, prov, &c, &e));
    struct store_consent in = {
        .user_id = alice, .provider_id = prov, .scope = "openid email", .expires_at = T0 + 100};
    OK(store_consent_set(s, &in, &e));
    assert_int_equal(in.created_at, T0);
    OK(store_consent_get(s, alice, prov, &c, &e));
    assert_string_equal(c.scope, "openid email");
    assert_int_equal(c.expires_at, T0 + 100);
    in.scope = "openid email profile";
    in.expires_at = 0; /* forever */
    OK(store_consent_set(s, &in, &e));
    util_set_fake_now(T0 + 1000);
    OK(store_consent_get(s, alice, prov, &c, &e));
    assert_string_equal(c.scope, "openid email profile");
    in.expires_at = T0 + 1001;
    OK(store_consent_set(s, &in, &e));
    util_set_fake_now(T0 + 1001);
    RC(STORE_NOT_FOUND, store_consent_get(s, alice, prov, &c, &e)); /* expired */
    OK(store_consent_delete(s, alice, prov, &e));
    RC(STORE_NOT_FOUND, store_consent_delete(s, alice, prov, &e));
    struct store_consent bad = {.user_id = 999, .provider_id = prov, .scope = "openid"};
    RC(-1, store_consent_set(s, &bad, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    store_consent_free(&c);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keypair_insert_if_absent),
        cmocka_unit_test(keypair_simultaneous_starts_make_one),
        cmocka_unit_test(provider_upsert_and_lookups),
        cmocka_unit_test(provider_refusals_name_the_field),
        cmocka_unit_test(applications_and_bindings),
        cmocka_unit_test(consents),
    };
    return TDB_RUN(tests);
}
