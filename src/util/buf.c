#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t cap)
{
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

/* Makes room for n more bytes plus the terminator. */
static int buf_reserve(struct buf *b, size_t n)
{
    if (n > b->cap || b->len > b->cap - n) {
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->alloc) {
        return 0;
    }
    size_t alloc = b->alloc ? b->alloc : BUF_MIN_ALLOC;
    while (alloc < need) {
        alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
    }
    if (alloc > b->cap + 1) {
        alloc = b->cap + 1;
    }
    b->p = xrealloc(b->p, alloc);
    b->alloc = alloc;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int buf_append_z(struct buf *b, const char *z)
{
    return buf_append(b, z, strlen(z));
}

int buf_append_c(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
        return -1;
    }
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->p;
    if (p == NULL) {
        p = xstrdup("");
    }
    if (len != NULL) {
        *len = b->len;
    }
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
