/*
 * SQLite backend, access gateway configuration: identity providers, applications (with their
 * AUD tags), service tokens and the signing keys of app tokens. Sessions, login states and
 * one-time tokens are in sqlite_access_grants.c.
 */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <string.h>

#define IDP_COLS     "id, name, type, config, created_at, updated_at"
#define APP_COLS     "id, name, domain, aud, config, created_at, updated_at"
#define SERVICE_COLS "id, name, client_id, created_at, expires_at, last_used"
/* A gateway key with the kid and alg of its key pair. */
#define KEY_SELECT                                                                                 \
    "SELECT k.id, k.keypair_name, p.kid, p.alg, k.created_at, k.retired_at, k.not_after "          \
    "FROM access_keys k JOIN certificate_keypairs p ON p.name = k.keypair_name"

static void fill_idp(sqlite3_stmt *st, void *rec)
{
    struct store_access_idp *p = rec;
    store_access_idp_free(p);
    p->id = sq_col_int(st, 0);
    p->name = sq_col_str(st, 1);
    p->type = sq_col_str(st, 2);
    p->config = sq_col_str(st, 3);
    p->created_at = sq_col_int(st, 4);
    p->updated_at = sq_col_int(st, 5);
}

/* A 64-hex-digit column into a char[STORE_ID_SIZE] (= STORE_AUD_SIZE); "" otherwise. */
static void col_hex64(sqlite3_stmt *st, int i, char out[STORE_AUD_SIZE])
{
    sq_col_id(st, i, out);
}

static void fill_app(sqlite3_stmt *st, void *rec)
{
    struct store_access_app *a = rec;
    store_access_app_free(a);
    a->id = sq_col_int(st, 0);
    a->name = sq_col_str(st, 1);
    a->domain = sq_col_str(st, 2);
    col_hex64(st, 3, a->aud);
    a->config = sq_col_str(st, 4);
    a->created_at = sq_col_int(st, 5);
    a->updated_at = sq_col_int(st, 6);
}

static void fill_service(sqlite3_stmt *st, void *rec)
{
    struct store_service_token *t = rec;
    store_service_token_free(t);
    t->id = sq_col_int(st, 0);
    t->name = sq_col_str(st, 1);
    const unsigned char *cid = sqlite3_column_text(st, 2);
    snprintf(t->client_id, sizeof(t->client_id), "%s", cid ? (const char *)cid : "");
    t->created_at = sq_col_int(st, 3);
    t->expires_at = sq_col_int(st, 4);
    t->last_used = sq_col_int(st, 5);
}

static void fill_key(sqlite3_stmt *st, void *rec)
{
    struct store_access_key *k = rec;
    store_access_key_free(k);
    k->id = sq_col_int(st, 0);
    k->keypair_name = sq_col_str(st, 1);
    k->kid = sq_col_str(st, 2);
    k->alg = sq_col_str(st, 3);
    k->created_at = sq_col_int(st, 4);
    k->retired_at = sq_col_int(st, 5);
    k->not_after = sq_col_int(st, 6);
}

/* A one-row lookup by one text parameter. */
static int get_by(struct sqlite_store *s, const char *sql, const char *key_z, sq_fill_fn fill,
                  void *out, const char *what, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, what, e, "t", key_z) < 0)
        return -1;
    return sq_get_one(s, st, fill, out, what, e);
}

/* A page of a list ordered by the statement (LIMIT ?1 OFFSET ?2). */
static int get_page(struct sqlite_store *s, const char *sql, const struct store_page *pg,
                    sq_fill_fn fill, size_t size, void **v, size_t *n, const char *what,
                    struct err *e)
{
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, what, e, "ii", limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill, size, v, n, what, e);
}

/* DELETE ... WHERE name = ?1: 0, STORE_NOT_FOUND or -1. */
static int delete_by_name(struct sqlite_store *s, const char *sql, const char *name_z,
                          const char *what, struct err *e)
{
    int64_t n = 0;
    if (sq_run(s, sql, what, &n, e, "t", name_z) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* The existing row of an upsert: its id (0 when none), created_at and, for applications, its
 * aud. sql selects "id, created_at[, aud]" by name. */
struct existing {
    int64_t id, created_at;
    char aud[STORE_AUD_SIZE];
};

static int find_existing(struct sqlite_store *s, const char *sql, const char *name_z,
                         struct existing *x, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "lookup", e, "t", name_z) < 0)
        return -1;
    memset(x, 0, sizeof(*x));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        x->id = sq_col_int(st, 0);
        x->created_at = sq_col_int(st, 1);
        if (sqlite3_column_count(st) > 2)
            col_hex64(st, 2, x->aud);
    }
    sq_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, rc, "lookup", e);
    return 0;
}

