/*
 * Unit tests of src/http/chunked.c: the chunked transfer coding decoder (RFC 9112 section 7.1).
 * Every input is fed whole, split at every point, and one byte at a time, each piece from an
 * exact-size heap copy; all must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

/* Feeds p[0..n) from an exact-size copy. */
static int feed_exact(struct http_chunked *c, const char *p, size_t n, struct buf *out,
                      size_t *consumed)
{
    char *copy = xmalloc(n ? n : 1);
    memcpy(copy, p, n);
    *consumed = 99999;
    int rc = http_chunked_feed(c, copy, n, out, consumed);
    free(copy);
    assert_true(*consumed <= n);
    if (rc == 1) {
        assert_int_equal(*consumed, n);
    }
    return rc;
}

struct result {
    int rc;
    size_t consumed; /* total over the feeds, up to the end or the error */
    char out[512];
    size_t out_len;
};

/* Decodes in[0..n) in pieces cut at the given points (sorted, ending with n). */
static void decode_pieces(const char *in, size_t n, const size_t *cuts, size_t ncuts, size_t cap,
                          struct result *r)
{
    struct http_chunked c;
    struct buf out;
    http_chunked_init(&c);
    buf_init(&out, cap);
    size_t at = 0;
    r->rc = 1;
    r->consumed = 0;
    for (size_t i = 0; i < ncuts && r->rc == 1; i++) {
        size_t used;
        r->rc = feed_exact(&c, in + at, cuts[i] - at, &out, &used);
        r->consumed += used;
        at = cuts[i];
    }
    assert_true(out.len < sizeof r->out);
    r->out_len = out.len;
    memcpy(r->out, out.p ? out.p : "", out.len);
    buf_free(&out);
}

/* Whole, every split point, one byte at a time: the same result each time. */
static struct result check_all_splits(const char *in, size_t n, size_t cap)
{
    struct result whole, part;
    size_t cuts[2] = {n, n};
    decode_pieces(in, n, cuts, 1, cap, &whole);
    for (size_t k = 0; k <= n; k++) {
        cuts[0] = k;
        decode_pieces(in, n, cuts, 2, cap, &part);
        if (part.rc != whole.rc || part.out_len != whole.out_len ||
            memcmp(part.out, whole.out, part.out_len) != 0 ||
            (whole.rc == 0 && part.consumed != whole.consumed)) {
            fail_msg("split at %zu: rc %d vs %d", k, part.rc, whole.rc);
        }
    }
    size_t *each = xmalloc((n + 1) * sizeof(size_t));
    for (size_t k = 0; k < n; k++) {
        each[k] = k + 1;
    }
    decode_pieces(in, n, each, n, cap, &part);
    free(each);
    if (part.rc != whole.rc || part.out_len != whole.out_len ||
        memcmp(part.out, whole.out, part.out_len) != 0 ||
        (whole.rc == 0 && part.consumed != whole.consumed)) {
        fail_msg("byte at a time: rc %d vs %d", part.rc, whole.rc);
    }
    return whole;
}

#define CHECK(lit, cap) check_all_splits((lit), sizeof(lit) - 1, (cap))

static void expect_body(const char *in, size_t n, const char *body, size_t consumed)
{
    struct result r = check_all_splits(in, n, 4096);
    if (r.rc != 0) {
        fail_msg("%.*s -> %d", (int)n, in, r.rc);
    }
    assert_int_equal(r.out_len, strlen(body));
    assert_memory_equal(r.out, body, r.out_len);
    assert_int_equal(r.consumed, consumed);
}
#define BODY(lit, body) expect_body((lit), sizeof(lit) - 1, (body), sizeof(lit) - 1)

static void test_valid(void **state)
{
    BODY("0\r\n\r\n", "");
    BODY("5\r\nhello\r\n0\r\n\r\n", "hello");
    BODY("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    BODY("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
    BODY("0005\r\nhello\r\n000\r\n\r\n", "hello");
    BODY("1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n"); /* data is opaque */
    /* chunk extensions are skipped (section 7.1.1) */
    BODY("5;name=value\r\nhello\r\n0\r\n\r\n", "hello");
    BODY("5;a;b=\"q;x\\\" y\"\r\nhello\r\n0;last\r\n\r\n", "hello");
    BODY("5;\r\nhello\r\n0\r\n\r\n", "hello");
    /* trailer fields are read and discarded (section 7.1.2) */
    BODY("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: \t2\r\n\r\n", "hello");
    BODY("5\r\nhello\r\n0\r\nX:\r\n\r\n", "hello");
}

static void test_binary_data(void **state)
{
    static const char in[] = "4\r\n\0\xff\r\x01\r\n0\r\n\r\n";
    struct result r = CHECK(in, 100);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out_len, 4);
    assert_memory_equal(r.out, "\0\xff\r\x01", 4);
}

static void test_next_request_follows(void **state)
{
    static const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    struct result r = CHECK(in, 100);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.consumed, strlen("3\r\nabc\r\n0\r\n\r\n"));
    assert_int_equal(r.out_len, 3);
}

