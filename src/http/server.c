/*
 * server.c: listeners, event-loop threads, signals and graceful shutdown.
 *
 * Each of the N loops has its own event_base, thread and listening socket per configured
 * address (SO_REUSEPORT: the kernel spreads connections over the loops, no accept mutex, no
 * hand-off between threads). Every socket is bound in http_server_new, so that an address in
 * use, a bad address or a bad certificate is an error there, before anything runs.
 *
 * The main thread runs a small control loop: SIGTERM/SIGINT and http_server_stop (a
 * self-pipe, async-signal-safe) start the graceful shutdown: each loop frees its listeners
 * (new connections are refused by the kernel), closes its idle connections, lets in-flight
 * requests finish with "Connection: close", and stops when it has no connection left or
 * after shutdown_timeout_ms. A second signal cuts the wait short.
 */
#include "http/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#define HTTP_ACCEPT_PAUSE_MS 100 /* after accept() fails (EMFILE): let connections close */
#define HTTP_ADDRESS_MAX     300

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void threads_init(void)
{
    /* Locks in every event_base, so that pool workers can event_active() a loop's event. */
    evthread_use_pthreads();
}

/* ---- addresses and sockets ------------------------------------------------------------- */

/* "127.0.0.1:8080", "[::1]:8443", "localhost:80", ":8080" (every address: IPv6 and IPv4 on
 * one dual-stack socket, or IPv4 alone on a host without IPv6). */
static int parse_address(const char *addr, struct http_lsock *ls, struct err *e)
{
    size_t n = strlen(addr);
    const char *colon = NULL;
    char host[HTTP_ADDRESS_MAX];
    if (n == 0 || n >= sizeof host) {
        return err_set(e, 0, "invalid listen address \"%s\"", addr);
    }
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':') {
            return err_set(e, 0, "invalid listen address \"%s\" (want [v6]:port)", addr);
        }
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return err_set(e, 0, "invalid listen address \"%s\" (want host:port)", addr);
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    uint64_t port = 0;
    if (util_parse_u64(slice_z(colon + 1), 65535, &port) != 0) {
        return err_set(e, 0, "invalid port in listen address \"%s\"", addr);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (host[0] == '\0') {
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ls->dual_stack = probe >= 0;
        memcpy(host, ls->dual_stack ? "::" : "0.0.0.0", ls->dual_stack ? 3 : 8);
        if (probe >= 0) {
            close(probe);
        }
    }
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        return err_set(e, 0, "cannot resolve listen address \"%s\": %s", addr, gai_strerror(rc));
    }
    memcpy(&ls->ss, res->ai_addr, res->ai_addrlen);
    ls->sslen = res->ai_addrlen;
    freeaddrinfo(res);
    ls->port = (int)port;
    return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    }
}

static int get_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* One listening socket on ls's address and port (SO_REUSEPORT, so each loop has its own). */
static int bind_one(struct http_lsock *ls, struct err *e)
{
    int one = 1, v6only = !ls->dual_stack;
    int fd = socket(ls->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return err_set(e, 0, "cannot listen on %s: socket: %s", ls->address, strerror(errno));
    }
    set_port(&ls->ss, ls->port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        (ls->ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) ||
        bind(fd, (struct sockaddr *)&ls->ss, ls->sslen) != 0 ||
        listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
        err_set(e, 0, "cannot listen on %s: %s", ls->address, strerror(errno));
        close(fd);
        return -1;
    }
    if (ls->port == 0) {
        ls->port = get_port(fd); /* ":0": the other loops bind the same port */
    }
    return fd;
}

/* ---- loops ------------------------------------------------------------------------------ */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct http_lref *ref = arg;
    http_conn_accept(ref->loop, ref->ls, fd, sa, salen);
}

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *loop = arg;
    for (size_t i = 0; i < loop->srv->nlsocks; i++) {
        if (loop->listeners[i] != NULL) {
            evconnlistener_enable(loop->listeners[i]);
        }
    }
}

