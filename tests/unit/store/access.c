/* Tests of the access gateway's configuration in the store (src/store/store_access.c,
 * sqlite_access.c, pg_access.c, migration 4), through store.h on either backend (see
 * testdb.h): identity providers, applications and their AUD tags, service tokens, signing keys
 * and their rotation (also under races between nodes), and that no raw secret reaches the
 * database. The gateway's grants are in access_grants.c. */
#include "access_fixture.h"

#include <pthread.h>

/* ---- migration ----------------------------------------------------------------------- */

static void migration_4_applies_on_version_3(void **state)
{
    char path[512];
    struct err e = {0};
    util_set_fake_now(T0);
    size_t n = 0;
    struct store *s = tdb_empty(path);
    OK(tdb_migrate_list(s, tdb_migrations(s, &n), 3, &e));
    int v = 0;
    OK(store_schema_version(s, &v, &e));
    assert_int_equal(v, 3);
    int64_t prov = tdb_provider(s, "Cloudflare", "cf");
    int64_t alice = tdb_user(s, "alice", "alice@example.com");
    OK(store_migrate(s, &e));
    OK(store_schema_version(s, &v, &e));
    assert_int_equal(v, 4);
    assert_int_equal(store_schema_latest(s), 4);
    /* what version 3 held is intact, and the new tables work */
    struct store_provider p = {0};
    OK(store_provider_get_by_id(s, prov, &p, &e));
    assert_string_equal(p.client_id, "cf");
    struct store_user u = {0};
    OK(store_user_get_by_id(s, alice, &u, &e));
    assert_string_equal(u.username, "alice");
    char aud[STORE_AUD_SIZE];
    app(s, "myapp", "service.localhost", aud);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_apps"), 1);
    assert_int_equal(tdb_int(path, tdb_is_url(path)
                                       ? "SELECT count(*) FROM information_schema.tables "
                                         "WHERE table_schema = current_schema() "
                                         "AND table_name LIKE 'access_%'"
                                       : "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                                         "AND name LIKE 'access_%'"),
                     7);
    store_provider_free(&p);
    store_user_free(&u);
    store_close(s);
}

/* ---- identity providers ---------------------------------------------------------------- */

static void identity_providers(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    bool created = false;
    struct store_access_idp p = {
        .name = "Authentik",
        .type = "oidc",
        .config = "{\"client_id\":\"cf-client\",\"client_secret\":\"cf-secret-0123456789\"}"};
    OK(store_access_idp_upsert(s, &p, &created, &e));
    assert_true(created);
    int64_t id = p.id;
    assert_true(id > 0);
    assert_int_equal(p.created_at, T0);

    util_set_fake_now(T0 + 5);
    p.config = "{\"client_id\":\"cf-client-2\"}";
    OK(store_access_idp_upsert(s, &p, &created, &e));
    assert_false(created);
    assert_int_equal(p.id, id);
    assert_int_equal(p.created_at, T0);
    assert_int_equal(p.updated_at, T0 + 5);

    struct store_access_idp got = {0};
    OK(store_access_idp_get(s, "Authentik", &got, &e));
    assert_int_equal(got.id, id);
    assert_string_equal(got.type, "oidc");
    assert_string_equal(got.config, "{\"client_id\":\"cf-client-2\"}");
    assert_int_equal(got.updated_at, T0 + 5);
    RC(STORE_NOT_FOUND, store_access_idp_get(s, "authentik", &got, &e)); /* exact */

    /* refused: empty name or type, config that is not a JSON object */
    struct store_access_idp bad = {.name = "", .type = "oidc"};
    RC(-1, store_access_idp_upsert(s, &bad, NULL, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "identity provider name must not be empty");
    bad = (struct store_access_idp){.name = "x", .type = ""};
    RC(-1, store_access_idp_upsert(s, &bad, NULL, &e));
    assert_string_equal(e.msg, "identity provider type must not be empty");
    bad = (struct store_access_idp){.name = "x", .type = "oidc", .config = "[1]"};
    RC(-1, store_access_idp_upsert(s, &bad, NULL, &e));
    assert_string_equal(e.msg, "config must be a JSON object");

    /* list ordered by name, paged */
    OK(store_access_idp_upsert(s, &(struct store_access_idp){.name = "Google", .type = "oidc"},
                               NULL, &e));
    OK(store_access_idp_upsert(s, &(struct store_access_idp){.name = "Dex", .type = "oidc"}, NULL,
                               &e));
    struct store_access_idp_list l = {0};
    OK(store_access_idp_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].name, "Authentik");
    assert_string_equal(l.v[1].name, "Dex");
    assert_string_equal(l.v[2].config, "{}");
    OK(store_access_idp_list(s, &(struct store_page){.limit = 1, .offset = 1}, &l, &e));
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, "Dex");

    OK(store_access_idp_delete(s, "Dex", &e));
    RC(STORE_NOT_FOUND, store_access_idp_delete(s, "Dex", &e));
    RC(STORE_NOT_FOUND, store_access_idp_get(s, "Dex", &got, &e));
    store_access_idp_list_free(&l);
    store_access_idp_free(&got);
    store_close(s);
}

