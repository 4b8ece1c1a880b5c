/*
 * http: Postern's own HTTP/1.1 server (RFC 9110, RFC 9112) on libevent bufferevents.
 *
 * Two halves:
 *  - the parsers (parse.c, chunked.c, cookie.c, params.c, path.c, respparse.c): pure
 *    functions over bytes, no libevent, no allocation beyond what is documented; each has a
 *    fuzz target;
 *  - the server (server.c, conn.c, message.c, router.c, request.c, response.c, tls.c,
 *    pool.c; shared internals in server_int.h): listeners, one event loop per thread,
 *    connections, timeouts, routing, responses, the worker pool; and the reverse proxy on
 *    it (stream.c, upstream.c, proxy.c, websocket.c).
 */
#ifndef POSTERN_HTTP_H
#define POSTERN_HTTP_H

#include "util/util.h"

/* ---- limits (one place; see issue 2) ----------------------------------- */

#define HTTP_MAX_REQUEST_LINE (8 * 1024)   /* longer: 414 */
#define HTTP_MAX_HEADER_BYTES (64 * 1024)  /* all header lines together; more: 431 */
#define HTTP_MAX_HEADERS 100               /* more: 431 */
#define HTTP_DEFAULT_BODY_LIMIT (64 * 1024) /* per route; more: 413 */
#define HTTP_MAX_CHUNK_LINE 1024           /* chunk-size line incl. extensions */
#define HTTP_MAX_COOKIES 64

/* ---- request head parser ----------------------------------------------- */

enum http_method {
    HTTP_M_UNKNOWN = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_PATCH,
    HTTP_M_OPTIONS,
    HTTP_M_CONNECT,
    HTTP_M_TRACE,
};

struct http_header {
    struct slice name;  /* as received; compare case-insensitively */
    struct slice value; /* OWS trimmed */
};

/* A parsed request head. Slices point into the caller's buffer. */
struct http_head {
    enum http_method method;
    struct slice method_raw; /* the token as sent, for extension methods */
    struct slice target;     /* request-target as sent */
    int version_minor;       /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    /* Derived framing, validated per RFC 9112 section 6: */
    bool chunked;            /* Transfer-Encoding ends in chunked */
    bool has_content_length;
    uint64_t content_length;
    bool keep_alive;         /* after Connection and version */
    bool expect_continue;    /* Expect: 100-continue */
    bool upgrade;            /* Connection: upgrade with an Upgrade header */
    struct slice host;       /* Host header (required for HTTP/1.1) */
};

/* Parses a request head from buf[0..len).
 * Returns  0 when a complete head was parsed (*consumed = bytes up to and including the
 *            empty line),
 *          1 when more bytes are needed (no error seen so far),
 *         <0 the negated HTTP status to answer before closing: -400, -414, -431,
 *            -501 (a transfer coding other than chunked, e.g. "gzip, chunked"),
 *            -505 (a well-formed version other than HTTP/1.0 and HTTP/1.1).
 * A limit error is returned as soon as the bytes seen pass the limit, complete or not.
 * Never reads past len. Leading empty lines (RFC 9112 section 2.2) are skipped; they count
 * against HTTP_MAX_REQUEST_LINE. The parser keeps no state: call it again from the start of
 * the head when more bytes have arrived. *consumed is 0 unless it returns 0. */
int http_parse_head(const char *buf, size_t len, struct http_head *h, size_t *consumed);

/* Finds a header by name (case-insensitive); returns the first one or NULL. */
const struct http_header *http_head_get(const struct http_head *h, const char *name_z);

/* ---- response head parser (what an origin sends; respparse.c) ----------- */

/* The status line must end (CRLF included) within this many bytes; the field lines have
 * the request's limits (HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADERS). */
#define HTTP_MAX_STATUS_LINE 4096
#define HTTP_RESP_HEAD_MAX   (HTTP_MAX_STATUS_LINE + HTTP_MAX_HEADER_BYTES + 2)

/* How the body of a response is delimited (RFC 9112 section 6.3). */
enum http_resp_body {
    HTTP_RB_NONE,    /* 1xx, 204, 304, or a response to HEAD */
    HTTP_RB_LENGTH,  /* content_length bytes (0 included) */
    HTTP_RB_CHUNKED, /* Transfer-Encoding: chunked */
    HTTP_RB_CLOSE,   /* until the origin closes the connection */
};

