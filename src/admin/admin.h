/*
 * admin: the configuration file, and (in later issues) the admin API and `postern apply`
 * on top of the same validation. Sits above every protocol module.
 */
#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include "http/http.h"
#include "idp/idp.h"
#include "util/util.h"

#define ADMIN_DEFAULT_LISTEN "127.0.0.1:8080"
#define ADMIN_DEFAULT_DATA_DIR "./data"
#define ADMIN_MAX_LISTEN 16

struct admin_config {
    struct http_server_config server; /* listen[] owned here */
    char *data_dir;
    char *store_url; /* NULL: SQLite in data_dir */
    enum log_level log_level;
    bool idp_enabled;          /* an `idp:` section is present */
    struct idp_config idp;     /* public_url owned here */
    struct yaml_doc doc; /* the whole file, for sections read by other modules */
};

/* Reads and validates FILE. Errors read "FILE:LINE: FIELD: what is wrong". */
int admin_config_load(const char *path_z, struct admin_config *c, struct err *e);
void admin_config_free(struct admin_config *c);

/* Checks that `address` is "HOST:PORT", "[V6]:PORT" or ":PORT" with a port 0-65535. */
int admin_check_address(const char *address_z, struct err *e);

/* ---- declarative objects (`postern apply`, and the objects of the config file) ---- */

struct store;

struct admin_apply_stats {
    int created;
    int updated;
};

/* Creates or updates, in one transaction, the groups, users, providers and applications of
 * root (keys "groups", "users", "providers", "applications"), idempotently by group name,
 * username, provider name and application slug. doc gives line numbers for errors (may be
 * NULL for JSON). Nothing is written when any object is refused. */
int admin_apply(struct store *s, const struct yaml_doc *doc, const json_t *root,
                struct admin_apply_stats *st, struct err *e);

#endif
