/*
 * Unit tests of src/access/cidr.c: IPv4/IPv6 ranges for the ip_ranges selector and the client
 * addresses matched against them (RFC 4632 3.1, RFC 4291 2.3 and 2.5.5.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "access/access.h"

static struct access_cidr cidr(const char *z)
{
    struct access_cidr c;
    struct err e = {0};
    if (access_cidr_parse(slice_z(z), &c, &e) != 0) {
        fail_msg("%s: %s", z, e.msg);
    }
    return c;
}

static bool contains(const char *range, const char *ip_z)
{
    struct access_cidr c = cidr(range);
    struct access_ip ip;
    assert_int_equal(access_ip_parse(ip_z, &ip), 0);
    return access_cidr_contains(&c, &ip);
}

static void assert_format(const char *in, const char *want)
{
    struct access_cidr c = cidr(in);
    char t[ACCESS_CIDR_TEXT_MAX];
    access_cidr_format(&c, t);
    assert_string_equal(t, want);
}

static void assert_refused(const char *in, const char *msg)
{
    struct access_cidr c;
    struct err e = {0};
    assert_int_equal(access_cidr_parse(slice_z(in), &c, &e), -1);
    assert_string_equal(e.msg, msg);
    assert_int_equal(c.family, 0); /* nothing half-filled */
}

static void test_parse_and_format(void **state)
{
    (void)state;
    assert_format("10.0.0.0/8", "10.0.0.0/8");
    assert_format("192.0.2.7", "192.0.2.7/32");
    assert_format("0.0.0.0/0", "0.0.0.0/0");
    assert_format("2001:db8::/32", "2001:db8::/32");
    assert_format("2001:DB8:0:0::/48", "2001:db8::/48");
    assert_format("::1", "::1/128");
    assert_format("::/0", "::/0");
    assert_format("192.0.2.128/25", "192.0.2.128/25");
    struct access_cidr c = cidr("2001:db8::/32");
    assert_int_equal(c.family, 6);
    assert_int_equal(c.bits, 32);
    c = cidr("10.0.0.0/8");
    assert_int_equal(c.family, 4);
    assert_int_equal(c.bits, 8);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0/8",
        "10.0.0.0.0/8",
        "256.0.0.0",
        "010.0.0.1",
        "10.0.0.1/08",
        "10.0.0.0/+8",
        "10.0.0.0/-1",
        " 10.0.0.0",
        "10.0.0.0 ",
        "10.0.0.0/8 ",
        "10.0.0.0//8",
        "10.0.0.0/8/8",
        "fe80::1%eth0",
        "2001:db8:::/32",
        "2001:db8::g/32",
        "example.com",
        "10.0.0.0/8x",
        "10.0.0.0/99999999999999999999999",
        "1",
        "0x0a.0.0.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_refused(bad[i], "not an IPv4/IPv6 CIDR");
    }
    /* A NUL inside the slice is not the end of the text. */
    struct access_cidr c;
    struct err e = {0};
    assert_int_equal(access_cidr_parse((struct slice){"10.0.0.0\0/8", 11}, &c, &e), -1);
}

static void test_prefix_bounds(void **state)
{
    (void)state;
    assert_format("10.0.0.1/32", "10.0.0.1/32");
    assert_refused("10.0.0.0/33", "prefix length above 32 for an IPv4 range");
    assert_format("2001:db8::1/128", "2001:db8::1/128");
    assert_refused("2001:db8::/129", "prefix length above 128 for an IPv6 range");
}

/* Decision: host bits set are refused (not masked), with the network in the message. */
static void test_host_bits_refused(void **state)
{
    (void)state;
    assert_refused("10.1.2.3/8", "bits set after the prefix length (the network is 10.0.0.0/8; "
                                 "a single address is written without /)");
    assert_refused("192.0.2.129/25", "bits set after the prefix length (the network is "
                                     "192.0.2.128/25; a single address is written without /)");
    assert_refused("2001:db8::1/32", "bits set after the prefix length (the network is "
                                     "2001:db8::/32; a single address is written without /)");
    assert_refused("1.0.0.0/0", "bits set after the prefix length (the network is 0.0.0.0/0; a "
                                "single address is written without /)");
}

