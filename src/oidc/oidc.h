/*
 * oidc: the OAuth 2.0 / OpenID Connect provider at Authentik's URLs (DESIGN.md, issue 3):
 *
 *   /application/o/authorize/    GET, POST   RFC 6749 4.1, OIDC Core 3.1.2, RFC 7636
 *   /application/o/token/        POST        authorization_code, refresh_token, client_credentials
 *   /application/o/userinfo/     GET, POST   OIDC Core 5.3, RFC 6750 2.1 and 2.2
 *   /application/o/introspect/   POST        RFC 7662
 *   /application/o/revoke/       POST        RFC 7009
 *   /application/o/<slug>/.well-known/openid-configuration   OIDC Discovery 1.0
 *   /application/o/<slug>/jwks/                               RFC 7517
 *   /application/o/<slug>/end-session/                        OIDC RP-Initiated Logout 1.0
 *
 * Two halves, as mod_auth_openidc keeps them: the protocol rules declared below (redirect-URI
 * matching, scopes, prompt, PKCE, client_secret_basic decoding, claims, policy bindings, the
 * login marker, the discovery document) are pure functions, unit-tested and linked alone; the
 * endpoint handlers (oidc_int.h) run their SQL, argon2-free client checks and RSA signing on
 * the worker pool (http_defer) with store_thread() as the connection.
 *
 * Issuer of an application: <public_url>/application/o/<slug>/ (with the trailing slash).
 */
#ifndef POSTERN_OIDC_H
#define POSTERN_OIDC_H

#include "jose/jose.h"
#include "store/store.h"
#include "util/util.h"

struct http_router;
struct idp;

/* ---- limits (one place) ------------------------------------------------------------ */

#define OIDC_PREFIX              "/application/o/"
#define OIDC_SLUG_MAX            128 /* [A-Za-z0-9_-], as Django's SlugField */
#define OIDC_CLIENT_ID_MAX       255
#define OIDC_CLIENT_SECRET_MAX   512
#define OIDC_REDIRECT_URI_MAX    2048 /* a longer redirect_uri matches nothing */
#define OIDC_REDIRECT_REGEX_MAX  1024 /* a longer regex matches nothing */
#define OIDC_REDIRECT_URIS_MAX   64   /* entries of one provider */
#define OIDC_STATE_MAX           2048
#define OIDC_NONCE_MAX           512
#define OIDC_SCOPE_MAX           1024
#define OIDC_LOGIN_HINT_MAX      256
#define OIDC_TOKEN_MAX           JOSE_MAX_TOKEN /* any token a client sends us */
#define OIDC_BASIC_MAX           2048           /* Authorization: Basic header value */
#define OIDC_PKCE_MIN            43             /* RFC 7636 4.1, 4.2 */
#define OIDC_PKCE_MAX            128
#define OIDC_CODE_BYTES          32 /* random bytes of a code, a refresh token */
#define OIDC_JTI_BYTES           18
#define OIDC_FORM_BODY_MAX       (16 * 1024) /* token, userinfo, introspect, revoke bodies */
#define OIDC_AUTHZ_BODY_MAX      (32 * 1024) /* authorize and consent POST */
#define OIDC_LOGIN_MARKER_TTL    900         /* seconds a "login requested at" marker is honoured */
#define OIDC_DEFAULT_CODE_TTL    60
#define OIDC_DEFAULT_ACCESS_TTL  3600
#define OIDC_DEFAULT_REFRESH_TTL (30 * 24 * 3600)
#define OIDC_JWT_LEEWAY          30  /* seconds, when we verify our own tokens */
#define OIDC_META_TTL            30  /* seconds a cached discovery / JWKS document is reused */
#define OIDC_META_CACHE_MAX      256 /* slugs whose documents are cached */
#define OIDC_DISCOVERY_MAX_AGE   300 /* Cache-Control of the discovery document */
#define OIDC_JWKS_MAX_AGE        60  /* Cache-Control of the JWKS (keys rotate) */

