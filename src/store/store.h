/*
 * store: the one place that holds Postern's persistent state. Callers see a const table of
 * functions (STYLE habits 8 and 9): every query lives inside a backend, in that backend's
 * dialect. Backends: SQLite (embedded default, src/store/sqlite*.c); PostgreSQL comes later
 * behind the same table.
 *
 * A `struct store` is one database connection and is NOT thread-safe: open one per thread
 * (SQLite's "one connection per thread"; a PostgreSQL connection is the same), or let
 * store_thread() do it. Connections of several threads or processes may share one database
 * at the same time.
 *
 * Return values: 0 on success, -1 on error (detail in the struct err, whose code is one of
 * STORE_E_*), and a positive STORE_NOT_FOUND / STORE_EXPIRED / STORE_REUSED / STORE_REVOKED
 * where a function says so.
 *
 * Records. Every `struct store_x` filled by the store owns its strings (xmalloc'd) and is
 * released with store_x_free(), which frees the members (not the struct itself, which is
 * usually on the caller's stack), wipes the secret ones and leaves the struct zeroed; freeing
 * a zeroed struct is fine. Strings filled by the store are never NULL: an absent value is "".
 * A function that fills a record first frees what it held (so a record can be reused in a
 * loop); give it a zeroed struct the first time. Records passed as input are only read
 * (NULL strings read as ""), except the fields that a function says it sets (id, uuid,
 * created_at...), which are plain values, never pointers.
 *
 * Secrets and hashing. A raw token (IdP session cookie, authorization code, refresh token,
 * access-token jti) never reaches the database: parameters named `token`/`code`/`key` take the
 * raw value and the store keeps its SHA-256, as 64 lower-case hex digits, which becomes the
 * record's `id` (char[STORE_ID_SIZE]). That digest is a handle, not a secret: functions that
 * take an `*_id_z` string expect it as found in a record (session_id, code_id, parent_id). So
 * no caller hashes anything and no caller can forget to. Stored as given, and wiped when a
 * record is freed: client_secret (the CLI must print it back), key_pem. password_hash is a
 * PHC string made by the caller (libsodium argon2id); the store never sees a password.
 *
 * Time: the store stamps created_at / updated_at / used_at... with util_now() (tests set
 * util_set_fake_now()); "expired" means expires_at <= util_now(). Timestamps are seconds
 * since the epoch; 0 means "not set" (e.g. revoked_at == 0: not revoked).
 *
 * Transactions: functions that must be atomic (code_take, token_rotate, user_set_groups,
 * app_bindings_set, keypair_insert_if_absent...) run in their own transaction, or in a
 * savepoint when the caller has one open with store_tx_begin(); so a caller may wrap several
 * calls (a whole `postern apply`) in one transaction.
 *
 * Constraint errors (STORE_E_CONSTRAINT) name the field: "username already exists",
 * "email already used by another user", "signing_key: no certificate-key pair named ...".
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include "util/util.h"

/* Positive results (never errors): the caller decides what they mean for the protocol. */
#define STORE_NOT_FOUND 1 /* no such row, or (where documented) an expired one */
#define STORE_EXPIRED   2 /* the row exists but expires_at has passed */
#define STORE_REUSED    3 /* a single-use value presented again (code, rotated refresh token) */
#define STORE_REVOKED   4 /* the grant was revoked meanwhile: nothing was written */

/* struct err.code values set by the store. */
enum store_errcode {
    STORE_E_INTERNAL = 1, /* a query failed; the message says which and why */
    STORE_E_IO,           /* the file or the server cannot be reached or written */
    STORE_E_BUSY,         /* another writer held the database past the busy timeout */
    STORE_E_CONSTRAINT,   /* a unique / foreign key / check constraint refused a write */
    STORE_E_SCHEMA_NEWER, /* the database was migrated by a newer postern */
    STORE_E_UNSUPPORTED,  /* unknown URL scheme, or a backend that is not built */
    STORE_E_STATE,        /* e.g. tx_begin inside a transaction; store_thread() before init */
    STORE_E_TOO_BIG,      /* a value does not fit the caller's bounded buffer, or a limit */
};

#define STORE_SQLITE_FILE    "postern.db" /* in the data directory */
#define STORE_META_KEY_MAX   128
#define STORE_META_VALUE_MAX (64 * 1024)

/* Limits enforced on every write (STORE_E_TOO_BIG) so that a read is bounded too. */
#define STORE_TEXT_MAX   (64 * 1024) /* any text field except the two below */
#define STORE_PEM_MAX    (64 * 1024) /* key_pem, cert_pem (= KEYS_PEM_MAX) */
#define STORE_LIST_MAX   1000        /* rows returned by one list call */
#define STORE_GROUPS_MAX 1000        /* names given to user_set_groups, bindings of one app */
#define STORE_ID_SIZE    65          /* SHA-256 as lower-case hex, and its NUL */
#define STORE_UUID_SIZE  37          /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" and its NUL */
/* An authorization code stays in the store at least this long after it expired, and as long
 * as a token of its grant is unexpired, so that a replay still revokes what the code issued
 * (RFC 6749 section 4.1.2). */
