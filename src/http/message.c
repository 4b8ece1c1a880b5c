/*
 * message.c: HTTP/1.1 messages on a connection (RFC 9112): the request head, its checks and
 * routing, the body (Content-Length or chunked, Expect: 100-continue), the handler call.
 *
 *   CS_HEAD --head parsed--> CS_WAIT (handler) --answered--> CS_HEAD (keep-alive) ...
 *      \--body expected--> CS_BODY --body complete--> CS_WAIT
 *   HTTP_BODY_STREAM routes: CS_HEAD --head--> CS_WAIT (handler) --http_proxy--> CS_STREAM
 *      --finished--> CS_HEAD; answered without reading the body: --> CS_DISCARD --> CS_HEAD
 *   any error: answer with Connection: close, then conn.c lingers and closes.
 *
 * Requests are processed one at a time, so responses go out in request order (pipelining,
 * RFC 9112 section 9.3.2); pipelined bytes wait in the input buffer. A synchronous handler
 * reads its head straight from the input buffer; only a kept request, or one whose body
 * arrives later, is copied.
 */
#include "http/server_int.h"

#include <string.h>

static struct evbuffer *input(struct http_conn *c)
{
    return c->in;
}

static struct evbuffer *output(struct http_conn *c)
{
    return c->out;
}

/* ---- the head -------------------------------------------------------------------------- */

static void slice_rebase(struct slice *s, const char *from, size_t n, const char *to)
{
    uintptr_t p = (uintptr_t)s->p, f = (uintptr_t)from;
    if (s->p != NULL && p >= f && p <= f + n) {
        s->p = to + (p - f);
    }
}

/* The request's bytes moved from `from` to `to` (n bytes): move its slices along. */
static void req_rebase(struct http_req *r, const char *from, size_t n, const char *to)
{
    struct http_head *h = r->head;
    if (h != NULL) {
        slice_rebase(&h->method_raw, from, n, to);
        slice_rebase(&h->target, from, n, to);
        slice_rebase(&h->host, from, n, to);
        for (size_t i = 0; i < h->nheaders; i++) {
            slice_rebase(&h->headers[i].name, from, n, to);
            slice_rebase(&h->headers[i].value, from, n, to);
        }
    }
    slice_rebase(&r->query, from, n, to);
    slice_rebase(&r->host, from, n, to);
    slice_rebase(&r->body, from, n, to);
}

/* Handlers get header values as C strings: the byte after each value (OWS or CR), name
 * (':'), method and target (SP) is inside the head and no longer needed once parsed. */
static void head_terminate(struct http_head *h)
{
    ((char *)h->method_raw.p)[h->method_raw.n] = '\0';
    ((char *)h->target.p)[h->target.n] = '\0';
    for (size_t i = 0; i < h->nheaders; i++) {
        ((char *)h->headers[i].name.p)[h->headers[i].name.n] = '\0';
        ((char *)h->headers[i].value.p)[h->headers[i].value.n] = '\0';
    }
}

/* A kept request must survive changes of the input buffer: copy its bytes to conn->hold. */
static void msg_detach(struct http_conn *c)
{
    if (c->in_input == 0) {
        return;
    }
    struct evbuffer *in = input(c);
    const char *base = (const char *)evbuffer_pullup(in, (ev_ssize_t)c->in_input);
    http_loop_buf_take(c->loop, &c->hold); /* no malloc per proxied request */
    buf_reset(&c->hold);
    if (c->hold.cap < c->in_input) {
        c->hold.cap = c->in_input;
    }
    buf_append(&c->hold, base, c->in_input);
    req_rebase(&c->req, base, c->in_input, c->hold.p);
    evbuffer_drain(in, c->in_input);
    c->in_input = 0;
}

/* Answers a request that will not reach a handler, then closes (RFC 9112 section 9.6). */
void http_msg_fail(struct http_conn *c, int status)
{
    struct http_req *r = &c->req;
    if (!r->head_valid) {
        r->t0_ms = http_now_ms();
    }
    r->close = true;
    c->state = CS_WAIT;
    c->busy++;
    http_respond_error(r, status, NULL);
    c->busy--;
    http_msg_done(c);
}

/* Runs the handler of a complete request. */
static enum http_step msg_call(struct http_conn *c)
{
    struct http_req *r = &c->req;
    c->state = CS_WAIT;
    c->busy++;
    if (r->route != NULL) {
        r->route->fn(r, r->route->ctx);
    } else {
        http_respond_error(r, 404, NULL);
    }
    c->busy--;
    if (r->answered) {
        http_msg_done(c);
        return STEP_AGAIN;
    }
    msg_detach(c); /* the handler keeps the request */
    http_conn_timer(c, T_NONE);
    return STEP_MORE;
}

