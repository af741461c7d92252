/*
 * http.h — the plain HTTP endpoints on the stream's port: /v1/toggles, /healthz,
 * /metrics, OFREP (ofrep.h), Server-Sent Events at /v1/events (sse.h), the console
 * (console.h) at / and /console, and 404 for everything else.
 */
#ifndef PUSHD_HTTP_H
#define PUSHD_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "clients.h"
#include "metrics.h"

/*
 * http_start reads the address lists of the guarded endpoints (/healthz, /metrics; again
 * after a reload); false, keeping the old lists, when one is unusable.  http_stop frees
 * them.
 */
extern bool http_start(void);
extern void http_stop(void);

/* The rows of /metrics of the guarded endpoints' refusals (metrics_register). */
extern const MetricDef http_rows[];
extern const int http_nrows;

typedef struct HttpReply
{
	char	   *body;
	size_t		len;
	/* A request whose tag is from ahead, waiting up to --future-wait (future.h). */
	struct FutureWait *future;
} HttpReply;

/* What lws keeps per connection of the stream protocol: a client or an HTTP exchange. */
typedef struct Session
{
	Client		client;			/* first: the WebSocket code sees a Client */
	HttpReply	http;
	struct OfrepRequest *ofrep;	/* an OFREP request waiting for its body (ofrep.c) */
} Session;

/*
 * http_query_arg sets *value (malloc'd, NUL-terminated, URL-decoded; NULL when absent)
 * and *len to query parameter name of the request; false when it is longer than max
 * bytes.
 */
extern bool http_query_arg(struct lws *wsi, const char *name, size_t max, char **value,
						   size_t *len);

/*
 * http_refuse answers status with a JSON body {"error":error,"message":message} at once,
 * for a request lws is about to drop (an upgrade refused); returns 1.
 */
extern int	http_refuse(struct lws *wsi, int status, const char *error, const char *message);

/*
 * http_send_body leaves body (taken over; NULL or empty: none) for HTTP_WRITEABLE once the
 * headers are out, or ends the exchange; the callback's return value.
 */
extern int	http_send_body(struct lws *wsi, Session *s, char *body, size_t len);

/*
 * http_context_group returns (a reference to) the group of the request's context
 * parameter (absent: {}) for a token's scope (NULL: everything); NULL with a message in err
 * when the context is too large or not acceptable.  A connection's context is read once,
 * by this.
 */
extern Group *http_context_group(struct lws *wsi, const Scope *scope, char *err, size_t errlen);

/*
 * http_request_tags reads the request's If-None-Match (one tag or a list) into tags, at
 * most ETAG_LIST_MAX, keeping the tags of ours (etag.h); how many.  None, one too long, or
 * not a list of tags: 0.
 */
struct StateTag;
extern int	http_request_tags(struct lws *wsi, struct StateTag *tags);

/* http_add_header adds one "name: value" header at *p; true when it did not fit. */
extern bool http_add_header(struct lws *wsi, const char *name, const char *value,
							unsigned char **p, unsigned char *end);

extern int	http_callback(struct lws *wsi, enum lws_callback_reasons reason,
						  void *user, void *in, size_t len);

#endif
