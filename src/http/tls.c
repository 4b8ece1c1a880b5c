/*
 * tls.c: TLS listeners (bufferevent_openssl on OpenSSL 3).
 *
 * TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1). TLS 1.3 uses OpenSSL's default
 * suites; TLS 1.2 only ECDHE key exchange with AEAD ciphers (forward secrecy, no CBC:
 * the Mozilla "intermediate" list). No renegotiation, no compression (CRIME).
 */
#include "http/server_int.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Adds OpenSSL's first queued error to e and clears the queue. */
static int tls_err(struct err *e, const char *what, const char *file)
{
    char detail[160] = "unknown error";
    unsigned long code = ERR_get_error();
    if (code != 0) {
        ERR_error_string_n(code, detail, sizeof detail);
    }
    ERR_clear_error();
    return err_set(e, 0, "%s %s: %s", what, file, detail);
}

SSL_CTX *http_tls_ctx_new(const char *cert, const char *key, struct err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_err(e, "TLS", "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        tls_err(e, "TLS", "cipher list");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_err(e, "cannot load certificate chain", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_err(e, "cannot load private key", key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_err(e, "private key does not match certificate", cert);
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void http_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

struct bufferevent *http_tls_bev_new(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) {
        ERR_clear_error();
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client that closes without close_notify is an EOF, not an error: HTTP framing
     * (Content-Length, chunked) already tells a truncated request apart. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

void http_tls_log_error(struct bufferevent *bev, const char *remote_ip)
{
    unsigned long code = bufferevent_get_openssl_error(bev);
    if (code != 0) {
        char detail[160];
        ERR_error_string_n(code, detail, sizeof detail);
        log_debug("http: %s: TLS: %s", remote_ip, detail);
    } else {
        log_debug("http: %s: TLS connection failed", remote_ip);
    }
    while (bufferevent_get_openssl_error(bev) != 0) {
    }
    ERR_clear_error();
}
