/*
 * Unit tests of src/http/parse.c: the request head parser.
 * Every input is also parsed from an exact-size heap copy, so that ASan sees a read past len.
 * argv[1] (optional): tests/vectors/http/malformed, replayed through the parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static struct http_head H;
static char *copy; /* exact-size copy of the last input; H's slices point into it */

static void free_copy(void)
{
    free(copy);
    copy = NULL;
}

static int parse_n(const char *s, size_t n, size_t *consumed)
{
    free_copy();
    copy = xmalloc(n ? n : 1);
    memcpy(copy, s, n);
    return http_parse_head(copy, n, &H, consumed);
}

/* Parses a literal; returns the result and checks *consumed against it. */
static int parse_lit_n(const char *s, size_t n)
{
    size_t consumed = 12345;
    int rc = parse_n(s, n, &consumed);
    if (rc == 0) {
        assert_true(consumed > 0 && consumed <= n);
    } else {
        assert_int_equal(consumed, 0);
    }
    return rc;
}
#define P(lit) parse_lit_n((lit), sizeof(lit) - 1)

static int teardown(void **state)
{
    (void)state;
    free_copy();
    return 0;
}

#define REQ(headers) "GET / HTTP/1.1\r\nHost: a.example\r\n" headers "\r\n"

static void assert_slice(struct slice s, const char *z)
{
    assert_int_equal(s.n, strlen(z));
    assert_memory_equal(s.p, z, s.n);
}

static const char *hget(const char *name)
{
    static char v[256];
    const struct http_header *hd = http_head_get(&H, name);
    if (hd == NULL) {
        return NULL;
    }
    snprintf(v, sizeof v, "%.*s", (int)hd->value.n, hd->value.p);
    return v;
}

/* ---- valid requests ----------------------------------------------------- */

static void test_simple_get(void **state)
{
    static const char r[] = "GET /a/b?c=d HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n"
                            "User-Agent: t\r\n\r\n";
    size_t consumed;
    assert_int_equal(parse_n(r, sizeof r - 1, &consumed), 0);
    assert_int_equal(consumed, sizeof r - 1);
    assert_int_equal(H.method, HTTP_M_GET);
    assert_slice(H.method_raw, "GET");
    assert_slice(H.target, "/a/b?c=d");
    assert_int_equal(H.version_minor, 1);
    assert_int_equal(H.nheaders, 3);
    assert_slice(H.headers[0].name, "Host");
    assert_slice(H.headers[0].value, "a.example");
    assert_slice(H.headers[1].name, "Accept");
    assert_slice(H.headers[1].value, "*/*");
    assert_slice(H.host, "a.example");
    assert_true(H.keep_alive);
    assert_false(H.chunked);
    assert_false(H.has_content_length);
    assert_false(H.expect_continue);
    assert_false(H.upgrade);
}

