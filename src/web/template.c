/*
 * template.c: the template parser. It splits a template into text runs and tags, and runs
 * a small HTML tokenizer (a subset of the WHATWG "tokenization" states: data, tag open, tag
 * name, attribute name, before/inside attribute value, comment, declaration) over the
 * literal text, so that every {{name}} gets a context (text, attribute, URL) fixed at start,
 * and a template that would put a value where escaping is not enough is refused.
 * The rules are listed in web.h.
 */
#include "web/web_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTML_TAG_MAX  15
#define HTML_ATTR_MAX 31

enum hs {
    HS_DATA,
    HS_TAG_OPEN,     /* after '<' */
    HS_END_TAG_OPEN, /* after "</" */
    HS_TAG_NAME,
    HS_IN_TAG, /* before an attribute name */
    HS_ATTR_NAME,
    HS_AFTER_ATTR_NAME,
    HS_BEFORE_VALUE, /* after '=' */
    HS_VALUE_DQ,
    HS_VALUE_SQ,
    HS_VALUE_UQ,
    HS_MARKUP,      /* after "<!" */
    HS_MARKUP_DASH, /* after "<!-" */
    HS_COMMENT,
    HS_DECL, /* <!doctype ...> */
};

struct html {
    enum hs s;
    char tag[HTML_TAG_MAX + 1]; /* lower case */
    size_t taglen;
    bool end_tag;
    char attr[HTML_ATTR_MAX + 1];
    size_t attrlen;
    bool value_start; /* nothing yet inside the quoted value */
    bool value_qf;    /* a literal '?' or '#' seen in the value: the query or fragment */
    int dashes;       /* in a comment: '-' seen in a row */
};

/* Tags whose content is not HTML, or that script, embed or re-base a page. */
static const char *const banned_tags[] = {
    "script",  "style",    "iframe",  "frame",     "frameset", "object",
    "embed",   "applet",   "base",    "svg",       "math",     "xmp",
    "noembed", "noframes", "listing", "plaintext", "template", "noscript",
};

/* Attributes whose value is a URL: a value may only start it (THE URL RULE). */
static const char *const url_attrs[] = {
    "href",   "src",      "action",   "formaction", "cite",       "poster",  "background",
    "data",   "codebase", "manifest", "icon",       "longdesc",   "profile", "usemap",
    "lowsrc", "dynsrc",   "classid",  "archive",    "xlink:href",
};

/* Attributes that hold several URLs or a refresh: no value at all. */
static const char *const novalue_attrs[] = {"srcset", "imagesrcset", "ping", "content"};

