/*
 * gate.c: the running gateway: its snapshot, its origins, and the background thread that
 * keeps them current (configuration and keys re-read, revocations polled, expired rows
 * purged, the signing key rotated when it is GATE_KEY_ROTATE_S old) every GATE_RELOAD_S.
 */
#include "access/gate_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static uint64_t snap_versions; /* atomic */

/* Installs a new snapshot; the previous one lives on while requests hold it. */
static void snap_swap(struct access_gate *g, struct gate_snap *s)
{
    s->version = __atomic_add_fetch(&snap_versions, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&g->mu);
    struct gate_snap *old = g->snap;
    g->snap = s;
    __atomic_store_n(&g->snap_version, s->version, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g->mu);
    gate_snap_put(old);
}

/* Rotates the current key once it is GATE_KEY_ROTATE_S old; of several nodes, one does. */
static int maybe_rotate(struct store *s, struct err *e)
{
    struct store_access_key_list l = {0};
    int rc = store_access_key_list(s, &l, e);
    if (rc == 0 && l.n > 0 && l.v[0].retired_at == 0 &&
        util_now() - l.v[0].created_at >= GATE_KEY_ROTATE_S) {
        struct store_access_key k = {0};
        rc = gate_keys_rotate(s, GATE_KEY_GRACE_S, l.v[0].id, &k, e);
        rc = rc == STORE_NOT_FOUND ? 0 : rc;
        store_access_key_free(&k);
    }
    store_access_key_list_free(&l);
    return rc;
}

int access_gate_refresh(struct access_gate *g, struct err *e)
{
    struct store *s = store_thread(e);
    if (s == NULL) {
        return -1;
    }
    if (maybe_rotate(s, e) != 0 || gate_revoked_poll(g, s, e) != 0) {
        return -1;
    }
    struct gate_snap *snap = gate_snap_load(g, s, e);
    if (snap == NULL) {
        return -1;
    }
    snap_swap(g, snap);
    struct store_purged purged;
    struct err ignored = {0};
    store_purge(s, &purged, &ignored);
    return 0;
}

static void *refresher(void *arg)
{
    struct access_gate *g = arg;
    pthread_mutex_lock(&g->stop_mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += GATE_RELOAD_S;
        int rc = 0;
        while (!g->stopping && rc != ETIMEDOUT) {
            rc = pthread_cond_timedwait(&g->stop_cv, &g->stop_mu, &ts);
        }
        if (g->stopping) {
            break;
        }
        pthread_mutex_unlock(&g->stop_mu);
        struct err e = {0};
        if (access_gate_refresh(g, &e) != 0) {
            log_error("%saccess: reload: %s (the previous configuration stays in use)",
                      store_unavailable(&e) ? "store unavailable: " : "", e.msg);
        }
        pthread_mutex_lock(&g->stop_mu);
    }
    pthread_mutex_unlock(&g->stop_mu);
    return NULL; /* the thread's store connection closes with it */
}

struct access_gate *access_gate_new(struct web *web, struct err *e)
{
    struct access_gate *g = xcalloc(1, sizeof *g);
    g->web = web;
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->stop_mu, NULL);
    pthread_cond_init(&g->stop_cv, NULL);
    g->rp = access_rp_new(NULL);
    struct store *s = store_thread(e);
    if (s == NULL || gate_keys_ensure(s, e) != 0 || access_gate_refresh(g, e) != 0) {
        access_gate_free(g);
        return NULL;
    }
    return g;
}

int access_gate_start(struct access_gate *g, struct err *e)
{
    int rc = pthread_create(&g->thread, NULL, refresher, g);
    if (rc != 0) {
        return err_set(e, 0, "cannot start the gateway's reload thread: %s", strerror(rc));
    }
    g->thread_started = true;
    return 0;
}

void access_gate_free(struct access_gate *g)
{
    if (g == NULL) {
        return;
    }
    if (g->thread_started) {
        pthread_mutex_lock(&g->stop_mu);
        g->stopping = true;
        pthread_cond_signal(&g->stop_cv);
        pthread_mutex_unlock(&g->stop_mu);
        pthread_join(g->thread, NULL);
    }
    gate_snap_forget(g);
    gate_snap_put(g->snap);
    for (size_t i = 0; i < g->norigins; i++) {
        http_origin_free(g->origins[i].origin);
        free(g->origins[i].url);
    }
    free(g->origins);
    access_rp_free(g->rp);
    gate_revoked_free(g);
    pthread_cond_destroy(&g->stop_cv);
    pthread_mutex_destroy(&g->stop_mu);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
