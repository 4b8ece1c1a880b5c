/*
 * rp_jwks.c: the relying party's shared state: a cache of the IdPs' JWKS and discovery
 * documents, used by every event loop.
 *
 * Threads. A slot table under one mutex; what a slot holds is an immutable, reference-
 * counted struct rp_doc, so that a request verifies with its own reference while another
 * loop replaces the slot's document. Fetches run on the loop of the request that needs them
 * (http_fetch_start) and publish their result into the slot found again by key when they
 * end: a slot evicted meanwhile is simply made again.
 *
 * Re-fetches. A fresh JWKS is trusted for jwks_ttl. An ID token naming a kid the JWKS lacks
 * may be signed with a key the IdP just rotated in, so the JWKS is fetched again, once; but
 * a token with random kids must not make us hammer the IdP, so each URL gets at most one such
 * re-fetch in flight and one per refetch_min (the others are refused at once).
 */
#include "access/rp_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rp_slot {
    char *key; /* kind, URL, ca_file, expected issuer: NULL when the slot is free */
    struct rp_doc *doc;
    int64_t used_ms; /* LRU */
    int64_t refetch_ms;
    bool refetched; /* refetch_ms is meaningful */
    bool busy;      /* a re-fetch is in flight */
};

struct access_rp {
    pthread_mutex_t mu;
    struct rp_slot slots[ACCESS_RP_CACHE_SLOTS];
    int64_t ttl_ms, refetch_min_ms;
    int timeout_ms;
    uint64_t fetches; /* atomic */
};

/* One fetch in flight. */
struct rp_fetch {
    struct access_rp *rp;
    enum rp_kind kind;
    char *key, *url, *want_issuer;
    bool refetch;
    int64_t started_ms;
    rp_doc_fn fn;
    void *arg;
};

struct access_rp *access_rp_new(const struct access_rp_opts *o)
{
    struct access_rp *rp = xcalloc(1, sizeof *rp);
    pthread_mutex_init(&rp->mu, NULL);
    rp->ttl_ms = o != NULL && o->jwks_ttl_ms > 0 ? o->jwks_ttl_ms : ACCESS_RP_JWKS_TTL_S * 1000;
    rp->refetch_min_ms =
        o != NULL && o->refetch_min_ms > 0 ? o->refetch_min_ms : ACCESS_RP_REFETCH_MIN_S * 1000;
    rp->timeout_ms = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : 0;
    return rp;
}

void access_rp_free(struct access_rp *rp)
{
    if (rp == NULL) {
        return;
    }
    for (size_t i = 0; i < ACCESS_RP_CACHE_SLOTS; i++) {
        free(rp->slots[i].key);
        rp_doc_put(rp->slots[i].doc);
    }
    pthread_mutex_destroy(&rp->mu);
    free(rp);
}

uint64_t access_rp_fetches(const struct access_rp *rp)
{
    return __atomic_load_n(&rp->fetches, __ATOMIC_RELAXED);
}

void rp_count_fetch(struct access_rp *rp)
{
    __atomic_add_fetch(&rp->fetches, 1, __ATOMIC_RELAXED);
}

int rp_timeout_ms(const struct access_rp *rp)
{
    return rp->timeout_ms;
}

void rp_doc_put(struct rp_doc *d)
{
    if (d == NULL || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        return;
    }
    jose_jwks_free(d->jwks);
    rp_disc_free(&d->disc);
    free(d);
}

static struct rp_doc *doc_ref(struct rp_doc *d)
{
    __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    return d;
}

/* ---- slots (under rp->mu) --------------------------------------------------------------- */

static struct rp_slot *slot_find(struct access_rp *rp, const char *key)
{
    for (size_t i = 0; i < ACCESS_RP_CACHE_SLOTS; i++) {
        if (rp->slots[i].key != NULL && strcmp(rp->slots[i].key, key) == 0) {
            return &rp->slots[i];
        }
    }
    return NULL;
}

/* The slot of key, made when absent: a free one, else the least recently used one without a
 * re-fetch in flight. NULL when every slot is busy (the result is then not cached). */
static struct rp_slot *slot_make(struct access_rp *rp, const char *key, int64_t now)
{
    struct rp_slot *s = slot_find(rp, key), *lru = NULL;
    for (size_t i = 0; s == NULL && i < ACCESS_RP_CACHE_SLOTS; i++) {
        struct rp_slot *c = &rp->slots[i];
        if (c->key == NULL) {
            s = c;
        } else if (!c->busy && (lru == NULL || c->used_ms < lru->used_ms)) {
            lru = c;
        }
    }
    if (s == NULL && lru != NULL) {
        free(lru->key);
        rp_doc_put(lru->doc);
        memset(lru, 0, sizeof *lru);
        s = lru;
    }
    if (s != NULL && s->key == NULL) {
        s->key = xstrdup(key);
        s->used_ms = now;
    }
    return s;
}

/* ---- fetching --------------------------------------------------------------------------- */

static void fetch_free(struct rp_fetch *f)
{
    free(f->key);
    free(f->url);
    free(f->want_issuer);
    free(f);
}

