/*
 * metrics.c — Prometheus exposition of pushd's counters (see metrics.h): one table of rows,
 * each module's own appended at start-up, rendered in order.
 */
#include <string.h>

#include "metrics.h"

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

#define COUNTER(name, help, field) {name, help, METRIC_COUNTER, NULL, &metrics.field, NULL, NULL}

static double
queue_usage(void)
{
	return metrics.queue_usage;
}

static const MetricHistogram latency = {
	LATENCY_BUCKETS, latency_le, metrics.latency_buckets, &metrics.latency_count,
	&metrics.latency_sum
};

const MetricDef metrics_rows[] = {
	COUNTER("pushd_evaluations_total", "Evaluations of a toggle for a group.", evaluations),
	COUNTER("pushd_schedule_reevaluations_total",
			"Times a time-dependent toggle's windows opened or closed.", schedule_reevaluations),
	COUNTER("pushd_schedule_changes_total",
			"Change messages with cause \"schedule\" (one per group whose results changed).",
			schedule_changes),
	COUNTER("pushd_messages_sent_total", "Messages written to clients.", messages_sent),
	COUNTER("pushd_bytes_sent_total", "Message bytes written to clients.", bytes_sent),
	COUNTER("pushd_changes_applied_total", "Committed transactions applied to the cache.",
			changes_applied),
	COUNTER("pushd_epoch_changes_total", "Times a new epoch forced a full resync.", epoch_changes),
	COUNTER("pushd_epoch_refusals_total",
			"Times a database on an earlier timeline than the one followed was refused.",
			epoch_refusals),
	COUNTER("pushd_reconnects_total", "Database reconnection attempts.", reconnects),
	COUNTER("pushd_database_timeouts_total",
			"Database hosts or queries given up because no answer came in time.", db_timeouts),
	COUNTER("pushd_database_probes_total",
			"Reads of the log sent to probe a database link that was idle.", db_probes),
	COUNTER("pushd_outage_closes_total",
			"Clients closed with 1013 because the database link stayed down past --outage-grace.",
			outage_closes),
	COUNTER("pushd_outage_refused_total",
			"Handshakes and requests answered 503 while the database link was down past --outage-grace or before the first load.",
			outage_refused),
	COUNTER("pushd_future_closes_total",
			"Clients closed with 1013 because they resumed from a version this node did not reach within --future-wait.",
			future_closes),
	COUNTER("pushd_future_waits_total",
			"GET /v1/toggles and OFREP evaluations that waited up to --future-wait: their If-None-Match (or flagConfigEtag) named a version this node had not reached.",
			future_waits),
	COUNTER("pushd_future_refused_total",
			"GET /v1/toggles and OFREP evaluations answered 503: their If-None-Match (or flagConfigEtag) named a version this node had not reached within --future-wait.",
			future_refused),
	COUNTER("pushd_coalesced_total", "Times a lagging client's backlog was coalesced.", coalesced),
	COUNTER("pushd_culled_clients_total", "Clients closed for falling too far behind.", culled),
	COUNTER("pushd_notifications_total", "NOTIFY toggles messages received.", notifications),
	COUNTER("pushd_notifications_ignored_total",
			"Notifications after which the log held nothing new (forged or redundant).",
			notifications_ignored),
	COUNTER("pushd_auth_refused_total",
			"Requests refused for their token: missing, unknown, revoked, expired (401) or not loaded yet (503).",
			auth_refused),
	COUNTER("pushd_token_closes_total",
			"Clients closed with 4003 because their token was revoked, expired or changed scope.",
			token_closes),
	COUNTER("pushd_token_loads_total", "Times the token set was (re)loaded from toggles.tokens.",
			token_loads),
	{"pushd_notification_queue_usage", "pg_notification_queue_usage() at the last heartbeat.",
	METRIC_GAUGE, NULL, NULL, queue_usage, NULL},
	{"pushd_notify_to_send_seconds",
		"From a notification's arrival to its change being queued for clients.",
	METRIC_HISTOGRAM, NULL, NULL, NULL, &latency},
};
const int	metrics_nrows = sizeof(metrics_rows) / sizeof(metrics_rows[0]);

/* The table /metrics is rendered from: the modules' rows, in the order registered. */
#define MAX_TABLES 32
static struct
{
	const MetricDef *rows;
	int			nrows;
	bool		as_is;			/* the service's already (metrics_register_service) */
}			tables[MAX_TABLES];
static int	ntables;
static const MetricService *service;

static void (*render_hook) (void);

static bool
registered(const char *name)
{
	int			t;
	int			i;

	for (t = 0; t < ntables; t++)
		for (i = 0; i < tables[t].nrows; i++)
			if (tables[t].rows[i].help && strcmp(tables[t].rows[i].name, name) == 0)
				return true;
	return false;
}

static bool
register_table(const MetricDef *rows, int nrows, bool as_is)
{
	int			i;

	if (ntables == MAX_TABLES)
		return false;
	for (i = 0; i < nrows; i++)
		if (rows[i].help && registered(rows[i].name))
			return false;
	tables[ntables].rows = rows;
	tables[ntables].nrows = nrows;
	tables[ntables].as_is = as_is;
	ntables++;
	return true;
}

bool
metrics_register(const MetricDef *rows, int nrows)
{
	return register_table(rows, nrows, false);
}

bool
metrics_register_service(const MetricDef *rows, int nrows)
{
	return register_table(rows, nrows, true);
}

void
metrics_set_service(const MetricService *s)
{
	service = s;
}

