/*
 * PostgreSQL backend: login throttling, events and housekeeping (the twin of sqlite_audit.c).
 */
#include "store/pg_int.h"

#define EVENT_COLS "id, created_at, action, username, client_ip, app, context"

/* Every node runs the housekeeping timer: one purge at a time (pg_lock). */
#define PG_PURGE_LOCK "postern.purge"

static void fill_attempts(const PGresult *r, int row, void *rec)
{
    struct store_attempts *a = rec;
    a->failures = pg_col_int(r, row, 0);
    a->window_start = pg_col_int(r, row, 1);
    a->locked_until = pg_col_int(r, row, 2);
}

static void fill_event(const PGresult *r, int row, void *rec)
{
    struct store_event *ev = rec;
    store_event_free(ev);
    ev->id = pg_col_int(r, row, 0);
    ev->created_at = pg_col_int(r, row, 1);
    ev->action = pg_col_str(r, row, 2);
    ev->username = pg_col_str(r, row, 3);
    ev->client_ip = pg_col_str(r, row, 4);
    ev->app = pg_col_str(r, row, 5);
    ev->context = pg_col_str(r, row, 6);
}

/* ---- throttling --------------------------------------------------------------------- */

int pg_attempt_fail(struct store *base, const char *key_z, const struct store_throttle *pol,
                    struct store_attempts *out, struct err *e)
{
    /* One statement, so two failures at once both count, on any node: ON CONFLICT DO UPDATE
     * locks the row and computes from its latest version. In DO UPDATE a.* is the row before
     * this failure. $2 now, $3 max_failures (<= 0: never lock), $4 window_s, $5 lock_s; cast,
     * as in "$3 > 0" PostgreSQL would take them for int4. */
    static const char sql[] =
        "INSERT INTO login_attempts AS a (key, failures, window_start, locked_until) "
        "VALUES ($1, 1, $2::bigint, CASE WHEN $3::bigint > 0 AND 1 >= $3::bigint "
        "  THEN $2::bigint + $5::bigint ELSE 0 END) "
        "ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN a.window_start <= $2::bigint - $4::bigint THEN 1 "
        "  ELSE a.failures + 1 END, "
        "window_start = CASE WHEN a.window_start <= $2::bigint - $4::bigint THEN $2::bigint "
        "  ELSE a.window_start END, "
        "locked_until = CASE WHEN $3::bigint > 0 AND "
        "  (CASE WHEN a.window_start <= $2::bigint - $4::bigint THEN 1 ELSE a.failures + 1 END) "
        "  >= $3::bigint "
        "  THEN greatest(a.locked_until, $2::bigint + $5::bigint) ELSE a.locked_until END "
        "RETURNING failures, window_start, locked_until";
    struct store_attempts tmp;
    int rc = pg_get_one(pg(base), sql, fill_attempts, out ? out : &tmp, "login attempts", e,
                        "tiiii", key_z, util_now(), pol->max_failures, pol->window_s, pol->lock_s);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "login attempts: no row returned");
    return rc;
}

int pg_attempt_get(struct store *base, const char *key_z, struct store_attempts *out, struct err *e)
{
    static const char sql[] =
        "SELECT failures, window_start, locked_until FROM login_attempts WHERE key = $1";
    return pg_get_one(pg(base), sql, fill_attempts, out, "login attempts", e, "t", key_z);
}

int pg_attempt_reset(struct store *base, const char *key_z, struct err *e)
{
    static const char sql[] = "DELETE FROM login_attempts WHERE key = $1";
    return pg_run(pg(base), sql, "login attempts", NULL, e, "t", key_z);
}

/* ---- events ---------------------------------------------------------------------- */

int pg_event_add(struct store *base, struct store_event *ev, struct err *e)
{
    static const char sql[] =
        "INSERT INTO events (created_at, action, username, client_ip, app, context) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    int64_t at = ev->created_at ? ev->created_at : util_now();
    const char *context = ev->context && ev->context[0] ? ev->context : "{}";
    int64_t id = 0;
    int rc = pg_get_int(pg(base), sql, &id, "event", e, "ittttt", at, ev->action, ev->username,
                        ev->client_ip, ev->app, context);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "event: no id returned");
    if (rc < 0)
        return -1;
    ev->id = id;
    ev->created_at = at;
    return 0;
}

