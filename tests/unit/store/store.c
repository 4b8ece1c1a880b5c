/* Tests of src/store/store.c: choosing a backend from the URL, one connection per thread (on
 * either backend, see testdb.h). */
#include "testdb.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* A TCP port of 127.0.0.1 that nobody listens on (it was free a moment ago). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Both URL schemes reach the PostgreSQL backend; a server that cannot be reached is an I/O
 * error, and the password of the URL never reaches the message. */
static void postgres_unreachable(void **state)
{
    struct err e = {0};
    char url[128];
    const char *schemes[] = {"postgres", "postgresql"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(schemes); i++) {
        snprintf(url, sizeof(url), "%s://u:secret-pw@127.0.0.1:%d/postern", schemes[i],
                 closed_port());
        assert_null(store_open(url, &e));
        assert_int_equal(e.code, STORE_E_IO);
        assert_non_null(strstr(e.msg, "postgres: cannot connect"));
        assert_null(strstr(e.msg, "secret-pw"));
    }
}

/* A thread whose connection could not be opened does not try again, and wait again, on every
 * call: within a second it gets the same cause at once; after it, a new attempt. */
static void store_thread_backs_off_an_unreachable_server(void **state)
{
    struct err e = {0};
    char url[128];
    snprintf(url, sizeof(url), "postgres://u:secret-pw@127.0.0.1:%d/postern", closed_port());
    assert_int_equal(store_global_init(url, &e), 0);
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(strstr(e.msg, "(retrying)"));
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_non_null(strstr(e.msg, "postgres: cannot connect"));
    assert_non_null(strstr(e.msg, "(retrying)"));
    assert_null(store_open_global(&e));
    assert_non_null(strstr(e.msg, "(retrying)"));
    usleep(1100 * 1000);
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(strstr(e.msg, "(retrying)"));
    assert_null(strstr(e.msg, "secret-pw"));
    store_global_shutdown();
}

/* With a server: both schemes open the PostgreSQL backend. */
static void postgres_url_opens_postgres(void **state)
{
    char url[TDB_PATH_MAX];
    const char *rest = strstr(tdb_pg_url(), "://");
    assert_non_null(rest);
    const char *schemes[] = {"postgres", "postgresql"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(schemes); i++) {
        snprintf(url, sizeof(url), "%s%s", schemes[i], rest);
        struct store *s = tdb_open(url);
        assert_string_equal(store_backend(s)->name, "postgres");
        store_close(s);
    }
}

static void unknown_scheme(void **state)
{
    struct err e = {0};
    assert_null(store_open("mysql://root:hunter2@localhost/db", &e));
    assert_int_equal(e.code, STORE_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "unknown URL scheme \"mysql\""));
    assert_null(strstr(e.msg, "hunter2"));

    assert_null(store_open("file:x.db", &e));
    assert_non_null(strstr(e.msg, "\"file\""));
    assert_null(store_open("", &e));
    assert_int_equal(e.code, STORE_E_UNSUPPORTED);
    assert_null(store_open("sqlite:", &e));
    assert_int_equal(e.code, STORE_E_UNSUPPORTED);
    assert_null(store_open("sqlite::memory:", &e));
    assert_int_equal(e.code, STORE_E_UNSUPPORTED);
}

