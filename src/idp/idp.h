/*
 * idp: the identity provider's people and pages (Authentik's role, DESIGN.md): users, groups,
 * argon2id passwords, IdP sessions, CSRF, brute-force throttling, the login flow pages at
 * /if/flow/<slug>/ and events. src/oidc builds the OAuth2 / OIDC endpoints on top of this.
 *
 * CONTRACT (written by the lead; the idp engineer owns this file and may extend it, keeping
 * these names and meanings; the oidc engineer codes against them).
 *
 * Files: password.c (argon2id), users.c (validation and upsert of users and groups),
 * session.c (IdP sessions and their cookie), csrf.c, throttle.c, login.c (the blocking login
 * check), redirect.c (`next` and the login URL), event.c, init.c (secret and signing keys),
 * flow.c and logout.c (the HTTP handlers).
 *
 * Blocking: every function that takes a struct store runs SQL, and the password functions
 * run argon2id (~50 ms): call them from http_defer work (store_thread() gives the worker's
 * connection), never on an event-loop thread. The others are pure and cheap.
 */
#ifndef POSTERN_IDP_H
#define POSTERN_IDP_H

#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"
#include "util/util.h"

#define IDP_SESSION_COOKIE           "postern_session"
#define IDP_CSRF_COOKIE              "postern_csrf" /* pre-session CSRF binding, login form */
#define IDP_LOGIN_FLOW               "default-authentication-flow"
#define IDP_LOGOUT_FLOW              "default-invalidation-flow"
#define IDP_FLOW_PATH                "/if/flow/"
#define IDP_LOGIN_PATH               "/if/flow/default-authentication-flow/"
#define IDP_AUTHORIZE_PATH           "/application/o/authorize/" /* Authentik's, served by oidc */
#define IDP_LOGOUT_PATH              "/if/flow/default-invalidation-flow/"
#define IDP_DEFAULT_SESSION_LIFETIME (24 * 3600)
#define IDP_DEFAULT_KEY_NAME         "postern Self-signed Certificate"
#define IDP_SECRET_META_KEY          "idp.secret" /* base64url of the 32-byte server secret */

/* Throttling defaults (DESIGN.md: on by default): 5 failures in 15 minutes lock the username
 * and the client IP for 15 minutes. */
#define IDP_DEFAULT_THROTTLE_MAX_FAILURES 5
#define IDP_DEFAULT_THROTTLE_WINDOW       (15 * 60)
#define IDP_DEFAULT_THROTTLE_LOCKOUT      (15 * 60)

/* Limits of what the login pages accept. */
#define IDP_TOKEN_BYTES    32          /* session and pre-session cookie tokens */
#define IDP_TOKEN_CHARS    43          /* their base64url length */
#define IDP_FORM_BODY_MAX  (16 * 1024) /* body limit of the flow routes */
#define IDP_LOGIN_MAX      254         /* "username or email" as typed */
#define IDP_NEXT_MAX       4096        /* a `next` URL */
#define IDP_USER_AGENT_MAX 256         /* kept with a session (truncated) */
#define IDP_LOGIN_HINT_MAX IDP_LOGIN_MAX

/* struct err.code values set by idp (the store's STORE_E_* pass through unchanged). */
enum idp_errcode {
    IDP_E_INVALID = 64, /* a value refused by validation; the message names the field */
    IDP_E_CONFIG,       /* a bad struct idp_config */
    IDP_E_KEYS,         /* a signing key could not be made or loaded */
};

struct web;          /* src/web */
struct web_branding; /* src/web */

struct idp_config {
    char *public_url;          /* "http://auth.localhost:9000", no trailing slash */
    bool cookie_secure;        /* false only when public_url is http:// (idp_init sets it) */
    int64_t session_lifetime;  /* seconds; 0 = IDP_DEFAULT_SESSION_LIFETIME */
    int throttle_max_failures; /* per username and per client IP within the window; 0 = off */
    int64_t throttle_window;   /* seconds; 0 = default */
    int64_t throttle_lockout;  /* seconds; 0 = default */
    char *host;                /* host the flow routes answer on (idp_routes); NULL = any */
};

