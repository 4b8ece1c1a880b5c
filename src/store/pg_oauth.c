/*
 * PostgreSQL backend: certificate-key pairs, OAuth2 providers, applications with their
 * bindings, and consents (the twin of sqlite_oauth.c).
 *
 * Where SQLite's BEGIN IMMEDIATE serialized writers, each section here is made race-free
 * across nodes on its own (pg_int.h): upserts are one INSERT ... ON CONFLICT statement (after
 * an advisory lock of the name where the table has a second unique column), a row
 * that a write depends on is locked when it is read (FOR KEY SHARE: it cannot be deleted or
 * renamed before the commit), and bindings_set locks its application's row. Lists are
 * ordered under the "C" collation, byte order as SQLite's BINARY, whatever the locale.
 */
#include "store/pg_int.h"

#include <stdio.h>

#define KEYPAIR_COLS "id, name, kid, alg, key_pem, cert_pem, created_at"
#define PROVIDER_COLS                                                                              \
    "id, name, authorization_flow, client_type, client_id, client_secret, redirect_uris, "         \
    "signing_key, access_code_validity, access_token_validity, refresh_token_validity, "           \
    "sub_mode, include_claims_in_id_token, created_at, updated_at"
#define APP_COLS                                                                                   \
    "id, name, slug, coalesce(provider_id, 0), policy_engine_mode, meta, created_at, updated_at"
#define CONSENT_COLS "user_id, provider_id, scope, created_at, expires_at"
/* What an upsert gives back. xmax is 0 only in a row version that the statement inserted: an
 * ON CONFLICT update first locks the row, and the new version keeps that locker in xmax. */
#define UPSERT_RETURNING " RETURNING id, created_at, (xmax = 0)::int"
/* The advisory lock of an upsert: its kind and name (see lock_name). */
#define UPSERT_LOCK_NAME_SIZE 256

static void fill_keypair(const PGresult *r, int row, void *rec)
{
    struct store_keypair *k = rec;
    store_keypair_free(k);
    k->id = pg_col_int(r, row, 0);
    k->name = pg_col_str(r, row, 1);
    k->kid = pg_col_str(r, row, 2);
    k->alg = pg_col_str(r, row, 3);
    k->key_pem = pg_col_str(r, row, 4);
    k->cert_pem = pg_col_str(r, row, 5);
    k->created_at = pg_col_int(r, row, 6);
}

static void fill_provider(const PGresult *r, int row, void *rec)
{
    struct store_provider *p = rec;
    store_provider_free(p);
    p->id = pg_col_int(r, row, 0);
    p->name = pg_col_str(r, row, 1);
    p->authorization_flow = pg_col_str(r, row, 2);
    p->client_type = pg_col_str(r, row, 3);
    p->client_id = pg_col_str(r, row, 4);
    p->client_secret = pg_col_str(r, row, 5);
    p->redirect_uris = pg_col_str(r, row, 6);
    p->signing_key = pg_col_str(r, row, 7);
    p->access_code_validity = pg_col_int(r, row, 8);
    p->access_token_validity = pg_col_int(r, row, 9);
    p->refresh_token_validity = pg_col_int(r, row, 10);
    p->sub_mode = pg_col_str(r, row, 11);
    p->include_claims_in_id_token = pg_col_int(r, row, 12) != 0;
    p->created_at = pg_col_int(r, row, 13);
    p->updated_at = pg_col_int(r, row, 14);
}

static void fill_app(const PGresult *r, int row, void *rec)
{
    struct store_app *a = rec;
    store_app_free(a);
    a->id = pg_col_int(r, row, 0);
    a->name = pg_col_str(r, row, 1);
    a->slug = pg_col_str(r, row, 2);
    a->provider_id = pg_col_int(r, row, 3);
    a->policy_engine_mode = pg_col_str(r, row, 4);
    a->meta = pg_col_str(r, row, 5);
    a->created_at = pg_col_int(r, row, 6);
    a->updated_at = pg_col_int(r, row, 7);
}

static void fill_binding(const PGresult *r, int row, void *rec)
{
    struct store_binding *b = rec;
    b->order = pg_col_int(r, row, 0);
    b->user_id = pg_col_int(r, row, 1);
    b->group_id = pg_col_int(r, row, 2);
    b->negate = pg_col_int(r, row, 3) != 0;
    b->enabled = pg_col_int(r, row, 4) != 0;
}

static void fill_consent(const PGresult *r, int row, void *rec)
{
    struct store_consent *c = rec;
    store_consent_free(c);
    c->user_id = pg_col_int(r, row, 0);
    c->provider_id = pg_col_int(r, row, 1);
    c->scope = pg_col_str(r, row, 2);
    c->created_at = pg_col_int(r, row, 3);
    c->expires_at = pg_col_int(r, row, 4);
}

