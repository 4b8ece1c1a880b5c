/*
 * conn.c: a connection's socket: accept, I/O, timers, lingering close, graceful drain.
 * The HTTP/1.1 messages on it are message.c's.
 *
 * Plain sockets do their own I/O with two edge-triggered events and two evbuffers (one recv
 * and one writev per request, written from the callback that produced the answer, like
 * nginx: bufferevent_socket would add an FIONREAD ioctl per read and an epoll round trip per
 * write). TLS connections use bufferevent_openssl. A streamed request (CS_STREAM: the
 * reverse proxy, a WebSocket tunnel) keeps this I/O: its owner is told when input arrives
 * and when output drains (stream.c), so plain and TLS connections are proxied alike.
 *
 * One timer per connection, re-armed per phase: the whole head must arrive within the header
 * timeout (a client dribbling bytes is cut at the deadline: the timer is not pushed back by
 * reads), each gap in a body is bounded by the body timeout, an idle keep-alive connection by
 * the idle timeout, a lingering close by HTTP_LINGER_MS. Libevent common timeouts (O(1)
 * re-arm), and lazy: pushing a deadline later costs no event operation.
 */
#include "http/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static void conn_free(struct http_conn *c);
static void conn_release(struct http_conn *c);

static struct evbuffer *input(struct http_conn *c)
{
    return c->in;
}

static struct evbuffer *output(struct http_conn *c)
{
    return c->out;
}

static int timer_ms(const struct http_conn *c, enum http_timer kind)
{
    const struct http_server_config *cfg = &c->loop->srv->cfg;
    switch (kind) {
    case T_HEADER:
        return cfg->header_timeout_ms;
    case T_BODY:
        return cfg->body_timeout_ms;
    case T_IDLE:
        return cfg->idle_timeout_ms;
    case T_LINGER:
        return HTTP_LINGER_MS;
    case T_NONE:
        break;
    }
    return 0;
}

/* Timers are lazy: moving a deadline later (every keep-alive request pushes the idle one)
 * only stores it; the event, armed for an earlier time, fires, sees that the deadline moved
 * and re-arms for the rest. A deadline earlier than the armed one re-arms at once. */
void http_conn_timer(struct http_conn *c, enum http_timer kind)
{
    c->timer_kind = kind;
    if (kind == T_NONE) {
        return; /* an armed event fires and finds nothing to do: no evtimer_del per request */
    }
    c->deadline_ms = http_now_ms() + timer_ms(c, kind);
    if (c->timer_armed && c->timer_fires_ms <= c->deadline_ms) {
        return;
    }
    const struct timeval *tv = NULL;
    switch (kind) {
    case T_HEADER:
        tv = c->loop->tv_header;
        break;
    case T_BODY:
        tv = c->loop->tv_body;
        break;
    case T_IDLE:
        tv = c->loop->tv_idle;
        break;
    default:
        tv = c->loop->tv_linger;
        break;
    }
    evtimer_add(c->timer, tv);
    c->timer_fires_ms = c->deadline_ms;
    c->timer_armed = true;
}

/* Plain sockets are read by the connection's own event (no FIONREAD ioctl per read as in
 * bufferevent_socket); TLS ones by bufferevent_openssl, whose reading stays on. */
static void reading_set(struct http_conn *c, bool on)
{
    if (c->rev == NULL || c->reading == on) {
        return;
    }
    if (on) {
        event_add(c->rev, NULL);
    } else {
        event_del(c->rev);
    }
    c->reading = on;
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
    reading_set(c, true);
    http_conn_timer(c, T_LINGER);
}

/* Plain sockets: writes as much of the output as the socket takes (one writev per
 * round). Returns -1 on a write error. */
