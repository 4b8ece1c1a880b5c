/*
 * Freeing the records that the store fills (store.h, "Records"): members are freed, secrets
 * wiped first, and the struct left zeroed so that it can be freed again or refilled.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

void store_user_free(struct store_user *u)
{
    if (!u)
        return;
    free(u->username);
    free(u->name);
    free(u->email);
    free(u->attributes);
    /* A hash is not the password, but it is what an offline guesser needs. */
    util_free_secret(u->password_hash);
    memset(u, 0, sizeof(*u));
}

void store_group_free(struct store_group *g)
{
    if (!g)
        return;
    free(g->name);
    free(g->attributes);
    memset(g, 0, sizeof(*g));
}

void store_keypair_free(struct store_keypair *k)
{
    if (!k)
        return;
    free(k->name);
    free(k->kid);
    free(k->alg);
    util_free_secret(k->key_pem);
    free(k->cert_pem);
    memset(k, 0, sizeof(*k));
}

void store_provider_free(struct store_provider *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->authorization_flow);
    free(p->client_type);
    free(p->client_id);
    util_free_secret(p->client_secret);
    free(p->redirect_uris);
    free(p->signing_key);
    free(p->sub_mode);
    memset(p, 0, sizeof(*p));
}

void store_app_free(struct store_app *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->slug);
    free(a->policy_engine_mode);
    free(a->meta);
    memset(a, 0, sizeof(*a));
}

void store_session_free(struct store_session *x)
{
    if (!x)
        return;
    free(x->amr);
    free(x->client_ip);
    free(x->user_agent);
    memset(x, 0, sizeof(*x));
}

void store_code_free(struct store_code *c)
{
    if (!c)
        return;
    free(c->redirect_uri);
    free(c->scope);
    free(c->nonce);
    /* The PKCE challenge is public (it travelled in the authorization request). */
    free(c->code_challenge);
    free(c->code_challenge_method);
    memset(c, 0, sizeof(*c));
}

void store_token_free(struct store_token *t)
{
    if (!t)
        return;
    free(t->scope);
    memset(t, 0, sizeof(*t));
}

void store_consent_free(struct store_consent *c)
{
    if (!c)
        return;
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

void store_event_free(struct store_event *ev)
{
    if (!ev)
        return;
    free(ev->action);
    free(ev->username);
    free(ev->client_ip);
    free(ev->app);
    free(ev->context);
    memset(ev, 0, sizeof(*ev));
}

/* ---- the access gateway ------------------------------------------------------------ */

void store_access_idp_free(struct store_access_idp *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->type);
    util_free_secret(p->config); /* holds the IdP's client_secret */
    memset(p, 0, sizeof(*p));
}

void store_access_app_free(struct store_access_app *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->domain);
    free(a->config);
    memset(a, 0, sizeof(*a));
}

void store_service_token_free(struct store_service_token *t)
{
    if (!t)
        return;
    free(t->name);
    memset(t, 0, sizeof(*t));
}

void store_access_key_free(struct store_access_key *k)
{
    if (!k)
        return;
    free(k->keypair_name);
    free(k->kid);
    free(k->alg);
    memset(k, 0, sizeof(*k));
}

void store_access_session_free(struct store_access_session *x)
{
    if (!x)
        return;
    free(x->identity);
    free(x->idp);
    memset(x, 0, sizeof(*x));
}

void store_access_state_free(struct store_access_state *x)
{
    if (!x)
        return;
    /* Until the callback, the nonce and the PKCE verifier are what an attacker with a stolen
     * code would need (RFC 7636 section 1). */
    util_free_secret(x->nonce);
    util_free_secret(x->code_verifier);
    free(x->idp);
    free(x->app_domain);
    free(x->redirect_url);
    memset(x, 0, sizeof(*x));
}

void store_access_ticket_free(struct store_access_ticket *x)
{
    if (!x)
        return;
    free(x->redirect_path);
    memset(x, 0, sizeof(*x));
}

/* Each list: free every record, then the array. */
#define LIST_FREE(fn, list_type, rec_free)                                                         \
    void fn(struct list_type *l)                                                                   \
    {                                                                                              \
        if (!l)                                                                                    \
            return;                                                                                \
        for (size_t i = 0; i < l->n; i++)                                                          \
            rec_free(&l->v[i]);                                                                    \
        free(l->v);                                                                                \
        l->v = NULL;                                                                               \
        l->n = 0;                                                                                  \
    }

static void binding_free(struct store_binding *b)
{
    (void)b; /* no member is allocated */
}

static void revoked_free(struct store_access_revoked *r)
{
    (void)r; /* no member is allocated */
}

LIST_FREE(store_user_list_free, store_user_list, store_user_free)
LIST_FREE(store_group_list_free, store_group_list, store_group_free)
LIST_FREE(store_keypair_list_free, store_keypair_list, store_keypair_free)
LIST_FREE(store_provider_list_free, store_provider_list, store_provider_free)
LIST_FREE(store_app_list_free, store_app_list, store_app_free)
LIST_FREE(store_binding_list_free, store_binding_list, binding_free)
LIST_FREE(store_event_list_free, store_event_list, store_event_free)
LIST_FREE(store_access_idp_list_free, store_access_idp_list, store_access_idp_free)
LIST_FREE(store_access_app_list_free, store_access_app_list, store_access_app_free)
LIST_FREE(store_service_token_list_free, store_service_token_list, store_service_token_free)
LIST_FREE(store_access_key_list_free, store_access_key_list, store_access_key_free)
LIST_FREE(store_access_revoked_list_free, store_access_revoked_list, revoked_free)

void store_page_bounds(const struct store_page *pg, int64_t *limit, int64_t *offset)
{
    size_t l = pg ? pg->limit : 0, o = pg ? pg->offset : 0;
    if (l == 0 || l > STORE_LIST_MAX)
        l = STORE_LIST_MAX;
    if (o > INT64_MAX)
        o = INT64_MAX;
    *limit = (int64_t)l;
    *offset = (int64_t)o;
}
