/*
 * `postern store export` (issue 6, "Moving up"): every object of the configuration, read
 * through the store's API, as one JSON document that `postern store import` writes into
 * another store, of either backend, without loss. What the document holds is exactly what
 * import can write back as it was, so that the export of an imported store is byte for byte
 * the export it came from:
 *  - users with their uuid (the `sub` of hashed_user_id / user_uuid modes) and password hash,
 *    groups and memberships, certificate-key pairs (kid and PEMs), providers (client_id and
 *    secret), applications with their bindings, the gateway's identity providers, its
 *    applications with their AUD tags (origins check them), service tokens (client id and the
 *    digest of the secret), its signing keys in rotation order with the end of each retired
 *    key's grace period, and the settings of the meta table (the IdP's secret, the team domain);
 *  - not the times the store stamps (created_at, updated_at, password_changed_at, last_used,
 *    retired_at): the importing store stamps its own, and no protocol depends on them;
 *  - not the runtime state (sessions, codes, tokens, consents, login states, throttling,
 *    events): users log in again after a move.
 * Order is fixed (the store lists by name, slug or rotation order, in byte order on both
 * backends) and no time of the export is written: two exports of equal stores are equal.
 */
#include "admin/admin_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "access/access.h"
#include "store/store.h"

#define ID_KEY_MAX 24 /* an int64_t in decimal, its sign and NUL */

/* The settings of the meta table that are part of the configuration (store_meta_get: the
 * store has no list of its keys). */
const char *const admin_export_meta_keys[] = {IDP_SECRET_META_KEY, ACCESS_META_TEAM, NULL};

/* One export in progress. The id maps turn the store's ids into the names that the document
 * uses (ids differ from one store to the other). */
struct exp {
    struct store *s;
    struct err *e;
    json_t *objects;   /* borrowed from the document */
    json_t *users;     /* "id" -> username */
    json_t *groups;    /* "id" -> group name */
    json_t *providers; /* "id" -> provider name */
};

static void id_key(int64_t id, char out[ID_KEY_MAX])
{
    snprintf(out, ID_KEY_MAX, "%" PRId64, id);
}

static void map_put(json_t *map, int64_t id, const char *name_z)
{
    char k[ID_KEY_MAX];
    id_key(id, k);
    json_object_set_new(map, k, json_string(name_z));
}

static const char *map_get(const json_t *map, int64_t id)
{
    char k[ID_KEY_MAX];
    id_key(id, k);
    return json_string_value(json_object_get(map, k));
}

/* A new array under objects[key] (borrowed). */
static json_t *section(struct exp *x, const char *key)
{
    json_t *a = json_array();
    json_object_set_new(x->objects, key, a);
    return a;
}

/* Appends o to arr, or fails when o is NULL: json_pack refuses a string that is not UTF-8
 * (SQLite keeps any bytes in a TEXT column), and the object must not go missing silently. */
static int append(struct exp *x, json_t *arr, json_t *o, const char *what, const char *name_z)
{
    if (o == NULL) {
        return err_set(x->e, 0, "%s \"%s\": a value is not valid UTF-8 text", what, name_z);
    }
    json_array_append_new(arr, o);
    return 0;
}

/* The JSON text of a column (attributes, config, redirect_uris...) as a value of the
 * document; text "" reads as `empty` (the store's own default). */
static int json_column(struct exp *x, const char *text_z, const char *empty_z, const char *what,
                       const char *name_z, json_t **out)
{
    json_error_t je;
    const char *t = text_z[0] ? text_z : empty_z;
    *out = json_loads(t, JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL) {
        return err_set(x->e, 0, "%s \"%s\": the stored value is not JSON: %s", what, name_z,
                       je.text);
    }
    return 0;
}

/* ---- settings, groups, users ------------------------------------------------------- */