/* accept() failed, typically EMFILE: the socket stays readable, so pause instead of
 * spinning, and let connections finish. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct http_lref *ref = arg;
    struct http_loop *loop = ref->loop;
    log_warn("http: accept on %s: %s", ref->ls->address, strerror(errno));
    for (size_t i = 0; i < loop->srv->nlsocks; i++) {
        if (loop->listeners[i] != NULL) {
            evconnlistener_disable(loop->listeners[i]);
        }
    }
    struct timeval tv = {0, HTTP_ACCEPT_PAUSE_MS * 1000};
    event_base_once(loop->base, -1, EV_TIMEOUT, accept_resume, loop, &tv);
}

static void free_listeners(struct http_loop *loop)
{
    for (size_t i = 0; i < loop->srv->nlsocks; i++) {
        if (loop->listeners != NULL && loop->listeners[i] != NULL) {
            evconnlistener_free(loop->listeners[i]); /* closes the socket */
            loop->listeners[i] = NULL;
        }
        if (loop->lfds != NULL && loop->lfds[i] >= 0) {
            close(loop->lfds[i]);
            loop->lfds[i] = -1;
        }
    }
}

void http_loop_finish(struct http_loop *loop)
{
    event_base_loopexit(loop->base, NULL);
}

static void loop_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *loop = arg;
    log_warn("http: shutdown timeout: %zu connection(s) cut", loop->nconns);
    event_base_loopbreak(loop->base);
}

/* On the loop's thread: the graceful shutdown of one loop. */
static void loop_shutdown(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *loop = arg;
    if (loop->draining) {
        event_base_loopbreak(loop->base); /* a second signal: stop waiting */
        return;
    }
    loop->draining = true;
    free_listeners(loop);
    http_conn_drain_all(loop);
    if (loop->nconns > 0) {
        int ms = loop->srv->cfg.shutdown_timeout_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(loop->drain_timer, &tv);
    }
}

static const struct timeval *common_timeout(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return event_base_init_common_timeout(base, &tv);
}

static int loop_init(struct http_server *s, struct http_loop *loop, int index, struct err *e)
{
    loop->srv = s;
    loop->index = index;
    pthread_mutex_init(&loop->done_mu, NULL);
    loop->lfds = xcalloc(s->nlsocks, sizeof(int));
    loop->listeners = xcalloc(s->nlsocks, sizeof(struct evconnlistener *));
    loop->lrefs = xcalloc(s->nlsocks, sizeof(struct http_lref));
    loop->rbuf = xmalloc(HTTP_READ_CHUNK);
    for (size_t i = 0; i < s->nlsocks; i++) {
        loop->lfds[i] = -1;
    }
    loop->base = event_base_new();
    if (loop->base == NULL) {
        return err_set(e, 0, "cannot create an event loop");
    }
    loop->tv_header = common_timeout(loop->base, s->cfg.header_timeout_ms);
    loop->tv_body = common_timeout(loop->base, s->cfg.body_timeout_ms);
    loop->tv_idle = common_timeout(loop->base, s->cfg.idle_timeout_ms);
    loop->tv_linger = common_timeout(loop->base, HTTP_LINGER_MS);
    loop->shutdown_ev = event_new(loop->base, -1, 0, loop_shutdown, loop);
    loop->done_ev = event_new(loop->base, -1, 0, http_loop_run_done, loop);
    loop->drain_timer = evtimer_new(loop->base, loop_drain_timeout, loop);
    if (!loop->tv_header || !loop->tv_body || !loop->tv_idle || !loop->tv_linger ||
        !loop->shutdown_ev || !loop->done_ev || !loop->drain_timer) {
        return err_set(e, 0, "cannot set up an event loop");
    }
    for (size_t i = 0; i < s->nlsocks; i++) {
        if ((loop->lfds[i] = bind_one(&s->lsocks[i], e)) < 0) {
            return -1;
        }
        loop->lrefs[i] = (struct http_lref){loop, &s->lsocks[i]};
        loop->listeners[i] =
            evconnlistener_new(loop->base, on_accept, &loop->lrefs[i],
                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, loop->lfds[i]);
        if (loop->listeners[i] == NULL) {
            return err_set(e, 0, "cannot listen on %s", s->lsocks[i].address);
        }
        loop->lfds[i] = -1; /* owned by the listener now */
        evconnlistener_set_error_cb(loop->listeners[i], on_accept_error);
    }
    return 0;
}

