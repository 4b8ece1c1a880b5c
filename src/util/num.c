#include "util/util.h"

int util_parse_u64(struct slice s, uint64_t max, uint64_t *out)
{
    if (s.n == 0) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        uint64_t d = (uint64_t)(c - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int util_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int util_parse_hex_u64(struct slice s, uint64_t max, uint64_t *out)
{
    if (s.n == 0) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        int d = util_hex_digit(s.p[i]);
        if (d < 0 || v > (max - (uint64_t)d) / 16) {
            return -1;
        }
        v = v * 16 + (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* Largest duration accepted: 100 years, far beyond any sensible lifetime. */
#define UTIL_MAX_DURATION ((uint64_t)100 * 366 * 86400)

int util_parse_duration(struct slice s, int64_t *seconds)
{
    static const struct {
        char unit;
        uint64_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    uint64_t mult = 1;
    if (s.n > 0) {
        for (size_t i = 0; i < UTIL_ARRAY_LEN(units); i++) {
            if (s.p[s.n - 1] == units[i].unit) {
                mult = units[i].mult;
                s.n--;
                break;
            }
        }
    }
    uint64_t v;
    if (util_parse_u64(s, UTIL_MAX_DURATION / mult, &v) != 0) {
        return -1;
    }
    *seconds = (int64_t)(v * mult);
    return 0;
}
