/*
 * record.c: recording issued tokens, with group commit.
 *
 * Every token response records its tokens and its token_issued event before it is sent
 * (introspection, revocation and code-replay revocation need the rows at once). With SQLite,
 * a commit costs far more than the rows it holds: it appends every page it changed to the WAL
 * (the token table, its primary key and indexes, the events table and its indexes), which goes
 * to disk at the next checkpoint. The rows of concurrent responses land mostly on the same
 * pages (the newest ones), so committing them together writes a fraction of it (measured at
 * the token endpoint, client_credentials: 58 KB written per token with a commit each, 25 KB
 * with four workers batching, 22 KB with sixteen).
 *
 * The rows of a response are known before its tokens are signed (the jti, the refresh token,
 * the scope, the expiry: a signature adds nothing to them), so a worker queues them first
 * (oidc_record_queue), signs, then waits for them (oidc_record_finish). A worker that finds
 * its rows still queued and nobody committing commits everything queued, in one transaction
 * of one connection kept here (the leader); its page cache stays warm, where a commit by
 * another connection would empty it. While a worker signs (a quarter of a millisecond for
 * RS256), the others queue theirs: a batch holds the responses being signed, and a worker
 * usually finds its rows committed by someone else's batch when it has signed. Nobody waits
 * on purpose, so a lone request is never delayed. A batch that fails is retried one response
 * at a time, so that one bad record fails only its own response.
 *
 * The other writes of the token endpoint (taking an authorization code) go through the same
 * queue (oidc_record_run), so that they share the batches and the warm connection instead of
 * contending with them for SQLite's write lock.
 */
#include "oidc/oidc_int.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
/* Under rec_mu: */
static struct oidc_rec *rec_head, *rec_tail; /* queued, not yet taken by a leader */
static bool rec_leading;                     /* a leader is committing a batch */
/* The connection every leader commits on, one leader at a time. */
static struct store *rec_conn;
static unsigned rec_conn_gen;

/* ---- the records of one response ------------------------------------------------ */

static int record(struct store *s, const struct oidc_grant *g, enum store_token_kind kind,
                  const char *key, const char *scope, int64_t exp, struct err *e)
{
    struct store_token t = {
        .kind = kind,
        .provider_id = g->p->id,
        .user_id = g->user ? g->user->id : 0,
        .scope = (char *)scope,
        .expires_at = exp,
    };
    snprintf(t.code_id, sizeof t.code_id, "%s", g->code_id ? g->code_id : "");
    snprintf(t.session_id, sizeof t.session_id, "%s", g->session_id ? g->session_id : "");
    return store_token_insert(s, slice_z(key), &t, e);
}

/* Inside an open transaction: 0, STORE_REVOKED (nothing of it recorded: the grant was
 * closed) or -1. */
static int record_item(struct store *s, struct oidc_rec *r)
{
    if (r->fn != NULL) {
        return r->fn(s, r->fn_arg, &r->e);
    }
    const struct oidc_grant *g = r->g;
    int rc = record(s, g, STORE_TOKEN_ACCESS, r->jti, r->scope, r->access_exp, &r->e);
    if (rc == 0 && r->refresh_token != NULL) {
        int64_t rttl = g->p->refresh_token_validity > 0 ? g->p->refresh_token_validity
                                                        : OIDC_DEFAULT_REFRESH_TTL;
        rc =
            record(s, g, STORE_TOKEN_REFRESH, r->refresh_token, r->scope, util_now() + rttl, &r->e);
    }
    if (rc == 0 && r->in_tx != NULL) {
        r->in_tx(r->arg, s, r->scope);
    }
    return rc;
}

/* One item in a transaction of its own. A positive result is an answer, not a failure: it
 * commits what the item did (the revocations of a replayed code, as in a batch). */
static int record_alone(struct store *s, struct oidc_rec *r)
{
    if (store_tx_begin(s, &r->e) != 0) {
        return -1;
    }
    int rc = record_item(s, r);
    if (rc >= 0 && store_tx_commit(s, &r->e) == 0) {
        return rc;
    }
    struct err ignored = {0};
    store_tx_rollback(s, &ignored); /* the first error stays in r->e */
    return -1;
}

