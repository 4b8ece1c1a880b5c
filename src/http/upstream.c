/*
 * upstream.c: origins and the connections to them.
 *
 * An origin is parsed and resolved once (http_origin_new, before the server runs: the
 * request path never blocks on DNS). Its connections are bufferevents on the loop of the
 * request that uses them; each loop has its own pool of idle keep-alive connections
 * (origin->pools[loop->index], touched by that loop's thread only: no lock), LIFO so that
 * the warmest connection is reused first. An idle connection that receives anything (the
 * origin closing it, or bytes nobody asked for) is freed at once; one idle for longer than
 * idle_timeout_ms too.
 *
 * Every origin connection is also on its loop's list (loop->upconns), so that
 * http_server_free can free the pooled ones before the loop's event base goes.
 *
 * https origins: TLS 1.2 or later, the peer certificate verified against the system's
 * trust store (or ca_file), the host name (or IP address) checked, SNI sent for names.
 */
#include "http/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Bytes read from an origin per recv (straight into the input buffer). */
#define UP_READ_CHUNK (64 * 1024)

struct http_upool {
    struct http_upconn *idle; /* LIFO through inext */
    size_t nidle;
};

struct http_origin {
    bool tls;
    char *host;      /* name or address, without brackets */
    char *authority; /* host[:port] as in the URL */
    char *base_path; /* "" or "/base" (no trailing slash) */
    struct sockaddr_storage addrs[HTTP_ORIGIN_MAX_ADDRS];
    socklen_t addrlens[HTTP_ORIGIN_MAX_ADDRS];
    size_t naddrs;
    struct http_origin_opts opts; /* defaults applied; ca_file not kept */
    SSL_CTX *ssl;
    bool host_is_ip;
    struct http_upool *pools[HTTP_MAX_THREADS];
};

enum up_state { U_CONNECTING, U_BUSY, U_IDLE, U_CLOSING };

/* Plain origins do their own I/O like conn.c (two edge-triggered events registered once,
 * reads straight into the input buffer, writes from the call that produced the bytes): no
 * FIONREAD ioctl per read and no epoll round trip per write, as bufferevent_socket would
 * cost. https origins use bufferevent_openssl. */
struct http_upconn {
    struct http_origin *origin;
    struct http_loop *loop;
    struct http_upconn *prev, *next; /* loop->upconns */
    struct http_upconn *inext;       /* the pool's idle list */
    enum up_state state;
    struct bufferevent *bev;   /* https */
    evutil_socket_t fd;        /* plain: the socket, -1 when closed */
    struct event *rev, *wev;   /* plain */
    struct evbuffer *in, *out; /* plain: ours; https: the bufferevent's */
    bool reading;              /* plain: rev is added */
    bool want_read;            /* the user has not paused reading */
    struct event *idle_timer;  /* pooled: idle_timeout_ms; closing: HTTP_UPSTREAM_FLUSH_MS */
    /* Lazy like conn.c's timers: taking a pooled connection leaves the timer armed (it then
     * fires and finds the connection busy), putting it back only moves the deadline. */
    bool timer_armed;
    int64_t timer_fires_ms;
    int64_t idle_deadline_ms;
    int nest;      /* > 0 while a user callback runs */
    bool dead;     /* freed inside a callback: the struct goes when it returns */
    size_t addr;   /* index of the address being tried or used */
    int sys_errno; /* of the last failure */
    unsigned long ssl_error;
    long verify_result;
    const struct http_upconn_cbs *cbs;
    void *arg;
};

/* ---- the origin ------------------------------------------------------------------------- */

static int parse_port(struct slice s, int dflt, int *port)
{
    uint64_t v = 0;
    if (s.p == NULL) {
        *port = dflt;
        return 0;
    }
    if (util_parse_u64(s, 65535, &v) != 0 || v == 0) {
        return -1;
    }
    *port = (int)v;
    return 0;
}

/* "scheme://host[:port][/base]": no user info, query or fragment; the base path is taken
 * as is (it is the origin operator's, not the client's). */
