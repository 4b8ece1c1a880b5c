/*
 * `postern store import` (issue 6, "Moving up"): writes the objects of a `postern store
 * export` document into another store, of either backend, as they were: user uuids (the
 * `sub` of existing accounts at every relying party), password hashes, client ids and
 * secrets, key pairs with their kid and PEMs, AUD tags (origins check them), service-token
 * client ids and secret digests (machine clients keep their credentials), the order and grace
 * periods of the gateway's signing keys, the IdP's secret and the team domain.
 *
 * One transaction, all or nothing: the target must hold none of these objects (a new
 * database after `postern migrate`: merging two installations is not what this is for), and
 * any refused object (a missing field, a reference to an object the document lacks, a
 * duplicate name, a key pair whose kid is not its key's) rolls everything back, with an
 * error naming the object and the field.
 */
#include "admin/import_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "jose/jose.h"
#include "keys/keys.h"
#include "store/store.h"

#define IMPORT_TRIES       3 /* transactions tried when the clock moves during a key's retirement */
#define ORPHAN_USER_PREFIX "postern-import-orphaned-binding-" /* + random hex */
#define ORPHAN_USER_RANDOM 16                                 /* bytes */

/* ---- reading the document ---------------------------------------------------------- */

int imp_bad(struct imp *x, const char *where, const char *key, const char *fmt, ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (key == NULL) {
        return err_set(x->e, 0, "%s: %s", where, what);
    }
    return err_set(x->e, 0, "%s%s%s: %s", where, where[0] ? "." : "", key, what);
}

void imp_where(char out[IMPORT_WHERE_MAX], const char *section, size_t i, const char *name_z)
{
    if (name_z == NULL) {
        snprintf(out, IMPORT_WHERE_MAX, "objects.%s[%zu]", section, i);
    } else {
        snprintf(out, IMPORT_WHERE_MAX, "objects.%s[%zu] (\"%.*s\")", section, i, ADMIN_FIELD_MAX,
                 name_z);
    }
}

int imp_check_keys(struct imp *x, const json_t *o, const char *where, const char *const *known)
{
    if (!json_is_object(o)) {
        return imp_bad(x, where, NULL, "expected an object");
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            return imp_bad(x, where, key, "unknown field");
        }
    }
    return 0;
}

static const json_t *member(struct imp *x, const json_t *o, const char *where, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL) {
        imp_bad(x, where, key, "missing");
    }
    return v;
}

int imp_str(struct imp *x, const json_t *o, const char *where, const char *key, bool nonempty,
            const char **out)
{
    const json_t *v = member(x, o, where, key);
    if (v == NULL) {
        return -1;
    }
    if (!json_is_string(v) || (nonempty && json_string_length(v) == 0)) {
        return imp_bad(x, where, key,
                       nonempty ? "expected a non-empty string" : "expected a string");
    }
    if (json_string_length(v) > STORE_TEXT_MAX) {
        return imp_bad(x, where, key, "longer than %d bytes", STORE_TEXT_MAX);
    }
    *out = json_string_value(v);
    return 0;
}

