/* Tests of the access gateway's part of the store (src/store/store_access.c, sqlite_access.c,
 * sqlite_access_grants.c, migration 4), through store.h: identity providers, applications and
 * their AUD tags, service tokens, signing keys and their rotation, global sessions and the
 * revocation list, login states and one-time tokens (single use, also under races), purge,
 * limits, and that no raw secret reaches the database. */
#include "testdb.h"

#include "store/sqlite_int.h"

#include <pthread.h>

#define TOK(z)   SLICE_LIT(z)
#define RACERS   8
#define HEX64_RE "0123456789abcdef"

static bool is_hex(const char *z, size_t n)
{
    if (strlen(z) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(HEX64_RE, z[i]))
            return false;
    return true;
}

/* Runs sql on a plain connection; returns SQLite's result code and its message in msg. */
static int raw_exec(const char *path, const char *sql, char msg[256])
{
    sqlite3 *db = NULL;
    char *m = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &m);
    snprintf(msg, 256, "%s", m ? m : "");
    sqlite3_free(m);
    sqlite3_close(db);
    return rc;
}

static bool file_contains(const char *path, const char *needle)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 64 * 1024 * 1024);
    if (util_read_file(path, 64 * 1024 * 1024, &b, &e) < 0) {
        buf_free(&b);
        return false;
    }
    bool found = memmem(b.p, b.len, needle, strlen(needle)) != NULL;
    buf_free(&b);
    return found;
}

static void keypair(struct store *s, const char *name, const char *kid)
{
    struct err e = {0};
    struct store_keypair in = {.name = (char *)name,
                               .kid = (char *)kid,
                               .alg = (char *)"RS256",
                               .key_pem = (char *)"-----BEGIN PRIVATE KEY-----\nx\n",
                               .cert_pem = (char *)"-----BEGIN CERTIFICATE-----\ny\n"};
    struct store_keypair out = {0};
    OK(store_keypair_insert_if_absent(s, &in, &out, NULL, &e));
    store_keypair_free(&out);
}

/* An application; its aud goes to aud. */
static void app(struct store *s, const char *name, const char *domain, char aud[STORE_AUD_SIZE])
{
    struct err e = {0};
    struct store_access_app a = {.name = (char *)name, .domain = (char *)domain};
    OK(store_access_app_upsert(s, &a, NULL, &e));
    memcpy(aud, a.aud, STORE_AUD_SIZE);
}

/* A session for the raw token; its id goes to id. */
static void session(struct store *s, const char *token, int64_t expires_at, char id[STORE_ID_SIZE])
{
    struct err e = {0};
    struct store_access_session x = {.identity = (char *)"{\"email\":\"alice@example.com\"}",
                                     .idp = (char *)"Authentik",
                                     .expires_at = expires_at};
    OK(store_access_session_create(s, slice_z(token), &x, &e));
    memcpy(id, x.id, STORE_ID_SIZE);
}

/* ---- migration ----------------------------------------------------------------------- */

