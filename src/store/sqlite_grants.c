/*
 * SQLite backend: IdP sessions, authorization codes and tokens. Every id here is the SHA-256
 * (hex) of a raw value that the front hashed; the raw values never reach this file.
 */
#include "store/sqlite_int.h"

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

static void fill_session(sqlite3_stmt *st, void *rec)
{
    struct store_session *x = rec;
    store_session_free(x);
    sq_col_id(st, 0, x->id);
    x->user_id = sq_col_int(st, 1);
    x->created_at = sq_col_int(st, 2);
    x->expires_at = sq_col_int(st, 3);
    x->last_seen = sq_col_int(st, 4);
    x->auth_time = sq_col_int(st, 5);
    x->amr = sq_col_str(st, 6);
    x->client_ip = sq_col_str(st, 7);
    x->user_agent = sq_col_str(st, 8);
}

/* A code row with its revoked_at, which the record does not show. */
struct code_row {
    struct store_code c;
    int64_t revoked_at;
};

static void fill_code(sqlite3_stmt *st, void *rec)
{
    struct code_row *r = rec;
    struct store_code *c = &r->c;
    store_code_free(c);
    sq_col_id(st, 0, c->id);
    c->provider_id = sq_col_int(st, 1);
    c->user_id = sq_col_int(st, 2);
    sq_col_id(st, 3, c->session_id);
    c->redirect_uri = sq_col_str(st, 4);
    c->scope = sq_col_str(st, 5);
    c->nonce = sq_col_str(st, 6);
    c->code_challenge = sq_col_str(st, 7);
    c->code_challenge_method = sq_col_str(st, 8);
    c->auth_time = sq_col_int(st, 9);
    c->created_at = sq_col_int(st, 10);
    c->expires_at = sq_col_int(st, 11);
    c->used_at = sq_col_int(st, 12);
    r->revoked_at = sq_col_int(st, 13);
}

static void fill_token(sqlite3_stmt *st, void *rec)
{
    struct store_token *t = rec;
    store_token_free(t);
    sq_col_id(st, 0, t->id);
    const unsigned char *kind = sqlite3_column_text(st, 1);
    t->kind = kind && strcmp((const char *)kind, "refresh") == 0 ? STORE_TOKEN_REFRESH
                                                                 : STORE_TOKEN_ACCESS;
    t->provider_id = sq_col_int(st, 2);
    t->user_id = sq_col_int(st, 3);
    t->scope = sq_col_str(st, 4);
    sq_col_id(st, 5, t->code_id);
    sq_col_id(st, 6, t->parent_id);
    sq_col_id(st, 7, t->session_id);
    t->created_at = sq_col_int(st, 8);
    t->expires_at = sq_col_int(st, 9);
    t->revoked_at = sq_col_int(st, 10);
    t->rotated_at = sq_col_int(st, 11);
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

/* ---- sessions ----------------------------------------------------------------------- */

int sq_session_create(struct store *base, const char *id_z, struct store_session *x, struct err *e)
{
    static const char sql[] =
        "INSERT INTO idp_sessions (id, user_id, created_at, expires_at, last_seen, auth_time, "
        "amr, client_ip, user_agent) VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6, ?7, ?8)";
    int64_t now = util_now();
    int64_t auth_time = x->auth_time ? x->auth_time : now;
    if (sq_run(sq(base), sql, "session", NULL, e, "tiiiittt", id_z, x->user_id, now, x->expires_at,
               auth_time, store_or_z(x->amr, "[]"), x->client_ip, x->user_agent) < 0)
        return -1;
    snprintf(x->id, sizeof(x->id), "%s", id_z);
    x->created_at = x->last_seen = now;
    x->auth_time = auth_time;
    return 0;
}

int sq_session_get(struct store *base, const char *id_z, struct store_session *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SESSION_COLS " FROM idp_sessions WHERE id = ?1 AND expires_at > ?2";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "session", e, "ti", id_z, util_now()) < 0)
        return -1;
    return sq_get_one(s, st, fill_session, out, "session", e);
}

