/*
 * basic.c: client_secret_basic credentials (RFC 6749 2.3.1). The client identifier and the
 * secret are each encoded with application/x-www-form-urlencoded (Appendix B) before they are
 * joined by ':' and base64-encoded: "a:b" with a '%3A' inside the id stays one id.
 */
#include "oidc/oidc.h"

#include <string.h>

int oidc_form_decode(struct slice s, struct buf *out)
{
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (s.n - i < 3) {
                return -1;
            }
            int hi = util_hex_digit(s.p[i + 1]);
            int lo = util_hex_digit(s.p[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || buf_append_c(out, c) != 0) {
            return -1;
        }
    }
    return 0;
}

int oidc_basic_decode(struct slice header, char **id, char **secret)
{
    *id = NULL;
    *secret = NULL;
    if (header.n > OIDC_BASIC_MAX || header.n < 6 ||
        !slice_case_eq_z((struct slice){header.p, 5}, "basic") || header.p[5] != ' ') {
        return -1;
    }
    struct slice b64 = slice_trim_ows((struct slice){header.p + 6, header.n - 6});
    struct buf raw, bid, bsec;
    buf_init(&raw, OIDC_BASIC_MAX);
    buf_init(&bid, OIDC_CLIENT_ID_MAX + 1);
    buf_init(&bsec, OIDC_CLIENT_SECRET_MAX + 1);
    int rc = -1;
    if (b64.n == 0 || b64_decode(b64, &raw) != 0) {
        goto done;
    }
    const char *colon = memchr(raw.p, ':', raw.len);
    if (colon == NULL || colon == raw.p) {
        goto done;
    }
    size_t idn = (size_t)(colon - raw.p);
    if (oidc_form_decode((struct slice){raw.p, idn}, &bid) != 0 ||
        oidc_form_decode((struct slice){colon + 1, raw.len - idn - 1}, &bsec) != 0 ||
        bid.len == 0) {
        goto done;
    }
    *id = buf_steal(&bid, NULL);
    *secret = buf_steal(&bsec, NULL);
    rc = 0;
done:
    util_wipe(raw.p, raw.len);
    util_wipe(bsec.p, bsec.len);
    buf_free(&raw);
    buf_free(&bid);
    buf_free(&bsec);
    return rc;
}