static void migration_4_applies_on_version_3(void **state)
{
    char path[512];
    struct err e = {0};
    util_set_fake_now(T0);
    snprintf(path, sizeof(path), "%s/v3.db", tdir);
    struct store *s = tdb_open(path);
    OK(store_sqlite_migrate_list(s, store_sqlite_migrations, 3, &e));
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
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
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
    char path[512], wal[520];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
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
    assert_false(file_contains(path, secret));
    assert_false(file_contains(wal, secret));
    assert_true(file_contains(path, t.client_id) || file_contains(wal, t.client_id));

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
    assert_int_not_equal(raw_exec(path,
                                  "INSERT INTO access_keys (keypair_name, created_at) "
                                  "VALUES ('postern Self-signed Certificate', 1)",
                                  msg),
                         SQLITE_OK);
    assert_non_null(strstr(msg, "UNIQUE constraint failed: access_keys.retired_at"));
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

/* ---- global sessions and the revocation list ------------------------------------------ */

static void sessions(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char id[STORE_ID_SIZE], d[STORE_ID_SIZE];
    session(s, "org-cookie-token-1", T0 + 3600, id);
    OK(store_digest(TOK("org-cookie-token-1"), d, &e));
    assert_string_equal(id, d);

    struct store_access_session x = {0};
    OK(store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_string_equal(x.id, id);
    assert_string_equal(x.identity, "{\"email\":\"alice@example.com\"}");
    assert_string_equal(x.idp, "Authentik");
    assert_int_equal(x.created_at, T0);
    assert_int_equal(x.revoked_at, 0);
    OK(store_access_session_get_by_id(s, id, &x, &e));
    RC(STORE_NOT_FOUND, store_access_session_get(s, TOK("org-cookie-token-2"), &x, &e));
    RC(STORE_NOT_FOUND, store_access_session_get(s, TOK(""), &x, &e));

    /* refused: an empty token, identity that is not a JSON object, a duplicate */
    struct store_access_session bad = {.expires_at = T0 + 1};
    RC(-1, store_access_session_create(s, TOK(""), &bad, &e));
    assert_string_equal(e.msg, "session token must not be empty");
    bad.identity = "[\"alice\"]";
    RC(-1, store_access_session_create(s, TOK("t"), &bad, &e));
    assert_string_equal(e.msg, "identity must be a JSON object");
    bad.identity = NULL;
    RC(-1, store_access_session_create(s, TOK("org-cookie-token-1"), &bad, &e));
    assert_string_equal(e.msg, "gateway session already exists");

    /* expired: said, with the row */
    util_set_fake_now(T0 + 3600);
    RC(STORE_EXPIRED, store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_int_equal(x.expires_at, T0 + 3600);
    util_set_fake_now(T0 + 10);

    /* logout: revoked everywhere; a second logout keeps the first time */
    struct store_access_session r = {0};
    OK(store_access_session_revoke(s, TOK("org-cookie-token-1"), &r, &e));
    assert_int_equal(r.revoked_at, T0 + 10);
    assert_string_equal(r.idp, "Authentik");
    RC(STORE_REVOKED, store_access_session_get(s, TOK("org-cookie-token-1"), &x, &e));
    assert_int_equal(x.revoked_at, T0 + 10);
    util_set_fake_now(T0 + 3600); /* revoked wins over expired */
    RC(STORE_REVOKED, store_access_session_get_by_id(s, id, &x, &e));
    util_set_fake_now(T0 + 20);
    OK(store_access_session_revoke_by_id(s, id, NULL, &e));
    OK(store_access_session_revoke_by_id(s, id, &r, &e));
    assert_int_equal(r.revoked_at, T0 + 10);
    RC(STORE_NOT_FOUND, store_access_session_revoke(s, TOK("unknown"), &r, &e));
    RC(STORE_NOT_FOUND, store_access_session_revoke_by_id(s, "", &r, &e));
    store_access_session_free(&x);
    store_access_session_free(&r);
    store_close(s);
}

static void revocation_list(void **state)
{
    char path[512];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    char ids[6][STORE_ID_SIZE], tok[32];
    for (int i = 0; i < 6; i++) {
        snprintf(tok, sizeof(tok), "session-%d", i);
        session(s, tok, T0 + 3600, ids[i]);
    }
    struct store_access_revoked_list l = {0};
    OK(store_access_session_revoked_since(s, 0, NULL, &l, &e));
    assert_int_equal(l.n, 0);
    util_set_fake_now(T0 + 10);
    OK(store_access_session_revoke_by_id(s, ids[0], NULL, &e));
    OK(store_access_session_revoke_by_id(s, ids[1], NULL, &e));
    util_set_fake_now(T0 + 20);
    for (int i = 2; i < 5; i++)
        OK(store_access_session_revoke_by_id(s, ids[i], NULL, &e));

    OK(store_access_session_revoked_since(s, T0 + 15, NULL, &l, &e));
    assert_int_equal(l.n, 3);
    OK(store_access_session_revoked_since(s, T0 + 20, "", &l, &e));
    assert_int_equal(l.n, 3); /* since is inclusive */
    assert_int_equal(l.v[0].revoked_at, T0 + 20);
    assert_int_equal(l.v[0].expires_at, T0 + 3600);
    assert_true(strcmp(l.v[0].id, l.v[1].id) < 0 && strcmp(l.v[1].id, l.v[2].id) < 0);
    /* read on from a row: the rest, nothing twice */
    char after[STORE_ID_SIZE];
    memcpy(after, l.v[0].id, sizeof(after));
    OK(store_access_session_revoked_since(s, T0 + 20, after, &l, &e));
    assert_int_equal(l.n, 2);
    assert_true(strcmp(l.v[0].id, after) > 0);
    OK(store_access_session_revoked_since(s, 0, NULL, &l, &e));
    assert_int_equal(l.n, 5);
    assert_int_equal(l.v[0].revoked_at, T0 + 10);
    for (size_t i = 0; i < l.n; i++)
        assert_string_not_equal(l.v[i].id, ids[5]); /* never revoked */
    OK(store_access_session_revoked_since(s, T0 + 21, NULL, &l, &e));
    assert_int_equal(l.n, 0);

    /* more than a page: STORE_LIST_MAX, then the rest from the last row */
    OK(store_tx_begin(s, &e));
    for (int i = 0; i < STORE_LIST_MAX + 5; i++) {
        char id[STORE_ID_SIZE];
        snprintf(tok, sizeof(tok), "bulk-%d", i);
        session(s, tok, T0 + 3600, id);
        OK(store_access_session_revoke_by_id(s, id, NULL, &e));
    }
    OK(store_tx_commit(s, &e));
    OK(store_access_session_revoked_since(s, T0 + 20, NULL, &l, &e));
    assert_int_equal(l.n, STORE_LIST_MAX);
    memcpy(after, l.v[l.n - 1].id, sizeof(after));
    int64_t at = l.v[l.n - 1].revoked_at;
    OK(store_access_session_revoked_since(s, at, after, &l, &e));
    assert_int_equal(l.n, 8); /* 3 + STORE_LIST_MAX + 5 revoked at T0 + 20 */
    store_access_revoked_list_free(&l);
    store_close(s);
}

/* Every gateway node runs this query every few seconds: it must not scan the table. */
static void revocation_list_is_indexed(void **state)
{
    char path[512], sql[1024];
    struct store *s = tdb_fresh(path);
    store_close(s);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sq_access_revoked_sql);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char plan[1024] = "";
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW && used < sizeof(plan) - 1)
        used += (size_t)snprintf(plan + used, sizeof(plan) - used, "%s; ",
                                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!strstr(plan, "USING INDEX access_sessions_revoked (revoked_at>?)") &&
        !strstr(plan, "USING INDEX access_sessions_revoked ((revoked_at,id)>(?,?))"))
        fail_msg("plan: %s", plan);
    assert_null(strstr(plan, "SCAN"));
    assert_null(strstr(plan, "TEMP B-TREE")); /* the index gives the order */
}

/* ---- login states -------------------------------------------------------------------- */

static void new_state(struct store *s, const char *state, const char *binding, int64_t expires_at)
{
    struct err e = {0};
    struct store_access_state x = {.nonce = "nonce-Zx81",
                                   .code_verifier = "verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r",
                                   .idp = "Authentik",
                                   .app_domain = "service.localhost",
                                   .redirect_url = "http://service.localhost/after?x=1",
                                   .expires_at = expires_at};
    OK(store_access_state_create(s, slice_z(state), slice_z(binding), &x, &e));
    assert_int_equal(x.used_at, 0);
    assert_int_equal(x.expires_at, expires_at ? expires_at : util_now() + 600);
}

static void login_states(void **state)
{
    char path[512], wal[520];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    new_state(s, "STATE-raw-a1b2c3", "BINDING-cookie-d4e5", 0);
    struct store_access_state x = {0};

    /* another browser (no cookie, another cookie) cannot take it, nor burn it */
    RC(STORE_NOT_FOUND, store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK(""), &x, &e));
    RC(STORE_NOT_FOUND,
       store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e6"), &x, &e));
    assert_null(x.nonce);
    util_set_fake_now(T0 + 599);
    OK(store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e5"), &x, &e));
    assert_string_equal(x.nonce, "nonce-Zx81");
    assert_string_equal(x.code_verifier, "verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r");
    assert_string_equal(x.idp, "Authentik");
    assert_string_equal(x.app_domain, "service.localhost");
    assert_string_equal(x.redirect_url, "http://service.localhost/after?x=1");
    assert_int_equal(x.created_at, T0);
    assert_int_equal(x.expires_at, T0 + STORE_ACCESS_STATE_TTL_S);
    assert_int_equal(x.used_at, T0 + 599);
    /* a replayed callback */
    RC(STORE_REUSED,
       store_access_state_take(s, TOK("STATE-raw-a1b2c3"), TOK("BINDING-cookie-d4e5"), &x, &e));
    assert_int_equal(x.used_at, T0 + 599);
    RC(STORE_NOT_FOUND,
       store_access_state_take(s, TOK("STATE-raw-a1b2c4"), TOK("BINDING-cookie-d4e5"), &x, &e));

    /* expired before the callback: refused once as expired, then as reused */
    new_state(s, "STATE-late", "B", T0 + 600);
    util_set_fake_now(T0 + 600);
    RC(STORE_EXPIRED, store_access_state_take(s, TOK("STATE-late"), TOK("B"), &x, &e));
    RC(STORE_REUSED, store_access_state_take(s, TOK("STATE-late"), TOK("B"), &x, &e));

    /* refused at creation: empty state, binding, nonce or idp */
    struct store_access_state bad = {.nonce = "n", .idp = "Authentik"};
    RC(-1, store_access_state_create(s, TOK(""), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "state must not be empty");
    RC(-1, store_access_state_create(s, TOK("s"), TOK(""), &bad, &e));
    assert_string_equal(e.msg, "binding must not be empty");
    bad.nonce = "";
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "nonce must not be empty");
    bad.nonce = "n";
    bad.idp = NULL;
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "idp must not be empty");
    bad.idp = "Authentik";
    RC(-1, store_access_state_create(s, TOK("STATE-late"), TOK("b"), &bad, &e));
    assert_string_equal(e.msg, "login state already exists");

    /* state and binding are kept hashed; the nonce as given (it is compared to the token) */
    assert_true(file_contains(path, "nonce-Zx81") || file_contains(wal, "nonce-Zx81"));
    const char *raw[] = {"STATE-raw-a1b2c3", "BINDING-cookie-d4e5"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(raw); i++) {
        assert_false(file_contains(path, raw[i]));
        assert_false(file_contains(wal, raw[i]));
    }
    store_access_state_free(&x);
    store_close(s);
}

/* ---- one-time tokens ------------------------------------------------------------------ */

static void one_time_tokens(void **state)
{
    char path[512], wal[520];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    char aud[STORE_AUD_SIZE], aud2[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    app(s, "myapp", "service.localhost", aud);
    app(s, "other", "other.localhost", aud2);
    session(s, "org-token", T0 + 3600, sid);

    struct store_access_ticket t = {.redirect_path = "/dashboard?tab=1"};
    memcpy(t.session_id, sid, sizeof(sid));
    memcpy(t.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("ONE-TIME-9z8y7x"), &t, &e));
    assert_int_equal(t.expires_at, T0 + STORE_ACCESS_TICKET_TTL_S);
    struct store_access_ticket x = {0};
    /* presented on another application's domain: refused, and still usable on its own */
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud2, &x, &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), NULL, &x, &e));
    util_set_fake_now(T0 + 59);
    OK(store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud, &x, &e));
    assert_string_equal(x.session_id, sid);
    assert_string_equal(x.aud, aud);
    assert_string_equal(x.redirect_path, "/dashboard?tab=1");
    assert_int_equal(x.used_at, T0 + 59);
    RC(STORE_REUSED, store_access_ticket_take(s, TOK("ONE-TIME-9z8y7x"), aud, &x, &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("ONE-TIME-other"), aud, &x, &e));

    /* after 60 s: expired once, then reused */
    struct store_access_ticket late = {0};
    memcpy(late.session_id, sid, sizeof(sid));
    memcpy(late.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("late"), &late, &e));
    assert_true(late.id[0] != '\0');
    util_set_fake_now(T0 + 59 + 60);
    RC(STORE_EXPIRED, store_access_ticket_take(s, TOK("late"), aud, &x, &e));
    assert_string_equal(x.redirect_path, "/"); /* "" reads as "/" */
    RC(STORE_REUSED, store_access_ticket_take(s, TOK("late"), aud, &x, &e));

    /* references must exist, and the message says which */
    struct store_access_ticket bad = {0};
    memcpy(bad.aud, aud, sizeof(aud));
    snprintf(bad.session_id, sizeof(bad.session_id), "%064d", 7);
    RC(-1, store_access_ticket_create(s, TOK("b1"), &bad, &e));
    assert_string_equal(e.msg, "session_id: no such gateway session");
    memcpy(bad.session_id, sid, sizeof(sid));
    snprintf(bad.aud, sizeof(bad.aud), "%064d", 7);
    RC(-1, store_access_ticket_create(s, TOK("b1"), &bad, &e));
    assert_string_equal(e.msg, "aud: no application has this aud");
    RC(-1, store_access_ticket_create(s, TOK(""), &t, &e));
    assert_string_equal(e.msg, "one-time token must not be empty");

    /* deleting the application, or the session, takes its tokens */
    RC(-1, store_access_ticket_create(s, TOK("for-other"), &(struct store_access_ticket){0}, &e));
    assert_string_equal(e.msg, "session_id: no such gateway session");
    struct store_access_ticket o = {0};
    memcpy(o.session_id, sid, sizeof(sid));
    memcpy(o.aud, aud2, sizeof(aud2));
    OK(store_access_ticket_create(s, TOK("for-other"), &o, &e));
    OK(store_access_app_delete(s, "other", &e));
    RC(STORE_NOT_FOUND, store_access_ticket_take(s, TOK("for-other"), aud2, &x, &e));
    assert_false(file_contains(path, "ONE-TIME-9z8y7x"));
    assert_false(file_contains(wal, "ONE-TIME-9z8y7x"));
    store_access_ticket_free(&x);
    store_close(s);
}

