#include "util/util.h"

#include <string.h>

struct slice slice_z(const char *s)
{
    return (struct slice){s, s ? strlen(s) : 0};
}

bool slice_eq(struct slice a, struct slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool slice_eq_z(struct slice a, const char *z)
{
    return slice_eq(a, slice_z(z));
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool slice_case_eq_z(struct slice a, const char *z)
{
    size_t n = strlen(z);
    if (n != a.n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(a.p[i]) != lower(z[i])) {
            return false;
        }
    }
    return true;
}

bool slice_starts_with_z(struct slice a, const char *z)
{
    size_t n = strlen(z);
    return a.n >= n && memcmp(a.p, z, n) == 0;
}

struct slice slice_trim_ows(struct slice a)
{
    while (a.n > 0 && (a.p[0] == ' ' || a.p[0] == '\t')) {
        a.p++;
        a.n--;
    }
    while (a.n > 0 && (a.p[a.n - 1] == ' ' || a.p[a.n - 1] == '\t')) {
        a.n--;
    }
    return a;
}

char *slice_dup(struct slice a)
{
    return xstrndup(a.n ? a.p : "", a.n);
}

/* Length of the sequence that lead byte c begins, and the range of its second byte
 * (RFC 3629 section 4, the UTF8-2..UTF8-4 rules); 0 for a byte that cannot begin one. */
static size_t utf8_seq(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            *lo = 0xa0; /* overlong */
        else if (c == 0xed)
            *hi = 0x9f; /* surrogates */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            *lo = 0x90; /* overlong */
        else if (c == 0xf4)
            *hi = 0x8f; /* past U+10FFFF */
        return 4;
    }
    return 0;
}

bool slice_utf8_valid(struct slice a)
{
    const unsigned char *p = (const unsigned char *)a.p;
    size_t i = 0;
    while (i < a.n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t len = utf8_seq(p[i], &lo, &hi);
        if (len == 0 || a.n - i < len || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        i += len;
    }
    return true;
}