/* Shared by every IdP and OIDC handler; read-only after idp_init except through its locks. */
struct idp {
    struct idp_config cfg; /* owned copy (idp_init) */
    struct keys *keys;     /* signing keys, loaded from the store (certificate_keypairs) */
    uint8_t secret[32];    /* server secret (store meta), for CSRF tokens and signed state;
                              every use binds its own label into the MAC (csrf.c) */
    const struct web_branding *brand;
    const struct web *web; /* borrowed, for the pages: set it before idp_routes */
};

/* ---- start-up (init.c) -------------------------------------------------------------- */

/* The defaults above, public_url and host NULL. */
void idp_config_defaults(struct idp_config *cfg);

/* Loads or creates what the IdP needs, with the store s (migrated; blocking; call at start,
 * before serving):
 *  - the server secret (store meta IDP_SECRET_META_KEY, 32 random bytes), created once in a
 *    write transaction, so that nodes starting together on one database agree;
 *  - the default signing key IDP_DEFAULT_KEY_NAME (RSA-2048 / RS256, self-signed) in the
 *    store's certificate-key pairs, inserted only if absent (of two nodes, one wins and both
 *    use it);
 *  - every certificate-key pair of the store, imported into idp->keys (ring names: see
 *    idp_key_ring_name).
 * cfg is copied (strings too); cookie_secure is derived from public_url, which must be an
 * http(s) origin (a trailing '/' is dropped). On error everything is released and idp is
 * zeroed. */
int idp_init(struct idp *idp, const struct idp_config *cfg, struct store *s, struct err *e);
/* Frees the ring and the config copy, wipes the secret. A zeroed idp is fine. */
void idp_free(struct idp *idp);

/* Creates the certificate-key pair name_z (alg: JOSE_ALG_RS256 → RSA-2048, JOSE_ALG_ES256 →
 * P-256, JOSE_ALG_EDDSA → Ed25519; self-signed certificate) in the store unless a pair of that
 * name exists; *created (may be NULL) says which. Blocking. Call idp_keys_sync afterwards for a
 * running IdP to use it. */
int idp_keypair_create(struct store *s, const char *name_z, enum jose_alg alg, bool *created,
                       struct err *e);

/* The key ring refuses names outside [A-Za-z0-9._-] (it makes file names of them) while the
 * store names pairs like Authentik ("postern Self-signed Certificate"): a pair is imported
 * under its name with every other byte replaced by '_', truncated to KEYS_NAME_MAX,
 * "k" prefixed when it would not start with a letter or digit. */
void idp_key_ring_name(const char *store_name_z, char out[KEYS_NAME_MAX + 1]);
/* The ring's key for a store pair name (a provider's signing_key): kid, alg... Cheap. */
int idp_key_find(struct idp *idp, const char *keypair_name_z, struct keys_info *out, struct err *e);
/* Makes the ring match the store's pairs: imports those it lacks (added by `postern apply`
 * or another node), replaces one whose name now holds another key, drops those deleted.
 * Two names that map to one ring name are refused. Safe from several threads at once.
 * Blocking. *added (may be NULL): how many keys were imported. */
int idp_keys_sync(struct idp *idp, struct store *s, size_t *added, struct err *e);

/* ---- passwords (password.c) ----------------------------------------------------------- */

/* argon2id (RFC 9106) through libsodium, with the parameters of DESIGN.md / OWASP:
 * t = 2 passes over m = 19 MiB, one lane. PHC strings "$argon2id$v=19$m=19456,t=2,p=1$...". */
#define IDP_PWHASH_OPSLIMIT 2ULL
#define IDP_PWHASH_MEMLIMIT ((size_t)19 * 1024 * 1024)
#define IDP_PASSWORD_MIN    8    /* characters (UTF-8 code points) of a new password */
#define IDP_PASSWORD_MAX    1024 /* bytes: longer input is refused before any hashing */
#define IDP_PHC_MAX         128  /* crypto_pwhash_STRBYTES, NUL included */

/* Whether pw may become a password: valid UTF-8, no control character, IDP_PASSWORD_MIN to
 * IDP_PASSWORD_MAX; the message says which rule failed, never the password. */
int idp_password_policy(struct slice pw, struct err *e);
/* A PHC string for pw (no policy check: see idp_password_policy); xmalloc'd, NULL on error.
 * Blocking (argon2id). */
char *idp_password_hash(struct slice pw, struct err *e);
/* True when pw matches phc_z. phc_z NULL or "" (unknown user, or no password login) runs
 * the same work against a fixed hash and returns false, so that the time taken does not say
 * whether the user exists. Blocking. pw stays the caller's to wipe. */
