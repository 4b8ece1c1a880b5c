/*
 * web: the pages people see. Server-rendered HTML from templates that escape every value,
 * the static assets (CSS, logo), the security headers of every page.
 *
 * Three layers, each usable alone:
 *  - the template language (web_tpls_*): mustache-like, with NO unescaped output at all;
 *  - the variables a template reads (web_vars, web_set*);
 *  - the site (struct web): the embedded templates and assets, parsed and checked once at
 *    start by web_new, the branding, and one typed function per page (web_page_*).
 *
 * Template syntax:
 *   {{name}}            the value, HTML-escaped (& < > " ' ` = all become references)
 *   {{#name}}..{{/name}} the block if the value is truthy (non-empty string, true, an object),
 *                       or once per element of a list, with the element as the inner scope
 *   {{^name}}..{{/name}} the block if the value is missing, false, "" or an empty list
 *   {{>partial}}        another template of the same set (depth bounded)
 *   {{! comment }}      nothing
 * Names are [A-Za-z0-9_-] segments joined by '.'; the first segment is looked up from the
 * innermost scope outwards, the next ones inside the object found ("app.name"). An unknown
 * name renders as nothing.
 *
 * The parser also knows where in the HTML each {{name}} stands, and refuses a template
 * (a hard error at start, caught by the unit tests) that puts a value anywhere it could
 * change the meaning of the page: inside a tag outside a quoted attribute value, in an
 * unquoted value, in an on*= or style= attribute, in <meta>, in a comment, or in a URL
 * attribute (href, src, action, formaction, ...) other than at the very start of its value
 * or after a literal '?' or '#'. Literal <script>, <style>, <iframe>, <object>, <embed>,
 * <base>, on*= and style= are refused too: the pages have no JavaScript and no inline style,
 * as the Content-Security-Policy below requires. A section must leave the HTML context as it
 * found it, so that skipping it cannot shift a later value into another context.
 *
 * THE URL RULE, for every URL in a page: a value at the start of a URL attribute renders
 * only if it was set with web_set_url() and passes web_url_ok(): a relative path starting
 * with '/' (but not "//" and no backslash anywhere) or an absolute http:// or https:// URL
 * with a host; printable ASCII only (no space, tab, CR, LF: browsers drop those and "/\t/x"
 * would become "//x"). Anything else (javascript:, data:, //evil.com, /\evil.com) renders "#".
 * This says nothing about *where* a URL may lead: callers still check open redirects.
 *
 * Thread safety: a struct web is read-only after web_new and may be shared by every event
 * loop and worker thread; web_vars and output buffers belong to one request.
 */
#ifndef POSTERN_WEB_H
#define POSTERN_WEB_H

#include "util/util.h"

struct http_req;
struct http_router;

/* ---- limits ------------------------------------------------------------------------ */

#define WEB_TPL_MAX_BYTES     (64 * 1024)  /* one template's source */
#define WEB_TPL_MAX_NODES     4096         /* text runs and tags of one template */
#define WEB_TPL_MAX_NESTING   16           /* sections inside sections */
#define WEB_TPL_MAX_PARTIALS  8            /* partials inside partials (depth) */
#define WEB_TPL_MAX_TEMPLATES 64           /* templates in a set */
#define WEB_TPL_MAX_STEPS     200000       /* nodes visited by one render (lists of lists) */
#define WEB_NAME_MAX          64           /* a variable, section or template name */
#define WEB_VARS_MAX          64           /* values in one scope */
#define WEB_LIST_MAX          1000         /* elements of one list */
#define WEB_VALUE_MAX         (16 * 1024)  /* bytes of one value */
#define WEB_URL_MAX           8192         /* bytes of a URL value */
#define WEB_PAGE_MAX          (256 * 1024) /* a sensible cap for a page's output buffer */
#define WEB_ORIGIN_MAX        300          /* "https://host:port" */
#define WEB_TITLE_MAX         100          /* the branding's product title */

/* ---- values ------------------------------------------------------------------------ */

struct web_vars;

struct web_vars *web_vars_new(void);
/* Frees the scope and every child and list element it owns. NULL is fine. */
void web_vars_free(struct web_vars *v);
/* Sets a string (copied; replaces an earlier value of that name). value_z NULL: the name is
 * left unset, so that optional fields can be passed straight through. -1: a name that is not
 * one [A-Za-z0-9_-] segment, a value longer than WEB_VALUE_MAX, or a full scope. */
