/* Tests of src/idp/redirect.c: `next` accepts only relative paths on our origin, and the
 * login URL. The payloads of tests/vectors/redirect/open-redirect.txt must all be refused. */
#include "helpers.h"

#include <ctype.h>

#define MAX_LINE 8192

static void payload_list(void **state)
{
    const char *dir = getenv("IDP_VECTORS");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/open-redirect.txt", dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char line[MAX_LINE];
    size_t n = 0, refused = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        n++;
        if (idp_next_ok(line)) {
            fail_msg("accepted payload %zu: [%s]", n, line);
        }
        refused++;
        /* the fallback is our root */
        assert_string_equal(idp_next_or_root(line), "/");
        /* and each payload also fails when it arrives behind a valid path prefix that a
         * naive "starts with /" check would take, or once more percent-encoded */
        struct buf b;
        buf_init(&b, 3 * MAX_LINE);
        buf_append_z(&b, "/");
        http_url_encode(slice_z(line), &b);
        /* "/" + encoded payload stays on our origin only if its decoded path has no "//" */
        if (idp_next_ok(b.p)) {
            assert_null(strstr(line, "//"));
            assert_null(strchr(line, '\\'));
        }
        buf_free(&b);
    }
    fclose(fp);
    print_message("# %zu payloads, %zu refused\n", n, refused);
    assert_true(n >= 200);
}

/* Shapes written here because they cannot stand in a line-based file, or are edge cases. */
static void control_bytes(void **state)
{
    const char *bad[] = {"/\r/evil.com",   "/\n/evil.com",
                         "/\r\n/evil.com", "\r//evil.com",
                         "/\v/evil.com",   "/\f/evil.com",
                         "/\x1f/evil.com", "/\x7f/evil.com",
                         "/\x80/evil.com", "/\xff/evil.com",
                         "/ok\x01",        "/ok?x=\x01",
                         "/ok#\n",         NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_false(idp_next_ok(bad[i]));
    }
    assert_false(idp_next_ok(NULL));
    assert_false(idp_next_ok(""));
    char big[IDP_NEXT_MAX + 2];
    big[0] = '/';
    memset(big + 1, 'a', IDP_NEXT_MAX);
    big[IDP_NEXT_MAX] = '\0';
    assert_true(idp_next_ok(big)); /* exactly the limit */
    big[IDP_NEXT_MAX] = 'a';
    big[IDP_NEXT_MAX + 1] = '\0';
    assert_false(idp_next_ok(big));
}

