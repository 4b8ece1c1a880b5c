/*
 * SQLite backend: certificate-key pairs, OAuth2 providers, applications with their bindings,
 * and consents.
 */
#include "store/sqlite_int.h"

#include <string.h>

#define KEYPAIR_COLS "id, name, kid, alg, key_pem, cert_pem, created_at"
#define PROVIDER_COLS                                                                              \
    "id, name, authorization_flow, client_type, client_id, client_secret, redirect_uris, "         \
    "signing_key, access_code_validity, access_token_validity, refresh_token_validity, "           \
    "sub_mode, include_claims_in_id_token, created_at, updated_at"
#define APP_COLS                                                                                   \
    "id, name, slug, coalesce(provider_id, 0), policy_engine_mode, meta, created_at, updated_at"
#define CONSENT_COLS "user_id, provider_id, scope, created_at, expires_at"

static void fill_keypair(sqlite3_stmt *st, void *rec)
{
    struct store_keypair *k = rec;
    store_keypair_free(k);
    k->id = sq_col_int(st, 0);
    k->name = sq_col_str(st, 1);
    k->kid = sq_col_str(st, 2);
    k->alg = sq_col_str(st, 3);
    k->key_pem = sq_col_str(st, 4);
    k->cert_pem = sq_col_str(st, 5);
    k->created_at = sq_col_int(st, 6);
}

static void fill_provider(sqlite3_stmt *st, void *rec)
{
    struct store_provider *p = rec;
    store_provider_free(p);
    p->id = sq_col_int(st, 0);
    p->name = sq_col_str(st, 1);
    p->authorization_flow = sq_col_str(st, 2);
    p->client_type = sq_col_str(st, 3);
    p->client_id = sq_col_str(st, 4);
    p->client_secret = sq_col_str(st, 5);
    p->redirect_uris = sq_col_str(st, 6);
    p->signing_key = sq_col_str(st, 7);
    p->access_code_validity = sq_col_int(st, 8);
    p->access_token_validity = sq_col_int(st, 9);
    p->refresh_token_validity = sq_col_int(st, 10);
    p->sub_mode = sq_col_str(st, 11);
    p->include_claims_in_id_token = sq_col_int(st, 12) != 0;
    p->created_at = sq_col_int(st, 13);
    p->updated_at = sq_col_int(st, 14);
}

static void fill_app(sqlite3_stmt *st, void *rec)
{
    struct store_app *a = rec;
    store_app_free(a);
    a->id = sq_col_int(st, 0);
    a->name = sq_col_str(st, 1);
    a->slug = sq_col_str(st, 2);
    a->provider_id = sq_col_int(st, 3);
    a->policy_engine_mode = sq_col_str(st, 4);
    a->meta = sq_col_str(st, 5);
    a->created_at = sq_col_int(st, 6);
    a->updated_at = sq_col_int(st, 7);
}

static void fill_binding(sqlite3_stmt *st, void *rec)
{
    struct store_binding *b = rec;
    b->order = sq_col_int(st, 0);
    b->user_id = sq_col_int(st, 1);
    b->group_id = sq_col_int(st, 2);
    b->negate = sq_col_int(st, 3) != 0;
    b->enabled = sq_col_int(st, 4) != 0;
}

static void fill_consent(sqlite3_stmt *st, void *rec)
{
    struct store_consent *c = rec;
    store_consent_free(c);
    c->user_id = sq_col_int(st, 0);
    c->provider_id = sq_col_int(st, 1);
    c->scope = sq_col_str(st, 2);
    c->created_at = sq_col_int(st, 3);
    c->expires_at = sq_col_int(st, 4);
}

/* A one-row lookup with one parameter: fmt "i" (int64_t) or "t" (string). */
static int get_by(struct sqlite_store *s, const char *sql, sq_fill_fn fill, void *out,
                  const char *what, struct err *e, const char *fmt, ...)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = *fmt == 'i' ? sqlite3_bind_int64(st, 1, va_arg(ap, int64_t))
                         : sqlite3_bind_text(st, 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
    va_end(ap);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_fail(s, rc, what, e);
    }
    return sq_get_one(s, st, fill, out, what, e);
}