static void loop_free(struct http_loop *loop)
{
    if (loop->srv == NULL) {
        return;
    }
    free_listeners(loop);
    http_conn_free_all(loop);
    http_upstream_free_loop(loop); /* before the event base: pooled origin connections */
    http_proxy_free_loop(loop);    /* before the event base: their timers */
    http_loop_heads_free(loop);
    if (loop->shutdown_ev != NULL) {
        event_free(loop->shutdown_ev);
    }
    if (loop->done_ev != NULL) {
        event_free(loop->done_ev);
    }
    if (loop->drain_timer != NULL) {
        event_free(loop->drain_timer);
    }
    if (loop->base != NULL) {
        http_fetch_loop_free(loop->base); /* outbound calls of this loop (their done runs) */
        event_base_free(loop->base);
    }
    pthread_mutex_destroy(&loop->done_mu);
    free(loop->lfds);
    free(loop->listeners);
    free(loop->lrefs);
    free(loop->rbuf);
}

static void *loop_main(void *arg)
{
    struct http_loop *loop = arg;
    struct http_server *s = loop->srv;
    event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* Tell the control loop; the last loop to stop ends it. */
    ssize_t w = write(s->stop_pipe[1], "x", 1);
    (void)w;
    return NULL;
}

/* ---- the server ---------------------------------------------------------------------------- */

static void apply_defaults(struct http_server_config *c)
{
    if (c->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->threads = n > 0 ? (int)n : 1;
    }
    c->threads = UTIL_MIN(c->threads, HTTP_MAX_THREADS);
    if (c->max_connections <= 0) {
        c->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    }
    if (c->idle_timeout_ms <= 0) {
        c->idle_timeout_ms = HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    }
    if (c->header_timeout_ms <= 0) {
        c->header_timeout_ms = HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    }
    if (c->body_timeout_ms <= 0) {
        c->body_timeout_ms = HTTP_DEFAULT_BODY_TIMEOUT_MS;
    }
    if (c->shutdown_timeout_ms <= 0) {
        c->shutdown_timeout_ms = HTTP_DEFAULT_SHUTDOWN_TIMEOUT_MS;
    }
    if (c->worker_threads <= 0) {
        c->worker_threads = HTTP_DEFAULT_WORKER_THREADS;
    }
}

struct http_server *http_server_new(const struct http_server_config *cfg,
                                    struct http_router *router, struct err *e)
{
    pthread_once(&threads_once, threads_init);
    if (cfg->nlisten == 0 || cfg->nlisten > HTTP_MAX_LISTENERS) {
        err_set(e, 0, "no listen address, or too many (at most %d)", HTTP_MAX_LISTENERS);
        return NULL;
    }
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->cfg.listen = NULL;
    apply_defaults(&s->cfg);
    s->router = router;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    atomic_init(&s->nconns, 0);
    s->lsocks = xcalloc(cfg->nlisten, sizeof(struct http_lsock));
    s->nlsocks = cfg->nlisten;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        struct http_lsock *ls = &s->lsocks[i];
        ls->address = xstrdup(cfg->listen[i].address ? cfg->listen[i].address : "");
        if (parse_address(ls->address, ls, e) != 0) {
            goto fail;
        }
        if (cfg->listen[i].tls_cert != NULL || cfg->listen[i].tls_key != NULL) {
            if (cfg->listen[i].tls_cert == NULL || cfg->listen[i].tls_key == NULL) {
                err_set(e, 0, "listener %s: tls needs both cert and key", ls->address);
                goto fail;
            }
            ls->tls = http_tls_ctx_new(cfg->listen[i].tls_cert, cfg->listen[i].tls_key, e);
            if (ls->tls == NULL) {
                goto fail;
            }
        }
    }
    if (pipe2(s->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        err_set(e, 0, "pipe: %s", strerror(errno));
        goto fail;
    }
    s->nloops = s->cfg.threads;
    s->loops = xcalloc((size_t)s->nloops, sizeof(struct http_loop));
    for (int i = 0; i < s->nloops; i++) {
        if (loop_init(s, &s->loops[i], i, e) != 0) {
            goto fail;
        }
    }
    s->pool = http_pool_new(s->cfg.worker_threads, HTTP_POOL_QUEUE_MAX);
    return s;
fail:
    http_server_free(s);
    return NULL;
}

int http_server_port(const struct http_server *s, size_t i)
{
    return i < s->nlsocks ? s->lsocks[i].port : -1;
}

