/*
 * Unit tests of src/http/respparse.c: the response head parser for what origins send.
 * Every input is parsed from an exact-size heap copy, so that ASan sees a read past len.
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

static struct http_resp_head H;
static char *copy;

static void free_copy(void)
{
    free(copy);
    copy = NULL;
}

static int parse_n(const char *s, size_t n, bool head_request, size_t *consumed)
{
    free_copy();
    copy = xmalloc(n ? n : 1);
    memcpy(copy, s, n);
    return http_parse_response_head(copy, n, head_request, &H, consumed);
}

/* Parses a literal and checks *consumed against the result. */
static int parse_lit(const char *s, size_t n, bool head_request)
{
    size_t consumed = 12345;
    int rc = parse_n(s, n, head_request, &consumed);
    if (rc == 0) {
        assert_true(consumed > 0 && consumed <= n);
    } else {
        assert_int_equal(consumed, 0);
    }
    return rc;
}
#define P(lit)      parse_lit((lit), sizeof(lit) - 1, false)
#define P_HEAD(lit) parse_lit((lit), sizeof(lit) - 1, true)

static int teardown(void **state)
{
    (void)state;
    free_copy();
    return 0;
}

static void assert_slice(struct slice s, const char *z)
{
    assert_int_equal(s.n, strlen(z));
    assert_memory_equal(s.p, z, s.n);
}

/* ---- valid responses ----------------------------------------------------------------- */

static void test_simple(void **state)
{
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                            "\r\nhello";
    size_t consumed = 0;
    assert_int_equal(parse_n(r, sizeof r - 1, false, &consumed), 0);
    assert_int_equal(consumed, sizeof r - 1 - 5);
    assert_int_equal(H.version_minor, 1);
    assert_int_equal(H.status, 200);
    assert_slice(H.reason, "OK");
    assert_int_equal(H.nheaders, 2);
    assert_slice(H.headers[0].name, "Content-Type");
    assert_slice(H.headers[0].value, "text/plain");
    assert_int_equal(H.body, HTTP_RB_LENGTH);
    assert_true(H.has_content_length);
    assert_int_equal(H.content_length, 5);
    assert_true(H.keep_alive);
    assert_false(H.upgrade);
    assert_non_null(http_resp_head_get(&H, "content-length"));
    assert_non_null(http_resp_head_get(&H, "CONTENT-TYPE"));
    assert_null(http_resp_head_get(&H, "content"));
}

