/*
 * request.c: the request as a handler sees it. Everything is computed on first use and
 * lives in the connection's one request: no allocation unless the handler asks for decoded
 * parameters. The parsed head comes from the loop's spare heads for the request's lifetime
 * (server_int.h, "Ownership").
 */
#include "http/server_int.h"

#include <stdlib.h>
#include <string.h>

/* Longest canonical path kept: it can only shrink from the request-target. */
#define HTTP_PATH_CAP (HTTP_MAX_REQUEST_LINE + 1)

void http_req_init(struct http_req *r, struct http_conn *c)
{
    memset(r, 0, sizeof(*r));
    r->conn = c;
    buf_init(&r->path, HTTP_PATH_CAP);
    buf_init(&r->resp_headers, HTTP_RESP_HEADERS_MAX);
}

/* ---- the loop's spare heads ----------------------------------------------------------- */

struct http_head *http_loop_head_take(struct http_loop *loop)
{
    if (loop->nspare_heads > 0) {
        return loop->spare_heads[--loop->nspare_heads];
    }
    /* Not zeroed: the parser sets every field it reports before returning 0. */
    return xmalloc(sizeof(struct http_head));
}

void http_loop_head_give(struct http_loop *loop, struct http_head *h)
{
    if (h == NULL) {
        return;
    }
    if (loop->nspare_heads < HTTP_LOOP_SPARE_HEADS) {
        loop->spare_heads[loop->nspare_heads++] = h;
    } else {
        free(h);
    }
}

void http_loop_buf_take(struct http_loop *loop, struct buf *b)
{
    if (b->p != NULL || loop->nspare_bufs == 0) {
        return;
    }
    struct buf *s = &loop->spare_bufs[--loop->nspare_bufs];
    b->p = s->p;
    b->alloc = s->alloc;
    b->len = 0;
    b->p[0] = '\0';
    s->p = NULL;
}

void http_loop_buf_give(struct http_loop *loop, struct buf *b)
{
    if (b->p != NULL && b->alloc <= HTTP_LOOP_SPARE_BUF_MAX &&
        loop->nspare_bufs < HTTP_LOOP_SPARE_BUFS) {
        struct buf *s = &loop->spare_bufs[loop->nspare_bufs++];
        s->p = b->p;
        s->alloc = b->alloc;
        b->p = NULL;
    }
    buf_free(b);
}

void http_loop_heads_free(struct http_loop *loop)
{
    while (loop->nspare_heads > 0) {
        free(loop->spare_heads[--loop->nspare_heads]);
    }
    while (loop->nspare_bufs > 0) {
        buf_free(&loop->spare_bufs[--loop->nspare_bufs]);
    }
}

/* ---- the request ------------------------------------------------------------------------ */

/* Between two requests of a connection: keep the buffers' memory, give the head back, drop
 * the rest. */
void http_req_reset(struct http_req *r)
{
    if (r->qparsed) {
        http_params_free(&r->qparams);
    }
    if (r->fparsed) {
        http_params_free(&r->form);
    }
    r->qparsed = r->qvalid = r->fparsed = r->fvalid = false;
    r->head_valid = false;
    http_loop_head_give(r->conn->loop, r->head);
    r->head = NULL;
    buf_reset(&r->path);
    buf_reset(&r->resp_headers);
    r->query = r->host = r->body = (struct slice){NULL, 0};
    r->route = NULL;
    r->status = 0;
    r->resp_bytes = 0;
    r->answered = false;
    r->close = false;
    r->streamed = false;
}

void http_req_free(struct http_req *r)
{
    http_req_reset(r);
    buf_free(&r->path);
    buf_free(&r->resp_headers);
}

enum http_method http_req_method(const struct http_req *r)
{
    return r->head_valid ? r->head->method : HTTP_M_UNKNOWN;
}

struct slice http_req_target(const struct http_req *r)
{
    return r->head_valid ? r->head->target : (struct slice){"", 0};
}

const char *http_req_path(const struct http_req *r)
{
    return r->path.p != NULL ? r->path.p : "";
}

struct slice http_req_query(const struct http_req *r)
{
    return r->query;
}

struct slice http_req_host(const struct http_req *r)
{
    return r->host;
}

/* Header values are NUL-terminated in place by conn.c once the head is parsed. */
const char *http_req_header(const struct http_req *r, const char *name_z)
{
    if (!r->head_valid) {
        return NULL;
    }
    const struct http_header *h = http_head_get(r->head, name_z);
    return h != NULL ? h->value.p : NULL;
}

const struct http_head *http_req_head(const struct http_req *r)
{
    static const struct http_head none; /* a request refused before its head was parsed */
    return r->head_valid ? r->head : &none;
}

struct slice http_req_body(const struct http_req *r)
{
    return r->body.p != NULL ? r->body : (struct slice){"", 0};
}

const char *http_req_remote_ip(const struct http_req *r)
{
    return r->conn->remote_ip;
}

bool http_req_is_tls(const struct http_req *r)
{
    return r->conn->tls;
}

struct event_base *http_req_base(const struct http_req *r)
{
    return r->conn->loop->base;
}

bool http_req_cookie(const struct http_req *r, const char *name_z, struct slice *value)
{
    if (!r->head_valid) {
        return false;
    }
    /* HTTP/1.1 clients send one Cookie line, but several are legal (RFC 6265 section 5.4
     * says one; RFC 9113 splits them): look at every one, in order. */
    struct http_cookie ck[HTTP_MAX_COOKIES];
    for (size_t i = 0; i < r->head->nheaders; i++) {
        const struct http_header *h = &r->head->headers[i];
        if (!slice_case_eq_z(h->name, "cookie")) {
            continue;
        }
        size_t n = http_cookie_parse(h->value, ck, HTTP_MAX_COOKIES);
        for (size_t k = 0; k < n; k++) {
            if (slice_eq_z(ck[k].name, name_z)) {
                *value = ck[k].value;
                return true;
            }
        }
    }
    return false;
}

const struct http_params *http_req_query_params(struct http_req *r)
{
    if (!r->qparsed) {
        r->qparsed = true;
        r->qvalid = http_params_parse(r->query, &r->qparams) == 0;
    }
    return r->qvalid ? &r->qparams : NULL;
}

/* Content-Type: application/x-www-form-urlencoded, parameters (";charset=...") allowed. */
static bool is_form(const struct http_req *r)
{
    const struct http_header *h = http_head_get(r->head, "content-type");
    static const char ct[] = "application/x-www-form-urlencoded";
    if (h == NULL || h->value.n < sizeof(ct) - 1) {
        return false;
    }
    struct slice type = {h->value.p, sizeof(ct) - 1};
    if (!slice_case_eq_z(type, ct)) {
        return false;
    }
    char next = h->value.n > type.n ? h->value.p[type.n] : ';';
    return next == ';' || next == ' ' || next == '\t';
}

const struct http_params *http_req_form(struct http_req *r)
{
    if (!r->fparsed) {
        r->fparsed = true;
        r->fvalid = r->head_valid && is_form(r) && http_params_parse(r->body, &r->form) == 0;
    }
    return r->fvalid ? &r->form : NULL;
}
