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
 * calls (a whole `postern apply`) in one transaction. A call that fails inside the caller's
 * transaction leaves nothing half-done, but the caller must then roll the transaction back:
 * on PostgreSQL every later statement of that transaction fails until it does (SQLite would
 * let the others through; no caller relies on that).
 * Concurrency: on PostgreSQL, several nodes write at once (there is no database-wide write
 * lock as with SQLite); every operation stays correct when others run the same operation at
 * the same moment on another connection: single-use values are taken once, "if absent"
 * inserts create one row, and there is one current gateway key.
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
    /* Numbered apart from the other modules' codes (keys and jose start at 1, idp at 64), so
     * that store_unavailable() recognises a store error in any caller's struct err. */
    STORE_E_INTERNAL = 32, /* a query failed; the message says which and why */
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
    /* the access gateway's: expired global sessions, login states, one-time tokens */
    int64_t access_sessions, access_states, access_tickets;
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

/* ==== the access gateway (issue 4): records ==========================================
 * Everything below up to the end of the records is the Gate's state (DESIGN.md, "Data
 * model"), shared by every gateway node. The rules of the header comment apply: records own
 * their strings, raw tokens are hashed by the store, util_now(), 0 / -1 / positive results. */

/* Sizes of the values the store makes (plain arrays, with their NUL). */
#define STORE_AUD_SIZE            65 /* AUD tag: 64 lower-case hex digits (32 random bytes) */
#define STORE_SERVICE_ID_SIZE     40 /* client_id: 32 lower-case hex digits + ".access" */
#define STORE_SERVICE_SECRET_SIZE 65 /* client secret: 64 lower-case hex digits */
#define STORE_SERVICE_ID_SUFFIX   ".access"
/* Lifetimes used when the caller leaves expires_at at 0. */
#define STORE_ACCESS_STATE_TTL_S  600 /* a login attempt (state, nonce, PKCE): 10 minutes */
#define STORE_ACCESS_TICKET_TTL_S 60  /* a one-time token of /cdn-cgi/access/authorized */
/* service_token_touch writes last_used at most once per this interval per token: a service
 * token authenticates every request of a machine client, a write per request would make the
 * busiest client the database's busiest writer. */
#define STORE_SERVICE_TOUCH_S 60
/* Longest grace period of a retired signing key (store_access_key_rotate). */
#define STORE_ACCESS_GRACE_MAX_S (366 * 86400)

/* An identity provider of the gateway (the `identity_providers` of the config). */
struct store_access_idp {
    int64_t id;
    char *name;   /* unique; the handle of the YAML file and the CLI */
    char *type;   /* "oidc" (the admin layer decides what is allowed; "" is refused) */
    char *config; /* JSON object text, normalised by the admin layer; holds client_secret:
                     wiped on free */
    int64_t created_at;
    int64_t updated_at;
};

/* An application behind the gateway. */
struct store_access_app {
    int64_t id;
    char *name;   /* unique */
    char *domain; /* unique; host [+ path prefix], "*." wildcard allowed; the host part must be
                     lower case (the database refuses upper case: matching is exact) */
    /* The AUD tag (the `aud` of its app tokens). Made by the store from random bytes when the
     * application is created; a non-empty one given at creation is kept (import of an existing
     * Cloudflare AUD tag: 64 lower-case hex digits). Never changed by a later upsert, which
     * writes the stored value back here. */
    char aud[STORE_AUD_SIZE];
    char *config; /* JSON object text: session_duration, identity_providers, policies... */
    int64_t created_at;
    int64_t updated_at;
};

/* A service token (CF-Access-Client-Id / CF-Access-Client-Secret headers). The store makes the
 * client_id and the secret, and keeps only the secret's SHA-256. */
struct store_service_token {
    int64_t id;
    char *name;                            /* unique */
    char client_id[STORE_SERVICE_ID_SIZE]; /* "<32 hex>.access" like Cloudflare; unique */
    int64_t created_at;
    int64_t expires_at; /* 0 = never */
    int64_t last_used;  /* 0 = never used; updated at most every STORE_SERVICE_TOUCH_S */
};

