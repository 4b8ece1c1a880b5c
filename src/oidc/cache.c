/*
 * cache.c: the bytes of the discovery and JWKS documents of each slug, built once on a
 * worker and then served from the event-loop thread without touching the store (they are
 * benchmarked against nginx serving the same bytes).
 *
 * An entry is valid while the global generation is the one it was built under (bumped by
 * oidc_cache_invalidate() when the admin layer changes a provider, an application or a key)
 * and for at most OIDC_META_TTL seconds (changes made by another node). Documents are
 * immutable and reference-counted, so a reader holds the lock only to take a reference.
 */
#include "oidc/oidc_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct meta_doc {
    int refs; /* atomic */
    size_t len;
    char etag[40];
    char data[];
};

struct meta_entry {
    char slug[OIDC_SLUG_MAX + 1];
    uint64_t gen;
    int64_t built_ms; /* util_mono_ms() */
    struct meta_doc *doc[OIDC_META_KINDS];
};

struct oidc_cache {
    pthread_rwlock_t lock;
    struct meta_entry e[OIDC_META_CACHE_MAX];
    size_t n;
};

static uint64_t generation = 1; /* atomic */

void oidc_cache_invalidate(void)
{
    __atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
}

uint64_t oidc_cache_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

static void doc_unref(struct meta_doc *d)
{
    if (d != NULL && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(d);
    }
}

void oidc_etag(const void *p, size_t n, char out[40])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    out[0] = '"';
    for (size_t i = 0; i < 16; i++) {
        snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
    }
    out[33] = '"';
    out[34] = '\0';
}

struct oidc_cache *oidc_cache_new(void)
{
    struct oidc_cache *c = xcalloc(1, sizeof *c);
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

void oidc_cache_free(struct oidc_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        for (int k = 0; k < OIDC_META_KINDS; k++) {
            doc_unref(c->e[i].doc[k]);
        }
    }
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

static struct meta_entry *find(struct oidc_cache *c, const char *slug_z)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].slug, slug_z) == 0) {
            return &c->e[i];
        }
    }
    return NULL;
}

void oidc_meta_headers(struct oidc_reply *r, enum oidc_meta_kind kind, const char *etag_z)
{
    char cc[64];
    snprintf(cc, sizeof cc, "public, max-age=%d",
             kind == OIDC_META_JWKS ? OIDC_JWKS_MAX_AGE : OIDC_DISCOVERY_MAX_AGE);
    oidc_reply_header(r, "Cache-Control", cc);
    oidc_reply_header(r, "ETag", etag_z);
    /* Public documents: browser-based relying parties fetch them cross-origin. */
    oidc_reply_header(r, "Access-Control-Allow-Origin", "*");
}

bool oidc_cache_serve(struct oidc_cache *c, struct http_req *req, const char *slug_z,
                      enum oidc_meta_kind kind)
{
    struct meta_doc *d = NULL;
    uint64_t gen = oidc_cache_generation();
    int64_t now = util_mono_ms();
    pthread_rwlock_rdlock(&c->lock);
    struct meta_entry *e = find(c, slug_z);
    if (e != NULL && e->gen == gen && now - e->built_ms < OIDC_META_TTL * 1000 &&
        e->doc[kind] != NULL) {
        d = e->doc[kind];
        __atomic_add_fetch(&d->refs, 1, __ATOMIC_ACQ_REL);
    }
    pthread_rwlock_unlock(&c->lock);
    if (d == NULL) {
        return false;
    }
    char cc[64];
    snprintf(cc, sizeof cc, "public, max-age=%d",
             kind == OIDC_META_JWKS ? OIDC_JWKS_MAX_AGE : OIDC_DISCOVERY_MAX_AGE);
    http_resp_header(req, "Cache-Control", cc);
    http_resp_header(req, "ETag", d->etag);
    http_resp_header(req, "Access-Control-Allow-Origin", "*");
    const char *inm = http_req_header(req, "if-none-match");
    if (inm != NULL && web_etag_match(inm, d->etag)) {
        http_respond(req, 304, NULL, NULL, 0);
    } else {
        http_respond(req, 200, "application/json", d->data, d->len);
    }
    doc_unref(d);
    return true;
}

void oidc_cache_put(struct oidc_cache *c, const char *slug_z, uint64_t gen,
                    const struct buf docs[OIDC_META_KINDS])
{
    if (strlen(slug_z) > OIDC_SLUG_MAX) {
        return;
    }
    struct meta_doc *nd[OIDC_META_KINDS];
    for (int k = 0; k < OIDC_META_KINDS; k++) {
        nd[k] = xmalloc(sizeof *nd[k] + docs[k].len + 1);
        nd[k]->refs = 1;
        nd[k]->len = docs[k].len;
        memcpy(nd[k]->data, docs[k].p ? docs[k].p : "", docs[k].len);
        nd[k]->data[docs[k].len] = '\0';
        oidc_etag(nd[k]->data, nd[k]->len, nd[k]->etag);
    }
    int64_t now = util_mono_ms();
    pthread_rwlock_wrlock(&c->lock);
    struct meta_entry *e = find(c, slug_z);
    if (e == NULL && c->n < OIDC_META_CACHE_MAX) {
        e = &c->e[c->n++];
    } else if (e == NULL) {
        e = &c->e[0]; /* full: replace the oldest */
        for (size_t i = 1; i < c->n; i++) {
            if (c->e[i].built_ms < e->built_ms) {
                e = &c->e[i];
            }
        }
    }
    struct meta_doc *old[OIDC_META_KINDS];
    memcpy(old, e->doc, sizeof old);
    snprintf(e->slug, sizeof e->slug, "%s", slug_z);
    e->gen = gen;
    e->built_ms = now;
    memcpy(e->doc, nd, sizeof nd);
    pthread_rwlock_unlock(&c->lock);
    for (int k = 0; k < OIDC_META_KINDS; k++) {
        doc_unref(old[k]);
    }
}

bool oidc_cache_stale(struct oidc_cache *c, const char *slug_z, enum oidc_meta_kind kind,
                      struct oidc_reply *r)
{
    struct meta_doc *d = NULL;
    pthread_rwlock_wrlock(&c->lock);
    struct meta_entry *e = find(c, slug_z);
    if (e != NULL && e->doc[kind] != NULL) {
        d = e->doc[kind];
        __atomic_add_fetch(&d->refs, 1, __ATOMIC_ACQ_REL);
        /* Renewed: served from the loop again until the next attempt, OIDC_META_TTL on. */
        e->gen = oidc_cache_generation();
        e->built_ms = util_mono_ms();
    }
    pthread_rwlock_unlock(&c->lock);
    if (d == NULL) {
        return false;
    }
    buf_reset(&r->body);
    if (buf_append(&r->body, d->data, d->len) != 0) {
        doc_unref(d);
        buf_reset(&r->body);
        return false;
    }
    oidc_meta_headers(r, kind, d->etag);
    doc_unref(d);
    r->status = 200;
    r->content_type = "application/json";
    return true;
}
