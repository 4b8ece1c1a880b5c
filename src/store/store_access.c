/*
 * The store front for the access gateway's data: makes the values the store owns (AUD tags,
 * service-token client ids and secrets), hashes raw tokens, states, bindings and secrets (so
 * that every backend stores the same digests and no caller can forget to), checks JSON columns,
 * then calls the backend's table.
 */
#include "store/store_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Random bytes behind each value the store makes (store.h sizes are twice these, + NUL). */
#define AUD_BYTES            32
#define SERVICE_ID_BYTES     16
#define SERVICE_SECRET_BYTES 32

/* n random bytes as 2n lower-case hex digits and a NUL into out. */
static void random_hex(char *out, size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[SERVICE_SECRET_BYTES > AUD_BYTES ? SERVICE_SECRET_BYTES : AUD_BYTES];
    util_random(b, bytes);
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0xf];
    }
    out[2 * bytes] = '\0';
    util_wipe(b, sizeof(b));
}

/* ---- identity providers and applications ------------------------------------------- */

int store_access_idp_upsert(struct store *s, struct store_access_idp *p, bool *created,
                            struct err *e)
{
    if (store_check_json(p->config, JSON_OBJECT, "config", e) < 0)
        return -1;
    return s->ops->access_idp_upsert(s, p, created, e);
}

int store_access_idp_get(struct store *s, const char *name_z, struct store_access_idp *out,
                         struct err *e)
{
    return s->ops->access_idp_get(s, name_z ? name_z : "", out, e);
}

int store_access_idp_list(struct store *s, const struct store_page *pg,
                          struct store_access_idp_list *out, struct err *e)
{
    return s->ops->access_idp_list(s, pg, out, e);
}

int store_access_idp_delete(struct store *s, const char *name_z, struct err *e)
{
    return s->ops->access_idp_delete(s, name_z ? name_z : "", e);
}

int store_access_app_upsert(struct store *s, struct store_access_app *a, bool *created,
                            struct err *e)
{
    if (store_check_json(a->config, JSON_OBJECT, "config", e) < 0)
        return -1;
    /* A candidate for a creation; an update writes the stored one back. */
    bool generated = !a->aud[0];
    if (generated)
        random_hex(a->aud, AUD_BYTES);
    int rc = s->ops->access_app_upsert(s, a, created, e);
    if (rc < 0 && generated)
        a->aud[0] = '\0'; /* the caller may retry: a new one will be made */
    return rc;
}

int store_access_app_get_by_name(struct store *s, const char *name_z, struct store_access_app *out,
                                 struct err *e)
{
    return s->ops->access_app_get_by_name(s, name_z ? name_z : "", out, e);
}

int store_access_app_get_by_domain(struct store *s, const char *domain_z,
                                   struct store_access_app *out, struct err *e)
{
    return s->ops->access_app_get_by_domain(s, domain_z ? domain_z : "", out, e);
}

int store_access_app_get_by_aud(struct store *s, const char *aud_z, struct store_access_app *out,
                                struct err *e)
{
    return s->ops->access_app_get_by_aud(s, aud_z ? aud_z : "", out, e);
}

int store_access_app_list(struct store *s, const struct store_page *pg,
                          struct store_access_app_list *out, struct err *e)
{
    return s->ops->access_app_list(s, pg, out, e);
}

int store_access_app_delete(struct store *s, const char *name_z, struct err *e)
{
    return s->ops->access_app_delete(s, name_z ? name_z : "", e);
}

/* ---- service tokens ---------------------------------------------------------------- */

int store_service_token_create(struct store *s, struct store_service_token *t,
                               char secret[STORE_SERVICE_SECRET_SIZE], struct err *e)
{
    char secret_id[STORE_ID_SIZE];
    _Static_assert(2 * SERVICE_ID_BYTES + sizeof(STORE_SERVICE_ID_SUFFIX) == STORE_SERVICE_ID_SIZE,
                   "client_id size");
    _Static_assert(2 * SERVICE_SECRET_BYTES + 1 == STORE_SERVICE_SECRET_SIZE, "secret size");
    random_hex(t->client_id, SERVICE_ID_BYTES);
    memcpy(t->client_id + 2 * SERVICE_ID_BYTES, STORE_SERVICE_ID_SUFFIX,
           sizeof(STORE_SERVICE_ID_SUFFIX));
    random_hex(secret, SERVICE_SECRET_BYTES);
    int rc = store_digest((struct slice){secret, 2 * SERVICE_SECRET_BYTES}, secret_id, e);
    if (rc == 0)
        rc = s->ops->service_token_create(s, t, secret_id, e);
    util_wipe(secret_id, sizeof(secret_id));
    if (rc != 0) {
        util_wipe(secret, STORE_SERVICE_SECRET_SIZE);
        t->client_id[0] = '\0';
    }
    return rc;
}

