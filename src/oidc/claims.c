/*
 * claims.c: what the tokens say. Subjects (OIDC Core 8, Authentik's sub modes), the ID token
 * (OIDC Core 2, 3.1.3.6 at_hash), the access token (RFC 9068 2.2), the claims of the scopes
 * (OIDC Core 5.4), issuers and slugs.
 */
#include "oidc/oidc.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static char *sha256_hex(struct slice s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf hex;
    buf_init(&hex, 2 * EVP_MAX_MD_SIZE);
    if (EVP_Digest(s.p, s.n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        hex_encode(md, mdlen, &hex) != 0) {
        buf_free(&hex);
        return NULL;
    }
    return buf_steal(&hex, NULL);
}

static char *hashed_user_id(const struct store_user *u, const char *install_id_z)
{
    struct buf in;
    buf_init(&in, 1024);
    buf_printf(&in, "%s-%s", u->uuid, install_id_z ? install_id_z : "");
    char *h = sha256_hex((struct slice){in.p ? in.p : "", in.len});
    buf_free(&in);
    if (h == NULL) {
        log_error("oidc: SHA-256 failed"); /* OpenSSL cannot fail here in practice */
        abort();
    }
    return h;
}

char *oidc_sub(const char *sub_mode_z, const struct store_user *u, const char *install_id_z)
{
    const char *mode = sub_mode_z ? sub_mode_z : "";
    if (strcmp(mode, "user_id") == 0) {
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)u->id);
        return xstrdup(idbuf);
    }
    if (strcmp(mode, "user_uuid") == 0 && u->uuid[0] != '\0') {
        return xstrdup(u->uuid);
    }
    if (strcmp(mode, "user_username") == 0 && u->username && *u->username) {
        return xstrdup(u->username);
    }
    if (strcmp(mode, "user_email") == 0 && u->email && *u->email) {
        return xstrdup(u->email);
    }
    return hashed_user_id(u, install_id_z);
}

