/*
 * PostgreSQL backend helpers: the connection kept usable, the statement cache, typed
 * parameters, row readers, atomic sections and error messages that name the field a
 * constraint protects.
 */
#include "store/pg_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A statement's name on the connection: "p" and its slot number. */
#define PG_STMT_NAME_SIZE 16
/* Room for an int64_t in decimal, its sign and the NUL. */
#define PG_INT_SIZE 24

/* ---- errors ------------------------------------------------------------------- */

/* PostgreSQL names a unique violation by its constraint or index (the default names are
 * table_column_key); say it in the field's words, the same as the SQLite backend. CHECK
 * constraints are named by their message in the schema, except where that would pass
 * NAMEDATALEN (63 bytes). */
static const struct {
    const char *name;
    const char *msg;
} constraint_msgs[] = {
    {"users_username_key", "username already exists"},
    {"users_email", "email already used by another user"},
    {"users_uuid_key", "uuid already used by another user"},
    {"users_pkey", "id already used by another user"},
    {"idp_groups_name_key", "group name already exists"},
    {"certificate_keypairs_name_key", "certificate-key pair name already exists"},
    {"certificate_keypairs_kid_key", "kid already used by another certificate-key pair"},
    {"oauth2_providers_name_key", "provider name already exists"},
    {"oauth2_providers_client_id_key", "client_id already used by another provider"},
    {"applications_slug_key", "slug already exists"},
    {"applications_provider_id_key", "provider already used by another application"},
    {"applications_slug_check", "slug must not be empty or one of authorize token device "
                                "userinfo introspect revoke"},
    {"idp_sessions_pkey", "session already exists"},
    {"oauth2_codes_pkey", "authorization code already exists"},
    {"oauth2_tokens_pkey", "token already exists"},
    {"access_idps_name_key", "identity provider name already exists"},
    {"access_apps_name_key", "application name already exists"},
    {"access_apps_domain_key", "domain already used by another application"},
    {"access_apps_aud_key", "aud already used by another application"},
    {"access_service_tokens_name_key", "service token name already exists"},
    {"access_service_tokens_client_id_key", "client_id already used by another service token"},
    {"access_keys_keypair_name_key", "keypair_name already used by a gateway signing key"},
    {"access_keys_current", "there is already a current gateway signing key"},
    {"access_sessions_pkey", "gateway session already exists"},
    {"access_states_pkey", "login state already exists"},
    {"access_tickets_pkey", "one-time token already exists"},
};

static int constraint_fail(const PGresult *r, const char *state, const char *what,
                           struct err *e)
{
    const char *name = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    if (name) {
        for (size_t i = 0; i < UTIL_ARRAY_LEN(constraint_msgs); i++)
            if (strcmp(name, constraint_msgs[i].name) == 0)
                return err_set(e, STORE_E_CONSTRAINT, "%s", constraint_msgs[i].msg);
    }
    if (strcmp(state, "23514") == 0 && name) /* check_violation: named by its message */
        return err_set(e, STORE_E_CONSTRAINT, "%s", name);
    if (strcmp(state, "23503") == 0)
        return err_set(e, STORE_E_CONSTRAINT, "%s: refers to something that does not exist", what);
    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return err_set(e, STORE_E_CONSTRAINT, "%s: %s", what, m ? m : "constraint failed");
}

/* The STORE_E_* code of an SQLSTATE (PostgreSQL manual, appendix A). */
static int state_code(const char *state)
{
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
        return STORE_E_BUSY;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
        return STORE_E_IO;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return STORE_E_CONSTRAINT;
    if (strcmp(state, "57014") == 0) /* query_canceled: the statement timeout */
        return STORE_E_BUSY;
    return STORE_E_INTERNAL;
}

/* The first line of the connection's message (libpq ends it with a newline). */
static void conn_message(const PGconn *c, char *out, size_t size)
{
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strcspn(m, "\n");
    snprintf(out, size, "%.*s", (int)UTIL_MIN(n, size - 1), m);
}

