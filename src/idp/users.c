/*
 * users.c: the rules for users and groups, over the store, shared by `postern apply`, the CLI
 * and the admin API (one validator for all three: DESIGN.md "YAML"). Every error names the
 * field ("users[0].email: ...") and, for the YAML loader, the node (struct idp_upsert.where).
 */
#include "idp/idp.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDP_EMAIL_LOCAL_MAX    64 /* RFC 5321 section 4.5.3.1.1 */
#define IDP_DEFAULT_USER_PATH  "user"
#define IDP_DEFAULT_GROUP_PATH "group"

bool idp_username_ok(const char *z)
{
    size_t n = z ? strlen(z) : 0;
    if (n == 0 || n > IDP_USERNAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Printable ASCII that may stand in a simple address: no space, no quoting or routing
 * characters (they would need RFC 5322 quoting, and they are what header and HTML injection
 * are made of). */
static bool email_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7F && strchr("<>()[],;:\\\"@", c) == NULL;
}

bool idp_email_ok(const char *z)
{
    size_t n = z ? strlen(z) : 0;
    const char *at = n ? strchr(z, '@') : NULL;
    if (n > IDP_EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL) {
        return false;
    }
    size_t local = (size_t)(at - z);
    const char *dom = at + 1;
    size_t dn = n - local - 1;
    if (local == 0 || local > IDP_EMAIL_LOCAL_MAX || dn == 0) {
        return false;
    }
    for (size_t i = 0; i < local; i++) {
        if (!email_char_ok((unsigned char)z[i])) {
            return false;
        }
    }
    /* The domain: dot-separated non-empty labels (no leading, trailing or double dot). */
    if (dom[0] == '.' || dom[dn - 1] == '.' || strstr(dom, "..") != NULL) {
        return false;
    }
    for (size_t i = 0; i < dn; i++) {
        if (!email_char_ok((unsigned char)dom[i])) {
            return false;
        }
    }
    return true;
}

/* Valid UTF-8 without C0/C1 controls or DEL; no leading/trailing space. */
static bool text_ok(const char *z, size_t min, size_t max)
{
    size_t n = z ? strlen(z) : 0;
    if (n < min || n > max) {
        return false;
    }
    if (n > 0 && (z[0] == ' ' || z[n - 1] == ' ')) {
        return false;
    }
    const unsigned char *s = (const unsigned char *)z;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F || (s[i] == 0xC2 && i + 1 < n && s[i + 1] < 0xA0)) {
            return false;
        }
    }
    /* jansson has checked UTF-8 for JSON input; a CLI argument has not. */
    json_t *probe = json_stringn(z, n);
    bool ok = probe != NULL;
    json_decref(probe);
    return ok;
}

bool idp_group_name_ok(const char *z)
{
    return text_ok(z, 1, IDP_GROUP_NAME_MAX);
}

/* ---- field access with errors that name the field ----------------------------------- */

struct upctx {
    const char *path;
    struct idp_upsert *out;
    struct err *e;
};

static int field_err(struct upctx *c, const json_t *node, const char *field, const char *fmt, ...)
    UTIL_PRINTF(4, 5);

static int field_err(struct upctx *c, const json_t *node, const char *field, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->out->where = node;
    if (field != NULL) {
        return err_set(c->e, IDP_E_INVALID, "%s.%s: %s", c->path, field, msg);
    }
    return err_set(c->e, IDP_E_INVALID, "%s: %s", c->path, msg);
}

static int check_fields(struct upctx *c, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            known = known || strcmp(key, allowed[i]) == 0;
        }
        if (!known) {
            return field_err(c, val, key, "unknown field");
        }
    }
    return 0;
}

/* A string member: 1 (present, *out set), 0 (absent or null when nullable) or -1. */
static int get_string(struct upctx *c, const json_t *obj, const char *field, bool nullable,
                      const char **out)
{
    const json_t *v = json_object_get(obj, field);
    if (v == NULL || (nullable && json_is_null(v))) {
        return 0;
    }
    if (!json_is_string(v)) {
        return field_err(c, v, field, "must be a string");
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return field_err(c, v, field, "must not contain NUL");
    }
    *out = json_string_value(v);
    return 1;
}