/* ---- single use under races --------------------------------------------------------- */

struct taker {
    const char *path;
    pthread_barrier_t *start;
    bool ticket; /* else a login state */
    struct slice value, binding_or_aud;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void *take_one(void *arg)
{
    struct taker *t = arg;
    struct err e = {0};
    struct store_access_state x = {0};
    struct store_access_ticket k = {0};
    struct store *s = store_open(t->path, &e);
    pthread_barrier_wait(t->start);
    if (!s)
        t->rc = -1;
    else if (t->ticket)
        t->rc = store_access_ticket_take(s, t->value, t->binding_or_aud.p, &k, &e);
    else
        t->rc = store_access_state_take(s, t->value, t->binding_or_aud, &x, &e);
    if (t->rc < 0)
        snprintf(t->msg, sizeof(t->msg), "%s", e.msg);
    store_access_state_free(&x);
    store_access_ticket_free(&k);
    store_close(s);
    return NULL;
}

static void single_use_races_have_one_winner(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "org", T0 + 3600, sid);
    for (int round = 0; round < 10; round++) {
        bool ticket = round % 2;
        char value[32];
        snprintf(value, sizeof(value), "race-%d", round);
        if (ticket) {
            struct store_access_ticket t = {0};
            memcpy(t.session_id, sid, sizeof(sid));
            memcpy(t.aud, aud, sizeof(aud));
            OK(store_access_ticket_create(s, slice_z(value), &t, &e));
        } else {
            new_state(s, value, "cookie", 0);
        }
        pthread_t th[RACERS];
        struct taker t[RACERS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            t[i] = (struct taker){.path = path,
                                  .start = &start,
                                  .ticket = ticket,
                                  .value = slice_z(value),
                                  .binding_or_aud = ticket ? slice_z(aud) : TOK("cookie")};
            assert_int_equal(pthread_create(&th[i], NULL, take_one, &t[i]), 0);
        }
        int won = 0, reused = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (t[i].rc < 0)
                fail_msg("round %d taker %d: %s", round, i, t[i].msg);
            won += t[i].rc == 0;
            reused += t[i].rc == STORE_REUSED;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(won, 1);
        assert_int_equal(reused, RACERS - 1);
    }
    store_close(s);
}

