/*
 * server_int.h: what the server files of src/http share (server.c, conn.c, router.c,
 * request.c, response.c, tls.c, pool.c, and the reverse proxy: stream.c, upstream.c,
 * proxy.c, websocket.c). Not for other modules: they see http.h only.
 *
 * Threads. One event loop per thread (struct http_loop). A connection lives on the loop that
 * accepted it and is only ever touched by that loop's thread; the router is read-only once
 * the server runs; the connection counter is atomic; the worker pool hands finished jobs back
 * through a mutex-protected list and event_active() (libevent_pthreads).
 *
 * Ownership. A loop owns its connections. A connection owns its one request (embedded: no
 * allocation per request). The request head's bytes normally stay in the input buffer while
 * a synchronous handler runs (no copy); when a handler keeps the request, or the body must
 * be waited for, they are copied into conn->hold and the slices rebased. The parsed head
 * (struct http_head, its HTTP_MAX_HEADERS slots) belongs to the request only from its parse
 * to its end: it comes from, and goes back to, the loop's spare heads, so that an idle
 * keep-alive connection holds about 1.5 KB (bench/gate: 10,000 of them). A streamed
 * request (CS_STREAM) is driven by its owner (struct proxy, struct tunnel), which is told of
 * the connection's events and ends the request with http_stream_finish; origin connections
 * belong to their loop too (loop->upconns).
 */
#ifndef POSTERN_HTTP_SERVER_INT_H
#define POSTERN_HTTP_SERVER_INT_H

#include "http/http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

typedef struct ssl_ctx_st SSL_CTX;

/* ---- limits of the server (see also the parser's limits in http.h) ----- */

/* The most head bytes the parser can need to reach a verdict: the request-line window,
 * the header-bytes window and the final CRLF. */
#define HTTP_HEAD_MAX (HTTP_MAX_REQUEST_LINE + 1 + HTTP_MAX_HEADER_BYTES + 2)
/* Input buffered beyond the head being parsed (pipelined requests) before reading pauses. */
#define HTTP_INPUT_HIGH_WATER (HTTP_HEAD_MAX + 16 * 1024)
/* Output queued for a slow reader before pipelined requests stop being processed. */
#define HTTP_OUTPUT_HIGH_WATER (256 * 1024)
/* Extra response headers added by a handler, all together. */
#define HTTP_RESP_HEADERS_MAX (16 * 1024)
/* Bytes read from a plain socket per wake-up (into the loop's read buffer). */
#define HTTP_READ_CHUNK (64 * 1024)
/* Bodies up to this size are copied into the output buffer; larger ones are referenced. */
#define HTTP_RESP_COPY_MAX 4096
/* After a response with "Connection: close": how long, and how many bytes, are read and
 * discarded so that the client sees the response before the close (no RST on unread data). */
#define HTTP_LINGER_MS        2000
#define HTTP_LINGER_MAX_BYTES (256 * 1024)
#define HTTP_MAX_THREADS      256
/* Parsed request heads (HTTP_MAX_HEADERS slots each, 3.3 KB) kept by a loop for its next
 * requests; more are freed. An idle connection holds none (request.c). */
#define HTTP_LOOP_SPARE_HEADS 64
/* Proxy states (proxy.c, about 3.5 KB and their buffers) kept by a loop the same way. */
#define HTTP_LOOP_SPARE_PROXIES 64
/* The memory of a kept request's copied head or of a body (conn->hold, conn->body), kept
 * the same way when it is at most HTTP_LOOP_SPARE_BUF_MAX bytes. */
#define HTTP_LOOP_SPARE_BUFS    64
#define HTTP_LOOP_SPARE_BUF_MAX (16 * 1024)
#define HTTP_LISTEN_BACKLOG     1024
#define HTTP_MAX_LISTENERS      64

/* ---- server and loops --------------------------------------------------- */

/* One configured address; loop i listens on fds[i] (SO_REUSEPORT). */
struct http_lsock {
    char *address;
    struct sockaddr_storage ss;
    socklen_t sslen;
    SSL_CTX *tls;    /* NULL: plain HTTP */
    bool dual_stack; /* ":port": [::] also accepting IPv4 (as ::ffff:a.b.c.d) */
    int port;        /* bound port */
};

