/*
 * store: the one place that holds Postern's persistent state. Callers see a const table of
 * functions (STYLE habits 8 and 9): every query lives inside a backend, in that backend's
 * dialect. Backends: SQLite (embedded default, src/store/sqlite.c); PostgreSQL comes later
 * behind the same table.
 *
 * A `struct store` is one database connection and is NOT thread-safe: open one per thread
 * (SQLite's "one connection per thread"; a PostgreSQL connection is the same). Connections
 * of several threads or processes may share one database at the same time.
 *
 * Return values: 0 on success, -1 on error (detail in the struct err, whose code is one of
 * STORE_E_*), and STORE_NOT_FOUND where a lookup may find nothing.
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include "util/util.h"

#define STORE_NOT_FOUND 1

/* struct err.code values set by the store. */
enum store_errcode {
    STORE_E_INTERNAL = 1, /* a query failed; the message says which and why */
    STORE_E_IO,           /* the file or the server cannot be reached or written */
    STORE_E_BUSY,         /* another writer held the database past the busy timeout */
    STORE_E_CONSTRAINT,   /* a unique / foreign key / check constraint refused a write */
    STORE_E_SCHEMA_NEWER, /* the database was migrated by a newer postern */
    STORE_E_UNSUPPORTED,  /* unknown URL scheme, or a backend that is not built */
    STORE_E_STATE,        /* e.g. tx_begin inside a transaction */
    STORE_E_TOO_BIG,      /* a value does not fit the caller's bounded buffer */
};

#define STORE_SQLITE_FILE    "postern.db" /* in the data directory */
#define STORE_META_KEY_MAX   128
#define STORE_META_VALUE_MAX (64 * 1024)

struct store; /* one connection; opaque */

/* A backend. Later issues add users, providers, codes, tokens... to this same table. */
struct store_ops {
    const char *name; /* "sqlite" */
    /* target: what follows the scheme (for SQLite, the file path). */
    int (*open)(const char *target, struct store **out, struct err *e);
    void (*close)(struct store *s);
    /* Highest applied migration (0 for an empty database). */
    int (*schema_version)(struct store *s, int *version, struct err *e);
    /* Highest migration this binary knows. */
    int (*schema_latest)(void);
    /* Applies every pending migration, each in its own transaction; refuses a database whose
     * schema is newer than schema_latest() (STORE_E_SCHEMA_NEWER). Safe when several
     * processes start at once: each step re-reads the version under the write lock. */
    int (*migrate)(struct store *s, struct err *e);
    /* Small key/value settings of the installation. */
    int (*meta_get)(struct store *s, const char *key_z, struct buf *out, struct err *e);
    int (*meta_set)(struct store *s, const char *key_z, struct slice value, struct err *e);
    int (*meta_delete)(struct store *s, const char *key_z, struct err *e);
    /* A write transaction (SQLite: BEGIN IMMEDIATE, so that it never fails half-way on a lock
     * upgrade). Not nested. */
    int (*tx_begin)(struct store *s, struct err *e);
    int (*tx_commit)(struct store *s, struct err *e);
    int (*tx_rollback)(struct store *s, struct err *e);
};

/* Opens a connection. url: "sqlite:PATH" or a plain PATH (SQLite; the file is created 0600);
 * "postgres://..." / "postgresql://..." (not built yet: STORE_E_UNSUPPORTED). Does not
 * migrate: call store_migrate() once at start-up. NULL on error. */
struct store *store_open(const char *url_z, struct err *e);
/* Rolls back an open transaction, frees everything. NULL is fine. */
void store_close(struct store *s);
/* "sqlite:DATA_DIR/postern.db"; xmalloc'd. */
char *store_default_url(const char *data_dir_z);

const struct store_ops *store_backend(const struct store *s);
int store_schema_version(struct store *s, int *version, struct err *e);
int store_schema_latest(const struct store *s);
int store_migrate(struct store *s, struct err *e);

/* Returns 0 and the value in out (reset first), STORE_NOT_FOUND, or -1. */
int store_meta_get(struct store *s, const char *key_z, struct buf *out, struct err *e);
/* Inserts or replaces. */
int store_meta_set(struct store *s, const char *key_z, struct slice value, struct err *e);
/* Returns 0, STORE_NOT_FOUND or -1. */
int store_meta_delete(struct store *s, const char *key_z, struct err *e);

int store_tx_begin(struct store *s, struct err *e);
int store_tx_commit(struct store *s, struct err *e);
int store_tx_rollback(struct store *s, struct err *e);

#endif
