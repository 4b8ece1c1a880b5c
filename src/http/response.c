/*
 * response.c: the response writer (RFC 9112 section 4, RFC 9110 section 15).
 *
 * The head is assembled in one stack buffer with memcpy (no printf on the hot path), with a
 * Date line cached per loop and per second, then appended to the output buffer together with
 * the body: one evbuffer_add for the head, one for a small body, a reference for a large one.
 */
#include "http/server_int.h"

#include "http/bytes.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The fixed part of a head: status line, Server, Date, Content-Type, Content-Length,
 * Connection. Content types longer than this are refused (500). */
#define HTTP_CONTENT_TYPE_MAX 256
#define HTTP_HEAD_FIXED_MAX   (512 + HTTP_CONTENT_TYPE_MAX)
#define HTTP_ERROR_PAGE_MAX   2048

/* Reason phrases of RFC 9110 section 15 (informative only; clients ignore them). */
static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reasons); i++) {
        if (reasons[i].status == status) {
            return reasons[i].reason;
        }
    }
    return "Unknown";
}

int64_t http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_loop_update_date(struct http_loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == loop->date_sec && loop->date_len > 0) {
        return;
    }
    /* IMF-fixdate (RFC 9110 section 5.6.7); strftime's %a/%b are English in the C locale,
     * which a server process never changes. */
    struct tm tm;
    time_t t = ts.tv_sec;
    gmtime_r(&t, &tm);
    loop->date_len =
        strftime(loop->date, sizeof loop->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    loop->date_sec = ts.tv_sec;
}

/* ---- a tiny appender over a stack buffer ---------------------------------------------- */

struct out {
    char *p;
    size_t n, cap;
    bool overflow;
};

