/*
 * cidr.c: IPv4 and IPv6 ranges (RFC 4632 section 3.1, RFC 4291 section 2.3) for the
 * ip_ranges selector, and the client address they are matched against.
 *
 * Decisions: a bare address is a /32 or /128 range; bits set after the prefix
 * ("10.1.2.3/8") are refused rather than masked, because the operator may have meant the
 * single address, and a silently widened range is an access-control bug; IPv4-mapped IPv6
 * ranges (::ffff:0:0/96) are refused too (write them as IPv4): a mapped client address is
 * matched as the IPv4 address it carries, and an IPv6 range never matches an IPv4 client.
 */
#include "access/access.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Longest text accepted before the '/': an IPv6 address with an embedded IPv4 part. */
#define CIDR_ADDR_TEXT_MAX INET6_ADDRSTRLEN

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int addr_parse(struct slice s, struct access_ip *out)
{
    char z[CIDR_ADDR_TEXT_MAX + 1];
    if (s.n == 0 || s.n > CIDR_ADDR_TEXT_MAX || memchr(s.p, '\0', s.n) != NULL) {
        return -1;
    }
    memcpy(z, s.p, s.n);
    z[s.n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, z, out->addr) == 1) {
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, z, out->addr) == 1) {
        out->family = 6;
        return 0;
    }
    return -1;
}

/* Decimal without sign, spaces or leading zeros ("/08" is refused: not canonical). */
static int prefix_parse(struct slice s, uint64_t max, uint64_t *out)
{
    if (s.n > 1 && s.p[0] == '0') {
        return -1;
    }
    return util_parse_u64(s, max, out);
}

/* The bits of byte i that belong to a /bits prefix. */
static uint8_t prefix_mask(size_t i, unsigned bits)
{
    size_t first = i * 8;
    if (first >= bits) {
        return 0;
    }
    return first + 8 <= bits ? 0xff : (uint8_t)(0xff << (8 - (bits - first)));
}

static bool host_bits_zero(const struct access_cidr *c)
{
    for (size_t i = 0; i < (c->family == 4 ? 4u : 16u); i++) {
        if ((c->addr[i] & (uint8_t)~prefix_mask(i, c->bits)) != 0) {
            return false;
        }
    }
    return true;
}

static void mask(struct access_cidr *c)
{
    for (size_t i = 0; i < (c->family == 4 ? 4u : 16u); i++) {
        c->addr[i] &= prefix_mask(i, c->bits);
    }
}

int access_cidr_parse(struct slice s, struct access_cidr *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    const char *slash = memchr(s.p, '/', s.n);
    struct slice a = {s.p, slash != NULL ? (size_t)(slash - s.p) : s.n};
    struct access_ip ip;
    if (addr_parse(a, &ip) != 0) {
        return err_set(e, 0, "not an IPv4/IPv6 CIDR");
    }
    out->family = ip.family;
    memcpy(out->addr, ip.addr, sizeof out->addr);
    if (out->family == 6 && memcmp(out->addr, v4_mapped_prefix, 12) == 0) {
        memset(out, 0, sizeof *out);
        return err_set(e, 0, "an IPv4-mapped IPv6 range: write it as an IPv4 range");
    }
    uint64_t max = out->family == 4 ? 32 : 128;
    uint64_t bits = max;
    if (slash != NULL) {
        struct slice p = {slash + 1, s.n - a.n - 1};
        if (prefix_parse(p, UINT64_MAX, &bits) != 0) {
            memset(out, 0, sizeof *out);
            return err_set(e, 0, "not an IPv4/IPv6 CIDR");
        }
        if (bits > max) {
            memset(out, 0, sizeof *out);
            return err_set(e, 0, "prefix length above %u for an IPv%u range", (unsigned)max,
                           (unsigned)ip.family);
        }
    }
    out->bits = (uint8_t)bits;
    if (!host_bits_zero(out)) {
        struct access_cidr net = *out;
        char t[ACCESS_CIDR_TEXT_MAX];
        mask(&net);
        access_cidr_format(&net, t);
        memset(out, 0, sizeof *out);
        return err_set(e, 0,
                       "bits set after the prefix length (the network is %s; a single "
                       "address is written without /)",
                       t);
    }
    return 0;
}

void access_cidr_format(const struct access_cidr *c, char out[ACCESS_CIDR_TEXT_MAX])
{
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof a) == NULL) {
        snprintf(out, ACCESS_CIDR_TEXT_MAX, "?");
        return;
    }
    snprintf(out, ACCESS_CIDR_TEXT_MAX, "%s/%u", a, (unsigned)c->bits);
}

int access_ip_parse(const char *z, struct access_ip *out)
{
    if (z == NULL || addr_parse(slice_z(z), out) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    /* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket (RFC 4291 2.5.5.2). */
    if (out->family == 6 && memcmp(out->addr, v4_mapped_prefix, 12) == 0) {
        uint8_t v4[4];
        memcpy(v4, out->addr + 12, 4);
        memset(out->addr, 0, sizeof out->addr);
        memcpy(out->addr, v4, 4);
        out->family = 4;
    }
    return 0;
}

bool access_cidr_contains(const struct access_cidr *c, const struct access_ip *ip)
{
    if (c->family != ip->family || (c->family != 4 && c->family != 6)) {
        return false;
    }
    for (size_t i = 0; i < (c->family == 4 ? 4u : 16u); i++) {
        uint8_t m = prefix_mask(i, c->bits);
        if ((c->addr[i] & m) != (ip->addr[i] & m)) {
            return false;
        }
    }
    return true;
}