static void test_incomplete(void **state)
{
    static const char *prefixes[] = {"",
                                     "5",
                                     "5\r",
                                     "5\r\nhel",
                                     "5\r\nhello",
                                     "5\r\nhello\r",
                                     "5\r\nhello\r\n",
                                     "0\r\n",
                                     "0\r\nX: 1\r\n",
                                     "0\r\n\r",
                                     "5;ext",
                                     "0\r\nX"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(prefixes); i++) {
        struct result r = check_all_splits(prefixes[i], strlen(prefixes[i]), 100);
        if (r.rc != 1) {
            fail_msg("\"%s\" -> %d", prefixes[i], r.rc);
        }
        assert_int_equal(r.consumed, strlen(prefixes[i]));
    }
}

static void test_malformed(void **state)
{
    static const struct {
        const char *name;
        const char *in;
    } cases[] = {
        {"empty size", "\r\nhello\r\n0\r\n\r\n"},
        {"leading SP", " 5\r\nhello\r\n0\r\n\r\n"},
        {"trailing SP", "5 \r\nhello\r\n0\r\n\r\n"},
        {"trailing HTAB", "5\t\r\nhello\r\n0\r\n\r\n"},
        {"BWS before ;", "5 ;x\r\nhello\r\n0\r\n\r\n"},
        {"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
        {"minus sign", "-5\r\nhello\r\n0\r\n\r\n"},
        {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
        {"not hex", "g\r\n"},
        {"hex then junk", "5g\r\nhello\r\n0\r\n\r\n"},
        {"bare LF after size", "5\nhello\r\n0\r\n\r\n"},
        {"bare CR after size", "5\rhello\r\n0\r\n\r\n"},
        {"data too long", "5\r\nhello!\r\n0\r\n\r\n"},
        {"data then bare LF", "5\r\nhello\n0\r\n\r\n"},
        {"data then bare CR", "5\r\nhello\r0\r\n\r\n"},
        {"data without CRLF", "5\r\nhello0\r\n\r\n"},
        {"2^64", "10000000000000000\r\n"},
        {"2^64 with zeros", "0010000000000000000\r\n"},
        {"huge", "fffffffffffffffffffff\r\n"},
        {"NUL in size", "5\0\r\nhello\r\n0\r\n\r\n"},
        {"LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"},
        {"CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
        {"NUL in extension", "5;a\0\r\nhello\r\n0\r\n\r\n"},
        {"DEL in extension", "5;a\x7f\r\nhello\r\n0\r\n\r\n"},
        {"last chunk bare LF", "0\n\r\n"},
        {"final bare LF", "0\r\n\n"},
        {"final bare CR", "0\r\n\rX"},
        {"trailer obs-fold", "0\r\nX: 1\r\n 2\r\n\r\n"},
        {"trailer leading HTAB", "0\r\n\tX: 1\r\n\r\n"},
        {"trailer bare LF", "0\r\nX: 1\n\r\n"},
        {"trailer bare CR", "0\r\nX: 1\rY\r\n\r\n"},
        {"trailer NUL", "0\r\nX: \0\r\n\r\n"},
        {"trailer control", "0\r\nX: \x01\r\n\r\n"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        /* the literals may hold a NUL: measure up to the last "\r\n" written */
        const char *in = cases[i].in;
        size_t n = strlen(in);
        if (strcmp(cases[i].name, "NUL in size") == 0) {
            n = sizeof("5\0\r\nhello\r\n0\r\n\r\n") - 1;
        } else if (strcmp(cases[i].name, "NUL in extension") == 0) {
            n = sizeof("5;a\0\r\nhello\r\n0\r\n\r\n") - 1;
        } else if (strcmp(cases[i].name, "trailer NUL") == 0) {
            n = sizeof("0\r\nX: \0\r\n\r\n") - 1;
        }
        struct result r = check_all_splits(in, n, 4096);
        if (r.rc != -400) {
            fail_msg("%s -> %d", cases[i].name, r.rc);
        }
    }
}

/* The largest size that parses: 2^64-1, refused by the cap, never wrapped around. */
static void test_size_bounds(void **state)
{
    struct result r = CHECK("ffffffffffffffff\r\n", 1 << 20);
    assert_int_equal(r.rc, -413);
    r = CHECK("0000000000000000000000000ffffffffffffffff\r\n", 1 << 20);
    assert_int_equal(r.rc, -413);
    r = CHECK("FFFFFFFFFFFFFFFF0\r\n", 1 << 20);
    assert_int_equal(r.rc, -400);
}

static void test_body_limit(void **state)
{
    static const char in[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    struct result r = CHECK(in, 10);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out_len, 10);
    r = CHECK(in, 9);
    assert_int_equal(r.rc, -413);
    assert_int_equal(r.out_len, 5); /* refused on the size line, before the data */
    assert_int_equal(r.consumed, strlen("5\r\nhello\r\n5\r"));
    r = CHECK("1\r\na\r\n0\r\n\r\n", 0);
    assert_int_equal(r.rc, -413);
    r = CHECK("0\r\n\r\n", 0);
    assert_int_equal(r.rc, 0);
    r = CHECK("1000000\r\n", HTTP_DEFAULT_BODY_LIMIT);
    assert_int_equal(r.rc, -413);
}

static void test_line_limits(void **state)
{
    /* the size line without its CRLF: at most HTTP_MAX_CHUNK_LINE bytes */
    char *in = xmalloc(HTTP_MAX_CHUNK_LINE + 64);
    for (int extra = 0; extra <= 1; extra++) {
        size_t line = HTTP_MAX_CHUNK_LINE + (size_t)extra;
        in[0] = '1';
        in[1] = ';';
        memset(in + 2, 'e', line - 2);
        memcpy(in + line, "\r\nx\r\n0\r\n\r\n", 10);
        struct http_chunked c;
        struct buf out;
        size_t used;
        http_chunked_init(&c);
        buf_init(&out, 100);
        int rc = feed_exact(&c, in, line + 10, &out, &used);
        assert_int_equal(rc, extra ? -400 : 0);
        if (extra) {
            assert_int_equal(used, HTTP_MAX_CHUNK_LINE); /* the byte that overflows */
        }
        buf_free(&out);
        /* leading zeros count as well */
        memset(in, '0', line - 1);
        in[line - 1] = '1';
        http_chunked_init(&c);
        buf_init(&out, 100);
        rc = feed_exact(&c, in, line + 10, &out, &used);
        assert_int_equal(rc, extra ? -400 : 0);
        buf_free(&out);
    }
    free(in);

    /* trailer field lines without their CRLFs: at most HTTP_MAX_HEADER_BYTES in all */
    size_t cap = HTTP_MAX_HEADER_BYTES + 64;
    in = xmalloc(cap);
    for (int extra = 0; extra <= 1; extra++) {
        size_t half = HTTP_MAX_HEADER_BYTES / 2;
        size_t n = 0;
        memcpy(in, "0\r\n", 3);
        n = 3;
        memcpy(in + n, "A:", 2);
        memset(in + n + 2, 'a', half - 2);
        n += half;
        memcpy(in + n, "\r\nB:", 4);
        memset(in + n + 4, 'b', half - 2 + (size_t)extra);
        n += 4 + half - 2 + (size_t)extra;
        memcpy(in + n, "\r\n\r\n", 4);
        n += 4;
        struct http_chunked c;
        struct buf out;
        size_t used;
        http_chunked_init(&c);
        buf_init(&out, 100);
        int rc = feed_exact(&c, in, n, &out, &used);
        assert_int_equal(rc, extra ? -400 : 0);
        if (!extra) {
            assert_int_equal(used, n);
        }
        buf_free(&out);
    }
    free(in);
}

static void test_sticky(void **state)
{
    struct http_chunked c;
    struct buf out;
    size_t used;
    http_chunked_init(&c);
    buf_init(&out, 100);
    assert_int_equal(feed_exact(&c, "5\r\nhello\r\n0\r\n\r\nxyz", 18, &out, &used), 0);
    assert_int_equal(used, 15);
    assert_int_equal(feed_exact(&c, "1\r\na\r\n", 6, &out, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(out.len, 5);

    http_chunked_init(&c);
    buf_reset(&out);
    assert_int_equal(feed_exact(&c, "5x", 2, &out, &used), -400);
    assert_int_equal(used, 1);
    assert_int_equal(feed_exact(&c, "\r\nhello", 7, &out, &used), -400);
    assert_int_equal(used, 0);

    http_chunked_init(&c);
    buf_free(&out);
    buf_init(&out, 2);
    assert_int_equal(feed_exact(&c, "5\r\n", 3, &out, &used), -413);
    assert_int_equal(feed_exact(&c, "hello", 5, &out, &used), -413);
    assert_int_equal(used, 0);
    buf_free(&out);

    /* an empty feed changes nothing */
    http_chunked_init(&c);
    buf_init(&out, 100);
    assert_int_equal(feed_exact(&c, "", 0, &out, &used), 1);
    assert_int_equal(used, 0);
    buf_free(&out);
}

/* The chunked bodies of the malformed-request vectors decode to the status in their name. */
static void test_vectors_bodies(void **state)
{
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
        {"5\r\nhello\r\n0\r\n\r\n", 0},
        {"zz\r\nhello\r\n0\r\n\r\n", -400},
        {"5 \r\nhello\r\n0\r\n\r\n", -400},
        {"10000000000000005\r\nhello\r\n0\r\n\r\n", -400},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        struct result r =
            check_all_splits(cases[i].body, strlen(cases[i].body), HTTP_DEFAULT_BODY_LIMIT);
        assert_int_equal(r.rc, cases[i].rc);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_next_request_follows),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_line_limits),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_vectors_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
