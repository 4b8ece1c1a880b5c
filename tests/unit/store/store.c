/* Tests of src/store/store.c: choosing a backend from the URL, one connection per thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

static char dir[] = "/tmp/postern-store-XXXXXX";

static int setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

static void postgres_not_built(void **state)
{
    struct err e = {0};
    const char *urls[] = {"postgres://u:secret@db.example.com/postern",
                          "postgresql://localhost/postern", "POSTGRES://x"};
    for (size_t i = 0; i < 3; i++) {
        assert_null(store_open(urls[i], &e));
        assert_int_equal(e.code, STORE_E_UNSUPPORTED);
        assert_string_equal(e.msg, "store: PostgreSQL backend not built yet");
        /* the password of the URL never reaches the message */
        assert_null(strstr(e.msg, "secret"));
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

    snprintf(path, sizeof(path), "%s/a.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    struct store *s = store_open(url, &e);
    assert_non_null(s);
    assert_string_equal(store_backend(s)->name, "sqlite");
    store_close(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    snprintf(path, sizeof(path), "%s/b.db", dir);
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
    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", dir);
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

static void thread_connections(void **state)
{
    struct err e = {0};
    char path[512], url[600];
    snprintf(path, sizeof(path), "%s/pool.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);

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
    snprintf(path, sizeof(path), "%s/pool2.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    assert_int_equal(store_global_init(url, &e), 0);
    struct store *again = store_thread(&e);
    assert_non_null(again);
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(store_migrate(again, &e), 0);
    assert_int_equal(store_meta_get(again, "who", &b, &e), STORE_NOT_FOUND);
    buf_free(&b);

    /* a URL that cannot open: NULL and the reason, and the next call tries again */
    assert_int_equal(store_global_init("sqlite:/nonexistent-dir/x.db", &e), 0);
    assert_null(store_thread(&e));
    assert_int_equal(e.code, STORE_E_IO);
    assert_null(store_thread(&e));
    assert_int_equal(store_global_init("", &e), -1);
    store_global_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(postgres_not_built),        cmocka_unit_test(unknown_scheme),
        cmocka_unit_test(sqlite_url_and_plain_path), cmocka_unit_test(default_url),
        cmocka_unit_test(missing_directory),         cmocka_unit_test(thread_connections),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
