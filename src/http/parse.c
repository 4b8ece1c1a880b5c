/*
 * parse.c: the HTTP/1.1 request head parser (RFC 9112 sections 2-3 and 5-6, RFC 9110 section 5).
 *
 * One stateless pass over the bytes received so far: no allocation, no copy, every byte looked
 * at once through a class table. The parser is strict on purpose: wherever two HTTP
 * implementations could read the same bytes differently (request smuggling), it refuses.
 * It is called again from the start when more bytes arrive, so every rule is checked on a
 * prefix as well: an incomplete head that is already invalid, or already past a limit, is
 * reported at once rather than buffered.
 */
#include "http/http.h"

#include "http/bytes.h"

#include <string.h>

/* Byte classes (one table lookup per byte on the hot path). */
#define CT_TCHAR  0x01 /* token (RFC 9110 section 5.6.2): method, field name */
#define CT_VALUE  0x02 /* field-content: VCHAR, obs-text, SP, HTAB (RFC 9110 section 5.5) */
#define CT_TARGET 0x04 /* request-target bytes: VCHAR only (RFC 3986 is ASCII) */
#define CT_HOST   0x08 /* Host: unreserved, ':' and brackets (RFC 3986 section 3.2.2) */

/* clang-format off */
static const unsigned char ctab[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  7,  6,  7,  7,  7,  7,  7,  6,  6,  7,  7,  6,  15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  6,  6,  6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80: obs-text */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xA0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xB0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xC0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xD0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xE0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xF0 */
};
/* clang-format on */

#define NEED_MORE 1
#define BAD       (-400)

/* The request line, with any empty lines before it, must end (its CR included) inside
 * this many bytes from the start of the buffer. */
#define RL_WINDOW (HTTP_MAX_REQUEST_LINE + 1)

/* What the field lines say about framing and the connection; judged once the head ends. */
struct framing {
    unsigned hosts;
    bool te_seen;
    bool te_chunked_last; /* the last transfer coding so far is chunked */
    bool te_other;        /* a coding other than chunked was applied */
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool upgrade_field;
    bool expect_100;
};

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* ASCII case-insensitive equality with a lower-case literal. */
static bool ieq(const char *p, size_t n, const char *lit, size_t litn)
{
    if (n != litn) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)p[i]) != (unsigned char)lit[i]) {
            return false;
        }
    }
    return true;
}
#define IEQ(p, n, lit) ieq((p), (n), (lit), sizeof(lit) - 1)

static enum http_method method_of(const char *p, size_t n)
{
    /* Methods are case-sensitive (RFC 9110 section 9.1): "get" is an unknown method. */
    static const struct {
        const char *name;
        size_t n;
        enum http_method m;
    } known[] = {
        {"GET", 3, HTTP_M_GET},         {"HEAD", 4, HTTP_M_HEAD},       {"POST", 4, HTTP_M_POST},
        {"PUT", 3, HTTP_M_PUT},         {"DELETE", 6, HTTP_M_DELETE},   {"PATCH", 5, HTTP_M_PATCH},
        {"OPTIONS", 7, HTTP_M_OPTIONS}, {"CONNECT", 7, HTTP_M_CONNECT}, {"TRACE", 5, HTTP_M_TRACE},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(known); i++) {
        if (known[i].n == n && memcmp(known[i].name, p, n) == 0) {
            return known[i].m;
        }
    }
    return HTTP_M_UNKNOWN;
}

static void head_reset(struct http_head *h)
{
    /* The header array is not cleared: only headers[0..nheaders) are meaningful. */
    h->method = HTTP_M_UNKNOWN;
    h->method_raw = (struct slice){NULL, 0};
    h->target = (struct slice){NULL, 0};
    h->version_minor = 0;
    h->nheaders = 0;
    h->chunked = false;
    h->has_content_length = false;
    h->content_length = 0;
    h->keep_alive = false;
    h->expect_continue = false;
    h->upgrade = false;
    h->host = (struct slice){NULL, 0};
}

/* The scan of the request line reached lim = min(len, RL_WINDOW) without its end. */
static int rl_cut(size_t len)
{
    return len < RL_WINDOW ? NEED_MORE : -414;
}

/* Empty lines before the request line are ignored (RFC 9112 section 2.2), CRLF only;
 * they count against the request-line budget so that they cannot be sent forever. */