/* A HTTP_BODY_STREAM route: the handler runs now; the body stays in the input, framed by
 * sb_chunked / body_left, for the handler's stream (stream.c) or for CS_DISCARD. */
static enum http_step msg_stream(struct http_conn *c, bool has_body)
{
    struct http_req *r = &c->req;
    r->streamed = true;
    c->sb_chunked = r->head->chunked;
    c->sb_done = !has_body;
    c->continue_sent = false;
    c->body_left = r->head->chunked ? 0 : r->head->content_length;
    if (c->sb_chunked) {
        http_chunked_init(&c->chunked);
    }
    msg_detach(c); /* the head moves to hold: the input holds the body from here on */
    return msg_call(c);
}

static void send_continue(struct http_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    evbuffer_add(output(c), cont, sizeof cont - 1);
}

/* A head was parsed from base[0..consumed): check it, route it, frame its body. */
static enum http_step msg_on_head(struct http_conn *c, char *base, size_t consumed)
{
    struct http_req *r = &c->req;
    struct http_head *h = r->head;
    r->head_valid = true;
    r->t0_ms = http_now_ms();
    head_terminate(h);
    if (h->method == HTTP_M_UNKNOWN || h->method == HTTP_M_CONNECT) {
        http_msg_fail(c, 501); /* RFC 9110 section 9.1 */
        return STEP_AGAIN;
    }
    r->host = http_host_without_port(h->host);
    if (http_path_canonical(h->target, &r->path, &r->query) != 0) {
        http_msg_fail(c, 400);
        return STEP_AGAIN;
    }
    r->route =
        http_router_match(c->loop->srv->router, r->host, (struct slice){r->path.p, r->path.len});
    size_t limit = r->route != NULL ? r->route->body_limit : HTTP_DEFAULT_BODY_LIMIT;
    /* RFC 9110 section 10.1.1: an expectation other than 100-continue fails with 417. */
    if (h->version_minor == 1 && !h->expect_continue && http_head_get(h, "expect") != NULL) {
        http_msg_fail(c, 417);
        return STEP_AGAIN;
    }
    bool has_body = h->chunked || h->content_length > 0;
    if (r->route != NULL && r->route->body_limit == HTTP_BODY_STREAM) {
        return msg_stream(c, has_body);
    }
    if (!has_body) {
        return msg_call(c);
    }
    if (r->route == NULL) {
        http_msg_fail(c, 404); /* no reason to read a body nobody wants */
        return STEP_AGAIN;
    }
    if (!h->chunked && h->content_length > limit) {
        http_msg_fail(c, 413); /* before reading it, and without 100 Continue */
        return STEP_AGAIN;
    }
    struct evbuffer *in = input(c);
    size_t avail = evbuffer_get_length(in) - consumed;
    if (!h->chunked && avail >= h->content_length) {
        /* The whole body is here: hand it over in place. */
        size_t total = consumed + (size_t)h->content_length;
        char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)total);
        req_rebase(r, base, consumed, p);
        r->body = (struct slice){p + consumed, (size_t)h->content_length};
        c->in_input = total;
        return msg_call(c);
    }
    if (h->expect_continue && avail == 0) {
        send_continue(c);
    }
    msg_detach(c);
    http_loop_buf_take(c->loop, &c->body);
    buf_reset(&c->body);
    c->body.cap = limit;
    if (h->chunked) {
        http_chunked_init(&c->chunked);
    } else {
        c->body_left = h->content_length;
    }
    c->state = CS_BODY;
    http_conn_timer(c, T_BODY);
    return STEP_AGAIN;
}

enum http_step http_msg_head(struct http_conn *c)
{
    struct evbuffer *in = input(c);
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
        if (c->peer_eof) {
            c->closing = true;
        }
        return STEP_MORE;
    }
    size_t want = UTIL_MIN(len, (size_t)HTTP_HEAD_MAX);
    char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)want);
    /* The parser starts over on every call: call it only when a line may have ended, or a
     * limit been crossed, so that a head sent byte by byte costs O(lines x size). */
    bool lf = c->scanned < want && memchr(p + c->scanned, '\n', want - c->scanned) != NULL;
    bool limit = want == HTTP_HEAD_MAX ||
                 (want > HTTP_MAX_REQUEST_LINE && c->scanned <= HTTP_MAX_REQUEST_LINE);
    c->scanned = want;
    if (!lf && !limit && !c->peer_eof) {
        goto more;
    }
    size_t consumed = 0;
    struct http_req *r = &c->req;
    struct http_head *h = http_loop_head_take(c->loop);
    int rc = http_parse_head(p, want, h, &consumed);
    if (rc == 1 && want == HTTP_HEAD_MAX) {
        rc = -431;
    }
    if (rc != 0) {
        http_loop_head_give(c->loop, h); /* only a parsed request holds a head */
    } else {
        r->head = h;
    }
    if (rc == 1) {
        if (c->peer_eof) {
            c->closing = true; /* the head can no longer complete */
            return STEP_MORE;
        }
        goto more;
    }
    c->scanned = 0;
    if (rc < 0) {
        http_msg_fail(c, -rc);
        return STEP_AGAIN;
    }
    c->in_input = consumed;
    return msg_on_head(c, p, consumed);
