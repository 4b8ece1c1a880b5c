/* The running gateway's core over a real SQLite store: the signing key made at first start,
 * app and org tokens minted and verified (aud, type, expiry, forgery, tampering), the
 * per-thread cache of verified tokens, logout reaching the node through the revocation list,
 * and key rotation with the previous key verifying during its grace period. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access/gate_int.h"

#define OK(x) assert_int_equal((x), 0)

static const char config_json[] =
    "{\"team_domain\": \"http://team.localhost:9000\","
    " \"identity_providers\": [{\"name\": \"Authentik\", \"type\": \"oidc\","
    "   \"client_id\": \"cf-client\", \"client_secret\": \"cf-secret-0123456789\","
    "   \"auth_url\": \"http://auth.localhost:9000/application/o/authorize/\","
    "   \"token_url\": \"http://auth.localhost:9000/application/o/token/\","
    "   \"certs_url\": \"http://auth.localhost:9000/application/o/cloudflare/jwks/\"}],"
    " \"applications\": [{\"name\": \"myapp\", \"domain\": \"service.localhost\","
    "   \"origin\": \"http://127.0.0.1:8081\", \"identity_providers\": [\"Authentik\"],"
    "   \"policies\": [{\"name\": \"allow\", \"action\": \"allow\","
    "                   \"include\": [{\"everyone\": true}]}]}]}";

struct fx {
    char dir[64];
    struct access_gate *g;
};

static void put_config(struct store *s)
{
    struct err e = {0};
    json_t *j = util_json_parse(slice_z(config_json), &e);
    assert_non_null(j);
    struct access_config c = {0};
    struct access_err ae = {0};
    OK(access_config_parse(j, "access", &c, &ae));
    OK(store_meta_set(s, ACCESS_META_TEAM, slice_z(c.team.text), &e));
    json_t *ij = access_idp_to_json(&c.idps[0], true);
    json_t *aj = access_app_to_json(&c.apps[0]);
    char *it = json_dumps(ij, JSON_COMPACT), *at = json_dumps(aj, JSON_COMPACT);
    struct store_access_idp p = {.name = c.idps[0].name, .type = "oidc", .config = it};
    struct store_access_app a = {.name = c.apps[0].name, .domain = c.apps[0].domain, .config = at};
    OK(store_access_idp_upsert(s, &p, NULL, &e));
    OK(store_access_app_upsert(s, &a, NULL, &e));
    free(it);
    free(at);
    json_decref(ij);
    json_decref(aj);
    json_decref(j);
    access_config_free(&c);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/postern-gate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/postern.db", f->dir);
    struct err e = {0};
    struct store *s = store_open(url, &e);
    assert_non_null(s);
    OK(store_migrate(s, &e));
    store_close(s);
    OK(store_global_init(url, &e));
    put_config(store_thread(&e));
    f->g = access_gate_new(NULL, &e);
    if (f->g == NULL) {
        fail_msg("access_gate_new: %s", e.msg);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    access_gate_free(f->g);
    store_global_shutdown();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    util_set_fake_now(0);
    free(f);
    return 0;
}

static json_t *alice(void)
{
    struct err e = {0};
    return util_json_parse(slice_z("{\"email\": \"alice@example.com\", \"name\": \"Alice\","
                                   " \"groups\": [\"staff\", \"ops\"], \"idp\": \"Authentik\","
                                   " \"sub\": \"u-1\"}"),
                           &e);
}

/* A session in the store; its id (what tokens carry) into id. */
static void session(const char *token_z, char id[STORE_ID_SIZE])
{
    struct err e = {0};
    json_t *who = alice();
    char *text = json_dumps(who, JSON_COMPACT);
    struct store_access_session x = {
        .identity = text, .idp = "Authentik", .expires_at = util_now() + 86400};
    OK(store_access_session_create(store_thread(&e), slice_z(token_z), &x, &e));
    snprintf(id, STORE_ID_SIZE, "%s", x.id);
    free(text);
    json_decref(who);
}

