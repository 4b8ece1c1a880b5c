/*
 * Fuzz target: a whole request through the parsers, as the server uses them (head, path,
 * query, cookies, chunked body), with differential checks of the stateless head parser:
 * every prefix gives "need more" or the same answer, the answer does not change when more
 * bytes follow a complete head, and every slice points into the input.
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

static bool in_input(struct slice s, const char *d, size_t consumed)
{
    return s.n == 0 || (s.p >= d && s.p + s.n <= d + consumed);
}

static bool valid_rc(int rc)
{
    return rc == 0 || rc == 1 || rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
}

static void check_head(const struct http_head *h, const char *d, size_t consumed)
{
    CHECK(consumed >= 16); /* "A / HTTP/1.0\r\n\r\n" is the shortest head */
    CHECK(h->method_raw.n > 0 && in_input(h->method_raw, d, consumed));
    CHECK(h->target.n > 0 && in_input(h->target, d, consumed));
    CHECK(h->version_minor == 0 || h->version_minor == 1);
    CHECK(h->nheaders <= HTTP_MAX_HEADERS);
    CHECK(!(h->chunked && h->has_content_length));
    CHECK(!(h->chunked && h->version_minor == 0));
    CHECK(h->version_minor == 0 || h->host.n > 0);
    CHECK(in_input(h->host, d, consumed));
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http_header *hd = &h->headers[i];
        CHECK(hd->name.n > 0 && in_input(hd->name, d, consumed));
        CHECK(in_input(hd->value, d, consumed));
        CHECK(memchr(hd->value.p, '\r', hd->value.n) == NULL);
        CHECK(memchr(hd->value.p, '\n', hd->value.n) == NULL);
        CHECK(memchr(hd->value.p, '\0', hd->value.n) == NULL);
        CHECK(hd->value.n == 0 || (hd->value.p[0] != ' ' && hd->value.p[hd->value.n - 1] != ' '));
    }
    CHECK(memchr(h->target.p, ' ', h->target.n) == NULL);
}

/* What the server does next with a parsed head. */
static void use_head(const struct http_head *h, const char *d, size_t n, size_t consumed)
{
    struct buf path;
    struct slice query;
    buf_init(&path, h->target.n);
    if (http_path_canonical(h->target, &path, &query) == 0) {
        CHECK(path.len > 0 && path.p[0] == '/');
        struct http_params qp;
        if (http_params_parse(query, &qp) == 0) {
            (void)http_params_get(&qp, "redirect_uri");
        }
        http_params_free(&qp);
    }
    buf_free(&path);

    const struct http_header *ck = http_head_get(h, "cookie");
    if (ck != NULL) {
        struct http_cookie c[HTTP_MAX_COOKIES];
        CHECK(http_cookie_parse(ck->value, c, HTTP_MAX_COOKIES) <= HTTP_MAX_COOKIES);
    }
    if (h->chunked) {
        struct http_chunked c;
        struct buf body;
        size_t used = 0;
        http_chunked_init(&c);
        buf_init(&body, HTTP_DEFAULT_BODY_LIMIT);
        int rc = http_chunked_feed(&c, d + consumed, n - consumed, &body, &used);
        CHECK(rc == 0 || rc == 1 || rc == -400 || rc == -413);
        CHECK(used <= n - consumed);
        buf_free(&body);
    }
}

static void same_head(const struct http_head *a, const struct http_head *b)
{
    CHECK(a->method == b->method && a->target.p == b->target.p && a->target.n == b->target.n);
    CHECK(a->nheaders == b->nheaders && a->version_minor == b->version_minor);
    CHECK(a->chunked == b->chunked && a->has_content_length == b->has_content_length);
    CHECK(a->content_length == b->content_length && a->keep_alive == b->keep_alive);
    CHECK(a->expect_continue == b->expect_continue && a->upgrade == b->upgrade);
    CHECK(a->host.p == b->host.p && a->host.n == b->host.n);
}

/* The answer on a prefix of k bytes is consistent with the answer on all n bytes. */
static void check_prefix(const char *d, size_t n, size_t k, int full, size_t full_consumed,
                         const struct http_head *fh)
{
    static struct http_head h;
    size_t consumed;
    int rc = http_parse_head(d, k, &h, &consumed);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_head h;
    const char *d = (const char *)data;
    size_t consumed = 7;
    int rc = http_parse_head(d, size, &h, &consumed);
    CHECK(valid_rc(rc));
    if (rc == 0) {
        CHECK(consumed <= size);
        check_head(&h, d, consumed);
    } else {
        CHECK(consumed == 0);
    }

    /* Differential: cut points derived from the input. */
    size_t cuts[4] = {size / 2, size ? size - 1 : 0, rc == 0 ? consumed - 1 : size / 3,
                      size ? (size_t)data[0] * 131 % size : 0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cuts); i++) {
        check_prefix(d, size, cuts[i], rc, consumed, &h);
    }
    /* Stateless: the same call gives the same answer. */
    static struct http_head again;
    size_t consumed2;
    CHECK(http_parse_head(d, size, &again, &consumed2) == rc && consumed2 == consumed);

    if (rc == 0) {
        use_head(&h, d, size, consumed);
        /* A pipelined second request after the first. */
        size_t c2;
        int rc2 = http_parse_head(d + consumed, size - consumed, &again, &c2);
        CHECK(valid_rc(rc2));
    }
    return 0;
}
