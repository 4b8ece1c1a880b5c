/*
 * SQLite backend, access gateway grants: global sessions with their revocation list, login
 * states and the one-time tokens of /cdn-cgi/access/authorized. Every id here is the SHA-256
 * (hex) of a raw value that the front hashed; the raw values never reach this file.
 */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <string.h>

#define SESSION_COLS "id, identity, idp, created_at, expires_at, revoked_at"
#define STATE_COLS                                                                                 \
    "id, nonce, code_verifier, idp, app_domain, redirect_url, created_at, expires_at, used_at, "   \
    "binding"
#define TICKET_COLS "id, session_id, aud, redirect_path, created_at, expires_at, used_at"

static void fill_session(sqlite3_stmt *st, void *rec)
{
    struct store_access_session *x = rec;
    store_access_session_free(x);
    sq_col_id(st, 0, x->id);
    x->identity = sq_col_str(st, 1);
    x->idp = sq_col_str(st, 2);
    x->created_at = sq_col_int(st, 3);
    x->expires_at = sq_col_int(st, 4);
    x->revoked_at = sq_col_int(st, 5);
}

static void fill_revoked(sqlite3_stmt *st, void *rec)
{
    struct store_access_revoked *r = rec;
    sq_col_id(st, 0, r->id);
    r->revoked_at = sq_col_int(st, 1);
    r->expires_at = sq_col_int(st, 2);
}

/* A state row with the digest of its binding, which the record does not show. */
struct state_row {
    struct store_access_state x;
    char binding[STORE_ID_SIZE];
};

static void fill_state(sqlite3_stmt *st, void *rec)
{
    struct state_row *r = rec;
    struct store_access_state *x = &r->x;
    store_access_state_free(x);
    sq_col_id(st, 0, x->id);
    x->nonce = sq_col_str(st, 1);
    x->code_verifier = sq_col_str(st, 2);
    x->idp = sq_col_str(st, 3);
    x->app_domain = sq_col_str(st, 4);
    x->redirect_url = sq_col_str(st, 5);
    x->created_at = sq_col_int(st, 6);
    x->expires_at = sq_col_int(st, 7);
    x->used_at = sq_col_int(st, 8);
    sq_col_id(st, 9, r->binding);
}

static void fill_ticket(sqlite3_stmt *st, void *rec)
{
    struct store_access_ticket *x = rec;
    store_access_ticket_free(x);
    sq_col_id(st, 0, x->id);
    sq_col_id(st, 1, x->session_id);
    sq_col_id(st, 2, x->aud);
    x->redirect_path = sq_col_str(st, 3);
    x->created_at = sq_col_int(st, 4);
    x->expires_at = sq_col_int(st, 5);
    x->used_at = sq_col_int(st, 6);
}

/* A one-row lookup by id. */
static int get_id(struct sqlite_store *s, const char *sql, const char *id_z, sq_fill_fn fill,
                  void *out, const char *what, struct err *e)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, what, e, "t", id_z) < 0)
        return -1;
    return sq_get_one(s, st, fill, out, what, e);
}

/* Marks a single-use row used, inside the atomic section of a take; sql is
 * "UPDATE ... SET used_at = ?2 WHERE id = ?1 AND used_at = 0". */
static int mark_used(struct sqlite_store *s, const char *sql, const char *id_z, int64_t now,
                     const char *what, struct err *e)
{
    int64_t n = 0;
    if (sq_run(s, sql, what, &n, e, "ti", id_z, now) < 0)
        return -1;
    if (n != 1)
        return err_set(e, STORE_E_INTERNAL, "%s changed under a write lock", what);
    return 0;
}

/* ---- global sessions ------------------------------------------------------------------ */

