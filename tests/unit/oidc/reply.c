/*
 * Unit tests of src/oidc/reply.c's failure answers and src/oidc/cache.c's stale documents
 * (issue 6): an unreachable store is a 503 with Retry-After and temporarily_unavailable (or
 * the "Temporarily unavailable" page), anything else a 500; the discovery and JWKS documents
 * outlive the store's absence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "keys/keys.h"
#include "oidc/oidc_int.h"
#include "store/store.h"

static struct oidc_reply fresh(void)
{
    struct oidc_reply r;
    memset(&r, 0, sizeof r);
    buf_init(&r.body, WEB_PAGE_MAX);
    return r;
}

static const char *header(const struct oidc_reply *r, const char *name_z)
{
    for (size_t i = 0; i < r->nhdr; i++) {
        if (strcmp(r->hname[i], name_z) == 0) {
            return r->hvalue[i];
        }
    }
    return NULL;
}

/* The JSON body's member name_z (a string), copied into out. */
static void member(const struct oidc_reply *r, const char *name_z, char *out, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb(r->body.p, r->body.len, 0, &je);
    assert_non_null(j);
    const char *v = json_string_value(json_object_get(j, name_z));
    snprintf(out, n, "%s", v ? v : "");
    json_decref(j);
}

static bool body_has(const struct oidc_reply *r, const char *needle_z)
{
    size_t n = strlen(needle_z);
    for (size_t i = 0; i + n <= r->body.len; i++) {
        if (memcmp(r->body.p + i, needle_z, n) == 0) {
            return true;
        }
    }
    return false;
}

static void test_unavailable_store_is_503(void **state)
{
    (void)state;
    const int codes[] = {STORE_E_IO, STORE_E_BUSY};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct err e = {0};
        err_set(&e, codes[i], "postgres: cannot connect: connection refused");
        struct oidc_reply r = fresh();
        oidc_reply_failure(&r, "token", &e);
        assert_int_equal(r.status, 503);
        assert_string_equal(r.content_type, "application/json");
        assert_non_null(header(&r, "Retry-After"));
        assert_string_equal(header(&r, "Retry-After"), WEB_UNAVAILABLE_RETRY_S);
        char v[256];
        member(&r, "error", v, sizeof v);
        assert_string_equal(v, "temporarily_unavailable");
        member(&r, "error_description", v, sizeof v);
        assert_string_equal(v, OIDC_UNAVAILABLE_DESC);
        /* The store's message is for the operator's log only. */
        assert_false(body_has(&r, "connection refused"));
        oidc_reply_free(&r);
    }
}

static void test_other_failures_are_500(void **state)
{
    (void)state;
    /* Other store errors, another module's code with the same small number as a store
     * code would have had (keys), no code at all, no err. */
    const int codes[] = {STORE_E_INTERNAL, STORE_E_CONSTRAINT, STORE_E_TOO_BIG, KEYS_E_IO, 0};
    for (size_t i = 0; i <= sizeof codes / sizeof codes[0]; i++) {
        struct err e = {0};
        struct oidc_reply r = fresh();
        if (i < sizeof codes / sizeof codes[0]) {
            err_set(&e, codes[i], "secret detail");
            oidc_reply_failure(&r, "token", &e);
        } else {
            oidc_reply_failure(&r, "token", NULL);
        }
        assert_int_equal(r.status, 500);
        assert_null(header(&r, "Retry-After"));
        char v[64];
        member(&r, "error", v, sizeof v);
        assert_string_equal(v, "server_error");
        assert_false(body_has(&r, "secret detail"));
        oidc_reply_free(&r);
    }
    assert_false(oidc_failure_log("x", NULL));
}

static void test_failure_pages(void **state)
{
    (void)state;
    struct err e = {0};
    struct web *w = web_new(NULL, &e);
    assert_non_null(w);
    struct oidc o;
    memset(&o, 0, sizeof o);
    o.web = w;

    struct oidc_reply r = fresh();
    err_set(&e, STORE_E_IO, "postgres: the server is unreachable (retrying)");
    oidc_reply_failure_page(&r, &o, "authorize", &e);
    assert_int_equal(r.status, 503);
    assert_true(r.page);
    assert_string_equal(header(&r, "Retry-After"), WEB_UNAVAILABLE_RETRY_S);
    assert_true(body_has(&r, WEB_UNAVAILABLE_TITLE));
    assert_true(body_has(&r, "Postern cannot reach its database."));
    assert_false(body_has(&r, "unreachable (retrying)"));
    oidc_reply_free(&r);

    r = fresh();
    err_set(&e, STORE_E_INTERNAL, "postgres: syntax error");
    oidc_reply_failure_page(&r, &o, "authorize", &e);
    assert_int_equal(r.status, 500);
    assert_null(header(&r, "Retry-After"));
    assert_true(body_has(&r, "Something went wrong"));
    assert_false(body_has(&r, WEB_UNAVAILABLE_TITLE));
    oidc_reply_free(&r);
    web_free(w);
}

static void test_stale_documents(void **state)
{
    (void)state;
    struct oidc_cache *c = oidc_cache_new();
    struct oidc_reply r = fresh();
    /* Nothing built yet for the slug: nothing to serve. */
    assert_false(oidc_cache_stale(c, "app", OIDC_META_JWKS, &r));
    assert_int_equal(r.status, 0);

    struct buf docs[OIDC_META_KINDS];
    buf_init(&docs[OIDC_META_DISCOVERY], OIDC_JSON_MAX);
    buf_init(&docs[OIDC_META_JWKS], OIDC_JSON_MAX);
    buf_append_z(&docs[OIDC_META_DISCOVERY], "{\"issuer\":\"https://a/\"}");
    buf_append_z(&docs[OIDC_META_JWKS], "{\"keys\":[]}");
    oidc_cache_put(c, "app", oidc_cache_generation(), docs);
    /* An invalidation (say, a key changed) makes them stale, not gone: while the store cannot
     * be reached, the last documents are better than none. */
    oidc_cache_invalidate();
    assert_false(oidc_cache_stale(c, "other", OIDC_META_JWKS, &r));
    assert_true(oidc_cache_stale(c, "app", OIDC_META_JWKS, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.body.len, strlen("{\"keys\":[]}"));
    assert_memory_equal(r.body.p, "{\"keys\":[]}", r.body.len);
    char etag[40];
    oidc_etag(r.body.p, r.body.len, etag);
    assert_string_equal(header(&r, "ETag"), etag);
    assert_non_null(header(&r, "Cache-Control"));
    oidc_reply_free(&r);

    r = fresh();
    assert_true(oidc_cache_stale(c, "app", OIDC_META_DISCOVERY, &r));
    assert_memory_equal(r.body.p, "{\"issuer\":\"https://a/\"}", r.body.len);
    oidc_reply_free(&r);
    buf_free(&docs[0]);
    buf_free(&docs[1]);
    oidc_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable_store_is_503),
        cmocka_unit_test(test_other_failures_are_500),
        cmocka_unit_test(test_failure_pages),
        cmocka_unit_test(test_stale_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