static int parse_url(struct http_origin *o, const char *url, int *port, struct err *e)
{
    struct slice rest;
    if (strncmp(url, "http://", 7) == 0) {
        rest = slice_z(url + 7);
    } else if (strncmp(url, "https://", 8) == 0) {
        o->tls = true;
        rest = slice_z(url + 8);
    } else {
        return err_set(e, 0, "origin \"%s\": the URL must start with http:// or https://", url);
    }
    if (strlen(url) > HTTP_ORIGIN_URL_MAX || strpbrk(url, "@?# \t\r\n\\") != NULL) {
        return err_set(e, 0,
                       "origin \"%s\": user info, query, fragment, spaces or "
                       "backslashes are not allowed",
                       url);
    }
    const char *slash = memchr(rest.p, '/', rest.n);
    struct slice auth = {rest.p, slash ? (size_t)(slash - rest.p) : rest.n};
    struct slice host = auth, portz = {NULL, 0};
    if (auth.n > 0 && auth.p[0] == '[') {
        const char *end = memchr(auth.p, ']', auth.n);
        if (end == NULL) {
            return err_set(e, 0, "origin \"%s\": unterminated IPv6 address", url);
        }
        host = (struct slice){auth.p + 1, (size_t)(end - auth.p - 1)};
        size_t after = (size_t)(end - auth.p) + 1;
        if (after < auth.n) {
            if (auth.p[after] != ':') {
                return err_set(e, 0, "origin \"%s\": invalid authority", url);
            }
            portz = (struct slice){auth.p + after + 1, auth.n - after - 1};
        }
    } else {
        const char *colon = memchr(auth.p, ':', auth.n);
        if (colon != NULL) {
            host = (struct slice){auth.p, (size_t)(colon - auth.p)};
            portz = (struct slice){colon + 1, auth.n - host.n - 1};
        }
    }
    if (host.n == 0 || parse_port(portz, o->tls ? 443 : 80, port) != 0) {
        return err_set(e, 0, "origin \"%s\": invalid host or port", url);
    }
    o->host = slice_dup(host);
    o->authority = slice_dup(auth);
    struct slice base = {slash ? slash : "", slash ? rest.n - auth.n : 0};
    while (base.n > 0 && base.p[base.n - 1] == '/') {
        base.n--; /* the request path brings its own leading slash */
    }
    o->base_path = slice_dup(base);
    return 0;
}

static int resolve(struct http_origin *o, int port, struct err *e)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portz[8];
    snprintf(portz, sizeof portz, "%d", port);
    int rc = getaddrinfo(o->host, portz, &hints, &res);
    if (rc != 0 || res == NULL) {
        return err_set(e, 0, "origin %s: cannot resolve: %s", o->host, gai_strerror(rc));
    }
    for (struct addrinfo *a = res; a != NULL && o->naddrs < HTTP_ORIGIN_MAX_ADDRS; a = a->ai_next) {
        if (a->ai_addrlen <= sizeof o->addrs[0]) {
            memcpy(&o->addrs[o->naddrs], a->ai_addr, a->ai_addrlen);
            o->addrlens[o->naddrs++] = a->ai_addrlen;
        }
    }
    freeaddrinfo(res);
    unsigned char tmp[sizeof(struct in6_addr)];
    o->host_is_ip = inet_pton(AF_INET, o->host, tmp) == 1 || inet_pton(AF_INET6, o->host, tmp) == 1;
    return o->naddrs > 0 ? 0 : err_set(e, 0, "origin %s: no usable address", o->host);
}

