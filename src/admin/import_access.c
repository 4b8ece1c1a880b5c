/*
 * `postern store import`, the gateway's part (import.c has the rest): identity providers,
 * applications with their AUD tags, service tokens with their client ids and secret digests,
 * and the signing keys of app tokens in their rotation order, each retired key verifying
 * until the end of its grace period as before the move.
 */
#include "admin/import_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static int import_idp(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name", "type", "config", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_access_idp p = {0};
    bool created = false;
    imp_where(where, "access_identity_providers", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&p.name) != 0) {
        return -1;
    }
    imp_where(where, "access_identity_providers", i, p.name);
    if (imp_str(x, o, where, "type", true, (const char **)&p.type) != 0 ||
        imp_text(x, o, where, "config", JSON_OBJECT, &p.config) != 0) {
        return -1;
    }
    int rc = 0;
    if (json_object_get(x->access_idps, p.name) != NULL) {
        rc = imp_bad(x, where, NULL, "a second identity provider of this name");
    } else if (store_access_idp_upsert(x->s, &p, &created, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    } else {
        json_object_set_new(x->access_idps, p.name, json_true());
        x->st.access_idps++;
    }
    util_free_secret(p.config); /* holds the client secret */
    return rc;
}

/* The application's identity providers must come with it: the gateway would refuse the
 * application at its next reload, after the move. */
static int app_idps(struct imp *x, const json_t *o, const char *where)
{
    const json_t *list = json_object_get(json_object_get(o, "config"), "identity_providers");
    for (size_t k = 0; k < json_array_size(list); k++) {
        const char *name = json_string_value(json_array_get(list, k));
        if (name != NULL && json_object_get(x->access_idps, name) == NULL) {
            char f[ADMIN_FIELD_MAX];
            snprintf(f, sizeof f, "config.identity_providers[%zu]", k);
            return imp_bad(x, where, f,
                           "no identity provider \"%s\" in objects.access_identity_providers",
                           name);
        }
    }
    return 0;
}

static int import_app(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name", "domain", "aud", "config", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_access_app a = {0};
    const char *aud;
    bool created = false;
    imp_where(where, "access_applications", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&a.name) != 0) {
        return -1;
    }
    imp_where(where, "access_applications", i, a.name);
    if (imp_str(x, o, where, "domain", true, (const char **)&a.domain) != 0 ||
        imp_str(x, o, where, "aud", true, &aud) != 0 || app_idps(x, o, where) != 0) {
        return -1;
    }
    /* Empty, the store would make a new tag: every origin checking the old one would refuse
     * the app's tokens. The store checks the form of a given one. */
    if (strlen(aud) != STORE_AUD_SIZE - 1) {
        return imp_bad(x, where, "aud", "expected %d lower-case hex digits", STORE_AUD_SIZE - 1);
    }
    memcpy(a.aud, aud, STORE_AUD_SIZE);
    if (imp_text(x, o, where, "config", JSON_OBJECT, &a.config) != 0) {
        return -1;
    }
    int rc = 0;
    if (store_access_app_upsert(x->s, &a, &created, x->e) != 0) {
        rc = err_prefix(x->e, "%s", where);
    } else if (!created) {
        rc = imp_bad(x, where, NULL, "a second application of this name");
    } else {
        x->st.access_apps++;
    }
    free(a.config);
    return rc;
}

static int import_token(struct imp *x, const json_t *o, size_t i)
{
    static const char *const known[] = {"name", "client_id", "secret_hash", "expires_at", NULL};
    char where[IMPORT_WHERE_MAX];
    struct store_service_token t = {0};
    const char *client_id, *hash;
    imp_where(where, "service_tokens", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "name", true, (const char **)&t.name) != 0) {
        return -1;
    }
    imp_where(where, "service_tokens", i, t.name);
    if (imp_str(x, o, where, "client_id", true, &client_id) != 0 ||
        imp_str(x, o, where, "secret_hash", true, &hash) != 0 ||
        imp_int(x, o, where, "expires_at", 0, INT64_MAX, &t.expires_at) != 0) {
        return -1;
    }
    if (strlen(client_id) >= sizeof t.client_id) {
        return imp_bad(x, where, "client_id", "longer than %zu characters", sizeof t.client_id - 1);
    }
    memcpy(t.client_id, client_id, strlen(client_id) + 1);
    if (store_service_token_import(x->s, &t, hash, x->e) != 0) {
        return err_prefix(x->e, "%s", where);
    }
    x->st.service_tokens++;
    return 0;
}

int imp_access_objects(struct imp *x)
{
    if (imp_section(x, "access_identity_providers", import_idp) != 0 ||
        imp_section(x, "access_applications", import_app) != 0 ||
        imp_section(x, "service_tokens", import_token) != 0) {
        return -1;
    }
    return 0;
}

/* ---- signing keys ------------------------------------------------------------------- */

/* One element of access_keys, as exported: the current key first, then the retired ones from
 * the newest, each with the end of its grace period. */
