/* Validation helpers shared by the configuration file and `postern apply`. */
#include "admin/admin_int.h"

#include <stdlib.h>
#include <string.h>

int admin_bad(const struct admin_ctx *x, const json_t *node, const char *field, const char *fmt,
              ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (x->doc == NULL) {
        return err_set(x->e, 0, "%s: %s", field, what);
    }
    int line = node ? util_yaml_line(x->doc, node) : 0;
    return err_set(x->e, 0, "%s:%d: %s: %s", x->doc->path, line, field, what);
}

void admin_field(char out[ADMIN_FIELD_MAX], const char *field, const char *key)
{
    snprintf(out, ADMIN_FIELD_MAX, "%s%s%s", field, field[0] ? "." : "", key);
}

void admin_field_i(char out[ADMIN_FIELD_MAX], const char *field, size_t i)
{
    snprintf(out, ADMIN_FIELD_MAX, "%s[%zu]", field, i);
}

int admin_check_keys(const struct admin_ctx *x, const json_t *obj, const char *field,
                     const char *const *known)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            char f[ADMIN_FIELD_MAX];
            admin_field(f, field, key);
            return admin_bad(x, val, f, "unknown field");
        }
    }
    return 0;
}

int admin_get_string(const struct admin_ctx *x, const json_t *obj, const char *key,
                     const char *field, char **out)
{
    const json_t *v = json_object_get(obj, key);
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, key);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return admin_bad(x, v ? v : obj, f, v ? "expected a non-empty string" : "is required");
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return admin_bad(x, v, f, "NUL byte in the value");
    }
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

int admin_opt_string(const struct admin_ctx *x, const json_t *obj, const char *key,
                     const char *field, char **out)
{
    if (json_object_get(obj, key) == NULL) {
        return 0;
    }
    return admin_get_string(x, obj, key, field, out);
}

int admin_opt_bool(const struct admin_ctx *x, const json_t *obj, const char *key,
                   const char *field, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        char f[ADMIN_FIELD_MAX];
        admin_field(f, field, key);
        return admin_bad(x, v, f, "expected true or false");
    }
    *out = json_is_true(v);
    return 0;
}

int admin_opt_duration(const struct admin_ctx *x, const json_t *obj, const char *key,
                       const char *field, int64_t min, int64_t max, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, key);
    int64_t sec = -1;
    if (json_is_integer(v)) {
        sec = json_integer_value(v);
    } else if (json_is_string(v) &&
               util_parse_duration(slice_z(json_string_value(v)), &sec) != 0) {
        sec = -1;
    }
    if (sec < min || sec > max) {
        return admin_bad(x, v, f, "expected a duration such as 60s, 10m, 1h or 30d, from %llds "
                                  "to %llds", (long long)min, (long long)max);
    }
    *out = sec;
    return 0;
}

int admin_opt_enum(const struct admin_ctx *x, const json_t *obj, const char *key,
                   const char *field, const char *const *choices, char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    for (size_t i = 0; json_is_string(v) && choices[i] != NULL; i++) {
        if (strcmp(json_string_value(v), choices[i]) == 0) {
            free(*out);
            *out = xstrdup(choices[i]);
            return 0;
        }
    }
    char list[ERR_MSG_MAX] = "";
    size_t n = 0;
    for (size_t i = 0; choices[i] != NULL && n < sizeof list; i++) {
        int k = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
        n += k > 0 ? (size_t)k : 0;
    }
    char f[ADMIN_FIELD_MAX];
    admin_field(f, field, key);
    return admin_bad(x, v, f, "expected one of %s", list);
}

int admin_prefix(const struct admin_ctx *x, const json_t *node, const char *field)
{
    if (x->doc == NULL) {
        return err_prefix(x->e, "%s", field);
    }
    return err_prefix(x->e, "%s:%d: %s", x->doc->path, util_yaml_line(x->doc, node), field);
}