/* ---- applications ------------------------------------------------------------------ */

static void applications_and_aud(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    bool created = false;
    struct store_access_app a = {
        .name = "myapp", .domain = "service.localhost", .config = "{\"session_duration\":\"24h\"}"};
    OK(store_access_app_upsert(s, &a, &created, &e));
    assert_true(created);
    assert_true(is_hex(a.aud, 64));
    char aud[STORE_AUD_SIZE];
    memcpy(aud, a.aud, sizeof(aud));

    /* the aud is kept by every later upsert, even one that brings another (or none) */
    util_set_fake_now(T0 + 60);
    struct store_access_app b = {.name = "myapp",
                                 .domain = "service.localhost/App",
                                 .config = "{\"session_duration\":\"1h\"}"};
    snprintf(b.aud, sizeof(b.aud), "%064d", 0);
    OK(store_access_app_upsert(s, &b, &created, &e));
    assert_false(created);
    assert_string_equal(b.aud, aud);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.created_at, T0);
    b.aud[0] = '\0';
    OK(store_access_app_upsert(s, &b, &created, &e));
    assert_string_equal(b.aud, aud);

    struct store_access_app got = {0};
    OK(store_access_app_get_by_aud(s, aud, &got, &e));
    assert_string_equal(got.name, "myapp");
    assert_string_equal(got.domain, "service.localhost/App"); /* a path keeps its case */
    assert_string_equal(got.config, "{\"session_duration\":\"1h\"}");
    assert_int_equal(got.updated_at, T0 + 60);
    OK(store_access_app_get_by_domain(s, "service.localhost/App", &got, &e));
    assert_string_equal(got.aud, aud);
    OK(store_access_app_get_by_name(s, "myapp", &got, &e));
    assert_string_equal(got.aud, aud);
    RC(STORE_NOT_FOUND, store_access_app_get_by_domain(s, "service.localhost", &got, &e));
    RC(STORE_NOT_FOUND, store_access_app_get_by_aud(s, "", &got, &e));

    /* a second application gets its own aud; a domain is one application's */
    char aud2[STORE_AUD_SIZE];
    app(s, "other", "other.localhost", aud2);
    assert_string_not_equal(aud, aud2);
    struct store_access_app dup = {.name = "third", .domain = "other.localhost"};
    RC(-1, store_access_app_upsert(s, &dup, NULL, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "domain already used by another application");
    assert_string_equal(dup.aud, ""); /* the candidate is forgotten: a retry makes another */

    /* the host must be lower case (matching is exact); the field is named */
    struct store_access_app upper = {.name = "upper", .domain = "Service.example.com"};
    RC(-1, store_access_app_upsert(s, &upper, NULL, &e));
    assert_string_equal(e.msg, "domain: the host must be lower case");
    upper.domain = "";
    RC(-1, store_access_app_upsert(s, &upper, NULL, &e));
    assert_string_equal(e.msg, "domain must not be empty");

    /* an imported Cloudflare AUD tag is kept; a malformed or taken one is refused */
    struct store_access_app imp = {.name = "imported", .domain = "*.imported.localhost"};
    snprintf(imp.aud, sizeof(imp.aud), "%s",
             "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2");
    OK(store_access_app_upsert(s, &imp, &created, &e));
    assert_true(created);
    assert_string_equal(imp.aud,
                        "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2");
    struct store_access_app bad = {.name = "bad", .domain = "bad.localhost"};
    snprintf(bad.aud, sizeof(bad.aud), "%s",
             "4714C1358E65FE4B408AD6D432A5F878F08194BDB4752441FD56FAEFA9B2B6F2");
    RC(-1, store_access_app_upsert(s, &bad, NULL, &e));
    assert_string_equal(e.msg, "aud must be 64 lower-case hex digits");
    snprintf(bad.aud, sizeof(bad.aud), "%s", aud2);
    RC(-1, store_access_app_upsert(s, &bad, NULL, &e));
    assert_string_equal(e.msg, "aud already used by another application");
    bad.aud[0] = '\0';
    bad.config = "\"text\"";
    RC(-1, store_access_app_upsert(s, &bad, NULL, &e));
    assert_string_equal(e.msg, "config must be a JSON object");

    struct store_access_app_list l = {0};
    OK(store_access_app_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].name, "imported");
    assert_string_equal(l.v[1].name, "myapp");
    assert_string_equal(l.v[2].aud, aud2);
    OK(store_access_app_delete(s, "other", &e));
    RC(STORE_NOT_FOUND, store_access_app_delete(s, "other", &e));
    RC(STORE_NOT_FOUND, store_access_app_get_by_aud(s, aud2, &got, &e));
    store_access_app_list_free(&l);
    store_access_app_free(&got);
    store_close(s);
}