char *oidc_token_hash(const char *token_z, enum jose_alg alg)
{
    const EVP_MD *md;
    switch (alg) {
    case JOSE_ALG_RS256:
    case JOSE_ALG_PS256:
    case JOSE_ALG_ES256:
        md = EVP_sha256();
        break;
    case JOSE_ALG_RS384:
    case JOSE_ALG_PS384:
    case JOSE_ALG_ES384:
        md = EVP_sha384();
        break;
    case JOSE_ALG_RS512:
    case JOSE_ALG_PS512:
    case JOSE_ALG_ES512:
    case JOSE_ALG_EDDSA: /* Ed25519 hashes with SHA-512 */
        md = EVP_sha512();
        break;
    default:
        return NULL;
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    if (EVP_Digest(token_z, strlen(token_z), h, &hlen, md, NULL) != 1) {
        return NULL;
    }
    return b64url_encode_z(h, hlen / 2);
}

/* The first word of a name ("Alice Example" -> "Alice"). */
static char *first_word(const char *name)
{
    while (*name == ' ') {
        name++;
    }
    return xstrndup(name, strcspn(name, " "));
}

int oidc_scope_claims(json_t *obj, unsigned scopes, const struct store_user *u,
                      const char *const *groups, size_t ngroups)
{
    int rc = 0;
    if (scopes & OIDC_SCOPE_EMAIL) {
        bool has = u->email != NULL && *u->email != '\0';
        if (has) {
            rc |= json_object_set_new(obj, "email", json_string(u->email));
        }
        rc |= json_object_set_new(obj, "email_verified", json_boolean(has));
    }
    if (scopes & OIDC_SCOPE_PROFILE) {
        const char *name = u->name ? u->name : "";
        const char *username = u->username ? u->username : "";
        char *given = first_word(name);
        rc |= json_object_set_new(obj, "name", json_string(name));
        rc |= json_object_set_new(obj, "given_name", json_string(given));
        rc |= json_object_set_new(obj, "preferred_username", json_string(username));
        rc |= json_object_set_new(obj, "nickname", json_string(username));
        free(given);
        json_t *g = json_array();
        for (size_t i = 0; i < ngroups; i++) {
            rc |= json_array_append_new(g, json_string(groups[i]));
        }
        rc |= json_object_set_new(obj, "groups", g);
    }
    return rc == 0 ? 0 : -1;
}

static json_t *amr_value(const char *amr_json)
{
    if (amr_json != NULL && *amr_json != '\0') {
        json_t *a = util_json_parse(slice_z(amr_json), NULL);
        if (json_is_array(a) && json_array_size(a) > 0) {
            bool strings = true;
            for (size_t i = 0; i < json_array_size(a); i++) {
                strings = strings && json_is_string(json_array_get(a, i));
            }
            if (strings) {
                return a;
            }
        }
        json_decref(a);
    }
    json_t *d = json_array();
    json_array_append_new(d, json_string("pwd"));
    return d;
}

json_t *oidc_id_token_claims(const struct oidc_id_token_in *in)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string(in->iss));
    json_object_set_new(c, "sub", json_string(in->sub));
    json_object_set_new(c, "aud", json_string(in->client_id));
    json_object_set_new(c, "azp", json_string(in->client_id));
    json_object_set_new(c, "exp", json_integer(in->exp));
    json_object_set_new(c, "iat", json_integer(in->iat));
    if (in->auth_time > 0) {
        json_object_set_new(c, "auth_time", json_integer(in->auth_time));
    }
    if (in->nonce != NULL && *in->nonce != '\0') {
        json_object_set_new(c, "nonce", json_string(in->nonce));
    }
    if (in->at_hash != NULL) {
        json_object_set_new(c, "at_hash", json_string(in->at_hash));
    }
    json_object_set_new(c, "acr", json_string(OIDC_ACR));
    json_object_set_new(c, "amr", amr_value(in->amr_json));
    if (in->include_claims && in->user != NULL &&
        oidc_scope_claims(c, in->scopes, in->user, in->groups, in->ngroups) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *oidc_access_token_claims(const struct oidc_access_token_in *in)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string(in->iss));
    json_object_set_new(c, "sub", json_string(in->sub));
    json_object_set_new(c, "aud", json_string(in->client_id));
    json_object_set_new(c, "exp", json_integer(in->exp));
    json_object_set_new(c, "iat", json_integer(in->iat));
    json_object_set_new(c, "jti", json_string(in->jti));
    json_object_set_new(c, "client_id", json_string(in->client_id));
    if (in->scope != NULL && *in->scope != '\0') {
        json_object_set_new(c, "scope", json_string(in->scope));
    }
    if (in->auth_time > 0) {
        json_object_set_new(c, "auth_time", json_integer(in->auth_time));
    }
    return c;
}

char *oidc_issuer(const char *public_url_z, const char *slug_z)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "%s" OIDC_PREFIX "%s/", public_url_z, slug_z);
    return buf_steal(&b, NULL);
}

int oidc_issuer_slug(const char *public_url_z, const char *iss_z, char *out, size_t outsz)
{
    size_t ul = strlen(public_url_z);
    size_t pl = strlen(OIDC_PREFIX);
    if (strncmp(iss_z, public_url_z, ul) != 0 || strncmp(iss_z + ul, OIDC_PREFIX, pl) != 0) {
        return -1;
    }
    const char *slug = iss_z + ul + pl;
    size_t n = strlen(slug);
    if (n < 2 || slug[n - 1] != '/' || n - 1 >= outsz ||
        !oidc_slug_ok((struct slice){slug, n - 1})) {
        return -1;
    }
    memcpy(out, slug, n - 1);
    out[n - 1] = '\0';
    return 0;
}

bool oidc_slug_ok(struct slice slug)
{
    static const char *const reserved[] = {"authorize", "token",      "device",
                                           "userinfo",  "introspect", "revoke"};
    if (slug.n == 0 || slug.n > OIDC_SLUG_MAX) {
        return false;
    }
    for (size_t i = 0; i < slug.n; i++) {
        char c = slug.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reserved); i++) {
        if (slice_eq_z(slug, reserved[i])) {
            return false;
        }
    }
    return true;
}
