/*
 * rp_flow.c: the asynchronous calls of a login, on the request's event loop.
 *
 *   access_rp_authorize: [discovery] -> the authorization URL
 *   access_rp_exchange:  [discovery] -> POST token endpoint -> JWKS (cached) -> verify
 *                        -> unknown kid: one JWKS re-fetch (rate-limited) -> verify again
 *
 * An operation owns copies of everything it reads (the caller's snapshot may be replaced
 * meanwhile). Its end is always delivered from an event of its own (event_base_once), so
 * that done never runs inside the call that started it, whatever step fails first.
 */
#include "access/rp_int.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct rp_op {
    struct access_rp *rp;
    struct event_base *base;
    struct access_idp idp; /* a copy; the secret is wiped when freed */
    char *redirect_uri;
    char *code;
    struct access_rp_login login;
    char *issuer; /* expected iss: the configured one, else the discovered one */
    char *id_token;
    int64_t idp_date; /* Date of the token response */
    bool exchange;
    bool refetched;
    bool direct; /* the loop is being freed: an event would never run */
    access_rp_done_fn done;
    void *arg;
    struct access_rp_result res;
};

static char *dup_or_null(const char *z)
{
    return z != NULL ? xstrdup(z) : NULL;
}

static char **dup_list(char *const *v, size_t n)
{
    char **out = n > 0 ? xcalloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = xstrdup(v[i]);
    }
    return out;
}

static void idp_copy(struct access_idp *dst, const struct access_idp *src)
{
    *dst = (struct access_idp){
        .name = dup_or_null(src->name),
        .type = src->type,
        .client_id = dup_or_null(src->client_id),
        .client_secret = dup_or_null(src->client_secret),
        .auth_url = dup_or_null(src->auth_url),
        .token_url = dup_or_null(src->token_url),
        .certs_url = dup_or_null(src->certs_url),
        .discovery_url = dup_or_null(src->discovery_url),
        .issuer = dup_or_null(src->issuer),
        .pkce_enabled = src->pkce_enabled,
        .email_claim_name = dup_or_null(src->email_claim_name),
        .scopes = dup_list(src->scopes, src->nscopes),
        .nscopes = src->nscopes,
        .claims = dup_list(src->claims, src->nclaims),
        .nclaims = src->nclaims,
        .ca_file = dup_or_null(src->ca_file),
    };
}

static void op_free(struct rp_op *op)
{
    access_idp_free(&op->idp);
    free(op->redirect_uri);
    util_free_secret(op->code);
    util_free_secret(op->id_token);
    free(op->issuer);
    access_rp_login_wipe(&op->login);
    access_rp_result_free(&op->res);
    free(op);
}

/* ---- the end ---------------------------------------------------------------------------- */

static void fire(evutil_socket_t fd, short what, void *arg)
{
    struct rp_op *op = arg;
    (void)fd;
    (void)what;
    op->done(&op->res, op->arg);
    op_free(op);
}

/* Delivers op->res from an event of its own; directly when the loop is being freed (we are
 * then inside http_fetch_loop_free, not inside the call that started op). */
static void finish(struct rp_op *op)
{
    static const struct timeval now = {0, 0};
    if (op->direct || event_base_once(op->base, -1, EV_TIMEOUT, fire, op, &now) != 0) {
        /* Only when libevent cannot allocate: deliver now rather than never. */
        fire(-1, 0, op);
    }
}

static void fail(struct rp_op *op, const struct access_rp_result *why)
{
    op->res.diag = why->diag;
    memcpy(op->res.msg, why->msg, sizeof op->res.msg);
    if (why->skew != 0) {
        op->res.skew = why->skew;
    }
    finish(op);
}

/* ---- steps ------------------------------------------------------------------------------ */

static void post_token(struct rp_op *op);
static void get_keys(struct rp_op *op, bool refetch);

/* Where the authorize call ends. */
static void make_url(struct rp_op *op)
{
    struct err e = {0};
    op->res.url = access_rp_auth_url(&op->idp, op->idp.auth_url, op->redirect_uri, &op->login, &e);
    if (op->res.url == NULL) {
        rp_set(&op->res, ACCESS_RP_INTERNAL, "%s", e.msg);
    } else {
        rp_set(&op->res, ACCESS_RP_OK, "authorization request ready");
    }
    finish(op);
}

