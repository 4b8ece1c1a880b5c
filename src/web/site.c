/*
 * site.c: the struct web built once at start: every embedded template parsed and checked
 * (a bad template stops the program here, and in the unit tests), the branding validated,
 * the assets with their ETags. postern.css gets the branding's colours appended as CSS
 * custom properties, so that pages need no inline style (CSP style-src 'self').
 */
#include "web/web_int.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WEB_THEME_MAX 1024

/* The card's surface and text colours in postern.css (--pt-surface, --pt-text). */
#define WEB_SURFACE_LIGHT "#ffffff"
#define WEB_TEXT_LIGHT    "#111827"
#define WEB_SURFACE_DARK  "#171b22"
#define WEB_TEXT_DARK     "#e8eaed"

static const struct web_branding defaults = {
    .title = "Postern",
    .logo_url = "/static/logo.svg",
    .primary = "#0f766e",
    .background = "#f3f5f7",
    .primary_dark = "#2dd4bf",
    .background_dark = "#0e1116",
};

/* ---- colours ----------------------------------------------------------------------------- */

struct rgb {
    int r, g, b;
};

/* c has passed web_colour_ok. */
static struct rgb parse_rgb(const char *c)
{
    if (strlen(c) == 4) {
        return (struct rgb){util_hex_digit(c[1]) * 17, util_hex_digit(c[2]) * 17,
                            util_hex_digit(c[3]) * 17};
    }
    return (struct rgb){util_hex_digit(c[1]) * 16 + util_hex_digit(c[2]),
                        util_hex_digit(c[3]) * 16 + util_hex_digit(c[4]),
                        util_hex_digit(c[5]) * 16 + util_hex_digit(c[6])};
}

