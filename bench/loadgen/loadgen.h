/*
 * loadgen.h — what the load generator's files share: the client loop and its receipts
 * (loadgen.c), the server's memory and CPU (server.c), and the fan-out over several
 * processes (procs.c).
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define VRING (1u << 20)		/* per-version delivery stats, indexed by version */
#define PROC_CLIENTS 16000		/* clients per process when --procs is not given */

/* Receipts of one version: how many clients had it, and when the last one did. */
typedef struct VStat
{
	int64_t		version;
	uint32_t	count;
	int64_t		max_t;
} VStat;

extern int	opt_pid;
extern int	nconns_max;			/* clients one process can hold (its descriptors) */
extern int	nready;
extern int	nfailed;
extern int	nlost;
extern int	nprotocol_errors;
extern int64_t last_ready_t;
extern VStat *vring;
extern uint64_t received_changes;
extern int	sample_every;
extern PGconn *pg;
extern void (*after_pump) (void);

extern int64_t now_ns(void);
extern void emit(const char *scenario, int clients, const char *metric, double value);
extern void emit_stats(const char *scenario, int clients, const char *name, int64_t *v, size_t n);
extern void emit_idle(int n, long rss0, double idle_s, int lost);
extern long server_rss_kib(void);
extern int64_t server_cpu_ns(void);
extern int64_t process_cpu_ns(int pid);
extern void emit_server_memory(int n, long rss0);
extern void loop_open(void);
extern double connect_clients(int target, int concurrency, double timeout_s);
extern void pump(int timeout_ms);
extern void pump_for(double seconds);
extern const char *flip_sql(void);
extern void reset_receipts(void);
extern void procs_fanout(int procs, const int *steps, int nsteps, int repeat, int concurrency,
						 double idle_s);

#endif
