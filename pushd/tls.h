/*
 * tls.h — serving wss:// and https:// directly (--tls-cert, --tls-key), with the
 * certificate reloaded on SIGHUP, and the warning when pushd listens beyond loopback in
 * plain text.
 */
#ifndef PUSHD_TLS_H
#define PUSHD_TLS_H

#include <libwebsockets.h>
#include <stdbool.h>

/*
 * tls_configure checks the certificate and key and, when they are set, makes info serve
 * TLS; false (logged) when they cannot be used.
 */
extern bool tls_configure(struct lws_context_creation_info *info);

/* tls_context_created notes lws's server SSL_CTX (LOAD_EXTRA_SERVER_VERIFY_CERTS). */
extern void tls_context_created(void *ssl_ctx);

/* tls_reload loads the certificate and key again after SIGHUP; the old stay on failure. */
extern void tls_reload(void);

/* tls_warn_plaintext logs a warning when listening beyond loopback without TLS. */
extern void tls_warn_plaintext(void);

extern bool tls_active(void);
extern void tls_stop(void);

#endif
