/*
 * The store front for the identity provider's data: hashes raw secrets (so that every
 * backend stores the same digests and no caller can forget to), fills what is
 * backend-neutral (user UUIDs), then calls the backend's table.
 */
#include "store/store_int.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int store_digest(struct slice raw, char out[STORE_ID_SIZE], struct err *e)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    out[0] = '\0';
    if (raw.n > STORE_TEXT_MAX)
        return err_set(e, STORE_E_TOO_BIG, "token longer than %d bytes", STORE_TEXT_MAX);
    if (!EVP_Digest(raw.n ? raw.p : "", raw.n, md, &len, EVP_sha256(), NULL) ||
        len * 2 + 1 != STORE_ID_SIZE)
        return err_set(e, STORE_E_INTERNAL, "SHA-256 failed");
    for (unsigned int i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * len] = '\0';
    util_wipe(md, sizeof(md));
    return 0;
}

/* The digest of a value that is being created: an empty one is a caller's bug, and would
 * make every empty cookie a valid session. */
int store_digest_new(struct slice raw, const char *what, char out[STORE_ID_SIZE], struct err *e)
{
    if (raw.n == 0)
        return err_set(e, STORE_E_CONSTRAINT, "%s must not be empty", what);
    return store_digest(raw, out, e);
}

/* RFC 9562 section 5.4: 122 random bits, version 4, variant 10. */
static void uuid_v4(char out[STORE_UUID_SIZE])
{
    uint8_t b[16];
    util_random(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, STORE_UUID_SIZE,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int store_check_json(const char *z, int type, const char *field, struct err *e)
{
    if (!z || !z[0])
        return 0;
    size_t n = strlen(z);
    if (n > STORE_TEXT_MAX)
        return err_set(e, STORE_E_TOO_BIG, "%s longer than %d bytes", field, STORE_TEXT_MAX);
    struct err je = {0};
    json_t *j = util_json_parse((struct slice){z, n}, &je);
    bool ok = j && (int)json_typeof(j) == type;
    json_decref(j);
    if (!ok)
        return err_set(e, STORE_E_CONSTRAINT, "%s must be a JSON %s", field,
                       type == JSON_OBJECT ? "object" : "array");
    return 0;
}

/* ---- users, groups --------------------------------------------------------------- */

int store_user_create(struct store *s, struct store_user *u, struct err *e)
{
    u->id = 0; /* the store chooses */
    return store_user_import(s, u, e);
}

int store_user_import(struct store *s, struct store_user *u, struct err *e)
{
    bool generated = false;
    if (u->id < 0)
        return err_set(e, STORE_E_CONSTRAINT, "user id must be positive");
    if (!u->uuid[0]) {
        uuid_v4(u->uuid);
        generated = true;
    } else if (strnlen(u->uuid, STORE_UUID_SIZE) != STORE_UUID_SIZE - 1) {
        return err_set(e, STORE_E_CONSTRAINT, "uuid must be 36 characters");
    }
    if (store_check_json(u->attributes, JSON_OBJECT, "attributes", e) < 0) {
        if (generated)
            u->uuid[0] = '\0';
        return -1;
    }
    int rc = s->ops->user_create(s, u, e);
    if (rc < 0 && generated)
        u->uuid[0] = '\0'; /* the caller may retry: a new one will be made */
    return rc;
}

int store_user_update(struct store *s, struct store_user *u, struct err *e)
{
    if (store_check_json(u->attributes, JSON_OBJECT, "attributes", e) < 0)
        return -1;
    return s->ops->user_update(s, u, e);
}

int store_user_set_password(struct store *s, int64_t user_id, const char *phc_z, struct err *e)
{
    return s->ops->user_set_password(s, user_id, phc_z ? phc_z : "", e);
}

int store_user_get_by_id(struct store *s, int64_t id, struct store_user *out, struct err *e)
{
    return s->ops->user_get_by_id(s, id, out, e);
}

int store_user_get_by_name(struct store *s, const char *username_z, struct store_user *out,
                           struct err *e)
{
    return s->ops->user_get_by_name(s, username_z, out, e);
}

int store_user_get_by_login(struct store *s, const char *login_z, struct store_user *out,
                            struct err *e)
{
    return s->ops->user_get_by_login(s, login_z, out, e);
}

int store_user_list(struct store *s, const struct store_page *pg, struct store_user_list *out,
                    struct err *e)
{
    return s->ops->user_list(s, pg, out, e);
}

int store_user_delete(struct store *s, int64_t id, struct err *e)
{
    return s->ops->user_delete(s, id, e);
}

int store_group_upsert(struct store *s, struct store_group *g, bool *created, struct err *e)
{
    if (store_check_json(g->attributes, JSON_OBJECT, "attributes", e) < 0)
        return -1;
    return s->ops->group_upsert(s, g, created, e);
}

int store_group_get_by_id(struct store *s, int64_t id, struct store_group *out, struct err *e)
{
    return s->ops->group_get_by_id(s, id, out, e);
}

int store_group_get_by_name(struct store *s, const char *name_z, struct store_group *out,
                            struct err *e)
{
    return s->ops->group_get_by_name(s, name_z, out, e);
}

int store_group_list(struct store *s, const struct store_page *pg, struct store_group_list *out,
                     struct err *e)
{
    return s->ops->group_list(s, pg, out, e);
}

int store_group_delete(struct store *s, int64_t id, struct err *e)
{
    return s->ops->group_delete(s, id, e);
}

int store_member_add(struct store *s, int64_t user_id, int64_t group_id, struct err *e)
{
    return s->ops->member_add(s, user_id, group_id, e);
}

int store_member_remove(struct store *s, int64_t user_id, int64_t group_id, struct err *e)
{
    return s->ops->member_remove(s, user_id, group_id, e);
}

int store_user_set_groups(struct store *s, int64_t user_id, const char *const *names, size_t n,
                          struct err *e)
{
    return s->ops->user_set_groups(s, user_id, names, n, e);
}

int store_user_groups(struct store *s, int64_t user_id, struct store_group_list *out, struct err *e)
{
    return s->ops->user_groups(s, user_id, out, e);
}

int store_group_members(struct store *s, int64_t group_id, const struct store_page *pg,
                        struct store_user_list *out, struct err *e)
{
    return s->ops->group_members(s, group_id, pg, out, e);
}

/* ---- keys, providers, applications ------------------------------------------------- */

int store_keypair_insert_if_absent(struct store *s, const struct store_keypair *in,
                                   struct store_keypair *out, bool *inserted, struct err *e)
{
    if ((in->key_pem && strlen(in->key_pem) > STORE_PEM_MAX) ||
        (in->cert_pem && strlen(in->cert_pem) > STORE_PEM_MAX))
        return err_set(e, STORE_E_TOO_BIG, "PEM longer than %d bytes", STORE_PEM_MAX);
    return s->ops->keypair_insert_if_absent(s, in, out, inserted, e);
}

int store_keypair_get_by_name(struct store *s, const char *name_z, struct store_keypair *out,
                              struct err *e)
{
    return s->ops->keypair_get_by_name(s, name_z, out, e);
}

int store_keypair_list(struct store *s, struct store_keypair_list *out, struct err *e)
{
    return s->ops->keypair_list(s, out, e);
}

int store_keypair_delete(struct store *s, const char *name_z, struct err *e)
{
    return s->ops->keypair_delete(s, name_z, e);
}

int store_provider_upsert(struct store *s, struct store_provider *p, bool *created, struct err *e)
{
    if (store_check_json(p->redirect_uris, JSON_ARRAY, "redirect_uris", e) < 0)
        return -1;
    return s->ops->provider_upsert(s, p, created, e);
}

int store_provider_get_by_id(struct store *s, int64_t id, struct store_provider *out, struct err *e)
{
    return s->ops->provider_get_by_id(s, id, out, e);
}

int store_provider_get_by_name(struct store *s, const char *name_z, struct store_provider *out,
                               struct err *e)
{
    return s->ops->provider_get_by_name(s, name_z, out, e);
}

int store_provider_get_by_client_id(struct store *s, const char *client_id_z,
                                    struct store_provider *out, struct err *e)
{
    return s->ops->provider_get_by_client_id(s, client_id_z, out, e);
}

int store_provider_list(struct store *s, const struct store_page *pg,
                        struct store_provider_list *out, struct err *e)
{
    return s->ops->provider_list(s, pg, out, e);
}

int store_provider_delete(struct store *s, int64_t id, struct err *e)
{
    return s->ops->provider_delete(s, id, e);
}

int store_app_upsert(struct store *s, struct store_app *a, bool *created, struct err *e)
{
    if (store_check_json(a->meta, JSON_OBJECT, "meta", e) < 0)
        return -1;
    return s->ops->app_upsert(s, a, created, e);
}

int store_app_get_by_id(struct store *s, int64_t id, struct store_app *out, struct err *e)
{
    return s->ops->app_get_by_id(s, id, out, e);
}

int store_app_get_by_slug(struct store *s, const char *slug_z, struct store_app *out, struct err *e)
{
    return s->ops->app_get_by_slug(s, slug_z, out, e);
}

int store_app_get_by_provider(struct store *s, int64_t provider_id, struct store_app *out,
                              struct err *e)
{
    return s->ops->app_get_by_provider(s, provider_id, out, e);
}

int store_app_list(struct store *s, const struct store_page *pg, struct store_app_list *out,
                   struct err *e)
{
    return s->ops->app_list(s, pg, out, e);
}

int store_app_delete(struct store *s, int64_t id, struct err *e)
{
    return s->ops->app_delete(s, id, e);
}

int store_app_bindings_set(struct store *s, int64_t app_id, const struct store_binding *v, size_t n,
                           struct err *e)
{
    return s->ops->app_bindings_set(s, app_id, v, n, e);
}

int store_app_bindings(struct store *s, int64_t app_id, struct store_binding_list *out,
                       struct err *e)
{
    return s->ops->app_bindings(s, app_id, out, e);
}

/* ---- sessions, codes, tokens ----------------------------------------------------------- */

int store_session_create(struct store *s, struct slice token, struct store_session *x,
                         struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_check_json(x->amr, JSON_ARRAY, "amr", e) < 0 ||
        store_digest_new(token, "session token", id, e) < 0)
        return -1;
    return s->ops->session_create(s, id, x, e);
}

int store_session_get(struct store *s, struct slice token, struct store_session *out, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(token, id, e) < 0)
        return -1;
    return s->ops->session_get(s, id, out, e);
}