static int write_plain(struct http_conn *c)
{
    struct evbuffer *out = output(c);
    while (evbuffer_get_length(out) > 0) {
        int n = evbuffer_write(out, c->fd);
        if (n == 0) {
            return 0;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
    }
    return 0;
}

static void writing_set(struct http_conn *c, bool on)
{
    if (c->tls || c->write_enabled == on) {
        return; /* TLS: the bufferevent writes whenever there is output */
    }
    if (on) {
        event_add(c->wev, NULL);
    } else {
        event_del(c->wev);
    }
    c->write_enabled = on;
}

void http_conn_flush(struct http_conn *c)
{
    if (!c->open) {
        return;
    }
    if (!c->reading && !c->peer_eof && evbuffer_get_length(input(c)) < HTTP_INPUT_HIGH_WATER) {
        reading_set(c, true); /* input was drained below the high-water mark */
    }
    struct evbuffer *out = output(c);
    /* Write at once, from the callback that produced the answer: no epoll round trip. Also
     * when wev is armed: edge-triggered, it fires only when the socket buffer drains, and
     * this output may have been added after that. */
    if (!c->tls && evbuffer_get_length(out) > 0 && write_plain(c) != 0) {
        http_conn_close(c);
        return;
    }
    if (evbuffer_get_length(out) > 0) {
        writing_set(c, true); /* the socket buffer is full: wait until it drains */
        if (c->closing && c->timer_kind != T_IDLE) {
            http_conn_timer(c, T_IDLE); /* bounds a client that does not read its answer */
        }
        return;
    }
    writing_set(c, false);
    if (c->loop->draining && c->state == CS_HEAD && evbuffer_get_length(input(c)) == 0) {
        c->closing = true; /* idle during a graceful shutdown */
    }
    if (c->closing && c->state != CS_WAIT && c->state != CS_STREAM && c->state != CS_LINGER) {
        conn_linger(c);
    }
}

void http_conn_want_input(struct http_conn *c)
{
    if (c->open && !c->reading && !c->peer_eof &&
        evbuffer_get_length(input(c)) < HTTP_INPUT_HIGH_WATER) {
        reading_set(c, true);
    }
}

/* Processes buffered requests until one needs more bytes, a handler keeps one, or the
 * client has too many answers to read; then writes. May free the connection. */
void http_conn_progress(struct http_conn *c)
{
    while (c->open && !c->closing) {
        if (evbuffer_get_length(output(c)) > HTTP_OUTPUT_HIGH_WATER) {
            break; /* resumed by the write callback */
        }
        enum http_step s;
        if (c->state == CS_HEAD) {
            s = http_msg_head(c);
        } else if (c->state == CS_BODY) {
            s = http_msg_body(c);
        } else if (c->state == CS_DISCARD) {
            s = http_msg_discard(c);
        } else {
            break;
        }
        if (s == STEP_MORE) {
            break;
        }
    }
    http_conn_flush(c);
}

void http_conn_answered(struct http_conn *c)
{
    if (c->busy > 0) {
        return;
    }
    http_msg_done(c);
    if (!c->open) {
        conn_free(c);
        return;
    }
    http_conn_progress(c);
}

/* ---- libevent callbacks ----------------------------------------------------------------- */

static void conn_on_data(struct http_conn *c)
{
    if (c->state == CS_WAIT) {
        return; /* pipelined bytes wait until the current request is answered */
    }
    if (c->state == CS_STREAM) {
        http_stream_on_readable(c);
        return;
    }
    http_conn_progress(c);
}

/* The client shut its write side: answer what is complete, then close. */
static void conn_on_eof(struct http_conn *c)
{
    c->peer_eof = true;
    reading_set(c, false);
    if (c->state == CS_LINGER) {
        http_conn_close(c);
    } else if (c->state == CS_STREAM) {
        http_stream_on_readable(c); /* the owner decides: end of a body, or of a tunnel */
    } else if (c->state != CS_WAIT) {
        http_conn_progress(c);
    }
}

/* Edge-triggered (EV_ET, like nginx): read until the socket is drained (a short read or
 * EAGAIN), the input reaches its high-water mark, or the peer is done; then process. A FIN
 * that came with the data raises no second edge: EV_CLOSED (EPOLLRDHUP) reports it. */
static void conn_read_plain(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    struct evbuffer *in = input(c);
    char *b = c->loop->rbuf;
    bool data = false;
    for (;;) {
        ssize_t n = recv(fd, b, HTTP_READ_CHUNK, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                http_conn_close(c);
                return;
            }
            break;
        }
        if (n == 0) {
            if (data && c->state != CS_LINGER) {
                /* Data and FIN in one go: process the data knowing that nothing follows. */
                c->peer_eof = true;
                reading_set(c, false);
                break;
            }
            conn_on_eof(c);
            return;
        }
        if (c->state == CS_LINGER) {
            c->linger_bytes += (size_t)n;
            if (c->linger_bytes > HTTP_LINGER_MAX_BYTES) {
                http_conn_close(c);
                return;
            }
            continue;
        }
        evbuffer_add(in, b, (size_t)n);
        data = true;
        if (evbuffer_get_length(in) >= HTTP_INPUT_HIGH_WATER) {
            reading_set(c, false); /* resumed by conn_flush once drained */
            break;
        }
        if ((size_t)n < HTTP_READ_CHUNK && !(what & EV_CLOSED)) {
            break; /* drained; with EV_CLOSED (EPOLLRDHUP) a FIN waits behind the data */
        }
    }
    if (data) {
        conn_on_data(c);
    }
}

