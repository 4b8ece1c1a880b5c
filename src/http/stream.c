/*
 * stream.c: requests whose connection is driven by an owner (CS_STREAM) instead of by
 * message.c: the reverse proxy reads the request body as it arrives and writes the origin's
 * response as it comes, a WebSocket tunnel moves raw bytes both ways.
 *
 * The connection keeps its own I/O (conn.c: plain sockets with their events, TLS through
 * bufferevent_openssl); the owner is told when input arrives (readable), when the output
 * has drained (writable) and when the connection is gone (closed). Closed is always
 * delivered from the event loop through c->sev, never from inside a call of the owner's,
 * so that an owner never sees itself freed under its feet.
 *
 * Body framing of a streamed request is the client's (Content-Length or chunked, already
 * validated by the head parser); http_sbody_read decodes it in place, bounded by the
 * caller's max, so memory stays constant whatever the body size.
 */
#include "http/server_int.h"

#include <stdlib.h>
#include <string.h>

/* Input handed to the chunked decoder per call: bounds the decoded bytes in c->body. */
#define STREAM_DECODE_STEP (64 * 1024)
#define STREAM_IOVECS      8

static void stream_closed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    if (c->state == CS_STREAM && c->scb != NULL && c->scb->closed != NULL) {
        c->scb->closed(c->sarg);
    }
}

void http_stream_attach(struct http_req *r, const struct http_stream_cbs *cbs, void *arg)
{
    struct http_conn *c = r->conn;
    c->scb = cbs;
    c->sarg = arg;
    if (c->sev == NULL) {
        c->sev = event_new(c->loop->base, -1, 0, stream_closed_cb, c);
        if (c->sev == NULL) {
            log_error("http: cannot allocate an event"); /* only on OOM inside libevent */
            abort();
        }
    }
    c->state = CS_STREAM;
    http_conn_timer(c, T_NONE); /* the owner bounds the time */
    if (!c->open) {
        event_active(c->sev, EV_READ, 0);
        return;
    }
    if (c->bev != NULL) {
        /* The write callback then says "drained to the low-water mark", not "empty". */
        bufferevent_setwatermark(c->bev, EV_WRITE, HTTP_STREAM_LOW_WATER, 0);
    }
}

void http_stream_detach(struct http_req *r)
{
    struct http_conn *c = r->conn;
    c->scb = NULL;
    c->sarg = NULL;
    if (c->sev != NULL) {
        event_del(c->sev); /* also cancels an activation not yet run */
    }
    if (c->state == CS_STREAM) {
        c->state = CS_WAIT;
    }
    if (c->open && c->bev != NULL) {
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    }
}

bool http_stream_open(const struct http_req *r)
{
    return r->conn->open;
}

bool http_stream_eof(const struct http_req *r)
{
    const struct http_conn *c = r->conn;
    return !c->open || (c->peer_eof && evbuffer_get_length(c->in) == 0);
}

/* Content-Length framing: moves what is there, up to the end of the body. */
static int sbody_length(struct http_conn *c, struct evbuffer *dst, size_t max, size_t *moved)
{
    size_t n = (size_t)UTIL_MIN((uint64_t)UTIL_MIN(evbuffer_get_length(c->in), max), c->body_left);
    if (dst != NULL) {
        evbuffer_remove_buffer(c->in, dst, n);
    } else {
        evbuffer_drain(c->in, n);
    }
    c->body_left -= n;
    *moved = n;
    return c->body_left == 0 ? 0 : 1;
}

/* Chunked framing: decodes through c->body (never more than STREAM_DECODE_STEP bytes at a
 * time), then hands the data to dst. The decoder stops exactly at the end of the body:
 * what follows is the next request. */
static int sbody_chunked(struct http_conn *c, struct evbuffer *dst, size_t max, size_t *moved)
{
    int rc = 1;
    c->body.cap = SIZE_MAX / 2; /* bounded by the input handed over, not by the cap */
    while (rc == 1 && *moved < max && evbuffer_get_length(c->in) > 0) {
        struct evbuffer_iovec v[STREAM_IOVECS];
        int n = evbuffer_peek(c->in, -1, NULL, v, STREAM_IOVECS);
        size_t used = 0;
        for (int i = 0; i < n && i < STREAM_IOVECS && rc == 1 && *moved < max; i++) {
            size_t k = UTIL_MIN(v[i].iov_len, UTIL_MIN(max - *moved, STREAM_DECODE_STEP));
            size_t took = 0;
            buf_reset(&c->body);
            rc = http_chunked_feed(&c->chunked, v[i].iov_base, k, &c->body, &took);
            used += took;
            if (rc >= 0 && c->body.len > 0) {
                if (dst != NULL) {
                    evbuffer_add(dst, c->body.p, c->body.len);
                }
                *moved += c->body.len;
            }
            if (took < v[i].iov_len) {
                break; /* stopped inside this vector: peek again after the drain */
            }
        }
        evbuffer_drain(c->in, used);
        if (used == 0) {
            break;
        }
    }
    buf_reset(&c->body);
    if (c->body.alloc > 2 * STREAM_DECODE_STEP) {
        buf_free(&c->body);
    }
    return rc < 0 ? -1 : rc;
}

