/*
 * access: the Gate (Cloudflare Access's role, DESIGN.md "Wire contract — Gate"). One header
 * for the module, in sections; later sections (login flow, sessions, tokens, certificates,
 * proxy routes) are added below the ones here.
 *
 * Layer: uses util, jose, http, store, keys, web; only admin and main use it.
 *
 * Sections:
 *   1. model   (model.c, rule.c, domain.c, json.c): the configuration as structs, parsed
 *      strictly from JSON (the `access:` section of the config file after util_yaml, the admin
 *      API, or the store's normalised JSON) with errors naming the field path and the node,
 *      and turned back into normalised JSON.
 *   2. cidr    (cidr.c): IPv4/IPv6 ranges and client addresses.
 *   3. policy  (policy.c): which policy of an application decides a request.
 */
#ifndef POSTERN_ACCESS_H
#define POSTERN_ACCESS_H

#include "util/util.h"

/* ======================================================================== */
/* 1. model                                                                  */
/* ======================================================================== */

/* Limits of the configuration (operator input, but still bounded). */
#define ACCESS_MAX_IDPS      64
#define ACCESS_MAX_APPS      1024
#define ACCESS_MAX_POLICIES  64   /* per application */
#define ACCESS_MAX_RULES     64   /* per include / require / exclude list */
#define ACCESS_MAX_VALUES    1024 /* per rule (emails, ranges, groups...) */
#define ACCESS_MAX_SCOPES    32
#define ACCESS_MAX_CLAIMS    64
#define ACCESS_NAME_MAX      128 /* names of IdPs, apps, policies, groups, claims, tokens */
#define ACCESS_VALUE_MAX     320 /* an email (RFC 5321: 64 + 1 + 255), a claim value */
#define ACCESS_CLIENT_ID_MAX 256
#define ACCESS_SECRET_MAX    1024 /* client_secret */
#define ACCESS_URL_MAX       2048
#define ACCESS_HOST_MAX      253 /* RFC 1035 section 2.3.4 */
#define ACCESS_LABEL_MAX     63
#define ACCESS_PATH_MAX      1024 /* path prefix of an application domain */
#define ACCESS_AUD_MAX       128
#define ACCESS_FILE_MAX      4096 /* ca_file */
#define ACCESS_FIELD_MAX     160  /* "access.applications[0].policies[1].include[0]..." */

#define ACCESS_DEFAULT_SESSION_S   (24 * 3600)
#define ACCESS_MIN_SESSION_S       60
#define ACCESS_MAX_SESSION_S       (730 * 3600) /* Cloudflare's longest choice, "1 month" */
#define ACCESS_DEFAULT_EMAIL_CLAIM "email"

/* A refusal: the field path, what is wrong, and the offending JSON node (borrowed from the
 * input; the object that lacks a required key when it is missing), so that the admin layer
 * can print "FILE:LINE: FIELD: message" with util_yaml_line(doc, node):
 *     admin_bad(x, ae.node, ae.field, "%s", ae.msg);                                       */
struct access_err {
    char field[ACCESS_FIELD_MAX];
    char msg[ERR_MSG_MAX];
    const json_t *node;
};

/* "FIELD: message" into e (for callers without line numbers). Returns -1. */
int access_err_format(const struct access_err *ae, struct err *e);

/* An absolute http(s) URL split for use: team_domain and application origins. */
struct access_url {
    char *text; /* normalised: lower-case scheme and host, no trailing '/' when no path */
    bool https;
    char *host;    /* lower-case; an IPv6 literal keeps its brackets ("[::1]") */
    uint16_t port; /* explicit, or 80 / 443 */
};

/* ---- identity providers ---- */

enum access_idp_type { ACCESS_IDP_OIDC };

/* One generic OIDC identity provider (Cloudflare's "OpenID Connect" login method). auth_url,
 * token_url and certs_url are required unless discovery_url is given; then a NULL one is
 * taken from the discovery document at run time. */
