/*
 * Fuzz target: what an identity provider sends the gateway (src/access/rp*.c). The first
 * byte picks the parser, the rest is the answer's body (or, for 3, a JWKS, a NUL, and an ID
 * token):
 *   0 the token endpoint's answer (rp_token_answer), also with status 400;
 *   1 a discovery document (rp_disc_parse);
 *   2 a JWKS (rp_jwks_parse);
 *   3 an ID token verified against a JWKS (access_rp_verify);
 *   4 an ?error= of the callback (access_rp_callback_error), the rest split at a NUL.
 * Invariants: a result that is not OK carries a message; an accepted token answer has an ID
 * token; an accepted JWKS has a key; a token never verifies against keys it was not
 * signed by (every input here is unsigned by any real key, so success is a bug).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/rp_int.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_INPUT (64 * 1024)

static void answer(struct http_fetch_result *res, long status, const uint8_t *d, size_t n)
{
    memset(res, 0, sizeof *res);
    res->status = HTTP_FETCH_OK;
    res->http_status = status;
    buf_init(&res->body, MAX_INPUT + 1);
    buf_append(&res->body, d, n);
    snprintf(res->content_type, sizeof res->content_type, "application/json");
}

static void token(const uint8_t *d, size_t n, long status)
{
    struct http_fetch_result res;
    answer(&res, status, d, n);
    struct access_rp_result out = {0};
    char *id_token = NULL;
    enum access_rp_diag g = rp_token_answer("http://idp.example/token", &res, &id_token, &out);
    CHECK(g != ACCESS_RP_OK || id_token != NULL);
    CHECK(g == ACCESS_RP_OK || out.msg[0] != '\0');
    free(id_token);
    access_rp_result_free(&out);
    http_fetch_result_free(&res);
}

static void discovery(const uint8_t *d, size_t n)
{
    struct http_fetch_result res;
    answer(&res, 200, d, n);
    struct rp_disc disc = {0};
    struct access_rp_result out = {0};
    enum access_rp_diag g = rp_disc_parse(
        "http://idp.example/.well-known/openid-configuration", NULL, &res, &disc, &out);
    CHECK(g != ACCESS_RP_OK || disc.issuer != NULL);
    rp_disc_free(&disc);
    access_rp_result_free(&out);
    http_fetch_result_free(&res);
}

static void jwks(const uint8_t *d, size_t n)
{
    struct http_fetch_result res;
    answer(&res, 200, d, n);
    struct jose_jwks *keys = NULL;
    struct access_rp_result out = {0};
    enum access_rp_diag g = rp_jwks_parse("http://idp.example/jwks", &res, &keys, &out);
    CHECK(g != ACCESS_RP_OK || (keys != NULL && jose_jwks_count(keys) > 0));
    jose_jwks_free(keys);
    access_rp_result_free(&out);
    http_fetch_result_free(&res);
}

static void verify(const uint8_t *d, size_t n)
{
    const uint8_t *nul = memchr(d, 0, n);
    if (nul == NULL) {
        return;
    }
    struct err e = {0};
    struct jose_jwks *keys = jose_jwks_parse((struct slice){(const char *)d, (size_t)(nul - d)},
                                             NULL, &e);
    if (keys == NULL) {
        return;
    }
    struct slice tok = {(const char *)nul + 1, n - (size_t)(nul - d) - 1};
    struct access_rp_expect x = {.token_url = "http://idp.example/token",
                                 .client_id = "gate",
                                 .nonce = "n-0S6_WzA2Mj",
                                 .now = 1700000000,
                                 .idp_date = 1700000100};
    struct access_rp_result out = {0};
    enum access_rp_diag g = access_rp_verify(tok, keys, &x, &out);
    /* Public keys from the input and a token from the input: the only way to verify would
     * be a signature made by a private key, which no input holds. */
    CHECK(g != ACCESS_RP_OK);
    CHECK(out.msg[0] != '\0');
    access_rp_result_free(&out);
    jose_jwks_free(keys);
}

static void callback_error(const uint8_t *d, size_t n)
{
    char *copy = malloc(n + 1);
    memcpy(copy, d, n);
    copy[n] = '\0';
    const char *desc = strlen(copy) < n ? copy + strlen(copy) + 1 : NULL;
    struct access_rp_result out = {0};
    access_rp_callback_error(copy, desc, &out);
    CHECK(out.diag != ACCESS_RP_OK && out.msg[0] != '\0');
    access_rp_result_free(&out);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) {
        return 0;
    }
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        token(d, n, 200);
        token(d, n, 400);
        break;
    case 1:
        discovery(d, n);
        break;
    case 2:
        jwks(d, n);
        break;
    case 3:
        verify(d, n);
        break;
    default:
        callback_error(d, n);
        break;
    }
    return 0;
}