static int tls_setup(struct http_origin *o, const char *ca_file, struct err *e)
{
    o->ssl = SSL_CTX_new(TLS_client_method());
    if (o->ssl == NULL) {
        ERR_clear_error();
        return err_set(e, 0, "origin %s: cannot create a TLS context", o->host);
    }
    SSL_CTX_set_min_proto_version(o->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(o->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(o->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(o->ssl, SSL_VERIFY_PEER, NULL);
    int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(o->ssl, ca_file, NULL)
                             : SSL_CTX_set_default_verify_paths(o->ssl);
    if (ok != 1) {
        ERR_clear_error();
        return err_set(e, 0, "origin %s: cannot load the trusted certificates%s%s", o->host,
                       ca_file ? " from " : "", ca_file ? ca_file : "");
    }
    return 0;
}

static int opt_or(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

struct http_origin *http_origin_new(const char *url_z, const struct http_origin_opts *opts,
                                    struct err *e)
{
    struct http_origin *o = xcalloc(1, sizeof(*o));
    struct http_origin_opts none = {0};
    const struct http_origin_opts *in = opts != NULL ? opts : &none;
    int port = 0;
    if (parse_url(o, url_z, &port, e) != 0 || resolve(o, port, e) != 0 ||
        (o->tls && tls_setup(o, in->ca_file, e) != 0)) {
        http_origin_free(o);
        return NULL;
    }
    o->opts.connect_timeout_ms = opt_or(in->connect_timeout_ms, HTTP_ORIGIN_CONNECT_TIMEOUT_MS);
    o->opts.response_timeout_ms = opt_or(in->response_timeout_ms, HTTP_ORIGIN_RESPONSE_TIMEOUT_MS);
    o->opts.idle_timeout_ms = opt_or(in->idle_timeout_ms, HTTP_ORIGIN_IDLE_TIMEOUT_MS);
    o->opts.max_idle = opt_or(in->max_idle, HTTP_ORIGIN_MAX_IDLE);
    o->opts.tunnel_idle_timeout_ms =
        opt_or(in->tunnel_idle_timeout_ms, HTTP_TUNNEL_IDLE_TIMEOUT_MS);
    return o;
}

void http_origin_free(struct http_origin *o)
{
    if (o == NULL) {
        return;
    }
    for (size_t i = 0; i < HTTP_MAX_THREADS; i++) {
        free(o->pools[i]); /* their connections went with http_server_free */
    }
    if (o->ssl != NULL) {
        SSL_CTX_free(o->ssl);
    }
    free(o->host);
    free(o->authority);
    free(o->base_path);
    free(o);
}

const struct http_origin_opts *http_origin_settings(const struct http_origin *o)
{
    return &o->opts;
}

const char *http_origin_base_path(const struct http_origin *o)
{
    return o->base_path;
}

const char *http_origin_authority(const struct http_origin *o)
{
    return o->authority;
}

/* ---- life and death ---------------------------------------------------------------------- */

static void up_unlink_idle(struct http_upconn *u)
{
    struct http_upool *p = u->origin->pools[u->loop->index];
    for (struct http_upconn **pp = &p->idle; *pp != NULL; pp = &(*pp)->inext) {
        if (*pp == u) {
            *pp = u->inext;
            p->nidle--;
            break;
        }
    }
    u->inext = NULL;
}

/* Closes the transport of the current connection attempt (the struct stays). */
static void up_close_transport(struct http_upconn *u)
{
    if (u->bev != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(u->bev);
        if (ssl != NULL && SSL_is_init_finished(ssl)) {
            SSL_shutdown(ssl); /* close_notify, best effort */
        }
        ERR_clear_error();
        bufferevent_free(u->bev); /* closes the socket and frees the SSL */
        u->bev = NULL;
        u->in = u->out = NULL;
    }
    if (u->rev != NULL) {
        event_free(u->rev);
        event_free(u->wev);
        u->rev = u->wev = NULL;
    }
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    u->reading = false;
}

/* Frees everything now; the struct itself waits for a user callback that is running. */
static void up_free(struct http_upconn *u)
{
    if (u->state == U_IDLE) {
        up_unlink_idle(u);
    }
    if (u->prev != NULL) {
        u->prev->next = u->next;
    } else {
        u->loop->upconns = u->next;
    }
    if (u->next != NULL) {
        u->next->prev = u->prev;
    }
    up_close_transport(u);
    if (!u->origin->tls && u->in != NULL) {
        evbuffer_free(u->in);
    }
    if (!u->origin->tls && u->out != NULL) {
        evbuffer_free(u->out);
    }
    u->in = u->out = NULL;
    if (u->idle_timer != NULL) {
        event_free(u->idle_timer);
        u->idle_timer = NULL;
    }
    u->dead = true;
    u->state = U_CLOSING;
    if (u->nest == 0) {
        free(u);
    }
}

/* Runs a user callback; returns false when the connection was freed meanwhile. */
static bool up_call_read(struct http_upconn *u)
{
    u->nest++;
    u->cbs->read(u->arg);
    if (--u->nest == 0 && u->dead) {
        free(u);
        return false;
    }
    return !u->dead;
}

static bool up_call_write(struct http_upconn *u)
{
    u->nest++;
    u->cbs->write(u->arg);
    if (--u->nest == 0 && u->dead) {
        free(u);
        return false;
    }
    return !u->dead;
}

static void up_call_event(struct http_upconn *u, short what)
{
    u->nest++;
    u->cbs->event(u->arg, what);
    if (--u->nest == 0 && u->dead) {
        free(u);
    }
}

static void up_timer_add(struct http_upconn *u, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(u->idle_timer, &tv);
    u->timer_armed = true;
    u->timer_fires_ms = http_now_ms() + ms;
}

static void up_idle_timer(evutil_socket_t fd, short what, void *arg)
{
    struct http_upconn *u = arg;
    u->timer_armed = false;
    if (u->state == U_IDLE) {
        int64_t left = u->idle_deadline_ms - http_now_ms();
        if (left > 0) {
            up_timer_add(u, left); /* pooled again since the timer was armed */
            return;
        }
    } else if (u->state != U_CLOSING) {
        return; /* in use: armed when it was last pooled */
    }
    up_free(u); /* idle in the pool, or closing, for too long */
}

/* What the transport saw: data, the end, or an error. */
static void up_dispatch(struct http_upconn *u, bool data, bool eof, bool err)
{
    switch (u->state) {
    case U_IDLE:
        if (data || eof || err) {
            up_free(u); /* bytes nobody asked for, or the origin closed it */
        }
        return;
    case U_CLOSING:
        evbuffer_drain(u->in, evbuffer_get_length(u->in));
        if (eof || err) {
            up_free(u);
        }
        return;
    case U_BUSY:
        if (data && !up_call_read(u)) {
            return;
        }
        if (eof || err) {
            up_call_event(u, err ? BEV_EVENT_ERROR : BEV_EVENT_EOF);
        }
        return;
    case U_CONNECTING:
        return;
    }
}

static int up_connect(struct http_upconn *u);

/* A connection attempt failed: the next address, if any, else the user is told. */
static void up_connect_failed(struct http_upconn *u)
{
    if (!u->origin->tls || u->ssl_error == 0) {
        while (u->addr + 1 < u->origin->naddrs) {
            u->addr++;
            if (up_connect(u) == 0) {
                return;
            }
        }
    }
    up_call_event(u, BEV_EVENT_ERROR);
}

static void up_connected(struct http_upconn *u)
{
    u->state = U_BUSY;
    up_call_event(u, BEV_EVENT_CONNECTED);
}

/* ---- plain I/O ------------------------------------------------------------------------------ */

static void plain_set_reading(struct http_upconn *u, bool on)
{
    if (u->rev == NULL || u->reading == on) {
        return;
    }
    if (on) {
        event_add(u->rev, NULL); /* edge-triggered: adding reports data already waiting */
    } else {
        event_del(u->rev);
    }
    u->reading = on;
}

/* Reading pauses at HTTP_STREAM_HIGH_WATER and resumes when the user drains the input. */
static void plain_input_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
    struct http_upconn *u = arg;
    if (info->n_deleted > 0 && !u->reading && u->want_read && u->state != U_CONNECTING &&
        evbuffer_get_length(b) < HTTP_STREAM_HIGH_WATER) {
        plain_set_reading(u, true);
    }
}

/* Writes as much as the socket takes; -1 on an error. */
static int plain_write_now(struct http_upconn *u)
{
    while (u->fd >= 0 && evbuffer_get_length(u->out) > 0) {
        int n = evbuffer_write(u->out, u->fd);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0; /* the write event says when there is room */
            }
            u->sys_errno = errno;
            return -1;
        }
        if (n == 0) {
            return 0;
        }
    }
    return 0;
}

/* Edge-triggered: read until the socket is drained (a short read, unless EV_CLOSED says a
 * FIN waits behind the data), the input reaches its high-water mark, or the end. */
static void plain_read(evutil_socket_t fd, short what, void *arg)
{
    struct http_upconn *u = arg;
    bool data = false, eof = false, err = false;
    for (;;) {
        if (evbuffer_get_length(u->in) >= HTTP_STREAM_HIGH_WATER) {
            plain_set_reading(u, false); /* plain_input_cb resumes */
            break;
        }
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(u->in, UP_READ_CHUNK, &v, 1) < 1) {
            err = true;
            break;
        }
        size_t want = UTIL_MIN(v.iov_len, (size_t)UP_READ_CHUNK);
        ssize_t n = recv(fd, v.iov_base, want, 0);
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(u->in, &v, 1);
            data = true;
            if ((size_t)n < want && !(what & EV_CLOSED)) {
                break;
            }
            continue;
        }
        if (n == 0) {
            eof = true;
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            u->sys_errno = errno;
            err = true;
        }
        break;
    }
    if (eof || err) {
        plain_set_reading(u, false); /* nothing more will come */
    }
    up_dispatch(u, data, eof, err);
}

