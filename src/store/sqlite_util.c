/*
 * SQLite backend helpers: the statement cache, typed binding, row readers, atomic sections
 * and error messages that name the field a constraint protects.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

int sq_errcode(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_E_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_E_CONSTRAINT;
    case SQLITE_TOOBIG:
        return STORE_E_TOO_BIG;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return STORE_E_IO;
    default:
        return STORE_E_INTERNAL;
    }
}

/* SQLite names a unique violation by table.column (or index); say it in the field's words.
 * CHECK constraints need no table: the schema names each one with its message. */
static const struct {
    const char *sqlite;
    const char *msg;
} unique_msgs[] = {
    {"users.username", "username already exists"},
    {"users.email", "email already used by another user"},
    {"index 'users_email'", "email already used by another user"},
    {"users.uuid", "uuid already used by another user"},
    {"users.id", "id already used by another user"},
    {"idp_groups.name", "group name already exists"},
    {"certificate_keypairs.name", "certificate-key pair name already exists"},
    {"certificate_keypairs.kid", "kid already used by another certificate-key pair"},
    {"oauth2_providers.name", "provider name already exists"},
    {"oauth2_providers.client_id", "client_id already used by another provider"},
    {"applications.slug", "slug already exists"},
    {"applications.provider_id", "provider already used by another application"},
    {"idp_sessions.id", "session already exists"},
    {"oauth2_codes.id", "authorization code already exists"},
    {"oauth2_tokens.id", "token already exists"},
    /* the access gateway */
    {"access_idps.name", "identity provider name already exists"},
    {"access_apps.name", "application name already exists"},
    {"access_apps.domain", "domain already used by another application"},
    {"access_apps.aud", "aud already used by another application"},
    {"access_service_tokens.name", "service token name already exists"},
    {"access_service_tokens.client_id", "client_id already used by another service token"},
    {"access_keys.keypair_name", "keypair_name already used by a gateway signing key"},
    {"access_keys.retired_at", "there is already a current gateway signing key"},
    {"access_sessions.id", "gateway session already exists"},
    {"access_states.id", "login state already exists"},
    {"access_tickets.id", "one-time token already exists"},
};

static int constraint_fail(struct sqlite_store *s, int rc, const char *what, struct err *e)
{
    const char *m = sqlite3_errmsg(s->db);
    static const char unique[] = "UNIQUE constraint failed: ";
    static const char check[] = "CHECK constraint failed: ";
    if (strncmp(m, unique, sizeof(unique) - 1) == 0) {
        const char *col = m + sizeof(unique) - 1;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(unique_msgs); i++)
            if (strcmp(col, unique_msgs[i].sqlite) == 0)
                return err_set(e, STORE_E_CONSTRAINT, "%s", unique_msgs[i].msg);
    }
    if (strncmp(m, check, sizeof(check) - 1) == 0)
        return err_set(e, STORE_E_CONSTRAINT, "%s", m + sizeof(check) - 1);
    if ((rc & 0xffff) == SQLITE_CONSTRAINT_FOREIGNKEY)
        return err_set(e, STORE_E_CONSTRAINT, "%s: refers to something that does not exist", what);
    return err_set(e, STORE_E_CONSTRAINT, "%s: %s", what, m);
}

