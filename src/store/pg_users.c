/*
 * PostgreSQL backend: users, groups and memberships (the twin of sqlite_users.c).
 *
 * Where SQLite's BEGIN IMMEDIATE serialized writers, each section here is made race-free
 * across nodes on its own: an upsert is one INSERT ... ON CONFLICT statement, and
 * user_set_groups locks the user's row before replacing its memberships (pg_int.h).
 * Lists are ordered under the "C" collation: byte order, as SQLite's BINARY, whatever the
 * database's locale (pages must not change with the server's configuration).
 */
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>

#define USER_COLS(p)                                                                               \
    p "id, " p "uuid, " p "username, " p "name, " p "email, " p "is_active, " p "attributes, " p   \
      "password_hash, " p "password_changed_at, " p "created_at, " p "updated_at"
#define GROUP_COLS(p) p "id, " p "name, " p "attributes, " p "created_at, " p "updated_at"

static void fill_user(const PGresult *r, int row, void *rec)
{
    struct store_user *u = rec;
    store_user_free(u);
    u->id = pg_col_int(r, row, 0);
    /* PQgetvalue gives "" for NULL; the column is NOT NULL anyway. */
    snprintf(u->uuid, sizeof(u->uuid), "%s", PQgetvalue(r, row, 1));
    u->username = pg_col_str(r, row, 2);
    u->name = pg_col_str(r, row, 3);
    u->email = pg_col_str(r, row, 4);
    u->is_active = pg_col_int(r, row, 5) != 0;
    u->attributes = pg_col_str(r, row, 6);
    u->password_hash = pg_col_str(r, row, 7);
    u->password_changed_at = pg_col_int(r, row, 8);
    u->created_at = pg_col_int(r, row, 9);
    u->updated_at = pg_col_int(r, row, 10);
}

static void fill_group(const PGresult *r, int row, void *rec)
{
    struct store_group *g = rec;
    store_group_free(g);
    g->id = pg_col_int(r, row, 0);
    g->name = pg_col_str(r, row, 1);
    g->attributes = pg_col_str(r, row, 2);
    g->created_at = pg_col_int(r, row, 3);
    g->updated_at = pg_col_int(r, row, 4);
}

/* ---- users ---------------------------------------------------------------------- */

int pg_user_create(struct store *base, struct store_user *u, struct err *e)
{
    /* No last_insert_rowid: the new id comes back with the row. A given id (store_user_import)
     * is kept; the identity's sequence is then moved past it, so that the next user created
     * without one does not collide. */
    static const char sql[] =
        "INSERT INTO users (uuid, username, name, email, is_active, attributes, password_hash, "
        "password_changed_at, created_at, updated_at, id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, "
        "coalesce($10::bigint, nextval(pg_get_serial_sequence('users', 'id')))) RETURNING id";
    static const char sql_seq[] = "SELECT setval(pg_get_serial_sequence('users', 'id'), "
                                  "greatest((SELECT max(id) FROM users), 1))";
    int64_t now = util_now(), id = 0;
    int64_t changed = u->password_hash && u->password_hash[0] ? now : 0;
    int rc = pg_get_int(pg(base), sql, &id, "user", e, "ttttbttiiI", u->uuid, u->username, u->name,
                        u->email, (int)u->is_active, store_or_z(u->attributes, "{}"),
                        u->password_hash, changed, now, u->id);
    if (rc != 0)
        return rc < 0 ? -1 : err_set(e, STORE_E_INTERNAL, "user: INSERT returned no id");
    if (u->id > 0 && pg_run(pg(base), sql_seq, "user", NULL, e, "") < 0)
        return -1;
    u->id = id;
    u->password_changed_at = changed;
    u->created_at = u->updated_at = now;
    return 0;
}

int pg_user_update(struct store *base, struct store_user *u, struct err *e)
{
    static const char sql[] = "UPDATE users SET username = $2, name = $3, email = $4, "
                              "is_active = $5, attributes = $6, updated_at = $7 WHERE id = $1";
    int64_t now = util_now(), n = 0;
    if (pg_run(pg(base), sql, "user", &n, e, "itttbti", u->id, u->username, u->name, u->email,
               (int)u->is_active, store_or_z(u->attributes, "{}"), now) < 0)
        return -1;
    if (n == 0)
        return STORE_NOT_FOUND;
    u->updated_at = now;
    return 0;
}

