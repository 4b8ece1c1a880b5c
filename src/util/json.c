#include "util/util.h"

#include <jansson.h>

json_t *util_json_parse(struct slice s, struct err *e)
{
    if (s.n > UTIL_JSON_MAX_BYTES) {
        err_set(e, 0, "JSON document too large (%zu bytes, at most %d)", s.n, UTIL_JSON_MAX_BYTES);
        return NULL;
    }
    json_error_t je;
    /* JSON_ALLOW_NUL is not given: "\u0000" in a string is an error. Trailing data is an error
     * because JSON_DISABLE_EOF_CHECK is not given. */
    json_t *j = json_loadb(s.p, s.n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (j == NULL) {
        err_set(e, 0, "invalid JSON at position %d: %s", je.position, je.text);
    }
    return j;
}

char *util_json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (s == NULL) {
        s = xstrdup("null");
    }
    return s;
}
