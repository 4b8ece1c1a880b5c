/*
 * admin: the configuration file, and (in later issues) the admin API and `postern apply`
 * on top of the same validation. Sits above every protocol module.
 */
#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include "http/http.h"
#include "idp/idp.h"
#include "util/util.h"
#include "web/web.h"

#define ADMIN_DEFAULT_LISTEN "127.0.0.1:8080"
#define ADMIN_DEFAULT_DATA_DIR "./data"
#define ADMIN_MAX_LISTEN 16
#define ADMIN_EXIT_USAGE 2 /* exit status of a usage or configuration error */

struct admin_config {
    struct http_server_config server; /* listen[] owned here */
    char *data_dir;
    char *store_url; /* NULL: SQLite in data_dir */
    enum log_level log_level;
    bool idp_enabled;          /* an `idp:` section is present */
    struct idp_config idp;     /* public_url owned here */
    bool access_enabled;       /* an `access:` section is present (applied with the objects) */
    struct web_branding branding; /* `branding:`; NULL fields: the defaults (strings owned) */
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
 * username, provider name and application slug, then the gateway's `access:` section (team
 * domain, identity providers and applications by name; a signing key is made if there is
 * none). doc gives line numbers for errors (may be NULL for JSON). Nothing is written when
 * any object is refused. */
int admin_apply(struct store *s, const struct yaml_doc *doc, const json_t *root,
                struct admin_apply_stats *st, struct err *e);

/* ---- the management commands ---- */

/* What a command works on: the config, the store, the IdP's keys and secret. */
struct admin_cli {
    struct admin_config cfg;
    struct store *store;
    struct idp idp;
};

/* Loads config_z, creates the data directory, opens and migrates the store, loads or creates
 * the IdP's secret and default signing key. admin_cli_close is needed even on error. */
int admin_cli_open(const char *config_z, struct admin_cli *cli, struct err *e);
void admin_cli_close(struct admin_cli *cli);
/* Creates the data directory (one level, mode 0700) when it does not exist. */
int admin_ensure_data_dir(const char *dir_z, struct err *e);
/* Applies an OBJECTS file (only users, groups, certificate_keypairs, providers, applications
 * and access at the top). */
int admin_apply_objects(struct store *s, const struct yaml_doc *doc,
                        struct admin_apply_stats *st, struct err *e);

/* ---- moving a store (`postern store export|import`, issue 6) ---- */

#define ADMIN_EXPORT_FORMAT  "postern-store-export"
#define ADMIN_EXPORT_VERSION 1

/* What an import wrote. */
struct admin_import_stats {
    int meta, groups, users, keypairs, providers, applications;
    int access_idps, access_apps, service_tokens, access_keys;
};

/* The document of every configuration object of s (export.c says which, and what is left
 * out: runtime state and the times the store stamps), in a fixed order: exports of equal
 * stores are equal. s must be at this binary's schema. *out: a new reference. It holds
 * private keys, secrets and password hashes. */
int admin_store_export(struct store *s, json_t **out, struct err *e);
/* Writes the objects of an export document into s, which must be migrated and hold none of
 * them, in one transaction: all or nothing. Users keep their ids and uuids, so that every
 * sub_mode gives the same subjects after a move. Bad input is refused before anything is
 * written,
 * with the object and field named ("objects.users[2] (\"bob\").groups[0]: ..."). st may be
 * NULL. */
int admin_store_import(struct store *s, const json_t *doc, struct admin_import_stats *st,
                       struct err *e);

/* The subcommands, for main: argv[0] is the command's name. Each returns an exit status. */
int admin_cmd_apply(int argc, char **argv);
int admin_cmd_user(int argc, char **argv);
int admin_cmd_group(int argc, char **argv);
int admin_cmd_provider(int argc, char **argv);
int admin_cmd_events(int argc, char **argv);
int admin_cmd_access(int argc, char **argv);
int admin_cmd_migrate(int argc, char **argv);
int admin_cmd_store(int argc, char **argv);

#endif