/* The id of the row whose text column matches, or 0 (sql selects one id). */
static int id_of(struct sqlite_store *s, const char *sql, const char *key_z, int64_t *id,
                 struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "lookup", e, "t", key_z) < 0)
        return -1;
    *id = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sq_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, rc, "lookup", e);
    return 0;
}

/* ---- certificate-key pairs ------------------------------------------------------- */

int sq_keypair_insert_if_absent(struct store *base, const struct store_keypair *in,
                                struct store_keypair *out, bool *inserted, struct err *e)
{
    static const char sql[] =
        "INSERT INTO certificate_keypairs (name, kid, alg, key_pem, cert_pem, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING";
    struct sqlite_store *s = sq(base);
    int64_t n = 0;
    if (sq_run(s, sql, "certificate-key pair", &n, e, "ttttti", in->name, in->kid, in->alg,
               in->key_pem, in->cert_pem, util_now()) < 0)
        return -1;
    if (inserted)
        *inserted = n > 0;
    /* The winner, ours or the other node's: it was committed before our insert saw it. */
    int rc = sq_keypair_get_by_name(base, in->name ? in->name : "", out, e);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "certificate-key pair vanished after insert");
    return rc;
}

int sq_keypair_get_by_name(struct store *base, const char *name_z, struct store_keypair *out,
                           struct err *e)
{
    static const char sql[] = "SELECT " KEYPAIR_COLS " FROM certificate_keypairs WHERE name = ?1";
    return get_by(sq(base), sql, fill_keypair, out, "certificate-key pair", e, "t", name_z);
}

int sq_keypair_list(struct store *base, struct store_keypair_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " KEYPAIR_COLS " FROM certificate_keypairs ORDER BY name LIMIT ?1";
    struct sqlite_store *s = sq(base);
    store_keypair_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "keypairs", e, "i", (int64_t)STORE_LIST_MAX) < 0)
        return -1;
    return sq_get_list(s, st, fill_keypair, sizeof(*out->v), (void **)&out->v, &out->n, "keypairs",
                       e);
}