int web_set(struct web_vars *v, const char *name_z, const char *value_z);
int web_setf(struct web_vars *v, const char *name_z, const char *fmt, ...) UTIL_PRINTF(3, 4);
int web_set_bool(struct web_vars *v, const char *name_z, bool b);
/* Sets a URL for an href/src/action (THE URL RULE above). A URL that fails web_url_ok() is
 * stored as "#" and -1 is returned; NULL leaves the name unset (0). */
int web_set_url(struct web_vars *v, const char *name_z, const char *url_z);
/* Appends an element to the list `name` (created on first use) and returns its scope, owned
 * by v; NULL when the list is full (WEB_LIST_MAX) or the name is taken by another kind. */
struct web_vars *web_list_add(struct web_vars *v, const char *name_z);
/* The object `name` (created on first use), for "name.field" lookups and {{#name}}. */
struct web_vars *web_child(struct web_vars *v, const char *name_z);

/* ---- templates --------------------------------------------------------------------- */

struct web_tpls;

struct web_tpls *web_tpls_new(void);
void web_tpls_free(struct web_tpls *t);
/* Parses a template and adds it under name_z. The text is copied. Errors (with the line:
 * "login.html:12: unclosed section 'error'") leave the set unchanged. */
int web_tpls_add(struct web_tpls *t, const char *name_z, struct slice text, struct err *e);
/* Checks that every {{>partial}} names a template of the set and that no chain of partials
 * is deeper than WEB_TPL_MAX_PARTIALS (so also no cycle). Call once, after the last add. */
int web_tpls_check(const struct web_tpls *t, struct err *e);
/* Appends the rendering of template name_z to out. -1: unknown template, out's cap reached,
 * or a bound above (the output may then hold a part of the page: discard it). */
int web_tpls_render(const struct web_tpls *t, const char *name_z, const struct web_vars *v,
                    struct buf *out, struct err *e);

/* ---- escaping and validation ------------------------------------------------------- */

/* HTML-escapes s for text and quoted attribute positions: & < > " ' ` = */
int web_escape(struct slice s, struct buf *out);
/* THE URL RULE (see the top of this file). */
bool web_url_ok(const char *url_z);
/* "#rgb" or "#rrggbb", nothing else: safe inside CSS. */
bool web_colour_ok(const char *colour_z);
/* The origin of an absolute http(s) URL, "scheme://host[:port]" with the scheme lower-cased,
 * for a CSP source list. -1 for anything else or a host with characters outside
 * [A-Za-z0-9.-] (or an [IPv6] literal). */
int web_url_origin(const char *url_z, char *out, size_t outsz);

/* ---- the site: embedded templates, assets, branding --------------------------------- */

/* Branding (issue 5, "title, logo URL and colours configurable"). NULL fields take the
 * defaults. Colours must pass web_colour_ok; the logo must be a relative path or an https
 * URL (the Content-Security-Policy allows images from 'self' and https: only). The text
 * colour on primary buttons is chosen for contrast (WCAG relative luminance). */
struct web_branding {
    const char *title;           /* "Postern" */
    const char *logo_url;        /* "/static/logo.svg" */
    const char *primary;         /* "#0f766e": buttons, links, focus ring */
    const char *background;      /* "#f3f5f7" */
    const char *primary_dark;    /* "#2dd4bf", under prefers-color-scheme: dark */
    const char *background_dark; /* "#0e1116" */
};

struct web;

/* Parses and checks every embedded template (src/web/templates/), validates the branding,
 * builds the assets (postern.css carries the branding's colours) and their ETags.
 * NULL with e set on any error. b may be NULL (all defaults). */
struct web *web_new(const struct web_branding *b, struct err *e);
void web_free(struct web *w);
/* Renders one embedded template ("login" for templates/login.html) with v. */
int web_render(const struct web *w, const char *name_z, const struct web_vars *v, struct buf *out);