/* What a listener's accept callback needs. */
struct http_lref {
    struct http_loop *loop;
    const struct http_lsock *ls;
};

struct http_conn;
struct http_upconn;
struct http_stream_cbs;
struct proxy; /* proxy.c's per-request state */

struct http_loop {
    struct http_server *srv;
    int index;
    struct event_base *base;
    pthread_t thread;
    bool started;
    int *lfds;                         /* one listening socket per http_lsock, until used */
    struct evconnlistener **listeners; /* one per http_lsock */
    struct http_lref *lrefs;
    struct event *shutdown_ev; /* activated from the control thread */
    struct event *done_ev;     /* activated by pool workers */
    struct event *drain_timer; /* bound of the graceful shutdown */
    pthread_mutex_t done_mu;
    struct http_req *done_head, *done_tail; /* finished jobs, guarded by done_mu */
    struct http_conn *conns;                /* every connection of this loop */
    size_t nconns;
    struct http_upconn *upconns; /* every origin connection of this loop (upstream.c) */
    bool draining;
    const struct timeval *tv_header, *tv_body, *tv_idle, *tv_linger; /* common timeouts */
    char *rbuf;                                                      /* HTTP_READ_CHUNK bytes */
    /* The Date header, formatted once per second (RFC 9110 section 6.6.1). */
    int64_t date_sec;
    char date[64];
    size_t date_len;
    /* Free lists of this loop's thread, bounded: request heads (request.c) and proxy states
     * (proxy.c), so that neither is allocated per request nor held by idle connections. */
    struct http_head *spare_heads[HTTP_LOOP_SPARE_HEADS];
    size_t nspare_heads;
    struct buf spare_bufs[HTTP_LOOP_SPARE_BUFS]; /* their memory only (p, alloc) */
    size_t nspare_bufs;
    struct proxy *spare_proxies;
    size_t nspare_proxies;
};

struct http_pool;

struct http_server {
    struct http_server_config cfg; /* defaults applied; listen[] not owned */
    struct http_lsock *lsocks;
    size_t nlsocks;
    const struct http_router *router;
    struct http_loop *loops;
    int nloops;
    struct http_pool *pool;
    atomic_int nconns;
    int stop_pipe[2];
    struct event_base *ctl; /* the control loop of http_server_run (main thread) */
    bool stopping;
    int loops_done; /* loops whose thread has left its event loop */
};

/* ---- router ------------------------------------------------------------- */

enum http_host_kind { HOST_ANY, HOST_WILDCARD, HOST_EXACT };

struct http_route {
    enum http_host_kind kind;
    char *host; /* lower case; for HOST_WILDCARD the suffix with its dot: ".example.com" */
    size_t host_len;
    char *prefix;
    size_t prefix_len;
    http_handler_fn fn;
    void *ctx;
    size_t body_limit;
};

struct http_router {
    struct http_route *v;
    size_t n;
};

/* The best route for a host (port already removed) and canonical path, or NULL. */
const struct http_route *http_router_match(const struct http_router *r, struct slice host,
                                           struct slice path);

/* "host:port" -> "host", "[::1]:80" -> "[::1]". */
struct slice http_host_without_port(struct slice host);

/* ---- connections and requests ------------------------------------------ */

enum http_conn_state {
    CS_HEAD,    /* waiting for (the rest of) a request head */
    CS_BODY,    /* reading a request body into conn->body */
    CS_WAIT,    /* a handler has the request */
    CS_STREAM,  /* a stream owner (the proxy) reads and writes the connection (stream.c) */
    CS_DISCARD, /* answered without reading its streamed body: discarding that body */
    CS_LINGER,  /* response sent, write side shut, discarding input before the close */
};

enum http_timer { T_NONE, T_HEADER, T_BODY, T_IDLE, T_LINGER };