#define STORE_CODE_RETAIN_S (24 * 3600)
/* A throttling row with no lock is forgotten this long after its window began. */
#define STORE_ATTEMPT_RETAIN_S (24 * 3600)

struct store; /* one connection; opaque */

/* Which part of a list: rows [offset, offset + limit). limit 0 means STORE_LIST_MAX; a
 * larger limit is clamped to STORE_LIST_MAX. */
struct store_page {
    size_t limit;
    size_t offset;
};

/* ---- records ------------------------------------------------------------ */

struct store_user {
    int64_t id;
    char uuid[STORE_UUID_SIZE]; /* random v4 UUID made at creation (sub modes, hashed id) */
    char *username;             /* unique, compared exactly */
    char *name;
    char *email;         /* "" = none; unique among users, ASCII case-insensitively */
    bool is_active;      /* false in a zeroed struct: set it when creating */
    char *attributes;    /* a JSON object as text; "" reads as "{}" on write */
    char *password_hash; /* PHC string ($argon2id$...); "" = no password login; wiped */
    int64_t password_changed_at;
    int64_t created_at;
    int64_t updated_at;
};

struct store_group {
    int64_t id;
    char *name;       /* unique */
    char *attributes; /* JSON object text */
    int64_t created_at;
    int64_t updated_at;
};

/* A certificate-key pair of the keys module, shared by every node. */
struct store_keypair {
    int64_t id;
    char *name;    /* unique, e.g. "postern Self-signed Certificate" */
    char *kid;     /* RFC 7638 thumbprint */
    char *alg;     /* "RS256", "ES256", "EdDSA" */
    char *key_pem; /* PKCS#8 private key: a secret, wiped on free */
    char *cert_pem;
    int64_t created_at;
};

/* An OAuth2 / OpenID Connect provider (one relying party). Field names as in the
 * walkthrough; the admin layer validates values, the store keeps them. */
struct store_provider {
    int64_t id;
    char *name;                     /* unique */
    char *authorization_flow;       /* default-provider-authorization-{implicit,explicit}-consent */
    char *client_type;              /* "confidential" or "public" (checked by the database) */
    char *client_id;                /* unique */
    char *client_secret;            /* as given ("" for public clients); wiped on free */
    char *redirect_uris;            /* JSON array text: [{"matching_mode":"strict","url":"..."}] */
    char *signing_key;              /* name of a store_keypair (must exist) */
    int64_t access_code_validity;   /* seconds */
    int64_t access_token_validity;  /* seconds */
    int64_t refresh_token_validity; /* seconds */
    char *sub_mode; /* hashed_user_id, user_id, user_uuid, user_username, user_email */
    bool include_claims_in_id_token;
    int64_t created_at;
    int64_t updated_at;
};

struct store_app {
    int64_t id;
    char *name;
    char *slug;               /* unique; the database refuses the reserved endpoint names */
    int64_t provider_id;      /* 0 = none; a provider serves at most one application */
    char *policy_engine_mode; /* "any" or "all" (checked by the database) */
    char *meta;               /* JSON object text (launch URL, description...) */
    int64_t created_at;
    int64_t updated_at;
};

/* Who may use an application. Exactly one of user_id and group_id is non-zero when written.
 * When the bound user or group is deleted, the binding stays with both 0 and matches nobody:
 * deleting the only bound user must not open the application to everyone ("none bound"). */
struct store_binding {
    int64_t order; /* evaluation order, ascending */
    int64_t user_id;
    int64_t group_id;
    bool negate;
    bool enabled;
};

/* An IdP login session. The cookie holds a random token; the store keeps only its hash. */
struct store_session {
    char id[STORE_ID_SIZE]; /* hex SHA-256 of the cookie token */
    int64_t user_id;
    int64_t created_at;
    int64_t expires_at;
    int64_t last_seen;
    int64_t auth_time; /* when the user last authenticated (OIDC auth_time, max_age) */
    char *amr;         /* JSON array text, e.g. ["pwd"] */
    char *client_ip;
    char *user_agent;
};

/* An authorization code (RFC 6749 section 4.1.2), kept as its hash. */
struct store_code {
    char id[STORE_ID_SIZE]; /* hex SHA-256 of the code */
    int64_t provider_id;
    int64_t user_id;
    char session_id[STORE_ID_SIZE]; /* "" = none */
    char *redirect_uri;
    char *scope; /* space-separated */
    char *nonce;
    char *code_challenge;
    char *code_challenge_method; /* "S256", "plain" or "" */
    int64_t auth_time;
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at; /* 0 = not yet taken */
};

