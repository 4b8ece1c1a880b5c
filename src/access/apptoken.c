/*
 * apptoken.c: the CF_Authorization tokens (DESIGN.md "Wire contract — Gate").
 *
 * Both cookies hold a JWT signed by the gateway's current key (RS256, kid): on the team
 * domain the global session ("type": "org", aud = the team host), on each application's
 * domain an app token ("type": "app", aud = [the app's AUD tag]), which the origin also gets
 * as Cf-Access-Jwt-Assertion. Claims: aud, email, exp, iat, nbf, iss (the team domain URL),
 * type, identity_nonce (the session id: logout revokes it), sub, and the identity's groups,
 * name, idp and configured claims.
 *
 * Verification happens on every proxied request, on the event loop: RS256 verification costs
 * about 15 us, so each loop thread keeps the tokens it verified (GATE_TOKEN_CACHE entries,
 * keyed by the token's SHA-256, valid until the token's exp and while the key set is the
 * same). The revocation list is checked every time, cached or not.
 */
#include "access/gate_int.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

void gate_identity_free(struct gate_identity *id)
{
    json_decref(id->claims);
    memset(id, 0, sizeof *id);
}

static const char *const reserved[] = {"aud", "email", "exp", "iat", "nbf", "iss", "type",
                                       "identity_nonce", "sub", "country", "common_name", NULL};

static bool is_reserved(const char *k)
{
    for (size_t i = 0; reserved[i] != NULL; i++) {
        if (strcmp(k, reserved[i]) == 0) {
            return true;
        }
    }
    return false;
}

char *gate_token_mint(const struct gate_snap *snap, enum gate_token_type type, const char *aud_z,
                      const json_t *identity, const char *session_id_z, int64_t exp,
                      struct err *e)
{
    int64_t now = util_now();
    json_t *c = json_object();
    json_t *aud = json_array();
    json_array_append_new(aud, json_string(aud_z));
    json_object_set_new(c, "aud", aud);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)identity, key, v)
    {
        if (!is_reserved(key) || strcmp(key, "email") == 0 || strcmp(key, "sub") == 0 ||
            strcmp(key, "common_name") == 0) {
            json_object_set(c, key, v);
        }
    }
    if (json_object_get(c, "email") == NULL && json_object_get(c, "common_name") == NULL) {
        json_object_set_new(c, "email", json_string(""));
    }
    json_object_set_new(c, "exp", json_integer(exp));
    json_object_set_new(c, "iat", json_integer(now));
    json_object_set_new(c, "nbf", json_integer(now));
    json_object_set_new(c, "iss", json_string(snap->cfg.team.text));
    json_object_set_new(c, "type", json_string(type == GATE_TOKEN_APP ? "app" : "org"));
    json_object_set_new(c, "identity_nonce", json_string(session_id_z));
    char *payload = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char *tok = NULL;
    if (payload != NULL) {
        tok = keys_jws_sign(snap->ring, snap->current_kid, "JWT", slice_z(payload), e);
    }
    free(payload);
    return tok;
}

/* ---- the per-thread cache of verified tokens --------------------------------------------- */

