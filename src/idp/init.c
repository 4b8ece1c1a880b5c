/*
 * init.c: what the IdP loads or creates at start: its configuration, the server secret and
 * the signing keys, all from the store so that every node of an installation agrees.
 */
#include "idp/idp_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDP_SECRET_B64_MAX 64

void idp_config_defaults(struct idp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->cookie_secure = true;
    cfg->session_lifetime = IDP_DEFAULT_SESSION_LIFETIME;
    cfg->throttle_max_failures = IDP_DEFAULT_THROTTLE_MAX_FAILURES;
    cfg->throttle_window = IDP_DEFAULT_THROTTLE_WINDOW;
    cfg->throttle_lockout = IDP_DEFAULT_THROTTLE_LOCKOUT;
}

/* public_url: an http(s) origin, which is what the cookies and the issuer hang on. */
static int config_copy(struct idp_config *dst, const struct idp_config *src, struct err *e)
{
    const char *url = src->public_url;
    size_t n = url ? strlen(url) : 0;
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    bool http = n > 7 && strncmp(url, "http://", 7) == 0;
    bool https = n > 8 && strncmp(url, "https://", 8) == 0;
    if ((!http && !https) || memchr(url + (http ? 7 : 8), '/', n - (http ? 7 : 8)) != NULL) {
        return err_set(e, IDP_E_CONFIG,
                       "idp.public_url: must be an http:// or https:// origin without a path");
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7F) {
            return err_set(e, IDP_E_CONFIG, "idp.public_url: printable ASCII only");
        }
    }
    if (src->session_lifetime < 0 || src->throttle_max_failures < 0 || src->throttle_window < 0 ||
        src->throttle_lockout < 0) {
        return err_set(e, IDP_E_CONFIG, "idp: durations and counts must not be negative");
    }
    *dst = *src;
    dst->public_url = xstrndup(url, n);
    dst->host = src->host ? xstrdup(src->host) : NULL;
    dst->cookie_secure = https;
    if (dst->session_lifetime == 0) {
        dst->session_lifetime = IDP_DEFAULT_SESSION_LIFETIME;
    }
    if (dst->throttle_window == 0) {
        dst->throttle_window = IDP_DEFAULT_THROTTLE_WINDOW;
    }
    if (dst->throttle_lockout == 0) {
        dst->throttle_lockout = IDP_DEFAULT_THROTTLE_LOCKOUT;
    }
    return 0;
}

/* Reads the secret, or creates it. Of two nodes starting at once on one store, one adds its
 * fresh secret and both then read that one (store_meta_add), whatever the backend. */
static int load_secret(struct idp *idp, struct store *s, struct err *e)
{
    struct buf val, raw;
    buf_init(&val, STORE_META_VALUE_MAX);
    buf_init(&raw, IDP_SECRET_B64_MAX);
    int ret = -1;
    int rc = store_meta_get(s, IDP_SECRET_META_KEY, &val, e);
    if (rc == STORE_NOT_FOUND) {
        uint8_t fresh[sizeof idp->secret];
        util_random(fresh, sizeof fresh);
        char *enc = b64url_encode_z(fresh, sizeof fresh);
        util_wipe(fresh, sizeof fresh);
        rc = store_meta_add(s, IDP_SECRET_META_KEY, slice_z(enc), NULL, e);
        util_free_secret(enc);
        if (rc == 0)
            rc = store_meta_get(s, IDP_SECRET_META_KEY, &val, e);
    }
    if (rc != 0) {
        if (rc > 0)
            err_set(e, IDP_E_CONFIG, "idp: the server secret (%s) vanished from the store",
                    IDP_SECRET_META_KEY);
        goto done;
    }
    if (b64url_decode((struct slice){val.p, val.len}, &raw) != 0 || raw.len != sizeof idp->secret) {
        err_set(e, IDP_E_CONFIG, "idp: the stored server secret (%s) is malformed",
                IDP_SECRET_META_KEY);
        goto done;
    }
    memcpy(idp->secret, raw.p, sizeof idp->secret);
    ret = 0;
done:
    util_wipe(val.p, val.len);
    util_wipe(raw.p, raw.len);
    buf_free(&val);
    buf_free(&raw);
    return ret;
}

