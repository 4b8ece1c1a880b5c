/*
 * respond.c: the headers of every HTML page and the helpers that answer with one.
 * The Content-Security-Policy matches what the template parser enforces: no script at all
 * (default-src 'none'), style only from /static/ (no inline style), images from the server or
 * https: (the branding's logo) or data:, no framing, no <base>.
 */
#include "web/web_int.h"

#include "http/http.h"

#include <stdio.h>
#include <string.h>

#define WEB_CSP_HEAD "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
#define WEB_CSP_TAIL "frame-ancestors 'none'; base-uri 'none'"
#define WEB_CSP_MAX  (sizeof(WEB_CSP_HEAD WEB_CSP_TAIL) + 64 + WEB_ORIGIN_MAX)

int web_security_headers_ex(struct http_req *r, enum web_form_action fa, const char *origin_z)
{
    char csp[WEB_CSP_MAX];
    int n;
    switch (fa) {
    case WEB_FORM_SELF:
        n = snprintf(csp, sizeof csp, "%sform-action 'self'; %s", WEB_CSP_HEAD, WEB_CSP_TAIL);
        break;
    case WEB_FORM_ORIGIN: {
        /* Only an exact origin: nothing else can slip into the policy. */
        char canon[WEB_ORIGIN_MAX + 1];
        if (origin_z == NULL || web_url_origin(origin_z, canon, sizeof canon) != 0 ||
            strcmp(canon, origin_z) != 0) {
            return -1;
        }
        n = snprintf(csp, sizeof csp, "%sform-action 'self' %s; %s", WEB_CSP_HEAD, canon,
                     WEB_CSP_TAIL);
        break;
    }
    case WEB_FORM_REDIRECTS:
        n = snprintf(csp, sizeof csp, "%s%s", WEB_CSP_HEAD, WEB_CSP_TAIL);
        break;
    default:
        return -1;
    }
    if (n < 0 || (size_t)n >= sizeof csp) {
        return -1;
    }
    if (http_resp_header(r, "Content-Security-Policy", csp) != 0 ||
        http_resp_header(r, "X-Frame-Options", "DENY") != 0 ||
        http_resp_header(r, "Referrer-Policy", "no-referrer") != 0 ||
        http_resp_header(r, "X-Content-Type-Options", "nosniff") != 0 ||
        http_resp_header(r, "Cache-Control", "no-store") != 0) {
        return -1;
    }
    return 0;
}

int web_security_headers(struct http_req *r)
{
    return web_security_headers_ex(r, WEB_FORM_SELF, NULL);
}

void web_respond_page_ex(struct http_req *r, int status, struct buf *page, enum web_form_action fa,
                         const char *origin_z)
{
    if (web_security_headers_ex(r, fa, origin_z) != 0) {
        log_error("web: cannot add the security headers of a page");
        buf_reset(page);
        http_respond(r, 500, NULL, NULL, 0);
        return;
    }
    http_respond_buf(r, status, "text/html; charset=utf-8", page);
}

void web_respond_page(struct http_req *r, int status, struct buf *page)
{
    web_respond_page_ex(r, status, page, WEB_FORM_SELF, NULL);
}

void web_respond_error(const struct web *w, struct http_req *r, int status, const char *title_z,
                       const char *message_z)
{
    struct buf page;
    buf_init(&page, WEB_PAGE_MAX);
    struct web_error p = {.status = status, .title = title_z, .message = message_z};
    if (w == NULL || web_page_error(w, &p, &page) != 0) {
        buf_free(&page);
        http_respond_error(r, status, title_z);
        return;
    }
    web_respond_page(r, status, &page);
    buf_free(&page);
}

void web_respond_unavailable(const struct web *w, struct http_req *r)
{
    http_resp_header(r, "Retry-After", WEB_UNAVAILABLE_RETRY_S);
    web_respond_error(w, r, WEB_UNAVAILABLE_STATUS, WEB_UNAVAILABLE_TITLE, WEB_UNAVAILABLE_MESSAGE);
}