static void next_step(struct rp_op *op)
{
    if (op->exchange) {
        post_token(op);
    } else {
        make_url(op);
    }
}

/* Fills what the configuration leaves open from the discovery document. */
static void on_discovery(struct rp_doc *doc, const struct access_rp_result *why, unsigned flags,
                         void *arg)
{
    struct rp_op *op = arg;
    op->direct = (flags & RP_DOC_CANCELLED) != 0;
    if (doc == NULL) {
        fail(op, why);
        return;
    }
    const struct rp_disc *d = &doc->disc;
    const char *missing = NULL;
    if (op->idp.auth_url == NULL &&
        (op->idp.auth_url = dup_or_null(d->authorization_endpoint)) == NULL) {
        missing = "authorization_endpoint";
    }
    if (op->idp.token_url == NULL && (op->idp.token_url = dup_or_null(d->token_endpoint)) == NULL) {
        missing = "token_endpoint";
    }
    if (op->idp.certs_url == NULL && (op->idp.certs_url = dup_or_null(d->jwks_uri)) == NULL) {
        missing = "jwks_uri";
    }
    if (op->issuer == NULL) {
        op->issuer = xstrdup(d->issuer);
    }
    rp_doc_put(doc);
    /* authorize needs only the authorization endpoint. */
    if (missing != NULL && (op->exchange || op->idp.auth_url == NULL)) {
        rp_set(&op->res, ACCESS_RP_DISCOVERY, "discovery document %s has no %s",
               op->idp.discovery_url, missing);
        finish(op);
        return;
    }
    next_step(op);
}

static void on_token(struct http_fetch_result *res, void *arg)
{
    struct rp_op *op = arg;
    op->direct = res->status == HTTP_FETCH_CANCELLED;
    if (res->status != HTTP_FETCH_OK) {
        rp_fetch_failed("token endpoint", op->idp.token_url, res, &op->res);
        finish(op);
        return;
    }
    op->idp_date = res->date;
    if (rp_token_answer(op->idp.token_url, res, &op->id_token, &op->res) != ACCESS_RP_OK) {
        finish(op);
        return;
    }
    get_keys(op, false);
}

static void post_token(struct rp_op *op)
{
    struct buf body;
    struct err e = {0};
    if (rp_token_body(op->code, op->redirect_uri, op->idp.pkce_enabled ? op->login.verifier : NULL,
                      &body) != 0) {
        rp_set(&op->res, ACCESS_RP_INTERNAL, "token request too large");
        goto done;
    }
    struct http_fetch_req r = {
        .url = op->idp.token_url,
        .method = "POST",
        .content_type = "application/x-www-form-urlencoded",
        .body = {body.p, body.len},
        .basic_user = op->idp.client_id,
        .basic_password = op->idp.client_secret,
        .accept = "application/json",
        .ca_file = op->idp.ca_file,
        .timeout_ms = rp_timeout_ms(op->rp),
        .max_body = ACCESS_RP_TOKEN_BODY_MAX,
    };
    rp_count_fetch(op->rp);
    if (http_fetch_start(op->base, &r, on_token, op, &e) != 0) {
        rp_set(&op->res, ACCESS_RP_INTERNAL, "token endpoint %s: %s", op->idp.token_url, e.msg);
        goto done;
    }
    util_wipe(body.p, body.len); /* the code and the verifier; fetch has its own copy */
    buf_free(&body);
    return;
done:
    if (body.p != NULL) {
        util_wipe(body.p, body.len);
    }
    buf_free(&body);
    finish(op);
}