/* A signing key of the gateway's app tokens. The key pair itself (private key, kid, alg) is
 * a store_keypair named keypair_name; this row says when it signs and until when it verifies.
 * At most one key is current (retired_at == 0): the database refuses a second. */
struct store_access_key {
    int64_t id;
    char *keypair_name;
    char *kid; /* of the key pair (read through it) */
    char *alg; /* of the key pair */
    int64_t created_at;
    int64_t retired_at; /* 0 = current: signs new app tokens */
    int64_t not_after;  /* 0 while current; then the end of the grace period: app tokens
                           signed by it verify (and /cdn-cgi/access/certs lists it) until then */
};

/* The gateway's global session (the `CF_Authorization` cookie of type org on the team domain).
 * The cookie holds a random token; the store keeps its hash, which is the id that app tokens
 * carry as `identity_nonce`. An app token must not outlive its session (exp <= expires_at):
 * store_purge forgets expired sessions, revoked or not. */
struct store_access_session {
    char id[STORE_ID_SIZE]; /* hex SHA-256 of the cookie token */
    char *identity;         /* JSON object text: email, name, groups, idp, claims... */
    char *idp;              /* name of the identity provider that authenticated it */
    int64_t created_at;
    int64_t expires_at;
    int64_t revoked_at; /* 0 = not revoked (logout sets it) */
};

/* One entry of the revocation list that every gateway node polls. */
struct store_access_revoked {
    char id[STORE_ID_SIZE]; /* session id = identity_nonce of its app tokens */
    int64_t revoked_at;
    int64_t expires_at; /* the node can forget the entry after this */
};

/* One login attempt at an OIDC identity provider (RFC 6749 section 10.12 state, OIDC Core
 * section 3.1.2.1 nonce, RFC 7636 PKCE). Keyed by the raw state (stored hashed) and bound to
 * the browser: the binding value (e.g. the state cookie) is stored hashed too, and take
 * compares it. */
struct store_access_state {
    char id[STORE_ID_SIZE]; /* hex SHA-256 of the state */
    char *nonce;            /* required; a secret in transit: wiped on free */
    char *code_verifier;    /* PKCE, "" when the IdP has it off; wiped on free */
    char *idp;              /* required: the identity provider the browser was sent to */
    char *app_domain;       /* the application being logged into ("" for the IdP test) */
    char *redirect_url;     /* where to go back to, as checked by the gateway */
    int64_t created_at;
    int64_t expires_at; /* 0 when creating: now + STORE_ACCESS_STATE_TTL_S */
    int64_t used_at;    /* 0 = not yet taken */
};

/* A one-time token of /cdn-cgi/access/authorized?token=: issued on the team domain, exchanged
 * once on the app domain for the app cookie. */
struct store_access_ticket {
    char id[STORE_ID_SIZE];         /* hex SHA-256 of the token */
    char session_id[STORE_ID_SIZE]; /* the global session it was issued from (must exist) */
    char aud[STORE_AUD_SIZE];       /* the application it is for (must exist) */
    char *redirect_path;            /* path [+ query] to go to on the app domain */
    int64_t created_at;
    int64_t expires_at; /* 0 when creating: now + STORE_ACCESS_TICKET_TTL_S */
    int64_t used_at;
};

struct store_access_idp_list {
    struct store_access_idp *v;
    size_t n;
};
struct store_access_app_list {
    struct store_access_app *v;
    size_t n;
};
struct store_service_token_list {
    struct store_service_token *v;
    size_t n;
};
struct store_access_key_list {
    struct store_access_key *v;
    size_t n;
};
struct store_access_revoked_list {
    struct store_access_revoked *v;
    size_t n;
};