int store_session_get_by_id(struct store *s, const char *id_z, struct store_session *out,
                            struct err *e)
{
    return s->ops->session_get(s, id_z, out, e);
}

int store_session_touch(struct store *s, const char *id_z, int64_t expires_at, struct err *e)
{
    return s->ops->session_touch(s, id_z, expires_at, e);
}

int store_session_delete(struct store *s, const char *id_z, struct err *e)
{
    return s->ops->session_delete(s, id_z, e);
}

int store_session_delete_user(struct store *s, int64_t user_id, int64_t *deleted, struct err *e)
{
    return s->ops->session_delete_user(s, user_id, deleted, e);
}

int store_code_create(struct store *s, struct slice code, struct store_code *c, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest_new(code, "authorization code", id, e) < 0)
        return -1;
    return s->ops->code_create(s, id, c, e);
}

int store_code_take(struct store *s, struct slice code, int64_t provider_id, struct store_code *out,
                    struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(code, id, e) < 0)
        return -1;
    return s->ops->code_take(s, id, provider_id, out, e);
}

int store_token_insert(struct store *s, struct slice key, struct store_token *t, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest_new(key, "token", id, e) < 0)
        return -1;
    return s->ops->token_insert(s, id, t, e);
}

int store_token_get(struct store *s, struct slice key, struct store_token *out, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(key, id, e) < 0)
        return -1;
    return s->ops->token_get(s, id, out, e);
}