void idp_key_ring_name(const char *store_name_z, char out[KEYS_NAME_MAX + 1])
{
    size_t k = 0;
    const char *p = store_name_z ? store_name_z : "";
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
          (p[0] >= '0' && p[0] <= '9'))) {
        out[k++] = 'k';
    }
    for (; *p != '\0' && k < KEYS_NAME_MAX; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[k++] = ok ? c : '_';
    }
    out[k] = '\0';
}

/* Generates the pair in a ring of its own and offers it to the store; whichever node's pair
 * the store kept is then imported like any other pair. */
int idp_keypair_create(struct store *s, const char *name_z, enum jose_alg alg, bool *created,
                       struct err *e)
{
    char ring_name[KEYS_NAME_MAX + 1], kid[KEYS_KID_MAX];
    struct keys *tmp = keys_new();
    char *key_pem = NULL, *cert_pem = NULL;
    size_t key_len = 0;
    struct store_keypair out = {0};
    int ret = -1;
    idp_key_ring_name(name_z, ring_name);
    if (keys_generate(tmp, ring_name, alg, 0, kid, e) < 0 ||
        keys_export_pem(tmp, kid, &key_pem, &key_len, &cert_pem, e) < 0) {
        err_prefix(e, "certificate-key pair \"%s\"", name_z);
        goto done;
    }
    struct store_keypair in = {
        .name = (char *)name_z,
        .kid = kid,
        .alg = (char *)jose_alg_name(alg),
        .key_pem = key_pem,
        .cert_pem = cert_pem,
    };
    bool inserted = false;
    if (store_keypair_insert_if_absent(s, &in, &out, &inserted, e) != 0) {
        goto done;
    }
    if (inserted) {
        log_info("idp: created the signing key \"%s\" (%s, kid %s)", name_z, jose_alg_name(alg),
                 kid);
    }
    if (created != NULL) {
        *created = inserted;
    }
    ret = 0;
done:
    store_keypair_free(&out);
    util_free_secret(key_pem);
    free(cert_pem);
    keys_free(tmp);
    return ret;
}

static int create_default_key(struct store *s, struct err *e)
{
    return idp_keypair_create(s, IDP_DEFAULT_KEY_NAME, JOSE_ALG_RS256, NULL, e);
}

static int import_pair(struct keys *ring, const struct store_keypair *k, struct err *e)
{
    char ring_name[KEYS_NAME_MAX + 1], kid[KEYS_KID_MAX];
    idp_key_ring_name(k->name, ring_name);
    if (keys_import_pem(ring, ring_name, slice_z(k->key_pem), slice_z(k->cert_pem), kid, e) < 0) {
        /* Two workers syncing at once: the other one has just imported it. */
        struct keys_info info;
        if (e->code == KEYS_E_EXISTS && keys_find_name(ring, ring_name, &info, NULL) == 0 &&
            k->kid[0] != '\0' && strcmp(info.kid, k->kid) == 0) {
            return 0;
        }
        e->code = IDP_E_KEYS;
        return err_prefix(e, "idp: certificate-key pair \"%.64s\"", k->name);
    }
    if (k->kid[0] != '\0' && strcmp(kid, k->kid) != 0) {
        log_warn("idp: certificate-key pair \"%.64s\": stored kid %.64s, computed %s", k->name,
                 k->kid, kid);
    }
    return 0;
}

