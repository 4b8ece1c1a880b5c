/* oidc_int.h: what the endpoint handlers of src/oidc share and nobody else sees. */
#ifndef POSTERN_OIDC_INT_H
#define POSTERN_OIDC_INT_H

#include "oidc/oidc.h"

#include "http/http.h"
#include "web/web.h"

#include <jansson.h>
#include <pthread.h>

struct idp;
struct oidc_cache;

struct oidc {
    struct idp *idp;
    const struct web *web;    /* pages (error, consent, form_post, logged out) */
    struct web *own_web;      /* made by oidc_new when the idp has none */
    char install_id[65];      /* hashed_user_id salt: hex HMAC of the server secret */
    struct oidc_cache *cache; /* discovery and JWKS bytes per slug */
    struct oidc *next;        /* contexts made by oidc_routes, for oidc_shutdown */
};

/* ---- replies: built on the worker, sent on the loop thread -------------------------- */

#define OIDC_REPLY_HEADERS 8
/* error_description of temporarily_unavailable */
#define OIDC_UNAVAILABLE_DESC "the server cannot reach its database; try again in a moment"
#define OIDC_JSON_MAX         (64 * 1024)

struct oidc_reply {
    int status;               /* 0: nothing was set, a 500 is sent */
    const char *content_type; /* static string */
    struct buf body;
    char *location; /* a redirect (302) when set */
    bool page;      /* an HTML page: security headers with fa/origin */
    enum web_form_action fa;
    char origin[WEB_ORIGIN_MAX + 1];
    size_t nhdr;
    char *hname[OIDC_REPLY_HEADERS];
    char *hvalue[OIDC_REPLY_HEADERS];
};

void oidc_reply_free(struct oidc_reply *r);
void oidc_reply_reset(struct oidc_reply *r);
void oidc_reply_header(struct oidc_reply *r, const char *name_z, const char *value_z);
/* JSON body (j is consumed). */
void oidc_reply_json(struct oidc_reply *r, int status, json_t *j);
/* {"error": ..., "error_description": ...} (RFC 6749 5.2). */
void oidc_reply_oauth_error(struct oidc_reply *r, int status, const char *error_z,
                            const char *desc_z);
void oidc_reply_redirect(struct oidc_reply *r, const char *url_z);
/* Takes the page in page. */
void oidc_reply_page(struct oidc_reply *r, int status, struct buf *page, enum web_form_action fa,
                     const char *origin_z);
void oidc_reply_error_page(struct oidc_reply *r, const struct oidc *o, int status,
                           const char *title_z, const char *message_z);
/* A failure of the work, logged once. When the store cannot be reached (store_unavailable:
 * not a bug, and it passes), "store unavailable: <message>" and 503 with Retry-After and
 * temporarily_unavailable (RFC 6749 4.1.2.1 names the code; the other endpoints use it too,
 * with 503); otherwise "oidc: <what_z>: <message>" and 500 server_error. e may be NULL (a
 * failure that is not the store's). */
void oidc_reply_failure(struct oidc_reply *r, const char *what_z, const struct err *e);
/* The same for a person: the "Temporarily unavailable" page (503) or "Something went wrong"
 * (500). */
void oidc_reply_failure_page(struct oidc_reply *r, const struct oidc *o, const char *what_z,
                             const struct err *e);
/* Logs a failure once, as above; true when the store was unreachable (the caller answers
 * 503 / temporarily_unavailable its own way, e.g. in a redirect to the client). */
bool oidc_failure_log(const char *what_z, const struct err *e);
/* Sends r on the request (loop thread). */
void oidc_reply_send(struct http_req *req, struct oidc_reply *r);

/* ---- jobs: what a handler hands to the worker pool ---------------------------------- */

struct oidc_job;
typedef void (*oidc_work_fn)(struct oidc_job *j);