struct http_req {
    struct http_conn *conn;
    bool head_valid; /* false for a request refused before its head was parsed */
    /* The parsed head: taken from the loop (http_loop_head_take) for the parse, kept as
     * long as the request lives (answered at once, or kept by a handler, proxied, streamed)
     * and given back when it ends. Non-NULL exactly when head_valid. */
    struct http_head *head;
    struct buf path; /* canonical path */
    struct slice query;
    struct slice host; /* Host without the port */
    struct slice body;
    const struct http_route *route;
    struct http_params qparams, form;
    bool qparsed, qvalid, fparsed, fvalid;
    struct buf resp_headers;
    int status;
    uint64_t resp_bytes;
    bool answered;
    bool close;    /* answer with Connection: close, then close */
    bool streamed; /* a HTTP_BODY_STREAM route: the body is left in the input (stream.c) */
    int64_t t0_ms; /* when the head was complete, monotonic (access log) */
    /* Deferred work (pool.c); one job per request at a time. */
    http_work_fn work;
    http_done_fn done;
    void *arg;
    bool job_pending;
    struct http_req *next_job;
};

struct http_conn {
    struct http_loop *loop;
    struct http_conn *prev, *next;
    bool open;                 /* the socket is open (false: closed, request kept) */
    struct bufferevent *bev;   /* TLS only (bufferevent_openssl) */
    struct evbuffer *in, *out; /* plain: our own; TLS: the bufferevent's */
    evutil_socket_t fd;
    bool tls;
    char remote_ip[INET6_ADDRSTRLEN];
    struct event *timer;
    enum http_timer timer_kind;
    bool timer_armed;
    int64_t deadline_ms;    /* of timer_kind, monotonic */
    int64_t timer_fires_ms; /* when the armed event fires (<= deadline_ms) */
    enum http_conn_state state;
    size_t scanned;          /* head bytes already searched for a LF */
    size_t in_input;         /* bytes of the current request still in the input buffer */
    struct event *rev, *wev; /* plain sockets: read and write events (TLS: NULL) */
    bool reading;            /* rev is added */
    bool write_enabled;      /* wev is added (TLS: always true, the bufferevent writes) */
    bool peer_eof;           /* the client shut its write side */
    bool closing;            /* close once the output is flushed */
    int busy;                /* > 0 while a handler or a done callback runs */
    struct buf hold;         /* a kept request's head (and body) */
    struct buf body;         /* a body read over several reads */
    struct http_chunked chunked;
    uint64_t body_left; /* Content-Length bytes still to come */
    size_t linger_bytes;
    size_t out_mark; /* output left when the idle timer last fired (progress check) */
    /* A streamed request body (HTTP_BODY_STREAM): framed by c->chunked or c->body_left. */
    bool sb_chunked;
    bool sb_done;          /* read to its end (or there was none) */
    bool continue_sent;    /* 100 Continue written for this request */
    size_t discard_budget; /* CS_DISCARD: decoded bytes still allowed */
    /* The stream owner (CS_STREAM) and its deferred "closed" notification. */
    const struct http_stream_cbs *scb;
    void *sarg;
    struct event *sev;
    struct http_req req;
};

/* conn.c */
void http_conn_accept(struct http_loop *loop, const struct http_lsock *ls, evutil_socket_t fd,
                      const struct sockaddr *sa, int salen);
/* Processes buffered requests until one needs more bytes, a handler keeps one, or the client
 * has too many answers to read; then writes. May free the connection. */
void http_conn_progress(struct http_conn *c);
/* Writes what the output holds; then closes (lingering) when the connection is closing. */
void http_conn_flush(struct http_conn *c);
void http_conn_timer(struct http_conn *c, enum http_timer kind);
/* Called by http_respond*: unless a handler or done callback is still running on the
 * connection (conn->busy, which then finishes the request itself), finishes the request and
 * goes on with the next one. May free the connection. */
void http_conn_answered(struct http_conn *c);
/* Closes the socket now; frees the connection unless a handler still holds its request
 * (a stream owner is told through its closed callback, from the event loop). */
