/*
 * metrics.c — Prometheus exposition of pushd's counters (see metrics.h).
 */
#include "conn_limits.h"
#include "listener.h"
#include "liveness.h"
#include "metrics.h"
#include "ofrep.h"
#include "sse.h"
#include "tokens.h"

Metrics		metrics;

/* Upper bounds of the latency buckets, in seconds: 0.1 ms to 1 s. */
static const double latency_le[LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0
};

void
metrics_observe_latency(double seconds)
{
	int			i;

	for (i = 0; i < LATENCY_BUCKETS; i++)
		if (seconds <= latency_le[i])
			metrics.latency_buckets[i]++;
	metrics.latency_count++;
	metrics.latency_sum += seconds;
}

static void
counter(TextBuf *buf, const char *name, const char *help, uint64_t value)
{
	textbuf_printf(buf, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
				   name, help, name, name, (unsigned long long) value);
}

static void
gauge(TextBuf *buf, const char *name, const char *help, double value)
{
	textbuf_printf(buf, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, value);
}

void
metrics_render(TextBuf *buf, int clients, int groups, int64_t last_version, int database_up,
			   double since_answer_s)
{
	int			i;

	gauge(buf, "pushd_clients", "Connected stream clients (WebSocket, SSE, OFREP event streams).", clients);
	gauge(buf, "pushd_groups", "Client groups (distinct contexts), each evaluated once.", groups);
	counter(buf, "pushd_evaluations_total", "Evaluations of a toggle for a group.",
			metrics.evaluations);
	counter(buf, "pushd_schedule_reevaluations_total",
			"Times a time-dependent toggle's windows opened or closed.",
			metrics.schedule_reevaluations);
	counter(buf, "pushd_schedule_changes_total",
			"Change messages with cause \"schedule\" (one per group whose results changed).",
			metrics.schedule_changes);
	counter(buf, "pushd_messages_sent_total", "Messages written to clients.", metrics.messages_sent);
	counter(buf, "pushd_bytes_sent_total", "Message bytes written to clients.", metrics.bytes_sent);
	counter(buf, "pushd_changes_applied_total", "Committed transactions applied to the cache.",
			metrics.changes_applied);
	gauge(buf, "pushd_last_version", "Version of the cached state.", (double) last_version);
	counter(buf, "pushd_epoch_changes_total", "Times a new epoch forced a full resync.",
			metrics.epoch_changes);
	counter(buf, "pushd_epoch_refusals_total",
			"Times a database on an earlier timeline than the one followed was refused.",
			metrics.epoch_refusals);
	gauge(buf, "pushd_database_up", "1 when the database link is up and the cache current.",
		  database_up);
	gauge(buf, "pushd_database_last_answer_seconds",
		  "Seconds since the database server last sent anything; -1 before the first connection.",
		  since_answer_s);
	counter(buf, "pushd_reconnects_total", "Database reconnection attempts.", metrics.reconnects);
	counter(buf, "pushd_database_timeouts_total",
			"Database hosts or queries given up because no answer came in time.",
			metrics.db_timeouts);
	counter(buf, "pushd_database_probes_total",
			"Reads of the log sent to probe a database link that was idle.", metrics.db_probes);
	counter(buf, "pushd_outage_closes_total",
			"Clients closed with 1013 because the database link stayed down past --outage-grace.",
			metrics.outage_closes);
	counter(buf, "pushd_outage_refused_total",
			"Handshakes and requests answered 503 while the database link was down past --outage-grace or before the first load.",
			metrics.outage_refused);
	counter(buf, "pushd_future_closes_total",
			"Clients closed with 1013 because they resumed from a version this node did not reach within --future-wait.",
			metrics.future_closes);
	counter(buf, "pushd_coalesced_total", "Times a lagging client's backlog was coalesced.",
			metrics.coalesced);
	counter(buf, "pushd_culled_clients_total", "Clients closed for falling too far behind.",
			metrics.culled);
	counter(buf, "pushd_notifications_total", "NOTIFY toggles messages received.",
			metrics.notifications);
	counter(buf, "pushd_notifications_ignored_total",
			"Notifications after which the log held nothing new (forged or redundant).",
			metrics.notifications_ignored);
	counter(buf, "pushd_auth_refused_total",
			"Requests refused for their token: missing, unknown, revoked, expired (401) or not loaded yet (503).",
			metrics.auth_refused);
	counter(buf, "pushd_token_closes_total",
			"Clients closed with 4003 because their token was revoked, expired or changed scope.",
			metrics.token_closes);
	counter(buf, "pushd_token_loads_total", "Times the token set was (re)loaded from toggles.tokens.",
			metrics.token_loads);
	gauge(buf, "pushd_tokens", "Tokens held in memory (revoked and expired included).",
		  (double) tokens_count());
	gauge(buf, "pushd_notification_queue_usage",
		  "pg_notification_queue_usage() at the last heartbeat.", metrics.queue_usage);

	textbuf_puts(buf, "# HELP pushd_notify_to_send_seconds From a notification's arrival to its change being queued for clients.\n"
				 "# TYPE pushd_notify_to_send_seconds histogram\n");
	for (i = 0; i < LATENCY_BUCKETS; i++)
		textbuf_printf(buf, "pushd_notify_to_send_seconds_bucket{le=\"%g\"} %llu\n",
					   latency_le[i], (unsigned long long) metrics.latency_buckets[i]);
	textbuf_printf(buf, "pushd_notify_to_send_seconds_bucket{le=\"+Inf\"} %llu\n"
				   "pushd_notify_to_send_seconds_sum %.9f\n"
				   "pushd_notify_to_send_seconds_count %llu\n",
				   (unsigned long long) metrics.latency_count, metrics.latency_sum,
				   (unsigned long long) metrics.latency_count);
	limits_render_metrics(buf);
	liveness_render_metrics(buf);
	listener_render_metrics(buf);
	ofrep_render_metrics(buf);
	sse_render_metrics(buf);
}
