/*
 * Unit tests of the loop's spare heads and buffers in src/http/request.c: what keeps an idle
 * keep-alive connection small (it holds no parsed head, no copied head) without an
 * allocation per request. The lists must be bounded, hand memory back exactly once, and an
 * ended request must give its head back. LeakSanitizer checks that nothing is lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

static struct http_loop *loop_new(void)
{
    return calloc(1, sizeof(struct http_loop)); /* the lists start empty */
}

static void loop_free(struct http_loop *loop)
{
    http_loop_heads_free(loop);
    assert_int_equal(loop->nspare_heads, 0);
    assert_int_equal(loop->nspare_bufs, 0);
    free(loop);
}

static void test_heads_bounded(void **state)
{
    struct http_loop *loop = loop_new();
    enum { N = HTTP_LOOP_SPARE_HEADS + 10 };
    struct http_head *h[N];
    for (size_t i = 0; i < N; i++) {
        h[i] = http_loop_head_take(loop);
        assert_non_null(h[i]);
        memset(h[i], 0x5a, sizeof *h[i]); /* writable, whole */
    }
    for (size_t i = 0; i < N; i++) {
        http_loop_head_give(loop, h[i]);
    }
    /* The first HTTP_LOOP_SPARE_HEADS are kept, the rest freed (LeakSanitizer). */
    assert_int_equal(loop->nspare_heads, HTTP_LOOP_SPARE_HEADS);
    /* The last kept comes back first; NULL is accepted and changes nothing. */
    assert_ptr_equal(http_loop_head_take(loop), h[HTTP_LOOP_SPARE_HEADS - 1]);
    assert_int_equal(loop->nspare_heads, HTTP_LOOP_SPARE_HEADS - 1);
    http_loop_head_give(loop, NULL);
    assert_int_equal(loop->nspare_heads, HTTP_LOOP_SPARE_HEADS - 1);
    http_loop_head_give(loop, h[HTTP_LOOP_SPARE_HEADS - 1]);
    loop_free(loop);
}

static void test_request_gives_head_back(void **state)
{
    struct http_loop *loop = loop_new();
    struct http_conn *c = calloc(1, sizeof *c);
    c->loop = loop;
    http_req_init(&c->req, c);
    assert_null(c->req.head); /* a new connection holds no head */
    assert_int_equal(http_req_method(&c->req), HTTP_M_UNKNOWN);
    assert_int_equal(http_req_head(&c->req)->nheaders, 0);

    static const char raw[] = "GET /x HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n";
    char *copy = strdup(raw);
    size_t consumed = 0;
    struct http_head *h = http_loop_head_take(loop);
    assert_int_equal(http_parse_head(copy, strlen(copy), h, &consumed), 0);
    c->req.head = h;
    c->req.head_valid = true;
    assert_int_equal(http_req_method(&c->req), HTTP_M_GET);
    assert_ptr_equal(http_req_head(&c->req), h);
    assert_int_equal(http_req_head(&c->req)->nheaders, 2);

    http_req_reset(&c->req); /* the request ended: its head goes back to the loop */
    assert_null(c->req.head);
    assert_false(c->req.head_valid);
    assert_int_equal(loop->nspare_heads, 1);
    assert_ptr_equal(loop->spare_heads[0], h);
    assert_null(http_req_header(&c->req, "accept"));
    assert_int_equal(http_req_head(&c->req)->nheaders, 0);

    http_req_free(&c->req); /* no head: nothing more to give */
    assert_int_equal(loop->nspare_heads, 1);
    free(copy);
    free(c);
    loop_free(loop);
}

static void test_bufs(void **state)
{
    struct http_loop *loop = loop_new();
    struct buf a, b, big;
    buf_init(&a, 1000);
    buf_init(&b, 2000);
    buf_init(&big, 4 * HTTP_LOOP_SPARE_BUF_MAX);

    /* Nothing to take yet: the buffer stays unallocated. */
    http_loop_buf_take(loop, &a);
    assert_null(a.p);
    assert_int_equal(buf_append_z(&a, "head bytes"), 0);
    char *mem = a.p;
    size_t alloc = a.alloc;
    http_loop_buf_give(loop, &a);
    assert_null(a.p); /* left empty, as after buf_free, its cap kept */
    assert_int_equal(a.len, 0);
    assert_int_equal(a.alloc, 0);
    assert_int_equal(a.cap, 1000);
    assert_int_equal(loop->nspare_bufs, 1);

    /* The next taker gets that memory, empty and NUL-terminated, under its own cap. */
    http_loop_buf_take(loop, &b);
    assert_ptr_equal(b.p, mem);
    assert_int_equal(b.alloc, alloc);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    assert_int_equal(b.cap, 2000);
    assert_int_equal(loop->nspare_bufs, 0);
    /* A buffer that already has memory keeps it. */
    http_loop_buf_give(loop, &a); /* nothing allocated: nothing kept */
    assert_int_equal(loop->nspare_bufs, 0);
    http_loop_buf_take(loop, &b);
    assert_ptr_equal(b.p, mem);

    /* More than HTTP_LOOP_SPARE_BUF_MAX: freed, never kept (a large body's buffer). */
    char chunk[1024];
    memset(chunk, 'b', sizeof chunk);
    while (big.alloc <= HTTP_LOOP_SPARE_BUF_MAX) {
        assert_int_equal(buf_append(&big, chunk, sizeof chunk), 0);
    }
    http_loop_buf_give(loop, &big);
    assert_null(big.p);
    assert_int_equal(loop->nspare_bufs, 0);

    /* Bounded: HTTP_LOOP_SPARE_BUFS kept, the rest freed. */
    for (size_t i = 0; i < HTTP_LOOP_SPARE_BUFS + 5; i++) {
        struct buf t;
        buf_init(&t, 100);
        assert_int_equal(buf_append_c(&t, 'x'), 0);
        http_loop_buf_give(loop, &t);
    }
    assert_int_equal(loop->nspare_bufs, HTTP_LOOP_SPARE_BUFS);
    http_loop_buf_give(loop, &b);
    assert_int_equal(loop->nspare_bufs, HTTP_LOOP_SPARE_BUFS); /* b's memory freed */
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads_bounded),
        cmocka_unit_test(test_request_gives_head_back),
        cmocka_unit_test(test_bufs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
