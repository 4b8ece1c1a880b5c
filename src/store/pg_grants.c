/*
 * PostgreSQL backend: IdP sessions, authorization codes and tokens (the twin of
 * sqlite_grants.c). Every id here is the SHA-256 (hex) of a raw value that the front hashed;
 * the raw values never reach this file.
 *
 * SQLite's BEGIN IMMEDIATE ran one writer at a time; here several nodes write at once (READ
 * COMMITTED), so the sections that read then write lock what they read. Everything that
 * writes to a grant's tokens as a whole (a code's replay, a refresh's replay, revoking a
 * grant) first locks the grant (lock_grant): its code's row (FOR NO KEY UPDATE, the lock an
 * UPDATE takes), or an advisory lock named after it when the row is gone. Locks are always
 * taken in the order grant, then token rows, so that two such sections never wait for each
 * other in a circle. A token being inserted for a code holds that code's row FOR SHARE while
 * it checks that the grant is open (token_add). Deleting sessions locks, in that order too,
 * the codes and tokens the deletion will update before the sessions' rows (LOCK_CODES_OF).
 * A family without a code has nothing to lock as a whole: its revocation runs until it finds
 * no token left (revoke_tree).
 */
#include "store/pg_int.h"

#include <stdio.h>
#include <string.h>

#define SESSION_COLS                                                                               \
    "id, user_id, created_at, expires_at, last_seen, auth_time, amr, client_ip, user_agent"
#define CODE_COLS                                                                                  \
    "id, provider_id, user_id, coalesce(session_id, ''), redirect_uri, scope, nonce, "             \
    "code_challenge, code_challenge_method, auth_time, created_at, expires_at, used_at, "          \
    "revoked_at"
#define TOKEN_COLS                                                                                 \
    "id, kind, provider_id, coalesce(user_id, 0), scope, coalesce(code_id, ''), "                  \
    "coalesce(parent_id, ''), coalesce(session_id, ''), created_at, expires_at, revoked_at, "      \
    "rotated_at"

/* The name of a grant's advisory lock: a prefix and a digest. */
#define GRANT_LOCK_NAME_SIZE 96
/* Passes of revoke_tree: each finds the tokens of rotations that committed while the one
 * before waited for their rows; two are the rule, more a rotation racing each pass. */
#define TREE_PASSES_MAX 16

static void fill_session(const PGresult *r, int row, void *rec)
{
    struct store_session *x = rec;
    store_session_free(x);
    pg_col_id(r, row, 0, x->id);
    x->user_id = pg_col_int(r, row, 1);
    x->created_at = pg_col_int(r, row, 2);
    x->expires_at = pg_col_int(r, row, 3);
    x->last_seen = pg_col_int(r, row, 4);
    x->auth_time = pg_col_int(r, row, 5);
    x->amr = pg_col_str(r, row, 6);
    x->client_ip = pg_col_str(r, row, 7);
    x->user_agent = pg_col_str(r, row, 8);
}

/* A code row with its revoked_at, which the record does not show. */
struct code_row {
    struct store_code c;
    int64_t revoked_at;
};

static void fill_code(const PGresult *r, int row, void *rec)
{
    struct code_row *cr = rec;
    struct store_code *c = &cr->c;
    store_code_free(c);
    pg_col_id(r, row, 0, c->id);
    c->provider_id = pg_col_int(r, row, 1);
    c->user_id = pg_col_int(r, row, 2);
    pg_col_id(r, row, 3, c->session_id);
    c->redirect_uri = pg_col_str(r, row, 4);
    c->scope = pg_col_str(r, row, 5);
    c->nonce = pg_col_str(r, row, 6);
    c->code_challenge = pg_col_str(r, row, 7);
    c->code_challenge_method = pg_col_str(r, row, 8);
    c->auth_time = pg_col_int(r, row, 9);
    c->created_at = pg_col_int(r, row, 10);
    c->expires_at = pg_col_int(r, row, 11);
    c->used_at = pg_col_int(r, row, 12);
    cr->revoked_at = pg_col_int(r, row, 13);
}