int imp_int(struct imp *x, const json_t *o, const char *where, const char *key, int64_t min,
            int64_t max, int64_t *out)
{
    const json_t *v = member(x, o, where, key);
    if (v == NULL) {
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return imp_bad(x, where, key, "expected a whole number from %" PRId64 " to %" PRId64, min,
                       max);
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int imp_bool(struct imp *x, const json_t *o, const char *where, const char *key, bool *out)
{
    const json_t *v = member(x, o, where, key);
    if (v == NULL) {
        return -1;
    }
    if (!json_is_boolean(v)) {
        return imp_bad(x, where, key, "expected true or false");
    }
    *out = json_is_true(v);
    return 0;
}

int imp_text(struct imp *x, const json_t *o, const char *where, const char *key, int type,
             char **out)
{
    const json_t *v = member(x, o, where, key);
    if (v == NULL) {
        return -1;
    }
    if ((int)json_typeof(v) != type) {
        return imp_bad(x, where, key,
                       type == JSON_OBJECT ? "expected an object" : "expected an array");
    }
    *out = util_json_dump(v); /* compact, in the document's order: what the admin layer writes */
    return 0;
}

int imp_array(struct imp *x, const json_t *o, const char *where, const char *key, size_t max,
              const json_t **out)
{
    const json_t *v = member(x, o, where, key);
    if (v == NULL) {
        return -1;
    }
    if (!json_is_array(v)) {
        return imp_bad(x, where, key, "expected an array");
    }
    if (json_array_size(v) > max) {
        return imp_bad(x, where, key, "more than %zu elements", max);
    }
    *out = v;
    return 0;
}

int64_t imp_id(const json_t *map, const char *name_z)
{
    return (int64_t)json_integer_value(json_object_get(map, name_z));
}

/* Whether name_z comes twice in a section: the store would update the first object. */
static int unique(struct imp *x, json_t *map, const char *where, const char *name_z, int64_t id)
{
    if (json_object_get(map, name_z) != NULL) {
        return imp_bad(x, where, NULL, "a second object of this name");
    }
    json_object_set_new(map, name_z, json_integer(id));
    return 0;
}

/* ---- settings, groups, users ------------------------------------------------------- */

static int import_meta(struct imp *x)
{
    const json_t *meta = json_object_get(x->objects, "meta");
    if (imp_check_keys(x, meta, "objects.meta", admin_export_meta_keys) != 0) {
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)meta, key, v)
    {
        const char *val;
        if (imp_str(x, meta, "objects.meta", key, false, &val) != 0) {
            return -1;
        }
        if (store_meta_set(x->s, key, slice_z(val), x->e) != 0) {
            return err_prefix(x->e, "objects.meta.%s", key);
        }
        x->st.meta++;
    }
    return 0;
}

static int import_group(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name", "attributes", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_group g = {0};
    bool created = false;
    imp_where(where, "groups", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&g.name) != 0) {
        return -1;
    }
    imp_where(where, "groups", i, g.name);
    int rc = imp_text(x, o, where, "attributes", JSON_OBJECT, &g.attributes);
    if (rc == 0 && json_object_get(x->group_ids, g.name) != NULL) {
        rc = imp_bad(x, where, NULL, "a second group of this name");
    }
    if (rc == 0 && store_group_upsert(x->s, &g, &created, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    }
    if (rc == 0) {
        json_object_set_new(x->group_ids, g.name, json_integer(g.id));
        x->st.groups++;
    }
    free(g.attributes);
    return rc;
}

/* The user's memberships: names of groups of the document. */
static int user_groups(struct imp *x, const json_t *o, const char *where, int64_t user_id)
{
    const json_t *arr;
    if (imp_array(x, o, where, "groups", STORE_GROUPS_MAX, &arr) != 0) {
        return -1;
    }
    size_t n = json_array_size(arr);
    const char **names = xcalloc(n + 1, sizeof *names);
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        names[k] = json_string_value(json_array_get(arr, k));
        if (names[k] == NULL || imp_id(x->group_ids, names[k]) == 0) {
            char f[ADMIN_FIELD_MAX];
            snprintf(f, sizeof f, "groups[%zu]", k);
            rc = names[k] == NULL
                     ? imp_bad(x, where, f, "expected a group name")
                     : imp_bad(x, where, f, "no group \"%s\" in objects.groups", names[k]);
        }
    }
    if (rc == 0 && n > 0 && store_user_set_groups(x->s, user_id, names, n, x->e) != 0) {
        rc = err_prefix(x->e, "%s.groups", where);
    }
    free(names);
    return rc;
}

static int import_user(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"username", "id",        "uuid",       "name",
                                        "email",    "is_active", "attributes", "password_hash",
                                        "groups",   NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_user u = {0};
    const char *uuid;
    imp_where(where, "users", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "username", true, (const char **)&u.username) != 0) {
        return -1;
    }
    imp_where(where, "users", i, u.username);
    int rc = imp_str(x, o, where, "uuid", true, &uuid);
    if (rc == 0 && strlen(uuid) != STORE_UUID_SIZE - 1) {
        rc = imp_bad(x, where, "uuid", "expected %d characters", STORE_UUID_SIZE - 1);
    }
    if (rc != 0 || imp_int(x, o, where, "id", 1, INT64_MAX, &u.id) != 0 ||
        imp_str(x, o, where, "name", false, (const char **)&u.name) != 0 ||
        imp_str(x, o, where, "email", false, (const char **)&u.email) != 0 ||
        imp_bool(x, o, where, "is_active", &u.is_active) != 0 ||
        imp_str(x, o, where, "password_hash", false, (const char **)&u.password_hash) != 0 ||
        imp_text(x, o, where, "attributes", JSON_OBJECT, &u.attributes) != 0) {
        return -1;
    }
    memcpy(u.uuid, uuid, STORE_UUID_SIZE);
    if (store_user_import(x->s, &u, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    }
    if (rc == 0) {
        json_object_set_new(x->user_ids, u.username, json_integer(u.id));
        rc = user_groups(x, o, where, u.id);
    }
    x->st.users += rc == 0;
    free(u.attributes);
    return rc;
}