struct http_resp_head {
    int version_minor; /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
    int status;        /* 100..599 */
    struct slice reason;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    enum http_resp_body body;
    bool has_content_length; /* also for HEAD and 304: the size the GET would have had */
    uint64_t content_length;
    bool keep_alive; /* the origin keeps the connection (version, Connection) */
    bool upgrade;    /* Connection: upgrade with an Upgrade header */
};

/* Errors of http_parse_response_head: every one means "502, and close the origin
 * connection"; they differ for tests and logs.
 *   SYNTAX  status or field line: bare CR or LF, NUL or control byte, obs-fold, bad name
 *   VERSION not HTTP/1.0 or HTTP/1.1
 *   STATUS  not three digits, or outside 100..599
 *   FRAMING Content-Length with Transfer-Encoding, differing lengths, a coding other than
 *           chunked, Transfer-Encoding in HTTP/1.0 or in 1xx/204, a length in 1xx/204
 *   LIMIT   status line, header bytes or header count too large */
#define HTTP_RESP_E_SYNTAX  (-1)
#define HTTP_RESP_E_VERSION (-2)
#define HTTP_RESP_E_STATUS  (-3)
#define HTTP_RESP_E_FRAMING (-4)
#define HTTP_RESP_E_LIMIT   (-5)

/* Parses a response head from buf[0..len). head_request: the request was HEAD (then no
 * response has a body, RFC 9112 section 6.3 rule 1). Returns 0 with *consumed = the bytes
 * up to and including the empty line, 1 when more bytes are needed, or one of the
 * HTTP_RESP_E_* codes. Stateless like http_parse_head: call it again from the start when
 * more bytes have arrived. Slices point into buf. A 1xx head (other than 101) is a
 * complete interim response: the caller skips it and parses the next head. */
int http_parse_response_head(const char *buf, size_t len, bool head_request,
                             struct http_resp_head *h, size_t *consumed);
/* The first header of that name (case-insensitive), or NULL. */
const struct http_header *http_resp_head_get(const struct http_resp_head *h, const char *name_z);

/* ---- chunked body decoder (RFC 9112 section 7.1) ----------------------- */

struct http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    size_t line_len;    /* bytes in the current size/trailer line */
    size_t trailer_bytes;
};

void http_chunked_init(struct http_chunked *c);
/* Feeds in[0..n). Decoded data is appended to out (whose cap is the body limit).
 * Returns 1 when more input is needed (all n bytes consumed), 0 when the terminating chunk
 * and trailers have been read (*consumed says where the next request starts), -400 on a
 * malformed encoding, -413 when out's cap would be exceeded (checked against each chunk's
 * size before its data arrives). *consumed is always set. Errors are sticky. */
int http_chunked_feed(struct http_chunked *c, const char *in, size_t n, struct buf *out,
                      size_t *consumed);

/* ---- cookies (RFC 6265 section 5.4 Cookie header) ---------------------- */

struct http_cookie {
    struct slice name;
    struct slice value; /* surrounding DQUOTEs removed */
};

/* Splits a Cookie header value. Returns the number of cookies stored (at most max);
 * malformed pairs are skipped, never fatal. */
size_t http_cookie_parse(struct slice header, struct http_cookie *out, size_t max);

/* ---- query strings and application/x-www-form-urlencoded --------------- */

struct http_param {
    char *name;  /* decoded, NUL-terminated, owned by the http_params */
    char *value;
};

struct http_params {
    struct http_param *v;
    size_t n;
};

#define HTTP_MAX_PARAMS 256
/* Decodes "a=1&b=%20x+y". '+' is a space. Invalid %-escapes and decoded NUL bytes make
 * the whole input invalid (-1): a value that means two things is refused. */
int http_params_parse(struct slice s, struct http_params *out);
void http_params_free(struct http_params *p);
/* The value of the first parameter with this name, or NULL. */
const char *http_params_get(const struct http_params *p, const char *name_z);
/* Number of parameters with this name (OAuth2 forbids repeated parameters). */
size_t http_params_count(const struct http_params *p, const char *name_z);

/* Percent-encodes for a query component (unreserved characters kept). */
int http_url_encode(struct slice s, struct buf *out);

/* ---- path canonicalisation --------------------------------------------- */