int pg_fail(struct pg_store *s, const PGresult *r, const char *what, struct err *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strncmp(state, "23", 2) == 0)
        return constraint_fail(r, state, what, e);
    if (!state || !s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        char m[256];
        conn_message(s->conn, m, sizeof(m));
        return err_set(e, STORE_E_IO, "postgres: %s: %s", what,
                       m[0] ? m : "the connection to the server was lost");
    }
    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return err_set(e, state_code(state), "postgres: %s: %s (SQLSTATE %s)", what,
                   m ? m : "failed", state);
}

/* ---- the connection ----------------------------------------------------------- */

static void forget_statements(struct pg_store *s)
{
    for (size_t i = 0; i < PG_STMT_SLOTS; i++)
        s->slot[i] = (struct pg_slot){0};
}

/* A usable connection, reopened when it broke (prepared statements went with it). Inside a
 * transaction a broken connection is an error: what the transaction did is lost. */
static int ready(struct pg_store *s, struct err *e)
{
    /* A server restart ends idle sessions with a message on the socket: reading it (one
     * non-blocking recv) finds such a connection dead before a statement fails on it. */
    if (s->conn && s->depth == 0 && PQstatus(s->conn) == CONNECTION_OK)
        PQconsumeInput(s->conn);
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) {
        if (s->depth > 0 && PQtransactionStatus(s->conn) == PQTRANS_INERROR)
            return err_set(e, STORE_E_STATE, "postgres: a call failed earlier in this "
                                             "transaction: roll it back");
        return 0;
    }
    if (s->depth > 0)
        return err_set(e, STORE_E_IO, "postgres: the connection was lost inside a transaction");
    int64_t now = util_mono_ms();
    if (now < s->retry_at_ms)
        return err_set(e, STORE_E_IO, "postgres: the server is unreachable (retrying)");
    forget_statements(s);
    struct err ce = {0};
    PGconn *c = pg_connect(s->url, &ce);
    if (!c) {
        s->retry_at_ms = now + PG_RECONNECT_BACKOFF_MS;
        return err_set(e, ce.code, "%s", ce.msg);
    }
    PQfinish(s->conn);
    s->conn = c;
    log_info("store: reconnected to PostgreSQL");
    return 0;
}

