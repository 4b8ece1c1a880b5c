/*
 * SQLite backend: users, groups and memberships.
 */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>

#define USER_COLS(p)                                                                               \
    p "id, " p "uuid, " p "username, " p "name, " p "email, " p "is_active, " p "attributes, " p   \
      "password_hash, " p "password_changed_at, " p "created_at, " p "updated_at"
#define GROUP_COLS(p) p "id, " p "name, " p "attributes, " p "created_at, " p "updated_at"

static void fill_user(sqlite3_stmt *st, void *rec)
{
    struct store_user *u = rec;
    store_user_free(u);
    u->id = sq_col_int(st, 0);
    const unsigned char *uuid = sqlite3_column_text(st, 1);
    snprintf(u->uuid, sizeof(u->uuid), "%s", uuid ? (const char *)uuid : "");
    u->username = sq_col_str(st, 2);
    u->name = sq_col_str(st, 3);
    u->email = sq_col_str(st, 4);
    u->is_active = sq_col_int(st, 5) != 0;
    u->attributes = sq_col_str(st, 6);
    u->password_hash = sq_col_str(st, 7);
    u->password_changed_at = sq_col_int(st, 8);
    u->created_at = sq_col_int(st, 9);
    u->updated_at = sq_col_int(st, 10);
}

static void fill_group(sqlite3_stmt *st, void *rec)
{
    struct store_group *g = rec;
    store_group_free(g);
    g->id = sq_col_int(st, 0);
    g->name = sq_col_str(st, 1);
    g->attributes = sq_col_str(st, 2);
    g->created_at = sq_col_int(st, 3);
    g->updated_at = sq_col_int(st, 4);
}

/* ---- users ---------------------------------------------------------------------- */

int sq_user_create(struct store *base, struct store_user *u, struct err *e)
{
    static const char sql[] =
        "INSERT INTO users (uuid, username, name, email, is_active, attributes, password_hash, "
        "password_changed_at, created_at, updated_at, id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)"; /* NULL id: the next one */
    struct sqlite_store *s = sq(base);
    int64_t now = util_now();
    int64_t changed = u->password_hash && u->password_hash[0] ? now : 0;
    if (sq_run(s, sql, "user", NULL, e, "ttttbttiiI", u->uuid, u->username, u->name, u->email,
               (int)u->is_active, store_or_z(u->attributes, "{}"), u->password_hash, changed, now,
               u->id) < 0)
        return -1;
    u->id = sqlite3_last_insert_rowid(s->db);
    u->password_changed_at = changed;
    u->created_at = u->updated_at = now;
    return 0;
}

int sq_user_update(struct store *base, struct store_user *u, struct err *e)
{
    static const char sql[] = "UPDATE users SET username = ?2, name = ?3, email = ?4, "
                              "is_active = ?5, attributes = ?6, updated_at = ?7 WHERE id = ?1";
    int64_t now = util_now(), n = 0;
    if (sq_run(sq(base), sql, "user", &n, e, "itttbti", u->id, u->username, u->name, u->email,
               (int)u->is_active, store_or_z(u->attributes, "{}"), now) < 0)
        return -1;
    if (n == 0)
        return STORE_NOT_FOUND;
    u->updated_at = now;
    return 0;
}

int sq_user_set_password(struct store *base, int64_t user_id, const char *phc_z, struct err *e)
{
    static const char sql[] = "UPDATE users SET password_hash = ?2, password_changed_at = ?3, "
                              "updated_at = ?3 WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "password", &n, e, "iti", user_id, phc_z, util_now()) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* Runs a one-row user query bound with fmt (one argument). */
static int user_get(struct sqlite_store *s, const char *sql, struct store_user *out, struct err *e,
                    const char *fmt, ...)
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
        return sq_fail(s, rc, "user", e);
    }
    return sq_get_one(s, st, fill_user, out, "user", e);
}

int sq_user_get_by_id(struct store *base, int64_t id, struct store_user *out, struct err *e)
{
    static const char sql[] = "SELECT " USER_COLS("") " FROM users WHERE id = ?1";
    return user_get(sq(base), sql, out, e, "i", id);
}