bool idp_password_verify(const char *phc_z, struct slice pw);
/* The dummy verification alone (a path that has no hash to check). */
void idp_password_dummy_verify(struct slice pw);
/* True when phc_z was made with other parameters (or another algorithm) than the ones above:
 * the caller re-hashes the password it has just verified. */
bool idp_password_needs_rehash(const char *phc_z);

/* ---- users and groups (users.c) ------------------------------------------------------ */

#define IDP_USERNAME_MAX   150 /* [A-Za-z0-9._@+-]{1,150} */
#define IDP_NAME_MAX       256 /* display names */
#define IDP_EMAIL_MAX      254 /* RFC 5321 section 4.5.3.1.3 path limit, less the brackets */
#define IDP_GROUP_NAME_MAX 150
#define IDP_GROUPS_MAX     STORE_GROUPS_MAX /* groups of one user */
#define IDP_ATTRIBUTES_MAX (16 * 1024)      /* serialised attributes object */

bool idp_username_ok(const char *z);
/* Simple syntax: one '@', non-empty local part (<= 64) and domain, printable ASCII without
 * spaces or any of "<>()[],;:\\\"", the domain of dot-separated non-empty labels. */
bool idp_email_ok(const char *z);
/* 1..IDP_GROUP_NAME_MAX bytes of valid UTF-8, no control characters, no leading or trailing
 * space. Display names (IDP_NAME_MAX, may be empty) follow the same rules. */
bool idp_group_name_ok(const char *z);

/* What an upsert did, and where it failed. */
struct idp_upsert {
    int64_t id;
    bool created;          /* false: an existing object was updated (or left as it was) */
    bool changed;          /* created, or at least one stored value differs now (for the
                              caller's model_created / model_updated events) */
    bool password_changed; /* users: a password was given and differs from the stored one */
    const json_t *where;   /* on an IDP_E_INVALID error: the offending node (or the object
                              when a field is missing), for util_yaml_line */
};

/* Creates or updates the user obj["username"] (`postern apply`, the CLI, the admin API).
 * obj is a JSON object with
 *   username    required, [A-Za-z0-9._@+-]{1,150}
 *   name        string (display name)
 *   email       string ("" or null: none), idp_email_ok
 *   is_active   boolean (a new user is active unless false)
 *   attributes  object
 *   groups      array of existing group names: the user's groups become exactly these
 *   password    string, idp_password_policy; set only when given, and only re-hashed when it
 *               differs from the stored one (so applying the same file at every start keeps
 *               sessions and hashes); a change ends the user's sessions
 * A field absent from obj keeps its stored value (a new user: "", active, {}, no groups, no
 * password login). Any other field is refused. Errors are IDP_E_INVALID with the field path
 * "PATH.email: ..." (path_z e.g. "users[0]"; NULL reads as "user"), or the store's (e.g.
 * "email already used by another user", an unknown group). Validates everything before any
 * write; the writes run in one transaction (or in the caller's: store_tx_begin). out may be
 * NULL. Blocking (argon2id when a password is given). */
int idp_user_upsert(struct store *s, const json_t *obj, const char *path_z, struct idp_upsert *out,
                    struct err *e);
/* Creates or updates the group obj["name"]: name (required), attributes (object). */
int idp_group_upsert(struct store *s, const json_t *obj, const char *path_z, struct idp_upsert *out,
                     struct err *e);
/* Checks the policy, hashes and stores pw as the password of user_id, and ends every session
 * of the user (`postern user passwd`). 0, STORE_NOT_FOUND or -1. Blocking. */
int idp_user_set_password(struct store *s, int64_t user_id, struct slice pw, struct err *e);

/* ---- sessions (session.c) ------------------------------------------------------------- */

/* The signed-in user of a request, when its session cookie is valid. */
struct idp_auth {
    struct store_session session; /* id, user_id, auth_time, amr, expires_at... */
    struct store_user user;
};
void idp_auth_free(struct idp_auth *a);

/* Looks up the IdP session named by the request's cookie value (raw token). Blocking (SQL):
 * call it from http_defer work. Returns 0, STORE_NOT_FOUND (no valid session: malformed,
 * unknown, expired, or its user is gone or inactive) or -1. out is freed first (give it a
 * zeroed struct the first time). */