static void test_methods(void **state)
{
    static const struct {
        const char *req;
        enum http_method m;
        const char *raw;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_GET, "GET"},
        {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_HEAD, "HEAD"},
        {"POST / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_POST, "POST"},
        {"PUT / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_PUT, "PUT"},
        {"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_DELETE, "DELETE"},
        {"PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_PATCH, "PATCH"},
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_OPTIONS, "OPTIONS"},
        {"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", HTTP_M_CONNECT, "CONNECT"},
        {"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_TRACE, "TRACE"},
        /* extension methods are tokens; case matters (RFC 9110 section 9.1) */
        {"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_UNKNOWN, "FOO"},
        {"get / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_UNKNOWN, "get"},
        {"M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_UNKNOWN, "M-SEARCH!"},
        {"GETS / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_UNKNOWN, "GETS"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        assert_int_equal(parse_lit_n(cases[i].req, strlen(cases[i].req)), 0);
        assert_int_equal(H.method, cases[i].m);
        assert_slice(H.method_raw, cases[i].raw);
    }
}

static void test_http10(void **state)
{
    assert_int_equal(P("GET / HTTP/1.0\r\n\r\n"), 0);
    assert_int_equal(H.version_minor, 0);
    assert_false(H.keep_alive);
    assert_int_equal(H.host.n, 0);
    assert_int_equal(P("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    assert_true(H.keep_alive);
    assert_int_equal(P("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    assert_true(H.keep_alive);
    assert_int_equal(P("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P("GET / HTTP/1.0\r\nHost: a\r\nContent-Length: 3\r\n\r\n"), 0);
    assert_true(H.has_content_length);
    assert_int_equal(H.content_length, 3);
    /* two Host fields are refused in 1.0 as well */
    assert_int_equal(P("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), -400);
}

static void test_connection(void **state)
{
    assert_int_equal(P(REQ("Connection: close\r\n")), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P(REQ("Connection: CLOSE\r\n")), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P(REQ("Connection: keep-alive\r\n")), 0);
    assert_true(H.keep_alive);
    assert_int_equal(P(REQ("Connection: foo, Close\r\n")), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P(REQ("Connection: keep-alive\r\nConnection: close\r\n")), 0);
    assert_false(H.keep_alive);
    assert_int_equal(P(REQ("Connection: closed\r\n")), 0);
    assert_true(H.keep_alive);
    assert_int_equal(P(REQ("Connection: ,, close ,\r\n")), 0);
    assert_false(H.keep_alive);
}

static void test_expect_upgrade(void **state)
{
    assert_int_equal(P(REQ("Expect: 100-continue\r\n")), 0);
    assert_true(H.expect_continue);
    assert_int_equal(P(REQ("Expect: 100-Continue\r\n")), 0);
    assert_true(H.expect_continue);
    assert_int_equal(P(REQ("Expect: 200-ok\r\n")), 0);
    assert_false(H.expect_continue);
    assert_int_equal(P("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), 0);
    assert_false(H.expect_continue);

    assert_int_equal(P(REQ("Connection: Upgrade\r\nUpgrade: websocket\r\n")), 0);
    assert_true(H.upgrade);
    assert_true(H.keep_alive);
    assert_int_equal(P(REQ("Upgrade: websocket\r\nConnection: keep-alive, upgrade\r\n")), 0);
    assert_true(H.upgrade);
    assert_int_equal(P(REQ("Upgrade: websocket\r\n")), 0);
    assert_false(H.upgrade);
    assert_int_equal(P(REQ("Connection: upgrade\r\n")), 0);
    assert_false(H.upgrade);
    assert_int_equal(P(REQ("Connection: upgrade\r\nUpgrade:\r\n")), 0);
    assert_false(H.upgrade);
}

static void test_values(void **state)
{
    assert_int_equal(P(REQ("A:b\r\nB:  \t x  y \t \r\nC:\r\nD: \r\nE:\t\x80\xff\r\n"
                           "F: a\tb\r\nG: \"q\" , x=(y)\r\n")),
                     0);
    assert_string_equal(hget("a"), "b");
    assert_string_equal(hget("B"), "x  y");
    assert_string_equal(hget("c"), "");
    assert_string_equal(hget("d"), "");
    assert_string_equal(hget("e"), "\x80\xff");
    assert_string_equal(hget("f"), "a\tb");
    assert_string_equal(hget("g"), "\"q\" , x=(y)");
    /* names keep their case, lookup ignores it, the first of a repeated name wins */
    assert_int_equal(P(REQ("X-Mixed-Case: 1\r\nx-mixed-case: 2\r\n")), 0);
    assert_slice(H.headers[1].name, "X-Mixed-Case");
    assert_string_equal(hget("X-MIXED-CASE"), "1");
    assert_null(hget("X-Mixed"));
    assert_null(hget("X-Mixed-Case2"));
    assert_int_equal(P(REQ("!#$%&'*+-.^_`|~09azAZ: t\r\n")), 0);
    assert_string_equal(hget("!#$%&'*+-.^_`|~09azaz"), "t");
}

/* The value scan tests eight bytes at a time (bytes.h): in a 1.1 KB value (a token), every
 * byte value at positions around each word boundary must get the byte-by-byte verdict:
 * field-content is VCHAR, obs-text, SP and HTAB (RFC 9110 section 5.5); any other control
 * byte, DEL, a bare CR or LF is a 400. */
#define LONG_VALUE 1100

static bool value_byte_ok(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void test_long_values(void **state)
{
    static const size_t at[] = {0,  1,   6,    7,    8,    9,    15,   16,   17,  63,
                                64, 550, 1088, 1091, 1092, 1093, 1095, 1097, 1098};
    char req[LONG_VALUE + 64];
    for (size_t k = 0; k < UTIL_ARRAY_LEN(at); k++) {
        for (unsigned c = 0; c < 256; c++) {
            char value[LONG_VALUE];
            memset(value, 'v', sizeof value);
            value[at[k]] = (char)c;
            int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
            memcpy(req + n, value, sizeof value);
            memcpy(req + n + sizeof value, "\r\n\r\n", 4);
            size_t consumed = 0;
            int rc = parse_n(req, (size_t)n + sizeof value + 4, &consumed);
            if (!value_byte_ok((unsigned char)c)) {
                if (rc != -400) {
                    fail_msg("byte 0x%02x at %zu: %d, want -400", c, at[k], rc);
                }
                continue;
            }
            if (rc != 0) {
                fail_msg("byte 0x%02x at %zu: %d, want 0", c, at[k], rc);
            }
            /* OWS at either end is not part of the value (RFC 9112 section 5). */
            size_t s = 0, e = sizeof value;
            while (s < e && (value[s] == ' ' || value[s] == '\t')) {
                s++;
            }
            while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t')) {
                e--;
            }
            assert_int_equal(H.nheaders, 2);
            assert_int_equal(H.headers[1].value.n, e - s);
            assert_memory_equal(H.headers[1].value.p, value + s, e - s);
        }
    }
    /* Two HTABs and a run of obs-text inside, and the value is kept whole. */
    char value[LONG_VALUE];
    memset(value, '\xe9', sizeof value);
    value[100] = value[901] = '\t';
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
    memcpy(req + n, value, sizeof value);
    memcpy(req + n + sizeof value, "\r\n\r\n", 4);
    size_t consumed = 0;
    assert_int_equal(parse_n(req, (size_t)n + sizeof value + 4, &consumed), 0);
    assert_int_equal(H.headers[1].value.n, sizeof value);
    assert_memory_equal(H.headers[1].value.p, value, sizeof value);
}

static void test_content_length(void **state)
{
    static const struct {
        const char *v;
        int rc;
        uint64_t n;
    } cases[] = {
        {"0", 0, 0},
        {"123", 0, 123},
        {"007", 0, 7},
        {"5, 5", 0, 5},
        {"5,5,5", 0, 5},
        {"5 ,\t5", 0, 5},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -400, 0},
        {"99999999999999999999999", -400, 0},
        {"", -400, 0},
        {"+5", -400, 0},
        {"-1", -400, 0},
        {"0x5", -400, 0},
        {"5a", -400, 0},
        {"5 5", -400, 0},
        {"5, 6", -400, 0},
        {"5,", -400, 0},
        {",5", -400, 0},
        {"5,,5", -400, 0},
        {"1e3", -400, 0},
        {"\xd9\xa5", -400, 0}, /* Arabic-Indic five */
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char r[256];
        int n = snprintf(r, sizeof r, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
                         cases[i].v);
        int rc = parse_lit_n(r, (size_t)n);
        if (rc != cases[i].rc) {
            fail_msg("Content-Length: %s -> %d, want %d", cases[i].v, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_true(H.has_content_length);
            assert_int_equal(H.content_length, cases[i].n);
        }
    }
    assert_int_equal(P(REQ("Content-Length: 5\r\ncontent-length: 5\r\n")), 0);
    assert_int_equal(H.content_length, 5);
    assert_int_equal(P(REQ("Content-Length: 5\r\nContent-Length: 6\r\n")), -400);
    assert_int_equal(P(REQ("Content-Length: 5\r\nContent-Length: 5, 6\r\n")), -400);
    assert_int_equal(P(REQ("Content-Length: 5\r\nContent-Length: 05\r\n")), 0);
}

static void test_transfer_encoding(void **state)
{
    static const struct {
        const char *fields;
        int rc;
    } cases[] = {
        {"Transfer-Encoding: chunked\r\n", 0},
        {"Transfer-Encoding: Chunked\r\n", 0},
        {"transfer-encoding:CHUNKED \r\n", 0},
        {"Transfer-Encoding: gzip, chunked\r\n", -501},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", -501},
        {"Transfer-Encoding: gzip;q=\"a,chunked\", chunked\r\n", -501},
        {"Transfer-Encoding: chunked, gzip\r\n", -400},
        {"Transfer-Encoding: gzip\r\n", -400},
        {"Transfer-Encoding: identity\r\n", -400},
        {"Transfer-Encoding: chunked, chunked\r\n", -400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", -400},
        {"Transfer-Encoding: \r\n", -400},
        {"Transfer-Encoding: ,chunked\r\n", -400},
        {"Transfer-Encoding: chunked,\r\n", -400},
        {"Transfer-Encoding: chunked;a=b\r\n", -400},
        {"Transfer-Encoding: gzip;q=\"unterminated, chunked\r\n", -400},
        {"Transfer-Encoding: chunked x\r\n", -400},
        {"Transfer-Encoding: \"chunked\"\r\n", -400},
        {"Transfer-Encoding: xchunked\r\n", -400},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", -400},
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", -400},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char r[256];
        int n = snprintf(r, sizeof r, "POST / HTTP/1.1\r\nHost: a\r\n%s\r\n", cases[i].fields);
        int rc = parse_lit_n(r, (size_t)n);
        if (rc != cases[i].rc) {
            fail_msg("%s-> %d, want %d", cases[i].fields, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_true(H.chunked);
            assert_false(H.has_content_length);
        }
    }
    assert_int_equal(P("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
}

static void test_host(void **state)
{
    static const struct {
        const char *host;
        int rc;
    } cases[] = {
        {"a.example", 0},
        {"a.example:8080", 0},
        {"A-b_c~1.Example", 0},
        {"127.0.0.1:1", 0},
        {"[::1]", 0},
        {"[::1]:8443", 0},
        {"[2001:DB8::a]:1", 0},
        {"", -400},
        {"a example", -400},
        {"a.example/x", -400},
        {"user@a.example", -400},
        {"a.example:", -400},
        {"a.example:123456", -400},
        {"a.example:8x", -400},
        {"a.example:80:80", -400},
        {":80", -400},
        {"[::1", -400},
        {"[]", -400},
        {"[::1]x", -400},
        {"[::g]", -400},
        {"a.example?", -400},
        {"a.example#", -400},
        {"a%2eexample", -400},
        {"\xc3\xa9.example", -400},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char r[256];
        int n = snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", cases[i].host);
        int rc = parse_lit_n(r, (size_t)n);
        if (rc != cases[i].rc) {
            fail_msg("Host: %s -> %d, want %d", cases[i].host, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_slice(H.host, cases[i].host);
        }
    }
    assert_int_equal(P("GET / HTTP/1.1\r\n\r\n"), -400);
    assert_int_equal(P("GET / HTTP/1.1\r\nX: y\r\n\r\n"), -400);
    assert_int_equal(P(REQ("Host: a.example\r\n")), -400);
    assert_int_equal(P(REQ("host: b.example\r\n")), -400);
    assert_int_equal(P("GET / HTTP/1.1\r\nHost:  a.example \r\n\r\n"), 0);
    assert_slice(H.host, "a.example");
}

/* ---- refused syntax ----------------------------------------------------- */

static void test_line_structure(void **state)
{
    static const struct {
        const char *name;
        const char *req;
        size_t n; /* 0: strlen */
        int rc;
    } cases[] = {
        {"obs-fold", REQ("X: a\r\n b\r\n"), 0, -400},
        {"obs-fold tab", REQ("X: a\r\n\tb\r\n"), 0, -400},
        {"ws before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, -400},
        {"bare CR in value", REQ("X: a\rb\r\n"), 0, -400},
        {"CR at the end of the input", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r", 0, 1},
        {"CR CR LF", REQ("X: a\r\r\n"), 0, -400},
        {"bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, -400},
        {"bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 0, -400},
        {"bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 0, -400},
        {"bare LF field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 0, -400},
        {"bare LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n", 0, -400},
        {"bare LF only", "GET / HTTP/1.1\nHost: a\n\n", 0, -400},
        {"LF in value", REQ("X: a\nb\r\n"), 0, -400},
        {"NUL in name", REQ("X\0Y: a\r\n"), sizeof(REQ("X\0Y: a\r\n")) - 1, -400},
        {"NUL in value", REQ("X: a\0b\r\n"), sizeof(REQ("X: a\0b\r\n")) - 1, -400},
        {"NUL value", REQ("X: \0\r\n"), sizeof(REQ("X: \0\r\n")) - 1, -400},
        {"SOH in value", REQ("X: a\x01z\r\n"), 0, -400},
        {"ESC in value", REQ("X: a\x1bz\r\n"), 0, -400},
        {"US in value", REQ("X: a\x1fz\r\n"), 0, -400},
        {"DEL in value", REQ("X: a\x7fz\r\n"), 0, -400},
        {"VT in value", REQ("X: a\vz\r\n"), 0, -400},
        {"FF in value", REQ("X: a\fz\r\n"), 0, -400},
        {"SP before colon", REQ("X : a\r\n"), 0, -400},
        {"HTAB before colon", REQ("X\t: a\r\n"), 0, -400},
        {"empty name", REQ(": a\r\n"), 0, -400},
        {"name with (", REQ("X(: a\r\n"), 0, -400},
        {"name with /", REQ("X/Y: a\r\n"), 0, -400},
        {"name with @", REQ("X@Y: a\r\n"), 0, -400},
        {"name with space", REQ("X Y: a\r\n"), 0, -400},
        {"name with obs-text", REQ("X\xc3\xa9: a\r\n"), 0, -400},
        {"no colon", REQ("Xa\r\n"), 0, -400},
        {"DEL in name", REQ("X\x7f: a\r\n"), 0, -400},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].req);
        int rc = parse_lit_n(cases[i].req, n);
        if (rc != cases[i].rc) {
            fail_msg("%s -> %d, want %d", cases[i].name, rc, cases[i].rc);
        }
    }
}

static void test_request_line(void **state)
{
    static const struct {
        const char *line; /* followed by "\r\nHost: a\r\n\r\n" */
        int rc;
    } cases[] = {
        {"GET / HTTP/1.1", 0},
        {"GET /a%20b?x=%00#f HTTP/1.1", 0}, /* bytes only: the path decoder judges */
        {"GET http://a/b HTTP/1.1", 0},
        {"G(ET / HTTP/1.1", -400},
        {"GE\"T / HTTP/1.1", -400},
        {"GET\x01 / HTTP/1.1", -400},
        {" / HTTP/1.1", -400},
        {"GET  / HTTP/1.1", -400},
        {"GET / HTTP/1.1 ", -400},
        {"GET /  HTTP/1.1", -400},
        {"GET\t/ HTTP/1.1", -400},
        {"GET /\tHTTP/1.1", -400},
        {"GET / ", -400},
        {"GET  HTTP/1.1", -400},
        {"GET /", -400},
        {"GET", -400},
        {"", -400},
        {"GET / http/1.1", -400},
        {"GET / HTTP/1.x", -400},
        {"GET / HTTP/x.1", -400},
        {"GET / HTTP/1.10", -400},
        {"GET / HTTP/11", -400},
        {"GET / HTTP/1", -400},
        {"GET / HTTP/1.", -400},
        {"GET / HTTPS/1.1", -400},
        {"GET / HTTP/1.1x", -400},
        {"GET / HTTP/2.0", -505},
        {"GET / HTTP/1.2", -505},
        {"GET / HTTP/1.9", -505},
        {"GET / HTTP/0.9", -505},
        {"GET / HTTP/9.9", -505},
        {"GET /a b HTTP/1.1", -400},
        {"GET /a\x01 HTTP/1.1", -400},
        {"GET /a\x7f HTTP/1.1", -400},
        {"GET /\xc3\xa9 HTTP/1.1", -400},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char r[256];
        int n = snprintf(r, sizeof r, "%s\r\nHost: a\r\n\r\n", cases[i].line);
        int rc = parse_lit_n(r, (size_t)n);
        if (rc != cases[i].rc) {
            fail_msg("%s -> %d, want %d", cases[i].line, rc, cases[i].rc);
        }
    }
    static const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_lit_n(nul, sizeof nul - 1), -400);
    assert_int_equal(P("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    assert_slice(H.target, "/");
}

static void test_leading_empty_lines(void **state)
{
    size_t consumed;
    static const char r[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_n(r, sizeof r - 1, &consumed), 0);
    assert_int_equal(consumed, sizeof r - 1);
    assert_slice(H.method_raw, "GET");
    assert_int_equal(P("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
    assert_int_equal(P("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
    assert_int_equal(P("\r\n"), 1);
    assert_int_equal(P("\r"), 1);
    assert_int_equal(P(""), 1);
    assert_int_equal(P(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
}

/* ---- pipelining --------------------------------------------------------- */

static void test_pipelined(void **state)
{
    static const char r[] = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                            "GET /two HTTP/1.1\r\nHost: b\r\n\r\n"
                            "GET /three HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n";
    size_t off = 0, consumed;
    assert_int_equal(http_parse_head(r, sizeof r - 1, &H, &consumed), 0);
    assert_slice(H.target, "/one");
    assert_int_equal(H.content_length, 3);
    assert_memory_equal(r + consumed, "abcGET", 6);
    off = consumed + 3;
    assert_int_equal(http_parse_head(r + off, sizeof r - 1 - off, &H, &consumed), 0);
    assert_slice(H.target, "/two");
    assert_slice(H.host, "b");
    off += consumed;
    assert_int_equal(http_parse_head(r + off, sizeof r - 1 - off, &H, &consumed), 0);
    assert_slice(H.target, "/three");
    assert_false(H.keep_alive);
    assert_int_equal(off + consumed, sizeof r - 1);
    /* a third head cut short after a complete one */
    assert_int_equal(http_parse_head(r + off, 10, &H, &consumed), 1);
}

/* ---- incremental feeding ------------------------------------------------ */

/* Every prefix of a request gives 1 or the final result, and once a prefix gives the error
 * every longer one does too; a valid request gives 1 on every proper prefix. */
static void check_prefixes(const char *r, size_t n)
{
    size_t consumed;
    int final = parse_n(r, n, &consumed);
    size_t final_consumed = consumed;
    int first_err_at = -1;
    /* Big inputs (the limit vectors): every 37th prefix, to keep the test quick. */
    size_t step = n > 4096 ? 37 : 1;
    for (size_t k = 0; k < n; k += step) {
        int rc = parse_n(r, k, &consumed);
        if (final == 0) {
            if (k < final_consumed && rc != 1) {
                fail_msg("prefix %zu of a valid head -> %d", k, rc);
            }
        } else if (final < 0) {
            if (rc != 1 && rc != final) {
                fail_msg("prefix %zu -> %d, final %d", k, rc, final);
            }
            if (rc == final && first_err_at < 0) {
                first_err_at = (int)k;
            }
            if (first_err_at >= 0 && rc != final) {
                fail_msg("prefix %zu -> %d after error at %d", k, rc, first_err_at);
            }
        }
    }
    (void)parse_n(r, n, &consumed);
}

static void test_incremental(void **state)
{
    static const char *valid[] = {
        "GET /a HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n",
        "\r\n\r\nPOST /b HTTP/1.1\r\nHost: a:1\r\nContent-Length: 10, 10\r\nX:\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(valid); i++) {
        check_prefixes(valid[i], strlen(valid[i]));
    }
    static const char *invalid[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(invalid); i++) {
        check_prefixes(invalid[i], strlen(invalid[i]));
    }
}

/* ---- limits, exactly at and one past each boundary ---------------------- */

static char *request_line_of(size_t line_len, size_t *n)
{
    /* "GET /aaa...a HTTP/1.1" of exactly line_len bytes, then a valid rest */
    static const char rest[] = "\r\nHost: a\r\n\r\n";
    size_t fixed = strlen("GET / HTTP/1.1");
    char *r = xmalloc(line_len + sizeof rest);
    memcpy(r, "GET /", 5);
    memset(r + 5, 'a', line_len - fixed);
    memcpy(r + 5 + (line_len - fixed), " HTTP/1.1", 9);
    memcpy(r + line_len, rest, sizeof rest);
    *n = line_len + sizeof rest - 1;
    return r;
}

static void test_limit_request_line(void **state)
{
    size_t n, consumed;
    char *r = request_line_of(HTTP_MAX_REQUEST_LINE, &n);
    assert_int_equal(parse_n(r, n, &consumed), 0);
    assert_int_equal(H.target.n, HTTP_MAX_REQUEST_LINE - 14 + 1);
    /* incomplete, at the limit: still waiting (the line may end right here) */
    assert_int_equal(parse_n(r, HTTP_MAX_REQUEST_LINE, &consumed), 1);
    assert_int_equal(parse_n(r, HTTP_MAX_REQUEST_LINE + 1, &consumed), 1); /* ...\r */
    free(r);

    r = request_line_of(HTTP_MAX_REQUEST_LINE + 1, &n);
    assert_int_equal(parse_n(r, n, &consumed), -414);
    /* incomplete, one byte past the limit: refused at once */
    assert_int_equal(parse_n(r, HTTP_MAX_REQUEST_LINE, &consumed), 1);
    assert_int_equal(parse_n(r, HTTP_MAX_REQUEST_LINE + 1, &consumed), -414);
    free(r);

    /* a long target without any end, and a long method */
    static char big[HTTP_MAX_REQUEST_LINE * 2];
    memcpy(big, "GET /", 5);
    memset(big + 5, 'x', HTTP_MAX_REQUEST_LINE * 2 - 5);
    assert_int_equal(parse_n(big, HTTP_MAX_REQUEST_LINE * 2, &consumed), -414);
    memset(big, 'G', HTTP_MAX_REQUEST_LINE * 2);
    assert_int_equal(parse_n(big, HTTP_MAX_REQUEST_LINE, &consumed), 1);
    assert_int_equal(parse_n(big, HTTP_MAX_REQUEST_LINE + 1, &consumed), -414);
    /* empty lines count against the same budget */
    for (size_t i = 0; i + 1 < HTTP_MAX_REQUEST_LINE * 2; i += 2) {
        big[i] = '\r';
        big[i + 1] = '\n';
    }
    assert_int_equal(parse_n(big, HTTP_MAX_REQUEST_LINE, &consumed), 1);
    assert_int_equal(parse_n(big, HTTP_MAX_REQUEST_LINE + 2, &consumed), -414);
}

/* A head whose field lines (CRLFs included) total exactly `bytes`, in `count` lines. */
static char *head_of(size_t count, size_t bytes, size_t *n)
{
    static const char start[] = "GET / HTTP/1.1\r\n";
    size_t sl = sizeof start - 1;
    char *r = xmalloc(sl + bytes + 2);
    memcpy(r, start, sl);
    char *p = r + sl;
    size_t left = bytes;
    for (size_t i = 0; i < count; i++) {
        size_t line = (i + 1 == count) ? left : bytes / count;
        assert_true(line >= 12);
        if (i == 0) {
            memcpy(p, "Host: a", 7);
            memset(p + 7, 'a', line - 9);
        } else {
            int k = snprintf(p, 16, "X%zu:", i);
            memset(p + k, 'v', line - 2 - (size_t)k);
        }
        p[line - 2] = '\r';
        p[line - 1] = '\n';
        p += line;
        left -= line;
    }
    memcpy(p, "\r\n", 2);
    *n = sl + bytes + 2;
    return r;
}

static void test_limit_header_count(void **state)
{
    size_t n, consumed;
    char *r = head_of(HTTP_MAX_HEADERS, HTTP_MAX_HEADERS * 20, &n);
    assert_int_equal(parse_n(r, n, &consumed), 0);
    assert_int_equal(H.nheaders, HTTP_MAX_HEADERS);
    assert_int_equal(consumed, n);
    free(r);
    r = head_of(HTTP_MAX_HEADERS + 1, (HTTP_MAX_HEADERS + 1) * 20, &n);
    assert_int_equal(parse_n(r, n, &consumed), -431);
    /* refused as soon as the 101st line starts */
    size_t start101 = strlen("GET / HTTP/1.1\r\n") + HTTP_MAX_HEADERS * 20;
    assert_int_equal(parse_n(r, start101, &consumed), 1);
    assert_int_equal(parse_n(r, start101 + 1, &consumed), -431);
    free(r);
}

static void test_limit_header_bytes(void **state)
{
    size_t n, consumed;
    size_t sl = strlen("GET / HTTP/1.1\r\n");
    char *r = head_of(2, HTTP_MAX_HEADER_BYTES, &n);
    assert_int_equal(parse_n(r, n, &consumed), 0);
    assert_int_equal(consumed, n);
    /* every proper prefix: waiting */
    assert_int_equal(parse_n(r, sl + HTTP_MAX_HEADER_BYTES - 1, &consumed), 1);
    assert_int_equal(parse_n(r, sl + HTTP_MAX_HEADER_BYTES, &consumed), 1);
    assert_int_equal(parse_n(r, n - 1, &consumed), 1);
    free(r);

    r = head_of(2, HTTP_MAX_HEADER_BYTES + 1, &n);
    assert_int_equal(parse_n(r, n, &consumed), -431);
    /* the last line's LF would be the 65537th byte: refused once its CR is seen */
    assert_int_equal(parse_n(r, sl + HTTP_MAX_HEADER_BYTES - 1, &consumed), 1);
    assert_int_equal(parse_n(r, sl + HTTP_MAX_HEADER_BYTES, &consumed), -431);
    free(r);

    /* one endless field line */
    char *big = xmalloc(sl + HTTP_MAX_HEADER_BYTES * 2);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", sl + 3);
    memset(big + sl + 3, 'v', HTTP_MAX_HEADER_BYTES * 2 - 3);
    assert_int_equal(parse_n(big, sl + HTTP_MAX_HEADER_BYTES - 1, &consumed), 1);
    assert_int_equal(parse_n(big, sl + HTTP_MAX_HEADER_BYTES, &consumed), -431);
    assert_int_equal(parse_n(big, sl + HTTP_MAX_HEADER_BYTES * 2, &consumed), -431);
    /* an endless field name */
    memset(big + sl, 'n', HTTP_MAX_HEADER_BYTES * 2);
    assert_int_equal(parse_n(big, sl + HTTP_MAX_HEADER_BYTES - 1, &consumed), 1);
    assert_int_equal(parse_n(big, sl + HTTP_MAX_HEADER_BYTES, &consumed), -431);
    free(big);

    /* many lines: a line starting at the budget's end cannot fit */
    r = head_of(8, HTTP_MAX_HEADER_BYTES, &n);
    assert_int_equal(parse_n(r, n, &consumed), 0);
    r[n - 2] = 'X'; /* the empty line becomes the start of a ninth field line */
    assert_int_equal(parse_n(r, n - 1, &consumed), -431);
    free(r);
}

/* ---- the malformed-request files --------------------------------------- */

static const char *vectors_dir;

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *d = xmalloc(1 << 20);
    *n = fread(d, 1, 1 << 20, f);
    fclose(f);
    return d;
}

/* The status a server built on these parsers answers: head, then path, then body. */
static int status_of(const char *d, size_t n)
{
    size_t consumed;
    int rc = parse_n(d, n, &consumed);
    if (rc != 0) {
        return rc == 1 ? 0 : -rc;
    }
    struct buf path;
    struct slice query;
    buf_init(&path, HTTP_MAX_REQUEST_LINE);
    rc = http_path_canonical(H.target, &path, &query);
    buf_free(&path);
    if (rc != 0) {
        return 400;
    }
    if (H.method == HTTP_M_UNKNOWN) {
        return 501;
    }
    struct buf body;
    buf_init(&body, HTTP_DEFAULT_BODY_LIMIT);
    int status = 200;
    if (H.chunked) {
        struct http_chunked c;
        size_t used;
        http_chunked_init(&c);
        rc = http_chunked_feed(&c, d + consumed, n - consumed, &body, &used);
        status = rc < 0 ? -rc : rc == 1 ? 0 : 200;
        if (rc == 0) {
            assert_int_equal(consumed + used, n);
        }
    } else if (H.has_content_length) {
        if (H.content_length > HTTP_DEFAULT_BODY_LIMIT) {
            status = 413;
        } else {
            assert_int_equal(n - consumed, H.content_length);
        }
    } else {
        assert_int_equal(consumed, n);
    }
    buf_free(&body);
    return status;
}

static void test_vectors(void **state)
{
    if (vectors_dir == NULL) {
        skip();
    }
    DIR *d = opendir(vectors_dir);
    assert_non_null(d);
    struct dirent *ent;
    size_t count = 0;
    while ((ent = readdir(d)) != NULL) {
        const char *name = ent->d_name;
        size_t len = strlen(name);
        if (len < 10 || strcmp(name + len - 5, ".http") != 0) {
            continue;
        }
        int want = (int)strtol(name + len - 8, NULL, 10);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", vectors_dir, name);
        size_t n;
        char *data = read_file(path, &n);
        int got = status_of(data, n);
        if (got != want) {
            fail_msg("%s: status %d", name, got);
        }
        check_prefixes(data, n);
        free(data);
        count++;
    }
    closedir(d);
    assert_true(count >= 40);
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_simple_get, teardown),
        cmocka_unit_test_teardown(test_methods, teardown),
        cmocka_unit_test_teardown(test_http10, teardown),
        cmocka_unit_test_teardown(test_connection, teardown),
        cmocka_unit_test_teardown(test_expect_upgrade, teardown),
        cmocka_unit_test_teardown(test_values, teardown),
        cmocka_unit_test_teardown(test_long_values, teardown),
        cmocka_unit_test_teardown(test_content_length, teardown),
        cmocka_unit_test_teardown(test_transfer_encoding, teardown),
        cmocka_unit_test_teardown(test_host, teardown),
        cmocka_unit_test_teardown(test_line_structure, teardown),
        cmocka_unit_test_teardown(test_request_line, teardown),
        cmocka_unit_test_teardown(test_leading_empty_lines, teardown),
        cmocka_unit_test_teardown(test_pipelined, teardown),
        cmocka_unit_test_teardown(test_incremental, teardown),
        cmocka_unit_test_teardown(test_limit_request_line, teardown),
        cmocka_unit_test_teardown(test_limit_header_count, teardown),
        cmocka_unit_test_teardown(test_limit_header_bytes, teardown),
        cmocka_unit_test_teardown(test_vectors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