/* The one canonical decode of the path part of an origin-form request-target (DESIGN.md):
 * percent-decodes once, resolves "." and ".." segments (RFC 3986 section 5.2.4), merges
 * repeated slashes, keeps a trailing slash. Rejects (-1) a target that does not start with
 * '/', a decoded NUL or other control byte, '%2F' or '%5C' (an encoded separator), a
 * backslash, invalid escapes, a ".." that would climb above the root, a ".;" or "..;"
 * segment, a '#', a byte that is not VCHAR. path is reset first, then filled (NUL-
 * terminated; -1 also when its cap is reached). The query (after the first '?') is returned
 * separately, still encoded; query->p is NULL when there is no '?'. */
int http_path_canonical(struct slice target, struct buf *path, struct slice *query);

/* ---- server ------------------------------------------------------------ */

struct http_server;
struct http_req;
struct event_base;

struct http_listen {
    char *address;   /* "127.0.0.1:8080", "[::1]:8443", ":8080" (every address, v6 and v4) */
    char *tls_cert;  /* PEM file; NULL for plain HTTP */
    char *tls_key;
};

struct http_server_config {
    struct http_listen *listen;
    size_t nlisten;
    int threads;                 /* 0: one per core */
    int max_connections;         /* across all threads; 0: default */
    int idle_timeout_ms;         /* keep-alive idle; 0: default */
    int header_timeout_ms;       /* whole request head must arrive within this */
    int body_timeout_ms;         /* gap between body reads */
    int shutdown_timeout_ms;     /* graceful shutdown bound */
    int worker_threads;          /* blocking-work pool; 0: default */
    /* Called once on the thread of http_server_run when the listeners accept and SIGTERM /
     * SIGINT are handled (e.g. to announce the addresses). May be NULL. */
    void (*on_ready)(struct http_server *s, void *arg);
    void *on_ready_arg;
};

#define HTTP_DEFAULT_MAX_CONNECTIONS 10000
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000
#define HTTP_DEFAULT_BODY_TIMEOUT_MS 10000
#define HTTP_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000
#define HTTP_DEFAULT_WORKER_THREADS 4
#define HTTP_POOL_QUEUE_MAX 1024 /* jobs waiting for a worker; beyond: 503 */

/* A handler runs on the connection's event-loop thread. It either answers at once with
 * http_respond*, or keeps the request and answers later on the same thread (for instance
 * from the done callback of http_defer). It must not block. */
typedef void (*http_handler_fn)(struct http_req *req, void *ctx);

struct http_router;

struct http_router *http_router_new(void);
void http_router_free(struct http_router *r);
/* Routes by Host (port ignored, case-insensitive; NULL or "*" = any host; "*.example.com"
 * = leftmost-label wildcard) and by path prefix on the canonical path ("/" matches all;
 * "/a/" matches "/a/" and below; "/a" matches "/a" exactly and "/a/..."). The longest
 * prefix of the most specific host wins. body_limit 0 means HTTP_DEFAULT_BODY_LIMIT. */
int http_router_add(struct http_router *r, const char *host, const char *prefix,
                    http_handler_fn fn, void *ctx, size_t body_limit);
/* Which route would serve host_z ("name[:port]", NULL = none) and the canonical path_z:
 * true with its ctx and body limit, or false (tests, diagnostics). */
bool http_router_lookup(const struct http_router *r, const char *host_z, const char *path_z,
                        void **ctx, size_t *body_limit);

/* Binds every listener (threads x addresses sockets, SO_REUSEPORT) and loads TLS files, so
 * that a bad address, a port in use or a bad certificate is reported here. The router is
 * borrowed: free it after http_server_free. cfg is copied (not its listen array). */
struct http_server *http_server_new(const struct http_server_config *cfg,
                                    struct http_router *router, struct err *e);
/* Runs until SIGTERM/SIGINT (or http_server_stop): stops accepting, lets in-flight requests
 * finish (bounded by shutdown_timeout_ms), then returns 0. */
int http_server_run(struct http_server *s);
/* Thread-safe; may be called from a signal-safe context (writes to a pipe). */
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);
/* The bound port of listener i (for ":0" listeners in tests). */
int http_server_port(const struct http_server *s, size_t i);

/* ---- the request seen by a handler ------------------------------------- */

/* Everything a request returns (slices, strings, params) is valid until it is answered. */