static void sqlite_url_and_plain_path(void **state)
{
    struct err e = {0};
    char url[600], path[512];

    snprintf(path, sizeof(path), "%s/a.db", tdir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    struct store *s = store_open(url, &e);
    assert_non_null(s);
    assert_string_equal(store_backend(s)->name, "sqlite");
    store_close(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    snprintf(path, sizeof(path), "%s/b.db", tdir);
    s = store_open(path, &e);
    assert_non_null(s);
    assert_string_equal(store_backend(s)->name, "sqlite");
    store_close(s);
    assert_int_equal(stat(path, &st), 0);
    store_close(NULL);
}

static void default_url(void **state)
{
    char *u = store_default_url("/var/lib/postern");
    assert_string_equal(u, "sqlite:/var/lib/postern/postern.db");
    free(u);
}

static void missing_directory(void **state)
{
    struct err e = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", tdir);
    assert_null(store_open(path, &e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_non_null(strstr(e.msg, "cannot create"));
}

/* ---- store_thread ------------------------------------------------------------------ */

#define POOL 4

struct worker {
    struct store *first, *second;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void *pool_worker(void *arg)
{
    struct worker *w = arg;
    struct err e = {0};
    struct buf b;
    buf_init(&b, 64);
    w->first = store_thread(&e);
    w->second = store_thread(&e);
    /* the connection works, and sees the database the main thread migrated */
    w->rc = w->first ? store_meta_get(w->first, "who", &b, &e) : -1;
    if (w->rc != 0)
        snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
    buf_free(&b);
    return NULL; /* the key's destructor closes the connection (LeakSanitizer checks) */
}

/* A new database's URL: sqlite:FILE, or a PostgreSQL URL with a new schema. */
static void new_url(char url[TDB_PATH_MAX + 8])
{
    char path[TDB_PATH_MAX];
    tdb_new(path);
    snprintf(url, TDB_PATH_MAX + 8, "%s%s", tdb_pg() ? "" : "sqlite:", path);
}

static void thread_connections(void **state)
{
    struct err e = {0};
    char url[TDB_PATH_MAX + 8];
    new_url(url);

    store_global_shutdown(); /* nothing to shut: harmless */
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_STATE);

    assert_int_equal(store_global_init(url, &e), 0);
    struct store *mine = store_thread(&e);
    assert_non_null(mine);
    assert_ptr_equal(store_thread(&e), mine);
    assert_int_equal(store_migrate(mine, &e), 0);
    assert_int_equal(store_meta_set(mine, "who", SLICE_LIT("main"), &e), 0);

    pthread_t t[POOL];
    struct worker w[POOL];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < POOL; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pool_worker, &w[i]), 0);
    for (int i = 0; i < POOL; i++) {
        pthread_join(t[i], NULL);
        if (w[i].rc != 0)
            fail_msg("worker %d: %s", i, w[i].msg);
        assert_non_null(w[i].first);
        assert_ptr_equal(w[i].first, w[i].second); /* one per thread... */
        assert_ptr_not_equal(w[i].first, mine);    /* ...and not shared */
    }

    /* a new URL after a shutdown: this thread's old connection is not reused */
    store_global_shutdown();
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_STATE);
    new_url(url);
    assert_int_equal(store_global_init(url, &e), 0);
    struct store *again = store_thread(&e);
    assert_non_null(again);
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(store_migrate(again, &e), 0);
    assert_int_equal(store_meta_get(again, "who", &b, &e), STORE_NOT_FOUND);
    buf_free(&b);

    /* a URL that cannot open: NULL and the reason, and the next call tries again */
    if (tdb_pg())
        snprintf(url, sizeof(url), "postgres://u@127.0.0.1:%d/postern", closed_port());
    else
        snprintf(url, sizeof(url), "sqlite:/nonexistent-dir/x.db");
    assert_int_equal(store_global_init(url, &e), 0);
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(store_thread(&e));
    assert_int_equal(store_global_init("", &e), -1);
    store_global_shutdown();
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test(postgres_unreachable),
        cmocka_unit_test(store_thread_backs_off_an_unreachable_server),
        cmocka_unit_test(thread_connections),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test(unknown_scheme),
        cmocka_unit_test(sqlite_url_and_plain_path),
        cmocka_unit_test(default_url),
        cmocka_unit_test(missing_directory),
    };
    const struct CMUnitTest pg_only[] = {cmocka_unit_test(postgres_url_opens_postgres)};
    return TDB_RUN2(both, sqlite_only, pg_only);
}
