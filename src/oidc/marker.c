/*
 * marker.c: "a login was requested at T" for this client, carried through the login page
 * in the authorize URL (see oidc.h). Format: "<T>.<base64url(HMAC-SHA256(secret,
 * "postern-oidc-login|<T>|<client_id>"))>".
 */
#include "oidc/oidc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define MARKER_DOMAIN  "postern-oidc-login"
#define MARKER_MAC_B64 43 /* 32 bytes in base64url */

static int marker_mac(const uint8_t secret[32], const char *client_id_z, int64_t t,
                      char mac[MARKER_MAC_B64 + 1])
{
    struct buf in;
    buf_init(&in, OIDC_CLIENT_ID_MAX + 64);
    int rc = -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (buf_printf(&in, MARKER_DOMAIN "|%lld|%s", (long long)t, client_id_z) != 0 ||
        HMAC(EVP_sha256(), secret, 32, (const unsigned char *)in.p, in.len, md, &mdlen) == NULL) {
        goto done;
    }
    struct buf enc;
    buf_init(&enc, MARKER_MAC_B64);
    if (b64url_encode(md, mdlen, &enc) == 0 && enc.len == MARKER_MAC_B64) {
        memcpy(mac, enc.p, MARKER_MAC_B64 + 1);
        rc = 0;
    }
    buf_free(&enc);
done:
    buf_free(&in);
    return rc;
}

int oidc_marker_make(const uint8_t secret[32], const char *client_id_z, int64_t t,
                     char out[OIDC_MARKER_MAX])
{
    char mac[MARKER_MAC_B64 + 1];
    if (t <= 0 || marker_mac(secret, client_id_z, t, mac) != 0) {
        return -1;
    }
    int n = snprintf(out, OIDC_MARKER_MAX, "%lld.%s", (long long)t, mac);
    return n > 0 && n < OIDC_MARKER_MAX ? 0 : -1;
}

int oidc_marker_check(const uint8_t secret[32], const char *client_id_z, const char *marker_z,
                      int64_t now, int64_t *t)
{
    if (marker_z == NULL || strlen(marker_z) >= OIDC_MARKER_MAX) {
        return -1;
    }
    const char *dot = strchr(marker_z, '.');
    uint64_t v = 0;
    if (dot == NULL ||
        util_parse_u64((struct slice){marker_z, (size_t)(dot - marker_z)}, (uint64_t)INT64_MAX,
                       &v) != 0 ||
        v == 0) {
        return -1;
    }
    char mac[MARKER_MAC_B64 + 1];
    if (marker_mac(secret, client_id_z, (int64_t)v, mac) != 0 ||
        !util_ct_equal(mac, MARKER_MAC_B64, dot + 1, strlen(dot + 1))) {
        return -1;
    }
    /* Not from the future (beyond a little clock skew between nodes), not stale. */
    if ((int64_t)v > now + OIDC_JWT_LEEWAY || now - (int64_t)v > OIDC_LOGIN_MARKER_TTL) {
        return -1;
    }
    *t = (int64_t)v;
    return 0;
}
