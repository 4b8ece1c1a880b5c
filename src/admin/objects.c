/*
 * Declarative objects (Authentik blueprints' idea): groups, OAuth2 providers and applications
 * read from YAML, validated field by field, created or updated idempotently by name / slug.
 */
#include "admin/admin_int.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "idp/idp.h"
#include "store/store.h"

#define ADMIN_SECRET_BYTES 48   /* client secrets: 64 base64url characters */
#define ADMIN_CLIENT_ID_BYTES 30 /* client ids: 40 base64url characters */
#define ADMIN_MAX_VALIDITY (366 * 86400)
#define ADMIN_MAX_URI 2048
#define ADMIN_MAX_REDIRECT_URIS 64

static const char *const flows[] = {"default-provider-authorization-implicit-consent",
                                    "default-provider-authorization-explicit-consent", NULL};
static const char *const client_types[] = {"confidential", "public", NULL};
static const char *const sub_modes[] = {"hashed_user_id", "user_id",    "user_uuid",
                                        "user_username",  "user_email", NULL};
static const char *const engine_modes[] = {"any", "all", NULL};

/* ---- events ---------------------------------------------------------------------------- */

/* model_created / model_updated (issue 3, "Events"), recorded in the caller's transaction so
 * that a refused file leaves no event either. Only the kind of object and its name: never a
 * field's value (a client secret, a password). app_z: the slug of an application. */
void admin_model_event(struct store *s, const char *action_z, const char *model_z,
                       const char *name_z, const char *app_z)
{
    json_t *ctx = json_pack("{s:s, s:s}", "model", model_z, "name", name_z);
    idp_event(s, action_z, NULL, NULL, app_z, ctx);
    json_decref(ctx);
}

static void model_event(struct store *s, bool created, const char *model_z, const char *name_z,
                        const char *app_z)
{
    admin_model_event(s, created ? "model_created" : "model_updated", model_z, name_z, app_z);
}

/* ---- users and groups: validated by src/idp -------------------------------------------- */

typedef int (*idp_upsert_fn)(struct store *s, const json_t *obj, const char *path_z,
                             struct idp_upsert *out, struct err *e);

/* idp's messages name the field; the file and line come from the node it points at. */
static int apply_idp(const struct admin_ctx *x, struct store *s, const json_t *obj,
                     const char *field, struct admin_apply_stats *st, idp_upsert_fn fn,
                     const char *model_z, const char *key_z)
{
    struct idp_upsert up = {0};
    if (fn(s, obj, field, &up, x->e) != 0) {
        if (x->doc != NULL) {
            int line = util_yaml_line(x->doc, up.where ? up.where : obj);
            err_prefix(x->e, "%s:%d", x->doc->path, line);
        }
        return -1;
    }
    st->created += up.created;
    st->updated += !up.created && up.changed;
    if (up.changed) {
        /* The upsert validated obj: key_z names a string. */
        model_event(s, up.created, model_z, json_string_value(json_object_get(obj, key_z)), NULL);
    }
    return 0;
}

static int apply_group(const struct admin_ctx *x, struct store *s, const json_t *obj,
                       const char *field, struct admin_apply_stats *st)
{
    return apply_idp(x, s, obj, field, st, idp_group_upsert, "group", "name");
}

static int apply_user(const struct admin_ctx *x, struct store *s, const json_t *obj,
                      const char *field, struct admin_apply_stats *st)
{
    return apply_idp(x, s, obj, field, st, idp_user_upsert, "user", "username");
}

/* ---- providers ----------------------------------------------------------------------- */

