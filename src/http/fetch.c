/*
 * fetch.c: one outbound request (the Gate's calls to identity providers) as a libcurl easy
 * handle, and its outcome as a struct http_fetch_result with one precise sentence. The loop
 * that drives the handles is fetch_loop.c.
 *
 * What every request keeps (see http.h): http/https only, no redirect followed, TLS 1.2+
 * with peer and host verification, no credentials in the URL, a bounded body. Secrets (the
 * Authorization header, the POST body, the response body) live in memory of ours, wiped
 * before it is freed; the copies libcurl makes while sending are its own (not wiped).
 */
#include "http/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* "host:port" of the URL, for messages ("connection refused by 127.0.0.1:9"). */
#define FETCH_TARGET_MAX 320
#define FETCH_USER_AGENT "postern"
/* "Authorization: Basic " + base64 of two form-encoded values (each at most 3x longer). */
#define FETCH_CRED_MAX 4096
/* Accept and Content-Type values (a media type and its parameters). */
#define FETCH_HEADER_VALUE_MAX 256

struct http_fetch_xfer {
    CURL *easy;
    CURLU *url;
    struct curl_slist *headers;
    char *post; /* our copy of the body: wiped on free */
    size_t post_len;
    bool is_tls;
    bool failed;  /* the outcome is already set (refused URL, BUSY, cancelled) */
    bool too_big; /* the write callback refused bytes past max_body */
    int timeout_ms, connect_timeout_ms;
    size_t max_body;
    char host[FETCH_TARGET_MAX];
    char target[FETCH_TARGET_MAX];
    char errbuf[CURL_ERROR_SIZE];
    struct http_fetch_result res;
    http_fetch_done_fn done;
    void *arg;
};

const char *http_fetch_status_name(enum http_fetch_status s)
{
    static const char *const names[] = {
        [HTTP_FETCH_OK] = "ok",
        [HTTP_FETCH_BAD_URL] = "bad_url",
        [HTTP_FETCH_UNREACHABLE] = "unreachable",
        [HTTP_FETCH_TLS] = "tls",
        [HTTP_FETCH_TIMEOUT] = "timeout",
        [HTTP_FETCH_TOO_BIG] = "too_big",
        [HTTP_FETCH_PROTOCOL] = "protocol",
        [HTTP_FETCH_BUSY] = "busy",
        [HTTP_FETCH_CANCELLED] = "cancelled",
    };
    if ((unsigned)s >= UTIL_ARRAY_LEN(names)) {
        return "unknown";
    }
    return names[s];
}

void http_fetch_result_free(struct http_fetch_result *res)
{
    if (res == NULL) {
        return;
    }
    /* Token responses carry tokens: wipe what we hold before handing it back. */
    if (res->body.p != NULL) {
        util_wipe(res->body.p, res->body.len);
    }
    buf_free(&res->body);
}

/* ---- checking the request ------------------------------------------------ */

/* A header value we put on the wire ourselves: bounded, no CR, LF, NUL or other control
 * byte (RFC 9110 section 5.5). */
static bool header_value_ok(const char *z)
{
    if (strlen(z) > FETCH_HEADER_VALUE_MAX) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)z; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static int check_req(const struct http_fetch_req *r, bool *post, struct err *e)
{
    if (r == NULL || r->url == NULL) {
        return err_set(e, 0, "fetch: no URL");
    }
    *post = false;
    if (r->method != NULL && strcmp(r->method, "POST") == 0) {
        *post = true;
    } else if (r->method != NULL && strcmp(r->method, "GET") != 0) {
        return err_set(e, 0, "fetch: method must be GET or POST");
    }
    if (!*post && r->body.n > 0) {
        return err_set(e, 0, "fetch: a GET request has no body");
    }
    if (r->timeout_ms < 0 || r->connect_timeout_ms < 0) {
        return err_set(e, 0, "fetch: negative timeout");
    }
    if ((r->accept != NULL && !header_value_ok(r->accept)) ||
        (r->content_type != NULL && !header_value_ok(r->content_type))) {
        return err_set(e, 0, "fetch: header value too long or with a control byte");
    }
    return 0;
}

static void fail(struct http_fetch_xfer *x, enum http_fetch_status st, const char *fmt, ...)
    UTIL_PRINTF(3, 4);

static void fail(struct http_fetch_xfer *x, enum http_fetch_status st, const char *fmt, ...)
{
    if (x->failed) {
        return;
    }
    x->failed = true;
    x->res.status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->res.error, sizeof(x->res.error), fmt, ap);
    va_end(ap);
}

void http_fetch_xfer_fail(struct http_fetch_xfer *x, enum http_fetch_status st, const char *msg_z)
{
    fail(x, st, "%s", msg_z);
}

