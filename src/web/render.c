/*
 * render.c: walks the nodes of a parsed template with a stack of scopes. Every value goes
 * out through web_escape; in a URL context only a web_set_url value that still passes
 * web_url_ok is written, anything else becomes "#". Time is bounded by WEB_TPL_MAX_STEPS,
 * memory by the output buffer's cap.
 */
#include "web/web_int.h"

#include <string.h>

#define WEB_SCOPE_STACK (WEB_TPL_MAX_NESTING * (WEB_TPL_MAX_PARTIALS + 1) + 1)

struct render {
    const struct web_tpls *set;
    struct buf *out;
    const struct web_vars *stack[WEB_SCOPE_STACK];
    size_t depth;
    size_t steps;
    int partials;
    struct err *e;
};

/* "a.b.c": a from the innermost scope outwards, then b inside a, c inside b. */
static const struct web_value *lookup(const struct render *r, struct slice name)
{
    const char *dot = memchr(name.p, '.', name.n);
    struct slice seg = {name.p, dot ? (size_t)(dot - name.p) : name.n};
    const struct web_value *x = NULL;
    for (size_t i = r->depth; i > 0 && x == NULL; i--) {
        x = web_vars_get(r->stack[i - 1], seg);
    }
    while (x != NULL && dot != NULL) {
        if (x->kind != WEB_V_OBJ || x->n != 1) {
            return NULL;
        }
        const char *rest = dot + 1;
        size_t left = name.n - (size_t)(rest - name.p);
        dot = memchr(rest, '.', left);
        seg = (struct slice){rest, dot ? (size_t)(dot - rest) : left};
        x = web_vars_get(x->items[0], seg);
    }
    return x;
}

static bool truthy(const struct web_value *x)
{
    if (x == NULL) {
        return false;
    }
    switch (x->kind) {
    case WEB_V_STR:
    case WEB_V_URL:
        return x->len > 0;
    case WEB_V_BOOL:
        return x->b;
    case WEB_V_LIST:
        return x->n > 0;
    case WEB_V_OBJ:
        return true;
    }
    return false;
}

static int out_full(struct render *r)
{
    return err_set(r->e, 500, "page larger than its buffer");
}

static int var(struct render *r, const struct tpl_node *n, const struct web_value *x)
{
    if (n->ctx == TPL_CTX_URL) {
        if (x == NULL || x->kind != WEB_V_URL || !web_url_ok(x->str)) {
            return buf_append_c(r->out, '#') == 0 ? 0 : out_full(r);
        }
    }
    if (x == NULL || (x->kind != WEB_V_STR && x->kind != WEB_V_URL)) {
        return 0;
    }
    return web_escape((struct slice){x->str, x->len}, r->out) == 0 ? 0 : out_full(r);
}

static int render_tpl(struct render *r, const struct tpl *tp);

static int range(struct render *r, const struct tpl *tp, size_t from, size_t to);

static int push(struct render *r, const struct web_vars *scope)
{
    if (r->depth >= WEB_SCOPE_STACK) {
        return err_set(r->e, 500, "%s: scopes nested too deep", "render");
    }
    r->stack[r->depth++] = scope;
    return 0;
}

static int section(struct render *r, const struct tpl *tp, size_t i, const struct web_value *x)
{
    const struct tpl_node *n = &tp->nodes[i];
    bool t = truthy(x);
    if (n->op == TPL_INVERTED || !t) {
        return n->op == TPL_INVERTED && !t ? range(r, tp, i + 1, n->end) : 0;
    }
    if (x->kind != WEB_V_LIST && x->kind != WEB_V_OBJ) {
        return range(r, tp, i + 1, n->end);
    }
    for (size_t k = 0; k < x->n; k++) {
        if (push(r, x->items[k]) != 0) {
            return -1;
        }
        int rc = range(r, tp, i + 1, n->end);
        r->depth--;
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int range(struct render *r, const struct tpl *tp, size_t from, size_t to)
{
    size_t i = from;
    while (i < to) {
        if (++r->steps > WEB_TPL_MAX_STEPS) {
            return err_set(r->e, 500, "%s: too many render steps", tp->name);
        }
        const struct tpl_node *n = &tp->nodes[i];
        struct slice name = {tp->src + n->off, n->len};
        int rc = 0;
        switch (n->op) {
        case TPL_TEXT:
            rc = buf_append(r->out, name.p, name.n) == 0 ? 0 : out_full(r);
            break;
        case TPL_VAR:
            rc = var(r, n, lookup(r, name));
            break;
        case TPL_SECTION:
        case TPL_INVERTED:
            rc = section(r, tp, i, lookup(r, name));
            i = n->end;
            if (rc != 0) {
                return -1;
            }
            continue;
        case TPL_PARTIAL: {
            const struct tpl *p = web_tpls_find(r->set, name);
            if (p == NULL) {
                return err_set(r->e, 500, "%s: unknown partial '%.*s'", tp->name, (int)name.n,
                               name.p);
            }
            rc = render_tpl(r, p);
            break;
        }
        }
        if (rc != 0) {
            return -1;
        }
        i++;
    }
    return 0;
}

static int render_tpl(struct render *r, const struct tpl *tp)
{
    if (r->partials > WEB_TPL_MAX_PARTIALS) {
        return err_set(r->e, 500, "%s: partials nested too deep", tp->name);
    }
    r->partials++;
    int rc = range(r, tp, 0, tp->n);
    r->partials--;
    return rc;
}

int web_tpls_render(const struct web_tpls *t, const char *name_z, const struct web_vars *v,
                    struct buf *out, struct err *e)
{
    const struct tpl *tp = web_tpls_find(t, slice_z(name_z));
    if (tp == NULL) {
        return err_set(e, 500, "unknown template '%s'", name_z);
    }
    struct render r = {.set = t, .out = out, .e = e};
    if (v != NULL) {
        r.stack[r.depth++] = v;
    }
    return render_tpl(&r, tp);
}