static void conn_write_plain(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    if (write_plain(c) != 0) {
        http_conn_close(c);
        return;
    }
    if (c->state == CS_STREAM) {
        if (evbuffer_get_length(output(c)) == 0) {
            writing_set(c, false);
        }
        http_stream_on_writable(c);
        return;
    }
    if (evbuffer_get_length(output(c)) == 0) {
        writing_set(c, false);
        http_conn_progress(c); /* resumes pipelined requests */
    }
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
    conn_on_data(arg);
}

static void conn_writecb(struct bufferevent *bev, void *arg)
{
    struct http_conn *c = arg;
    if (c->state == CS_STREAM) {
        http_stream_on_writable(c);
        return;
    }
    http_conn_progress(c);
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
        conn_on_eof(c);
    }
}

static void conn_timercb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    c->timer_armed = false;
    enum http_timer kind = c->timer_kind;
    if (kind == T_NONE) {
        return;
    }
    int64_t left = c->deadline_ms - http_now_ms();
    if (left > 0) {
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        evtimer_add(c->timer, &tv);
        c->timer_fires_ms = c->deadline_ms;
        c->timer_armed = true;
        return;
    }
    c->timer_kind = T_NONE;
    switch (kind) {
    case T_HEADER:
        /* RFC 9110 section 15.5.9: 408 when a request was started, silence otherwise. */
        if (c->state == CS_HEAD && !c->closing && evbuffer_get_length(input(c)) > 0) {
            log_debug("http: %s: header timeout", c->remote_ip);
            http_msg_fail(c, 408);
            http_conn_progress(c);
            return;
        }
        break;
    case T_BODY:
        if (c->state == CS_BODY && !c->closing) {
            log_debug("http: %s: body timeout", c->remote_ip);
            http_msg_fail(c, 408);
            http_conn_progress(c);
            return;
        }
        break;
    case T_IDLE:
        /* An answer still being sent: a client reading slowly is not idle, one that stopped
         * reading is, after another idle period without progress. */
        if (c->open && evbuffer_get_length(output(c)) > 0 &&
            evbuffer_get_length(output(c)) < c->out_mark) {
            c->out_mark = evbuffer_get_length(output(c));
            http_conn_timer(c, T_IDLE);
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
    c->out_mark = SIZE_MAX;
    if (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            /* A dual-stack listener: IPv4 clients are shown, and matched, as IPv4. */
            inet_ntop(AF_INET, &a6->s6_addr[12], c->remote_ip, sizeof c->remote_ip);
        } else {
            inet_ntop(AF_INET6, a6, c->remote_ip, sizeof c->remote_ip);
        }
    } else if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in)) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->remote_ip,
                  sizeof c->remote_ip);
    }
    c->timer = evtimer_new(loop->base, conn_timercb, c);
    if (c->tls) {
        c->bev = http_tls_bev_new(loop->base, fd, ls->tls);
    } else {
        c->rev =
            event_new(loop->base, fd, EV_READ | EV_CLOSED | EV_PERSIST | EV_ET, conn_read_plain, c);
        c->wev = event_new(loop->base, fd, EV_WRITE | EV_PERSIST | EV_ET, conn_write_plain, c);
        c->in = evbuffer_new();
        c->out = evbuffer_new();
    }
    if (c->timer == NULL || (c->tls && c->bev == NULL) ||
        (!c->tls && (!c->rev || !c->wev || !c->in || !c->out))) {
        log_error("http: cannot set up a connection");
        conn_release(c);
        free(c);
        atomic_fetch_sub(&s->nconns, 1);
        return;
    }
    c->open = true;
    http_req_init(&c->req, c);
    buf_init(&c->hold, HTTP_HEAD_MAX);
    buf_init(&c->body, HTTP_DEFAULT_BODY_LIMIT);
    c->next = loop->conns;
    if (loop->conns != NULL) {
        loop->conns->prev = c;
    }
    loop->conns = c;
    loop->nconns++;

    if (c->tls) {
        c->in = bufferevent_get_input(c->bev);
        c->out = bufferevent_get_output(c->bev);
        bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
        bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_INPUT_HIGH_WATER);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        c->write_enabled = true;
        c->reading = true; /* by the bufferevent: reading_set leaves it alone (no rev) */
    } else {
        reading_set(c, true);
    }
    c->state = CS_HEAD;
    http_conn_timer(c, T_HEADER); /* the first head is due header_timeout after the accept */
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
    if (c->sev != NULL) {
        event_free(c->sev);
    }
    http_req_free(&c->req);
    http_loop_buf_give(loop, &c->hold);
    http_loop_buf_give(loop, &c->body);
    free(c);
    if (loop->draining && loop->nconns == 0) {
        http_loop_finish(loop);
    }
}

