/*
 * redirect.c: which redirect URIs a provider accepts (RFC 6749 3.1.2.3, RFC 9700 4.1.3).
 *
 * strict: simple string comparison, nothing else. regex: the administrator's POSIX ERE,
 * anchored by wrapping it in ^(...)$ so that "https://a\.example/.*" cannot match
 * "https://evil/?https://a.example/"; compiled per request (bounded length: a few
 * microseconds, and no cache to invalidate when a provider changes). A URI matched by a regex
 * must also be structurally plain (oidc_redirect_uri_sane): a permissive pattern such as
 * "https://a\.example/cb.*" must not let "https://a.example/cb/../../other" or
 * "https://a.example/cb\@evil" through, because browsers resolve those differently from
 * the string the pattern saw. What no check here can fix is a pattern that lets the host
 * vary ("https://.*\.example\.com/cb" accepts "https://evil.com?.example.com/cb"): write
 * the host literally, dots escaped.
 */
#include "oidc/oidc.h"

#include "http/http.h"

#include <jansson.h>
#include <regex.h>
#include <string.h>

void oidc_redirects_free(struct oidc_redirects *l)
{
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        free(l->v[i].url);
    }
    if (l != NULL) {
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
}

int oidc_redirects_parse(const char *json_z, struct oidc_redirects *out, struct err *e)
{
    out->v = NULL;
    out->n = 0;
    if (json_z == NULL || *json_z == '\0') {
        return 0; /* no URI registered: accepts nothing */
    }
    json_t *arr = util_json_parse(slice_z(json_z), e);
    if (arr == NULL) {
        return err_prefix(e, "redirect_uris");
    }
    int rc = -1;
    if (!json_is_array(arr) || json_array_size(arr) > OIDC_REDIRECT_URIS_MAX) {
        err_set(e, 0, "redirect_uris: not an array of at most %d entries", OIDC_REDIRECT_URIS_MAX);
        goto done;
    }
    out->v = xcalloc(json_array_size(arr) + 1, sizeof *out->v);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *it = json_array_get(arr, i);
        const char *mode = json_string_value(json_object_get(it, "matching_mode"));
        const char *url = json_string_value(json_object_get(it, "url"));
        if (url == NULL || *url == '\0') {
            err_set(e, 0, "redirect_uris[%zu]: url missing", i);
            goto done;
        }
        struct oidc_redirect *r = &out->v[out->n];
        if (mode == NULL || strcmp(mode, "strict") == 0) {
            r->mode = OIDC_MATCH_STRICT;
        } else if (strcmp(mode, "regex") == 0) {
            r->mode = OIDC_MATCH_REGEX;
        } else {
            err_set(e, 0, "redirect_uris[%zu]: matching_mode must be strict or regex", i);
            goto done;
        }
        r->url = xstrdup(url);
        out->n++;
    }
    rc = 0;
done:
    json_decref(arr);
    if (rc != 0) {
        oidc_redirects_free(out);
    }
    return rc;
}

static bool is_dot_segment(const char *p, size_t n)
{
    /* ".", "..", and their %2e spellings (RFC 3986 5.2.4 after percent-decoding). */
    size_t dots = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '.') {
            dots++;
            i++;
        } else if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' && (p[i + 2] | 0x20) == 'e') {
            dots++;
            i += 3;
        } else {
            return false;
        }
    }
    return dots == 1 || dots == 2;
}

bool oidc_redirect_uri_sane(const char *uri_z)
{
    size_t n = strlen(uri_z);
    if (n == 0 || n > OIDC_REDIRECT_URI_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri_z[i];
        /* Controls, space, backslash (browsers read it as '/'), fragment (3.1.2: MUST NOT),
         * and non-ASCII (IDN look-alikes: register the punycode form). */
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#') {
            return false;
        }
    }
    /* scheme ":" */
    const char *colon = strchr(uri_z, ':');
    if (colon == NULL || colon == uri_z) {
        return false;
    }
    const char *rest = colon + 1;
    if (strncmp(rest, "//", 2) == 0) {
        const char *auth = rest + 2;
        size_t alen = strcspn(auth, "/?");
        /* Userinfo would make "https://good.example@evil/" point at evil. */
        if (alen == 0 || memchr(auth, '@', alen) != NULL) {
            return false;
        }
        rest = auth + alen;
    }
    /* No dot segment anywhere in the path. */
    size_t plen = strcspn(rest, "?");
    const char *seg = rest;
    const char *end = rest + plen;
    while (seg <= end) {
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        const char *segend = slash ? slash : end;
        if (is_dot_segment(seg, (size_t)(segend - seg))) {
            return false;
        }
        if (slash == NULL) {
            break;
        }
        seg = slash + 1;
    }
    return true;
}

static bool regex_match(const char *pattern, const char *uri_z)
{
    size_t plen = strlen(pattern);
    if (plen == 0 || plen > OIDC_REDIRECT_REGEX_MAX) {
        return false;
    }
    char anchored[OIDC_REDIRECT_REGEX_MAX + 5];
    int w = snprintf(anchored, sizeof anchored, "^(%s)$", pattern);
    if (w < 0 || (size_t)w >= sizeof anchored) {
        return false;
    }
    regex_t re;
    /* The pattern must compile alone: "x)|(.*" would otherwise close the anchoring group
     * and become "^(x)|(.*)$", which matches anything. */
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return false; /* a broken pattern matches nothing */
    }
    regfree(&re);
    if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
        return false;
    }
    bool ok = regexec(&re, uri_z, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

bool oidc_redirect_allowed(const struct oidc_redirects *l, const char *uri_z)
{
    if (l == NULL || uri_z == NULL) {
        return false;
    }
    size_t n = strlen(uri_z);
    if (n == 0 || n > OIDC_REDIRECT_URI_MAX) {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].mode == OIDC_MATCH_STRICT && strcmp(l->v[i].url, uri_z) == 0) {
            return true;
        }
    }
    if (!oidc_redirect_uri_sane(uri_z)) {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].mode == OIDC_MATCH_REGEX && regex_match(l->v[i].url, uri_z)) {
            return true;
        }
    }
    return false;
}

bool oidc_redirect_registered_strict(const struct oidc_redirects *l, const char *uri_z)
{
    if (l == NULL || uri_z == NULL || *uri_z == '\0') {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].mode == OIDC_MATCH_STRICT && strcmp(l->v[i].url, uri_z) == 0) {
            return true;
        }
    }
    return false;
}

int oidc_url_with_params(struct buf *out, const char *uri_z, const char *const *names,
                         const char *const *values, size_t n)
{
    if (buf_append_z(out, uri_z) != 0) {
        return -1;
    }
    /* RFC 6749 3.1.2: keep the registered URI's own query and add ours to it. */
    char sep = strchr(uri_z, '?') != NULL ? '&' : '?';
    if (sep == '&' && out->len > 0 &&
        (out->p[out->len - 1] == '?' || out->p[out->len - 1] == '&')) {
        sep = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL) {
            continue;
        }
        if ((sep != 0 && buf_append_c(out, sep) != 0) || buf_append_z(out, names[i]) != 0 ||
            buf_append_c(out, '=') != 0 || http_url_encode(slice_z(values[i]), out) != 0) {
            return -1;
        }
        sep = '&';
    }
    return 0;
}
