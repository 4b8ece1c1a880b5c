/*
 * PostgreSQL backend, access gateway configuration: identity providers, applications (with
 * their AUD tags), service tokens and the signing keys of app tokens. Sessions, login states
 * and one-time tokens are in pg_access_grants.c. The twin of sqlite_access.c, with the same
 * semantics; where PostgreSQL needs something else, the comment says why.
 */
#include "store/pg_int.h"

#include <stdio.h>
#include <string.h>

#define IDP_COLS     "id, name, type, config, created_at, updated_at"
#define APP_COLS     "id, name, domain, aud, config, created_at, updated_at"
#define SERVICE_COLS "id, name, client_id, created_at, expires_at, last_used"
/* A gateway key with the kid and alg of its key pair. */
#define KEY_SELECT                                                                                 \
    "SELECT k.id, k.keypair_name, p.kid, p.alg, k.created_at, k.retired_at, k.not_after "          \
    "FROM access_keys k JOIN certificate_keypairs p ON p.name = k.keypair_name"

/* Advisory locks (pg_lock) of the sections that read then write. SQLite's BEGIN IMMEDIATE
 * serialized them; READ COMMITTED does not, and a row that does not exist yet cannot be
 * locked with FOR UPDATE: two nodes creating the same name would both insert. */
#define LOCK_IDPS "postern.access_idps"
#define LOCK_APPS "postern.access_apps"
#define LOCK_KEYS "postern.access_keys"

static void fill_idp(const PGresult *r, int row, void *rec)
{
    struct store_access_idp *p = rec;
    store_access_idp_free(p);
    p->id = pg_col_int(r, row, 0);
    p->name = pg_col_str(r, row, 1);
    p->type = pg_col_str(r, row, 2);
    p->config = pg_col_str(r, row, 3);
    p->created_at = pg_col_int(r, row, 4);
    p->updated_at = pg_col_int(r, row, 5);
}

/* A 64-hex-digit column into a char[STORE_ID_SIZE] (= STORE_AUD_SIZE); "" otherwise. */
static void col_hex64(const PGresult *r, int row, int i, char out[STORE_AUD_SIZE])
{
    pg_col_id(r, row, i, out);
}

static void fill_app(const PGresult *r, int row, void *rec)
{
    struct store_access_app *a = rec;
    store_access_app_free(a);
    a->id = pg_col_int(r, row, 0);
    a->name = pg_col_str(r, row, 1);
    a->domain = pg_col_str(r, row, 2);
    col_hex64(r, row, 3, a->aud);
    a->config = pg_col_str(r, row, 4);
    a->created_at = pg_col_int(r, row, 5);
    a->updated_at = pg_col_int(r, row, 6);
}

static void fill_service(const PGresult *r, int row, void *rec)
{
    struct store_service_token *t = rec;
    store_service_token_free(t);
    t->id = pg_col_int(r, row, 0);
    t->name = pg_col_str(r, row, 1);
    /* PQgetvalue gives "" for NULL (the column is NOT NULL anyway). */
    snprintf(t->client_id, sizeof(t->client_id), "%s", PQgetvalue(r, row, 2));
    t->created_at = pg_col_int(r, row, 3);
    t->expires_at = pg_col_int(r, row, 4);
    t->last_used = pg_col_int(r, row, 5);
}

static void fill_key(const PGresult *r, int row, void *rec)
{
    struct store_access_key *k = rec;
    store_access_key_free(k);
    k->id = pg_col_int(r, row, 0);
    k->keypair_name = pg_col_str(r, row, 1);
    k->kid = pg_col_str(r, row, 2);
    k->alg = pg_col_str(r, row, 3);
    k->created_at = pg_col_int(r, row, 4);
    k->retired_at = pg_col_int(r, row, 5);
    k->not_after = pg_col_int(r, row, 6);
}

/* A one-row lookup by one text parameter. */
static int get_by(struct pg_store *s, const char *sql, const char *key_z, pg_fill_fn fill,
                  void *out, const char *what, struct err *e)
{
    return pg_get_one(s, sql, fill, out, what, e, "t", key_z);
}