enum http_method http_req_method(const struct http_req *r);
struct slice http_req_target(const struct http_req *r);
const char *http_req_path(const struct http_req *r);     /* canonical, decoded */
struct slice http_req_query(const struct http_req *r);    /* raw, still encoded */
struct slice http_req_host(const struct http_req *r);     /* without the port */
/* The first header of that name (case-insensitive), NUL-terminated, or NULL if absent. */
const char *http_req_header(const struct http_req *r, const char *name_z);
const struct http_head *http_req_head(const struct http_req *r);
struct slice http_req_body(const struct http_req *r);
const char *http_req_remote_ip(const struct http_req *r); /* "127.0.0.1", "::1" */
bool http_req_is_tls(const struct http_req *r);
/* The value of a cookie, or false. When the name repeats, the first wins. */
bool http_req_cookie(const struct http_req *r, const char *name_z, struct slice *value);
/* Query parameters, decoded on first use; NULL when the query is malformed. */
const struct http_params *http_req_query_params(struct http_req *r);
/* Form body (application/x-www-form-urlencoded), decoded on first use; NULL when the body is
 * not a form or is malformed. */
const struct http_params *http_req_form(struct http_req *r);
struct event_base *http_req_base(const struct http_req *r);

/* ---- responses ---------------------------------------------------------- */

/* Adds a response header (copied). Refused (-1): a name that is not a token, a value with
 * CR, LF, NUL or another control byte (HTAB allowed), the headers the server owns
 * (Content-Length, Transfer-Encoding, Connection, Date), or an answered request. */
int http_resp_header(struct http_req *r, const char *name_z, const char *value_z);
/* Sends the response: status line, Server, Date, Content-Type (if not NULL), Content-Length,
 * Connection, the headers added, then the body (copied; none for HEAD, 1xx, 204, 304). After
 * this the request belongs to the server again. A second answer, or one while a deferred job
 * of the request is pending, is dropped (logged). */
void http_respond(struct http_req *r, int status, const char *content_type_z, const void *body,
                  size_t len);
/* The same, taking the bytes of body (which is left empty): no copy for large bodies. */
void http_respond_buf(struct http_req *r, int status, const char *content_type_z,
                      struct buf *body);
/* A small error page: HTML (message escaped), or {"error": "message"} when the Accept
 * header prefers application/json to text/html. message_z NULL: the reason phrase. */
void http_respond_error(struct http_req *r, int status, const char *message_z);
/* 301/302/303/307/308 (anything else becomes 302) to an absolute or relative URL; refused
 * with 500 when the URL is empty or holds control bytes. The caller checks open redirects. */
void http_redirect(struct http_req *r, int status, const char *location_z);
const char *http_status_reason(int status);

/* ---- streaming routes and the reverse proxy (stream.c, proxy.c) -------- */

/* A route whose body_limit is HTTP_BODY_STREAM gets its handler called as soon as the head
 * is complete; the body is not read (http_req_body is empty). The handler either proxies
 * (http_proxy, now or later on the same thread) or answers itself (redirect, 401, page):
 * then the server reads and drops an unread body of up to 64 KiB to keep the connection,
 * or answers with Connection: close (larger bodies, and bodies the client was told to
 * wait for with Expect: 100-continue). */
#define HTTP_BODY_STREAM SIZE_MAX

/* One origin ("http://127.0.0.1:8081", "https://app.internal/base") and its keep-alive
 * connection pools, one per event loop (no locks on the request path). The host name is
 * resolved once, in http_origin_new. */
struct http_origin;

/* Every field 0 / NULL: its default. response_timeout_ms bounds the wait for the response
 * head (then 504) and every pause of a body in either direction (then the connection is
 * cut). */
struct http_origin_opts {
    int connect_timeout_ms;     /* 0: 5000; unreachable -> 502, no connection in time -> 504 */
    int response_timeout_ms;    /* 0: 100000 (Cloudflare's 100 s) */
    int idle_timeout_ms;        /* pooled idle connections; 0: 30000 */
    int max_idle;               /* pooled connections per event loop; 0: 64 */
    int tunnel_idle_timeout_ms; /* WebSocket tunnel without traffic; 0: 300000 */
    const char *ca_file;        /* https origins: trust these (PEM) instead of the system's */
};

/* Parses the URL (http or https, host, optional port and base path; no query, fragment or
 * user info), resolves the host and, for https, sets up certificate and host name
 * verification. o may be NULL (defaults). */