int idp_auth_from_cookie(struct idp *idp, struct store *s, struct slice cookie_value,
                         struct idp_auth *out, struct err *e);

/* True when v has the shape of a token we issue (IDP_TOKEN_CHARS base64url characters):
 * anything else is not looked up. */
bool idp_token_shape_ok(struct slice v);

/* Creates a session for user_id (auth_time now, amr_json_z e.g. "[\"pwd\"]", expiring after
 * cfg.session_lifetime) and hands the raw cookie token to *token_out (xmalloc'd: a secret,
 * util_free_secret it). out (may be NULL) gets the record. Blocking. */
int idp_session_create(struct idp *idp, struct store *s, int64_t user_id, const char *amr_json_z,
                       const char *client_ip_z, const char *user_agent_z, char **token_out,
                       struct store_session *out, struct err *e);
/* Set-Cookie values (xmalloc'd): the session cookie "postern_session=TOKEN; Path=/;
 * Max-Age=LIFETIME; HttpOnly; SameSite=Lax[; Secure]", and the one that clears it. The first
 * holds the token: util_free_secret it. */
char *idp_session_cookie(const struct idp *idp, const char *token_z);
char *idp_session_cookie_clear(const struct idp *idp);

/* Logout: deletes the session of the cookie value and records a `logout` event. 0, or
 * STORE_NOT_FOUND when there was no valid session (nothing to do), or -1. Blocking.
 * The caller also clears the cookie (idp_session_cookie_clear). */
int idp_logout(struct idp *idp, struct store *s, struct slice cookie_value, const char *client_ip_z,
               struct err *e);

/* ---- CSRF (csrf.c) ----------------------------------------------------------------- */

/* CSRF tokens (DESIGN.md: on every form): bound to something only this browser holds (the
 * IdP session id, or before login a random pre-session cookie) and to a purpose ("login",
 * "consent", "logout"), time-limited, HMAC-SHA256 with idp->secret, compared in constant
 * time. The token is xmalloc'd.
 * Binding once signed in: the session's id (struct store_session.id, as idp_auth gives it).
 * Format: base64url(version 1 | issued_at, 8 bytes big-endian | HMAC-SHA256(secret,
 * "postern/csrf/v1" 0 purpose 0 len32(binding) binding issued_at)); valid for
 * IDP_CSRF_LIFETIME seconds, and up to IDP_CSRF_SKEW in the future (nodes' clocks).
 * An empty binding never checks. */
#define IDP_CSRF_LIFETIME  3600
#define IDP_CSRF_SKEW      60
#define IDP_CSRF_TOKEN_MAX 128 /* longer input is not decoded */
char *idp_csrf_token(const struct idp *idp, struct slice binding, const char *purpose_z);
bool idp_csrf_check(const struct idp *idp, struct slice binding, const char *purpose_z,
                    const char *token_z);
/* Set-Cookie value for a new pre-session binding v (a random token):
 * "postern_csrf=V; Path=/if/flow/; HttpOnly; SameSite=Lax[; Secure]" (no Max-Age: it ends
 * with the browser session). xmalloc'd. */
char *idp_csrf_cookie(const struct idp *idp, const char *value_z);

/* ---- throttling (throttle.c) --------------------------------------------------------- */

/* Keys of the store's login_attempts: "user:<username>" (the username of the matching user,
 * else the login as typed) and "ip:<address>" (an IPv6 address counts as its /64: one
 * attacker holds a whole prefix). out must hold IDP_THROTTLE_KEY_MAX bytes. */
#define IDP_THROTTLE_KEY_MAX 320
void idp_throttle_user_key(const char *username_z, char out[IDP_THROTTLE_KEY_MAX]);
void idp_throttle_ip_key(const char *ip_z, char out[IDP_THROTTLE_KEY_MAX]);
/* 1 (locked: *retry_after = seconds left), 0 (not locked; also when throttling is off) or -1.
 * Blocking. */
int idp_throttle_locked(struct idp *idp, struct store *s, const char *key_z, int64_t *retry_after,
                        struct err *e);
/* Counts one failure. *locked_now (may be NULL) says whether this failure locked the key. */
int idp_throttle_fail(struct idp *idp, struct store *s, const char *key_z, bool *locked_now,
                      struct err *e);
