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

#define GATE_RELOAD_S          10   /* config, keys and revocations re-read at least this often */
#define GATE_REVOKED_MAX       100000 /* revoked sessions remembered by a node */
#define GATE_REVOKED_MARGIN_S  60   /* each poll re-reads this much before the newest seen */
#define GATE_TOKEN_CACHE       1024 /* verified tokens kept per event-loop thread */
#define GATE_TOKEN_MAX         8192 /* bytes of a CF_Authorization cookie or header */
#define GATE_CERTS_MAX         (256 * 1024) /* the /cdn-cgi/access/certs document */
#define GATE_REDIRECT_MAX      2048 /* redirect_url */
#define GATE_LEEWAY_S          60   /* clock skew allowed on IdP tokens */
#define GATE_KEY_GRACE_S       ACCESS_KEY_GRACE_S /* a rotated key keeps verifying this long */
#define GATE_KEY_ROTATE_S      (42 * 86400) /* automatic rotation: every 6 weeks */
#define GATE_STATE_COOKIE      "CF_Access_State"
#define GATE_COOKIE            "CF_Authorization"
#define GATE_KEY_NAME_PREFIX   "postern gateway key "
#define GATE_META_TEAM         ACCESS_META_TEAM

/* ---- the snapshot ---------------------------------------------------------------------- */

/* One application as the gateway runs it. */
struct gate_app {
    const struct access_app *app; /* in snap->cfg */
    char aud[STORE_AUD_SIZE];
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

struct gate_snap *gate_snap_get(struct access_gate *g); /* a reference */
void gate_snap_put(struct gate_snap *s);
/* Loads a snapshot from the store (blocking). */
struct gate_snap *gate_snap_load(struct access_gate *g, struct store *s, struct err *e);
const struct gate_app *gate_snap_app(const struct gate_snap *s, const struct access_app *a);

/* ---- the gate -------------------------------------------------------------------------- */

struct access_gate {
    struct web *web;
    pthread_mutex_t mu; /* snap pointer, revoked set */
    struct gate_snap *snap;
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




/* ---- keys (keyset.c) ---------------------------------------------------------------------- */

/* Makes sure the gateway has a current signing key: generates an RSA-2048 pair, stores it
 * and makes it current unless another node's key won. Blocking. */
int gate_keys_ensure(struct store *s, struct err *e);
/* Adds a new current key and retires the previous one for grace_s. Blocking. */
int gate_keys_rotate(struct store *s, int64_t grace_s, int64_t if_current_id,
                     struct store_access_key *out, struct err *e);
/* Fills the snapshot's ring, current kid, jwks and certs from the store. */
int gate_keys_load(struct store *s, struct gate_snap *snap, struct err *e);

/* ---- tokens (apptoken.c) ---------------------------------------------------------------------- */

enum gate_token_type { GATE_TOKEN_APP, GATE_TOKEN_ORG };

/* What a verified CF_Authorization token says. */
struct gate_identity {
    json_t *claims;          /* the whole payload (owned) */
    const char *email;       /* borrowed from claims */
    const char *session_id;  /* identity_nonce */
    const char *idp;         /* login method */
    const char *sub;
    const char *service;     /* common_name of a service-token token, else NULL */
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
                      const json_t *identity, const char *session_id_z, int64_t exp,
                      struct err *e);

/* ---- revocations (revoked.c) ------------------------------------------------------------ */

bool gate_revoked(struct access_gate *g, const char *session_id_z);
void gate_revoked_add(struct access_gate *g, const char *session_id_z, int64_t expires_at);
/* Reads what was revoked since the last poll (blocking). */
int gate_revoked_poll(struct access_gate *g, struct store *s, struct err *e);
void gate_revoked_free(struct access_gate *g);

#endif