/* Parses the URL with curl's own parser (the one the transfer will use) and keeps only
 * http/https URLs with a host and without credentials. Fills x->host and x->target. */
static int check_url(struct http_fetch_xfer *x, const char *url_z)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    int rc = -1;
    if (strlen(url_z) > HTTP_FETCH_MAX_URL) {
        fail(x, HTTP_FETCH_BAD_URL, "URL longer than %d bytes", HTTP_FETCH_MAX_URL);
        return -1;
    }
    x->url = curl_url();
    CURLUcode uc = curl_url_set(x->url, CURLUPART_URL, url_z, 0);
    if (uc != CURLUE_OK) {
        fail(x, HTTP_FETCH_BAD_URL, "malformed URL: %s", curl_url_strerror(uc));
        goto done;
    }
    if (curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        fail(x, HTTP_FETCH_BAD_URL, "only http:// and https:// URLs are allowed, not %.32s:",
             scheme != NULL ? scheme : "?");
        goto done;
    }
    /* A secret in the URL would travel to logs and Referer-like places: basic_user it is. */
    if (curl_url_get(x->url, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(x->url, CURLUPART_PASSWORD, &user, 0) == CURLUE_OK) {
        fail(x, HTTP_FETCH_BAD_URL, "credentials in the URL are refused");
        goto done;
    }
    if (curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
        curl_url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        fail(x, HTTP_FETCH_BAD_URL, "malformed URL: no host");
        goto done;
    }
    x->is_tls = strcmp(scheme, "https") == 0;
    snprintf(x->host, sizeof(x->host), "%s", host);
    snprintf(x->target, sizeof(x->target), "%s:%s", host, port);
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    return rc;
}

/* ---- building the easy handle ------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct http_fetch_xfer *x = arg;
    size_t n = size * nmemb;
    if (buf_append(&x->res.body, p, n) != 0) {
        x->too_big = true;
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static int add_header(struct http_fetch_xfer *x, const char *line_z)
{
    struct curl_slist *l = curl_slist_append(x->headers, line_z);
    if (l == NULL) {
        return -1;
    }
    x->headers = l;
    return 0;
}

/* RFC 6749 section 2.3.1: client_id and client_secret are form-urlencoded (Appendix B)
 * before they are joined by ':' and base64-encoded (RFC 7617), so that a ':' in the id
 * cannot shift the split. We encode everything but the unreserved characters, which every
 * decoder reads back the same way (a space becomes %20, never '+'). */
static int add_basic_auth(struct http_fetch_xfer *x, const char *user_z, const char *pass_z)
{
    struct buf pair, line;
    int rc = -1;
    buf_init(&pair, FETCH_CRED_MAX);
    buf_init(&line, FETCH_CRED_MAX * 2);
    if (http_url_encode(slice_z(user_z), &pair) != 0 || buf_append_c(&pair, ':') != 0 ||
        http_url_encode(slice_z(pass_z != NULL ? pass_z : ""), &pair) != 0) {
        goto done;
    }
    if (buf_append_z(&line, "Authorization: Basic ") != 0 ||
        b64_encode(pair.p, pair.len, &line) != 0) {
        goto done;
    }
    rc = add_header(x, line.p);
done:
    if (pair.p != NULL) {
        util_wipe(pair.p, pair.alloc);
    }
    if (line.p != NULL) {
        util_wipe(line.p, line.alloc);
    }
    buf_free(&pair);
    buf_free(&line);
    return rc;
}

static int add_headers(struct http_fetch_xfer *x, const struct http_fetch_req *r, bool post)
{
    char line[512];
    if (r->accept != NULL) {
        snprintf(line, sizeof(line), "Accept: %s", r->accept);
        if (add_header(x, line) != 0) {
            return -1;
        }
    }
    if (post && r->content_type != NULL) {
        snprintf(line, sizeof(line), "Content-Type: %s", r->content_type);
        if (add_header(x, line) != 0) {
            return -1;
        }
    }
    /* No "Expect: 100-continue" round trip for a small form (RFC 9110 section 10.1.1). */
    if (add_header(x, "Expect:") != 0) {
        return -1;
    }
    if (r->basic_user != NULL && add_basic_auth(x, r->basic_user, r->basic_password) != 0) {
        return -1;
    }
    return 0;
}

/* Every option that makes a transfer safe; a failure here means this libcurl cannot keep
 * one of the rules, so the request is not sent. */
static CURLcode set_options(struct http_fetch_xfer *x, const struct http_fetch_req *r, bool post)
{
    CURL *c = x->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK) {                                    \
            return rc;                                                                             \
        }                                                                                          \
    } while (0)
    SET(CURLOPT_CURLU, x->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (r->ca_file != NULL) {
        /* The file replaces the system store: a private IdP CA is then the only anchor. */
        SET(CURLOPT_CAINFO, r->ca_file);
        SET(CURLOPT_CAPATH, NULL);
    }
    SET(CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_USERAGENT, FETCH_USER_AGENT);
    SET(CURLOPT_HTTPHEADER, x->headers);
    if (post) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->post_len);
        SET(CURLOPT_POSTFIELDS, x->post);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
