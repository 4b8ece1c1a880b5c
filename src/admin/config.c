/* The configuration file: YAML, validated field by field, errors naming file, line, field. */
#include "admin/admin_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct cfgctx {
    struct admin_config *c;
    struct admin_ctx a;
};

#define bad(x, node, field, ...) admin_bad(&(x)->a, node, field, __VA_ARGS__)
#define check_keys(x, obj, field, known) admin_check_keys(&(x)->a, obj, field, known)

int admin_check_address(const char *a, struct err *e)
{
    const char *colon = strrchr(a, ':');
    if (colon == NULL) {
        return err_set(e, 0, "expected HOST:PORT, got \"%s\"", a);
    }
    if (a[0] == '[' && (colon == a || colon[-1] != ']')) {
        return err_set(e, 0, "expected [IPV6]:PORT, got \"%s\"", a);
    }
    uint64_t port;
    if (util_parse_u64(slice_z(colon + 1), 65535, &port) != 0) {
        return err_set(e, 0, "invalid port in \"%s\"", a);
    }
    return 0;
}

/* A missing value (v NULL) is reported at the line of the mapping that lacks it. */
static int load_string(struct cfgctx *x, const json_t *v, const json_t *parent, const char *field,
                       char **out)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return bad(x, v ? v : parent, field, "expected a non-empty string");
    }
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int load_tls(struct cfgctx *x, const json_t *tls, const char *field, struct http_listen *l)
{
    static const char *const known[] = {"cert", "key", NULL};
    char f[128];
    if (!json_is_object(tls)) {
        return bad(x, tls, field, "expected { cert: FILE, key: FILE }");
    }
    if (check_keys(x, tls, field, known) != 0) {
        return -1;
    }
    snprintf(f, sizeof f, "%s.cert", field);
    if (load_string(x, json_object_get(tls, "cert"), tls, f, &l->tls_cert) != 0) {
        return -1;
    }
    snprintf(f, sizeof f, "%s.key", field);
    return load_string(x, json_object_get(tls, "key"), tls, f, &l->tls_key);
}

static int load_listener(struct cfgctx *x, const json_t *v, size_t i, struct http_listen *l)
{
    static const char *const known[] = {"address", "tls", NULL};
    char field[64];
    snprintf(field, sizeof field, "server.listen[%zu]", i);
    const json_t *addr = v;
    if (json_is_object(v)) {
        if (check_keys(x, v, field, known) != 0) {
            return -1;
        }
        addr = json_object_get(v, "address");
        const json_t *tls = json_object_get(v, "tls");
        if (tls != NULL) {
            char tf[80];
            snprintf(tf, sizeof tf, "%s.tls", field);
            if (load_tls(x, tls, tf, l) != 0) {
                return -1;
            }
        }
    }
    if (load_string(x, addr, v, field, &l->address) != 0) {
        return -1;
    }
    struct err ae = {0};
    if (admin_check_address(l->address, &ae) != 0) {
        return bad(x, addr ? addr : v, field, "%s", ae.msg);
    }
    return 0;
}

