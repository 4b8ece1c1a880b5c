#include "util/util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    /* No allocation on this path: write directly. */
    fprintf(stderr, "postern: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        oom(n * size);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        oom(n);
    }
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void util_wipe(void *p, size_t n)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, n);
    }
}

void util_free_secret(char *s)
{
    if (s != NULL) {
        util_wipe(s, strlen(s));
        free(s);
    }
}

bool util_ct_equal(const void *a, size_t an, const void *b, size_t bn)
{
    if (an != bn) {
        return false;
    }
    return CRYPTO_memcmp(a, b, an) == 0;
}
