/*
 * sse.h — the change stream as Server-Sent Events (GET /v1/events, docs/protocol.md): the
 * WebSocket messages as "event: snapshot|change" with "id: EPOCH:VERSION", so that a
 * browser's EventSource resumes through Last-Event-ID; one sweep timer for every
 * stream's heartbeat (--sse-heartbeat), which keeps proxies and readers sure of it.
 * The same streams carry OFREP's notifications (GET /ofrep/v1/events, docs/openfeature.md).
 * SSE clients are Clients (clients.h) like the WebSocket ones.
 */
#ifndef PUSHD_SSE_H
#define PUSHD_SSE_H

#include <libwebsockets.h>

#include "clients.h"
#include "http.h"
#include "message.h"
#include "metrics.h"

/* sse_start answers GET /v1/events: the stream, or why not (a 200 with retry: when temporary). */
extern int	sse_start(struct lws *wsi, Session *s);

/*
 * sse_start_notify answers GET /ofrep/v1/events?ticket=T once ofrep.c has checked the
 * ticket: OFREP's notification stream (docs/openfeature.md) for the group of token's
 * scope (NULL: anonymous) and the canonical context.
 */
struct Token;
extern int	sse_start_notify(struct lws *wsi, Session *s, const struct Token *token,
							 const char *context);

/*
 * sse_write_msg writes msg as one event (on a notify stream: a refetchEvaluation for a
 * change, nothing for a snapshot); false when lws refused it.
 */
extern bool sse_write_msg(Client *c, const Msg *msg);

/* sse_write_heartbeat writes a comment line; false when lws refused it. */
extern bool sse_write_heartbeat(Client *c);

/*
 * sse_end ends a stream that clients.c closes with code: a retry: field first when the
 * condition is temporary (the EventSource reconnects by itself either way, except after
 * a 401 or another status than 200).  Returns -1 (close the connection).
 */
extern int	sse_end(Client *c, int code);

/*
 * sse_want_write asks for a stream's next WRITEABLE; sse_wrote, after a WRITEABLE that
 * left more (or nothing) to write.  A stream reads only in between (see sse.c).
 */
extern void sse_want_write(struct lws *wsi);
extern void sse_wrote(struct lws *wsi, bool more);

/* The rows of /metrics of SSE's counters (metrics_register). */
extern const MetricDef sse_rows[];
extern const int sse_nrows;

#endif