static void plain_write(evutil_socket_t fd, short what, void *arg)
{
    struct http_upconn *u = arg;
    if (u->state == U_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            u->sys_errno = soerr;
            up_connect_failed(u);
            return;
        }
        plain_set_reading(u, u->want_read);
        up_connected(u);
        return;
    }
    /* With both events on one epoll entry, a read edge reports the write side too: only
     * output that was waiting for room makes news. */
    size_t before = evbuffer_get_length(u->out);
    if (before == 0) {
        return;
    }
    if (plain_write_now(u) != 0) {
        up_dispatch(u, false, false, true);
        return;
    }
    size_t left = evbuffer_get_length(u->out);
    if (u->state == U_CLOSING && left == 0) {
        up_free(u);
    } else if (u->state == U_BUSY && left <= HTTP_STREAM_LOW_WATER) {
        up_call_write(u);
    }
}

static int plain_connect(struct http_upconn *u, const struct sockaddr *sa, socklen_t salen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        u->sys_errno = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, sa, salen) != 0 && errno != EINPROGRESS) {
        u->sys_errno = errno;
        close(fd);
        return -1;
    }
    /* Both events stay registered for the life of the socket (one epoll_ctl each): with
     * edge triggering, the write event fires only when a full socket buffer drains. */
    u->fd = fd;
    u->rev = event_new(u->loop->base, fd, EV_READ | EV_CLOSED | EV_PERSIST | EV_ET, plain_read, u);
    u->wev = event_new(u->loop->base, fd, EV_WRITE | EV_PERSIST | EV_ET, plain_write, u);
    if (u->rev == NULL || u->wev == NULL || event_add(u->wev, NULL) != 0) {
        u->sys_errno = ENOMEM;
        if (u->rev != NULL) {
            event_free(u->rev);
        }
        if (u->wev != NULL) {
            event_free(u->wev);
        }
        u->rev = u->wev = NULL;
        close(fd);
        u->fd = -1;
        return -1;
    }
    return 0; /* connected or not, the write event reports it */
}

