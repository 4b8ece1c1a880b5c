/* `postern user ...` and `postern group ...`. */
#include "admin/admin_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static const char usage_user[] =
    "Usage: postern user COMMAND --config FILE ...\n"
    "\n"
    "Commands:\n"
    "  add USERNAME [--name NAME] [--email EMAIL] [--group GROUP]... [--password]\n"
    "                      create a user, or update the fields given; --password reads the\n"
    "                      password from the terminal (asked twice) or one line of stdin\n"
    "  passwd USERNAME     set the password (read the same way) and end the user's sessions\n"
    "  list                list users: username, name, email, active, groups\n"
    "  del USERNAME        delete the user, its sessions and tokens\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

static const char usage_group[] =
    "Usage: postern group COMMAND --config FILE ...\n"
    "\n"
    "Commands:\n"
    "  add NAME            create a group (nothing happens when it exists)\n"
    "  list                list groups and their member count\n"
    "  del NAME            delete the group (its members stay)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "  -h, --help          show this help\n";

static int fail(struct admin_cli *cli, const struct err *e)
{
    fprintf(stderr, "postern: %s\n", e->msg);
    admin_cli_close(cli);
    return 1;
}

/* model_created / model_updated / model_deleted (issue 3, "Events"): the kind of object and
 * its name, never a password. */
static void model_event(struct admin_cli *cli, const char *action_z, const char *model_z,
                        const char *name_z)
{
    json_t *ctx = json_pack("{s:s, s:s}", "model", model_z, "name", name_z);
    idp_event(cli->store, action_z, NULL, NULL, NULL, ctx);
    json_decref(ctx);
}

static int user_add(struct admin_cli *cli, const struct admin_cli_opts *o, const char *username)
{
    struct err e = {0};
    json_t *obj = json_pack("{s:s}", "username", username);
    if (o->name != NULL) {
        json_object_set_new(obj, "name", json_string(o->name));
    }
    if (o->email != NULL) {
        json_object_set_new(obj, "email", json_string(o->email));
    }
    if (o->ngroups > 0) {
        json_t *g = json_array();
        for (size_t i = 0; i < o->ngroups; i++) {
            json_array_append_new(g, json_string(o->groups[i]));
        }
        json_object_set_new(obj, "groups", g);
    }
    if (o->password) {
        char *pw = admin_read_password(true, &e);
        if (pw == NULL) {
            json_decref(obj);
            return fail(cli, &e);
        }
        json_object_set_new(obj, "password", json_string(pw));
        util_free_secret(pw);
    }
    struct idp_upsert up = {0};
    int rc = idp_user_upsert(cli->store, obj, "user", &up, &e);
    /* The object held the password: wipe it before freeing. */
    json_t *pw = json_object_get(obj, "password");
    if (pw != NULL) {
        util_wipe((char *)json_string_value(pw), json_string_length(pw));
    }
    json_decref(obj);
    if (rc != 0) {
        return fail(cli, &e);
    }
    if (up.changed) {
        model_event(cli, up.created ? "model_created" : "model_updated", "user", username);
    }
    printf("user %s %s\n", username, up.created ? "created" : "updated");
    return 0;
}

static int user_passwd(struct admin_cli *cli, const char *username)
{
    struct err e = {0};
    struct store_user u = {0};
    int rc = store_user_get_by_name(cli->store, username, &u, &e);
    if (rc == STORE_NOT_FOUND) {
        err_set(&e, 0, "no user named \"%s\"", username);
    }
    char *pw = rc == 0 ? admin_read_password(true, &e) : NULL;
    if (pw == NULL || idp_user_set_password(cli->store, u.id, slice_z(pw), &e) != 0) {
        util_free_secret(pw);
        store_user_free(&u);
        return fail(cli, &e);
    }
    util_free_secret(pw);
    store_user_free(&u);
    model_event(cli, "model_updated", "user", username);
    printf("password of %s changed; their sessions have ended\n", username);
    return 0;
}

static int user_list(struct admin_cli *cli)
{
    struct err e = {0};
    struct store_page pg = {ADMIN_CLI_LIST_MAX, 0};
    struct store_user_list l = {0};
    if (store_user_list(cli->store, &pg, &l, &e) != 0) {
        return fail(cli, &e);
    }
    printf("%-24s %-24s %-32s %-6s %s\n", "USERNAME", "NAME", "EMAIL", "ACTIVE", "GROUPS");
    for (size_t i = 0; i < l.n; i++) {
        const struct store_user *u = &l.v[i];
        struct store_group_list g = {0};
        struct buf names;
        buf_init(&names, 4096);
        if (store_user_groups(cli->store, u->id, &g, &e) == 0) {
            for (size_t k = 0; k < g.n; k++) {
                buf_printf(&names, "%s%s", k ? "," : "", g.v[k].name);
            }
        }
        printf("%-24s %-24s %-32s %-6s %s\n", u->username, u->name, u->email,
               u->is_active ? "yes" : "no", names.p ? names.p : "");
        buf_free(&names);
        store_group_list_free(&g);
    }
    store_user_list_free(&l);
    return 0;
}