int sq_access_session_create(struct store *base, const char *id_z, struct store_access_session *x,
                             struct err *e)
{
    static const char sql[] = "INSERT INTO access_sessions (id, identity, idp, created_at, "
                              "expires_at) VALUES (?1, ?2, ?3, ?4, ?5)";
    int64_t now = util_now();
    if (sq_run(sq(base), sql, "gateway session", NULL, e, "tttii", id_z,
               store_or_z(x->identity, "{}"), x->idp, now, x->expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->revoked_at = 0;
    return 0;
}

static const char sql_session_get[] = "SELECT " SESSION_COLS " FROM access_sessions WHERE id = ?1";

int sq_access_session_get(struct store *base, const char *id_z, struct store_access_session *out,
                          struct err *e)
{
    int rc = get_id(sq(base), sql_session_get, id_z, fill_session, out, "gateway session", e);
    if (rc != 0)
        return rc;
    if (out->revoked_at != 0)
        return STORE_REVOKED;
    return out->expires_at <= util_now() ? STORE_EXPIRED : 0;
}

int sq_access_session_revoke(struct store *base, const char *id_z, struct store_access_session *out,
                             struct err *e)
{
    /* The first logout's time stays: the revocation list is read in revoked_at order, and a
     * second logout must not move an entry that nodes have already passed. */
    static const char sql[] = "UPDATE access_sessions SET revoked_at = ?2 "
                              "WHERE id = ?1 AND revoked_at = 0";
    struct sqlite_store *s = sq(base);
    struct store_access_session tmp = {0};
    bool own;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = sq_run(s, sql, "gateway session", NULL, e, "ti", id_z, util_now());
    if (rc == 0)
        rc = get_id(s, sql_session_get, id_z, fill_session, out ? out : &tmp, "gateway session", e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    store_access_session_free(&tmp);
    return rc;
}

/* Keyset order over the partial index access_sessions_revoked; "revoked_at > 0" lets the
 * planner use it, the row value is its range. */
const char sq_access_revoked_sql[] =
    "SELECT id, revoked_at, expires_at FROM access_sessions "
    "WHERE revoked_at > 0 AND (revoked_at, id) > (?1, ?2) ORDER BY revoked_at, id LIMIT ?3";

int sq_access_session_revoked_since(struct store *base, int64_t since, const char *after_id_z,
                                    struct store_access_revoked_list *out, struct err *e)
{
    struct sqlite_store *s = sq(base);
    store_access_revoked_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sq_access_revoked_sql, e);
    /* "" sorts before every id: (since, "") starts at revoked_at = since. */
    if (!st || sq_bind(s, st, "revoked sessions", e, "iti", since, after_id_z,
                       (int64_t)STORE_LIST_MAX) < 0)
        return -1;
    return sq_get_list(s, st, fill_revoked, sizeof(*out->v), (void **)&out->v, &out->n,
                       "revoked sessions", e);
}

/* ---- login states -------------------------------------------------------------------- */

int sq_access_state_create(struct store *base, const char *id_z, const char *binding_id_z,
                           struct store_access_state *x, struct err *e)
{
    static const char sql[] =
        "INSERT INTO access_states (id, binding, nonce, code_verifier, idp, app_domain, "
        "redirect_url, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    int64_t now = util_now();
    int64_t expires_at = x->expires_at ? x->expires_at : now + STORE_ACCESS_STATE_TTL_S;
    if (sq_run(sq(base), sql, "login state", NULL, e, "tttttttii", id_z, binding_id_z, x->nonce,
               x->code_verifier, x->idp, x->app_domain, x->redirect_url, now, expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->expires_at = expires_at;
    x->used_at = 0;
    return 0;
}

/* Inside the atomic section of state_take. */
static int state_take(struct sqlite_store *s, const char *id_z, const char *binding_id_z,
                      struct state_row *r, struct err *e)
{
    static const char get[] = "SELECT " STATE_COLS " FROM access_states WHERE id = ?1";
    static const char use[] = "UPDATE access_states SET used_at = ?2 WHERE id = ?1 AND used_at = 0";
    int64_t now = util_now();
    int rc = get_id(s, get, id_z, fill_state, r, "login state", e);
    if (rc != 0)
        return rc;
    /* Another browser's callback (no or another state cookie): not this attempt. Digests of
     * equal length; compared in constant time all the same. */
    if (!util_ct_equal(r->binding, strlen(r->binding), binding_id_z, strlen(binding_id_z)))
        return STORE_NOT_FOUND;
    if (r->x.used_at != 0)
        return STORE_REUSED;
    if (mark_used(s, use, id_z, now, "login state", e) < 0)
        return -1;
    r->x.used_at = now;
    return r->x.expires_at <= now ? STORE_EXPIRED : 0;
}

int sq_access_state_take(struct store *base, const char *id_z, const char *binding_id_z,
                         struct store_access_state *out, struct err *e)
{
    struct sqlite_store *s = sq(base);
    struct state_row r = {.x = *out}; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (sq_enter(s, &own, e) < 0) {
        store_access_state_free(&r.x);
        return -1;
    }
    int rc = state_take(s, id_z, binding_id_z, &r, e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_access_state_free(&r.x);
    else
        *out = r.x;
    util_wipe(r.binding, sizeof(r.binding));
    return rc;
}

/* ---- one-time tokens ------------------------------------------------------------------- */

int sq_access_ticket_create(struct store *base, const char *id_z, struct store_access_ticket *x,
                            struct err *e)
{
    static const char refs[] = "SELECT (SELECT count(*) FROM access_sessions WHERE id = ?1), "
                               "(SELECT count(*) FROM access_apps WHERE aud = ?2)";
    static const char ins[] =
        "INSERT INTO access_tickets (id, session_id, aud, redirect_path, created_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    struct sqlite_store *s = sq(base);
    int64_t now = util_now();
    int64_t expires_at = x->expires_at ? x->expires_at : now + STORE_ACCESS_TICKET_TTL_S;
    /* Name the missing reference; the foreign keys stay the last word (a row deleted between
     * the two statements gets their plainer message). */
    sqlite3_stmt *st = sq_stmt(s, refs, e);
    if (!st || sq_bind(s, st, "one-time token", e, "tt", x->session_id, x->aud) < 0)
        return -1;
    int rc = sqlite3_step(st);
    int64_t has_session = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int64_t has_app = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sq_done(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "one-time token", e);
    if (!has_session)
        return err_set(e, STORE_E_CONSTRAINT, "session_id: no such gateway session");
    if (!has_app)
        return err_set(e, STORE_E_CONSTRAINT, "aud: no application has this aud");
    if (sq_run(s, ins, "one-time token", NULL, e, "ttttii", id_z, x->session_id, x->aud,
               store_or_z(x->redirect_path, "/"), now, expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->expires_at = expires_at;
    x->used_at = 0;
    return 0;
}

/* Inside the atomic section of ticket_take. */
static int ticket_take(struct sqlite_store *s, const char *id_z, const char *aud_z,
                       struct store_access_ticket *x, struct err *e)
{
    static const char get[] = "SELECT " TICKET_COLS " FROM access_tickets WHERE id = ?1";
    static const char use[] =
        "UPDATE access_tickets SET used_at = ?2 WHERE id = ?1 AND used_at = 0";
    int64_t now = util_now();
    int rc = get_id(s, get, id_z, fill_ticket, x, "one-time token", e);
    if (rc != 0)
        return rc;
    if (strcmp(x->aud, aud_z) != 0)
        return STORE_NOT_FOUND; /* another application's: leave it alone */
    if (x->used_at != 0)
        return STORE_REUSED;
    if (mark_used(s, use, id_z, now, "one-time token", e) < 0)
        return -1;
    x->used_at = now;
    return x->expires_at <= now ? STORE_EXPIRED : 0;
}

int sq_access_ticket_take(struct store *base, const char *id_z, const char *aud_z,
                          struct store_access_ticket *out, struct err *e)
{
    struct sqlite_store *s = sq(base);
    struct store_access_ticket x = *out; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (sq_enter(s, &own, e) < 0) {
        store_access_ticket_free(&x);
        return -1;
    }
    int rc = ticket_take(s, id_z, aud_z, &x, e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_access_ticket_free(&x);
    else
        *out = x;
    return rc;
}

/* ---- housekeeping ------------------------------------------------------------------- */

int sq_access_purge(struct sqlite_store *s, int64_t now, struct store_purged *p, struct err *e)
{
    /* Tickets first, so that those of expired sessions are counted, not only cascaded. */
    static const char tickets[] = "DELETE FROM access_tickets WHERE expires_at <= ?1";
    static const char states[] = "DELETE FROM access_states WHERE expires_at <= ?1";
    static const char sessions[] = "DELETE FROM access_sessions WHERE expires_at <= ?1";
    if (sq_run(s, tickets, "purge", &p->access_tickets, e, "i", now) < 0 ||
        sq_run(s, states, "purge", &p->access_states, e, "i", now) < 0 ||
        sq_run(s, sessions, "purge", &p->access_sessions, e, "i", now) < 0)
        return -1;
    return 0;
}
