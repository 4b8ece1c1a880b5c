/*
 * path.c: the one canonical decode of a request path (DESIGN.md, "one canonical path decode
 * before policy matching").
 *
 * Policies and routes match on this form, the origin behind the Gate will see some decoding
 * of the same bytes: any input on which two sane decoders could disagree is refused rather
 * than guessed. Hence: exactly one percent-decode; no encoded separator (%2F, %5C) and no
 * backslash (Windows and some frameworks split on them); dot-segments resolved after the
 * decode, so "%2e%2e" is ".." (RFC 3986 section 5.2.4), never above the root; no ".;" or
 * "..;" segment (Tomcat strips path parameters before resolving dot-segments); no control
 * byte after decoding; no fragment. Repeated slashes are merged, a trailing slash is kept.
 */
#include "http/http.h"

#include <string.h>

/* Raw target bytes: VCHAR only (RFC 3986 is ASCII; a browser encodes everything else). */
static bool raw_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return false;
        }
    }
    return true;
}

/* Decodes raw[0..n) (one segment, no '/') and appends it to path; returns -1 on a refused
 * byte or escape, or when path's cap is reached. */
static int append_segment(const char *raw, size_t n, struct buf *path)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi = i + 2 < n ? util_hex_digit((unsigned char)raw[i + 1]) : -1;
            int lo = hi >= 0 ? util_hex_digit((unsigned char)raw[i + 2]) : -1;
            if (lo < 0) {
                return -1;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
            if (c < 0x20 || c == 0x7f || c == '/') {
                return -1; /* NUL and other controls; an encoded separator */
            }
        }
        if (c == '\\') {
            return -1; /* raw or encoded (%5C) */
        }
        if (buf_append_c(path, (char)c) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A decoded segment that is a dot-segment once a ";params" part is cut off. */
static bool dots_with_params(const char *seg, size_t n)
{
    const char *semi = memchr(seg, ';', n);
    if (semi == NULL) {
        return false;
    }
    size_t k = (size_t)(semi - seg);
    return (k == 1 && seg[0] == '.') || (k == 2 && seg[0] == '.' && seg[1] == '.');
}

/* 1 for ".", 2 for "..", 0 otherwise; an encoded dot ("%2e", "%2E") is a dot. */
static int dot_segment(const char *raw, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n; dots++) {
        if (raw[i] == '.') {
            i++;
        } else if (raw[i] == '%' && i + 2 < n && raw[i + 1] == '2' && (raw[i + 2] | 0x20) == 'e') {
            i += 3;
        } else {
            return 0;
        }
    }
    return dots <= 2 ? dots : 0;
}

static void truncate_to(struct buf *path, size_t len)
{
    path->len = len;
    if (path->p != NULL) {
        path->p[len] = '\0';
    }
}

/* The path is kept as "/a/b" ("" for the root) while segments come in; a final '/' is
 * added when the last segment was empty or a dot-segment. Each output byte stands for at
 * least one input byte, so a cap of target.n is always enough. */
static int canonical(struct slice target, struct buf *path, struct slice *query)
{
    if (target.n == 0 || target.p[0] != '/' || !raw_ok(target.p, target.n)) {
        return -1; /* not origin-form (absolute-form, "*", empty), or a bad byte */
    }
    const char *q = memchr(target.p, '?', target.n);
    size_t plen = q ? (size_t)(q - target.p) : target.n;
    bool last_plain = false;
    size_t i = 1;
    for (;;) {
        const char *slash = memchr(target.p + i, '/', plen - i);
        size_t end = slash ? (size_t)(slash - target.p) : plen;
        const char *raw = target.p + i;
        size_t n = end - i;
        int dots = dot_segment(raw, n);
        last_plain = false;
        if (dots == 2) {
            const char *cut = path->len ? memrchr(path->p, '/', path->len) : NULL;
            if (cut == NULL) {
                return -1; /* ".." above the root */
            }
            truncate_to(path, (size_t)(cut - path->p));
        } else if (n > 0 && dots == 0) {
            size_t start = path->len + 1;
            if (buf_append_c(path, '/') != 0 || append_segment(raw, n, path) != 0 ||
                dots_with_params(path->p + start, path->len - start)) {
                return -1;
            }
            last_plain = true;
        }
        /* else "//" or "/./": nothing */
        if (slash == NULL) {
            break;
        }
        i = end + 1;
    }
    if (!last_plain && buf_append_c(path, '/') != 0) {
        return -1;
    }
    if (q != NULL) {
        *query = (struct slice){q + 1, target.n - plen - 1};
    }
    return 0;
}

int http_path_canonical(struct slice target, struct buf *path, struct slice *query)
{
    buf_reset(path);
    *query = (struct slice){NULL, 0};
    if (canonical(target, path, query) != 0) {
        buf_reset(path);
        *query = (struct slice){NULL, 0};
        return -1;
    }
    return 0;
}
