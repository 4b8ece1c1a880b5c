/*
 * chunked.c: the chunked transfer coding decoder (RFC 9112 section 7.1).
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * A state machine fed with whatever bytes have arrived, so that it works on any split of
 * the input, one byte at a time included. Strict where implementations disagree (request
 * smuggling): CRLF everywhere, no whitespace around the size (the BWS that section 7.1.1
 * lets a sender put before ';' is refused too), no sign or "0x", no overflow. Chunk
 * extensions are skipped; the trailer section is checked for bare CR/LF and control bytes,
 * bounded, and discarded.
 */
#include "http/http.h"

#include <string.h>

enum {
    CH_SIZE_FIRST = 0, /* at the start of a chunk-size line: a hex digit must come */
    CH_SIZE,           /* in the hex digits */
    CH_EXT,            /* after ';': extensions, skipped up to CR */
    CH_SIZE_LF,        /* CR seen at the end of the size line */
    CH_DATA,           /* `remaining` bytes of chunk-data */
    CH_DATA_CR,        /* the CRLF after the chunk-data */
    CH_DATA_LF,
    CH_TRAILER_START, /* at the start of a trailer line, or of the final CRLF */
    CH_TRAILER,       /* inside a trailer field line */
    CH_TRAILER_LF,    /* CR seen at the end of a trailer field line */
    CH_END_LF,        /* CR seen of the final CRLF */
    CH_DONE,
    CH_FAILED_400, /* sticky errors: a failed decoder keeps failing the same way */
    CH_FAILED_413,
};

/* A size above this cannot be buffered anyway; it also keeps `remaining * 16` exact. */
#define CH_MAX_SIZE (UINT64_MAX >> 4)

void http_chunked_init(struct http_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CH_SIZE_FIRST;
}

/* A byte of a chunk extension or trailer field: anything but a control byte (HTAB allowed),
 * so that CR and LF can only appear as a CRLF pair. */
static bool text_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One byte of the size line, extension or trailer; returns 0, or -400. */
static int step_line(struct http_chunked *c, unsigned char ch)
{
    switch (c->state) {
    case CH_SIZE_FIRST:
    case CH_SIZE: {
        int v = util_hex_digit(ch);
        if (v >= 0) {
            if (c->remaining > CH_MAX_SIZE) {
                return -400;
            }
            c->remaining = c->remaining * 16 + (uint64_t)v;
            c->state = CH_SIZE;
        } else if (c->state == CH_SIZE_FIRST) {
            return -400; /* empty size, leading whitespace, sign */
        } else if (ch == ';') {
            c->state = CH_EXT;
        } else if (ch == '\r') {
            c->state = CH_SIZE_LF;
        } else {
            return -400; /* whitespace after the size, bare LF, junk */
        }
        break;
    }
    case CH_EXT:
        if (ch == '\r') {
            c->state = CH_SIZE_LF;
        } else if (!text_byte(ch)) {
            return -400;
        }
        break;
    case CH_TRAILER_START:
        if (ch == '\r') {
            c->state = CH_END_LF;
            break;
        }
        /* A trailer line starting with whitespace would be obs-fold (section 5.2). */
        if (ch == ' ' || ch == '\t' || !text_byte(ch)) {
            return -400;
        }
        c->state = CH_TRAILER;
        break;
    case CH_TRAILER:
        if (ch == '\r') {
            c->state = CH_TRAILER_LF;
        } else if (!text_byte(ch)) {
            return -400;
        }
        break;
    default:
        return -400;
    }
    return 0;
}

/* The LF that must follow a CR; returns 0, or -400 for a bare CR. */
static int step_lf(struct http_chunked *c, unsigned char ch)
{
    if (ch != '\n') {
        return -400;
    }
    switch (c->state) {
    case CH_SIZE_LF:
        c->line_len = 0;
        if (c->remaining == 0) {
            c->state = CH_TRAILER_START; /* last-chunk */
        } else {
            c->state = CH_DATA;
        }
        break;
    case CH_DATA_LF:
        c->state = CH_SIZE_FIRST;
        c->line_len = 0;
        break;
    case CH_TRAILER_LF:
        c->state = CH_TRAILER_START;
        break;
    case CH_END_LF:
        c->state = CH_DONE;
        break;
    default:
        return -400;
    }
    return 0;
}

int http_chunked_feed(struct http_chunked *c, const char *in, size_t n, struct buf *out,
                      size_t *consumed)
{
    const unsigned char *b = (const unsigned char *)in;
    size_t i = 0;
    int rc = 1;

    if (c->state == CH_DONE) {
        *consumed = 0;
        return 0;
    }
    if (c->state == CH_FAILED_400 || c->state == CH_FAILED_413) {
        *consumed = 0;
        return c->state == CH_FAILED_400 ? -400 : -413;
    }
    while (i < n) {
        unsigned char ch = b[i];
        switch (c->state) {
        case CH_DATA: {
            size_t take = (size_t)UTIL_MIN((uint64_t)(n - i), c->remaining);
            if (buf_append(out, b + i, take) != 0) {
                rc = -413;
                goto done;
            }
            i += take;
            c->remaining -= take;
            if (c->remaining == 0) {
                c->state = CH_DATA_CR;
            }
            continue;
        }
        case CH_DATA_CR:
            if (ch != '\r') {
                rc = -400; /* chunk-data longer than its size, or no CRLF */
                goto done;
            }
            c->state = CH_DATA_LF;
            break;
        case CH_SIZE_LF:
        case CH_DATA_LF:
        case CH_TRAILER_LF:
        case CH_END_LF:
            if ((rc = step_lf(c, ch)) != 0) {
                goto done;
            }
            rc = 1;
            if (c->state == CH_DATA && c->remaining > out->cap - UTIL_MIN(out->len, out->cap)) {
                rc = -413; /* refuse before reading a chunk that cannot fit */
                goto done;
            }
            if (c->state == CH_DONE) {
                i++;
                rc = 0;
                goto done;
            }
            break;
        default:
            if ((rc = step_line(c, ch)) != 0) {
                goto done;
            }
            rc = 1;
            /* Bounds: the size line without its CRLF; the trailer field lines without
             * their CRLFs, all together. */
            if (c->state == CH_SIZE || c->state == CH_EXT) {
                if (++c->line_len > HTTP_MAX_CHUNK_LINE) {
                    rc = -400;
                    goto done;
                }
            } else if (c->state == CH_TRAILER) {
                if (++c->trailer_bytes > HTTP_MAX_HEADER_BYTES) {
                    rc = -400;
                    goto done;
                }
            }
            break;
        }
        i++;
    }
done:
    if (rc < 0) {
        c->state = rc == -413 ? CH_FAILED_413 : CH_FAILED_400;
    }
    *consumed = i;
    return rc;
}