int sq_keypair_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM certificate_keypairs WHERE name = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "certificate-key pair", &n, e, "t", name_z) < 0) {
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

static int provider_write(struct sqlite_store *s, struct store_provider *p, bool *created,
                          struct err *e)
{
    static const char key_sql[] = "SELECT id FROM certificate_keypairs WHERE name = ?1";
    static const char id_sql[] = "SELECT id FROM oauth2_providers WHERE name = ?1";
    static const char ins[] =
        "INSERT INTO oauth2_providers (name, authorization_flow, client_type, client_id, "
        "client_secret, redirect_uris, signing_key, access_code_validity, "
        "access_token_validity, refresh_token_validity, sub_mode, include_claims_in_id_token, "
        "created_at, updated_at) "
        "VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)";
    static const char upd[] =
        "UPDATE oauth2_providers SET name = ?2, authorization_flow = ?3, client_type = ?4, "
        "client_id = ?5, client_secret = ?6, redirect_uris = ?7, signing_key = ?8, "
        "access_code_validity = ?9, access_token_validity = ?10, refresh_token_validity = ?11, "
        "sub_mode = ?12, include_claims_in_id_token = ?13, updated_at = ?14 WHERE id = ?1";
    int64_t key = 0, id = 0, now = util_now();
    const char *name = p->name ? p->name : "";
    if (id_of(s, key_sql, p->signing_key ? p->signing_key : "", &key, e) < 0)
        return -1;
    if (key == 0)
        return err_set(e, STORE_E_CONSTRAINT,
                       "signing_key: no certificate-key pair named \"%.64s\"",
                       p->signing_key ? p->signing_key : "");
    if (id_of(s, id_sql, name, &id, e) < 0)
        return -1;
    *created = id == 0;
    if (sq_run(s, *created ? ins : upd, "provider", NULL, e, "itttttttiiitbi", id, name,
               p->authorization_flow, p->client_type, p->client_id, p->client_secret,
               store_or_z(p->redirect_uris, "[]"), p->signing_key, p->access_code_validity,
               p->access_token_validity, p->refresh_token_validity, p->sub_mode,
               (int)p->include_claims_in_id_token, now) < 0)
        return -1;
    if (*created) {
        p->id = sqlite3_last_insert_rowid(s->db);
        p->created_at = now;
    } else {
        p->id = id;
    }
    p->updated_at = now;
    return 0;
}

int sq_provider_upsert(struct store *base, struct store_provider *p, bool *created, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, c = false;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = provider_write(s, p, &c, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int sq_provider_get_by_id(struct store *base, int64_t id, struct store_provider *out, struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE id = ?1";
    return get_by(sq(base), sql, fill_provider, out, "provider", e, "i", id);
}

int sq_provider_get_by_name(struct store *base, const char *name_z, struct store_provider *out,
                            struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE name = ?1";
    return get_by(sq(base), sql, fill_provider, out, "provider", e, "t", name_z);
}

int sq_provider_get_by_client_id(struct store *base, const char *client_id_z,
                                 struct store_provider *out, struct err *e)
{
    static const char sql[] = "SELECT " PROVIDER_COLS " FROM oauth2_providers WHERE client_id = ?1";
    return get_by(sq(base), sql, fill_provider, out, "provider", e, "t", client_id_z);
}

int sq_provider_list(struct store *base, const struct store_page *pg,
                     struct store_provider_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " PROVIDER_COLS " FROM oauth2_providers ORDER BY name LIMIT ?1 OFFSET ?2";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_provider_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "providers", e, "ii", limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill_provider, sizeof(*out->v), (void **)&out->v, &out->n,
                       "providers", e);
}

int sq_provider_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM oauth2_providers WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "provider", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- applications -------------------------------------------------------------------- */

static int app_write(struct sqlite_store *s, struct store_app *a, bool *created, struct err *e)
{
    static const char id_sql[] = "SELECT id FROM applications WHERE slug = ?1";
    static const char ins[] =
        "INSERT INTO applications (name, slug, provider_id, policy_engine_mode, meta, "
        "created_at, updated_at) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?7)";
    static const char upd[] = "UPDATE applications SET name = ?2, slug = ?3, provider_id = ?4, "
                              "policy_engine_mode = ?5, meta = ?6, updated_at = ?7 WHERE id = ?1";
    int64_t id = 0, now = util_now();
    const char *slug = a->slug ? a->slug : "";
    if (id_of(s, id_sql, slug, &id, e) < 0)
        return -1;
    *created = id == 0;
    if (sq_run(s, *created ? ins : upd, "application", NULL, e, "ittItti", id, a->name, slug,
               a->provider_id, store_or_z(a->policy_engine_mode, "any"), store_or_z(a->meta, "{}"),
               now) < 0)
        return -1;
    if (*created) {
        a->id = sqlite3_last_insert_rowid(s->db);
        a->created_at = now;
    } else {
        a->id = id;
    }
    a->updated_at = now;
    return 0;
}

int sq_app_upsert(struct store *base, struct store_app *a, bool *created, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, c = false;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = app_write(s, a, &c, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int sq_app_get_by_id(struct store *base, int64_t id, struct store_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE id = ?1";
    return get_by(sq(base), sql, fill_app, out, "application", e, "i", id);
}

int sq_app_get_by_slug(struct store *base, const char *slug_z, struct store_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE slug = ?1";
    return get_by(sq(base), sql, fill_app, out, "application", e, "t", slug_z);
}

int sq_app_get_by_provider(struct store *base, int64_t provider_id, struct store_app *out,
                           struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM applications WHERE provider_id = ?1";
    if (provider_id == 0)
        return STORE_NOT_FOUND;
    return get_by(sq(base), sql, fill_app, out, "application", e, "i", provider_id);
}

int sq_app_list(struct store *base, const struct store_page *pg, struct store_app_list *out,
                struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM applications ORDER BY slug LIMIT ?1 OFFSET ?2";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_app_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "applications", e, "ii", limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill_app, sizeof(*out->v), (void **)&out->v, &out->n, "applications",
                       e);
}

int sq_app_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM applications WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "application", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

static int bindings_write(struct sqlite_store *s, int64_t app_id, const struct store_binding *v,
                          size_t n, struct err *e)
{
    static const char exists[] = "SELECT count(*) FROM applications WHERE id = ?1";
    static const char clear[] = "DELETE FROM app_bindings WHERE application_id = ?1";
    static const char ins[] =
        "INSERT INTO app_bindings (application_id, ord, user_id, group_id, negate, enabled) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    for (size_t i = 0; i < n; i++)
        if ((v[i].user_id != 0) == (v[i].group_id != 0))
            return err_set(e, STORE_E_CONSTRAINT,
                           "binding %zu: a binding names a user or a group, not both", i + 1);
    sqlite3_stmt *st = sq_stmt(s, exists, e);
    if (!st || sq_bind(s, st, "bindings", e, "i", app_id) < 0)
        return -1;
    int rc = sqlite3_step(st);
    int64_t found = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sq_done(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "bindings", e);
    if (!found)
        return STORE_NOT_FOUND;
    if (sq_run(s, clear, "bindings", NULL, e, "i", app_id) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sq_run(s, ins, "binding", NULL, e, "iiIIbb", app_id, v[i].order, v[i].user_id,
                   v[i].group_id, (int)v[i].negate, (int)v[i].enabled) < 0)
            return err_prefix(e, "binding %zu", i + 1);
    return 0;
}

int sq_app_bindings_set(struct store *base, int64_t app_id, const struct store_binding *v, size_t n,
                        struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own;
    if (n > STORE_GROUPS_MAX)
        return err_set(e, STORE_E_TOO_BIG, "more than %d bindings", STORE_GROUPS_MAX);
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = bindings_write(s, app_id, v, n, e);
    if (sq_leave(s, own, rc == 0, e) < 0 && rc == 0)
        return -1;
    return rc;
}

int sq_app_bindings(struct store *base, int64_t app_id, struct store_binding_list *out,
                    struct err *e)
{
    static const char sql[] = "SELECT ord, coalesce(user_id, 0), coalesce(group_id, 0), negate, "
                              "enabled FROM app_bindings WHERE application_id = ?1 "
                              "ORDER BY ord, id LIMIT ?2";
    struct sqlite_store *s = sq(base);
    store_binding_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "bindings", e, "ii", app_id, (int64_t)STORE_LIST_MAX) < 0)
        return -1;
    return sq_get_list(s, st, fill_binding, sizeof(*out->v), (void **)&out->v, &out->n, "bindings",
                       e);
}

/* ---- consents ---------------------------------------------------------------------- */

int sq_consent_get(struct store *base, int64_t user_id, int64_t provider_id,
                   struct store_consent *out, struct err *e)
{
    static const char sql[] = "SELECT " CONSENT_COLS " FROM consents WHERE user_id = ?1 "
                              "AND provider_id = ?2 AND (expires_at = 0 OR expires_at > ?3)";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "consent", e, "iii", user_id, provider_id, util_now()) < 0)
        return -1;
    return sq_get_one(s, st, fill_consent, out, "consent", e);
}

int sq_consent_set(struct store *base, struct store_consent *c, struct err *e)
{
    static const char sql[] =
        "INSERT INTO consents (user_id, provider_id, scope, created_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, provider_id) DO UPDATE SET "
        "scope = excluded.scope, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at";
    int64_t now = util_now();
    if (sq_run(sq(base), sql, "consent", NULL, e, "iitii", c->user_id, c->provider_id, c->scope,
               now, c->expires_at) < 0)
        return -1;
    c->created_at = now;
    return 0;
}

int sq_consent_delete(struct store *base, int64_t user_id, int64_t provider_id, struct err *e)
{
    static const char sql[] = "DELETE FROM consents WHERE user_id = ?1 AND provider_id = ?2";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "consent", &n, e, "ii", user_id, provider_id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}
