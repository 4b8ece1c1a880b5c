/*
 * redirect.c: `next`, the one place where the login flow sends a browser after a form, and
 * the login URL that carries it.
 *
 * An open redirect lets a phishing link start on our trusted origin (CWE-601). `next` may
 * only be a relative reference that every browser resolves on our own origin. The rules are
 * written against what browsers do with a Location header (WHATWG URL Standard): "//host"
 * is scheme-relative; a backslash counts as a slash in special schemes ("/\host"); TAB, CR
 * and LF are stripped anywhere ("/\t/host" becomes "//host"); leading C0 controls and spaces
 * are trimmed. Printable ASCII only, no backslash, exactly one leading slash, and no "//" in
 * the path at all: what is left is a path on our origin. The same checks run on the path once
 * percent-decoded, and again while it still decodes, so that a later decode (another
 * component, a proxy, a framework that decodes twice) cannot turn "/%2F%2Fevil.com" into
 * "//evil.com". The query is data and is only held to printable ASCII.
 */
#include "idp/idp.h"

#include <string.h>

#define IDP_NEXT_DECODE_ROUNDS 4 /* "%25252F" and deeper: refused */
#define IDP_LOGIN_URL_MAX      (sizeof(IDP_LOGIN_PATH) + 3 * (IDP_NEXT_MAX + IDP_LOGIN_HINT_MAX) + 64)

/* Decodes in[0..n) into out (at most n bytes). -1 on an escape that is not "%XX". */
static int pct_decode(const char *in, size_t n, char *out, size_t *outn)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[k++] = in[i];
            continue;
        }
        if (i + 2 >= n) {
            return -1;
        }
        int h = util_hex_digit(in[i + 1]), l = util_hex_digit(in[i + 2]);
        if (h < 0 || l < 0) {
            return -1;
        }
        out[k++] = (char)(h * 16 + l);
        i += 2;
    }
    *outn = k;
    return 0;
}

/* The path rules, for the path as sent and for each decoded form of it. */
static bool path_ok(const char *p, size_t n)
{
    if (n == 0 || p[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        /* controls, space, DEL, backslash; bytes >= 0x80: no look-alike of '/' or '\'
         * (U+FF0F, U+2215, U+FF3C...) in a path of ours */
        if (c <= 0x20 || c >= 0x7F || c == '\\') {
            return false;
        }
        if (c == '/' && i + 1 < n && p[i + 1] == '/') {
            return false;
        }
    }
    return true;
}

bool idp_next_ok(const char *next_z)
{
    size_t n = next_z ? strlen(next_z) : 0;
    if (n == 0 || n > IDP_NEXT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)next_z[i];
        if (c <= 0x20 || c >= 0x7F || c == '\\') {
            return false;
        }
        if (c == '%' && (i + 2 >= n || util_hex_digit(next_z[i + 1]) < 0 ||
                         util_hex_digit(next_z[i + 2]) < 0)) {
            return false;
        }
    }
    size_t pathn = strcspn(next_z, "?#");
    if (!path_ok(next_z, pathn)) {
        return false;
    }
    char cur[IDP_NEXT_MAX], dec[IDP_NEXT_MAX];
    size_t curn = pathn, decn = 0;
    memcpy(cur, next_z, pathn);
    for (int round = 0; memchr(cur, '%', curn) != NULL; round++) {
        if (round == IDP_NEXT_DECODE_ROUNDS) {
            return false;
        }
        if (pct_decode(cur, curn, dec, &decn) != 0) {
            /* a '%' left over that is no escape ("/100%25" decoded): nothing more to undo */
            break;
        }
        if (!path_ok(dec, decn)) {
            return false;
        }
        memcpy(cur, dec, decn);
        curn = decn;
    }
    return true;
}

const char *idp_next_or_root(const char *next_z)
{
    return idp_next_ok(next_z) ? next_z : "/";
}

char *idp_login_url_ex(const struct idp *idp, const char *next_z, bool force,
                       const char *login_hint_z)
{
    struct buf b;
    buf_init(&b, IDP_LOGIN_URL_MAX);
    buf_append_z(&b, IDP_LOGIN_PATH "?next=");
    http_url_encode(slice_z(idp_next_or_root(next_z)), &b);
    if (force) {
        buf_append_z(&b, "&prompt=login");
    }
    if (login_hint_z != NULL && login_hint_z[0] != '\0' &&
        strlen(login_hint_z) <= IDP_LOGIN_HINT_MAX) {
        buf_append_z(&b, "&login_hint=");
        http_url_encode(slice_z(login_hint_z), &b);
    }
    return buf_steal(&b, NULL);
}

char *idp_login_url(const struct idp *idp, const char *next_z)
{
    return idp_login_url_ex(idp, next_z, false, NULL);
}

char *idp_login_url_force(const struct idp *idp, const char *next_z)
{
    return idp_login_url_ex(idp, next_z, true, NULL);
}
