/*
 * Fuzz target: query / form decoding. Round trip: what was decoded, encoded again with
 * http_url_encode and decoded a second time, gives the same parameters.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_params p, q;
    struct slice s = {(const char *)data, size};
    int rc = http_params_parse(s, &p);
    CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        CHECK(p.v == NULL && p.n == 0);
        CHECK(size > 0);
        return 0;
    }
    CHECK(p.n <= HTTP_MAX_PARAMS && p.n <= size);
    CHECK((p.n == 0) == (p.v == NULL));
    CHECK(memchr(data, '\0', size) == NULL);

    /* Rebuild "n=v&n=v" with the encoder; each encoded byte is at most 3. */
    struct buf b;
    buf_init(&b, 3 * size + 2 * p.n + 1);
    for (size_t i = 0; i < p.n; i++) {
        CHECK(strlen(p.v[i].name) + strlen(p.v[i].value) <= size);
        if (i < 8) { /* lookups are linear: a few are enough, and keep the target fast */
            CHECK(http_params_get(&p, p.v[i].name) != NULL);
            CHECK(http_params_count(&p, p.v[i].name) >= 1);
        }
        if (i > 0) {
            CHECK(buf_append_c(&b, '&') == 0);
        }
        CHECK(http_url_encode(slice_z(p.v[i].name), &b) == 0);
        CHECK(buf_append_c(&b, '=') == 0);
        CHECK(http_url_encode(slice_z(p.v[i].value), &b) == 0);
    }
    CHECK(http_params_parse((struct slice){b.p, b.len}, &q) == 0);
    CHECK(q.n == p.n);
    for (size_t i = 0; i < p.n; i++) {
        CHECK(strcmp(p.v[i].name, q.v[i].name) == 0);
        CHECK(strcmp(p.v[i].value, q.v[i].value) == 0);
    }
    http_params_free(&q);
    buf_free(&b);
    http_params_free(&p);
    return 0;
}
