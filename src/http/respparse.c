/*
 * respparse.c: the HTTP/1.1 response head parser, for what an origin sends to the proxy
 * (RFC 9112 sections 4, 5 and 6.3; RFC 9110 section 15).
 *
 * Same shape as parse.c: one stateless pass, no allocation, a class table, called again
 * from the start when more bytes arrive. As strict as the request parser where two readings
 * of the same bytes could differ, because the proxy re-frames the body for the client: an
 * origin response it misreads would desynchronise the client connection (response
 * splitting) or the pooled origin connection (response queue poisoning).
 */
#include "http/http.h"

#include <string.h>

/* Byte classes. */
#define RC_TCHAR 0x01 /* token (RFC 9110 section 5.6.2): field names */
#define RC_VALUE 0x02 /* field-content and reason-phrase: VCHAR, obs-text, SP, HTAB */

/* clang-format off */
static const unsigned char rtab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00: HTAB only */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, /* 0x20: SP ! " # $ % & ' ( ) * + , - . / */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, /* 0x30: digits, : ; < = > ? */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x40: @ A-O */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3, /* 0x50: P-Z [ \ ] ^ _ */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x60: ` a-o */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0, /* 0x70: p-z { | } ~ DEL */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80: obs-text */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
/* clang-format on */

#define MORE 1

/* What the field lines say about framing; judged once the head ends. */
struct rframing {
    bool te_seen;
    bool te_chunked_last;
    bool te_other;
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool upgrade_field;
};

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ASCII case-insensitive equality with a lower-case literal. */
static bool ieq(struct slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c >= 'A' && c <= 'Z' ? c | 0x20 : c) != (unsigned char)lit[i]) {
            return false;
        }
    }
    return true;
}

static void rhead_reset(struct http_resp_head *h)
{
    h->version_minor = 0;
    h->status = 0;
    h->reason = (struct slice){NULL, 0};
    h->nheaders = 0;
    h->body = HTTP_RB_NONE;
    h->has_content_length = false;
    h->content_length = 0;
    h->keep_alive = false;
    h->upgrade = false;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 section
 * 4). The SP before an empty reason is often left out by origins; that reading is
 * unambiguous, so it is accepted. */
static int parse_status_line(const unsigned char *b, size_t len, size_t *pp,
                             struct http_resp_head *h)
{
    static const char pattern[] = "HTTP/9.9 999"; /* '9' stands for any DIGIT */
    size_t lim = UTIL_MIN(len, (size_t)HTTP_MAX_STATUS_LINE);
    size_t p = 0;
    for (size_t i = 0; i < sizeof(pattern) - 1; i++, p++) {
        if (p >= lim) {
            return len >= HTTP_MAX_STATUS_LINE ? HTTP_RESP_E_LIMIT : MORE;
        }
        if (pattern[i] == '9' ? !is_digit(b[p]) : b[p] != (unsigned char)pattern[i]) {
            if (i < 8) {
                return HTTP_RESP_E_SYNTAX; /* not an HTTP/1.x response at all */
            }
            return i == 8 ? HTTP_RESP_E_SYNTAX : HTTP_RESP_E_STATUS;
        }
    }
    if (b[5] != '1' || b[7] > '1') {
        return HTTP_RESP_E_VERSION;
    }
    h->version_minor = b[7] - '0';
    h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    if (h->status < 100 || h->status > 599) {
        return HTTP_RESP_E_STATUS;
    }
    if (p >= lim) {
        return len >= HTTP_MAX_STATUS_LINE ? HTTP_RESP_E_LIMIT : MORE;
    }
    size_t s = p;
    if (b[p] == ' ') {
        s = ++p;
        while (p < lim && (rtab[b[p]] & RC_VALUE)) {
            p++;
        }
        if (p >= lim) {
            return len >= HTTP_MAX_STATUS_LINE ? HTTP_RESP_E_LIMIT : MORE;
        }
    }
    if (b[p] != '\r') {
        return is_digit(b[p]) ? HTTP_RESP_E_STATUS : HTTP_RESP_E_SYNTAX;
    }
    h->reason = (struct slice){(const char *)b + s, p - s};
    if (p + 1 >= HTTP_MAX_STATUS_LINE) {
        return HTTP_RESP_E_LIMIT;
    }
    if (p + 1 >= len) {
        return MORE;
    }
    if (b[p + 1] != '\n') {
        return HTTP_RESP_E_SYNTAX; /* bare CR */
    }
    *pp = p + 2;
    return 0;
}

/* Content-Length = 1*DIGIT, a list of identical values being one value (RFC 9110 section
 * 8.6); anything else is a framing error (RFC 9112 section 6.3 rule 5). */
static int on_content_length(struct http_resp_head *h, struct slice v)
{
    size_t i = 0;
    for (;;) {
        uint64_t x = 0;
        size_t s = i;
        for (; i < v.n && is_digit((unsigned char)v.p[i]); i++) {
            unsigned d = (unsigned)(v.p[i] - '0');
            if (x > (UINT64_MAX - d) / 10) {
                return HTTP_RESP_E_FRAMING;
            }
            x = x * 10 + d;
        }
        if (i == s || (h->has_content_length && h->content_length != x)) {
            return HTTP_RESP_E_FRAMING;
        }
        h->has_content_length = true;
        h->content_length = x;
        while (i < v.n && is_ows((unsigned char)v.p[i])) {
            i++;
        }
        if (i == v.n) {
            return 0;
        }
        if (v.p[i] != ',') {
            return HTTP_RESP_E_FRAMING;
        }
        i++;
        while (i < v.n && is_ows((unsigned char)v.p[i])) {
            i++;
        }
    }
}

/* Transfer-Encoding = #transfer-coding (RFC 9112 section 6.1). Only a single "chunked"
 * (possibly across lines) is accepted: the proxy decodes it and re-frames the body, and
 * it could not forward another coding without forwarding Transfer-Encoding itself. */
static int on_transfer_encoding(struct rframing *f, struct slice v)
{
    f->te_seen = true;
    size_t i = 0;
    for (;;) {
        while (i < v.n && (is_ows((unsigned char)v.p[i]))) {
            i++;
        }
        size_t s = i;
        while (i < v.n && (rtab[(unsigned char)v.p[i]] & RC_TCHAR)) {
            i++;
        }
        struct slice coding = {v.p + s, i - s};
        while (i < v.n && is_ows((unsigned char)v.p[i])) {
            i++;
        }
        if (coding.n == 0 || (i < v.n && v.p[i] != ',')) {
            return HTTP_RESP_E_FRAMING; /* empty element, parameters, junk */
        }
        if (f->te_chunked_last) {
            return HTTP_RESP_E_FRAMING; /* chunked twice, or not last */
        }
        f->te_chunked_last = ieq(coding, "chunked");
        f->te_other |= !f->te_chunked_last;
        if (i == v.n) {
            return 0;
        }
        i++;
    }
}

/* Connection = #connection-option (RFC 9110 section 7.6.1). */
static void on_connection(struct rframing *f, struct slice v)
{
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (is_ows((unsigned char)v.p[i]) || v.p[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < v.n && v.p[i] != ',' && !is_ows((unsigned char)v.p[i])) {
            i++;
        }
        struct slice opt = {v.p + s, i - s};
        f->conn_close |= ieq(opt, "close");
        f->conn_keep_alive |= ieq(opt, "keep-alive");
        f->conn_upgrade |= ieq(opt, "upgrade");
    }
}

static int on_field(struct http_resp_head *h, struct rframing *f, struct slice name, struct slice v)
{
    if (ieq(name, "content-length")) {
        return on_content_length(h, v);
    }
    if (ieq(name, "transfer-encoding")) {
        return on_transfer_encoding(f, v);
    }
    if (ieq(name, "connection")) {
        on_connection(f, v);
    } else if (ieq(name, "upgrade") && v.n > 0) {
        f->upgrade_field = true;
    }
    return 0;
}

/* field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 section 5), ending
 * before win. No whitespace before the colon, no obs-fold (section 5.2), no bare CR. */
static int parse_field_line(const unsigned char *b, size_t len, size_t win, size_t *pp,
                            struct http_resp_head *h, struct rframing *f)
{
    size_t p = *pp;
    size_t lim = UTIL_MIN(len, win);
    size_t s = p;
    while (p < lim && (rtab[b[p]] & RC_TCHAR)) {
        p++;
    }
    if (p >= lim) {
        return p >= win ? HTTP_RESP_E_LIMIT : MORE;
    }
    if (b[p] != ':' || p == s) {
        return HTTP_RESP_E_SYNTAX;
    }
    struct slice name = {(const char *)b + s, p - s};
    p++;
    while (p < lim && is_ows(b[p])) {
        p++;
    }
    s = p;
    while (p < lim && (rtab[b[p]] & RC_VALUE)) {
        p++;
    }
    if (p >= lim) {
        return p >= win ? HTTP_RESP_E_LIMIT : MORE;
    }
    if (b[p] != '\r') {
        return HTTP_RESP_E_SYNTAX; /* NUL, control byte, DEL, bare LF */
    }
    size_t e = p;
    while (e > s && is_ows(b[e - 1])) {
        e--;
    }
    if (p + 1 >= win) {
        return HTTP_RESP_E_LIMIT;
    }
    if (p + 1 >= len) {
        return MORE;
    }
    if (b[p + 1] != '\n') {
        return HTTP_RESP_E_SYNTAX;
    }
    *pp = p + 2;
    struct slice value = {(const char *)b + s, e - s};
    h->headers[h->nheaders].name = name;
    h->headers[h->nheaders].value = value;
    h->nheaders++;
    return on_field(h, f, name, value);
}

static int parse_fields(const unsigned char *b, size_t len, size_t *pp, struct http_resp_head *h,
                        struct rframing *f)
{
    size_t p = *pp;
    size_t win = p + HTTP_MAX_HEADER_BYTES;
    for (;;) {
        if (p >= len) {
            return MORE;
        }
        if (b[p] == '\r') {
            if (p + 1 >= len) {
                return MORE;
            }
            if (b[p + 1] != '\n') {
                return HTTP_RESP_E_SYNTAX;
            }
            *pp = p + 2;
            return 0;
        }
        if (h->nheaders == HTTP_MAX_HEADERS || p >= win) {
            return HTTP_RESP_E_LIMIT;
        }
        int rc = parse_field_line(b, len, win, &p, h, f);
        if (rc != 0) {
            return rc;
        }
    }
}

/* Message body length of a response, RFC 9112 section 6.3, rules in order. */
static int finish(struct http_resp_head *h, const struct rframing *f, bool head_request)
{
    bool interim = h->status < 200;
    if (f->te_seen) {
        /* Rule 3: TE with CL is refused rather than "TE overrides CL": an origin sending
         * both is broken or attacking the client (section 6.1). HTTP/1.0 has no TE. */
        if (h->has_content_length || h->version_minor == 0 || f->te_other || !f->te_chunked_last ||
            interim || h->status == 204) {
            return HTTP_RESP_E_FRAMING;
        }
    }
    /* 1xx and 204 never have content (RFC 9110 sections 8.6 and 15.3.5); a zero length
     * is harmless, another one means two readings. */
    if ((interim || h->status == 204) && h->has_content_length && h->content_length != 0) {
        return HTTP_RESP_E_FRAMING;
    }
    if (h->version_minor == 1) {
        h->keep_alive = !f->conn_close;
    } else {
        h->keep_alive = f->conn_keep_alive && !f->conn_close;
    }
    h->upgrade = f->conn_upgrade && f->upgrade_field;
    if (head_request || interim || h->status == 204 || h->status == 304) {
        h->body = HTTP_RB_NONE; /* rule 1 */
    } else if (f->te_seen) {
        h->body = HTTP_RB_CHUNKED; /* rule 4 */
    } else if (h->has_content_length) {
        h->body = HTTP_RB_LENGTH; /* rule 6 */
    } else {
        h->body = HTTP_RB_CLOSE; /* rule 8 */
        h->keep_alive = false;
    }
    return 0;
}

int http_parse_response_head(const char *buf, size_t len, bool head_request,
                             struct http_resp_head *h, size_t *consumed)
{
    const unsigned char *b = (const unsigned char *)buf;
    struct rframing f = {0};
    size_t p = 0;
    int rc;

    *consumed = 0;
    rhead_reset(h);
    if ((rc = parse_status_line(b, len, &p, h)) != 0 ||
        (rc = parse_fields(b, len, &p, h, &f)) != 0 || (rc = finish(h, &f, head_request)) != 0) {
        return rc;
    }
    *consumed = p;
    return 0;
}

const struct http_header *http_resp_head_get(const struct http_resp_head *h, const char *name_z)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        if (slice_case_eq_z(h->headers[i].name, name_z)) {
            return &h->headers[i];
        }
    }
    return NULL;
}