/* Inside an atomic section: serializes, across nodes, the upserts of one name (key_z, of kind
 * "provider" or "application"). INSERT ... ON CONFLICT handles a race only on its conflict
 * target: two nodes inserting the same new provider at once also collide on client_id (and two
 * applications on provider_id), and that is an error, not an update. With the lock the second
 * starts after the first committed, and updates its row. Names longer than the buffer share
 * a lock with those of the same prefix: harmless, they only wait for each other. */
static int lock_name(struct pg_store *s, const char *kind, const char *key_z, struct err *e)
{
    char name[UPSERT_LOCK_NAME_SIZE];
    snprintf(name, sizeof(name), "postern.%s:%s", kind, key_z ? key_z : "");
    return pg_lock(s, name, e);
}

/* Reads an UPSERT_RETURNING row from r (which may be NULL: the query failed) and clears r. */
static int upsert_result(PGresult *r, const char *what, int64_t *id, int64_t *created_at,
                         bool *created, struct err *e)
{
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 1) {
        *id = pg_col_int(r, 0, 0);
        *created_at = pg_col_int(r, 0, 1);
        *created = pg_col_int(r, 0, 2) != 0;
    } else {
        rc = err_set(e, STORE_E_INTERNAL, "%s: upsert returned %d rows", what, PQntuples(r));
    }
    PQclear(r);
    return rc;
}

/* ---- certificate-key pairs ------------------------------------------------------- */

int pg_keypair_insert_if_absent(struct store *base, const struct store_keypair *in,
                                struct store_keypair *out, bool *inserted, struct err *e)
{
    static const char sql[] =
        "INSERT INTO certificate_keypairs (name, kid, alg, key_pem, cert_pem, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING";
    struct pg_store *s = pg(base);
    int64_t n = 0;
    /* Of two nodes inserting at once, the second waits on the first's uncommitted row and,
     * once it is committed, does nothing. */
    if (pg_run(s, sql, "certificate-key pair", &n, e, "ttttti", in->name, in->kid, in->alg,
               in->key_pem, in->cert_pem, util_now()) < 0)
        return -1;
    if (inserted)
        *inserted = n > 0;
    /* The winner, ours or the other node's. A separate statement on purpose: under READ
     * COMMITTED it gets a new snapshot, which has the other node's commit (one statement with
     * a CTE would read with the snapshot taken before the wait, and find nothing). */
    int rc = pg_keypair_get_by_name(base, in->name ? in->name : "", out, e);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "certificate-key pair vanished after insert");
    return rc;
}

int pg_keypair_get_by_name(struct store *base, const char *name_z, struct store_keypair *out,
                           struct err *e)
{
    static const char sql[] = "SELECT " KEYPAIR_COLS " FROM certificate_keypairs WHERE name = $1";
    return pg_get_one(pg(base), sql, fill_keypair, out, "certificate-key pair", e, "t", name_z);
}

int pg_keypair_list(struct store *base, struct store_keypair_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " KEYPAIR_COLS " FROM certificate_keypairs ORDER BY name COLLATE \"C\" LIMIT $1";
    store_keypair_list_free(out);
    return pg_get_list(pg(base), sql, fill_keypair, sizeof(*out->v), (void **)&out->v, &out->n,
                       "keypairs", e, "i", (int64_t)STORE_LIST_MAX);
}

int pg_keypair_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM certificate_keypairs WHERE name = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "certificate-key pair", &n, e, "t", name_z) < 0) {
        if (e && e->code == STORE_E_CONSTRAINT)
            err_set(e, STORE_E_CONSTRAINT,
                    "certificate-key pair \"%.64s\" is the signing_key of a provider or a "
                    "gateway signing key",
                    name_z);
        return -1;
    }
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- providers ----------------------------------------------------------------------- */

