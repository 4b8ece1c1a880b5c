/*
 * Internals of the PostgreSQL backend, shared by its files (pg.c: connection, schema, meta,
 * transactions; pg_util.c: statements, parameters, rows, errors, atomic sections; pg_users.c;
 * pg_oauth.c; pg_grants.c; pg_audit.c; pg_access.c and pg_access_grants.c: the gateway).
 * They mirror the SQLite backend file for file (sqlite_int.h), with the same semantics.
 *
 * One connection per thread, like SQLite's (store_thread): the worker pool is the connection
 * pool, and a query blocks its worker, never an event loop. Statements are prepared once per
 * connection and cached by the address of their SQL text. A connection that broke is reopened
 * before the next query, at most once per PG_RECONNECT_BACKOFF_MS: while the server is down,
 * calls fail at once with STORE_E_IO instead of each waiting for a connect timeout.
 * Nothing outside src/store/ and tests/unit/store/ includes this.
 */
#ifndef POSTERN_STORE_PG_INT_H
#define POSTERN_STORE_PG_INT_H

#include "store/store_int.h"

#include <libpq-fe.h>

/* More slots than the backend has statements: the cache never fills (a test runs each). */
#define PG_STMT_SLOTS 256
/* Parameters of one statement. */
#define PG_PARAMS_MAX 32
/* Between two attempts at reopening a broken connection. */
#define PG_RECONNECT_BACKOFF_MS 1000
/* connect_timeout unless the URL says otherwise (libpq's default is to wait forever). */
#define PG_CONNECT_TIMEOUT_S "5"
/* A statement that runs longer is cancelled by the server (a worker is never held forever). */
#define PG_STATEMENT_TIMEOUT_MS 30000

struct pg_slot {
    const char *sql; /* NULL: free */
    int nparams;     /* '$' parameters of the statement, counted when prepared */
};

struct pg_store {
    struct store base; /* first: a struct store * is a struct pg_store * */
    PGconn *conn;
    char *url;           /* kept to reconnect; wiped and freed on close */
    int depth;           /* 0: no transaction; 1: inside BEGIN; 2..: savepoints inside it */
    bool user_tx;        /* the transaction is store_tx_begin's */
    int64_t retry_at_ms; /* monotonic: no reconnect attempt before this */
    struct pg_slot slot[PG_STMT_SLOTS];
};

static inline struct pg_store *pg(struct store *s)
{
    return (struct pg_store *)s;
}

/* A new connection to url, set up for the backend (UTC, statement timeout); NULL with e set
 * (STORE_E_IO: the message says why, without the password). */
PGconn *pg_connect(const char *url, struct err *e);

/* Sets e from a failed result (r may be NULL: the connection's message) and returns -1.
 * SQLSTATE decides the code: 23xxx STORE_E_CONSTRAINT with the message the schema's
 * constraint stands for ("username already exists"); 40001/40P01/55P03 STORE_E_BUSY;
 * 08xxx, 57Pxx, 53xxx and a broken connection STORE_E_IO; 22xxx (a value the column
 * refuses) STORE_E_CONSTRAINT; anything else STORE_E_INTERNAL. */
int pg_fail(struct pg_store *s, const PGresult *r, const char *what, struct err *e);

/* Runs sql (a static string: its address keys the statement cache; parameters $1, $2...)
 * with parameters from fmt, one letter each, as in sq_bind:
 *   i int64_t   I int64_t, 0 sends NULL   b bool (passed as int), sent as 0 or 1
 *   t const char * (NULL sends "")        n const char *, NULL or "" sends NULL
 * Text longer than STORE_TEXT_MAX is refused (STORE_E_TOO_BIG, naming `what`), and text that
 * is not UTF-8 (the server would refuse it) STORE_E_CONSTRAINT "<what>: not valid UTF-8".
 * Returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it), or NULL with e set. */
PGresult *pg_query(struct pg_store *s, const char *sql, const char *what, struct err *e,
                   const char *fmt, ...);
/* pg_query for a statement whose rows are not read; *changes (may be NULL) gets the number of
 * rows it inserted, updated or deleted. */
