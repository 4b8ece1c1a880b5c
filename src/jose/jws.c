/*
 * JWS Compact Serialization (RFC 7515 sections 3.1, 5.1, 5.2 and 7.1).
 *
 * Parsing is strict: exactly three non-empty parts, canonical base64url, one JSON object
 * without duplicate members as header, a known asymmetric "alg", no "crit". Header members
 * that could name a key ("jwk", "jku", "x5u", "x5c", "x5t") are never read: the verifier's
 * key set alone decides (RFC 8725 section 3.10).
 */
#include "jose/jose_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define JOSE_MAX_HEADER 4096 /* decoded protected header */

static int split(struct slice token, struct slice part[3], struct err *e)
{
    size_t dots = 0;
    size_t start = 0;
    for (size_t i = 0; i < token.n; i++) {
        if (token.p[i] != '.') {
            continue;
        }
        if (dots < 2) {
            part[dots] = (struct slice){token.p + start, i - start};
        }
        dots++;
        start = i + 1;
    }
    if (dots == 4) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "JWE (five parts) is not accepted");
    }
    if (dots != 2) {
        return err_set(e, JOSE_ERR_MALFORMED, "not a compact JWS (%zu parts)", dots + 1);
    }
    part[2] = (struct slice){token.p + start, token.n - start};
    for (size_t i = 0; i < 3; i++) {
        if (part[i].n == 0) {
            /* An empty signature is what "alg":"none" produces; an empty payload would be
             * detached content (RFC 7515 appendix F), which we do not support. */
            return err_set(e, JOSE_ERR_MALFORMED, "empty JWS part %zu", i + 1);
        }
    }
    return 0;
}

static int check_header(struct jose_jws *out, struct err *e)
{
    const json_t *h = out->header;
    if (!json_is_object(h)) {
        return err_set(e, JOSE_ERR_MALFORMED, "JWS header is not a JSON object");
    }
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg)) {
        return err_set(e, JOSE_ERR_MALFORMED, "JWS header without a string \"alg\"");
    }
    out->alg = jose_alg_from_name((struct slice){json_string_value(alg), json_string_length(alg)});
    if (out->alg == JOSE_ALG_UNKNOWN) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "JWS alg not accepted (none, HMAC, unknown)");
    }
    /* RFC 7515 section 4.1.11: an extension we do not understand must fail; we know none. */
    if (json_object_get(h, "crit") != NULL) {
        return err_set(e, JOSE_ERR_UNSUPPORTED, "JWS header with \"crit\"");
    }
    const json_t *kid = json_object_get(h, "kid");
    if (kid != NULL) {
        if (!json_is_string(kid) || json_string_length(kid) > JOSE_KID_MAX) {
            return err_set(e, JOSE_ERR_MALFORMED, "JWS \"kid\" not a string of at most %d bytes",
                           JOSE_KID_MAX);
        }
        out->kid = json_string_value(kid);
    }
    return 0;
}

int jose_jws_parse(struct slice token, struct jose_jws *out, struct err *e)
{
    struct slice part[3];
    struct buf hb;
    memset(out, 0, sizeof *out);
    buf_init(&out->payload, JOSE_MAX_TOKEN);
    buf_init(&out->signature, JOSE_SIG_MAX);
    buf_init(&hb, JOSE_MAX_HEADER);
    int rc = -1;
    if (token.n > JOSE_MAX_TOKEN) {
        err_set(e, JOSE_ERR_MALFORMED, "token longer than %d bytes", JOSE_MAX_TOKEN);
        goto done;
    }
    if (split(token, part, e) != 0) {
        goto done;
    }
    if (b64url_decode(part[0], &hb) != 0) {
        err_set(e, JOSE_ERR_MALFORMED, "JWS header is not base64url or too long");
        goto done;
    }
    out->header = util_json_parse((struct slice){hb.p, hb.len}, e);
    if (out->header == NULL) {
        err_prefix(e, "JWS header");
        jose_err_code(e, JOSE_ERR_MALFORMED);
        goto done;
    }
    if (check_header(out, e) != 0) {
        goto done;
    }
    if (b64url_decode(part[1], &out->payload) != 0) {
        err_set(e, JOSE_ERR_MALFORMED, "JWS payload is not base64url");
        goto done;
    }
    if (b64url_decode(part[2], &out->signature) != 0) {
        err_set(e, JOSE_ERR_MALFORMED, "JWS signature is not base64url or too long");
        goto done;
    }
    out->signing_input = (struct slice){token.p, part[1].p + part[1].n - token.p};
    rc = 0;
done:
    buf_free(&hb);
    if (rc != 0) {
        jose_jws_free(out);
    }
    return rc;
}

