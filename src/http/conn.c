/*
 * conn.c: one HTTP/1.1 connection (RFC 9112) on a bufferevent.
 *
 *   CS_HEAD --head parsed--> CS_WAIT (handler) --answered--> CS_HEAD (keep-alive) ...
 *      \--body expected--> CS_BODY --body complete--> CS_WAIT
 *   any error: answer with Connection: close, then CS_LINGER (write side shut, input
 *   discarded for a while so that the client reads the answer instead of a RST), then close.
 *
 * Requests are processed one at a time, so responses go out in request order (pipelining,
 * RFC 9112 section 9.3.2); pipelined bytes wait in the input buffer. A synchronous handler
 * reads its head straight from the input buffer; only a kept request, or one whose body
 * arrives later, is copied.
 *
 * One timer per connection, re-armed per phase: the whole head must arrive within the header
 * timeout (a client dribbling bytes is cut at the deadline: the timer is not pushed back by
 * reads), each gap in a body is bounded by the body timeout, an idle keep-alive connection by
 * the idle timeout. All of them are libevent common timeouts (O(1) re-arm).
 *
 * Plain sockets write directly from the read callback (evbuffer_write) and only enable the
 * bufferevent's write event when the kernel buffer is full: one syscall per response instead
 * of an epoll round trip.
 */
#include "http/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

enum step {
    STEP_MORE,  /* wait for an event */
    STEP_AGAIN, /* go on with the next state */
};

static void conn_progress(struct http_conn *c);
static void conn_free(struct http_conn *c);

static struct evbuffer *input(struct http_conn *c)
{
    return bufferevent_get_input(c->bev);
}

static struct evbuffer *output(struct http_conn *c)
{
    return bufferevent_get_output(c->bev);
}