/* ---- https I/O --------------------------------------------------------------------------- */

static void tls_readcb(struct bufferevent *bev, void *arg)
{
    up_dispatch(arg, true, false, false);
}

static void tls_writecb(struct bufferevent *bev, void *arg)
{
    struct http_upconn *u = arg;
    if (u->state == U_BUSY) {
        up_call_write(u);
    } else if (u->state == U_CLOSING && evbuffer_get_length(u->out) == 0) {
        up_free(u);
    }
}

static void up_note_tls_error(struct http_upconn *u)
{
    u->sys_errno = EVUTIL_SOCKET_ERROR();
    unsigned long code;
    while ((code = bufferevent_get_openssl_error(u->bev)) != 0) {
        u->ssl_error = code;
    }
    SSL *ssl = bufferevent_openssl_get_ssl(u->bev);
    if (ssl != NULL) {
        u->verify_result = SSL_get_verify_result(ssl);
    }
    ERR_clear_error();
}

static void tls_eventcb(struct bufferevent *bev, short what, void *arg)
{
    struct http_upconn *u = arg;
    if (u->state == U_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            bufferevent_enable(bev, EV_READ | EV_WRITE);
            up_connected(u);
            return;
        }
        up_note_tls_error(u);
        up_connect_failed(u);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        up_note_tls_error(u);
    }
    up_dispatch(u, false, (what & BEV_EVENT_EOF) != 0, (what & BEV_EVENT_EOF) == 0);
}

