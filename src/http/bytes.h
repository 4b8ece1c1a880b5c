/*
 * bytes.h: word-at-a-time scans over header bytes, for the parsers and the proxy (internal to
 * src/http). The gateway's header values are long (a 1.1 KB token in the Cookie, the same
 * token again in Cf-Access-Jwt-Assertion) and each is checked for control bytes several
 * times per request: a byte loop there was 7% of the gateway's CPU (bench/gate). Eight bytes
 * are tested at once; a word that may hold a byte of interest is looked at byte by byte, so
 * the answer is always the byte loop's.
 */
#ifndef POSTERN_HTTP_BYTES_H
#define POSTERN_HTTP_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HTTP_WORD_ONES 0x0101010101010101ULL
#define HTTP_WORD_HIGH 0x8080808080808080ULL

static inline uint64_t http_word_load(const void *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* an unaligned load, without aliasing trouble */
    return w;
}

/* Non-zero when a byte of w is below n (n <= 128): a byte below n sets its own high bit;
 * a borrow out of it may also set higher ones, which only sends the word to the byte loop.
 * ("Determine if a word has a byte less than n", Bit Twiddling Hacks.) */
static inline uint64_t http_word_has_less(uint64_t w, unsigned n)
{
    return (w - HTTP_WORD_ONES * n) & ~w & HTTP_WORD_HIGH;
}

/* Non-zero when a byte of w equals c. */
static inline uint64_t http_word_has_byte(uint64_t w, unsigned char c)
{
    return http_word_has_less(w ^ (HTTP_WORD_ONES * c), 1);
}

/* Whether w may hold a control byte (below 0x20, or DEL), HTAB included. */
static inline bool http_word_may_ctl(uint64_t w)
{
    return (http_word_has_less(w, 0x20) | http_word_has_byte(w, 0x7f)) != 0;
}

/* A field value's bytes (RFC 9110 section 5.5: field-content is VCHAR, obs-text, SP and
 * HTAB): no other control byte, no DEL. */
static inline bool http_value_bytes_ok(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8 && !http_word_may_ctl(http_word_load(p + i))) {
            i += 8;
            continue;
        }
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
        i++;
    }
    return true;
}

#endif