void store_access_idp_free(struct store_access_idp *p);
void store_access_app_free(struct store_access_app *a);
void store_service_token_free(struct store_service_token *t);
void store_access_key_free(struct store_access_key *k);
void store_access_session_free(struct store_access_session *x);
void store_access_state_free(struct store_access_state *x);
void store_access_ticket_free(struct store_access_ticket *x);
void store_access_idp_list_free(struct store_access_idp_list *l);
void store_access_app_list_free(struct store_access_app_list *l);
void store_service_token_list_free(struct store_service_token_list *l);
void store_access_key_list_free(struct store_access_key_list *l);
void store_access_revoked_list_free(struct store_access_revoked_list *l);
/* ==== end of the access gateway's records ============================================= */

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
    int (*meta_add)(struct store *s, const char *key_z, struct slice value, bool *added,
                    struct err *e);
    /* A write transaction (SQLite: BEGIN IMMEDIATE, so that it never fails half-way on a lock
     * upgrade; PostgreSQL: READ COMMITTED). Not nested. After a failed call inside it, roll
     * back. */
    int (*tx_begin)(struct store *s, struct err *e);
    int (*tx_commit)(struct store *s, struct err *e);
    int (*tx_rollback)(struct store *s, struct err *e);
    int (*tx_lock)(struct store *s, const char *name_z, struct err *e);

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

    /* ==== the access gateway (issue 4) ================================================
     * Semantics are those of the store_access_* / store_service_token_* wrappers at the end
     * of this header; *_id_z digests arrive computed by the front (store_access.c). */
    int (*access_idp_upsert)(struct store *s, struct store_access_idp *p, bool *created,
                             struct err *e);
    int (*access_idp_get)(struct store *s, const char *name_z, struct store_access_idp *out,
                          struct err *e);
    int (*access_idp_list)(struct store *s, const struct store_page *pg,
                           struct store_access_idp_list *out, struct err *e);
    int (*access_idp_delete)(struct store *s, const char *name_z, struct err *e);
    int (*access_app_upsert)(struct store *s, struct store_access_app *a, bool *created,
                             struct err *e);
    int (*access_app_get_by_name)(struct store *s, const char *name_z, struct store_access_app *out,
                                  struct err *e);
    int (*access_app_get_by_domain)(struct store *s, const char *domain_z,
                                    struct store_access_app *out, struct err *e);
    int (*access_app_get_by_aud)(struct store *s, const char *aud_z, struct store_access_app *out,
                                 struct err *e);
    int (*access_app_list)(struct store *s, const struct store_page *pg,
                           struct store_access_app_list *out, struct err *e);
    int (*access_app_delete)(struct store *s, const char *name_z, struct err *e);
    int (*service_token_create)(struct store *s, struct store_service_token *t,
                                const char *secret_id_z, struct err *e);
    int (*service_token_verify)(struct store *s, const char *client_id_z, const char *secret_id_z,
                                struct store_service_token *out, struct err *e);
    int (*service_token_list)(struct store *s, const struct store_page *pg,
                              struct store_service_token_list *out, struct err *e);
    int (*service_token_delete)(struct store *s, const char *name_z, struct err *e);
    /* Sets last_used = now unless it is more recent than now - STORE_SERVICE_TOUCH_S. */
    int (*service_token_touch)(struct store *s, int64_t id, struct err *e);
    /* The secret's digest of the token `id` into out (`postern store export`): 0,
     * STORE_NOT_FOUND or -1. May be NULL in a backend that lacks it (the front then answers
     * STORE_E_UNSUPPORTED). */
    int (*service_token_secret_hash)(struct store *s, int64_t id, char out[STORE_ID_SIZE],
                                     struct err *e);
    int (*access_key_ensure)(struct store *s, const char *keypair_name_z,
                             struct store_access_key *out, bool *inserted, struct err *e);
    int (*access_key_rotate)(struct store *s, const char *keypair_name_z, int64_t grace_s,
                             int64_t if_current_id, struct store_access_key *out, bool *rotated,
                             struct err *e);
    int (*access_key_list)(struct store *s, struct store_access_key_list *out, struct err *e);
    int (*access_session_create)(struct store *s, const char *id_z, struct store_access_session *x,
                                 struct err *e);
    int (*access_session_get)(struct store *s, const char *id_z, struct store_access_session *out,
                              struct err *e);
    int (*access_session_revoke)(struct store *s, const char *id_z,
                                 struct store_access_session *out, struct err *e);
    int (*access_session_revoked_since)(struct store *s, int64_t since, const char *after_id_z,
                                        struct store_access_revoked_list *out, struct err *e);
    int (*access_state_create)(struct store *s, const char *id_z, const char *binding_id_z,
                               struct store_access_state *x, struct err *e);
    int (*access_state_take)(struct store *s, const char *id_z, const char *binding_id_z,
                             struct store_access_state *out, struct err *e);
    int (*access_ticket_create)(struct store *s, const char *id_z, struct store_access_ticket *x,
                                struct err *e);
    int (*access_ticket_take)(struct store *s, const char *id_z, const char *aud_z,
                              struct store_access_ticket *out, struct err *e);
    /* ==== end of the access gateway's operations ======================================= */
};