static void timer_set(struct http_conn *c, enum http_timer kind)
{
    const struct timeval *tv = NULL;
    switch (kind) {
    case T_HEADER: tv = c->loop->tv_header; break;
    case T_BODY: tv = c->loop->tv_body; break;
    case T_IDLE: tv = c->loop->tv_idle; break;
    case T_LINGER: tv = c->loop->tv_linger; break;
    case T_NONE: break;
    }
    c->timer_kind = kind;
    if (tv == NULL) {
        evtimer_del(c->timer);
    } else {
        evtimer_add(c->timer, tv);
    }
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
    struct http_head *h = &r->head;
    slice_rebase(&h->method_raw, from, n, to);
    slice_rebase(&h->target, from, n, to);
    slice_rebase(&h->host, from, n, to);
    for (size_t i = 0; i < h->nheaders; i++) {
        slice_rebase(&h->headers[i].name, from, n, to);
        slice_rebase(&h->headers[i].value, from, n, to);
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
static void conn_detach(struct http_conn *c)
{
    if (c->in_input == 0) {
        return;
    }
    struct evbuffer *in = input(c);
    const char *base = (const char *)evbuffer_pullup(in, (ev_ssize_t)c->in_input);
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
static void conn_fail(struct http_conn *c, int status)
{
    struct http_req *r = &c->req;
    if (!r->head_valid) {
        event_base_gettimeofday_cached(c->loop->base, &r->t0);
    }
    r->close = true;
    c->state = CS_WAIT;
    c->busy++;
    http_respond_error(r, status, NULL);
    c->busy--;
    http_conn_request_done(c);
}

/* Runs the handler of a complete request. */
static enum step conn_call(struct http_conn *c)
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
        http_conn_request_done(c);
        return STEP_AGAIN;
    }
    conn_detach(c); /* the handler keeps the request */
    timer_set(c, T_NONE);
    return STEP_MORE;
}

static void send_continue(struct http_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    evbuffer_add(output(c), cont, sizeof cont - 1);
}

/* A head was parsed from base[0..consumed): check it, route it, frame its body. */
static enum step conn_on_head(struct http_conn *c, char *base, size_t consumed)
{
    struct http_req *r = &c->req;
    struct http_head *h = &r->head;
    r->head_valid = true;
    event_base_gettimeofday_cached(c->loop->base, &r->t0);
    head_terminate(h);
    if (h->method == HTTP_M_UNKNOWN || h->method == HTTP_M_CONNECT) {
        conn_fail(c, 501); /* RFC 9110 section 9.1 */
        return STEP_AGAIN;
    }
    r->host = http_host_without_port(h->host);
    if (http_path_canonical(h->target, &r->path, &r->query) != 0) {
        conn_fail(c, 400);
        return STEP_AGAIN;
    }
    r->route = http_router_match(c->loop->srv->router, r->host,
                                 (struct slice){r->path.p, r->path.len});
    size_t limit = r->route != NULL ? r->route->body_limit : HTTP_DEFAULT_BODY_LIMIT;
    /* RFC 9110 section 10.1.1: an expectation other than 100-continue fails with 417. */
    if (h->version_minor == 1 && !h->expect_continue && http_head_get(h, "expect") != NULL) {
        conn_fail(c, 417);
        return STEP_AGAIN;
    }
    bool has_body = h->chunked || h->content_length > 0;
    if (!has_body) {
        return conn_call(c);
    }
    if (r->route == NULL) {
        conn_fail(c, 404); /* no reason to read a body nobody wants */
        return STEP_AGAIN;
    }
    if (!h->chunked && h->content_length > limit) {
        conn_fail(c, 413); /* before reading it, and without 100 Continue */
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
        return conn_call(c);
    }
    if (h->expect_continue && avail == 0) {
        send_continue(c);
    }
    conn_detach(c);
    buf_reset(&c->body);
    c->body.cap = limit;
    if (h->chunked) {
        http_chunked_init(&c->chunked);
    } else {
        c->body_left = h->content_length;
    }
    c->state = CS_BODY;
    timer_set(c, T_BODY);
    return STEP_AGAIN;
}

static enum step conn_head(struct http_conn *c)
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
    int rc = http_parse_head(p, want, &c->req.head, &consumed);
    if (rc == 1 && want == HTTP_HEAD_MAX) {
        rc = -431;
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
        conn_fail(c, -rc);
        return STEP_AGAIN;
    }
    c->in_input = consumed;
    return conn_on_head(c, p, consumed);
more:
    /* The first bytes of a request: from now on the whole head has header_timeout. */
    if (c->timer_kind != T_HEADER) {
        timer_set(c, T_HEADER);
    }
    return STEP_MORE;
}

/* ---- the body --------------------------------------------------------------------------- */

#define BODY_IOVECS 16

static enum step conn_body(struct http_conn *c)
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
        if (r->head.chunked) {
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
        conn_fail(c, -rc);
        return STEP_AGAIN;
    }
    if (rc == 1) {
        if (used > 0) {
            timer_set(c, T_BODY); /* a gap between reads is what the body timeout bounds */
        }
        return evbuffer_get_length(in) > 0 ? STEP_AGAIN : STEP_MORE;
    }
    r->body = (struct slice){c->body.p != NULL ? c->body.p : "", c->body.len};
    return conn_call(c);
}

/* ---- writing and closing ------------------------------------------------------------- */

static void conn_linger(struct http_conn *c)
{
    if (c->tls || c->peer_eof) {
        http_conn_close(c);
        return;
    }
    evbuffer_drain(input(c), evbuffer_get_length(input(c)));
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->linger_bytes = 0;
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_enable(c->bev, EV_READ);
    timer_set(c, T_LINGER);
}

