/*
 * proxy.c: the reverse proxy (http_proxy): one client request forwarded to an origin, its
 * response forwarded back, both bodies streamed in constant memory.
 *
 *   P_CONNECT --connected (or a pooled connection)--> P_SEND: head (+ body) to the origin
 *   P_SEND --response head--> P_BODY --response complete--> finished (origin pooled)
 *   P_SEND --101 to a WebSocket upgrade--> the tunnel (websocket.c)
 *
 * Smuggling: nothing of the client's framing reaches the origin. The head is rebuilt (the
 * canonical path the policy saw, re-encoded; hop-by-hop fields per RFC 9110 section 7.6.1
 * removed; our own Content-Length or chunked framing), the body is decoded and re-encoded.
 * The same holds backwards: the origin's response is parsed strictly (respparse.c) and
 * re-framed for the client; an origin connection with bytes left after a response is not
 * reused (response queue poisoning).
 *
 * Backpressure: a side is read only while the other side's output is below
 * HTTP_STREAM_HIGH_WATER; it resumes from the write callback at HTTP_STREAM_LOW_WATER.
 * The client connection's input also stops at HTTP_INPUT_HIGH_WATER (conn.c) and the
 * origin's at HTTP_STREAM_HIGH_WATER (upstream.c): memory per request is bounded.
 *
 * Ownership: struct proxy is freed by proxy_free and nowhere else; every function that
 * may end the request returns false, after which its caller touches nothing of it.
 */
#include "http/server_int.h"

#include "http/bytes.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The handler's added headers, all together. */
#define PROXY_ADDED_MAX (16 * 1024)
/* The head sent to the origin, so that every append fits: the client's head (bounded by the
 * parser), its path re-encoded (at most three times as long), the Host again, the base
 * path, the added headers, and our fixed lines. */
#define PROXY_HEAD_MAX                                                                             \
    (2 * HTTP_HEAD_MAX + 2 * HTTP_MAX_REQUEST_LINE + HTTP_ORIGIN_URL_MAX + PROXY_ADDED_MAX + 1024)
/* Decoded bytes of a chunked response handled per step. */
#define PROXY_DECODE_STEP        (64 * 1024)
#define PROXY_STATUS_CLIENT_GONE 499 /* access log only (nginx's "client closed request") */

#define ADD_LIT(out, lit) evbuffer_add((out), (lit), sizeof(lit) - 1)

/* A spare proxy state keeps its buffers' memory up to this much each (a request with a
 * large head or a chunked response grows them); beyond, they are freed when it is given back. */
#define PROXY_SPARE_BUF_MAX (16 * 1024)

enum proxy_phase { P_CONNECT, P_SEND, P_BODY };

/* One proxied request. Taken from the loop's spare list and given back to it (proxy_take,
 * proxy_free): no allocation, no event or evbuffer made, per request. */
struct proxy {
    /* Kept from one request to the next: */
    struct proxy *next_spare;
    struct buf head;      /* the request head for the origin, kept for one retry */
    struct buf scratch;   /* decoded chunked response data */
    struct evbuffer *tmp; /* request body bytes waiting for their chunk line */
    struct event *timer;  /* left armed when given back: it then fires and does nothing */
    bool timer_armed;
    int64_t fires_ms; /* when the armed timer fires */
    /* Per request: zeroed by proxy_take from here to rh. */
    struct http_req *req;
    struct http_origin *origin;
    const struct http_origin_opts *oo;
    struct http_upconn *up;
    enum proxy_phase phase;
    bool req_chunked; /* the body goes to the origin chunked */
    bool req_has_body;
    bool req_done;        /* head, body and last chunk are in the origin's output */
    bool reused, retried; /* a pooled connection; already retried once */
    bool got_bytes;       /* the origin sent something for this request */
    bool upgrade;         /* a valid WebSocket upgrade, allowed */
    char ws_accept[HTTP_WS_ACCEPT_LEN + 1];
    size_t scanned; /* response head bytes searched for a LF */
    uint64_t rleft; /* HTTP_RB_LENGTH: bytes still to come */
    struct http_chunked rch;
    bool origin_eof;
    bool paused; /* origin reading stopped for a full client output */
    bool to_client_chunked;
    bool keep_client;
    int status;
    uint64_t bytes;      /* response body bytes sent to the client */
    int64_t deadline_ms; /* 0: none yet */
    /* Last, not zeroed (3.3 KB): every field is set by the response parser before use. */
    struct http_resp_head rh;
};