static void fill_token(const PGresult *r, int row, void *rec)
{
    struct store_token *t = rec;
    store_token_free(t);
    pg_col_id(r, row, 0, t->id);
    bool refresh = !pg_col_null(r, row, 1) && strcmp(PQgetvalue(r, row, 1), "refresh") == 0;
    t->kind = refresh ? STORE_TOKEN_REFRESH : STORE_TOKEN_ACCESS;
    t->provider_id = pg_col_int(r, row, 2);
    t->user_id = pg_col_int(r, row, 3);
    t->scope = pg_col_str(r, row, 4);
    pg_col_id(r, row, 5, t->code_id);
    pg_col_id(r, row, 6, t->parent_id);
    pg_col_id(r, row, 7, t->session_id);
    t->created_at = pg_col_int(r, row, 8);
    t->expires_at = pg_col_int(r, row, 9);
    t->revoked_at = pg_col_int(r, row, 10);
    t->rotated_at = pg_col_int(r, row, 11);
}

/* A one-row lookup by id. */
static int get_id(struct pg_store *s, const char *sql, const char *id_z, pg_fill_fn fill, void *out,
                  const char *what, struct err *e)
{
    return pg_get_one(s, sql, fill, out, what, e, "t", id_z);
}

/* ---- sessions ----------------------------------------------------------------------- */

