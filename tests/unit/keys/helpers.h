/* Shared by the tests of src/keys. */
#ifndef POSTERN_TEST_KEYS_HELPERS_H
#define POSTERN_TEST_KEYS_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"

static const enum jose_alg all_algs[] = {JOSE_ALG_RS256, JOSE_ALG_ES256, JOSE_ALG_EDDSA};

/* Removes a directory and the plain files in it. */
static inline void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static inline void gen_ok(struct keys *r, const char *name, enum jose_alg alg, char *kid)
{
    struct err e = {0};
    if (keys_generate(r, name, alg, 0, kid, &e) < 0)
        fail_msg("keys_generate %s: %s", name, e.msg);
}

/* The public JWK of kid, as a relying party would import it from our JWKS. */
static inline struct jose_jwk *public_jwk(struct keys *r, const char *kid)
{
    struct err e = {0};
    json_t *j = keys_jwk_json(r, kid, &e);
    if (!j)
        fail_msg("keys_jwk_json: %s", e.msg);
    struct jose_jwk *k = jose_jwk_from_json(j, &e);
    json_decref(j);
    if (!k)
        fail_msg("jose_jwk_from_json: %s", e.msg);
    return k;
}

/* Signs msg with kid through the ring and verifies it with the published JWK. Returns the
 * result of jose_verify_raw. */
static inline int sign_and_verify(struct keys *r, const char *kid, const struct jose_jwk *pub,
                                  const char *msg)
{
    uint8_t sig[JOSE_SIG_MAX];
    size_t siglen = 0;
    struct err e = {0};
    if (keys_sign(r, kid, msg, strlen(msg), sig, &siglen, &e) < 0)
        fail_msg("keys_sign: %s", e.msg);
    return jose_verify_raw(jose_jwk_pkey(pub), jose_jwk_alg(pub), msg, strlen(msg), sig, siglen,
                           &e);
}

#endif