/* The acr value of every ID token: Authentik's, so that relying parties configured for
 * Authentik keep working. */
#define OIDC_ACR "goauthentik.io/providers/oauth2/default"

/* ---- wiring ------------------------------------------------------------------------ */

struct oidc; /* the endpoints' shared, read-only state (pages, installation id, caches) */

/* Registers every endpoint under /application/o/ (any host) with ctx = a struct oidc made
 * for idp, which lives until oidc_shutdown(). idp must outlive the server. */
int oidc_routes(struct http_router *r, struct idp *idp);
/* The same in two steps, for callers that keep the context. */
struct oidc *oidc_new(struct idp *idp, struct err *e);
int oidc_routes_add(struct http_router *r, struct oidc *o);
void oidc_free(struct oidc *o);
/* Frees the contexts made by oidc_routes (after http_server_free). */
void oidc_shutdown(void);
/* Providers, applications or keys changed (admin API, `postern apply`): the cached discovery
 * and JWKS documents are rebuilt on their next request. Thread-safe. Without a call, they
 * are rebuilt at most OIDC_META_TTL seconds later anyway (other nodes' changes). */
void oidc_cache_invalidate(void);

/* ---- redirect URIs (RFC 6749 3.1.2, RFC 9700 4.1.3) --------------------------------- */

enum oidc_match { OIDC_MATCH_STRICT, OIDC_MATCH_REGEX };

struct oidc_redirect {
    enum oidc_match mode;
    char *url; /* strict: the URI; regex: a POSIX ERE, anchored when matched */
};

struct oidc_redirects {
    struct oidc_redirect *v;
    size_t n;
};

/* Parses a provider's redirect_uris ([{"matching_mode":"strict"|"regex","url":"..."}]).
 * A bad entry fails the whole list (-1): a provider with a typo must not half-work. */
int oidc_redirects_parse(const char *json_z, struct oidc_redirects *out, struct err *e);
void oidc_redirects_free(struct oidc_redirects *l);
/* Whether uri_z may receive the authorization response. strict: exact, case-sensitive
 * string comparison (RFC 6749 3.1.2.3, "simple string comparison"). regex: the pattern
 * wrapped as ^(...)$, REG_EXTENDED|REG_NOSUB, and only for a URI that passes
 * oidc_redirect_uri_sane() (no userinfo, fragment, backslash, dot segment, control or
 * space). An empty list accepts nothing. */
bool oidc_redirect_allowed(const struct oidc_redirects *l, const char *uri_z);
/* Whether uri_z equals a strict entry exactly (post_logout_redirect_uri: regex entries are
 * never used for logout, as Authentik). */
bool oidc_redirect_registered_strict(const struct oidc_redirects *l, const char *uri_z);
/* Structural checks on a URI received from a client (see oidc_redirect_allowed). */
bool oidc_redirect_uri_sane(const char *uri_z);

/* Appends uri_z + ('?' or '&') + name=value pairs (query-encoded; a NULL value is skipped)
 * to out. names and values have n entries. */
int oidc_url_with_params(struct buf *out, const char *uri_z, const char *const *names,
                         const char *const *values, size_t n);

/* ---- scopes and prompt --------------------------------------------------------------- */

enum oidc_scope {
    OIDC_SCOPE_OPENID = 1 << 0,
    OIDC_SCOPE_EMAIL = 1 << 1,
    OIDC_SCOPE_PROFILE = 1 << 2,
    OIDC_SCOPE_OFFLINE = 1 << 3, /* offline_access: a refresh token is issued */
};
#define OIDC_SCOPES_ALL                                                                            \
    (OIDC_SCOPE_OPENID | OIDC_SCOPE_EMAIL | OIDC_SCOPE_PROFILE | OIDC_SCOPE_OFFLINE)

