/*
 * gate_int.h: what the running gateway's files share (gate.c, snap.c, keyset.c, apptoken.c,
 * revoked.c, request.c, team.c, callback.c, appdomain.c). Not for other modules.
 *
 * Threads. Requests run on the server's event loops; blocking work (store, private-key
 * signing) on its worker pool through http_defer; one background thread (gate.c) reloads the
 * configuration and the signing keys from the store, polls the revocation list and purges
 * expired rows. What requests read is an immutable, reference-counted snapshot
 * (struct gate_snap): the background thread builds a new one and swaps the pointer.
 */
#ifndef POSTERN_ACCESS_GATE_INT_H
#define POSTERN_ACCESS_GATE_INT_H

#include "access/access.h"
#include "http/http.h"
#include "jose/jose.h"
#include "keys/keys.h"
#include "store/store.h"
#include "web/web.h"

#include <jansson.h>
#include <pthread.h>

struct access_gate;
struct gate_revoked;

/* ---- limits and timings (one place) -------------------------------------------------- */

#define GATE_RELOAD_S         10     /* config, keys and revocations re-read at least this often */
#define GATE_REVOKED_MAX      100000 /* revoked sessions remembered by a node */
#define GATE_REVOKED_MARGIN_S 60     /* each poll re-reads this much before the newest seen */
#define GATE_TOKEN_CACHE      1024   /* verified tokens kept per event-loop thread */
#define GATE_TOKEN_MAX        8192   /* bytes of a CF_Authorization cookie or header */
#define GATE_CERTS_MAX        (256 * 1024)       /* the /cdn-cgi/access/certs document */
#define GATE_REDIRECT_MAX     2048               /* redirect_url */
#define GATE_LEEWAY_S         60                 /* clock skew allowed on IdP tokens */
#define GATE_KEY_GRACE_S      ACCESS_KEY_GRACE_S /* a rotated key keeps verifying this long */
#define GATE_KEY_ROTATE_S     (42 * 86400)       /* automatic rotation: every 6 weeks */
#define GATE_STATE_COOKIE     "CF_Access_State"
#define GATE_COOKIE           "CF_Authorization"
#define GATE_KEY_NAME_PREFIX  "postern gateway key "
#define GATE_META_TEAM        ACCESS_META_TEAM

/* ---- the snapshot ---------------------------------------------------------------------- */

/* One application as the gateway runs it. */
struct gate_app {
    const struct access_app *app; /* in snap->cfg */
    char aud[STORE_AUD_SIZE];
    struct http_origin *origin; /* owned by the gate (kept across snapshots: its pools) */
};

struct gate_snap {
    int refs; /* atomic */
    struct access_config cfg;
    struct gate_app *apps; /* one per cfg.apps[i] */
    /* Signing and verification keys: the current key signs; every listed key verifies. */
    struct keys *ring;
    char current_kid[KEYS_KID_MAX];
    struct jose_jwks *jwks;
    struct buf certs; /* the /cdn-cgi/access/certs document */
    uint64_t version; /* bumped by every new snapshot */
};

/* A reference to the current snapshot, and its end. On the threads that take them often
 * (the event loops: every request), both are free of locks and shared counters: each thread
 * holds one reference to the snapshot it saw last, replaced when the gate's snap_version
 * moves on, and hands out counted loans of it (snap.c). */
struct gate_snap *gate_snap_get(struct access_gate *g);
void gate_snap_put(struct gate_snap *s);
/* Drops the calling thread's reference when it is to a snapshot of g (access_gate_free);
 * other threads drop theirs when they exit. */
void gate_snap_forget(struct access_gate *g);
/* Loads a snapshot from the store (blocking). */
struct gate_snap *gate_snap_load(struct access_gate *g, struct store *s, struct err *e);
const struct gate_app *gate_snap_app(const struct gate_snap *s, const struct access_app *a);

/* ---- the gate -------------------------------------------------------------------------- */

struct gate_origin_ent {
    char *url;
    struct http_origin *origin;
};

struct access_gate {
    struct web *web;
    struct access_rp *rp; /* the OIDC relying party: JWKS and discovery caches */
    pthread_mutex_t mu;   /* snap pointer, origins, revoked set */
    struct gate_snap *snap;
    uint64_t snap_version; /* atomic: snap->version, read without mu by gate_snap_get */
    struct gate_origin_ent *origins;
    size_t norigins;
    /* revoked.c: session ids revoked (logout), until they expire */
    struct gate_revoked *revoked;
    int64_t revoked_since; /* newest revoked_at seen */
    /* background thread */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    char *data_dir;
};

struct http_origin *gate_origin(struct access_gate *g, const struct access_url *u, struct err *e);

/* ---- keys (keyset.c) ---------------------------------------------------------------------- */

/* Makes sure the gateway has a current signing key: generates an RSA-2048 pair, stores it
 * and makes it current unless another node's key won. Blocking. */
int gate_keys_ensure(struct store *s, struct err *e);
/* Adds a new current key and retires the previous one for grace_s. Blocking. */
int gate_keys_rotate(struct store *s, int64_t grace_s, int64_t if_current_id,
                     struct store_access_key *out, struct err *e);