/* Where the pages link their assets, and web_static_handler serves them: "/static/" by
 * default. The gateway uses "/cdn-cgi/access/static/", because every other path of an
 * application's host belongs to the application. Call before serving; prefix_z must start
 * and end with '/' (at most WEB_STATIC_PREFIX_MAX - 1 bytes of [A-Za-z0-9/_.-]). A default
 * logo_url moves with it. -1 when refused. */
#define WEB_STATIC_PREFIX_MAX 48
int web_set_static_prefix(struct web *w, const char *prefix_z);

/* A static asset, as served under /static/<name>. */
struct web_asset {
    const char *name;         /* "postern.css", "logo.svg" */
    const char *content_type; /* "text/css; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    char etag[40]; /* strong: '"' + 32 hex digits of SHA-256 + '"' */
};

const struct web_asset *web_asset_find(const struct web *w, const char *name_z);
/* If-None-Match (RFC 9110 section 13.1.2, weak comparison): "*" or a list that holds etag. */
bool web_etag_match(const char *if_none_match_z, const char *etag_z);
/* GET/HEAD /static/<name>; ctx is the struct web. 200 with Content-Type, ETag,
 * Cache-Control: public, max-age=86400 and X-Content-Type-Options: nosniff; 304 on a
 * matching If-None-Match; 404 for another name; 405 for another method. */
void web_static_handler(struct http_req *req, void *ctx);
/* Routes "/static/" on host (NULL: any host) to web_static_handler. */
int web_routes_add(struct http_router *r, const char *host_z, const struct web *w);

/* ---- security headers and responses ------------------------------------------------ */

/* Where the forms of a page may send the browser (the CSP form-action directive).
 * Chrome and Safari check form-action against every redirect that follows a form
 * submission, not only against the form's action (w3c/webappsec-csp#8): a login or consent
 * form whose POST ends in a 302 to a client's redirect URI, which may itself redirect to a
 * third origin (the gateway's callback does), would be blocked by form-action 'self'. */
enum web_form_action {
    WEB_FORM_SELF,      /* form-action 'self': the default, for every page whose forms post
                           to this server and whose answers stay on it */
    WEB_FORM_ORIGIN,    /* form-action 'self' <origin>: a page that posts to one known other
                           origin (the OIDC form_post page) that does not redirect further */
    WEB_FORM_REDIRECTS, /* no form-action: the login and consent forms of an authorization,
                           whose POST ends in a chain of redirects to other origins */
};

/* Adds to an HTML response: Content-Security-Policy (default-src 'none'; style-src 'self';
 * img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'),
 * X-Frame-Options: DENY, Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff,
 * Cache-Control: no-store. */
int web_security_headers(struct http_req *r);
/* The same with another form-action; origin_z (WEB_FORM_ORIGIN only) must be an origin as
 * web_url_origin() returns it, else -1 and nothing is added. */
int web_security_headers_ex(struct http_req *r, enum web_form_action fa, const char *origin_z);
/* Answers with the page in buf (taken, left empty): Content-Type text/html; charset=utf-8
 * and the security headers (WEB_FORM_SELF). If a header cannot be added: a bare 500. */
void web_respond_page(struct http_req *r, int status, struct buf *page);
void web_respond_page_ex(struct http_req *r, int status, struct buf *page, enum web_form_action fa,
                         const char *origin_z);
/* Renders the error page (web_page_error) and answers with it; if that fails, the plain
 * http_respond_error. */
void web_respond_error(const struct web *w, struct http_req *r, int status, const char *title_z,
                       const char *message_z);

/* The answer to a request that needs the database while it cannot be reached (the store's
 * store_unavailable(): PostgreSQL down, SQLite locked past its timeout): 503 with Retry-After
 * (RFC 9110 sections 15.6.4 and 10.2.3), so that people and clients try again rather than
 * report a bug. The same words whichever role (IdP, OIDC, gateway) answers. */
#define WEB_UNAVAILABLE_STATUS  503
#define WEB_UNAVAILABLE_RETRY_S "5" /* Retry-After, seconds: about one reconnection attempt */
#define WEB_UNAVAILABLE_TITLE   "Temporarily unavailable"
#define WEB_UNAVAILABLE_MESSAGE                                                                    \
    "Postern cannot reach its database. Please try again in a moment."
