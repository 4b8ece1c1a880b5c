/*
 * Fuzz target: the chunked body decoder. Differential: the input fed whole, split in two,
 * and one byte at a time must give the same answer, output and consumed count; with a
 * smaller body limit the answer is the same or -413, and the output a prefix.
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

struct run {
    int rc;
    size_t consumed;
    struct buf out;
};

/* Feeds d[0..n) in pieces of `step` bytes (0: whole), each from an exact-size copy. */
static void decode(const char *d, size_t n, size_t step, size_t cap, struct run *r)
{
    struct http_chunked c;
    http_chunked_init(&c);
    buf_init(&r->out, cap);
    r->rc = 1;
    r->consumed = 0;
    size_t at = 0;
    do {
        size_t len = step == 0 ? n - at : UTIL_MIN(step, n - at);
        char *piece = malloc(len ? len : 1);
        CHECK(piece != NULL);
        memcpy(piece, d + at, len);
        size_t used = (size_t)-1;
        r->rc = http_chunked_feed(&c, piece, len, &r->out, &used);
        free(piece);
        CHECK(used <= len);
        CHECK(r->rc != 1 || used == len);
        r->consumed += used;
        at += len;
    } while (r->rc == 1 && at < n);
    CHECK(r->rc == 0 || r->rc == 1 || r->rc == -400 || r->rc == -413);
    CHECK(r->out.len <= cap && r->out.len <= n);
    /* A finished or failed decoder stays so. */
    if (r->rc != 1) {
        size_t used = 1;
        CHECK(http_chunked_feed(&c, "0\r\n\r\n", 5, &r->out, &used) == r->rc && used == 0);
    }
}

static void same(const struct run *a, const struct run *b)
{
    CHECK(a->rc == b->rc);
    CHECK(a->out.len == b->out.len);
    CHECK(a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0);
    CHECK(a->rc != 0 || a->consumed == b->consumed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    struct run whole, split, bytes, small;

    decode(d, size, 0, HTTP_DEFAULT_BODY_LIMIT, &whole);
    decode(d, size, size / 2 + 1, HTTP_DEFAULT_BODY_LIMIT, &split);
    same(&whole, &split);
    if (size <= 1024) {
        decode(d, size, 1, HTTP_DEFAULT_BODY_LIMIT, &bytes);
        same(&whole, &bytes);
        buf_free(&bytes.out);
    }
    decode(d, size, 0, whole.out.len / 2, &small);
    if (small.rc != -413) {
        same(&whole, &small);
    } else {
        CHECK(small.out.len <= whole.out.len);
        CHECK(small.out.len == 0 || memcmp(small.out.p, whole.out.p, small.out.len) == 0);
    }
    buf_free(&whole.out);
    buf_free(&split.out);
    buf_free(&small.out);
    return 0;
}
