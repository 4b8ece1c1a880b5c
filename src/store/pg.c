/*
 * The PostgreSQL backend: `store: postgres://user:password@host:port/db?sslmode=...` (any
 * libpq connection URI). One connection per thread, statements prepared once per connection,
 * migrations serialized across nodes by an advisory lock. See pg_int.h.
 */
#include "store/pg_int.h"

#include <stdlib.h>
#include <string.h>

/* Every node takes this advisory lock (a transaction's) before it reads the schema version,
 * so that of several nodes starting at once one migrates and the others then see it done. */
#define PG_MIGRATE_LOCK "postern.migrate"

static const char sql_has_version_table[] =
    "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 ELSE 1 END";
static const char sql_version[] = "SELECT coalesce(max(version), 0) FROM schema_version";
static const char sql_version_insert[] =
    "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)";
static const char sql_meta_get[] = "SELECT value FROM meta WHERE key = $1";
static const char sql_meta_set[] = "INSERT INTO meta (key, value) VALUES ($1, $2) "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char sql_meta_delete[] = "DELETE FROM meta WHERE key = $1";
static const char sql_meta_add[] =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

/* ---- connection ---------------------------------------------------------------- */

PGconn *pg_connect(const char *url, struct err *e)
{
    /* Defaults first: with expand_dbname, what the URL sets overrides them. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {PG_CONNECT_TIMEOUT_S, "postern", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        err_set(e, STORE_E_IO, "postgres: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        size_t n = strcspn(m, "\n");
        err_set(e, STORE_E_IO, "postgres: cannot connect: %.*s", (int)UTIL_MIN(n, 300), m);
        PQfinish(c);
        return NULL;
    }
    /* Times are unix seconds in BIGINT columns: the session time zone is never used. A
     * statement that runs too long is cancelled rather than holding a worker. */
    char set[128];
    snprintf(set, sizeof(set),
             "SET statement_timeout = %d; SET client_encoding = 'UTF8'; "
             "SET standard_conforming_strings = on",
             PG_STATEMENT_TIMEOUT_MS);
    PGresult *r = PQexec(c, set);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        err_set(e, STORE_E_IO, "postgres: session settings: %s", m ? m : "failed");
    }
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void pg_close(struct store *base)
{
    struct pg_store *s = pg(base);
    if (!s)
        return;
    /* Closing rolls back an open transaction. */
    PQfinish(s->conn);
    util_free_secret(s->url);
    free(s);
}

/* target: the whole URL (postgres://...), which libpq parses. */
static int pg_open(const char *target, struct store **out, struct err *e)
{
    *out = NULL;
    struct pg_store *s = xcalloc(1, sizeof(*s));
    s->base.ops = &store_pg_ops;
    s->conn = pg_connect(target, e);
    if (!s->conn) {
        free(s);
        return -1;
    }
    s->url = xstrdup(target);
    *out = &s->base;
    return 0;
}

/* ---- schema ------------------------------------------------------------------------ */

static int read_version(struct pg_store *s, int *version, struct err *e)
{
    int64_t has = 0, v = 0;
    if (pg_get_int(s, sql_has_version_table, &has, "schema_version", e, "") < 0)
        return -1;
    if (has && pg_get_int(s, sql_version, &v, "schema_version", e, "") < 0)
        return -1;
    if (v < 0 || v > INT32_MAX)
        return err_set(e, STORE_E_INTERNAL, "postgres: schema_version holds %lld", (long long)v);
    *version = (int)v;
    return 0;
}

static int pg_schema_version(struct store *base, int *version, struct err *e)
{
    return read_version(pg(base), version, e);
}

static int pg_schema_latest(void)
{
    return store_pg_migrations[store_pg_migrations_n - 1].version;
}

/* Runs a migration's SQL: several statements, so the simple query protocol. */
static int exec_script(struct pg_store *s, const struct store_migration *m, struct err *e)
{
    PGresult *r = PQexec(s->conn, m->sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[96];
        snprintf(what, sizeof(what), "migration %d (%s)", m->version, m->name);
        rc = pg_fail(s, r, what, e);
    }
    PQclear(r);
    return rc;
}

/* One migration step in its own transaction, after the migration lock; sets *done when
 * nothing is left to apply. */
static int migrate_step(struct pg_store *s, const struct store_migration *m, size_t n, bool *done,
                        struct err *e)
{
    int latest = m[n - 1].version, v = 0;
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    bool ok = pg_lock(s, PG_MIGRATE_LOCK, e) == 0 && read_version(s, &v, e) == 0;
    if (ok && v > latest) {
        err_set(e, STORE_E_SCHEMA_NEWER,
                "database schema version %d is newer than this postern (knows up to %d); "
                "upgrade postern",
                v, latest);
        ok = false;
    }
    if (ok && v == latest) {
        *done = true;
        return pg_leave(s, own, true, e);
    }
    const struct store_migration *step = ok ? &m[v] : NULL; /* versions are 1..n in order */
    ok = ok && exec_script(s, step, e) == 0 &&
         pg_run(s, sql_version_insert, "schema_version", NULL, e, "iti", (int64_t)step->version,
                step->name, util_now()) == 0;
    if (pg_leave(s, own, ok, e) < 0)
        return -1;
    log_info("store: applied migration %d (%s)", step->version, step->name);
    return 0;
}

