/*
 * fetch_loop.c: one curl multi handle per event_base, driven by libevent with
 * curl_multi_socket_action (curl's "multi_socket" interface): curl says which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to wake it up (CURLMOPT_TIMERFUNCTION); libevent
 * watches and wakes; finished transfers are read with curl_multi_info_read. Nothing blocks
 * the loop (DNS runs on curl's resolver threads).
 *
 * Threads. A loop's multi is only touched by the thread that runs the loop. The map from an
 * event_base to its loop is a short list under a mutex, read once per thread and base: each
 * thread remembers the last loop it used, valid while no loop has been freed since (an
 * epoch counter), so the start of a request takes no lock in the steady state.
 *
 * Re-entrancy. done callbacks run from our event callbacks, never from inside a curl
 * callback, so they may start new requests. Failures known at start (bad URL, BUSY) are
 * queued and delivered from an event of their own, so done never runs inside
 * http_fetch_start.
 */
#include "http/http.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* One request as the loop sees it; the transfer itself is fetch.c's. */
struct fetch_job {
    struct fetch_job *prev, *next;
    struct http_fetch_xfer *x;
};

/* A socket curl asked us to watch (curl_multi_assign keeps the pointer for us). */
struct fetch_sock {
    struct fetch_sock *prev, *next;
    struct event *ev;
};

struct fetch_loop {
    struct fetch_loop *next; /* registry */
    struct event_base *base;
    CURLM *multi;
    struct event *timer;      /* curl's single timeout */
    struct event *failed_ev;  /* delivers the failures known at start */
    struct fetch_job *active; /* in the multi */
    size_t nactive;
    struct fetch_job *failed; /* waiting for failed_ev */
    struct fetch_sock *socks;
    int depth;    /* > 0 while one of our event callbacks runs (done may be on the stack) */
    bool closing; /* http_fetch_loop_free has begun: no new request */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fetch_loop *registry;
static atomic_uint registry_epoch; /* bumped when a loop is freed */
static __thread struct fetch_loop *tl_loop;
static __thread unsigned tl_epoch;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- lists ---------------------------------------------------------------- */

static void job_push(struct fetch_job **head, struct fetch_job *j)
{
    j->prev = NULL;
    j->next = *head;
    if (*head != NULL) {
        (*head)->prev = j;
    }
    *head = j;
}

static void job_unlink(struct fetch_job **head, struct fetch_job *j)
{
    if (j->prev != NULL) {
        j->prev->next = j->next;
    } else {
        *head = j->next;
    }
    if (j->next != NULL) {
        j->next->prev = j->prev;
    }
    j->prev = j->next = NULL;
}

static void sock_free(struct fetch_loop *l, struct fetch_sock *fs)
{
    if (fs->prev != NULL) {
        fs->prev->next = fs->next;
    } else {
        l->socks = fs->next;
    }
    if (fs->next != NULL) {
        fs->next->prev = fs->prev;
    }
    event_free(fs->ev);
    free(fs);
}

/* ---- finishing ------------------------------------------------------------ */

/* Reads every finished transfer off the multi and ends it (done runs here). A done that
 * starts a request adds to the multi between two reads, which curl allows. */
static void drain(struct fetch_loop *l)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result; /* msg is invalid once the handle is removed */
        struct fetch_job *j = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
        curl_multi_remove_handle(l->multi, easy);
        job_unlink(&l->active, j);
        l->nactive--;
        http_fetch_xfer_finish(j->x, (int)rc);
        free(j);
    }
}

static void on_failed(evutil_socket_t fd, short what, void *arg)
{
    struct fetch_loop *l = arg;
    /* Take the whole queue first: a done may queue new failures (and re-activate us). */
    struct fetch_job *j = l->failed;
    l->failed = NULL;
    l->depth++;
    while (j != NULL) {
        struct fetch_job *next = j->next;
        http_fetch_xfer_finish(j->x, 0);
        free(j);
        j = next;
    }
    l->depth--;
}

static void queue_failed(struct fetch_loop *l, struct fetch_job *j)
{
    job_push(&l->failed, j);
    event_active(l->failed_ev, EV_TIMEOUT, 1);
}

/* ---- curl's callbacks and libevent's ----------------------------------------- */

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct fetch_loop *l = arg;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    l->depth++;
    curl_multi_socket_action(l->multi, fd, flags, &running);
    drain(l);
    l->depth--;
}