int sq_fail(struct sqlite_store *s, int rc, const char *what, struct err *e)
{
    if (s->db && (rc & 0xff) == SQLITE_CONSTRAINT)
        return constraint_fail(s, rc, what, e);
    return err_set(e, sq_errcode(rc), "sqlite: %s: %s", what,
                   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* ---- statements ---------------------------------------------------------- */

sqlite3_stmt *sq_stmt(struct sqlite_store *s, const char *sql, struct err *e)
{
    size_t h = ((uintptr_t)sql >> 3) % SQ_STMT_SLOTS;
    for (size_t k = 0; k < SQ_STMT_SLOTS; k++) {
        struct sq_slot *slot = &s->slot[(h + k) % SQ_STMT_SLOTS];
        if (slot->sql == sql)
            return slot->st;
        if (slot->sql)
            continue;
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st, NULL);
        if (rc != SQLITE_OK) {
            slot->st = NULL;
            sq_fail(s, rc, "prepare", e);
            return NULL;
        }
        slot->sql = sql;
        return slot->st;
    }
    err_set(e, STORE_E_INTERNAL, "sqlite: statement cache full (raise SQ_STMT_SLOTS)");
    return NULL;
}

void sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int bind_text(struct sqlite_store *s, sqlite3_stmt *st, int i, const char *z, bool null,
                     const char *what, struct err *e)
{
    int rc;
    if (!z || (null && !z[0])) {
        rc = null ? sqlite3_bind_null(st, i) : sqlite3_bind_text(st, i, "", 0, SQLITE_STATIC);
    } else {
        size_t n = strlen(z);
        if (n > STORE_TEXT_MAX)
            return err_set(e, STORE_E_TOO_BIG, "%s: a value is longer than %d bytes", what,
                           STORE_TEXT_MAX);
        rc = sqlite3_bind_text(st, i, z, (int)n, SQLITE_STATIC);
    }
    return rc == SQLITE_OK ? 0 : sq_fail(s, rc, what, e);
}

static int bind_v(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *e,
                  const char *fmt, va_list ap)
{
    /* A format that does not match the statement is a programming error: caught by the
     * first test that runs the statement, before a va_arg could read past the arguments. */
    if (strlen(fmt) != (size_t)sqlite3_bind_parameter_count(st))
        return err_set(e, STORE_E_INTERNAL, "%s: %zu parameters bound, the statement has %d", what,
                       strlen(fmt), sqlite3_bind_parameter_count(st));
    for (int i = 1; *fmt; fmt++, i++) {
        int rc = SQLITE_OK;
        int64_t v;
        switch (*fmt) {
        case 'i':
            rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'I':
            v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
            break;
        case 'b':
            rc = sqlite3_bind_int(st, i, va_arg(ap, int) ? 1 : 0);
            break;
        case 't':
        case 'n':
            if (bind_text(s, st, i, va_arg(ap, const char *), *fmt == 'n', what, e) < 0)
                return -1;
            break;
        default:
            return err_set(e, STORE_E_INTERNAL, "%s: bad bind format '%c'", what, *fmt);
        }
        if (rc != SQLITE_OK)
            return sq_fail(s, rc, what, e);
    }
    return 0;
}

int sq_bind(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *e,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_v(s, st, what, e, fmt, ap);
    va_end(ap);
    if (rc < 0)
        sq_done(st);
    return rc;
}

int sq_exec(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : sq_fail(s, rc, what, e);
    sq_done(st);
    return ret;
}

int sq_run(struct sqlite_store *s, const char *sql, const char *what, int64_t *changes,
           struct err *e, const char *fmt, ...)
{
    sqlite3_stmt *st = sq_stmt(s, sql, e);
    if (!st)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_v(s, st, what, e, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        sq_done(st);
        return -1;
    }
    if (sq_exec(s, st, what, e) < 0)
        return -1;
    if (changes)
        *changes = sqlite3_changes64(s->db);
    return 0;
}

/* ---- rows -------------------------------------------------------------------- */

char *sq_col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (!t)
        return xstrdup("");
    return xstrndup((const char *)t, (size_t)n);
}

void sq_col_id(sqlite3_stmt *st, int i, char id[STORE_ID_SIZE])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    id[0] = '\0';
    if (t && n == STORE_ID_SIZE - 1) {
        memcpy(id, t, STORE_ID_SIZE - 1);
        id[STORE_ID_SIZE - 1] = '\0';
    }
}

int64_t sq_col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

int sq_get_one(struct sqlite_store *s, sqlite3_stmt *st, sq_fill_fn fill, void *out,
               const char *what, struct err *e)
{
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        fill(st, out);
    else if (rc == SQLITE_DONE)
        ret = STORE_NOT_FOUND;
    else
        ret = sq_fail(s, rc, what, e);
    sq_done(st);
    return ret;
}

int sq_get_list(struct sqlite_store *s, sqlite3_stmt *st, sq_fill_fn fill, size_t size, void **v,
                size_t *n, const char *what, struct err *e)
{
    char *arr = NULL;
    size_t cnt = 0, alloc = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == alloc) {
            alloc = alloc ? alloc * 2 : 8;
            arr = xrealloc(arr, alloc * size);
        }
        memset(arr + cnt * size, 0, size);
        fill(st, arr + cnt * size);
        cnt++;
    }
    sq_done(st);
    *v = arr;
    *n = cnt;
    /* On error the rows read so far are handed over anyway: the caller's list_free frees
     * them, and an error path allocates nothing more. */
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, what, e);
    return 0;
}

/* ---- atomic sections ------------------------------------------------------------ */

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_savepoint[] = "SAVEPOINT sq_atomic";
static const char sql_release[] = "RELEASE sq_atomic";
static const char sql_rollback_to[] = "ROLLBACK TO sq_atomic";

int sq_enter(struct sqlite_store *s, bool *own, struct err *e)
{
    /* Outside a transaction: BEGIN IMMEDIATE takes the write lock first, so a section that
     * reads then writes never fails half-way on a lock upgrade (SQLITE_BUSY_SNAPSHOT). */
    *own = sqlite3_get_autocommit(s->db) != 0;
    return sq_run(s, *own ? sql_begin : sql_savepoint, "begin", NULL, e, "");
}

int sq_leave(struct sqlite_store *s, bool own, bool ok, struct err *e)
{
    if (ok) {
        if (sq_run(s, own ? sql_commit : sql_release, "commit", NULL, e, "") == 0)
            return 0;
        /* fall through: undo what the failed commit left */
    }
    /* Rolling back keeps the earlier error in e: a second message would hide the cause. */
    if (own) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, sql_rollback, NULL, NULL, NULL);
    } else {
        sqlite3_exec(s->db, sql_rollback_to, NULL, NULL, NULL);
        sqlite3_exec(s->db, sql_release, NULL, NULL, NULL);
    }
    return -1;
}
