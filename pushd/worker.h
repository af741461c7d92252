/*
 * worker.h — a process of the service as the shared region sees it (shared.h): its node
 * name, its heartbeat, its database link's state, and the service's state that it reads
 * back for /healthz and /metrics.  With --workers 1 the region has this one worker.
 */
#ifndef PUSHD_WORKER_H
#define PUSHD_WORKER_H

#include <stdbool.h>

#include "metrics.h"

/* worker_node_name: NAME, or NAME/wK for worker K of --workers N > 1; malloc'd. */
extern char *worker_node_name(const char *name);

/* worker_start starts the heartbeat (pushd.context exists); worker_stop ends it. */
extern void worker_start(void);
extern void worker_stop(void);

/* worker_link_changed: a pglink state hook (main.c wires it). */
extern void worker_link_changed(bool ready);

/* worker_all_links_up: every worker's database link is up (/healthz). */
extern bool worker_all_links_up(void);

/*
 * worker_metric_rows: the rows of /metrics of the service's workers, the totals and one
 * series per worker (made once, for shared_nworkers(); *nrows is set).
 */
extern const MetricDef *worker_metric_rows(int *nrows);

#endif