int sq_session_touch(struct store *base, const char *id_z, int64_t expires_at, struct err *e)
{
    static const char sql[] = "UPDATE idp_sessions SET last_seen = ?2, "
                              "expires_at = CASE WHEN ?3 > 0 THEN ?3 ELSE expires_at END "
                              "WHERE id = ?1 AND expires_at > ?2";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "session", &n, e, "tii", id_z, util_now(), expires_at) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int sq_session_delete(struct store *base, const char *id_z, struct err *e)
{
    static const char sql[] = "DELETE FROM idp_sessions WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "session", &n, e, "t", id_z) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int sq_session_delete_user(struct store *base, int64_t user_id, int64_t *deleted, struct err *e)
{
    static const char sql[] = "DELETE FROM idp_sessions WHERE user_id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "sessions", &n, e, "i", user_id) < 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}

/* ---- codes ------------------------------------------------------------------------- */

int sq_code_create(struct store *base, const char *id_z, struct store_code *c, struct err *e)
{
    static const char sql[] =
        "INSERT INTO oauth2_codes (id, provider_id, user_id, session_id, redirect_uri, scope, "
        "nonce, code_challenge, code_challenge_method, auth_time, created_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    int64_t now = util_now();
    if (sq_run(sq(base), sql, "authorization code", NULL, e, "tiintttttiii", id_z, c->provider_id,
               c->user_id, c->session_id, c->redirect_uri, c->scope, c->nonce, c->code_challenge,
               c->code_challenge_method, c->auth_time, now, c->expires_at) < 0)
        return -1;
    snprintf(c->id, sizeof(c->id), "%s", id_z);
    c->created_at = now;
    c->used_at = 0;
    return 0;
}

/* Revokes the tokens of a grant and closes it (later inserts of its tokens are refused).
 * Inside an atomic section. */
static int revoke_code(struct sqlite_store *s, const char *code_id_z, int64_t now, int64_t *revoked,
                       struct err *e)
{
    static const char toks[] =
        "UPDATE oauth2_tokens SET revoked_at = ?2 WHERE code_id = ?1 AND revoked_at = 0";
    static const char code[] =
        "UPDATE oauth2_codes SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0";
    int64_t n = 0;
    if (sq_run(s, toks, "revoke", &n, e, "ti", code_id_z, now) < 0 ||
        sq_run(s, code, "revoke", NULL, e, "ti", code_id_z, now) < 0)
        return -1;
    if (revoked)
        *revoked = n;
    return 0;
}

/* Inside the atomic section of code_take. */
static int take(struct sqlite_store *s, const char *id_z, int64_t provider_id, struct code_row *r,
                struct err *e)
{
    static const char get[] = "SELECT " CODE_COLS " FROM oauth2_codes WHERE id = ?1";
    static const char use[] = "UPDATE oauth2_codes SET used_at = ?2 WHERE id = ?1 AND used_at = 0";
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
    if (sq_run(s, use, "authorization code", &n, e, "ti", id_z, now) < 0)
        return -1;
    if (n != 1)
        return err_set(e, STORE_E_INTERNAL, "authorization code changed under a write lock");
    r->c.used_at = now;
    return r->c.expires_at <= now ? STORE_EXPIRED : 0;
}

int sq_code_take(struct store *base, const char *id_z, int64_t provider_id, struct store_code *out,
                 struct err *e)
{
    struct sqlite_store *s = sq(base);
    struct code_row r = {.c = *out}; /* take ownership of what out held: fill frees it */
    bool own;
    memset(out, 0, sizeof(*out));
    if (sq_enter(s, &own, e) < 0) {
        store_code_free(&r.c);
        return -1;
    }
    int rc = take(s, id_z, provider_id, &r, e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        rc = -1;
    if (rc < 0 || rc == STORE_NOT_FOUND)
        store_code_free(&r.c);
    else
        *out = r.c;
    return rc;
}

/* ---- tokens ------------------------------------------------------------------------- */

/* Inserts unless the grant code_id was closed; the check and the insert are one statement.
 * Returns 0, STORE_REVOKED or -1. */
static int token_add(struct sqlite_store *s, const char *id_z, const struct store_token *t,
                     int64_t now, struct err *e)
{
    static const char sql[] =
        "INSERT INTO oauth2_tokens (id, kind, provider_id, user_id, scope, code_id, parent_id, "
        "session_id, created_at, expires_at) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE NOT EXISTS "
        "(SELECT 1 FROM oauth2_codes WHERE id = ?6 AND revoked_at <> 0)";
    int64_t n = 0;
    const char *kind = t->kind == STORE_TOKEN_REFRESH ? "refresh" : "access";
    if (t->kind != STORE_TOKEN_REFRESH && t->kind != STORE_TOKEN_ACCESS)
        return err_set(e, STORE_E_CONSTRAINT, "kind must be access or refresh");
    if (sq_run(s, sql, "token", &n, e, "ttiItnnnii", id_z, kind, t->provider_id, t->user_id,
               t->scope, t->code_id, t->parent_id, t->session_id, now, t->expires_at) < 0)
        return -1;
    return n ? 0 : STORE_REVOKED;
}

int sq_token_insert(struct store *base, const char *id_z, struct store_token *t, struct err *e)
{
    int64_t now = util_now();
    int rc = token_add(sq(base), id_z, t, now, e);
    if (rc == 0) {
        snprintf(t->id, sizeof(t->id), "%s", id_z);
        t->created_at = now;
    }
    return rc;
}

static const char sql_token_get[] = "SELECT " TOKEN_COLS " FROM oauth2_tokens WHERE id = ?1";

int sq_token_get(struct store *base, const char *id_z, struct store_token *out, struct err *e)
{
    return get_id(sq(base), sql_token_get, id_z, fill_token, out, "token", e);
}

int sq_token_revoke(struct store *base, const char *id_z, struct err *e)
{
    static const char sql[] = "UPDATE oauth2_tokens SET revoked_at = "
                              "CASE WHEN revoked_at = 0 THEN ?2 ELSE revoked_at END WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "token", &n, e, "ti", id_z, util_now()) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int sq_token_revoke_code(struct store *base, const char *code_id_z, int64_t *revoked, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = revoke_code(s, code_id_z, util_now(), revoked, e);
    return sq_leave(s, own, rc == 0, e);
}

/* Inside an atomic section: the grant of t, or t's tree of rotations when it has no code. */
static int revoke_family(struct sqlite_store *s, const struct store_token *t, int64_t now,
                         int64_t *revoked, struct err *e)
{
    static const char tree[] =
        "WITH RECURSIVE up(id, parent) AS ("
        "  SELECT id, parent_id FROM oauth2_tokens WHERE id = ?1"
        "  UNION SELECT t.id, t.parent_id FROM oauth2_tokens t JOIN up ON t.id = up.parent),"
        " down(id) AS ("
        "  SELECT id FROM up"
        "  UNION SELECT t.id FROM oauth2_tokens t JOIN down ON t.parent_id = down.id) "
        "UPDATE oauth2_tokens SET revoked_at = ?2 "
        "WHERE revoked_at = 0 AND id IN (SELECT id FROM down)";
    if (t->code_id[0])
        return revoke_code(s, t->code_id, now, revoked, e);
    int64_t n = 0;
    if (sq_run(s, tree, "revoke", &n, e, "ti", t->id, now) < 0)
        return -1;
    if (revoked)
        *revoked = n;
    return 0;
}

static int revoke_family_of(struct sqlite_store *s, const char *id_z, int64_t *revoked,
                            struct err *e)
{
    struct store_token t = {0};
    int rc = get_id(s, sql_token_get, id_z, fill_token, &t, "token", e);
    if (rc == 0)
        rc = revoke_family(s, &t, util_now(), revoked, e);
    store_token_free(&t);
    return rc;
}

int sq_token_revoke_family(struct store *base, const char *id_z, int64_t *revoked, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = revoke_family_of(s, id_z, revoked, e);
    if (sq_leave(s, own, rc >= 0, e) < 0)
        return -1;
    return rc;
}

/* Inside the atomic section of token_rotate; o holds the old token on return. */
static int rotate(struct sqlite_store *s, const char *old_id_z, const char *new_id_z,
                  int64_t provider_id, const char *scope_z, int64_t expires_at,
                  struct store_token *o, struct store_token *nt, struct err *e)
{
    static const char mark[] = "UPDATE oauth2_tokens SET rotated_at = ?2 "
                               "WHERE id = ?1 AND rotated_at = 0 AND revoked_at = 0";
    int64_t now = util_now(), n = 0;
    int rc = get_id(s, sql_token_get, old_id_z, fill_token, o, "token", e);
    if (rc != 0)
        return rc;
    if (o->kind != STORE_TOKEN_REFRESH || o->provider_id != provider_id)
        return STORE_NOT_FOUND;
    if (o->rotated_at != 0 || o->revoked_at != 0) {
        /* RFC 9700 section 4.14.2: a refresh token used twice revokes its whole family. */
        if (revoke_family(s, o, now, NULL, e) < 0)
            return -1;
        return STORE_REUSED;
    }
    if (o->expires_at <= now)
        return STORE_EXPIRED;
    if (sq_run(s, mark, "token", &n, e, "ti", old_id_z, now) < 0)
        return -1;
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

int sq_token_rotate(struct store *base, const char *old_id_z, const char *new_id_z,
                    int64_t provider_id, const char *scope_z, int64_t expires_at,
                    struct store_token *nt, struct store_token *old, struct err *e)
{
    struct sqlite_store *s = sq(base);
    struct store_token o = {0};
    bool own;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = rotate(s, old_id_z, new_id_z, provider_id, scope_z, expires_at, &o, nt, e);
    /* STORE_REUSED commits: the family's revocation must stick. */
    bool commit = rc == 0 || rc == STORE_REUSED;
    if (sq_leave(s, own, commit, e) < 0 && commit)
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