static int provider_write(struct pg_store *s, struct store_provider *p, bool *created,
                          struct err *e)
{
    /* FOR KEY SHARE: the pair cannot be deleted or renamed by another node between this check
     * and the write (the foreign key would then refuse it with a vaguer message). */
    static const char key_sql[] =
        "SELECT id FROM certificate_keypairs WHERE name = $1 FOR KEY SHARE";
    /* One statement, after the lock of the name (lock_name): two nodes applying the same
     * provider at once both succeed. A client_id that is another provider's fails, on its own
     * unique constraint. */
    static const char sql[] =
        "INSERT INTO oauth2_providers (name, authorization_flow, client_type, client_id, "
        "client_secret, redirect_uris, signing_key, access_code_validity, "
        "access_token_validity, refresh_token_validity, sub_mode, include_claims_in_id_token, "
        "created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) "
        "ON CONFLICT (name) DO UPDATE SET authorization_flow = excluded.authorization_flow, "
        "client_type = excluded.client_type, client_id = excluded.client_id, "
        "client_secret = excluded.client_secret, redirect_uris = excluded.redirect_uris, "
        "signing_key = excluded.signing_key, "
        "access_code_validity = excluded.access_code_validity, "
        "access_token_validity = excluded.access_token_validity, "
        "refresh_token_validity = excluded.refresh_token_validity, "
        "sub_mode = excluded.sub_mode, "
        "include_claims_in_id_token = excluded.include_claims_in_id_token, "
        "updated_at = excluded.updated_at" UPSERT_RETURNING;
    int64_t key = 0, now = util_now();
    if (lock_name(s, "provider", p->name, e) < 0)
        return -1;
    int rc = pg_get_int(s, key_sql, &key, "provider", e, "t", p->signing_key);
    if (rc < 0)
        return -1;
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_CONSTRAINT,
                       "signing_key: no certificate-key pair named \"%.64s\"",
                       p->signing_key ? p->signing_key : "");
    PGresult *r =
        pg_query(s, sql, "provider", e, "tttttttiiitbi", p->name, p->authorization_flow,
                 p->client_type, p->client_id, p->client_secret, store_or_z(p->redirect_uris, "[]"),
                 p->signing_key, p->access_code_validity, p->access_token_validity,
                 p->refresh_token_validity, p->sub_mode, (int)p->include_claims_in_id_token, now);
    if (upsert_result(r, "provider", &p->id, &p->created_at, created, e) < 0)
        return -1;
    p->updated_at = now;
    return 0;
}