enum store_token_kind {
    STORE_TOKEN_ACCESS = 1,  /* a JWT access token; key = its jti */
    STORE_TOKEN_REFRESH = 2, /* an opaque refresh token; key = the whole value */
};

/* An issued access or refresh token, for introspection, revocation and rotation. A grant
 * (a "family") is every token that descends from one authorization code: the tokens of the
 * code exchange and every rotation, which copies code_id. */
struct store_token {
    char id[STORE_ID_SIZE]; /* hex SHA-256 of the key (jti or refresh value) */
    enum store_token_kind kind;
    int64_t provider_id;
    int64_t user_id; /* 0 for client_credentials */
    char *scope;
    char code_id[STORE_ID_SIZE];    /* the code that began the grant; "" = none */
    char parent_id[STORE_ID_SIZE];  /* the refresh token this one was rotated from; "" */
    char session_id[STORE_ID_SIZE]; /* "" = none */
    int64_t created_at;
    int64_t expires_at;
    int64_t revoked_at; /* 0 = not revoked */
    int64_t rotated_at; /* refresh tokens: 0 = not yet exchanged */
};

/* A remembered explicit consent. */
struct store_consent {
    int64_t user_id;
    int64_t provider_id;
    char *scope; /* space-separated scopes granted */
    int64_t created_at;
    int64_t expires_at; /* 0 = never */
};

/* Failed logins counted per key ("user:<name>", "ip:<addr>"): brute-force throttling. */
struct store_attempts {
    int64_t failures; /* in the current window */
    int64_t window_start;
    int64_t locked_until; /* 0 = not locked */
};

/* The caller's throttling policy, applied atomically by attempt_fail. */
struct store_throttle {
    int64_t window_s;     /* failures older than this are forgotten */
    int64_t max_failures; /* this many failures in a window lock the key */
    int64_t lock_s;       /* for this long */
};

/* An audit event. Never put a secret in context. */
struct store_event {
    int64_t id;
    int64_t created_at;
    char *action;   /* login, login_failed, logout, authorize_application, token_issued,
                       token_refused, model_created, model_updated, model_deleted... */
    char *username; /* kept as text: the event outlives the user */
    char *client_ip;
    char *app;     /* application slug, "" */
    char *context; /* JSON object text */
};

/* What store_purge removed. */
struct store_purged {
    int64_t sessions, codes, tokens, consents, attempts;
};

/* Lists: v[0..n), owned; free with the matching *_list_free. */
struct store_user_list {
    struct store_user *v;
    size_t n;
};
struct store_group_list {
    struct store_group *v;
    size_t n;
};
struct store_keypair_list {
    struct store_keypair *v;
    size_t n;
};
struct store_provider_list {
    struct store_provider *v;
    size_t n;
};
struct store_app_list {
    struct store_app *v;
    size_t n;
};
struct store_binding_list {
    struct store_binding *v;
    size_t n;
};
struct store_event_list {
    struct store_event *v;
    size_t n;
};

void store_user_free(struct store_user *u);
void store_group_free(struct store_group *g);
void store_keypair_free(struct store_keypair *k);
void store_provider_free(struct store_provider *p);
void store_app_free(struct store_app *a);
void store_session_free(struct store_session *x);
void store_code_free(struct store_code *c);
void store_token_free(struct store_token *t);
void store_consent_free(struct store_consent *c);
void store_event_free(struct store_event *ev);
void store_user_list_free(struct store_user_list *l);
void store_group_list_free(struct store_group_list *l);
void store_keypair_list_free(struct store_keypair_list *l);
void store_provider_list_free(struct store_provider_list *l);
void store_app_list_free(struct store_app_list *l);
void store_binding_list_free(struct store_binding_list *l);
void store_event_list_free(struct store_event_list *l);

/* ---- the backend table ---------------------------------------------------- */

/* A backend. Digests (id_z, code_id...) arrive already computed by the front (store.c), so
 * every backend stores the same values. Semantics are those of the store_* wrappers below. */
struct store_ops {
    const char *name; /* "sqlite" */
    /* target: what follows the scheme (for SQLite, the file path). */
    int (*open)(const char *target, struct store **out, struct err *e);
    void (*close)(struct store *s);
    /* Highest applied migration (0 for an empty database). */
    int (*schema_version)(struct store *s, int *version, struct err *e);
    /* Highest migration this binary knows. */
    int (*schema_latest)(void);
    /* Applies every pending migration, each in its own transaction; refuses a database whose
     * schema is newer than schema_latest() (STORE_E_SCHEMA_NEWER). Safe when several
     * processes start at once: each step re-reads the version under the write lock. */
    int (*migrate)(struct store *s, struct err *e);
    /* Small key/value settings of the installation. */
    int (*meta_get)(struct store *s, const char *key_z, struct buf *out, struct err *e);
    int (*meta_set)(struct store *s, const char *key_z, struct slice value, struct err *e);
    int (*meta_delete)(struct store *s, const char *key_z, struct err *e);
    /* A write transaction (SQLite: BEGIN IMMEDIATE, so that it never fails half-way on a lock
     * upgrade). Not nested. */
    int (*tx_begin)(struct store *s, struct err *e);
    int (*tx_commit)(struct store *s, struct err *e);
    int (*tx_rollback)(struct store *s, struct err *e);

