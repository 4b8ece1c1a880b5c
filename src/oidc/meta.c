/*
 * meta.c: building the discovery document and the JWKS of a slug on a worker (a cache miss),
 * then caching their bytes (cache.c). Also the lookups several endpoints share.
 */
#include "oidc/oidc_int.h"

#include "idp/idp.h"
#include "keys/keys.h"

#include <string.h>

int oidc_app_by_slug(struct store *s, const char *slug_z, struct store_app *app,
                     struct store_provider *p, struct err *e)
{
    int rc = store_app_get_by_slug(s, slug_z, app, e);
    if (rc != 0) {
        return rc;
    }
    if (app->provider_id == 0) {
        return STORE_NOT_FOUND;
    }
    return store_provider_get_by_id(s, app->provider_id, p, e);
}

int oidc_provider_key(const struct oidc *o, struct store *s, const struct store_provider *p,
                      struct keys_info *ki, struct err *e)
{
    const char *name = p->signing_key && *p->signing_key ? p->signing_key : IDP_DEFAULT_KEY_NAME;
    if (idp_key_find(o->idp, name, ki, e) == 0) {
        return 0;
    }
    if (idp_keys_sync(o->idp, s, NULL, e) != 0 || idp_key_find(o->idp, name, ki, e) != 0) {
        return err_prefix(e, "provider %s: signing key", p->name);
    }
    return 0;
}

static int dump_into(json_t *j, struct buf *out)
{
    char *s = j ? util_json_dump(j) : NULL;
    json_decref(j);
    int rc = s != NULL && buf_append_z(out, s) == 0 ? 0 : -1;
    free(s);
    return rc;
}

void oidc_meta_work(struct oidc_job *j)
{
    struct err e = {0};
    struct store_app app = {0};
    struct store_provider p = {0};
    struct buf docs[OIDC_META_KINDS];
    for (int k = 0; k < OIDC_META_KINDS; k++) {
        buf_init(&docs[k], OIDC_JSON_MAX);
    }
    uint64_t gen = oidc_cache_generation();
    struct store *s = store_thread(&e);
    int rc = s ? oidc_app_by_slug(s, j->slug, &app, &p, &e) : -1;
    if (rc == STORE_NOT_FOUND) {
        oidc_reply_oauth_error(&j->reply, 404, "not_found", "no application with this slug");
        goto done;
    }
    struct keys_info ki;
    const char *kids[2] = {ki.kid, NULL};
    if (rc != 0 || oidc_provider_key(j->o, s, &p, &ki, &e) != 0 ||
        dump_into(oidc_discovery_json(j->o->idp->cfg.public_url, j->slug, ki.alg),
                  &docs[OIDC_META_DISCOVERY]) != 0 ||
        dump_into(keys_jwks_json(j->o->idp->keys, kids, &e), &docs[OIDC_META_JWKS]) != 0) {
        /* Public documents that rarely change: while the store cannot be reached, the last
         * ones built keep relying parties verifying tokens (issue 6: requests that do not
         * need the database keep working). */
        if (store_unavailable(&e) &&
            oidc_cache_stale(j->o->cache, j->slug, (enum oidc_meta_kind)j->kind, &j->reply)) {
            log_warn("store unavailable: %s (the documents of %s are served from memory)", e.msg,
                     j->slug);
            goto done;
        }
        err_prefix(&e, "documents of %s", j->slug);
        oidc_reply_failure(&j->reply, "meta", &e);
        goto done;
    }
    oidc_cache_put(j->o->cache, j->slug, gen, docs);
    struct buf *d = &docs[j->kind];
    char etag[40];
    oidc_etag(d->p, d->len, etag);
    oidc_meta_headers(&j->reply, (enum oidc_meta_kind)j->kind, etag);
    buf_free(&j->reply.body);
    j->reply.body = *d;
    buf_init(d, OIDC_JSON_MAX);
    j->reply.status = 200;
    j->reply.content_type = "application/json";
done:
    for (int k = 0; k < OIDC_META_KINDS; k++) {
        buf_free(&docs[k]);
    }
    store_app_free(&app);
    store_provider_free(&p);
}
