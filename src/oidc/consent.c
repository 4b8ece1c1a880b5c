/*
 * consent.c: the explicit-consent flow (default-provider-authorization-explicit-consent).
 * The consent page posts back to /application/o/authorize/ with the request's parameters as
 * hidden fields, a CSRF token bound to the IdP session, and decision=allow|deny. A decision
 * without a valid token is ignored (the page is shown again), so another site cannot make
 * the browser consent. An allowed request is remembered in the consents table (scopes
 * accumulate); prompt=consent asks again anyway.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"

#include <string.h>

#define EXPLICIT_FLOW "default-provider-authorization-explicit-consent"
#define CSRF_PURPOSE  "consent"

static enum oidc_consent_rc show_page(struct oidc_job *j, const struct oidc_authz *a,
                                      const struct store_app *app, const struct idp_auth *auth,
                                      struct err *e)
{
    struct slice binding = slice_z(auth->session.id);
    char *csrf = idp_csrf_token(j->o->idp, binding, CSRF_PURPOSE);
    struct web_field fields[16];
    size_t nf = 0;
    for (size_t i = 0; i < oidc_authz_nnames && nf < UTIL_ARRAY_LEN(fields); i++) {
        const char *v = oidc_param(j, oidc_authz_names[i]);
        if (v != NULL) {
            fields[nf++] = (struct web_field){oidc_authz_names[i], v};
        }
    }
    const char *scopes[4];
    size_t ns = oidc_scope_names(a->scopes, scopes);
    const char *user = auth->user.name && *auth->user.name ? auth->user.name : auth->user.username;
    struct web_consent wc = {
        .action = OIDC_PREFIX "authorize/",
        .csrf_token = csrf,
        .app_name = app->name,
        .user = user,
        .scopes = scopes,
        .nscopes = ns,
        .fields = fields,
        .nfields = nf,
    };
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    enum oidc_consent_rc rc = OIDC_CONSENT_ERROR;
    if (web_page_consent(j->o->web, &wc, &page) == 0) {
        /* The POST answers with a redirect to the client's origin (web.h). */
        oidc_reply_page(&j->reply, 200, &page, WEB_FORM_REDIRECTS, NULL);
        rc = OIDC_CONSENT_SHOWN;
    } else {
        err_set(e, 0, "the consent page does not render");
    }
    buf_free(&page);
    free(csrf);
    return rc;
}

static enum oidc_consent_rc remember(struct store *s, unsigned scopes, unsigned before,
                                     const struct store_provider *p, const struct idp_auth *auth,
                                     struct err *e)
{
    struct buf b;
    buf_init(&b, OIDC_SCOPE_MAX);
    oidc_scope_format(scopes | before, &b);
    struct store_consent c = {
        .user_id = auth->user.id, .provider_id = p->id, .scope = b.p ? b.p : "", .expires_at = 0};
    int rc = store_consent_set(s, &c, e);
    buf_free(&b);
    return rc != 0 ? OIDC_CONSENT_ERROR : OIDC_CONSENT_GIVEN;
}

enum oidc_consent_rc oidc_consent(struct oidc_job *j, struct store *s, const struct oidc_authz *a,
                                  const struct store_provider *p, const struct store_app *app,
                                  const struct idp_auth *auth, struct err *e)
{
    if (p->authorization_flow == NULL || strcmp(p->authorization_flow, EXPLICIT_FLOW) != 0) {
        return OIDC_CONSENT_GIVEN; /* implicit consent: the administrator consented */
    }
    struct store_consent have = {0};
    int rc = store_consent_get(s, auth->user.id, p->id, &have, e);
    if (rc < 0) {
        return OIDC_CONSENT_ERROR;
    }
    unsigned before = 0;
    size_t unknown = 0;
    if (rc == 0 && have.scope != NULL && *have.scope != '\0' &&
        oidc_scope_parse(slice_z(have.scope), &before, &unknown) != 0) {
        before = 0;
    }
    store_consent_free(&have);
    const char *decision = j->method == HTTP_M_POST ? oidc_param(j, "decision") : NULL;
    const char *csrf = oidc_param(j, "csrf_token");
    if (decision != NULL && csrf != NULL && oidc_param_count(j, "decision") == 1 &&
        idp_csrf_check(j->o->idp, slice_z(auth->session.id), CSRF_PURPOSE, csrf)) {
        if (strcmp(decision, "allow") == 0) {
            return remember(s, a->scopes, before, p, auth, e);
        }
        if (strcmp(decision, "deny") == 0) {
            return OIDC_CONSENT_DENIED;
        }
    }
    bool covered = rc == 0 && (a->scopes & ~before) == 0;
    if (covered && !(a->prompt_flags & OIDC_PROMPT_CONSENT)) {
        return OIDC_CONSENT_GIVEN;
    }
    if (a->prompt_flags & OIDC_PROMPT_NONE) {
        return OIDC_CONSENT_NEEDED;
    }
    return show_page(j, a, app, auth, e);
}
