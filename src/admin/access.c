/*
 * The `access:` section (issue 4, the gateway): the team domain, identity providers and
 * applications, validated by src/access's parser and written to the store in the caller's
 * transaction, idempotently by name. The store is the source of truth: a file may carry only
 * some of the section (applications alone, say), and names it does not define are looked up
 * among the stored objects.
 */
#include "admin/admin_int.h"

#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "store/store.h"

#define FIELD_ACCESS "access"

/* What one `access:` section holds once merged with the store. */
struct acc {
    const struct admin_ctx *x;
    struct store *s;
    const json_t *sec;       /* the section as written (its nodes carry line numbers) */
    json_t *merged;          /* shallow copy of sec + what it lacks from the store */
    const json_t *file_idps; /* sec's identity_providers, NULL when absent */
    size_t nfile_idps;       /* the first nfile_idps of cfg.idps come from the file */
    json_t *merged_idps;     /* the list the parser sees, NULL when not built */
    struct access_config cfg;
};

/* Wipes the client_secret of an identity provider's JSON before it is freed. */
static void wipe_secret(json_t *idp)
{
    json_t *v = json_object_get(idp, "client_secret");
    if (json_is_string(v)) {
        util_wipe((char *)json_string_value(v), json_string_length(v));
    }
}

/* ---- merging with the store ------------------------------------------------------------- */

/* Without team_domain in the file, the one a previous apply stored (if any). */
static int merge_team(struct acc *a)
{
    if (json_object_get(a->sec, "team_domain") != NULL) {
        return 0;
    }
    struct buf team;
    buf_init(&team, ACCESS_URL_MAX);
    int rc = store_meta_get(a->s, ACCESS_META_TEAM, &team, a->x->e);
    if (rc == 0) {
        json_object_set_new(a->merged, "team_domain", json_stringn(team.p, team.len));
    }
    buf_free(&team);
    return rc < 0 ? admin_prefix(a->x, a->sec, FIELD_ACCESS) : 0;
}

static bool file_has_idp(const json_t *list, const char *name_z)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)list, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n != NULL && strcmp(n, name_z) == 0) {
            return true;
        }
    }
    return false;
}

/* The parser checks an application's identity_providers (and login_method rules) against the
 * section's list; the stored identity providers that the file does not redefine are added
 * after the file's own, so that an application may name either, and nothing else. */
static int merge_idps(struct acc *a)
{
    a->file_idps = json_object_get(a->sec, "identity_providers");
    if (a->file_idps != NULL && !json_is_array(a->file_idps)) {
        return 0; /* the parser says what is wrong with it */
    }
    a->nfile_idps = json_array_size(a->file_idps);
    struct store_page pg = {ACCESS_MAX_IDPS + 1, 0};
    struct store_access_idp_list l = {0};
    if (store_access_idp_list(a->s, &pg, &l, a->x->e) != 0) {
        return admin_prefix(a->x, a->sec, FIELD_ACCESS);
    }
    a->merged_idps = a->file_idps ? json_copy((json_t *)a->file_idps) : json_array();
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        if (a->file_idps != NULL && file_has_idp(a->file_idps, l.v[i].name)) {
            continue;
        }
        json_t *stored = util_json_parse(slice_z(l.v[i].config), a->x->e);
        if (stored == NULL) {
            err_prefix(a->x->e, "stored identity provider \"%s\"", l.v[i].name);
            rc = admin_prefix(a->x, a->sec, FIELD_ACCESS);
        }
        json_array_append_new(a->merged_idps, stored ? stored : json_null());
    }
    store_access_idp_list_free(&l);
    json_object_set(a->merged, "identity_providers", a->merged_idps);
    return rc;
}

/* A node of the merged copy has no line: report at the section's own node instead. */
static const json_t *file_node(const struct acc *a, const json_t *node)
{
    if (node == a->merged || node == NULL) {
        return a->sec;
    }
    if (node == a->merged_idps) {
        return a->file_idps ? a->file_idps : a->sec;
    }
    return node;
}

/* true, false and null are jansson singletons: every `true` of the file is one node, and its
 * line is the first one's. For those, the deepest container on the field's path is reported
 * ("access.applications[0].policies[0].include[0].everybody": the rule's line). */