int pg_user_set_password(struct store *base, int64_t user_id, const char *phc_z, struct err *e)
{
    static const char sql[] = "UPDATE users SET password_hash = $2, password_changed_at = $3, "
                              "updated_at = $3 WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "password", &n, e, "iti", user_id, phc_z, util_now()) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

int pg_user_get_by_id(struct store *base, int64_t id, struct store_user *out, struct err *e)
{
    static const char sql[] = "SELECT " USER_COLS("") " FROM users WHERE id = $1";
    return pg_get_one(pg(base), sql, fill_user, out, "user", e, "i", id);
}

int pg_user_get_by_name(struct store *base, const char *username_z, struct store_user *out,
                        struct err *e)
{
    static const char sql[] = "SELECT " USER_COLS("") " FROM users WHERE username = $1";
    return pg_get_one(pg(base), sql, fill_user, out, "user", e, "t", username_z);
}

int pg_user_get_by_login(struct store *base, const char *login_z, struct store_user *out,
                         struct err *e)
{
    /* SQLite's COLLATE NOCASE: lower() under the "C" collation folds only A-Z. The expression
     * and the WHERE (implying email <> '') are those of the partial index users_email, so
     * the lookup uses it. */
    static const char by_email[] =
        "SELECT " USER_COLS("") " FROM users WHERE lower(email COLLATE \"C\") = "
                                "lower($1::text COLLATE \"C\") AND email <> ''";
    if (!login_z[0])
        return STORE_NOT_FOUND;
    int rc = pg_user_get_by_name(base, login_z, out, e);
    if (rc != STORE_NOT_FOUND)
        return rc;
    return pg_get_one(pg(base), by_email, fill_user, out, "user", e, "t", login_z);
}

int pg_user_list(struct store *base, const struct store_page *page, struct store_user_list *out,
                 struct err *e)
{
    static const char sql[] =
        "SELECT " USER_COLS("") " FROM users ORDER BY username COLLATE \"C\" LIMIT $1 OFFSET $2";
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_user_list_free(out);
    return pg_get_list(pg(base), sql, fill_user, sizeof(*out->v), (void **)&out->v, &out->n,
                       "users", e, "ii", limit, offset);
}

int pg_user_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM users WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "user", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- groups ----------------------------------------------------------------------- */

int pg_group_get_by_id(struct store *base, int64_t id, struct store_group *out, struct err *e)
{
    static const char sql[] = "SELECT " GROUP_COLS("") " FROM idp_groups WHERE id = $1";
    return pg_get_one(pg(base), sql, fill_group, out, "group", e, "i", id);
}

int pg_group_get_by_name(struct store *base, const char *name_z, struct store_group *out,
                         struct err *e)
{
    static const char sql[] = "SELECT " GROUP_COLS("") " FROM idp_groups WHERE name = $1";
    return pg_get_one(pg(base), sql, fill_group, out, "group", e, "t", name_z);
}

/* Inside an atomic section: the id of the group name_z into *id (0, STORE_NOT_FOUND or -1),
 * its row share-locked to the end of the transaction so that the group cannot be deleted
 * (by another node) before the memberships that name it are written. */
static int group_id_of(struct pg_store *s, const char *name_z, int64_t *id, struct err *e)
{
    static const char sql[] = "SELECT id FROM idp_groups WHERE name = $1 FOR KEY SHARE";
    return pg_get_int(s, sql, id, "group", e, "t", name_z);
}

/* One statement, so that two nodes creating the same group at once both succeed (the second
 * waits for the first's row, then updates it) where select-then-insert would fail one of them
 * on the unique name. xmax is 0 only in a row version that this statement inserted: an
 * ON CONFLICT update first locks the row, and the new version keeps that locker in xmax. */
static int group_write(struct pg_store *s, struct store_group *g, bool *created, struct err *e)
{
    static const char sql[] = "INSERT INTO idp_groups (name, attributes, created_at, updated_at) "
                              "VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO UPDATE SET "
                              "attributes = excluded.attributes, updated_at = excluded.updated_at "
                              "RETURNING id, created_at, (xmax = 0)::int";
    int64_t now = util_now();
    PGresult *r =
        pg_query(s, sql, "group", e, "tti", g->name, store_or_z(g->attributes, "{}"), now);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 1) {
        g->id = pg_col_int(r, 0, 0);
        g->created_at = pg_col_int(r, 0, 1);
        *created = pg_col_int(r, 0, 2) != 0;
        g->updated_at = now;
    } else {
        rc = err_set(e, STORE_E_INTERNAL, "group: upsert returned %d rows", PQntuples(r));
    }
    PQclear(r);
    return rc;
}

int pg_group_upsert(struct store *base, struct store_group *g, bool *created, struct err *e)
{
    /* A section although the write is one statement: inside the caller's transaction it is a
     * savepoint, so that a refused upsert does not abort the whole transaction. */
    struct pg_store *s = pg(base);
    bool own, c = false;
    if (pg_enter(s, &own, e) < 0)
        return -1;
    int rc = group_write(s, g, &c, e);
    if (pg_leave(s, own, rc == 0, e) < 0)
        return -1;
    if (created)
        *created = c;
    return 0;
}