/* Runs write(s, rec, created, e) in an atomic section; sets *created (may be NULL). */
typedef int (*write_fn)(struct sqlite_store *s, void *rec, bool *created, struct err *e);

static int upsert(struct store *base, write_fn write, void *rec, bool *created, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, c = false;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = write(s, rec, &c, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

/* ---- identity providers ------------------------------------------------------------- */

static int idp_write(struct sqlite_store *s, void *rec, bool *created, struct err *e)
{
    static const char find[] = "SELECT id, created_at FROM access_idps WHERE name = ?1";
    static const char ins[] = "INSERT INTO access_idps (name, type, config, created_at, "
                              "updated_at) VALUES (?2, ?3, ?4, ?5, ?5)";
    static const char upd[] =
        "UPDATE access_idps SET type = ?3, config = ?4, updated_at = ?5 WHERE id = ?1";
    struct store_access_idp *p = rec;
    const char *name = p->name ? p->name : "";
    struct existing x;
    int64_t now = util_now();
    if (find_existing(s, find, name, &x, e) < 0)
        return -1;
    *created = x.id == 0;
    if (sq_run(s, *created ? ins : upd, "identity provider", NULL, e, "ittti", x.id, name, p->type,
               store_or_z(p->config, "{}"), now) < 0)
        return -1;
    p->id = *created ? sqlite3_last_insert_rowid(s->db) : x.id;
    p->created_at = *created ? now : x.created_at;
    p->updated_at = now;
    return 0;
}

int sq_access_idp_upsert(struct store *base, struct store_access_idp *p, bool *created,
                         struct err *e)
{
    return upsert(base, idp_write, p, created, e);
}

int sq_access_idp_get(struct store *base, const char *name_z, struct store_access_idp *out,
                      struct err *e)
{
    static const char sql[] = "SELECT " IDP_COLS " FROM access_idps WHERE name = ?1";
    return get_by(sq(base), sql, name_z, fill_idp, out, "identity provider", e);
}

int sq_access_idp_list(struct store *base, const struct store_page *pg,
                       struct store_access_idp_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " IDP_COLS " FROM access_idps ORDER BY name LIMIT ?1 OFFSET ?2";
    store_access_idp_list_free(out);
    return get_page(sq(base), sql, pg, fill_idp, sizeof(*out->v), (void **)&out->v, &out->n,
                    "identity providers", e);
}

int sq_access_idp_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_idps WHERE name = ?1";
    return delete_by_name(sq(base), sql, name_z, "identity provider", e);
}

/* ---- applications ------------------------------------------------------------------ */

static int app_write(struct sqlite_store *s, void *rec, bool *created, struct err *e)
{
    static const char find[] = "SELECT id, created_at, aud FROM access_apps WHERE name = ?1";
    static const char ins[] = "INSERT INTO access_apps (name, domain, aud, config, created_at, "
                              "updated_at) VALUES (?2, ?3, ?4, ?5, ?6, ?6)";
    /* aud (?4) is not written: an AUD tag is for the life of the application, since origins
     * check it. */
    static const char upd[] =
        "UPDATE access_apps SET domain = ?3, config = ?5, updated_at = ?6 WHERE id = ?1";
    struct store_access_app *a = rec;
    const char *name = a->name ? a->name : "";
    struct existing x;
    int64_t now = util_now();
    if (find_existing(s, find, name, &x, e) < 0)
        return -1;
    *created = x.id == 0;
    if (sq_run(s, *created ? ins : upd, "application", NULL, e, "itttti", x.id, name, a->domain,
               a->aud, store_or_z(a->config, "{}"), now) < 0)
        return -1;
    if (*created) {
        a->id = sqlite3_last_insert_rowid(s->db);
        a->created_at = now;
    } else {
        a->id = x.id;
        a->created_at = x.created_at;
        memcpy(a->aud, x.aud, sizeof(a->aud));
    }
    a->updated_at = now;
    return 0;
}

int sq_access_app_upsert(struct store *base, struct store_access_app *a, bool *created,
                         struct err *e)
{
    return upsert(base, app_write, a, created, e);
}

int sq_access_app_get_by_name(struct store *base, const char *name_z, struct store_access_app *out,
                              struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE name = ?1";
    return get_by(sq(base), sql, name_z, fill_app, out, "application", e);
}

int sq_access_app_get_by_domain(struct store *base, const char *domain_z,
                                struct store_access_app *out, struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE domain = ?1";
    return get_by(sq(base), sql, domain_z, fill_app, out, "application", e);
}

int sq_access_app_get_by_aud(struct store *base, const char *aud_z, struct store_access_app *out,
                             struct err *e)
{
    static const char sql[] = "SELECT " APP_COLS " FROM access_apps WHERE aud = ?1";
    return get_by(sq(base), sql, aud_z, fill_app, out, "application", e);
}

int sq_access_app_list(struct store *base, const struct store_page *pg,
                       struct store_access_app_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM access_apps ORDER BY name LIMIT ?1 OFFSET ?2";
    store_access_app_list_free(out);
    return get_page(sq(base), sql, pg, fill_app, sizeof(*out->v), (void **)&out->v, &out->n,
                    "applications", e);
}

int sq_access_app_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_apps WHERE name = ?1";
    return delete_by_name(sq(base), sql, name_z, "application", e);
}