/* An exact redirect URI: absolute, no fragment, no whitespace or control characters. */
static bool uri_ok(const char *u)
{
    if (strlen(u) > ADMIN_MAX_URI || strchr(u, '#') != NULL || strstr(u, "://") == NULL) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static int check_redirect(const struct admin_ctx *x, const json_t *v, const char *field,
                          json_t *out)
{
    static const char *const known[] = {"matching_mode", "url", NULL};
    static const char *const modes[] = {"strict", "regex", NULL};
    char *mode = xstrdup("strict");
    char *url = NULL;
    int rc = -1;
    if (json_is_string(v)) {
        url = xstrdup(json_string_value(v));
    } else if (!json_is_object(v) || admin_check_keys(x, v, field, known) != 0 ||
               admin_opt_enum(x, v, "matching_mode", field, modes, &mode) != 0 ||
               admin_get_string(x, v, "url", field, &url) != 0) {
        if (!json_is_object(v)) {
            admin_bad(x, v, field, "expected { matching_mode: strict|regex, url: URL }");
        }
        goto done;
    }
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, "url");
    if (strcmp(mode, "strict") == 0 && !uri_ok(url)) {
        admin_bad(x, v, f, "expected an absolute URL without fragment or spaces");
        goto done;
    }
    if (strcmp(mode, "regex") == 0) {
        /* Anchored as the provider will use it: ^(URL)$. */
        struct buf anchored;
        buf_init(&anchored, ADMIN_MAX_URI + 8);
        regex_t re;
        int bad_re = buf_printf(&anchored, "^(%s)$", url) != 0 ||
                     regcomp(&re, anchored.p, REG_EXTENDED | REG_NOSUB) != 0;
        if (!bad_re) {
            regfree(&re);
        }
        buf_free(&anchored);
        if (bad_re) {
            admin_bad(x, v, f, "not a valid POSIX extended regular expression");
            goto done;
        }
    }
    json_array_append_new(out, json_pack("{s:s, s:s}", "matching_mode", mode, "url", url));
    rc = 0;
done:
    free(mode);
    free(url);
    return rc;
}

static int load_redirects(const struct admin_ctx *x, const json_t *obj, const char *field,
                          struct store_provider *p)
{
    const json_t *list = json_object_get(obj, "redirect_uris");
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, "redirect_uris");
    if (list == NULL) {
        if (p->redirect_uris == NULL) {
            p->redirect_uris = xstrdup("[]"); /* accepts nothing, never trust on first use */
        }
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) > ADMIN_MAX_REDIRECT_URIS) {
        return admin_bad(x, list, f, "expected a list of at most %d { matching_mode, url }",
                         ADMIN_MAX_REDIRECT_URIS);
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        char fi[ADMIN_FIELD_MAX];
        admin_field_i(fi, f, i);
        if (check_redirect(x, v, fi, out) != 0) {
            json_decref(out);
            return -1;
        }
    }
    free(p->redirect_uris);
    p->redirect_uris = util_json_dump(out);
    json_decref(out);
    return 0;
}

/* Fields absent from the object keep their stored value, so that applying the same file
 * twice changes nothing, and generated client ids and secrets survive. */
static int load_provider(const struct admin_ctx *x, const json_t *obj, const char *field,
                         struct store_provider *p)
{
    static const char *const known[] = {
        "name",          "authorization_flow",    "client_type",           "client_id",
        "client_secret", "redirect_uris",         "signing_key",           "access_code_validity",
        "sub_mode",      "access_token_validity", "refresh_token_validity",
        "include_claims_in_id_token", NULL};
    if (admin_check_keys(x, obj, field, known) != 0 ||
        admin_opt_enum(x, obj, "authorization_flow", field, flows, &p->authorization_flow) ||
        admin_opt_enum(x, obj, "client_type", field, client_types, &p->client_type) ||
        admin_opt_string(x, obj, "client_id", field, &p->client_id) ||
        admin_opt_string(x, obj, "client_secret", field, &p->client_secret) ||
        admin_opt_string(x, obj, "signing_key", field, &p->signing_key) ||
        admin_opt_enum(x, obj, "sub_mode", field, sub_modes, &p->sub_mode) ||
        admin_opt_duration(x, obj, "access_code_validity", field, 1, 3600,
                           &p->access_code_validity) ||
        admin_opt_duration(x, obj, "access_token_validity", field, 1, ADMIN_MAX_VALIDITY,
                           &p->access_token_validity) ||
        admin_opt_duration(x, obj, "refresh_token_validity", field, 1, ADMIN_MAX_VALIDITY,
                           &p->refresh_token_validity) ||
        admin_opt_bool(x, obj, "include_claims_in_id_token", field,
                       &p->include_claims_in_id_token)) {
        return -1;
    }
    return load_redirects(x, obj, field, p);
}

