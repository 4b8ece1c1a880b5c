/*
 * rp_test.c: `postern access test-idp NAME`: the checks of an identity provider that need no
 * browser, blocking (http_fetch_sync), one report entry each. The interactive half (a real
 * login, then access_rp_exchange) is the Test page's.
 */
#include "access/rp_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RP_TEST_CODE_PREFIX "postern-test-" /* the made-up code sent to the token endpoint */

struct tctx {
    const struct access_idp *idp;
    struct access_rp_report *out;
    bool dated; /* some answer had a Date */
};

static struct access_rp_check *add(struct tctx *t, const char *what)
{
    struct access_rp_report *r = t->out;
    struct access_rp_check *c = &r->checks[r->n < ACCESS_RP_CHECKS_MAX ? r->n++ : r->n - 1];
    memset(c, 0, sizeof *c);
    c->what = what;
    return c;
}

static void set_from(struct access_rp_check *c, const struct access_rp_result *r)
{
    c->diag = r->diag;
    memcpy(c->msg, r->msg, sizeof c->msg);
}

static void check_set(struct access_rp_check *c, enum access_rp_diag d, const char *fmt, ...)
    UTIL_PRINTF(3, 4);

static void check_set(struct access_rp_check *c, enum access_rp_diag d, const char *fmt, ...)
{
    va_list ap;
    c->diag = d;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
}

/* Keeps the largest clock difference seen. */
static void note_date(struct tctx *t, const struct http_fetch_result *res)
{
    int64_t s = rp_skew(res);
    if (res->date == 0) {
        return;
    }
    if (!t->dated || llabs(s) > llabs(t->out->skew)) {
        t->out->skew = s;
    }
    t->dated = true;
}

/* One blocking request; false (and c set) when no response came back. */
static bool fetch(struct tctx *t, struct access_rp_check *c, const char *what,
                  struct http_fetch_req *r, struct http_fetch_result *res)
{
    r->ca_file = t->idp->ca_file;
    if (r->max_body == 0) {
        r->max_body = ACCESS_RP_DOC_BODY_MAX;
    }
    if (http_fetch_sync(r, res) != 0) {
        struct access_rp_result f = {0};
        rp_fetch_failed(what, r->url, res, &f);
        set_from(c, &f);
        note_date(t, res);
        return false;
    }
    note_date(t, res);
    return true;
}

/* ---- the checks ------------------------------------------------------------------------- */

static void check_discovery(struct tctx *t, struct rp_disc *disc)
{
    struct access_rp_check *c = add(t, "discovery");
    struct http_fetch_result res = {0};
    struct http_fetch_req r = {.url = t->idp->discovery_url, .accept = "application/json"};
    if (fetch(t, c, "discovery document", &r, &res)) {
        struct access_rp_result f = {0};
        if (rp_disc_parse(r.url, t->idp->issuer, &res, disc, &f) != ACCESS_RP_OK) {
            set_from(c, &f);
        } else {
            check_set(c, ACCESS_RP_OK, "%s: issuer %s", r.url, disc->issuer);
        }
    }
    http_fetch_result_free(&res);
}

static void list_kids(const struct jose_jwks *s, struct access_rp_check *c)
{
    size_t n = strlen(c->msg);
    for (size_t i = 0; i < jose_jwks_count(s) && n < sizeof c->msg; i++) {
        const struct jose_jwk *k = jose_jwks_get(s, i);
        char kid[RP_QUOTE_MAX];
        rp_quote(slice_z(jose_jwk_kid(k) != NULL ? jose_jwk_kid(k) : "(no kid)"), kid, sizeof kid);
        snprintf(c->msg + n, sizeof c->msg - n, "%s%s (%s)", i == 0 ? ": " : ", ", kid,
                 jose_alg_name(jose_jwk_alg(k)));
        n = strlen(c->msg);
    }
}