struct oidc_job {
    struct oidc *o;
    enum http_method method;
    struct http_params params; /* a copy: the query (GET, HEAD) or the form body (POST) */
    bool params_ok;            /* false: the query or the body could not be decoded */
    bool body_is_form;         /* POST with a form body */
    bool query_nonempty;       /* a POST that also had a query string */
    char *cookie;              /* the IdP session cookie value, or NULL */
    char *authorization;       /* the Authorization header, or NULL */
    char *client_ip;
    char *user_agent;
    char *slug; /* /application/o/<slug>/... endpoints */
    int kind;   /* which document or action under the slug */
    oidc_work_fn work;
    struct oidc_reply reply;
};

/* Copies what work needs from the request and queues it; the reply is sent by the done
 * callback. On failure the request has been answered. */
void oidc_job_start(struct http_req *req, struct oidc *o, oidc_work_fn work, const char *slug_z,
                    int kind);
/* The value of a parameter (the copy), or NULL. */
const char *oidc_param(const struct oidc_job *j, const char *name_z);
size_t oidc_param_count(const struct oidc_job *j, const char *name_z);

/* ---- the authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1) ------------------- */

struct oidc_authz {
    /* borrowed from the parameters */
    const char *client_id, *redirect_uri, *response_type, *response_mode, *scope, *state, *nonce,
        *code_challenge, *code_challenge_method, *prompt, *max_age, *login_hint, *marker;
    /* parsed */
    unsigned scopes;
    unsigned prompt_flags;
    int64_t max_age_s; /* -1: none */
    bool form_post;
};

/* The parameters an authorization request carries through the login and consent pages. */
extern const char *const oidc_authz_names[];
extern const size_t oidc_authz_nnames;

/* Step 1: client_id and redirect_uri, whose errors are shown on a page, never redirected
 * (RFC 6749 4.1.2.1). 0, or -1 with *why (a message for the page). */
int oidc_authz_parse_client(const struct http_params *p, struct oidc_authz *a, const char **why);
/* Step 2: everything else. 0, or -1 with *error (an OAuth error code for the redirect) and
 * *desc. Fills what it can (state first: an error is still answered with it). */
int oidc_authz_parse(const struct http_params *p, struct oidc_authz *a, const char **error,
                     const char **desc);

/* ---- client authentication on the worker (RFC 6749 2.3) ----------------------------- */

enum oidc_client_rc {
    OIDC_CLIENT_OK = 0,
    OIDC_CLIENT_BAD_REQUEST, /* two methods at once, malformed header: invalid_request */
    OIDC_CLIENT_INVALID,     /* unknown client, wrong or missing secret: invalid_client */
    OIDC_CLIENT_ERROR,       /* the store failed: server_error */
};

struct oidc_client {
    struct store_provider p;
    bool used_basic; /* answer 401 with WWW-Authenticate: Basic */
    char *client_id; /* as presented (for events), or NULL */
};
/* Authenticates the client of a token / introspection / revocation request. */
enum oidc_client_rc oidc_client_auth(struct oidc_job *j, struct store *s, struct oidc_client *c,
                                     struct err *e);
void oidc_client_free(struct oidc_client *c);
/* clientcache.c: store_provider_get_by_client_id and store_app_get_by_provider through a
 * per-thread cache (valid for this generation, at most OIDC_META_TTL seconds). Same results;
 * out is freed first. */
int oidc_client_lookup(struct store *s, const char *client_id_z, struct store_provider *out,
                       struct err *e);
int oidc_client_app(struct store *s, const struct store_provider *p, struct store_app *out,
                    struct err *e);
/* Answers the failure rc in j->reply (token-style JSON); e: oidc_client_auth's error, for
 * OIDC_CLIENT_ERROR (logged here: 500, or 503 while the store cannot be reached). */
void oidc_client_reply_error(struct oidc_job *j, const struct oidc_client *c,
                             enum oidc_client_rc rc, const struct err *e);

/* ---- issuing tokens (token.c, refresh) ---------------------------------------------- */