/* ---- keys, providers, applications ---------------------------------------------------- */

/* The pair must be what it says: its kid the thumbprint of its key and its alg the key's
 * (the IdP would refuse it at its next start, after the move). */
static int check_keypair(struct imp *x, const struct store_keypair *k, const char *where)
{
    char ring[KEYS_NAME_MAX + 1], kid[KEYS_KID_MAX];
    struct keys_info info;
    struct keys *r = keys_new();
    int rc = 0;
    idp_key_ring_name(k->name, ring);
    if (keys_import_pem(r, ring, slice_z(k->key_pem), slice_z(k->cert_pem), kid, x->e) != 0 ||
        keys_get(r, kid, &info, x->e) != 0) {
        rc = err_prefix(x->e, "%s.key_pem", where);
    } else if (strcmp(kid, k->kid) != 0) {
        rc = imp_bad(x, where, "kid", "not the thumbprint of key_pem (%s)", kid);
    } else if (strcmp(jose_alg_name(info.alg), k->alg) != 0) {
        rc = imp_bad(x, where, "alg", "key_pem signs %s", jose_alg_name(info.alg));
    }
    keys_free(r);
    return rc;
}

static int import_keypair(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name", "kid", "alg", "key_pem", "cert_pem", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_keypair k = {0}, out = {0};
    bool inserted = false;
    imp_where(where, "certificate_keypairs", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&k.name) != 0) {
        return -1;
    }
    imp_where(where, "certificate_keypairs", i, k.name);
    if (imp_str(x, o, where, "kid", true, (const char **)&k.kid) != 0 ||
        imp_str(x, o, where, "alg", true, (const char **)&k.alg) != 0 ||
        imp_str(x, o, where, "key_pem", true, (const char **)&k.key_pem) != 0 ||
        imp_str(x, o, where, "cert_pem", false, (const char **)&k.cert_pem) != 0 ||
        (k.cert_pem[0] != '\0' && check_keypair(x, &k, where) != 0) ||
        unique(x, x->keypairs, where, k.name, 1) != 0) {
        return -1;
    }
    int rc = store_keypair_insert_if_absent(x->s, &k, &out, &inserted, x->e);
    store_keypair_free(&out);
    if (rc != 0 || !inserted) {
        return rc != 0 ? err_prefix(x->e, "%s", where)
                       : imp_bad(x, where, NULL, "the target store has a pair of this name");
    }
    x->st.keypairs++;
    return 0;
}

static int provider_fields(struct imp *x, const json_t *o, const char *where,
                           struct store_provider *p)
{
    if (imp_str(x, o, where, "authorization_flow", true, (const char **)&p->authorization_flow) ||
        imp_str(x, o, where, "client_type", true, (const char **)&p->client_type) ||
        imp_str(x, o, where, "client_id", true, (const char **)&p->client_id) ||
        imp_str(x, o, where, "client_secret", false, (const char **)&p->client_secret) ||
        imp_str(x, o, where, "signing_key", true, (const char **)&p->signing_key) ||
        imp_str(x, o, where, "sub_mode", true, (const char **)&p->sub_mode) ||
        imp_int(x, o, where, "access_code_validity", 1, INT64_MAX, &p->access_code_validity) ||
        imp_int(x, o, where, "access_token_validity", 1, INT64_MAX, &p->access_token_validity) ||
        imp_int(x, o, where, "refresh_token_validity", 1, INT64_MAX, &p->refresh_token_validity) ||
        imp_bool(x, o, where, "include_claims_in_id_token", &p->include_claims_in_id_token)) {
        return -1;
    }
    if (json_object_get(x->keypairs, p->signing_key) == NULL) {
        return imp_bad(x, where, "signing_key",
                       "no certificate-key pair \"%s\" in objects.certificate_keypairs",
                       p->signing_key);
    }
    return 0;
}