/* ---- connections ------------------------------------------------------------ */

/* Opens a connection. url: "sqlite:PATH" or a plain PATH (SQLite; the file is created 0600);
 * "postgres://..." / "postgresql://..." (PostgreSQL: any libpq connection URI; STORE_E_IO when
 * the server cannot be reached). Does not migrate: call store_migrate() once at start-up.
 * NULL on error. */
struct store *store_open(const char *url_z, struct err *e);
/* Rolls back an open transaction, frees everything. NULL is fine. */
void store_close(struct store *s);
/* "sqlite:DATA_DIR/postern.db"; xmalloc'd. */
char *store_default_url(const char *data_dir_z);

/* One connection per thread of the server's worker pool, opened on first use.
 * store_global_init records the URL (copied; it may hold a password) and opens nothing;
 * call it once at start, before any thread calls store_thread(). store_thread() returns this
 * thread's connection, opening it the first time (NULL and e on failure: the next call tries
 * again, except that after an unreachable server (STORE_E_IO) this thread's calls within a
 * second fail at once with the same message and " (retrying)"); the connection is closed when the thread exits (a pthread key destructor). Never
 * store_close() it. store_global_shutdown() closes the calling thread's connection and forgets
 * the URL; call it after the other threads have been joined (a thread still alive keeps its
 * connection until it exits, and store_thread() fails until the next store_global_init). */
int store_global_init(const char *url_z, struct err *e);
struct store *store_thread(struct err *e);
void store_global_shutdown(void);
/* A new connection to the database of store_global_init, for a caller that shares one
 * connection between threads and serialises its use itself (with SQLite, a connection that
 * does all of some kind of writes keeps its page cache, which other connections' commits
 * would flush). NULL and e on failure (with store_thread's one-second backoff after
 * STORE_E_IO); close it with store_close. */
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
/* Inserts unless the key is set; *added (may be NULL) says which. Of several nodes creating
 * the same setting at once, exactly one adds it: the others then read the winner's value. */
int store_meta_add(struct store *s, const char *key_z, struct slice value, bool *added,
                   struct err *e);

/* The error of a failed call means the database is unreachable or overloaded for now
 * (STORE_E_IO, STORE_E_BUSY): the request deserves 503 and a retry, not 500. */
bool store_unavailable(const struct err *e);

int store_tx_begin(struct store *s, struct err *e);
int store_tx_commit(struct store *s, struct err *e);
int store_tx_rollback(struct store *s, struct err *e);
/* Inside store_tx_begin's transaction: waits for, then holds until the transaction ends, the
 * lock named name_z, which every node sharing the store sees; so that, e.g., two nodes applying
 * the same config at start take turns instead of both creating the same user. (SQLite: the
 * transaction's write lock already serializes writers; PostgreSQL: an advisory lock.) */
