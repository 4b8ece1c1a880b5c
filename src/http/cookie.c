/*
 * cookie.c: the Cookie request header (RFC 6265 section 5.4 / 4.2.1).
 *
 *   cookie-string = cookie-pair *( ";" SP cookie-pair )
 *   cookie-pair   = cookie-name "=" cookie-value
 *
 * Read like browsers write it, and no further: pairs are split at ';', whitespace around
 * names and values is dropped (some clients omit the SP, some add more), the name must be a
 * token, one pair of surrounding DQUOTEs is removed from the value. A pair that does not fit
 * (no '=', empty or non-token name, control bytes, unbalanced or inner DQUOTE) is skipped,
 * never fatal: one bad cookie set by another application on the domain must not lock the
 * user out. No allocation: the slices point into the header.
 */
#include "http/http.h"

#include "http/bytes.h"

#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar (RFC 9110 section 5.6.2): cookie-name = token (RFC 6265 section 4.1.1). */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
        return true;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The value bytes kept: no control byte, no DQUOTE (it may only surround the value). SP,
 * comma and backslash, which RFC 6265 leaves out of cookie-octet but which real sites set,
 * are accepted inside a value. */
static bool value_ok(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w = http_word_load(p + i);
            if (!http_word_may_ctl(w) && !http_word_has_byte(w, '"')) {
                i += 8; /* a 1 KB token, eight bytes at a time */
                continue;
            }
        }
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f || c == '"') {
            return false;
        }
        i++;
    }
    return true;
}

static struct slice trim(const char *p, size_t n)
{
    while (n > 0 && is_ows(*p)) {
        p++;
        n--;
    }
    while (n > 0 && is_ows(p[n - 1])) {
        n--;
    }
    return (struct slice){p, n};
}

static bool pair_parse(const char *p, size_t n, struct http_cookie *out)
{
    const char *eq = memchr(p, '=', n);
    if (eq == NULL) {
        return false;
    }
    struct slice name = trim(p, (size_t)(eq - p));
    struct slice value = trim(eq + 1, n - (size_t)(eq - p) - 1);
    if (name.n == 0) {
        return false;
    }
    for (size_t i = 0; i < name.n; i++) {
        if (!is_tchar((unsigned char)name.p[i])) {
            return false;
        }
    }
    if (value.n > 0 && value.p[0] == '"') {
        if (value.n < 2 || value.p[value.n - 1] != '"') {
            return false;
        }
        value.p++;
        value.n -= 2;
    }
    if (!value_ok(value.p, value.n)) {
        return false;
    }
    out->name = name;
    out->value = value;
    return true;
}

size_t http_cookie_parse(struct slice header, struct http_cookie *out, size_t max)
{
    size_t count = 0;
    size_t i = 0;
    while (i < header.n && count < max) {
        const char *p = header.p + i;
        const char *semi = memchr(p, ';', header.n - i);
        size_t n = semi ? (size_t)(semi - p) : header.n - i;
        if (pair_parse(p, n, &out[count])) {
            count++;
        }
        i += n + 1; /* past the ';' (or past the end: the loop stops) */
    }
    return count;
}
