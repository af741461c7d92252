/*
 * clients.h — clients of the change stream, over WebSocket or Server-Sent Events (sse.h):
 * per-client queues of shared messages, coalescing for laggards, resume, close codes.
 */
#ifndef PUSHD_CLIENTS_H
#define PUSHD_CLIENTS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn_limits.h"
#include "groups.h"
#include "message.h"
#include "metrics.h"

/* Close codes of docs/protocol.md: culled for falling behind; a context refused late. */
#define CLOSE_TOO_SLOW 4001
#define CLOSE_BAD_CONTEXT 4400
/* Close code for a client whose token was revoked, expired or changed scope. */
#define CLOSE_TOKEN 4003
/*
 * RFC 6455's Try Again Later: this node cannot serve the client now (its database link
 * stayed down, or the client resumed from a version the node has not reached); another
 * node, or this one later, can.  The client keeps its state and resumes.
 */
#define CLOSE_TRY_AGAIN 1013

/* How long a client that is being closed may take to become writable for its close. */
#define CLOSE_WAIT_US (5 * 1000000)

typedef struct Client
{
	lws_dll2_t	list;			/* every client (clients_first, clients_next) */
	struct lws *wsi;
	uint64_t	id;
	char	   *user_agent;		/* NULL unless connections are tracked */
	int64_t		token_id;		/* the token it was admitted with; 0: anonymous */
	int64_t		connected_us;	/* wall clock, for connected_at */

	Group	   *group;			/* whose results and messages it gets */
	lws_dll2_t	group_member;	/* in group->members */

	Msg		  **queue;			/* ring of shared messages, allocated at the first */
	int			queue_cap;
	int			queue_start;
	int			queue_len;
	int64_t		sent_version;	/* version the client has once lws has what was written */
	bool		needs_snapshot;
	bool		coalesce;		/* next write: everything after sent_version in one change */
	size_t		behind_bytes;	/* bytes of messages broadcast since its last write */
	int64_t		last_writable;	/* when it last drained what it was sent (now_us) */

	struct Ahead *ahead;		/* resumed from ahead: waits for that version (clients.c) */

	int			close_code;		/* nonzero: close with it at the next write */
	const char *close_reason;
	int64_t		close_by_us;	/* then hung up on, if its close could not be written */
	bool		closing;		/* its close frame is out: it is written nothing more */

	int64_t		heard_us;		/* when it last sent anything (liveness.c) */
	int64_t		pinged_us;		/* when a ping went out since then; 0: none */
	bool		ping_due;		/* the sweep asked for a ping */

	bool		sse;			/* a Server-Sent Events stream (sse.h), not a WebSocket */
	bool		heartbeat_due;	/* SSE: the sweep asked for a comment line */
	bool		notify;			/* SSE: OFREP notifications (refetchEvaluation), not messages */
	bool		registered;		/* has a row of toggles.connections (registry.c) */

	char	   *rx;				/* a client message being reassembled */
	size_t		rx_len;
	bool		rx_too_big;
} Client;

extern int	clients_count(void);

/*
 * clients_peer writes c's address as text into text (PEER_TEXT_MAX bytes: conn_limits.h;
 * empty when there is none); CLIENT_PEER(c) does it into a buffer that lives as long as
 * the enclosing block, for a log line.
 */
static inline const char *
clients_peer(const Client *c, char *text, size_t size)
{
	if (c->wsi)
		limits_client_text(c->wsi, text, size);
	else
		text[0] = '\0';
	return text;
}
#define CLIENT_PEER(c) clients_peer((c), (char [PEER_TEXT_MAX]) {0}, PEER_TEXT_MAX)

/* The row of /metrics of the clients (metrics_register). */
extern const MetricDef clients_rows[];
extern const int clients_nrows;

/*
 * clients_open starts the stream of a client whose connection is established, admitted
 * with token token_id (0: anonymous) into group g (its reference taken over; NULL: closed
 * with 4400): a WebSocket (sse false: since and epoch from the query) or an SSE stream
 * (since and epoch from Last-Event-ID, NULL when there was none).  clients_sse_writeable
 * and clients_sse_closed are the SSE stream's HTTP_WRITEABLE and CLOSED_HTTP.
 */
extern void clients_open(Client *c, struct lws *wsi, bool sse, Group *g, int64_t token_id,
						 const char *since, const char *epoch);
extern int	clients_sse_writeable(Client *c);

/*
 * clients_open_notify starts an OFREP notification stream (sse.h) for group g (taking
 * over the reference), admitted with token token_id (0: anonymous).
 */
extern void clients_open_notify(Client *c, struct lws *wsi, Group *g, int64_t token_id);
extern void clients_sse_closed(Client *c);
/* clients_first, clients_next: every client, newest first. */
extern Client *clients_first(void);
extern Client *clients_next(const Client *c);

/*
 * clients_broadcast_group queues msg for every client of group (each takes a reference):
 * the groups' sink (groups_on_change), wired by main.c.
 */
extern void clients_broadcast_group(Group *group, Msg *msg);

/* clients_version_advanced lets clients that resumed from ahead go on once caught up. */
extern void clients_version_advanced(void);

/*
 * clients_confirm_upgrade admits a WebSocket upgrade, the one time its token and context
 * are checked: 0 to go on (what they gave waits for ESTABLISHED), 1 when it answered the
 * refusal itself (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE).  clients_upgrade_refused: the
 * upgrade was refused after it (the protocol filter), what it admitted is given back.
 */
extern int	clients_confirm_upgrade(struct lws *wsi);
extern void clients_upgrade_refused(struct lws *wsi);

/* clients_resync_all gives every client a snapshot (first load, new epoch, gap). */
extern void clients_resync_all(void);

/*
 * clients_abort sets the close code and reason for the close that returning -1 from the
 * receive callback starts, and drops what the client was still owed: lws may call
 * WRITEABLE again while it waits for the close to be acknowledged, and nothing may
 * follow a close frame (RFC 6455 5.5.1).
 */
extern void clients_abort(Client *c, int code, const char *reason);

/* clients_close starts closing c with code and reason (a static string). */
extern void clients_close(Client *c, int code, const char *reason);

/* clients_close_all starts closing every client with code 1001 (shutdown). */
extern void clients_close_all(void);

/* The stream's lws callback, for the WebSocket events; HTTP is http.c's. */
extern int	clients_callback(struct lws *wsi, enum lws_callback_reasons reason,
							 void *user, void *in, size_t len);

/*
 * clients_tokens_changed closes clients whose token was revoked, has expired or changed
 * scope (code 4003), and arms the timer for the next expiry; after every token load.
 */
extern void clients_tokens_changed(void);

/*
 * clients_link_changed is a state hook of the database link (pglink_on_state): once the
 * link is (back) up, every live connection's row is written again (registry_restart).
 */
extern void clients_link_changed(bool ready);

#endif