static void test_mapped_ranges_refused(void **state)
{
    (void)state;
    assert_refused("::ffff:10.0.0.0/104", "an IPv4-mapped IPv6 range: write it as an IPv4 range");
    assert_refused("::ffff:0:0/96", "an IPv4-mapped IPv6 range: write it as an IPv4 range");
}

static void test_contains(void **state)
{
    (void)state;
    assert_true(contains("10.0.0.0/8", "10.0.0.0"));
    assert_true(contains("10.0.0.0/8", "10.255.255.255"));
    assert_false(contains("10.0.0.0/8", "11.0.0.0"));
    assert_false(contains("10.0.0.0/8", "9.255.255.255"));
    assert_true(contains("192.0.2.128/25", "192.0.2.200"));
    assert_false(contains("192.0.2.128/25", "192.0.2.127"));
    assert_true(contains("192.0.2.7", "192.0.2.7"));
    assert_false(contains("192.0.2.7", "192.0.2.6"));
    assert_false(contains("192.0.2.7/32", "192.0.2.8"));
    /* /0 is every address of its family, and only of its family. */
    assert_true(contains("0.0.0.0/0", "1.2.3.4"));
    assert_true(contains("0.0.0.0/0", "255.255.255.255"));
    assert_false(contains("0.0.0.0/0", "::1"));
    assert_true(contains("::/0", "2001:db8::1"));
    assert_false(contains("::/0", "1.2.3.4"));
    /* /128 and odd IPv6 prefixes. */
    assert_true(contains("2001:db8::1/128", "2001:db8::1"));
    assert_false(contains("2001:db8::1/128", "2001:db8::2"));
    assert_true(contains("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(contains("2001:db8::/32", "2001:db9::1"));
    assert_true(contains("2001:db8:8000::/33", "2001:db8:ffff::"));
    assert_false(contains("2001:db8:8000::/33", "2001:db8:7fff::"));
}

static void test_mapped_clients_match_v4(void **state)
{
    (void)state;
    struct access_ip ip;
    assert_int_equal(access_ip_parse("::ffff:10.1.2.3", &ip), 0);
    assert_int_equal(ip.family, 4);
    assert_true(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
    assert_true(contains("10.1.2.3", "::FFFF:10.1.2.3"));
    assert_false(contains("11.0.0.0/8", "::ffff:10.1.2.3"));
    /* ...and no longer as IPv6: a v6 range never matches a v4 client, even ::/0. */
    assert_false(contains("::/0", "::ffff:10.1.2.3"));
    /* Other embeddings are plain IPv6: the deprecated IPv4-compatible form, NAT64. */
    assert_false(contains("10.0.0.0/8", "::10.1.2.3"));
    assert_false(contains("10.0.0.0/8", "64:ff9b::10.1.2.3"));
    assert_true(contains("64:ff9b::/96", "64:ff9b::10.1.2.3"));
}

static void test_v4_never_matches_v6(void **state)
{
    (void)state;
    /* The same 4 leading bytes in both families. */
    assert_false(contains("10.0.0.0/8", "a00::1"));
    assert_false(contains("a00::/8", "10.0.0.1"));
    struct access_cidr c = {0}; /* a zeroed range (family 0) matches nothing */
    struct access_ip ip;
    assert_int_equal(access_ip_parse("0.0.0.0", &ip), 0);
    assert_false(access_cidr_contains(&c, &ip));
}

static void test_client_ip_malformed(void **state)
{
    (void)state;
    struct access_ip ip;
    const char *bad[] = {"",      "localhost", "10.0.0.1/32", "10.0.0.1:80",
                         "[::1]", "::1%lo",    "10.0.0",      " 10.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(access_ip_parse(bad[i], &ip), -1);
        assert_int_equal(ip.family, 0);
    }
    assert_int_equal(access_ip_parse(NULL, &ip), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_prefix_bounds),           cmocka_unit_test(test_host_bits_refused),
        cmocka_unit_test(test_mapped_ranges_refused),   cmocka_unit_test(test_contains),
        cmocka_unit_test(test_mapped_clients_match_v4), cmocka_unit_test(test_v4_never_matches_v6),
        cmocka_unit_test(test_client_ip_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
