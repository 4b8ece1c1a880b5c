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