void jose_jws_free(struct jose_jws *j)
{
    if (j == NULL) {
        return;
    }
    json_decref(j->header);
    buf_free(&j->payload);
    buf_free(&j->signature);
    memset(j, 0, sizeof *j);
}

/* RFC 8725 section 3.1: the key decides the algorithm; the header may only agree. */
int jose_jws_verify(const struct jose_jws *j, const struct jose_jwk *k, struct err *e)
{
    if (j == NULL || k == NULL || j->header == NULL) {
        return err_set(e, JOSE_ERR_INTERNAL, "jose_jws_verify: bad arguments");
    }
    if (j->alg == JOSE_ALG_UNKNOWN || j->alg != k->alg) {
        return err_set(e, JOSE_ERR_KEY, "token alg %s does not match the key's %s",
                       jose_alg_name(j->alg), jose_alg_name(k->alg));
    }
    return jose_verify_raw(k->pkey, k->alg, j->signing_input.p, j->signing_input.n,
                           (const uint8_t *)j->signature.p, j->signature.len, e);
}

static bool siglen_fits(enum jose_alg alg, size_t n)
{
    const struct jose_alg_info *ai = jose_alg_info(alg);
    switch (ai->kty) {
    case JOSE_KTY_RSA:
        return n >= JOSE_RSA_MIN_BITS / 8 && n <= JOSE_RSA_MAX_BITS / 8;
    case JOSE_KTY_EC:
        return n == 2 * ai->coord;
    case JOSE_KTY_OKP:
        return n == 64;
    default:
        return false;
    }
}

static char *header_json(enum jose_alg alg, const char *kid_z, const char *typ_z)
{
    json_t *h = json_object();
    json_object_set_new(h, "alg", json_string(jose_alg_name(alg)));
    if (kid_z != NULL) {
        json_object_set_new(h, "kid", json_string(kid_z));
    }
    if (typ_z != NULL) {
        json_object_set_new(h, "typ", json_string(typ_z));
    }
    char *s = util_json_dump(h);
    json_decref(h);
    return s;
}

char *jose_jws_sign(enum jose_alg alg, const char *kid_z, const char *typ_z, struct slice payload,
                    jose_signer_fn signer, void *ctx, struct err *e)
{
    struct buf tok;
    char *header = NULL;
    char *out = NULL;
    uint8_t sig[JOSE_SIG_MAX];
    size_t siglen = 0;
    buf_init(&tok, JOSE_MAX_TOKEN);
    if (jose_alg_info(alg) == NULL || signer == NULL) {
        err_set(e, JOSE_ERR_UNSUPPORTED, "jose_jws_sign: algorithm not accepted");
        goto done;
    }
    if ((kid_z != NULL && strlen(kid_z) > JOSE_KID_MAX) || (payload.p == NULL && payload.n)) {
        err_set(e, JOSE_ERR_INTERNAL, "jose_jws_sign: bad arguments");
        goto done;
    }
    header = header_json(alg, kid_z, typ_z);
    if (b64url_encode(header, strlen(header), &tok) != 0 || buf_append_c(&tok, '.') != 0 ||
        b64url_encode(payload.p, payload.n, &tok) != 0) {
        err_set(e, JOSE_ERR_MALFORMED, "token longer than %d bytes", JOSE_MAX_TOKEN);
        goto done;
    }
    if (signer(ctx, tok.p, tok.len, sig, &siglen, e) != 0) {
        goto done;
    }
    if (!siglen_fits(alg, siglen)) {
        /* The signer used another algorithm or key than the header names. */
        err_set(e, JOSE_ERR_INTERNAL, "signer returned %zu bytes for %s", siglen,
                jose_alg_name(alg));
        goto done;
    }
    if (buf_append_c(&tok, '.') != 0 || b64url_encode(sig, siglen, &tok) != 0) {
        err_set(e, JOSE_ERR_MALFORMED, "token longer than %d bytes", JOSE_MAX_TOKEN);
        goto done;
    }
    out = buf_steal(&tok, NULL);
done:
    free(header);
    buf_free(&tok);
    return out;
}
