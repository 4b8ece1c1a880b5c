/*
 * Unit tests of the header helpers of src/http/response.c that the reverse proxy relies on:
 * token and field-value checks (no header injection through added headers), list
 * membership (Connection, Upgrade), hop-by-hop fields (RFC 9110 section 7.6.1) and chunk
 * size lines (RFC 9112 section 7.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/server_int.h"

static void test_token_and_value(void **state)
{
    assert_true(http_token_ok("Cf-Access-Jwt-Assertion"));
    assert_true(http_token_ok("x!#$%&'*+-.^_`|~9"));
    assert_false(http_token_ok(""));
    assert_false(http_token_ok("Bad Name"));
    assert_false(http_token_ok("a:b"));
    assert_false(http_token_ok("a\r\nb"));
    assert_false(http_token_ok("caf\xc3\xa9"));
    assert_true(http_field_value_ok(""));
    assert_true(http_field_value_ok("a b\tc \x80\xff"));
    assert_false(http_field_value_ok("a\r\nInjected: 1"));
    assert_false(http_field_value_ok("a\nb"));
    assert_false(http_field_value_ok("a\rb"));
    assert_false(http_field_value_ok("a\x7f"));
    assert_false(http_field_value_ok("a\x01"));
}

/* http_field_value_ok tests eight bytes at a time (bytes.h): a 1.1 KB value (the token the
 * gateway adds) with one byte of every value at positions around each word boundary gets
 * the byte-by-byte verdict, so that no CR or LF gets into an added header. */
static void test_long_value(void **state)
{
    enum { LEN = 1100 };
    static const size_t at[] = {0, 1, 7, 8, 9, 15, 16, 17, 550, 1091, 1092, 1093, 1098, 1099};
    char v[LEN + 1];
    for (size_t k = 0; k < UTIL_ARRAY_LEN(at); k++) {
        for (unsigned c = 1; c < 256; c++) {
            memset(v, 'x', LEN);
            v[LEN] = '\0';
            v[at[k]] = (char)c;
            bool want = c == '\t' || (c >= 0x20 && c != 0x7f);
            if (http_field_value_ok(v) != want) {
                fail_msg("byte 0x%02x at %zu: %d, want %d", c, at[k], !want, want);
            }
        }
    }
    memset(v, 'x', LEN);
    v[LEN] = '\0';
    assert_true(http_field_value_ok(v));
    v[LEN - 1] = '\n'; /* the last byte, after the last whole word */
    assert_false(http_field_value_ok(v));
}

static void test_list_has(void **state)
{
    assert_true(http_list_has(SLICE_LIT("keep-alive, Upgrade"), SLICE_LIT("upgrade")));
    assert_true(http_list_has(SLICE_LIT("websocket"), SLICE_LIT("websocket")));
    assert_true(http_list_has(SLICE_LIT(" ,,\tX-Hop ,"), SLICE_LIT("x-hop")));
    assert_false(http_list_has(SLICE_LIT("websockets"), SLICE_LIT("websocket")));
    assert_false(http_list_has(SLICE_LIT("web socket"), SLICE_LIT("websocket")));
    assert_false(http_list_has(SLICE_LIT(""), SLICE_LIT("close")));
    assert_false(http_list_has(SLICE_LIT("close"), SLICE_LIT("")));
}

static struct http_header hdr(const char *name, const char *value)
{
    return (struct http_header){slice_z(name), slice_z(value)};
}

static void test_hop_by_hop(void **state)
{
    struct http_header hs[] = {hdr("Connection", "X-Secret, keep-alive"), hdr("X-Secret", "1"),
                               hdr("Connection", "Other"), hdr("Other", "2"), hdr("X-Kept", "3")};
    size_t n = UTIL_ARRAY_LEN(hs);
    static const char *const hop[] = {
        "Connection",        "KEEP-ALIVE", "Proxy-Connection", "te",       "Trailer",
        "Transfer-Encoding", "Upgrade",    "content-length",   "x-secret", "OTHER"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(hop); i++) {
        if (!http_hop_by_hop(hs, n, slice_z(hop[i]))) {
            fail_msg("%s is hop-by-hop", hop[i]);
        }
    }
    static const char *const end[] = {"X-Kept",   "Host", "Cookie", "Cf-Access-Jwt-Assertion",
                                      "Trailers", "Keep"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(end); i++) {
        if (http_hop_by_hop(hs, n, slice_z(end[i]))) {
            fail_msg("%s is end-to-end", end[i]);
        }
    }
    /* Without Connection fields only the fixed names are hop-by-hop. */
    assert_false(http_hop_by_hop(NULL, 0, SLICE_LIT("X-Secret")));
}

static void assert_chunk_line(uint64_t size, const char *want)
{
    struct evbuffer *b = evbuffer_new();
    http_put_chunk_size(b, size);
    size_t n = evbuffer_get_length(b);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(evbuffer_pullup(b, -1), want, n);
    evbuffer_free(b);
}

static void test_chunk_size(void **state)
{
    assert_chunk_line(0, "0\r\n");
    assert_chunk_line(1, "1\r\n");
    assert_chunk_line(0xff, "ff\r\n");
    assert_chunk_line(65536, "10000\r\n");
    assert_chunk_line(UINT64_MAX, "ffffffffffffffff\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_and_value), cmocka_unit_test(test_long_value),
        cmocka_unit_test(test_list_has),        cmocka_unit_test(test_hop_by_hop),
        cmocka_unit_test(test_chunk_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