struct access_idp {
    char *name;
    enum access_idp_type type;
    char *client_id;
    char *client_secret; /* a secret: wiped when freed, never logged */
    char *auth_url;      /* may carry a query; never a fragment */
    char *token_url;
    char *certs_url;
    char *discovery_url;    /* NULL when absent */
    char *issuer;           /* expected `iss`, as written: compared exactly (OpenID Connect
                             * Core 3.1.3.7); NULL: from discovery */
    bool pkce_enabled;      /* default true */
    char *email_claim_name; /* default "email" */
    char **scopes;          /* default openid email profile; always contains openid */
    size_t nscopes;
    char **claims; /* extra ID-token claims copied into the app token and identity */
    size_t nclaims;
    char *ca_file; /* NULL: the system's CAs */
};

/* ---- policies ---- */

/* Cloudflare's selectors. Each rule (one element of include / require / exclude) is one
 * selector with its values; a rule matches when any of its values matches. */
enum access_selector {
    ACCESS_SEL_EVERYONE,
    ACCESS_SEL_EMAILS,        /* exact, ASCII case-insensitive */
    ACCESS_SEL_EMAIL_DOMAINS, /* the part after the last '@', case-insensitive, exact */
    ACCESS_SEL_IP_RANGES,
    ACCESS_SEL_GROUPS,        /* exact (case-sensitive) group names from the IdP */
    ACCESS_SEL_OIDC_CLAIM,    /* {name, value} */
    ACCESS_SEL_SERVICE_TOKEN, /* names of service tokens */
    ACCESS_SEL_ANY_SERVICE_TOKEN,
    ACCESS_SEL_LOGIN_METHOD, /* names of identity providers */
};

#define ACCESS_CIDR_TEXT_MAX 64 /* "ffff:...:ffff/128" and a NUL */

struct access_cidr {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;   /* prefix length: 0..32 or 0..128 */
    uint8_t addr[16];
};

struct access_rule {
    enum access_selector sel;
    char **values; /* emails, domains (lower-case), groups, token or IdP names */
    size_t nvalues;
    struct access_cidr *cidrs; /* ip_ranges */
    size_t ncidrs;
    char *claim_name; /* oidc_claim */
    char *claim_value;
};

struct access_rules {
    struct access_rule *v;
    size_t n;
};

enum access_action {
    ACCESS_ACTION_ALLOW,
    ACCESS_ACTION_BLOCK,
    ACCESS_ACTION_BYPASS,
    ACCESS_ACTION_SERVICE_AUTH,
};

struct access_policy {
    char *name;
    enum access_action action;
    struct access_rules include; /* OR; never empty */
    struct access_rules require; /* AND */
    struct access_rules exclude; /* NOT */
};

/* ---- applications ---- */

enum access_same_site { ACCESS_SAME_SITE_LAX, ACCESS_SAME_SITE_STRICT, ACCESS_SAME_SITE_NONE };

/* A self-hosted application. Its domain is a host (or "*." + a suffix: exactly one more
 * label, as Cloudflare's subdomain wildcard) and an optional path prefix. */
struct access_app {
    char *name;
    char *domain; /* normalised: "service.localhost", "a.example.com/admin", "*.example.com" */
    char *host;   /* lower-case; for a wildcard, the suffix without "*." ("example.com") */
    bool wildcard;
    char *path; /* "" (the whole host) or "/admin": no trailing '/' */
    struct access_url origin;
    int64_t session_duration; /* seconds */
    char **idps;              /* names of identity providers; none = all of them */
    size_t nidps;
    bool instant_auth;
    enum access_same_site same_site; /* default lax */
    bool http_only_cookie;           /* default true */
    char *aud;                       /* the AUD tag; NULL: the store makes one */
    struct access_policy *policies;
    size_t npolicies;
};

/* ---- the whole `access:` section ---- */

struct access_config {
    struct access_url team; /* team_domain: scheme, host, optional port; no path */
    struct access_idp *idps;
    size_t nidps;
    struct access_app *apps;
    size_t napps;
};

/*
 * Parsers. `field` is the path of j for messages ("access", "access.applications[0]", or what
 * the admin API prefers). Unknown keys, wrong types, empty strings, duplicates and bad values
 * are refused with one message. On error *out is left zeroed (nothing to free); on success it
 * owns xmalloc'd copies (free with the matching *_free). idps/nidps: the identity providers
 * that names in an application or a login_method rule must refer to (NULL: not checked).
 */
int access_config_parse(const json_t *j, const char *field, struct access_config *out,
                        struct access_err *ae);