int store_service_token_verify(struct store *s, const char *client_id_z, struct slice secret,
                               struct store_service_token *out, struct err *e)
{
    char secret_id[STORE_ID_SIZE];
    /* A missing header, or a value that this store cannot have made: no digest to compare. */
    if (!client_id_z || !client_id_z[0] || secret.n != 2 * SERVICE_SECRET_BYTES)
        return STORE_NOT_FOUND;
    if (store_digest(secret, secret_id, e) < 0)
        return -1;
    int rc = s->ops->service_token_verify(s, client_id_z, secret_id, out, e);
    util_wipe(secret_id, sizeof(secret_id));
    return rc;
}

int store_service_token_list(struct store *s, const struct store_page *pg,
                             struct store_service_token_list *out, struct err *e)
{
    return s->ops->service_token_list(s, pg, out, e);
}

int store_service_token_delete(struct store *s, const char *name_z, struct err *e)
{
    return s->ops->service_token_delete(s, name_z ? name_z : "", e);
}

int store_service_token_touch(struct store *s, struct store_service_token *t, struct err *e)
{
    int64_t now = util_now();
    /* Skipped without a query when the record is recent: a write per request would take the
     * database's write lock for every service-token request. */
    if (t->last_used > now - STORE_SERVICE_TOUCH_S)
        return 0;
    if (s->ops->service_token_touch(s, t->id, e) < 0)
        return -1;
    t->last_used = now;
    return 0;
}

/* Whether z is exactly n lower-case hex digits. */
static bool lower_hex(const char *z, size_t n)
{
    size_t i = 0;
    for (; z[i] != '\0' && i <= n; i++) {
        if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'f')))
            return false;
    }
    return i == n;
}

int store_service_token_secret_hash(struct store *s, const struct store_service_token *t,
                                    char out[STORE_ID_SIZE], struct err *e)
{
    out[0] = '\0';
    if (s->ops->service_token_secret_hash == NULL)
        return err_set(e, STORE_E_UNSUPPORTED,
                       "the %s backend cannot read service-token secret digests yet", s->ops->name);
    return s->ops->service_token_secret_hash(s, t->id, out, e);
}

int store_service_token_import(struct store *s, struct store_service_token *t,
                               const char *secret_hash_z, struct err *e)
{
    /* What store_service_token_create makes: "<32 hex>.access" and a SHA-256 in hex. */
    size_t idn = strnlen(t->client_id, STORE_SERVICE_ID_SIZE);
    size_t sfx = sizeof(STORE_SERVICE_ID_SUFFIX) - 1;
    if (idn != 2 * SERVICE_ID_BYTES + sfx ||
        memcmp(t->client_id + 2 * SERVICE_ID_BYTES, STORE_SERVICE_ID_SUFFIX, sfx) != 0) {
        return err_set(e, STORE_E_CONSTRAINT, "client_id must be 32 lower-case hex digits + %s",
                       STORE_SERVICE_ID_SUFFIX);
    }
    char hex[2 * SERVICE_ID_BYTES + 1];
    memcpy(hex, t->client_id, 2 * SERVICE_ID_BYTES);
    hex[2 * SERVICE_ID_BYTES] = '\0';
    if (!lower_hex(hex, 2 * SERVICE_ID_BYTES))
        return err_set(e, STORE_E_CONSTRAINT, "client_id must be 32 lower-case hex digits + %s",
                       STORE_SERVICE_ID_SUFFIX);
    if (secret_hash_z == NULL || !lower_hex(secret_hash_z, STORE_ID_SIZE - 1))
        return err_set(e, STORE_E_CONSTRAINT, "secret_hash must be 64 lower-case hex digits");
    return s->ops->service_token_create(s, t, secret_hash_z, e);
}