/* Answers the error page with WEB_UNAVAILABLE_*, Retry-After included. */
void web_respond_unavailable(const struct web *w, struct http_req *r);

/* ---- the pages --------------------------------------------------------------------- */

/* Every page function appends a whole document to out (<!doctype html>, lang="en", viewport,
 * <title>, exactly one <h1>) and returns 0, or -1 when out's cap is reached (use
 * WEB_PAGE_MAX). Every string may be NULL where it says "optional". URLs follow THE URL
 * RULE: a bad one renders as "#". The forms post with method="post" and carry a hidden
 * csrf_token input. */

struct web_link {
    const char *url;
    const char *label;
};

struct web_field { /* a hidden form input */
    const char *name;
    const char *value;
};

/* Identification and password on one form (Authentik's default-authentication-flow).
 * Inputs: username (autocomplete="username"), password (autocomplete="current-password"),
 * hidden csrf_token and next; the button "Log in". */
struct web_login {
    const char *action; /* the form's URL, e.g. "/if/flow/default-authentication-flow/" */
    const char *csrf_token;
    const char *next;     /* optional: hidden "next", the caller validates it on POST */
    const char *app_name; /* optional: "to continue to <app>" */
    const char *username; /* optional: prefilled (login_hint, or after a failure) */
    const char *error;    /* optional: shown in role="alert" (one message for any wrong
                             credential) */
};
int web_page_login(const struct web *w, const struct web_login *p, struct buf *out);

/* Explicit consent. One form, two buttons named "decision": value "allow" (first, the
 * default of the Enter key) and "deny". */
struct web_consent {
    const char *action;
    const char *csrf_token;
    const char *app_name;
    const char *user;          /* optional: "Signed in as <user>" */
    const char *const *scopes; /* scope names; openid, email, profile, offline_access
                                  and groups are described in words, others shown as is */
    size_t nscopes;
    const struct web_field *fields; /* optional hidden inputs carrying the request */
    size_t nfields;
};
int web_page_consent(const struct web *w, const struct web_consent *p, struct buf *out);

/* An error: "Error <status>", a title ("Redirect URI not registered"), a message, an
 * optional link. Never a stack trace. */
struct web_error {
    int status;
    const char *title;
    const char *message;   /* optional */
    const char *link_url;  /* optional */
    const char *link_text; /* optional, "Go back" by default when link_url is set */
};
int web_page_error(const struct web *w, const struct web_error *p, struct buf *out);

/* "You have been logged out", with a link to log in again. */
struct web_logged_out {
    const char *login_url; /* optional */
    const char *app_name;  /* optional: "You have been logged out of <app>" */
};
int web_page_logged_out(const struct web *w, const struct web_logged_out *p, struct buf *out);

/* The gateway's identity-provider choice: one button (a GET link) per IdP. */
struct web_idp_choice {
    const char *app_name;
    const struct web_link *idps; /* url: where the button leads; label: the IdP's name */
    size_t nidps;
};
int web_page_idp_choice(const struct web *w, const struct web_idp_choice *p, struct buf *out);

/* The gateway's access denied (answer it with 403). */
struct web_access_denied {
    const char *app_name;
    const char *email;       /* the signed-in identity */
    const char *signout_url; /* "Sign out" */
};
int web_page_access_denied(const struct web *w, const struct web_access_denied *p, struct buf *out);

/* Anything else: a title, a paragraph, an optional link. */
struct web_message {
    const char *title;
    const char *message;
    const char *link_url;  /* optional */
    const char *link_text; /* optional, "Continue" by default */
};
int web_page_message(const struct web *w, const struct web_message *p, struct buf *out);

/* The OIDC form_post response (OAuth 2.0 Form Post Response Mode): a form that posts the
 * fields to action with a "Continue" button. There is no JavaScript, so the user presses it.
 * action follows THE URL RULE: a redirect URI with a custom scheme (native apps) renders "#".
 * Answer with web_respond_page_ex(..., WEB_FORM_REDIRECTS or WEB_FORM_ORIGIN, origin). */
struct web_form_post {
    const char *action;   /* the client's redirect URI */
    const char *app_name; /* optional */
    const struct web_field *fields;
    size_t nfields;
};
int web_page_form_post(const struct web *w, const struct web_form_post *p, struct buf *out);

#endif