int store_tx_lock(struct store *s, const char *name_z, struct err *e);

/* ---- users, groups, memberships ------------------------------------------------ */

/* Inserts u (username, name, email, is_active, attributes, password_hash; password_changed_at
 * is set to now when a hash is given). Sets u->id, u->created_at, u->updated_at, and u->uuid
 * when it is empty (a given uuid is kept: store import). Duplicate username or email:
 * STORE_E_CONSTRAINT naming the field. */
int store_user_create(struct store *s, struct store_user *u, struct err *e);
/* store_user_create keeping u->id (> 0) as well as u->uuid: `postern store import`, so that a
 * provider whose sub_mode is user_id gives the same subjects after a move. An id in use:
 * STORE_E_CONSTRAINT. */
int store_user_import(struct store *s, struct store_user *u, struct err *e);
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
 * rows whose window began more than STORE_ATTEMPT_RETAIN_S ago and that are not locked; and the
 * gateway's expired global sessions (revoked or not), login states and one-time tokens (used or
 * not). out may be NULL. Run it now and then (every few minutes). */
int store_purge(struct store *s, struct store_purged *out, struct err *e);

/* ==== the access gateway (issue 4) ===================================================== */

/* ---- identity providers and applications ----------------------------------------------- */

/* Creates the identity provider p->name or replaces its type and config (`postern apply` is
 * idempotent by name). config "" reads as "{}"; anything else must be a JSON object
 * (STORE_E_CONSTRAINT). Sets p->id, timestamps and *created (may be NULL). */
int store_access_idp_upsert(struct store *s, struct store_access_idp *p, bool *created,
                            struct err *e);
/* 0, STORE_NOT_FOUND or -1. */
int store_access_idp_get(struct store *s, const char *name_z, struct store_access_idp *out,
                         struct err *e);
/* Ordered by name. out is replaced. */
int store_access_idp_list(struct store *s, const struct store_page *pg,
                          struct store_access_idp_list *out, struct err *e);
/* 0, STORE_NOT_FOUND or -1. Applications naming it in their config are the admin layer's
 * business (the store does not read config). */
int store_access_idp_delete(struct store *s, const char *name_z, struct err *e);

/* Creates the application a->name or replaces its domain and config. Sets a->id, timestamps,
 * *created (may be NULL) and a->aud (see struct store_access_app: made at creation, then never
 * changed). A domain already used by another application, an upper-case host, a malformed
 * given aud: STORE_E_CONSTRAINT naming the field. */
int store_access_app_upsert(struct store *s, struct store_access_app *a, bool *created,
                            struct err *e);
/* Each: 0, STORE_NOT_FOUND or -1. domain_z and aud_z are compared exactly (the gateway
 * matches hosts and wildcards itself, over the list). */
int store_access_app_get_by_name(struct store *s, const char *name_z, struct store_access_app *out,
                                 struct err *e);
int store_access_app_get_by_domain(struct store *s, const char *domain_z,
                                   struct store_access_app *out, struct err *e);
int store_access_app_get_by_aud(struct store *s, const char *aud_z, struct store_access_app *out,
                                struct err *e);
/* Ordered by name. */
int store_access_app_list(struct store *s, const struct store_page *pg,
                          struct store_access_app_list *out, struct err *e);
/* Deletes the application and its unused one-time tokens. 0, STORE_NOT_FOUND or -1. */
int store_access_app_delete(struct store *s, const char *name_z, struct err *e);

/* ---- service tokens ---------------------------------------------------------------- */

/* Creates the service token t->name (unique) with expires_at (0 = never). The store makes
 * t->client_id and a secret of 64 hex digits, which it writes to secret (NUL-terminated) and
 * never again: it keeps only its SHA-256. The caller shows it once, then util_wipe()s it. Sets
 * t->id, t->created_at, t->last_used = 0. On error secret is wiped. */