static void on_timer_event(evutil_socket_t fd, short what, void *arg)
{
    struct fetch_loop *l = arg;
    int running = 0;
    l->depth++;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(l);
    l->depth--;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or stop watching it. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct fetch_loop *l = userp;
    struct fetch_sock *fs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (fs != NULL) {
            sock_free(l, fs);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (fs == NULL) {
        fs = xcalloc(1, sizeof(*fs));
        fs->ev = event_new(l->base, s, kind, on_socket_event, l);
        if (fs->ev == NULL) {
            free(fs);
            return -1;
        }
        fs->next = l->socks;
        if (l->socks != NULL) {
            l->socks->prev = fs;
        }
        l->socks = fs;
        curl_multi_assign(l->multi, s, fs);
    } else {
        event_del(fs->ev);
        event_assign(fs->ev, l->base, s, kind, on_socket_event, l);
    }
    return event_add(fs->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced on each call; -1 deletes it. curl must not be
 * called from here, so even 0 ms goes through the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct fetch_loop *l = userp;
    if (timeout_ms < 0) {
        evtimer_del(l->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return evtimer_add(l->timer, &tv) == 0 ? 0 : -1;
}

/* ---- the registry ------------------------------------------------------------ */

static void loop_destroy(struct fetch_loop *l)
{
    if (l->multi != NULL) {
        curl_multi_cleanup(l->multi); /* may still call on_curl_socket with REMOVE */
    }
    while (l->socks != NULL) {
        sock_free(l, l->socks);
    }
    if (l->timer != NULL) {
        event_free(l->timer);
    }
    if (l->failed_ev != NULL) {
        event_free(l->failed_ev);
    }
    free(l);
}

static struct fetch_loop *loop_new(struct event_base *base, struct err *e)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        err_set(e, 0, "fetch: curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    struct fetch_loop *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->multi = curl_multi_init();
    l->timer = evtimer_new(base, on_timer_event, l);
    l->failed_ev = event_new(base, -1, 0, on_failed, l);
    if (l->multi == NULL || l->timer == NULL || l->failed_ev == NULL ||
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK ||
        curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l) != CURLM_OK) {
        loop_destroy(l);
        err_set(e, 0, "fetch: cannot set up the curl multi handle");
        return NULL;
    }
    return l;
}

/* The loop of base, made on first use. Lock-free when this thread used it last and no
 * loop was freed since (the epoch is checked before the cached pointer is read). */
static struct fetch_loop *loop_get(struct event_base *base, bool create, struct err *e)
{
    unsigned epoch = atomic_load_explicit(&registry_epoch, memory_order_acquire);
    if (tl_loop != NULL && tl_epoch == epoch && tl_loop->base == base) {
        return tl_loop;
    }
    pthread_mutex_lock(&registry_mu);
    struct fetch_loop *l = registry;
    while (l != NULL && l->base != base) {
        l = l->next;
    }
    if (l == NULL && create) {
        l = loop_new(base, e);
        if (l != NULL) {
            l->next = registry;
            registry = l;
        }
    }
    epoch = atomic_load_explicit(&registry_epoch, memory_order_acquire);
    pthread_mutex_unlock(&registry_mu);
    if (l != NULL) {
        tl_loop = l;
        tl_epoch = epoch;
    }
    return l;
}

static void registry_remove(struct fetch_loop *l)
{
    pthread_mutex_lock(&registry_mu);
    for (struct fetch_loop **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    atomic_fetch_add_explicit(&registry_epoch, 1, memory_order_release);
    pthread_mutex_unlock(&registry_mu);
    if (tl_loop == l) {
        tl_loop = NULL;
    }
}

/* ---- the public calls ---------------------------------------------------------- */

int http_fetch_start(struct event_base *base, const struct http_fetch_req *r,
                     http_fetch_done_fn done, void *arg, struct err *e)
{
    if (base == NULL || done == NULL) {
        return err_set(e, 0, "fetch: no event loop or no done callback");
    }
    struct fetch_loop *l = loop_get(base, true, e);
    if (l == NULL) {
        return -1;
    }
    if (l->closing) {
        return err_set(e, 0, "fetch: the event loop is shutting down");
    }
    struct http_fetch_xfer *x = http_fetch_xfer_new(r, done, arg, e);
    if (x == NULL) {
        return -1;
    }
    struct fetch_job *j = xcalloc(1, sizeof(*j));
    j->x = x;
    CURL *easy = http_fetch_xfer_easy(x);
    if (easy == NULL) {
        queue_failed(l, j); /* refused URL: the outcome is already set */
        return 0;
    }
    if (l->nactive >= HTTP_FETCH_MAX_INFLIGHT) {
        http_fetch_xfer_fail(x, HTTP_FETCH_BUSY, "too many outbound requests in flight");
        queue_failed(l, j);
        return 0;
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)j);
    CURLMcode mc = curl_multi_add_handle(l->multi, easy);
    if (mc != CURLM_OK) {
        http_fetch_xfer_fail(x, HTTP_FETCH_PROTOCOL, curl_multi_strerror(mc));
        queue_failed(l, j);
        return 0;
    }
    job_push(&l->active, j);
    l->nactive++;
    return 0;
}

void http_fetch_loop_free(struct event_base *base)
{
    if (base == NULL) {
        return;
    }
    struct fetch_loop *l = loop_get(base, false, NULL);
    if (l == NULL || l->closing) {
        return;
    }
    if (l->depth > 0) {
        /* A done callback is on the stack and would return into freed memory. */
        log_error("http_fetch_loop_free called from a fetch callback: ignored");
        return;
    }
    l->closing = true; /* a done below that starts a request is refused */
    while (l->active != NULL) {
        struct fetch_job *j = l->active;
        job_unlink(&l->active, j);
        l->nactive--;
        curl_multi_remove_handle(l->multi, http_fetch_xfer_easy(j->x));
        http_fetch_xfer_fail(j->x, HTTP_FETCH_CANCELLED,
                             "cancelled: the event loop is shutting down");
        http_fetch_xfer_finish(j->x, 0);
        free(j);
    }
    while (l->failed != NULL) {
        struct fetch_job *j = l->failed;
        job_unlink(&l->failed, j);
        http_fetch_xfer_finish(j->x, 0);
        free(j);
    }
    registry_remove(l);
    loop_destroy(l);
}
