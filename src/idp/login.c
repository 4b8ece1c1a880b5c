/*
 * login.c: the password login, as one blocking call for the login form's deferred work.
 *
 * Order matters:
 *  1. the locks of the client IP and of the username are checked before any hashing, so a
 *     locked attacker costs no argon2id time (and learns nothing new);
 *  2. an unknown user, an inactive user and a user without password are verified against a
 *     dummy hash, so every wrong answer takes the time of a real verification and carries
 *     the same message (OWASP Authentication Cheat Sheet, "authentication responses");
 *  3. a failure counts against both keys; a success forgets the username's failures only
 *     (the IP's stay: one valid account must not reset an attacker's IP budget);
 *  4. a success opens a new session, never reuses one (session fixation, OWASP Session
 *     Management Cheat Sheet), and re-hashes a password made with older parameters.
 */
#include "idp/idp.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDP_AMR_PWD "[\"pwd\"]" /* RFC 8176 section 2 */

/* The login as typed, made printable for an event (it is attacker-controlled text). */
static void printable_copy(const char *in, char *out, size_t outsz)
{
    size_t i = 0;
    for (; in != NULL && in[i] != '\0' && i + 1 < outsz; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    out[i] = '\0';
}

static void failed_event(struct store *s, const char *login, const char *ip, const char *why)
{
    char who[IDP_LOGIN_MAX + 1];
    printable_copy(login, who, sizeof who);
    json_t *ctx = json_pack("{s:s}", "reason", why);
    idp_event(s, "login_failed", who, ip, NULL, ctx);
    json_decref(ctx);
}

static void locked_event(struct idp *idp, struct store *s, const char *login, const char *ip,
                         const char *which)
{
    char who[IDP_LOGIN_MAX + 1];
    printable_copy(login, who, sizeof who);
    json_t *ctx = json_pack("{s:s,s:I,s:I}", "key", which, "failures",
                            (json_int_t)idp->cfg.throttle_max_failures, "lockout",
                            (json_int_t)idp->cfg.throttle_lockout);
    idp_event(s, "login_throttled", who, ip, NULL, ctx);
    json_decref(ctx);
}

/* 1 when either key is locked (*retry_after: the longer wait), 0, or -1. */
static int any_locked(struct idp *idp, struct store *s, const char *ukey, const char *ikey,
                      int64_t *retry_after, struct err *e)
{
    int64_t ru = 0, ri = 0;
    int a = idp_throttle_locked(idp, s, ikey, &ri, e);
    int b = a < 0 ? -1 : idp_throttle_locked(idp, s, ukey, &ru, e);
    if (a < 0 || b < 0) {
        return -1;
    }
    *retry_after = ru > ri ? ru : ri;
    return a || b;
}

static int count_failure(struct idp *idp, struct store *s, const struct idp_login_input *in,
                         const char *ukey, const char *ikey, struct err *e)
{
    bool ulocked = false, ilocked = false;
    if (idp_throttle_fail(idp, s, ukey, &ulocked, e) < 0 ||
        idp_throttle_fail(idp, s, ikey, &ilocked, e) < 0) {
        return -1;
    }
    if (ulocked) {
        locked_event(idp, s, in->login, in->client_ip, "user");
    }
    if (ilocked) {
        locked_event(idp, s, in->login, in->client_ip, "ip");
    }
    return 0;
}

/* A verified password made with other parameters is hashed again now that we have it. */
static void maybe_rehash(struct store *s, const struct store_user *u, struct slice pw)
{
    if (!idp_password_needs_rehash(u->password_hash)) {
        return;
    }
    struct err e = {0};
    char *phc = idp_password_hash(pw, &e);
    if (phc == NULL || store_user_set_password(s, u->id, phc, &e) != 0) {
        log_warn("idp: re-hashing the password of %s failed: %s", u->username, e.msg);
    } else {
        log_info("idp: password of %s re-hashed with the current parameters", u->username);
    }
    util_free_secret(phc);
}

static void drop_old_session(struct store *s, struct slice old)
{
    if (!idp_token_shape_ok(old)) {
        return;
    }
    struct store_session x = {0};
    struct err e = {0};
    if (store_session_get(s, old, &x, &e) == 0) {
        store_session_delete(s, x.id, &e);
    }
    store_session_free(&x);
}

static enum idp_login_result login_ok(struct idp *idp, struct store *s,
                                      const struct idp_login_input *in, struct store_user *u,
                                      const char *ukey, char **token_out, struct idp_auth *auth,
                                      struct err *e)
{
    struct store_session x = {0};
    maybe_rehash(s, u, in->password);
    if (idp_throttle_reset(idp, s, ukey, e) < 0) {
        return IDP_LOGIN_ERROR;
    }
    drop_old_session(s, in->old_token);
    if (idp_session_create(idp, s, u->id, IDP_AMR_PWD, in->client_ip, in->user_agent, token_out, &x,
                           e) < 0) {
        return IDP_LOGIN_ERROR;
    }
    idp_event(s, "login", u->username, in->client_ip, NULL, NULL);
    if (auth != NULL) {
        idp_auth_free(auth);
        auth->session = x;
        auth->user = *u;
        memset(u, 0, sizeof *u); /* moved */
    } else {
        store_session_free(&x);
    }
    return IDP_LOGIN_OK;
}

enum idp_login_result idp_login(struct idp *idp, struct store *s, const struct idp_login_input *in,
                                char **token_out, struct idp_auth *auth, int64_t *retry_after,
                                struct err *e)
{
    struct store_user u = {0};
    char ukey[IDP_THROTTLE_KEY_MAX], ikey[IDP_THROTTLE_KEY_MAX];
    int64_t wait = 0;
    enum idp_login_result res = IDP_LOGIN_ERROR;
    *token_out = NULL;

    const char *login = in->login ? in->login : "";
    int found = strlen(login) <= IDP_LOGIN_MAX && login[0] != '\0'
                    ? store_user_get_by_login(s, login, &u, e)
                    : STORE_NOT_FOUND;
    if (found < 0) {
        goto done;
    }
    /* The canonical username when the login names a user: its username and its email
     * share one counter. */
    idp_throttle_user_key(found == 0 ? u.username : login, ukey);
    idp_throttle_ip_key(in->client_ip, ikey);
    int locked = any_locked(idp, s, ukey, ikey, &wait, e);
    if (locked < 0) {
        goto done;
    }
    if (locked) {
        /* No event per refused attempt: a locked attacker must not fill the events table
         * (login_throttled was recorded when the lock began). */
        log_debug("idp: login refused while throttled");
        if (retry_after != NULL) {
            *retry_after = wait;
        }
        res = IDP_LOGIN_THROTTLED;
        goto done;
    }
    bool ok = idp_password_verify(found == 0 ? u.password_hash : NULL, in->password);
    if (ok && u.is_active) {
        res = login_ok(idp, s, in, &u, ukey, token_out, auth, e);
        goto done;
    }
    failed_event(s, login, in->client_ip,
                 found != 0 ? "unknown user"
                 : !ok      ? "wrong password"
                            : "inactive user");
    res = count_failure(idp, s, in, ukey, ikey, e) < 0 ? IDP_LOGIN_ERROR : IDP_LOGIN_FAILED;
done:
    store_user_free(&u);
    return res;
}