static int export_meta(struct exp *x)
{
    json_t *meta = json_object();
    json_object_set_new(x->objects, "meta", meta);
    struct buf v;
    buf_init(&v, STORE_META_VALUE_MAX);
    int rc = 0;
    for (size_t i = 0; rc == 0 && admin_export_meta_keys[i] != NULL; i++) {
        rc = store_meta_get(x->s, admin_export_meta_keys[i], &v, x->e);
        if (rc == 0 &&
            json_object_set_new(meta, admin_export_meta_keys[i], json_stringn(v.p, v.len)) != 0) {
            rc = err_set(x->e, 0, "setting %s: not valid UTF-8 text", admin_export_meta_keys[i]);
        }
        rc = rc == STORE_NOT_FOUND ? 0 : rc;
    }
    util_wipe(v.p, v.len); /* the IdP's secret */
    buf_free(&v);
    return rc;
}

static int export_group(struct exp *x, json_t *arr, const struct store_group *g)
{
    json_t *attrs;
    if (json_column(x, g->attributes, "{}", "group", g->name, &attrs) != 0) {
        return -1;
    }
    map_put(x->groups, g->id, g->name);
    return append(x, arr, json_pack("{s:s, s:o}", "name", g->name, "attributes", attrs), "group",
                  g->name);
}

static int export_groups(struct exp *x)
{
    json_t *arr = section(x, "groups");
    struct store_group_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_group_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = export_group(x, arr, &l.v[i]);
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_group_list_free(&l);
    return rc;
}

/* The names of the user's groups (the store orders them by name). */
static int user_groups(struct exp *x, const struct store_user *u, json_t **out)
{
    struct store_group_list l = {0};
    if (store_user_groups(x->s, u->id, &l, x->e) != 0) {
        return -1;
    }
    *out = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_array_append_new(*out, json_string(l.v[i].name));
    }
    store_group_list_free(&l);
    return 0;
}

static int export_user(struct exp *x, json_t *arr, const struct store_user *u)
{
    json_t *attrs = NULL, *groups = NULL;
    if (json_column(x, u->attributes, "{}", "user", u->username, &attrs) != 0 ||
        user_groups(x, u, &groups) != 0) {
        json_decref(attrs);
        return -1;
    }
    map_put(x->users, u->id, u->username);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:o, s:s, s:o}", "username", u->username,
                          "id", (json_int_t)u->id, "uuid", u->uuid, "name", u->name, "email",
                          u->email, "is_active", u->is_active, "attributes", attrs, "password_hash",
                          u->password_hash, "groups", groups);
    return append(x, arr, o, "user", u->username);
}

static int export_users(struct exp *x)
{
    json_t *arr = section(x, "users");
    struct store_user_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_user_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = export_user(x, arr, &l.v[i]);
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_user_list_free(&l); /* wipes the password hashes */
    return rc;
}

/* ---- keys, providers, applications ---------------------------------------------------- */

static int export_keypairs(struct exp *x)
{
    json_t *arr = section(x, "certificate_keypairs");
    struct store_keypair_list l = {0};
    if (store_keypair_list(x->s, &l, x->e) != 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const struct store_keypair *k = &l.v[i];
        rc = append(x, arr,
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", k->name, "kid", k->kid, "alg",
                              k->alg, "key_pem", k->key_pem, "cert_pem", k->cert_pem),
                    "certificate-key pair", k->name);
    }
    store_keypair_list_free(&l); /* wipes the private keys */
    return rc;
}

static int export_provider(struct exp *x, json_t *arr, const struct store_provider *p)
{
    json_t *uris;
    if (json_column(x, p->redirect_uris, "[]", "provider", p->name, &uris) != 0) {
        return -1;
    }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:s, s:b}", "name", p->name,
        "authorization_flow", p->authorization_flow, "client_type", p->client_type, "client_id",
        p->client_id, "client_secret", p->client_secret, "redirect_uris", uris, "signing_key",
        p->signing_key, "access_code_validity", (json_int_t)p->access_code_validity,
        "access_token_validity", (json_int_t)p->access_token_validity, "refresh_token_validity",
        (json_int_t)p->refresh_token_validity, "sub_mode", p->sub_mode,
        "include_claims_in_id_token", p->include_claims_in_id_token);
    map_put(x->providers, p->id, p->name);
    return append(x, arr, o, "provider", p->name);
}