static const json_t *singleton_parent(const struct acc *a, const char *field)
{
    const json_t *at = a->merged;
    const char *p = field + strlen(FIELD_ACCESS);
    while (*p == '.' || *p == '[') {
        const json_t *next = NULL;
        if (*p == '[') {
            uint64_t i;
            const char *close = strchr(p, ']');
            if (close == NULL || util_parse_u64((struct slice){p + 1, (size_t)(close - p - 1)},
                                                ACCESS_MAX_VALUES, &i) != 0) {
                break;
            }
            next = json_array_get(at, (size_t)i);
            p = close + 1;
        } else {
            size_t n = strcspn(p + 1, ".[");
            char key[ADMIN_FIELD_MAX];
            snprintf(key, sizeof key, "%.*s", (int)n, p + 1);
            next = json_object_get(at, key);
            p += 1 + n;
        }
        if (!json_is_object(next) && !json_is_array(next)) {
            break;
        }
        at = next;
    }
    return at;
}

static int parse(struct acc *a)
{
    a->merged = json_copy((json_t *)a->sec); /* shallow: the file's nodes are shared */
    if (merge_team(a) != 0 || merge_idps(a) != 0) {
        return -1;
    }
    struct access_err ae = {0};
    if (access_config_parse(a->merged, FIELD_ACCESS, &a->cfg, &ae) != 0) {
        const json_t *node = ae.node;
        if (json_is_boolean(node) || json_is_null(node)) {
            node = singleton_parent(a, ae.field);
        }
        return admin_bad(a->x, file_node(a, node), ae.field, "%s", ae.msg);
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static void count(struct admin_apply_stats *st, bool created)
{
    st->created += created;
    st->updated += !created;
}

static int apply_team(struct acc *a, struct admin_apply_stats *st)
{
    const json_t *node = json_object_get(a->sec, "team_domain");
    if (node == NULL) {
        return 0; /* the stored one, unchanged */
    }
    const char *team = a->cfg.team.text;
    struct buf have;
    buf_init(&have, ACCESS_URL_MAX);
    int rc = store_meta_get(a->s, ACCESS_META_TEAM, &have, a->x->e);
    bool same = rc == 0 && have.len == strlen(team) && memcmp(have.p, team, have.len) == 0;
    buf_free(&have);
    if (rc < 0 || (!same && store_meta_set(a->s, ACCESS_META_TEAM, slice_z(team), a->x->e))) {
        return admin_prefix(a->x, node, FIELD_ACCESS ".team_domain");
    }
    if (!same) {
        count(st, rc == STORE_NOT_FOUND);
        admin_model_event(a->s, rc == STORE_NOT_FOUND ? "model_created" : "model_updated",
                          "access_team_domain", team, NULL);
    }
    return 0;
}

/* Stored configs hold the client secret: compared in constant time, whole. */
static bool config_same(const char *stored_z, const char *want_z)
{
    return util_ct_equal(stored_z, strlen(stored_z), want_z, strlen(want_z));
}

static int apply_idp(struct acc *a, size_t i, struct admin_apply_stats *st)
{
    const struct access_idp *p = &a->cfg.idps[i];
    const json_t *node = json_array_get(a->file_idps, i);
    char f[ADMIN_FIELD_MAX];
    admin_field_i(f, FIELD_ACCESS ".identity_providers", i);
    json_t *j = access_idp_to_json(p, true);
    char *config = util_json_dump(j);
    wipe_secret(j);
    json_decref(j);
    struct store_access_idp have = {0};
    struct store_access_idp want = {.name = p->name, .type = (char *)"oidc", .config = config};
    int rc = store_access_idp_get(a->s, p->name, &have, a->x->e);
    bool created = rc == STORE_NOT_FOUND;
    bool same = rc == 0 && strcmp(have.type, "oidc") == 0 && config_same(have.config, config);
    if (rc < 0 || (!same && store_access_idp_upsert(a->s, &want, &created, a->x->e) != 0)) {
        rc = admin_prefix(a->x, node, f);
    } else {
        rc = 0;
        if (!same) {
            count(st, created);
            admin_model_event(a->s, created ? "model_created" : "model_updated",
                              "access_identity_provider", p->name, NULL);
        }
    }
    store_access_idp_free(&have);
    util_free_secret(config);
    return rc;
}

/* An AUD tag never changes once made (origins check it): a different one given for an
 * existing application is refused rather than silently ignored. */
static int check_aud(struct acc *a, const struct access_app *app, const json_t *node,
                     const char *field, const struct store_access_app *have)
{
    if (app->aud == NULL || strcmp(app->aud, have->aud) == 0) {
        return 0;
    }
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, "aud");
    return admin_bad(a->x, json_object_get(node, "aud"), f,
                     "application \"%s\" has the AUD tag %s; an AUD tag never changes", app->name,
                     have->aud);
}

/* The store refuses a domain of another application, or a malformed AUD tag, with a message
 * that starts with the field's name: reported at that field's node. */
static int store_refused(struct acc *a, const json_t *node, const char *field)
{
    static const char *const keys[] = {"domain", "aud", NULL};
    for (size_t k = 0; a->x->e->code == STORE_E_CONSTRAINT && keys[k] != NULL; k++) {
        size_t n = strlen(keys[k]);
        const json_t *v = json_object_get(node, keys[k]);
        if (v != NULL && strncmp(a->x->e->msg, keys[k], n) == 0 && a->x->e->msg[n] == ' ') {
            char f[ADMIN_FIELD_MAX];
            admin_field(f, field, keys[k]);
            return admin_prefix(a->x, v, f);
        }
    }
    return admin_prefix(a->x, node, field);
}

/* Another stored application on the same domain: named, as the parser does within a file. */
static int check_domain(struct acc *a, const struct access_app *app, const json_t *node,
                        const char *field)
{
    struct store_access_app other = {0};
    int rc = store_access_app_get_by_domain(a->s, app->domain, &other, a->x->e);
    if (rc < 0) {
        rc = admin_prefix(a->x, node, field);
    } else if (rc == 0 && strcmp(other.name, app->name) != 0) {
        char f[ADMIN_FIELD_MAX];
        admin_field(f, field, "domain");
        rc = admin_bad(a->x, json_object_get(node, "domain"), f,
                       "\"%s\" is already the domain of application \"%s\"", app->domain,
                       other.name);
    } else {
        rc = 0;
    }
    store_access_app_free(&other);
    return rc;
}

static int apply_app(struct acc *a, size_t i, struct admin_apply_stats *st)
{
    const struct access_app *app = &a->cfg.apps[i];
    const json_t *node = json_array_get(json_object_get(a->sec, "applications"), i);
    char f[ADMIN_FIELD_MAX];
    admin_field_i(f, FIELD_ACCESS ".applications", i);
    json_t *j = access_app_to_json(app);
    char *config = util_json_dump(j);
    json_decref(j);
    struct store_access_app have = {0};
    struct store_access_app want = {.name = app->name, .domain = app->domain, .config = config};
    if (app->aud != NULL) {
        snprintf(want.aud, sizeof want.aud, "%s", app->aud);
    }
    int rc = store_access_app_get_by_name(a->s, app->name, &have, a->x->e);
    bool created = rc == STORE_NOT_FOUND;
    bool same =
        rc == 0 && strcmp(have.domain, app->domain) == 0 && strcmp(have.config, config) == 0;
    if (rc < 0) {
        rc = admin_prefix(a->x, node, f);
    } else if ((rc == 0 && check_aud(a, app, node, f, &have) != 0) ||
               (!same && check_domain(a, app, node, f) != 0)) {
        rc = -1;
    } else if (!same && store_access_app_upsert(a->s, &want, &created, a->x->e) != 0) {
        rc = store_refused(a, node, f);
    } else {
        rc = 0;
        if (!same) {
            count(st, created);
            admin_model_event(a->s, created ? "model_created" : "model_updated",
                              "access_application", app->name, NULL);
        }
    }
    store_access_app_free(&have);
    free(config);
    return rc;
}

/* The stored identity providers added by merge_idps hold client secrets: wiped before the
 * copies are freed (the file's own are the caller's document). */
static void wipe_stored_secrets(struct acc *a)
{
    for (size_t i = a->nfile_idps; i < json_array_size(a->merged_idps); i++) {
        wipe_secret(json_array_get(a->merged_idps, i));
    }
}

int admin_apply_access(const struct admin_ctx *x, struct store *s, const json_t *root,
                       struct admin_apply_stats *st)
{
    const json_t *sec = json_object_get(root, FIELD_ACCESS);
    if (sec == NULL) {
        return 0;
    }
    if (!json_is_object(sec)) {
        return admin_bad(x, sec, FIELD_ACCESS,
                         "expected a mapping of team_domain, identity_providers, applications");
    }
    struct acc a = {.x = x, .s = s, .sec = sec};
    int rc = parse(&a) == 0 && apply_team(&a, st) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < a.nfile_idps; i++) {
        rc = apply_idp(&a, i, st);
    }
    for (size_t i = 0; rc == 0 && i < a.cfg.napps; i++) {
        rc = apply_app(&a, i, st);
    }
    /* App tokens need a signing key from the first request on (made once, kept after). */
    if (rc == 0 && access_keys_ensure(s, x->e) != 0) {
        rc = admin_prefix(x, sec, FIELD_ACCESS);
    }
    access_config_free(&a.cfg);
    wipe_stored_secrets(&a);
    json_decref(a.merged_idps);
    json_decref(a.merged);
    return rc;
}