/* ---- service tokens ---------------------------------------------------------------- */

int sq_service_token_create(struct store *base, struct store_service_token *t,
                            const char *secret_id_z, struct err *e)
{
    static const char sql[] = "INSERT INTO access_service_tokens (name, client_id, secret_hash, "
                              "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    struct sqlite_store *s = sq(base);
    int64_t now = util_now();
    if (sq_run(s, sql, "service token", NULL, e, "tttii", t->name, t->client_id, secret_id_z, now,
               t->expires_at) < 0)
        return -1;
    t->id = sqlite3_last_insert_rowid(s->db);
    t->created_at = now;
    t->last_used = 0;
    return 0;
}

/* A service token row with its secret's digest, which the record does not show. */
struct service_row {
    struct store_service_token t;
    char secret_hash[STORE_ID_SIZE];
};

static void fill_service_row(sqlite3_stmt *st, void *rec)
{
    struct service_row *r = rec;
    fill_service(st, &r->t);
    sq_col_id(st, 6, r->secret_hash);
}

int sq_service_token_verify(struct store *base, const char *client_id_z, const char *secret_id_z,
                            struct store_service_token *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SERVICE_COLS ", secret_hash FROM access_service_tokens WHERE client_id = ?1";
    struct service_row r = {0};
    int rc = get_by(sq(base), sql, client_id_z, fill_service_row, &r, "service token", e);
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

int sq_service_token_list(struct store *base, const struct store_page *pg,
                          struct store_service_token_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SERVICE_COLS " FROM access_service_tokens ORDER BY name LIMIT ?1 OFFSET ?2";
    store_service_token_list_free(out);
    return get_page(sq(base), sql, pg, fill_service, sizeof(*out->v), (void **)&out->v, &out->n,
                    "service tokens", e);
}

int sq_service_token_delete(struct store *base, const char *name_z, struct err *e)
{
    static const char sql[] = "DELETE FROM access_service_tokens WHERE name = ?1";
    return delete_by_name(sq(base), sql, name_z, "service token", e);
}

int sq_service_token_touch(struct store *base, int64_t id, struct err *e)
{
    /* The condition makes a second node's touch of the same minute a no-op. */
    static const char sql[] = "UPDATE access_service_tokens SET last_used = ?2 "
                              "WHERE id = ?1 AND last_used <= ?2 - ?3";
    return sq_run(sq(base), sql, "service token", NULL, e, "iii", id, util_now(),
                  (int64_t)STORE_SERVICE_TOUCH_S);
}

/* The digest alone, for `postern store export` (the record never shows it). */
static void fill_secret_hash(sqlite3_stmt *st, void *rec)
{
    sq_col_id(st, 0, rec);
}

int sq_service_token_secret_hash(struct store *base, int64_t id, char out[STORE_ID_SIZE],
                                 struct err *e)
{
    static const char sql[] = "SELECT secret_hash FROM access_service_tokens WHERE id = ?1";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "service token", e, "i", id) < 0)
        return -1;
    return sq_get_one(s, st, fill_secret_hash, out, "service token", e);
}

