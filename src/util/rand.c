#include "util/util.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void util_random(void *p, size_t n)
{
    if (n > INT32_MAX || RAND_bytes(p, (int)n) != 1) {
        fprintf(stderr, "postern: the random number generator failed\n");
        abort();
    }
}

/* Tokens are at most this many random bytes. */
#define UTIL_MAX_TOKEN_BYTES 256

char *util_random_token(size_t bytes)
{
    unsigned char raw[UTIL_MAX_TOKEN_BYTES];
    if (bytes > sizeof raw) {
        bytes = sizeof raw;
    }
    util_random(raw, bytes);
    char *t = b64url_encode_z(raw, bytes);
    util_wipe(raw, bytes);
    return t;
}