static int get_attributes(struct upctx *c, const json_t *obj, char **out)
{
    const json_t *v = json_object_get(obj, "attributes");
    if (v == NULL) {
        return 0;
    }
    if (!json_is_object(v)) {
        return field_err(c, v, "attributes", "must be an object");
    }
    char *text = util_json_dump(v);
    if (strlen(text) > IDP_ATTRIBUTES_MAX) {
        free(text);
        return field_err(c, v, "attributes", "at most %d bytes once serialised",
                         IDP_ATTRIBUTES_MAX);
    }
    *out = text;
    return 1;
}

/* ---- users ------------------------------------------------------------------------- */

struct user_in {
    const char *username, *name, *email, *password;
    bool has_name, has_email, has_active, has_password;
    bool is_active;
    char *attributes;     /* owned; NULL = absent */
    const json_t *groups; /* NULL = absent */
};

static int user_groups_in(struct upctx *c, const json_t *obj, struct user_in *in)
{
    const json_t *g = json_object_get(obj, "groups");
    if (g == NULL) {
        return 0;
    }
    if (!json_is_array(g)) {
        return field_err(c, g, "groups", "must be a list of group names");
    }
    if (json_array_size(g) > IDP_GROUPS_MAX) {
        return field_err(c, g, "groups", "at most %d groups", IDP_GROUPS_MAX);
    }
    for (size_t i = 0; i < json_array_size(g); i++) {
        const json_t *v = json_array_get(g, i);
        char field[32];
        snprintf(field, sizeof field, "groups[%zu]", i);
        if (!json_is_string(v) || !idp_group_name_ok(json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            return field_err(c, v, field, "not a valid group name");
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(json_string_value(json_array_get(g, k)), json_string_value(v)) == 0) {
                return field_err(c, v, field, "\"%.150s\" is listed twice", json_string_value(v));
            }
        }
    }
    in->groups = g;
    return 0;
}

static int user_parse(struct upctx *c, const json_t *obj, struct user_in *in)
{
    static const char *const allowed[] = {"username",   "name",   "email",    "is_active",
                                          "attributes", "groups", "password", NULL};
    if (!json_is_object(obj)) {
        return field_err(c, obj, NULL, "must be an object");
    }
    if (check_fields(c, obj, allowed) < 0) {
        return -1;
    }
    int rc = get_string(c, obj, "username", false, &in->username);
    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        return field_err(c, obj, "username", "is required");
    }
    if (!idp_username_ok(in->username)) {
        return field_err(c, json_object_get(obj, "username"), "username",
                         "1 to %d letters, digits or . _ @ + -", IDP_USERNAME_MAX);
    }
    if ((rc = get_string(c, obj, "name", true, &in->name)) < 0) {
        return -1;
    }
    in->has_name = json_object_get(obj, "name") != NULL; /* null: clear it */
    if (rc == 0) {
        in->name = "";
    }
    if (!text_ok(in->name, 0, IDP_NAME_MAX)) {
        return field_err(c, json_object_get(obj, "name"), "name",
                         "at most %d bytes of text, no control characters or outer spaces",
                         IDP_NAME_MAX);
    }
    if ((rc = get_string(c, obj, "email", true, &in->email)) < 0) {
        return -1;
    }
    in->has_email = json_object_get(obj, "email") != NULL; /* null: clear it */
    if (rc == 0) {
        in->email = "";
    } else if (in->email[0] != '\0' && !idp_email_ok(in->email)) {
        return field_err(c, json_object_get(obj, "email"), "email", "not a valid email address");
    }
    const json_t *act = json_object_get(obj, "is_active");
    if (act != NULL && !json_is_boolean(act)) {
        return field_err(c, act, "is_active", "must be true or false");
    }
    in->has_active = act != NULL;
    in->is_active = act == NULL || json_is_true(act);
    if (get_attributes(c, obj, &in->attributes) < 0 || user_groups_in(c, obj, in) < 0) {
        return -1;
    }
    if ((rc = get_string(c, obj, "password", false, &in->password)) < 0) {
        return -1;
    }
    in->has_password = rc == 1;
    struct err pe = {0};
    if (in->has_password && idp_password_policy(slice_z(in->password), &pe) < 0) {
        /* pe.msg reads "password: ..." */
        return field_err(c, json_object_get(obj, "password"), NULL, "%s", pe.msg);
    }
    return 0;
}