static bool in_list(const char *z, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(z, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(unsigned char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* ---- the HTML tokenizer over literal text ---------------------------------------------- */

/* Called when a tag name is complete. */
static const char *end_tag_name(struct html *h)
{
    h->tag[h->taglen] = '\0';
    if (!h->end_tag && in_list(h->tag, banned_tags, UTIL_ARRAY_LEN(banned_tags))) {
        return "this tag is not allowed in a page (no script, inline style or embedding)";
    }
    return NULL;
}

/* Called when an attribute name is complete. */
static const char *end_attr_name(struct html *h)
{
    h->attr[h->attrlen] = '\0';
    if (h->attr[0] == 'o' && h->attr[1] == 'n') {
        return "event handler attributes are not allowed (no JavaScript)";
    }
    if (strcmp(h->attr, "style") == 0 || strcmp(h->attr, "srcdoc") == 0) {
        return "style= and srcdoc= are not allowed (CSP style-src 'self')";
    }
    return NULL;
}

static const char *tag_char(struct html *h, unsigned char c)
{
    const char *bad = NULL;
    switch (h->s) {
    case HS_TAG_NAME:
        if (is_alpha(c) || (c >= '0' && c <= '9') || c == '-') {
            if (h->taglen >= HTML_TAG_MAX) {
                return "tag name too long";
            }
            h->tag[h->taglen++] = lower(c);
            return NULL;
        }
        if (!is_ws(c) && c != '/' && c != '>') {
            return "bad character in a tag name";
        }
        bad = end_tag_name(h);
        h->s = c == '>' ? HS_DATA : HS_IN_TAG;
        return bad;
    case HS_IN_TAG:
    case HS_AFTER_ATTR_NAME:
        if (is_ws(c) || c == '/') {
            return NULL;
        }
        if (c == '>') {
            h->s = HS_DATA;
            return NULL;
        }
        if (c == '=') {
            if (h->s == HS_IN_TAG) {
                return "'=' without an attribute name";
            }
            h->s = HS_BEFORE_VALUE;
            return NULL;
        }
        if (c == '"' || c == '\'' || c == '<' || c == '`') {
            return "bad character inside a tag";
        }
        h->attrlen = 0;
        h->attr[h->attrlen++] = lower(c);
        h->s = HS_ATTR_NAME;
        return NULL;
    case HS_ATTR_NAME:
        if (is_ws(c) || c == '/' || c == '>' || c == '=') {
            bad = end_attr_name(h);
            h->s = c == '>'   ? HS_DATA
                   : c == '=' ? HS_BEFORE_VALUE
                   : c == '/' ? HS_IN_TAG
                              : HS_AFTER_ATTR_NAME;
            return bad;
        }
        if (c == '"' || c == '\'' || c == '<' || c == '`') {
            return "bad character in an attribute name";
        }
        if (h->attrlen >= HTML_ATTR_MAX) {
            return "attribute name too long";
        }
        h->attr[h->attrlen++] = lower(c);
        return NULL;
    default:
        return "internal: not in a tag";
    }
}

static const char *html_char(struct html *h, unsigned char c)
{
    switch (h->s) {
    case HS_DATA:
        if (c == '<') {
            h->s = HS_TAG_OPEN;
        }
        return NULL;
    case HS_TAG_OPEN:
        if (is_alpha(c)) {
            h->end_tag = false;
            h->taglen = 0;
            h->tag[h->taglen++] = lower(c);
            h->s = HS_TAG_NAME;
        } else if (c == '/') {
            h->s = HS_END_TAG_OPEN;
        } else if (c == '!') {
            h->s = HS_MARKUP;
        } else {
            h->s = HS_DATA; /* a lone '<' is text */
            return html_char(h, c);
        }
        return NULL;
    case HS_END_TAG_OPEN:
        if (!is_alpha(c)) {
            return "bad end tag";
        }
        h->end_tag = true;
        h->taglen = 0;
        h->tag[h->taglen++] = lower(c);
        h->s = HS_TAG_NAME;
        return NULL;
    case HS_TAG_NAME:
    case HS_IN_TAG:
    case HS_ATTR_NAME:
    case HS_AFTER_ATTR_NAME:
        return tag_char(h, c);
    case HS_BEFORE_VALUE:
        if (is_ws(c)) {
            return NULL;
        }
        if (c == '>') {
            return "attribute value missing after '='";
        }
        h->value_start = true;
        h->value_qf = false;
        if (c == '"' || c == '\'') {
            h->s = c == '"' ? HS_VALUE_DQ : HS_VALUE_SQ;
            return NULL;
        }
        h->s = HS_VALUE_UQ;
        return html_char(h, c);
    case HS_VALUE_DQ:
    case HS_VALUE_SQ:
        if (c == (h->s == HS_VALUE_DQ ? '"' : '\'')) {
            h->s = HS_IN_TAG;
            return NULL;
        }
        h->value_start = false;
        if (c == '?' || c == '#') {
            h->value_qf = true;
        }
        return NULL;
    case HS_VALUE_UQ:
        if (is_ws(c)) {
            h->s = HS_IN_TAG;
        } else if (c == '>') {
            h->s = HS_DATA;
        } else if (c == '"' || c == '\'' || c == '<' || c == '=' || c == '`') {
            return "bad character in an unquoted attribute value";
        }
        return NULL;
    case HS_MARKUP:
        h->s = c == '-' ? HS_MARKUP_DASH : HS_DECL;
        return h->s == HS_DECL ? html_char(h, c) : NULL;
    case HS_MARKUP_DASH:
        if (c != '-') {
            return "bad comment start";
        }
        h->s = HS_COMMENT;
        h->dashes = 0;
        return NULL;
    case HS_COMMENT:
        if (c == '>' && h->dashes >= 2) {
            h->s = HS_DATA;
        }
        h->dashes = c == '-' ? h->dashes + 1 : 0;
        return NULL;
    case HS_DECL:
        if (c == '>') {
            h->s = HS_DATA;
        }
        return NULL;
    }
    return "internal: bad state";
}

/* A section boundary ends an attribute name: "<input {{#a}}required{{/a}}>". */
static const char *html_boundary(struct html *h)
{
    if (h->s == HS_ATTR_NAME || h->s == HS_AFTER_ATTR_NAME) {
        const char *bad = h->s == HS_ATTR_NAME ? end_attr_name(h) : NULL;
        h->s = HS_IN_TAG;
        return bad;
    }
    return NULL;
}

/* Two states in which the same literal text would be read the same way. */
static bool html_same(const struct html *a, const struct html *b)
{
    if (a->s != b->s) {
        return false;
    }
    if (a->s == HS_DATA) {
        return true;
    }
    if (strcmp(a->tag, b->tag) != 0 || a->end_tag != b->end_tag) {
        return false;
    }
    if (a->s == HS_VALUE_DQ || a->s == HS_VALUE_SQ) {
        return strcmp(a->attr, b->attr) == 0 && a->value_start == b->value_start &&
               a->value_qf == b->value_qf;
    }
    return true;
}

/* The context of a {{name}} in state h, or NULL and *why. */
static bool var_context(struct html *h, enum tpl_ctx *ctx, const char **why)
{
    if (h->s == HS_DATA) {
        *ctx = TPL_CTX_TEXT;
        return true;
    }
    if (h->s != HS_VALUE_DQ && h->s != HS_VALUE_SQ) {
        *why = h->s == HS_COMMENT ? "a value inside a comment"
               : (h->s == HS_VALUE_UQ || h->s == HS_BEFORE_VALUE)
                   ? "a value in an unquoted attribute value"
                   : "a value inside a tag, outside a quoted attribute value";
        return false;
    }
    if (strcmp(h->tag, "meta") == 0 ||
        in_list(h->attr, novalue_attrs, UTIL_ARRAY_LEN(novalue_attrs))) {
        *why = "a value in <meta> or in a srcset/ping/content attribute";
        return false;
    }
    if (in_list(h->attr, url_attrs, UTIL_ARRAY_LEN(url_attrs))) {
        if (h->value_start) {
            *ctx = TPL_CTX_URL;
        } else if (h->value_qf) {
            *ctx = TPL_CTX_ATTR;
        } else {
            *why = "a value inside a URL attribute must start it (the URL rule) or follow "
                   "a literal '?' or '#'";
            return false;
        }
    } else {
        *ctx = TPL_CTX_ATTR;
    }
    h->value_start = false;
    return true;
}

/* ---- the parser -------------------------------------------------------------------------- */

struct open_section {
    size_t node;
    struct slice name;
    struct html at_open;
};

struct parser {
    struct tpl *t;
    size_t nodes_alloc;
    struct html h;
    struct open_section stack[WEB_TPL_MAX_NESTING];
    size_t depth;
    size_t pos; /* where the current tag starts, for messages */
    struct err *e;
};

static int perr(struct parser *p, const char *msg, struct slice name)
{
    int line = 1;
    for (size_t i = 0; i < p->pos && i < p->t->srclen; i++) {
        line += p->t->src[i] == '\n';
    }
    if (name.n > 0) {
        return err_set(p->e, 500, "%s:%d: %s '%.*s'", p->t->name, line, msg,
                       (int)UTIL_MIN(name.n, WEB_NAME_MAX), name.p);
    }
    return err_set(p->e, 500, "%s:%d: %s", p->t->name, line, msg);
}

static struct tpl_node *add_node(struct parser *p, enum tpl_op op, size_t off, size_t len)
{
    struct tpl *t = p->t;
    if (t->n >= WEB_TPL_MAX_NODES) {
        return NULL;
    }
    if (t->n == p->nodes_alloc) {
        p->nodes_alloc = p->nodes_alloc ? p->nodes_alloc * 2 : 64;
        t->nodes = xrealloc(t->nodes, p->nodes_alloc * sizeof *t->nodes);
    }
    struct tpl_node *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->off = (uint32_t)off;
    n->len = (uint32_t)len;
    return n;
}

static int text(struct parser *p, size_t off, size_t len)
{
    if (len == 0) {
        return 0;
    }
    for (size_t i = off; i < off + len; i++) {
        const char *bad = html_char(&p->h, (unsigned char)p->t->src[i]);
        if (bad != NULL) {
            p->pos = i;
            return perr(p, bad, (struct slice){0});
        }
    }
    if (add_node(p, TPL_TEXT, off, len) == NULL) {
        return perr(p, "too many nodes", (struct slice){0});
    }
    return 0;
}

/* A dotted name: segments of web_name_ok joined by '.'. */
static bool dotted_ok(struct slice s, bool allow_dots)
{
    if (s.n == 0 || s.n > WEB_NAME_MAX) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i == s.n || s.p[i] == '.') {
            if (i < s.n && !allow_dots) {
                return false;
            }
            if (!web_name_ok((struct slice){s.p + start, i - start})) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

static int open_section(struct parser *p, enum tpl_op op, struct slice name, size_t off)
{
    if (!dotted_ok(name, true)) {
        return perr(p, "bad section name", name);
    }
    if (p->depth >= WEB_TPL_MAX_NESTING) {
        return perr(p, "sections nested too deep", name);
    }
    if (p->h.s != HS_DATA && p->h.s != HS_IN_TAG && p->h.s != HS_VALUE_DQ &&
        p->h.s != HS_VALUE_SQ) {
        return perr(p, "a section here would split a tag name, value or comment", name);
    }
    if (add_node(p, op, off, name.n) == NULL) {
        return perr(p, "too many nodes", name);
    }
    p->stack[p->depth++] = (struct open_section){p->t->n - 1, name, p->h};
    return 0;
}

static int close_section(struct parser *p, struct slice name)
{
    if (p->depth == 0) {
        return perr(p, "closing a section that is not open", name);
    }
    struct open_section *o = &p->stack[p->depth - 1];
    if (!slice_eq(o->name, name)) {
        return perr(p, "mismatched section close, expected", o->name);
    }
    if (!html_same(&o->at_open, &p->h)) {
        return perr(p, "the section leaves the HTML in another context than it found it", name);
    }
    p->t->nodes[o->node].end = (uint32_t)p->t->n;
    p->depth--;
    return 0;
}

/* One {{...}} tag whose content is src[off..off+len). */
static int tag(struct parser *p, size_t off, size_t len)
{
    const char *s = p->t->src + off;
    char sigil = len > 0 ? s[0] : '\0';
    if (sigil == '!') {
        return 0; /* a comment */
    }
    bool has_sigil = sigil == '#' || sigil == '^' || sigil == '/' || sigil == '>';
    struct slice name = slice_trim_ows((struct slice){s + has_sigil, len - has_sigil});
    size_t name_off = (size_t)(name.p - p->t->src);
    const char *bad = NULL;
    if (sigil == '#' || sigil == '^' || sigil == '/') {
        bad = html_boundary(&p->h);
    }
    if (bad != NULL) {
        return perr(p, bad, (struct slice){0});
    }
    switch (sigil) {
    case '#':
        return open_section(p, TPL_SECTION, name, name_off);
    case '^':
        return open_section(p, TPL_INVERTED, name, name_off);
    case '/':
        return close_section(p, name);
    case '>':
        if (!dotted_ok(name, false)) {
            return perr(p, "bad partial name", name);
        }
        if (p->h.s != HS_DATA) {
            return perr(p, "a partial may only stand between tags", name);
        }
        return add_node(p, TPL_PARTIAL, name_off, name.n) ? 0 : perr(p, "too many nodes", name);
    default:
        break;
    }
    if (!dotted_ok(name, true)) {
        return perr(p, "bad variable name (there is no unescaped output)", name);
    }
    enum tpl_ctx ctx;
    if (!var_context(&p->h, &ctx, &bad)) {
        return perr(p, bad, name);
    }
    struct tpl_node *n = add_node(p, TPL_VAR, name_off, name.n);
    if (n == NULL) {
        return perr(p, "too many nodes", name);
    }
    n->ctx = ctx;
    return 0;
}

static int parse(struct parser *p)
{
    const char *src = p->t->src;
    size_t n = p->t->srclen;
    size_t i = 0;
    while (i < n) {
        const char *open = memmem(src + i, n - i, "{{", 2);
        size_t text_end = open ? (size_t)(open - src) : n;
        if (text(p, i, text_end - i) != 0) {
            return -1;
        }
        if (open == NULL) {
            break;
        }
        p->pos = text_end;
        const char *close = memmem(open + 2, n - text_end - 2, "}}", 2);
        if (close == NULL) {
            return perr(p, "'{{' without '}}'", (struct slice){0});
        }
        if (tag(p, text_end + 2, (size_t)(close - open) - 2) != 0) {
            return -1;
        }
        i = (size_t)(close - src) + 2;
    }
    p->pos = n;
    if (p->depth > 0) {
        return perr(p, "unclosed section", p->stack[p->depth - 1].name);
    }
    if (p->h.s != HS_DATA) {
        return perr(p, "the template ends inside a tag or comment", (struct slice){0});
    }
    return 0;
}

/* ---- template sets ----------------------------------------------------------------------- */

struct web_tpls *web_tpls_new(void)
{
    return xcalloc(1, sizeof(struct web_tpls));
}

static void tpl_clear(struct tpl *t)
{
    free(t->src);
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

void web_tpls_free(struct web_tpls *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        tpl_clear(&t->t[i]);
    }
    free(t->t);
    free(t);
}

const struct tpl *web_tpls_find(const struct web_tpls *t, struct slice name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (slice_eq_z(name, t->t[i].name)) {
            return &t->t[i];
        }
    }
    return NULL;
}

int web_tpls_add(struct web_tpls *t, const char *name_z, struct slice text_s, struct err *e)
{
    struct slice name = slice_z(name_z);
    if (!web_name_ok(name)) {
        return err_set(e, 500, "bad template name");
    }
    if (web_tpls_find(t, name) != NULL) {
        return err_set(e, 500, "%s: defined twice", name_z);
    }
    if (t->n >= WEB_TPL_MAX_TEMPLATES) {
        return err_set(e, 500, "%s: too many templates", name_z);
    }
    if (text_s.n > WEB_TPL_MAX_BYTES) {
        return err_set(e, 500, "%s: template too large", name_z);
    }
    if (memchr(text_s.p, '\0', text_s.n) != NULL) {
        return err_set(e, 500, "%s: NUL byte in a template", name_z);
    }
    struct tpl nt = {0};
    memcpy(nt.name, name.p, name.n);
    nt.src = xmalloc(text_s.n + 1);
    memcpy(nt.src, text_s.p, text_s.n);
    nt.src[text_s.n] = '\0';
    nt.srclen = text_s.n;
    struct parser p = {.t = &nt, .h = {.s = HS_DATA}, .e = e};
    if (parse(&p) != 0) {
        tpl_clear(&nt);
        return -1;
    }
    t->t = xrealloc(t->t, (t->n + 1) * sizeof *t->t);
    t->t[t->n++] = nt;
    return 0;
}

/* Depth of the chain of partials below template i (memoised; 'visiting' finds cycles). */
static int partial_depth(const struct web_tpls *t, size_t i, int *memo, struct err *e)
{
    if (memo[i] == -2) {
        return err_set(e, 500, "%s: partials include each other", t->t[i].name);
    }
    if (memo[i] >= 0) {
        return memo[i];
    }
    memo[i] = -2;
    int depth = 0;
    const struct tpl *tp = &t->t[i];
    for (size_t k = 0; k < tp->n; k++) {
        const struct tpl_node *n = &tp->nodes[k];
        if (n->op != TPL_PARTIAL) {
            continue;
        }
        struct slice pname = {tp->src + n->off, n->len};
        const struct tpl *target = web_tpls_find(t, pname);
        if (target == NULL) {
            return err_set(e, 500, "%s: unknown partial '%.*s'", tp->name, (int)pname.n, pname.p);
        }
        int d = partial_depth(t, (size_t)(target - t->t), memo, e);
        if (d < 0) {
            return -1;
        }
        depth = d + 1 > depth ? d + 1 : depth;
    }
    if (depth > WEB_TPL_MAX_PARTIALS) {
        return err_set(e, 500, "%s: partials nested deeper than %d", tp->name,
                       WEB_TPL_MAX_PARTIALS);
    }
    memo[i] = depth;
    return depth;
}

int web_tpls_check(const struct web_tpls *t, struct err *e)
{
    int memo[WEB_TPL_MAX_TEMPLATES];
    for (size_t i = 0; i < t->n; i++) {
        memo[i] = -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (partial_depth(t, i, memo, e) < 0) {
            return -1;
        }
    }
    return 0;
}