static int tls_connect(struct http_upconn *u, const struct sockaddr *sa, socklen_t salen)
{
    struct http_origin *o = u->origin;
    SSL *ssl = SSL_new(o->ssl);
    if (ssl == NULL) {
        ERR_clear_error();
        return -1;
    }
    /* RFC 6066 section 3: SNI carries host names only, never addresses. */
    if ((!o->host_is_ip && SSL_set_tlsext_host_name(ssl, o->host) != 1) ||
        (!o->host_is_ip && SSL_set1_host(ssl, o->host) != 1) ||
        (o->host_is_ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o->host) != 1)) {
        SSL_free(ssl);
        ERR_clear_error();
        return -1;
    }
    /* Deferred callbacks: bufferevent_openssl may otherwise call back from inside an
     * enable or a write of ours. */
    u->bev = bufferevent_openssl_socket_new(u->loop->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (u->bev == NULL) {
        SSL_free(ssl);
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(u->bev, 1);
    bufferevent_setcb(u->bev, tls_readcb, tls_writecb, tls_eventcb, u);
    bufferevent_setwatermark(u->bev, EV_READ, 0, HTTP_STREAM_HIGH_WATER);
    bufferevent_setwatermark(u->bev, EV_WRITE, HTTP_STREAM_LOW_WATER, 0);
    u->in = bufferevent_get_input(u->bev);
    u->out = bufferevent_get_output(u->bev);
    if (bufferevent_socket_connect(u->bev, sa, (int)salen) != 0) {
        u->sys_errno = errno;
        bufferevent_free(u->bev);
        u->bev = NULL;
        u->in = u->out = NULL;
        return -1;
    }
    return 0;
}

/* A new connection attempt to address u->addr; 0, or -1 when it cannot even start. */
static int up_connect(struct http_upconn *u)
{
    struct http_origin *o = u->origin;
    up_close_transport(u);
    u->state = U_CONNECTING;
    const struct sockaddr *sa = (const struct sockaddr *)&o->addrs[u->addr];
    return o->tls ? tls_connect(u, sa, o->addrlens[u->addr])
                  : plain_connect(u, sa, o->addrlens[u->addr]);
}

/* ---- the pool and the users ------------------------------------------------------------------ */

struct http_upconn *http_upstream_get(struct http_origin *o, struct http_loop *loop, bool fresh,
                                      const struct http_upconn_cbs *cbs, void *arg, bool *reused,
                                      struct err *e)
{
    if (o->pools[loop->index] == NULL) {
        o->pools[loop->index] = xcalloc(1, sizeof(struct http_upool));
    }
    struct http_upool *p = o->pools[loop->index];
    *reused = false;
    if (!fresh && p->idle != NULL) {
        struct http_upconn *u = p->idle;
        up_unlink_idle(u);
        u->state = U_BUSY; /* its idle timer, if it fires, finds it busy */
        u->cbs = cbs;
        u->arg = arg;
        *reused = true;
        return u;
    }
    struct http_upconn *u = xcalloc(1, sizeof(*u));
    u->origin = o;
    u->loop = loop;
    u->cbs = cbs;
    u->arg = arg;
    u->fd = -1;
    u->want_read = true;
    u->idle_timer = evtimer_new(loop->base, up_idle_timer, u);
    if (!o->tls) {
        u->in = evbuffer_new();
        u->out = evbuffer_new();
    }
    u->next = loop->upconns;
    if (loop->upconns != NULL) {
        loop->upconns->prev = u;
    }
    loop->upconns = u;
    if (u->idle_timer == NULL || (!o->tls && (u->in == NULL || u->out == NULL))) {
        err_set(e, 0, "cannot connect to %s: out of memory", o->authority);
        up_free(u);
        return NULL;
    }
    if (!o->tls) {
        evbuffer_add_cb(u->in, plain_input_cb, u);
    }
    for (u->addr = 0; u->addr < o->naddrs; u->addr++) {
        if (up_connect(u) == 0) {
            return u;
        }
    }
    err_set(e, 0, "cannot connect to %s: %s", o->authority, strerror(u->sys_errno));
    up_free(u);
    return NULL;
}

bool http_upconn_connected(const struct http_upconn *u)
{
    return u->state == U_BUSY;
}

void http_upconn_set_cbs(struct http_upconn *u, const struct http_upconn_cbs *cbs, void *arg)
{
    u->cbs = cbs;
    u->arg = arg;
}

struct evbuffer *http_upconn_input(struct http_upconn *u)
{
    return u->in;
}

struct evbuffer *http_upconn_output(struct http_upconn *u)
{
    return u->out;
}

void http_upconn_flush(struct http_upconn *u)
{
    if (u->bev != NULL || u->state != U_BUSY) {
        return; /* https: the bufferevent writes; connecting: the write event will */
    }
    if (plain_write_now(u) != 0) {
        /* Reported from the loop, never from inside the caller: the read side sees the
         * broken connection too. */
        evbuffer_drain(u->out, evbuffer_get_length(u->out));
        event_active(u->rev, EV_READ, 0);
    }
}

void http_upconn_reading(struct http_upconn *u, bool on)
{
    u->want_read = on;
    if (u->bev != NULL) {
        if (on) {
            bufferevent_enable(u->bev, EV_READ);
        } else {
            bufferevent_disable(u->bev, EV_READ);
        }
        return;
    }
    plain_set_reading(u, on && evbuffer_get_length(u->in) < HTTP_STREAM_HIGH_WATER);
}

const char *http_upconn_error(struct http_upconn *u, char *buf, size_t n)
{
    if (u->verify_result != X509_V_OK && u->verify_result != 0) {
        snprintf(buf, n, "certificate verification failed: %s",
                 X509_verify_cert_error_string(u->verify_result));
    } else if (u->ssl_error != 0) {
        char detail[160];
        ERR_error_string_n(u->ssl_error, detail, sizeof detail);
        snprintf(buf, n, "TLS: %s", detail);
    } else if (u->sys_errno != 0) {
        snprintf(buf, n, "%s", strerror(u->sys_errno));
    } else {
        snprintf(buf, n, "connection closed");
    }
    return buf;
}

void http_upstream_put(struct http_upconn *u, bool reusable)
{
    struct http_origin *o = u->origin;
    struct http_upool *p = o->pools[u->loop->index];
    if (!reusable || u->state != U_BUSY || u->loop->draining ||
        p->nidle >= (size_t)o->opts.max_idle || evbuffer_get_length(u->in) > 0 ||
        evbuffer_get_length(u->out) > 0) {
        up_free(u);
        return;
    }
    u->state = U_IDLE;
    u->cbs = NULL;
    u->arg = NULL;
    http_upconn_reading(u, true); /* to see the origin close it */
    u->idle_deadline_ms = http_now_ms() + o->opts.idle_timeout_ms;
    if (!u->timer_armed || u->timer_fires_ms > u->idle_deadline_ms) {
        up_timer_add(u, o->opts.idle_timeout_ms);
    }
    u->inext = p->idle;
    p->idle = u;
    p->nidle++;
}

void http_upstream_close_after_flush(struct http_upconn *u)
{
    if (u->state == U_BUSY && u->bev == NULL) {
        plain_write_now(u);
    }
    if (u->state != U_BUSY || evbuffer_get_length(u->out) == 0) {
        up_free(u);
        return;
    }
    u->state = U_CLOSING;
    u->cbs = NULL;
    u->arg = NULL;
    if (u->bev != NULL) {
        bufferevent_setwatermark(u->bev, EV_WRITE, 0, 0);
        bufferevent_enable(u->bev, EV_READ | EV_WRITE);
    } else {
        http_upconn_reading(u, true);
    }
    up_timer_add(u, HTTP_UPSTREAM_FLUSH_MS);
}

void http_upstream_free_loop(struct http_loop *loop)
{
    while (loop->upconns != NULL) {
        up_free(loop->upconns);
    }
}