struct tok_ent {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    uint64_t version; /* of the snapshot whose keys verified it; 0 = empty */
    int64_t exp;
    enum gate_token_type type;
    char aud[ACCESS_AUD_MAX];
    json_t *claims;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_destroy(void *arg)
{
    struct tok_ent *c = arg;
    for (size_t i = 0; i < GATE_TOKEN_CACHE; i++) {
        json_decref(c[i].claims);
    }
    free(c);
}

static void cache_key_make(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

/* The thread's cache slot for a digest; NULL when no cache can be made (then no caching). */
static struct tok_ent *cache_slot(const uint8_t d[SHA256_DIGEST_LENGTH])
{
    pthread_once(&cache_once, cache_key_make);
    struct tok_ent *c = pthread_getspecific(cache_key);
    if (c == NULL) {
        c = xcalloc(GATE_TOKEN_CACHE, sizeof *c);
        if (pthread_setspecific(cache_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    size_t i = ((size_t)d[0] | (size_t)d[1] << 8 | (size_t)d[2] << 16) % GATE_TOKEN_CACHE;
    return &c[i];
}

/* SHA-256 with the algorithm fetched once: the one-shot SHA256() looks it up on every call,
 * 4.5% of the gateway's CPU per request (bench/gate). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void token_digest(struct slice token, uint8_t d[SHA256_DIGEST_LENGTH])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || EVP_Digest(token.p, token.n, d, NULL, sha256_md, NULL) != 1) {
        SHA256((const unsigned char *)token.p, token.n, d);
    }
}

static const char *claim_str(const json_t *c, const char *k)
{
    const char *s = json_string_value(json_object_get(c, k));
    return s;
}

static int fill_identity(json_t *claims, struct gate_identity *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->claims = json_incref(claims);
    out->email = claim_str(claims, "email");
    out->session_id = claim_str(claims, "identity_nonce");
    out->idp = claim_str(claims, "idp");
    out->sub = claim_str(claims, "sub");
    out->service = claim_str(claims, "common_name");
    out->exp = json_integer_value(json_object_get(claims, "exp"));
    out->iat = json_integer_value(json_object_get(claims, "iat"));
    const json_t *g = json_object_get(claims, "groups");
    size_t i;
    json_t *v;
    json_array_foreach(g, i, v)
    {
        if (json_is_string(v) && out->ngroups < ACCESS_MAX_VALUES) {
            out->groups[out->ngroups++] = json_string_value(v);
        }
    }
    if (out->session_id == NULL || *out->session_id == '\0') {
        gate_identity_free(out);
        return err_set(e, 0, "token has no identity_nonce");
    }
    return 0;
}

static int verify_fresh(const struct gate_snap *snap, struct slice token, enum gate_token_type type,
                        const char *aud_z, json_t **claims, struct err *e)
{
    static const char *const required[] = {"identity_nonce", "type", NULL};
    struct jose_jwt_expect x = {
        .iss = snap->cfg.team.text, .aud = aud_z, .leeway = 0, .required = required};
    if (jose_jwt_verify(token, snap->jwks, &x, claims, e) != 0) {
        return -1;
    }
    const char *t = claim_str(*claims, "type");
    if (t == NULL || strcmp(t, type == GATE_TOKEN_APP ? "app" : "org") != 0) {
        json_decref(*claims);
        *claims = NULL;
        return err_set(e, 0, "token of another type");
    }
    return 0;
}

int gate_token_verify(struct access_gate *g, const struct gate_snap *snap, struct slice token,
                      enum gate_token_type type, const char *aud_z, struct gate_identity *out,
                      struct err *e)
{
    memset(out, 0, sizeof *out);
    if (token.n == 0 || token.n > GATE_TOKEN_MAX || strlen(aud_z) >= ACCESS_AUD_MAX) {
        return err_set(e, 0, "no usable token");
    }
    uint8_t d[SHA256_DIGEST_LENGTH];
    token_digest(token, d);
    struct tok_ent *x = cache_slot(d);
    int64_t now = util_now();
    json_t *claims = NULL;
    if (x != NULL && x->version == snap->version && x->type == type && x->exp > now &&
        memcmp(x->digest, d, sizeof d) == 0 && strcmp(x->aud, aud_z) == 0) {
        claims = json_incref(x->claims);
    } else if (verify_fresh(snap, token, type, aud_z, &claims, e) != 0) {
        return -1;
    } else if (x != NULL) {
        json_decref(x->claims);
        memcpy(x->digest, d, sizeof d);
        x->version = snap->version;
        x->type = type;
        x->exp = json_integer_value(json_object_get(claims, "exp"));
        snprintf(x->aud, sizeof x->aud, "%s", aud_z);
        x->claims = json_incref(claims);
    }
    int rc = fill_identity(claims, out, e);
    json_decref(claims);
    if (rc == 0 && gate_revoked(g, out->session_id)) {
        gate_identity_free(out);
        return err_set(e, 0, "session ended (logged out)");
    }
    return rc;
}