/* ---- purge and limits ----------------------------------------------------------------- */

static void purge_expired_grants(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], s1[STORE_ID_SIZE], s2[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "short", T0 + 650, s1);
    session(s, "long", T0 + 86400, s2);
    OK(store_access_session_revoke_by_id(s, s2, NULL, &e));
    new_state(s, "st-1", "b", 0);
    new_state(s, "st-2", "b", T0 + 5000);
    struct store_access_ticket t = {0};
    memcpy(t.session_id, s1, sizeof(s1));
    memcpy(t.aud, aud, sizeof(aud));
    OK(store_access_ticket_create(s, TOK("tk-1"), &t, &e));
    t.expires_at = T0 + 5000; /* outlives its session: goes with it */
    OK(store_access_ticket_create(s, TOK("tk-2"), &t, &e));

    struct store_purged p = {0};
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions + p.access_states + p.access_tickets, 0);
    util_set_fake_now(T0 + 600);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_states, 1);
    assert_int_equal(p.access_tickets, 1);
    assert_int_equal(p.access_sessions, 0);
    util_set_fake_now(T0 + 700);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions, 1); /* "short"; tk-2 went with it */
    assert_int_equal(p.access_tickets, 0);
    assert_int_equal(tdb_int(path, "SELECT count(*) FROM access_tickets"), 0);
    util_set_fake_now(T0 + 86400);
    OK(store_purge(s, &p, &e));
    assert_int_equal(p.access_sessions, 1); /* revoked or not, expired rows go */
    assert_int_equal(p.access_states, 1);
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM access_sessions) + (SELECT "
                                   "count(*) FROM access_states)"),
                     0);
    store_close(s);
}