void http_conn_close(struct http_conn *c);
/* Input was consumed: reading resumes when it had paused at HTTP_INPUT_HIGH_WATER. */
void http_conn_want_input(struct http_conn *c);
/* Closes idle connections and makes the others close after their current request. */
void http_conn_drain_all(struct http_loop *loop);
/* A draining loop has no connection left: leave its event loop once the callbacks already
 * active have run (bufferevent_free closes sockets in a deferred finalizer, which
 * event_base_loopbreak would skip). */
void http_loop_finish(struct http_loop *loop);
/* At http_server_free: closes and frees every connection of the loop. */
void http_conn_free_all(struct http_loop *loop);

/* message.c */
enum http_step {
    STEP_MORE,  /* wait for an event */
    STEP_AGAIN, /* go on with the next state */
};
enum http_step http_msg_head(struct http_conn *c);
enum http_step http_msg_body(struct http_conn *c);
/* Answers a request that will not reach a handler (status), then closes. */
void http_msg_fail(struct http_conn *c, int status);
/* The request was answered: drain its bytes, log, reset, re-arm the idle timer. */
void http_msg_done(struct http_conn *c);
/* CS_DISCARD: reads and drops the rest of a streamed body, then goes on with CS_HEAD. */
enum http_step http_msg_discard(struct http_conn *c);

/* request.c */
void http_req_init(struct http_req *r, struct http_conn *c);
/* Ends a request: frees what it decoded and gives its head back to the loop. */
void http_req_reset(struct http_req *r);
void http_req_free(struct http_req *r);
/* A head for the parser: a spare one of the loop, or a new one. Loop thread only. */
struct http_head *http_loop_head_take(struct http_loop *loop);
/* Gives a head back (NULL is fine): kept as a spare, or freed when there are enough. */
void http_loop_head_give(struct http_loop *loop, struct http_head *h);
/* Gives b (empty, its memory not allocated) a spare buffer's memory, if there is one. */
void http_loop_buf_take(struct http_loop *loop, struct buf *b);
/* Takes b's memory as a spare (or frees it, when too large or enough are kept); b is left
 * empty with its cap, as after buf_free. */
void http_loop_buf_give(struct http_loop *loop, struct buf *b);
/* At loop_free, after its connections: frees the spare heads and buffers. */
void http_loop_heads_free(struct http_loop *loop);

/* response.c */
/* Writes "Date: ...\r\n" for the current second into the loop cache. */
void http_loop_update_date(struct http_loop *loop);
/* Monotonic milliseconds from the coarse clock (vDSO, no syscall, no lock). */
int64_t http_now_ms(void);
/* The access log line of a finished request. */
void http_access_log(const struct http_req *r);
/* A field name is a token; a field value holds no CR, LF, NUL or other control byte. */
bool http_token_ok(const char *z);
bool http_field_value_ok(const char *z);
/* Whether a comma-separated list of tokens (Connection, Upgrade) holds token, compared
 * ASCII case-insensitively. */
bool http_list_has(struct slice list, struct slice token);
/* Whether a field of a message with fields hs is hop-by-hop (RFC 9110 section 7.6.1), or
 * one of the framing fields a proxy writes itself (Content-Length, Transfer-Encoding). */
bool http_hop_by_hop(const struct http_header *hs, size_t n, struct slice name);
/* A chunk-size line: hexadecimal size and CRLF (RFC 9112 section 7.1). */
void http_put_chunk_size(struct evbuffer *out, uint64_t size);

/* tls.c */
SSL_CTX *http_tls_ctx_new(const char *cert, const char *key, struct err *e);
void http_tls_ctx_free(SSL_CTX *ctx);
struct bufferevent *http_tls_bev_new(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx);
/* Logs (debug) why a TLS connection failed, and clears the error queue. */
void http_tls_log_error(struct bufferevent *bev, const char *remote_ip);

/* pool.c */
struct http_pool *http_pool_new(int threads, size_t queue_max);
/* Starts the threads (signals must be blocked by the caller). */
int http_pool_start(struct http_pool *p, struct err *e);
/* Lets the workers finish every queued job, then joins them. */
void http_pool_free(struct http_pool *p);
/* The loop's done event: runs the done callbacks of finished jobs. */
void http_loop_run_done(evutil_socket_t fd, short what, void *arg);