/* Hashes the given password unless the stored hash already verifies it with the current
 * parameters (an unchanged file applied again). *phc stays NULL when nothing changes. */
static int user_new_hash(const struct user_in *in, const struct store_user *old, char **phc,
                         struct err *e)
{
    struct slice pw = slice_z(in->password);
    if (old != NULL && old->password_hash[0] != '\0' &&
        idp_password_verify(old->password_hash, pw) &&
        !idp_password_needs_rehash(old->password_hash)) {
        return 0;
    }
    *phc = idp_password_hash(pw, e);
    return *phc != NULL ? 0 : -1;
}

/* Own transaction when the caller has none (STORE_E_STATE: the caller's is open). */
static int tx_maybe_begin(struct store *s, bool *own, struct err *e)
{
    struct err te = {0};
    *own = false;
    if (store_tx_begin(s, &te) == 0) {
        *own = true;
        return 0;
    }
    if (te.code == STORE_E_STATE) {
        return 0;
    }
    *e = te;
    return -1;
}

/* Replaces *field with value when they differ; says whether it did. */
static bool set_text(char **field, const char *value)
{
    if (*field != NULL && strcmp(*field, value) == 0) {
        return false;
    }
    free(*field);
    *field = xstrdup(value);
    return true;
}

/* Whether the user's groups are already exactly the names of in->groups. */
static int groups_same(struct store *s, int64_t user_id, const json_t *want, bool *same,
                       struct err *e)
{
    struct store_group_list have = {0};
    if (store_user_groups(s, user_id, &have, e) < 0) {
        return -1;
    }
    *same = have.n == json_array_size(want);
    for (size_t i = 0; *same && i < have.n; i++) {
        bool found = false;
        for (size_t k = 0; !found && k < json_array_size(want); k++) {
            found = strcmp(have.v[i].name, json_string_value(json_array_get(want, k))) == 0;
        }
        *same = found;
    }
    store_group_list_free(&have);
    return 0;
}

static int user_set_groups(struct upctx *c, struct store *s, const json_t *groups, int64_t user_id)
{
    size_t n = json_array_size(groups);
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        names[i] = json_string_value(json_array_get(groups, i));
    }
    int rc = store_user_set_groups(s, user_id, names, n, c->e);
    free(names);
    if (rc != 0) {
        c->out->where = groups;
        err_prefix(c->e, "%s.groups", c->path);
        if (rc > 0) {
            c->e->code = IDP_E_INVALID; /* an unknown group: the message names it */
        }
        return -1;
    }
    return 0;
}

/* Creates the user, or writes the fields that differ; sets c->out->changed. */
static int user_write(struct upctx *c, struct store *s, const struct user_in *in,
                      struct store_user *u, bool exists, const char *phc)
{
    bool changed = !exists;
    if (in->has_name || !exists) {
        changed |= set_text(&u->name, in->name ? in->name : "");
    }
    if (in->has_email || !exists) {
        changed |= set_text(&u->email, in->email ? in->email : "");
    }
    if ((in->has_active || !exists) && u->is_active != in->is_active) {
        u->is_active = in->is_active;
        changed = true;
    }
    if (in->attributes != NULL || !exists) {
        changed |= set_text(&u->attributes, in->attributes ? in->attributes : "{}");
    }
    int rc = 0;
    if (!exists) {
        set_text(&u->username, in->username);
        util_free_secret(u->password_hash);
        u->password_hash = xstrdup(phc ? phc : "");
        rc = store_user_create(s, u, c->e);
    } else {
        if (changed) {
            rc = store_user_update(s, u, c->e);
        }
        if (rc == 0 && phc != NULL) {
            changed = true;
            rc = store_user_set_password(s, u->id, phc, c->e);
            /* A new password ends every session opened with the old one. */
            if (rc == 0) {
                rc = store_session_delete_user(s, u->id, NULL, c->e);
            }
        }
    }
    if (rc > 0) {
        return err_set(c->e, STORE_E_INTERNAL, "%s: the user vanished meanwhile", c->path);
    }
    if (rc < 0) {
        return err_prefix(c->e, "%s", c->path);
    }
    if (in->groups != NULL) {
        bool same = false;
        if (exists && groups_same(s, u->id, in->groups, &same, c->e) < 0) {
            return -1;
        }
        if (!same) {
            changed = true;
            if (user_set_groups(c, s, in->groups, u->id) < 0) {
                return -1;
            }
        }
    }
    c->out->changed = changed;
    return 0;
}