struct oidc_grant {
    const struct store_provider *p;
    const char *slug;              /* the application: the issuer */
    const struct store_user *user; /* NULL: client_credentials (sub = client_id) */
    unsigned scopes;
    const char *nonce;
    int64_t auth_time;
    const char *amr;
    const char *code_id;    /* "" none */
    const char *session_id; /* "" none */
    bool refresh;           /* issue a refresh token */
    bool id_token;          /* issue an ID token */
};

struct oidc_issued {
    char *access_token;
    char *id_token;      /* NULL when none */
    char *refresh_token; /* NULL when none */
    char *scope;
    int64_t expires_in;
};

/* Called inside the transaction that records the tokens of a response, to add its event to
 * the same commit through s (which may be another worker's connection, while the caller is
 * still signing: see record.c); must not fail it, and must read only what does not change
 * until oidc_issue returns. */
typedef void (*oidc_issue_tx_fn)(void *arg, struct store *s, const char *scope_z);
/* Signs the tokens of g; their records and in_tx (may be NULL) are committed meanwhile, in
 * a transaction that may hold other responses' records too (group commit, record.c). 0,
 * STORE_REVOKED (the grant was closed meanwhile: a replayed code; nothing is recorded), or
 * -1. */
int oidc_issue(struct oidc *o, struct store *s, const struct oidc_grant *g, struct oidc_issued *out,
               oidc_issue_tx_fn in_tx, void *arg, struct err *e);

/* The rows of one token response (record.c): queued before the tokens are signed, committed
 * by whichever worker leads the next batch. The caller fills the first members and keeps the
 * struct (and what it points to) alive and unchanged until oidc_record_finish or
 * oidc_record_cancel returns. */
#define OIDC_RECORD_BATCH_MAX 64
typedef int (*oidc_store_fn)(struct store *s, void *arg, struct err *e);
struct oidc_rec {
    oidc_store_fn fn; /* instead of the records below: runs fn(s, fn_arg, e) */
    void *fn_arg;
    const struct oidc_grant *g;
    const char *scope;
    const char *jti;           /* the access token's record key */
    const char *refresh_token; /* NULL: none to record */
    int64_t access_exp;
    oidc_issue_tx_fn in_tx;
    void *arg;
    /* record.c's */
    int rc;
    struct err e;
    bool taken, done, waiting;
    pthread_cond_t cv;
    struct oidc_rec *next;
};
void oidc_record_queue(struct oidc_rec *r);
/* Waits for r's batch, or commits the queue itself: 0, STORE_REVOKED or -1 (e set). s: the
 * caller's connection, used if the shared one cannot be opened. */
int oidc_record_finish(struct oidc_rec *r, struct store *s, struct err *e);
/* Runs fn in the next batch's transaction (committed with it): fn's result (0 or a positive
 * STORE_ code: committed; -1: rolled back, the batch retried without it). */
int oidc_record_run(struct store *s, oidc_store_fn fn, void *arg, struct err *e);
/* Takes r out of the queue (or waits for the batch that took it: it may be recorded). */
void oidc_record_cancel(struct oidc_rec *r);
/* Closes the connection that record.c keeps (oidc_shutdown). */
void oidc_record_shutdown(void);

void oidc_issued_free(struct oidc_issued *t);
/* The token endpoint's success body (RFC 6749 5.1). */
json_t *oidc_issued_json(const struct oidc_issued *t);
/* The group names of a user (profile scope); *names is a NULL-terminated xmalloc'd array
 * of xmalloc'd strings (free with oidc_strv_free). */
int oidc_user_groups(struct store *s, int64_t user_id, char ***names, size_t *n, struct err *e);
void oidc_strv_free(char **v);

/* ---- verifying our own access tokens (userinfo, introspect, revoke) ----------------- */

struct oidc_at {
    json_t *claims;
    struct store_token rec;
    struct store_provider provider;
};
/* 0: a valid, active access token of ours (claims, record and provider filled);
 * 1: not one (bad signature, expired, revoked, unknown, typ not at+jwt); -1: error. */
