/*
 * admin: the configuration file, and (in later issues) the admin API and `postern apply`
 * on top of the same validation. Sits above every protocol module.
 */
#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include "http/http.h"
#include "util/util.h"

#define ADMIN_DEFAULT_LISTEN "127.0.0.1:8080"
#define ADMIN_DEFAULT_DATA_DIR "./data"
#define ADMIN_MAX_LISTEN 16

struct admin_config {
    struct http_server_config server; /* listen[] owned here */
    char *data_dir;
    char *store_url; /* NULL: SQLite in data_dir */
    enum log_level log_level;
    struct yaml_doc doc; /* the whole file, for sections read by other modules */
};

/* Reads and validates FILE. Errors read "FILE:LINE: FIELD: what is wrong". */
int admin_config_load(const char *path_z, struct admin_config *c, struct err *e);
void admin_config_free(struct admin_config *c);

/* Checks that `address` is "HOST:PORT", "[V6]:PORT" or ":PORT" with a port 0-65535. */
int admin_check_address(const char *address_z, struct err *e);

#endif