/* Parses a scope parameter (RFC 6749 3.3: scope-tokens of NQCHAR separated by single
 * spaces). Supported scopes set bits in *mask; *unknown counts the others (the authorize
 * endpoint drops them, a refresh request refuses them). -1: empty, too long, or a byte
 * outside NQCHAR. */
int oidc_scope_parse(struct slice s, unsigned *mask, size_t *unknown);
/* "openid email profile offline_access" order; "" for 0. */
int oidc_scope_format(unsigned mask, struct buf *out);
/* The names of the set bits in order, for the consent page; returns how many (<= 4). */
size_t oidc_scope_names(unsigned mask, const char *names[4]);

enum oidc_prompt {
    OIDC_PROMPT_NONE = 1 << 0,
    OIDC_PROMPT_LOGIN = 1 << 1,
    OIDC_PROMPT_CONSENT = 1 << 2,
    OIDC_PROMPT_SELECT_ACCOUNT = 1 << 3, /* accepted; there is one account per session */
};
/* OIDC Core 3.1.2.1: space-separated; "none" with any other value, an unknown value or a
 * repeated one: -1 (invalid_request). NULL or "": 0. */
int oidc_prompt_parse(const char *z, unsigned *out);

/* ---- PKCE (RFC 7636) ------------------------------------------------------------------ */

/* 43..128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~" (4.1 verifier, 4.2 challenge). */
bool oidc_pkce_syntax_ok(const char *z);
/* "S256" or "plain" (exactly). */
bool oidc_pkce_method_ok(const char *z);
/* 4.6: S256: BASE64URL(SHA256(ASCII(verifier))) == challenge; plain: verifier == challenge;
 * compared in constant time. The verifier's syntax is checked too. */
bool oidc_pkce_verify(const char *method_z, const char *challenge_z, const char *verifier_z);

/* ---- client authentication (RFC 6749 2.3.1) -------------------------------------------- */

/* Decodes "Basic <base64(urlenc(id) ':' urlenc(secret))>": the scheme case-insensitively,
 * strict base64, the id before the first ':', each part form-urlencoded-decoded ('+' is a
 * space; a bad %-escape or a NUL refuses). *id and *secret are xmalloc'd; *secret is a
 * secret (util_free_secret). -1 with nothing allocated on any error; an empty id is an
 * error. */
int oidc_basic_decode(struct slice header, char **id, char **secret);
/* application/x-www-form-urlencoded decoding of one component. */
int oidc_form_decode(struct slice s, struct buf *out);

/* ---- subjects and claims (OIDC Core 2, 5.1, 3.1.3.6) ----------------------------------- */

/* The sub of a user for a provider's sub_mode: hashed_user_id (default, also for an unknown
 * or empty mode): hex SHA-256 of "<uuid>-<install_id>", like Authentik's hashed id (stable
 * per installation, unlinkable across installations); user_id: the numeric id; user_uuid;
 * user_username; user_email (falls back to the hashed id when the user has no email).
 * xmalloc'd. */
char *oidc_sub(const char *sub_mode_z, const struct store_user *u, const char *install_id_z);

/* at_hash / c_hash: base64url of the left half of the hash of the ASCII token, the hash being
 * that of alg (SHA-256 for RS256/ES256/PS256, SHA-384, SHA-512 for *512 and EdDSA).
 * xmalloc'd; NULL for an unknown alg. */
char *oidc_token_hash(const char *token_z, enum jose_alg alg);

/* The user-facing claims of the granted scopes (OIDC Core 5.4): email -> email,
 * email_verified (true when an email is set: Postern has no verification step, the
 * administrator enters it; no email -> email_verified false, no email claim); profile ->
 * name, given_name (the first word of name), preferred_username, nickname (the username),
 * groups (the names). Added to obj. */
int oidc_scope_claims(json_t *obj, unsigned scopes, const struct store_user *u,
                      const char *const *groups, size_t ngroups);