/* row_values: how many values a row publishes. */
static int
row_values(const MetricDef *row)
{
	return row->kind == METRIC_HISTOGRAM ? row->histogram->nbuckets + 2 : 1;
}

int
metrics_publish(double *out, int max)
{
	int			n = 0;

	for (int t = 0; t < ntables; t++)
	{
		if (tables[t].as_is)
			continue;
		for (int i = 0; i < tables[t].nrows; i++)
		{
			const MetricDef *row = &tables[t].rows[i];

			if (n + row_values(row) > max)
				return n;
			switch (row->kind)
			{
				case METRIC_COUNTER:
				case METRIC_GAUGE_AT:
					out[n++] = (double) *row->counter;
					break;
				case METRIC_GAUGE:
					out[n++] = row->gauge();
					break;
				case METRIC_HISTOGRAM:
					for (int b = 0; b < row->histogram->nbuckets; b++)
						out[n++] = (double) row->histogram->buckets[b];
					out[n++] = (double) *row->histogram->count;
					out[n++] = *row->histogram->sum;
					break;
			}
		}
	}
	return n;
}

/* sum: value i over every worker, those that ended included. */
static double
sum(int i)
{
	double		v = service->retired(i);

	for (int k = 0; k < service->nworkers; k++)
		v += service->value(k, i);
	return v;
}

/* render_help: the family's HELP and TYPE lines, from the row that opens it. */
static void
render_help(TextBuf *buf, const MetricDef *row)
{
	static const char *const kinds[] = {"counter", "gauge", "histogram", "gauge"};

	if (row->help)
		textbuf_printf(buf, "# HELP %s %s\n# TYPE %s %s\n", row->name, row->help, row->name,
					   kinds[row->kind]);
}

/* render_service_row renders row, whose values start at index i, for the service. */
static void
render_service_row(TextBuf *buf, const MetricDef *row, int i)
{
	render_help(buf, row);
	switch (row->kind)
	{
		case METRIC_COUNTER:
			textbuf_printf(buf, "%s%s %.17g\n", row->name, row->labels ? row->labels : "", sum(i));
			break;
		case METRIC_GAUGE:
		case METRIC_GAUGE_AT:
			for (int k = 0; k < service->nworkers; k++)
			{
				const char *l = row->labels;
				size_t		ll = l ? strlen(l) : 0;

				if (!service->running(k))
					continue;
				/* {a="b"} becomes {a="b",worker="K"}; none, {worker="K"}. */
				textbuf_printf(buf, "%s{%.*s%sworker=\"%d\"} %.17g\n", row->name,
							   ll >= 2 ? (int) (ll - 2) : 0, ll >= 2 ? l + 1 : "",
							   ll > 2 ? "," : "", k + 1, service->value(k, i));
			}
			break;
		case METRIC_HISTOGRAM:
			{
				const MetricHistogram *h = row->histogram;
				int			nb = h->nbuckets;

				for (int b = 0; b < nb; b++)
					textbuf_printf(buf, "%s_bucket{le=\"%g\"} %.17g\n", row->name, h->le[b],
								   sum(i + b));
				textbuf_printf(buf, "%s_bucket{le=\"+Inf\"} %.17g\n%s_sum %.9f\n%s_count %.17g\n",
							   row->name, sum(i + nb), row->name, sum(i + nb + 1), row->name,
							   sum(i + nb));
			}
			break;
	}
}

void
metrics_reset(void)
{
	ntables = 0;
	render_hook = NULL;
	service = NULL;
}

static void
render_histogram(TextBuf *buf, const char *name, const MetricHistogram *h)
{
	int			i;

	for (i = 0; i < h->nbuckets; i++)
		textbuf_printf(buf, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i],
					   (unsigned long long) h->buckets[i]);
	textbuf_printf(buf, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
				   name, (unsigned long long) *h->count, name, *h->sum, name,
				   (unsigned long long) *h->count);
}

static void
render_row(TextBuf *buf, const MetricDef *row)
{
	render_help(buf, row);
	switch (row->kind)
	{
		case METRIC_COUNTER:
		case METRIC_GAUGE_AT:
			textbuf_printf(buf, "%s%s %llu\n", row->name, row->labels ? row->labels : "",
						   (unsigned long long) *row->counter);
			break;
		case METRIC_GAUGE:
			textbuf_printf(buf, "%s%s %.17g\n", row->name, row->labels ? row->labels : "",
						   row->gauge());
			break;
		case METRIC_HISTOGRAM:
			render_histogram(buf, row->name, row->histogram);
			break;
	}
}

void
metrics_on_render(void (*hook) (void))
{
	render_hook = hook;
}

void
metrics_render(TextBuf *buf)
{
	int			t;
	int			i;

	if (render_hook)
		render_hook();
	if (service && service->nworkers > 1)
	{
		int			v = 0;

		for (t = 0; t < ntables; t++)
			for (i = 0; i < tables[t].nrows; i++)
			{
				const MetricDef *row = &tables[t].rows[i];

				/* As metrics_publish: the rows past the first that does not fit are left out. */
				if (tables[t].as_is)
					render_row(buf, row);
				else if (v + row_values(row) <= METRIC_VALUES)
				{
					render_service_row(buf, row, v);
					v += row_values(row);
				}
				else
					v = METRIC_VALUES + 1;
			}
		return;
	}
	for (t = 0; t < ntables; t++)
		for (i = 0; i < tables[t].nrows; i++)
			render_row(buf, &tables[t].rows[i]);
}