/* Relative luminance (WCAG 2.1, "relative luminance"). */
static double luminance(struct rgb c)
{
    double v[3] = {c.r / 255.0, c.g / 255.0, c.b / 255.0};
    for (int i = 0; i < 3; i++) {
        v[i] = v[i] <= 0.03928 ? v[i] / 12.92 : pow((v[i] + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}

static double contrast(double l1, double l2)
{
    return l1 > l2 ? (l1 + 0.05) / (l2 + 0.05) : (l2 + 0.05) / (l1 + 0.05);
}

/* Of white and near-black, the text colour with more contrast on bg. */
static const char *text_on(struct rgb bg, const char *light, const char *dark)
{
    double l = luminance(bg);
    double with_white = contrast(l, luminance(parse_rgb("#ffffff")));
    double with_black = contrast(l, luminance(parse_rgb("#111418")));
    return with_white >= with_black ? light : dark;
}

/* The custom properties of one colour scheme. The accent (links, focus ring, check marks)
 * is the primary colour when it reads on the card's surface (4.5:1, WCAG 1.4.3), else the
 * text colour, so that a pale brand colour cannot make focus or links invisible. */
static int theme_vars(struct buf *b, const char *primary, const char *bg, const char *surface,
                      const char *text)
{
    struct rgb p = parse_rgb(primary);
    struct rgb g = parse_rgb(bg);
    bool reads = contrast(luminance(p), luminance(parse_rgb(surface))) >= 4.5;
    return buf_printf(b,
                      "--pt-primary:%s;--pt-on-primary:%s;--pt-primary-soft:rgba(%d,%d,%d,.14);"
                      "--pt-accent:%s;--pt-bg:%s;--pt-on-bg:%s;",
                      primary, text_on(p, "#ffffff", "#111418"), p.r, p.g, p.b,
                      reads ? primary : text, bg, text_on(g, "#c9ced6", "#4b5563"));
}

/* ---- assets ------------------------------------------------------------------------------ */

static void etag_of(const unsigned char *data, size_t len, char out[40])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16) {
        log_error("web: SHA-256 failed");
        abort();
    }
    char *o = out;
    *o++ = '"';
    for (int i = 0; i < 16; i++) {
        o += snprintf(o, 3, "%02x", md[i]);
    }
    *o++ = '"';
    *o = '\0';
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(types); i++) {
        size_t k = strlen(types[i].ext);
        if (n > k && strcmp(name + n - k, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* postern.css followed by the branding's colours (later rules win). */
static int build_css(struct web *w, const struct web_embedded *f, const struct web_branding *b,
                     struct web_asset *a)
{
    struct buf css;
    buf_init(&css, f->len + WEB_THEME_MAX);
    int rc = buf_append(&css, f->data, f->len);
    rc |= buf_append_z(&css, "\n/* Branding (web_branding). */\n:root{");
    rc |= theme_vars(&css, b->primary, b->background, WEB_SURFACE_LIGHT, WEB_TEXT_LIGHT);
    rc |= buf_append_z(&css, "}\n@media (prefers-color-scheme: dark){:root{");
    rc |= theme_vars(&css, b->primary_dark, b->background_dark, WEB_SURFACE_DARK, WEB_TEXT_DARK);
    rc |= buf_append_z(&css, "}}\n");
    if (rc != 0) {
        buf_free(&css);
        return -1;
    }
    w->css = (unsigned char *)buf_steal(&css, &a->len);
    a->data = w->css;
    return 0;
}

static int build_assets(struct web *w, const struct web_branding *b, struct err *e)
{
    for (size_t i = 0; i < web_embedded_nstatic; i++) {
        const struct web_embedded *f = &web_embedded_static[i];
        if (w->nassets >= WEB_MAX_ASSETS) {
            return err_set(e, 500, "web: too many static assets");
        }
        struct web_asset *a = &w->assets[w->nassets++];
        a->name = f->name;
        a->content_type = content_type(f->name);
        a->data = f->data;
        a->len = f->len;
        if (strcmp(f->name, "postern.css") == 0 && build_css(w, f, b, a) != 0) {
            return err_set(e, 500, "web: cannot build postern.css");
        }
        etag_of(a->data, a->len, a->etag);
        if (strcmp(f->name, "postern.css") == 0) {
            /* The ETag in the URL: a new branding or release is fetched at once despite
             * max-age. The handler ignores the query. */
            snprintf(w->css_url, sizeof w->css_url, "%spostern.css?v=%.8s", w->static_prefix,
                     a->etag + 1);
        }
    }
    return w->css_url[0] ? 0 : err_set(e, 500, "web: postern.css is not embedded");
}

/* ---- branding and templates ------------------------------------------------------------ */

static int check_branding(const struct web_branding *b, struct err *e)
{
    if (strlen(b->title) == 0 || strlen(b->title) > WEB_TITLE_MAX) {
        return err_set(e, 400, "branding: title must be 1 to %d bytes", WEB_TITLE_MAX);
    }
    const char *const colours[][2] = {{"primary", b->primary},
                                      {"background", b->background},
                                      {"primary_dark", b->primary_dark},
                                      {"background_dark", b->background_dark}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(colours); i++) {
        if (!web_colour_ok(colours[i][1])) {
            return err_set(e, 400, "branding: %s must be #rgb or #rrggbb", colours[i][0]);
        }
    }
    /* Images may come from 'self' or https: (the CSP img-src of every page). */
    if (!web_url_ok(b->logo_url) ||
        (b->logo_url[0] != '/' && strncasecmp(b->logo_url, "https://", 8) != 0)) {
        return err_set(e, 400,
                       "branding: logo_url must be a path starting with '/' or an "
                       "https:// URL");
    }
    return 0;
}

static int load_templates(struct web *w, struct err *e)
{
    w->tpls = web_tpls_new();
    for (size_t i = 0; i < web_embedded_ntemplates; i++) {
        const struct web_embedded *f = &web_embedded_templates[i];
        char name[WEB_NAME_MAX + 1];
        size_t n = strlen(f->name);
        if (n < 6 || n - 5 > WEB_NAME_MAX || strcmp(f->name + n - 5, ".html") != 0) {
            return err_set(e, 500, "web: template %s is not a .html file", f->name);
        }
        memcpy(name, f->name, n - 5);
        name[n - 5] = '\0';
        if (web_tpls_add(w->tpls, name, (struct slice){(const char *)f->data, f->len}, e) != 0) {
            return -1;
        }
    }
    return web_tpls_check(w->tpls, e);
}

struct web *web_new(const struct web_branding *b, struct err *e)
{
    struct web_branding br = defaults;
    if (b != NULL) {
        br.title = b->title ? b->title : br.title;
        br.logo_url = b->logo_url ? b->logo_url : br.logo_url;
        br.primary = b->primary ? b->primary : br.primary;
        br.background = b->background ? b->background : br.background;
        br.primary_dark = b->primary_dark ? b->primary_dark : br.primary_dark;
        br.background_dark = b->background_dark ? b->background_dark : br.background_dark;
    }
    struct web *w = xcalloc(1, sizeof *w);
    snprintf(w->static_prefix, sizeof w->static_prefix, "%s", WEB_STATIC_DEFAULT_PREFIX);
    if (check_branding(&br, e) != 0 || load_templates(w, e) != 0 || build_assets(w, &br, e) != 0) {
        web_free(w);
        return NULL;
    }
    snprintf(w->title, sizeof w->title, "%s", br.title);
    snprintf(w->logo_url, sizeof w->logo_url, "%s", br.logo_url);
    return w;
}

int web_set_static_prefix(struct web *w, const char *prefix_z)
{
    size_t n = strlen(prefix_z);
    if (n < 2 || n >= sizeof w->static_prefix || prefix_z[0] != '/' || prefix_z[n - 1] != '/' ||
        strspn(prefix_z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-") !=
            n) {
        return -1;
    }
    /* The default logo moves with the assets; a configured one stays where it is. */
    char old_logo[WEB_STATIC_PREFIX_MAX + 16];
    snprintf(old_logo, sizeof old_logo, "%slogo.svg", w->static_prefix);
    bool default_logo = strcmp(w->logo_url, old_logo) == 0;
    const char *q = strchr(w->css_url, '?');
    char css[sizeof w->css_url];
    snprintf(css, sizeof css, "%spostern.css%s", prefix_z, q ? q : "");
    snprintf(w->css_url, sizeof w->css_url, "%s", css);
    if (default_logo) {
        snprintf(w->logo_url, sizeof w->logo_url, "%slogo.svg", prefix_z);
    }
    snprintf(w->static_prefix, sizeof w->static_prefix, "%s", prefix_z);
    return 0;
}

void web_free(struct web *w)
{
    if (w == NULL) {
        return;
    }
    web_tpls_free(w->tpls);
    free(w->css);
    free(w);
}

int web_render(const struct web *w, const char *name_z, const struct web_vars *v, struct buf *out)
{
    struct err e = {0};
    if (web_tpls_render(w->tpls, name_z, v, out, &e) != 0) {
        log_warn("web: rendering %s: %s", name_z, e.msg);
        return -1;
    }
    return 0;
}
