/* Shared by the idp unit tests: a temporary SQLite store and an idp without keys. */
#ifndef TEST_IDP_HELPERS_H
#define TEST_IDP_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idp/idp.h"

struct fixture {
    char dir[64];
    char url[128];
    struct store *s;
    struct idp idp;
};

static inline void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || de->d_name[1] == '.')) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

/* A migrated store in a fresh directory, and an idp with the default config, a random
 * secret and no key ring (tests that need keys call idp_init). */
static inline int fx_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct err e = {0};
    log_set_level(LOG_WARN);
    snprintf(f->dir, sizeof f->dir, "/tmp/postern-idp-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->url, sizeof f->url, "sqlite:%s/postern.db", f->dir);
    f->s = store_open(f->url, &e);
    if (f->s == NULL || store_migrate(f->s, &e) < 0) {
        fprintf(stderr, "store: %s\n", e.msg);
        return -1;
    }
    idp_config_defaults(&f->idp.cfg);
    f->idp.cfg.public_url = (char *)"https://auth.example.com";
    f->idp.cfg.cookie_secure = true;
    util_random(f->idp.secret, sizeof f->idp.secret);
    util_set_fake_now(0);
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fixture *f = *state;
    util_set_fake_now(0);
    store_close(f->s);
    fx_rmdir(f->dir);
    free(f);
    return 0;
}

/* Creates a user through the store directly (no argon2id unless a hash is given). */
static inline int64_t fx_user(struct store *s, const char *username, const char *email,
                              const char *phc, bool active)
{
    struct store_user u = {
        .username = (char *)username,
        .name = (char *)"",
        .email = (char *)(email ? email : ""),
        .is_active = active,
        .attributes = (char *)"{}",
        .password_hash = (char *)(phc ? phc : ""),
    };
    struct err e = {0};
    if (store_user_create(s, &u, &e) != 0) {
        fprintf(stderr, "user_create: %s\n", e.msg);
        return -1;
    }
    return u.id;
}

/* Number of events of an action (NULL: all). */
static inline size_t fx_events(struct store *s, const char *action)
{
    struct store_event_list l = {0};
    struct err e = {0};
    struct store_page pg = {0};
    if (store_event_list(s, action, NULL, &pg, &l, &e) < 0) {
        return (size_t)-1;
    }
    size_t n = l.n;
    store_event_list_free(&l);
    return n;
}

static inline json_t *fx_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
    }
    return j;
}

#endif
