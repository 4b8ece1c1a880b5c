/* base64 (RFC 4648 section 4) and base64url without padding (section 5; RFC 7515 section 2). */
#include "util/util.h"

#include <pthread.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

static int encode(const char *alpha, bool pad, const void *in, size_t n, struct buf *out)
{
    const unsigned char *s = in;
    char quad[4];
    size_t start = out->len;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        size_t left = n - i;
        if (left > 1) {
            v |= (uint32_t)s[i + 1] << 8;
        }
        if (left > 2) {
            v |= s[i + 2];
        }
        quad[0] = alpha[(v >> 18) & 63];
        quad[1] = alpha[(v >> 12) & 63];
        quad[2] = left > 1 ? alpha[(v >> 6) & 63] : '=';
        quad[3] = left > 2 ? alpha[v & 63] : '=';
        size_t k = 4;
        if (!pad) {
            k = left > 2 ? 4 : left + 1;
        }
        if (buf_append(out, quad, k) != 0) {
            out->len = start;
            if (out->p) {
                out->p[start] = '\0';
            }
            return -1;
        }
    }
    return 0;
}

/* Reverse tables (value + 1; 0 = not in the alphabet), built once from the alphabets. */
static signed char rev_std[256];
static signed char rev_url[256];
static pthread_once_t rev_once = PTHREAD_ONCE_INIT;

static void build_rev(void)
{
    for (int i = 0; i < 64; i++) {
        rev_std[(unsigned char)b64_std[i]] = (signed char)(i + 1);
        rev_url[(unsigned char)b64_url[i]] = (signed char)(i + 1);
    }
}

static int decode_char(const char *alpha, char c)
{
    const signed char *rev = alpha == b64_url ? rev_url : rev_std;
    return rev[(unsigned char)c] - 1;
}

/* Decodes groups of 2-4 characters; rejects non-zero bits past the last byte so that each
 * byte string has exactly one encoding (a padded or altered signature must not verify). */
static int decode(const char *alpha, struct slice in, struct buf *out)
{
    pthread_once(&rev_once, build_rev);
    size_t start = out->len;
    if (in.n % 4 == 1) {
        return -1;
    }
    for (size_t i = 0; i < in.n; i += 4) {
        size_t k = UTIL_MIN((size_t)4, in.n - i);
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = 0;
            if (j < k) {
                d = decode_char(alpha, in.p[i + j]);
                if (d < 0) {
                    goto fail;
                }
            }
            v = (v << 6) | (uint32_t)d;
        }
        unsigned char bytes[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
                                  (unsigned char)v};
        size_t nb = k - 1;
        if ((k == 2 && (v & 0xffff)) || (k == 3 && (v & 0xff))) {
            goto fail;
        }
        if (buf_append(out, bytes, nb) != 0) {
            goto fail;
        }
    }
    return 0;
fail:
    out->len = start;
    if (out->p) {
        out->p[start] = '\0';
    }
    return -1;
}

int b64url_encode(const void *in, size_t n, struct buf *out)
{
    return encode(b64_url, false, in, n, out);
}

char *b64url_encode_z(const void *in, size_t n)
{
    struct buf b;
    buf_init(&b, b64url_encoded_len(n) + 1);
    if (b64url_encode(in, n, &b) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

int b64url_decode(struct slice in, struct buf *out)
{
    return decode(b64_url, in, out);
}

int b64_encode(const void *in, size_t n, struct buf *out)
{
    return encode(b64_std, true, in, n, out);
}

int b64_decode(struct slice in, struct buf *out)
{
    /* Padding is required: length a multiple of 4, at most two '=' at the end. */
    if (in.n % 4 != 0) {
        return -1;
    }
    size_t pad = 0;
    while (pad < 2 && in.n > pad && in.p[in.n - 1 - pad] == '=') {
        pad++;
    }
    struct slice body = {in.p, in.n - pad};
    if (pad > 0 && body.n % 4 != 4 - pad) {
        return -1;
    }
    return decode(b64_std, body, out);
}

int hex_encode(const void *in, size_t n, struct buf *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = in;
    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[s[i] >> 4], digits[s[i] & 15]};
        if (buf_append(out, two, 2) != 0) {
            return -1;
        }
    }
    return 0;
}
