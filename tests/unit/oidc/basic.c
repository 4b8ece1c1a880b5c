/*
 * Unit tests of src/oidc/basic.c: client_secret_basic (RFC 6749 2.3.1): the id and the secret
 * are form-urlencoded inside the Basic credentials.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oidc/oidc.h"

/* Encodes "id:secret" as a Basic header value. */
static char *basic(const char *creds)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_append_z(&b, "Basic ");
    assert_int_equal(b64_encode(creds, strlen(creds), &b), 0);
    return buf_steal(&b, NULL);
}

static void expect(const char *header, const char *want_id, const char *want_secret)
{
    char *id = (char *)1, *secret = (char *)1;
    int rc = oidc_basic_decode(slice_z(header), &id, &secret);
    if (want_id == NULL) {
        assert_int_equal(rc, -1);
        assert_null(id);
        assert_null(secret);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(id, want_id);
    assert_string_equal(secret, want_secret);
    free(id);
    util_free_secret(secret);
}

static void expect_creds(const char *creds, const char *want_id, const char *want_secret)
{
    char *h = basic(creds);
    expect(h, want_id, want_secret);
    free(h);
}

static void test_plain_credentials(void **state)
{
    (void)state;
    expect_creds("cf-client:cf-secret-0123456789", "cf-client", "cf-secret-0123456789");
    expect("Basic Y2YtY2xpZW50OmNmLXNlY3JldA==", "cf-client", "cf-secret");
    expect("basic Y2YtY2xpZW50OmNmLXNlY3JldA==", "cf-client", "cf-secret");
    expect("BASIC   Y2YtY2xpZW50OmNmLXNlY3JldA==", "cf-client", "cf-secret");
    /* A public client's empty secret. */
    expect_creds("pub:", "pub", "");
}

static void test_form_urlencoded_inside(void **state)
{
    (void)state;
    /* RFC 6749 2.3.1 / Appendix B: ':' in an id is %3A; the first raw ':' separates. */
    expect_creds("a%3Ab:c%3Ad", "a:b", "c:d");
    expect_creds("id:s%25e+c%2Br%26et", "id", "s%e c+r&et");
    expect_creds("id:p:q", "id", "p:q"); /* a raw ':' inside the secret stays */
    expect_creds("caf%C3%A9:x", "caf\xc3\xa9", "x");
    /* Bad escapes and NUL refuse the whole header. */
    expect_creds("id:%zz", NULL, NULL);
    expect_creds("id:%4", NULL, NULL);
    expect_creds("id%00x:y", NULL, NULL);
    expect_creds("id:y%00", NULL, NULL);
}

static void test_malformed(void **state)
{
    (void)state;
    expect("", NULL, NULL);
    expect("Basic", NULL, NULL);
    expect("Basic ", NULL, NULL);
    expect("Bearer Y2YtY2xpZW50OmNmLXNlY3JldA==", NULL, NULL);
    expect("BasicY2YtY2xpZW50OmNmLXNlY3JldA==", NULL, NULL);
    expect("Basic Y2YtY2xpZW50OmNmLXNlY3JldA", NULL, NULL);   /* padding missing */
    expect("Basic Y2YtY2xpZW50OmNmLXNlY3JldA=!", NULL, NULL); /* not base64 */
    expect("Basic Y2YtY2xpZW50-mNmLXNlY3JldA==", NULL, NULL); /* base64url is not base64 */
    expect_creds("no-colon", NULL, NULL);
    expect_creds(":secret", NULL, NULL); /* empty id */
    char *big = xmalloc(OIDC_BASIC_MAX + 16);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', OIDC_BASIC_MAX);
    big[OIDC_BASIC_MAX + 6] = '\0';
    expect(big, NULL, NULL);
    free(big);
}

static void test_form_decode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 16);
    assert_int_equal(oidc_form_decode(SLICE_LIT("a+b%2b%2F"), &b), 0);
    assert_string_equal(b.p, "a b+/");
    buf_reset(&b);
    assert_int_equal(oidc_form_decode(SLICE_LIT("%"), &b), -1);
    buf_reset(&b);
    assert_int_equal(oidc_form_decode(SLICE_LIT("0123456789abcdefg"), &b), -1); /* cap */
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_credentials),
        cmocka_unit_test(test_form_urlencoded_inside),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_form_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