int store_service_token_create(struct store *s, struct store_service_token *t,
                               char secret[STORE_SERVICE_SECRET_SIZE], struct err *e);
/* The token of the CF-Access-Client-Id / CF-Access-Client-Secret pair, secret compared in
 * constant time (as digests):
 *  0               valid; out filled;
 *  STORE_NOT_FOUND unknown client_id, or a wrong secret (one answer for both);
 *  STORE_EXPIRED   the right secret of an expired token; out filled. */
int store_service_token_verify(struct store *s, const char *client_id_z, struct slice secret,
                               struct store_service_token *out, struct err *e);
/* Ordered by name (no secret in them: the store has none). */
int store_service_token_list(struct store *s, const struct store_page *pg,
                             struct store_service_token_list *out, struct err *e);
/* 0, STORE_NOT_FOUND or -1. */
int store_service_token_delete(struct store *s, const char *name_z, struct err *e);
/* Records a use of t (as read by verify): writes nothing when t->last_used is less than
 * STORE_SERVICE_TOUCH_S old, so that it can be called on every request. Sets t->last_used
 * when it writes. 0 (also when skipped, or the token is gone) or -1. */
int store_service_token_touch(struct store *s, struct store_service_token *t, struct err *e);
/* Moving a store (`postern store export` / `import`): the SHA-256 (64 lower-case hex digits)
 * of the secret of t (as listed), which the record does not show, into out. 0,
 * STORE_NOT_FOUND or -1 (STORE_E_UNSUPPORTED when the backend cannot). The digest is not the
 * secret, but it lets whoever holds it check guesses offline: handle it like a secret. */
int store_service_token_secret_hash(struct store *s, const struct store_service_token *t,
                                    char out[STORE_ID_SIZE], struct err *e);
/* Recreates an exported service token as it was: t->name, t->client_id ("<32 hex>.access")
 * and expires_at as given, and the given digest of its secret (so the clients' secret keeps
 * working). Sets t->id, t->created_at, t->last_used = 0. A malformed client_id or digest:
 * STORE_E_CONSTRAINT naming the field. */
int store_service_token_import(struct store *s, struct store_service_token *t,
                               const char *secret_hash_z, struct err *e);

/* ---- signing keys of app tokens --------------------------------------------------------- */

/* Makes keypair_name_z (an existing store_keypair, made by the caller) the current key unless
 * a current key exists; out gets the current key either way, ours or the one that won: of two
 * nodes starting at once on an empty database, both end up with the same (one) key. *inserted
 * (may be NULL) says whether ours won; if not, the caller deletes its unused key pair
 * (store_keypair_delete). An unknown key pair: STORE_E_CONSTRAINT. */
int store_access_key_ensure(struct store *s, const char *keypair_name_z,
                            struct store_access_key *out, bool *inserted, struct err *e);
/* Key rotation, in one transaction: retires the current key (retired_at = now, not_after =
 * now + grace_s) and makes keypair_name_z the current key. With if_current_id != 0 it does so
 * only while the current key is still that one (a compare-and-swap for automatic rotation:
 * two nodes that both saw an old key rotate once); otherwise it writes nothing. out gets the
 * current key after the call, ours or not; *rotated (may be NULL) says whether ours is it.
 * Returns 0, STORE_NOT_FOUND (if_current_id given and no current key: nothing written) or -1;
 * an unknown or already used key pair, a negative grace_s: STORE_E_CONSTRAINT. */
int store_access_key_rotate(struct store *s, const char *keypair_name_z, int64_t grace_s,
                            int64_t if_current_id, struct store_access_key *out, bool *rotated,
                            struct err *e);
/* The keys that verify: the current one and the retired ones whose not_after has not passed,
 * newest first (v[0] is the current key when there is one). */
int store_access_key_list(struct store *s, struct store_access_key_list *out, struct err *e);

/* ---- global sessions ----------------------------------------------------------------- */

