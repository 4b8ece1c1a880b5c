/* `postern provider show` and `postern events`. */
#include "admin/admin_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static const char usage_provider[] =
    "Usage: postern provider show NAME --config FILE\n"
    "\n"
    "Prints what a relying party needs: the client ID and secret, and the authorize, token,\n"
    "userinfo, JWKS (certificate) and discovery URLs of the provider's application.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store and idp.public_url)\n"
    "  -h, --help          show this help\n";

static const char usage_events[] =
    "Usage: postern events --config FILE [--action ACTION] [--limit N]\n"
    "\n"
    "Lists events, newest first: time (UTC), action, user, client IP, application, details.\n"
    "Actions include login, login_failed, logout, authorize_application, token_issued,\n"
    "token_refused, model_created, model_updated, model_deleted.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration file (for the store)\n"
    "      --action ACTION only events of this action\n"
    "      --limit N       at most N events (default 50, at most 1000)\n"
    "  -h, --help          show this help\n";

static int fail(struct admin_cli *cli, const struct err *e)
{
    fprintf(stderr, "postern: %s\n", e->msg);
    admin_cli_close(cli);
    return 1;
}

static void print_redirects(const char *json_z)
{
    struct err e = {0};
    json_t *list = util_json_parse(slice_z(json_z), &e);
    size_t i;
    json_t *v;
    printf("Redirect URIs:\n");
    if (json_array_size(list) == 0) {
        printf("  (none: every authorization request is refused)\n");
    }
    json_array_foreach(list, i, v)
    {
        printf("  %-7s %s\n", json_string_value(json_object_get(v, "matching_mode")),
               json_string_value(json_object_get(v, "url")));
    }
    json_decref(list);
}

static void print_provider(const struct admin_cli *cli, const struct store_provider *p,
                           const char *slug)
{
    const char *base = cli->cfg.idp_enabled ? cli->idp.cfg.public_url : "https://IDP-PUBLIC-URL";
    printf("Provider:            %s\n", p->name);
    printf("Client type:         %s\n", p->client_type);
    printf("Client ID:           %s\n", p->client_id);
    printf("Client Secret:       %s\n", p->client_secret[0] ? p->client_secret : "(public client)");
    printf("Authorization flow:  %s\n", p->authorization_flow);
    printf("Signing key:         %s\n", p->signing_key);
    print_redirects(p->redirect_uris);
    printf("Authorize URL:       %s/application/o/authorize/\n", base);
    printf("Token URL:           %s/application/o/token/\n", base);
    printf("Userinfo URL:        %s/application/o/userinfo/\n", base);
    printf("Introspection URL:   %s/application/o/introspect/\n", base);
    printf("Revocation URL:      %s/application/o/revoke/\n", base);
    if (slug == NULL) {
        printf("(No application uses this provider yet: the issuer, certificate, discovery and\n"
               " logout URLs belong to an application's slug.)\n");
        return;
    }
    printf("Issuer:              %s/application/o/%s/\n", base, slug);
    printf("Certificate (JWKS):  %s/application/o/%s/jwks/\n", base, slug);
    printf("Discovery URL:       %s/application/o/%s/.well-known/openid-configuration\n", base,
           slug);
    printf("End session URL:     %s/application/o/%s/end-session/\n", base, slug);
}

int admin_cmd_provider(int argc, char **argv)
{
    struct admin_cli_opts o;
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(usage_provider, stdout);
        return 0;
    }
    int rc = admin_parse_opts(argc - 1, argv + 1, usage_provider, &o);
    if (rc >= 0) {
        return rc;
    }
    if (strcmp(sub, "show") != 0 || argc - 1 - optind != 1) {
        return admin_usage_error(usage_provider, "expected: provider show NAME");
    }
    const char *name = argv[1 + optind];
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    struct store_provider p = {0};
    struct store_app a = {0};
    rc = store_provider_get_by_name(cli.store, name, &p, &e);
    if (rc == STORE_NOT_FOUND) {
        err_set(&e, 0, "no provider named \"%s\"", name);
    }
    int arc = rc == 0 ? store_app_get_by_provider(cli.store, p.id, &a, &e) : -1;
    if (rc != 0 || arc < 0) {
        store_provider_free(&p);
        return fail(&cli, &e);
    }
    print_provider(&cli, &p, arc == 0 ? a.slug : NULL);
    store_provider_free(&p);
    store_app_free(&a);
    admin_cli_close(&cli);
    return 0;
}

int admin_cmd_events(int argc, char **argv)
{
    struct admin_cli_opts o;
    int rc = admin_parse_opts(argc, argv, usage_events, &o);
    if (rc >= 0) {
        return rc;
    }
    if (optind != argc) {
        return admin_usage_error(usage_events, "unexpected argument");
    }
    struct admin_cli cli;
    struct err e = {0};
    if (admin_cli_open(o.config, &cli, &e) != 0) {
        return fail(&cli, &e);
    }
    struct store_page pg = {(size_t)o.limit, 0};
    struct store_event_list l = {0};
    if (store_event_list(cli.store, o.action, NULL, &pg, &l, &e) != 0) {
        return fail(&cli, &e);
    }
    for (size_t i = 0; i < l.n; i++) {
        const struct store_event *ev = &l.v[i];
        char when[32];
        time_t t = (time_t)ev->created_at;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s %-22s %-16s %-15s %-16s %s\n", when, ev->action,
               ev->username[0] ? ev->username : "-", ev->client_ip[0] ? ev->client_ip : "-",
               ev->app[0] ? ev->app : "-", ev->context[0] ? ev->context : "{}");
    }
    store_event_list_free(&l);
    admin_cli_close(&cli);
    return 0;
}