/* The statement of sql, prepared on this connection on first use. */
static struct pg_slot *stmt(struct pg_store *s, const char *sql, char name[PG_STMT_NAME_SIZE],
                            struct err *e)
{
    size_t h = ((uintptr_t)sql >> 3) % PG_STMT_SLOTS;
    for (size_t k = 0; k < PG_STMT_SLOTS; k++) {
        size_t i = (h + k) % PG_STMT_SLOTS;
        struct pg_slot *slot = &s->slot[i];
        snprintf(name, PG_STMT_NAME_SIZE, "p%zu", i);
        if (slot->sql == sql)
            return slot;
        if (slot->sql)
            continue;
        PGresult *r = PQprepare(s->conn, name, sql, 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (ok) {
            PQclear(r);
            r = PQdescribePrepared(s->conn, name);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        }
        if (!ok) {
            pg_fail(s, r, "prepare", e);
            PQclear(r);
            return NULL;
        }
        slot->nparams = PQnparams(r);
        slot->sql = sql;
        PQclear(r);
        return slot;
    }
    err_set(e, STORE_E_INTERNAL, "postgres: statement cache full (raise PG_STMT_SLOTS)");
    return NULL;
}

/* ---- parameters ----------------------------------------------------------------- */

struct params {
    int n;
    const char *v[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][PG_INT_SIZE];
};

static int param_text(struct params *p, const char *z, bool null, const char *what,
                      struct err *e)
{
    if (!z || (null && !z[0])) {
        p->v[p->n] = null ? NULL : "";
        return 0;
    }
    size_t n = strlen(z);
    if (n > STORE_TEXT_MAX)
        return err_set(e, STORE_E_TOO_BIG, "%s: a value is longer than %d bytes", what,
                       STORE_TEXT_MAX);
    if (!slice_utf8_valid((struct slice){z, n}))
        return err_set(e, STORE_E_CONSTRAINT, "%s: not valid UTF-8", what);
    p->v[p->n] = z;
    return 0;
}

static int params_from(struct params *p, const char *what, struct err *e, const char *fmt,
                       va_list ap)
{
    p->n = 0;
    for (; *fmt; fmt++, p->n++) {
        if (p->n == PG_PARAMS_MAX)
            return err_set(e, STORE_E_INTERNAL, "%s: more than %d parameters", what,
                           PG_PARAMS_MAX);
        int64_t v;
        switch (*fmt) {
        case 'i':
        case 'I':
            v = va_arg(ap, int64_t);
            snprintf(p->num[p->n], PG_INT_SIZE, "%" PRId64, v);
            p->v[p->n] = *fmt == 'I' && v == 0 ? NULL : p->num[p->n];
            break;
        case 'b':
            p->v[p->n] = va_arg(ap, int) ? "1" : "0";
            break;
        case 't':
        case 'n':
            if (param_text(p, va_arg(ap, const char *), *fmt == 'n', what, e) < 0)
                return -1;
            break;
        default:
            return err_set(e, STORE_E_INTERNAL, "%s: bad parameter format '%c'", what, *fmt);
        }
    }
    return 0;
}

static PGresult *query_v(struct pg_store *s, const char *sql, const char *what, struct err *e,
                         const char *fmt, va_list ap)
{
    struct params p;
    char name[PG_STMT_NAME_SIZE];
    if (params_from(&p, what, e, fmt, ap) < 0 || ready(s, e) < 0)
        return NULL;
    struct pg_slot *slot = stmt(s, sql, name, e);
    if (!slot)
        return NULL;
    /* A format that does not match the statement is a programming error, caught by the first
     * test that runs the statement. */
    if (slot->nparams != p.n) {
        err_set(e, STORE_E_INTERNAL, "%s: %d parameters given, the statement has %d", what, p.n,
                slot->nparams);
        return NULL;
    }
    PGresult *r = PQexecPrepared(s->conn, name, p.n, p.v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    pg_fail(s, r, what, e);
    PQclear(r);
    return NULL;
}

PGresult *pg_query(struct pg_store *s, const char *sql, const char *what, struct err *e,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_v(s, sql, what, e, fmt, ap);
    va_end(ap);
    return r;
}

static int64_t changed(const PGresult *r)
{
    const char *t = PQcmdTuples((PGresult *)r);
    uint64_t n = 0;
    if (t[0] && util_parse_u64(slice_z(t), INT64_MAX, &n) < 0)
        n = 0;
    return (int64_t)n;
}

int pg_run(struct pg_store *s, const char *sql, const char *what, int64_t *changes, struct err *e,
           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_v(s, sql, what, e, fmt, ap);
    va_end(ap);
    if (!r)
        return -1;
    if (changes)
        *changes = changed(r);
    PQclear(r);
    return 0;
}

/* ---- rows ------------------------------------------------------------------------- */

int pg_get_one(struct pg_store *s, const char *sql, pg_fill_fn fill, void *out, const char *what,
               struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_v(s, sql, what, e, fmt, ap);
    va_end(ap);
    if (!r)
        return -1;
    int ret = STORE_NOT_FOUND;
    if (PQntuples(r) > 0) {
        fill(r, 0, out);
        ret = 0;
    }
    PQclear(r);
    return ret;
}

int pg_get_list(struct pg_store *s, const char *sql, pg_fill_fn fill, size_t size, void **v,
                size_t *n, const char *what, struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_v(s, sql, what, e, fmt, ap);
    va_end(ap);
    *v = NULL;
    *n = 0;
    if (!r)
        return -1;
    size_t cnt = (size_t)PQntuples(r);
    char *arr = cnt ? xcalloc(cnt, size) : NULL;
    for (size_t i = 0; i < cnt; i++)
        fill(r, (int)i, arr + i * size);
    PQclear(r);
    *v = arr;
    *n = cnt;
    return 0;
}

int pg_get_int(struct pg_store *s, const char *sql, int64_t *out, const char *what,
               struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_v(s, sql, what, e, fmt, ap);
    va_end(ap);
    if (!r)
        return -1;
    int ret = STORE_NOT_FOUND;
    if (PQntuples(r) > 0 && PQnfields(r) > 0) {
        *out = pg_col_int(r, 0, 0);
        ret = 0;
    }
    PQclear(r);
    return ret;
}

char *pg_col_str(const PGresult *r, int row, int i)
{
    if (PQgetisnull(r, row, i))
        return xstrdup("");
    return xstrndup(PQgetvalue(r, row, i), (size_t)PQgetlength(r, row, i));
}

void pg_col_id(const PGresult *r, int row, int i, char id[STORE_ID_SIZE])
{
    id[0] = '\0';
    if (!PQgetisnull(r, row, i) && PQgetlength(r, row, i) == STORE_ID_SIZE - 1) {
        memcpy(id, PQgetvalue(r, row, i), STORE_ID_SIZE - 1);
        id[STORE_ID_SIZE - 1] = '\0';
    }
}

int64_t pg_col_int(const PGresult *r, int row, int i)
{
    if (PQgetisnull(r, row, i))
        return 0;
    const char *t = PQgetvalue(r, row, i);
    bool neg = t[0] == '-';
    uint64_t v = 0;
    /* Columns are BIGINT: the server never sends anything else. */
    if (util_parse_u64(slice_z(t + neg), (uint64_t)INT64_MAX + neg, &v) < 0)
        return 0;
    return neg ? (int64_t)(0 - v) : (int64_t)v;
}

bool pg_col_null(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) != 0;
}

/* ---- atomic sections ---------------------------------------------------------------- */

static const char sql_begin[] = "BEGIN";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_savepoint[] = "SAVEPOINT pg_atomic";
static const char sql_release[] = "RELEASE SAVEPOINT pg_atomic";
static const char sql_rollback_to[] = "ROLLBACK TO SAVEPOINT pg_atomic";
static const char sql_lock[] = "SELECT pg_advisory_xact_lock($1::bigint)";

/* Runs a statement whose failure is only logged (undoing after an earlier error). */
static void quiet(struct pg_store *s, const char *sql)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, sql));
}