int idp_throttle_reset(struct idp *idp, struct store *s, const char *key_z, struct err *e);

/* ---- the login check (login.c) ------------------------------------------------------- */

enum idp_login_result {
    IDP_LOGIN_OK,        /* session created */
    IDP_LOGIN_FAILED,    /* any wrong credential, inactive user, no password: one message */
    IDP_LOGIN_THROTTLED, /* the username or the client IP is locked: 429, same message */
    IDP_LOGIN_ERROR,     /* store or crypto failure: e says what (500) */
};

#define IDP_LOGIN_FAILED_MSG "Invalid username or password"

struct idp_login_input {
    const char *login;      /* username or email, as typed */
    struct slice password;  /* the caller wipes it */
    const char *client_ip;  /* for throttling and events */
    const char *user_agent; /* may be NULL */
    struct slice old_token; /* a session cookie the browser already had (deleted on
                               success: no two sessions per login); may be empty */
};

/* The whole password login, blocking: throttling check (username and client IP) before any
 * hashing, user lookup (username, else email), argon2id verification (a dummy one for an
 * unknown user), re-hash when the parameters changed, a new session (fresh auth_time, amr
 * ["pwd"]) whose raw token goes to *token_out (util_free_secret it), counters (failures
 * counted per username and IP; a success resets the username's), events `login` /
 * `login_failed` (reason in context, never the password) / `login_throttled` (when a key
 * becomes locked). *retry_after (may be NULL) is set for IDP_LOGIN_THROTTLED. auth (may be
 * NULL) gets the session and user of IDP_LOGIN_OK. */
enum idp_login_result idp_login(struct idp *idp, struct store *s, const struct idp_login_input *in,
                                char **token_out, struct idp_auth *auth, int64_t *retry_after,
                                struct err *e);

/* ---- `next` and the login URL (redirect.c) ------------------------------------------ */

/* True when next_z is a relative URL on our origin that every browser resolves on it: it
 * starts with exactly one '/', is printable ASCII without space or backslash, at most
 * IDP_NEXT_MAX bytes, has valid %-escapes, and its path (before '?' or '#') holds no "//",
 * no control character and no backslash, also once percent-decoded (repeatedly). */
bool idp_next_ok(const char *next_z);
/* next_z when idp_next_ok, else "/". */
const char *idp_next_or_root(const char *next_z);

/* The login page URL for a relative `next` (path + query on the IdP's origin):
 * "/if/flow/default-authentication-flow/?next=<encoded>". A next that fails idp_next_ok
 * becomes "/". xmalloc'd. */
char *idp_login_url(const struct idp *idp, const char *next_z);
/* The same with "&prompt=login": the form is shown even to a signed-in user, and its POST
 * creates a fresh session (new auth_time). Use it for OIDC prompt=login and max_age; the
 * `next` given must not force again (drop prompt=login from the authorize request it
 * carries, or compare auth_time with the time of that request), or the browser loops. */
char *idp_login_url_force(const struct idp *idp, const char *next_z);
/* Both, plus an optional login_hint (OIDC) that prefills the username field. */
char *idp_login_url_ex(const struct idp *idp, const char *next_z, bool force,
                       const char *login_hint_z);

/* ---- events (event.c) ---------------------------------------------------------------- */

/* Records an event (action, username or NULL, client IP, app slug or NULL, context JSON or
 * NULL: never a secret). Blocking. Errors are logged, never fatal. */
void idp_event(struct store *s, const char *action_z, const char *username_z,
               const char *client_ip_z, const char *app_z, const json_t *context);

/* ---- routes (flow.c, logout.c) ------------------------------------------------------- */

/* Registers on host cfg.host (NULL = any):
 *   /if/flow/default-authentication-flow/  GET: the login form (or straight to `next` with a
 *       valid session, unless prompt=login); POST: username, password, csrf_token, next
 *   /if/flow/default-invalidation-flow/    GET: a confirmation page (signed in as...) whose
 *       "Log out" link carries csrf_token (purpose "logout", bound to the session id); GET
 *       with that csrf_token, or POST csrf_token=...: logout, cookie cleared, logged-out page
 *   /static/                               web's assets (web_routes_add)
 * idp->web must be set. The handlers answer from http_defer (SQL, argon2id). */
int idp_routes(struct http_router *r, struct idp *idp);

#endif
