/*
 * metrics.h — counters and the notify-to-send latency histogram, exported in Prometheus
 * text format on GET /metrics.
 */
#ifndef PUSHD_METRICS_H
#define PUSHD_METRICS_H

#include <stdint.h>

#include "encode.h"

#define LATENCY_BUCKETS 12

typedef struct Metrics
{
	uint64_t	messages_sent;
	uint64_t	bytes_sent;
	uint64_t	changes_applied;
	uint64_t	epoch_changes;
	uint64_t	epoch_refusals;		/* databases on an earlier timeline not followed */
	uint64_t	reconnects;
	uint64_t	db_timeouts;		/* hosts or queries given up for silence */
	uint64_t	db_probes;			/* catch-ups run to probe an idle link */
	uint64_t	outage_closes;		/* clients closed with 1013: the link stayed down */
	uint64_t	outage_refused;		/* handshakes and requests answered 503 in an outage */
	uint64_t	future_closes;		/* clients closed with 1013: they came from ahead */
	uint64_t	coalesced;
	uint64_t	culled;
	uint64_t	notifications;
	uint64_t	notifications_ignored;
	uint64_t	auth_refused;		/* requests refused for their token (401/503) */
	uint64_t	token_closes;		/* clients closed: token revoked, expired, rescoped */
	uint64_t	token_loads;
	uint64_t	evaluations;
	uint64_t	schedule_reevaluations;
	uint64_t	schedule_changes;
	double		queue_usage;
	uint64_t	latency_buckets[LATENCY_BUCKETS];
	uint64_t	latency_count;
	double		latency_sum;
} Metrics;

extern Metrics metrics;

extern void metrics_observe_latency(double seconds);

/* metrics_render appends the exposition text; gauges come from the caller's state. */
extern void metrics_render(TextBuf *buf, int clients, int groups, int64_t last_version,
						   int database_up, double since_answer_s);

#endif
