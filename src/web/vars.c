/*
 * vars.c: the values a template reads. A scope is a small array of named values (pages
 * set a dozen); a list is an array of child scopes; an object is a list of one.
 * Everything is copied in and owned by the scope, freed by web_vars_free.
 */
#include "web/web_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEB_VARS_MIN_ALLOC 8
#define WEB_SETF_MAX       256 /* web_setf is for numbers and short labels */

struct web_vars *web_vars_new(void)
{
    return xcalloc(1, sizeof(struct web_vars));
}

static void value_clear(struct web_value *x)
{
    free(x->str);
    x->str = NULL;
    x->len = 0;
    for (size_t i = 0; i < x->n; i++) {
        web_vars_free(x->items[i]);
    }
    free(x->items);
    x->items = NULL;
    x->n = 0;
    x->alloc = 0;
    x->b = false;
}

void web_vars_free(struct web_vars *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        value_clear(&v->v[i]);
    }
    free(v->v);
    free(v);
}

/* One segment of a name: what web_set accepts and what the template parser accepts
 * between dots. */
bool web_name_ok(struct slice s)
{
    if (s.n == 0 || s.n > WEB_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

const struct web_value *web_vars_get(const struct web_vars *v, struct slice name)
{
    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (slice_eq_z(name, v->v[i].name)) {
            return &v->v[i];
        }
    }
    return NULL;
}

/* The slot for name: the existing value (cleared) or a new one. NULL on a bad name or a
 * full scope. */
static struct web_value *slot(struct web_vars *v, const char *name_z)
{
    struct slice name = slice_z(name_z);
    if (v == NULL || !web_name_ok(name)) {
        return NULL;
    }
    struct web_value *x = (struct web_value *)web_vars_get(v, name);
    if (x != NULL) {
        value_clear(x);
        return x;
    }
    if (v->n >= WEB_VARS_MAX) {
        return NULL;
    }
    if (v->n == v->alloc) {
        v->alloc = v->alloc ? v->alloc * 2 : WEB_VARS_MIN_ALLOC;
        v->v = xrealloc(v->v, v->alloc * sizeof *v->v);
    }
    x = &v->v[v->n++];
    memset(x, 0, sizeof *x);
    memcpy(x->name, name.p, name.n);
    x->name[name.n] = '\0';
    return x;
}

static void unset(struct web_vars *v, const char *name_z)
{
    struct web_value *x = v ? (struct web_value *)web_vars_get(v, slice_z(name_z)) : NULL;
    if (x == NULL) {
        return;
    }
    value_clear(x);
    size_t i = (size_t)(x - v->v);
    memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof *v->v);
    v->n--;
}

static int set_str(struct web_vars *v, const char *name_z, const char *value_z, size_t max,
                   enum web_kind kind)
{
    size_t n = strlen(value_z);
    if (n > max) {
        unset(v, name_z);
        return -1;
    }
    struct web_value *x = slot(v, name_z);
    if (x == NULL) {
        return -1;
    }
    x->kind = kind;
    x->str = xstrndup(value_z, n);
    x->len = n;
    return 0;
}

int web_set(struct web_vars *v, const char *name_z, const char *value_z)
{
    if (value_z == NULL) {
        if (!web_name_ok(slice_z(name_z))) {
            return -1;
        }
        unset(v, name_z);
        return 0;
    }
    return set_str(v, name_z, value_z, WEB_VALUE_MAX, WEB_V_STR);
}

int web_setf(struct web_vars *v, const char *name_z, const char *fmt, ...)
{
    char tmp[WEB_SETF_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return -1;
    }
    return web_set(v, name_z, tmp);
}

int web_set_bool(struct web_vars *v, const char *name_z, bool b)
{
    struct web_value *x = slot(v, name_z);
    if (x == NULL) {
        return -1;
    }
    x->kind = WEB_V_BOOL;
    x->b = b;
    return 0;
}

int web_set_url(struct web_vars *v, const char *name_z, const char *url_z)
{
    if (url_z == NULL) {
        return web_set(v, name_z, NULL);
    }
    if (!web_url_ok(url_z)) {
        set_str(v, name_z, "#", WEB_URL_MAX, WEB_V_URL);
        return -1;
    }
    return set_str(v, name_z, url_z, WEB_URL_MAX, WEB_V_URL);
}

/* Appends a child scope to the LIST or OBJ value `name`, creating it as `kind`. */
static struct web_vars *add_item(struct web_vars *v, const char *name_z, enum web_kind kind)
{
    struct web_value *x = v ? (struct web_value *)web_vars_get(v, slice_z(name_z)) : NULL;
    if (x == NULL) {
        x = slot(v, name_z);
        if (x == NULL) {
            return NULL;
        }
        x->kind = kind;
    } else if (x->kind != kind) {
        return NULL;
    }
    if (kind == WEB_V_OBJ && x->n == 1) {
        return x->items[0];
    }
    if (x->n >= WEB_LIST_MAX) {
        return NULL;
    }
    if (x->n == x->alloc) {
        x->alloc = x->alloc ? x->alloc * 2 : WEB_VARS_MIN_ALLOC;
        x->items = xrealloc(x->items, x->alloc * sizeof *x->items);
    }
    x->items[x->n] = web_vars_new();
    return x->items[x->n++];
}

struct web_vars *web_list_add(struct web_vars *v, const char *name_z)
{
    return add_item(v, name_z, WEB_V_LIST);
}

struct web_vars *web_child(struct web_vars *v, const char *name_z)
{
    return add_item(v, name_z, WEB_V_OBJ);
}
