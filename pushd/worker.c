/*
 * worker.c — this process as one worker of the service (see worker.h).
 *
 * Every HEARTBEAT_US the worker writes the time and its client count into its slot of the
 * shared region; the parent (supervisor.c) kills a worker whose heartbeat stops.  The
 * database link's state goes into the slot as it changes, so /healthz of any worker can
 * answer for all of them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "conn_limits.h"
#include "listener.h"
#include "log.h"
#include "pglink.h"
#include "pushd.h"
#include "shared.h"
#include "worker.h"

#define HEARTBEAT_US (250 * 1000)

static lws_sorted_usec_list_t heartbeat_timer;
static uint64_t accept_stops;

char *
worker_node_name(const char *name)
{
	char	   *node;

	if (shared_nworkers() <= 1)
		return strdup(name);
	if (asprintf(&node, "%s/w%d", name, shared_worker() + 1) < 0)
		return NULL;
	return node;
}

/*
 * The counters /metrics sums over the workers, those of a worker that ended included
 * (shared_retired): the service's connections and what they cost.  Published with each
 * heartbeat and before each rendering; a killed worker's last 250 ms are lost.
 */
typedef struct ServiceCounter
{
	const char *name;
	const char *labels;
	const char *help;			/* NULL: another row of the family above */
	const uint64_t *local;		/* this worker's counter */
} ServiceCounter;

static const ServiceCounter service_counters[] = {
	{"pushd_service_connections_accepted_total", NULL,
	"TCP connections accepted by every worker.", &limit_counters.accepted},
	{"pushd_service_connections_refused_total", "{limit=\"max-connections\"}",
	"TCP connections refused by every worker for a connection limit.", &limit_counters.refused_total},
	{"pushd_service_connections_refused_total", "{limit=\"max-connections-per-ip\"}", NULL,
	&limit_counters.refused_per_ip},
	{"pushd_service_handshake_timeouts_total", NULL,
	"Connections closed by --handshake-timeout, every worker.", &limit_counters.handshake_timeouts},
	{"pushd_service_messages_sent_total", NULL, "Messages written to clients by every worker.",
	&metrics.messages_sent},
	{"pushd_service_bytes_sent_total", NULL, "Bytes written to clients by every worker.",
	&metrics.bytes_sent},
};

#define NSERVICE (sizeof(service_counters) / sizeof(service_counters[0]))

_Static_assert(NSERVICE <= SHARED_COUNTERS, "SHARED_COUNTERS too small");

static uint64_t service_sums[NSERVICE];

_Static_assert(METRIC_VALUES <= SHARED_VALUES, "SHARED_VALUES too small");

static double published[METRIC_VALUES];