bool store_token_active(const struct store_token *t)
{
    return t->revoked_at == 0 && t->rotated_at == 0 && t->expires_at > util_now();
}

int store_token_revoke(struct store *s, struct slice key, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(key, id, e) < 0)
        return -1;
    return s->ops->token_revoke(s, id, e);
}

int store_token_revoke_code(struct store *s, const char *code_id_z, int64_t *revoked, struct err *e)
{
    return s->ops->token_revoke_code(s, code_id_z, revoked, e);
}

int store_token_revoke_family(struct store *s, const char *id_z, int64_t *revoked, struct err *e)
{
    return s->ops->token_revoke_family(s, id_z, revoked, e);
}

int store_token_rotate(struct store *s, struct slice old_key, struct slice new_key,
                       int64_t provider_id, const char *scope_z, int64_t expires_at,
                       struct store_token *nt, struct store_token *old, struct err *e)
{
    char old_id[STORE_ID_SIZE], new_id[STORE_ID_SIZE];
    if (store_digest(old_key, old_id, e) < 0 || store_digest_new(new_key, "token", new_id, e) < 0)
        return -1;
    return s->ops->token_rotate(s, old_id, new_id, provider_id, scope_z, expires_at, nt, old, e);
}

int store_consent_get(struct store *s, int64_t user_id, int64_t provider_id,
                      struct store_consent *out, struct err *e)
{
    return s->ops->consent_get(s, user_id, provider_id, out, e);
}

int store_consent_set(struct store *s, struct store_consent *c, struct err *e)
{
    return s->ops->consent_set(s, c, e);
}

int store_consent_delete(struct store *s, int64_t user_id, int64_t provider_id, struct err *e)
{
    return s->ops->consent_delete(s, user_id, provider_id, e);
}

/* ---- throttling, events, housekeeping ------------------------------------------------ */

int store_attempt_fail(struct store *s, const char *key_z, const struct store_throttle *pol,
                       struct store_attempts *out, struct err *e)
{
    return s->ops->attempt_fail(s, key_z, pol, out, e);
}

int store_attempt_get(struct store *s, const char *key_z, struct store_attempts *out, struct err *e)
{
    return s->ops->attempt_get(s, key_z, out, e);
}

int store_attempt_reset(struct store *s, const char *key_z, struct err *e)
{
    return s->ops->attempt_reset(s, key_z, e);
}

int store_event_add(struct store *s, struct store_event *ev, struct err *e)
{
    if (store_check_json(ev->context, JSON_OBJECT, "context", e) < 0)
        return -1;
    return s->ops->event_add(s, ev, e);
}

int store_event_list(struct store *s, const char *action_z, const char *username_z,
                     const struct store_page *pg, struct store_event_list *out, struct err *e)
{
    return s->ops->event_list(s, action_z, username_z, pg, out, e);
}

int store_event_purge(struct store *s, int64_t before, int64_t *deleted, struct err *e)
{
    return s->ops->event_purge(s, before, deleted, e);
}

int store_purge(struct store *s, struct store_purged *out, struct err *e)
{
    return s->ops->purge(s, out, e);
}