int access_idp_parse(const json_t *j, const char *field, struct access_idp *out,
                     struct access_err *ae);
int access_app_parse(const json_t *j, const char *field, const struct access_idp *idps,
                     size_t nidps, struct access_app *out, struct access_err *ae);
int access_policy_parse(const json_t *j, const char *field, const struct access_idp *idps,
                        size_t nidps, struct access_policy *out, struct access_err *ae);
int access_rule_parse(const json_t *j, const char *field, const struct access_idp *idps,
                      size_t nidps, struct access_rule *out, struct access_err *ae);

/* Free the members and leave the struct zeroed; a zeroed struct is fine. */
void access_config_free(struct access_config *c);
void access_idp_free(struct access_idp *p);
void access_app_free(struct access_app *a);
void access_policy_free(struct access_policy *p);
void access_rule_free(struct access_rule *r);
void access_url_free(struct access_url *u);

/*
 * Normalised JSON (what the store keeps): every key written, defaults made explicit, hosts
 * and emails lower-cased (an issuer is kept as written), durations as "<n>h" / "<n>m" / "<n>s",
 * CIDRs as "addr/bits". Parsing it again gives the same structs, and the same JSON. New references
 * (json_decref). access_idp_to_json includes client_secret only when with_secret is true (without
 * it the result is for display and does not parse back).
 */
json_t *access_config_to_json(const struct access_config *c, bool with_secrets);
json_t *access_idp_to_json(const struct access_idp *p, bool with_secret);
json_t *access_app_to_json(const struct access_app *a);
json_t *access_policy_to_json(const struct access_policy *p);
json_t *access_rule_to_json(const struct access_rule *r);

/* Lookups by exact name; NULL when absent. */
const struct access_idp *access_config_idp(const struct access_config *c, const char *name_z);
const struct access_app *access_config_app(const struct access_config *c, const char *name_z);

/* The application that serves host_z ("name" or "name:port"; case-insensitive, port and one
 * trailing dot ignored) and the canonical path_z (http_path_canonical; NULL reads as "/"):
 * an exact host beats a wildcard one, then the longest path prefix wins; a prefix "/admin"
 * matches "/admin" and "/admin/..." but not "/administrator" (paths are case-sensitive, RFC
 * 3986 section 6.2.2.1). NULL when no application matches (the 404 page). */
const struct access_app *access_app_match(const struct access_app *apps, size_t napps,
                                          const char *host_z, const char *path_z);

/* Names for logs and messages: "allow", "block", "bypass", "service_auth"; "lax"... */
const char *access_action_name(enum access_action a);
const char *access_same_site_name(enum access_same_site s);
const char *access_selector_name(enum access_selector s);

/* ======================================================================== */
/* 2. cidr                                                                   */
/* ======================================================================== */

/* A client address, parsed once per request. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * becomes the IPv4 address, so that it matches IPv4 ranges (RFC 4291 section 2.5.5.2). */
struct access_ip {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
};

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (= /32 or /128). The address is what
 * inet_pton accepts (no leading zeros in IPv4, no zone index); the prefix length is decimal
 * without leading zeros and at most 32 / 128. Refused with a precise message: bits set after
 * the prefix ("10.1.2.3/8": ambiguous, did the operator mean 10.1.2.3/32?) and IPv4-mapped
 * IPv6 ranges (write them as IPv4). */
int access_cidr_parse(struct slice s, struct access_cidr *out, struct err *e);
/* The normalised text ("10.0.0.0/8", "2001:db8::/32") into out. */
void access_cidr_format(const struct access_cidr *c, char out[ACCESS_CIDR_TEXT_MAX]);
/* The text of http_req_remote_ip: an IPv4 or IPv6 address. -1 when it is neither. */
int access_ip_parse(const char *z, struct access_ip *out);
/* An IPv6 range never contains an IPv4 address and vice versa. */
bool access_cidr_contains(const struct access_cidr *c, const struct access_ip *ip);

/* ======================================================================== */
/* 3. policy                                                                 */
/* ======================================================================== */

/* Who is asking. Before the login (access_policy_pre) only ip and service_token are looked
 * at. With an identity (access_policy_decide) a NULL email, idp or claims and no groups mean
 * "the identity has none"; a NULL or unparsable ip is unknown in both calls. */
