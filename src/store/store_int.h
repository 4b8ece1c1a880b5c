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
/* The same for a value being created: an empty one is refused (STORE_E_CONSTRAINT "<what>
 * must not be empty"), as it would make every empty cookie or parameter match. */
int store_digest_new(struct slice raw, const char *what, char out[STORE_ID_SIZE], struct err *e);
/* A JSON column: NULL or "" (the default), or one JSON value of jansson type `type`
 * (JSON_OBJECT, JSON_ARRAY); else STORE_E_CONSTRAINT "<field> must be a JSON object". Checked
 * by the front for every backend. */
int store_check_json(const char *z, int type, const char *field, struct err *e);

/* z, or dflt when z is NULL or empty: what a column gets for an unset text field. */
static inline const char *store_or_z(const char *z, const char *dflt)
{
    return z && z[0] ? z : dflt;
}

/* LIMIT and OFFSET of a page (store_page semantics), for every backend. */
void store_page_bounds(const struct store_page *pg, int64_t *limit, int64_t *offset);

extern const struct store_ops store_sqlite_ops;
extern const struct store_migration store_sqlite_migrations[];
extern const size_t store_sqlite_migrations_n;

/* The SQLite migrate() with an explicit list (tests use their own lists). */
int store_sqlite_migrate_list(struct store *s, const struct store_migration *m, size_t n,
                              struct err *e);

extern const struct store_ops store_pg_ops;
extern const struct store_migration store_pg_migrations[];
extern const size_t store_pg_migrations_n;
/* The PostgreSQL migrate() with an explicit list. */
int store_pg_migrate_list(struct store *s, const struct store_migration *m, size_t n,
                          struct err *e);

#endif