/* ---- signing keys ------------------------------------------------------------------- */

int store_access_key_ensure(struct store *s, const char *keypair_name_z,
                            struct store_access_key *out, bool *inserted, struct err *e)
{
    return s->ops->access_key_ensure(s, keypair_name_z ? keypair_name_z : "", out, inserted, e);
}

int store_access_key_rotate(struct store *s, const char *keypair_name_z, int64_t grace_s,
                            int64_t if_current_id, struct store_access_key *out, bool *rotated,
                            struct err *e)
{
    if (rotated)
        *rotated = false;
    if (grace_s < 0 || grace_s > STORE_ACCESS_GRACE_MAX_S)
        return err_set(e, STORE_E_CONSTRAINT, "grace period must be 0..%d seconds",
                       STORE_ACCESS_GRACE_MAX_S);
    return s->ops->access_key_rotate(s, keypair_name_z ? keypair_name_z : "", grace_s,
                                     if_current_id, out, rotated, e);
}

int store_access_key_list(struct store *s, struct store_access_key_list *out, struct err *e)
{
    return s->ops->access_key_list(s, out, e);
}

/* ---- global sessions ----------------------------------------------------------------- */

int store_access_session_create(struct store *s, struct slice token, struct store_access_session *x,
                                struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_check_json(x->identity, JSON_OBJECT, "identity", e) < 0 ||
        store_digest_new(token, "session token", id, e) < 0)
        return -1;
    return s->ops->access_session_create(s, id, x, e);
}

int store_access_session_get(struct store *s, struct slice token, struct store_access_session *out,
                             struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(token, id, e) < 0)
        return -1;
    return s->ops->access_session_get(s, id, out, e);
}

int store_access_session_get_by_id(struct store *s, const char *id_z,
                                   struct store_access_session *out, struct err *e)
{
    return s->ops->access_session_get(s, id_z ? id_z : "", out, e);
}

int store_access_session_revoke(struct store *s, struct slice token,
                                struct store_access_session *out, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(token, id, e) < 0)
        return -1;
    return s->ops->access_session_revoke(s, id, out, e);
}

int store_access_session_revoke_by_id(struct store *s, const char *id_z,
                                      struct store_access_session *out, struct err *e)
{
    return s->ops->access_session_revoke(s, id_z ? id_z : "", out, e);
}

int store_access_session_revoked_since(struct store *s, int64_t since, const char *after_id_z,
                                       struct store_access_revoked_list *out, struct err *e)
{
    return s->ops->access_session_revoked_since(s, since, after_id_z ? after_id_z : "", out, e);
}

/* ---- login states ---------------------------------------------------------------------- */

int store_access_state_create(struct store *s, struct slice state, struct slice binding,
                              struct store_access_state *x, struct err *e)
{
    char id[STORE_ID_SIZE], bid[STORE_ID_SIZE];
    if (store_digest_new(state, "state", id, e) < 0 ||
        store_digest_new(binding, "binding", bid, e) < 0)
        return -1;
    return s->ops->access_state_create(s, id, bid, x, e);
}

int store_access_state_take(struct store *s, struct slice state, struct slice binding,
                            struct store_access_state *out, struct err *e)
{
    char id[STORE_ID_SIZE], bid[STORE_ID_SIZE];
    if (store_digest(state, id, e) < 0 || store_digest(binding, bid, e) < 0)
        return -1;
    int rc = s->ops->access_state_take(s, id, bid, out, e);
    util_wipe(bid, sizeof(bid));
    return rc;
}

/* ---- one-time tokens ------------------------------------------------------------------- */

int store_access_ticket_create(struct store *s, struct slice token, struct store_access_ticket *x,
                               struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest_new(token, "one-time token", id, e) < 0)
        return -1;
    return s->ops->access_ticket_create(s, id, x, e);
}

int store_access_ticket_take(struct store *s, struct slice token, const char *aud_z,
                             struct store_access_ticket *out, struct err *e)
{
    char id[STORE_ID_SIZE];
    if (store_digest(token, id, e) < 0)
        return -1;
    return s->ops->access_ticket_take(s, id, aud_z ? aud_z : "", out, e);
}