static void put(struct out *o, const void *s, size_t n)
{
    if (n > o->cap - o->n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_z(struct out *o, const char *z)
{
    put(o, z, strlen(z));
}

static void put_u64(struct out *o, uint64_t v)
{
    char d[24];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, d + i, sizeof d - i);
}

/* ---- headers ---------------------------------------------------------------------------- */

/* tchar (RFC 9110 section 5.6.2). */
bool http_token_ok(const char *z)
{
    if (*z == '\0') {
        return false;
    }
    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;
        bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                  (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* field-value without CR, LF, NUL or other controls (HTAB allowed): no response splitting. */
bool http_field_value_ok(const char *z)
{
    return http_value_bytes_ok(z, strlen(z));
}

bool http_list_has(struct slice list, struct slice token)
{
    size_t i = 0;
    while (i < list.n) {
        while (i < list.n && (list.p[i] == ',' || list.p[i] == ' ' || list.p[i] == '\t')) {
            i++;
        }
        size_t s = i;
        while (i < list.n && list.p[i] != ',' && list.p[i] != ' ' && list.p[i] != '\t') {
            i++;
        }
        if (i > s && i - s == token.n && strncasecmp(list.p + s, token.p, token.n) == 0) {
            return true;
        }
    }
    return false;
}

int http_resp_header(struct http_req *r, const char *name_z, const char *value_z)
{
    if (r->answered || !http_token_ok(name_z) || !http_field_value_ok(value_z)) {
        return -1;
    }
    /* Framing is the server's business: a handler cannot desynchronise the connection. */
    static const char *const managed[] = {"content-length", "transfer-encoding", "connection",
                                          "date"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(managed); i++) {
        if (strcasecmp(name_z, managed[i]) == 0) {
            return -1;
        }
    }
    size_t before = r->resp_headers.len;
    if (buf_append_z(&r->resp_headers, name_z) != 0 || buf_append(&r->resp_headers, ": ", 2) != 0 ||
        buf_append_z(&r->resp_headers, value_z) != 0 ||
        buf_append(&r->resp_headers, "\r\n", 2) != 0) {
        r->resp_headers.len = before;
        if (r->resp_headers.p != NULL) {
            r->resp_headers.p[before] = '\0';
        }
        return -1;
    }
    return 0;
}

/* Hop-by-hop fields (RFC 9110 section 7.6.1: Connection, the fields it lists, and the
 * classic ones), plus the framing fields a proxy always writes itself. */
bool http_hop_by_hop(const struct http_header *hs, size_t n, struct slice name)
{
    /* Lengths first: this runs for every field of every proxied message, both ways. */
    static const struct slice names[] = {
        SLICE_LIT("connection"), SLICE_LIT("keep-alive"),    SLICE_LIT("proxy-connection"),
        SLICE_LIT("te"),         SLICE_LIT("trailer"),       SLICE_LIT("transfer-encoding"),
        SLICE_LIT("upgrade"),    SLICE_LIT("content-length")};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        if (name.n == names[i].n && slice_case_eq_z(name, names[i].p)) {
            return true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (hs[i].name.n == names[0].n && slice_case_eq_z(hs[i].name, names[0].p) &&
            http_list_has(hs[i].value, name)) {
            return true;
        }
    }
    return false;
}

void http_put_chunk_size(struct evbuffer *out, uint64_t size)
{
    static const char hex[] = "0123456789abcdef";
    char d[20];
    size_t i = sizeof d;
    d[--i] = '\n';
    d[--i] = '\r';
    do {
        d[--i] = hex[size & 15];
        size >>= 4;
    } while (size != 0);
    evbuffer_add(out, d + i, sizeof d - i);
}

/* ---- the response ------------------------------------------------------------------------ */

static void free_body(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    free(arg);
}

/* RFC 9110 sections 6.4.1 and 8.6: no content in 1xx, 204 and 304 responses, and no
 * Content-Length in 1xx and 204. */
static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static bool conn_should_close(const struct http_req *r)
{
    const struct http_conn *c = r->conn;
    return r->close || !r->head_valid || !r->head->keep_alive || c->peer_eof || c->loop->draining ||
           (r->streamed && !http_stream_body_discardable(r));
}

/* Writes the response to the connection's output; owned (may be NULL) is free()d here or
 * handed to the output buffer. */
static void respond(struct http_req *r, int status, const char *ctype, const void *body, size_t len,
                    void *owned)
{
    struct http_conn *c = r->conn;
    if (r->answered || r->job_pending) {
        /* A job still pending owns the request until its done callback: answering now
         * would let the connection reuse the request under it. */
        log_error("http: response dropped: %s",
                  r->answered ? "the request was already answered" : "a deferred job is pending");
        free(owned);
        return;
    }
    if (status < 100 || status > 999 ||
        (ctype != NULL && (strlen(ctype) > HTTP_CONTENT_TYPE_MAX || !http_field_value_ok(ctype)))) {
        log_error("http: invalid response status %d or content type", status);
        status = 500;
        ctype = NULL;
        body = NULL;
        len = 0;
    }
    r->answered = true;
    r->status = status;
    r->resp_bytes = status_has_body(status) ? len : 0;
    if (!c->open) {
        free(owned); /* the client went away: the answer is dropped */
        goto done;
    }
    bool close = conn_should_close(r);
    if (close) {
        r->close = true;
        c->closing = true;
    }
    http_loop_update_date(c->loop);

    char head[HTTP_HEAD_FIXED_MAX];
    struct out o = {head, 0, sizeof head, false};
    char code[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10)};
    PUT_LIT(&o, "HTTP/1.1 ");
    put(&o, code, 3);
    put(&o, " ", 1);
    put_z(&o, http_status_reason(status));
    PUT_LIT(&o, "\r\nServer: postern\r\n");
    put(&o, c->loop->date, c->loop->date_len);
    if (status_has_body(status) && ctype != NULL) {
        PUT_LIT(&o, "Content-Type: ");
        put_z(&o, ctype);
        PUT_LIT(&o, "\r\n");
    }
    if (status >= 200 && status != 204 && status != 304) {
        PUT_LIT(&o, "Content-Length: ");
        put_u64(&o, len);
        PUT_LIT(&o, "\r\n");
    }
    if (close) {
        PUT_LIT(&o, "Connection: close\r\n");
    } else {
        PUT_LIT(&o, "Connection: keep-alive\r\n");
    }
    struct evbuffer *out = c->out;
    if (r->resp_headers.len == 0) {
        PUT_LIT(&o, "\r\n");
        evbuffer_add(out, head, o.n);
    } else {
        evbuffer_add(out, head, o.n);
        evbuffer_add(out, r->resp_headers.p, r->resp_headers.len);
        evbuffer_add(out, "\r\n", 2);
    }
    bool send_body = status_has_body(status) && len > 0 && http_req_method(r) != HTTP_M_HEAD;
    if (send_body && owned != NULL && len > HTTP_RESP_COPY_MAX) {
        evbuffer_add_reference(out, body, len, free_body, owned);
        owned = NULL;
    } else if (send_body) {
        evbuffer_add(out, body, len);
    }
    free(owned);
done:
    http_conn_answered(c);
}

void http_respond(struct http_req *r, int status, const char *content_type_z, const void *body,
                  size_t len)
{
    respond(r, status, content_type_z, body, len, NULL);
}

void http_respond_buf(struct http_req *r, int status, const char *content_type_z, struct buf *body)
{
    size_t len = 0;
    char *p = buf_steal(body, &len);
    respond(r, status, content_type_z, p, len, p);
}

/* ---- error pages and redirects ---------------------------------------------------------- */

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int parse_q(struct slice v)
{
    if (v.n == 0 || v.p[0] == '1') {
        return v.n == 0 ? 0 : 1000;
    }
    int q = 0;
    if (v.p[0] == '0' && v.n > 2 && v.p[1] == '.') {
        int scale = 100;
        for (size_t i = 2; i < v.n && scale > 0 && v.p[i] >= '0' && v.p[i] <= '9'; i++) {
            q += (v.p[i] - '0') * scale;
            scale /= 10;
        }
    }
    return q;
}

/* The q-value of the best media range of an Accept header naming `type` exactly
 * (RFC 9110 section 12.5.1); -1 when the type is not named. */
static int accept_q(struct slice accept, const char *type)
{
    int best = -1;
    size_t i = 0;
    while (i < accept.n) {
        const char *p = accept.p + i;
        const char *comma = memchr(p, ',', accept.n - i);
        size_t n = comma != NULL ? (size_t)(comma - p) : accept.n - i;
        i += n + 1;
        struct slice elem = {p, n};
        const char *semi = memchr(p, ';', n);
        struct slice range = slice_trim_ows((struct slice){p, semi ? (size_t)(semi - p) : n});
        if (!slice_case_eq_z(range, type)) {
            continue;
        }
        int q = 1000;
        while (semi != NULL) {
            size_t off = (size_t)(semi - elem.p) + 1;
            struct slice rest = {elem.p + off, elem.n - off};
            semi = memchr(rest.p, ';', rest.n);
            struct slice param =
                slice_trim_ows((struct slice){rest.p, semi ? (size_t)(semi - rest.p) : rest.n});
            if (param.n >= 2 && (param.p[0] == 'q' || param.p[0] == 'Q') && param.p[1] == '=') {
                q = parse_q((struct slice){param.p + 2, param.n - 2});
            }
        }
        best = q > best ? q : best;
    }
    return best;
}

static bool prefers_json(const struct http_req *r)
{
    const char *a = http_req_header(r, "accept");
    if (a == NULL) {
        return false;
    }
    struct slice s = slice_z(a);
    int json = accept_q(s, "application/json");
    int html = accept_q(s, "text/html");
    return json > 0 && json > html;
}

static void put_html_escaped(struct out *o, const char *z)
{
    for (; *z; z++) {
        switch (*z) {
        case '&':
            PUT_LIT(o, "&amp;");
            break;
        case '<':
            PUT_LIT(o, "&lt;");
            break;
        case '>':
            PUT_LIT(o, "&gt;");
            break;
        case '"':
            PUT_LIT(o, "&quot;");
            break;
        case '\'':
            PUT_LIT(o, "&#39;");
            break;
        default:
            put(o, z, 1);
            break;
        }
    }
}

static void put_json_escaped(struct out *o, const char *z)
{
    static const char hex[] = "0123456789abcdef";
    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, e, 6);
        } else {
            put(o, z, 1);
        }
    }
}