int pg_provider_upsert(struct store *base, struct store_provider *p, bool *created, struct err *e)
{
    struct pg_store *s = pg(base);
    bool own, c = false;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = provider_write(s, p, &c, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int pg_provider_get_by_id(struct store *base, int64_t id, struct store_provider *out, struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE id = $1";
    return pg_get_one(pg(base), sql, fill_provider, out, "provider", e, "i", id);
}

int pg_provider_get_by_name(struct store *base, const char *name_z, struct store_provider *out,
                            struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE name = $1";
    return pg_get_one(pg(base), sql, fill_provider, out, "provider", e, "t", name_z);
}

int pg_provider_get_by_client_id(struct store *base, const char *client_id_z,
                                 struct store_provider *out, struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE client_id = $1";
    return pg_get_one(pg(base), sql, fill_provider, out, "provider", e, "t", client_id_z);
}

int pg_provider_list(struct store *base, const struct store_page *page,
                     struct store_provider_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " PROVIDER_COLS
        " FROM oauth2_providers ORDER BY name COLLATE \"C\" LIMIT $1 OFFSET $2";
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_provider_list_free(out);
    return pg_get_list(pg(base), sql, fill_provider, sizeof(*out->v), (void **)&out->v, &out->n,
                       "providers", e, "ii", limit, offset);
}

int pg_provider_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM oauth2_providers WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "provider", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- applications -------------------------------------------------------------------- */

static int app_write(struct pg_store *s, struct store_app *a, bool *created, struct err *e)
{
    /* As for providers: the lock of the slug, then one statement. A provider already used by
     * another application fails on its own unique constraint. */
    static const char sql[] =
        "INSERT INTO applications (name, slug, provider_id, policy_engine_mode, meta, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
        "ON CONFLICT (slug) DO UPDATE SET name = excluded.name, "
        "provider_id = excluded.provider_id, policy_engine_mode = excluded.policy_engine_mode, "
        "meta = excluded.meta, updated_at = excluded.updated_at" UPSERT_RETURNING;
    int64_t now = util_now();
    if (lock_name(s, "application", a->slug, e) < 0)
        return -1;
    PGresult *r = pg_query(s, sql, "application", e, "ttItti", a->name, a->slug ? a->slug : "",
                           a->provider_id, store_or_z(a->policy_engine_mode, "any"),
                           store_or_z(a->meta, "{}"), now);
    if (upsert_result(r, "application", &a->id, &a->created_at, created, e) < 0)
        return -1;
    a->updated_at = now;
    return 0;
}

int pg_app_upsert(struct store *base, struct store_app *a, bool *created, struct err *e)
{
    /* A section although the write is one statement: inside the caller's transaction it is a
     * savepoint, so that a refused upsert does not abort the whole transaction. */
    struct pg_store *s = pg(base);
    bool own, c = false;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = app_write(s, a, &c, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int pg_app_get_by_id(struct store *base, int64_t id, struct store_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE id = $1";
    return pg_get_one(pg(base), sql, fill_app, out, "application", e, "i", id);
}

int pg_app_get_by_slug(struct store *base, const char *slug_z, struct store_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE slug = $1";
    return pg_get_one(pg(base), sql, fill_app, out, "application", e, "t", slug_z);
}

int pg_app_get_by_provider(struct store *base, int64_t provider_id, struct store_app *out,
                           struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE provider_id = $1";
    if (provider_id == 0)
        return STORE_NOT_FOUND;
    return pg_get_one(pg(base), sql, fill_app, out, "application", e, "i", provider_id);
}

int pg_app_list(struct store *base, const struct store_page *page, struct store_app_list *out,
                struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM applications ORDER BY slug COLLATE \"C\" LIMIT $1 OFFSET $2";
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_app_list_free(out);
    return pg_get_list(pg(base), sql, fill_app, sizeof(*out->v), (void **)&out->v, &out->n,
                       "applications", e, "ii", limit, offset);
}

int pg_app_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM applications WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "application", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

static int bindings_write(struct pg_store *s, int64_t app_id, const struct store_binding *v,
                          size_t n, struct err *e)
{
    /* FOR UPDATE: two nodes replacing the bindings of one application run one after the
     * other, so the result is one of the two lists, never both (under READ COMMITTED the
     * second DELETE would not see the rows the first inserted); and the application cannot
     * be deleted meanwhile. */
    static const char exists[] = "SELECT id FROM applications WHERE id = $1 FOR UPDATE";
    static const char clear[] = "DELETE FROM app_bindings WHERE application_id = $1";
    static const char ins[] =
        "INSERT INTO app_bindings (application_id, ord, user_id, group_id, negate, enabled) "
        "VALUES ($1, $2, $3, $4, $5, $6)";
    for (size_t i = 0; i < n; i++)
        if ((v[i].user_id != 0) == (v[i].group_id != 0))
            return err_set(e, STORE_E_CONSTRAINT,
                           "binding %zu: a binding names a user or a group, not both", i + 1);
    int64_t found = 0;
    int rc = pg_get_int(s, exists, &found, "bindings", e, "i", app_id);
    if (rc != 0)
        return rc; /* -1, or STORE_NOT_FOUND */
    if (pg_run(s, clear, "bindings", NULL, e, "i", app_id) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (pg_run(s, ins, "binding", NULL, e, "iiIIbb", app_id, v[i].order, v[i].user_id,
                   v[i].group_id, (int)v[i].negate, (int)v[i].enabled) < 0)
            return err_prefix(e, "binding %zu", i + 1);
    return 0;
}

int pg_app_bindings_set(struct store *base, int64_t app_id, const struct store_binding *v, size_t n,
                        struct err *e)
{
    struct pg_store *s = pg(base);
    bool own;
    if (n > STORE_GROUPS_MAX)
        return err_set(e, STORE_E_TOO_BIG, "more than %d bindings", STORE_GROUPS_MAX);
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = bindings_write(s, app_id, v, n, e);
    if (pg_leave(s, own, rc == 0, e) < 0 && rc == 0)
        return -1;
    return rc;
}

int pg_app_bindings(struct store *base, int64_t app_id, struct store_binding_list *out,
                    struct err *e)
{
    static const char sql[] = "SELECT ord, coalesce(user_id, 0), coalesce(group_id, 0), negate, "
                              "enabled FROM app_bindings WHERE application_id = $1 "
                              "ORDER BY ord, id LIMIT $2";
    store_binding_list_free(out);
    return pg_get_list(pg(base), sql, fill_binding, sizeof(*out->v), (void **)&out->v, &out->n,
                       "bindings", e, "ii", app_id, (int64_t)STORE_LIST_MAX);
}

/* ---- consents ---------------------------------------------------------------------- */

int pg_consent_get(struct store *base, int64_t user_id, int64_t provider_id,
                   struct store_consent *out, struct err *e)
{
    static const char sql[] = "SELECT " CONSENT_COLS " FROM consents WHERE user_id = $1 "
                              "AND provider_id = $2 AND (expires_at = 0 OR expires_at > $3)";
    return pg_get_one(pg(base), sql, fill_consent, out, "consent", e, "iii", user_id, provider_id,
                      util_now());
}

int pg_consent_set(struct store *base, struct store_consent *c, struct err *e)
{
    static const char sql[] =
        "INSERT INTO consents (user_id, provider_id, scope, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, provider_id) DO UPDATE SET "
        "scope = excluded.scope, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at";
    int64_t now = util_now();
    if (pg_run(pg(base), sql, "consent", NULL, e, "iitii", c->user_id, c->provider_id, c->scope,
               now, c->expires_at) < 0)
        return -1;
    c->created_at = now;
    return 0;
}

int pg_consent_delete(struct store *base, int64_t user_id, int64_t provider_id, struct err *e)
{
    static const char sql[] = "DELETE FROM consents WHERE user_id = $1 AND provider_id = $2";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "consent", &n, e, "ii", user_id, provider_id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}