static void valid_next(void **state)
{
    const char *good[] = {
        "/",
        "/application/o/authorize/?client_id=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb"
        "&response_type=code&scope=openid%20email&state=xyz&nonce=n-0S6_WzA2Mj",
        "/application/o/authorize/?redirect_uri=https://app.example.com/cb", /* "//" in a query */
        "/if/flow/default-authentication-flow/?next=%2F",
        "/a/b/c",
        "/a.b/c-d_e~f",
        "/path;param=1",
        "/@evil.com", /* a path on our origin, however it looks */
        "/evil.com",
        "/%40evil.com",
        "/https:evil.com",
        "/a?next=//evil.com", /* data in our query */
        "/a#//evil.com",
        "/100%25", /* a literal '%' once decoded: nothing more to undo */
        "/?",
        "/#",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
        if (!idp_next_ok(good[i])) {
            fail_msg("refused %s", good[i]);
        }
        assert_ptr_equal(idp_next_or_root(good[i]), good[i]);
    }
    /* decoded non-ASCII in the path is refused (look-alikes of '/'), and a %-escape must be
     * well-formed */
    const char *bad[] = {"/caf%C3%A9",
                         "/%",
                         "/%2",
                         "/%zz",
                         "/a%2",
                         "/a?b=%",
                         "/%%32%46",
                         "/%2e%2e%2F%2Fevil",
                         "/%252e%252e%252F%252Fevil",
                         "/caf%25C3%25A9x"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        if (idp_next_ok(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

/* An independent model of what a browser could make of an accepted `next`: strip TAB/CR/LF
 * (WHATWG URL), turn '\\' into '/', then percent-decode the path again and again (as a
 * careless later component might). Each stage must still start with one '/' only. */
static bool model_stays_home(const char *s)
{
    char cur[IDP_NEXT_MAX + 1], tmp[IDP_NEXT_MAX + 1];
    size_t n = 0;
    for (const char *p = s; *p && n < IDP_NEXT_MAX; p++) {
        if (*p != '\t' && *p != '\r' && *p != '\n') {
            cur[n++] = *p == '\\' ? '/' : *p;
        }
    }
    cur[n] = '\0';
    cur[strcspn(cur, "?#")] = '\0';
    for (int round = 0; round < 8; round++) {
        if (cur[0] != '/' || cur[1] == '/' || strchr(cur, '\\') != NULL) {
            return false;
        }
        for (const char *p = cur; *p; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
                return false;
            }
        }
        size_t k = 0;
        for (size_t i = 0; cur[i]; i++) {
            unsigned int v;
            if (cur[i] == '%' && isxdigit((unsigned char)cur[i + 1]) &&
                isxdigit((unsigned char)cur[i + 2])) {
                char h[3] = {cur[i + 1], cur[i + 2], 0};
                v = (unsigned int)strtoul(h, NULL, 16);
                tmp[k++] = (char)v;
                i += 2;
            } else {
                tmp[k++] = cur[i];
            }
        }
        tmp[k] = '\0';
        if (strlen(tmp) != k) {
            return false; /* a decoded NUL */
        }
        memcpy(cur, tmp, k + 1);
    }
    return true;
}

/* Random strings over the characters that matter: whatever idp_next_ok accepts, the model
 * agrees stays on our origin; and the well-formed paths of letters are all accepted. */
static void random_property(void **state)
{
    static const char alpha[] = "//\\%%%2F5Cfc0e.:@?#a \t\n";
    uint64_t x = 88172645463325252ULL; /* xorshift64: reproducible */
    char s[24];
    size_t accepted = 0;
    for (int i = 0; i < 300000; i++) {
        size_t len = 1 + (size_t)(x % (sizeof s - 1));
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s[k] = alpha[x % (sizeof alpha - 1)];
        }
        s[len] = '\0';
        if (idp_next_ok(s)) {
            accepted++;
            if (!model_stays_home(s)) {
                fail_msg("accepted [%s]", s);
            }
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    print_message("# %zu of 300000 random strings accepted\n", accepted);
    assert_true(accepted > 100); /* the test explores both sides */
    assert_true(idp_next_ok("/abc/def?x=1#y"));
}

static void login_urls(void **state)
{
    struct idp idp = {0};
    char *u = idp_login_url(&idp, "/application/o/authorize/?client_id=a&state=b c");
    /* "b c" has a space: not a valid next */
    assert_string_equal(u, "/if/flow/default-authentication-flow/?next=%2F");
    free(u);
    u = idp_login_url(&idp, "/application/o/authorize/?client_id=a&state=b");
    assert_string_equal(u, "/if/flow/default-authentication-flow/"
                           "?next=%2Fapplication%2Fo%2Fauthorize%2F%3Fclient_id%3Da%26state%3Db");
    free(u);
    u = idp_login_url_force(&idp, "/x");
    assert_string_equal(u, "/if/flow/default-authentication-flow/?next=%2Fx&prompt=login");
    free(u);
    u = idp_login_url_ex(&idp, "//evil.com", false, "alice@example.com");
    assert_string_equal(
        u, "/if/flow/default-authentication-flow/?next=%2F&login_hint=alice%40example.com");
    free(u);
    u = idp_login_url_ex(&idp, "/x", true, "");
    assert_string_equal(u, "/if/flow/default-authentication-flow/?next=%2Fx&prompt=login");
    free(u);
    u = idp_login_url(&idp, NULL);
    assert_string_equal(u, "/if/flow/default-authentication-flow/?next=%2F");
    free(u);
    /* the login URL is itself a valid next */
    u = idp_login_url(&idp, "/a?b=c");
    assert_true(idp_next_ok(u));
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payload_list), cmocka_unit_test(control_bytes),
        cmocka_unit_test(valid_next),   cmocka_unit_test(random_property),
        cmocka_unit_test(login_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