/* ---- service tokens ------------------------------------------------------------------ */

static void service_tokens(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char secret[STORE_SERVICE_SECRET_SIZE], secret2[STORE_SERVICE_SECRET_SIZE];
    struct store_service_token t = {.name = "ci", .expires_at = T0 + 3600};
    OK(store_service_token_create(s, &t, secret, &e));
    assert_true(t.id > 0);
    assert_true(is_hex(secret, 64));
    assert_int_equal(strlen(t.client_id), 39);
    char cid[33];
    memcpy(cid, t.client_id, 32);
    cid[32] = '\0';
    assert_true(is_hex(cid, 32));
    assert_string_equal(t.client_id + 32, ".access");
    assert_int_equal(t.created_at, T0);
    struct store_service_token t2 = {.name = "monitoring"};
    OK(store_service_token_create(s, &t2, secret2, &e));
    assert_string_not_equal(t.client_id, t2.client_id);
    assert_string_not_equal(secret, secret2);

    /* the secret is never stored: only its digest */
    char d[STORE_ID_SIZE], sql[256];
    OK(store_digest(slice_z(secret), d, &e));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM access_service_tokens WHERE secret_hash = '%s'", d);
    assert_int_equal(tdb_int(path, sql), 1);
    assert_false(tdb_holds(path, secret));
    assert_true(tdb_holds(path, t.client_id));

    struct store_service_token got = {0};
    OK(store_service_token_verify(s, t.client_id, slice_z(secret), &got, &e));
    assert_int_equal(got.id, t.id);
    assert_string_equal(got.name, "ci");
    /* wrong secret, another token's secret, unknown id, no secret: one answer */
    char wrong[STORE_SERVICE_SECRET_SIZE];
    memcpy(wrong, secret, sizeof(wrong));
    wrong[63] = wrong[63] == '0' ? '1' : '0';
    RC(STORE_NOT_FOUND, store_service_token_verify(s, t.client_id, slice_z(wrong), &got, &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, t.client_id, slice_z(secret2), &got, &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, "0123456789abcdef0123456789abcdef.access",
                                                   slice_z(secret), &got, &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, t.client_id, TOK(""), &got, &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, "", slice_z(secret), &got, &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, NULL, slice_z(secret), &got, &e));
    /* the digest of a wrong-length secret is never compared with a stored one */
    RC(STORE_NOT_FOUND,
       store_service_token_verify(s, t.client_id, (struct slice){secret, 63}, &got, &e));
    assert_string_equal(got.name, "ci"); /* a refusal leaves out as it was */

    /* last_used: written once, then not again for STORE_SERVICE_TOUCH_S */
    OK(store_service_token_touch(s, &got, &e));
    assert_int_equal(got.last_used, T0);
    snprintf(sql, sizeof(sql), "SELECT last_used FROM access_service_tokens WHERE id = %lld",
             (long long)t.id);
    assert_int_equal(tdb_int(path, sql), T0);
    util_set_fake_now(T0 + 30);
    OK(store_service_token_touch(s, &got, &e));
    assert_int_equal(tdb_int(path, sql), T0);
    struct store_service_token stale = got; /* another node's older copy */
    stale.name = NULL;
    stale.last_used = 0;
    OK(store_service_token_touch(s, &stale, &e)); /* the database says it is recent */
    assert_int_equal(tdb_int(path, sql), T0);
    util_set_fake_now(T0 + 61);
    OK(store_service_token_touch(s, &got, &e));
    assert_int_equal(tdb_int(path, sql), T0 + 61);

    /* expired: said only to the holder of the right secret */
    util_set_fake_now(T0 + 3600);
    RC(STORE_EXPIRED, store_service_token_verify(s, t.client_id, slice_z(secret), &got, &e));
    assert_int_equal(got.expires_at, T0 + 3600);
    RC(STORE_NOT_FOUND, store_service_token_verify(s, t.client_id, slice_z(wrong), &got, &e));
    OK(store_service_token_verify(s, t2.client_id, slice_z(secret2), &got, &e)); /* never */

    /* names are unique; a failed creation wipes the secret it made */
    struct store_service_token dup = {.name = "ci"};
    char s3[STORE_SERVICE_SECRET_SIZE];
    RC(-1, store_service_token_create(s, &dup, s3, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "service token name already exists");
    assert_string_equal(dup.client_id, "");
    for (size_t i = 0; i < sizeof(s3); i++)
        assert_int_equal(s3[i], 0);
    dup.name = "";
    RC(-1, store_service_token_create(s, &dup, s3, &e));
    assert_string_equal(e.msg, "service token name must not be empty");

    struct store_service_token_list l = {0};
    OK(store_service_token_list(s, NULL, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "ci");
    assert_string_equal(l.v[0].client_id, t.client_id);
    assert_int_equal(l.v[0].last_used, T0 + 61);
    assert_string_equal(l.v[1].name, "monitoring");
    OK(store_service_token_delete(s, "monitoring", &e));
    RC(STORE_NOT_FOUND, store_service_token_delete(s, "monitoring", &e));
    RC(STORE_NOT_FOUND, store_service_token_verify(s, t2.client_id, slice_z(secret2), &got, &e));
    store_service_token_list_free(&l);
    store_service_token_free(&got);
    util_wipe(secret, sizeof(secret));
    util_wipe(secret2, sizeof(secret2));
    store_close(s);
}

/* ---- signing keys -------------------------------------------------------------------- */

static void signing_keys_and_rotation(void **state)
{
    char path[512], msg[256];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_access_key k = {0};
    struct store_access_key_list l = {0};
    bool inserted = true, rotated = true;
    OK(store_access_key_list(s, &l, &e));
    assert_int_equal(l.n, 0);
    RC(-1, store_access_key_ensure(s, "gate-1", &k, &inserted, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    assert_string_equal(e.msg, "keypair_name: no certificate-key pair named \"gate-1\"");

    keypair(s, "gate-1", "kid-1");
    keypair(s, "gate-2", "kid-2");
    keypair(s, "gate-3", "kid-3");
    OK(store_access_key_ensure(s, "gate-1", &k, &inserted, &e));
    assert_true(inserted);
    assert_string_equal(k.keypair_name, "gate-1");
    assert_string_equal(k.kid, "kid-1");
    assert_string_equal(k.alg, "RS256");
    assert_int_equal(k.retired_at, 0);
    assert_int_equal(k.not_after, 0);
    int64_t first = k.id;
    /* a second ensure keeps the first key */
    OK(store_access_key_ensure(s, "gate-2", &k, &inserted, &e));
    assert_false(inserted);
    assert_int_equal(k.id, first);

    /* rotation: the previous key verifies for the grace period */
    util_set_fake_now(T0 + 100);
    OK(store_access_key_rotate(s, "gate-2", 7 * 86400, 0, &k, &rotated, &e));
    assert_true(rotated);
    assert_string_equal(k.kid, "kid-2");
    assert_int_equal(k.created_at, T0 + 100);
    int64_t second = k.id;
    OK(store_access_key_list(s, &l, &e));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].kid, "kid-2"); /* current first */
    assert_int_equal(l.v[0].retired_at, 0);
    assert_string_equal(l.v[1].kid, "kid-1");
    assert_int_equal(l.v[1].retired_at, T0 + 100);
    assert_int_equal(l.v[1].not_after, T0 + 100 + 7 * 86400);

    /* compare-and-swap: a node that saw the first key does not rotate again */
    OK(store_access_key_rotate(s, "gate-3", 7 * 86400, first, &k, &rotated, &e));
    assert_false(rotated);
    assert_int_equal(k.id, second);
    /* a key pair in use, an unknown one, a bad grace: refused, nothing changed */
    RC(-1, store_access_key_rotate(s, "gate-1", 60, 0, &k, &rotated, &e));
    assert_string_equal(e.msg, "keypair_name already used by a gateway signing key");
    assert_false(rotated);
    RC(-1, store_access_key_rotate(s, "nope", 60, 0, &k, &rotated, &e));
    assert_string_equal(e.msg, "keypair_name: no certificate-key pair named \"nope\"");
    RC(-1, store_access_key_rotate(s, "gate-3", -1, 0, &k, &rotated, &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);
    RC(-1, store_access_key_rotate(s, "gate-3", (int64_t)STORE_ACCESS_GRACE_MAX_S + 1, 0, &k,
                                   &rotated, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys WHERE retired_at = 0"), 1);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 2);
    /* the key pair of a gateway key cannot be deleted */
    RC(-1, store_keypair_delete(s, "gate-1", &e));
    assert_int_equal(e.code, STORE_E_CONSTRAINT);

    /* past the grace period only the current key verifies */
    util_set_fake_now(T0 + 100 + 7 * 86400);
    OK(store_access_key_list(s, &l, &e));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].id, second);
    OK(store_access_key_rotate(s, "gate-3", 0, second, &k, &rotated, &e));
    assert_true(rotated);
    OK(store_access_key_list(s, &l, &e));
    assert_int_equal(l.n, 1); /* grace 0: the old key stops at once */
    assert_string_equal(l.v[0].kid, "kid-3");

    /* the database itself refuses a second current key */
    tdb_provider(s, "p", "p"); /* makes the key pair "postern Self-signed Certificate" */
    assert_int_equal(tdb_exec(path,
                              "INSERT INTO access_keys (keypair_name, created_at) "
                              "VALUES ('postern Self-signed Certificate', 1)",
                              msg),
                     -1);
    if (!strstr(msg, tdb_is_url(path) ? "unique constraint \"access_keys_current\""
                                      : "UNIQUE constraint failed: access_keys.retired_at"))
        fail_msg("%s", msg);
    store_access_key_list_free(&l);
    store_access_key_free(&k);
    store_close(s);
}

/* Inside a caller's transaction, rolled back: nothing stays. */
static void keys_in_a_caller_transaction(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    struct store_access_key k = {0};
    keypair(s, "a", "kid-a");
    keypair(s, "b", "kid-b");
    OK(store_tx_begin(s, &e));
    OK(store_access_key_ensure(s, "a", &k, NULL, &e));
    OK(store_access_key_rotate(s, "b", 60, k.id, &k, NULL, &e));
    RC(-1, store_access_key_rotate(s, "b", 60, 0, &k, NULL, &e)); /* rolls back its savepoint */
    OK(store_tx_rollback(s, &e));
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 0);
    store_access_key_free(&k);
    store_close(s);
}

struct key_racer {
    const char *path;
    pthread_barrier_t *start;
    char keypair[32];
    int64_t if_current; /* -1: ensure; else rotate with it */
    int rc;
    bool won;
    int64_t got_id;
    char msg[ERR_MSG_MAX];
};

static void *key_race(void *arg)
{
    struct key_racer *r = arg;
    struct err e = {0};
    struct store_access_key k = {0};
    struct store *s = store_open(r->path, &e);
    pthread_barrier_wait(r->start);
    if (!s)
        r->rc = -1;
    else if (r->if_current < 0)
        r->rc = store_access_key_ensure(s, r->keypair, &k, &r->won, &e);
    else
        r->rc = store_access_key_rotate(s, r->keypair, 3600, r->if_current, &k, &r->won, &e);
    r->got_id = k.id;
    if (r->rc < 0)
        snprintf(r->msg, sizeof(r->msg), "%s", e.msg);
    store_access_key_free(&k);
    store_close(s);
    return NULL;
}

/* Runs RACERS racers with keypairs "<round>-<i>"; returns how many won, and checks that they
 * all returned the same current key when same_result. */
static int key_round(const char *path, int round, int64_t if_current, bool same_result)
{
    pthread_t th[RACERS];
    struct key_racer r[RACERS];
    pthread_barrier_t start;
    struct store *s = tdb_open(path);
    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct key_racer){.path = path, .start = &start, .if_current = if_current};
        snprintf(r[i].keypair, sizeof(r[i].keypair), "k%d-%d", round, i);
        keypair(s, r[i].keypair, r[i].keypair);
    }
    store_close(s);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, key_race, &r[i]), 0);
    int won = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc != 0)
            fail_msg("round %d racer %d: %d %s", round, i, r[i].rc, r[i].msg);
        won += r[i].won;
        if (same_result && r[i].got_id != r[0].got_id)
            fail_msg("round %d: racers saw keys %lld and %lld", round, (long long)r[0].got_id,
                     (long long)r[i].got_id);
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys WHERE retired_at = 0"), 1);
    return won;
}

