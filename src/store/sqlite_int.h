/*
 * Internals of the SQLite backend, shared by its files (sqlite.c: connection, schema, meta,
 * transactions; sqlite_users.c; sqlite_oauth.c; sqlite_grants.c; sqlite_audit.c;
 * sqlite_access.c and sqlite_access_grants.c: the access gateway).
 * Nothing outside src/store/ and tests/unit/store/ includes this.
 */
#ifndef POSTERN_STORE_SQLITE_INT_H
#define POSTERN_STORE_SQLITE_INT_H

#include "store/store_int.h"

#include <sqlite3.h>

/* Prepared statements are cached per connection, keyed by the address of their SQL text (a
 * static string next to the code that runs it). More slots than the backend has statements:
 * the cache never fills (a test runs every statement). */
#define SQ_STMT_SLOTS 256

struct sq_slot {
    const char *sql;
    sqlite3_stmt *st;
};

struct sqlite_store {
    struct store base; /* first: a struct store * is a struct sqlite_store * */
    sqlite3 *db;
    int64_t busy_since_us; /* when the current wait for the write lock began */
    struct sq_slot slot[SQ_STMT_SLOTS];
};

static inline struct sqlite_store *sq(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* The STORE_E_* code of an SQLite result code. */
int sq_errcode(int rc);
/* Sets e from an SQLite result code and the connection's message; returns -1. A constraint
 * failure gets a message that names the field ("username already exists"). */
int sq_fail(struct sqlite_store *s, int rc, const char *what, struct err *e);
/* The cached statement for sql (a static string), prepared on first use. */
sqlite3_stmt *sq_stmt(struct sqlite_store *s, const char *sql, struct err *e);
/* Leaves a cached statement ready for its next use. */
void sq_done(sqlite3_stmt *st);

/* Binds parameters 1..n from fmt, one letter each:
 *   i int64_t   I int64_t, 0 binds NULL   b bool (passed as int)
 *   t const char * (NULL binds "")        n const char *, NULL or "" binds NULL
 * Text longer than STORE_TEXT_MAX is refused (STORE_E_TOO_BIG, naming `what`). Strings are
 * bound without copy: they must live until the statement is reset. */
int sq_bind(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *e,
            const char *fmt, ...);
/* Steps a statement that returns no row, then resets it. */
int sq_exec(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct err *e);
/* sq_stmt + sq_bind + sq_exec; *changes (may be NULL) gets sqlite3_changes. */
int sq_run(struct sqlite_store *s, const char *sql, const char *what, int64_t *changes,
           struct err *e, const char *fmt, ...);

/* Column readers: text as an xmalloc'd string ("" for NULL); a digest into id[STORE_ID_SIZE]
 * ("" for NULL); an integer (0 for NULL). */
char *sq_col_str(sqlite3_stmt *st, int i);
void sq_col_id(sqlite3_stmt *st, int i, char id[STORE_ID_SIZE]);
int64_t sq_col_int(sqlite3_stmt *st, int i);

/* Fills a record from the current row (freeing what it held first). */
typedef void (*sq_fill_fn)(sqlite3_stmt *st, void *rec);
/* Steps a bound statement expected to give at most one row: 0 (out filled),
 * STORE_NOT_FOUND, or -1. Resets the statement. */
int sq_get_one(struct sqlite_store *s, sqlite3_stmt *st, sq_fill_fn fill, void *out,
               const char *what, struct err *e);
/* Steps a bound statement and collects every row into *v (xrealloc'd array of `size`-byte
 * records; *v and *n are replaced, the caller freed the old list). Resets the statement. */
int sq_get_list(struct sqlite_store *s, sqlite3_stmt *st, sq_fill_fn fill, size_t size, void **v,
                size_t *n, const char *what, struct err *e);

/* Atomic sections: a BEGIN IMMEDIATE transaction, or a savepoint when the caller already has
 * a transaction open (store_tx_begin). leave() commits / releases when ok, else rolls back. */
int sq_enter(struct sqlite_store *s, bool *own, struct err *e);
int sq_leave(struct sqlite_store *s, bool own, bool ok, struct err *e);

/* The operations, by file. */
/* sqlite_users.c */
int sq_user_create(struct store *s, struct store_user *u, struct err *e);
int sq_user_update(struct store *s, struct store_user *u, struct err *e);
int sq_user_set_password(struct store *s, int64_t user_id, const char *phc_z, struct err *e);
int sq_user_get_by_id(struct store *s, int64_t id, struct store_user *out, struct err *e);
int sq_user_get_by_name(struct store *s, const char *username_z, struct store_user *out,
                        struct err *e);
int sq_user_get_by_login(struct store *s, const char *login_z, struct store_user *out,
                         struct err *e);
int sq_user_list(struct store *s, const struct store_page *pg, struct store_user_list *out,
                 struct err *e);
int sq_user_delete(struct store *s, int64_t id, struct err *e);
int sq_group_upsert(struct store *s, struct store_group *g, bool *created, struct err *e);
int sq_group_get_by_id(struct store *s, int64_t id, struct store_group *out, struct err *e);
int sq_group_get_by_name(struct store *s, const char *name_z, struct store_group *out,
                         struct err *e);
int sq_group_list(struct store *s, const struct store_page *pg, struct store_group_list *out,
                  struct err *e);
int sq_group_delete(struct store *s, int64_t id, struct err *e);
int sq_member_add(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
int sq_member_remove(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
int sq_user_set_groups(struct store *s, int64_t user_id, const char *const *names, size_t n,
                       struct err *e);
int sq_user_groups(struct store *s, int64_t user_id, struct store_group_list *out, struct err *e);
int sq_group_members(struct store *s, int64_t group_id, const struct store_page *pg,
                     struct store_user_list *out, struct err *e);
/* sqlite_oauth.c */
int sq_keypair_insert_if_absent(struct store *s, const struct store_keypair *in,
                                struct store_keypair *out, bool *inserted, struct err *e);
int sq_keypair_get_by_name(struct store *s, const char *name_z, struct store_keypair *out,
                           struct err *e);
int sq_keypair_list(struct store *s, struct store_keypair_list *out, struct err *e);
int sq_keypair_delete(struct store *s, const char *name_z, struct err *e);
int sq_provider_upsert(struct store *s, struct store_provider *p, bool *created, struct err *e);
int sq_provider_get_by_id(struct store *s, int64_t id, struct store_provider *out, struct err *e);
int sq_provider_get_by_name(struct store *s, const char *name_z, struct store_provider *out,
                            struct err *e);
int sq_provider_get_by_client_id(struct store *s, const char *client_id_z,
                                 struct store_provider *out, struct err *e);
int sq_provider_list(struct store *s, const struct store_page *pg, struct store_provider_list *out,
                     struct err *e);
int sq_provider_delete(struct store *s, int64_t id, struct err *e);
int sq_app_upsert(struct store *s, struct store_app *a, bool *created, struct err *e);
int sq_app_get_by_id(struct store *s, int64_t id, struct store_app *out, struct err *e);
int sq_app_get_by_slug(struct store *s, const char *slug_z, struct store_app *out, struct err *e);
int sq_app_get_by_provider(struct store *s, int64_t provider_id, struct store_app *out,
                           struct err *e);
int sq_app_list(struct store *s, const struct store_page *pg, struct store_app_list *out,
                struct err *e);
int sq_app_delete(struct store *s, int64_t id, struct err *e);
int sq_app_bindings_set(struct store *s, int64_t app_id, const struct store_binding *v, size_t n,
                        struct err *e);
int sq_app_bindings(struct store *s, int64_t app_id, struct store_binding_list *out, struct err *e);
int sq_consent_get(struct store *s, int64_t user_id, int64_t provider_id, struct store_consent *out,
                   struct err *e);
int sq_consent_set(struct store *s, struct store_consent *c, struct err *e);
int sq_consent_delete(struct store *s, int64_t user_id, int64_t provider_id, struct err *e);
/* sqlite_grants.c */
int sq_session_create(struct store *s, const char *id_z, struct store_session *x, struct err *e);
int sq_session_get(struct store *s, const char *id_z, struct store_session *out, struct err *e);
int sq_session_touch(struct store *s, const char *id_z, int64_t expires_at, struct err *e);
int sq_session_delete(struct store *s, const char *id_z, struct err *e);
int sq_session_delete_user(struct store *s, int64_t user_id, int64_t *deleted, struct err *e);
int sq_code_create(struct store *s, const char *id_z, struct store_code *c, struct err *e);
int sq_code_take(struct store *s, const char *id_z, int64_t provider_id, struct store_code *out,
                 struct err *e);
int sq_token_insert(struct store *s, const char *id_z, struct store_token *t, struct err *e);
int sq_token_get(struct store *s, const char *id_z, struct store_token *out, struct err *e);
int sq_token_revoke(struct store *s, const char *id_z, struct err *e);
int sq_token_revoke_code(struct store *s, const char *code_id_z, int64_t *revoked, struct err *e);
int sq_token_revoke_family(struct store *s, const char *id_z, int64_t *revoked, struct err *e);
int sq_token_rotate(struct store *s, const char *old_id_z, const char *new_id_z,
                    int64_t provider_id, const char *scope_z, int64_t expires_at,
                    struct store_token *nt, struct store_token *old, struct err *e);
/* sqlite_audit.c */
int sq_attempt_fail(struct store *s, const char *key_z, const struct store_throttle *pol,
                    struct store_attempts *out, struct err *e);
int sq_attempt_get(struct store *s, const char *key_z, struct store_attempts *out, struct err *e);
int sq_attempt_reset(struct store *s, const char *key_z, struct err *e);
int sq_event_add(struct store *s, struct store_event *ev, struct err *e);
int sq_event_list(struct store *s, const char *action_z, const char *username_z,
                  const struct store_page *pg, struct store_event_list *out, struct err *e);
int sq_event_purge(struct store *s, int64_t before, int64_t *deleted, struct err *e);
int sq_purge(struct store *s, struct store_purged *out, struct err *e);
/* sqlite_access.c: the access gateway */
int sq_access_idp_upsert(struct store *s, struct store_access_idp *p, bool *created, struct err *e);
int sq_access_idp_get(struct store *s, const char *name_z, struct store_access_idp *out,
                      struct err *e);
int sq_access_idp_list(struct store *s, const struct store_page *pg,
                       struct store_access_idp_list *out, struct err *e);
int sq_access_idp_delete(struct store *s, const char *name_z, struct err *e);
int sq_access_app_upsert(struct store *s, struct store_access_app *a, bool *created, struct err *e);
int sq_access_app_get_by_name(struct store *s, const char *name_z, struct store_access_app *out,
                              struct err *e);
int sq_access_app_get_by_domain(struct store *s, const char *domain_z, struct store_access_app *out,
                                struct err *e);
int sq_access_app_get_by_aud(struct store *s, const char *aud_z, struct store_access_app *out,
                             struct err *e);
int sq_access_app_list(struct store *s, const struct store_page *pg,
                       struct store_access_app_list *out, struct err *e);
int sq_access_app_delete(struct store *s, const char *name_z, struct err *e);
int sq_service_token_create(struct store *s, struct store_service_token *t, const char *secret_id_z,
                            struct err *e);
int sq_service_token_verify(struct store *s, const char *client_id_z, const char *secret_id_z,
                            struct store_service_token *out, struct err *e);
int sq_service_token_list(struct store *s, const struct store_page *pg,
                          struct store_service_token_list *out, struct err *e);
int sq_service_token_delete(struct store *s, const char *name_z, struct err *e);
int sq_service_token_touch(struct store *s, int64_t id, struct err *e);
int sq_service_token_secret_hash(struct store *s, int64_t id, char out[STORE_ID_SIZE],
                                 struct err *e);
int sq_access_key_ensure(struct store *s, const char *keypair_name_z, struct store_access_key *out,
                         bool *inserted, struct err *e);
int sq_access_key_rotate(struct store *s, const char *keypair_name_z, int64_t grace_s,
                         int64_t if_current_id, struct store_access_key *out, bool *rotated,
                         struct err *e);
int sq_access_key_list(struct store *s, struct store_access_key_list *out, struct err *e);
/* sqlite_access_grants.c: the gateway's sessions, login states, one-time tokens */
int sq_access_session_create(struct store *s, const char *id_z, struct store_access_session *x,
                             struct err *e);
int sq_access_session_get(struct store *s, const char *id_z, struct store_access_session *out,
                          struct err *e);
int sq_access_session_revoke(struct store *s, const char *id_z, struct store_access_session *out,
                             struct err *e);
int sq_access_session_revoked_since(struct store *s, int64_t since, const char *after_id_z,
                                    struct store_access_revoked_list *out, struct err *e);
int sq_access_state_create(struct store *s, const char *id_z, const char *binding_id_z,
                           struct store_access_state *x, struct err *e);
int sq_access_state_take(struct store *s, const char *id_z, const char *binding_id_z,
                         struct store_access_state *out, struct err *e);
int sq_access_ticket_create(struct store *s, const char *id_z, struct store_access_ticket *x,
                            struct err *e);
int sq_access_ticket_take(struct store *s, const char *id_z, const char *aud_z,
                          struct store_access_ticket *out, struct err *e);
/* Inside sq_purge's atomic section: the gateway's expired rows. */
int sq_access_purge(struct sqlite_store *s, int64_t now, struct store_purged *p, struct err *e);
/* The revocation-list query, for the test that checks that it runs on its index. */
extern const char sq_access_revoked_sql[];

#endif