int idp_user_upsert(struct store *s, const json_t *obj, const char *path_z, struct idp_upsert *out,
                    struct err *e)
{
    struct idp_upsert dummy;
    out = out ? out : &dummy;
    memset(out, 0, sizeof *out);
    struct upctx c = {path_z ? path_z : IDP_DEFAULT_USER_PATH, out, e};
    struct user_in in = {0};
    struct store_user u = {0};
    char *phc = NULL;
    bool own = false, exists = false;
    int ret = -1;

    if (user_parse(&c, obj, &in) < 0) {
        goto done;
    }
    int rc = store_user_get_by_name(s, in.username, &u, e);
    if (rc < 0) {
        goto done;
    }
    exists = rc == 0;
    /* argon2id outside the transaction: the write lock is not held for 50 ms. */
    if (in.has_password && user_new_hash(&in, exists ? &u : NULL, &phc, e) < 0) {
        goto done;
    }
    if (tx_maybe_begin(s, &own, e) < 0) {
        goto done;
    }
    if (user_write(&c, s, &in, &u, exists, phc) < 0) {
        goto done;
    }
    if (own && store_tx_commit(s, e) < 0) {
        own = false;
        goto done;
    }
    own = false;
    out->id = u.id;
    out->created = !exists;
    out->password_changed = phc != NULL;
    ret = 0;
done:
    if (own) {
        store_tx_rollback(s, NULL);
    }
    free(in.attributes);
    util_free_secret(phc);
    store_user_free(&u);
    return ret;
}

/* ---- groups ------------------------------------------------------------------------ */

int idp_group_upsert(struct store *s, const json_t *obj, const char *path_z, struct idp_upsert *out,
                     struct err *e)
{
    static const char *const allowed[] = {"name", "attributes", NULL};
    struct idp_upsert dummy;
    out = out ? out : &dummy;
    memset(out, 0, sizeof *out);
    struct upctx c = {path_z ? path_z : IDP_DEFAULT_GROUP_PATH, out, e};
    struct store_group g = {0};
    const char *name = NULL;
    char *attributes = NULL;
    int ret = -1;

    if (!json_is_object(obj)) {
        field_err(&c, obj, NULL, "must be an object");
        goto done;
    }
    int rc;
    if (check_fields(&c, obj, allowed) < 0 ||
        (rc = get_string(&c, obj, "name", false, &name)) < 0) {
        goto done;
    }
    if (rc == 0) {
        field_err(&c, obj, "name", "is required");
        goto done;
    }
    if (!idp_group_name_ok(name)) {
        field_err(&c, json_object_get(obj, "name"), "name",
                  "1 to %d bytes of text, no control characters or outer spaces",
                  IDP_GROUP_NAME_MAX);
        goto done;
    }
    if (get_attributes(&c, obj, &attributes) < 0) {
        goto done;
    }
    /* An upsert without attributes keeps the stored ones. */
    rc = store_group_get_by_name(s, name, &g, e);
    if (rc < 0) {
        goto done;
    }
    bool exists = rc == 0, changed = !exists;
    if (attributes != NULL || !exists) {
        changed |= set_text(&g.attributes, attributes ? attributes : "{}");
    }
    set_text(&g.name, name);
    bool created = false;
    if (changed && store_group_upsert(s, &g, &created, e) != 0) {
        err_prefix(e, "%s", c.path);
        goto done;
    }
    out->id = g.id;
    out->created = created;
    out->changed = changed;
    ret = 0;
done:
    free(attributes);
    store_group_free(&g);
    return ret;
}

int idp_user_set_password(struct store *s, int64_t user_id, struct slice pw, struct err *e)
{
    if (idp_password_policy(pw, e) < 0) {
        return -1;
    }
    char *phc = idp_password_hash(pw, e);
    if (phc == NULL) {
        return -1;
    }
    int rc = store_user_set_password(s, user_id, phc, e);
    util_free_secret(phc);
    if (rc != 0) {
        return rc;
    }
    /* Whoever knew the old password must not stay signed in. */
    return store_session_delete_user(s, user_id, NULL, e) < 0 ? -1 : 0;
}
