/* base64 and base64url: RFC 4648 section 10 vectors, and the strictness that JOSE relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void check_url(const char *raw, const char *enc)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(b64url_encode(raw, strlen(raw), &b), 0);
    assert_string_equal(b.p ? b.p : "", enc);
    assert_int_equal(b64url_encoded_len(strlen(raw)), strlen(enc));
    buf_reset(&b);
    assert_int_equal(b64url_decode(slice_z(enc), &b), 0);
    assert_int_equal(b.len, strlen(raw));
    assert_memory_equal(b.p ? b.p : "", raw, b.len);
    buf_free(&b);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    check_url("", "");
    check_url("f", "Zg");
    check_url("fo", "Zm8");
    check_url("foo", "Zm9v");
    check_url("foob", "Zm9vYg");
    check_url("fooba", "Zm9vYmE");
    check_url("foobar", "Zm9vYmFy");
}

static void test_std_padding(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(b64_encode("fo", 2, &b), 0);
    assert_string_equal(b.p, "Zm8=");
    buf_reset(&b);
    assert_int_equal(b64_decode(slice_z("Zm8="), &b), 0);
    assert_string_equal(b.p, "fo");
    buf_reset(&b);
    assert_int_equal(b64_decode(slice_z("Zm8"), &b), -1);   /* padding required */
    assert_int_equal(b64_decode(slice_z("Zm8=="), &b), -1);  /* wrong length */
    assert_int_equal(b64_decode(slice_z("Z==="), &b), -1);
    assert_int_equal(b64_decode(slice_z("+/+/"), &b), 0);
    buf_free(&b);
}

static void test_url_strict(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(b64url_decode(slice_z("Zm8="), &b), -1); /* no padding in base64url */
    assert_int_equal(b64url_decode(slice_z("Zm+v"), &b), -1); /* standard alphabet */
    assert_int_equal(b64url_decode(slice_z("Zm9"), &b), -1);  /* non-zero trailing bits */
    assert_int_equal(b64url_decode(slice_z("Z"), &b), -1);    /* impossible length */
    assert_int_equal(b64url_decode(slice_z("Zm 8"), &b), -1);
    assert_int_equal(b64url_decode(slice_z("-_-_"), &b), 0);
    assert_int_equal(b.len, 3);
    buf_free(&b);
}

static void test_cap_respected(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 3);
    assert_int_equal(b64url_encode("foo", 3, &b), -1); /* needs 4 */
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_hex(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(hex_encode("\x00\xff\x10", 3, &b), 0);
    assert_string_equal(b.p, "00ff10");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors), cmocka_unit_test(test_std_padding),
        cmocka_unit_test(test_url_strict),      cmocka_unit_test(test_cap_respected),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