static char *mint(struct gate_snap *snap, enum gate_token_type type, const char *aud,
                  const char *sid, int64_t exp)
{
    struct err e = {0};
    json_t *who = alice();
    char *t = gate_token_mint(snap, type, aud, who, sid, exp, &e);
    json_decref(who);
    if (t == NULL) {
        fail_msg("mint: %s", e.msg);
    }
    return t;
}

static void test_first_start_key_and_certs(void **state)
{
    struct fx *f = *state;
    struct gate_snap *snap = gate_snap_get(f->g);
    assert_non_null(snap);
    assert_int_equal(snap->cfg.napps, 1);
    assert_int_equal(strlen(snap->apps[0].aud), 64);
    assert_true(snap->current_kid[0] != '\0');
    assert_int_equal(jose_jwks_count(snap->jwks), 1);
    struct err e = {0};
    json_t *doc = util_json_parse((struct slice){snap->certs.p, snap->certs.len}, &e);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "keys")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "public_cert"), "kid")),
        snap->current_kid);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(doc, "public_cert"), "cert")),
                           "BEGIN CERTIFICATE"));
    assert_int_equal(json_array_size(json_object_get(doc, "public_certs")), 1);
    json_decref(doc);
    /* A second start keeps the key: no second current key. */
    OK(access_keys_ensure(store_thread(&e), &e));
    OK(access_gate_refresh(f->g, &e));
    struct gate_snap *again = gate_snap_get(f->g);
    assert_string_equal(again->current_kid, snap->current_kid);
    assert_int_equal(jose_jwks_count(again->jwks), 1);
    gate_snap_put(again);
    gate_snap_put(snap);
}

static void test_app_token_verifies_for_its_app_only(void **state)
{
    struct fx *f = *state;
    struct gate_snap *snap = gate_snap_get(f->g);
    char sid[STORE_ID_SIZE];
    session("session-a", sid);
    const char *aud = snap->apps[0].aud;
    char *t = mint(snap, GATE_TOKEN_APP, aud, sid, util_now() + 3600);
    struct gate_identity id;
    struct err e = {0};
    for (int round = 0; round < 2; round++) { /* the second one from the thread's cache */
        OK(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e));
        assert_string_equal(id.email, "alice@example.com");
        assert_string_equal(id.session_id, sid);
        assert_int_equal(id.ngroups, 2);
        assert_string_equal(id.groups[0], "staff");
        assert_string_equal(id.idp, "Authentik");
        assert_string_equal(json_string_value(json_object_get(id.claims, "iss")),
                            "http://team.localhost:9000");
        assert_string_equal(json_string_value(json_object_get(id.claims, "type")), "app");
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(id.claims, "aud"), 0)), aud);
        gate_identity_free(&id);
    }
    /* Another application's audience, the org type, a tampered payload: refused. */
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP,
                                       "0000000000000000000000000000000000000000000000000000000000000000",
                                       &id, &e),
                     -1);
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_ORG, aud, &id, &e), -1);
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e), -1);
    free(t);
    /* An org token is not an app token, even for the same audience. */
    char *o = mint(snap, GATE_TOKEN_ORG, "team.localhost", sid, util_now() + 3600);
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(o), GATE_TOKEN_APP, "team.localhost",
                                       &id, &e),
                     -1);
    OK(gate_token_verify(f->g, snap, slice_z(o), GATE_TOKEN_ORG, "team.localhost", &id, &e));
    gate_identity_free(&id);
    free(o);
    gate_snap_put(snap);
}