/* Puts doc into its slot unless the slot already holds a newer one. */
static void publish(struct rp_fetch *f, struct rp_doc *doc)
{
    int64_t now = util_mono_ms();
    struct rp_doc *old = NULL;
    pthread_mutex_lock(&f->rp->mu);
    struct rp_slot *s = slot_make(f->rp, f->key, now);
    if (s != NULL && f->refetch) {
        s->busy = false;
    }
    if (s != NULL && doc != NULL && (s->doc == NULL || s->doc->fetched_ms <= doc->fetched_ms)) {
        old = s->doc;
        s->doc = doc_ref(doc);
        s->used_ms = now;
    }
    pthread_mutex_unlock(&f->rp->mu);
    rp_doc_put(old);
}

static void on_fetched(struct http_fetch_result *res, void *arg)
{
    struct rp_fetch *f = arg;
    struct access_rp_result fail = {0};
    struct rp_doc *doc = xcalloc(1, sizeof *doc);
    enum access_rp_diag d;
    doc->refs = 1;
    doc->kind = f->kind;
    doc->fetched_ms = f->started_ms;
    const char *what = f->kind == RP_DOC_JWKS ? "JWKS" : "discovery document";
    if (res->status != HTTP_FETCH_OK) {
        d = rp_fetch_failed(what, f->url, res, &fail);
    } else if (f->kind == RP_DOC_JWKS) {
        d = rp_jwks_parse(f->url, res, &doc->jwks, &fail);
    } else {
        d = rp_disc_parse(f->url, f->want_issuer, res, &doc->disc, &fail);
    }
    if (d != ACCESS_RP_OK) {
        rp_doc_put(doc);
        doc = NULL;
    }
    publish(f, doc);
    unsigned flags = RP_DOC_FETCHED | (res->status == HTTP_FETCH_CANCELLED ? RP_DOC_CANCELLED : 0);
    f->fn(doc, doc != NULL ? NULL : &fail, flags, f->arg);
    fetch_free(f);
}

static void start_fetch(struct event_base *base, struct rp_fetch *f, const char *ca_file)
{
    struct http_fetch_req r = {
        .url = f->url,
        .accept = f->kind == RP_DOC_JWKS ? "application/jwk-set+json, application/json"
                                         : "application/json",
        .ca_file = ca_file,
        .timeout_ms = f->rp->timeout_ms,
        .max_body = ACCESS_RP_DOC_BODY_MAX,
    };
    struct err e = {0};
    f->started_ms = util_mono_ms();
    rp_count_fetch(f->rp);
    if (http_fetch_start(base, &r, on_fetched, f, &e) != 0) {
        struct access_rp_result fail = {0};
        rp_set(&fail, ACCESS_RP_INTERNAL, "%s: %s", f->url, e.msg);
        publish(f, NULL); /* clears busy */
        f->fn(NULL, &fail, RP_DOC_FETCHED, f->arg);
        fetch_free(f);
    }
}

static char *doc_key(enum rp_kind kind, const char *url, const char *want_issuer,
                     const char *ca_file)
{
    struct buf k;
    buf_init(&k, 3 * ACCESS_URL_MAX + ACCESS_FILE_MAX + 16);
    buf_printf(&k, "%d\n%s\n%s\n%s", (int)kind, url, ca_file != NULL ? ca_file : "",
               want_issuer != NULL ? want_issuer : "");
    return buf_steal(&k, NULL);
}

void rp_doc_get(struct access_rp *rp, struct event_base *base, enum rp_kind kind, const char *url,
                const char *want_issuer, const char *ca_file, bool refetch, rp_doc_fn fn, void *arg)
{
    char *key = doc_key(kind, url, want_issuer, ca_file);
    int64_t now = util_mono_ms();
    struct rp_doc *doc = NULL;
    bool limited = false;
    int64_t ago = 0;
    pthread_mutex_lock(&rp->mu);
    struct rp_slot *s = slot_find(rp, key);
    if (!refetch && s != NULL && s->doc != NULL && now - s->doc->fetched_ms < rp->ttl_ms) {
        doc = doc_ref(s->doc);
        s->used_ms = now;
    } else if (refetch && s != NULL &&
               (s->busy || (s->refetched && now - s->refetch_ms < rp->refetch_min_ms))) {
        limited = true;
        ago = s->busy ? -1 : now - s->refetch_ms;
    } else if (refetch && (s = slot_make(rp, key, now)) != NULL) {
        s->busy = true;
        s->refetched = true;
        s->refetch_ms = now;
    }
    pthread_mutex_unlock(&rp->mu);
    if (doc != NULL) {
        free(key);
        fn(doc, NULL, 0, arg);
        return;
    }
    if (limited) {
        struct access_rp_result fail = {0};
        if (ago < 0) {
            rp_set(&fail, ACCESS_RP_UNKNOWN_KID, "JWKS %s: a re-fetch is already in flight", url);
        } else {
            rp_set(&fail, ACCESS_RP_UNKNOWN_KID,
                   "JWKS %s not re-fetched: the last re-fetch was %lld ms ago (at most one per "
                   "%lld ms)",
                   url, (long long)ago, (long long)rp->refetch_min_ms);
        }
        free(key);
        fn(NULL, &fail, 0, arg);
        return;
    }
    struct rp_fetch *f = xcalloc(1, sizeof *f);
    *f = (struct rp_fetch){.rp = rp,
                           .kind = kind,
                           .key = key,
                           .url = xstrdup(url),
                           .want_issuer = want_issuer != NULL ? xstrdup(want_issuer) : NULL,
                           .refetch = refetch,
                           .fn = fn,
                           .arg = arg};
    start_fetch(base, f, ca_file);
}