static int user_del(struct admin_cli *cli, const char *username)
{
    struct err e = {0};
    struct store_user u = {0};
    int rc = store_user_get_by_name(cli->store, username, &u, &e);
    if (rc == 0) {
        rc = store_user_delete(cli->store, u.id, &e);
    }
    store_user_free(&u);
    if (rc == STORE_NOT_FOUND) {
        err_set(&e, 0, "no user named \"%s\"", username);
    }
    if (rc != 0) {
        return fail(cli, &e);
    }
    model_event(cli, "model_deleted", "user", username);
    printf("user %s deleted\n", username);
    return 0;
}

/* argv[0] is "user"; argv[1] the subcommand. */
int admin_cmd_user(int argc, char **argv)
{
    struct admin_cli_opts o;
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(usage_user, stdout);
        return 0;
    }
    int rc = admin_parse_opts(argc - 1, argv + 1, usage_user, &o);
    if (rc >= 0) {
        return rc;
    }
    bool needs_name = strcmp(sub, "list") != 0;
    int extra = argc - 1 - optind;
    if (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "list") && strcmp(sub, "del")) {
        return admin_usage_error(usage_user, "expected add, passwd, list or del");
    }
    if (extra != (needs_name ? 1 : 0)) {
        return admin_usage_error(usage_user, needs_name ? "name one USERNAME" : "no argument expected");
    }
    const char *username = needs_name ? argv[1 + optind] : NULL;
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    if (strcmp(sub, "add") == 0) {
        rc = user_add(&cli, &o, username);
    } else if (strcmp(sub, "passwd") == 0) {
        rc = user_passwd(&cli, username);
    } else if (strcmp(sub, "list") == 0) {
        rc = user_list(&cli);
    } else {
        rc = user_del(&cli, username);
    }
    if (rc == 0) {
        admin_cli_close(&cli);
    }
    return rc;
}

static int group_run(struct admin_cli *cli, const char *sub, const char *name)
{
    struct err e = {0};
    if (strcmp(sub, "add") == 0) {
        json_t *obj = json_pack("{s:s}", "name", name);
        struct idp_upsert up = {0};
        int rc = idp_group_upsert(cli->store, obj, "group", &up, &e);
        json_decref(obj);
        if (rc != 0) {
            return fail(cli, &e);
        }
        if (up.created) {
            model_event(cli, "model_created", "group", name);
        }
        printf("group %s %s\n", name, up.created ? "created" : "exists");
        return 0;
    }
    if (strcmp(sub, "del") == 0) {
        struct store_group g = {0};
        int rc = store_group_get_by_name(cli->store, name, &g, &e);
        if (rc == 0) {
            rc = store_group_delete(cli->store, g.id, &e);
        }
        store_group_free(&g);
        if (rc == STORE_NOT_FOUND) {
            err_set(&e, 0, "no group named \"%s\"", name);
        }
        if (rc != 0) {
            return fail(cli, &e);
        }
        model_event(cli, "model_deleted", "group", name);
        printf("group %s deleted\n", name);
        return 0;
    }
    struct store_page pg = {ADMIN_CLI_LIST_MAX, 0};
    struct store_group_list l = {0};
    if (store_group_list(cli->store, &pg, &l, &e) != 0) {
        return fail(cli, &e);
    }
    printf("%-32s %s\n", "NAME", "MEMBERS");
    for (size_t i = 0; i < l.n; i++) {
        struct store_user_list m = {0};
        size_t count = 0;
        if (store_group_members(cli->store, l.v[i].id, &pg, &m, &e) == 0) {
            count = m.n;
        }
        store_user_list_free(&m);
        printf("%-32s %zu\n", l.v[i].name, count);
    }
    store_group_list_free(&l);
    return 0;
}

int admin_cmd_group(int argc, char **argv)
{
    struct admin_cli_opts o;
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(usage_group, stdout);
        return 0;
    }
    int rc = admin_parse_opts(argc - 1, argv + 1, usage_group, &o);
    if (rc >= 0) {
        return rc;
    }
    if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "del")) {
        return admin_usage_error(usage_group, "expected add, list or del");
    }
    bool needs_name = strcmp(sub, "list") != 0;
    if (argc - 1 - optind != (needs_name ? 1 : 0)) {
        return admin_usage_error(usage_group, needs_name ? "name one group" : "no argument expected");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    rc = group_run(&cli, sub, needs_name ? argv[1 + optind] : NULL);
    if (rc == 0) {
        admin_cli_close(&cli);
    }
    return rc;
}