static void conn_flush(struct http_conn *c)
{
    if (c->bev == NULL) {
        return;
    }
    struct evbuffer *out = output(c);
    if (!c->tls && !c->write_enabled && evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, c->fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            http_conn_close(c);
            return;
        }
    }
    if (evbuffer_get_length(out) > 0) {
        if (!c->write_enabled) {
            bufferevent_enable(c->bev, EV_WRITE);
            c->write_enabled = true;
        }
        if (c->closing && c->timer_kind != T_IDLE) {
            timer_set(c, T_IDLE); /* bounds a client that does not read its answer */
        }
        return;
    }
    if (c->write_enabled && !c->tls) {
        bufferevent_disable(c->bev, EV_WRITE);
        c->write_enabled = false;
    }
    if (c->loop->draining && c->state == CS_HEAD && evbuffer_get_length(input(c)) == 0) {
        c->closing = true; /* idle during a graceful shutdown */
    }
    if (c->closing && c->state != CS_WAIT && c->state != CS_LINGER) {
        conn_linger(c);
    }
}

/* Processes buffered requests until one needs more bytes, a handler keeps one, or the
 * client has too many answers to read; then writes. May free the connection. */
static void conn_progress(struct http_conn *c)
{
    while (c->bev != NULL && !c->closing) {
        if (evbuffer_get_length(output(c)) > HTTP_OUTPUT_HIGH_WATER) {
            break; /* resumed by the write callback */
        }
        enum step s;
        if (c->state == CS_HEAD) {
            s = conn_head(c);
        } else if (c->state == CS_BODY) {
            s = conn_body(c);
        } else {
            break;
        }
        if (s == STEP_MORE) {
            break;
        }
    }
    conn_flush(c);
}

void http_conn_request_done(struct http_conn *c)
{
    struct http_req *r = &c->req;
    http_access_log(r);
    if (c->bev == NULL) {
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
    http_req_reset(r);
    /* Keep a connection's buffers for its next request, unless a large body grew them. */
    if (c->hold.alloc > 2 * HTTP_HEAD_MAX) {
        buf_free(&c->hold);
    }
    if (c->body.alloc > HTTP_DEFAULT_BODY_LIMIT) {
        buf_free(&c->body);
    }
    buf_reset(&c->hold);
    buf_reset(&c->body);
    c->scanned = 0;
    c->state = CS_HEAD;
    timer_set(c, T_IDLE); /* T_HEADER replaces it when the next head is incomplete */
}

void http_conn_answered(struct http_conn *c)
{
    if (c->busy > 0) {
        return;
    }
    http_conn_request_done(c);
    if (c->bev == NULL) {
        conn_free(c);
        return;
    }
    conn_progress(c);
}

/* ---- libevent callbacks ----------------------------------------------------------------- */

static void conn_readcb(struct bufferevent *bev, void *arg)
{
    struct http_conn *c = arg;
    if (c->state == CS_LINGER) {
        struct evbuffer *in = input(c);
        c->linger_bytes += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (c->linger_bytes > HTTP_LINGER_MAX_BYTES) {
            http_conn_close(c);
        }
        return;
    }
    if (c->state == CS_WAIT) {
        return; /* pipelined bytes wait until the current request is answered */
    }
    conn_progress(c);
}

static void conn_writecb(struct bufferevent *bev, void *arg)
{
    conn_progress(arg);
}

static void conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
    struct http_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        return; /* TLS handshake done */
    }
    if (what & BEV_EVENT_ERROR) {
        if (c->tls) {
            http_tls_log_error(bev, c->remote_ip);
        }
        http_conn_close(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        c->peer_eof = true;
        if (c->state == CS_LINGER) {
            http_conn_close(c);
        } else if (c->state != CS_WAIT) {
            conn_progress(c); /* answer what is complete, then close */
        }
    }
}

static void conn_timercb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    enum http_timer kind = c->timer_kind;
    c->timer_kind = T_NONE;
    switch (kind) {
    case T_HEADER:
        /* RFC 9110 section 15.5.9: 408 when a request was started, silence otherwise. */
        if (c->state == CS_HEAD && !c->closing && evbuffer_get_length(input(c)) > 0) {
            log_debug("http: %s: header timeout", c->remote_ip);
            conn_fail(c, 408);
            conn_progress(c);
            return;
        }
        break;
    case T_BODY:
        if (c->state == CS_BODY && !c->closing) {
            log_debug("http: %s: body timeout", c->remote_ip);
            conn_fail(c, 408);
            conn_progress(c);
            return;
        }
        break;
    default:
        break;
    }
    http_conn_close(c);
}

