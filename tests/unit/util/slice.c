#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/util.h"

#define U8(lit) ((struct slice){(lit), sizeof(lit) - 1})

static void utf8_accepts_well_formed(void **state)
{
    (void)state;
    assert_true(slice_utf8_valid(U8("")));
    assert_true(slice_utf8_valid(U8("alice@example.com")));
    assert_true(slice_utf8_valid(U8("J\xc3\xbcrgen")));    /* U+00FC */
    assert_true(slice_utf8_valid(U8("\xe2\x82\xac")));     /* U+20AC */
    assert_true(slice_utf8_valid(U8("\xef\xbf\xbf")));     /* U+FFFF */
    assert_true(slice_utf8_valid(U8("\xf0\x9f\x94\x91"))); /* U+1F511 */
    assert_true(slice_utf8_valid(U8("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
    assert_true(slice_utf8_valid(U8("a\0b")));             /* NUL is ASCII */
}

static void utf8_refuses_malformed(void **state)
{
    (void)state;
    assert_false(slice_utf8_valid(U8("\x80")));             /* lone continuation */
    assert_false(slice_utf8_valid(U8("\xc3")));             /* truncated */
    assert_false(slice_utf8_valid(U8("\xc3(")));            /* bad continuation */
    assert_false(slice_utf8_valid(U8("\xc0\xaf")));         /* overlong '/' */
    assert_false(slice_utf8_valid(U8("\xc1\xbf")));         /* overlong */
    assert_false(slice_utf8_valid(U8("\xe0\x80\xaf")));     /* overlong '/' */
    assert_false(slice_utf8_valid(U8("\xed\xa0\x80")));     /* surrogate U+D800 */
    assert_false(slice_utf8_valid(U8("\xf0\x80\x80\xaf"))); /* overlong */
    assert_false(slice_utf8_valid(U8("\xf4\x90\x80\x80"))); /* U+110000 */
    assert_false(slice_utf8_valid(U8("\xf5\x80\x80\x80")));
    assert_false(slice_utf8_valid(U8("\xff")));
    assert_false(slice_utf8_valid(U8("\xe2\x82")));     /* truncated at the end */
    assert_false(slice_utf8_valid(U8("\xe2\x82\x41"))); /* bad third byte */
    assert_false(slice_utf8_valid(U8("ok\xf0\x9f\x94")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_accepts_well_formed),
        cmocka_unit_test(utf8_refuses_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
