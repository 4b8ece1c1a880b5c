/* JWK Sets (RFC 7517 section 5) with lookup by kid. */
#include "jose/jose_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct jose_jwks {
    struct jose_jwk *keys[JOSE_JWKS_MAX_KEYS];
    size_t n;
};

struct jose_jwks *jose_jwks_new(void)
{
    return xcalloc(1, sizeof(struct jose_jwks));
}

void jose_jwks_free(struct jose_jwks *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        jose_jwk_free(s->keys[i]);
    }
    free(s);
}

size_t jose_jwks_count(const struct jose_jwks *s)
{
    return s->n;
}

const struct jose_jwk *jose_jwks_get(const struct jose_jwks *s, size_t i)
{
    return i < s->n ? s->keys[i] : NULL;
}

const struct jose_jwk *jose_jwks_find(const struct jose_jwks *s, const char *kid_z)
{
    if (kid_z == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->keys[i]->kid != NULL && strcmp(s->keys[i]->kid, kid_z) == 0) {
            return s->keys[i];
        }
    }
    return NULL;
}

/* Two usable keys with one kid would make the lookup ambiguous: refused. */
static int jwks_add(struct jose_jwks *s, struct jose_jwk *k, struct err *e)
{
    int rc = -1;
    if (s->n >= JOSE_JWKS_MAX_KEYS) {
        err_set(e, JOSE_ERR_KEY, "more than %d keys in a set", JOSE_JWKS_MAX_KEYS);
    } else if (jose_jwks_find(s, k->kid) != NULL) {
        err_set(e, JOSE_ERR_KEY, "two keys with the same kid");
    } else {
        s->keys[s->n++] = k;
        rc = 0;
    }
    if (rc != 0) {
        jose_jwk_free(k);
    }
    return rc;
}

int jose_jwks_add(struct jose_jwks *s, struct jose_jwk *k)
{
    return jwks_add(s, k, NULL);
}

struct jose_jwks *jose_jwks_parse(struct slice json, size_t *skipped, struct err *e)
{
    struct jose_jwks *s = NULL;
    size_t skip = 0;
    json_t *doc = util_json_parse(json, e);
    if (doc == NULL) {
        err_prefix(e, "JWKS");
        jose_err_code(e, JOSE_ERR_MALFORMED);
        goto done;
    }
    const json_t *keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        err_set(e, JOSE_ERR_MALFORMED, "JWKS is not an object with a \"keys\" array");
        goto done;
    }
    if (json_array_size(keys) > JOSE_JWKS_MAX_KEYS) {
        err_set(e, JOSE_ERR_MALFORMED, "JWKS has more than %d keys", JOSE_JWKS_MAX_KEYS);
        goto done;
    }
    s = jose_jwks_new();
    size_t i;
    const json_t *jk;
    json_array_foreach(keys, i, jk)
    {
        /* RFC 7517 section 5: keys we cannot use (other types, encryption keys) are
         * ignored, not fatal, so that a provider may publish them beside ours. */
        struct jose_jwk *k = jose_jwk_from_json(jk, NULL);
        if (k == NULL) {
            skip++;
            continue;
        }
        if (jwks_add(s, k, e) != 0) {
            jose_jwks_free(s);
            s = NULL;
            goto done;
        }
    }
done:
    json_decref(doc);
    if (skipped != NULL) {
        *skipped = skip;
    }
    return s;
}

json_t *jose_jwks_to_json(const struct jose_jwks *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        json_t *k = jose_jwk_to_json(s->keys[i]);
        if (k != NULL) {
            json_array_append_new(arr, k);
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "keys", arr);
    return o;
}
