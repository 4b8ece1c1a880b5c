/*
 * websocket.c: WebSocket pass-through (RFC 6455): the opening handshake is checked on both
 * sides, then the two connections become a byte tunnel. Frames are not parsed: the
 * policy was decided on the upgrade request, and the origin speaks WebSocket to the client.
 *
 * The tunnel keeps the client connection's I/O (conn.c, plain or TLS, through stream.c)
 * and the origin's bufferevent, with the same backpressure as the proxy: a side is read
 * only while the other side's output is below HTTP_STREAM_HIGH_WATER. It ends when either
 * side closes (what the other side still has to write is written first) or after
 * idle_ms without a byte either way.
 */
#include "http/server_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define WS_KEY_BYTES 16 /* RFC 6455 section 4.1: a base64-encoded 16-byte nonce */
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_MAX   64

/* ---- handshake ------------------------------------------------------------------------------ */

/* The only header of that name, or NULL when it is absent or repeated. */
static const struct http_header *single(const struct http_header *hs, size_t n, const char *name)
{
    const struct http_header *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (slice_case_eq_z(hs[i].name, name)) {
            if (found != NULL) {
                return NULL;
            }
            found = &hs[i];
        }
    }
    return found;
}

/* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (RFC 6455 section 4.2.2). */
static bool ws_accept(struct slice key, char out[HTTP_WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char in[WS_KEY_MAX + sizeof WS_GUID];
    if (key.n > WS_KEY_MAX) {
        return false;
    }
    memcpy(in, key.p, key.n);
    memcpy(in + key.n, WS_GUID, sizeof WS_GUID - 1);
    if (EVP_Digest(in, key.n + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) != 1) {
        return false;
    }
    struct buf b;
    buf_init(&b, HTTP_WS_ACCEPT_LEN);
    bool ok = b64_encode(md, mdlen, &b) == 0 && b.len == HTTP_WS_ACCEPT_LEN;
    if (ok) {
        memcpy(out, b.p, HTTP_WS_ACCEPT_LEN + 1);
    }
    buf_free(&b);
    return ok;
}

bool http_ws_request_valid(const struct http_req *r, char accept[HTTP_WS_ACCEPT_LEN + 1])
{
    const struct http_head *h = r->head;
    if (!r->head_valid || h->method != HTTP_M_GET || h->version_minor != 1 || !h->upgrade ||
        h->chunked || h->content_length != 0) {
        return false;
    }
    const struct http_header *up = single(h->headers, h->nheaders, "upgrade");
    const struct http_header *key = single(h->headers, h->nheaders, "sec-websocket-key");
    const struct http_header *ver = single(h->headers, h->nheaders, "sec-websocket-version");
    if (up == NULL || key == NULL || ver == NULL ||
        !http_list_has(up->value, SLICE_LIT("websocket")) || !slice_eq_z(ver->value, "13")) {
        return false;
    }
    struct buf raw;
    buf_init(&raw, WS_KEY_MAX);
    bool ok = b64_decode(key->value, &raw) == 0 && raw.len == WS_KEY_BYTES;
    buf_free(&raw);
    return ok && ws_accept(key->value, accept);
}

bool http_ws_response_valid(const struct http_resp_head *h,
                            const char accept[HTTP_WS_ACCEPT_LEN + 1])
{
    if (h->status != 101 || !h->upgrade) {
        return false;
    }
    const struct http_header *up = single(h->headers, h->nheaders, "upgrade");
    const struct http_header *acc = single(h->headers, h->nheaders, "sec-websocket-accept");
    return up != NULL && acc != NULL && slice_case_eq_z(up->value, "websocket") &&
           slice_eq_z(acc->value, accept);
}

/* ---- the tunnel ----------------------------------------------------------------------------- */

struct tunnel {
    struct http_req *req;
    struct http_upconn *up;
    struct event *timer;
    int idle_ms;
    int64_t deadline_ms;
    uint64_t sent; /* bytes written to the client */
    bool paused;   /* origin reading stopped for a full client output */
};

static void tunnel_touch(struct tunnel *t)
{
    t->deadline_ms = http_now_ms() + t->idle_ms;
}

/* Ends both sides: the origin gets what it still has to write, the client too (then the
 * connection closes). */
static void tunnel_end(struct tunnel *t, const char *why)
{
    struct http_req *r = t->req;
    log_debug("proxy: WebSocket tunnel of %s ends: %s", http_req_remote_ip(r), why);
    uint64_t sent = t->sent;
    http_upstream_close_after_flush(t->up);
    event_free(t->timer);
    free(t);
    http_stream_finish(r, 101, sent, false);
}

/* Origin to client; everything (ignoring the high-water mark) when the origin is done:
 * its input is bounded by its own read high-water mark. */
static void origin_to_client(struct tunnel *t, bool all)
{
    struct evbuffer *in = http_upconn_input(t->up);
    while (http_stream_open(t->req) && evbuffer_get_length(in) > 0) {
        struct evbuffer *out = http_stream_output(t->req);
        size_t olen = evbuffer_get_length(out), n = evbuffer_get_length(in);
        if (!all) {
            n = olen >= HTTP_STREAM_HIGH_WATER ? 0 : UTIL_MIN(n, HTTP_STREAM_HIGH_WATER - olen);
        }
        if (n > 0) {
            evbuffer_remove_buffer(in, out, n);
            t->sent += n;
            tunnel_touch(t);
        }
        http_stream_flush(t->req);
        if (n == 0 && http_stream_open(t->req) &&
            evbuffer_get_length(http_stream_output(t->req)) >= HTTP_STREAM_HIGH_WATER) {
            /* The socket takes no more: resumed by the client's write callback. */
            t->paused = true;
            http_upconn_reading(t->up, false);
            return;
        }
    }
}

static void client_to_origin(struct tunnel *t, bool all)
{
    if (!http_stream_open(t->req)) {
        return;
    }
    struct evbuffer *out = http_upconn_output(t->up);
    size_t olen = evbuffer_get_length(out);
    size_t room =
        all ? SIZE_MAX : (olen >= HTTP_STREAM_HIGH_WATER ? 0 : HTTP_STREAM_HIGH_WATER - olen);
    if (room > 0 && http_stream_raw(t->req, out, room) > 0) {
        tunnel_touch(t);
        http_upconn_flush(t->up);
    }
}

static void t_client_readable(void *arg)
{
    struct tunnel *t = arg;
    client_to_origin(t, false);
    if (http_stream_eof(t->req)) {
        client_to_origin(t, true);
        tunnel_end(t, "the client closed");
    }
}

static void t_client_writable(void *arg)
{
    struct tunnel *t = arg;
    if (t->paused) {
        t->paused = false;
        http_upconn_reading(t->up, true);
        origin_to_client(t, false);
    }
}

static void t_client_closed(void *arg)
{
    tunnel_end(arg, "the client connection failed");
}

static void t_up_read(void *arg)
{
    struct tunnel *t = arg;
    if (t->paused) {
        return; /* the client's write callback resumes */
    }
    origin_to_client(t, false);
}

static void t_up_write(void *arg)
{
    t_client_readable(arg); /* input held back by a full origin output, and its EOF */
}

static void t_up_event(void *arg, short what)
{
    struct tunnel *t = arg;
    if (!http_stream_open(t->req)) {
        return; /* the closed notification ends the tunnel */
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        origin_to_client(t, true);
        tunnel_end(t, (what & BEV_EVENT_EOF) ? "the origin closed" : "origin connection error");
    }
}

static void t_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    int64_t left = t->deadline_ms - http_now_ms();
    if (left > 0) {
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        evtimer_add(t->timer, &tv);
        return;
    }
    tunnel_end(t, "idle timeout");
}

static const struct http_stream_cbs tunnel_stream_cbs = {t_client_readable, t_client_writable,
                                                         t_client_closed};
static const struct http_upconn_cbs tunnel_up_cbs = {t_up_read, t_up_write, t_up_event};

void http_tunnel_start(struct http_req *r, struct http_upconn *u, int idle_ms, uint64_t sent)
{
    struct tunnel *t = xcalloc(1, sizeof(*t));
    t->req = r;
    t->up = u;
    t->idle_ms = idle_ms;
    t->sent = sent;
    t->timer = evtimer_new(http_req_base(r), t_timer, t);
    if (t->timer == NULL) {
        log_error("proxy: cannot allocate a timer");
        abort();
    }
    http_upconn_set_cbs(u, &tunnel_up_cbs, t);
    http_stream_attach(r, &tunnel_stream_cbs, t);
    tunnel_touch(t);
    struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};
    evtimer_add(t->timer, &tv);
    /* Bytes that came with the handshake, on either side, raise no new read event. */
    origin_to_client(t, false);
    http_stream_flush(r);
    if (!http_stream_open(r)) {
        return; /* the closed notification is on its way */
    }
    t_client_readable(t);
}