int sq_user_get_by_name(struct store *base, const char *username_z, struct store_user *out,
                        struct err *e)
{
    static const char sql[] = "SELECT " USER_COLS("") " FROM users WHERE username = ?1";
    return user_get(sq(base), sql, out, e, "t", username_z);
}

int sq_user_get_by_login(struct store *base, const char *login_z, struct store_user *out,
                         struct err *e)
{
    /* Uses the partial index users_email: the WHERE implies email <> ''. */
    static const char by_email[] =
        "SELECT " USER_COLS("") " FROM users WHERE email = ?1 COLLATE NOCASE AND email <> ''";
    if (!login_z[0])
        return STORE_NOT_FOUND;
    int rc = sq_user_get_by_name(base, login_z, out, e);
    if (rc != STORE_NOT_FOUND)
        return rc;
    return user_get(sq(base), by_email, out, e, "t", login_z);
}

int sq_user_list(struct store *base, const struct store_page *pg, struct store_user_list *out,
                 struct err *e)
{
    static const char sql[] =
        "SELECT " USER_COLS("") " FROM users ORDER BY username LIMIT ?1 OFFSET ?2";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_user_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "users", e, "ii", limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill_user, sizeof(*out->v), (void **)&out->v, &out->n, "users", e);
}

int sq_user_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM users WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "user", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- groups ----------------------------------------------------------------------- */

int sq_group_get_by_id(struct store *base, int64_t id, struct store_group *out, struct err *e)
{
    static const char sql[] = "SELECT " GROUP_COLS("") " FROM idp_groups WHERE id = ?1";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "group", e, "i", id) < 0)
        return -1;
    return sq_get_one(s, st, fill_group, out, "group", e);
}

int sq_group_get_by_name(struct store *base, const char *name_z, struct store_group *out,
                         struct err *e)
{
    static const char sql[] = "SELECT " GROUP_COLS("") " FROM idp_groups WHERE name = ?1";
    struct sqlite_store *s = sq(base);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "group", e, "t", name_z) < 0)
        return -1;
    return sq_get_one(s, st, fill_group, out, "group", e);
}

/* The id of the group name_z into *id: 0, STORE_NOT_FOUND or -1. */
static int group_id_of(struct sqlite_store *s, const char *name_z, int64_t *id, struct err *e)
{
    static const char sql[] = "SELECT id FROM idp_groups WHERE name = ?1";
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "group", e, "t", name_z) < 0)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sq_fail(s, rc, "group", e);
    sq_done(st);
    return ret;
}

static int group_write(struct sqlite_store *s, struct store_group *g, bool *created, struct err *e)
{
    static const char ins[] = "INSERT INTO idp_groups (name, attributes, created_at, updated_at) "
                              "VALUES (?1, ?2, ?3, ?3)";
    static const char upd[] = "UPDATE idp_groups SET attributes = ?2, updated_at = ?3 "
                              "WHERE id = ?1 RETURNING created_at";
    int64_t now = util_now(), id = 0;
    int rc = group_id_of(s, g->name ? g->name : "", &id, e);
    if (rc < 0)
        return -1;
    *created = rc == STORE_NOT_FOUND;
    if (*created) {
        if (sq_run(s, ins, "group", NULL, e, "tti", g->name, store_or_z(g->attributes, "{}"), now) <
            0)
            return -1;
        g->id = sqlite3_last_insert_rowid(s->db);
        g->created_at = now;
    } else {
        sqlite3_stmt *st = sq_stmt(s, upd, e);
        if (!st || sq_bind(s, st, "group", e, "iti", id, store_or_z(g->attributes, "{}"), now) < 0)
            return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            g->created_at = sqlite3_column_int64(st, 0);
        sq_done(st);
        if (rc != SQLITE_ROW)
            return sq_fail(s, rc, "group", e);
        g->id = id;
    }
    g->updated_at = now;
    return 0;
}

