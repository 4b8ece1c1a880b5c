/* YAML to JSON (jansson) with line numbers, on libyaml's event parser. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

struct yaml_line {
    const json_t *node;
    int line;
};

struct yparse {
    yaml_parser_t parser;
    struct yaml_doc *doc;
    size_t nodes;
    struct err *e;
};

static int record_line(struct yaml_doc *doc, const json_t *node, size_t line0)
{
    if (doc->nlines == doc->alloc) {
        doc->alloc = doc->alloc ? doc->alloc * 2 : 64;
        doc->lines = xrealloc(doc->lines, doc->alloc * sizeof *doc->lines);
    }
    doc->lines[doc->nlines++] = (struct yaml_line){node, (int)line0 + 1};
    return 0;
}

static int fail_at(struct yparse *y, const yaml_event_t *ev, const char *what)
{
    return err_set(y->e, 0, "%s:%zu: %s", y->doc->path, ev->start_mark.line + 1, what);
}

static bool is_int(const char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
    if (i == n || n - i > 18) {
        return false;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return json_stringn(s, n);
    }
    if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0) {
        return json_null();
    }
    if (strcmp(s, "true") == 0) {
        return json_true();
    }
    if (strcmp(s, "false") == 0) {
        return json_false();
    }
    if (is_int(s, n)) {
        return json_integer(strtoll(s, NULL, 10));
    }
    return json_stringn(s, n);
}

static int next_event(struct yparse *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) {
        return err_set(y->e, 0, "%s:%zu: %s", y->doc->path, y->parser.problem_mark.line + 1,
                       y->parser.problem ? y->parser.problem : "invalid YAML");
    }
    return 0;
}

static int parse_node(struct yparse *y, yaml_event_t *ev, int depth, json_t **out);

static int parse_mapping(struct yparse *y, int depth, json_t *obj)
{
    for (;;) {
        yaml_event_t key;
        if (next_event(y, &key) != 0) {
            return -1;
        }
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return 0;
        }
        if (key.type != YAML_SCALAR_EVENT) {
            fail_at(y, &key, "mapping keys must be plain strings");
            yaml_event_delete(&key);
            return -1;
        }
        char *name = xstrndup((const char *)key.data.scalar.value, key.data.scalar.length);
        int dup = json_object_get(obj, name) != NULL;
        if (dup || strlen(name) != key.data.scalar.length) {
            fail_at(y, &key, dup ? "duplicate key" : "NUL byte in a key");
            free(name);
            yaml_event_delete(&key);
            return -1;
        }
        yaml_event_delete(&key);
        yaml_event_t vev;
        json_t *val = NULL;
        int rc = next_event(y, &vev);
        if (rc == 0) {
            rc = parse_node(y, &vev, depth + 1, &val);
            yaml_event_delete(&vev);
        }
        if (rc == 0) {
            json_object_set_new(obj, name, val);
        }
        free(name);
        if (rc != 0) {
            return -1;
        }
    }
}

static int parse_sequence(struct yparse *y, int depth, json_t *arr)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(y, &ev) != 0) {
            return -1;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        json_t *val = NULL;
        int rc = parse_node(y, &ev, depth + 1, &val);
        yaml_event_delete(&ev);
        if (rc != 0) {
            return -1;
        }
        json_array_append_new(arr, val);
    }
}

static int parse_node(struct yparse *y, yaml_event_t *ev, int depth, json_t **out)
{
    if (depth > UTIL_YAML_MAX_DEPTH) {
        return fail_at(y, ev, "nested too deeply");
    }
    if (++y->nodes > UTIL_YAML_MAX_NODES) {
        return fail_at(y, ev, "too many values");
    }
    int rc = 0;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return fail_at(y, ev, "aliases (*name) are not supported");
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.tag != NULL && !ev->data.scalar.quoted_implicit &&
            !ev->data.scalar.plain_implicit) {
            return fail_at(y, ev, "tags (!name) are not supported");
        }
        *out = scalar_value(ev);
        if (*out == NULL) {
            return fail_at(y, ev, "invalid UTF-8 in a value");
        }
        break;
    case YAML_MAPPING_START_EVENT:
        *out = json_object();
        rc = parse_mapping(y, depth, *out);
        break;
    case YAML_SEQUENCE_START_EVENT:
        *out = json_array();
        rc = parse_sequence(y, depth, *out);
        break;
    default:
        return fail_at(y, ev, "unexpected YAML event");
    }
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return record_line(y->doc, *out, ev->start_mark.line);
}

/* Reads stream-start, document-start, the root node, document-end, stream-end. */
static int parse_stream(struct yparse *y)
{
    yaml_event_t ev;
    int rc = -1;
    if (next_event(y, &ev) != 0) {
        return -1;
    }
    yaml_event_delete(&ev); /* STREAM-START */
    if (next_event(y, &ev) != 0) {
        return -1;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        y->doc->root = json_object();
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (next_event(y, &ev) != 0) {
        return -1;
    }
    rc = parse_node(y, &ev, 0, &y->doc->root);
    yaml_event_delete(&ev);
    if (rc != 0) {
        return -1;
    }
    if (next_event(y, &ev) != 0) {
        return -1;
    }
    yaml_event_delete(&ev); /* DOCUMENT-END */
    if (next_event(y, &ev) != 0) {
        return -1;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        fail_at(y, &ev, "only one YAML document is allowed");
        yaml_event_delete(&ev);
        return -1;
    }
    yaml_event_delete(&ev);
    if (json_is_null(y->doc->root)) {
        json_decref(y->doc->root);
        y->doc->root = json_object();
    }
    return 0;
}

int util_yaml_parse(struct slice text, const char *path_z, struct yaml_doc *doc, struct err *e)
{
    memset(doc, 0, sizeof *doc);
    doc->path = xstrdup(path_z ? path_z : "<yaml>");
    if (text.n > UTIL_YAML_MAX_BYTES) {
        return err_set(e, 0, "%s: file too large (at most %d bytes)", doc->path,
                       UTIL_YAML_MAX_BYTES);
    }
    if (memchr(text.p, '\0', text.n) != NULL) {
        return err_set(e, 0, "%s: NUL byte in the file", doc->path);
    }
    struct yparse y = {.doc = doc, .e = e};
    if (!yaml_parser_initialize(&y.parser)) {
        return err_set(e, 0, "%s: cannot initialise the YAML parser", doc->path);
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text.p, text.n);
    int rc = parse_stream(&y);
    yaml_parser_delete(&y.parser);
    if (rc != 0) {
        json_decref(doc->root);
        doc->root = NULL;
        doc->nlines = 0;
    }
    return rc;
}

int util_read_file(const char *path_z, size_t max, struct buf *out, struct err *e)
{
    int fd = open(path_z, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(e, errno, "%s: %s", path_z, strerror(errno));
    }
    char chunk[8192];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = err_set(e, errno, "%s: %s", path_z, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        if (out->len + (size_t)n > max || buf_append(out, chunk, (size_t)n) != 0) {
            rc = err_set(e, EFBIG, "%s: file too large (at most %zu bytes)", path_z, max);
            break;
        }
    }
    close(fd);
    return rc;
}

int util_yaml_load_file(const char *path_z, struct yaml_doc *doc, struct err *e)
{
    struct buf b;
    buf_init(&b, UTIL_YAML_MAX_BYTES);
    memset(doc, 0, sizeof *doc);
    if (util_read_file(path_z, UTIL_YAML_MAX_BYTES, &b, e) != 0) {
        buf_free(&b);
        doc->path = xstrdup(path_z);
        return -1;
    }
    int rc = util_yaml_parse((struct slice){b.p ? b.p : "", b.len}, path_z, doc, e);
    buf_free(&b);
    return rc;
}

int util_yaml_line(const struct yaml_doc *doc, const json_t *node)
{
    for (size_t i = 0; i < doc->nlines; i++) {
        if (doc->lines[i].node == node) {
            return doc->lines[i].line;
        }
    }
    return 0;
}

void util_yaml_free(struct yaml_doc *doc)
{
    json_decref(doc->root);
    free(doc->lines);
    free(doc->path);
    memset(doc, 0, sizeof *doc);
}