struct access_subject {
    const char *ip; /* client IP text as http_req_remote_ip gives it */
    const char *email;
    const char *const *groups;
    size_t ngroups;
    const char *idp;           /* login method: IdP name */
    const json_t *claims;      /* the IdP's ID-token claims (for oidc_claim) */
    const char *service_token; /* name of an authenticated service token, or NULL */
};

enum access_decision {
    ACCESS_CONTINUE,     /* pre: no bypass / service_auth policy matched; go on to identity */
    ACCESS_BYPASS,       /* pre: forward without identity */
    ACCESS_SERVICE_AUTH, /* pre: forward as the service token */
    ACCESS_ALLOW,        /* decide: an allow policy matched */
    ACCESS_BLOCK,        /* decide: a block policy matched first */
    ACCESS_DENY,         /* decide: no policy matched */
};

/* The policy that decided: its index in app->policies and its name (borrowed from the app),
 * or -1 and NULL when none did. */
struct access_match {
    int index;
    const char *name;
};

/*
 * Cloudflare's order (DESIGN.md): bypass and service_auth policies first, in order, then
 * allow and block, in order; first match wins; no match denies. The gateway makes two calls:
 *
 * access_policy_pre, before any identity is known: the bypass and service_auth policies in
 * order. A service_auth policy needs an authenticated service token (s->service_token). A
 * rule that needs an identity (emails, email_domains, groups, oidc_claim, login_method) is
 * unknown there, so such a policy cannot match: an unknown include or require does not
 * match, and an unknown exclude excludes. Returns ACCESS_BYPASS, ACCESS_SERVICE_AUTH or
 * ACCESS_CONTINUE.
 *
 * access_policy_decide, with the user's identity: the allow and block policies in order.
 * Returns ACCESS_ALLOW, ACCESS_BLOCK or ACCESS_DENY. Fail-closed: a block policy that might
 * match (its outcome depends on an unknown ip) blocks; an allow policy must surely match.
 *
 * m may be NULL.
 */
enum access_decision access_policy_pre(const struct access_app *app, const struct access_subject *s,
                                       struct access_match *m);
enum access_decision access_policy_decide(const struct access_app *app,
                                          const struct access_subject *s, struct access_match *m);
const char *access_decision_name(enum access_decision d);

/* ======================================================================== */
/* 5. the running gateway (gate.c, snap.c, keyset.c, apptoken.c, revoked.c) */
/* ======================================================================== */

struct access_gate; /* opaque */
struct web;
struct store;

/* The gateway's pages link their assets here, on the team domain and on every application's
 * host (every other path of an application's host belongs to the application): the struct
 * web given to access_gate_new must use it (web_set_static_prefix). */
#define ACCESS_STATIC_PREFIX "/cdn-cgi/access/static/"

/* Where `postern apply` keeps access.team_domain (store meta key). */
#define ACCESS_META_TEAM "access.team_domain"

/* The gate of a running server: loads its snapshot (team domain, identity providers,
 * applications, signing keys) from the store of store_global_init, making the first signing
 * key if there is none (of several nodes starting at once, one key wins). Blocking. */
struct access_gate *access_gate_new(struct web *web, struct err *e);
/* Starts the background thread that re-reads the store every few seconds. */
int access_gate_start(struct access_gate *g, struct err *e);
/* Re-reads the store now (blocking). */
int access_gate_refresh(struct access_gate *g, struct err *e);
/* After http_server_free (the origins' connection pools belong to the server's loops). */
void access_gate_free(struct access_gate *g);
/* The gateway's routes: the team domain, each application's host (exact routes, so that the
 * other roles' any-host routes never take an application's path) and every other host (an
 * application added later, or the 404 page). */
struct http_router;
int access_routes(struct http_router *r, struct access_gate *g);

/* `postern access rotate-keys`: a new current signing key; the previous one keeps verifying
 * for grace_s seconds (ACCESS_KEY_GRACE_S by default). *kid_out gets the new kid. Blocking. */
#define ACCESS_KEY_GRACE_S (7 * 86400)
int access_keys_rotate(struct store *s, int64_t grace_s, char kid_out[64], struct err *e);
/* Makes sure a current signing key exists (blocking). */
int access_keys_ensure(struct store *s, struct err *e);

