/*
 * The store front: picks a backend from the URL, then every call goes through its table.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STORE_URL_MAX 4096

/* Length of a URL scheme ("sqlite", "postgres") before ':', or 0 when url has none
 * (RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). */
static size_t scheme_len(const char *url)
{
    size_t i = 0;
    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return 0;
    for (i = 1; url[i] && url[i] != ':'; i++) {
        char c = url[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-' || c == '.';
        if (!ok)
            return 0;
    }
    return url[i] == ':' ? i : 0;
}

struct store *store_open(const char *url_z, struct err *e)
{
    struct store *s = NULL;
    if (!url_z || !url_z[0]) {
        err_set(e, STORE_E_UNSUPPORTED, "store: empty URL");
        return NULL;
    }
    if (strlen(url_z) > STORE_URL_MAX) {
        err_set(e, STORE_E_UNSUPPORTED, "store: URL longer than %d bytes", STORE_URL_MAX);
        return NULL;
    }
    struct slice scheme = {url_z, scheme_len(url_z)};
    const char *target = url_z;
    const struct store_ops *ops = &store_sqlite_ops;
    if (scheme.n == 0) {
        /* a plain path: SQLite */
    } else if (slice_case_eq_z(scheme, "sqlite")) {
        target = url_z + scheme.n + 1;
    } else if (slice_case_eq_z(scheme, "postgres") || slice_case_eq_z(scheme, "postgresql")) {
        ops = &store_pg_ops; /* libpq reads the whole URL */
    } else {
        /* The scheme is not secret; the rest of the URL may hold a password. */
        err_set(e, STORE_E_UNSUPPORTED,
                "store: unknown URL scheme \"%.*s\" (use sqlite:PATH or a file path)",
                (int)UTIL_MIN(scheme.n, 32), scheme.p);
        return NULL;
    }
    if (ops->open(target, &s, e) < 0)
        return NULL;
    return s;
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

char *store_default_url(const char *data_dir_z)
{
    struct buf b;
    buf_init(&b, STORE_URL_MAX + 64);
    if (buf_printf(&b, "sqlite:%s/%s", data_dir_z, STORE_SQLITE_FILE) < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* ---- one connection per thread ------------------------------------------------------ */

/* After a connection could not be opened, this thread's next attempts within
 * STORE_OPEN_BACKOFF_MS fail at once with the same cause: while a database server is
 * unreachable (worse: silently dropping packets, each attempt waiting for its connect
 * timeout), a request must not spend that wait before its 503. Once open, a PostgreSQL
 * connection has the same backoff of its own (pg_int.h). */
#define STORE_OPEN_BACKOFF_MS 1000

static __thread int64_t open_retry_at_ms;
static __thread unsigned open_failure_gen; /* the URL's generation: another URL starts afresh */
static __thread struct err open_failure;

static struct store *open_backoff(const char *url, unsigned gen, struct err *e)
{
    int64_t now = util_mono_ms();
    if (now < open_retry_at_ms && gen == open_failure_gen) {
        err_set(e, open_failure.code, "%s (retrying)", open_failure.msg);
        return NULL;
    }
    struct err local = {0};
    struct store *s = store_open(url, &local);
    if (s == NULL) {
        if (local.code == STORE_E_IO) {
            open_failure = local;
            open_failure_gen = gen;
            open_retry_at_ms = now + STORE_OPEN_BACKOFF_MS;
        }
        if (e != NULL)
            *e = local;
    }
    return s;
}

/* The URL and a generation number, under a mutex: a thread's connection is reused only if it
 * was opened for the current generation (so a store_global_init after a shutdown, with
 * another URL, is never served by a stale connection). */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static char *global_url;
static unsigned global_gen;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

struct thread_conn {
    struct store *s;
    unsigned gen;
};

static void thread_conn_free(void *p)
{
    struct thread_conn *tc = p;
    if (!tc)
        return;
    store_close(tc->s);
    free(tc);
}

static void key_create(void)
{
    if (pthread_key_create(&thread_key, thread_conn_free) != 0) {
        log_error("store: pthread_key_create failed");
        abort();
    }
}

int store_global_init(const char *url_z, struct err *e)
{
    if (!url_z || !url_z[0])
        return err_set(e, STORE_E_UNSUPPORTED, "store: empty URL");
    if (strlen(url_z) > STORE_URL_MAX)
        return err_set(e, STORE_E_UNSUPPORTED, "store: URL longer than %d bytes", STORE_URL_MAX);
    pthread_once(&key_once, key_create);
    char *copy = xstrdup(url_z);
    pthread_mutex_lock(&global_lock);
    util_free_secret(global_url);
    global_url = copy;
    global_gen++;
    pthread_mutex_unlock(&global_lock);
    return 0;
}

struct store *store_thread(struct err *e)
{
    pthread_once(&key_once, key_create);
    struct thread_conn *tc = pthread_getspecific(thread_key);
    pthread_mutex_lock(&global_lock);
    unsigned gen = global_gen;
    /* The usual case, once per request: no copy of the URL. */
    bool current = tc && tc->s && tc->gen == gen;
    char *url = !current && global_url ? xstrdup(global_url) : NULL;
    pthread_mutex_unlock(&global_lock);

    if (current)
        return tc->s;
    if (!tc) {
        tc = xcalloc(1, sizeof(*tc));
        if (pthread_setspecific(thread_key, tc) != 0) {
            free(tc);
            util_free_secret(url);
            err_set(e, STORE_E_INTERNAL, "store: pthread_setspecific failed");
            return NULL;
        }
    }
    store_close(tc->s); /* opened for an earlier generation */
    tc->s = NULL;
    if (!url) {
        err_set(e, STORE_E_STATE, "store: store_global_init has not been called");
        return NULL;
    }
    tc->s = open_backoff(url, gen, e);
    tc->gen = gen;
    util_free_secret(url);
    return tc->s;
}

struct store *store_open_global(struct err *e)
{
    pthread_mutex_lock(&global_lock);
    char *url = global_url ? xstrdup(global_url) : NULL;
    unsigned gen = global_gen;
    pthread_mutex_unlock(&global_lock);
    if (!url) {
        err_set(e, STORE_E_STATE, "store: store_global_init has not been called");
        return NULL;
    }
    struct store *s = open_backoff(url, gen, e);
    util_free_secret(url);
    return s;
}

unsigned store_global_generation(void)
{
    pthread_mutex_lock(&global_lock);
    unsigned gen = global_gen;
    pthread_mutex_unlock(&global_lock);
    return gen;
}

void store_global_shutdown(void)
{
    pthread_once(&key_once, key_create);
    struct thread_conn *tc = pthread_getspecific(thread_key);
    if (tc) {
        pthread_setspecific(thread_key, NULL);
        thread_conn_free(tc);
    }
    pthread_mutex_lock(&global_lock);
    util_free_secret(global_url);
    global_url = NULL;
    global_gen++;
    pthread_mutex_unlock(&global_lock);
}

const struct store_ops *store_backend(const struct store *s)
{
    return s->ops;
}

int store_schema_version(struct store *s, int *version, struct err *e)
{
    return s->ops->schema_version(s, version, e);
}

int store_schema_latest(const struct store *s)
{
    return s->ops->schema_latest();
}

int store_migrate(struct store *s, struct err *e)
{
    return s->ops->migrate(s, e);
}

int store_meta_get(struct store *s, const char *key_z, struct buf *out, struct err *e)
{
    return s->ops->meta_get(s, key_z, out, e);
}

int store_meta_set(struct store *s, const char *key_z, struct slice value, struct err *e)
{
    return s->ops->meta_set(s, key_z, value, e);
}

int store_meta_delete(struct store *s, const char *key_z, struct err *e)
{
    return s->ops->meta_delete(s, key_z, e);
}

int store_meta_add(struct store *s, const char *key_z, struct slice value, bool *added,
                   struct err *e)
{
    bool ignored;
    return s->ops->meta_add(s, key_z, value, added ? added : &ignored, e);
}

bool store_unavailable(const struct err *e)
{
    return e && (e->code == STORE_E_IO || e->code == STORE_E_BUSY);
}

int store_tx_lock(struct store *s, const char *name_z, struct err *e)
{
    return s->ops->tx_lock(s, name_z, e);
}

int store_tx_begin(struct store *s, struct err *e)
{
    return s->ops->tx_begin(s, e);
}

int store_tx_commit(struct store *s, struct err *e)
{
    return s->ops->tx_commit(s, e);
}

int store_tx_rollback(struct store *s, struct err *e)
{
    return s->ops->tx_rollback(s, e);
}