static int skip_empty_lines(const unsigned char *b, size_t len, size_t *pp)
{
    size_t p = *pp;
    size_t lim = UTIL_MIN(len, RL_WINDOW);
    while (p < lim && b[p] == '\r') {
        if (p + 1 >= RL_WINDOW) {
            return -414; /* whatever follows, the request line cannot fit any more */
        }
        if (p + 1 >= len) {
            return NEED_MORE;
        }
        if (b[p + 1] != '\n') {
            return BAD;
        }
        p += 2;
    }
    *pp = p;
    return 0;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF (RFC 9112 sections 2.3 and 3). */
static int parse_version(const unsigned char *b, size_t len, size_t *pp, struct http_head *h)
{
    static const char pattern[] = "HTTP/9.9\r"; /* '9' stands for any DIGIT */
    size_t p = *pp;
    size_t lim = UTIL_MIN(len, RL_WINDOW);
    for (size_t i = 0; i < sizeof(pattern) - 1; i++, p++) {
        if (p >= lim) {
            return rl_cut(len);
        }
        if (pattern[i] == '9' ? !(b[p] >= '0' && b[p] <= '9') : b[p] != (unsigned char)pattern[i]) {
            return BAD;
        }
    }
    if (p >= len) {
        return NEED_MORE;
    }
    if (b[p] != '\n') {
        return BAD; /* bare CR */
    }
    unsigned major = b[p - 4] - '0', minor = b[p - 2] - '0'; /* p is at the LF */
    if (major != 1 || minor > 1) {
        return -505; /* well-formed, but only HTTP/1.0 and HTTP/1.1 are spoken here */
    }
    h->version_minor = (int)minor;
    *pp = p + 1;
    return 0;
}

/* request-line = method SP request-target SP HTTP-version CRLF, single SPs only
 * (RFC 9112 section 3: the lenient whitespace parsing it permits is not used). */
static int parse_request_line(const unsigned char *b, size_t len, size_t *pp, struct http_head *h)
{
    size_t p = *pp;
    size_t lim = UTIL_MIN(len, RL_WINDOW);

    size_t s = p;
    while (p < lim && (ctab[b[p]] & CT_TCHAR)) {
        p++;
    }
    if (p >= lim) {
        return rl_cut(len);
    }
    if (p == s || b[p] != ' ') {
        return BAD; /* empty or invalid method, bare LF, a second empty-line form */
    }
    h->method_raw = (struct slice){(const char *)b + s, p - s};
    h->method = method_of(h->method_raw.p, h->method_raw.n);
    p++;

    s = p;
    while (p < lim && (ctab[b[p]] & CT_TARGET)) {
        p++;
    }
    if (p >= lim) {
        return rl_cut(len);
    }
    if (p == s || b[p] != ' ') {
        return BAD; /* empty target, control byte, non-ASCII, HTTP/0.9 request */
    }
    h->target = (struct slice){(const char *)b + s, p - s};
    p++;

    *pp = p;
    return parse_version(b, len, pp, h);
}

/* Content-Length = 1*DIGIT; a list of identical values is one value (RFC 9110 section 8.6),
 * any other repetition is a framing conflict (RFC 9112 section 6.3). */
static int on_content_length(struct http_head *h, const char *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        uint64_t x = 0;
        size_t s = i;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            unsigned d = (unsigned)(v[i] - '0');
            if (x > (UINT64_MAX - d) / 10) {
                return BAD;
            }
            x = x * 10 + d;
            i++;
        }
        if (i == s) {
            return BAD; /* empty, signed, or not a number */
        }
        if (h->has_content_length && h->content_length != x) {
            return BAD;
        }
        h->has_content_length = true;
        h->content_length = x;
        while (i < n && is_ows((unsigned char)v[i])) {
            i++;
        }
        if (i == n) {
            return 0;
        }
        if (v[i] != ',') {
            return BAD;
        }
        i++;
        while (i < n && is_ows((unsigned char)v[i])) {
            i++;
        }
    }
}

/* Skips transfer-parameters after a coding: *( OWS ";" OWS token BWS "=" BWS
 * ( token / quoted-string ) ) up to the next ',' outside a quoted-string. */
static int skip_te_params(const char *v, size_t n, size_t *ip)
{
    size_t i = *ip;
    bool quoted = false;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (quoted) {
            if (c == '\\') {
                if (++i == n) {
                    return BAD;
                }
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            break;
        }
    }
    if (quoted) {
        return BAD;
    }
    *ip = i;
    return 0;
}

/* Transfer-Encoding = #transfer-coding (RFC 9112 section 6.1). Lines accumulate: the last
 * coding of the last line must be chunked, and chunked must not be applied twice. Empty
 * list elements are refused (a stricter reading than RFC 9110 section 5.6.1). */
