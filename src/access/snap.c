/*
 * snap.c: the gateway's configuration as requests read it: an immutable snapshot built from
 * the store (team domain, identity providers, applications with their AUD tags and origins,
 * signing keys), swapped whole by the background thread. A request takes a reference for its
 * lifetime, so a reload never changes what a request in flight sees.
 */
#include "access/gate_int.h"

#include <string.h>

/* ---- references ----------------------------------------------------------------------
 * A reference per request cost a mutex and an atomic add and subtract on a counter shared by
 * every loop thread (bench/gate), for a snapshot that changes every GATE_RELOAD_S. So each
 * thread keeps one counted reference (tl_snap) to the snapshot it saw last, and a reference
 * it hands out to the current snapshot is a loan of that one, counted in tl_loans: no lock,
 * no shared write. gate_snap_put of tl_snap on its thread returns a loan while any is out,
 * else it drops a counted reference (a job's, taken with an atomic add, put on the thread
 * that holds tl_snap): references of one snapshot are interchangeable, so the counts stay
 * balanced either way, and tl_snap's own reference keeps it alive meanwhile. When the
 * version moves on, the loans still out become counted references before tl_snap changes.
 * Versions are unique across gates (gate.c): an equal version is the gate's current
 * snapshot. */

static __thread struct gate_snap *tl_snap; /* this thread's counted reference, or NULL */
static __thread struct access_gate *tl_gate;
static __thread size_t tl_loans; /* references handed out as loans of tl_snap */
static pthread_key_t tl_key;     /* its destructor: the thread's reference */
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void snap_free(struct gate_snap *s)
{
    access_config_free(&s->cfg);
    free(s->apps);
    keys_free(s->ring);
    jose_jwks_free(s->jwks);
    buf_free(&s->certs);
    free(s);
}

static struct gate_snap *snap_ref_locked(struct access_gate *g)
{
    pthread_mutex_lock(&g->mu);
    struct gate_snap *s = g->snap;
    if (s != NULL) {
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&g->mu);
    return s;
}

static void snap_unref(struct gate_snap *s)
{
    if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        snap_free(s);
    }
}

/* The thread's reference ends (its loans, if any, become counted references). */
static void tl_drop(void)
{
    if (tl_snap != NULL && tl_loans > 0) {
        __atomic_add_fetch(&tl_snap->refs, tl_loans, __ATOMIC_RELAXED);
    }
    snap_unref(tl_snap);
    tl_snap = NULL;
    tl_gate = NULL;
    tl_loans = 0;
}

static void tl_destroy(void *arg)
{
    (void)arg; /* tl_snap, still readable while the thread's destructors run */
    tl_drop();
}

static void tl_key_make(void)
{
    (void)pthread_key_create(&tl_key, tl_destroy);
}

struct gate_snap *gate_snap_get(struct access_gate *g)
{
    struct gate_snap *cur = tl_snap;
    if (cur != NULL && cur->version == __atomic_load_n(&g->snap_version, __ATOMIC_ACQUIRE)) {
        tl_loans++;
        return cur;
    }
    struct gate_snap *s = snap_ref_locked(g);
    if (s == NULL || s == cur) {
        return s; /* a counted reference */
    }
    /* Keep s as this thread's reference; the destructor drops it when the thread exits. */
    pthread_once(&tl_once, tl_key_make);
    if (pthread_setspecific(tl_key, s) != 0) {
        return s; /* no thread reference: a counted one */
    }
    tl_drop();
    tl_snap = s;
    tl_gate = g;
    tl_loans = 1;
    return s;
}

void gate_snap_put(struct gate_snap *s)
{
    if (s != NULL && s == tl_snap && tl_loans > 0) {
        tl_loans--;
        return;
    }
    snap_unref(s);
}

void gate_snap_forget(struct access_gate *g)
{
    if (tl_gate != g || tl_snap == NULL) {
        return;
    }
    pthread_once(&tl_once, tl_key_make);
    (void)pthread_setspecific(tl_key, NULL);
    tl_drop();
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
