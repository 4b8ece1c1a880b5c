/*
 * bench_jose: single-thread sign and verify rates of src/jose, to set beside `openssl speed`.
 *
 *   raw:   jose_sign_raw / jose_verify_raw on a 32-byte input (openssl speed signs 20 to 36
 *          bytes). Ours includes the SHA-256 of the input and, for ES256, the R||S <-> DER
 *          conversion; openssl speed signs a ready digest.
 *   token: jose_jws_sign of a typical app token (header + ~300 bytes of claims) and
 *          jose_jwt_verify of it against a 3-key JWKS (parse, kid lookup, claims).
 *
 * Rates are per second of CPU time, like `openssl speed` (see now()).
 * Output, one line per figure: "<raw|token> <rsa2048|ecdsap256|ed25519> <sign|verify> <ops/s>".
 * Usage: bench_jose [--seconds S] [--alg rsa2048|ecdsap256|ed25519] [--raw|--token]
 */
#include "jose/jose.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 16

static double seconds = 2.0;

/* CPU time of the process, as `openssl speed` divides by CPU (user) time unless given
 * -elapsed: on a shared machine wall time would count other processes' work against us. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct alg {
    const char *name; /* as openssl speed names it */
    enum jose_alg alg;
    const char *kid;
    EVP_PKEY *key;
};

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "bench_jose: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static void bench_raw(struct alg *a)
{
    uint8_t in[32];
    uint8_t sig[JOSE_SIG_MAX];
    size_t n = 0;
    struct err e = {0};
    memset(in, 0x5a, sizeof in);
    /* Warm-up, and a signature to verify. */
    if (jose_sign_raw(a->key, a->alg, in, sizeof in, sig, &n, &e) != 0 ||
        jose_verify_raw(a->key, a->alg, in, sizeof in, sig, n, &e) != 0) {
        die(a->name, &e);
    }
    long count = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < BATCH; i++) {
            if (jose_sign_raw(a->key, a->alg, in, sizeof in, sig, &n, &e) != 0) {
                die("sign", &e);
            }
        }
        count += BATCH;
    } while ((t = now() - t0) < seconds);
    printf("raw %s sign %.1f\n", a->name, (double)count / t);
    count = 0;
    t0 = now();
    do {
        for (int i = 0; i < BATCH; i++) {
            if (jose_verify_raw(a->key, a->alg, in, sizeof in, sig, n, &e) != 0) {
                die("verify", &e);
            }
        }
        count += BATCH;
    } while ((t = now() - t0) < seconds);
    printf("raw %s verify %.1f\n", a->name, (double)count / t);
    fflush(stdout);
}

static const char claims_fmt[] =
    "{\"aud\":[\"4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2\"],"
    "\"email\":\"alice@example.com\",\"exp\":%lld,\"iat\":%lld,\"nbf\":%lld,"
    "\"iss\":\"https://team.example.com\",\"type\":\"app\","
    "\"identity_nonce\":\"6ei69kawdKzMIAPF\",\"sub\":\"7335d417-61da-459d-899c-0a01c76a2f94\","
    "\"country\":\"FR\",\"groups\":[\"staff\",\"admins\"]}";

static void bench_token(struct alg *a, const struct jose_jwks *keys)
{
    char claims[1024];
    long long t_now = (long long)time(NULL);
    snprintf(claims, sizeof claims, claims_fmt, t_now + 3600, t_now, t_now);
    struct jose_pkey_signer ps = {a->key, a->alg};
    struct jose_jwt_expect x = {
        .iss = "https://team.example.com",
        .aud = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2",
        .leeway = 60};
    struct err e = {0};
    char *tok = NULL;
    long count = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < BATCH; i++) {
            free(tok);
            tok = jose_jws_sign(a->alg, a->kid, "JWT", slice_z(claims), jose_pkey_sign, &ps, &e);
            if (tok == NULL) {
                die("jws_sign", &e);
            }
        }
        count += BATCH;
    } while ((t = now() - t0) < seconds);
    printf("token %s sign %.1f\n", a->name, (double)count / t);
    count = 0;
    t0 = now();
    do {
        for (int i = 0; i < BATCH; i++) {
            if (jose_jwt_verify(slice_z(tok), keys, &x, NULL, &e) != 0) {
                die("jwt_verify", &e);
            }
        }
        count += BATCH;
    } while ((t = now() - t0) < seconds);
    printf("token %s verify %.1f\n", a->name, (double)count / t);
    fflush(stdout);
    free(tok);
}

int main(int argc, char **argv)
{
    const char *only = NULL; /* one algorithm, by its openssl speed name */
    bool raw = true, token = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--alg") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--raw") == 0) {
            token = false;
        } else if (strcmp(argv[i], "--token") == 0) {
            raw = false;
        } else {
            fprintf(stderr, "usage: bench_jose [--seconds S] [--alg rsa2048|ecdsap256|ed25519] "
                            "[--raw|--token]\n");
            return 2;
        }
    }
    if (seconds <= 0) {
        seconds = 2.0;
    }
    struct alg algs[] = {
        {"rsa2048", JOSE_ALG_RS256, "rsa", EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)},
        {"ecdsap256", JOSE_ALG_ES256, "ec", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")},
        {"ed25519", JOSE_ALG_EDDSA, "ed", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")},
    };
    struct jose_jwks *keys = jose_jwks_new();
    for (size_t i = 0; i < 3; i++) {
        struct err e = {0};
        struct jose_jwk *k;
        if (algs[i].key == NULL ||
            (k = jose_jwk_from_pkey(algs[i].key, algs[i].kid, algs[i].alg, &e)) == NULL ||
            jose_jwks_add(keys, k) != 0) {
            die("key setup", &e);
        }
    }
    for (size_t i = 0; i < 3 && raw; i++) {
        if (only == NULL || strcmp(only, algs[i].name) == 0) {
            bench_raw(&algs[i]);
        }
    }
    for (size_t i = 0; i < 3 && token; i++) {
        if (only == NULL || strcmp(only, algs[i].name) == 0) {
            bench_token(&algs[i], keys);
        }
    }
    jose_jwks_free(keys);
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY_free(algs[i].key);
    }
    jose_thread_cleanup();
    return 0;
}
