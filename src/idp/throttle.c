/*
 * throttle.c: brute-force throttling per username and per client IP (DESIGN.md), over the
 * store's login_attempts, so that every node of an installation counts together. After
 * throttle_max_failures failures within throttle_window seconds a key is locked for
 * throttle_lockout seconds (OWASP Authentication Cheat Sheet, "account lockout"; NIST SP
 * 800-63B section 5.2.2 asks for such a limit on online guessing).
 */
#include "idp/idp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDP_IPV6_PREFIX_BYTES 8 /* a /64: what one subscriber usually holds */

void idp_throttle_user_key(const char *username_z, char out[IDP_THROTTLE_KEY_MAX])
{
    snprintf(out, IDP_THROTTLE_KEY_MAX, "user:%s", username_z ? username_z : "");
}

void idp_throttle_ip_key(const char *ip_z, char out[IDP_THROTTLE_KEY_MAX])
{
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];
    if (ip_z != NULL && inet_pton(AF_INET6, ip_z, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
        memset(a6.s6_addr + IDP_IPV6_PREFIX_BYTES, 0, 16 - IDP_IPV6_PREFIX_BYTES);
        inet_ntop(AF_INET6, &a6, text, sizeof text);
        snprintf(out, IDP_THROTTLE_KEY_MAX, "ip:%s/64", text);
        return;
    }
    if (ip_z != NULL && inet_pton(AF_INET6, ip_z, &a6) == 1) {
        /* ::ffff:a.b.c.d counts as a.b.c.d (a dual-stack listener) */
        inet_ntop(AF_INET, a6.s6_addr + 12, text, sizeof text);
        snprintf(out, IDP_THROTTLE_KEY_MAX, "ip:%s", text);
        return;
    }
    snprintf(out, IDP_THROTTLE_KEY_MAX, "ip:%s", ip_z ? ip_z : "");
}

static bool throttle_on(const struct idp *idp)
{
    return idp->cfg.throttle_max_failures > 0;
}

int idp_throttle_locked(struct idp *idp, struct store *s, const char *key_z, int64_t *retry_after,
                        struct err *e)
{
    if (!throttle_on(idp)) {
        return 0;
    }
    struct store_attempts a = {0};
    int rc = store_attempt_get(s, key_z, &a, e);
    if (rc < 0) {
        return -1;
    }
    int64_t now = util_now();
    if (rc == 0 && a.locked_until > now) {
        if (retry_after != NULL) {
            *retry_after = a.locked_until - now;
        }
        return 1;
    }
    return 0;
}

int idp_throttle_fail(struct idp *idp, struct store *s, const char *key_z, bool *locked_now,
                      struct err *e)
{
    if (locked_now != NULL) {
        *locked_now = false;
    }
    if (!throttle_on(idp)) {
        return 0;
    }
    struct store_throttle pol = {
        .window_s = idp->cfg.throttle_window,
        .max_failures = idp->cfg.throttle_max_failures,
        .lock_s = idp->cfg.throttle_lockout,
    };
    struct store_attempts a = {0};
    if (store_attempt_fail(s, key_z, &pol, &a, e) < 0) {
        return -1;
    }
    if (locked_now != NULL) {
        /* Callers count a failure only for a key that was not locked (they checked). */
        *locked_now = a.locked_until > util_now();
    }
    return 0;
}

int idp_throttle_reset(struct idp *idp, struct store *s, const char *key_z, struct err *e)
{
    if (!throttle_on(idp)) {
        return 0;
    }
    return store_attempt_reset(s, key_z, e) < 0 ? -1 : 0;
}