static void limits(void **state)
{
    char path[512], aud[STORE_AUD_SIZE], sid[STORE_ID_SIZE];
    struct err e = {0};
    struct store *s = tdb_fresh(path);
    app(s, "myapp", "service.localhost", aud);
    session(s, "org", T0 + 3600, sid);
    size_t n = STORE_TEXT_MAX + 1;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    char *bigjson = xmalloc(n + 16);
    snprintf(bigjson, n + 16, "{\"a\":\"%s\"}", big);

    struct store_access_session x = {.identity = bigjson, .expires_at = T0 + 1};
    RC(-1, store_access_session_create(s, TOK("t"), &x, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_idp p = {.name = "x", .type = "oidc", .config = bigjson};
    RC(-1, store_access_idp_upsert(s, &p, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_app a = {.name = "y", .domain = big};
    RC(-1, store_access_app_upsert(s, &a, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_state st = {.nonce = "n", .idp = "i", .redirect_url = big};
    RC(-1, store_access_state_create(s, TOK("s"), TOK("b"), &st, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    RC(-1, store_access_state_create(s, slice_z(big), TOK("b"), &st, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_ticket t = {.redirect_path = big};
    memcpy(t.session_id, sid, sizeof(sid));
    memcpy(t.aud, aud, sizeof(aud));
    RC(-1, store_access_ticket_create(s, TOK("k"), &t, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_service_token tok = {.name = big};
    char secret[STORE_SERVICE_SECRET_SIZE];
    RC(-1, store_service_token_create(s, &tok, secret, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    struct store_access_key k = {0};
    RC(-1, store_access_key_ensure(s, big, &k, NULL, &e));
    assert_int_equal(e.code, STORE_E_TOO_BIG);
    /* nothing of it was written */
    assert_int_equal(tdb_int(path, "SELECT (SELECT count(*) FROM access_sessions) + (SELECT "
                                   "count(*) FROM access_idps) + (SELECT count(*) FROM "
                                   "access_apps) + (SELECT count(*) FROM access_states) + "
                                   "(SELECT count(*) FROM access_tickets) + (SELECT count(*) "
                                   "FROM access_service_tokens)"),
                     2);
    free(big);
    free(bigjson);
    store_close(s);
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
        cmocka_unit_test(sessions),
        cmocka_unit_test(revocation_list),
        cmocka_unit_test(revocation_list_is_indexed),
        cmocka_unit_test(login_states),
        cmocka_unit_test(one_time_tokens),
        cmocka_unit_test(single_use_races_have_one_winner),
        cmocka_unit_test(purge_expired_grants),
        cmocka_unit_test(limits),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
