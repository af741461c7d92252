/*
 * auth.h — where a client's token comes from (docs/security.md): an
 * "Authorization: Bearer" header, an "X-API-Key" header (OFREP providers), a "token" query
 * parameter, or, for browsers, which cannot set headers on a WebSocket, a second offered
 * subprotocol next to pg-toggles.v1.
 */
#ifndef PUSHD_AUTH_H
#define PUSHD_AUTH_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pushd.h"
#include "tokens.h"

/* The WebSocket subprotocol pushd speaks (and the one a token may ride along with). */
#define AUTH_SUBPROTOCOL PROTOCOL_STREAM

/* Longest token text accepted; ours are 68 characters. */
#define AUTH_TOKEN_MAX 256

/* auth_parse_bearer: the token of an Authorization header value, or NULL. */
extern const char *auth_parse_bearer(const char *value, size_t *len);

/*
 * auth_parse_subprotocols: the first entry of a Sec-WebSocket-Protocol list other than
 * AUTH_SUBPROTOCOL, or NULL.
 */
extern const char *auth_parse_subprotocols(const char *value, size_t *len);

/*
 * auth_token: copies the request's token into buf (size AUTH_TOKEN_MAX + 1) and returns
 * its length, 0 when there is none; -1 when one is given but too long.
 */
extern int	auth_token(struct lws *wsi, char *buf, size_t buflen);

/*
 * auth_admit decides whether a request may be served at wall-clock time now: TOKEN_OK
 * with *token set, or with *token NULL for an anonymous client (only when
 * allow_anonymous).  A token that is given is always checked, anonymous or not.
 */
extern TokenVerdict auth_admit(struct lws *wsi, bool allow_anonymous, int64_t now,
							   const Token **token);

/* auth_http_status: the HTTP status that refuses a verdict (401 or 503). */
extern int	auth_http_status(TokenVerdict verdict);

#endif
