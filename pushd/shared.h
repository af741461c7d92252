/*
 * shared.h — the region the processes of one service share (--workers): a slot per worker
 * (its heartbeat, whether its database link is up, what it serves) and the connection
 * counts the limits hold the whole service to (in total and per address), so that a
 * refusal is exact whichever worker accepted the connection.  The parent maps it
 * (MAP_SHARED, anonymous) before it forks and before lws, OpenSSL or libpq start; a single
 * process (--workers 1) uses the same code with a region of one worker.
 */
#ifndef PUSHD_SHARED_H
#define PUSHD_SHARED_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Counters a worker publishes for the service's sums (worker.c). */
#define SHARED_COUNTERS 8

/* /metrics values a worker publishes (metrics.h: METRIC_VALUES). */
#define SHARED_VALUES 256

/* What a worker publishes about itself; written by it alone, read by every process. */
typedef struct WorkerSlot
{
	_Atomic int pid;			/* 0: not running */
	_Atomic int64_t heartbeat_us;	/* now_us() of its last heartbeat (CLOCK_MONOTONIC) */
	_Atomic bool ready;			/* set up and serving */
	/* The values below are also /metrics gauges (uint64_t for MetricDef.counter). */
	_Atomic uint64_t link_up;	/* 1: its database link is up and its cache current */
	_Atomic uint64_t clients;	/* stream clients it serves, as of its last heartbeat */
	_Atomic uint64_t connections;	/* open TCP connections it counted (shared_conn_open) */
	_Atomic uint64_t starts;	/* times it was started */
	/* Its counters that /metrics sums for the service (worker.c says which). */
	_Atomic uint64_t counters[SHARED_COUNTERS];
	/* Its /metrics values (doubles' bits; metrics_publish), as of its last heartbeat. */
	_Atomic uint64_t values[SHARED_VALUES];
} WorkerSlot;

/* Outcome of shared_conn_open and shared_addr_move. */
typedef enum SharedRefusal
{
	SHARED_OK,
	SHARED_OVER_TOTAL,			/* the service holds max_total connections */
	SHARED_OVER_ADDRESS,		/* the address holds max_per_address */
	SHARED_TABLE_FULL			/* too many distinct addresses at once (SHARED_ADDRESSES) */
} SharedRefusal;

/* Distinct client addresses the region counts at once. */
#define SHARED_ADDRESSES 98304

/* shared_create maps the region for nworkers processes; false (logged) when it cannot. */
extern bool shared_create(int nworkers);

/* shared_set_worker: this process is worker k (0-based); the parent is worker 0 until it forks. */
extern void shared_set_worker(int k);
extern int	shared_worker(void);
extern int	shared_nworkers(void);
extern WorkerSlot *shared_slot(int k);

/*
 * shared_conn_open counts one connection from addr for this worker, unless the service
 * already holds max_total connections, or (max_per_address > 0) addr holds that many.
 */
extern SharedRefusal shared_conn_open(const struct in6_addr *addr, int max_total,
									  int max_per_address);

/* shared_conn_close undoes shared_conn_open of this worker. */
extern void shared_conn_close(const struct in6_addr *addr);

/*
 * shared_addr_move counts a connection of this worker under to instead of from (a client
 * named by X-Forwarded-For), unless to holds max_per_address (> 0) already.
 */
extern SharedRefusal shared_addr_move(const struct in6_addr *from, const struct in6_addr *to,
									  int max_per_address);

/* shared_connections: open connections of the whole service; of worker k. */
extern int	shared_connections(void);
extern int	shared_worker_connections(int k);

/* shared_address_connections: the service's open connections from addr. */
extern int	shared_address_connections(const struct in6_addr *addr);

/*
 * shared_retired: what the workers that ended had counted (their counters, added up when
 * the parent reaps them), so that the service's sums never go back.
 */
extern WorkerSlot *shared_retired(void);

/*
 * shared_forget_worker: worker k is gone (the parent reaped it); drop its connections from
 * the counts and move its counters to shared_retired().
 */
extern void shared_forget_worker(int k);

#endif