/* Fills the snapshot's ring, current kid, jwks and certs from the store. */
int gate_keys_load(struct store *s, struct gate_snap *snap, struct err *e);

/* ---- tokens (apptoken.c) ----------------------------------------------------------------------
 */

enum gate_token_type { GATE_TOKEN_APP, GATE_TOKEN_ORG };

/* What a verified CF_Authorization token says. */
struct gate_identity {
    json_t *claims;         /* the whole payload (owned) */
    const char *email;      /* borrowed from claims */
    const char *session_id; /* identity_nonce */
    const char *idp;        /* login method */
    const char *sub;
    const char *service; /* common_name of a service-token token, else NULL */
    const char *groups[ACCESS_MAX_VALUES];
    size_t ngroups;
    int64_t exp, iat;
};
void gate_identity_free(struct gate_identity *id);

/* Verifies a CF_Authorization token against the snapshot's keys: signature, iss = team
 * domain, aud (the app's AUD tag, or the team host for org tokens), exp/nbf/iat, type; then
 * that its session is not revoked. Uses a per-thread cache of verified tokens. */
int gate_token_verify(struct access_gate *g, const struct gate_snap *snap, struct slice token,
                      enum gate_token_type type, const char *aud_z, struct gate_identity *out,
                      struct err *e);
/* Signs a token for a session (blocking: run on a worker). identity: the session's identity
 * object; aud_z: the app's AUD tag (app) or the team host (org); exp: its expiry. */
char *gate_token_mint(const struct gate_snap *snap, enum gate_token_type type, const char *aud_z,
                      const json_t *identity, const char *session_id_z, int64_t exp, struct err *e);

/* ---- answering (reply.c) ------------------------------------------------------------------ */

int gate_app_base(const struct gate_snap *snap, struct slice host, struct buf *out);
const char *gate_redirect_path(const char *z);
void gate_path_only(const char *z, struct buf *out);
int gate_set_cookie(struct http_req *r, const struct gate_snap *snap, const char *name_z,
                    const char *value_z, const char *path_z, int64_t max_age, bool http_only,
                    enum access_same_site same_site);
void gate_page_error(struct access_gate *g, struct http_req *r, int status, const char *title_z,
                     const char *message_z);
void gate_page_denied(struct access_gate *g, struct http_req *r, const char *app_z,
                      const char *email_z, const char *signout_z);
void gate_json_error(struct http_req *r, int status, const char *message_z);
/* A failure of the store or of signing. When the store cannot be reached (store_unavailable:
 * PostgreSQL down, SQLite locked past its timeout) the request is not a bug and will work
 * again by itself: 503 with Retry-After (RFC 9110 section 15.6.4) and the "Temporarily
 * unavailable" words (web.h), and one log line "store unavailable: <message>". Anything else:
 * 500 and "access: <what>: <message>". Requests that need no store (an app token verified in
 * memory, the certs) never come here. gate_failure_log logs e once as above and says whether
 * the store was unreachable; gate_page_failure answers people (the unavailable page, or
 * gate_page_error(500, title_z, message_z)); gate_json_failure machines ({"error":
 * "temporarily unavailable"} 503, or {"error": "server error"} 500). */
bool gate_failure_log(const char *what_z, const struct err *e);
void gate_page_failure(struct access_gate *g, struct http_req *r, const char *what_z,
                       const struct err *e, const char *title_z, const char *message_z);
void gate_json_failure(struct http_req *r, const char *what_z, const struct err *e);
bool gate_is_b64url(struct slice s);
void gate_subject(struct access_subject *out, struct http_req *r, const struct gate_identity *id);

/* ---- the team domain (team.c, callback.c) ------------------------------------------------ */

void gate_team_login(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_team_certs(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_team_callback(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_team_logout(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_team_test(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_login_start(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct access_idp *idp, const char *host_z, const char *redirect_z);
void gate_send_to_app(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct gate_app *ga, struct slice host, const char *session_id_z,
                      const char *redirect_z);

/* ---- an application's domain (appdomain.c, request.c) ----------------------------------- */

void gate_app_authorized(struct access_gate *g, struct http_req *r, struct gate_snap *snap);
void gate_app_identity(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                       const struct gate_app *ga);
void gate_app_logout(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                     const struct gate_app *ga);
void gate_app_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                      const struct gate_app *ga);
void gate_service_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                          const struct gate_app *ga);
void gate_forward(struct http_req *r, const struct gate_app *ga, const char *token_z,
                  const char *email_z);

/* ---- revocations (revoked.c) ------------------------------------------------------------ */

bool gate_revoked(struct access_gate *g, const char *session_id_z);
void gate_revoked_add(struct access_gate *g, const char *session_id_z, int64_t expires_at);
/* Reads what was revoked since the last poll (blocking). */
int gate_revoked_poll(struct access_gate *g, struct store *s, struct err *e);
void gate_revoked_free(struct access_gate *g);

#endif
