/* Tests of src/keys/file.c: keys on disk, their modes, and refusing unsafe files. */
#include "helpers.h"

#include <fcntl.h>

static char base[] = "/tmp/postern-keys-XXXXXX";
static char dir[600];
static int counter;

static int setup(void **state)
{
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    return rmdir(base);
}

/* A fresh, not yet existing key directory for each test. */
static void fresh_dir(void)
{
    snprintf(dir, sizeof(dir), "%s/keys%d", base, ++counter);
}

static void path_of(char *out, size_t n, const char *name, const char *sfx)
{
    snprintf(out, n, "%s/%s%s", dir, name, sfx);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

static size_t count_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* A ring of one key of each type, saved to a fresh dir. */
static struct keys *saved_ring(char kids[3][KEYS_KID_MAX])
{
    struct err e = {0};
    struct keys *r = keys_new();
    gen_ok(r, "rsa", JOSE_ALG_RS256, kids[0]);
    gen_ok(r, "ec", JOSE_ALG_ES256, kids[1]);
    gen_ok(r, "ed", JOSE_ALG_EDDSA, kids[2]);
    fresh_dir();
    if (keys_save(r, dir, &e) < 0)
        fail_msg("keys_save: %s", e.msg);
    return r;
}

static void save_modes_even_with_umask_0(void **state)
{
    char kids[3][KEYS_KID_MAX], p[1024];
    mode_t old = umask(0);
    struct keys *r = saved_ring(kids);
    umask(old);
    assert_int_equal(mode_of(dir) & 07777, 0700);
    const char *names[] = {"rsa", "ec", "ed"};
    for (size_t i = 0; i < 3; i++) {
        path_of(p, sizeof(p), names[i], KEYS_KEY_SUFFIX);
        assert_true(S_ISREG(mode_of(p)));
        assert_int_equal(mode_of(p) & 07777, 0600);
        path_of(p, sizeof(p), names[i], KEYS_CERT_SUFFIX);
        assert_int_equal(mode_of(p) & 07777, 0644);
    }
    assert_int_equal(count_files(), 6); /* no temporary file left behind */
    keys_free(r);
    rm_dir(dir);

    /* a restrictive umask does not make a certificate unreadable or a key unwritable */
    old = umask(0277);
    r = saved_ring(kids);
    umask(old);
    path_of(p, sizeof(p), "ec", KEYS_KEY_SUFFIX);
    assert_int_equal(mode_of(p) & 07777, 0600);
    path_of(p, sizeof(p), "ec", KEYS_CERT_SUFFIX);
    assert_int_equal(mode_of(p) & 07777, 0644);
    keys_free(r);
    rm_dir(dir);
}

static void reload_gives_same_keys(void **state)
{
    char kids[3][KEYS_KID_MAX];
    struct err e = {0};
    struct keys *r = saved_ring(kids);
    struct keys *again = keys_new();
    if (keys_load_dir(again, dir, &e) < 0)
        fail_msg("keys_load_dir: %s", e.msg);
    assert_int_equal(keys_list(again, NULL, 0), 3);
    for (size_t i = 0; i < 3; i++) {
        struct keys_info a, b;
        assert_int_equal(keys_get(r, kids[i], &a, &e), 0);
        assert_int_equal(keys_get(again, kids[i], &b, &e), 0);
        assert_memory_equal(&a, &b, sizeof(a));
        /* the reloaded private key signs for the public key published before */
        struct jose_jwk *pub = public_jwk(r, kids[i]);
        assert_int_equal(sign_and_verify(again, kids[i], pub, "after restart"), 0);
        jose_jwk_free(pub);
    }
    /* sorted by name: ec, ed, rsa */
    struct keys_info list[3];
    keys_list(again, list, 3);
    assert_string_equal(list[0].name, "ec");
    assert_string_equal(list[2].name, "rsa");

    /* loading twice: the keys are in the ring already, and nothing is added */
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_int_equal(e.code, KEYS_E_EXISTS);
    assert_int_equal(keys_list(again, NULL, 0), 3);

    /* saving again replaces the files in place */
    assert_int_equal(keys_save(again, dir, &e), 0);
    assert_int_equal(count_files(), 6);
    keys_free(again);
    keys_free(r);
    rm_dir(dir);
}

static void readable_private_key_is_refused(void **state)
{
    char kids[3][KEYS_KID_MAX], p[1024];
    struct err e = {0};
    struct keys *r = saved_ring(kids);
    path_of(p, sizeof(p), "ec", KEYS_KEY_SUFFIX);
    const mode_t unsafe[] = {0644, 0640, 0604, 0660, 0602, 0610};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(unsafe); i++) {
        struct keys *again = keys_new();
        assert_int_equal(chmod(p, unsafe[i]), 0);
        assert_int_equal(keys_load_dir(again, dir, &e), -1);
        assert_int_equal(e.code, KEYS_E_PERM);
        assert_non_null(strstr(e.msg, p)); /* names the file */
        assert_non_null(strstr(e.msg, "chmod 600"));
        /* one bad key: none is loaded */
        assert_int_equal(keys_list(again, NULL, 0), 0);
        keys_free(again);
    }
    /* 0400 is fine */
    assert_int_equal(chmod(p, 0400), 0);
    struct keys *again = keys_new();
    assert_int_equal(keys_load_dir(again, dir, &e), 0);
    keys_free(again);
    keys_free(r);
    rm_dir(dir);
}