static int on_transfer_encoding(struct framing *f, const char *v, size_t n)
{
    f->te_seen = true;
    size_t i = 0;
    for (;;) {
        size_t s = i;
        while (i < n && (ctab[(unsigned char)v[i]] & CT_TCHAR)) {
            i++;
        }
        if (i == s) {
            return BAD;
        }
        if (f->te_chunked_last) {
            return BAD; /* something after chunked: chunked twice, or not last */
        }
        bool chunked = IEQ(v + s, i - s, "chunked");
        while (i < n && is_ows((unsigned char)v[i])) {
            i++;
        }
        if (i < n && v[i] == ';') {
            chunked = false; /* chunked takes no parameters: an unknown coding */
            if (skip_te_params(v, n, &i) != 0) {
                return BAD;
            }
        }
        f->te_chunked_last = chunked;
        f->te_other |= !chunked;
        if (i == n) {
            return 0;
        }
        if (v[i] != ',') {
            return BAD;
        }
        i++;
        while (i < n && is_ows((unsigned char)v[i])) {
            i++;
        }
    }
}

/* Connection = #connection-option (RFC 9110 section 7.6.1); unknown options are ignored. */
static void on_connection(struct framing *f, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows((unsigned char)v[i]) || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < n && v[i] != ',' && !is_ows((unsigned char)v[i])) {
            i++;
        }
        if (IEQ(v + s, i - s, "close")) {
            f->conn_close = true;
        } else if (IEQ(v + s, i - s, "keep-alive")) {
            f->conn_keep_alive = true;
        } else if (IEQ(v + s, i - s, "upgrade")) {
            f->conn_upgrade = true;
        }
    }
}

/* Host = uri-host [ ":" port ] (RFC 9110 section 7.2), read narrowly: a DNS name or IPv4
 * address (unreserved characters), or an IP-literal in brackets, then an optional 1-5 digit
 * port. The router and redirects use this value, so nothing else gets through. */
static bool host_valid(const char *v, size_t n)
{
    size_t i = 0;
    if (n == 0) {
        return false;
    }
    if (v[0] == '[') {
        while (i < n && v[i] != ']') {
            unsigned char c = (unsigned char)v[i];
            if (i > 0 && !(c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                           (lower(c) >= 'a' && lower(c) <= 'f'))) {
                return false;
            }
            i++;
        }
        if (i == n || i < 3) {
            return false;
        }
        i++;
    } else {
        while (i < n && (ctab[(unsigned char)v[i]] & CT_HOST) && v[i] != ':' && v[i] != '[' &&
               v[i] != ']') {
            i++;
        }
        if (i == 0) {
            return false;
        }
    }
    if (i == n) {
        return true;
    }
    if (v[i] != ':' || n - i - 1 < 1 || n - i - 1 > 5) {
        return false;
    }
    for (i++; i < n; i++) {
        if (!(v[i] >= '0' && v[i] <= '9')) {
            return false;
        }
    }
    return true;
}

/* Applies what a field line says about framing as soon as the line is complete. */
static int on_field(struct http_head *h, struct framing *f, struct slice name, struct slice v)
{
    switch (name.n) {
    case 4:
        if (IEQ(name.p, name.n, "host")) {
            /* RFC 9112 section 3.2: more than one Host, or an invalid one, is a 400. */
            if (++f->hosts > 1 || !host_valid(v.p, v.n)) {
                return BAD;
            }
            h->host = v;
        }
        break;
    case 6:
        if (IEQ(name.p, name.n, "expect") && IEQ(v.p, v.n, "100-continue")) {
            f->expect_100 = true;
        }
        break;
    case 7:
        if (IEQ(name.p, name.n, "upgrade") && v.n > 0) {
            f->upgrade_field = true;
        }
        break;
    case 10:
        if (IEQ(name.p, name.n, "connection")) {
            on_connection(f, v.p, v.n);
        }
        break;
    case 14:
        if (IEQ(name.p, name.n, "content-length")) {
            return on_content_length(h, v.p, v.n);
        }
        break;
    case 17:
        if (IEQ(name.p, name.n, "transfer-encoding")) {
            return on_transfer_encoding(f, v.p, v.n);
        }
        break;
    default:
        break;
    }
    return 0;
}

/* The end of the field-content bytes from p (at most lim): values are long (cookies,
 * tokens), so eight bytes are tested at once where no control byte can be among them. */
static size_t value_end(const unsigned char *b, size_t p, size_t lim)
{
    while (p < lim) {
        if (lim - p >= 8 && !http_word_may_ctl(http_word_load(b + p))) {
            p += 8;
        } else if (ctab[b[p]] & CT_VALUE) {
            p++;
        } else {
            break;
        }
    }
    return p;
}

/* field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 section 5). The line, its
 * CRLF included, must end before `win` (the end of the header-bytes budget). */