int pg_event_list(struct store *base, const char *action_z, const char *username_z,
                  const struct store_page *page, struct store_event_list *out, struct err *e)
{
    /* One statement per filter, so that each uses its index (an "$1 IS NULL OR" would not).
     * Unlike SQLite's ?4, a statement cannot skip a parameter number (PostgreSQL could not
     * type it): by_user's username is $3. */
    static const char all[] =
        "SELECT " EVENT_COLS " FROM events ORDER BY id DESC LIMIT $1 OFFSET $2";
    static const char by_action[] =
        "SELECT " EVENT_COLS " FROM events WHERE action = $3 ORDER BY id DESC "
        "LIMIT $1 OFFSET $2";
    static const char by_user[] =
        "SELECT " EVENT_COLS " FROM events WHERE username = $3 ORDER BY id DESC "
        "LIMIT $1 OFFSET $2";
    static const char by_both[] =
        "SELECT " EVENT_COLS " FROM events WHERE action = $3 AND username = $4 "
        "ORDER BY id DESC LIMIT $1 OFFSET $2";
    struct pg_store *s = pg(base);
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_event_list_free(out);
    void **v = (void **)&out->v;
    size_t size = sizeof(*out->v);
    if (action_z && username_z)
        return pg_get_list(s, by_both, fill_event, size, v, &out->n, "events", e, "iitt", limit,
                           offset, action_z, username_z);
    if (action_z)
        return pg_get_list(s, by_action, fill_event, size, v, &out->n, "events", e, "iit", limit,
                           offset, action_z);
    if (username_z)
        return pg_get_list(s, by_user, fill_event, size, v, &out->n, "events", e, "iit", limit,
                           offset, username_z);
    return pg_get_list(s, all, fill_event, size, v, &out->n, "events", e, "ii", limit, offset);
}

int pg_event_purge(struct store *base, int64_t before, int64_t *deleted, struct err *e)
{
    static const char sql[] = "DELETE FROM events WHERE created_at < $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "events", &n, e, "i", before) < 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}

/* ---- housekeeping ------------------------------------------------------------------- */

/* Purging runs next to requests that hold grants (pg_grants.c: a code's row, then token rows,
 * then the foreign key check of a session's row). It must not wait for them in the other
 * order: the rows that deleting the expired sessions will update (ON DELETE SET NULL) are
 * locked first, codes then tokens; tokens and codes in use (locked) are skipped, purged by a
 * later run. A code is skipped too while a token of its grant is being inserted (it holds the
 * code's row), so the check that no token refers to it cannot miss that token. */
static int purge(struct pg_store *s, int64_t now, struct store_purged *p, struct err *e)
{
    static const char lock_codes[] =
        "SELECT 1 FROM oauth2_codes WHERE session_id IN "
        "(SELECT id FROM idp_sessions WHERE expires_at <= $1) ORDER BY id FOR NO KEY UPDATE";
    static const char lock_tokens[] =
        "SELECT 1 FROM oauth2_tokens WHERE session_id IN "
        "(SELECT id FROM idp_sessions WHERE expires_at <= $1) ORDER BY id FOR NO KEY UPDATE";
    static const char sessions[] = "DELETE FROM idp_sessions WHERE expires_at <= $1";
    static const char tokens[] =
        "DELETE FROM oauth2_tokens WHERE id IN "
        "(SELECT id FROM oauth2_tokens WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)";
    /* After the tokens: a code whose grant still has a live token stays, so that its replay
     * still revokes the grant. */
    static const char codes[] =
        "DELETE FROM oauth2_codes WHERE id IN (SELECT c.id FROM oauth2_codes c "
        "WHERE c.expires_at <= $1::bigint - $2::bigint AND NOT EXISTS "
        "(SELECT 1 FROM oauth2_tokens t WHERE t.code_id = c.id) FOR UPDATE OF c SKIP LOCKED)";
    static const char consents[] = "DELETE FROM consents WHERE expires_at > 0 AND expires_at <= $1";
    static const char attempts[] =
        "DELETE FROM login_attempts WHERE window_start <= $1::bigint - $2::bigint "
        "AND locked_until <= $1::bigint";
    /* Two nodes purging at once would only wait on each other's rows: one at a time. */
    if (pg_lock(s, PG_PURGE_LOCK, e) < 0 || pg_run(s, lock_codes, "purge", NULL, e, "i", now) < 0 ||
        pg_run(s, lock_tokens, "purge", NULL, e, "i", now) < 0 ||
        pg_run(s, sessions, "purge", &p->sessions, e, "i", now) < 0 ||
        pg_run(s, tokens, "purge", &p->tokens, e, "i", now) < 0 ||
        pg_run(s, codes, "purge", &p->codes, e, "ii", now, (int64_t)STORE_CODE_RETAIN_S) < 0 ||
        pg_run(s, consents, "purge", &p->consents, e, "i", now) < 0 ||
        pg_run(s, attempts, "purge", &p->attempts, e, "ii", now, (int64_t)STORE_ATTEMPT_RETAIN_S) <
            0)
        return -1;
    return pg_access_purge(s, now, p, e);
}

int pg_purge(struct store *base, struct store_purged *out, struct err *e)
{
    struct pg_store *s = pg(base);
    struct store_purged p = {0};
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = purge(s, util_now(), &p, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (out)
        *out = p;
    return 0;
}
