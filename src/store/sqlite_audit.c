/*
 * SQLite backend: login throttling, events and housekeeping.
 */
#include "store/sqlite_int.h"

#define EVENT_COLS "id, created_at, action, username, client_ip, app, context"

static void fill_attempts(sqlite3_stmt *st, void *rec)
{
    struct store_attempts *a = rec;
    a->failures = sq_col_int(st, 0);
    a->window_start = sq_col_int(st, 1);
    a->locked_until = sq_col_int(st, 2);
}

static void fill_event(sqlite3_stmt *st, void *rec)
{
    struct store_event *ev = rec;
    store_event_free(ev);
    ev->id = sq_col_int(st, 0);
    ev->created_at = sq_col_int(st, 1);
    ev->action = sq_col_str(st, 2);
    ev->username = sq_col_str(st, 3);
    ev->client_ip = sq_col_str(st, 4);
    ev->app = sq_col_str(st, 5);
    ev->context = sq_col_str(st, 6);
}

/* ---- throttling --------------------------------------------------------------------- */

int sq_attempt_fail(struct store *base, const char *key_z, const struct store_throttle *pol,
                    struct store_attempts *out, struct err *e)
{
    /* One statement, so two failures at once both count. In DO UPDATE the bare column names
     * are the row's values before this failure. ?2 now, ?3 max_failures (<= 0: never lock),
     * ?4 window_s, ?5 lock_s. */
    static const char sql[] =
        "INSERT INTO login_attempts (key, failures, window_start, locked_until) "
        "VALUES (?1, 1, ?2, CASE WHEN ?3 > 0 AND 1 >= ?3 THEN ?2 + ?5 ELSE 0 END) "
        "ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN window_start <= ?2 - ?4 THEN 1 ELSE failures + 1 END, "
        "window_start = CASE WHEN window_start <= ?2 - ?4 THEN ?2 ELSE window_start END, "
        "locked_until = CASE WHEN ?3 > 0 AND "
        "  (CASE WHEN window_start <= ?2 - ?4 THEN 1 ELSE failures + 1 END) >= ?3 "
        "  THEN max(locked_until, ?2 + ?5) ELSE locked_until END "
        "RETURNING failures, window_start, locked_until";
    struct sqlite_store *s = sq(base);
    struct store_attempts tmp;
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "login attempts", e, "tiiii", key_z, util_now(), pol->max_failures,
                       pol->window_s, pol->lock_s) < 0)
        return -1;
    int rc = sq_get_one(s, st, fill_attempts, out ? out : &tmp, "login attempts", e);
    if (rc == STORE_NOT_FOUND)
        return err_set(e, STORE_E_INTERNAL, "login attempts: no row returned");
    return rc;
}

int sq_attempt_get(struct store *base, const char *key_z, struct store_attempts *out, struct err *e)
{
    static const char sql[] =
        "SELECT failures, window_start, locked_until FROM login_attempts WHERE key = ?1";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "login attempts", e, "t", key_z) < 0)
        return -1;
    return sq_get_one(s, st, fill_attempts, out, "login attempts", e);
}

int sq_attempt_reset(struct store *base, const char *key_z, struct err *e)
{
    static const char sql[] = "DELETE FROM login_attempts WHERE key = ?1";
    return sq_run(sq(base), sql, "login attempts", NULL, e, "t", key_z);
}

/* ---- events ---------------------------------------------------------------------- */

int sq_event_add(struct store *base, struct store_event *ev, struct err *e)
{
    static const char sql[] =
        "INSERT INTO events (created_at, action, username, client_ip, app, context) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    struct sqlite_store *s = sq(base);
    int64_t at = ev->created_at ? ev->created_at : util_now();
    const char *context = ev->context && ev->context[0] ? ev->context : "{}";
    if (sq_run(s, sql, "event", NULL, e, "ittttt", at, ev->action, ev->username, ev->client_ip,
               ev->app, context) < 0)
        return -1;
    ev->id = sqlite3_last_insert_rowid(s->db);
    ev->created_at = at;
    return 0;
}