int http_sbody_read(struct http_conn *c, struct evbuffer *dst, size_t max, size_t *moved)
{
    *moved = 0;
    if (c->sb_done) {
        return 0;
    }
    if (!c->open) {
        return -1;
    }
    int rc = c->sb_chunked ? sbody_chunked(c, dst, max, moved) : sbody_length(c, dst, max, moved);
    if (rc == 0) {
        c->sb_done = true;
        return 0;
    }
    if (rc < 0) {
        return -1;
    }
    http_conn_want_input(c);
    if (c->peer_eof && evbuffer_get_length(c->in) == 0) {
        return -1; /* the client stopped before the end of its body */
    }
    return 1;
}

int http_stream_body(struct http_req *r, struct evbuffer *dst, size_t max, size_t *moved)
{
    if (!r->streamed) {
        *moved = 0;
        return 0;
    }
    return http_sbody_read(r->conn, dst, max, moved);
}

size_t http_stream_raw(struct http_req *r, struct evbuffer *dst, size_t max)
{
    struct http_conn *c = r->conn;
    if (!c->open) {
        return 0;
    }
    size_t n = UTIL_MIN(evbuffer_get_length(c->in), max);
    evbuffer_remove_buffer(c->in, dst, n);
    http_conn_want_input(c);
    return n;
}

void http_stream_continue(struct http_req *r)
{
    struct http_conn *c = r->conn;
    /* RFC 9110 section 10.1.1: the client waits for this before sending the body. */
    if (!r->head->expect_continue || c->continue_sent || c->sb_done || !c->open ||
        evbuffer_get_length(c->in) > 0) {
        return;
    }
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    evbuffer_add(c->out, cont, sizeof cont - 1);
    c->continue_sent = true;
    http_conn_flush(c);
}

struct evbuffer *http_stream_output(struct http_req *r)
{
    return r->conn->out;
}

void http_stream_flush(struct http_req *r)
{
    http_conn_flush(r->conn);
}

bool http_stream_keepable(const struct http_req *r)
{
    const struct http_conn *c = r->conn;
    return c->open && r->head_valid && r->head->keep_alive && !c->peer_eof && !c->loop->draining;
}

bool http_stream_body_discardable(const struct http_req *r)
{
    const struct http_conn *c = r->conn;
    if (!r->streamed || c->sb_done) {
        return true;
    }
    if (!c->open || c->peer_eof) {
        return false;
    }
    /* Told to wait for a 100 Continue that never came, the client may send the body or
     * the next request: the two cannot be told apart, so the connection closes. */
    if (r->head->expect_continue && !c->continue_sent && evbuffer_get_length(c->in) == 0) {
        return false;
    }
    return c->sb_chunked || c->body_left <= HTTP_STREAM_DISCARD_MAX;
}

void http_stream_finish(struct http_req *r, int status, uint64_t bytes, bool keep)
{
    struct http_conn *c = r->conn;
    http_stream_detach(r);
    if (r->answered) {
        log_error("http: stream finished twice");
        return;
    }
    r->answered = true;
    r->status = status;
    r->resp_bytes = bytes;
    if (!keep || !http_stream_keepable(r) || !http_stream_body_discardable(r)) {
        r->close = true;
    }
    http_conn_answered(c);
}

void http_stream_on_readable(struct http_conn *c)
{
    if (c->scb != NULL && c->scb->readable != NULL) {
        c->scb->readable(c->sarg);
    }
}

void http_stream_on_writable(struct http_conn *c)
{
    if (c->scb != NULL && c->scb->writable != NULL && c->open &&
        evbuffer_get_length(c->out) <= HTTP_STREAM_LOW_WATER) {
        c->scb->writable(c->sarg);
    }
}

void http_stream_abort_now(struct http_conn *c)
{
    struct http_loop *loop = c->loop;
    http_conn_close(c); /* the socket; the deferred notification will not run any more */
    if (c->scb != NULL && c->scb->closed != NULL) {
        c->scb->closed(c->sarg); /* the owner finishes the request, which frees c */
    }
    for (struct http_conn *x = loop->conns; x != NULL; x = x->next) {
        if (x == c) {
            /* An owner that did not finish: free the connection anyway. */
            log_error("http: stream owner did not finish its request");
            http_stream_detach(&c->req);
            c->state = CS_HEAD;
            http_conn_close(c);
            break;
        }
    }
}