int pg_group_list(struct store *base, const struct store_page *page, struct store_group_list *out,
                  struct err *e)
{
    static const char sql[] =
        "SELECT " GROUP_COLS("") " FROM idp_groups ORDER BY name COLLATE \"C\" LIMIT $1 OFFSET $2";
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_group_list_free(out);
    return pg_get_list(pg(base), sql, fill_group, sizeof(*out->v), (void **)&out->v, &out->n,
                       "groups", e, "ii", limit, offset);
}

int pg_group_delete(struct store *base, int64_t id, struct err *e)
{
    static const char sql[] = "DELETE FROM idp_groups WHERE id = $1";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "group", &n, e, "i", id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* ---- memberships ------------------------------------------------------------------ */

static const char sql_member_add[] =
    "INSERT INTO group_members (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

int pg_member_add(struct store *base, int64_t user_id, int64_t group_id, struct err *e)
{
    return pg_run(pg(base), sql_member_add, "group membership", NULL, e, "ii", user_id, group_id);
}

int pg_member_remove(struct store *base, int64_t user_id, int64_t group_id, struct err *e)
{
    static const char sql[] = "DELETE FROM group_members WHERE user_id = $1 AND group_id = $2";
    int64_t n = 0;
    if (pg_run(pg(base), sql, "group membership", &n, e, "ii", user_id, group_id) < 0)
        return -1;
    return n ? 0 : STORE_NOT_FOUND;
}

/* Inside an atomic section: resolves every name first, so an unknown one changes nothing.
 * The user's row is locked first: two nodes setting the groups of one user run one after the
 * other, so the result is one of the two lists, never their union (under READ COMMITTED the
 * second DELETE would not see the rows the first inserted). An unknown user locks nothing and
 * fails on the first membership, as in SQLite. */
static int set_groups(struct pg_store *s, int64_t user_id, const char *const *names, size_t n,
                      int64_t *ids, struct err *e)
{
    static const char lock_user[] = "SELECT id FROM users WHERE id = $1 FOR UPDATE";
    static const char clear[] = "DELETE FROM group_members WHERE user_id = $1";
    if (pg_run(s, lock_user, "group membership", NULL, e, "i", user_id) < 0)
        return -1;
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
    if (pg_run(s, clear, "group membership", NULL, e, "i", user_id) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (pg_run(s, sql_member_add, "group membership", NULL, e, "ii", user_id, ids[i]) < 0)
            return -1;
    return 0;
}

int pg_user_set_groups(struct store *base, int64_t user_id, const char *const *names, size_t n,
                       struct err *e)
{
    struct pg_store *s = pg(base);
    bool own;
    if (n > STORE_GROUPS_MAX)
        return err_set(e, STORE_E_TOO_BIG, "more than %d groups", STORE_GROUPS_MAX);
    int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
    int rc = pg_enter(s, &own, e);
    if (rc == 0) {
        rc = set_groups(s, user_id, names, n, ids, e);
        if (pg_leave(s, own, rc == 0, e) < 0 && rc == 0)
            rc = -1;
    }
    free(ids);
    return rc;
}

int pg_user_groups(struct store *base, int64_t user_id, struct store_group_list *out, struct err *e)
{
    static const char sql[] =
        "SELECT " GROUP_COLS("g.") " FROM idp_groups g "
                                   "JOIN group_members m ON m.group_id = g.id "
                                   "WHERE m.user_id = $1 ORDER BY g.name COLLATE \"C\" LIMIT $2";
    store_group_list_free(out);
    return pg_get_list(pg(base), sql, fill_group, sizeof(*out->v), (void **)&out->v, &out->n,
                       "groups", e, "ii", user_id, (int64_t)STORE_LIST_MAX);
}

int pg_group_members(struct store *base, int64_t group_id, const struct store_page *page,
                     struct store_user_list *out, struct err *e)
{
    static const char sql[] = "SELECT " USER_COLS(
        "u.") " FROM users u "
              "JOIN group_members m ON m.user_id = u.id "
              "WHERE m.group_id = $1 ORDER BY u.username COLLATE \"C\" LIMIT $2 OFFSET $3";
    int64_t limit, offset;
    store_page_bounds(page, &limit, &offset);
    store_user_list_free(out);
    return pg_get_list(pg(base), sql, fill_user, sizeof(*out->v), (void **)&out->v, &out->n,
                       "members", e, "iii", group_id, limit, offset);
}