void http_server_stop(struct http_server *s)
{
    /* write(2) is async-signal-safe; a full pipe already holds a stop request. */
    ssize_t w = write(s->stop_pipe[1], "s", 1);
    (void)w;
}

static void begin_shutdown(struct http_server *s)
{
    if (s->stopping) {
        log_info("http: second stop request: not waiting for requests in flight");
    } else {
        log_info("http: shutting down");
    }
    s->stopping = true;
    for (int i = 0; i < s->nloops; i++) {
        event_active(s->loops[i].shutdown_ev, EV_READ, 0);
    }
}

static void ctl_signal(evutil_socket_t sig, short what, void *arg)
{
    begin_shutdown(arg);
}

/* The self-pipe: 's' is a stop request, 'x' a loop that has stopped. */
static void ctl_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    char b[64];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (b[i] == 's') {
                begin_shutdown(s);
            } else if (b[i] == 'x') {
                s->loops_done++;
            }
        }
    }
    if (s->loops_done >= s->nloops) {
        event_base_loopbreak(s->ctl);
    }
}

int http_server_run(struct http_server *s)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, NULL); /* a peer that went away is an error return, not a kill */
    int rc = -1;
    struct event *ev_term = NULL, *ev_int = NULL, *ev_pipe = NULL;
    s->ctl = event_base_new();
    if (s->ctl == NULL) {
        log_error("http: cannot create the control loop");
        return -1;
    }
    ev_term = evsignal_new(s->ctl, SIGTERM, ctl_signal, s);
    ev_int = evsignal_new(s->ctl, SIGINT, ctl_signal, s);
    ev_pipe = event_new(s->ctl, s->stop_pipe[0], EV_READ | EV_PERSIST, ctl_pipe, s);
    if (!ev_term || !ev_int || !ev_pipe || evsignal_add(ev_term, NULL) ||
        evsignal_add(ev_int, NULL) || event_add(ev_pipe, NULL)) {
        log_error("http: cannot set up signal handling");
        goto done;
    }
    /* Loop and worker threads never take the signals: the control loop does. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    struct err e = {0};
    int started = 0;
    if (http_pool_start(s->pool, &e) != 0) {
        log_error("http: %s", e.msg);
    } else {
        for (; started < s->nloops; started++) {
            if (pthread_create(&s->loops[started].thread, NULL, loop_main, &s->loops[started])) {
                log_error("http: cannot start an event-loop thread");
                break;
            }
            s->loops[started].started = true;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < s->nloops) {
        s->loops_done += s->nloops - started;
        begin_shutdown(s);
    }
    if (started > 0) {
        if (started == s->nloops && s->cfg.on_ready != NULL) {
            s->cfg.on_ready(s, s->cfg.on_ready_arg);
        }
        event_base_dispatch(s->ctl);
    }
    for (int i = 0; i < s->nloops; i++) {
        if (s->loops[i].started) {
            pthread_join(s->loops[i].thread, NULL);
            s->loops[i].started = false;
        }
    }
    rc = started == s->nloops ? 0 : -1;
done:
    if (ev_term != NULL) {
        event_free(ev_term);
    }
    if (ev_int != NULL) {
        event_free(ev_int);
    }
    if (ev_pipe != NULL) {
        event_free(ev_pipe);
    }
    event_base_free(s->ctl);
    s->ctl = NULL;
    return rc;
}

void http_server_free(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    /* Every queued job runs and reaches its loop's done list; each done then runs here, its
     * answer dropped if the connection is gone, before the connections are freed. */
    http_pool_free(s->pool);
    for (int i = 0; s->loops != NULL && i < s->nloops; i++) {
        if (s->loops[i].srv != NULL) {
            s->loops[i].draining = true;
            http_loop_run_done(-1, 0, &s->loops[i]);
        }
    }
    for (int i = 0; s->loops != NULL && i < s->nloops; i++) {
        loop_free(&s->loops[i]);
    }
    free(s->loops);
    for (size_t i = 0; i < s->nlsocks; i++) {
        free(s->lsocks[i].address);
        if (s->lsocks[i].tls != NULL) {
            http_tls_ctx_free(s->lsocks[i].tls);
        }
    }
    free(s->lsocks);
    if (s->stop_pipe[0] >= 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
    }
    free(s);
}
