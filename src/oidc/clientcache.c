/*
 * clientcache.c: the provider and application of a client, kept per worker thread.
 *
 * Every token, introspection and revocation request authenticates its client; reading the
 * provider and its application from the store each time cost about 5% of a
 * client_credentials token's CPU (bench/idp). A thread keeps the last OIDC_CLIENT_CACHE
 * clients it looked up, each valid while the global generation is the one it was read under
 * (oidc_cache_invalidate: this node's admin changes) and for at most OIDC_META_TTL seconds
 * (another node's changes, like the discovery cache). Only known clients are kept: an unknown
 * client_id always reaches the store. The cached secret is the same secret the store holds;
 * it is wiped when an entry is evicted and at thread exit.
 */
#include "oidc/oidc_int.h"

#include <pthread.h>
#include <string.h>

#define OIDC_CLIENT_CACHE 8

struct client_entry {
    uint64_t gen;
    int64_t read_ms;
    bool has_app;
    struct store_provider p;
    struct store_app a;
};

struct client_cache {
    struct client_entry e[OIDC_CLIENT_CACHE];
    size_t next; /* round-robin eviction */
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void entry_clear(struct client_entry *x)
{
    store_provider_free(&x->p);
    store_app_free(&x->a);
    memset(x, 0, sizeof *x);
}

static void cache_destroy(void *arg)
{
    struct client_cache *c = arg;
    for (size_t i = 0; i < OIDC_CLIENT_CACHE; i++) {
        entry_clear(&c->e[i]);
    }
    free(c);
}

static void cache_key_make(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

static struct client_cache *cache_get(void)
{
    pthread_once(&cache_once, cache_key_make);
    struct client_cache *c = pthread_getspecific(cache_key);
    if (c == NULL) {
        c = xcalloc(1, sizeof *c);
        if (pthread_setspecific(cache_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    return c;
}

static char *dup_z(const char *s)
{
    return xstrdup(s ? s : "");
}

static void provider_copy(struct store_provider *d, const struct store_provider *s)
{
    *d = *s; /* numbers and flags; every string is duplicated below */
    d->name = dup_z(s->name);
    d->authorization_flow = dup_z(s->authorization_flow);
    d->client_type = dup_z(s->client_type);
    d->client_id = dup_z(s->client_id);
    d->client_secret = dup_z(s->client_secret);
    d->redirect_uris = dup_z(s->redirect_uris);
    d->signing_key = dup_z(s->signing_key);
    d->sub_mode = dup_z(s->sub_mode);
}

static void app_copy(struct store_app *d, const struct store_app *s)
{
    *d = *s;
    d->name = dup_z(s->name);
    d->slug = dup_z(s->slug);
    d->policy_engine_mode = dup_z(s->policy_engine_mode);
    d->meta = dup_z(s->meta);
}

static struct client_entry *find(struct client_cache *c, const char *client_id_z)
{
    uint64_t gen = oidc_cache_generation();
    int64_t now = util_mono_ms();
    for (size_t i = 0; i < OIDC_CLIENT_CACHE; i++) {
        struct client_entry *x = &c->e[i];
        if (x->gen == 0 || strcmp(x->p.client_id, client_id_z) != 0) {
            continue;
        }
        if (x->gen != gen || now - x->read_ms > (int64_t)OIDC_META_TTL * 1000) {
            entry_clear(x);
            return NULL;
        }
        return x;
    }
    return NULL;
}

int oidc_client_lookup(struct store *s, const char *client_id_z, struct store_provider *out,
                       struct err *e)
{
    struct client_cache *c = cache_get();
    struct client_entry *x = c ? find(c, client_id_z) : NULL;
    if (x != NULL) {
        store_provider_free(out);
        provider_copy(out, &x->p);
        return 0;
    }
    uint64_t gen = oidc_cache_generation(); /* before the read: a change meanwhile wins */
    int rc = store_provider_get_by_client_id(s, client_id_z, out, e);
    if (rc != 0 || c == NULL) {
        return rc;
    }
    x = &c->e[c->next];
    c->next = (c->next + 1) % OIDC_CLIENT_CACHE;
    entry_clear(x);
    provider_copy(&x->p, out);
    x->gen = gen;
    x->read_ms = util_mono_ms();
    return 0;
}

int oidc_client_app(struct store *s, const struct store_provider *p, struct store_app *out,
                    struct err *e)
{
    struct client_cache *c = cache_get();
    struct client_entry *x = c ? find(c, p->client_id) : NULL;
    if (x != NULL && x->p.id == p->id && x->has_app) {
        store_app_free(out);
        app_copy(out, &x->a);
        return 0;
    }
    int rc = store_app_get_by_provider(s, p->id, out, e);
    if (rc == 0 && x != NULL && x->p.id == p->id) {
        app_copy(&x->a, out);
        x->has_app = true;
    }
    return rc;
}
