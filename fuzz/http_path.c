/*
 * Fuzz target: the canonical path decode. Checks the shape of every accepted path (starts
 * with '/', no empty, "." or ".." segment, no control byte, no backslash), that a cap of
 * target.n is enough, and that the canonical form, re-encoded, is a fixed point.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_shape(const struct buf *path)
{
    const char *p = path->p;
    size_t n = path->len;
    CHECK(n >= 1 && p[0] == '/' && strlen(p) == n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
    /* Segments between slashes: none empty (except after a final '/'), none "." or "..". */
    size_t i = 1;
    while (i < n) {
        const char *slash = memchr(p + i, '/', n - i);
        size_t end = slash ? (size_t)(slash - p) : n;
        size_t len = end - i;
        CHECK(len > 0);
        CHECK(!(len == 1 && p[i] == '.'));
        CHECK(!(len == 2 && p[i] == '.' && p[i + 1] == '.'));
        i = end + 1;
    }
}

/* Encodes what the raw form cannot hold; '/' stays a separator. */
static void reencode(const struct buf *path, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < path->len; i++) {
        unsigned char c = (unsigned char)path->p[i];
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            CHECK(buf_append(out, e, 3) == 0);
        } else {
            CHECK(buf_append_c(out, (char)c) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice t = {(const char *)data, size};
    struct buf path, tight, enc, again;
    struct slice q, q2;
    buf_init(&path, 1 << 20);
    buf_init(&tight, size);
    int rc = http_path_canonical(t, &path, &q);
    CHECK(rc == 0 || rc == -1);
    CHECK(http_path_canonical(t, &tight, &q2) == rc);
    if (rc == 0) {
        check_shape(&path);
        CHECK(path.len <= size);
        CHECK(tight.len == path.len && memcmp(tight.p, path.p, path.len) == 0);
        CHECK(q.p == q2.p && q.n == q2.n);
        CHECK(q.p == NULL || (q.p > t.p && q.p + q.n == t.p + t.n && q.p[-1] == '?'));

        buf_init(&enc, 3 * size + 1);
        reencode(&path, &enc);
        buf_init(&again, 1 << 20);
        CHECK(http_path_canonical((struct slice){enc.p, enc.len}, &again, &q2) == 0);
        CHECK(again.len == path.len && memcmp(again.p, path.p, path.len) == 0);
        buf_free(&again);
        buf_free(&enc);
    } else {
        CHECK(path.len == 0 && q.p == NULL && q.n == 0);
    }
    buf_free(&path);
    buf_free(&tight);
    return 0;
}