static int import_provider(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name",
                                        "authorization_flow",
                                        "client_type",
                                        "client_id",
                                        "client_secret",
                                        "redirect_uris",
                                        "signing_key",
                                        "access_code_validity",
                                        "access_token_validity",
                                        "refresh_token_validity",
                                        "sub_mode",
                                        "include_claims_in_id_token",
                                        NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_provider p = {0};
    bool created = false;
    imp_where(where, "providers", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&p.name) != 0) {
        return -1;
    }
    imp_where(where, "providers", i, p.name);
    int rc = provider_fields(x, o, where, &p);
    if (rc == 0) {
        rc = imp_text(x, o, where, "redirect_uris", JSON_ARRAY, &p.redirect_uris);
    }
    if (rc == 0 && json_object_get(x->provider_ids, p.name) != NULL) {
        rc = imp_bad(x, where, NULL, "a second provider of this name");
    }
    if (rc == 0 && store_provider_upsert(x->s, &p, &created, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    }
    if (rc == 0) {
        json_object_set_new(x->provider_ids, p.name, json_integer(p.id));
        x->st.providers++;
    }
    free(p.redirect_uris);
    return rc;
}

/* A user the orphaned bindings can name while they are written: deleting it afterwards
 * leaves them as they were in the exported store, bound to nobody (store.h, struct
 * store_binding). The store cannot write such a binding directly. */
static int orphan_user(struct imp *x, int64_t *id)
{
    if (x->orphan_user == 0) {
        char username[sizeof(ORPHAN_USER_PREFIX) + 2 * ORPHAN_USER_RANDOM];
        uint8_t r[ORPHAN_USER_RANDOM];
        util_random(r, sizeof r);
        int k = snprintf(username, sizeof username, "%s", ORPHAN_USER_PREFIX);
        for (size_t i = 0; i < sizeof r; i++) {
            k += snprintf(username + k, sizeof username - (size_t)k, "%02x", r[i]);
        }
        struct store_user u = {.username = username, .is_active = false};
        if (store_user_create(x->s, &u, x->e) != 0) {
            return err_prefix(x->e, "a stand-in for orphaned bindings");
        }
        x->orphan_user = u.id;
    }
    *id = x->orphan_user;
    return 0;
}

static int binding(struct imp *x, const json_t *o, const char *where, struct store_binding *b)
{
    static const char *const known[] = {"order",  "user",    "group", "orphaned",
                                        "negate", "enabled", NULL};
    const json_t *user = json_object_get(o, "user"), *group = json_object_get(o, "group");
    const json_t *orphaned = json_object_get(o, "orphaned");
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_int(x, o, where, "order", INT64_MIN, INT64_MAX, &b->order) != 0 ||
        imp_bool(x, o, where, "negate", &b->negate) != 0 ||
        imp_bool(x, o, where, "enabled", &b->enabled) != 0) {
        return -1;
    }
    if ((user != NULL) + (group != NULL) + (orphaned != NULL) != 1 ||
        (orphaned != NULL && !json_is_true(orphaned))) {
        return imp_bad(x, where, NULL, "expected one of user, group or orphaned: true");
    }
    if (orphaned != NULL) {
        return orphan_user(x, &b->user_id);
    }
    const char *kind = user ? "user" : "group";
    const char *name = json_string_value(user ? user : group);
    int64_t id = name ? imp_id(user ? x->user_ids : x->group_ids, name) : 0;
    if (id == 0) {
        return name ? imp_bad(x, where, kind, "no %s \"%s\" in objects.%ss", kind, name, kind)
                    : imp_bad(x, where, kind, "expected a name");
    }
    *(user ? &b->user_id : &b->group_id) = id;
    return 0;
}