static void broken_files_are_named(void **state)
{
    char kids[3][KEYS_KID_MAX], p[1024], q[1024];
    struct err e = {0};
    struct keys *r = saved_ring(kids);
    struct keys *again = keys_new();

    /* a key without its certificate */
    path_of(p, sizeof(p), "rsa", KEYS_CERT_SUFFIX);
    path_of(q, sizeof(q), "rsa", ".moved");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_int_equal(e.code, KEYS_E_IO);
    assert_non_null(strstr(e.msg, p));
    assert_int_equal(rename(q, p), 0);

    /* a corrupted key file */
    path_of(p, sizeof(p), "ed", KEYS_KEY_SUFFIX);
    int fd = open(p, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "-----BEGIN PRIVATE KEY-----\nAAAA\n", 33), 33);
    close(fd);
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_non_null(strstr(e.msg, p));
    assert_int_equal(keys_list(again, NULL, 0), 0);

    /* an empty key file */
    fd = open(p, O_WRONLY | O_TRUNC);
    close(fd);
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_non_null(strstr(e.msg, "empty"));
    unlink(p);

    /* a file whose name is not a key name */
    path_of(p, sizeof(p), "bad name", KEYS_KEY_SUFFIX);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    close(fd);
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_non_null(strstr(e.msg, "bad name"));
    unlink(p);

    /* a directory where a key file should be */
    path_of(p, sizeof(p), "d", KEYS_KEY_SUFFIX);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(keys_load_dir(again, dir, &e), -1);
    assert_non_null(strstr(e.msg, "not a regular file"));
    rmdir(p);

    /* other files are ignored: certificates alone, temporary files, notes */
    path_of(p, sizeof(p), ".ec.key.pem.0123", ".tmp");
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    path_of(p, sizeof(p), "README", "");
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    path_of(p, sizeof(p), "ed", KEYS_CERT_SUFFIX);
    unlink(p);
    assert_int_equal(keys_load_dir(again, dir, &e), 0);
    assert_int_equal(keys_list(again, NULL, 0), 2);

    keys_free(again);
    keys_free(r);
    rm_dir(dir);

    /* no such directory */
    again = keys_new();
    assert_int_equal(keys_load_dir(again, "/nonexistent/postern/keys", &e), -1);
    assert_int_equal(e.code, KEYS_E_IO);
    keys_free(again);
}

static void save_replaces_a_planted_symlink(void **state)
{
    char kids[3][KEYS_KID_MAX], p[1024], victim[1024];
    struct err e = {0};
    struct keys *r = saved_ring(kids);
    /* someone replaced the key file by a link to a file of theirs */
    path_of(victim, sizeof(victim), "victim", "");
    int fd = open(victim, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "mine", 4), 4);
    close(fd);
    path_of(p, sizeof(p), "ec", KEYS_KEY_SUFFIX);
    unlink(p);
    assert_int_equal(symlink(victim, p), 0);

    assert_int_equal(keys_save(r, dir, &e), 0);
    /* the link itself was replaced; the key never went to the other file */
    assert_true(S_ISREG(mode_of(p)));
    assert_int_equal(mode_of(p) & 07777, 0600);
    struct stat st;
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 4);
    keys_free(r);
    rm_dir(dir);

    /* the directory must be a directory */
    fresh_dir();
    fd = open(dir, O_WRONLY | O_CREAT, 0600);
    close(fd);
    r = keys_new();
    gen_ok(r, "x", JOSE_ALG_EDDSA, NULL);
    assert_int_equal(keys_save(r, dir, &e), -1);
    assert_int_equal(e.code, KEYS_E_IO);
    unlink(dir);
    keys_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save_modes_even_with_umask_0),    cmocka_unit_test(reload_gives_same_keys),
        cmocka_unit_test(readable_private_key_is_refused), cmocka_unit_test(broken_files_are_named),
        cmocka_unit_test(save_replaces_a_planted_symlink),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
