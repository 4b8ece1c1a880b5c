/*
 * admin internals: field-by-field validation of YAML/JSON objects with errors that name the
 * file, the line and the field ("postern.yaml:12: providers[0].client_type: expected ...").
 */
#ifndef POSTERN_ADMIN_INT_H
#define POSTERN_ADMIN_INT_H

#include "admin/admin.h"

#include <jansson.h>

#define ADMIN_FIELD_MAX 160
/* The store lock that admin_apply holds while it writes (store_tx_lock). */
#define ADMIN_APPLY_LOCK "postern.apply"

struct admin_ctx {
    const struct yaml_doc *doc; /* for line numbers; NULL for JSON from the API */
    struct err *e;
};

/* "FILE:LINE: FIELD: message" (or "FIELD: message" without a document). Returns -1. */
int admin_bad(const struct admin_ctx *x, const json_t *node, const char *field,
              const char *fmt, ...) UTIL_PRINTF(4, 5);
/* Prefixes x->e's message (e.g. from the store) with "FILE:LINE: FIELD". Returns -1. */
int admin_prefix(const struct admin_ctx *x, const json_t *node, const char *field);
/* Refuses keys of obj outside known (NULL-terminated). field is the object's path. */
int admin_check_keys(const struct admin_ctx *x, const json_t *obj, const char *field,
                     const char *const *known);
/* A required non-empty string; a missing one is reported at parent's line. *out is xmalloc'd. */
int admin_get_string(const struct admin_ctx *x, const json_t *obj, const char *key,
                     const char *field, char **out);
/* An optional string: *out stays as it is (NULL or a previous value) when key is absent. */
int admin_opt_string(const struct admin_ctx *x, const json_t *obj, const char *key,
                     const char *field, char **out);
int admin_opt_bool(const struct admin_ctx *x, const json_t *obj, const char *key,
                   const char *field, bool *out);
/* A duration ("1m", "24h", "30d") or a whole number of seconds, within [min, max]. */
int admin_opt_duration(const struct admin_ctx *x, const json_t *obj, const char *key,
                       const char *field, int64_t min, int64_t max, int64_t *out);
/* One of the NULL-terminated choices; *out is xmalloc'd (left alone when absent). */
int admin_opt_enum(const struct admin_ctx *x, const json_t *obj, const char *key,
                   const char *field, const char *const *choices, char **out);
/* field + "." + key, or field + "[i]". */
void admin_field(char out[ADMIN_FIELD_MAX], const char *field, const char *key);
void admin_field_i(char out[ADMIN_FIELD_MAX], const char *field, size_t i);

/* keypairs.c: one element of `certificate_keypairs`. */
int admin_apply_keypair(const struct admin_ctx *x, struct store *s, const json_t *obj,
                        const char *field, struct admin_apply_stats *st);

/* objects.c: an event of a change made by `apply` or a command (model_created, model_updated,
 * model_deleted, key_rotated...) with the kind of object and its name: never a field's value
 * (a client secret, a password). app_z: the slug of an IdP application, or NULL. */
void admin_model_event(struct store *s, const char *action_z, const char *model_z,
                       const char *name_z, const char *app_z);

/* access.c: the `access:` section of root (issue 4): team_domain, identity_providers and
 * applications, written idempotently by name in the caller's transaction; what the section
 * leaves out (team_domain, identity providers named by applications) is read from the store.
 * Makes sure the gateway has a signing key. 0 when root has no `access:`. */
int admin_apply_access(const struct admin_ctx *x, struct store *s, const json_t *root,
                       struct admin_apply_stats *st);

/* export.c: the settings of the meta table that an export holds (NULL-terminated). */
extern const char *const admin_export_meta_keys[];
/* export.c: every section of an export into objects (an empty JSON object), in the caller's
 * transaction. */
int admin_export_objects(struct store *s, json_t *objects, struct err *e);

/* ---- the management commands (cli*.c) ---- */

#define ADMIN_CLI_MAX_GROUPS 64
#define ADMIN_CLI_LIST_MAX 1000
/* The IdP origin used by commands when the config has no `idp:` section: only the store's
 * secret and keys are needed then, never a URL. */
#define ADMIN_NO_PUBLIC_URL "http://localhost"

struct admin_cli_opts {
    const char *config;
    const char *name;
    const char *email;
    const char *action;
    const char *groups[ADMIN_CLI_MAX_GROUPS];
    size_t ngroups;
    bool password;
    long limit;
};

int admin_parse_opts(int argc, char **argv, const char *usage, struct admin_cli_opts *o);
int admin_usage_error(const char *usage, const char *msg);
/* A password from the terminal without echo (asked twice when confirm), else one line of
 * stdin. A secret: util_free_secret it. */
char *admin_read_password(bool confirm, struct err *e);

#endif
