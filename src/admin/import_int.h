/*
 * `postern store import`, shared by import.c (the document, the IdP's objects, the
 * transaction) and import_access.c (the gateway's objects and signing keys).
 */
#ifndef POSTERN_ADMIN_IMPORT_INT_H
#define POSTERN_ADMIN_IMPORT_INT_H

#include "admin/admin_int.h"

#include <jansson.h>

#define IMPORT_WHERE_MAX 320 /* "objects.users[12] (\"name\")", names cut to fit */
#define IMPORT_AGAIN     1   /* an import step asks for the whole transaction again */

/* One import in progress. The maps turn the document's names into the target's ids (or
 * just remember which names the document has), for references and duplicates. */
struct imp {
    struct store *s;
    struct err *e;
    const json_t *objects;
    json_t *user_ids;     /* username -> id */
    json_t *group_ids;    /* group name -> id */
    json_t *provider_ids; /* provider name -> id */
    json_t *keypairs;     /* certificate-key pair name -> true */
    json_t *access_idps;  /* gateway identity provider name -> true */
    int64_t orphan_user;  /* the stand-in user of orphaned bindings (import.c), 0: none */
    struct admin_import_stats st;
};

/* "WHERE.KEY: message" (or "WHERE: message" when key is NULL) in x->e. Returns -1. */
int imp_bad(struct imp *x, const char *where, const char *key, const char *fmt, ...)
    UTIL_PRINTF(4, 5);
/* "objects.SECTION[i]", then with the object's name once known: "objects.SECTION[i] (\"n\")". */
void imp_where(char out[IMPORT_WHERE_MAX], const char *section, size_t i, const char *name_z);
/* o must be an object with no key outside known (NULL-terminated). */
int imp_check_keys(struct imp *x, const json_t *o, const char *where, const char *const *known);
/* Required members of o. Strings stay owned by the document. */
int imp_str(struct imp *x, const json_t *o, const char *where, const char *key, bool nonempty,
            const char **out);
int imp_int(struct imp *x, const json_t *o, const char *where, const char *key, int64_t min,
            int64_t max, int64_t *out);
int imp_bool(struct imp *x, const json_t *o, const char *where, const char *key, bool *out);
/* A JSON object or array (type JSON_OBJECT / JSON_ARRAY) as the text the store keeps;
 * *out is malloc'd (free it). */
int imp_text(struct imp *x, const json_t *o, const char *where, const char *key, int type,
             char **out);
/* An array of at most max elements (borrowed). */
int imp_array(struct imp *x, const json_t *o, const char *where, const char *key, size_t max,
              const json_t **out);
/* Calls fn for each element of the array objects[section]. */
typedef int (*imp_fn)(struct imp *x, const json_t *o, size_t i);
int imp_section(struct imp *x, const char *section, imp_fn fn);
/* The id that map gives name_z, or 0. */
int64_t imp_id(const json_t *map, const char *name_z);

/* import_access.c: objects.access_identity_providers, access_applications, service_tokens;
 * access_keys (IMPORT_AGAIN when the clock moved while a key was being retired). */
int imp_access_objects(struct imp *x);
int imp_access_keys(struct imp *x);

#endif
