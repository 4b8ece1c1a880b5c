/*
 * endsession.c: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at
 * /application/o/<slug>/end-session/, GET or POST.
 *
 * The IdP session ends and its cookie is cleared. post_logout_redirect_uri is followed only
 * when it equals one of the provider's strict redirect URIs (Authentik's rule; regex entries
 * are never used here), with state appended; otherwise the logged-out page is shown.
 * id_token_hint, when given, must be one of our ID tokens for this application (signature,
 * iss, aud); its expiry does not matter (section 2: the token may have expired).
 *
 * CSRF: a cross-site GET can log the user out. That is what the specification's GET form
 * does and what relying parties rely on; the cost is a forced logout, never a session, and
 * the redirect cannot leave the provider's registered URIs.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"
#include "keys/keys.h"

#include <string.h>

static bool aud_has(const json_t *aud, const char *client_id)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), client_id) == 0;
    }
    for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
        const char *a = json_string_value(json_array_get(aud, i));
        if (a != NULL && strcmp(a, client_id) == 0) {
            return true;
        }
    }
    return false;
}

/* 0: ours for this application; 1: not; -1: error. */
static int hint_check(struct oidc *o, const char *hint, const char *iss,
                      const struct store_provider *p, struct err *e)
{
    if (strlen(hint) > OIDC_TOKEN_MAX) {
        return 1;
    }
    struct jose_jws jws;
    struct jose_jwks *ks = keys_jwks(o->idp->keys, e);
    if (ks == NULL) {
        return -1;
    }
    int rc = 1;
    json_t *claims = NULL;
    struct err ve = {0};
    if (jose_jws_parse(slice_z(hint), &jws, &ve) != 0 || jws.kid == NULL) {
        goto done;
    }
    const struct jose_jwk *k = jose_jwks_find(ks, jws.kid);
    if (k == NULL || jose_jws_verify(&jws, k, &ve) != 0) {
        goto done;
    }
    claims =
        util_json_parse((struct slice){jws.payload.p ? jws.payload.p : "", jws.payload.len}, &ve);
    const char *tiss = json_string_value(json_object_get(claims, "iss"));
    if (tiss != NULL && strcmp(tiss, iss) == 0 &&
        aud_has(json_object_get(claims, "aud"), p->client_id)) {
        rc = 0;
    }
done:
    json_decref(claims);
    jose_jws_free(&jws);
    jose_jwks_free(ks);
    return rc;
}

static void logged_out_page(struct oidc_job *j, const struct store_app *app)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_logged_out lo = {.login_url = IDP_LOGIN_PATH, .app_name = app->name};
    if (web_page_logged_out(j->o->web, &lo, &page) == 0) {
        oidc_reply_page(&j->reply, 200, &page, WEB_FORM_SELF, NULL);
    } else {
        oidc_reply_error_page(&j->reply, j->o, 500, "Something went wrong", NULL);
    }
    buf_free(&page);
}

static const char *const es_params[] = {"id_token_hint", "post_logout_redirect_uri", "state",
                                        "client_id"};

void oidc_endsession_work(struct oidc_job *j)
{
    struct err e = {0};
    struct store_app app = {0};
    struct store_provider p = {0};
    struct oidc_redirects uris = {0};
    char *iss = NULL;
    struct store *s = store_thread(&e);
    int rc = s ? oidc_app_by_slug(s, j->slug, &app, &p, &e) : -1;
    if (rc == STORE_NOT_FOUND) {
        oidc_reply_error_page(&j->reply, j->o, 404, "Unknown application", NULL);
        goto done;
    }
    if (rc != 0 || oidc_redirects_parse(p.redirect_uris, &uris, &e) != 0) {
        err_prefix(&e, "%s", j->slug);
        oidc_reply_failure_page(&j->reply, j->o, "end-session", &e);
        goto done;
    }
    bool repeated = false;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(es_params); i++) {
        repeated = repeated || oidc_param_count(j, es_params[i]) > 1;
    }
    const char *client_id = oidc_param(j, "client_id");
    if (!j->params_ok || repeated || (client_id != NULL && strcmp(client_id, p.client_id) != 0)) {
        oidc_reply_error_page(&j->reply, j->o, 400, "Invalid logout request", NULL);
        goto done;
    }
    iss = oidc_issuer(j->o->idp->cfg.public_url, app.slug);
    const char *hint = oidc_param(j, "id_token_hint");
    if (hint != NULL && (rc = hint_check(j->o, hint, iss, &p, &e)) != 0) {
        if (rc < 0) {
            log_error("oidc: end-session keys: %s", e.msg);
        }
        oidc_reply_error_page(&j->reply, j->o, 400, "Invalid logout request",
                              "The id_token_hint was not issued for this application.");
        goto done;
    }
    if (j->cookie != NULL) {
        if (idp_logout(j->o->idp, s, slice_z(j->cookie), j->client_ip, &e) < 0) {
            oidc_reply_failure_page(&j->reply, j->o, "end-session", &e);
            goto done;
        }
        char *clear = idp_session_cookie_clear(j->o->idp);
        oidc_reply_header(&j->reply, "Set-Cookie", clear);
        free(clear);
    }
    const char *target = oidc_param(j, "post_logout_redirect_uri");
    if (target != NULL && oidc_redirect_registered_strict(&uris, target)) {
        struct buf url;
        buf_init(&url, OIDC_REDIRECT_URI_MAX + 3 * OIDC_STATE_MAX + 16);
        const char *names[] = {"state"};
        const char *values[] = {oidc_param(j, "state")};
        if (values[0] != NULL && strlen(values[0]) > OIDC_STATE_MAX) {
            values[0] = NULL;
        }
        if (oidc_url_with_params(&url, target, names, values, 1) == 0) {
            oidc_reply_redirect(&j->reply, url.p);
            buf_free(&url);
            goto done;
        }
        buf_free(&url);
    }
    logged_out_page(j, &app);
done:
    free(iss);
    oidc_redirects_free(&uris);
    store_app_free(&app);
    store_provider_free(&p);
}