/* Defaults of a new provider: the walkthrough's values. */
static void provider_defaults(struct store_provider *p)
{
    p->authorization_flow = xstrdup(flows[0]);
    p->client_type = xstrdup("confidential");
    p->signing_key = xstrdup(IDP_DEFAULT_KEY_NAME);
    p->sub_mode = xstrdup("hashed_user_id");
    p->access_code_validity = 60;
    p->access_token_validity = 3600;
    p->refresh_token_validity = 30 * 86400;
    p->include_claims_in_id_token = true;
}

static void provider_generated(struct store_provider *p)
{
    if (p->client_id == NULL) {
        p->client_id = util_random_token(ADMIN_CLIENT_ID_BYTES);
    }
    bool public_client = strcmp(p->client_type, "public") == 0;
    if (public_client) {
        util_free_secret(p->client_secret);
        p->client_secret = xstrdup("");
    } else if (p->client_secret == NULL || p->client_secret[0] == '\0') {
        util_free_secret(p->client_secret);
        p->client_secret = util_random_token(ADMIN_SECRET_BYTES);
    }
}

static bool text_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether applying changed any stored field of an existing provider (for model_updated and
 * the "updated" count: re-applying the same file at every start changes nothing). */
static bool provider_same(const struct store_provider *a, const struct store_provider *b)
{
    const char *sa = a->client_secret ? a->client_secret : "";
    const char *sb = b->client_secret ? b->client_secret : "";
    return text_same(a->authorization_flow, b->authorization_flow) &&
           text_same(a->client_type, b->client_type) && text_same(a->client_id, b->client_id) &&
           util_ct_equal(sa, strlen(sa), sb, strlen(sb)) &&
           text_same(a->redirect_uris, b->redirect_uris) &&
           text_same(a->signing_key, b->signing_key) &&
           a->access_code_validity == b->access_code_validity &&
           a->access_token_validity == b->access_token_validity &&
           a->refresh_token_validity == b->refresh_token_validity &&
           text_same(a->sub_mode, b->sub_mode) &&
           a->include_claims_in_id_token == b->include_claims_in_id_token;
}

static int apply_provider(const struct admin_ctx *x, struct store *s, const json_t *obj,
                          const char *field, struct admin_apply_stats *st)
{
    if (!json_is_object(obj)) {
        return admin_bad(x, obj, field, "expected a mapping with at least a name");
    }
    char *name = NULL;
    struct store_provider p = {0}, before = {0};
    int rc = -1;
    if (admin_get_string(x, obj, "name", field, &name) != 0) {
        goto done;
    }
    int found = store_provider_get_by_name(s, name, &p, x->e);
    if (found == 0) {
        found = store_provider_get_by_name(s, name, &before, x->e); /* kept to compare */
    }
    if (found < 0) {
        goto done;
    }
    if (found == STORE_NOT_FOUND) {
        memset(&p, 0, sizeof p);
        p.name = xstrdup(name);
        provider_defaults(&p);
    }
    if (load_provider(x, obj, field, &p) != 0) {
        goto done;
    }
    provider_generated(&p);
    bool created = found == STORE_NOT_FOUND;
    if (!created && provider_same(&before, &p)) {
        rc = 0; /* nothing to write */
        goto done;
    }
    if (store_provider_upsert(s, &p, &created, x->e) != 0) {
        admin_prefix(x, obj, field);
        goto done;
    }
    st->created += created;
    st->updated += !created;
    model_event(s, created, "provider", name, NULL);
    rc = 0;
done:
    free(name);
    store_provider_free(&p);
    store_provider_free(&before);
    return rc;
}

/* ---- applications -------------------------------------------------------------------- */