int store_pg_migrate_list(struct store *base, const struct store_migration *m, size_t n,
                          struct err *e)
{
    struct pg_store *s = pg(base);
    if (n == 0)
        return err_set(e, STORE_E_INTERNAL, "postgres: no migrations");
    for (size_t i = 0; i < n; i++)
        if (m[i].version != (int)i + 1)
            return err_set(e, STORE_E_INTERNAL, "postgres: migration %zu is numbered %d", i + 1,
                           m[i].version);
    if (s->depth > 0)
        return err_set(e, STORE_E_STATE, "postgres: migrate inside a transaction");
    bool done = false;
    while (!done)
        if (migrate_step(s, m, n, &done, e) < 0)
            return -1;
    return 0;
}

static int pg_migrate(struct store *base, struct err *e)
{
    return store_pg_migrate_list(base, store_pg_migrations, store_pg_migrations_n, e);
}

/* ---- meta ------------------------------------------------------------------------- */

static int check_key(const char *key_z, struct err *e)
{
    size_t n = strlen(key_z);
    if (n == 0 || n > STORE_META_KEY_MAX)
        return err_set(e, STORE_E_INTERNAL, "meta key must be 1..%d bytes", STORE_META_KEY_MAX);
    return 0;
}

static int pg_meta_get(struct store *base, const char *key_z, struct buf *out, struct err *e)
{
    struct pg_store *s = pg(base);
    if (check_key(key_z, e) < 0)
        return -1;
    PGresult *r = pg_query(s, sql_meta_get, "meta_get", e, "t", key_z);
    if (!r)
        return -1;
    int ret = STORE_NOT_FOUND;
    if (PQntuples(r) > 0) {
        int vn = PQgetlength(r, 0, 0);
        buf_reset(out);
        ret = 0;
        if (vn > 0 && buf_append(out, PQgetvalue(r, 0, 0), (size_t)vn) < 0)
            ret = err_set(e, STORE_E_TOO_BIG, "meta %s: value of %d bytes is too big", key_z, vn);
    }
    PQclear(r);
    return ret;
}

/* meta_set and meta_add: sql inserts (or replaces) key and value; *changes gets whether it
 * wrote. */
static int meta_write(struct pg_store *s, const char *sql, const char *key_z, struct slice value,
                      int64_t *changes, struct err *e)
{
    if (check_key(key_z, e) < 0)
        return -1;
    if (value.n > STORE_META_VALUE_MAX)
        return err_set(e, STORE_E_TOO_BIG, "meta %s: value longer than %d bytes", key_z,
                       STORE_META_VALUE_MAX);
    char *v = slice_dup(value); /* a text parameter ends at its NUL */
    int rc = pg_run(s, sql, "meta", changes, e, "tt", key_z, v);
    free(v);
    return rc;
}

static int pg_meta_set(struct store *base, const char *key_z, struct slice value, struct err *e)
{
    int64_t changes;
    return meta_write(pg(base), sql_meta_set, key_z, value, &changes, e);
}

static int pg_meta_add(struct store *base, const char *key_z, struct slice value, bool *added,
                       struct err *e)
{
    int64_t changes = 0;
    int rc = meta_write(pg(base), sql_meta_add, key_z, value, &changes, e);
    *added = rc == 0 && changes > 0;
    return rc;
}

static int pg_meta_delete(struct store *base, const char *key_z, struct err *e)
{
    struct pg_store *s = pg(base);
    int64_t n = 0;
    if (check_key(key_z, e) < 0 || pg_run(s, sql_meta_delete, "meta_delete", &n, e, "t", key_z) < 0)
        return -1;
    return n > 0 ? 0 : STORE_NOT_FOUND;
}

/* ---- transactions ------------------------------------------------------------------ */

static int pg_tx_begin(struct store *base, struct err *e)
{
    struct pg_store *s = pg(base);
    bool own;
    if (s->depth > 0)
        return err_set(e, STORE_E_STATE, "postgres: a transaction is already open");
    if (pg_enter(s, &own, e) < 0)
        return -1;
    s->user_tx = true;
    return 0;
}

static int pg_tx_end(struct store *base, bool commit, struct err *e)
{
    struct pg_store *s = pg(base);
    if (s->depth == 0 || !s->user_tx)
        return err_set(e, STORE_E_STATE, "postgres: %s without a transaction",
                       commit ? "commit" : "rollback");
    s->user_tx = false;
    if (commit)
        return pg_leave(s, true, true, e);
    pg_leave(s, true, false, e);
    return 0;
}

