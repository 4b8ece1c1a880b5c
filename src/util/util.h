/*
 * util: leaf code shared by every layer. Knows nothing of HTTP, keys or the store.
 *
 * Conventions used across Postern (see STYLE.md):
 *  - functions return 0 on success and -1 on failure, detail goes into a caller-owned
 *    struct err, which is logged once, at the boundary;
 *  - input is taken as a slice {ptr,len}; nothing here needs NUL-terminated input
 *    unless the parameter is a `const char *` named `*_z`;
 *  - every growable buffer has a cap fixed when it is created.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define UTIL_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- errors ------------------------------------------------------------ */

#define ERR_MSG_MAX 256

/* A caller-owned error. `code` is free for the layer to use (an HTTP status, an enum). */
struct err {
    int code;
    char msg[ERR_MSG_MAX];
};

/* Sets e->msg (truncating) and e->code; e may be NULL. Always returns -1. */
int err_set(struct err *e, int code, const char *fmt, ...) UTIL_PRINTF(3, 4);
/* Prefixes the existing message with "prefix: ". Always returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) UTIL_PRINTF(2, 3);

/* ---- memory ------------------------------------------------------------ */

/* Allocation that never returns NULL: out of memory aborts with a log line. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Wipes n bytes so that the compiler cannot drop it (secrets). */
void util_wipe(void *p, size_t n);
/* Frees a NUL-terminated secret after wiping it. NULL is fine. */
void util_free_secret(char *s);

/* ---- slices ------------------------------------------------------------ */

struct slice {
    const char *p;
    size_t n;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})
struct slice slice_z(const char *s);
bool slice_eq(struct slice a, struct slice b);
bool slice_eq_z(struct slice a, const char *z);
bool slice_case_eq_z(struct slice a, const char *z); /* ASCII case-insensitive */
bool slice_starts_with_z(struct slice a, const char *z);
struct slice slice_trim_ows(struct slice a); /* strips SP and HTAB at both ends */
char *slice_dup(struct slice a);             /* NUL-terminated copy; xmalloc */
/* Well-formed UTF-8 (RFC 3629 section 4): no overlong form, no surrogate, nothing past
 * U+10FFFF. NUL bytes are allowed (a C string stops before them). */
bool slice_utf8_valid(struct slice a);

/* Constant-time comparison of two secrets. Lengths are not secret. */
bool util_ct_equal(const void *a, size_t an, const void *b, size_t bn);

/* ---- bounded buffer ---------------------------------------------------- */

/* A growable byte buffer that refuses to grow past `cap`. Always NUL-terminated
 * (the terminator is not counted in len), so b->p can be used as a C string. */
struct buf {
    char *p;
    size_t len;
    size_t alloc;
    size_t cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Each returns 0, or -1 (buffer unchanged) when the cap would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_z(struct buf *b, const char *z);
int buf_append_c(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) UTIL_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) UTIL_PRINTF(2, 0);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

/* ---- numbers and durations -------------------------------------------- */

/* Strict decimal parse of the whole slice: no sign, no spaces, no overflow. */
int util_parse_u64(struct slice s, uint64_t max, uint64_t *out);
/* The value of one hexadecimal digit (either case), or -1. */
int util_hex_digit(char c);
/* Strict hexadecimal parse of the whole slice (chunk sizes). */
int util_parse_hex_u64(struct slice s, uint64_t max, uint64_t *out);
/* "90s", "10m", "1h", "30d", "2w", or a plain number of seconds. */
int util_parse_duration(struct slice s, int64_t *seconds);

/* ---- encodings --------------------------------------------------------- */

/* base64url without padding (RFC 7515 section 2). Decoding rejects padding,
 * characters outside the alphabet and non-canonical trailing bits. */
size_t b64url_encoded_len(size_t n);
int b64url_encode(const void *in, size_t n, struct buf *out);
char *b64url_encode_z(const void *in, size_t n); /* xmalloc'd string */
int b64url_decode(struct slice in, struct buf *out);
/* Standard base64 with padding (x5c, PEM bodies, HTTP Basic). Strict. */
int b64_encode(const void *in, size_t n, struct buf *out);
int b64_decode(struct slice in, struct buf *out);
/* Lower-case hex. */
int hex_encode(const void *in, size_t n, struct buf *out);

/* ---- randomness -------------------------------------------------------- */

/* Cryptographically secure bytes (OpenSSL RAND_bytes); aborts on failure. */
void util_random(void *p, size_t n);
/* A random token of `bytes` bytes, base64url-encoded; xmalloc'd. */
char *util_random_token(size_t bytes);

/* ---- time -------------------------------------------------------------- */

int64_t util_now(void);       /* seconds since the epoch (wall clock) */
int64_t util_mono_ms(void);   /* monotonic milliseconds */
/* For tests: when set (non-zero), util_now() returns this value. */
void util_set_fake_now(int64_t t);

/* ---- logging ----------------------------------------------------------- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* One line per event on stderr: "2026-11-29T05:43:19Z level msg". Thread-safe.
 * Never pass secrets, passwords or tokens. */
void log_set_level(enum log_level l);
int log_parse_level(const char *z, enum log_level *out);
void log_msg(enum log_level l, const char *fmt, ...) UTIL_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* ---- JSON glue (jansson) ----------------------------------------------- */

typedef struct json_t json_t;
/* Parses exactly one JSON value from the slice, rejecting duplicate keys, trailing
 * data, invalid UTF-8 and "\u0000" (DESIGN.md). Depth and size are bounded. */
#define UTIL_JSON_MAX_BYTES (1024 * 1024)
json_t *util_json_parse(struct slice s, struct err *e);
/* Compact serialisation with sorted keys off (insertion order kept); xmalloc'd. */
char *util_json_dump(const json_t *j);

/* ---- YAML (config files, `postern apply`) --------------------------------- */

/* YAML is converted to the same JSON values that the admin API validates. Plain scalars
 * become integers (decimal), booleans (true/false only: "no" stays a string), null ("null",
 * "~", empty) or strings; quoted scalars are always strings. Aliases, custom tags, duplicate
 * keys, non-scalar keys and multiple documents are refused. The line of every node is
 * kept so that an error can name file, line and field. */
#define UTIL_YAML_MAX_BYTES (4 * 1024 * 1024)
#define UTIL_YAML_MAX_DEPTH 64
#define UTIL_YAML_MAX_NODES 200000

struct yaml_line;

struct yaml_doc {
    json_t *root;  /* owned; an empty document gives an empty object */
    char *path;    /* for messages */
    struct yaml_line *lines;
    size_t nlines;
    size_t alloc;
};

int util_yaml_parse(struct slice text, const char *path_z, struct yaml_doc *doc, struct err *e);
int util_yaml_load_file(const char *path_z, struct yaml_doc *doc, struct err *e);
/* The 1-based line where node starts, or 0 when unknown. */
int util_yaml_line(const struct yaml_doc *doc, const json_t *node);
void util_yaml_free(struct yaml_doc *doc);

/* Reads a whole file of at most max bytes into out. */
int util_read_file(const char *path_z, size_t max, struct buf *out, struct err *e);

#endif
