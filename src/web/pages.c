/*
 * pages.c: one typed function per page. Each fills a scope from its struct (URLs through
 * web_set_url, everything else through web_set) and renders templates/<page>.html inside
 * the layout. Nothing here writes HTML by hand.
 */
#include "web/web_int.h"

#include <string.h>

int web_page_render(const struct web *w, const char *tpl_z, const char *page_title_z,
                    struct web_vars *v, struct buf *out)
{
    web_set(v, "page_title", page_title_z);
    web_set(v, "brand_title", w->title);
    web_set_url(v, "logo_url", w->logo_url);
    web_set_url(v, "css_url", w->css_url);
    int rc = web_render(w, tpl_z, v, out);
    web_vars_free(v);
    return rc;
}

static void hidden_fields(struct web_vars *v, const struct web_field *f, size_t n)
{
    for (size_t i = 0; f != NULL && i < n; i++) {
        struct web_vars *item = web_list_add(v, "fields");
        if (item == NULL) {
            return;
        }
        web_set(item, "name", f[i].name);
        web_set(item, "value", f[i].value);
    }
}

int web_page_login(const struct web *w, const struct web_login *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set_url(v, "action", p->action);
    web_set(v, "csrf_token", p->csrf_token);
    web_set(v, "next", p->next);
    web_set(v, "app_name", p->app_name);
    web_set(v, "username", p->username);
    web_set(v, "error", p->error);
    return web_page_render(w, "login", "Log in", v, out);
}

/* What a scope lets the application see, in words (OpenID Connect Core 1.0 section 5.4;
 * "groups" and "offline_access" as Postern grants them). */
static const char *scope_label(const char *scope)
{
    static const struct {
        const char *scope, *label;
    } labels[] = {
        {"openid", "Confirm your identity"},
        {"email", "See your email address"},
        {"profile", "See your name, username and groups"},
        {"groups", "See the groups you belong to"},
        {"offline_access", "Stay connected to your account while you are away"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(labels); i++) {
        if (strcmp(scope, labels[i].scope) == 0) {
            return labels[i].label;
        }
    }
    return NULL;
}

int web_page_consent(const struct web *w, const struct web_consent *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set_url(v, "action", p->action);
    web_set(v, "csrf_token", p->csrf_token);
    web_set(v, "app_name", p->app_name ? p->app_name : "the application");
    web_set(v, "user", p->user);
    for (size_t i = 0; p->scopes != NULL && i < p->nscopes; i++) {
        struct web_vars *item = web_list_add(v, "scopes");
        if (item == NULL) {
            break;
        }
        const char *label = scope_label(p->scopes[i]);
        if (label != NULL) {
            web_set(item, "label", label);
        } else {
            web_setf(item, "label", "Use the permission \xe2\x80\x9c%.200s\xe2\x80\x9d",
                     p->scopes[i]);
        }
    }
    hidden_fields(v, p->fields, p->nfields);
    return web_page_render(w, "consent", "Authorize application", v, out);
}

int web_page_error(const struct web *w, const struct web_error *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    const char *title = p->title ? p->title : "Something went wrong";
    web_setf(v, "status", "%d", p->status);
    web_set(v, "title", title);
    web_set(v, "message", p->message);
    web_set_url(v, "link_url", p->link_url);
    web_set(v, "link_text", p->link_text ? p->link_text : "Go back");
    return web_page_render(w, "error", title, v, out);
}

int web_page_logged_out(const struct web *w, const struct web_logged_out *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set_url(v, "login_url", p->login_url);
    web_set(v, "app_name", p->app_name);
    return web_page_render(w, "logged_out", "Logged out", v, out);
}

int web_page_idp_choice(const struct web *w, const struct web_idp_choice *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "app_name", p->app_name);
    for (size_t i = 0; p->idps != NULL && i < p->nidps; i++) {
        struct web_vars *item = web_list_add(v, "idps");
        if (item == NULL) {
            break;
        }
        web_set_url(item, "url", p->idps[i].url);
        web_set(item, "label", p->idps[i].label);
    }
    web_set_bool(v, "has_idps", p->idps != NULL && p->nidps > 0);
    return web_page_render(w, "idp_choice", "Sign in", v, out);
}

int web_page_access_denied(const struct web *w, const struct web_access_denied *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "app_name", p->app_name ? p->app_name : "this application");
    web_set(v, "email", p->email);
    web_set_url(v, "signout_url", p->signout_url);
    return web_page_render(w, "access_denied", "Access denied", v, out);
}

int web_page_message(const struct web *w, const struct web_message *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    const char *title = p->title ? p->title : "Postern";
    web_set(v, "title", title);
    web_set(v, "message", p->message);
    web_set_url(v, "link_url", p->link_url);
    web_set(v, "link_text", p->link_text ? p->link_text : "Continue");
    return web_page_render(w, "message", title, v, out);
}

int web_page_form_post(const struct web *w, const struct web_form_post *p, struct buf *out)
{
    struct web_vars *v = web_vars_new();
    web_set_url(v, "action", p->action);
    web_set(v, "app_name", p->app_name);
    hidden_fields(v, p->fields, p->nfields);
    return web_page_render(w, "form_post", "Continue signing in", v, out);
}