int oidc_access_token_check(struct oidc *o, struct store *s, const char *token_z,
                            struct oidc_at *out, struct err *e);
void oidc_at_free(struct oidc_at *a);

/* ---- the cache of discovery and JWKS documents --------------------------------------- */

enum oidc_meta_kind { OIDC_META_DISCOVERY = 0, OIDC_META_JWKS = 1, OIDC_META_KINDS = 2 };

struct oidc_cache *oidc_cache_new(void);
void oidc_cache_free(struct oidc_cache *c);
/* On a hit, answers req (200, or 304 for a matching If-None-Match) and returns true. */
bool oidc_cache_serve(struct oidc_cache *c, struct http_req *req, const char *slug_z,
                      enum oidc_meta_kind kind);
/* The generation to read before building documents: an invalidation that happens while
 * they are built makes them stale at once. */
uint64_t oidc_cache_generation(void);
/* Stores both documents of a slug (copied), built under generation gen. */
void oidc_cache_put(struct oidc_cache *c, const char *slug_z, uint64_t gen,
                    const struct buf docs[OIDC_META_KINDS]);
/* While the store cannot be reached: the last documents of a slug, whatever their age or
 * generation, copied into r (with oidc_meta_headers), and kept for another OIDC_META_TTL
 * seconds so that the next requests are served from the loop without a worker. false when
 * the slug has none. */
bool oidc_cache_stale(struct oidc_cache *c, const char *slug_z, enum oidc_meta_kind kind,
                      struct oidc_reply *r);
/* Headers of a document response (Cache-Control, ETag, CORS) on a reply. */
void oidc_meta_headers(struct oidc_reply *r, enum oidc_meta_kind kind, const char *etag_z);
/* '"' + 32 hex digits of SHA-256 + '"' */
void oidc_etag(const void *p, size_t n, char out[40]);

/* ---- endpoint work functions ----------------------------------------------------- */

void oidc_authorize_work(struct oidc_job *j);
void oidc_token_work(struct oidc_job *j);
void oidc_userinfo_work(struct oidc_job *j);
void oidc_introspect_work(struct oidc_job *j);
void oidc_revoke_work(struct oidc_job *j);
void oidc_meta_work(struct oidc_job *j);
void oidc_endsession_work(struct oidc_job *j);

/* consent.c, called by authorize */
struct idp_auth;
enum oidc_consent_rc {
    OIDC_CONSENT_GIVEN,  /* go on and issue the code */
    OIDC_CONSENT_DENIED, /* the user pressed Deny: access_denied */
    OIDC_CONSENT_NEEDED, /* prompt=none and no remembered consent: consent_required */
    OIDC_CONSENT_SHOWN,  /* the consent page is in j->reply */
    OIDC_CONSENT_ERROR,  /* e says why (not logged) */
};
enum oidc_consent_rc oidc_consent(struct oidc_job *j, struct store *s, const struct oidc_authz *a,
                                  const struct store_provider *p, const struct store_app *app,
                                  const struct idp_auth *auth, struct err *e);

/* The application of a slug and its provider: 0, STORE_NOT_FOUND (no such application, or
 * one without a provider) or -1. */
int oidc_app_by_slug(struct store *s, const char *slug_z, struct store_app *app,
                     struct store_provider *p, struct err *e);
/* The key a provider signs with (kid, alg). A pair the ring lacks (added by `postern apply`
 * or another node) is imported from the store first (idp_keys_sync). */
struct keys_info;
int oidc_provider_key(const struct oidc *o, struct store *s, const struct store_provider *p,
                      struct keys_info *ki, struct err *e);

/* Small helpers. */
char *oidc_random_token(size_t bytes); /* base64url; xmalloc'd */
void oidc_event(struct oidc_job *j, struct store *s, const char *action_z, const char *user_z,
                const char *app_z, json_t *context); /* context consumed */

#endif