void http_respond_error(struct http_req *r, int status, const char *message_z)
{
    char page[HTTP_ERROR_PAGE_MAX];
    struct out o = {page, 0, sizeof page - 64, false};
    const char *reason = http_status_reason(status);
    if (message_z == NULL) {
        message_z = reason;
    }
    if (prefers_json(r)) {
        PUT_LIT(&o, "{\"error\": \"");
        put_json_escaped(&o, message_z);
        o.cap = sizeof page; /* room for the closing bytes even after a truncated message */
        PUT_LIT(&o, "\"}\n");
        respond(r, status, "application/json", page, o.n, NULL);
        return;
    }
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), '\0'};
    PUT_LIT(&o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    put_z(&o, code);
    PUT_LIT(&o, " ");
    put_z(&o, reason);
    PUT_LIT(&o, "</title></head>\n<body><h1>");
    put_z(&o, code);
    PUT_LIT(&o, " ");
    put_z(&o, reason);
    PUT_LIT(&o, "</h1>\n<p>");
    put_html_escaped(&o, message_z);
    o.cap = sizeof page;
    PUT_LIT(&o, "</p></body></html>\n");
    respond(r, status, "text/html; charset=utf-8", page, o.n, NULL);
}

void http_redirect(struct http_req *r, int status, const char *location_z)
{
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
        status = 302;
    }
    if (location_z == NULL || location_z[0] == '\0' ||
        http_resp_header(r, "Location", location_z) != 0) {
        log_error("http: refused redirect target (empty, or control characters)");
        http_respond_error(r, 500, "Internal Server Error");
        return;
    }
    respond(r, status, NULL, NULL, 0, NULL);
}

/* ---- access log ------------------------------------------------------------------------ */

static const char *method_name(const struct http_req *r)
{
    static const char *const names[] = {"-",      "GET",   "HEAD",    "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
    size_t m = (size_t)http_req_method(r);
    return m < UTIL_ARRAY_LEN(names) ? names[m] : "-";
}

/* The canonical path only: never the query (codes, tokens) nor any header. log_msg
 * replaces control characters, so a decoded path cannot forge a log line. */
void http_access_log(const struct http_req *r)
{
    int64_t ms = http_now_ms() - r->t0_ms;
    log_info("%s %s %s %d %llu %lldms", r->conn->remote_ip, method_name(r),
             r->path.len > 0 ? r->path.p : "-", r->status, (unsigned long long)r->resp_bytes,
             (long long)(ms > 0 ? ms : 0));
}