/* Inserts a session for the raw cookie token (the store keeps its hash: x->id is set).
 * Reads identity ("" reads as "{}"; else a JSON object), idp, expires_at; sets id, created_at,
 * revoked_at = 0. */
int store_access_session_create(struct store *s, struct slice token, struct store_access_session *x,
                                struct err *e);
/* The session of a raw cookie token:
 *  0 valid; STORE_REVOKED (logged out) or STORE_EXPIRED: out filled all the same;
 *  STORE_NOT_FOUND unknown or purged. */
int store_access_session_get(struct store *s, struct slice token, struct store_access_session *out,
                             struct err *e);
/* The same by id (an app token's identity_nonce). */
int store_access_session_get_by_id(struct store *s, const char *id_z,
                                   struct store_access_session *out, struct err *e);
/* Logout: sets revoked_at = now (kept when already revoked: logging out twice is fine) and
 * fills out with the row as it now is (out may be NULL). 0, STORE_NOT_FOUND or -1. */
int store_access_session_revoke(struct store *s, struct slice token,
                                struct store_access_session *out, struct err *e);
int store_access_session_revoke_by_id(struct store *s, const char *id_z,
                                      struct store_access_session *out, struct err *e);
/* The revocation list every gateway node polls: sessions with (revoked_at, id) after
 * (since, after_id_z), ordered by them, at most STORE_LIST_MAX (read on from the last row
 * while the list is full; after_id_z NULL or "" = from revoked_at >= since). Indexed.
 * revoked_at is stamped before the commit, and nodes' clocks differ: poll with a margin
 * (since = the previous poll's start - a minute) and treat entries as a set. */
int store_access_session_revoked_since(struct store *s, int64_t since, const char *after_id_z,
                                       struct store_access_revoked_list *out, struct err *e);

/* ---- login states ---------------------------------------------------------------------- */

/* Records a login attempt under the raw state, bound to the browser by binding (e.g. the value
 * of the state cookie); both are kept hashed and neither may be empty. Reads nonce (required),
 * code_verifier, idp (required), app_domain, redirect_url, expires_at (0: now +
 * STORE_ACCESS_STATE_TTL_S); sets id, created_at, used_at = 0. */
int store_access_state_create(struct store *s, struct slice state, struct slice binding,
                              struct store_access_state *x, struct err *e);
/* Takes the login attempt of a callback, atomically, once:
 *  0               valid and now used; out filled;
 *  STORE_NOT_FOUND unknown, purged, or binding does not match (compared in constant time; then
 *                  nothing changes: a request without the browser's cookie cannot burn it);
 *  STORE_REUSED    taken before (a replayed callback); out filled;
 *  STORE_EXPIRED   expired before this first use; now marked used; out filled.
 * Of two concurrent takes of one state, exactly one gets 0. */
int store_access_state_take(struct store *s, struct slice state, struct slice binding,
                            struct store_access_state *out, struct err *e);

/* ---- one-time tokens of /cdn-cgi/access/authorized ------------------------------------- */

/* Inserts a one-time token for the raw token. Reads session_id (an existing session),
 * aud (an existing application), redirect_path ("" reads as "/"), expires_at (0: now +
 * STORE_ACCESS_TICKET_TTL_S); sets id, created_at, used_at = 0. */
int store_access_ticket_create(struct store *s, struct slice token, struct store_access_ticket *x,
                               struct err *e);
/* Takes the one-time token for the application aud_z, atomically, once: 0 (out filled),
 * STORE_NOT_FOUND (unknown, purged, or another application's: then nothing changes),
 * STORE_REUSED (out filled), STORE_EXPIRED (now marked used; out filled). The caller then
 * reads the session (store_access_session_get_by_id), which may be revoked or expired. Of two
 * concurrent takes, exactly one gets 0. */
int store_access_ticket_take(struct store *s, struct slice token, const char *aud_z,
                             struct store_access_ticket *out, struct err *e);

/* ==== end of the access gateway ======================================================== */

#endif
