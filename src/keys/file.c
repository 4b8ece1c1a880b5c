/*
 * Keys on disk: <dir>/<name>.key.pem (0600) and <dir>/<name>.crt.pem (0644). Written to a
 * temporary file created with O_EXCL and the final mode, fsynced, renamed into place, so that
 * a crash never leaves a half-written key and the umask never widens a private key's mode.
 */
#include "keys/keys_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_PATH_MAX  4096
#define KEYS_DIR_MODE  0700
#define KEYS_PRIV_MODE 0600
#define KEYS_CERT_MODE 0644
#define KEYS_TMP_RAND  8 /* random bytes in a temporary file name */

static int path_join(char *out, size_t cap, const char *dir, const char *name, const char *sfx,
                     struct err *e)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, sfx);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e, KEYS_E_IO, "keys: path under %.64s... too long", dir);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes dir/name+sfx atomically with exactly `mode`. */
static int write_atomic(const char *dir, const char *name, const char *sfx, const char *data,
                        size_t n, mode_t mode, struct err *e)
{
    char final[KEYS_PATH_MAX], tmp[KEYS_PATH_MAX], tmpname[KEYS_NAME_MAX + 64];
    uint8_t rnd[KEYS_TMP_RAND];
    struct buf hex;
    util_random(rnd, sizeof(rnd));
    buf_init(&hex, 4 * KEYS_TMP_RAND);
    hex_encode(rnd, sizeof(rnd), &hex);
    snprintf(tmpname, sizeof(tmpname), ".%s%s.%s", name, sfx, hex.p ? hex.p : "x");
    buf_free(&hex);
    if (path_join(final, sizeof(final), dir, name, sfx, e) < 0 ||
        path_join(tmp, sizeof(tmp), dir, tmpname, ".tmp", e) < 0)
        return -1;

    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return err_set(e, KEYS_E_IO, "keys: cannot create %s: %s", tmp, strerror(errno));
    /* The umask can only have removed bits: set the exact mode before any byte is written. */
    const char *what = "chmod";
    if (fchmod(fd, mode) < 0)
        goto fail;
    what = "write";
    if (write_all(fd, data, n) < 0)
        goto fail;
    what = "fsync";
    if (fsync(fd) < 0)
        goto fail;
    what = "close";
    int rc = close(fd);
    fd = -1;
    if (rc < 0)
        goto fail;
    what = "rename";
    if (rename(tmp, final) < 0)
        goto fail;
    fsync_dir(dir);
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return err_set(e, KEYS_E_IO, "keys: %s %s: %s", what, final, strerror(saved));
}

static int save_key(const struct key *k, const char *dir, struct err *e)
{
    char *kp = NULL, *cp = NULL;
    size_t kn = 0, cn = 0;
    int rc = -1;
    if (keys_x509_pem(k->cert, &cp, &cn, e) < 0 || keys_priv_pem(k->priv, &kp, &kn, e) < 0)
        goto done;
    /* The certificate first: a key file is never left without its certificate. */
    if (write_atomic(dir, k->name, KEYS_CERT_SUFFIX, cp, cn, KEYS_CERT_MODE, e) < 0 ||
        write_atomic(dir, k->name, KEYS_KEY_SUFFIX, kp, kn, KEYS_PRIV_MODE, e) < 0)
        goto done;
    rc = 0;
done:
    util_free_secret(kp);
    free(cp);
    return rc;
}

int keys_save(struct keys *r, const char *dir_z, struct err *e)
{
    struct stat st;
    if (mkdir(dir_z, KEYS_DIR_MODE) < 0 && errno != EEXIST)
        return err_set(e, KEYS_E_IO, "keys: cannot create %s: %s", dir_z, strerror(errno));
    if (stat(dir_z, &st) < 0 || !S_ISDIR(st.st_mode))
        return err_set(e, KEYS_E_IO, "keys: %s is not a directory", dir_z);
    int rc = 0;
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < r->n && rc == 0; i++)
        rc = save_key(r->k[i], dir_z, e);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

/* ---- loading ----------------------------------------------------------- */

/* Reads a whole file (at most KEYS_PEM_MAX bytes) into *out (xmalloc'd, KEYS_PEM_MAX + 1
 * bytes: wipe them when secret). A secret file must be ours (or root's) and mode 0600/0400. */