struct key_in {
    const char *keypair;
    bool current;
    int64_t not_after;
};

static int key_read(struct imp *x, const json_t *arr, size_t i, struct key_in *k)
{
    static const char *const known[] = {"keypair", "current", "not_after", NULL};
    char where[IMPORT_WHERE_MAX];
    const json_t *o = json_array_get(arr, i);
    imp_where(where, "access_keys", i, NULL);
    if (imp_check_keys(x, o, where, known) != 0 ||
        imp_str(x, o, where, "keypair", true, &k->keypair) != 0 ||
        imp_bool(x, o, where, "current", &k->current) != 0 ||
        imp_int(x, o, where, "not_after", 0, INT64_MAX, &k->not_after) != 0) {
        return -1;
    }
    if (json_object_get(x->keypairs, k->keypair) == NULL) {
        return imp_bad(x, where, "keypair",
                       "no certificate-key pair \"%s\" in objects.certificate_keypairs",
                       k->keypair);
    }
    if (k->current != (i == 0)) {
        return imp_bad(x, where, "current", "the current key comes first, and only it");
    }
    if ((k->not_after == 0) != k->current) {
        return imp_bad(x, where, "not_after", "0 for the current key only");
    }
    return 0;
}

/* Writes the keys from the oldest: the first becomes the current key, and each next one
 * retires it with a grace period that ends at its exported not_after. A retired key whose
 * grace period is over verifies nothing: it is left out, as an export leaves it out. *want
 * gets the keys written, in the store's order (newest first). */
static int keys_write(struct imp *x, const struct key_in *v, size_t n, struct key_in *want,
                      size_t *nwant)
{
    struct store_access_key out = {0};
    const struct key_in *prev = NULL; /* the current key in the store */
    int rc = 0;
    *nwant = 0;
    for (size_t i = n; rc == 0 && i-- > 0;) {
        bool ok = false;
        if (!v[i].current && v[i].not_after <= util_now()) {
            continue;
        }
        if (prev == NULL) {
            rc = store_access_key_ensure(x->s, v[i].keypair, &out, &ok, x->e);
        } else {
            int64_t grace = prev->not_after - util_now();
            grace = grace < 0 ? 0 : grace;
            rc = store_access_key_rotate(x->s, v[i].keypair, grace, 0, &out, &ok, x->e);
        }
        if (rc == 0 && !ok) {
            rc = err_set(x->e, 0, "another key became current meanwhile");
        }
        if (rc != 0) {
            char where[IMPORT_WHERE_MAX];
            imp_where(where, "access_keys", i, v[i].keypair);
            rc = err_prefix(x->e, "%s", where);
        }
        prev = &v[i];
        want[*nwant] = v[i];
        *nwant += 1;
    }
    store_access_key_free(&out);
    for (size_t a = 0, b = *nwant; a < b--; a++) { /* oldest first -> newest first */
        struct key_in t = want[a];
        want[a] = want[b];
        want[b] = t;
    }
    return rc;
}

/* The store's list must now be the written keys: a second may have passed between reading
 * the clock and a rotation, and the grace period then ends a second late (IMPORT_AGAIN). */
static int keys_check(struct imp *x, const struct key_in *want, size_t n)
{
    struct store_access_key_list l = {0};
    if (store_access_key_list(x->s, &l, x->e) != 0) {
        return -1;
    }
    int rc = l.n == n ? 0
                      : err_set(x->e, 0,
                                "objects.access_keys: %zu keys written, %zu read "
                                "back",
                                n, l.n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(l.v[i].keypair_name, want[i].keypair) != 0 ||
            (l.v[i].retired_at == 0) != want[i].current) {
            rc = err_set(x->e, 0, "objects.access_keys: key %zu reads back as \"%s\"", i,
                         l.v[i].keypair_name);
        } else if (l.v[i].not_after != want[i].not_after) {
            rc = IMPORT_AGAIN;
        }
    }
    store_access_key_list_free(&l);
    return rc;
}

int imp_access_keys(struct imp *x)
{
    const json_t *arr = json_object_get(x->objects, "access_keys");
    if (!json_is_array(arr)) {
        return imp_bad(x, "objects.access_keys", NULL, "expected an array");
    }
    size_t n = json_array_size(arr), nwant = 0;
    if (n > STORE_LIST_MAX) {
        return imp_bad(x, "objects.access_keys", NULL, "more than %d keys", STORE_LIST_MAX);
    }
    struct key_in *v = xcalloc(n + 1, sizeof *v), *want = xcalloc(n + 1, sizeof *want);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = key_read(x, arr, i, &v[i]);
    }
    if (rc == 0) {
        rc = keys_write(x, v, n, want, &nwant);
    }
    if (rc == 0) {
        rc = keys_check(x, want, nwant);
    }
    x->st.access_keys = rc == 0 ? (int)nwant : 0;
    free(v);
    free(want);
    return rc;
}