/* ---- life and death ---------------------------------------------------------------------- */

void http_conn_accept(struct http_loop *loop, const struct http_lsock *ls, evutil_socket_t fd,
                      const struct sockaddr *sa, int salen)
{
    struct http_server *s = loop->srv;
    if (loop->draining || atomic_fetch_add(&s->nconns, 1) >= s->cfg.max_connections) {
        if (!loop->draining) {
            atomic_fetch_sub(&s->nconns, 1);
        }
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nServer: postern\r\n"
                                   "Content-Length: 0\r\nConnection: close\r\n\r\n";
        if (ls->tls == NULL) {
            ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
        }
        evutil_closesocket(fd);
        log_debug("http: connection limit reached, connection refused");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    struct http_conn *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->fd = fd;
    c->tls = ls->tls != NULL;
    if (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(struct sockaddr_in6)) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->remote_ip,
                  sizeof c->remote_ip);
    } else if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in)) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->remote_ip,
                  sizeof c->remote_ip);
    }
    c->bev = c->tls ? http_tls_bev_new(loop->base, fd, ls->tls)
                    : bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(loop->base, conn_timercb, c);
    if (c->bev == NULL || c->timer == NULL) {
        log_error("http: cannot set up a connection");
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
        } else {
            evutil_closesocket(fd);
        }
        if (c->timer != NULL) {
            event_free(c->timer);
        }
        free(c);
        atomic_fetch_sub(&s->nconns, 1);
        return;
    }
    http_req_init(&c->req, c);
    buf_init(&c->hold, HTTP_HEAD_MAX);
    buf_init(&c->body, HTTP_DEFAULT_BODY_LIMIT);
    c->next = loop->conns;
    if (loop->conns != NULL) {
        loop->conns->prev = c;
    }
    loop->conns = c;
    loop->nconns++;

    bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_INPUT_HIGH_WATER);
    c->write_enabled = c->tls;
    bufferevent_enable(c->bev, c->tls ? EV_READ | EV_WRITE : EV_READ);
    c->state = CS_HEAD;
    timer_set(c, T_HEADER); /* the first head is due header_timeout after the accept */
}

static void conn_free(struct http_conn *c)
{
    struct http_loop *loop = c->loop;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        loop->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    loop->nconns--;
    event_free(c->timer);
    http_req_free(&c->req);
    buf_free(&c->hold);
    buf_free(&c->body);
    free(c);
    if (loop->draining && loop->nconns == 0) {
        http_loop_finish(loop);
    }
}

void http_conn_close(struct http_conn *c)
{
    if (c->bev != NULL) {
        if (c->tls) {
            SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
            if (ssl != NULL && SSL_is_init_finished(ssl)) {
                SSL_shutdown(ssl); /* close_notify, best effort (non-blocking socket) */
            }
        }
        bufferevent_free(c->bev);
        c->bev = NULL;
        atomic_fetch_sub(&c->loop->srv->nconns, 1);
    }
    evtimer_del(c->timer);
    c->timer_kind = T_NONE;
    if (c->state == CS_WAIT) {
        return; /* a handler holds the request: freed once it is answered */
    }
    conn_free(c);
}

void http_conn_drain_all(struct http_loop *loop)
{
    struct http_conn *next;
    for (struct http_conn *c = loop->conns; c != NULL; c = next) {
        next = c->next;
        if (c->bev != NULL && c->state == CS_HEAD && c->busy == 0 &&
            evbuffer_get_length(input(c)) == 0 && evbuffer_get_length(output(c)) == 0) {
            http_conn_close(c);
        }
    }
    if (loop->nconns == 0) {
        http_loop_finish(loop);
    }
}

void http_conn_free_all(struct http_loop *loop)
{
    while (loop->conns != NULL) {
        struct http_conn *c = loop->conns;
        c->state = CS_HEAD; /* whatever holds a kept request is gone too */
        http_conn_close(c);
    }
}