/* A pair deleted from the store leaves the ring (and so the JWKS) too. */
static void drop_removed(struct keys *ring, const struct store_keypair_list *l)
{
    struct keys_info info[KEYS_MAX];
    size_t n = keys_list(ring, info, KEYS_MAX);
    for (size_t i = 0; i < n && i < KEYS_MAX; i++) {
        bool found = false;
        for (size_t k = 0; !found && k < l->n; k++) {
            found = strcmp(info[i].kid, l->v[k].kid) == 0;
        }
        if (!found) {
            log_info("idp: signing key %s (kid %s) is no longer in the store", info[i].name,
                     info[i].kid);
            keys_remove(ring, info[i].kid, NULL);
        }
    }
}

int idp_keys_sync(struct idp *idp, struct store *s, size_t *added, struct err *e)
{
    struct store_keypair_list l = {0};
    size_t n = 0;
    int ret = -1;
    if (store_keypair_list(s, &l, e) < 0) {
        goto done;
    }
    for (size_t i = 0; i < l.n; i++) {
        struct keys_info info;
        char ring_name[KEYS_NAME_MAX + 1], other[KEYS_NAME_MAX + 1];
        idp_key_ring_name(l.v[i].name, ring_name);
        /* Two store names that become one ring name would let a provider sign with the
         * other pair's key: refused, naming both. */
        for (size_t k = 0; k < i; k++) {
            idp_key_ring_name(l.v[k].name, other);
            if (strcmp(other, ring_name) == 0) {
                err_set(e, IDP_E_KEYS,
                        "idp: certificate-key pairs \"%.64s\" and \"%.64s\" differ only in "
                        "characters outside [A-Za-z0-9._-]: rename one",
                        l.v[k].name, l.v[i].name);
                goto done;
            }
        }
        if (keys_find_name(idp->keys, ring_name, &info, NULL) == 0) {
            if (strcmp(info.kid, l.v[i].kid) == 0) {
                continue; /* known */
            }
            /* the pair was deleted and made again under its name: the store is right */
            keys_remove(idp->keys, info.kid, NULL);
        }
        if (import_pair(idp->keys, &l.v[i], e) < 0) {
            goto done;
        }
        n++;
    }
    drop_removed(idp->keys, &l);
    ret = 0;
done:
    if (added != NULL) {
        *added = n;
    }
    store_keypair_list_free(&l);
    return ret;
}

int idp_key_find(struct idp *idp, const char *keypair_name_z, struct keys_info *out, struct err *e)
{
    char ring_name[KEYS_NAME_MAX + 1];
    idp_key_ring_name(keypair_name_z, ring_name);
    return keys_find_name(idp->keys, ring_name, out, e);
}

int idp_init(struct idp *idp, const struct idp_config *cfg, struct store *s, struct err *e)
{
    memset(idp, 0, sizeof *idp);
    if (!idp_password_ready()) {
        return err_set(e, IDP_E_CONFIG, "idp: libsodium cannot be initialised");
    }
    if (config_copy(&idp->cfg, cfg, e) < 0) {
        memset(idp, 0, sizeof *idp);
        return -1;
    }
    idp->keys = keys_new();
    if (load_secret(idp, s, e) < 0) {
        goto fail;
    }
    /* Most starts find the key: no RSA generation (~100 ms) unless it is missing. */
    struct store_keypair k = {0};
    int rc = store_keypair_get_by_name(s, IDP_DEFAULT_KEY_NAME, &k, e);
    store_keypair_free(&k);
    if (rc < 0 || (rc == STORE_NOT_FOUND && create_default_key(s, e) < 0) ||
        idp_keys_sync(idp, s, NULL, e) < 0) {
        goto fail;
    }
    return 0;
fail:
    idp_free(idp);
    return -1;
}

void idp_free(struct idp *idp)
{
    if (idp == NULL) {
        return;
    }
    keys_free(idp->keys);
    free(idp->cfg.public_url);
    free(idp->cfg.host);
    sodium_memzero(idp->secret, sizeof idp->secret);
    memset(idp, 0, sizeof *idp);
}
