/*
 * pkce.c: Proof Key for Code Exchange (RFC 7636).
 */
#include "oidc/oidc.h"

#include <openssl/evp.h>
#include <string.h>

bool oidc_pkce_syntax_ok(const char *z)
{
    if (z == NULL) {
        return false;
    }
    size_t n = strlen(z);
    if (n < OIDC_PKCE_MIN || n > OIDC_PKCE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (!unreserved) {
            return false;
        }
    }
    return true;
}

bool oidc_pkce_method_ok(const char *z)
{
    return z != NULL && (strcmp(z, "S256") == 0 || strcmp(z, "plain") == 0);
}

bool oidc_pkce_verify(const char *method_z, const char *challenge_z, const char *verifier_z)
{
    if (!oidc_pkce_method_ok(method_z) || challenge_z == NULL || !oidc_pkce_syntax_ok(verifier_z)) {
        return false;
    }
    size_t clen = strlen(challenge_z);
    if (strcmp(method_z, "plain") == 0) {
        return util_ct_equal(verifier_z, strlen(verifier_z), challenge_z, clen);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(verifier_z, strlen(verifier_z), md, &mdlen, EVP_sha256(), NULL) != 1) {
        return false;
    }
    struct buf enc;
    buf_init(&enc, 64);
    bool ok =
        b64url_encode(md, mdlen, &enc) == 0 && util_ct_equal(enc.p, enc.len, challenge_z, clen);
    buf_free(&enc);
    return ok;
}
