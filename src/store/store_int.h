/*
 * store internals shared by the front (store.c), the backends and their unit tests.
 * Nothing outside src/store/ and tests/unit/store/ includes this.
 */
#ifndef POSTERN_STORE_INT_H
#define POSTERN_STORE_INT_H

#include "store/store.h"

/* Every backend's connection begins with this. */
struct store {
    const struct store_ops *ops;
};

/* One numbered step of a dialect's schema. Versions are 1, 2, 3... in order; a step is
 * never edited once released: a change is a new step. */
struct store_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Lower-case hex SHA-256 of raw: the id under which a raw token is stored (store.h). */
int store_digest(struct slice raw, char out[STORE_ID_SIZE], struct err *e);

extern const struct store_ops store_sqlite_ops;
extern const struct store_migration store_sqlite_migrations[];
extern const size_t store_sqlite_migrations_n;

/* The SQLite migrate() with an explicit list (tests use their own lists). */
int store_sqlite_migrate_list(struct store *s, const struct store_migration *m, size_t n,
                              struct err *e);

#endif