static double
bits_to_double(uint64_t bits)
{
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void
publish(void)
{
	WorkerSlot *slot = shared_slot(shared_worker());

	int			n;

	for (size_t i = 0; i < NSERVICE; i++)
		atomic_store(&slot->counters[i], *service_counters[i].local);
	n = metrics_publish(published, METRIC_VALUES);
	for (int i = 0; i < n; i++)
	{
		uint64_t	bits;

		memcpy(&bits, &published[i], sizeof(bits));
		atomic_store(&slot->values[i], bits);
	}
	atomic_store(&slot->clients, clients_count());
	atomic_store(&slot->heartbeat_us, now_us());
}

/* other_link_up: another worker's database link is up (it can take this one's clients). */
static bool
other_link_up(void)
{
	for (int k = 0; k < shared_nworkers(); k++)
		if (k != shared_worker() && atomic_load(&shared_slot(k)->link_up))
			return true;
	return false;
}

/*
 * follow_link: of several workers, one whose database link is down closes its listening
 * socket while another's is up, so that the kernel sends new clients to those that can
 * serve them, and opens it again when its link is back (or when no worker's link is up:
 * then it answers as a single pushd would, 503 while the outage lasts).
 */
static void
follow_link(void)
{
	bool		mine = atomic_load(&shared_slot(shared_worker())->link_up) != 0;
	bool		want_open = mine || !other_link_up();

	if (shared_nworkers() <= 1 || pushd.shutting_down || want_open == listener_is_open())
		return;
	if (!want_open)
	{
		log_warn("database link down: this worker stops accepting while another can serve");
		accept_stops++;
		listener_close();
	}
	else if (listener_start())
		log_info("accepting again (%s)", mine ? "database link up" : "no worker's link is up");
}

static void
heartbeat(lws_sorted_usec_list_t *sul)
{
	publish();
	follow_link();
	lws_sul_schedule(pushd.context, 0, sul, heartbeat, HEARTBEAT_US);
}

void
worker_start(void)
{
	atomic_store(&shared_slot(shared_worker())->ready, true);
	heartbeat(&heartbeat_timer);
}

void
worker_stop(void)
{
	lws_sul_cancel(&heartbeat_timer);
}

void
worker_link_changed(bool ready)
{
	atomic_store(&shared_slot(shared_worker())->link_up, ready ? 1 : 0);
	/* Back: accept at once; lost: at the next heartbeat, which also sees the others. */
	if (ready)
		follow_link();
}

bool
worker_all_links_up(void)
{
	for (int k = 0; k < shared_nworkers(); k++)
		if (!atomic_load(&shared_slot(k)->link_up))
			return false;
	return true;
}

static bool
service_running(int k)
{
	return atomic_load(&shared_slot(k)->pid) != 0;
}

static double
service_value(int k, int i)
{
	return bits_to_double(atomic_load(&shared_slot(k)->values[i]));
}

static double
service_retired(int i)
{
	return bits_to_double(atomic_load(&shared_retired()->values[i]));
}

static MetricService metric_service = {1, service_running, service_value, service_retired};

/* sum_counters: before a rendering, the service's sums of service_counters. */
static void
sum_counters(void)
{
	publish();
	for (size_t i = 0; i < NSERVICE; i++)
	{
		uint64_t	n = atomic_load(&shared_retired()->counters[i]);

		for (int k = 0; k < shared_nworkers(); k++)
			n += atomic_load(&shared_slot(k)->counters[i]);
		service_sums[i] = n;
	}
}

static double
service_connections(void)
{
	return shared_connections();
}

static double
service_clients(void)
{
	uint64_t	n = 0;

	publish();
	for (int k = 0; k < shared_nworkers(); k++)
		n += atomic_load(&shared_slot(k)->clients);
	return (double) n;
}

static double
worker_count(void)
{
	int			n = 0;

	for (int k = 0; k < shared_nworkers(); k++)
		n += atomic_load(&shared_slot(k)->pid) != 0;
	return n;
}

static double
this_worker(void)
{
	return shared_worker() + 1;
}

static const MetricDef totals[] = {
	{"pushd_worker_answering", "The worker (1 to --workers) that rendered this page.",
	METRIC_GAUGE, NULL, NULL, this_worker, NULL},
	{"pushd_workers", "Worker processes running (--workers).", METRIC_GAUGE, NULL, NULL,
	worker_count, NULL},
	{"pushd_worker_accept_stops_total",
		"Times this worker closed its listening socket: its database link was down, another's up.",
	METRIC_COUNTER, NULL, &accept_stops, NULL, NULL},
	{"pushd_service_connections", "Open TCP connections of every worker (the limits' count).",
	METRIC_GAUGE, NULL, NULL, service_connections, NULL},
	{"pushd_service_clients", "Stream clients of every worker (as of their last heartbeat).",
	METRIC_GAUGE, NULL, NULL, service_clients, NULL},
};

/* One family per field of WorkerSlot, a row per worker. */
typedef struct WorkerFamily
{
	const char *name;
	const char *help;
	MetricKind	kind;
	size_t		offset;			/* of the field in WorkerSlot */
} WorkerFamily;

static const WorkerFamily families[] = {
	{"pushd_worker_connections", "Open TCP connections per worker.", METRIC_GAUGE_AT,
	offsetof(WorkerSlot, connections)},
	{"pushd_worker_clients", "Stream clients per worker (as of its last heartbeat).",
	METRIC_GAUGE_AT, offsetof(WorkerSlot, clients)},
	{"pushd_worker_database_up", "1 when the worker's database link is up and its cache current.",
	METRIC_GAUGE_AT, offsetof(WorkerSlot, link_up)},
	{"pushd_worker_starts_total", "Times the worker was started (1 + its restarts).",
	METRIC_COUNTER, offsetof(WorkerSlot, starts)},
};

#define NTOTALS (sizeof(totals) / sizeof(totals[0]))
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static MetricDef rows[NTOTALS + NSERVICE + NFAMILIES * MAX_WORKERS];
static char labels[MAX_WORKERS][24];

const MetricDef *
worker_metric_rows(int *nrows)
{
	int			n = 0;

	for (size_t i = 0; i < NTOTALS; i++)
		rows[n++] = totals[i];
	for (size_t i = 0; i < NSERVICE; i++)
	{
		MetricDef  *r = &rows[n++];

		memset(r, 0, sizeof(*r));
		r->name = service_counters[i].name;
		r->help = service_counters[i].help;
		r->kind = METRIC_COUNTER;
		r->labels = service_counters[i].labels;
		r->counter = &service_sums[i];
	}
	metrics_on_render(sum_counters);
	metric_service.nworkers = shared_nworkers();
	metrics_set_service(&metric_service);
	for (int k = 0; k < shared_nworkers(); k++)
		snprintf(labels[k], sizeof(labels[k]), "{worker=\"%d\"}", k + 1);
	for (size_t f = 0; f < NFAMILIES; f++)
	{
		for (int k = 0; k < shared_nworkers(); k++)
		{
			MetricDef  *r = &rows[n++];

			memset(r, 0, sizeof(*r));
			r->name = families[f].name;
			r->help = k == 0 ? families[f].help : NULL;
			r->kind = families[f].kind;
			r->labels = labels[k];
			/* A field another process writes: read as it is at rendering (aligned, 64 bits). */
			r->counter = (const uint64_t *) ((const char *) shared_slot(k) + families[f].offset);
		}
	}
	*nrows = n;
	return rows;
}