/* ---- streamed requests (stream.c) ---------------------------------------- */

/* A handler of a HTTP_BODY_STREAM route that answers itself leaves its body unread: the
 * server reads and drops up to this many decoded bytes to keep the connection; a larger
 * (or unknown and then larger) body closes it instead. */
#define HTTP_STREAM_DISCARD_MAX (64 * 1024)
/* Output queued towards one side before the proxy stops reading the other side, and the
 * level at which it reads again (backpressure both ways). */
#define HTTP_STREAM_HIGH_WATER (256 * 1024)
#define HTTP_STREAM_LOW_WATER  (64 * 1024)

/* What the owner of a streamed connection is told, always from the event loop (never from
 * inside a http_stream_* call). closed: the client connection failed, timed out or was
 * closed; the owner must end the request with http_stream_finish. */
struct http_stream_cbs {
    void (*readable)(void *arg); /* input (body, tunnel bytes) or the client's EOF */
    void (*writable)(void *arg); /* the output fell to HTTP_STREAM_LOW_WATER or below */
    void (*closed)(void *arg);
};

/* Takes over the connection of a kept (or just called) request: CS_STREAM until finished. */
void http_stream_attach(struct http_req *r, const struct http_stream_cbs *cbs, void *arg);
/* Gives the connection back to the server (CS_WAIT); pending notifications are cancelled. */
void http_stream_detach(struct http_req *r);
bool http_stream_open(const struct http_req *r);
/* The client sent EOF (and everything it sent before has been read). */
bool http_stream_eof(const struct http_req *r);
/* Moves up to max decoded body bytes (a streamed request's) into dst (NULL: dropped);
 * *moved says how many. Returns 0 at the end of the body, 1 when more is to come, -1 when
 * the body is malformed or the client went away before its end. */
int http_stream_body(struct http_req *r, struct evbuffer *dst, size_t max, size_t *moved);
/* Moves up to max raw input bytes into dst (tunnels); returns their number. */
size_t http_stream_raw(struct http_req *r, struct evbuffer *dst, size_t max);
/* Writes "100 Continue" if the client expects it and nothing of the body has arrived. */
void http_stream_continue(struct http_req *r);
struct evbuffer *http_stream_output(struct http_req *r);
/* Writes the output now (when the socket takes it). */
void http_stream_flush(struct http_req *r);
/* Whether the connection could be kept after this request: the client wants it, the
 * server is not draining, and the client has not sent EOF. */
bool http_stream_keepable(const struct http_req *r);
/* Ends a request whose response the owner wrote itself: status and body bytes for the
 * access log; keep false closes the connection once the output is written. Detaches. */
void http_stream_finish(struct http_req *r, int status, uint64_t bytes, bool keep);
/* Whether a response written now by http_respond can keep the connection (the streamed
 * body is read, or small enough to be discarded). */
bool http_stream_body_discardable(const struct http_req *r);
/* The decoder behind http_stream_body, on the connection (CS_DISCARD uses it too). */
int http_sbody_read(struct http_conn *c, struct evbuffer *dst, size_t max, size_t *moved);
/* Called from the connection on events in CS_STREAM. */
void http_stream_on_readable(struct http_conn *c);
void http_stream_on_writable(struct http_conn *c);
/* At http_server_free: tells the owner at once (no loop runs any more). */
void http_stream_abort_now(struct http_conn *c);

/* ---- origin connections (upstream.c) ----------------------------------------- */

#define HTTP_ORIGIN_CONNECT_TIMEOUT_MS  5000
#define HTTP_ORIGIN_RESPONSE_TIMEOUT_MS 100000 /* Cloudflare's 100 s */
#define HTTP_ORIGIN_IDLE_TIMEOUT_MS     30000  /* below common origin keep-alive timeouts */
#define HTTP_ORIGIN_MAX_IDLE            64     /* pooled connections per origin and loop */
#define HTTP_TUNNEL_IDLE_TIMEOUT_MS     300000
#define HTTP_ORIGIN_MAX_ADDRS           8 /* resolved addresses tried in order */
#define HTTP_ORIGIN_URL_MAX             2048
/* After the end of a tunnel: how long the origin gets to take the last bytes. */
#define HTTP_UPSTREAM_FLUSH_MS 5000