static int load_listen(struct cfgctx *x, const json_t *list)
{
    struct http_server_config *s = &x->c->server;
    if (list == NULL) {
        s->listen = xcalloc(1, sizeof *s->listen);
        s->listen[0].address = xstrdup(ADMIN_DEFAULT_LISTEN);
        s->nlisten = 1;
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > ADMIN_MAX_LISTEN) {
        return bad(x, list, "server.listen", "expected a list of 1 to %d addresses",
                   ADMIN_MAX_LISTEN);
    }
    s->listen = xcalloc(json_array_size(list), sizeof *s->listen);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        s->nlisten = i + 1;
        if (load_listener(x, v, i, &s->listen[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int load_int(struct cfgctx *x, const json_t *v, const char *field, int min, int max,
                    int *out)
{
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return bad(x, v, field, "expected a whole number from %d to %d", min, max);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

/* Timeouts are durations ("10s", "2m"); the server wants milliseconds. */
#define ADMIN_MAX_TIMEOUT_S 86400

static int load_timeout(struct cfgctx *x, const json_t *t, const char *name, int *ms)
{
    const json_t *v = json_object_get(t, name);
    char field[64];
    snprintf(field, sizeof field, "server.timeouts.%s", name);
    if (v == NULL) {
        return 0;
    }
    int64_t sec;
    if (json_is_integer(v)) {
        sec = json_integer_value(v);
    } else if (!json_is_string(v) || util_parse_duration(slice_z(json_string_value(v)), &sec)) {
        return bad(x, v, field, "expected a duration such as 10s, 2m or 1h");
    }
    if (sec < 1 || sec > ADMIN_MAX_TIMEOUT_S) {
        return bad(x, v, field, "expected a duration from 1s to 24h");
    }
    *ms = (int)(sec * 1000);
    return 0;
}

static int load_timeouts(struct cfgctx *x, const json_t *t)
{
    static const char *const known[] = {"header", "body", "idle", "shutdown", NULL};
    struct http_server_config *s = &x->c->server;
    if (t == NULL) {
        return 0;
    }
    if (!json_is_object(t)) {
        return bad(x, t, "server.timeouts", "expected { header, body, idle, shutdown }");
    }
    if (check_keys(x, t, "server.timeouts", known) != 0 ||
        load_timeout(x, t, "header", &s->header_timeout_ms) != 0 ||
        load_timeout(x, t, "body", &s->body_timeout_ms) != 0 ||
        load_timeout(x, t, "idle", &s->idle_timeout_ms) != 0) {
        return -1;
    }
    return load_timeout(x, t, "shutdown", &s->shutdown_timeout_ms);
}

/* Upper bounds that catch a typo without limiting a real deployment. */
#define ADMIN_MAX_THREADS 256
#define ADMIN_MAX_CONNECTIONS 1000000

static int load_server(struct cfgctx *x, const json_t *srv)
{
    static const char *const known[] = {"listen",         "data_dir", "threads",
                                        "max_connections", "timeouts", "worker_threads", NULL};
    struct http_server_config *s = &x->c->server;
    if (srv == NULL) {
        srv = json_object_get(x->c->doc.root, "server");
    }
    if (srv != NULL && !json_is_object(srv)) {
        return bad(x, srv, "server", "expected a mapping");
    }
    const json_t *none = NULL;
    const json_t *dd = srv ? json_object_get(srv, "data_dir") : none;
    if (srv != NULL && check_keys(x, srv, "server", known) != 0) {
        return -1;
    }
    if (load_listen(x, srv ? json_object_get(srv, "listen") : none) != 0) {
        return -1;
    }
    if (dd != NULL) {
        if (load_string(x, dd, srv, "server.data_dir", &x->c->data_dir) != 0) {
            return -1;
        }
    } else {
        x->c->data_dir = xstrdup(ADMIN_DEFAULT_DATA_DIR);
    }
    if (srv == NULL) {
        return 0;
    }
    if (load_int(x, json_object_get(srv, "threads"), "server.threads", 1, ADMIN_MAX_THREADS,
                 &s->threads) != 0 ||
        load_int(x, json_object_get(srv, "worker_threads"), "server.worker_threads", 1,
                 ADMIN_MAX_THREADS, &s->worker_threads) != 0 ||
        load_int(x, json_object_get(srv, "max_connections"), "server.max_connections", 1,
                 ADMIN_MAX_CONNECTIONS, &s->max_connections) != 0) {
        return -1;
    }
    return load_timeouts(x, json_object_get(srv, "timeouts"));
}

static int load_log_level(struct cfgctx *x)
{
    const json_t *v = json_object_get(x->c->doc.root, "log_level");
    x->c->log_level = LOG_INFO;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_string(v) || log_parse_level(json_string_value(v), &x->c->log_level) != 0) {
        return bad(x, v, "log_level", "expected one of debug, info, warn, error");
    }
    return 0;
}

/* http(s)://HOST[:PORT] with no path, query or fragment (a trailing '/' is dropped): the
 * origin every IdP URL and issuer is built from. */
static int check_public_url(char *u)
{
    size_t n = strlen(u);
    if (n > 0 && u[n - 1] == '/') {
        u[--n] = '\0';
    }
    const char *host = NULL;
    if (strncmp(u, "https://", 8) == 0) {
        host = u + 8;
    } else if (strncmp(u, "http://", 7) == 0) {
        host = u + 7;
    }
    if (host == NULL || *host == '\0') {
        return -1;
    }
    for (const char *p = host; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(".-:[]", *p) != NULL;
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

#define ADMIN_MAX_SESSION_LIFETIME (366 * 86400)

static int load_throttling(struct cfgctx *x, const json_t *t)
{
    static const char *const known[] = {"max_failures", "window", "lockout", NULL};
    struct idp_config *c = &x->c->idp;
    if (t == NULL) {
        return 0;
    }
    if (!json_is_object(t)) {
        return bad(x, t, "idp.throttling", "expected { max_failures, window, lockout }");
    }
    return check_keys(x, t, "idp.throttling", known) ||
                   load_int(x, json_object_get(t, "max_failures"), "idp.throttling.max_failures",
                            0, 1000, &c->throttle_max_failures) ||
                   admin_opt_duration(&x->a, t, "window", "idp.throttling", 1, 86400,
                                      &c->throttle_window) ||
                   admin_opt_duration(&x->a, t, "lockout", "idp.throttling", 1, 86400,
                                      &c->throttle_lockout)
               ? -1
               : 0;
}

static int load_idp(struct cfgctx *x, const json_t *idp)
{
    static const char *const known[] = {"public_url", "session_lifetime", "throttling", NULL};
    struct idp_config *c = &x->c->idp;
    c->session_lifetime = IDP_DEFAULT_SESSION_LIFETIME;
    c->throttle_max_failures = IDP_DEFAULT_THROTTLE_MAX_FAILURES;
    c->throttle_window = IDP_DEFAULT_THROTTLE_WINDOW;
    c->throttle_lockout = IDP_DEFAULT_THROTTLE_LOCKOUT;
    if (idp == NULL) {
        return 0;
    }
    if (!json_is_object(idp)) {
        return bad(x, idp, "idp", "expected a mapping with public_url");
    }
    x->c->idp_enabled = true;
    if (check_keys(x, idp, "idp", known) != 0 ||
        admin_get_string(&x->a, idp, "public_url", "idp", &c->public_url) != 0 ||
        admin_opt_duration(&x->a, idp, "session_lifetime", "idp", 60,
                           ADMIN_MAX_SESSION_LIFETIME, &c->session_lifetime) != 0) {
        return -1;
    }
    if (check_public_url(c->public_url) != 0) {
        return bad(x, json_object_get(idp, "public_url"), "idp.public_url",
                   "expected http(s)://HOST[:PORT] without a path");
    }
    c->cookie_secure = strncmp(c->public_url, "https://", 8) == 0;
    return load_throttling(x, json_object_get(idp, "throttling"));
}

/* `branding:` (issue 5): the pages' title, logo and colours. web_new checks the values (a
 * colour, a logo path or https URL); they are read here and reported with the file's line. */
static int load_branding(struct cfgctx *x, const json_t *b)
{
    static const char *const known[] = {"title",      "logo_url",     "primary",
                                        "background", "primary_dark", "background_dark",
                                        NULL};
    struct web_branding *w = &x->c->branding;
    char **slots[] = {(char **)&w->title,      (char **)&w->logo_url,
                      (char **)&w->primary,    (char **)&w->background,
                      (char **)&w->primary_dark, (char **)&w->background_dark};
    if (b == NULL) {
        return 0;
    }
    if (!json_is_object(b)) {
        return bad(x, b, "branding", "expected a mapping of title, logo_url and colours");
    }
    if (check_keys(x, b, "branding", known) != 0) {
        return -1;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(slots); i++) {
        if (admin_opt_string(&x->a, b, known[i], "branding", slots[i]) != 0) {
            return -1;
        }
    }
    struct err e = {0};
    struct web *test = web_new(w, &e); /* the checks the server will make */
    if (test == NULL) {
        return bad(x, b, "branding", "%s", e.msg);
    }
    web_free(test);
    return 0;
}

int admin_config_load(const char *path_z, struct admin_config *c, struct err *e)
{
    static const char *const known[] = {"server",       "log_level", "store",     "branding",
                                        "idp",          "users",     "groups",
                                        "providers",    "applications", "certificate_keypairs",
                                        "access",       NULL};
    memset(c, 0, sizeof *c);
    if (util_yaml_load_file(path_z, &c->doc, e) != 0) {
        return -1;
    }
    struct cfgctx x = {c, {&c->doc, e}};
    if (!json_is_object(c->doc.root)) {
        return bad(&x, c->doc.root, "(top level)", "expected a mapping");
    }
    if (check_keys(&x, c->doc.root, "", known) != 0 || load_server(&x, NULL) != 0) {
        return -1;
    }
    const json_t *store = json_object_get(c->doc.root, "store");
    if (store != NULL && load_string(&x, store, NULL, "store", &c->store_url) != 0) {
        return -1;
    }
    if (load_log_level(&x) != 0) {
        return -1;
    }
    /* Validated with the store when applied (admin_apply): its names may refer to stored
     * objects. */
    const json_t *access = json_object_get(c->doc.root, "access");
    if (access != NULL && !json_is_object(access)) {
        return bad(&x, access, "access",
                   "expected a mapping of team_domain, identity_providers, applications");
    }
    c->access_enabled = access != NULL;
    if (load_branding(&x, json_object_get(c->doc.root, "branding")) != 0) {
        return -1;
    }
    return load_idp(&x, json_object_get(c->doc.root, "idp"));
}

void admin_config_free(struct admin_config *c)
{
    for (size_t i = 0; i < c->server.nlisten; i++) {
        free(c->server.listen[i].address);
        free(c->server.listen[i].tls_cert);
        free(c->server.listen[i].tls_key);
    }
    free(c->server.listen);
    free(c->data_dir);
    util_free_secret(c->store_url); /* may hold a database password */
    free(c->idp.public_url);
    free(c->idp.host); /* set by serve when both roles share a listener */
    free((char *)c->branding.title);
    free((char *)c->branding.logo_url);
    free((char *)c->branding.primary);
    free((char *)c->branding.background);
    free((char *)c->branding.primary_dark);
    free((char *)c->branding.background_dark);
    util_yaml_free(&c->doc);
    memset(c, 0, sizeof *c);
}