static void on_keys(struct rp_doc *doc, const struct access_rp_result *why, unsigned flags,
                    void *arg)
{
    struct rp_op *op = arg;
    bool fetched = (flags & RP_DOC_FETCHED) != 0;
    op->direct = (flags & RP_DOC_CANCELLED) != 0;
    if (doc == NULL) {
        if (op->refetched && why->diag == ACCESS_RP_UNKNOWN_KID) {
            /* Rate-limited: say which kid, then why there was no second look. */
            char first[ACCESS_RP_MSG_MAX];
            memcpy(first, op->res.msg, sizeof first);
            rp_set(&op->res, ACCESS_RP_UNKNOWN_KID, "%s; %s", first, why->msg);
            finish(op);
            return;
        }
        fail(op, why);
        return;
    }
    struct access_rp_expect x = {
        .issuer = op->issuer,
        .token_url = op->idp.token_url,
        .client_id = op->idp.client_id,
        .nonce = op->login.nonce,
        .email_claim = op->idp.email_claim_name,
        .claims = op->idp.claims,
        .nclaims = op->idp.nclaims,
        .idp_date = op->idp_date,
    };
    access_rp_result_free(&op->res);
    enum access_rp_diag d = access_rp_verify(slice_z(op->id_token), doc->jwks, &x, &op->res);
    rp_doc_put(doc);
    if (d == ACCESS_RP_UNKNOWN_KID && !op->refetched && !fetched) {
        /* Maybe a key the IdP just rotated in: one more look (rate-limited). */
        op->refetched = true;
        get_keys(op, true);
        return;
    }
    if (d == ACCESS_RP_UNKNOWN_KID) {
        size_t n = strlen(op->res.msg);
        snprintf(op->res.msg + n, sizeof op->res.msg - n, " at %s%s", op->idp.certs_url,
                 op->refetched ? " (re-fetched once)" : "");
    }
    finish(op);
}

static void get_keys(struct rp_op *op, bool refetch)
{
    rp_doc_get(op->rp, op->base, RP_DOC_JWKS, op->idp.certs_url, NULL, op->idp.ca_file, refetch,
               on_keys, op);
}

/* ---- starting --------------------------------------------------------------------------- */

static struct rp_op *op_new(struct access_rp *rp, struct event_base *base,
                            const struct access_idp *idp, const char *redirect_uri_z,
                            const struct access_rp_login *l, access_rp_done_fn done, void *arg)
{
    struct rp_op *op = xcalloc(1, sizeof *op);
    op->rp = rp;
    op->base = base;
    idp_copy(&op->idp, idp);
    op->redirect_uri = xstrdup(redirect_uri_z);
    op->login = *l;
    op->issuer = dup_or_null(idp->issuer);
    op->done = done;
    op->arg = arg;
    return op;
}

static void op_start(struct rp_op *op)
{
    const struct access_idp *p = &op->idp;
    bool need = op->exchange ? p->token_url == NULL || p->certs_url == NULL || op->issuer == NULL
                             : p->auth_url == NULL;
    if (need && p->discovery_url != NULL) {
        rp_doc_get(op->rp, op->base, RP_DOC_DISCOVERY, p->discovery_url, p->issuer, p->ca_file,
                   false, on_discovery, op);
        return;
    }
    if ((op->exchange && (p->token_url == NULL || p->certs_url == NULL)) ||
        (!op->exchange && p->auth_url == NULL)) {
        rp_set(&op->res, ACCESS_RP_INTERNAL, "identity provider %s: no endpoint URL configured",
               p->name != NULL ? p->name : "?");
        finish(op);
        return;
    }
    next_step(op);
}

int access_rp_authorize(struct access_rp *rp, struct event_base *base, const struct access_idp *idp,
                        const char *redirect_uri_z, const struct access_rp_login *l,
                        access_rp_done_fn done, void *arg, struct err *e)
{
    if (rp == NULL || base == NULL || idp == NULL || redirect_uri_z == NULL || l == NULL ||
        done == NULL || idp->client_id == NULL) {
        return err_set(e, 0, "access_rp_authorize: missing argument");
    }
    op_start(op_new(rp, base, idp, redirect_uri_z, l, done, arg));
    return 0;
}

int access_rp_exchange(struct access_rp *rp, struct event_base *base, const struct access_idp *idp,
                       const char *redirect_uri_z, const struct access_rp_login *l,
                       const char *code_z, access_rp_done_fn done, void *arg, struct err *e)
{
    if (rp == NULL || base == NULL || idp == NULL || redirect_uri_z == NULL || l == NULL ||
        code_z == NULL || done == NULL || idp->client_id == NULL) {
        return err_set(e, 0, "access_rp_exchange: missing argument");
    }
    if (code_z[0] == '\0' || strlen(code_z) > ACCESS_RP_CODE_MAX) {
        return err_set(e, 0, "authorization code empty or longer than %d bytes",
                       ACCESS_RP_CODE_MAX);
    }
    struct rp_op *op = op_new(rp, base, idp, redirect_uri_z, l, done, arg);
    op->exchange = true;
    op->code = xstrdup(code_z);
    op_start(op);
    return 0;
}