int pg_session_create(struct store *base, const char *id_z, struct store_session *x, struct err *e)
{
    static const char sql[] =
        "INSERT INTO idp_sessions (id, user_id, created_at, expires_at, last_seen, auth_time, "
        "amr, client_ip, user_agent) VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8)";
    int64_t now = util_now();
    int64_t auth_time = x->auth_time ? x->auth_time : now;
    if (pg_run(pg(base), sql, "session", NULL, e, "tiiiittt", id_z, x->user_id, now, x->expires_at,
               auth_time, store_or_z(x->amr, "[]"), x->client_ip, x->user_agent) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = x->last_seen = now;
    x->auth_time = auth_time;
    return 0;
}

int pg_session_get(struct store *base, const char *id_z, struct store_session *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SESSION_COLS " FROM idp_sessions WHERE id = $1 AND expires_at > $2";
    return pg_get_one(pg(base), sql, fill_session, out, "session", e, "ti", id_z, util_now());
}

int pg_session_touch(struct store *base, const char *id_z, int64_t expires_at, struct err *e)
{
    /* The casts: "$3 > 0" alone would make $3 an int4. */
    static const char sql[] =
        "UPDATE idp_sessions SET last_seen = $2, "
        "expires_at = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE expires_at END "
        "WHERE id = $1 AND expires_at > $2";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "session", &n, e, "tii", id_z, util_now(), expires_at) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* Deleting a session updates its codes and tokens (ON DELETE SET NULL) after locking the
 * session's row, the reverse of a grant writer, which locks its code and token rows and then
 * (inserting a token of the session, the foreign key check) the session's row: a logout next
 * to a refresh would deadlock. So the rows the deletion will update are locked first, in the
 * grant writers' order (codes, then tokens, each by id). `sessions`: the sessions' ids, from
 * the parameter $1. */
#define LOCK_CODES_OF(sessions)                                                                    \
    "SELECT 1 FROM oauth2_codes WHERE session_id IN (" sessions ") ORDER BY id "                   \
    "FOR NO KEY UPDATE"
#define LOCK_TOKENS_OF(sessions)                                                                   \
    "SELECT 1 FROM oauth2_tokens WHERE session_id IN (" sessions ") ORDER BY id "                  \
    "FOR NO KEY UPDATE"
#define SESSION_BY_ID    "$1"
#define SESSIONS_OF_USER "SELECT id FROM idp_sessions WHERE user_id = $1"

int pg_session_delete(struct store *base, const char *id_z, struct err *e)
{
    static const char codes[] = LOCK_CODES_OF(SESSION_BY_ID);
    static const char tokens[] = LOCK_TOKENS_OF(SESSION_BY_ID);
    static const char sql[] = "DELETE FROM idp_sessions WHERE id = $1";
    struct pg_store *s = pg(base);
    int64_t n = 0;
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    bool ok = pg_run(s, codes, "session", NULL, e, "t", id_z) == 0 &&
              pg_run(s, tokens, "session", NULL, e, "t", id_z) == 0 &&
              pg_run(s, sql, "session", &n, e, "t", id_z) == 0;
    if (pg_leave(s, own, ok, e) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int pg_session_delete_user(struct store *base, int64_t user_id, int64_t *deleted, struct err *e)
{
    static const char codes[] = LOCK_CODES_OF(SESSIONS_OF_USER);
    static const char tokens[] = LOCK_TOKENS_OF(SESSIONS_OF_USER);
    static const char sql[] = "DELETE FROM idp_sessions WHERE user_id = $1";
    struct pg_store *s = pg(base);
    int64_t n = 0;
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    bool ok = pg_run(s, codes, "sessions", NULL, e, "i", user_id) == 0 &&
              pg_run(s, tokens, "sessions", NULL, e, "i", user_id) == 0 &&
              pg_run(s, sql, "sessions", &n, e, "i", user_id) == 0;
    if (pg_leave(s, own, ok, e) < 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}

/* ---- grants ------------------------------------------------------------------------ */

/* Inside an atomic section: waits for and holds the grant of code_id until the transaction
 * ends. Its code's row when there is one; else (the row was purged while a token of the grant
 * was being made) an advisory lock named after it, which every writer of that grant takes the
 * same way. */
static int lock_grant(struct pg_store *s, const char *code_id_z, struct err *e)
{
    static const char sql[] = "SELECT 1 FROM oauth2_codes WHERE id = $1 FOR NO KEY UPDATE";
    PGresult *r = pg_query(s, sql, "grant", e, "t", code_id_z);
    if (!r)
        return -1;
    bool locked = PQntuples(r) > 0;
    PQclear(r);
    if (locked)
        return 0;
    char name[GRANT_LOCK_NAME_SIZE];
    snprintf(name, sizeof(name), "postern.grant:%s", code_id_z);
    return pg_lock(s, name, e);
}

/* ---- codes ------------------------------------------------------------------------- */

int pg_code_create(struct store *base, const char *id_z, struct store_code *c, struct err *e)
{
    static const char sql[] =
        "INSERT INTO oauth2_codes (id, provider_id, user_id, session_id, redirect_uri, scope, "
        "nonce, code_challenge, code_challenge_method, auth_time, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    int64_t now = util_now();
    if (pg_run(pg(base), sql, "authorization code", NULL, e, "tiintttttiii", id_z, c->provider_id,
               c->user_id, c->session_id, c->redirect_uri, c->scope, c->nonce, c->code_challenge,
               c->code_challenge_method, c->auth_time, now, c->expires_at) < 0)
        return -1;
    snprintf(c->id, sizeof(c->id), "%s", id_z);
    c->created_at = now;
    c->used_at = 0;
    return 0;
}

/* Revokes the tokens of a grant and closes it (later inserts of its tokens are refused).
 * Inside an atomic section. The grant is locked and closed before its tokens are revoked
 * (SQLite's order is the reverse): an insert that checked the grant open has committed by
 * then, so the revocation, a later statement, sees its token; a later insert waits for this
 * transaction and then finds the grant closed. */
static int revoke_code(struct pg_store *s, const char *code_id_z, int64_t now, int64_t *revoked,
                       struct err *e)
{
    static const char code[] =
        "UPDATE oauth2_codes SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0";
    static const char toks[] =
        "UPDATE oauth2_tokens SET revoked_at = $2 WHERE code_id = $1 AND revoked_at = 0";
    int64_t n = 0;
    if (lock_grant(s, code_id_z, e) < 0 ||
        pg_run(s, code, "revoke", NULL, e, "ti", code_id_z, now) < 0 ||
        pg_run(s, toks, "revoke", &n, e, "ti", code_id_z, now) < 0)
        return -1;
    if (revoked)
        *revoked = n;
    return 0;
}

/* Inside the atomic section of code_take. The row is read FOR NO KEY UPDATE: of two takes
 * at once, the second waits for the first to commit and then reads the row as it left it
 * (used), on any node. */
static int take(struct pg_store *s, const char *id_z, int64_t provider_id, struct code_row *r,
                struct err *e)
{
    static const char get[] =
        "SELECT " CODE_COLS " FROM oauth2_codes WHERE id = $1 FOR NO KEY UPDATE";
    static const char use[] = "UPDATE oauth2_codes SET used_at = $2 WHERE id = $1 AND used_at = 0";
    int64_t now = util_now(), n = 0;
    int rc = get_id(s, get, id_z, fill_code, r, "authorization code", e);
    if (rc != 0)
        return rc;
    if (r->c.provider_id != provider_id)
        return STORE_NOT_FOUND; /* another client's code: leave it alone */
    if (r->c.used_at != 0) {
        /* RFC 6749 section 4.1.2: a second use SHOULD revoke what the code issued. */
        if (revoke_code(s, id_z, now, NULL, e) < 0)
            return -1;
        return STORE_REUSED;
    }
    if (pg_run(s, use, "authorization code", &n, e, "ti", id_z, now) < 0)
        return -1;
    if (n != 1)
        return err_set(e, STORE_E_INTERNAL, "authorization code changed under a row lock");
    r->c.used_at = now;
    return r->c.expires_at <= now ? STORE_EXPIRED : 0;
}

int pg_code_take(struct store *base, const char *id_z, int64_t provider_id, struct store_code *out,
                 struct err *e)
{
    struct pg_store *s = pg(base);
    struct code_row r = {.c = *out}; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (pg_enter(s, &own, e) < 0) {
        store_code_free(&r.c);
        return -1;
    }
    int rc = take(s, id_z, provider_id, &r, e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_code_free(&r.c);
    else
        *out = r.c;
    return rc;
}

/* ---- tokens ------------------------------------------------------------------------- */

/* Inserts unless the grant code_id was closed; the check and the insert are one statement.
 * The check reads the code's row FOR SHARE: while a replay holds the grant (revoke_code) it
 * waits, then reads the row as the replay left it (closed). The casts: the values of an
 * INSERT ... SELECT are typed by the SELECT, not by the columns. Returns 0, STORE_REVOKED or
 * -1. */
static int token_add(struct pg_store *s, const char *id_z, const struct store_token *t, int64_t now,
                     struct err *e)
{
    static const char sql[] =
        "INSERT INTO oauth2_tokens (id, kind, provider_id, user_id, scope, code_id, parent_id, "
        "session_id, created_at, expires_at) "
        "SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::text, $6::text, $7::text, "
        "$8::text, $9::bigint, $10::bigint WHERE coalesce("
        "(SELECT revoked_at FROM oauth2_codes WHERE id = $6::text FOR SHARE), 0) = 0";
    int64_t n = 0;
    const char *kind = t->kind == STORE_TOKEN_REFRESH ? "refresh" : "access";
    if (t->kind != STORE_TOKEN_REFRESH && t->kind != STORE_TOKEN_ACCESS)
        return err_set(e, STORE_E_CONSTRAINT, "kind must be access or refresh");
    if (pg_run(s, sql, "token", &n, e, "ttiItnnnii", id_z, kind, t->provider_id, t->user_id,
               t->scope, t->code_id, t->parent_id, t->session_id, now, t->expires_at) < 0)
        return -1;
    return n ? 0 : STORE_REVOKED;
}

int pg_token_insert(struct store *base, const char *id_z, struct store_token *t, struct err *e)
{
    int64_t now = util_now();
    int rc = token_add(pg(base), id_z, t, now, e);
    if (rc == 0) {
        snprintf(t->id, sizeof(t->id), "%s", id_z);
        t->created_at = now;
    }
    return rc;
}

static const char sql_token_get[] = "SELECT " TOKEN_COLS " FROM oauth2_tokens WHERE id = $1";
/* The same, holding the row until the transaction ends. */
static const char sql_token_lock[] =
    "SELECT " TOKEN_COLS " FROM oauth2_tokens WHERE id = $1 FOR NO KEY UPDATE";

int pg_token_get(struct store *base, const char *id_z, struct store_token *out, struct err *e)
{
    return get_id(pg(base), sql_token_get, id_z, fill_token, out, "token", e);
}

int pg_token_revoke(struct store *base, const char *id_z, struct err *e)
{
    static const char sql[] =
        "UPDATE oauth2_tokens SET revoked_at = "
        "CASE WHEN revoked_at = 0 THEN $2::bigint ELSE revoked_at END WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "token", &n, e, "ti", id_z, util_now()) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int pg_token_revoke_code(struct store *base, const char *code_id_z, int64_t *revoked, struct err *e)
{
    struct pg_store *s = pg(base);
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = revoke_code(s, code_id_z, util_now(), revoked, e);
    return pg_leave(s, own, rc == 0, e);
}

/* Inside an atomic section: revokes the tree of rotations of id_z (no code). A rotation of
 * the tree that this UPDATE waited for (its row was locked) commits a new token that the
 * UPDATE's snapshot does not show; the next statement sees it (READ COMMITTED), so the
 * revocation runs again until a pass finds nothing left. A rotation that comes later finds
 * its token revoked (REUSED). */
static int revoke_tree(struct pg_store *s, const char *id_z, int64_t now, int64_t *revoked,
                       struct err *e)
{
    static const char tree[] =
        "WITH RECURSIVE up(id, parent) AS ("
        "  SELECT id, parent_id FROM oauth2_tokens WHERE id = $1"
        "  UNION SELECT t.id, t.parent_id FROM oauth2_tokens t JOIN up ON t.id = up.parent),"
        " down(id) AS ("
        "  SELECT id FROM up"
        "  UNION SELECT t.id FROM oauth2_tokens t JOIN down ON t.parent_id = down.id) "
        "UPDATE oauth2_tokens SET revoked_at = $2 "
        "WHERE revoked_at = 0 AND id IN (SELECT id FROM down)";
    int64_t total = 0;
    for (int pass = 0; pass < TREE_PASSES_MAX; pass++) {
        int64_t n = 0;
        if (pg_run(s, tree, "revoke", &n, e, "ti", id_z, now) < 0)
            return -1;
        total += n;
        if (n == 0) {
            if (revoked)
                *revoked = total;
            return 0;
        }
    }
    return err_set(e, STORE_E_BUSY, "revoke: the family kept growing");
}

/* Inside an atomic section holding t's grant when it has one: the grant of t, or t's tree of
 * rotations when it has no code. */
static int revoke_family(struct pg_store *s, const struct store_token *t, int64_t now,
                         int64_t *revoked, struct err *e)
{
    if (t->code_id[0])
        return revoke_code(s, t->code_id, now, revoked, e);
    return revoke_tree(s, t->id, now, revoked, e);
}

static int revoke_family_of(struct pg_store *s, const char *id_z, int64_t *revoked, struct err *e)
{
    struct store_token t = {0};
    int rc = get_id(s, sql_token_get, id_z, fill_token, &t, "token", e);
    /* revoke_code locks the grant; code_id never changes: t read before names the right one. */
    if (rc == 0)
        rc = revoke_family(s, &t, util_now(), revoked, e);
    store_token_free(&t);
    return rc;
}

int pg_token_revoke_family(struct store *base, const char *id_z, int64_t *revoked, struct err *e)
{
    struct pg_store *s = pg(base);
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = revoke_family_of(s, id_z, revoked, e);
    if (pg_leave(s, own, rc >= 0, e) < 0)
        return -1;
    return rc;
}

/* Inside the atomic section of token_rotate: the old token, read again under the lock of its
 * grant (when it has a code) and of its own row: of two rotations at once, the second waits
 * and then reads the token rotated. Without the grant's lock, a replay of the grant's code or
 * of another of its tokens running next to this rotation would revoke the grant as its
 * snapshot showed it, without the token this rotation adds. */
static int get_locked(struct pg_store *s, const char *old_id_z, int64_t provider_id,
                      struct store_token *o, struct err *e)
{
    int rc = get_id(s, sql_token_get, old_id_z, fill_token, o, "token", e);
    if (rc != 0)
        return rc;
    /* kind, provider, code and parent never change: no need to lock to refuse. */
    if (o->kind != STORE_TOKEN_REFRESH || o->provider_id != provider_id)
        return STORE_NOT_FOUND;
    if (o->code_id[0] && lock_grant(s, o->code_id, e) < 0)
        return -1;
    return get_id(s, sql_token_lock, old_id_z, fill_token, o, "token", e);
}

/* Inside the atomic section of token_rotate; o holds the old token on return. */
static int rotate(struct pg_store *s, const char *old_id_z, const char *new_id_z,
                  int64_t provider_id, const char *scope_z, int64_t expires_at,
                  struct store_token *o, struct store_token *nt, struct err *e)
{
    static const char mark[] = "UPDATE oauth2_tokens SET rotated_at = $2 "
                               "WHERE id = $1 AND rotated_at = 0 AND revoked_at = 0";
    int64_t now = util_now(), n = 0;
    int rc = get_locked(s, old_id_z, provider_id, o, e);
    if (rc != 0)
        return rc;
    if (o->rotated_at != 0 || o->revoked_at != 0) {
        /* RFC 9700 section 4.14.2: a refresh token used twice revokes its whole family. */
        if (revoke_family(s, o, now, NULL, e) < 0)
            return -1;
        return STORE_REUSED;
    }
    if (o->expires_at <= now)
        return STORE_EXPIRED;
    if (pg_run(s, mark, "token", &n, e, "ti", old_id_z, now) < 0)
        return -1;
    if (n != 1)
        return err_set(e, STORE_E_INTERNAL, "token changed under a row lock");
    struct store_token t = {
        .kind = STORE_TOKEN_REFRESH,
        .provider_id = o->provider_id,
        .user_id = o->user_id,
        .scope = (char *)store_or_z(scope_z, o->scope),
        .expires_at = expires_at,
    };
    memcpy(t.code_id, o->code_id, sizeof(t.code_id));
    memcpy(t.parent_id, o->id, sizeof(t.parent_id));
    memcpy(t.session_id, o->session_id, sizeof(t.session_id));
    rc = token_add(s, new_id_z, &t, now, e);
    if (rc != 0)
        return rc;
    return get_id(s, sql_token_get, new_id_z, fill_token, nt, "token", e);
}

int pg_token_rotate(struct store *base, const char *old_id_z, const char *new_id_z,
                    int64_t provider_id, const char *scope_z, int64_t expires_at,
                    struct store_token *nt, struct store_token *old, struct err *e)
{
    struct pg_store *s = pg(base);
    struct store_token o = {0};
    bool own;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = rotate(s, old_id_z, new_id_z, provider_id, scope_z, expires_at, &o, nt, e);
    /* STORE_REUSED commits: the family's revocation must stick. */
    bool commit = rc == 0 || rc == STORE_REUSED;
    if (pg_leave(s, own, commit, e) < 0 && commit)
        rc = -1;
    if (rc != 0)
        store_token_free(nt); /* nothing was rotated: nothing to show */
    if (old && (rc == 0 || rc == STORE_REUSED || rc == STORE_EXPIRED)) {
        store_token_free(old);
        *old = o;
    } else {
        store_token_free(&o);
    }
    return rc;
}
