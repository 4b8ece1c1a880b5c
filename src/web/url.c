/*
 * url.c: escaping and the validation rules of values that reach a page or a header:
 * HTML escaping, THE URL RULE (web.h), colours for CSS, origins for a CSP source list.
 */
#include "web/web_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Besides the five of HTML, ` and = are escaped: they end an unquoted attribute value in
 * old parsers (IE treated ` as a quote), and the parser already refuses unquoted values
 * with a variable, so this is a second fence. */
int web_escape(struct slice s, struct buf *out)
{
    size_t start = 0;
    for (size_t i = 0; i < s.n; i++) {
        const char *rep;
        switch (s.p[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '`':
            rep = "&#96;";
            break;
        case '=':
            rep = "&#61;";
            break;
        default:
            continue;
        }
        if (buf_append(out, s.p + start, i - start) != 0 || buf_append_z(out, rep) != 0) {
            return -1;
        }
        start = i + 1;
    }
    return buf_append(out, s.p + start, s.n - start);
}

/* Printable ASCII without space and backslash: the URL parser of a browser removes tab, CR
 * and LF anywhere and trims spaces and controls at both ends (WHATWG URL, "basic URL
 * parser"), and treats '\' as '/' in http(s) URLs, so "/\t/evil", " //evil" and "/\evil"
 * all lead off-site. Non-ASCII is refused as well: callers percent-encode. */
static bool url_chars_ok(const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)z[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\') {
            return false;
        }
    }
    return true;
}

/* Length of "http://" or "https://" at the start of z (any case), else 0. */
static size_t http_scheme_len(const char *z)
{
    if (strncasecmp(z, "http://", 7) == 0) {
        return 7;
    }
    if (strncasecmp(z, "https://", 8) == 0) {
        return 8;
    }
    return 0;
}

bool web_url_ok(const char *url_z)
{
    if (url_z == NULL) {
        return false;
    }
    size_t n = strnlen(url_z, WEB_URL_MAX + 1);
    if (n == 0 || n > WEB_URL_MAX || !url_chars_ok(url_z, n)) {
        return false;
    }
    if (url_z[0] == '/') {
        /* "//host" is protocol-relative: another site. */
        return url_z[1] != '/';
    }
    size_t s = http_scheme_len(url_z);
    if (s == 0) {
        return false; /* javascript:, data:, relative "evil.com", "?x", "#x" */
    }
    /* A host must follow ("https:///x" would be re-parsed as "https://x"). */
    char c = url_z[s];
    return c != '\0' && c != '/' && c != '?' && c != '#';
}

bool web_colour_ok(const char *colour_z)
{
    if (colour_z == NULL || colour_z[0] != '#') {
        return false;
    }
    size_t n = strnlen(colour_z + 1, 7);
    if (n != 3 && n != 6) {
        return false;
    }
    for (size_t i = 1; i <= n; i++) {
        unsigned char c = (unsigned char)colour_z[i];
        if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))) {
            return false;
        }
    }
    return true;
}

static bool host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

static bool ipv6_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == ':' ||
           c == '.';
}

/* Checks "host[:port]" (RFC 3986 section 3.2.2, reg-name limited to LDH and dots, or an
 * IP-literal without a zone), no userinfo. */
static bool authority_ok(const char *a, size_t n)
{
    size_t i = 0;
    if (n > 0 && a[0] == '[') {
        for (i = 1; i < n && a[i] != ']'; i++) {
            if (!ipv6_char((unsigned char)a[i])) {
                return false;
            }
        }
        if (i >= n || i == 1) {
            return false;
        }
        i++; /* past ']' */
    } else {
        for (; i < n && a[i] != ':'; i++) {
            if (!host_char((unsigned char)a[i])) {
                return false;
            }
        }
        if (i == 0) {
            return false;
        }
    }
    if (i == n) {
        return true;
    }
    if (a[i] != ':') {
        return false;
    }
    uint64_t port;
    return util_parse_u64((struct slice){a + i + 1, n - i - 1}, 65535, &port) == 0 && port > 0;
}

int web_url_origin(const char *url_z, char *out, size_t outsz)
{
    if (!web_url_ok(url_z) || outsz == 0) {
        return -1;
    }
    size_t s = http_scheme_len(url_z);
    if (s == 0) {
        return -1;
    }
    const char *a = url_z + s;
    size_t n = strcspn(a, "/?#");
    if (n == 0 || !authority_ok(a, n)) {
        return -1;
    }
    const char *scheme = s == 8 ? "https://" : "http://";
    if (strlen(scheme) + n >= outsz || strlen(scheme) + n > WEB_ORIGIN_MAX) {
        return -1;
    }
    int k = snprintf(out, outsz, "%s%.*s", scheme, (int)n, a);
    for (int i = (int)strlen(scheme); i < k; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z') {
            out[i] = (char)(out[i] - 'A' + 'a');
        }
    }
    return 0;
}
