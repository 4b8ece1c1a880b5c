/* Helpers of the access gateway's store tests (access.c, access_grants.c): a key pair, an
 * application, a global session, made through store.h and asserted. */
#ifndef POSTERN_TEST_STORE_ACCESS_FIXTURE_H
#define POSTERN_TEST_STORE_ACCESS_FIXTURE_H

#include "testdb.h"

#define TOK(z)   SLICE_LIT(z)
#define RACERS   8
#define HEX64_RE "0123456789abcdef"

static inline bool is_hex(const char *z, size_t n)
{
    if (strlen(z) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(HEX64_RE, z[i]))
            return false;
    return true;
}

static inline void keypair(struct store *s, const char *name, const char *kid)
{
    struct err e = {0};
    struct store_keypair in = {.name = (char *)name,
                               .kid = (char *)kid,
                               .alg = (char *)"RS256",
                               .key_pem = (char *)"-----BEGIN PRIVATE KEY-----\nx\n",
                               .cert_pem = (char *)"-----BEGIN CERTIFICATE-----\ny\n"};
    struct store_keypair out = {0};
    OK(store_keypair_insert_if_absent(s, &in, &out, NULL, &e));
    store_keypair_free(&out);
}

/* An application; its aud goes to aud. */
static inline void app(struct store *s, const char *name, const char *domain,
                       char aud[STORE_AUD_SIZE])
{
    struct err e = {0};
    struct store_access_app a = {.name = (char *)name, .domain = (char *)domain};
    OK(store_access_app_upsert(s, &a, NULL, &e));
    memcpy(aud, a.aud, STORE_AUD_SIZE);
}

/* A session for the raw token; its id goes to id. */
static inline void session(struct store *s, const char *token, int64_t expires_at,
                           char id[STORE_ID_SIZE])
{
    struct err e = {0};
    struct store_access_session x = {.identity = (char *)"{\"email\":\"alice@example.com\"}",
                                     .idp = (char *)"Authentik",
                                     .expires_at = expires_at};
    OK(store_access_session_create(s, slice_z(token), &x, &e));
    memcpy(id, x.id, STORE_ID_SIZE);
}

#endif