static void key_races_end_with_one_current_key(void **state)
{
    for (int round = 0; round < 3; round++) {
        char path[512];
        struct store *s = tdb_fresh(path);
        store_close(s);
        /* nodes starting at once on an empty database: one key */
        assert_int_equal(key_round(path, round * 3, -1, true), 1);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 1);
        long long cur = tdb_int(path, "SELECT id FROM access_keys WHERE retired_at = 0");
        /* automatic rotation by nodes that all saw the same old key: one rotation */
        assert_int_equal(key_round(path, round * 3 + 1, cur, true), 1);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 2);
        /* rotate-keys run everywhere at once: each rotates, one current key at the end, and
         * every retired key verifies for its grace period */
        assert_int_equal(key_round(path, round * 3 + 2, 0, false), RACERS);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys"), 2 + RACERS);
        assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_keys WHERE retired_at > 0 AND "
                                       "not_after = retired_at + 3600"),
                         RACERS + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migration_4_applies_on_version_3),
        cmocka_unit_test(identity_providers),
        cmocka_unit_test(applications_and_aud),
        cmocka_unit_test(service_tokens),
        cmocka_unit_test(signing_keys_and_rotation),
        cmocka_unit_test(keys_in_a_caller_transaction),
        cmocka_unit_test(key_races_end_with_one_current_key),
    };
    return TDB_RUN(tests);
}
