/*
 * PostgreSQL backend, access gateway grants: global sessions with their revocation list, login
 * states and the one-time tokens of /cdn-cgi/access/authorized. Every id here is the SHA-256
 * (hex) of a raw value that the front hashed; the raw values never reach this file. The twin
 * of sqlite_access_grants.c, with the same semantics; where PostgreSQL needs something else,
 * the comment says why.
 */
#include "store/pg_int.h"

#include <stdio.h>
#include <string.h>

#define SESSION_COLS "id, identity, idp, created_at, expires_at, revoked_at"
#define STATE_COLS                                                                                 \
    "id, nonce, code_verifier, idp, app_domain, redirect_url, created_at, expires_at, used_at, "   \
    "binding"
#define TICKET_COLS "id, session_id, aud, redirect_path, created_at, expires_at, used_at"

static void fill_session(const PGresult *r, int row, void *rec)
{
    struct store_access_session *x = rec;
    store_access_session_free(x);
    pg_col_id(r, row, 0, x->id);
    x->identity = pg_col_str(r, row, 1);
    x->idp = pg_col_str(r, row, 2);
    x->created_at = pg_col_int(r, row, 3);
    x->expires_at = pg_col_int(r, row, 4);
    x->revoked_at = pg_col_int(r, row, 5);
}

static void fill_revoked(const PGresult *r, int row, void *rec)
{
    struct store_access_revoked *v = rec;
    pg_col_id(r, row, 0, v->id);
    v->revoked_at = pg_col_int(r, row, 1);
    v->expires_at = pg_col_int(r, row, 2);
}

/* A state row with the digest of its binding, which the record does not show. */
struct state_row {
    struct store_access_state x;
    char binding[STORE_ID_SIZE];
};

static void fill_state(const PGresult *r, int row, void *rec)
{
    struct state_row *sr = rec;
    struct store_access_state *x = &sr->x;
    store_access_state_free(x);
    pg_col_id(r, row, 0, x->id);
    x->nonce = pg_col_str(r, row, 1);
    x->code_verifier = pg_col_str(r, row, 2);
    x->idp = pg_col_str(r, row, 3);
    x->app_domain = pg_col_str(r, row, 4);
    x->redirect_url = pg_col_str(r, row, 5);
    x->created_at = pg_col_int(r, row, 6);
    x->expires_at = pg_col_int(r, row, 7);
    x->used_at = pg_col_int(r, row, 8);
    pg_col_id(r, row, 9, sr->binding);
}

static void fill_ticket(const PGresult *r, int row, void *rec)
{
    struct store_access_ticket *x = rec;
    store_access_ticket_free(x);
    pg_col_id(r, row, 0, x->id);
    pg_col_id(r, row, 1, x->session_id);
    pg_col_id(r, row, 2, x->aud);
    x->redirect_path = pg_col_str(r, row, 3);
    x->created_at = pg_col_int(r, row, 4);
    x->expires_at = pg_col_int(r, row, 5);
    x->used_at = pg_col_int(r, row, 6);
}

/* A one-row lookup by id. */
static int get_id(struct pg_store *s, const char *sql, const char *id_z, pg_fill_fn fill, void *out,
                  const char *what, struct err *e)
{
    return pg_get_one(s, sql, fill, out, what, e, "t", id_z);
}

/* Marks a single-use row used, inside the atomic section of a take, after its row was read
 * FOR UPDATE; sql is "UPDATE ... SET used_at = $2 WHERE id = $1 AND used_at = 0". */
static int mark_used(struct pg_store *s, const char *sql, const char *id_z, int64_t now,
                     const char *what, struct err *e)
{
    int64_t n = 0;
    if (pg_run(s, sql, what, &n, e, "ti", id_z, now) < 0)
        return -1;
    if (n != 1)
        return err_set(e, STORE_E_INTERNAL, "%s changed under a row lock", what);
    return 0;
}

/* ---- global sessions ------------------------------------------------------------------ */