static int parse_field_line(const unsigned char *b, size_t len, size_t win, size_t *pp,
                            struct http_head *h, struct framing *f)
{
    size_t p = *pp;
    size_t lim = UTIL_MIN(len, win);

    size_t s = p;
    while (p < lim && (ctab[b[p]] & CT_TCHAR)) {
        p++;
    }
    if (p >= lim) {
        return p >= win ? -431 : NEED_MORE;
    }
    /* Not a colon: whitespace before it (section 5.1), obs-fold (a line that starts with
     * SP or HTAB, section 5.2), a control byte or bare LF. Also refuse an empty name. */
    if (b[p] != ':' || p == s) {
        return BAD;
    }
    struct slice name = {(const char *)b + s, p - s};
    p++;

    while (p < lim && is_ows(b[p])) {
        p++;
    }
    s = p;
    p = value_end(b, p, lim);
    if (p >= lim) {
        return p >= win ? -431 : NEED_MORE;
    }
    if (b[p] != '\r') {
        return BAD; /* NUL, another control byte, DEL, bare LF */
    }
    size_t e = p;
    while (e > s && is_ows(b[e - 1])) {
        e--;
    }
    if (p + 1 >= win) {
        return -431;
    }
    if (p + 1 >= len) {
        return NEED_MORE;
    }
    if (b[p + 1] != '\n') {
        return BAD; /* bare CR */
    }
    *pp = p + 2;

    struct slice value = {(const char *)b + s, e - s};
    h->headers[h->nheaders].name = name;
    h->headers[h->nheaders].value = value;
    h->nheaders++;
    return on_field(h, f, name, value);
}

/* The field lines up to the empty line. Their bytes (CRLFs included, the empty line not)
 * are bounded by HTTP_MAX_HEADER_BYTES, their number by HTTP_MAX_HEADERS. */
static int parse_fields(const unsigned char *b, size_t len, size_t *pp, struct http_head *h,
                        struct framing *f)
{
    size_t p = *pp;
    size_t win = p + HTTP_MAX_HEADER_BYTES;
    for (;;) {
        if (p >= len) {
            return NEED_MORE;
        }
        if (b[p] == '\r') {
            if (p + 1 >= len) {
                return NEED_MORE;
            }
            if (b[p + 1] != '\n') {
                return BAD;
            }
            *pp = p + 2;
            return 0;
        }
        if (h->nheaders == HTTP_MAX_HEADERS || p >= win) {
            return -431; /* one more field line cannot fit */
        }
        int rc = parse_field_line(b, len, win, &p, h, f);
        if (rc != 0) {
            return rc;
        }
    }
}

/* Message framing and connection options (RFC 9112 sections 6.1, 6.3, 9.3). */
static int finish(struct http_head *h, const struct framing *f)
{
    if (h->version_minor == 1 && f->hosts == 0) {
        return BAD;
    }
    if (f->te_seen) {
        /* Content-Length with Transfer-Encoding is refused rather than overridden
         * (section 6.1): it is the classic request-smuggling vector. */
        if (h->version_minor == 0 || h->has_content_length || !f->te_chunked_last) {
            return BAD;
        }
        if (f->te_other) {
            return -501; /* e.g. "gzip, chunked": a transfer coding not implemented */
        }
        h->chunked = true;
    }
    if (h->version_minor == 1) {
        h->keep_alive = !f->conn_close;
        /* A 100-continue in an HTTP/1.0 request is ignored (RFC 9110 section 10.1.1). */
        h->expect_continue = f->expect_100;
    } else {
        h->keep_alive = f->conn_keep_alive && !f->conn_close;
    }
    h->upgrade = f->conn_upgrade && f->upgrade_field;
    return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_head *h, size_t *consumed)
{
    const unsigned char *b = (const unsigned char *)buf;
    struct framing f = {0};
    size_t p = 0;
    int rc;

    *consumed = 0;
    head_reset(h);
    if ((rc = skip_empty_lines(b, len, &p)) != 0 || (rc = parse_request_line(b, len, &p, h)) != 0 ||
        (rc = parse_fields(b, len, &p, h, &f)) != 0 || (rc = finish(h, &f)) != 0) {
        return rc;
    }
    *consumed = p;
    return 0;
}

const struct http_header *http_head_get(const struct http_head *h, const char *name_z)
{
    size_t n = strlen(name_z);
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http_header *hd = &h->headers[i];
        if (hd->name.n != n) {
            continue;
        }
        size_t j = 0;
        while (j < n && lower((unsigned char)hd->name.p[j]) == lower((unsigned char)name_z[j])) {
            j++;
        }
        if (j == n) {
            return hd;
        }
    }
    return NULL;
}
