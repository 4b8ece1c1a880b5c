/*
 * csrf.c: CSRF tokens for every form (DESIGN.md). A token is a MAC over what it is for
 * (purpose), who may use it (binding: a value only the browser's cookies hold, so that a
 * token read by or made for another browser is useless) and when it was issued. Stateless:
 * any node holding the shared secret checks it (the "HMAC-based token" pattern of OWASP's
 * CSRF Prevention Cheat Sheet, with the session binding it recommends).
 */
#include "idp/idp.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSRF_VERSION 1
#define CSRF_LABEL   "postern/csrf/v1" /* domain separation from other uses of the secret */
#define CSRF_RAW_LEN (1 + 8 + crypto_auth_hmacsha256_BYTES)

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* HMAC-SHA256(secret, label 0 purpose 0 len32(binding) binding issued_at): every field is
 * either NUL-terminated (no NUL inside a C string) or length-prefixed, so that no two inputs
 * share an encoding. */
static void csrf_mac(const struct idp *idp, struct slice binding, const char *purpose_z,
                     const uint8_t issued[8], uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    uint8_t len[4] = {(uint8_t)(binding.n >> 24), (uint8_t)(binding.n >> 16),
                      (uint8_t)(binding.n >> 8), (uint8_t)binding.n};
    crypto_auth_hmacsha256_init(&st, idp->secret, sizeof idp->secret);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)CSRF_LABEL, sizeof CSRF_LABEL);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)purpose_z, strlen(purpose_z) + 1);
    crypto_auth_hmacsha256_update(&st, len, sizeof len);
    if (binding.n > 0) {
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)binding.p, binding.n);
    }
    crypto_auth_hmacsha256_update(&st, issued, 8);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

char *idp_csrf_token(const struct idp *idp, struct slice binding, const char *purpose_z)
{
    uint8_t raw[CSRF_RAW_LEN];
    raw[0] = CSRF_VERSION;
    put_be64(raw + 1, (uint64_t)util_now());
    csrf_mac(idp, binding, purpose_z ? purpose_z : "", raw + 1, raw + 9);
    return b64url_encode_z(raw, sizeof raw);
}

bool idp_csrf_check(const struct idp *idp, struct slice binding, const char *purpose_z,
                    const char *token_z)
{
    if (binding.n == 0 || purpose_z == NULL || token_z == NULL ||
        strlen(token_z) > IDP_CSRF_TOKEN_MAX) {
        return false;
    }
    struct buf raw;
    buf_init(&raw, IDP_CSRF_TOKEN_MAX);
    bool ok = false;
    if (b64url_decode(slice_z(token_z), &raw) != 0 || raw.len != CSRF_RAW_LEN ||
        (uint8_t)raw.p[0] != CSRF_VERSION) {
        goto done;
    }
    const uint8_t *p = (const uint8_t *)raw.p;
    int64_t issued = (int64_t)get_be64(p + 1), now = util_now();
    if (issued > now + IDP_CSRF_SKEW || issued <= now - IDP_CSRF_LIFETIME) {
        goto done;
    }
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    csrf_mac(idp, binding, purpose_z, p + 1, mac);
    ok = util_ct_equal(mac, sizeof mac, p + 9, crypto_auth_hmacsha256_BYTES);
done:
    buf_free(&raw);
    return ok;
}

char *idp_csrf_cookie(const struct idp *idp, const char *value_z)
{
    struct buf b;
    buf_init(&b, 256);
    buf_printf(&b, "%s=%s; Path=%s; HttpOnly; SameSite=Lax%s", IDP_CSRF_COOKIE, value_z,
               IDP_FLOW_PATH, idp->cfg.cookie_secure ? "; Secure" : "");
    return buf_steal(&b, NULL);
}
