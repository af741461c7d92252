/*
 * http.h — the plain HTTP endpoints on the stream's port: /v1/toggles, /healthz,
 * /metrics, and 404 for everything else.
 */
#ifndef PUSHD_HTTP_H
#define PUSHD_HTTP_H

#include <libwebsockets.h>

#include "clients.h"

typedef struct HttpReply
{
	char	   *body;
	size_t		len;
} HttpReply;

/* What lws keeps per connection of the stream protocol: a client or an HTTP exchange. */
typedef struct Session
{
	Client		client;			/* first: the WebSocket code sees a Client */
	HttpReply	http;
} Session;

extern int	http_callback(struct lws *wsi, enum lws_callback_reasons reason,
						  void *user, void *in, size_t len);

#endif