static void start_connect(struct proxy *p, bool fresh);

/* ---- small helpers ---------------------------------------------------------------------- */

/* The canonical path, percent-encoded again where a byte is not a pchar or '/' (RFC 3986
 * section 3.3), so that the origin decodes exactly what the policy matched. */
static void put_path(struct buf *b, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        bool keep = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                    (*s >= '0' && *s <= '9') || strchr("-._~!$&'()*+,;=:@/", *s) != NULL;
        if (keep) {
            buf_append_c(b, (char)*s);
        } else {
            char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
            buf_append(b, e, 3);
        }
    }
}

/* "name: value\r\n", whole or not at all (the head's cap). Plain appends: a printf per
 * header, on every forwarded request with its 1 KB token and cookie, was 14% of the
 * gateway's CPU (bench/gate). */
static void put_field(struct buf *b, struct slice name, struct slice value)
{
    size_t len = b->len;
    if (buf_append(b, name.p, name.n) != 0 || buf_append(b, ": ", 2) != 0 ||
        buf_append(b, value.p, value.n) != 0 || buf_append(b, "\r\n", 2) != 0) {
        b->len = len;
    }
}

/* ---- the request head for the origin ----------------------------------------------------- */

static bool client_field_dropped(const struct http_head *h, struct slice name,
                                 const struct http_proxy_opts *o)
{
    static const struct slice ours[] = {
        SLICE_LIT("host"), SLICE_LIT("expect"), SLICE_LIT("x-forwarded-for"),
        SLICE_LIT("x-forwarded-proto"), SLICE_LIT("x-forwarded-host")};
    /* An origin that maps '_' to '-' (CGI, PHP, many frameworks) would read a spoofed
     * "Cf_Access_Jwt_Assertion" as our header: such names never pass. */
    if (http_hop_by_hop(h->headers, h->nheaders, name) || memchr(name.p, '_', name.n) != NULL) {
        return true;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(ours); i++) {
        if (name.n == ours[i].n && slice_case_eq_z(name, ours[i].p)) {
            return true;
        }
    }
    for (size_t i = 0; i < o->nstrip; i++) {
        size_t n = strlen(o->strip_prefixes[i]);
        if (name.n >= n && strncasecmp(name.p, o->strip_prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

/* X-Forwarded-For: the client's list (every field, in order), then the client's address. */
static void put_xff(struct buf *b, const struct http_req *r)
{
    const struct http_head *h = r->head;
    buf_append_z(b, "X-Forwarded-For: ");
    for (size_t i = 0; i < h->nheaders; i++) {
        if (slice_case_eq_z(h->headers[i].name, "x-forwarded-for") && h->headers[i].value.n > 0) {
            buf_append(b, h->headers[i].value.p, h->headers[i].value.n);
            buf_append(b, ", ", 2);
        }
    }
    buf_append_z(b, http_req_remote_ip(r));
    buf_append(b, "\r\n", 2);
}

/* Our framing: the client's Content-Length, or chunked again for a chunked body. */
static void put_framing(struct proxy *p, struct buf *b)
{
    const struct http_req *r = p->req;
    const struct http_head *h = r->head;
    if (r->streamed && !r->conn->sb_done) {
        p->req_has_body = true;
        p->req_chunked = h->chunked;
        if (h->chunked) {
            buf_append_z(b, "Transfer-Encoding: chunked\r\n");
            return;
        }
    } else if (!r->streamed) {
        p->req_has_body = http_req_body(r).n > 0;
    }
    if (p->req_has_body || h->has_content_length || h->chunked) {
        buf_printf(b, "Content-Length: %llu\r\n",
                   (unsigned long long)(r->streamed ? h->content_length : http_req_body(r).n));
    }
}

/* Returns 0, or the status to answer (500: a bad or too large added header). */
static int build_head(struct proxy *p, const struct http_proxy_opts *o)
{
    const struct http_req *r = p->req;
    const struct http_head *h = r->head;
    struct buf *b = &p->head;
    buf_append(b, h->method_raw.p, h->method_raw.n);
    buf_append_c(b, ' ');
    buf_append_z(b, http_origin_base_path(p->origin));
    put_path(b, http_req_path(r));
    struct slice q = http_req_query(r);
    if (q.p != NULL) {
        buf_append_c(b, '?');
        buf_append(b, q.p, q.n);
    }
    buf_append_z(b, " HTTP/1.1\r\nHost: ");
    if (h->host.n > 0) {
        buf_append(b, h->host.p, h->host.n);
    } else {
        buf_append_z(b, http_origin_authority(p->origin));
    }
    buf_append(b, "\r\n", 2);
    for (size_t i = 0; i < h->nheaders; i++) {
        if (!client_field_dropped(h, h->headers[i].name, o)) {
            put_field(b, h->headers[i].name, h->headers[i].value);
        }
    }
    put_xff(b, r);
    buf_append_z(b, http_req_is_tls(r) ? "X-Forwarded-Proto: https\r\n"
                                       : "X-Forwarded-Proto: http\r\n");
    if (h->host.n > 0) {
        put_field(b, SLICE_LIT("X-Forwarded-Host"), h->host);
    }
    size_t added = 0;
    for (size_t i = 0; i < o->nadd; i++) {
        /* Each value measured once: the gateway adds its 1.1 KB token here per request. */
        struct slice name = slice_z(o->add[i].name), value = slice_z(o->add[i].value);
        added += name.n + value.n + 4;
        if (!http_token_ok(o->add[i].name) || !http_value_bytes_ok(value.p, value.n) ||
            added > PROXY_ADDED_MAX) {
            log_error("proxy: refused added header \"%s\" (invalid, or too large)", o->add[i].name);
            return 500;
        }
        put_field(b, name, value);
    }
    put_framing(p, b);
    buf_append_z(b, p->upgrade ? "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                               : "Connection: keep-alive\r\n\r\n");
    /* PROXY_HEAD_MAX leaves room for everything: a refused append would be a bug, and the
     * head is then not sent rather than sent without one of its fields. */
    if (b->len + 1 >= b->cap || b->len < 4 || memcmp(b->p + b->len - 4, "\r\n\r\n", 4) != 0) {
        log_error("proxy: request head for the origin does not fit");
        return 500;
    }
    return 0;
}

/* ---- ending ------------------------------------------------------------------------------ */

static void proxy_timer(evutil_socket_t fd, short what, void *arg);

/* A proxy state for a request of this loop: a spare one, or a new one (NULL when libevent
 * cannot make its timer or buffer). */
static struct proxy *proxy_take(struct http_loop *loop)
{
    struct proxy *p = loop->spare_proxies;
    if (p != NULL) {
        loop->spare_proxies = p->next_spare;
        loop->nspare_proxies--;
    } else {
        p = xcalloc(1, sizeof(*p));
        buf_init(&p->head, PROXY_HEAD_MAX);
        buf_init(&p->scratch, SIZE_MAX / 2); /* bounded by PROXY_DECODE_STEP per step */
        p->tmp = evbuffer_new();
        p->timer = evtimer_new(loop->base, proxy_timer, p);
        if (p->tmp == NULL || p->timer == NULL) {
            if (p->tmp != NULL) {
                evbuffer_free(p->tmp);
            }
            if (p->timer != NULL) {
                event_free(p->timer);
            }
            free(p);
            return NULL;
        }
    }
    p->next_spare = NULL;
    memset(&p->req, 0, offsetof(struct proxy, rh) - offsetof(struct proxy, req));
    return p;
}

static void proxy_destroy(struct proxy *p)
{
    event_free(p->timer);
    evbuffer_free(p->tmp);
    buf_free(&p->head);
    buf_free(&p->scratch);
    free(p);
}

void http_proxy_free_loop(struct http_loop *loop)
{
    while (loop->spare_proxies != NULL) {
        struct proxy *p = loop->spare_proxies;
        loop->spare_proxies = p->next_spare;
        proxy_destroy(p);
    }
    loop->nspare_proxies = 0;
}

/* Ends the proxy's part of the request; the state goes back to the loop's spare list. */
static void proxy_free(struct proxy *p, bool reusable)
{
    struct http_loop *loop = p->req->conn->loop;
    if (p->req->conn->scb != NULL && p->req->conn->sarg == p) {
        http_stream_detach(p->req);
    }
    if (p->up != NULL) {
        http_upstream_put(p->up, reusable);
    }
    p->up = NULL;
    p->req = NULL; /* the timer, if armed, finds no request: no evtimer_del per request */
    evbuffer_drain(p->tmp, evbuffer_get_length(p->tmp));
    if (p->head.alloc > PROXY_SPARE_BUF_MAX) {
        buf_free(&p->head);
    }
    if (p->scratch.alloc > PROXY_SPARE_BUF_MAX) {
        buf_free(&p->scratch);
    }
    buf_reset(&p->head);
    buf_reset(&p->scratch);
    if (loop->nspare_proxies >= HTTP_LOOP_SPARE_PROXIES) {
        proxy_destroy(p);
        return;
    }
    p->next_spare = loop->spare_proxies;
    loop->spare_proxies = p;
    loop->nspare_proxies++;
}

/* Before anything of the response went to the client: an error page. */
static bool proxy_error(struct proxy *p, int status, const char *why)
{
    struct http_req *r = p->req;
    if (why != NULL) {
        log_warn("proxy: origin %s: %s", http_origin_authority(p->origin), why);
    }
    proxy_free(p, false);
    http_respond_error(r, status, NULL);
    return false;
}

/* The response is cut (origin failed or too slow mid-body, or the client went away): the
 * client connection closes, so that the client sees an incomplete message. */
static bool proxy_abort(struct proxy *p, int status)
{
    struct http_req *r = p->req;
    uint64_t bytes = p->bytes;
    proxy_free(p, false);
    http_stream_finish(r, status, bytes, false);
    return false;
}

static bool proxy_complete(struct proxy *p)
{
    struct http_req *r = p->req;
    struct evbuffer *in = http_upconn_input(p->up);
    if (p->to_client_chunked) {
        ADD_LIT(http_stream_output(r), "0\r\n\r\n");
    }
    bool reusable = p->rh.keep_alive && p->rh.body != HTTP_RB_CLOSE && p->req_done &&
                    !p->origin_eof && evbuffer_get_length(in) == 0;
    bool keep = p->keep_client && p->req_done;
    int status = p->status;
    uint64_t bytes = p->bytes;
    http_stream_flush(r);
    proxy_free(p, reusable);
    http_stream_finish(r, status, bytes, keep);
    return false;
}

/* ---- timing ------------------------------------------------------------------------------ */

/* Lazy like conn.c's timers: a later deadline is only stored; the armed event re-arms. */
static void deadline(struct proxy *p, int ms)
{
    p->deadline_ms = http_now_ms() + ms;
    if (p->timer_armed && p->fires_ms <= p->deadline_ms) {
        return;
    }
    p->timer_armed = true;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(p->timer, &tv);
    p->fires_ms = p->deadline_ms;
}

static void proxy_timer(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *p = arg;
    p->timer_armed = false;
    if (p->req == NULL || p->deadline_ms == 0) {
        return; /* a spare state's, or a request's before its first deadline */
    }
    int64_t left = p->deadline_ms - http_now_ms();
    if (left > 0) {
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        evtimer_add(p->timer, &tv);
        p->fires_ms = p->deadline_ms;
        p->timer_armed = true;
        return;
    }
    switch (p->phase) {
    case P_CONNECT:
        proxy_error(p, 504, "no connection within the connect timeout");
        return;
    case P_SEND:
        proxy_error(p, 504, "no response within the response timeout");
        return;
    case P_BODY:
        log_warn("proxy: origin %s: response body stalled", http_origin_authority(p->origin));
        proxy_abort(p, p->status);
        return;
    }
}

/* ---- the response head ------------------------------------------------------------------- */

/* "Content-Length: n\r\n" (no printf on the path of every response). */
static void put_content_length(struct evbuffer *out, uint64_t n)
{
    char d[48];
    size_t i = sizeof d;
    d[--i] = '\n';
    d[--i] = '\r';
    do {
        d[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    static const char name[] = "Content-Length: ";
    i -= sizeof name - 1;
    memcpy(d + i, name, sizeof name - 1);
    evbuffer_add(out, d + i, sizeof d - i);
}

/* "HTTP/1.1 200 OK\r\n": the status is 100..599 (respparse.c), the reason as received. */
static void put_status_line(struct evbuffer *out, const struct http_resp_head *rh)
{
    char line[16] = "HTTP/1.1 ";
    line[9] = (char)('0' + rh->status / 100 % 10);
    line[10] = (char)('0' + rh->status / 10 % 10);
    line[11] = (char)('0' + rh->status % 10);
    line[12] = ' ';
    evbuffer_add(out, line, 13);
    evbuffer_add(out, rh->reason.p != NULL ? rh->reason.p : "", rh->reason.n);
    ADD_LIT(out, "\r\n");
}

/* Writes the response head for the client: the origin's fields minus hop-by-hop ones, our
 * framing and connection handling. */
static void client_head(struct proxy *p)
{
    struct http_req *r = p->req;
    const struct http_resp_head *rh = &p->rh;
    struct evbuffer *out = http_stream_output(r);
    bool upgrade = rh->status == 101;
    bool close_delimited = false;
    p->status = rh->status;
    put_status_line(out, rh);
    bool date = false;
    for (size_t i = 0; i < rh->nheaders; i++) {
        struct slice name = rh->headers[i].name, value = rh->headers[i].value;
        if (http_hop_by_hop(rh->headers, rh->nheaders, name)) {
            continue;
        }
        date |= slice_case_eq_z(name, "date");
        evbuffer_add(out, name.p, name.n);
        ADD_LIT(out, ": ");
        evbuffer_add(out, value.p, value.n);
        ADD_LIT(out, "\r\n");
    }
    /* Headers the handler added with http_resp_header (validated there), e.g. a cookie. */
    evbuffer_add(out, r->resp_headers.p != NULL ? r->resp_headers.p : "", r->resp_headers.len);
    if (!date) {
        /* RFC 9110 section 6.6.1: a recipient with a clock adds the Date it forwards. */
        http_loop_update_date(r->conn->loop);
        evbuffer_add(out, r->conn->loop->date, r->conn->loop->date_len);
    }
    switch (rh->body) {
    case HTTP_RB_NONE:
        /* HEAD and 304 keep the length of the representation (RFC 9110 section 8.6). */
        if (rh->has_content_length && rh->status >= 200 && rh->status != 204) {
            put_content_length(out, rh->content_length);
        }
        break;
    case HTTP_RB_LENGTH:
        put_content_length(out, rh->content_length);
        p->rleft = rh->content_length;
        break;
    case HTTP_RB_CHUNKED:
    case HTTP_RB_CLOSE:
        /* An HTTP/1.1 client gets chunks whatever the origin did (RFC 9112 section 7); an
         * HTTP/1.0 client can only be told the end by the close. */
        if (r->head->version_minor == 1) {
            ADD_LIT(out, "Transfer-Encoding: chunked\r\n");
            p->to_client_chunked = true;
        } else {
            close_delimited = true;
        }
        break;
    }
    if (rh->body == HTTP_RB_CHUNKED) {
        http_chunked_init(&p->rch);
    }
    p->keep_client = !upgrade && !close_delimited && p->req_done && http_stream_keepable(r);
    if (upgrade) {
        ADD_LIT(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    } else if (p->keep_client) {
        ADD_LIT(out, "Connection: keep-alive\r\n\r\n");
    } else {
        ADD_LIT(out, "Connection: close\r\n\r\n");
    }
}

/* The origin agreed to the WebSocket upgrade: the connections become a tunnel. */
static bool start_tunnel(struct proxy *p, size_t consumed)
{
    struct http_req *r = p->req;
    struct http_upconn *u = p->up;
    int idle = p->oo->tunnel_idle_timeout_ms;
    client_head(p);
    evbuffer_drain(http_upconn_input(u), consumed);
    p->up = NULL;
    proxy_free(p, false);
    http_tunnel_start(r, u, idle, 0);
    return false;
}

/* Parses what the origin sent so far; interim (1xx) responses are dropped: the client got
 * its own 100 Continue from us. Returns false when the request ended. */
static bool read_head(struct proxy *p)
{
    struct evbuffer *in = http_upconn_input(p->up);
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len == 0) {
            return true;
        }
        p->got_bytes = true;
        size_t want = UTIL_MIN(len, (size_t)HTTP_RESP_HEAD_MAX);
        const char *d = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
        /* The parser starts over each time: call it only when a line may have ended. */
        bool lf = p->scanned < want && memchr(d + p->scanned, '\n', want - p->scanned) != NULL;
        p->scanned = want;
        if (!lf && want < HTTP_RESP_HEAD_MAX) {
            return true;
        }
        size_t consumed = 0;
        bool head_req = http_req_method(p->req) == HTTP_M_HEAD;
        int rc = http_parse_response_head(d, want, head_req, &p->rh, &consumed);
        if (rc == 1) {
            return want < HTTP_RESP_HEAD_MAX ? true
                                             : proxy_error(p, 502, "response head too large");
        }
        if (rc < 0) {
            char why[64];
            snprintf(why, sizeof why, "invalid response head (error %d)", rc);
            return proxy_error(p, 502, why);
        }
        p->scanned = 0;
        if (p->rh.status == 101) {
            if (!p->upgrade || !p->req_done || !http_ws_response_valid(&p->rh, p->ws_accept)) {
                return proxy_error(p, 502, "unexpected or invalid 101 Switching Protocols");
            }
            return start_tunnel(p, consumed);
        }
        if (p->rh.status < 200) {
            evbuffer_drain(in, consumed);
            continue;
        }
        client_head(p);
        evbuffer_drain(in, consumed);
        p->phase = P_BODY;
        return true;
    }
}

/* ---- bodies ------------------------------------------------------------------------------ */

/* Moves n bytes of src to the client, as a chunk when re-chunking. */
static void emit(struct proxy *p, struct evbuffer *src, size_t n)
{
    struct evbuffer *out = http_stream_output(p->req);
    if (n == 0) {
        return;
    }
    if (p->to_client_chunked) {
        http_put_chunk_size(out, n);
    }
    evbuffer_remove_buffer(src, out, n);
    if (p->to_client_chunked) {
        ADD_LIT(out, "\r\n");
    }
    p->bytes += n;
}

/* A chunked response: decodes up to room input bytes (through p->scratch), emits the data.
 * 0 at the end of the body, 1 for more, -1 malformed. */
static int download_chunked(struct proxy *p, struct evbuffer *in, size_t room)
{
    struct evbuffer_iovec v[1];
    if (evbuffer_peek(in, -1, NULL, v, 1) < 1) {
        return 1;
    }
    size_t k = UTIL_MIN(v[0].iov_len, UTIL_MIN(room, (size_t)PROXY_DECODE_STEP));
    size_t used = 0;
    buf_reset(&p->scratch);
    int rc = http_chunked_feed(&p->rch, v[0].iov_base, k, &p->scratch, &used);
    evbuffer_drain(in, used);
    if (rc < 0) {
        return -1;
    }
    if (p->scratch.len > 0) {
        evbuffer_add(p->tmp, p->scratch.p, p->scratch.len);
        emit(p, p->tmp, p->scratch.len);
    }
    return rc;
}

static bool pump_download(struct proxy *p)
{
    struct http_req *r = p->req;
    struct evbuffer *in = http_upconn_input(p->up), *out = http_stream_output(r);
    bool done = p->rh.body == HTTP_RB_NONE;
    uint64_t before = p->bytes;
    while (!done && http_stream_open(r)) {
        size_t olen = evbuffer_get_length(out), avail = evbuffer_get_length(in);
        if (olen >= HTTP_STREAM_HIGH_WATER) {
            /* Pause only when the socket took no more: a flush that empties the output
             * here would leave no write event to resume on. */
            http_stream_flush(r);
            if (!http_stream_open(r)) {
                break; /* the closed notification is on its way */
            }
            olen = evbuffer_get_length(out);
        }
        if (olen >= HTTP_STREAM_HIGH_WATER) {
            http_upconn_reading(p->up, false); /* resumed by the client's write callback */
            p->paused = true;
            break;
        }
        if (avail == 0) {
            break;
        }
        size_t room = HTTP_STREAM_HIGH_WATER - olen;
        if (p->rh.body == HTTP_RB_LENGTH) {
            size_t n = (size_t)UTIL_MIN((uint64_t)UTIL_MIN(avail, room), p->rleft);
            emit(p, in, n);
            p->rleft -= n;
            done = p->rleft == 0;
        } else if (p->rh.body == HTTP_RB_CLOSE) {
            emit(p, in, UTIL_MIN(avail, room));
        } else {
            int rc = download_chunked(p, in, room);
            if (rc < 0) {
                log_warn("proxy: origin %s: malformed chunked body",
                         http_origin_authority(p->origin));
                return proxy_abort(p, p->status);
            }
            done = rc == 0;
        }
    }
    if (p->bytes != before) {
        deadline(p, p->oo->response_timeout_ms);
    }
    http_stream_flush(r);
    if (!http_stream_open(r)) {
        return true; /* the closed notification ends the request */
    }
    if (!done && p->origin_eof && evbuffer_get_length(in) == 0) {
        if (p->rh.body != HTTP_RB_CLOSE) {
            log_warn("proxy: origin %s: closed before the end of the body",
                     http_origin_authority(p->origin));
            return proxy_abort(p, p->status);
        }
        done = true;
    }
    return done ? proxy_complete(p) : true;
}

/* Request body bytes to the origin while its output has room. */
static bool pump_upload(struct proxy *p)
{
    struct http_req *r = p->req;
    struct evbuffer *out = http_upconn_output(p->up);
    bool moved_any = false;
    while (!p->req_done) {
        size_t olen = evbuffer_get_length(out);
        if (olen >= HTTP_STREAM_HIGH_WATER) {
            break; /* the origin's write callback resumes */
        }
        size_t moved = 0;
        int rc = http_stream_body(r, p->req_chunked ? p->tmp : out, HTTP_STREAM_HIGH_WATER - olen,
                                  &moved);
        if (moved > 0 && p->req_chunked) {
            http_put_chunk_size(out, moved);
            evbuffer_add_buffer(out, p->tmp);
            ADD_LIT(out, "\r\n");
        }
        moved_any |= moved > 0;
        if (rc < 0) {
            if (p->phase == P_BODY) {
                return proxy_abort(p, p->status);
            }
            return proxy_error(p, 400, NULL); /* malformed or cut: the connection closes */
        }
        if (rc == 0) {
            if (p->req_chunked) {
                ADD_LIT(out, "0\r\n\r\n");
            }
            p->req_done = true;
        } else if (moved == 0) {
            break; /* the client's readable callback resumes */
        }
    }
    if (moved_any || p->req_done) {
        http_upconn_flush(p->up);
        deadline(p, p->oo->response_timeout_ms);
    }
    return true;
}

static void start_send(struct proxy *p)
{
    struct http_req *r = p->req;
    struct evbuffer *out = http_upconn_output(p->up);
    p->phase = P_SEND;
    p->got_bytes = false;
    p->scanned = 0;
    evbuffer_add(out, p->head.p, p->head.len);
    if (!r->streamed) {
        struct slice body = http_req_body(r);
        evbuffer_add(out, body.p, body.n);
        p->req_done = true;
    } else if (r->conn->sb_done) {
        p->req_done = true;
    } else {
        http_stream_continue(r);
        if (!pump_upload(p)) {
            return;
        }
    }
    http_upconn_flush(p->up);
    deadline(p, p->oo->response_timeout_ms);
}

/* ---- callbacks --------------------------------------------------------------------------- */

static bool idempotent(enum http_method m)
{
    /* RFC 9110 section 9.2.2 */
    return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_PUT || m == HTTP_M_DELETE ||
           m == HTTP_M_OPTIONS || m == HTTP_M_TRACE;
}

static void up_read(void *arg)
{
    struct proxy *p = arg;
    if (!http_stream_open(p->req)) {
        return; /* the client is gone: its closed notification ends the request */
    }
    if (p->phase == P_SEND && !read_head(p)) {
        return;
    }
    if (p->phase == P_BODY) {
        pump_download(p);
    }
}

static void up_write(void *arg)
{
    struct proxy *p = arg;
    if (p->phase != P_CONNECT && !p->req_done) {
        pump_upload(p);
    }
}

static void up_event(void *arg, short what)
{
    struct proxy *p = arg;
    char why[256], detail[200];
    if (!http_stream_open(p->req)) {
        return; /* the client is gone: its closed notification ends the request */
    }
    if (what & BEV_EVENT_CONNECTED) {
        start_send(p);
        return;
    }
    switch (p->phase) {
    case P_CONNECT:
        snprintf(why, sizeof why, "cannot connect: %s",
                 http_upconn_error(p->up, detail, sizeof detail));
        proxy_error(p, 502, why);
        return;
    case P_SEND:
        /* RFC 9112 section 9.3.1: a pooled connection the origin closed while it was on
         * its way is retried once, when the request can be sent again as is. */
        if (p->reused && !p->retried && !p->got_bytes && !p->req_has_body &&
            idempotent(http_req_method(p->req))) {
            http_upstream_put(p->up, false);
            p->up = NULL;
            p->retried = true;
            p->req_done = false;
            start_connect(p, true);
            return;
        }
        proxy_error(p, 502,
                    p->got_bytes ? "connection closed inside the response head"
                                 : "connection closed before any response");
        return;
    case P_BODY:
        p->origin_eof = true;
        pump_download(p);
        return;
    }
}

static void client_readable(void *arg)
{
    struct proxy *p = arg;
    if (p->phase != P_CONNECT && !p->req_done && !pump_upload(p)) {
        return;
    }
    /* A client that closes its side is gone (as nginx reads it: HTTP/1.1 clients do not
     * half-close): the origin connection is closed instead of reading a response no one
     * will take. A body cut short was answered by pump_upload already. */
    if (http_stream_eof(p->req) && (p->req_done || p->phase == P_CONNECT)) {
        proxy_abort(p, p->phase == P_BODY ? p->status : PROXY_STATUS_CLIENT_GONE);
    }
}

static void client_writable(void *arg)
{
    struct proxy *p = arg;
    if (p->phase == P_BODY && p->paused) {
        p->paused = false;
        http_upconn_reading(p->up, true);
        pump_download(p); /* what is already buffered raises no read event */
    }
}

static void client_closed(void *arg)
{
    struct proxy *p = arg;
    proxy_abort(p, p->phase == P_BODY ? p->status : PROXY_STATUS_CLIENT_GONE);
}

static const struct http_stream_cbs stream_cbs = {client_readable, client_writable, client_closed};
static const struct http_upconn_cbs upconn_cbs = {up_read, up_write, up_event};

static void start_connect(struct proxy *p, bool fresh)
{
    struct err e = {0};
    p->phase = P_CONNECT;
    p->up = http_upstream_get(p->origin, p->req->conn->loop, fresh, &upconn_cbs, p, &p->reused, &e);
    if (p->up == NULL) {
        proxy_error(p, 502, e.msg);
        return;
    }
    if (http_upconn_connected(p->up)) {
        start_send(p);
        return;
    }
    deadline(p, p->oo->connect_timeout_ms);
}

void http_proxy(struct http_req *req, struct http_origin *origin, const struct http_proxy_opts *o)
{
    if (req->answered || req->conn->state == CS_STREAM) {
        log_error("proxy: request already answered or proxied");
        return;
    }
    if (!req->conn->open) {
        http_respond_error(req, 502, NULL); /* the client is gone: dropped, and freed */
        return;
    }
    struct proxy *p = proxy_take(req->conn->loop);
    if (p == NULL) {
        log_error("proxy: out of memory");
        http_respond_error(req, 500, NULL);
        return;
    }
    p->req = req;
    p->origin = origin;
    p->oo = http_origin_settings(origin);
    p->upgrade = o->allow_upgrade && req->head->upgrade && http_ws_request_valid(req, p->ws_accept);
    int status = build_head(p, o);
    if (status != 0) {
        proxy_error(p, status, NULL);
        return;
    }
    http_stream_attach(req, &stream_cbs, p);
    start_connect(p, false);
}
