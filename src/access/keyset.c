/*
 * keyset.c: the gateway's signing keys (DESIGN.md: "keys rotate, the old one stays valid for a
 * grace period").
 *
 * A key pair lives in the store's certificate-key pairs (private key, certificate, kid) under
 * a name of its own, "postern gateway key <time>-<random>"; the store's access_keys rows say
 * which one is current and until when a retired one still verifies. Every node loads them into
 * a fresh ring for each snapshot, so a key rotated on one node is used by all within
 * GATE_RELOAD_S. Two nodes that start at once on an empty database each generate a pair; the
 * store lets one become current and the loser deletes its unused pair.
 */
#include "access/gate_int.h"

#include <stdio.h>
#include <string.h>

/* A fresh pair in the store, under a new unique name (name_out). Blocking (RSA keygen). */
static int pair_create(struct store *s, char name_out[STORE_ID_SIZE + 64], struct err *e)
{
    char kid[KEYS_KID_MAX];
    uint8_t rnd[4];
    util_random(rnd, sizeof rnd);
    snprintf(name_out, STORE_ID_SIZE + 64, GATE_KEY_NAME_PREFIX "%lld-%02x%02x%02x%02x",
             (long long)util_now(), rnd[0], rnd[1], rnd[2], rnd[3]);
    struct keys *tmp = keys_new();
    char *key_pem = NULL, *cert_pem = NULL;
    size_t key_len = 0;
    struct store_keypair out = {0};
    int ret = -1;
    if (keys_generate(tmp, "gateway", JOSE_ALG_RS256, 0, kid, e) < 0 ||
        keys_export_pem(tmp, kid, &key_pem, &key_len, &cert_pem, e) < 0) {
        err_prefix(e, "gateway signing key");
        goto done;
    }
    struct store_keypair in = {
        .name = name_out,
        .kid = kid,
        .alg = (char *)jose_alg_name(JOSE_ALG_RS256),
        .key_pem = key_pem,
        .cert_pem = cert_pem,
    };
    bool inserted = false;
    if (store_keypair_insert_if_absent(s, &in, &out, &inserted, e) != 0) {
        goto done;
    }
    ret = inserted ? 0 : err_set(e, STORE_E_CONSTRAINT, "gateway key name %s taken", name_out);
done:
    store_keypair_free(&out);
    util_free_secret(key_pem);
    free(cert_pem);
    keys_free(tmp);
    return ret;
}

int gate_keys_ensure(struct store *s, struct err *e)
{
    struct store_access_key_list l = {0};
    if (store_access_key_list(s, &l, e) != 0) {
        return -1;
    }
    bool have = l.n > 0 && l.v[0].retired_at == 0;
    store_access_key_list_free(&l);
    if (have) {
        return 0;
    }
    char name[STORE_ID_SIZE + 64];
    if (pair_create(s, name, e) != 0) {
        return -1;
    }
    struct store_access_key k = {0};
    bool inserted = false;
    int rc = store_access_key_ensure(s, name, &k, &inserted, e);
    if (rc == 0 && inserted) {
        log_info("access: created the gateway signing key (kid %s)", k.kid);
    } else if (rc == 0) {
        struct err ignored = {0};
        store_keypair_delete(s, name, &ignored); /* another node's key won */
    }
    store_access_key_free(&k);
    return rc;
}

int gate_keys_rotate(struct store *s, int64_t grace_s, int64_t if_current_id,
                     struct store_access_key *out, struct err *e)
{
    char name[STORE_ID_SIZE + 64];
    if (pair_create(s, name, e) != 0) {
        return -1;
    }
    bool rotated = false;
    int rc = store_access_key_rotate(s, name, grace_s, if_current_id, out, &rotated, e);
    if (rc != 0 || !rotated) {
        struct err ignored = {0};
        store_keypair_delete(s, name, &ignored);
    }
    if (rc == 0 && rotated) {
        log_info("access: new gateway signing key (kid %s); the previous one verifies for %lld s",
                 out->kid, (long long)grace_s);
    }
    return rc;
}

/* One key into the ring, and its certificate into the certs document. */
static int load_one(struct store *s, const struct store_access_key *k, struct gate_snap *snap,
                    json_t *certs, struct err *e)
{
    struct store_keypair p = {0};
    char kid[KEYS_KID_MAX], ring_name[KEYS_NAME_MAX + 1];
    int rc = store_keypair_get_by_name(s, k->keypair_name, &p, e);
    if (rc != 0) {
        store_keypair_free(&p);
        return rc < 0 ? -1 : err_set(e, STORE_E_INTERNAL, "gateway key %s: no key pair", k->kid);
    }
    snprintf(ring_name, sizeof ring_name, "k%lld", (long long)k->id);
    rc = keys_import_pem(snap->ring, ring_name, slice_z(p.key_pem), slice_z(p.cert_pem), kid, e);
    if (rc == 0) {
        json_t *c = json_object();
        json_object_set_new(c, "kid", json_string(kid));
        json_object_set_new(c, "cert", json_string(p.cert_pem));
        json_array_append_new(certs, c);
        if (k->retired_at == 0) {
            snprintf(snap->current_kid, sizeof snap->current_kid, "%s", kid);
        }
    }
    store_keypair_free(&p);
    return rc;
}

/* Cloudflare's certs document: {"keys": JWKS, "public_cert": {kid, cert} of the current
 * key, "public_certs": [{kid, cert}...]}. */
static int certs_doc(struct gate_snap *snap, json_t *certs, struct err *e)
{
    json_t *jwks = keys_jwks_json(snap->ring, NULL, e);
    if (jwks == NULL) {
        return -1;
    }
    json_t *doc = json_object();
    json_object_set(doc, "keys", json_object_get(jwks, "keys"));
    json_decref(jwks);
    json_t *current = json_array_size(certs) > 0 ? json_array_get(certs, 0) : json_object();
    json_object_set(doc, "public_cert", current);
    if (json_array_size(certs) == 0) {
        json_decref(current);
    }
    json_object_set(doc, "public_certs", certs);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    buf_init(&snap->certs, GATE_CERTS_MAX);
    int rc = text != NULL && buf_append(&snap->certs, text, strlen(text)) == 0 ? 0 : -1;
    free(text);
    return rc == 0 ? 0 : err_set(e, 0, "gateway certs document");
}

int gate_keys_load(struct store *s, struct gate_snap *snap, struct err *e)
{
    struct store_access_key_list l = {0};
    json_t *certs = json_array();
    int rc = store_access_key_list(s, &l, e);
    snap->ring = keys_new();
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = load_one(s, &l.v[i], snap, certs, e);
    }
    if (rc == 0 && snap->current_kid[0] == '\0') {
        rc = err_set(e, STORE_E_INTERNAL, "the gateway has no current signing key");
    }
    if (rc == 0) {
        snap->jwks = keys_jwks(snap->ring, e);
        rc = snap->jwks != NULL ? certs_doc(snap, certs, e) : -1;
    }
    json_decref(certs);
    store_access_key_list_free(&l);
    return rc;
}

int access_keys_ensure(struct store *s, struct err *e)
{
    return gate_keys_ensure(s, e);
}

int access_keys_rotate(struct store *s, int64_t grace_s, char kid_out[64], struct err *e)
{
    struct store_access_key k = {0};
    int rc = gate_keys_rotate(s, grace_s, 0, &k, e);
    if (rc == 0) {
        snprintf(kid_out, 64, "%s", k.kid);
    }
    store_access_key_free(&k);
    return rc;
}