/* ======================================================================== */
/* 4. relying party                                                          */
/* ======================================================================== */

/*
 * The gateway as an OpenID Connect relying party of one access_idp (rp.c, rp_verify.c,
 * rp_jwks.c, rp_flow.c, rp_test.c): the authorization request with state, nonce and PKCE
 * (RFC 7636, S256), the discovery document (OpenID Connect Discovery 1.0), the code exchange
 * with client_secret_basic (RFC 6749 sections 2.3.1 and 4.1.3), a JWKS cache per IdP and the
 * ID token checks of OpenID Connect Core 1.0 section 3.1.3.7. Every failure is one
 * access_rp_diag plus a sentence naming the URL and the cause, for the Test page and
 * `postern access test-idp`.
 *
 * Expected issuer: access_idp.issuer, else the discovery document's issuer (itself checked
 * against the discovery URL, Discovery section 4.3). When neither is known (no issuer, no
 * discovery_url), `iss` must still be present and have the origin (scheme, host, port) of
 * the token endpoint: the IdP we sent the code to must be the one that signed.
 */

struct event_base;
struct jose_jwks;

#define ACCESS_RP_LEEWAY_S       60   /* clock skew allowed on exp / iat / nbf, and on Date */
#define ACCESS_RP_JWKS_TTL_S     3600 /* a fetched JWKS or discovery document is kept this long */
#define ACCESS_RP_REFETCH_MIN_S  30   /* unknown kid: at most one re-fetch per IdP this often */
#define ACCESS_RP_CACHE_SLOTS    (2 * ACCESS_MAX_IDPS) /* cached documents (LRU beyond) */
#define ACCESS_RP_RANDOM_BYTES   32           /* state, nonce, PKCE verifier: 256 bits each */
#define ACCESS_RP_RANDOM_TEXT    44           /* their base64url text (43 characters) and a NUL */
#define ACCESS_RP_MSG_MAX        512          /* a diagnosis sentence */
#define ACCESS_RP_TOKEN_BODY_MAX (128 * 1024) /* token endpoint answer */
#define ACCESS_RP_DOC_BODY_MAX   (512 * 1024) /* JWKS and discovery documents */
#define ACCESS_RP_CODE_MAX       2048         /* authorization code accepted from the callback */
#define ACCESS_RP_CHECKS_MAX     8            /* entries of an access_rp_report */

/* One per kind of failure; each has a fixed sentence (access_rp_diag_text) and the result's
 * msg says which URL, which claim, which value. */
enum access_rp_diag {
    ACCESS_RP_OK = 0,
    ACCESS_RP_UNREACHABLE,     /* DNS, refused, timeout, bad URL: which URL and why */
    ACCESS_RP_TLS,             /* handshake or certificate failure */
    ACCESS_RP_HTTP_ERROR,      /* an endpoint answered an unexpected status or body */
    ACCESS_RP_DISCOVERY,       /* discovery document unusable, issuer mismatch */
    ACCESS_RP_REDIRECT_URI,    /* the IdP says our redirect_uri is not registered */
    ACCESS_RP_INVALID_CLIENT,  /* the token endpoint refused the client (id or secret) */
    ACCESS_RP_TOKEN_ERROR,     /* another OAuth error (invalid_grant: code expired...) */
    ACCESS_RP_AUTH_ERROR,      /* the IdP refused the authorization request */
    ACCESS_RP_JWKS_UNUSABLE,   /* JWKS empty, not JSON, no usable key */
    ACCESS_RP_UNKNOWN_KID,     /* no key for the token's kid, even after one re-fetch */
    ACCESS_RP_NOT_ASYMMETRIC,  /* alg none or HS*: "not signed with an asymmetric key" */
    ACCESS_RP_ALG_NOT_ALLOWED, /* another alg, or not the alg of the key */
    ACCESS_RP_MALFORMED,       /* not a JWS, claims not an object, sub missing */
    ACCESS_RP_SIGNATURE,       /* the signature does not verify */
    ACCESS_RP_ISS_MISMATCH,
    ACCESS_RP_AUD_MISMATCH, /* aud without our client_id, or a wrong / missing azp */
    ACCESS_RP_EXPIRED,      /* exp past (IdP clock agrees with ours) */
    ACCESS_RP_IAT_FUTURE,   /* iat or nbf ahead (IdP clock agrees with ours) */
    ACCESS_RP_CLOCK_SKEW,   /* a time check failed and the IdP's Date is > leeway off */
    ACCESS_RP_NONCE_MISMATCH,
    ACCESS_RP_EMAIL_MISSING, /* email_claim_name absent, not a string, or unusable */
    ACCESS_RP_INTERNAL,      /* too many requests in flight, loop shutting down */
};