/* Frees the I/O side: events, buffers or bufferevent, and the socket. */
static void conn_release(struct http_conn *c)
{
    if (c->rev != NULL) {
        event_free(c->rev);
    }
    if (c->wev != NULL) {
        event_free(c->wev);
    }
    c->rev = c->wev = NULL;
    c->reading = c->write_enabled = false;
    if (c->bev != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL && SSL_is_init_finished(ssl)) {
            SSL_shutdown(ssl); /* close_notify, best effort (non-blocking socket) */
            ERR_clear_error();
        }
        bufferevent_free(c->bev); /* closes the socket (deferred, in the loop) */
        c->bev = NULL;
    } else {
        if (c->in != NULL) {
            evbuffer_free(c->in);
        }
        if (c->out != NULL) {
            evbuffer_free(c->out);
        }
        evutil_closesocket(c->fd);
    }
    c->in = c->out = NULL;
    if (c->timer != NULL) {
        evtimer_del(c->timer);
    }
    c->timer_armed = false;
    c->timer_kind = T_NONE;
}

void http_conn_close(struct http_conn *c)
{
    if (c->open) {
        conn_release(c);
        c->open = false;
        atomic_fetch_sub(&c->loop->srv->nconns, 1);
    }
    if (c->state == CS_WAIT) {
        return; /* a handler holds the request: freed once it is answered */
    }
    if (c->state == CS_STREAM) {
        /* The owner may be inside one of its own calls: tell it from the loop. */
        if (c->sev != NULL) {
            event_active(c->sev, EV_READ, 0);
        }
        return;
    }
    conn_free(c);
}

void http_conn_drain_all(struct http_loop *loop)
{
    struct http_conn *next;
    for (struct http_conn *c = loop->conns; c != NULL; c = next) {
        next = c->next;
        if (c->open && c->state == CS_HEAD && c->busy == 0 && evbuffer_get_length(input(c)) == 0 &&
            evbuffer_get_length(output(c)) == 0) {
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
        if (c->state == CS_STREAM) {
            http_stream_abort_now(c); /* the owner frees what it holds, then the request */
            continue;
        }
        c->state = CS_HEAD; /* whatever holds a kept request is gone too */
        http_conn_close(c);
    }
}