    /* identity */
    int (*user_create)(struct store *s, struct store_user *u, struct err *e);
    int (*user_update)(struct store *s, struct store_user *u, struct err *e);
    int (*user_set_password)(struct store *s, int64_t user_id, const char *phc_z, struct err *e);
    int (*user_get_by_id)(struct store *s, int64_t id, struct store_user *out, struct err *e);
    int (*user_get_by_name)(struct store *s, const char *username_z, struct store_user *out,
                            struct err *e);
    int (*user_get_by_login)(struct store *s, const char *login_z, struct store_user *out,
                             struct err *e);
    int (*user_list)(struct store *s, const struct store_page *pg, struct store_user_list *out,
                     struct err *e);
    int (*user_delete)(struct store *s, int64_t id, struct err *e);
    int (*group_upsert)(struct store *s, struct store_group *g, bool *created, struct err *e);
    int (*group_get_by_id)(struct store *s, int64_t id, struct store_group *out, struct err *e);
    int (*group_get_by_name)(struct store *s, const char *name_z, struct store_group *out,
                             struct err *e);
    int (*group_list)(struct store *s, const struct store_page *pg, struct store_group_list *out,
                      struct err *e);
    int (*group_delete)(struct store *s, int64_t id, struct err *e);
    int (*member_add)(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
    int (*member_remove)(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
    int (*user_set_groups)(struct store *s, int64_t user_id, const char *const *names, size_t n,
                           struct err *e);
    int (*user_groups)(struct store *s, int64_t user_id, struct store_group_list *out,
                       struct err *e);
    int (*group_members)(struct store *s, int64_t group_id, const struct store_page *pg,
                         struct store_user_list *out, struct err *e);

    /* keys, providers, applications */
    int (*keypair_insert_if_absent)(struct store *s, const struct store_keypair *in,
                                    struct store_keypair *out, bool *inserted, struct err *e);
    int (*keypair_get_by_name)(struct store *s, const char *name_z, struct store_keypair *out,
                               struct err *e);
    int (*keypair_list)(struct store *s, struct store_keypair_list *out, struct err *e);
    int (*keypair_delete)(struct store *s, const char *name_z, struct err *e);
    int (*provider_upsert)(struct store *s, struct store_provider *p, bool *created, struct err *e);
    int (*provider_get_by_id)(struct store *s, int64_t id, struct store_provider *out,
                              struct err *e);
    int (*provider_get_by_name)(struct store *s, const char *name_z, struct store_provider *out,
                                struct err *e);
    int (*provider_get_by_client_id)(struct store *s, const char *client_id_z,
                                     struct store_provider *out, struct err *e);
    int (*provider_list)(struct store *s, const struct store_page *pg,
                         struct store_provider_list *out, struct err *e);
    int (*provider_delete)(struct store *s, int64_t id, struct err *e);
    int (*app_upsert)(struct store *s, struct store_app *a, bool *created, struct err *e);
    int (*app_get_by_id)(struct store *s, int64_t id, struct store_app *out, struct err *e);
    int (*app_get_by_slug)(struct store *s, const char *slug_z, struct store_app *out,
                           struct err *e);
    int (*app_get_by_provider)(struct store *s, int64_t provider_id, struct store_app *out,
                               struct err *e);
    int (*app_list)(struct store *s, const struct store_page *pg, struct store_app_list *out,
                    struct err *e);
    int (*app_delete)(struct store *s, int64_t id, struct err *e);
    int (*app_bindings_set)(struct store *s, int64_t app_id, const struct store_binding *v,
                            size_t n, struct err *e);
    int (*app_bindings)(struct store *s, int64_t app_id, struct store_binding_list *out,
                        struct err *e);

    /* sessions, codes, tokens, consents */
    int (*session_create)(struct store *s, const char *id_z, struct store_session *x,
                          struct err *e);
    int (*session_get)(struct store *s, const char *id_z, struct store_session *out, struct err *e);
    int (*session_touch)(struct store *s, const char *id_z, int64_t expires_at, struct err *e);
    int (*session_delete)(struct store *s, const char *id_z, struct err *e);
    int (*session_delete_user)(struct store *s, int64_t user_id, int64_t *deleted, struct err *e);
    int (*code_create)(struct store *s, const char *id_z, struct store_code *c, struct err *e);
    int (*code_take)(struct store *s, const char *id_z, int64_t provider_id, struct store_code *out,
                     struct err *e);
    int (*token_insert)(struct store *s, const char *id_z, struct store_token *t, struct err *e);
    int (*token_get)(struct store *s, const char *id_z, struct store_token *out, struct err *e);
    int (*token_revoke)(struct store *s, const char *id_z, struct err *e);
    int (*token_revoke_code)(struct store *s, const char *code_id_z, int64_t *revoked,
                             struct err *e);
    int (*token_revoke_family)(struct store *s, const char *id_z, int64_t *revoked, struct err *e);
    int (*token_rotate)(struct store *s, const char *old_id_z, const char *new_id_z,
                        int64_t provider_id, const char *scope_z, int64_t expires_at,
                        struct store_token *nt, struct store_token *old, struct err *e);
    int (*consent_get)(struct store *s, int64_t user_id, int64_t provider_id,
                       struct store_consent *out, struct err *e);
    int (*consent_set)(struct store *s, struct store_consent *c, struct err *e);
    int (*consent_delete)(struct store *s, int64_t user_id, int64_t provider_id, struct err *e);

    /* throttling, events, housekeeping */
    int (*attempt_fail)(struct store *s, const char *key_z, const struct store_throttle *pol,
                        struct store_attempts *out, struct err *e);
    int (*attempt_get)(struct store *s, const char *key_z, struct store_attempts *out,
                       struct err *e);
    int (*attempt_reset)(struct store *s, const char *key_z, struct err *e);
    int (*event_add)(struct store *s, struct store_event *ev, struct err *e);
    int (*event_list)(struct store *s, const char *action_z, const char *username_z,
                      const struct store_page *pg, struct store_event_list *out, struct err *e);
    int (*event_purge)(struct store *s, int64_t before, int64_t *deleted, struct err *e);
    int (*purge)(struct store *s, struct store_purged *out, struct err *e);
};

/* ---- connections ------------------------------------------------------------ */

/* Opens a connection. url: "sqlite:PATH" or a plain PATH (SQLite; the file is created 0600);
 * "postgres://..." / "postgresql://..." (not built yet: STORE_E_UNSUPPORTED). Does not
 * migrate: call store_migrate() once at start-up. NULL on error. */
struct store *store_open(const char *url_z, struct err *e);
/* Rolls back an open transaction, frees everything. NULL is fine. */
void store_close(struct store *s);
/* "sqlite:DATA_DIR/postern.db"; xmalloc'd. */
char *store_default_url(const char *data_dir_z);

/* One connection per thread of the server's worker pool, opened on first use.
 * store_global_init records the URL (copied; it may hold a password) and opens nothing;
 * call it once at start, before any thread calls store_thread(). store_thread() returns this
 * thread's connection, opening it the first time (NULL and e on failure: the next call tries
 * again); the connection is closed when the thread exits (a pthread key destructor). Never
 * store_close() it. store_global_shutdown() closes the calling thread's connection and forgets
 * the URL; call it after the other threads have been joined (a thread still alive keeps its
 * connection until it exits, and store_thread() fails until the next store_global_init). */
int store_global_init(const char *url_z, struct err *e);
struct store *store_thread(struct err *e);
void store_global_shutdown(void);
/* A new connection to the database of store_global_init, for a caller that shares one
 * connection between threads and serialises its use itself (with SQLite, a connection that
 * does all of some kind of writes keeps its page cache, which other connections' commits
 * would flush). NULL and e on failure; close it with store_close. */
struct store *store_open_global(struct err *e);
/* Changes with each store_global_init / store_global_shutdown: a connection opened by
 * store_open_global under another generation is stale. */
unsigned store_global_generation(void);

const struct store_ops *store_backend(const struct store *s);
int store_schema_version(struct store *s, int *version, struct err *e);
int store_schema_latest(const struct store *s);
int store_migrate(struct store *s, struct err *e);

/* Returns 0 and the value in out (reset first), STORE_NOT_FOUND, or -1. */
int store_meta_get(struct store *s, const char *key_z, struct buf *out, struct err *e);
/* Inserts or replaces. */
int store_meta_set(struct store *s, const char *key_z, struct slice value, struct err *e);
/* Returns 0, STORE_NOT_FOUND or -1. */
int store_meta_delete(struct store *s, const char *key_z, struct err *e);

int store_tx_begin(struct store *s, struct err *e);
int store_tx_commit(struct store *s, struct err *e);
int store_tx_rollback(struct store *s, struct err *e);

/* ---- users, groups, memberships ------------------------------------------------ */

/* Inserts u (username, name, email, is_active, attributes, password_hash; password_changed_at
 * is set to now when a hash is given). Sets u->id, u->created_at, u->updated_at, and u->uuid
 * when it is empty (a given uuid is kept: store import). Duplicate username or email:
 * STORE_E_CONSTRAINT naming the field. */
int store_user_create(struct store *s, struct store_user *u, struct err *e);
/* Updates the user u->id: username, name, email, is_active, attributes (NOT the password:
 * an update from a file that has no password must not erase one). Sets u->updated_at.
 * Returns 0, STORE_NOT_FOUND or -1. */
int store_user_update(struct store *s, struct store_user *u, struct err *e);
/* Replaces the password hash (phc_z: a PHC string; "" disables password login) and sets
 * password_changed_at. Returns 0, STORE_NOT_FOUND or -1. */
int store_user_set_password(struct store *s, int64_t user_id, const char *phc_z, struct err *e);
/* Each returns 0 (out filled), STORE_NOT_FOUND or -1. Inactive users are returned too. */
int store_user_get_by_id(struct store *s, int64_t id, struct store_user *out, struct err *e);
int store_user_get_by_name(struct store *s, const char *username_z, struct store_user *out,
                           struct err *e);
/* The login form's "username or email": the user whose username is exactly login_z, else the
 * one whose email matches it ASCII case-insensitively. */
int store_user_get_by_login(struct store *s, const char *login_z, struct store_user *out,
                            struct err *e);
/* Users ordered by username. out is replaced. */
int store_user_list(struct store *s, const struct store_page *pg, struct store_user_list *out,
                    struct err *e);
/* Deletes the user and, by cascade, its memberships, sessions, codes, tokens and consents;
 * its bindings stay and match nobody (struct store_binding). Events keep the username. Returns 0,
 * STORE_NOT_FOUND or -1. */
int store_user_delete(struct store *s, int64_t id, struct err *e);

/* Creates the group g->name or updates its attributes; sets g->id, timestamps and *created
 * (created may be NULL). */
int store_group_upsert(struct store *s, struct store_group *g, bool *created, struct err *e);
int store_group_get_by_id(struct store *s, int64_t id, struct store_group *out, struct err *e);
int store_group_get_by_name(struct store *s, const char *name_z, struct store_group *out,
                            struct err *e);
/* Groups ordered by name. */
int store_group_list(struct store *s, const struct store_page *pg, struct store_group_list *out,
                     struct err *e);
/* Deletes the group and its memberships; its bindings stay and match nobody.
 * 0, STORE_NOT_FOUND or -1. */
int store_group_delete(struct store *s, int64_t id, struct err *e);
/* Idempotent: adding an existing membership is 0. An unknown user or group:
 * STORE_E_CONSTRAINT. */
int store_member_add(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
/* 0, STORE_NOT_FOUND (was not a member) or -1. */
int store_member_remove(struct store *s, int64_t user_id, int64_t group_id, struct err *e);
/* Makes the user's groups exactly names[0..n) (`groups: [...]` of a YAML user), atomically.
 * An unknown group name: STORE_NOT_FOUND with the name in e, and nothing changed. */
int store_user_set_groups(struct store *s, int64_t user_id, const char *const *names, size_t n,
                          struct err *e);
/* The groups of a user, ordered by name (at most STORE_LIST_MAX). */
int store_user_groups(struct store *s, int64_t user_id, struct store_group_list *out,
                      struct err *e);
/* The members of a group, ordered by username. */
int store_group_members(struct store *s, int64_t group_id, const struct store_page *pg,
                        struct store_user_list *out, struct err *e);

/* ---- certificate-key pairs --------------------------------------------------- */

/* Inserts in unless a pair with in->name exists, then reads back the pair of that name into
 * out: of two nodes starting at once, both end up with the same (one) key. *inserted (may
 * be NULL) says whether ours won. created_at is set by the store. */
int store_keypair_insert_if_absent(struct store *s, const struct store_keypair *in,
                                   struct store_keypair *out, bool *inserted, struct err *e);
int store_keypair_get_by_name(struct store *s, const char *name_z, struct store_keypair *out,
                              struct err *e);
/* Every pair (with its private key), ordered by name. */
int store_keypair_list(struct store *s, struct store_keypair_list *out, struct err *e);
/* 0, STORE_NOT_FOUND, or STORE_E_CONSTRAINT when a provider signs with it. */
int store_keypair_delete(struct store *s, const char *name_z, struct err *e);

/* ---- OAuth2 providers and applications ------------------------------------------ */

/* Creates the provider p->name or replaces every field of it (`postern apply` is
 * idempotent by name). Sets p->id, timestamps and *created (may be NULL). signing_key must
 * name an existing keypair; client_id must not be another provider's (STORE_E_CONSTRAINT). */
int store_provider_upsert(struct store *s, struct store_provider *p, bool *created, struct err *e);
int store_provider_get_by_id(struct store *s, int64_t id, struct store_provider *out,
                             struct err *e);
int store_provider_get_by_name(struct store *s, const char *name_z, struct store_provider *out,
                               struct err *e);
/* client_id_z is compared exactly (it comes from the client: the caller then checks the
 * secret with util_ct_equal). */
int store_provider_get_by_client_id(struct store *s, const char *client_id_z,
                                    struct store_provider *out, struct err *e);
/* Providers ordered by name. */
int store_provider_list(struct store *s, const struct store_page *pg,
                        struct store_provider_list *out, struct err *e);
/* Deletes the provider with its codes, tokens and consents; its application is left without
 * provider. 0, STORE_NOT_FOUND or -1. */
int store_provider_delete(struct store *s, int64_t id, struct err *e);

/* Creates the application a->slug or replaces its name, provider_id, policy_engine_mode and
 * meta. Sets a->id, timestamps and *created (may be NULL). A provider already used by another
 * application, or a reserved slug: STORE_E_CONSTRAINT. */
int store_app_upsert(struct store *s, struct store_app *a, bool *created, struct err *e);
int store_app_get_by_id(struct store *s, int64_t id, struct store_app *out, struct err *e);
int store_app_get_by_slug(struct store *s, const char *slug_z, struct store_app *out,
                          struct err *e);
/* The application served by a provider (the token endpoint knows only the client). */
int store_app_get_by_provider(struct store *s, int64_t provider_id, struct store_app *out,
                              struct err *e);
/* Applications ordered by slug. */
int store_app_list(struct store *s, const struct store_page *pg, struct store_app_list *out,
                   struct err *e);
/* Deletes the application and its bindings (not its provider). */
int store_app_delete(struct store *s, int64_t id, struct err *e);
/* Replaces the bindings of the application with v[0..n), atomically (n <= STORE_GROUPS_MAX).
 * A binding with neither or both of user_id/group_id, or naming an unknown user or group:
 * STORE_E_CONSTRAINT; an unknown app_id: STORE_NOT_FOUND; either way nothing changed. */
int store_app_bindings_set(struct store *s, int64_t app_id, const struct store_binding *v, size_t n,
                           struct err *e);
/* The bindings, ordered by order (then insertion). An empty list means: everyone. */
int store_app_bindings(struct store *s, int64_t app_id, struct store_binding_list *out,
                       struct err *e);

/* ---- IdP sessions ------------------------------------------------------------------ */

/* Inserts a session for the raw cookie token (the store keeps its hash: x->id is set).
 * Reads user_id, expires_at, auth_time (0: now), amr ("" reads as "[]"), client_ip,
 * user_agent; sets id, created_at and last_seen. */
int store_session_create(struct store *s, struct slice token, struct store_session *x,
                         struct err *e);
/* The session of a raw cookie token: 0, or STORE_NOT_FOUND when unknown or expired. */
int store_session_get(struct store *s, struct slice token, struct store_session *out,
                      struct err *e);
/* The same by id (from a code or token record). */
int store_session_get_by_id(struct store *s, const char *id_z, struct store_session *out,
                            struct err *e);
/* Sets last_seen to now and, when expires_at > 0, the new expiry (sliding sessions).
 * 0, STORE_NOT_FOUND (unknown or already expired) or -1. */
int store_session_touch(struct store *s, const char *id_z, int64_t expires_at, struct err *e);
/* Logout. Codes and tokens of the session stay (their session_id becomes ""). */
int store_session_delete(struct store *s, const char *id_z, struct err *e);
/* Every session of a user (password change, deactivation); *deleted may be NULL. */
int store_session_delete_user(struct store *s, int64_t user_id, int64_t *deleted, struct err *e);

/* ---- authorization codes (RFC 6749 section 4.1.2) ----------------------------------- */

/* Inserts a code for the raw code value. Reads provider_id, user_id, session_id,
 * redirect_uri, scope, nonce, code_challenge, code_challenge_method, auth_time, expires_at;
 * sets id, created_at (used_at = 0). */
int store_code_create(struct store *s, struct slice code, struct store_code *c, struct err *e);
/* Takes a code for the client provider_id, atomically, once:
 *  0               the code was valid and is now used; out filled;
 *  STORE_NOT_FOUND unknown, purged, or issued to another provider (then nothing changes:
 *                  another client cannot burn someone's code);
 *  STORE_EXPIRED   expired before this first use; it is marked used; out filled;
 *  STORE_REUSED    taken before: in the same transaction every token the code issued is
 *                  revoked and the grant is closed (store_token_insert with this code_id
 *                  then returns STORE_REVOKED); out filled. The caller answers invalid_grant.
 * Of two concurrent takes of one code, exactly one gets 0. */
int store_code_take(struct store *s, struct slice code, int64_t provider_id, struct store_code *out,
                    struct err *e);

/* ---- access and refresh tokens -------------------------------------------------- */

/* Records an issued token. key: the jti of a JWT access token, or the whole opaque refresh
 * token; the store keeps its hash (t->id is set, with created_at). Reads kind, provider_id,
 * user_id (0 = none), scope, code_id, parent_id, session_id, expires_at.
 * Returns STORE_REVOKED, writing nothing, when t->code_id names a grant already closed (the
 * code was replayed while its tokens were being made): answer invalid_grant. */
int store_token_insert(struct store *s, struct slice key, struct store_token *t, struct err *e);
/* The token of a key, whatever its state (0 or STORE_NOT_FOUND): check store_token_active. */
int store_token_get(struct store *s, struct slice key, struct store_token *out, struct err *e);
/* True when t is neither revoked, rotated nor expired (RFC 7662 "active"). */
bool store_token_active(const struct store_token *t);
/* Revokes one token (RFC 7009). 0 (also when already revoked), STORE_NOT_FOUND or -1.
 * For a refresh token, RFC 7009 section 2.1 also wants the grant's access tokens revoked:
 * get it, then store_token_revoke_family(its id). */
int store_token_revoke(struct store *s, struct slice key, struct err *e);
/* Revokes every token issued from the code and closes the grant. *revoked (may be NULL): how
 * many tokens changed. */
int store_token_revoke_code(struct store *s, const char *code_id_z, int64_t *revoked,
                            struct err *e);
/* Revokes the family of the token id_z: its whole grant when it has a code_id, else the token
 * and its descendants. */
int store_token_revoke_family(struct store *s, const char *id_z, int64_t *revoked, struct err *e);
/* Refresh-token rotation (RFC 6749 section 6, RFC 9700 section 4.14.2), atomically:
 * takes the refresh token old_key of the client provider_id and records new_key in its
 * place, with scope_z (NULL or "" = the old scope; the caller checks that a given scope is
 * not wider) and expires_at; kind, user, session, code_id and parent_id (= the old id) are
 * set by the store. nt gets the new token, old (may be NULL) the old one as it was before
 * this call (both are replaced, as by a get).
 *  0               rotated;
 *  STORE_NOT_FOUND unknown, not a refresh token, or another provider's (nothing changes);
 *  STORE_REUSED    already rotated or revoked: a replay. The whole family is revoked in the
 *                  same transaction (RFC 9700: the legitimate client and the attacker can't
 *                  be told apart); nothing is inserted;
 *  STORE_EXPIRED   expired (nothing changes).
 * Of two concurrent rotations of one token, exactly one gets 0, and the other revokes the
 * family (the winner's new token included). */
int store_token_rotate(struct store *s, struct slice old_key, struct slice new_key,
                       int64_t provider_id, const char *scope_z, int64_t expires_at,
                       struct store_token *nt, struct store_token *old, struct err *e);

/* ---- consents ------------------------------------------------------------------------ */

/* 0, or STORE_NOT_FOUND when none or expired. */
int store_consent_get(struct store *s, int64_t user_id, int64_t provider_id,
                      struct store_consent *out, struct err *e);
/* Inserts or replaces the consent of (user_id, provider_id); sets created_at. */
int store_consent_set(struct store *s, struct store_consent *c, struct err *e);
int store_consent_delete(struct store *s, int64_t user_id, int64_t provider_id, struct err *e);

/* ---- login throttling -------------------------------------------------------------- */

/* Counts one failure for key_z, atomically: a window older than pol->window_s restarts at
 * 1; reaching pol->max_failures sets locked_until = now + pol->lock_s. out (may be NULL)
 * gets the new state. */
int store_attempt_fail(struct store *s, const char *key_z, const struct store_throttle *pol,
                       struct store_attempts *out, struct err *e);
/* 0, or STORE_NOT_FOUND (no failure recorded: not locked). */
int store_attempt_get(struct store *s, const char *key_z, struct store_attempts *out,
                      struct err *e);
/* A successful login forgets the failures. 0 also when there were none. */
int store_attempt_reset(struct store *s, const char *key_z, struct err *e);

/* ---- events ------------------------------------------------------------------------ */

/* Appends ev (action required; context "" reads as "{}"); sets ev->id and ev->created_at
 * (when 0). */
int store_event_add(struct store *s, struct store_event *ev, struct err *e);
/* Newest first; action_z / username_z filter when not NULL. */
int store_event_list(struct store *s, const char *action_z, const char *username_z,
                     const struct store_page *pg, struct store_event_list *out, struct err *e);
/* Deletes events created before `before`; *deleted may be NULL. */
int store_event_purge(struct store *s, int64_t before, int64_t *deleted, struct err *e);

/* ---- housekeeping ------------------------------------------------------------------ */

/* Deletes what can never be valid again: expired sessions, tokens and consents, codes that
 * expired more than STORE_CODE_RETAIN_S ago and whose tokens have all expired, and throttling
 * rows whose window began more than STORE_ATTEMPT_RETAIN_S ago and that are not locked. out may be
 * NULL. Run it now and then (every few minutes). */
int store_purge(struct store *s, struct store_purged *out, struct err *e);

#endif