/* "unreachable", "redirect_uri", ... (stable: for logs, JSON and tests). */
const char *access_rp_diag_name(enum access_rp_diag d);
/* One human sentence: "The redirect URI is not registered at the identity provider." */
const char *access_rp_diag_text(enum access_rp_diag d);

/* The secrets of one login, kept by the gateway between the redirect and the callback. */
struct access_rp_login {
    char state[ACCESS_RP_RANDOM_TEXT];
    char nonce[ACCESS_RP_RANDOM_TEXT];
    char verifier[ACCESS_RP_RANDOM_TEXT]; /* PKCE code_verifier (RFC 7636 section 4.1) */
};

/* Fresh random state, nonce and verifier (ACCESS_RP_RANDOM_BYTES each, base64url). */
void access_rp_login_new(struct access_rp_login *l);
void access_rp_login_wipe(struct access_rp_login *l);
/* BASE64URL(SHA256(verifier)) (RFC 7636 section 4.2, S256). */
void access_rp_pkce_challenge(const char *verifier_z, char out[ACCESS_RP_RANDOM_TEXT]);

/* The authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1): endpoint_z (idp->auth_url
 * or the discovered one; its own query is kept) + response_type=code, client_id,
 * redirect_uri, scope (space-joined), state, nonce, and code_challenge +
 * code_challenge_method=S256 when idp->pkce_enabled; values percent-encoded. xmalloc'd;
 * NULL (and e) when the URL would exceed HTTP_FETCH_MAX_URL. */
char *access_rp_auth_url(const struct access_idp *idp, const char *endpoint_z,
                         const char *redirect_uri_z, const struct access_rp_login *l,
                         struct err *e);

/* What a call produced. res->diag is ACCESS_RP_OK on success. */
struct access_rp_result {
    enum access_rp_diag diag;
    char msg[ACCESS_RP_MSG_MAX]; /* the detail: "token endpoint http://...: invalid_client" */
    char *url;                   /* access_rp_authorize: where to send the browser */
    json_t *claims;              /* access_rp_exchange / verify: every claim of the ID token */
    char *email;                 /* the value of email_claim_name */
    json_t *extra;               /* {name: value} for the names of idp->claims the token has */
    int64_t skew;                /* IdP's Date minus our clock (s) of the last answer; 0: unknown */
};
/* Frees the members and zeroes r. */
void access_rp_result_free(struct access_rp_result *r);

/* An OAuth error the IdP sent back to the callback (RFC 6749 section 4.1.2.1: ?error=...
 * &error_description=...) as a diagnosis: redirect_uri problems, client problems, others. */
void access_rp_callback_error(const char *error_z, const char *description_z,
                              struct access_rp_result *out);

/* ---- ID token verification (pure: no I/O) ---- */

struct access_rp_expect {
    const char *issuer;    /* expected iss; NULL: same origin as token_url (see above) */
    const char *token_url; /* the endpoint the token came from */
    const char *client_id;
    const char *nonce;       /* the one of this login */
    const char *email_claim; /* NULL: "email" */
    char *const *claims;     /* names copied into res->extra (access_idp.claims) */
    size_t nclaims;
    int64_t now;      /* 0: util_now() */
    int64_t idp_date; /* Date of the token response (epoch s); 0: unknown */
};

/* Checks, in this order: alg (allow-list RS256/384/512, PS256/512, ES256/384/512, EdDSA;
 * none and HS* diagnosed apart), the key by kid (or the only key when there is no kid), the
 * signature, iss, aud contains client_id, azp = client_id (required when aud has several
 * values), exp and iat (required) and nbf with ACCESS_RP_LEEWAY_S, nonce, sub, then the
 * email claim (a string of at most ACCESS_VALUE_MAX bytes without control characters: it
 * becomes a header towards the origin). out is reset first; on success it holds claims,
 * email and extra, and skew when idp_date is known. A time failure while the IdP's Date is
 * more than the leeway away from our clock is ACCESS_RP_CLOCK_SKEW. */