struct http_upconn;

/* What the user of an origin connection is told (from the event loop). */
struct http_upconn_cbs {
    void (*read)(void *arg);            /* response bytes in http_upconn_input() */
    void (*write)(void *arg);           /* output fell to HTTP_STREAM_LOW_WATER or below */
    void (*event)(void *arg, short ev); /* BEV_EVENT_CONNECTED / EOF / ERROR */
};

/* The origin's settings with defaults applied, and its base path ("" or "/base"). */
const struct http_origin_opts *http_origin_settings(const struct http_origin *o);
const char *http_origin_base_path(const struct http_origin *o);
/* "host:port" of the origin (Host of an HTTP/1.0 request that sent none). */
const char *http_origin_authority(const struct http_origin *o);

/* An idle pooled connection of this loop (unless fresh), or a new one being connected
 * (its event callback gets BEV_EVENT_CONNECTED or an error). NULL (e set) when no socket
 * could be made. *reused says which. */
struct http_upconn *http_upstream_get(struct http_origin *o, struct http_loop *loop, bool fresh,
                                      const struct http_upconn_cbs *cbs, void *arg, bool *reused,
                                      struct err *e);
bool http_upconn_connected(const struct http_upconn *u);
/* Hands the connection's callbacks to another user (the tunnel). */
void http_upconn_set_cbs(struct http_upconn *u, const struct http_upconn_cbs *cbs, void *arg);
struct evbuffer *http_upconn_input(struct http_upconn *u);
struct evbuffer *http_upconn_output(struct http_upconn *u);
/* Writes what the output holds now (plain origins; https: the bufferevent does). Call it
 * after adding to the output. A failure is reported later, through the event callback. */
void http_upconn_flush(struct http_upconn *u);
void http_upconn_reading(struct http_upconn *u, bool on);
/* Why the last connection attempt or TLS handshake failed (for the log). */
const char *http_upconn_error(struct http_upconn *u, char *buf, size_t n);
/* Ends the use of a connection: pooled when reusable and there is room, freed otherwise. */
void http_upstream_put(struct http_upconn *u, bool reusable);
/* Shuts the write side after the output is written, then frees (bounded). */
void http_upstream_close_after_flush(struct http_upconn *u);
/* At http_server_free, before the loop's event base goes: frees every origin connection. */
void http_upstream_free_loop(struct http_loop *loop);
/* proxy.c: at loop_free, after the connections and before the event base: frees the loop's
 * spare proxy states. */
void http_proxy_free_loop(struct http_loop *loop);

/* ---- WebSocket pass-through (websocket.c) --------------------------------- */

#define HTTP_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/* A valid RFC 6455 section 4.1 opening handshake: GET, HTTP/1.1, Connection: upgrade,
 * Upgrade: websocket, a Sec-WebSocket-Key of 16 bytes, Sec-WebSocket-Version: 13, no body.
 * Writes the Sec-WebSocket-Accept the origin must answer with (NUL-terminated). */
bool http_ws_request_valid(const struct http_req *r, char accept[HTTP_WS_ACCEPT_LEN + 1]);
/* The origin's 101 completes that handshake (RFC 6455 section 4.2.2). */
bool http_ws_response_valid(const struct http_resp_head *h,
                            const char accept[HTTP_WS_ACCEPT_LEN + 1]);
/* Joins the client connection of r and the origin connection u into a byte tunnel until
 * either side closes or idle_ms pass without traffic; then finishes r (access log: 101 and
 * the bytes sent to the client, counting from sent) and frees or closes u. Takes both. */
void http_tunnel_start(struct http_req *r, struct http_upconn *u, int idle_ms, uint64_t sent);

#endif