static int bindings(struct imp *x, const json_t *o, const char *where, int64_t app_id)
{
    const json_t *arr;
    if (imp_array(x, o, where, "bindings", STORE_GROUPS_MAX, &arr) != 0) {
        return -1;
    }
    size_t n = json_array_size(arr);
    struct store_binding *v = xcalloc(n + 1, sizeof *v);
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        char w[IMPORT_WHERE_MAX];
        snprintf(w, sizeof w, "%.*s.bindings[%zu]", IMPORT_WHERE_MAX - 32, where, k);
        rc = binding(x, json_array_get(arr, k), w, &v[k]);
    }
    if (rc == 0 && n > 0 && store_app_bindings_set(x->s, app_id, v, n, x->e) != 0) {
        rc = err_prefix(x->e, "%s.bindings", where);
    }
    free(v);
    return rc;
}

static int import_app(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"slug", "name",     "provider", "policy_engine_mode",
                                        "meta", "bindings", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_app a = {0};
    bool created = false;
    imp_where(where, "applications", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "slug", true, (const char **)&a.slug) != 0) {
        return -1;
    }
    imp_where(where, "applications", i, a.slug);
    const json_t *provider = member(x, o, where, "provider");
    if (provider == NULL || imp_str(x, o, where, "name", false, (const char **)&a.name) != 0 ||
        imp_str(x, o, where, "policy_engine_mode", true, (const char **)&a.policy_engine_mode)) {
        return -1;
    }
    if (!json_is_null(provider)) {
        const char *pname = json_string_value(provider);
        a.provider_id = pname ? imp_id(x->provider_ids, pname) : 0;
        if (a.provider_id == 0) {
            return pname ? imp_bad(x, where, "provider", "no provider \"%s\" in objects.providers",
                                   pname)
                         : imp_bad(x, where, "provider", "expected a provider name or null");
        }
    }
    int rc = imp_text(x, o, where, "meta", JSON_OBJECT, &a.meta);
    if (rc == 0 && store_app_upsert(x->s, &a, &created, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    } else if (rc == 0 && !created) {
        rc = imp_bad(x, where, NULL, "a second application of this slug");
    }
    if (rc == 0) {
        rc = bindings(x, o, where, a.id);
    }
    x->st.applications += rc == 0;
    free(a.meta);
    return rc;
}

/* ---- the document ------------------------------------------------------------------ */

int imp_section(struct imp *x, const char *section, imp_fn fn)
{
    const json_t *arr = json_object_get(x->objects, section);
    char where[IMPORT_WHERE_MAX];
    snprintf(where, sizeof where, "objects.%s", section);
    if (!json_is_array(arr)) {
        return imp_bad(x, where, NULL, "expected an array");
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (fn(x, json_array_get(arr, i), i) != 0) {
            return -1;
        }
    }
    return 0;
}

/* What import writes must not meet anything already there: the target is new. */
static int target_empty(struct imp *x)
{
    struct buf v;
    buf_init(&v, STORE_META_VALUE_MAX);
    int rc = STORE_NOT_FOUND;
    const char *what = NULL;
    for (size_t i = 0; rc == STORE_NOT_FOUND && admin_export_meta_keys[i] != NULL; i++) {
        rc = store_meta_get(x->s, admin_export_meta_keys[i], &v, x->e);
        what = admin_export_meta_keys[i];
    }
    util_wipe(v.p, v.len);
    buf_free(&v);
    if (rc == 0) {
        return err_set(x->e, 0,
                       "the target store is not empty: it has the setting %s (did a "
                       "server or a command run on it?); import into a new database, "
                       "after `postern migrate`",
                       what);
    }
    if (rc < 0) {
        return -1;
    }
    /* Whatever an export would show, in this transaction. */
    json_t *doc = json_object();
    if (admin_export_objects(x->s, doc, x->e) != 0) {
        json_decref(doc);
        return -1;
    }
    const char *key;
    json_t *arr;
    json_object_foreach(doc, key, arr)
    {
        if (json_array_size(arr) > 0) {
            err_set(x->e, 0,
                    "the target store is not empty: it has %s; import into a new "
                    "database, after `postern migrate`",
                    key);
            json_decref(doc);
            return -1;
        }
    }
    json_decref(doc);
    return 0;
}