static void check_jwks(struct tctx *t, const char *url)
{
    struct access_rp_check *c = add(t, "jwks");
    struct http_fetch_result res = {0};
    struct jose_jwks *s = NULL;
    if (url == NULL) {
        check_set(c, ACCESS_RP_DISCOVERY, "no JWKS URL: certs_url unset and not discovered");
        return;
    }
    struct http_fetch_req r = {.url = url, .accept = "application/jwk-set+json, application/json"};
    if (fetch(t, c, "JWKS", &r, &res)) {
        struct access_rp_result f = {0};
        if (rp_jwks_parse(url, &res, &s, &f) != ACCESS_RP_OK) {
            set_from(c, &f);
        } else {
            check_set(c, ACCESS_RP_OK, "%s: %zu usable key(s)", url, jose_jwks_count(s));
            list_kids(s, c);
        }
    }
    jose_jwks_free(s);
    http_fetch_result_free(&res);
}

/* What a token endpoint says of a code it never issued tells whether it knows our client. */
static void token_verdict(struct access_rp_check *c, const char *url,
                          const struct http_fetch_result *res)
{
    struct access_rp_result f = {0};
    char where[ACCESS_RP_MSG_MAX];
    json_t *doc = NULL;
    const char *error, *desc;
    char *id_token = NULL;
    snprintf(where, sizeof where, "token endpoint %s", url);
    if (rp_oauth_answer(res, &doc, &error, &desc)) {
        if (rp_oauth_error(where, error, desc, &f) == ACCESS_RP_TOKEN_ERROR &&
            strcmp(error, "invalid_grant") == 0) {
            check_set(c, ACCESS_RP_OK,
                      "%s: the client authenticated (invalid_grant for a made-up code, as "
                      "expected)",
                      where);
        } else {
            set_from(c, &f);
        }
        json_decref(doc);
        return;
    }
    if (res->http_status == 200) {
        check_set(c, ACCESS_RP_TOKEN_ERROR, "%s answered HTTP 200 to a made-up code", where);
        return;
    }
    rp_token_answer(url, res, &id_token, &f);
    free(id_token);
    set_from(c, &f);
}

static void check_token(struct tctx *t, const char *url, const char *redirect_uri_z)
{
    struct access_rp_check *c = add(t, "token endpoint");
    struct http_fetch_result res = {0};
    struct access_rp_login l;
    struct buf body;
    if (url == NULL) {
        check_set(c, ACCESS_RP_DISCOVERY, "no token URL: token_url unset and not discovered");
        return;
    }
    access_rp_login_new(&l);
    char code[sizeof(RP_TEST_CODE_PREFIX) + ACCESS_RP_RANDOM_TEXT];
    snprintf(code, sizeof code, "%s%s", RP_TEST_CODE_PREFIX, l.state);
    if (rp_token_body(code, redirect_uri_z, t->idp->pkce_enabled ? l.verifier : NULL, &body)) {
        check_set(c, ACCESS_RP_INTERNAL, "token request too large");
    } else {
        struct http_fetch_req r = {
            .url = url,
            .method = "POST",
            .content_type = "application/x-www-form-urlencoded",
            .body = {body.p, body.len},
            .basic_user = t->idp->client_id,
            .basic_password = t->idp->client_secret,
            .accept = "application/json",
            .max_body = ACCESS_RP_TOKEN_BODY_MAX,
        };
        if (fetch(t, c, "token endpoint", &r, &res)) {
            token_verdict(c, url, &res);
        }
    }
    buf_free(&body);
    access_rp_login_wipe(&l);
    http_fetch_result_free(&res);
}

/* The <title> of an HTML error page, quoted; "" when there is none. */
static void page_title(const struct buf *b, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; b->p != NULL && i + 7 <= b->len; i++) {
        if (strncasecmp(b->p + i, "<title", 6) != 0) {
            continue;
        }
        const char *gt = memchr(b->p + i, '>', b->len - i);
        if (gt == NULL) {
            return;
        }
        size_t from = (size_t)(gt + 1 - b->p), k = from;
        while (k < b->len && b->p[k] != '<') {
            k++;
        }
        rp_quote((struct slice){b->p + from, k - from}, out, n);
        return;
    }
}

