/*
 * service.c: requests with a service token (CF-Access-Client-Id + CF-Access-Client-Secret,
 * made by `postern access service-token add`), for machines: never a redirect, 401 when the
 * pair is wrong or expired, 403 when no service_auth policy of the application admits it.
 *
 * The pair is checked in the store (a worker: the secret's digest is compared in constant
 * time there) and the answer kept by the thread for SERVICE_CACHE_S, so a busy client costs
 * one store read a minute; the app token that goes to the origin (common_name = the client
 * ID, as Cloudflare's) is signed once and reused while it has more than a minute to live.
 */
#include "access/gate_int.h"

#include <openssl/sha.h>
#include <string.h>

#define SERVICE_CACHE      64   /* verified pairs and signed tokens kept per thread */
#define SERVICE_CACHE_S    60   /* a verified pair is trusted this long */
#define SERVICE_TOKEN_S    3600 /* life of the app token of a service token */
#define SERVICE_SECRET_MAX 256

struct svc_ent {
    uint8_t digest[SHA256_DIGEST_LENGTH]; /* of client id, NUL, secret, NUL, aud */
    int64_t until;
    char name[ACCESS_NAME_MAX + 1];
    char *token; /* signed app token */
    int64_t token_exp;
};

static pthread_key_t svc_key;
static pthread_once_t svc_once = PTHREAD_ONCE_INIT;

static void svc_destroy(void *arg)
{
    struct svc_ent *c = arg;
    for (size_t i = 0; i < SERVICE_CACHE; i++) {
        free(c[i].token);
    }
    free(c);
}

static void svc_key_make(void)
{
    (void)pthread_key_create(&svc_key, svc_destroy);
}

static struct svc_ent *svc_slot(const uint8_t d[SHA256_DIGEST_LENGTH])
{
    pthread_once(&svc_once, svc_key_make);
    struct svc_ent *c = pthread_getspecific(svc_key);
    if (c == NULL) {
        c = xcalloc(SERVICE_CACHE, sizeof *c);
        if (pthread_setspecific(svc_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    return &c[d[0] % SERVICE_CACHE];
}

struct svc_job {
    struct access_gate *g;
    struct gate_snap *snap;
    const struct gate_app *ga;
    char *client_id;
    char *secret;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    char name[ACCESS_NAME_MAX + 1];
    char *token;
    int64_t token_exp;
    int rc;
    struct err e;
};

static void svc_free(struct svc_job *j)
{
    gate_snap_put(j->snap);
    free(j->client_id);
    util_free_secret(j->secret);
    free(j->token);
    free(j);
}

static char *service_token_mint(const struct gate_snap *snap, const struct gate_app *ga,
                                const char *client_id_z, int64_t exp, struct err *e)
{
    json_t *id = json_object();
    json_object_set_new(id, "common_name", json_string(client_id_z));
    json_object_set_new(id, "sub", json_string(""));
    char sid[STORE_ID_SIZE];
    snprintf(sid, sizeof sid, "service:%.50s", client_id_z);
    char *t = gate_token_mint(snap, GATE_TOKEN_APP, ga->aud, id, sid, exp, e);
    json_decref(id);
    return t;
}

static void svc_work(void *arg)
{
    struct svc_job *j = arg;
    struct store *s = store_thread(&j->e);
    j->rc = -1;
    if (s == NULL) {
        return;
    }
    struct store_service_token t = {0};
    j->rc = store_service_token_verify(s, j->client_id, slice_z(j->secret), &t, &j->e);
    if (j->rc == 0) {
        snprintf(j->name, sizeof j->name, "%s", t.name);
        struct err ignored = {0};
        store_service_token_touch(s, &t, &ignored);
        j->token_exp = util_now() + SERVICE_TOKEN_S;
        j->token = service_token_mint(j->snap, j->ga, j->client_id, j->token_exp, &j->e);
        j->rc = j->token ? 0 : -1;
    }
    store_service_token_free(&t);
}

static void svc_forward(struct access_gate *g, struct http_req *r, const struct gate_app *ga,
                        const char *name_z, const char *token_z)
{
    struct access_subject subj;
    gate_subject(&subj, r, NULL);
    subj.service_token = name_z;
    struct access_match m;
    if (access_policy_pre(ga->app, &subj, &m) != ACCESS_SERVICE_AUTH) {
        log_info("access: %s: service token %s not admitted", ga->app->name, name_z);
        gate_json_error(r, 403, "access denied");
        return;
    }
    gate_forward(r, ga, token_z, NULL);
}

static void svc_done(struct http_req *r, void *arg)
{
    struct svc_job *j = arg;
    if (j->rc < 0) {
        gate_json_failure(r, "service token", &j->e);
        svc_free(j);
        return;
    }
    if (j->rc != 0) {
        log_warn("access: %s: service token refused from %s (%s)", j->ga->app->name,
                 http_req_remote_ip(r), j->rc == STORE_EXPIRED ? "expired" : "unknown");
        gate_json_error(r, 401, "invalid service token");
        svc_free(j);
        return;
    }
    struct svc_ent *x = svc_slot(j->digest);
    if (x != NULL) {
        free(x->token);
        memcpy(x->digest, j->digest, sizeof x->digest);
        x->until = util_now() + SERVICE_CACHE_S;
        snprintf(x->name, sizeof x->name, "%s", j->name);
        x->token = xstrdup(j->token);
        x->token_exp = j->token_exp;
    }
    svc_forward(j->g, r, j->ga, j->name, j->token);
    svc_free(j);
}

void gate_service_request(struct access_gate *g, struct http_req *r, struct gate_snap *snap,
                          const struct gate_app *ga)
{
    const char *id = http_req_header(r, "CF-Access-Client-Id");
    const char *secret = http_req_header(r, "CF-Access-Client-Secret");
    if (id == NULL || secret == NULL || strlen(id) >= STORE_SERVICE_ID_SIZE ||
        strlen(secret) > SERVICE_SECRET_MAX) {
        gate_json_error(r, 401, "invalid service token");
        return;
    }
    uint8_t d[SHA256_DIGEST_LENGTH];
    struct buf key;
    buf_init(&key, STORE_SERVICE_ID_SIZE + SERVICE_SECRET_MAX + STORE_AUD_SIZE + 2);
    buf_append(&key, id, strlen(id) + 1);
    buf_append(&key, secret, strlen(secret) + 1);
    buf_append_z(&key, ga->aud);
    SHA256((const unsigned char *)key.p, key.len, d);
    util_wipe(key.p, key.len);
    buf_free(&key);
    struct svc_ent *x = svc_slot(d);
    int64_t now = util_now();
    if (x != NULL && x->until > now && x->token_exp > now + 60 &&
        util_ct_equal(x->digest, sizeof x->digest, d, sizeof d)) {
        svc_forward(g, r, ga, x->name, x->token);
        return;
    }
    struct svc_job *j = xcalloc(1, sizeof *j);
    j->g = g;
    j->snap = snap;
    __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    j->ga = ga;
    j->client_id = xstrdup(id);
    j->secret = xstrdup(secret);
    memcpy(j->digest, d, sizeof d);
    if (http_defer(r, svc_work, svc_done, j) != 0) {
        svc_free(j);
    }
}