/* A page of a list ordered by the statement (LIMIT $1 OFFSET $2). */
static int get_page(struct pg_store *s, const char *sql, const struct store_page *page,
                    pg_fill_fn fill, size_t size, void **v, size_t *n, const char *what,
                    struct err *e)
{
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    return pg_get_list(s, sql, fill, size, v, n, what, e, "ii", limit, offset);
}

/* DELETE ... WHERE name = $1: 0, STORE_NOT_FOUND or -1. */
static int delete_by_name(struct pg_store *s, const char *sql, const char *name_z, const char *what,
                          struct err *e)
{
    int64_t n = 0;
    if (pg_run(s, sql, what, &n, e, "t", name_z) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* The existing row of an upsert: its id (0 when none), created_at and, for applications, its
 * aud. sql selects "id, created_at[, aud]" by name. */
struct existing {
    int64_t id, created_at;
    char aud[STORE_AUD_SIZE];
};

static int find_existing(struct pg_store *s, const char *sql, const char *name_z,
                         struct existing *x, struct err *e)
{
    memset(x, 0, sizeof(*x));
    PGresult *r = pg_query(s, sql, "lookup", e, "t", name_z);
    if (!r)
        return -1;
    if (PQntuples(r) > 0) {
        x->id = pg_col_int(r, 0, 0);
        x->created_at = pg_col_int(r, 0, 1);
        if (PQnfields(r) > 2)
            col_hex64(r, 0, 2, x->aud);
    }
    PQclear(r);
    return 0;
}

/* The result of pg_get_int on an INSERT ... RETURNING id (PostgreSQL has no
 * last_insert_rowid): 0, or -1 with e set, also for the row that cannot be missing. */
static int inserted_id(int rc, const char *what, struct err *e)
{
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "%s: the insert returned no id", what);
    return rc;
}

/* Runs write(s, rec, created, e) in an atomic section, after the advisory lock `lock`; sets
 * *created (may be NULL). The lock is taken by its own statement before the lookup, so that
 * the lookup's snapshot (READ COMMITTED: one per statement) sees the row of a writer that
 * held it before us. */
typedef int (*write_fn)(struct pg_store *s, void *rec, bool *created, struct err *e);

static int upsert(struct store *base, const char *lock, write_fn write, void *rec, bool *created,
                  struct err *e)
{
    struct pg_store *s = pg(base);
    bool own, c = false;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = pg_lock(s, lock, e);
    if (rc == 0)
        rc = write(s, rec, &c, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

/* ---- identity providers ------------------------------------------------------------- */

static int idp_write(struct pg_store *s, void *rec, bool *created, struct err *e)
{
    static const char find[] = "SELECT id, created_at FROM access_idps WHERE name = $1";
    /* The two statements take their own parameter lists (SQLite's shared ?1..?5): an unused
     * $n has no type the server could infer. */
    static const char ins[] = "INSERT INTO access_idps (name, type, config, created_at, "
                              "updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id";
    static const char upd[] =
        "UPDATE access_idps SET type = $2, config = $3, updated_at = $4 WHERE id = $1";
    struct store_access_idp *p = rec;
    const char *name = p->name ? p->name : "";
    const char *config = store_or_z(p->config, "{}");
    struct existing x;
    int64_t now = util_now(), id = 0;
    if (find_existing(s, find, name, &x, e) < 0)
        return -1;
    *created = x.id == 0;
    if (*created) {
        if (inserted_id(
                pg_get_int(s, ins, &id, "identity provider", e, "ttti", name, p->type, config, now),
                "identity provider", e) < 0)
            return -1;
    } else {
        if (pg_run(s, upd, "identity provider", NULL, e, "itti", x.id, p->type, config, now) < 0)
            return -1;
        id = x.id;
    }
    p->id = id;
    p->created_at = *created ? now : x.created_at;
    p->updated_at = now;
    return 0;
}

int pg_access_idp_upsert(struct store *base, struct store_access_idp *p, bool *created,
                         struct err *e)
{
    return upsert(base, LOCK_IDPS, idp_write, p, created, e);
}

int pg_access_idp_get(struct store *base, const char *name_z, struct store_access_idp *out,
                      struct err *e)
{
    static const char sql[] = "SELECT " IDP_COLS " FROM access_idps WHERE name = $1";
    return get_by(pg(base), sql, name_z, fill_idp, out, "identity provider", e);
}

int pg_access_idp_list(struct store *base, const struct store_page *page,
                       struct store_access_idp_list *out, struct err *e)
{
    /* COLLATE "C": byte order, as SQLite's BINARY, whatever the database's locale. */
    static const char sql[] =
        "SELECT " IDP_COLS " FROM access_idps ORDER BY name COLLATE \"C\" LIMIT $1 OFFSET $2";
    store_access_idp_list_free(out);
    return get_page(pg(base), sql, page, fill_idp, sizeof(*out->v), (void **)&out->v, &out->n,
                    "identity providers", e);
}

int pg_access_idp_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_idps WHERE name = $1";
    return delete_by_name(pg(base), sql, name_z, "identity provider", e);
}

/* ---- applications ------------------------------------------------------------------ */

static int app_write(struct pg_store *s, void *rec, bool *created, struct err *e)
{
    static const char find[] = "SELECT id, created_at, aud FROM access_apps WHERE name = $1";
    static const char ins[] = "INSERT INTO access_apps (name, domain, aud, config, created_at, "
                              "updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
    /* aud is not written: an AUD tag is for the life of the application, since origins check
     * it. (Not INSERT ... ON CONFLICT: PostgreSQL checks the proposed row, with the caller's
     * candidate aud, before it finds the conflict, so an update could be refused for an aud
     * it does not write.) */
    static const char upd[] =
        "UPDATE access_apps SET domain = $2, config = $3, updated_at = $4 WHERE id = $1";
    struct store_access_app *a = rec;
    const char *name = a->name ? a->name : "";
    const char *config = store_or_z(a->config, "{}");
    struct existing x;
    int64_t now = util_now(), id = 0;
    if (find_existing(s, find, name, &x, e) < 0)
        return -1;
    *created = x.id == 0;
    if (*created) {
        if (inserted_id(pg_get_int(s, ins, &id, "application", e, "tttti", name, a->domain, a->aud,
                                   config, now),
                        "application", e) < 0)
            return -1;
        a->id = id;
        a->created_at = now;
    } else {
        if (pg_run(s, upd, "application", NULL, e, "itti", x.id, a->domain, config, now) < 0)
            return -1;
        a->id = x.id;
        a->created_at = x.created_at;
        memcpy(a->aud, x.aud, sizeof(a->aud));
    }
    a->updated_at = now;
    return 0;
}

int pg_access_app_upsert(struct store *base, struct store_access_app *a, bool *created,
                         struct err *e)
{
    return upsert(base, LOCK_APPS, app_write, a, created, e);
}

int pg_access_app_get_by_name(struct store *base, const char *name_z, struct store_access_app *out,
                              struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE name = $1";
    return get_by(pg(base), sql, name_z, fill_app, out, "application", e);
}

int pg_access_app_get_by_domain(struct store *base, const char *domain_z,
                                struct store_access_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE domain = $1";
    return get_by(pg(base), sql, domain_z, fill_app, out, "application", e);
}

int pg_access_app_get_by_aud(struct store *base, const char *aud_z, struct store_access_app *out,
                             struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE aud = $1";
    return get_by(pg(base), sql, aud_z, fill_app, out, "application", e);
}

int pg_access_app_list(struct store *base, const struct store_page *page,
                       struct store_access_app_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM access_apps ORDER BY name COLLATE \"C\" LIMIT $1 OFFSET $2";
    store_access_app_list_free(out);
    return get_page(pg(base), sql, page, fill_app, sizeof(*out->v), (void **)&out->v, &out->n,
                    "applications", e);
}

int pg_access_app_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_apps WHERE name = $1";
    return delete_by_name(pg(base), sql, name_z, "application", e);
}

/* ---- service tokens ---------------------------------------------------------------- */

int pg_service_token_create(struct store *base, struct store_service_token *t,
                            const char *secret_id_z, struct err *e)
{
    static const char sql[] = "INSERT INTO access_service_tokens (name, client_id, secret_hash, "
                              "created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
    int64_t now = util_now(), id = 0;
    if (inserted_id(pg_get_int(pg(base), sql, &id, "service token", e, "tttii", t->name,
                               t->client_id, secret_id_z, now, t->expires_at),
                    "service token", e) < 0)
        return -1;
    t->id = id;
    t->created_at = now;
    t->last_used = 0;
    return 0;
}

/* A service token row with its secret's digest, which the record does not show. */
struct service_row {
    struct store_service_token t;
    char secret_hash[STORE_ID_SIZE];
};

static void fill_service_row(const PGresult *r, int row, void *rec)
{
    struct service_row *sr = rec;
    fill_service(r, row, &sr->t);
    pg_col_id(r, row, 6, sr->secret_hash);
}

int pg_service_token_verify(struct store *base, const char *client_id_z, const char *secret_id_z,
                            struct store_service_token *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SERVICE_COLS ", secret_hash FROM access_service_tokens WHERE client_id = $1";
    struct service_row r = {0};
    int rc = get_by(pg(base), sql, client_id_z, fill_service_row, &r, "service token", e);
    if (rc != 0)
        return rc;
    /* Both are digests of STORE_ID_SIZE - 1 hex digits; a row with a malformed one (never
     * written by this store) compares unequal. */
    if (!util_ct_equal(r.secret_hash, strlen(r.secret_hash), secret_id_z, strlen(secret_id_z)) ||
        !r.secret_hash[0]) {
        rc = STORE_NOT_FOUND;
    } else {
        rc = r.t.expires_at != 0 && r.t.expires_at <= util_now() ? STORE_EXPIRED : 0;
        store_service_token_free(out);
        *out = r.t;
        memset(&r.t, 0, sizeof(r.t));
    }
    store_service_token_free(&r.t);
    util_wipe(r.secret_hash, sizeof(r.secret_hash));
    return rc;
}

int pg_service_token_list(struct store *base, const struct store_page *page,
                          struct store_service_token_list *out, struct err *e)
{
    static const char sql[] = "SELECT " SERVICE_COLS " FROM access_service_tokens "
                              "ORDER BY name COLLATE \"C\" LIMIT $1 OFFSET $2";
    store_service_token_list_free(out);
    return get_page(pg(base), sql, page, fill_service, sizeof(*out->v), (void **)&out->v, &out->n,
                    "service tokens", e);
}

int pg_service_token_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_service_tokens WHERE name = $1";
    return delete_by_name(pg(base), sql, name_z, "service token", e);
}

