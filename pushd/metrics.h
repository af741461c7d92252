/*
 * metrics.h — counters and the notify-to-send latency histogram, exported in Prometheus
 * text format on GET /metrics.
 */
#ifndef PUSHD_METRICS_H
#define PUSHD_METRICS_H

#include <stdbool.h>
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
	uint64_t	future_waits;		/* requests that waited: their ETag came from ahead */
	uint64_t	future_refused;		/* requests answered 503: their ETag came from ahead */
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

typedef enum MetricKind
{
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
	METRIC_GAUGE_AT				/* a gauge read from *counter (kept by another process) */
} MetricKind;

/* A histogram's buckets (cumulative, as Prometheus counts them), count and sum. */
typedef struct MetricHistogram
{
	int			nbuckets;
	const double *le;			/* upper bounds, ascending; +Inf is added */
	const uint64_t *buckets;
	const uint64_t *count;
	const double *sum;
} MetricHistogram;

/*
 * MetricDef: one row of /metrics.  A family is a row with help and the rows after it
 * with help NULL (the same name, other labels).  Each module that counts something owns
 * its rows (a static table next to its counters); metrics_register puts them on /metrics.
 */
typedef struct MetricDef
{
	const char *name;
	const char *help;			/* NULL: another row of the family above */
	MetricKind	kind;
	const char *labels;			/* {name="value"}, or NULL */
	const uint64_t *counter;	/* METRIC_COUNTER, METRIC_GAUGE_AT */
	double		(*gauge) (void);	/* METRIC_GAUGE */
	const MetricHistogram *histogram;	/* METRIC_HISTOGRAM */
} MetricDef;

/*
 * metrics_register appends a module's rows to the one table /metrics is rendered from,
 * after those registered before (main.c, at start-up; the rows must outlive it).
 * Returns false, registering nothing, when a family of theirs is on the table already.
 */
extern bool metrics_register(const MetricDef *rows, int nrows);

/*
 * metrics_on_render sets what is called before each rendering (values another process
 * keeps are brought up to date); NULL for nothing.
 */
extern void metrics_on_render(void (*hook) (void));

/*
 * Several processes (--workers): each publishes the values of its rows (metrics_publish,
 * registration order: one per counter or gauge, a histogram's buckets then count then sum),
 * and any of them renders the service: counters and histograms summed over every worker
 * (those that ended included: MetricService.retired), gauges one line per running worker
 * with a worker="K" label.  Rows registered with metrics_register_service are the
 * service's already and are rendered as they are (and not published).
 */
#define METRIC_VALUES 256

typedef struct MetricService
{
	int			nworkers;
	bool		(*running) (int k);
	double		(*value) (int k, int i);	/* worker k's value i, as last published */
	double		(*retired) (int i);	/* value i summed over the workers that ended */
} MetricService;

extern bool metrics_register_service(const MetricDef *rows, int nrows);

/* metrics_publish writes this process's values into out (at most max); returns how many. */
extern int	metrics_publish(double *out, int max);

/* metrics_set_service: render for the service (NULL or nworkers 1: this process alone). */
extern void metrics_set_service(const MetricService *service);

/* metrics_render appends the exposition text of every registered row, in order. */
extern void metrics_render(TextBuf *buf);

/* metrics_reset forgets every registered table (between unit tests). */
extern void metrics_reset(void);

/* The rows of metrics.c's own counters (Metrics) and of the latency histogram. */
extern const MetricDef metrics_rows[];
extern const int metrics_nrows;

#endif