int pg_enter(struct pg_store *s, bool *own, struct err *e)
{
    *own = s->depth == 0;
    if (pg_run(s, *own ? sql_begin : sql_savepoint, "begin", NULL, e, "") < 0)
        return -1;
    s->depth++;
    return 0;
}

/* Whether the transaction can still commit. Checked before COMMIT because the server answers
 * a COMMIT of a failed transaction with a rollback that reports success, and because after a
 * lost connection ready() would reconnect and "commit" on a new session that has none. */
static int can_commit(struct pg_store *s, struct err *e)
{
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return err_set(e, STORE_E_IO, "postgres: the connection was lost inside a transaction, "
                                      "which the server rolled back");
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        return err_set(e, STORE_E_STATE, "postgres: commit of a transaction in which a call "
                                         "failed: rolled back");
    return 0;
}

int pg_leave(struct pg_store *s, bool own, bool ok, struct err *e)
{
    /* COMMIT runs while depth still counts the transaction: should the connection be found
     * dead at that moment, ready() reports it instead of reconnecting for a COMMIT that a new
     * session would answer with success. */
    if (ok && can_commit(s, e) == 0 &&
        pg_run(s, own ? sql_commit : sql_release, "commit", NULL, e, "") == 0) {
        s->depth--;
        return 0;
    }
    s->depth--;
    /* Rolling back keeps the earlier error in e: a second message would hide the cause. A
     * savepoint is released after its rollback, as SQLite's are. */
    if (own) {
        quiet(s, sql_rollback);
    } else {
        quiet(s, sql_rollback_to);
        quiet(s, sql_release);
    }
    return -1;
}

/* FNV-1a, 64 bits: a stable number for a lock name on every node. */
static int64_t lock_key(const char *name)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)h;
}

int pg_lock(struct pg_store *s, const char *name, struct err *e)
{
    if (s->depth == 0)
        return err_set(e, STORE_E_STATE, "postgres: lock %s outside a transaction", name);
    return pg_run(s, sql_lock, "lock", NULL, e, "i", lock_key(name));
}