static int read_file(const char *path, bool secret, char **out, size_t *len, struct err *e)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return err_set(e, KEYS_E_IO, "keys: cannot open %s: %s", path, strerror(errno));
    int rc = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(e, KEYS_E_IO, "keys: %s is not a regular file", path);
        goto done;
    }
    if (secret && (st.st_mode & 077) != 0) {
        err_set(e, KEYS_E_PERM,
                "keys: private key file %s is accessible by group or others (mode %04o); "
                "run: chmod 600 %s",
                path, (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    if (secret && st.st_uid != geteuid() && st.st_uid != 0) {
        err_set(e, KEYS_E_PERM, "keys: private key file %s belongs to uid %u, not to us", path,
                (unsigned)st.st_uid);
        goto done;
    }
    char *p = xmalloc(KEYS_PEM_MAX + 1);
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, p + n, KEYS_PEM_MAX + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || n + (size_t)got > KEYS_PEM_MAX || (got == 0 && n == 0)) {
            err_set(e, KEYS_E_IO, "keys: %s: %s", path,
                    got < 0    ? strerror(errno)
                    : got == 0 ? "empty file"
                               : "file too big");
            util_wipe(p, KEYS_PEM_MAX + 1);
            free(p);
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = p;
    *len = n;
    rc = 0;
done:
    close(fd);
    return rc;
}

static struct key *load_key(const char *dir, const char *name, struct err *e)
{
    char kpath[KEYS_PATH_MAX], cpath[KEYS_PATH_MAX];
    char *kp = NULL, *cp = NULL;
    size_t kn = 0, cn = 0;
    struct key *k = NULL;
    if (path_join(kpath, sizeof(kpath), dir, name, KEYS_KEY_SUFFIX, e) < 0 ||
        path_join(cpath, sizeof(cpath), dir, name, KEYS_CERT_SUFFIX, e) < 0)
        return NULL;
    if (read_file(kpath, true, &kp, &kn, e) < 0 || read_file(cpath, false, &cp, &cn, e) < 0)
        goto done;
    k = keys_key_from_pem(name, (struct slice){kp, kn}, (struct slice){cp, cn}, e);
    if (!k)
        err_prefix(e, "%s", kpath);
done:
    if (kp) {
        util_wipe(kp, KEYS_PEM_MAX + 1);
        free(kp);
    }
    free(cp);
    return k;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir's key files, sorted, so that loading order is stable. */
static int list_names(const char *dir, char **names, size_t *count, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, sl = strlen(KEYS_KEY_SUFFIX);
    int rc = 0;
    if (!d)
        return err_set(e, KEYS_E_IO, "keys: cannot open directory %s: %s", dir, strerror(errno));
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= sl || strcmp(de->d_name + len - sl, KEYS_KEY_SUFFIX))
            continue; /* ".", "..", temporary files, certificates, anything else */
        char *name = xstrndup(de->d_name, len - sl);
        if (keys_check_name(name, e) < 0) {
            rc = err_prefix(e, "%s/%s", dir, de->d_name);
            free(name);
        } else if (n == KEYS_MAX) {
            rc = err_set(e, KEYS_E_FULL, "keys: %s holds more than %d keys", dir, KEYS_MAX);
            free(name);
        } else {
            names[n++] = name;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    *count = n;
    return rc;
}

int keys_load_dir(struct keys *r, const char *dir_z, struct err *e)
{
    char *names[KEYS_MAX];
    struct key *loaded[KEYS_MAX];
    size_t n = 0, nk = 0;
    int rc = list_names(dir_z, names, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        loaded[nk] = load_key(dir_z, names[i], e);
        if (!loaded[nk])
            rc = -1;
        else
            nk++;
    }
    if (rc == 0 && keys_ring_add_all(r, loaded, nk, e) == 0)
        nk = 0; /* the ring owns them */
    else
        rc = -1;
    for (size_t i = 0; i < nk; i++)
        keys_key_free(loaded[i]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rc == 0 && n > 0)
        log_info("keys: loaded %zu key(s) from %s", n, dir_z);
    return rc;
}