int sq_group_upsert(struct store *base, struct store_group *g, bool *created, struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own, c = false;
    if (sq_enter(s, &own, e) < 0)
        return -1;
    int rc = group_write(s, g, &c, e);
    if (sq_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int sq_group_list(struct store *base, const struct store_page *pg, struct store_group_list *out,
                  struct err *e)
{
    static const char sql[] =
        "SELECT " GROUP_COLS("") " FROM idp_groups ORDER BY name LIMIT ?1 OFFSET ?2";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_group_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "groups", e, "ii", limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill_group, sizeof(*out->v), (void **)&out->v, &out->n, "groups", e);
}

int sq_group_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM idp_groups WHERE id = ?1";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "group", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- memberships ------------------------------------------------------------------ */

static const char sql_member_add[] =
    "INSERT INTO group_members (user_id, group_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

int sq_member_add(struct store *base, int64_t user_id, int64_t group_id, struct err *e)
{
    return sq_run(sq(base), sql_member_add, "group membership", NULL, e, "ii", user_id, group_id);
}

int sq_member_remove(struct store *base, int64_t user_id, int64_t group_id, struct err *e)
{
    static const char sql[] = "DELETE FROM group_members WHERE user_id = ?1 AND group_id = ?2";
    int64_t n = 0;
    if (sq_run(sq(base), sql, "group membership", &n, e, "ii", user_id, group_id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* Inside an atomic section: resolves every name first, so an unknown one changes nothing. */
static int set_groups(struct sqlite_store *s, int64_t user_id, const char *const *names, size_t n,
                      int64_t *ids, struct err *e)
{
    static const char clear[] = "DELETE FROM group_members WHERE user_id = ?1";
    for (size_t i = 0; i < n; i++) {
        int rc = group_id_of(s, names[i] ? names[i] : "", &ids[i], e);
        if (rc == STORE_NOT_FOUND) {
            err_set(e, STORE_E_CONSTRAINT, "group \"%.64s\" does not exist",
                    names[i] ? names[i] : "");
            return STORE_NOT_FOUND;
        }
        if (rc < 0)
            return -1;
    }
    if (sq_run(s, clear, "group membership", NULL, e, "i", user_id) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sq_run(s, sql_member_add, "group membership", NULL, e, "ii", user_id, ids[i]) < 0)
            return -1;
    return 0;
}

int sq_user_set_groups(struct store *base, int64_t user_id, const char *const *names, size_t n,
                       struct err *e)
{
    struct sqlite_store *s = sq(base);
    bool own;
    if (n > STORE_GROUPS_MAX)
        return err_set(e, STORE_E_TOO_BIG, "more than %d groups", STORE_GROUPS_MAX);
    int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
    int rc = sq_enter(s, &own, e);
    if (rc == 0) {
        rc = set_groups(s, user_id, names, n, ids, e);
        if (sq_leave(s, own, rc == 0, e) < 0 && rc == 0)
            rc = -1;
    }
    free(ids);
    return rc;
}

int sq_user_groups(struct store *base, int64_t user_id, struct store_group_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " GROUP_COLS("g.") " FROM idp_groups g "
                                   "JOIN group_members m ON m.group_id = g.id "
                                   "WHERE m.user_id = ?1 ORDER BY g.name LIMIT ?2";
    struct sqlite_store *s = sq(base);
    store_group_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "groups", e, "ii", user_id, (int64_t)STORE_LIST_MAX) < 0)
        return -1;
    return sq_get_list(s, st, fill_group, sizeof(*out->v), (void **)&out->v, &out->n, "groups", e);
}

int sq_group_members(struct store *base, int64_t group_id, const struct store_page *pg,
                     struct store_user_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " USER_COLS("u.") " FROM users u "
                                  "JOIN group_members m ON m.user_id = u.id "
                                  "WHERE m.group_id = ?1 ORDER BY u.username LIMIT ?2 OFFSET ?3";
    struct sqlite_store *s = sq(base);
    int64_t limit, offset;
    store_page_bounds(pg, &limit, &offset);
    store_user_list_free(out);
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st || sq_bind(s, st, "members", e, "iii", group_id, limit, offset) < 0)
        return -1;
    return sq_get_list(s, st, fill_user, sizeof(*out->v), (void **)&out->v, &out->n, "members", e);
}