/* ---- signing keys ------------------------------------------------------------------- */

static const char sql_key_current[] = KEY_SELECT " WHERE k.retired_at = 0";

/* The current key into out: 0 or STORE_NOT_FOUND. */
static int key_current(struct sqlite_store *s, struct store_access_key *out, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql_key_current, e);
    if (!st)
        return -1;
    return sq_get_one(s, st, fill_key, out, "gateway key", e);
}

/* Inside an atomic section: inserts keypair_name_z as the current key (the caller retired the
 * previous one) and reads it back into out. */
static int key_insert(struct sqlite_store *s, const char *keypair_name_z,
                      struct store_access_key *out, struct err *e)
{
    static const char exists[] = "SELECT count(*) FROM certificate_keypairs WHERE name = ?1";
    static const char ins[] = "INSERT INTO access_keys (keypair_name, created_at) VALUES (?1, ?2)";
    sqlite3_stmt *st = sq_stmt(s, exists, e);
    if (!st || sq_bind(s, st, "gateway key", e, "t", keypair_name_z) < 0)
        return -1;
    int rc = sqlite3_step(st);
    int64_t found = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sq_done(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "gateway key", e);
    if (!found)
        return err_set(e, STORE_E_CONSTRAINT,
                       "keypair_name: no certificate-key pair named \"%.64s\"", keypair_name_z);
    if (sq_run(s, ins, "gateway key", NULL, e, "ti", keypair_name_z, util_now()) < 0)
        return -1;
    rc = key_current(s, out, e);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "gateway key vanished after insert");
    return rc;
}

static int key_ensure(struct sqlite_store *s, const char *keypair_name_z,
                      struct store_access_key *out, bool *inserted, struct err *e)
{
    int rc = key_current(s, out, e);
    if (rc != STORE_NOT_FOUND)
        return rc; /* another node's key (or ours from before): keep it */
    *inserted = true;
    return key_insert(s, keypair_name_z, out, e);
}

int sq_access_key_ensure(struct store *base, const char *keypair_name_z,
                         struct store_access_key *out, bool *inserted, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, ins = false;
    /* BEGIN IMMEDIATE: of two nodes, the second reads the current key after the first's
     * commit. The unique index access_keys_current is the last word if a backend did not. */
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = key_ensure(s, keypair_name_z ? keypair_name_z : "", out, &ins, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (inserted)
        *inserted = ins;
    return 0;
}

static int key_rotate(struct sqlite_store *s, const char *keypair_name_z, int64_t grace_s,
                      int64_t if_current_id, struct store_access_key *out, bool *rotated,
                      struct err *e)
{
    static const char retire[] = "UPDATE access_keys SET retired_at = ?1, not_after = ?1 + ?2 "
                                 "WHERE retired_at = 0";
    int rc = key_current(s, out, e);
    if (rc < 0)
        return -1;
    if (if_current_id != 0) {
        if (rc == STORE_NOT_FOUND)
            return STORE_NOT_FOUND;
        if (out->id != if_current_id)
            return 0; /* someone rotated since the caller looked: theirs stays current */
    }
    if (sq_run(s, retire, "gateway key", NULL, e, "ii", util_now(), grace_s) < 0)
        return -1;
    *rotated = true;
    return key_insert(s, keypair_name_z, out, e);
}

int sq_access_key_rotate(struct store *base, const char *keypair_name_z, int64_t grace_s,
                         int64_t if_current_id, struct store_access_key *out, bool *rotated,
                         struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, rot = false;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc =
        key_rotate(s, keypair_name_z ? keypair_name_z : "", grace_s, if_current_id, out, &rot, e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        return -1;
    if (rotated)
        *rotated = rot;
    return rc;
}

int sq_access_key_list(struct store *base, struct store_access_key_list *out, struct err *e)
{
    /* The current key first, then the retired ones by age. */
    static const char sql[] =
        KEY_SELECT " WHERE k.retired_at = 0 OR k.not_after > ?1 "
                   "ORDER BY k.retired_at <> 0, k.created_at DESC, k.id DESC LIMIT ?2";
    struct sqlite_store *s = sq(base);
    store_access_key_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "gateway keys", e, "ii", util_now(), (int64_t)STORE_LIST_MAX) < 0)
        return -1;
    return sq_get_list(s, st, fill_key, sizeof(*out->v), (void **)&out->v, &out->n, "gateway keys",
                       e);
}
