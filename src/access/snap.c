/*
 * snap.c: the gateway's configuration as requests read it: an immutable snapshot built from
 * the store (team domain, identity providers, applications with their AUD tags and origins,
 * signing keys), swapped whole by the background thread. A request takes a reference for its
 * lifetime, so a reload never changes what a request in flight sees.
 */
#include "access/gate_int.h"

#include <string.h>

struct gate_snap *gate_snap_get(struct access_gate *g)
{
    pthread_mutex_lock(&g->mu);
    struct gate_snap *s = g->snap;
    if (s != NULL) {
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&g->mu);
    return s;
}

static void snap_free(struct gate_snap *s)
{
    access_config_free(&s->cfg);
    free(s->apps);
    keys_free(s->ring);
    jose_jwks_free(s->jwks);
    buf_free(&s->certs);
    free(s);
}

void gate_snap_put(struct gate_snap *s)
{
    if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        snap_free(s);
    }
}

const struct gate_app *gate_snap_app(const struct gate_snap *s, const struct access_app *a)
{
    if (a == NULL || a < s->cfg.apps || a >= s->cfg.apps + s->cfg.napps) {
        return NULL;
    }
    return &s->apps[a - s->cfg.apps];
}

/* The origin of a URL, made once and kept for the gate's life (its keep-alive pools). */
struct http_origin *gate_origin(struct access_gate *g, const struct access_url *u, struct err *e)
{
    struct http_origin *o = NULL;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->norigins && o == NULL; i++) {
        if (strcmp(g->origins[i].url, u->text) == 0) {
            o = g->origins[i].origin;
        }
    }
    if (o == NULL) {
        o = http_origin_new(u->text, NULL, e);
        if (o != NULL) {
            g->origins = xrealloc(g->origins, (g->norigins + 1) * sizeof *g->origins);
            g->origins[g->norigins].url = xstrdup(u->text);
            g->origins[g->norigins].origin = o;
            g->norigins++;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return o;
}

/* The stored objects as one `access:` object, for access_config_parse. */
static json_t *stored_config(struct store *s, struct err *e)
{
    struct buf team;
    buf_init(&team, ACCESS_URL_MAX);
    struct store_access_idp_list idps = {0};
    struct store_access_app_list apps = {0};
    json_t *root = NULL;
    int rc = store_meta_get(s, GATE_META_TEAM, &team, e);
    if (rc != 0) {
        if (rc > 0) {
            err_set(e, 0, "no access.team_domain is configured");
        }
        goto done;
    }
    if (store_access_idp_list(s, NULL, &idps, e) != 0 ||
        store_access_app_list(s, NULL, &apps, e) != 0) {
        goto done;
    }
    root = json_object();
    json_object_set_new(root, "team_domain", json_stringn(team.p, team.len));
    json_t *ji = json_array(), *ja = json_array();
    json_object_set_new(root, "identity_providers", ji);
    json_object_set_new(root, "applications", ja);
    for (size_t i = 0; i < idps.n; i++) {
        json_array_append_new(ji, util_json_parse(slice_z(idps.v[i].config), e));
    }
    for (size_t i = 0; i < apps.n; i++) {
        json_t *a = util_json_parse(slice_z(apps.v[i].config), e);
        if (json_is_object(a)) {
            json_object_set_new(a, "aud", json_string(apps.v[i].aud));
        }
        json_array_append_new(ja, a);
    }
done:
    buf_free(&team);
    store_access_idp_list_free(&idps);
    store_access_app_list_free(&apps);
    return root;
}

struct gate_snap *gate_snap_load(struct access_gate *g, struct store *s, struct err *e)
{
    json_t *root = stored_config(s, e);
    if (root == NULL) {
        return NULL;
    }
    struct gate_snap *snap = xcalloc(1, sizeof *snap);
    snap->refs = 1;
    struct access_err ae = {0};
    int rc = access_config_parse(root, "access", &snap->cfg, &ae);
    json_decref(root);
    if (rc != 0) {
        access_err_format(&ae, e);
        err_prefix(e, "stored gateway configuration");
        snap_free(snap);
        return NULL;
    }
    snap->apps = xcalloc(snap->cfg.napps ? snap->cfg.napps : 1, sizeof *snap->apps);
    for (size_t i = 0; i < snap->cfg.napps; i++) {
        struct gate_app *ga = &snap->apps[i];
        ga->app = &snap->cfg.apps[i];
        snprintf(ga->aud, sizeof ga->aud, "%s", ga->app->aud ? ga->app->aud : "");
        ga->origin = gate_origin(g, &ga->app->origin, e);
        if (ga->origin == NULL) {
            err_prefix(e, "application %s: origin", ga->app->name);
            snap_free(snap);
            return NULL;
        }
    }
    if (gate_keys_load(s, snap, e) != 0) {
        snap_free(snap);
        return NULL;
    }
    return snap;
}