static void commit_batch(struct store *s, struct oidc_rec *batch)
{
    struct err e = {0};
    if (batch->next == NULL) {
        batch->rc = record_alone(s, batch);
        return;
    }
    if (store_tx_begin(s, &e) == 0) {
        bool failed = false;
        for (struct oidc_rec *r = batch; r != NULL && !failed; r = r->next) {
            r->rc = record_item(s, r);
            failed = r->rc < 0;
        }
        if (!failed && store_tx_commit(s, &e) == 0) {
            return;
        }
        struct err ignored = {0};
        store_tx_rollback(s, &ignored);
    }
    for (struct oidc_rec *r = batch; r != NULL; r = r->next) {
        memset(&r->e, 0, sizeof r->e);
        r->rc = record_alone(s, r);
    }
}

/* The shared connection, (re)opened for the store's current generation; else the worker's
 * own s. Called by the leader only. */
static struct store *leader_conn(struct store *s)
{
    unsigned gen = store_global_generation();
    if (rec_conn != NULL && rec_conn_gen == gen) {
        return rec_conn;
    }
    store_close(rec_conn);
    struct err e = {0};
    rec_conn = store_open_global(&e);
    rec_conn_gen = gen;
    if (rec_conn == NULL) {
        log_warn("oidc: token records: %s (using the worker's connection)", e.msg);
        return s;
    }
    return rec_conn;
}

void oidc_record_shutdown(void)
{
    pthread_mutex_lock(&rec_mu);
    store_close(rec_conn);
    rec_conn = NULL;
    pthread_mutex_unlock(&rec_mu);
}

/* ---- group commit ------------------------------------------------------------------ */

void oidc_record_queue(struct oidc_rec *r)
{
    r->rc = -1;
    r->done = r->taken = r->waiting = false;
    r->next = NULL;
    memset(&r->e, 0, sizeof r->e);
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_lock(&rec_mu);
    if (rec_tail != NULL) {
        rec_tail->next = r;
    } else {
        rec_head = r;
    }
    rec_tail = r;
    pthread_mutex_unlock(&rec_mu);
}

/* Under rec_mu: commits up to OIDC_RECORD_BATCH_MAX queued responses, then hands the lead
 * to a waiting owner of a response still queued, if any. */
static void lead(struct store *s)
{
    rec_leading = true;
    struct oidc_rec *batch = rec_head, *last = rec_head;
    last->taken = true;
    for (size_t n = 1; n < OIDC_RECORD_BATCH_MAX && last->next != NULL; n++) {
        last = last->next;
        last->taken = true;
    }
    rec_head = last->next;
    if (rec_head == NULL) {
        rec_tail = NULL;
    }
    last->next = NULL;
    pthread_mutex_unlock(&rec_mu);
    commit_batch(leader_conn(s), batch);
    pthread_mutex_lock(&rec_mu);
    for (struct oidc_rec *r = batch, *next; r != NULL; r = next) {
        next = r->next; /* once done, a record belongs to its owner again */
        r->done = true;
        pthread_cond_signal(&r->cv);
    }
    rec_leading = false;
    for (struct oidc_rec *r = rec_head; r != NULL; r = r->next) {
        if (r->waiting) {
            pthread_cond_signal(&r->cv); /* the next leader */
            break;
        }
    }
}

int oidc_record_finish(struct oidc_rec *r, struct store *s, struct err *e)
{
    pthread_mutex_lock(&rec_mu);
    while (!r->done) {
        if (!rec_leading && !r->taken) {
            lead(s);
        } else {
            r->waiting = true;
            pthread_cond_wait(&r->cv, &rec_mu);
        }
    }
    pthread_mutex_unlock(&rec_mu);
    pthread_cond_destroy(&r->cv);
    if (r->rc < 0) {
        *e = r->e;
    }
    return r->rc;
}

int oidc_record_run(struct store *s, oidc_store_fn fn, void *arg, struct err *e)
{
    struct oidc_rec r = {.fn = fn, .fn_arg = arg};
    oidc_record_queue(&r);
    return oidc_record_finish(&r, s, e);
}

void oidc_record_cancel(struct oidc_rec *r)
{
    pthread_mutex_lock(&rec_mu);
    if (!r->taken) {
        struct oidc_rec **pp = &rec_head, *prev = NULL;
        while (*pp != r) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = r->next;
        if (rec_tail == r) {
            rec_tail = prev;
        }
    } else {
        while (!r->done) { /* a leader holds it: its memory must outlive the commit */
            r->waiting = true;
            pthread_cond_wait(&r->cv, &rec_mu);
        }
    }
    pthread_mutex_unlock(&rec_mu);
    pthread_cond_destroy(&r->cv);
}