static int import_all(struct imp *x)
{
    /* References point backwards: groups before users, users and groups before bindings,
     * key pairs before providers and gateway keys, identity providers before applications. */
    if (target_empty(x) != 0 || import_meta(x) != 0 || imp_section(x, "groups", import_group) ||
        imp_section(x, "users", import_user) ||
        imp_section(x, "certificate_keypairs", import_keypair) ||
        imp_section(x, "providers", import_provider) ||
        imp_section(x, "applications", import_app)) {
        return -1;
    }
    if (x->orphan_user != 0 && store_user_delete(x->s, x->orphan_user, x->e) != 0) {
        return err_prefix(x->e, "the stand-in for orphaned bindings");
    }
    if (imp_access_objects(x) != 0) {
        return -1;
    }
    return imp_access_keys(x);
}

static int check_header(struct imp *x, const json_t *doc)
{
    static const char *const top[] = {"format", "version", "schema_version", "objects", NULL};
    static const char *const sections[] = {"meta",
                                           "groups",
                                           "users",
                                           "certificate_keypairs",
                                           "providers",
                                           "applications",
                                           "access_identity_providers",
                                           "access_applications",
                                           "service_tokens",
                                           "access_keys",
                                           NULL};
    const char *format;
    int64_t version, schema;
    int latest = store_schema_latest(x->s);
    if (!json_is_object(doc)) {
        return err_set(x->e, 0, "not an export: expected a JSON object");
    }
    if (imp_check_keys(x, doc, "", top) != 0 || imp_str(x, doc, "", "format", true, &format) != 0) {
        return -1;
    }
    if (strcmp(format, ADMIN_EXPORT_FORMAT) != 0) {
        return imp_bad(x, "", "format", "expected \"%s\" (a file of `postern store export`)",
                       ADMIN_EXPORT_FORMAT);
    }
    if (imp_int(x, doc, "", "version", 1, INT64_MAX, &version) != 0 ||
        imp_int(x, doc, "", "schema_version", 1, INT64_MAX, &schema) != 0) {
        return -1;
    }
    if (version != ADMIN_EXPORT_VERSION) {
        return imp_bad(x, "", "version", "%" PRId64 " is not a version this postern reads (%d)",
                       version, ADMIN_EXPORT_VERSION);
    }
    if (schema > latest) {
        return imp_bad(x, "", "schema_version",
                       "%" PRId64 " is newer than this postern's (%d): import with a newer one",
                       schema, latest);
    }
    x->objects = json_object_get(doc, "objects");
    if (imp_check_keys(x, x->objects, "objects", sections) != 0) {
        return -1;
    }
    for (size_t i = 0; sections[i] != NULL; i++) {
        if (member(x, x->objects, "objects", sections[i]) == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Frees the maps, and makes new empty ones when fresh. */
static void maps_reset(struct imp *x, bool fresh)
{
    json_t **maps[] = {&x->user_ids, &x->group_ids, &x->provider_ids, &x->keypairs,
                       &x->access_idps};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(maps); i++) {
        json_decref(*maps[i]);
        *maps[i] = fresh ? json_object() : NULL;
    }
    x->orphan_user = 0;
}

/* One transaction: 0 committed, IMPORT_AGAIN or -1 rolled back. */
static int import_once(struct imp *x)
{
    maps_reset(x, true);
    memset(&x->st, 0, sizeof x->st);
    if (store_tx_begin(x->s, x->e) != 0) {
        return -1;
    }
    int rc = import_all(x);
    if (rc == 0) {
        return store_tx_commit(x->s, x->e);
    }
    struct err ignored = {0};
    store_tx_rollback(x->s, &ignored);
    return rc;
}

int admin_store_import(struct store *s, const json_t *doc, struct admin_import_stats *st,
                       struct err *e)
{
    struct imp x = {.s = s, .e = e};
    int rc = check_header(&x, doc);
    for (int i = 0; rc == 0 && i < IMPORT_TRIES; i++) {
        rc = import_once(&x);
        if (rc != IMPORT_AGAIN) {
            break;
        }
    }
    if (rc == IMPORT_AGAIN) {
        rc = err_set(e, 0, "the clock moved while every attempt retired a gateway key: retry");
    }
    if (rc == 0 && st != NULL) {
        *st = x.st;
    }
    maps_reset(&x, false);
    return rc;
}
