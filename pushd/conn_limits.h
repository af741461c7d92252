/*
 * conn_limits.h — what a hostile peer can cost pushd, bounded: connections in total and per
 * address, the time to finish a handshake (slowloris), client frames per second, whose
 * address a request comes from (for the endpoints' address lists, which live with their
 * endpoints), and how often notifications may trigger a read of the log.  Every refusal
 * is counted for /metrics (docs/security.md).
 */
#ifndef PUSHD_CONN_LIMITS_H
#define PUSHD_CONN_LIMITS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "encode.h"
#include "metrics.h"

/* Close code for a client over --client-messages-per-second (docs/protocol.md). */
#define CLOSE_TOO_MANY_MESSAGES 4029

typedef struct LimitCounters
{
	uint64_t	accepted;				/* TCP connections let in */
	uint64_t	refused_total;			/* over --max-connections */
	uint64_t	refused_per_ip;			/* over --max-connections-per-ip */
	uint64_t	handshake_timeouts;		/* closed by --handshake-timeout */
	uint64_t	messages_too_big;		/* closed with 1009 */
	uint64_t	rate_limited;			/* closed with 4029 */
	uint64_t	origins_refused;		/* upgrades answered 403 */
	uint64_t	catchups;				/* log reads started */
	uint64_t	catchups_delayed;		/* times a read waited for --max-catchups-per-second */
} LimitCounters;

extern LimitCounters limit_counters;

/* limits_start reads the settings (again, after a reload); false when one is unusable. */
extern bool limits_start(void);
extern void limits_stop(void);

/*
 * The connection's life: limits_accept (listener.c, the accepted descriptor; nonzero
 * refuses it), limits_adopt_done (after it was handed to lws, whether that worked or
 * not), and from the lws callbacks of the stream protocol limits_attach
 * (SERVER_NEW_CLIENT_INSTANTIATED: starts the handshake deadline), limits_established (the
 * WebSocket upgrade or the SSE headers are done), limits_detach (WSI_DESTROY).
 */
extern int	limits_accept(int fd);
extern void limits_adopt_done(void);
extern void limits_attach(struct lws *wsi);
extern void limits_established(struct lws *wsi);
extern void limits_detach(struct lws *wsi);

/* limits_handshakes: connections between their accept and limits_established. */
extern int	limits_handshakes(void);

/* limits_on_handshake_done sets what is called whenever a connection leaves that count. */
extern void limits_on_handshake_done(void (*cb) (void));

/*
 * limits_forwarded: for a connection from --trusted-proxies, the client is the last
 * address of its X-Forwarded-For; from then on the per-address limit, the allow-lists and
 * the logs see that address.  Nonzero when that address is over --max-connections-per-ip
 * (answer 429).  Called for every request (LWS_CALLBACK_HTTP, HTTP_CONFIRM_UPGRADE).
 */
extern int	limits_forwarded(struct lws *wsi);

/*
 * limits_client_text: the client's address as text (IPv4 as a.b.c.d), X-Forwarded-For's
 * once limits_forwarded took it; empty when there is none (a Unix socket).  size at least
 * PEER_TEXT_MAX.
 */
#define PEER_TEXT_MAX 46		/* INET6_ADDRSTRLEN */
extern void limits_client_text(struct lws *wsi, char *text, size_t size);

/* limits_open_connections: TCP connections open now (a gauge). */
extern int	limits_open_connections(void);

/*
 * limits_client_frame takes one token of the client's bucket at the end of each data
 * frame it sends; false when it has none left (close it with CLOSE_TOO_MANY_MESSAGES).
 */
extern bool limits_client_frame(struct lws *wsi);

/*
 * limits_peer_allowed: whether the peer is in acl (an empty list lets everybody in);
 * behind a trusted proxy, the client it forwarded for.  For an endpoint's address list.
 */
extern bool limits_peer_allowed(struct lws *wsi, const Acl *acl);

/*
 * limits_catchup_allowed takes one token of the catch-up bucket; when there is none it
 * returns false and sets *wait_us to when there will be one.
 */
extern bool limits_catchup_allowed(int64_t *wait_us);

/* The rows of /metrics of the counters above and of open connections (metrics_register). */
extern const MetricDef limits_rows[];
extern const int limits_nrows;

#endif
