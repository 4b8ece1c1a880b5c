/*
 * Fuzz target: JWK and JWK Set import (src/jose). Whatever imports must export, import
 * again and keep its RFC 7638 thumbprint, algorithm and kid: a key that changes on the way
 * through would be a key confusion.
 */
#include "jose/jose.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void same_key(const struct jose_jwk *a, const struct jose_jwk *b)
{
    char *ta = jose_jwk_thumbprint(a);
    char *tb = jose_jwk_thumbprint(b);
    const char *ka = jose_jwk_kid(a);
    const char *kb = jose_jwk_kid(b);
    if (ta == NULL || tb == NULL || strcmp(ta, tb) != 0 || jose_jwk_alg(a) != jose_jwk_alg(b) ||
        (ka == NULL) != (kb == NULL) || (ka != NULL && strcmp(ka, kb) != 0)) {
        abort();
    }
    free(ta);
    free(tb);
}

static void jwk_round_trip(const json_t *j)
{
    struct jose_jwk *k = jose_jwk_from_json(j, NULL);
    if (k == NULL) {
        return;
    }
    json_t *out = jose_jwk_to_json(k);
    struct jose_jwk *k2 = jose_jwk_from_json(out, NULL);
    if (k2 == NULL) {
        abort();
    }
    same_key(k, k2);
    jose_jwk_free(k2);
    json_decref(out);
    jose_jwk_free(k);
}

static void jwks_round_trip(struct slice s)
{
    size_t skipped = 0;
    struct jose_jwks *set = jose_jwks_parse(s, &skipped, NULL);
    if (set == NULL) {
        return;
    }
    json_t *out = jose_jwks_to_json(set);
    char *text = util_json_dump(out);
    struct jose_jwks *set2 = jose_jwks_parse(slice_z(text), &skipped, NULL);
    if (set2 == NULL || skipped != 0 || jose_jwks_count(set2) != jose_jwks_count(set)) {
        abort();
    }
    for (size_t i = 0; i < jose_jwks_count(set); i++) {
        same_key(jose_jwks_get(set, i), jose_jwks_get(set2, i));
        const char *kid = jose_jwk_kid(jose_jwks_get(set, i));
        if (kid != NULL && jose_jwks_find(set2, kid) != jose_jwks_get(set2, i)) {
            abort();
        }
    }
    jose_jwks_free(set2);
    free(text);
    json_decref(out);
    jose_jwks_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice s = {(const char *)data, size};
    jwks_round_trip(s);
    json_t *j = util_json_parse(s, NULL);
    if (json_is_object(j)) {
        jwk_round_trip(j);
    }
    json_decref(j);
    return 0;
}