static int pg_tx_commit(struct store *base, struct err *e)
{
    return pg_tx_end(base, true, e);
}

static int pg_tx_rollback(struct store *base, struct err *e)
{
    return pg_tx_end(base, false, e);
}

static int pg_tx_lock(struct store *base, const char *name_z, struct err *e)
{
    struct pg_store *s = pg(base);
    if (!s->user_tx)
        return err_set(e, STORE_E_STATE, "postgres: lock %s outside a transaction", name_z);
    return pg_lock(s, name_z, e);
}

const struct store_ops store_pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .schema_latest = pg_schema_latest,
    .migrate = pg_migrate,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .meta_delete = pg_meta_delete,
    .meta_add = pg_meta_add,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .tx_lock = pg_tx_lock,

    .user_create = pg_user_create,
    .user_update = pg_user_update,
    .user_set_password = pg_user_set_password,
    .user_get_by_id = pg_user_get_by_id,
    .user_get_by_name = pg_user_get_by_name,
    .user_get_by_login = pg_user_get_by_login,
    .user_list = pg_user_list,
    .user_delete = pg_user_delete,
    .group_upsert = pg_group_upsert,
    .group_get_by_id = pg_group_get_by_id,
    .group_get_by_name = pg_group_get_by_name,
    .group_list = pg_group_list,
    .group_delete = pg_group_delete,
    .member_add = pg_member_add,
    .member_remove = pg_member_remove,
    .user_set_groups = pg_user_set_groups,
    .user_groups = pg_user_groups,
    .group_members = pg_group_members,

    .keypair_insert_if_absent = pg_keypair_insert_if_absent,
    .keypair_get_by_name = pg_keypair_get_by_name,
    .keypair_list = pg_keypair_list,
    .keypair_delete = pg_keypair_delete,
    .provider_upsert = pg_provider_upsert,
    .provider_get_by_id = pg_provider_get_by_id,
    .provider_get_by_name = pg_provider_get_by_name,
    .provider_get_by_client_id = pg_provider_get_by_client_id,
    .provider_list = pg_provider_list,
    .provider_delete = pg_provider_delete,
    .app_upsert = pg_app_upsert,
    .app_get_by_id = pg_app_get_by_id,
    .app_get_by_slug = pg_app_get_by_slug,
    .app_get_by_provider = pg_app_get_by_provider,
    .app_list = pg_app_list,
    .app_delete = pg_app_delete,
    .app_bindings_set = pg_app_bindings_set,
    .app_bindings = pg_app_bindings,

    .session_create = pg_session_create,
    .session_get = pg_session_get,
    .session_touch = pg_session_touch,
    .session_delete = pg_session_delete,
    .session_delete_user = pg_session_delete_user,
    .code_create = pg_code_create,
    .code_take = pg_code_take,
    .token_insert = pg_token_insert,
    .token_get = pg_token_get,
    .token_revoke = pg_token_revoke,
    .token_revoke_code = pg_token_revoke_code,
    .token_revoke_family = pg_token_revoke_family,
    .token_rotate = pg_token_rotate,
    .consent_get = pg_consent_get,
    .consent_set = pg_consent_set,
    .consent_delete = pg_consent_delete,

    .attempt_fail = pg_attempt_fail,
    .attempt_get = pg_attempt_get,
    .attempt_reset = pg_attempt_reset,
    .event_add = pg_event_add,
    .event_list = pg_event_list,
    .event_purge = pg_event_purge,
    .purge = pg_purge,

    .access_idp_upsert = pg_access_idp_upsert,
    .access_idp_get = pg_access_idp_get,
    .access_idp_list = pg_access_idp_list,
    .access_idp_delete = pg_access_idp_delete,
    .access_app_upsert = pg_access_app_upsert,
    .access_app_get_by_name = pg_access_app_get_by_name,
    .access_app_get_by_domain = pg_access_app_get_by_domain,
    .access_app_get_by_aud = pg_access_app_get_by_aud,
    .access_app_list = pg_access_app_list,
    .access_app_delete = pg_access_app_delete,
    .service_token_create = pg_service_token_create,
    .service_token_verify = pg_service_token_verify,
    .service_token_list = pg_service_token_list,
    .service_token_delete = pg_service_token_delete,
    .service_token_touch = pg_service_token_touch,
    .service_token_secret_hash = pg_service_token_secret_hash,
    .access_key_ensure = pg_access_key_ensure,
    .access_key_rotate = pg_access_key_rotate,
    .access_key_list = pg_access_key_list,
    .access_session_create = pg_access_session_create,
    .access_session_get = pg_access_session_get,
    .access_session_revoke = pg_access_session_revoke,
    .access_session_revoked_since = pg_access_session_revoked_since,
    .access_state_create = pg_access_state_create,
    .access_state_take = pg_access_state_take,
    .access_ticket_create = pg_access_ticket_create,
    .access_ticket_take = pg_access_ticket_take,
};
