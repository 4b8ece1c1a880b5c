/*
 * Fuzz target: the Cookie header parser. Checks that every cookie returned lies in the
 * input and is well-formed, and that a smaller bound returns a prefix of the same list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define BIG (HTTP_MAX_COOKIES * 4)

static bool inside(struct slice s, const char *d, size_t n)
{
    return s.n == 0 || (s.p >= d && s.p + s.n <= d + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_cookie all[BIG], few[HTTP_MAX_COOKIES];
    const char *d = (const char *)data;
    struct slice h = {d, size};

    size_t n = http_cookie_parse(h, all, BIG);
    CHECK(n <= BIG);
    for (size_t i = 0; i < n; i++) {
        CHECK(all[i].name.n > 0 && inside(all[i].name, d, size) && inside(all[i].value, d, size));
        CHECK(memchr(all[i].name.p, '=', all[i].name.n) == NULL);
        CHECK(memchr(all[i].name.p, ';', all[i].name.n) == NULL);
        CHECK(all[i].value.n == 0 || memchr(all[i].value.p, ';', all[i].value.n) == NULL);
        CHECK(all[i].value.n == 0 || memchr(all[i].value.p, '"', all[i].value.n) == NULL);
        for (size_t j = 0; j < all[i].value.n; j++) {
            unsigned char c = (unsigned char)all[i].value.p[j];
            CHECK(c >= 0x20 && c != 0x7f);
        }
    }
    size_t m = http_cookie_parse(h, few, HTTP_MAX_COOKIES);
    CHECK(m == UTIL_MIN(n, (size_t)HTTP_MAX_COOKIES));
    for (size_t i = 0; i < m; i++) {
        CHECK(few[i].name.p == all[i].name.p && few[i].name.n == all[i].name.n);
        CHECK(few[i].value.p == all[i].value.p && few[i].value.n == all[i].value.n);
    }
    CHECK(http_cookie_parse(h, NULL, 0) == 0);
    return 0;
}