int pg_access_session_create(struct store *base, const char *id_z, struct store_access_session *x,
                             struct err *e)
{
    static const char sql[] = "INSERT INTO access_sessions (id, identity, idp, created_at, "
                              "expires_at) VALUES ($1, $2, $3, $4, $5)";
    int64_t now = util_now();
    if (pg_run(pg(base), sql, "gateway session", NULL, e, "tttii", id_z,
               store_or_z(x->identity, "{}"), x->idp, now, x->expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->revoked_at = 0;
    return 0;
}

static const char sql_session_get[] = "SELECT " SESSION_COLS " FROM access_sessions WHERE id = $1";

int pg_access_session_get(struct store *base, const char *id_z, struct store_access_session *out,
                          struct err *e)
{
    int rc = get_id(pg(base), sql_session_get, id_z, fill_session, out, "gateway session", e);
    if (rc != 0)
        return rc;
    if (out->revoked_at != 0)
        return STORE_REVOKED;
    return out->expires_at <= util_now() ? STORE_EXPIRED : 0;
}

int pg_access_session_revoke(struct store *base, const char *id_z, struct store_access_session *out,
                             struct err *e)
{
    /* The first logout's time stays: the revocation list is read in revoked_at order, and a
     * second logout must not move an entry that nodes have already passed. Two logouts at
     * once: the second UPDATE waits for the first's row lock, then finds revoked_at set and
     * changes nothing; the SELECT, a later statement, sees the first's commit. */
    static const char sql[] = "UPDATE access_sessions SET revoked_at = $2 "
                              "WHERE id = $1 AND revoked_at = 0";
    struct pg_store *s = pg(base);
    struct store_access_session tmp = {0};
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = pg_run(s, sql, "gateway session", NULL, e, "ti", id_z, util_now());
    if (rc == 0)
        rc = get_id(s, sql_session_get, id_z, fill_session, out ? out : &tmp, "gateway session", e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    store_access_session_free(&tmp);
    return rc;
}

int pg_access_session_revoked_since(struct store *base, int64_t since, const char *after_id_z,
                                    struct store_access_revoked_list *out, struct err *e)
{
    /* Keyset order over the partial index access_sessions_revoked; "revoked_at > 0" lets the
     * planner use it, the row value is its range. id keeps the database's collation, that of
     * the index (ids are lower-case hex digits, which every collation orders as bytes). */
    static const char sql[] =
        "SELECT id, revoked_at, expires_at FROM access_sessions "
        "WHERE revoked_at > 0 AND (revoked_at, id) > ($1, $2) ORDER BY revoked_at, id LIMIT $3";
    store_access_revoked_list_free(out);
    /* "" sorts before every id: (since, "") starts at revoked_at = since. */
    return pg_get_list(pg(base), sql, fill_revoked, sizeof(*out->v), (void **)&out->v, &out->n,
                       "revoked sessions", e, "iti", since, after_id_z, (int64_t)STORE_LIST_MAX);
}

/* ---- login states -------------------------------------------------------------------- */

int pg_access_state_create(struct store *base, const char *id_z, const char *binding_id_z,
                           struct store_access_state *x, struct err *e)
{
    static const char sql[] =
        "INSERT INTO access_states (id, binding, nonce, code_verifier, idp, app_domain, "
        "redirect_url, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    int64_t now = util_now();
    int64_t expires_at = x->expires_at ? x->expires_at : now + STORE_ACCESS_STATE_TTL_S;
    if (pg_run(pg(base), sql, "login state", NULL, e, "tttttttii", id_z, binding_id_z, x->nonce,
               x->code_verifier, x->idp, x->app_domain, x->redirect_url, now, expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->expires_at = expires_at;
    x->used_at = 0;
    return 0;
}

/* Inside the atomic section of state_take. */
static int state_take(struct pg_store *s, const char *id_z, const char *binding_id_z,
                      struct state_row *r, struct err *e)
{
    /* FOR UPDATE: where SQLite's BEGIN IMMEDIATE made a second taker wait, the row lock does;
     * it then reads the row as the winner committed it (used), so exactly one gets 0. */
    static const char get[] = "SELECT " STATE_COLS " FROM access_states WHERE id = $1 FOR UPDATE";
    static const char use[] = "UPDATE access_states SET used_at = $2 WHERE id = $1 AND used_at = 0";
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

int pg_access_state_take(struct store *base, const char *id_z, const char *binding_id_z,
                         struct store_access_state *out, struct err *e)
{
    struct pg_store *s = pg(base);
    struct state_row r = {.x = *out}; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (pg_enter(s, &own, e) < 0) {
        store_access_state_free(&r.x);
        return -1;
    }
    int rc = state_take(s, id_z, binding_id_z, &r, e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_access_state_free(&r.x);
    else
        *out = r.x;
    util_wipe(r.binding, sizeof(r.binding));
    return rc;
}

/* ---- one-time tokens ------------------------------------------------------------------- */

int pg_access_ticket_create(struct store *base, const char *id_z, struct store_access_ticket *x,
                            struct err *e)
{
    static const char refs[] = "SELECT (SELECT count(*) FROM access_sessions WHERE id = $1), "
                               "(SELECT count(*) FROM access_apps WHERE aud = $2)";
    static const char ins[] =
        "INSERT INTO access_tickets (id, session_id, aud, redirect_path, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)";
    struct pg_store *s = pg(base);
    int64_t now = util_now();
    int64_t expires_at = x->expires_at ? x->expires_at : now + STORE_ACCESS_TICKET_TTL_S;
    /* Name the missing reference; the foreign keys stay the last word (a row deleted between
     * the two statements gets their plainer message). */
    PGresult *r = pg_query(s, refs, "one-time token", e, "tt", x->session_id, x->aud);
    if (!r)
        return -1;
    bool row = PQntuples(r) > 0 && PQnfields(r) == 2;
    int64_t has_session = row ? pg_col_int(r, 0, 0) : 0;
    int64_t has_app = row ? pg_col_int(r, 0, 1) : 0;
    PQclear(r);
    if (!has_session)
        return err_set(e, STORE_E_CONSTRAINT, "session_id: no such gateway session");
    if (!has_app)
        return err_set(e, STORE_E_CONSTRAINT, "aud: no application has this aud");
    if (pg_run(s, ins, "one-time token", NULL, e, "ttttii", id_z, x->session_id, x->aud,
               store_or_z(x->redirect_path, "/"), now, expires_at) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = now;
    x->expires_at = expires_at;
    x->used_at = 0;
    return 0;
}

/* Inside the atomic section of ticket_take. */
static int ticket_take(struct pg_store *s, const char *id_z, const char *aud_z,
                       struct store_access_ticket *x, struct err *e)
{
    /* FOR UPDATE, as in state_take: of two takers, the second reads the ticket used. */
    static const char get[] = "SELECT " TICKET_COLS " FROM access_tickets WHERE id = $1 FOR UPDATE";
    static const char use[] =
        "UPDATE access_tickets SET used_at = $2 WHERE id = $1 AND used_at = 0";
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

int pg_access_ticket_take(struct store *base, const char *id_z, const char *aud_z,
                          struct store_access_ticket *out, struct err *e)
{
    struct pg_store *s = pg(base);
    struct store_access_ticket x = *out; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (pg_enter(s, &own, e) < 0) {
        store_access_ticket_free(&x);
        return -1;
    }
    int rc = ticket_take(s, id_z, aud_z, &x, e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_access_ticket_free(&x);
    else
        *out = x;
    return rc;
}

/* ---- housekeeping ------------------------------------------------------------------- */

int pg_access_purge(struct pg_store *s, int64_t now, struct store_purged *p, struct err *e)
{
    /* Tickets first, so that those of expired sessions are counted, not only cascaded. */
    static const char tickets[] = "DELETE FROM access_tickets WHERE expires_at <= $1";
    static const char states[] = "DELETE FROM access_states WHERE expires_at <= $1";
    static const char sessions[] = "DELETE FROM access_sessions WHERE expires_at <= $1";
    if (pg_run(s, tickets, "purge", &p->access_tickets, e, "i", now) < 0 ||
        pg_run(s, states, "purge", &p->access_states, e, "i", now) < 0 ||
        pg_run(s, sessions, "purge", &p->access_sessions, e, "i", now) < 0)
        return -1;
    return 0;
}
