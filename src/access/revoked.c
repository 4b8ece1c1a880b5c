/*
 * revoked.c: sessions ended by a logout, as every gateway node knows them.
 *
 * App tokens are verified with public keys alone, so a logout must reach every node: the
 * store keeps revoked_at on the session, and each node's background thread asks for the
 * sessions revoked since its last poll (GATE_RELOAD_S apart, well within the 30 s of issue
 * 4), and a logout on this node adds its session at once. An entry is forgotten when its
 * session would have expired anyway (no token of it can be valid after that). Lookups run
 * on the event loops on every authenticated request: a hash table under a read-write lock.
 */
#include "access/gate_int.h"

#include <string.h>

#define REVOKED_BUCKETS 4096

struct revoked_ent {
    struct revoked_ent *next;
    int64_t expires_at;
    char id[STORE_ID_SIZE];
};

struct gate_revoked {
    pthread_rwlock_t lock;
    struct revoked_ent *b[REVOKED_BUCKETS];
    size_t n;
};

static size_t bucket(const char *id_z)
{
    /* The ids are hex SHA-256 digests: their first digits are already uniform. */
    size_t h = 0;
    for (size_t i = 0; i < 6 && id_z[i] != '\0'; i++) {
        h = h * 16 + (size_t)(util_hex_digit(id_z[i]) & 15);
    }
    return h % REVOKED_BUCKETS;
}

static struct gate_revoked *set_get(struct access_gate *g)
{
    pthread_mutex_lock(&g->mu);
    if (g->revoked == NULL) {
        g->revoked = xcalloc(1, sizeof *g->revoked);
        pthread_rwlock_init(&g->revoked->lock, NULL);
    }
    struct gate_revoked *r = g->revoked;
    pthread_mutex_unlock(&g->mu);
    return r;
}

bool gate_revoked(struct access_gate *g, const char *session_id_z)
{
    struct gate_revoked *r = set_get(g);
    bool found = false;
    pthread_rwlock_rdlock(&r->lock);
    for (struct revoked_ent *x = r->b[bucket(session_id_z)]; x != NULL && !found; x = x->next) {
        found = strcmp(x->id, session_id_z) == 0;
    }
    pthread_rwlock_unlock(&r->lock);
    return found;
}

void gate_revoked_add(struct access_gate *g, const char *session_id_z, int64_t expires_at)
{
    if (strlen(session_id_z) >= STORE_ID_SIZE || gate_revoked(g, session_id_z)) {
        return;
    }
    struct gate_revoked *r = set_get(g);
    struct revoked_ent *x = xcalloc(1, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", session_id_z);
    x->expires_at = expires_at;
    size_t i = bucket(session_id_z);
    pthread_rwlock_wrlock(&r->lock);
    if (r->n >= GATE_REVOKED_MAX) {
        log_warn("access: more than %d revoked sessions remembered", GATE_REVOKED_MAX);
    }
    x->next = r->b[i];
    r->b[i] = x;
    r->n++;
    pthread_rwlock_unlock(&r->lock);
}

/* Forgets the entries whose session has expired. */
static void expire(struct gate_revoked *r, int64_t now)
{
    pthread_rwlock_wrlock(&r->lock);
    for (size_t i = 0; i < REVOKED_BUCKETS; i++) {
        struct revoked_ent **pp = &r->b[i];
        while (*pp != NULL) {
            struct revoked_ent *x = *pp;
            if (x->expires_at != 0 && x->expires_at <= now) {
                *pp = x->next;
                free(x);
                r->n--;
            } else {
                pp = &x->next;
            }
        }
    }
    pthread_rwlock_unlock(&r->lock);
}

int gate_revoked_poll(struct access_gate *g, struct store *s, struct err *e)
{
    struct gate_revoked *r = set_get(g);
    /* revoked_at is stamped before the commit, and nodes' clocks differ: each poll starts a
     * margin before the newest revocation seen (the set ignores what it already holds). */
    int64_t since = g->revoked_since > GATE_REVOKED_MARGIN_S
                        ? g->revoked_since - GATE_REVOKED_MARGIN_S
                        : 0;
    char after[STORE_ID_SIZE] = "";
    for (;;) {
        struct store_access_revoked_list l = {0};
        if (store_access_session_revoked_since(s, since, after, &l, e) != 0) {
            return -1;
        }
        for (size_t i = 0; i < l.n; i++) {
            gate_revoked_add(g, l.v[i].id, l.v[i].expires_at);
            since = l.v[i].revoked_at;
            snprintf(after, sizeof after, "%s", l.v[i].id);
            if (since > g->revoked_since) {
                g->revoked_since = since;
            }
        }
        size_t n = l.n;
        store_access_revoked_list_free(&l);
        if (n < STORE_LIST_MAX) {
            break; /* a full page: there may be more */
        }
    }
    expire(r, util_now());
    return 0;
}

void gate_revoked_free(struct access_gate *g)
{
    struct gate_revoked *r = g->revoked;
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < REVOKED_BUCKETS; i++) {
        for (struct revoked_ent *x = r->b[i]; x != NULL;) {
            struct revoked_ent *next = x->next;
            free(x);
            x = next;
        }
    }
    pthread_rwlock_destroy(&r->lock);
    free(r);
    g->revoked = NULL;
}
