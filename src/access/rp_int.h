/*
 * rp_int.h: what the relying-party files share (rp.c, rp_verify.c, rp_jwks.c, rp_flow.c,
 * rp_test.c). Not for the rest of the module: access.h section 4 is the interface.
 */
#ifndef POSTERN_ACCESS_RP_INT_H
#define POSTERN_ACCESS_RP_INT_H

#include "access/access.h"
#include "http/http.h"
#include "jose/jose.h"

#include <jansson.h>

/* Bytes of an IdP-supplied text (error_description, a claim value, a page title) quoted in
 * a diagnosis. */
#define RP_QUOTE_MAX 160

/* ---- rp.c: results, answers of the IdP -------------------------------------------------- */

/* Sets out->diag and out->msg; returns d. */
enum access_rp_diag rp_set(struct access_rp_result *out, enum access_rp_diag d, const char *fmt,
                           ...) UTIL_PRINTF(3, 4);
/* A printable-ASCII copy of untrusted text for messages: other bytes become '?', cut to
 * out_n - 1 bytes. */
void rp_quote(struct slice in, char *out, size_t out_n);
/* res->date minus our clock, 0 when the IdP sent no usable Date. */
int64_t rp_skew(const struct http_fetch_result *res);
/* A transfer that did not end with a response (res->status != HTTP_FETCH_OK): unreachable,
 * TLS, timeout... `what`: "token endpoint", "JWKS", ... */
enum access_rp_diag rp_fetch_failed(const char *what, const char *url,
                                    const struct http_fetch_result *res,
                                    struct access_rp_result *out);
/* An OAuth error object (RFC 6749 section 5.2) as a diagnosis; `where` starts the message. */
enum access_rp_diag rp_oauth_error(const char *where, const char *error_z, const char *desc_z,
                                   struct access_rp_result *out);
/* The token endpoint's answer: 200 with a JSON object holding a string id_token (then
 * *id_token is an xmalloc'd copy), an OAuth error, or something else (HTTP_ERROR). */
enum access_rp_diag rp_token_answer(const char *url, const struct http_fetch_result *res,
                                    char **id_token, struct access_rp_result *out);
/* The same request's OAuth error fields, when the answer is one (NULL otherwise): for the
 * test-idp check, which expects an error. *error and *desc borrow from *doc (json_decref). */
bool rp_oauth_answer(const struct http_fetch_result *res, json_t **doc, const char **error,
                     const char **desc);
/* A case-insensitive search for "redirect_uri", "redirect uri", "redirect_url" or
 * "redirect url" in s: how IdPs word a redirect-URI refusal. */
bool rp_mentions_redirect(struct slice s);
/* Same origin (scheme, host, port) of two absolute http(s) URLs. */
bool rp_same_origin(const char *a_z, const char *b_z);

/* ---- rp.c: documents -------------------------------------------------------------------- */

/* The parts of a discovery document the gateway uses (OpenID Connect Discovery 1.0 section 3). */
struct rp_disc {
    char *issuer;
    char *authorization_endpoint;
    char *token_endpoint;
    char *jwks_uri;
};
void rp_disc_free(struct rp_disc *d);
/* Checks the answer for url: status 200, a JSON object, issuer = want_issuer (when given) or
 * the discovery URL without "/.well-known/openid-configuration" (Discovery section 4.3;
 * with or without a trailing '/'), each endpoint an http(s) URL when present. */
enum access_rp_diag rp_disc_parse(const char *url, const char *want_issuer,
                                  const struct http_fetch_result *res, struct rp_disc *out,
                                  struct access_rp_result *r);
/* Status 200 and a JWKS with at least one usable key. */
enum access_rp_diag rp_jwks_parse(const char *url, const struct http_fetch_result *res,
                                  struct jose_jwks **out, struct access_rp_result *r);

/* ---- rp_jwks.c: the cache --------------------------------------------------------------- */

enum rp_kind { RP_DOC_JWKS, RP_DOC_DISCOVERY };

/* A fetched document: immutable once published, reference-counted (atomic). */
struct rp_doc {
    int refs;
    enum rp_kind kind;
    int64_t fetched_ms; /* when its fetch started (monotonic) */
    struct jose_jwks *jwks;
    struct rp_disc disc;
};
void rp_doc_put(struct rp_doc *d);

/* How an rp_doc_fn was reached. */
enum rp_doc_flags {
    RP_DOC_FETCHED = 1,   /* doc comes from a request made for this call (a re-fetch would
                             tell nothing new) */
    RP_DOC_CANCELLED = 2, /* the loop is being freed (http_fetch_loop_free): end now */
};

/* doc: a reference for the callee (rp_doc_put it), or NULL and fail says why. */
typedef void (*rp_doc_fn)(struct rp_doc *doc, const struct access_rp_result *fail, unsigned flags,
                          void *arg);

/* The document of that kind at url, from the cache when fresh, else fetched on base's loop.
 * want_issuer: discovery only (part of the cache key). refetch: the JWKS lacks a kid; fetch
 * again unless a re-fetch of this URL is in flight or started less than refetch_min ago
 * (then fn gets ACCESS_RP_UNKNOWN_KID and a message saying so). fn runs exactly once,
 * possibly before this returns. */
void rp_doc_get(struct access_rp *rp, struct event_base *base, enum rp_kind kind, const char *url,
                const char *want_issuer, const char *ca_file, bool refetch, rp_doc_fn fn,
                void *arg);
int rp_timeout_ms(const struct access_rp *rp);
void rp_count_fetch(struct access_rp *rp);

/* ---- rp_flow.c / rp_test.c -------------------------------------------------------------- */

/* The token request body: grant_type, code, redirect_uri, code_verifier (when verifier_z is
 * not NULL), form-encoded. -1 when it does not fit cap. */
int rp_token_body(const char *code_z, const char *redirect_uri_z, const char *verifier_z,
                  struct buf *out);

#endif