int sq_event_list(struct store *base, const char *action_z, const char *username_z,
                  const struct store_page *pg, struct store_event_list *out, struct err *e)
{
    /* One statement per filter, so that each uses its index (an "?1 IS NULL OR" would not). */
    static const char all[] =
        "SELECT " EVENT_COLS " FROM events ORDER BY id DESC LIMIT ?1 OFFSET ?2";
    static const char by_action[] =
        "SELECT " EVENT_COLS " FROM events WHERE action = ?3 ORDER BY id DESC "
        "LIMIT ?1 OFFSET ?2";
    static const char by_user[] =
        "SELECT " EVENT_COLS " FROM events WHERE username = ?4 ORDER BY id DESC "
        "LIMIT ?1 OFFSET ?2";
    static const char by_both[] =
        "SELECT " EVENT_COLS " FROM events WHERE action = ?3 AND username = ?4 "
        "ORDER BY id DESC LIMIT ?1 OFFSET ?2";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_event_list_free(out);
    const char *sql = action_z ? (username_z ? by_both : by_action) : (username_z ? by_user : all);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    int rc;
    if (action_z && username_z)
        rc = sq_bind(s, st, "events", e, "iitt", limit, offset, action_z, username_z);
    else if (action_z)
        rc = sq_bind(s, st, "events", e, "iit", limit, offset, action_z);
    else if (username_z)
        rc = sq_bind(s, st, "events", e, "iiit", limit, offset, (int64_t)0, username_z);
    else
        rc = sq_bind(s, st, "events", e, "ii", limit, offset);
    if (rc < 0)
        return -1;
    return sq_get_list(s, st, fill_event, sizeof(*out->v), (void **)&out->v, &out->n, "events", e);
}

int sq_event_purge(struct store *base, int64_t before, int64_t *deleted, struct err *e)
{
    static const char sql[] = "DELETE FROM events WHERE created_at < ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "events", &n, e, "i", before) < 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}

/* ---- housekeeping ------------------------------------------------------------------- */

static int purge(struct sqlite_store *s, int64_t now, struct store_purged *p, struct err *e)
{
    static const char sessions[] = "DELETE FROM idp_sessions WHERE expires_at <= ?1";
    static const char tokens[] = "DELETE FROM oauth2_tokens WHERE expires_at <= ?1";
    /* After the tokens: a code whose grant still has a live token stays, so that its replay
     * still revokes the grant. */
    static const char codes[] =
        "DELETE FROM oauth2_codes WHERE expires_at <= ?1 - ?2 AND NOT EXISTS "
        "(SELECT 1 FROM oauth2_tokens t WHERE t.code_id = oauth2_codes.id)";
    static const char consents[] = "DELETE FROM consents WHERE expires_at > 0 AND expires_at <= ?1";
    static const char attempts[] =
        "DELETE FROM login_attempts WHERE window_start <= ?1 - ?2 AND locked_until <= ?1";
    if (sq_run(s, sessions, "purge", &p->sessions, e, "i", now) < 0 ||
        sq_run(s, tokens, "purge", &p->tokens, e, "i", now) < 0 ||
        sq_run(s, codes, "purge", &p->codes, e, "ii", now, (int64_t)STORE_CODE_RETAIN_S) < 0 ||
        sq_run(s, consents, "purge", &p->consents, e, "i", now) < 0 ||
        sq_run(s, attempts, "purge", &p->attempts, e, "ii", now, (int64_t)STORE_ATTEMPT_RETAIN_S) <
            0)
        return -1;
    return sq_access_purge(s, now, p, e);
}

int sq_purge(struct store *base, struct store_purged *out, struct err *e)
{
    struct sqlite_store *s = sq(base);
    struct store_purged p = {0};
    bool own;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = purge(s, util_now(), &p, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (out)
        *out = p;
    return 0;
}
