#include "util/util.h"

#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
    if (e == NULL) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    if (e == NULL) {
        return -1;
    }
    char prefix[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    size_t n = strnlen(prefix, sizeof prefix);
    if (n + 2 >= sizeof e->msg) {
        return -1;
    }
    memcpy(e->msg, prefix, n);
    memcpy(e->msg + n, ": ", 2);
    size_t rest = UTIL_MIN(strlen(old), sizeof e->msg - n - 3);
    memcpy(e->msg + n + 2, old, rest);
    e->msg[n + 2 + rest] = '\0';
    return -1;
}
