/*
 * idp_int.h: what the handlers of src/idp share (not part of the contract).
 */
#ifndef POSTERN_IDP_INT_H
#define POSTERN_IDP_INT_H

#include "idp/idp.h"

/* A cookie holding one of our tokens, copied into out (NUL-terminated) when it has the
 * shape (idp_token_shape_ok); false otherwise (absent or not ours: never looked up). */
bool idp_req_token_cookie(struct http_req *r, const char *name_z, char out[IDP_TOKEN_CHARS + 1]);
/* A parameter of the query (GET) or of the form (POST), or NULL. */
const char *idp_req_param(struct http_req *r, const char *name_z);
/* Copies a parameter value for deferred work: NULL when absent; a value longer than max
 * bytes gives NULL too and sets *too_long (may be NULL). */
char *idp_param_dup(const char *v, size_t max, bool *too_long);
/* path_z is the flow's path, with or without its trailing '/'. */
bool idp_path_is(const char *path_z, const char *flow_path_z);
/* Answers 405 with Allow. */
void idp_respond_405(struct http_req *r, const char *allow_z);
/* Answers a failure after logging it once (never a secret: store / crypto messages): 503 with
 * Retry-After and the "Temporarily unavailable" page when the store cannot be reached
 * (store_unavailable), else 500. */
void idp_respond_failure(struct idp *idp, struct http_req *r, const char *what_z,
                         const struct err *e);

/* Initialises libsodium and makes the dummy hash now (at start) rather than during the first
 * login of an unknown user. False when libsodium is unusable. */
bool idp_password_ready(void);

void idp_login_handler(struct http_req *r, void *ctx);
void idp_logout_handler(struct http_req *r, void *ctx);

#endif
