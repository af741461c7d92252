/*
 * tls.c — TLS on pushd's port (see tls.h).
 *
 * libwebsockets (with OpenSSL) loads the certificate chain and key when the vhost is
 * made.  To change them later lws 4.1 offers lws_tls_cert_updated(), which only takes the
 * leaf certificate (no chain) and only under the path the vhost started with, and
 * re-creating the vhost, which would drop the listening socket.  So a reload loads the
 * new chain and key into a scratch SSL_CTX first, to prove they are valid and match, and
 * then into lws's own SSL_CTX: handshakes from then on use them, connections already up
 * keep theirs.
 */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "log.h"
#include "pushd.h"
#include "tls.h"

static SSL_CTX *live_ctx;		/* lws's, owned by lws */
static bool active;				/* this process serves TLS (fixed at start) */
static char *loaded_cert;		/* what live_ctx holds, for the log */

bool
tls_active(void)
{
	return active;
}

/* openssl_error: the oldest queued OpenSSL error as text, the queue emptied. */
static const char *
openssl_error(void)
{
	static char text[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(text, sizeof(text), "unknown error");
	else
		ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	return text;
}

/* load_pair loads cert (a PEM chain) and key into ctx and checks that they match. */
static bool
load_pair(SSL_CTX *ctx, const char *cert, const char *key)
{
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
	{
		log_error("TLS certificate \"%s\" unusable: %s", cert, openssl_error());
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
	{
		log_error("TLS key \"%s\" unusable: %s", key, openssl_error());
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
	{
		log_error("TLS key \"%s\" does not match certificate \"%s\": %s", key, cert,
				  openssl_error());
		return false;
	}
	return true;
}

/* check_pair proves cert and key usable without touching the live context. */
static bool
check_pair(const char *cert, const char *key)
{
	SSL_CTX    *scratch = SSL_CTX_new(TLS_server_method());
	bool		ok;
	struct stat st;

	if (scratch == NULL)
	{
		log_error("TLS: cannot make an SSL_CTX: %s", openssl_error());
		return false;
	}
	ok = load_pair(scratch, cert, key);
	SSL_CTX_free(scratch);
	if (ok && stat(key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		log_warn("TLS key \"%s\" can be read by group or others (mode %03o): chmod 600 it",
				 key, (unsigned) (st.st_mode & 0777));
	return ok;
}

bool
tls_configure(struct lws_context_creation_info *info)
{
	const PushdConfig *cfg = &pushd.cfg;

	if (cfg->tls_cert[0] == '\0')
		return true;
	if (!check_pair(cfg->tls_cert, cfg->tls_key))
		return false;
	info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info->ssl_cert_filepath = cfg->tls_cert;
	info->ssl_private_key_filepath = cfg->tls_key;
	/* HTTP/1.1 only: the stream and its limits are built on h1 connections, not h2 streams. */
	info->alpn = "http/1.1";
	/* Nothing older than TLS 1.2. */
	info->ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	active = true;
	free(loaded_cert);
	loaded_cert = strdup(cfg->tls_cert);
	return true;
}

void
tls_context_created(void *ssl_ctx)
{
	live_ctx = ssl_ctx;
}

void
tls_reload(void)
{
	const PushdConfig *cfg = &pushd.cfg;

	if (!active)
	{
		if (cfg->tls_cert[0] != '\0')
			log_warn("--tls-cert is set but pushd started without TLS: serving TLS needs a restart");
		return;
	}
	if (cfg->tls_cert[0] == '\0')
	{
		log_warn("--tls-cert is now empty: turning TLS off needs a restart; the old certificate stays");
		return;
	}
	if (live_ctx == NULL)
	{
		log_error("TLS reload impossible: libwebsockets did not expose its SSL_CTX");
		return;
	}
	if (!check_pair(cfg->tls_cert, cfg->tls_key))
	{
		log_error("TLS reload refused: the certificate \"%s\" stays in use", loaded_cert);
		return;
	}
	if (!load_pair(live_ctx, cfg->tls_cert, cfg->tls_key))
	{
		/* Checked just above: only a file changed in between can get here. */
		log_error("TLS reload failed halfway: new handshakes may fail until the next reload");
		return;
	}
	free(loaded_cert);
	loaded_cert = strdup(cfg->tls_cert);
	log_info("TLS certificate \"%s\" and key \"%s\" loaded: new connections use them",
			 cfg->tls_cert, cfg->tls_key);
}

/* listen_is_loopback: --listen names 127.0.0.0/8, ::1 or localhost. */
static bool
listen_is_loopback(void)
{
	const char *host = pushd.cfg.listen_host;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct in6_addr a;

	if (strcmp(host, "localhost") == 0)
		return true;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, host, &sin.sin_addr) == 1)
		acl_normalize((struct sockaddr *) &sin, &a);
	else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1)
		acl_normalize((struct sockaddr *) &sin6, &a);
	else
		return false;			/* "" (every interface) or a host name */
	return acl_is_loopback(&a);
}

void
tls_warn_plaintext(void)
{
	if (!active && !listen_is_loopback())
		log_warn("listening on %s without TLS: toggles and client traffic cross the network "
				 "in plain text; use --tls-cert/--tls-key or a TLS-terminating proxy "
				 "(docs/security.md)", pushd.cfg.listen);
}

void
tls_stop(void)
{
	free(loaded_cert);
	loaded_cert = NULL;
	live_ctx = NULL;
}
