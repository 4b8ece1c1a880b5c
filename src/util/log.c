#include "util/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static _Atomic int log_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level l)
{
    atomic_store(&log_level, (int)l);
}

int log_parse_level(const char *z, enum log_level *out)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(level_names); i++) {
        if (strcmp(z, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Control characters in a message are replaced, so that a value taken from a request
 * cannot forge a second log line. One write(2) per line keeps lines whole across threads. */
void log_msg(enum log_level l, const char *fmt, ...)
{
    if ((int)l < atomic_load_explicit(&log_level, memory_order_relaxed)) {
        return;
    }
    char line[LOG_LINE_MAX];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    int k = snprintf(line + n, sizeof line - n, "%-5s ", level_names[l]);
    n += k > 0 ? (size_t)k : 0;
    size_t msg_start = n;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (k < 0) {
        k = 0;
    }
    n += UTIL_MIN((size_t)k, sizeof line - n - 2);
    for (size_t i = msg_start; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f) {
            line[i] = '?';
        }
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