int pg_service_token_touch(struct store *base, int64_t id, struct err *e)
{
    /* The condition makes a second node's touch of the same minute a no-op: the second
     * UPDATE waits for the first's row lock, then re-evaluates it on the new row. The casts
     * give "$2 - $3" a type. */
    static const char sql[] = "UPDATE access_service_tokens SET last_used = $2::bigint "
                              "WHERE id = $1 AND last_used <= $2::bigint - $3::bigint";
    return pg_run(pg(base), sql, "service token", NULL, e, "iii", id, util_now(),
                  (int64_t)STORE_SERVICE_TOUCH_S);
}

/* The digest alone, for `postern store export` (the record never shows it). */
static void fill_secret_hash(const PGresult *r, int row, void *rec)
{
    pg_col_id(r, row, 0, rec);
}

int pg_service_token_secret_hash(struct store *base, int64_t id, char out[STORE_ID_SIZE],
                                 struct err *e)
{
    static const char sql[] = "SELECT secret_hash FROM access_service_tokens WHERE id = $1";
    return pg_get_one(pg(base), sql, fill_secret_hash, out, "service token", e, "i", id);
}

/* ---- signing keys ------------------------------------------------------------------- */

static const char sql_key_current[] = KEY_SELECT " WHERE k.retired_at = 0";