more:
    /* The first bytes of a request: from now on the whole head has header_timeout. */
    if (c->timer_kind != T_HEADER) {
        http_conn_timer(c, T_HEADER);
    }
    return STEP_MORE;
}

/* ---- the body --------------------------------------------------------------------------- */

#define BODY_IOVECS 16

enum http_step http_msg_body(struct http_conn *c)
{
    struct http_req *r = &c->req;
    struct evbuffer *in = input(c);
    if (evbuffer_get_length(in) == 0) {
        if (c->peer_eof) {
            c->closing = true;
        }
        return STEP_MORE;
    }
    struct evbuffer_iovec v[BODY_IOVECS];
    int n = evbuffer_peek(in, -1, NULL, v, BODY_IOVECS);
    size_t used = 0;
    int rc = 1;
    for (int i = 0; i < n && i < BODY_IOVECS && rc == 1; i++) {
        if (r->head->chunked) {
            size_t k = 0;
            rc = http_chunked_feed(&c->chunked, v[i].iov_base, v[i].iov_len, &c->body, &k);
            used += k;
        } else {
            size_t take = (size_t)UTIL_MIN((uint64_t)v[i].iov_len, c->body_left);
            if (buf_append(&c->body, v[i].iov_base, take) != 0) {
                rc = -413; /* cannot happen: Content-Length was checked against the cap */
                break;
            }
            used += take;
            c->body_left -= take;
            rc = c->body_left == 0 ? 0 : 1;
        }
    }
    evbuffer_drain(in, used);
    if (rc < 0) {
        http_msg_fail(c, -rc);
        return STEP_AGAIN;
    }
    if (rc == 1) {
        if (used > 0) {
            http_conn_timer(c, T_BODY); /* a gap between reads is what the body timeout bounds */
        }
        return evbuffer_get_length(in) > 0 ? STEP_AGAIN : STEP_MORE;
    }
    r->body = (struct slice){c->body.p != NULL ? c->body.p : "", c->body.len};
    return msg_call(c);
}

void http_msg_done(struct http_conn *c)
{
    struct http_req *r = &c->req;
    http_access_log(r);
    if (!c->open) {
        return; /* the client went away; http_conn_answered frees */
    }
    struct evbuffer *in = input(c);
    if (c->in_input > 0) {
        evbuffer_drain(in, c->in_input);
        c->in_input = 0;
    }
    if (r->close) {
        c->closing = true;
        evbuffer_drain(in, evbuffer_get_length(in));
    }
    /* A streamed body its handler did not read: dropped before the next request. */
    bool discard = !r->close && r->streamed && !c->sb_done;
    http_req_reset(r);
    /* A connection with nothing more to do gives its buffers back: 10,000 idle keep-alive
     * connections must not each keep the head of their last request (bench/gate). One with
     * pipelined input keeps them for the next request, unless a large body grew them. */
    bool idle = evbuffer_get_length(in) == 0;
    if (idle || c->hold.alloc > 2 * HTTP_HEAD_MAX) {
        http_loop_buf_give(c->loop, &c->hold); /* to the loop's spares, or freed */
    }
    if (idle || c->body.alloc > HTTP_DEFAULT_BODY_LIMIT) {
        http_loop_buf_give(c->loop, &c->body);
    }
    buf_reset(&c->hold);
    buf_reset(&c->body);
    c->scanned = 0;
    c->out_mark = SIZE_MAX;
    if (discard) {
        c->state = CS_DISCARD;
        c->discard_budget = HTTP_STREAM_DISCARD_MAX;
        http_conn_timer(c, T_BODY);
        return;
    }
    c->state = CS_HEAD;
    http_conn_timer(c, T_IDLE); /* T_HEADER replaces it when the next head is incomplete */
}

enum http_step http_msg_discard(struct http_conn *c)
{
    size_t moved = 0;
    int rc = http_sbody_read(c, NULL, c->discard_budget + 1, &moved);
    if (rc < 0 || moved > c->discard_budget) {
        /* Malformed, cut, or larger than announced: the connection cannot be reused. */
        c->closing = true;
        evbuffer_drain(input(c), evbuffer_get_length(input(c)));
        return STEP_MORE;
    }
    c->discard_budget -= moved;
    if (rc == 0) {
        c->state = CS_HEAD;
        http_conn_timer(c, T_IDLE);
        return STEP_AGAIN;
    }
    if (moved > 0) {
        http_conn_timer(c, T_BODY);
    }
    return STEP_MORE;
}
