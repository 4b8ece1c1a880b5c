/*
 * argon2_time.c: the time of one argon2id password hash with the parameters of
 * src/idp/password.c (IDP_PWHASH_OPSLIMIT / IDP_PWHASH_MEMLIMIT from idp/idp.h), through the
 * same libsodium call, single thread. bench/idp/run divides the number of cores by it: the
 * most logins per second the machine could verify if it did nothing else.
 *
 *   argon2_time [N]   hashes N times (default 10) after one warm-up; prints
 *                     "hash_ms=<median> min_ms=<min> n=<N> memlimit=<bytes> opslimit=<t>"
 */
#include "idp/idp.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS_DEFAULT 10
#define RUNS_MAX     100

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int hash_once(void)
{
    static const char pw[] = "s3cret-pass";
    char out[crypto_pwhash_STRBYTES];
    return crypto_pwhash_str_alg(out, pw, sizeof pw - 1, IDP_PWHASH_OPSLIMIT, IDP_PWHASH_MEMLIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc > 1 ? strtol(argv[1], &end, 10) : RUNS_DEFAULT;
    if (argc > 1 && (*end != '\0' || n < 1 || n > RUNS_MAX)) {
        fprintf(stderr, "usage: argon2_time [1..%d]\n", RUNS_MAX);
        return 2;
    }
    if (sodium_init() < 0 || hash_once() != 0) {
        fprintf(stderr, "argon2_time: libsodium failed\n");
        return 1;
    }
    double t[RUNS_MAX];
    for (long i = 0; i < n; i++) {
        double t0 = now_ms();
        if (hash_once() != 0) {
            fprintf(stderr, "argon2_time: hashing failed\n");
            return 1;
        }
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp);
    printf("hash_ms=%.2f min_ms=%.2f n=%ld memlimit=%zu opslimit=%llu\n", t[n / 2], t[0], n,
           (size_t)IDP_PWHASH_MEMLIMIT, (unsigned long long)IDP_PWHASH_OPSLIMIT);
    return 0;
}
