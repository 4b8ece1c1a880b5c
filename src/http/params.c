/*
 * params.c: query strings and application/x-www-form-urlencoded bodies (WHATWG URL
 * "application/x-www-form-urlencoded parsing", with the strictness of RFC 3986 section 2.1).
 *
 * "a=1&b=%20x+y": pairs split at '&', name and value at the first '=', '+' is a space, %XX
 * decoded once. Unlike browsers, which pass a bad escape through as text, an invalid escape
 * or a decoded NUL makes the whole input invalid: OAuth2 parameters (redirect_uri, state,
 * code_verifier) must mean one thing to every reader. Empty pairs ("a=1&&b=2") are skipped,
 * "a" alone is a = "", "=x" is a parameter with an empty name.
 *
 * Memory: one allocation holds the array and every decoded string (a decoded string is
 * never longer than its encoding), freed by http_params_free.
 */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

/* Checks the escapes of the whole input and counts its non-empty pairs. */
static int validate(struct slice s, size_t *count)
{
    size_t n = 0;
    bool in_pair = false;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '&') {
            in_pair = false;
            continue;
        }
        if (!in_pair) {
            in_pair = true;
            if (++n > HTTP_MAX_PARAMS) {
                return -1;
            }
        }
        if (c == '\0') {
            return -1;
        }
        if (c == '%') {
            if (s.n - i < 3) {
                return -1; /* truncated escape */
            }
            int hi = util_hex_digit((unsigned char)s.p[i + 1]),
                lo = util_hex_digit((unsigned char)s.p[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return -1;
            }
            i += 2;
        }
    }
    *count = n;
    return 0;
}

/* Decodes p[0..n) (already validated) into dst, NUL-terminated; returns the byte after. */
static char *decode(const char *p, size_t n, char *dst)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            c = (char)(util_hex_digit((unsigned char)p[i + 1]) << 4 |
                       util_hex_digit((unsigned char)p[i + 2]));
            i += 2;
        }
        *dst++ = c;
    }
    *dst++ = '\0';
    return dst;
}

int http_params_parse(struct slice s, struct http_params *out)
{
    size_t count = 0;
    out->v = NULL;
    out->n = 0;
    if (validate(s, &count) != 0) {
        return -1;
    }
    if (count == 0) {
        return 0;
    }
    size_t array = count * sizeof(struct http_param);
    struct http_param *v = xmalloc(array + s.n + 2 * count);
    char *dst = (char *)v + array;
    size_t n = 0;
    size_t i = 0;
    while (i < s.n) {
        const char *p = s.p + i;
        const char *amp = memchr(p, '&', s.n - i);
        size_t len = amp ? (size_t)(amp - p) : s.n - i;
        i += len + 1;
        if (len == 0) {
            continue;
        }
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t)(eq - p) : len;
        v[n].name = dst;
        dst = decode(p, name_len, dst);
        v[n].value = dst;
        dst = eq ? decode(eq + 1, len - name_len - 1, dst) : decode(p, 0, dst);
        n++;
    }
    out->v = v;
    out->n = n;
    return 0;
}

void http_params_free(struct http_params *p)
{
    if (p == NULL) {
        return;
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

const char *http_params_get(const struct http_params *p, const char *name_z)
{
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        if (strcmp(p->v[i].name, name_z) == 0) {
            return p->v[i].value;
        }
    }
    return NULL;
}

size_t http_params_count(const struct http_params *p, const char *name_z)
{
    size_t n = 0;
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        n += strcmp(p->v[i].name, name_z) == 0;
    }
    return n;
}

/* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 section 2.3). */
static bool unreserved(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int http_url_encode(struct slice s, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t orig = out->len;
    char chunk[256];
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (k + 3 > sizeof(chunk)) {
            if (buf_append(out, chunk, k) != 0) {
                goto fail;
            }
            k = 0;
        }
        if (unreserved(c)) {
            chunk[k++] = (char)c;
        } else {
            chunk[k++] = '%';
            chunk[k++] = hex[c >> 4];
            chunk[k++] = hex[c & 15];
        }
    }
    if (buf_append(out, chunk, k) == 0) {
        return 0;
    }
fail:
    /* All or nothing, like the buf_* functions. */
    out->len = orig;
    if (out->p != NULL) {
        out->p[orig] = '\0';
    }
    return -1;
}
