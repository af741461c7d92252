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
#include "pglink.h"
#include "pushd.h"
#include "shared.h"
#include "worker.h"

#define HEARTBEAT_US (250 * 1000)

static lws_sorted_usec_list_t heartbeat_timer;

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

static void
publish(void)
{
	WorkerSlot *slot = shared_slot(shared_worker());

	atomic_store(&slot->clients, clients_count());
	atomic_store(&slot->heartbeat_us, now_us());
}

static void
heartbeat(lws_sorted_usec_list_t *sul)
{
	publish();
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
}

bool
worker_all_links_up(void)
{
	for (int k = 0; k < shared_nworkers(); k++)
		if (!atomic_load(&shared_slot(k)->link_up))
			return false;
	return true;
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

static MetricDef rows[NTOTALS + NFAMILIES * MAX_WORKERS];
static char labels[MAX_WORKERS][24];

const MetricDef *
worker_metric_rows(int *nrows)
{
	int			n = 0;

	for (size_t i = 0; i < NTOTALS; i++)
		rows[n++] = totals[i];
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
