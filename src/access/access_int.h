/*
 * access internals: helpers shared by the files of the model (model.c, rule.c, domain.c,
 * json.c). Each validates one JSON value and reports through struct access_err.
 */
#ifndef POSTERN_ACCESS_INT_H
#define POSTERN_ACCESS_INT_H

#include "access/access.h"

#include <jansson.h>

/* Sets ae (field, message, node) and returns -1. ae may be NULL. */
int access_bad(struct access_err *ae, const json_t *node, const char *field, const char *fmt, ...)
    UTIL_PRINTF(4, 5);
/* field + "." + key, and field + "[i]". */
void access_field(char out[ACCESS_FIELD_MAX], const char *field, const char *key);
void access_field_i(char out[ACCESS_FIELD_MAX], const char *field, size_t i);

/* obj must be an object (what: "an identity provider") whose keys are all in known
 * (NULL-terminated). */
int access_check_object(struct access_err *ae, const json_t *obj, const char *field,
                        const char *what, const char *const *known);

/* How a string value is checked beyond being non-empty, without NUL and at most max bytes. */
enum access_str_kind {
    ACCESS_STR_NAME,  /* printable: no control character, no leading or trailing space */
    ACCESS_STR_TOKEN, /* visible ASCII only (%x21-7E): client_id, scopes, claim names */
    ACCESS_STR_TEXT,  /* anything but control characters (secrets, claim values) */
};

/* A required string (missing: reported at obj) when required, else optional (*out left as
 * it is when absent). *out is xmalloc'd. */
int access_get_str(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                   bool required, enum access_str_kind kind, size_t max, char **out);
int access_check_str(struct access_err *ae, const json_t *v, const char *field,
                     enum access_str_kind kind, size_t max);
int access_get_bool(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                    bool *out);
/* An optional array of at most max elements (absent: *out NULL). */
int access_get_array(struct access_err *ae, const json_t *obj, const char *key, const char *field,
                     size_t max, const json_t **out);
/* A list of distinct strings of that kind. Absent: *n = 0 and *out NULL. */
int access_get_str_list(struct access_err *ae, const json_t *obj, const char *key,
                        const char *field, enum access_str_kind kind, size_t max_items,
                        size_t max_len, char ***out, size_t *n);
/* Frees n strings and the array. */
void access_free_list(char **v, size_t n);
/* Index of name_z among the IdPs, or -1. */
int access_idp_index(const struct access_idp *idps, size_t nidps, const char *name_z);

/* domain.c */
enum access_url_flags {
    ACCESS_URL_ORIGIN = 1,   /* scheme://host[:port] only (a lone trailing '/' is dropped) */
    ACCESS_URL_QUERY = 2,    /* a query is allowed (auth_url) */
    ACCESS_URL_VERBATIM = 4, /* (idp_url) keep the text as written: an issuer is compared exactly */
};
/* Checks an http(s) URL; why_out gets a static reason on failure. */
int access_url_parse(const char *z, unsigned flags, struct access_url *out, const char **why);
/* An application domain: "host", "host/path", "*.suffix[/path]". Lower-cases the host. */
int access_domain_parse(const char *z, struct access_app *app, const char **why);
/* A DNS name of letters, digits and '-' (labels of 1..63, not starting or ending with '-'). */
bool access_dns_name_ok(const char *z, size_t n);
void access_lower(char *z);

#endif
