/*
 * Fuzz target: a response from an origin through the parsers the proxy uses (response head,
 * then a chunked body), with differential checks of the stateless head parser: every prefix
 * gives "need more" or the same answer, the answer is the same with and without what
 * follows the head, and every slice points into the input. The first byte chooses whether
 * the request was HEAD (then no response has a body).
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

static bool valid_rc(int rc)
{
    return rc == 0 || rc == 1 || rc == HTTP_RESP_E_SYNTAX || rc == HTTP_RESP_E_VERSION ||
           rc == HTTP_RESP_E_STATUS || rc == HTTP_RESP_E_FRAMING || rc == HTTP_RESP_E_LIMIT;
}

static bool in_input(struct slice s, const char *d, size_t consumed)
{
    return s.n == 0 || (s.p >= d && s.p + s.n <= d + consumed);
}

static void check_head(const struct http_resp_head *h, const char *d, size_t consumed,
                       bool head_request)
{
    CHECK(consumed >= 16 && consumed <= HTTP_RESP_HEAD_MAX); /* "HTTP/1.1 200\r\n\r\n" */
    CHECK(h->status >= 100 && h->status <= 599);
    CHECK(h->version_minor == 0 || h->version_minor == 1);
    CHECK(h->nheaders <= HTTP_MAX_HEADERS);
    CHECK(in_input(h->reason, d, consumed));
    CHECK(memchr(h->reason.p, '\r', h->reason.n) == NULL);
    CHECK(memchr(h->reason.p, '\n', h->reason.n) == NULL);
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http_header *hd = &h->headers[i];
        CHECK(hd->name.n > 0 && in_input(hd->name, d, consumed));
        CHECK(in_input(hd->value, d, consumed));
        CHECK(memchr(hd->name.p, ':', hd->name.n) == NULL);
        CHECK(memchr(hd->value.p, '\r', hd->value.n) == NULL);
        CHECK(memchr(hd->value.p, '\n', hd->value.n) == NULL);
        CHECK(memchr(hd->value.p, '\0', hd->value.n) == NULL);
    }
    bool no_body = head_request || h->status < 200 || h->status == 204 || h->status == 304;
    CHECK(!no_body || h->body == HTTP_RB_NONE);
    CHECK(h->body != HTTP_RB_CHUNKED || (h->version_minor == 1 && !h->has_content_length));
    CHECK(h->body != HTTP_RB_LENGTH || h->has_content_length);
    CHECK(h->body != HTTP_RB_CLOSE || !h->keep_alive);
}

static void same_head(const struct http_resp_head *a, const struct http_resp_head *b)
{
    CHECK(a->status == b->status && a->version_minor == b->version_minor);
    CHECK(a->nheaders == b->nheaders && a->body == b->body);
    CHECK(a->content_length == b->content_length && a->keep_alive == b->keep_alive);
    CHECK(a->upgrade == b->upgrade && a->reason.p == b->reason.p && a->reason.n == b->reason.n);
}

static void check_prefix(const char *d, size_t k, bool head_request, int full, size_t full_consumed,
                         const struct http_resp_head *fh)
{
    static struct http_resp_head h;
    size_t consumed = 0;
    int rc = http_parse_response_head(d, k, head_request, &h, &consumed);
    CHECK(valid_rc(rc));
    if (full == 0 && k < full_consumed) {
        CHECK(rc == 1);
    } else if (full == 0) {
        CHECK(rc == 0 && consumed == full_consumed);
        same_head(&h, fh);
    } else if (full == 1) {
        CHECK(rc == 1);
    } else {
        CHECK(rc == 1 || rc == full);
    }
}

/* The body as the proxy reads a chunked one: fed in two pieces into an unbounded buffer
 * (the proxy bounds the input per step instead); a chunk size beyond the buffer's cap
 * (SIZE_MAX / 2) is -413, which the proxy treats as malformed. */
static void use_body(const struct http_resp_head *h, const char *d, size_t n)
{
    if (h->body != HTTP_RB_CHUNKED) {
        return;
    }
    struct http_chunked c;
    struct buf out;
    http_chunked_init(&c);
    buf_init(&out, SIZE_MAX / 2);
    size_t half = n / 2, used = 0, used2 = 0;
    int rc = http_chunked_feed(&c, d, half, &out, &used);
    CHECK(rc == 0 || rc == 1 || rc == -400 || rc == -413);
    CHECK(out.len <= half);
    if (rc == 1) {
        rc = http_chunked_feed(&c, d + half, n - half, &out, &used2);
        CHECK(rc == 0 || rc == 1 || rc == -400 || rc == -413);
        CHECK(out.len <= n);
        CHECK(used2 <= n - half);
    }
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_resp_head h;
    if (size == 0) {
        return 0;
    }
    bool head_request = (data[0] & 1) != 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    size_t consumed = 7;
    int rc = http_parse_response_head(d, n, head_request, &h, &consumed);
    CHECK(valid_rc(rc));
    if (rc == 0) {
        CHECK(consumed <= n);
        check_head(&h, d, consumed, head_request);
    } else {
        CHECK(consumed == 0);
    }
    size_t cuts[4] = {n / 2, n ? n - 1 : 0, rc == 0 ? consumed - 1 : n / 3,
                      n ? (size_t)data[0] * 131 % n : 0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cuts); i++) {
        check_prefix(d, cuts[i], head_request, rc, consumed, &h);
    }
    if (rc == 0) {
        /* Without the bytes after the head: the same head. */
        check_prefix(d, consumed, head_request, rc, consumed, &h);
        use_body(&h, d + consumed, n - consumed);
        /* An interim response is followed by the next head. */
        static struct http_resp_head next;
        size_t c2 = 0;
        CHECK(valid_rc(
            http_parse_response_head(d + consumed, n - consumed, head_request, &next, &c2)));
    }
    return 0;
}