static void test_expired_and_forged_tokens_refused(void **state)
{
    struct fx *f = *state;
    struct gate_snap *snap = gate_snap_get(f->g);
    char sid[STORE_ID_SIZE];
    session("session-b", sid);
    const char *aud = snap->apps[0].aud;
    struct gate_identity id;
    struct err e = {0};
    char *t = mint(snap, GATE_TOKEN_APP, aud, sid, util_now() + 30);
    OK(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e));
    gate_identity_free(&id);
    util_set_fake_now(util_now() + 31); /* also past the cached entry's exp */
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e), -1);
    util_set_fake_now(0);
    free(t);

    /* Same claims, same kid in the header, signed by a key that is not the gateway's. */
    struct keys *other = keys_new();
    char kid[KEYS_KID_MAX];
    OK(keys_generate(other, "other", JOSE_ALG_RS256, 0, kid, &e));
    struct gate_snap fake = *snap;
    fake.ring = other;
    snprintf(fake.current_kid, sizeof fake.current_kid, "%s", kid);
    json_t *nobody = json_object();
    char *forged = gate_token_mint(&fake, GATE_TOKEN_APP, aud, nobody, sid, util_now() + 3600, &e);
    json_decref(nobody);
    assert_non_null(forged);
    assert_int_equal(
        gate_token_verify(f->g, snap, slice_z(forged), GATE_TOKEN_APP, aud, &id, &e), -1);
    free(forged);
    keys_free(other);
    gate_snap_put(snap);
}

static void test_logout_reaches_the_node(void **state)
{
    struct fx *f = *state;
    struct gate_snap *snap = gate_snap_get(f->g);
    char sid[STORE_ID_SIZE];
    session("session-c", sid);
    const char *aud = snap->apps[0].aud;
    char *t = mint(snap, GATE_TOKEN_APP, aud, sid, util_now() + 3600);
    struct gate_identity id;
    struct err e = {0};
    OK(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e));
    gate_identity_free(&id);
    /* Logged out through another node: only the store knows, until this node polls. */
    OK(store_access_session_revoke(store_thread(&e), slice_z("session-c"), NULL, &e));
    assert_false(gate_revoked(f->g, sid));
    OK(access_gate_refresh(f->g, &e));
    assert_true(gate_revoked(f->g, sid));
    assert_int_equal(gate_token_verify(f->g, snap, slice_z(t), GATE_TOKEN_APP, aud, &id, &e), -1);
    assert_non_null(strstr(e.msg, "logged out"));
    free(t);
    gate_snap_put(snap);
}

static void test_rotation_keeps_the_old_key_for_its_grace(void **state)
{
    struct fx *f = *state;
    struct gate_snap *old = gate_snap_get(f->g);
    char sid[STORE_ID_SIZE];
    session("session-d", sid);
    const char *aud = old->apps[0].aud;
    char *t = mint(old, GATE_TOKEN_APP, aud, sid, util_now() + 3600);
    struct err e = {0};
    char kid[64];
    OK(access_keys_rotate(store_thread(&e), 3600, kid, &e));
    assert_string_not_equal(kid, old->current_kid);
    OK(access_gate_refresh(f->g, &e));
    struct gate_snap *now = gate_snap_get(f->g);
    assert_string_equal(now->current_kid, kid);
    assert_int_equal(jose_jwks_count(now->jwks), 2);
    struct gate_identity id;
    OK(gate_token_verify(f->g, now, slice_z(t), GATE_TOKEN_APP, aud, &id, &e));
    gate_identity_free(&id);
    /* New tokens carry the new kid. */
    char *t2 = mint(now, GATE_TOKEN_APP, aud, sid, util_now() + 3600);
    struct jose_jws jws = {0};
    OK(jose_jws_parse(slice_z(t2), &jws, &e));
    assert_string_equal(jws.kid, kid);
    jose_jws_free(&jws);
    /* After the grace period the old key is gone, and so are its tokens. */
    util_set_fake_now(util_now() + 3601);
    OK(access_gate_refresh(f->g, &e));
    struct gate_snap *later = gate_snap_get(f->g);
    assert_int_equal(jose_jwks_count(later->jwks), 1);
    assert_int_equal(gate_token_verify(f->g, later, slice_z(t), GATE_TOKEN_APP, aud, &id, &e), -1);
    util_set_fake_now(0);
    free(t);
    free(t2);
    gate_snap_put(later);
    gate_snap_put(now);
    gate_snap_put(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_key_and_certs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_token_verifies_for_its_app_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_and_forged_tokens_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout_reaches_the_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keeps_the_old_key_for_its_grace, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