struct oidc_id_token_in {
    const char *iss;
    const char *sub;
    const char *client_id;
    int64_t iat;
    int64_t exp;
    int64_t auth_time;    /* 0: omitted */
    const char *nonce;    /* NULL or "": omitted */
    const char *at_hash;  /* NULL: omitted */
    const char *amr_json; /* the session's amr (JSON array text); invalid/empty: ["pwd"] */
    unsigned scopes;
    bool include_claims; /* provider include_claims_in_id_token */
    const struct store_user *user;
    const char *const *groups;
    size_t ngroups;
};
/* iss, sub, aud, azp, exp, iat, auth_time, nonce, at_hash, acr, amr, then the scope claims
 * when include_claims. Caller owns the object. */
json_t *oidc_id_token_claims(const struct oidc_id_token_in *in);

struct oidc_access_token_in {
    const char *iss;
    const char *sub;
    const char *client_id;
    const char *jti;
    int64_t iat;
    int64_t exp;
    int64_t auth_time; /* 0: omitted */
    const char *scope; /* "" or NULL: omitted */
};
/* RFC 9068 section 2.2: iss, sub, aud (= client_id), exp, iat, jti, client_id, scope,
 * auth_time. Signed with typ "at+jwt". */
json_t *oidc_access_token_claims(const struct oidc_access_token_in *in);
#define OIDC_AT_TYP "at+jwt"

/* The issuer of an application: "<public_url>/application/o/<slug>/". xmalloc'd. */
char *oidc_issuer(const char *public_url_z, const char *slug_z);
/* The slug of an issuer of this installation (the inverse), into out; -1 when iss_z is not
 * one of ours. */
int oidc_issuer_slug(const char *public_url_z, const char *iss_z, char *out, size_t outsz);
/* [A-Za-z0-9_-]{1,OIDC_SLUG_MAX} and not one of the endpoint names (authorize token device
 * userinfo introspect revoke). */
bool oidc_slug_ok(struct slice slug);

/* ---- the discovery document ----------------------------------------------------------- */

/* OpenID Connect Discovery 1.0 section 3 for one application. alg: the provider's key. */
json_t *oidc_discovery_json(const char *public_url_z, const char *slug_z, enum jose_alg alg);

/* ---- application policy (bindings) ---------------------------------------------------- */

/* Authentik's PolicyEngine over user and group bindings: only enabled bindings count; none
 * (or none enabled) lets everyone in; a binding passes when it names the user or one of the
 * user's groups, inverted by negate; a binding whose user or group was deleted (both ids 0)
 * fails whatever negate says (fail closed). mode "all": every binding must pass; "any" (and
 * anything else): one is enough. */
bool oidc_policy_allows(const char *mode_z, const struct store_binding *b, size_t n,
                        int64_t user_id, const int64_t *group_ids, size_t ngroups);

/* ---- the login marker ----------------------------------------------------------------- */

/* prompt=login and max_age send the browser to the login page with next = the authorize
 * request plus a marker "login requested at T" (T.MAC, HMAC-SHA256 with the server secret,
 * bound to the client_id). Back at authorize, a session whose auth_time >= T satisfies the
 * request, so max_age=0 cannot loop; a session still older than T means the login page did
 * not authenticate again and the request fails with login_required instead of looping.
 * The marker is honoured for OIDC_LOGIN_MARKER_TTL seconds. */
#define OIDC_MARKER_PARAM "postern_login_at"
#define OIDC_MARKER_MAX   96
int oidc_marker_make(const uint8_t secret[32], const char *client_id_z, int64_t t,
                     char out[OIDC_MARKER_MAX]);
/* 0 and *t when the marker is ours, for this client, and not older than the TTL at now. */
int oidc_marker_check(const uint8_t secret[32], const char *client_id_z, const char *marker_z,
                      int64_t now, int64_t *t);

#endif
