/*
 * scope.c: the scope parameter (RFC 6749 3.3) and prompt (OIDC Core 3.1.2.1).
 */
#include "oidc/oidc.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"openid", OIDC_SCOPE_OPENID},
    {"email", OIDC_SCOPE_EMAIL},
    {"profile", OIDC_SCOPE_PROFILE},
    {"offline_access", OIDC_SCOPE_OFFLINE},
};

/* NQCHAR = %x21 / %x23-5B / %x5D-7E */
static bool nqchar(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int oidc_scope_parse(struct slice s, unsigned *mask, size_t *unknown)
{
    *mask = 0;
    *unknown = 0;
    if (s.n == 0 || s.n > OIDC_SCOPE_MAX) {
        return -1;
    }
    size_t i = 0;
    while (i < s.n) {
        size_t start = i;
        while (i < s.n && s.p[i] != ' ') {
            if (!nqchar((unsigned char)s.p[i])) {
                return -1;
            }
            i++;
        }
        struct slice tok = {s.p + start, i - start};
        if (tok.n == 0) {
            return -1; /* leading, trailing or doubled space */
        }
        bool known = false;
        for (size_t k = 0; k < UTIL_ARRAY_LEN(scope_names); k++) {
            if (slice_eq_z(tok, scope_names[k].name)) {
                *mask |= scope_names[k].bit;
                known = true;
            }
        }
        if (!known) {
            (*unknown)++;
        }
        if (i < s.n) {
            i++; /* the separating space */
            if (i == s.n) {
                return -1;
            }
        }
    }
    return 0;
}

int oidc_scope_format(unsigned mask, struct buf *out)
{
    bool first = true;
    for (size_t k = 0; k < UTIL_ARRAY_LEN(scope_names); k++) {
        if ((mask & scope_names[k].bit) == 0) {
            continue;
        }
        if ((!first && buf_append_c(out, ' ') != 0) ||
            buf_append_z(out, scope_names[k].name) != 0) {
            return -1;
        }
        first = false;
    }
    return 0;
}

size_t oidc_scope_names(unsigned mask, const char *names[4])
{
    size_t n = 0;
    for (size_t k = 0; k < UTIL_ARRAY_LEN(scope_names); k++) {
        if (mask & scope_names[k].bit) {
            names[n++] = scope_names[k].name;
        }
    }
    return n;
}

int oidc_prompt_parse(const char *z, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } prompts[] = {
        {"none", OIDC_PROMPT_NONE},
        {"login", OIDC_PROMPT_LOGIN},
        {"consent", OIDC_PROMPT_CONSENT},
        {"select_account", OIDC_PROMPT_SELECT_ACCOUNT},
    };
    *out = 0;
    if (z == NULL) {
        return 0;
    }
    struct slice s = slice_z(z);
    size_t i = 0;
    while (i < s.n) {
        while (i < s.n && s.p[i] == ' ') {
            i++;
        }
        size_t start = i;
        while (i < s.n && s.p[i] != ' ') {
            i++;
        }
        struct slice tok = {s.p + start, i - start};
        if (tok.n == 0) {
            break;
        }
        unsigned bit = 0;
        for (size_t k = 0; k < UTIL_ARRAY_LEN(prompts); k++) {
            if (slice_eq_z(tok, prompts[k].name)) {
                bit = prompts[k].bit;
            }
        }
        if (bit == 0 || (*out & bit) != 0) {
            return -1;
        }
        *out |= bit;
    }
    /* 3.1.2.1: "none" MUST NOT be combined with any other value. */
    if ((*out & OIDC_PROMPT_NONE) && *out != OIDC_PROMPT_NONE) {
        return -1;
    }
    return 0;
}
