/*
 * domain.c: the URLs of the configuration (team domain, origins, IdP endpoints), the
 * application domains, and which application serves a request.
 *
 * Application domains follow Cloudflare Access's "application paths": a host, an optional
 * path prefix, and a wildcard only as the whole leftmost label. "*.example.com" covers
 * exactly one more label ("alpha.example.com"), neither the apex "example.com" nor
 * "foo.bar.example.com" (developers.cloudflare.com, cloudflare-one, access-controls/policies/
 * app-paths: "A wildcard in the Subdomain field only matches that specific subdomain level").
 * Ports are refused: Access does not support port numbers and host matching ignores them.
 */
#include "access/access_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

void access_lower(char *z)
{
    for (; *z != '\0'; z++) {
        *z = lower_c(*z);
    }
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 1035 section 2.3.1 (with RFC 1123 section 2.1's leading digits). */
bool access_dns_name_ok(const char *z, size_t n)
{
    if (n == 0 || n > ACCESS_HOST_MAX) {
        return false;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || z[i] == '.') {
            if (label == 0 || label > ACCESS_LABEL_MAX || z[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        if (!is_alnum(z[i]) && !(z[i] == '-' && label > 0)) {
            return false;
        }
        label++;
    }
    return true;
}

/* ---- URLs --------------------------------------------------------------- */

void access_url_free(struct access_url *u)
{
    free(u->text);
    free(u->host);
    memset(u, 0, sizeof *u);
}

/* A host of a URL: a DNS-like name (underscores allowed: container names) or [IPv6]. */
static const char *url_host(const char *p, size_t n)
{
    if (n == 0) {
        return "expected a host after ://";
    }
    if (p[0] == '[') {
        char v6[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        if (p[n - 1] != ']' || n - 2 >= sizeof v6) {
            return "invalid IPv6 address in brackets";
        }
        memcpy(v6, p + 1, n - 2);
        v6[n - 2] = '\0';
        return inet_pton(AF_INET6, v6, bin) == 1 ? NULL : "invalid IPv6 address in brackets";
    }
    char tmp[ACCESS_HOST_MAX + 1];
    if (n > ACCESS_HOST_MAX) {
        return "host name too long";
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i] = p[i] == '_' ? 'x' : p[i]; /* '_' is fine in a name we only connect to */
    }
    return access_dns_name_ok(tmp, n) ? NULL : "expected a host name such as auth.example.com";
}

/* RFC 3986 section 3.3 / 3.4: pchar, '/' and '?' (and a valid %-escape). */
static const char *url_rest_chars(const char *p)
{
    for (; *p != '\0'; p++) {
        if (*p == '%') {
            if (util_hex_digit(p[1]) < 0 || util_hex_digit(p[2]) < 0) {
                return "invalid %-escape in the URL";
            }
        } else if (!is_alnum(*p) && strchr("-._~!$&'()*+,;=:@/?", *p) == NULL) {
            return "a character outside RFC 3986 in the URL's path or query";
        }
    }
    return NULL;
}

static const char *url_tail(const char *rest, unsigned flags)
{
    if (strchr(rest, '#') != NULL) {
        return "a fragment (#) is not allowed";
    }
    if ((flags & ACCESS_URL_ORIGIN) && rest[0] != '\0' && strcmp(rest, "/") != 0) {
        return "expected scheme://host[:port] only, without a path or query";
    }
    if (!(flags & ACCESS_URL_QUERY) && strchr(rest, '?') != NULL) {
        return "a query (?) is not allowed";
    }
    return url_rest_chars(rest);
}

static const char *url_split(const char *z, unsigned flags, struct access_url *u)
{
    size_t slen = 0;
    if (strncasecmp(z, "https://", 8) == 0) {
        u->https = true;
        slen = 8;
    } else if (strncasecmp(z, "http://", 7) == 0) {
        slen = 7;
    } else {
        return "expected an http:// or https:// URL";
    }
    const char *auth = z + slen;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (memchr(auth, '@', alen) != NULL) {
        return "credentials (user@) are not allowed in the URL";
    }
    /* The port follows the last ':' that is not inside an IPv6 literal. */
    const char *close = auth[0] == '[' ? memchr(auth, ']', alen) : NULL;
    const char *from = close != NULL ? close : auth;
    const char *colon = memchr(from, ':', alen - (size_t)(from - auth));
    size_t hlen = colon != NULL ? (size_t)(colon - auth) : alen;
    const char *why = url_host(auth, hlen);
    if (why != NULL) {
        return why;
    }
    uint64_t port = u->https ? 443 : 80;
    if (colon != NULL &&
        util_parse_u64((struct slice){colon + 1, alen - hlen - 1}, 65535, &port) != 0) {
        return "invalid port (expected 1 to 65535)";
    }
    if (port == 0) {
        return "invalid port (expected 1 to 65535)";
    }
    if ((why = url_tail(rest, flags)) != NULL) {
        return why;
    }
    u->port = (uint16_t)port;
    u->host = xstrndup(auth, hlen);
    access_lower(u->host);
    struct buf b;
    buf_init(&b, ACCESS_URL_MAX + 16);
    buf_printf(&b, "%s://%s", u->https ? "https" : "http", u->host);
    if (colon != NULL) {
        buf_printf(&b, ":%u", (unsigned)port);
    }
    if (!(flags & ACCESS_URL_ORIGIN)) {
        buf_append_z(&b, rest);
    }
    u->text = buf_steal(&b, NULL);
    return NULL;
}

int access_url_parse(const char *z, unsigned flags, struct access_url *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (strlen(z) > ACCESS_URL_MAX) {
        *why = "URL too long";
        return -1;
    }
    *why = url_split(z, flags, out);
    if (*why != NULL) {
        access_url_free(out);
        return -1;
    }
    return 0;
}

/* ---- application domains ------------------------------------------------ */

/* The decoded, canonical form http_path_canonical gives: no '//', '.' or '..' segment, no
 * escape, query or fragment. A lone '/' (and a trailing one) means "from here down". */
static const char *domain_path(const char *p, char **out)
{
    size_t n = strlen(p);
    if (n > ACCESS_PATH_MAX) {
        return "path too long";
    }
    if (n > 0 && p[n - 1] == '/') {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '?' || p[i] == '#') {
            return "a query (?) or fragment (#) is not allowed in a domain";
        }
        if (p[i] == '%' || (!is_alnum(p[i]) && strchr("-._~!$&'()+,;=:@/", p[i]) == NULL)) {
            return "the path may only hold letters, digits and -._~!$&'()+,;=:@/ (decoded, "
                   "without %-escapes)";
        }
        if (p[i] == '/') {
            size_t seg = strcspn(p + i + 1, "/");
            seg = UTIL_MIN(seg, n - i - 1);
            if (seg == 0 || (seg == 1 && p[i + 1] == '.') ||
                (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.')) {
                return "expected a canonical path: no '//', '.' or '..' segment";
            }
        }
    }
    *out = xstrndup(p, n);
    return NULL;
}

static const char *domain_split(const char *z, struct access_app *a)
{
    if (strstr(z, "://") != NULL) {
        return "expected a host and an optional path, without a scheme (http://)";
    }
    size_t hlen = strcspn(z, "/");
    const char *host = z;
    if (memchr(z, ':', hlen) != NULL) {
        return "a port is not allowed (host matching ignores the port)";
    }
    if (hlen >= 2 && z[0] == '*' && z[1] == '.') {
        a->wildcard = true;
        host += 2;
        hlen -= 2;
    }
    if (strchr(host, '*') != NULL) {
        return "a wildcard is only allowed as the whole leftmost label (*.example.com)";
    }
    if (!access_dns_name_ok(host, hlen)) {
        return "expected a host name such as app.example.com";
    }
    const char *why = domain_path(host + hlen, &a->path);
    if (why != NULL) {
        return why;
    }
    a->host = xstrndup(host, hlen);
    access_lower(a->host);
    size_t n = (a->wildcard ? 2 : 0) + hlen + strlen(a->path) + 1;
    char *d = xmalloc(n);
    snprintf(d, n, "%s%s%s", a->wildcard ? "*." : "", a->host, a->path);
    free(a->domain);
    a->domain = d;
    return NULL;
}

int access_domain_parse(const char *z, struct access_app *a, const char **why)
{
    *why = domain_split(z, a);
    if (*why != NULL) {
        free(a->path);
        free(a->host);
        a->path = a->host = NULL;
        a->wildcard = false;
        return -1;
    }
    return 0;
}

/* ---- matching ----------------------------------------------------------- */

/* The request's host without the port and one trailing dot. */
static struct slice req_host(const char *z)
{
    struct slice h = slice_z(z != NULL ? z : "");
    if (h.n > 0 && h.p[0] == '[') {
        const char *end = memchr(h.p, ']', h.n);
        h.n = end != NULL ? (size_t)(end - h.p) + 1 : h.n;
    } else {
        const char *colon = memchr(h.p, ':', h.n);
        h.n = colon != NULL ? (size_t)(colon - h.p) : h.n;
    }
    if (h.n > 1 && h.p[h.n - 1] == '.') {
        h.n--;
    }
    return h;
}

static bool case_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower_c(a[i]) != lower_c(b[i])) {
            return false;
        }
    }
    return true;
}

/* 2: exact host, 1: wildcard, 0: no match. */
static int host_rank(const struct access_app *a, struct slice h)
{
    size_t n = strlen(a->host);
    if (!a->wildcard) {
        return h.n == n && case_eq(h.p, a->host, n) ? 2 : 0;
    }
    const char *dot = memchr(h.p, '.', h.n);
    if (dot == NULL || dot == h.p) {
        return 0; /* one label, not empty, in front of the suffix */
    }
    size_t rest = h.n - (size_t)(dot + 1 - h.p);
    return rest == n && case_eq(dot + 1, a->host, n) ? 1 : 0;
}

static bool path_match(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    return n == 0 || (strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

const struct access_app *access_app_match(const struct access_app *apps, size_t napps,
                                          const char *host_z, const char *path_z)
{
    struct slice h = req_host(host_z);
    const char *path = path_z != NULL ? path_z : "/";
    const struct access_app *best = NULL;
    int best_rank = 0;
    size_t best_len = 0;
    if (h.n == 0) {
        return NULL;
    }
    for (size_t i = 0; i < napps; i++) {
        int rank = host_rank(&apps[i], h);
        if (rank == 0 || !path_match(apps[i].path, path)) {
            continue;
        }
        size_t len = strlen(apps[i].path);
        if (rank > best_rank || (rank == best_rank && len > best_len)) {
            best = &apps[i];
            best_rank = rank;
            best_len = len;
        }
    }
    return best;
}
