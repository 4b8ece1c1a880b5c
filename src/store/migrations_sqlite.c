/*
 * SQLite schema, one numbered step at a time (see store_int.h). Every table is STRICT, so a
 * column holds the declared type or the write fails.
 */
#include "store/store_int.h"

const struct store_migration store_sqlite_migrations[] = {
    {1, "schema_version and meta",
     "CREATE TABLE schema_version (\n"
     "  version INTEGER PRIMARY KEY NOT NULL,\n"
     "  name TEXT NOT NULL,\n"
     "  applied_at INTEGER NOT NULL\n"
     ") STRICT;\n"
     "CREATE TABLE meta (\n"
     "  key TEXT PRIMARY KEY NOT NULL,\n"
     "  value TEXT NOT NULL\n"
     ") STRICT;\n"},
};

const size_t store_sqlite_migrations_n = UTIL_ARRAY_LEN(store_sqlite_migrations);
