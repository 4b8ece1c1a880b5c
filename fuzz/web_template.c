/* Fuzz target: the template parser and renderer (src/web). The input is a template "t",
 * optionally followed by a NUL and a second template "p" that t may include as {{>p}}.
 * Rendering uses values of every kind, including hostile strings, so that the escaping,
 * the URL rule and the render bounds are exercised together with the parser. */
#include <stdint.h>
#include <string.h>

#include "web/web.h"

#define FUZZ_OUT_CAP (64 * 1024)

static struct web_vars *values(void)
{
    struct web_vars *v = web_vars_new();
    web_set(v, "s", "\"><script>alert(1)</script>&'`=");
    web_set(v, "empty", "");
    web_set_bool(v, "t", true);
    web_set_bool(v, "f", false);
    web_set_url(v, "u", "/ok?a=1&b=2");
    web_set_url(v, "bad", "javascript:alert(1)");
    struct web_vars *o = web_child(v, "o");
    web_set(o, "name", "<obj>");
    web_set_url(web_child(o, "in"), "u", "https://ok.example/");
    for (int i = 0; i < 3; i++) {
        struct web_vars *it = web_list_add(v, "l");
        web_setf(it, "i", "%d", i);
        web_list_add(it, "l2");
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nul = memchr(d, '\0', size);
    size_t tlen = nul ? (size_t)(nul - d) : size;
    struct web_tpls *t = web_tpls_new();
    struct err e;
    int ok = web_tpls_add(t, "t", (struct slice){d, tlen}, &e) == 0;
    if (ok && nul != NULL) {
        web_tpls_add(t, "p", (struct slice){nul + 1, size - tlen - 1}, &e);
    }
    if (ok) {
        struct web_vars *v = values();
        struct buf out;
        buf_init(&out, FUZZ_OUT_CAP);
        /* Also without the check: the renderer bounds partials on its own. */
        web_tpls_render(t, "t", v, &out, &e);
        if (web_tpls_check(t, &e) == 0) {
            buf_reset(&out);
            web_tpls_render(t, "t", v, &out, &e);
        }
        buf_free(&out);
        web_vars_free(v);
    }
    web_tpls_free(t);
    return 0;
}