static int export_providers(struct exp *x)
{
    json_t *arr = section(x, "providers");
    struct store_provider_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_provider_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = export_provider(x, arr, &l.v[i]);
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_provider_list_free(&l); /* wipes the client secrets */
    return rc;
}

/* One binding: the user or group by name. A binding whose user or group was deleted matches
 * nobody (store.h) and must stay so: dropping it could open the application to everyone. */
static int export_binding(struct exp *x, json_t *arr, const struct store_app *a,
                          const struct store_binding *b)
{
    json_t *o = json_pack("{s:I}", "order", (json_int_t)b->order);
    const char *name = NULL; /* the maps hold valid UTF-8 only */
    if (b->user_id != 0 && (name = map_get(x->users, b->user_id)) != NULL) {
        json_object_set_new(o, "user", json_string(name));
    } else if (b->group_id != 0 && (name = map_get(x->groups, b->group_id)) != NULL) {
        json_object_set_new(o, "group", json_string(name));
    } else if (b->user_id == 0 && b->group_id == 0) {
        json_object_set_new(o, "orphaned", json_true());
    } else {
        json_decref(o);
        return err_set(x->e, 0,
                       "application \"%s\": a binding names user or group id %" PRId64
                       " that the lists did not show (changed during the export?)",
                       a->slug, b->user_id ? b->user_id : b->group_id);
    }
    json_object_set_new(o, "negate", json_boolean(b->negate));
    json_object_set_new(o, "enabled", json_boolean(b->enabled));
    json_array_append_new(arr, o);
    return 0;
}

static int export_app(struct exp *x, json_t *arr, const struct store_app *a)
{
    struct store_binding_list bl = {0};
    json_t *meta = NULL;
    const char *provider = a->provider_id ? map_get(x->providers, a->provider_id) : NULL;
    if (a->provider_id != 0 && provider == NULL) {
        return err_set(x->e, 0, "application \"%s\": provider id %" PRId64 " is not listed",
                       a->slug, a->provider_id);
    }
    if (json_column(x, a->meta, "{}", "application", a->slug, &meta) != 0 ||
        store_app_bindings(x->s, a->id, &bl, x->e) != 0) {
        json_decref(meta);
        return -1;
    }
    json_t *bindings = json_array();
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:s, s:o, s:O}", "slug", a->slug, "name", a->name, "provider",
                  provider ? json_string(provider) : json_null(), "policy_engine_mode",
                  a->policy_engine_mode, "meta", meta, "bindings", bindings);
    int rc = append(x, arr, o, "application", a->slug);
    for (size_t i = 0; rc == 0 && i < bl.n; i++) {
        rc = export_binding(x, bindings, a, &bl.v[i]);
    }
    store_binding_list_free(&bl);
    json_decref(bindings);
    return rc;
}

static int export_apps(struct exp *x)
{
    json_t *arr = section(x, "applications");
    struct store_app_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_app_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = export_app(x, arr, &l.v[i]);
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_app_list_free(&l);
    return rc;
}

/* ---- the access gateway ------------------------------------------------------------ */

static int export_access_idps(struct exp *x)
{
    json_t *arr = section(x, "access_identity_providers");
    struct store_access_idp_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_access_idp_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            json_t *cfg;
            rc = json_column(x, l.v[i].config, "{}", "identity provider", l.v[i].name, &cfg);
            if (rc == 0) {
                rc = append(x, arr,
                            json_pack("{s:s, s:s, s:o}", "name", l.v[i].name, "type", l.v[i].type,
                                      "config", cfg),
                            "identity provider", l.v[i].name);
            }
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_access_idp_list_free(&l); /* wipes the client secrets */
    return rc;
}

static int export_access_apps(struct exp *x)
{
    json_t *arr = section(x, "access_applications");
    struct store_access_app_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_access_app_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            const struct store_access_app *a = &l.v[i];
            json_t *cfg;
            rc = json_column(x, a->config, "{}", "access application", a->name, &cfg);
            if (rc == 0) {
                rc = append(x, arr,
                            json_pack("{s:s, s:s, s:s, s:o}", "name", a->name, "domain", a->domain,
                                      "aud", a->aud, "config", cfg),
                            "access application", a->name);
            }
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_access_app_list_free(&l);
    return rc;
}