static int load_binding(const struct admin_ctx *x, struct store *s, const json_t *v,
                        const char *field, size_t i, struct store_binding *b)
{
    static const char *const known[] = {"user", "group", "negate", "enabled", NULL};
    char *user = NULL, *group = NULL;
    int rc = -1;
    b->order = (int64_t)i;
    b->enabled = true;
    if (!json_is_object(v) || admin_check_keys(x, v, field, known) != 0 ||
        admin_opt_string(x, v, "user", field, &user) != 0 ||
        admin_opt_string(x, v, "group", field, &group) != 0 ||
        admin_opt_bool(x, v, "negate", field, &b->negate) != 0 ||
        admin_opt_bool(x, v, "enabled", field, &b->enabled) != 0) {
        if (!json_is_object(v)) {
            admin_bad(x, v, field, "expected { user: NAME } or { group: NAME }");
        }
        goto done;
    }
    if ((user == NULL) == (group == NULL)) {
        admin_bad(x, v, field, "expected exactly one of user or group");
        goto done;
    }
    if (user != NULL) {
        struct store_user u = {0};
        int f = store_user_get_by_name(s, user, &u, x->e);
        b->user_id = u.id;
        store_user_free(&u);
        if (f != 0) {
            if (f == STORE_NOT_FOUND) {
                admin_bad(x, v, field, "no user named \"%s\"", user);
            }
            goto done;
        }
    } else {
        struct store_group g = {0};
        int f = store_group_get_by_name(s, group, &g, x->e);
        b->group_id = g.id;
        store_group_free(&g);
        if (f != 0) {
            if (f == STORE_NOT_FOUND) {
                admin_bad(x, v, field, "no group named \"%s\"", group);
            }
            goto done;
        }
    }
    rc = 0;
done:
    free(user);
    free(group);
    return rc;
}

/* Whether the bindings stored for app_id are exactly v[0..n). 0 or -1. */
static int bindings_same(struct store *s, int64_t app_id, const struct store_binding *v, size_t n,
                         bool *same, struct err *e)
{
    struct store_binding_list have = {0};
    if (store_app_bindings(s, app_id, &have, e) != 0) {
        return -1;
    }
    *same = have.n == n;
    for (size_t i = 0; *same && i < n; i++) {
        const struct store_binding *a = &have.v[i], *b = &v[i];
        *same = a->order == b->order && a->user_id == b->user_id && a->group_id == b->group_id &&
                a->negate == b->negate && a->enabled == b->enabled;
    }
    store_binding_list_free(&have);
    return 0;
}

/* *changed (may stay as it is) becomes true when the bindings differ from the stored ones. */
static int apply_bindings(const struct admin_ctx *x, struct store *s, const json_t *obj,
                          const char *field, int64_t app_id, bool *changed)
{
    const json_t *list = json_object_get(obj, "bindings");
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, "bindings");
    if (list == NULL) {
        list = json_array(); /* none bound: everyone (DESIGN.md) */
    } else if (!json_is_array(list) || json_array_size(list) > STORE_GROUPS_MAX) {
        return admin_bad(x, list, f, "expected a list of { user | group, negate }");
    } else {
        json_incref((json_t *)list);
    }
    size_t n = json_array_size(list);
    struct store_binding *v = xcalloc(n ? n : 1, sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char fi[ADMIN_FIELD_MAX];
        admin_field_i(fi, f, i);
        rc = load_binding(x, s, json_array_get(list, i), fi, i, &v[i]);
    }
    bool same = false;
    if (rc == 0 && !*changed && bindings_same(s, app_id, v, n, &same, x->e) != 0) {
        rc = admin_prefix(x, list, f);
    }
    if (rc == 0 && !same) {
        *changed = true;
        if (store_app_bindings_set(s, app_id, v, n, x->e) != 0) {
            rc = admin_prefix(x, list, f);
        }
    }
    free(v);
    json_decref((json_t *)list);
    return rc;
}

static int load_app(const struct admin_ctx *x, struct store *s, const json_t *obj,
                    const char *field, struct store_app *a)
{
    static const char *const known[] = {"name",     "slug",            "provider",
                                        "bindings", "policy_engine_mode", "meta_launch_url",
                                        NULL};
    char *provider = NULL;
    char *launch = NULL;
    int rc = -1;
    if (admin_check_keys(x, obj, field, known) != 0 ||
        admin_get_string(x, obj, "name", field, &a->name) != 0 ||
        admin_opt_string(x, obj, "provider", field, &provider) != 0 ||
        admin_opt_string(x, obj, "meta_launch_url", field, &launch) != 0 ||
        admin_opt_enum(x, obj, "policy_engine_mode", field, engine_modes,
                       &a->policy_engine_mode) != 0) {
        goto done;
    }
    a->provider_id = 0;
    if (provider != NULL) {
        struct store_provider p = {0};
        int f = store_provider_get_by_name(s, provider, &p, x->e);
        a->provider_id = p.id;
        store_provider_free(&p);
        if (f != 0) {
            char fp[ADMIN_FIELD_MAX];
            admin_field(fp, field, "provider");
            if (f == STORE_NOT_FOUND) {
                admin_bad(x, json_object_get(obj, "provider"), fp, "no provider named \"%s\"",
                          provider);
            }
            goto done;
        }
    }
    json_t *meta = json_object();
    if (launch != NULL) {
        json_object_set_new(meta, "launch_url", json_string(launch));
    }
    free(a->meta);
    a->meta = util_json_dump(meta);
    json_decref(meta);
    rc = 0;
done:
    free(provider);
    free(launch);
    return rc;
}