#undef SET
    return rc;
}

struct http_fetch_xfer *http_fetch_xfer_new(const struct http_fetch_req *r, http_fetch_done_fn done,
                                            void *arg, struct err *e)
{
    bool post = false;
    if (check_req(r, &post, e) != 0) {
        return NULL;
    }
    struct http_fetch_xfer *x = xcalloc(1, sizeof(*x));
    x->done = done;
    x->arg = arg;
    x->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : HTTP_FETCH_DEFAULT_TIMEOUT_MS;
    x->connect_timeout_ms =
        r->connect_timeout_ms > 0 ? r->connect_timeout_ms : HTTP_FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
    x->max_body = r->max_body > 0 ? r->max_body : HTTP_FETCH_DEFAULT_MAX_BODY;
    buf_init(&x->res.body, x->max_body);
    if (check_url(x, r->url) != 0) {
        return x;
    }
    if (post) {
        x->post_len = r->body.n;
        x->post = xmalloc(r->body.n + 1);
        if (r->body.n > 0) {
            memcpy(x->post, r->body.p, r->body.n);
        }
    }
    x->easy = curl_easy_init();
    if (x->easy == NULL || add_headers(x, r, post) != 0) {
        fail(x, HTTP_FETCH_PROTOCOL, "cannot set up the request to %s", x->target);
        goto cleanup;
    }
    CURLcode rc = set_options(x, r, post);
    if (rc != CURLE_OK) {
        fail(x, HTTP_FETCH_PROTOCOL, "libcurl refused an option: %s", curl_easy_strerror(rc));
        goto cleanup;
    }
    return x;
cleanup:
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    return x;
}

void *http_fetch_xfer_easy(struct http_fetch_xfer *x)
{
    return x->failed ? NULL : x->easy;
}

/* ---- the outcome --------------------------------------------------------- */

/* curl's own detail, or its generic text when the error buffer is empty. */
static const char *detail(const struct http_fetch_xfer *x, CURLcode rc)
{
    return x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
}

static void classify_connect(struct http_fetch_xfer *x, CURLcode rc)
{
    long os = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os);
    if (os == ECONNREFUSED) {
        fail(x, HTTP_FETCH_UNREACHABLE, "connection refused by %s", x->target);
    } else if (os == EHOSTUNREACH || os == ENETUNREACH) {
        fail(x, HTTP_FETCH_UNREACHABLE, "no route to %s", x->target);
    } else {
        fail(x, HTTP_FETCH_UNREACHABLE, "cannot connect to %s: %s", x->target, detail(x, rc));
    }
}

/* Which limit fired: the connect timeout covers DNS, TCP and the TLS handshake. */
static void classify_timeout(struct http_fetch_xfer *x)
{
    curl_off_t connect_us = 0, tls_us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    int connect_ms = UTIL_MIN(x->connect_timeout_ms, x->timeout_ms);
    if (connect_us == 0) {
        fail(x, HTTP_FETCH_TIMEOUT, "timed out after %d ms connecting to %s", connect_ms,
             x->target);
    } else if (x->is_tls && tls_us == 0) {
        fail(x, HTTP_FETCH_TIMEOUT, "timed out after %d ms in the TLS handshake with %s",
             connect_ms, x->target);
    } else {
        fail(x, HTTP_FETCH_TIMEOUT, "timed out after %d ms waiting for the response of %s",
             x->timeout_ms, x->target);
    }
}

/* A chain error from the handshake, as opposed to curl's host name check after it (which
 * leaves the verify result at "ok" or "unspecified"). */
static bool chain_error(long vr)
{
    return vr > X509_V_ERR_UNSPECIFIED && vr != X509_V_ERR_HOSTNAME_MISMATCH &&
           vr != X509_V_ERR_IP_ADDRESS_MISMATCH;
}