static int export_service_token(struct exp *x, json_t *arr, const struct store_service_token *t)
{
    char hash[STORE_ID_SIZE];
    int rc = store_service_token_secret_hash(x->s, t, hash, x->e);
    if (rc != 0) {
        return rc < 0
                   ? err_prefix(x->e, "service token \"%s\"", t->name)
                   : err_set(x->e, 0, "service token \"%s\" vanished during the export", t->name);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "name", t->name, "client_id", t->client_id,
                          "secret_hash", hash, "expires_at", (json_int_t)t->expires_at);
    util_wipe(hash, sizeof hash);
    return append(x, arr, o, "service token", t->name);
}

static int export_service_tokens(struct exp *x)
{
    json_t *arr = section(x, "service_tokens");
    struct store_service_token_list l = {0};
    struct store_page pg = {STORE_LIST_MAX, 0};
    int rc;
    do {
        rc = store_service_token_list(x->s, &pg, &l, x->e);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = export_service_token(x, arr, &l.v[i]);
        }
        pg.offset += l.n;
    } while (rc == 0 && l.n == STORE_LIST_MAX);
    store_service_token_list_free(&l);
    return rc;
}

/* The keys that still verify, as the store lists them: the current key first, then the
 * retired ones from the newest. A retired key whose grace period is over verifies nothing
 * and is not listed: it is not moved (its key pair is, with the others). */
static int export_access_keys(struct exp *x)
{
    json_t *arr = section(x, "access_keys");
    struct store_access_key_list l = {0};
    if (store_access_key_list(x->s, &l, x->e) != 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const struct store_access_key *k = &l.v[i];
        rc = append(x, arr,
                    json_pack("{s:s, s:b, s:I}", "keypair", k->keypair_name, "current",
                              k->retired_at == 0, "not_after", (json_int_t)k->not_after),
                    "gateway signing key", k->keypair_name);
    }
    store_access_key_list_free(&l);
    return rc;
}

/* ---- the document ------------------------------------------------------------------ */

static int export_all(struct exp *x)
{
    /* Groups and users before the applications: bindings name them. */
    if (export_meta(x) != 0 || export_groups(x) != 0 || export_users(x) != 0 ||
        export_keypairs(x) != 0 || export_providers(x) != 0 || export_apps(x) != 0 ||
        export_access_idps(x) != 0 || export_access_apps(x) != 0 || export_service_tokens(x) != 0 ||
        export_access_keys(x) != 0) {
        return -1;
    }
    return 0;
}

int admin_export_objects(struct store *s, json_t *objects, struct err *e)
{
    struct exp x = {s, e, objects, json_object(), json_object(), json_object()};
    int rc = export_all(&x);
    json_decref(x.users);
    json_decref(x.groups);
    json_decref(x.providers);
    return rc;
}

int admin_store_export(struct store *s, json_t **out, struct err *e)
{
    int version = 0;
    *out = NULL;
    if (store_schema_version(s, &version, e) != 0) {
        return -1;
    }
    if (version != store_schema_latest(s)) {
        return err_set(e, version > store_schema_latest(s) ? STORE_E_SCHEMA_NEWER : 0,
                       "the store's schema is version %d, this postern's %d: %s", version,
                       store_schema_latest(s),
                       version > store_schema_latest(s) ? "export it with a newer postern"
                                                        : "run `postern migrate` first");
    }
    json_t *doc = json_pack("{s:s, s:i, s:i, s:{}}", "format", ADMIN_EXPORT_FORMAT, "version",
                            ADMIN_EXPORT_VERSION, "schema_version", version, "objects");
    /* One transaction: SQLite reads one snapshot (and writers wait for the export). */
    int rc = store_tx_begin(s, e);
    if (rc == 0) {
        rc = admin_export_objects(s, json_object_get(doc, "objects"), e);
        struct err ignored = {0};
        store_tx_rollback(s, &ignored);
    }
    if (rc != 0) {
        json_decref(doc);
        return -1;
    }
    *out = doc;
    return 0;
}
