/*
 * event.c: the audit trail of the IdP (issue 3, "Events"): login, login_failed, logout,
 * login_throttled, and those of the OIDC endpoints. Recording never fails a request: an
 * error is logged (without the context, which the caller built and may be large).
 */
#include "idp/idp.h"

#include <stdlib.h>

void idp_event(struct store *s, const char *action_z, const char *username_z,
               const char *client_ip_z, const char *app_z, const json_t *context)
{
    char *ctx = context != NULL ? util_json_dump(context) : NULL;
    struct store_event ev = {
        .action = (char *)action_z,
        .username = (char *)(username_z ? username_z : ""),
        .client_ip = (char *)(client_ip_z ? client_ip_z : ""),
        .app = (char *)(app_z ? app_z : ""),
        .context = ctx ? ctx : (char *)"",
    };
    struct err e = {0};
    if (store_event_add(s, &ev, &e) < 0) {
        log_error("idp: event %s not recorded: %s", action_z, e.msg);
    }
    free(ctx);
}