enum access_rp_diag access_rp_verify(struct slice id_token, const struct jose_jwks *keys,
                                     const struct access_rp_expect *x,
                                     struct access_rp_result *out);

/* ---- the shared state and the asynchronous calls ---- */

/* One per gateway, shared by every event loop (thread-safe). Caches each IdP's JWKS and
 * discovery document (key: URL and ca_file) for jwks_ttl, as immutable reference-counted
 * entries; an ID token with an unknown kid triggers one re-fetch, and at most one per
 * refetch_min per JWKS URL, so that tokens with random kids cannot make us hammer the IdP. */
struct access_rp_opts {
    int64_t jwks_ttl_ms;    /* 0: ACCESS_RP_JWKS_TTL_S */
    int64_t refetch_min_ms; /* 0: ACCESS_RP_REFETCH_MIN_S */
    int timeout_ms;         /* each outbound call; 0: HTTP_FETCH_DEFAULT_TIMEOUT_MS */
};
struct access_rp;
struct access_rp *access_rp_new(const struct access_rp_opts *o); /* NULL: the defaults */
void access_rp_free(struct access_rp *rp); /* after every call in flight has ended */
/* Outbound requests made so far (tests: the re-fetch limit). */
uint64_t access_rp_fetches(const struct access_rp *rp);

/* res is valid during the call only; done may take url, claims, email and extra (set the
 * member to NULL). */
typedef void (*access_rp_done_fn)(struct access_rp_result *res, void *arg);

/* Both run on base's loop (the request's: http_req_base) and call done there exactly once,
 * never from inside the call itself. They copy what they need of idp, l and the strings:
 * the caller may free them on return. -1 (done never called; e says why) only on misuse
 * (NULL arguments, a code longer than ACCESS_RP_CODE_MAX).
 *
 * access_rp_authorize: the authorization URL (res->url), fetching the discovery document
 * first when idp->auth_url is NULL.
 * access_rp_exchange: discovery when needed, POST token endpoint (grant_type=
 * authorization_code, code, redirect_uri, code_verifier when pkce_enabled; client_secret_basic),
 * then the JWKS (cached) and access_rp_verify with l->nonce. */
int access_rp_authorize(struct access_rp *rp, struct event_base *base, const struct access_idp *idp,
                        const char *redirect_uri_z, const struct access_rp_login *l,
                        access_rp_done_fn done, void *arg, struct err *e);
int access_rp_exchange(struct access_rp *rp, struct event_base *base, const struct access_idp *idp,
                       const char *redirect_uri_z, const struct access_rp_login *l,
                       const char *code_z, access_rp_done_fn done, void *arg, struct err *e);

/* ---- `postern access test-idp` (blocking) ---- */

struct access_rp_check {
    const char *what; /* "discovery", "jwks", "token endpoint", "authorization endpoint",
                         "clock" */
    enum access_rp_diag diag;
    char msg[ACCESS_RP_MSG_MAX];
};

struct access_rp_report {
    struct access_rp_check checks[ACCESS_RP_CHECKS_MAX];
    size_t n;
    int64_t skew; /* the largest |IdP Date - our clock| seen, signed; 0: unknown */
};

/* The checks that need no browser, each one entry of out: the discovery document (when
 * discovery_url is set); the JWKS reachable with a usable key; the token endpoint answering
 * a made-up code with client authentication (invalid_client: the secret is wrong;
 * invalid_grant: the client authenticated fine); the authorization endpoint answering a real
 * authorization request for redirect_uri_z (an error page that mentions redirect_uri means it
 * is not registered); the IdP's clock (Date) within ACCESS_RP_LEEWAY_S of ours. Uses
 * http_fetch_sync: never call it on an event-loop thread. Returns 0 when every check is
 * ACCESS_RP_OK, else -1. */
int access_rp_test_idp(const struct access_idp *idp, const char *redirect_uri_z,
                       struct access_rp_report *out);

#endif