struct http_origin *http_origin_new(const char *url_z, const struct http_origin_opts *o,
                                    struct err *e);
/* After http_server_free (which closes the pooled connections). NULL is fine. */
void http_origin_free(struct http_origin *o);

struct http_proxy_header {
    const char *name;
    const char *value;
};

struct http_proxy_opts {
    /* Every client header whose name starts with one of these (ASCII case-insensitive;
     * e.g. "cf-access-") is removed, before the added headers are added. */
    const char *const *strip_prefixes;
    size_t nstrip;
    const struct http_proxy_header *add;
    size_t nadd;
    bool allow_upgrade; /* WebSocket pass-through */
};

/* Forwards req to the origin and answers it with the origin's response, streamed both ways
 * in constant memory. The origin sees the method, the canonical path (http_req_path,
 * re-encoded, after the origin's base path) and the raw query; the client's headers minus
 * hop-by-hop ones (RFC 9110 section 7.6.1), names with '_' and the strip prefixes, plus
 * Host as sent, X-Forwarded-For (appended), X-Forwarded-Proto, X-Forwarded-Host and the
 * added headers. Response headers added with http_resp_header before this call are added to
 * the origin's response (e.g. a refreshed cookie). Answers 502 (origin unreachable, invalid response), 504 (no connection or
 * no response in time) or 500 (an added header that is not a valid field) itself. Copies
 * what it needs from o before returning. Call it on the request's loop thread, at most
 * once per request, instead of http_respond. Works on any route; only HTTP_BODY_STREAM
 * routes stream the request body. */
void http_proxy(struct http_req *req, struct http_origin *origin, const struct http_proxy_opts *o);

/* ---- blocking work ------------------------------------------------------ */

/* Runs work(arg) on the bounded worker pool, then done(req, arg) on the request's
 * event-loop thread. The request stays valid until it is answered (by done, or later). If
 * the client goes away meanwhile, done still runs and its answer is dropped.
 * Call it on the request's loop thread (from the handler or a later callback).
 * Returns 0 when queued. Returns -1 when the pool's queue is full (HTTP_POOL_QUEUE_MAX; the
 * request has been answered 503) or on misuse (a job of this request already pending, or
 * the request answered: logged): then neither this work nor this done will run, and arg
 * still belongs to the caller. */
typedef void (*http_work_fn)(void *arg);
typedef void (*http_done_fn)(struct http_req *req, void *arg);
int http_defer(struct http_req *r, http_work_fn work, http_done_fn done, void *arg)
    __attribute__((warn_unused_result));

/* ---- outbound requests (fetch.c, fetch_loop.c): libcurl multi on a libevent loop ---- */

/* The Gate's calls to identity providers (token endpoint, JWKS, discovery). Rules kept for
 * every request: only http:// and https:// (also for redirects, which are never followed: an
 * IdP answering 302 is a diagnosis for the caller); TLS 1.2 or later with peer and host name
 * verification always on; credentials in the URL refused; no response decompression; the body
 * bounded by max_body. Proxies: curl's default environment handling is kept (http_proxy,
 * https_proxy, all_proxy, no_proxy), so an operator can route IdP calls through a proxy; TLS
 * is still verified end to end through it. Nothing here logs the body or a credential. */

#define HTTP_FETCH_DEFAULT_TIMEOUT_MS         10000
#define HTTP_FETCH_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTP_FETCH_DEFAULT_MAX_BODY           (1024 * 1024)
#define HTTP_FETCH_MAX_INFLIGHT               256 /* transfers per loop; beyond: BUSY */
#define HTTP_FETCH_MAX_URL                    8192

enum http_fetch_status {
    HTTP_FETCH_OK = 0,      /* a complete HTTP response was received (any status code) */
    HTTP_FETCH_BAD_URL,     /* not http(s)://, malformed, too long, or with credentials */
    HTTP_FETCH_UNREACHABLE, /* DNS failure, connection refused, no route */
    HTTP_FETCH_TLS,         /* handshake failed, certificate not trusted, name mismatch */
    HTTP_FETCH_TIMEOUT,
    HTTP_FETCH_TOO_BIG,     /* body above max_body */
    HTTP_FETCH_PROTOCOL,    /* anything else curl reports */
    HTTP_FETCH_BUSY,        /* HTTP_FETCH_MAX_INFLIGHT transfers already in flight */
    HTTP_FETCH_CANCELLED,   /* http_fetch_loop_free ran before the transfer ended */
};