static void classify_tls(struct http_fetch_xfer *x, CURLcode rc)
{
    long vr = X509_V_OK;
    curl_easy_getinfo(x->easy, CURLINFO_SSL_VERIFYRESULT, &vr);
    if (rc == CURLE_PEER_FAILED_VERIFICATION && chain_error(vr)) {
        fail(x, HTTP_FETCH_TLS, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        /* The chain is trusted; what failed is the name check (RFC 6125). */
        fail(x, HTTP_FETCH_TLS, "certificate of %s does not match the host name %s", x->target,
             x->host);
    } else if (rc == CURLE_SSL_CACERT_BADFILE) {
        fail(x, HTTP_FETCH_TLS, "cannot use the CA file: %s", detail(x, rc));
    } else {
        fail(x, HTTP_FETCH_TLS, "TLS handshake with %s failed: %s", x->target, detail(x, rc));
    }
}

static void classify(struct http_fetch_xfer *x, CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        x->res.status = HTTP_FETCH_OK;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        fail(x, HTTP_FETCH_BAD_URL, "URL refused: %s", detail(x, rc));
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        fail(x, HTTP_FETCH_UNREACHABLE, "cannot resolve the host name %s", x->host);
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        fail(x, HTTP_FETCH_UNREACHABLE, "cannot resolve the proxy: %s", detail(x, rc));
        break;
    case CURLE_COULDNT_CONNECT:
        classify_connect(x, rc);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        classify_timeout(x);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_USE_SSL_FAILED:
        classify_tls(x, rc);
        break;
    case CURLE_FILESIZE_EXCEEDED:
        fail(x, HTTP_FETCH_TOO_BIG, "response body of %s larger than %zu bytes", x->target,
             x->max_body);
        break;
    case CURLE_WRITE_ERROR:
        if (x->too_big) {
            fail(x, HTTP_FETCH_TOO_BIG, "response body of %s larger than %zu bytes", x->target,
                 x->max_body);
        } else {
            fail(x, HTTP_FETCH_PROTOCOL, "%s", detail(x, rc));
        }
        break;
    case CURLE_GOT_NOTHING:
        fail(x, HTTP_FETCH_PROTOCOL, "%s closed the connection without a response", x->target);
        break;
    case CURLE_WEIRD_SERVER_REPLY:
        fail(x, HTTP_FETCH_PROTOCOL, "malformed HTTP response from %s: %s", x->target,
             detail(x, rc));
        break;
    default:
        fail(x, HTTP_FETCH_PROTOCOL, "request to %s failed: %s", x->target, detail(x, rc));
        break;
    }
}

/* Status code, Content-Type and Date of the last response head, when one arrived. */
static void read_head(struct http_fetch_xfer *x)
{
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    x->res.http_status = code;
    if (code == 0) {
        return;
    }
    char *ct = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL) {
        snprintf(x->res.content_type, sizeof(x->res.content_type), "%s", ct);
    }
    /* RFC 9110 section 6.6.1; curl_getdate reads the IMF-fixdate and the obsolete forms. */
    struct curl_header *h = NULL;
    if (curl_easy_header(x->easy, "Date", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        time_t t = curl_getdate(h->value, NULL);
        x->res.date = t > 0 ? (int64_t)t : 0;
    }
}

static void xfer_free(struct http_fetch_xfer *x)
{
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
    }
    curl_url_cleanup(x->url);
    for (struct curl_slist *l = x->headers; l != NULL; l = l->next) {
        util_wipe(l->data, strlen(l->data)); /* the Authorization line */
    }
    curl_slist_free_all(x->headers);
    if (x->post != NULL) {
        util_wipe(x->post, x->post_len);
        free(x->post);
    }
    http_fetch_result_free(&x->res);
    free(x);
}

void http_fetch_xfer_finish(struct http_fetch_xfer *x, int curl_code)
{
    if (!x->failed && x->easy != NULL) {
        read_head(x);
        classify(x, (CURLcode)curl_code);
    }
    x->done(&x->res, x->arg);
    xfer_free(x);
}

/* ---- the blocking variant ------------------------------------------------ */

struct fetch_sync {
    struct event_base *base;
    struct http_fetch_result *out;
};

static void sync_done(struct http_fetch_result *res, void *arg)
{
    struct fetch_sync *s = arg;
    *s->out = *res;
    buf_init(&res->body, 0); /* the body moves to the caller */
    event_base_loopbreak(s->base);
}

int http_fetch_sync(const struct http_fetch_req *r, struct http_fetch_result *res)
{
    struct err e = {0};
    memset(res, 0, sizeof(*res));
    buf_init(&res->body, 0);
    /* Until done says otherwise: a loop that ended without an outcome is an error. */
    res->status = HTTP_FETCH_PROTOCOL;
    snprintf(res->error, sizeof(res->error), "the request ended without an outcome");
    struct fetch_sync s = {.base = event_base_new(), .out = res};
    if (s.base == NULL) {
        snprintf(res->error, sizeof(res->error), "cannot create an event loop");
        return -1;
    }
    if (http_fetch_start(s.base, r, sync_done, &s, &e) != 0) {
        snprintf(res->error, sizeof(res->error), "%s", e.msg);
    } else {
        event_base_dispatch(s.base);
    }
    http_fetch_loop_free(s.base);
    event_base_free(s.base);
    return res->status == HTTP_FETCH_OK ? 0 : -1;
}