static void check_auth(struct tctx *t, const char *url, const char *redirect_uri_z)
{
    struct access_rp_check *c = add(t, "authorization endpoint");
    struct http_fetch_result res = {0};
    struct access_rp_login l;
    struct err e = {0};
    char title[RP_QUOTE_MAX];
    if (url == NULL) {
        check_set(c, ACCESS_RP_DISCOVERY,
                  "no authorization URL: auth_url unset and not discovered");
        return;
    }
    access_rp_login_new(&l);
    char *full = access_rp_auth_url(t->idp, url, redirect_uri_z, &l, &e);
    struct http_fetch_req r = {.url = full, .accept = "text/html"};
    if (full == NULL) {
        check_set(c, ACCESS_RP_INTERNAL, "%s", e.msg);
    } else if (fetch(t, c, "authorization endpoint", &r, &res)) {
        page_title(&res.body, title, sizeof title);
        struct slice body = {res.body.p != NULL ? res.body.p : "", res.body.len};
        if (res.http_status < 400) {
            check_set(c, ACCESS_RP_OK,
                      "authorization endpoint %s answered HTTP %ld (a login page "
                      "or a redirect)",
                      url, res.http_status);
        } else if (rp_mentions_redirect(body)) {
            check_set(c, ACCESS_RP_REDIRECT_URI,
                      "authorization endpoint %s refused the request (HTTP %ld%s%s): register "
                      "%s as a redirect URI",
                      url, res.http_status, title[0] ? ": " : "", title, redirect_uri_z);
        } else {
            check_set(c, ACCESS_RP_AUTH_ERROR,
                      "authorization endpoint %s refused the request (HTTP %ld%s%s)", url,
                      res.http_status, title[0] ? ": " : "", title);
        }
    }
    free(full);
    access_rp_login_wipe(&l);
    http_fetch_result_free(&res);
}

static void check_clock(struct tctx *t)
{
    struct access_rp_check *c = add(t, "clock");
    long long s = (long long)t->out->skew;
    if (!t->dated) {
        check_set(c, ACCESS_RP_OK, "unknown: the identity provider sent no Date header");
    } else if (llabs(s) > ACCESS_RP_LEEWAY_S) {
        check_set(c, ACCESS_RP_CLOCK_SKEW,
                  "the identity provider's Date is %+lld s from our "
                  "clock (more than %d s)",
                  s, ACCESS_RP_LEEWAY_S);
    } else {
        check_set(c, ACCESS_RP_OK, "the identity provider's Date is %+lld s from our clock", s);
    }
}

int access_rp_test_idp(const struct access_idp *idp, const char *redirect_uri_z,
                       struct access_rp_report *out)
{
    struct rp_disc disc = {0};
    struct tctx t = {.idp = idp, .out = out};
    memset(out, 0, sizeof *out);
    if (idp == NULL || redirect_uri_z == NULL || idp->client_id == NULL) {
        check_set(add(&t, "configuration"), ACCESS_RP_INTERNAL, "missing argument");
        return -1;
    }
    if (idp->discovery_url != NULL) {
        check_discovery(&t, &disc);
    }
    check_jwks(&t, idp->certs_url != NULL ? idp->certs_url : disc.jwks_uri);
    check_token(&t, idp->token_url != NULL ? idp->token_url : disc.token_endpoint, redirect_uri_z);
    check_auth(&t, idp->auth_url != NULL ? idp->auth_url : disc.authorization_endpoint,
               redirect_uri_z);
    check_clock(&t);
    rp_disc_free(&disc);
    for (size_t i = 0; i < out->n; i++) {
        if (out->checks[i].diag != ACCESS_RP_OK) {
            return -1;
        }
    }
    return 0;
}