/* The current key into out: 0 or STORE_NOT_FOUND. */
static int key_current(struct pg_store *s, struct store_access_key *out, struct err *e)
{
    return pg_get_one(s, sql_key_current, fill_key, out, "gateway key", e, "");
}

/* Inside an atomic section holding LOCK_KEYS: inserts keypair_name_z as the current key (the
 * caller retired the previous one) and reads it back into out. */
static int key_insert(struct pg_store *s, const char *keypair_name_z, struct store_access_key *out,
                      struct err *e)
{
    static const char exists[] = "SELECT count(*) FROM certificate_keypairs WHERE name = $1";
    static const char ins[] = "INSERT INTO access_keys (keypair_name, created_at) VALUES ($1, $2)";
    int64_t found = 0;
    if (pg_get_int(s, exists, &found, "gateway key", e, "t", keypair_name_z) < 0)
        return -1;
    if (!found)
        return err_set(e, STORE_E_CONSTRAINT,
                       "keypair_name: no certificate-key pair named \"%.64s\"", keypair_name_z);
    if (pg_run(s, ins, "gateway key", NULL, e, "ti", keypair_name_z, util_now()) < 0)
        return -1;
    int rc = key_current(s, out, e);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "gateway key vanished after insert");
    return rc;
}

static int key_ensure(struct pg_store *s, const char *keypair_name_z, struct store_access_key *out,
                      bool *inserted, struct err *e)
{
    int rc = key_current(s, out, e);
    if (rc != STORE_NOT_FOUND)
        return rc; /* another node's key (or ours from before): keep it */
    *inserted = true;
    return key_insert(s, keypair_name_z, out, e);
}