int pg_run(struct pg_store *s, const char *sql, const char *what, int64_t *changes, struct err *e,
           const char *fmt, ...);

/* Fills a record from row `row` of r (freeing what the record held first). */
typedef void (*pg_fill_fn)(const PGresult *r, int row, void *rec);
/* Runs a query expected to give at most one row: 0 (out filled), STORE_NOT_FOUND, or -1. */
int pg_get_one(struct pg_store *s, const char *sql, pg_fill_fn fill, void *out, const char *what,
               struct err *e, const char *fmt, ...);
/* Runs a query and collects every row into *v (xrealloc'd array of `size`-byte zeroed
 * records; *v and *n are replaced, the caller freed the old list). */
int pg_get_list(struct pg_store *s, const char *sql, pg_fill_fn fill, size_t size, void **v,
                size_t *n, const char *what, struct err *e, const char *fmt, ...);
/* Runs a query that gives one integer in its first row and column: 0 (*out set),
 * STORE_NOT_FOUND when there is no row, or -1. A NULL reads as 0. */
int pg_get_int(struct pg_store *s, const char *sql, int64_t *out, const char *what, struct err *e,
               const char *fmt, ...);

/* Column readers: text as an xmalloc'd string ("" for NULL); a digest into id[STORE_ID_SIZE]
 * ("" for NULL or any other length); an integer (0 for NULL); whether it is NULL. */
char *pg_col_str(const PGresult *r, int row, int i);
void pg_col_id(const PGresult *r, int row, int i, char id[STORE_ID_SIZE]);
int64_t pg_col_int(const PGresult *r, int row, int i);
bool pg_col_null(const PGresult *r, int row, int i);

/* Atomic sections: a transaction (READ COMMITTED), or a savepoint when the caller already has
 * one open (store_tx_begin, or an outer section). leave() commits / releases when ok, else
 * rolls back, keeping the first error in e.
 * Unlike SQLite's BEGIN IMMEDIATE, beginning does not serialize writers: a section that reads
 * then writes must lock what it read (SELECT ... FOR UPDATE), be one statement
 * (UPDATE/DELETE ... RETURNING, INSERT ... ON CONFLICT), or take pg_lock first. */
int pg_enter(struct pg_store *s, bool *own, struct err *e);
int pg_leave(struct pg_store *s, bool own, bool ok, struct err *e);
/* Inside a section: waits for and holds, until the transaction ends, the lock named `name`
 * (pg_advisory_xact_lock on a 64-bit hash of it), so that sections taking the same lock run
 * one at a time across every node. */
int pg_lock(struct pg_store *s, const char *name, struct err *e);

/* The operations, by file (each pg_X is the PostgreSQL twin of sq_X in sqlite_int.h). */
/* pg_users.c */
int pg_user_create(struct store *s, struct store_user *u, struct err *e);
int pg_user_update(struct store *s, struct store_user *u, struct err *e);
int pg_user_set_password(struct store *s, int64_t user_id, const char *phc_z, struct err *e);
int pg_user_get_by_id(struct store *s, int64_t id, struct store_user *out, struct err *e);
int pg_user_get_by_name(struct store *s, const char *username_z, struct store_user *out,
                        struct err *e);
int pg_user_get_by_login(struct store *s, const char *login_z, struct store_user *out,
                         struct err *e);
int pg_user_list(struct store *s, const struct store_page *pg, struct store_user_list *out,
                 struct err *e);
int pg_user_delete(struct store *s, int64_t id, struct err *e);
int pg_group_upsert(struct store *s, struct store_group *g, bool *created, struct err *e);
int pg_group_get_by_id(struct store *s, int64_t id, struct store_group *out, struct err *e);
int pg_group_get_by_name(struct store *s, const char *name_z, struct store_group *out,
                         struct err *e);
int pg_group_list(struct store *s, const struct store_page *pg, struct store_group_list *out,
                  struct err *e);