struct http_fetch_req {
    const char *url;
    const char *method;       /* "GET" (also when NULL) or "POST" */
    const char *content_type; /* for POST, e.g. application/x-www-form-urlencoded */
    struct slice body;        /* POST only; copied (and wiped after use) */
    const char *basic_user, *basic_password; /* client_secret_basic (RFC 6749 section 2.3.1:
                                  each form-urlencoded before base64) when basic_user != NULL;
                                  a NULL password is empty */
    const char *accept;       /* e.g. "application/json"; NULL: curl's Accept: */
    const char *ca_file;      /* PEM bundle that replaces the system store for this request;
                                 NULL: system store. Verification is never turned off. */
    int timeout_ms;           /* whole transfer; 0: HTTP_FETCH_DEFAULT_TIMEOUT_MS */
    int connect_timeout_ms;   /* DNS + TCP + TLS handshake; 0: the default */
    size_t max_body;          /* 0: HTTP_FETCH_DEFAULT_MAX_BODY */
};

struct http_fetch_result {
    enum http_fetch_status status;
    long http_status;      /* the status code received, 0 when no response head arrived */
    struct buf body;       /* owned; body.p is NULL when empty; wiped and freed by
                              http_fetch_result_free */
    char content_type[128];
    char error[256];       /* empty when OK, else one sentence for logs and the Test page:
                              "connection refused by 127.0.0.1:9", "certificate verify failed:
                              self-signed certificate", "timed out after 5000 ms ..." */
    int64_t date;          /* the response's Date header as epoch seconds, 0 if absent or
                              malformed (the Test page diagnoses clock skew with it) */
};

/* res is valid during the call only; done may take res->body (move the struct buf out and
 * buf_init the original). */
typedef void (*http_fetch_done_fn)(struct http_fetch_result *res, void *arg);

/* Starts a request on base's loop (call it on the thread that runs base); done runs later on
 * that thread, exactly once, never from inside this call, also on failure (bad URL, BUSY,
 * cancelled). One curl multi per event_base, made on first use; the lookup is lock-free
 * for the thread that made it last. Returns 0, or -1 when it cannot start (then done is
 * never called; err says why): NULL arguments, a method other than GET/POST, a GET with a
 * body, a negative timeout, a header value (content_type, accept) with control bytes, or a
 * loop being freed. */
int http_fetch_start(struct event_base *base, const struct http_fetch_req *r,
                     http_fetch_done_fn done, void *arg, struct err *e);
/* Blocking variant for the CLI (`postern access test-idp`) and the worker pool: runs the
 * same code on a private event_base. Returns 0 when res->status is HTTP_FETCH_OK, else -1;
 * res is always filled, free it with http_fetch_result_free. */
int http_fetch_sync(const struct http_fetch_req *r, struct http_fetch_result *res);
void http_fetch_result_free(struct http_fetch_result *res);
const char *http_fetch_status_name(enum http_fetch_status s); /* "ok", "tls", ... */
/* Frees the curl multi of base (call before event_base_free, on the loop's thread or after
 * it stopped; not from a done callback): transfers in flight get done with
 * HTTP_FETCH_CANCELLED, pending failures get theirs. Nothing to do when base never fetched. */
void http_fetch_loop_free(struct event_base *base);

/* Between fetch.c (one transfer: its curl easy handle and its outcome) and fetch_loop.c (the
 * curl multi of a loop). Not for other modules. */
struct http_fetch_xfer;
/* Checks r (-1 and e on misuse, see http_fetch_start) and makes the transfer. A refused URL
 * still makes one, already failed (BAD_URL): its easy handle is NULL. */
struct http_fetch_xfer *http_fetch_xfer_new(const struct http_fetch_req *r,
                                            http_fetch_done_fn done, void *arg, struct err *e);
void *http_fetch_xfer_easy(struct http_fetch_xfer *x); /* the CURL *, or NULL */
/* Marks the transfer failed (the first failure wins). */
void http_fetch_xfer_fail(struct http_fetch_xfer *x, enum http_fetch_status st,
                          const char *msg_z);
/* Ends the transfer (its easy handle out of any multi): turns curl_code (a CURLcode,
 * ignored once failed) into the result, calls done, frees everything of x. */
void http_fetch_xfer_finish(struct http_fetch_xfer *x, int curl_code);

#endif