int pg_access_key_ensure(struct store *base, const char *keypair_name_z,
                         struct store_access_key *out, bool *inserted, struct err *e)
{
    struct pg_store *s = pg(base);
    bool own, ins = false;
    /* Where SQLite's BEGIN IMMEDIATE serialized, the lock does: of two nodes, the second
     * reads the current key after the first's commit. Without it both would see none and the
     * second's insert would fail on the unique index access_keys_current (the last word),
     * aborting its transaction instead of returning the first's key. */
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = pg_lock(s, LOCK_KEYS, e);
    if (rc == 0)
        rc = key_ensure(s, keypair_name_z ? keypair_name_z : "", out, &ins, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (inserted)
        *inserted = ins;
    return 0;
}

static int key_rotate(struct pg_store *s, const char *keypair_name_z, int64_t grace_s,
                      int64_t if_current_id, struct store_access_key *out, bool *rotated,
                      struct err *e)
{
    static const char retire[] = "UPDATE access_keys SET retired_at = $1::bigint, "
                                 "not_after = $1::bigint + $2::bigint WHERE retired_at = 0";
    int rc = key_current(s, out, e);
    if (rc < 0)
        return -1;
    if (if_current_id != 0) {
        if (rc == STORE_NOT_FOUND)
            return STORE_NOT_FOUND;
        if (out->id != if_current_id)
            return 0; /* someone rotated since the caller looked: theirs stays current */
    }
    if (pg_run(s, retire, "gateway key", NULL, e, "ii", util_now(), grace_s) < 0)
        return -1;
    *rotated = true;
    return key_insert(s, keypair_name_z, out, e);
}

int pg_access_key_rotate(struct store *base, const char *keypair_name_z, int64_t grace_s,
                         int64_t if_current_id, struct store_access_key *out, bool *rotated,
                         struct err *e)
{
    struct pg_store *s = pg(base);
    bool own, rot = false;
    /* The same lock as ensure: the compare-and-swap on the current key reads it after every
     * other node's rotation has committed. */
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = pg_lock(s, LOCK_KEYS, e);
    if (rc == 0)
        rc = key_rotate(s, keypair_name_z ? keypair_name_z : "", grace_s, if_current_id, out, &rot,
                        e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        return -1;
    if (rotated)
        *rotated = rot;
    return rc;
}

int pg_access_key_list(struct store *base, struct store_access_key_list *out, struct err *e)
{
    /* The current key first, then the retired ones by age. */
    static const char sql[] =
        KEY_SELECT " WHERE k.retired_at = 0 OR k.not_after > $1 "
                   "ORDER BY k.retired_at <> 0, k.created_at DESC, k.id DESC LIMIT $2";
    struct pg_store *s = pg(base);
    store_access_key_list_free(out);
    return pg_get_list(s, sql, fill_key, sizeof(*out->v), (void **)&out->v, &out->n, "gateway keys",
                       e, "ii", util_now(), (int64_t)STORE_LIST_MAX);
}
