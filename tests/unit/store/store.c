/* Tests of src/store/store.c: choosing a backend from the URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(postgres_not_built),        cmocka_unit_test(unknown_scheme),
        cmocka_unit_test(sqlite_url_and_plain_path), cmocka_unit_test(default_url),
        cmocka_unit_test(missing_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