static void test_status_line_forms(void **state)
{
    assert_int_equal(P("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_int_equal(H.status, 404);
    assert_slice(H.reason, "Not Found");
    /* empty reason, with and without its SP */
    assert_int_equal(P("HTTP/1.1 204 \r\n\r\n"), 0);
    assert_slice(H.reason, "");
    assert_int_equal(P("HTTP/1.1 204\r\n\r\n"), 0);
    assert_int_equal(H.status, 204);
    assert_slice(H.reason, "");
    /* reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
    assert_int_equal(P("HTTP/1.1 200 Tout \t va bien \xe9\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_slice(H.reason, "Tout \t va bien \xe9");
    assert_int_equal(P("HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_int_equal(P("HTTP/1.1 100 Continue\r\n\r\n"), 0);
    assert_int_equal(H.status, 100);
}

static void test_http10(void **state)
{
    assert_int_equal(P("HTTP/1.0 200 OK\r\n\r\n"), 0);
    assert_int_equal(H.version_minor, 0);
    assert_int_equal(H.body, HTTP_RB_CLOSE);
    assert_false(H.keep_alive);
    assert_int_equal(P("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n"),
                     0);
    assert_true(H.keep_alive);
    assert_int_equal(H.body, HTTP_RB_LENGTH);
    assert_int_equal(P("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n"), 0);
    assert_false(H.keep_alive);
}

static void test_framing(void **state)
{
    /* RFC 9112 section 6.3, rule by rule */
    assert_int_equal(P("HTTP/1.1 200 OK\r\n\r\n"), 0); /* rule 8: until close */
    assert_int_equal(H.body, HTTP_RB_CLOSE);
    assert_false(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_CHUNKED);
    assert_true(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_CHUNKED);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_LENGTH);
    assert_int_equal(H.content_length, 0);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n"), 0);
    assert_int_equal(H.content_length, 7);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n"), 0);
    assert_int_equal(H.content_length, 7);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"), 0);
    assert_int_equal(H.content_length, UINT64_MAX);
    /* rule 1: no content, whatever the fields say */
    assert_int_equal(P("HTTP/1.1 204 No Content\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_true(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_int_equal(P("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_true(H.has_content_length);
    assert_int_equal(H.content_length, 1234);
    assert_int_equal(P("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_int_equal(P("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_int_equal(P_HEAD("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_int_equal(H.content_length, 99);
    assert_int_equal(P_HEAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_true(H.keep_alive);
    assert_int_equal(P_HEAD("HTTP/1.1 200 OK\r\n\r\n"), 0);
    assert_int_equal(H.body, HTTP_RB_NONE);
}

static void test_connection_upgrade(void **state)
{
    assert_int_equal(P("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 1\r\n\r\n"),
                     0);
    assert_false(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 1\r\n\r\n"), 0);
    assert_true(H.keep_alive);
    assert_int_equal(P("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n\r\n"),
                     0);
    assert_true(H.upgrade);
    assert_int_equal(H.body, HTTP_RB_NONE);
    assert_int_equal(P("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"), 0);
    assert_false(H.upgrade);
    assert_int_equal(P("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), 0);
    assert_false(H.upgrade);
}

static void test_field_values(void **state)
{
    assert_int_equal(P("HTTP/1.1 200 OK\r\nA:b\r\nB:  \t x  y \t \r\nC:\r\nE: \x80\xff\r\n"
                       "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"),
                     0);
    assert_int_equal(H.nheaders, 7);
    assert_slice(H.headers[0].value, "b");
    assert_slice(H.headers[1].value, "x  y");
    assert_slice(H.headers[2].value, "");
    assert_slice(H.headers[3].value, "\x80\xff");
    assert_slice(H.headers[5].value, "b=2");
}

/* ---- refusals -------------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    static const char *const bad[] = {
        "HELLO\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "HTTP/1 200 OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n", /* no empty lines before a response */
        "HTTP/1.1 200 OK\n\r\n",       /* bare LF ends the status line */
        "HTTP/1.1 200 OK\rX\n\r\n",    /* bare CR */
        "HTTP/1.1 200 O\x01K\r\n\r\n", /* control byte in the reason */
        "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rC: d\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x0b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",      /* whitespace before the colon */
        "HTTP/1.1 200 OK\r\n A: b\r\n\r\n",      /* obs-fold at the first line */
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", /* obs-fold */
        "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: b\r\n\r\n",     /* empty name */
        "HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n", /* not a token */
        "HTTP/1.1 200 OK\r\nA\"b: c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\r\n", /* bare CR in the empty line */
        "HTTP/1.1 200 OK\r\n\n",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        int rc = parse_lit(bad[i], strlen(bad[i]), false);
        if (rc != HTTP_RESP_E_SYNTAX) {
            fail_msg("case %zu (%s): got %d", i, bad[i], rc);
        }
    }
}

static void test_version_and_status_errors(void **state)
{
    assert_int_equal(P("HTTP/2.0 200 OK\r\n\r\n"), HTTP_RESP_E_VERSION);
    assert_int_equal(P("HTTP/1.2 200 OK\r\n\r\n"), HTTP_RESP_E_VERSION);
    assert_int_equal(P("HTTP/0.9 200 OK\r\n\r\n"), HTTP_RESP_E_VERSION);
    assert_int_equal(P("HTTP/1.1 2000 OK\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1 20 OK\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1 2x0 OK\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1 099 X\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1 600 X\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1 -20 X\r\n\r\n"), HTTP_RESP_E_STATUS);
    assert_int_equal(P("HTTP/1.1  200 OK\r\n\r\n"), HTTP_RESP_E_STATUS);
}

static void test_framing_errors(void **state)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nTransfer-Encoding: chunked\r\n\r\n",
        /* a HEAD response still may not be ambiguous */
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        for (int head = 0; head < 2; head++) {
            int rc = parse_lit(bad[i], strlen(bad[i]), head);
            if (rc != HTTP_RESP_E_FRAMING) {
                fail_msg("case %zu (%s), head %d: got %d", i, bad[i], head, rc);
            }
        }
    }
}

/* ---- limits and incremental input ---------------------------------------------------- */

static void test_limit_status_line(void **state)
{
    char *b = xmalloc(HTTP_MAX_STATUS_LINE + 64);
    size_t n = 0;
    memcpy(b, "HTTP/1.1 200 ", 13);
    n = 13;
    /* a status line whose CRLF ends exactly at the limit is accepted */
    memset(b + n, 'r', HTTP_MAX_STATUS_LINE - 2 - n);
    n = HTTP_MAX_STATUS_LINE - 2;
    memcpy(b + n, "\r\n\r\n", 4);
    assert_int_equal(parse_lit(b, n + 4, false), 0);
    /* one byte more is refused, also before its end has arrived */
    memset(b + 13, 'r', HTTP_MAX_STATUS_LINE - 13);
    n = HTTP_MAX_STATUS_LINE - 1;
    memcpy(b + n, "\r\n\r\n", 4);
    assert_int_equal(parse_lit(b, n + 4, false), HTTP_RESP_E_LIMIT);
    assert_int_equal(parse_lit(b, HTTP_MAX_STATUS_LINE, false), HTTP_RESP_E_LIMIT);
    assert_int_equal(parse_lit(b, HTTP_MAX_STATUS_LINE - 1, false), 1);
    free(b);
}

static void test_limit_headers(void **state)
{
    struct buf b;
    buf_init(&b, 4 * HTTP_MAX_HEADER_BYTES);
    buf_append_z(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++) {
        buf_printf(&b, "X-%d: v\r\n", i);
    }
    buf_append_z(&b, "\r\n");
    assert_int_equal(parse_lit(b.p, b.len, false), 0);
    assert_int_equal(H.nheaders, HTTP_MAX_HEADERS);
    b.len -= 2;
    buf_append_z(&b, "X-last: v\r\n\r\n");
    assert_int_equal(parse_lit(b.p, b.len, false), HTTP_RESP_E_LIMIT);

    buf_reset(&b);
    buf_append_z(&b, "HTTP/1.1 200 OK\r\nBig: ");
    while (b.len < HTTP_MAX_HEADER_BYTES + 100) {
        buf_append_c(&b, 'v');
    }
    assert_int_equal(parse_lit(b.p, b.len, false), HTTP_RESP_E_LIMIT);
    buf_append_z(&b, "\r\n\r\n");
    assert_int_equal(parse_lit(b.p, b.len, false), HTTP_RESP_E_LIMIT);
    buf_free(&b);
}

/* Every prefix of a valid head needs more bytes; the whole gives the same answer when
 * body bytes (or a second response) follow. */
static void test_incremental(void **state)
{
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabcHTTP/1.1 2";
    size_t head_len = strstr(r, "\r\n\r\n") - r + 4;
    for (size_t k = 0; k < head_len; k++) {
        int rc = parse_lit(r, k, false);
        if (rc != 1) {
            fail_msg("prefix %zu: got %d", k, rc);
        }
    }
    for (size_t k = head_len; k <= sizeof r - 1; k++) {
        size_t consumed = 0;
        assert_int_equal(parse_n(r, k, false, &consumed), 0);
        assert_int_equal(consumed, head_len);
        assert_int_equal(H.content_length, 3);
    }
    /* an error shows as soon as its byte arrives */
    assert_int_equal(parse_lit("HTTP/1.1 200 OK\r\nA: \x01", 21, false), HTTP_RESP_E_SYNTAX);
    assert_int_equal(
        parse_lit("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n", 55, false),
        HTTP_RESP_E_FRAMING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_simple, teardown),
        cmocka_unit_test_teardown(test_status_line_forms, teardown),
        cmocka_unit_test_teardown(test_http10, teardown),
        cmocka_unit_test_teardown(test_framing, teardown),
        cmocka_unit_test_teardown(test_connection_upgrade, teardown),
        cmocka_unit_test_teardown(test_field_values, teardown),
        cmocka_unit_test_teardown(test_syntax_errors, teardown),
        cmocka_unit_test_teardown(test_version_and_status_errors, teardown),
        cmocka_unit_test_teardown(test_framing_errors, teardown),
        cmocka_unit_test_teardown(test_limit_status_line, teardown),
        cmocka_unit_test_teardown(test_limit_headers, teardown),
        cmocka_unit_test_teardown(test_incremental, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
