/*
 * Fuzz target: JWS compact / JWT parsing and verification (src/jose). The key set is fixed
 * (the public keys of RFC 7515 A.2, A.3, RFC 8037 A.1, RFC 7520 3.2 and 3.4) and built once.
 * Each input is parsed, verified against every key (alg fixed by the key), its payload run
 * through the claim checks, and the whole JWT path run with the set. Any input that
 * verifies must have been signed by one of these keys: the seeds hold such tokens.
 */
#include "jose/jose.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char keyset[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mPddxHmfHQ"
    "p-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzj"
    "b_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlx"
    "vb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4"
    "FRWyuXpoQ\",\"e\":\"AQAB\",\"kid\":\"a2\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
    "\"f83OJ3D2xF1Bg8vub9tLe1gHM"
    "zV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"a3\"},{"
    "\"kty\":\""
    "OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":"
    "\"ed\"},{\"kty\":"
    "\"EC\",\"kid\":\"bilbo.baggins@hobbiton.example\",\"use\":\"sig\",\"crv\":\"P-521\",\"x\":"
    "\"AHKZLLOsCOzz5cY"
    "97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt\",\"y\":\"AdymlHvOiL"
    "xXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1\"},{\"kty\":\"R"
    "SA\",\"kid\":\"ps384\",\"use\":\"sig\",\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_"
    "KuKPEHLd4rHVTeT-"
    "O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQ"
    "LrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg"
    "8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5i"
    "aiQkqgc5gHdrNP5zw\",\"e\":\"AQAB\",\"alg\":\"PS384\"}]}";

static struct jose_jwks *keys;

static void check_claims(const struct jose_jws *j, const struct jose_jwt_expect *x)
{
    json_t *c = util_json_parse((struct slice){j->payload.p, j->payload.len}, NULL);
    if (json_is_object(c)) {
        jose_jwt_check_claims(c, x, NULL);
    }
    json_decref(c);
}

/* Inputs starting with '{' are "header\npayload\nsignature" in clear, encoded here, so
 * that the fuzzer mutates JSON rather than base64url. Others are tokens as they are. */
static char *encode_parts(const uint8_t *data, size_t size, size_t *len)
{
    struct slice part[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    const char *p = (const char *)data;
    const char *end = p + size;
    for (int i = 0; i < 3; i++) {
        const char *nl = i < 2 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        part[i] = (struct slice){p, (size_t)((nl ? nl : end) - p)};
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    struct buf b;
    buf_init(&b, 4 * JOSE_MAX_TOKEN);
    b64url_encode(part[0].p, part[0].n, &b);
    buf_append_c(&b, '.');
    b64url_encode(part[1].p, part[1].n, &b);
    buf_append_c(&b, '.');
    b64url_encode(part[2].p, part[2].n, &b);
    return buf_steal(&b, len);
}

static void one_token(struct slice token)
{
    if (keys == NULL) {
        keys = jose_jwks_parse(SLICE_LIT(keyset), NULL, NULL);
        if (keys == NULL || jose_jwks_count(keys) != 5) {
            abort();
        }
    }
    static const char *const required[] = {"sub", NULL};
    const struct jose_jwt_expect x = {
        .iss = "joe", .aud = "client", .now = 1300819000, .leeway = 60, .required = required};
    struct jose_jws j;
    struct err e;
    if (jose_jws_parse(token, &j, &e) == 0) {
        if (j.alg == JOSE_ALG_UNKNOWN || j.header == NULL) {
            abort(); /* parse must never accept these */
        }
        for (size_t i = 0; i < jose_jwks_count(keys); i++) {
            const struct jose_jwk *k = jose_jwks_get(keys, i);
            if (jose_jws_verify(&j, k, &e) == 0 && jose_jwk_alg(k) != j.alg) {
                abort(); /* the algorithm is the key's, always */
            }
        }
        check_claims(&j, &x);
        jose_jws_free(&j);
    }
    json_t *claims = NULL;
    if (jose_jwt_verify(token, keys, &x, &claims, &e) == 0 && !json_is_object(claims)) {
        abort();
    }
    json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{') {
        size_t len = 0;
        char *t = encode_parts(data, size, &len);
        one_token((struct slice){t, len});
        free(t);
    } else {
        one_token((struct slice){(const char *)data, size});
    }
    return 0;
}