int pg_group_delete(struct store *s, int64_t id, struct err *e);
int pg_member_add(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
int pg_member_remove(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
int pg_user_set_groups(struct store *s, int64_t user_id, const char *const *names, size_t n,
                       struct err *e);
int pg_user_groups(struct store *s, int64_t user_id, struct store_group_list *out, struct err *e);
int pg_group_members(struct store *s, int64_t group_id, const struct store_page *pg,
                     struct store_user_list *out, struct err *e);
/* pg_oauth.c */
int pg_keypair_insert_if_absent(struct store *s, const struct store_keypair *in,
                                struct store_keypair *out, bool *inserted, struct err *e);
int pg_keypair_get_by_name(struct store *s, const char *name_z, struct store_keypair *out,
                           struct err *e);
int pg_keypair_list(struct store *s, struct store_keypair_list *out, struct err *e);
int pg_keypair_delete(struct store *s, const char *name_z, struct err *e);
int pg_provider_upsert(struct store *s, struct store_provider *p, bool *created, struct err *e);
int pg_provider_get_by_id(struct store *s, int64_t id, struct store_provider *out, struct err *e);
int pg_provider_get_by_name(struct store *s, const char *name_z, struct store_provider *out,
                            struct err *e);
int pg_provider_get_by_client_id(struct store *s, const char *client_id_z,
                                 struct store_provider *out, struct err *e);
int pg_provider_list(struct store *s, const struct store_page *pg, struct store_provider_list *out,
                     struct err *e);
int pg_provider_delete(struct store *s, int64_t id, struct err *e);
int pg_app_upsert(struct store *s, struct store_app *a, bool *created, struct err *e);
int pg_app_get_by_id(struct store *s, int64_t id, struct store_app *out, struct err *e);
int pg_app_get_by_slug(struct store *s, const char *slug_z, struct store_app *out, struct err *e);
int pg_app_get_by_provider(struct store *s, int64_t provider_id, struct store_app *out,
                           struct err *e);
int pg_app_list(struct store *s, const struct store_page *pg, struct store_app_list *out,
                struct err *e);
int pg_app_delete(struct store *s, int64_t id, struct err *e);
int pg_app_bindings_set(struct store *s, int64_t app_id, const struct store_binding *v, size_t n,
                        struct err *e);
int pg_app_bindings(struct store *s, int64_t app_id, struct store_binding_list *out, struct err *e);
int pg_consent_get(struct store *s, int64_t user_id, int64_t provider_id, struct store_consent *out,
                   struct err *e);
int pg_consent_set(struct store *s, struct store_consent *c, struct err *e);
int pg_consent_delete(struct store *s, int64_t user_id, int64_t provider_id, struct err *e);
/* pg_grants.c */
int pg_session_create(struct store *s, const char *id_z, struct store_session *x, struct err *e);
int pg_session_get(struct store *s, const char *id_z, struct store_session *out, struct err *e);
int pg_session_touch(struct store *s, const char *id_z, int64_t expires_at, struct err *e);
int pg_session_delete(struct store *s, const char *id_z, struct err *e);
int pg_session_delete_user(struct store *s, int64_t user_id, int64_t *deleted, struct err *e);
int pg_code_create(struct store *s, const char *id_z, struct store_code *c, struct err *e);
int pg_code_take(struct store *s, const char *id_z, int64_t provider_id, struct store_code *out,
                 struct err *e);
int pg_token_insert(struct store *s, const char *id_z, struct store_token *t, struct err *e);
int pg_token_get(struct store *s, const char *id_z, struct store_token *out, struct err *e);
int pg_token_revoke(struct store *s, const char *id_z, struct err *e);
int pg_token_revoke_code(struct store *s, const char *code_id_z, int64_t *revoked, struct err *e);
int pg_token_revoke_family(struct store *s, const char *id_z, int64_t *revoked, struct err *e);
int pg_token_rotate(struct store *s, const char *old_id_z, const char *new_id_z,
                    int64_t provider_id, const char *scope_z, int64_t expires_at,
                    struct store_token *nt, struct store_token *old, struct err *e);
/* pg_audit.c */
int pg_attempt_fail(struct store *s, const char *key_z, const struct store_throttle *pol,
                    struct store_attempts *out, struct err *e);
int pg_attempt_get(struct store *s, const char *key_z, struct store_attempts *out, struct err *e);
int pg_attempt_reset(struct store *s, const char *key_z, struct err *e);
int pg_event_add(struct store *s, struct store_event *ev, struct err *e);
int pg_event_list(struct store *s, const char *action_z, const char *username_z,
                  const struct store_page *pg, struct store_event_list *out, struct err *e);
int pg_event_purge(struct store *s, int64_t before, int64_t *deleted, struct err *e);
int pg_purge(struct store *s, struct store_purged *out, struct err *e);
/* pg_access.c: the access gateway */
int pg_access_idp_upsert(struct store *s, struct store_access_idp *p, bool *created, struct err *e);
int pg_access_idp_get(struct store *s, const char *name_z, struct store_access_idp *out,
                      struct err *e);
int pg_access_idp_list(struct store *s, const struct store_page *pg,
                       struct store_access_idp_list *out, struct err *e);
int pg_access_idp_delete(struct store *s, const char *name_z, struct err *e);
int pg_access_app_upsert(struct store *s, struct store_access_app *a, bool *created, struct err *e);
int pg_access_app_get_by_name(struct store *s, const char *name_z, struct store_access_app *out,
                              struct err *e);
int pg_access_app_get_by_domain(struct store *s, const char *domain_z, struct store_access_app *out,
                                struct err *e);
int pg_access_app_get_by_aud(struct store *s, const char *aud_z, struct store_access_app *out,
                             struct err *e);
int pg_access_app_list(struct store *s, const struct store_page *pg,
                       struct store_access_app_list *out, struct err *e);
int pg_access_app_delete(struct store *s, const char *name_z, struct err *e);
int pg_service_token_create(struct store *s, struct store_service_token *t, const char *secret_id_z,
                            struct err *e);
int pg_service_token_verify(struct store *s, const char *client_id_z, const char *secret_id_z,
                            struct store_service_token *out, struct err *e);
int pg_service_token_list(struct store *s, const struct store_page *pg,
                          struct store_service_token_list *out, struct err *e);
int pg_service_token_delete(struct store *s, const char *name_z, struct err *e);
int pg_service_token_touch(struct store *s, int64_t id, struct err *e);
int pg_service_token_secret_hash(struct store *s, int64_t id, char out[STORE_ID_SIZE],
                                 struct err *e);
int pg_access_key_ensure(struct store *s, const char *keypair_name_z, struct store_access_key *out,
                         bool *inserted, struct err *e);
int pg_access_key_rotate(struct store *s, const char *keypair_name_z, int64_t grace_s,
                         int64_t if_current_id, struct store_access_key *out, bool *rotated,
                         struct err *e);
int pg_access_key_list(struct store *s, struct store_access_key_list *out, struct err *e);
/* pg_access_grants.c: the gateway's sessions, login states, one-time tokens */
int pg_access_session_create(struct store *s, const char *id_z, struct store_access_session *x,
                             struct err *e);
int pg_access_session_get(struct store *s, const char *id_z, struct store_access_session *out,
                          struct err *e);
int pg_access_session_revoke(struct store *s, const char *id_z, struct store_access_session *out,
                             struct err *e);
int pg_access_session_revoked_since(struct store *s, int64_t since, const char *after_id_z,
                                    struct store_access_revoked_list *out, struct err *e);
int pg_access_state_create(struct store *s, const char *id_z, const char *binding_id_z,
                           struct store_access_state *x, struct err *e);
int pg_access_state_take(struct store *s, const char *id_z, const char *binding_id_z,
                         struct store_access_state *out, struct err *e);
int pg_access_ticket_create(struct store *s, const char *id_z, struct store_access_ticket *x,
                            struct err *e);
int pg_access_ticket_take(struct store *s, const char *id_z, const char *aud_z,
                          struct store_access_ticket *out, struct err *e);
/* Inside pg_purge's atomic section: the gateway's expired rows. */
int pg_access_purge(struct pg_store *s, int64_t now, struct store_purged *p, struct err *e);

#endif
