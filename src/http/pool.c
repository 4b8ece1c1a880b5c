/*
 * pool.c: the bounded worker pool for blocking work (argon2, SQL, private-key signing;
 * DESIGN.md "Process, storage, scale").
 *
 * A fixed number of threads take requests from one bounded FIFO. A finished request goes
 * back to its loop through the loop's done list and done event (event_active is thread-safe
 * with libevent_pthreads). Jobs live in the request itself: no allocation per job.
 */
#include "http/server_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_req *head, *tail;
    size_t queued, queue_max;
    pthread_t *threads;
    int nthreads, started;
    bool stop;
};

struct http_pool *http_pool_new(int threads, size_t queue_max)
{
    struct http_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->queue_max = queue_max;
    p->nthreads = threads > 0 ? threads : 1;
    p->threads = xcalloc((size_t)p->nthreads, sizeof(pthread_t));
    return p;
}

static void loop_post_done(struct http_loop *loop, struct http_req *r)
{
    r->next_job = NULL;
    pthread_mutex_lock(&loop->done_mu);
    if (loop->done_tail != NULL) {
        loop->done_tail->next_job = r;
    } else {
        loop->done_head = r;
    }
    loop->done_tail = r;
    pthread_mutex_unlock(&loop->done_mu);
    event_active(loop->done_ev, EV_READ, 0);
}

static void *worker_main(void *arg)
{
    struct http_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stop) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        struct http_req *r = p->head;
        if (r == NULL) {
            break; /* stopping, and every queued job is done */
        }
        p->head = r->next_job;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        r->work(r->arg);
        loop_post_done(r->conn->loop, r);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int http_pool_start(struct http_pool *p, struct err *e)
{
    for (; p->started < p->nthreads; p->started++) {
        int rc = pthread_create(&p->threads[p->started], NULL, worker_main, p);
        if (rc != 0) {
            return err_set(e, 0, "cannot start a worker thread: %s", strerror(rc));
        }
    }
    return 0;
}

void http_pool_free(struct http_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++) {
        pthread_join(p->threads[i], NULL);
    }
    /* Without threads (never started) queued jobs still run, here, so that each done runs. */
    for (struct http_req *r = p->head; r != NULL;) {
        struct http_req *next = r->next_job;
        r->work(r->arg);
        loop_post_done(r->conn->loop, r);
        r = next;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int http_defer(struct http_req *r, http_work_fn work, http_done_fn done, void *arg)
{
    struct http_pool *p = r->conn->loop->srv->pool;
    if (r->job_pending || r->answered) {
        log_error("http_defer: the request has a pending job or was answered");
        return -1; /* misuse: the pending job's done (or the answer) stays in charge */
    }
    pthread_mutex_lock(&p->mu);
    if (p->queued >= p->queue_max || p->stop) {
        pthread_mutex_unlock(&p->mu);
        log_warn("http: worker queue full, request refused");
        http_respond_error(r, 503, "The server is busy; try again.");
        return -1;
    }
    r->work = work;
    r->done = done;
    r->arg = arg;
    r->job_pending = true;
    r->next_job = NULL;
    if (p->tail != NULL) {
        p->tail->next_job = r;
    } else {
        p->head = r;
    }
    p->tail = r;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void http_loop_run_done(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *loop = arg;
    pthread_mutex_lock(&loop->done_mu);
    struct http_req *r = loop->done_head;
    loop->done_head = loop->done_tail = NULL;
    pthread_mutex_unlock(&loop->done_mu);
    while (r != NULL) {
        struct http_req *next = r->next_job;
        struct http_conn *c = r->conn;
        r->job_pending = false;
        c->busy++;
        r->done(r, r->arg);
        c->busy--;
        if (r->answered) {
            http_conn_answered(c); /* may free c and r */
        }
        r = next;
    }
}
