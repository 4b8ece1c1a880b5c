/*
 * password.c: argon2id password hashes through libsodium (DESIGN.md "passwords").
 *
 * The parameters are those of OWASP's Password Storage Cheat Sheet for argon2id (m = 19 MiB,
 * t = 2, p = 1), measured at ~50 ms here. libsodium writes PHC strings
 * "$argon2id$v=19$m=19456,t=2,p=1$salt$hash" with a random 16-byte salt, and
 * crypto_pwhash_str_needs_rehash tells an old hash from a current one, so that changed
 * parameters take effect at each user's next login.
 */
#include "idp/idp.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

_Static_assert(IDP_PHC_MAX == crypto_pwhash_STRBYTES, "IDP_PHC_MAX");

static pthread_once_t pw_once = PTHREAD_ONCE_INIT;
static char dummy_phc[crypto_pwhash_STRBYTES];
static bool pw_ready;

/* sodium_init, and the hash that unknown users are checked against: made here with the
 * current parameters (from a random password nobody knows), so that its cost is exactly that
 * of a real user's hash. */
static void pw_init(void)
{
    if (sodium_init() < 0) {
        log_error("idp: libsodium cannot be initialised");
        return;
    }
    unsigned char pw[32];
    randombytes_buf(pw, sizeof pw);
    int rc = crypto_pwhash_str_alg(dummy_phc, (const char *)pw, sizeof pw, IDP_PWHASH_OPSLIMIT,
                                   IDP_PWHASH_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0) {
        log_error("idp: argon2id failed (out of memory?)");
        return;
    }
    pw_ready = true;
}

static bool pw_setup(void)
{
    pthread_once(&pw_once, pw_init);
    return pw_ready;
}

bool idp_password_ready(void)
{
    return pw_setup();
}

/* Length of one UTF-8 sequence starting at s[i] (RFC 3629 section 4), 0 when invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t len;
    unsigned int cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n - i < len) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return len;
}

int idp_password_policy(struct slice pw, struct err *e)
{
    if (pw.n > IDP_PASSWORD_MAX) {
        return err_set(e, IDP_E_INVALID, "password: at most %d bytes", IDP_PASSWORD_MAX);
    }
    const unsigned char *s = (const unsigned char *)pw.p;
    size_t chars = 0;
    for (size_t i = 0; i < pw.n;) {
        size_t len = utf8_seq(s, pw.n, i);
        if (len == 0) {
            return err_set(e, IDP_E_INVALID, "password: not valid UTF-8");
        }
        /* C0 controls and DEL; C1 controls (U+0080..U+009F) are 0xC2 0x80..0x9F. */
        if ((len == 1 && (s[i] < 0x20 || s[i] == 0x7F)) ||
            (len == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0)) {
            return err_set(e, IDP_E_INVALID, "password: control characters are not allowed");
        }
        i += len;
        chars++;
    }
    if (chars < IDP_PASSWORD_MIN) {
        return err_set(e, IDP_E_INVALID, "password: must be at least %d characters long",
                       IDP_PASSWORD_MIN);
    }
    return 0;
}

char *idp_password_hash(struct slice pw, struct err *e)
{
    if (!pw_setup()) {
        err_set(e, IDP_E_INVALID, "password: libsodium is not available");
        return NULL;
    }
    if (pw.n > IDP_PASSWORD_MAX) {
        err_set(e, IDP_E_INVALID, "password: at most %d bytes", IDP_PASSWORD_MAX);
        return NULL;
    }
    char phc[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(phc, pw.n ? pw.p : "", pw.n, IDP_PWHASH_OPSLIMIT, IDP_PWHASH_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        err_set(e, IDP_E_INVALID, "password: argon2id failed (out of memory?)");
        return NULL;
    }
    return xstrdup(phc);
}

void idp_password_dummy_verify(struct slice pw)
{
    if (!pw_setup() || pw.n > IDP_PASSWORD_MAX) {
        return;
    }
    /* The result is meaningless; only the work counts. */
    if (crypto_pwhash_str_verify(dummy_phc, pw.n ? pw.p : "", pw.n) == 0) {
        log_debug("idp: the dummy password matched");
    }
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool idp_password_verify(const char *phc_z, struct slice pw)
{
    if (phc_z == NULL || phc_z[0] == '\0') {
        idp_password_dummy_verify(pw);
        return false;
    }
    if (!pw_setup() || pw.n > IDP_PASSWORD_MAX || strlen(phc_z) >= crypto_pwhash_STRBYTES) {
        return false;
    }
    /* argon2id, or argon2i (an imported hash, re-hashed at the next login); any other
     * kind never verifies, and the dummy keeps the time the same. */
    if (!has_prefix(phc_z, crypto_pwhash_argon2id_STRPREFIX) &&
        !has_prefix(phc_z, crypto_pwhash_argon2i_STRPREFIX)) {
        idp_password_dummy_verify(pw);
        return false;
    }
    return crypto_pwhash_str_verify(phc_z, pw.n ? pw.p : "", pw.n) == 0;
}

bool idp_password_needs_rehash(const char *phc_z)
{
    if (phc_z == NULL || phc_z[0] == '\0' || !pw_setup()) {
        return false;
    }
    if (!has_prefix(phc_z, crypto_pwhash_argon2id_STRPREFIX)) {
        return true;
    }
    /* 0: current; 1: other parameters; -1: not a valid string of this algorithm. */
    return crypto_pwhash_argon2id_str_needs_rehash(phc_z, IDP_PWHASH_OPSLIMIT,
                                                   IDP_PWHASH_MEMLIMIT) != 0;
}