static int apply_app(const struct admin_ctx *x, struct store *s, const json_t *obj,
                     const char *field, struct admin_apply_stats *st)
{
    if (!json_is_object(obj)) {
        return admin_bad(x, obj, field, "expected a mapping with name and slug");
    }
    struct store_app a = {0}, before = {0};
    int rc = -1;
    if (admin_get_string(x, obj, "slug", field, &a.slug) != 0) {
        goto done;
    }
    a.policy_engine_mode = xstrdup("any");
    if (load_app(x, s, obj, field, &a) != 0) {
        goto done;
    }
    int found = store_app_get_by_slug(s, a.slug, &before, x->e);
    if (found < 0) {
        goto done;
    }
    /* A new application, or one whose fields (or, below, bindings) differ. */
    bool changed = found == STORE_NOT_FOUND || !text_same(before.name, a.name) ||
                   before.provider_id != a.provider_id ||
                   !text_same(before.policy_engine_mode, a.policy_engine_mode) ||
                   !text_same(before.meta, a.meta);
    bool created = false;
    if (store_app_upsert(s, &a, &created, x->e) != 0) {
        admin_prefix(x, obj, field);
        goto done;
    }
    if (apply_bindings(x, s, obj, field, a.id, &changed) != 0) {
        goto done;
    }
    st->created += created;
    st->updated += !created && changed;
    if (changed) {
        json_t *ctx =
            json_pack("{s:s, s:s, s:s}", "model", "application", "name", a.name, "slug", a.slug);
        idp_event(s, created ? "model_created" : "model_updated", NULL, NULL, a.slug, ctx);
        json_decref(ctx);
    }
    rc = 0;
done:
    store_app_free(&a);
    store_app_free(&before);
    return rc;
}

/* ---- the document -------------------------------------------------------------------- */

typedef int (*apply_fn)(const struct admin_ctx *x, struct store *s, const json_t *obj,
                        const char *field, struct admin_apply_stats *st);

static int apply_list(const struct admin_ctx *x, struct store *s, const json_t *root,
                      const char *key, apply_fn fn, struct admin_apply_stats *st)
{
    const json_t *list = json_object_get(root, key);
    if (list == NULL) {
        return 0;
    }
    if (!json_is_array(list)) {
        return admin_bad(x, list, key, "expected a list");
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        char f[ADMIN_FIELD_MAX];
        admin_field_i(f, key, i);
        if (fn(x, s, v, f, st) != 0) {
            return -1;
        }
    }
    return 0;
}

int admin_apply(struct store *s, const struct yaml_doc *doc, const json_t *root,
                struct admin_apply_stats *st, struct err *e)
{
    struct admin_ctx x = {doc, e};
    memset(st, 0, sizeof *st);
    /* Nodes that start at once with one config on PostgreSQL take turns: the second then finds
     * every object already there. */
    if (store_tx_begin(s, e) != 0) {
        return -1;
    }
    if (store_tx_lock(s, ADMIN_APPLY_LOCK, e) != 0) {
        struct err ignored = {0};
        store_tx_rollback(s, &ignored);
        return -1;
    }
    /* Order matters: users join groups, applications name providers and bind both. */
    if (apply_list(&x, s, root, "groups", apply_group, st) != 0 ||
        apply_list(&x, s, root, "users", apply_user, st) != 0 ||
        apply_list(&x, s, root, "certificate_keypairs", admin_apply_keypair, st) != 0 ||
        apply_list(&x, s, root, "providers", apply_provider, st) != 0 ||
        apply_list(&x, s, root, "applications", apply_app, st) != 0 ||
        admin_apply_access(&x, s, root, st) != 0) {
        struct err ignored = {0};
        store_tx_rollback(s, &ignored);
        return -1;
    }
    return store_tx_commit(s, e);
}
