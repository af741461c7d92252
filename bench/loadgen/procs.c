/*
 * procs.c — the fan-out scenario over several processes (`fanout --procs N`), for more
 * clients than one process has descriptors for.
 *
 * The parent forks N children that each hold a share of the clients with loadgen.c's
 * loop; it flips the toggle itself and records when each COMMIT returned.  They talk
 * through one shared mapping made before the fork: the parent posts a command (connect
 * up to a count, forget the receipts, exit) and each child acknowledges it; each child
 * keeps its receipts of every flip there (how many of its clients had it, when its last
 * one did), so "the last client" is the latest receipt over every process and "every
 * message delivered" is checked over all.  Every time is CLOCK_MONOTONIC, one clock for
 * every process of the machine.
 */
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_PROCS 32
#define MAX_FLIPS 1024
#define CONNECT_TIMEOUT_S 300

enum
{
	CMD_NONE, CMD_CONNECT, CMD_RESET, CMD_EXIT
};

/* What one child reports; written by that child only. */
typedef struct Child
{
	atomic_int	acked;			/* sequence number of the last command done */
	atomic_int	ready;
	atomic_int	lost;
	atomic_int	failed;
	atomic_int	protocol_errors;
	atomic_int	connect_failed;
	atomic_llong last_ready_t;
	atomic_uint count[MAX_FLIPS];
	atomic_llong max_t[MAX_FLIPS];
} Child;

/* The commands and the flips; written by the parent only. */
typedef struct Team
{
	atomic_int	seq;			/* incremented to post cmd */
	int			cmd;
	int			target[MAX_PROCS];
	int			concurrency;
	atomic_int	nflips;
	int64_t		version[MAX_FLIPS];
	Child		child[MAX_PROCS];
} Team;

static Team *team;
static int	nprocs;
static pid_t pids[MAX_PROCS];
static int	me;

/* ---- A child ---- */

/* child_report publishes this child's counts and its receipts of every flip so far. */
static void
child_report(void)
{
	Child	   *c = &team->child[me];
	int			nf = atomic_load(&team->nflips);

	for (int k = 0; k < nf; k++)
	{
		int64_t		v = team->version[k];
		VStat	   *s = &vring[v & (VRING - 1)];

		if (v > 0 && s->version == v)
		{
			atomic_store(&c->count[k], s->count);
			atomic_store(&c->max_t[k], s->max_t);
		}
	}
	atomic_store(&c->ready, nready);
	atomic_store(&c->lost, nlost);
	atomic_store(&c->failed, nfailed);
	atomic_store(&c->protocol_errors, nprotocol_errors);
	atomic_store(&c->last_ready_t, last_ready_t);
}

static void
child_main(void)
{
	Child	   *c = &team->child[me];
	int			done = 0;

	/* A child outlives no parent: its clients would be held for nothing. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	loop_open();
	after_pump = child_report;
	for (;;)
	{
		int			seq = atomic_load(&team->seq);

		if (seq != done)
		{
			switch (team->cmd)
			{
				case CMD_CONNECT:
					if (connect_clients(team->target[me], team->concurrency, CONNECT_TIMEOUT_S) < 0)
						atomic_store(&c->connect_failed, 1);
					break;
				case CMD_RESET:
					reset_receipts();
					for (int k = 0; k < MAX_FLIPS; k++)
					{
						atomic_store(&c->count[k], 0);
						atomic_store(&c->max_t[k], 0);
					}
					break;
				case CMD_EXIT:
					child_report();
					_exit(0);
			}
			child_report();
			done = seq;
			atomic_store(&c->acked, seq);
		}
		pump(10);
	}
}

/* ---- The parent ---- */

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* post gives every child a command; the children act on it between two rounds of their loop. */
static void
post(int cmd)
{
	team->cmd = cmd;
	atomic_fetch_add(&team->seq, 1);
}

/* wait_acks waits until every child has done the last command; false on a timeout or a dead child. */
static bool
wait_acks(double timeout_s)
{
	int			seq = atomic_load(&team->seq);
	int64_t		deadline = now_ns() + (int64_t) (timeout_s * 1e9);

	for (;;)
	{
		int			behind = 0;

		for (int k = 0; k < nprocs; k++)
		{
			int			st;

			if (atomic_load(&team->child[k].acked) == seq)
				continue;
			behind++;
			if (waitpid(pids[k], &st, WNOHANG) == pids[k])
			{
				fprintf(stderr, "loadgen: process %d of %d ended (status %d)\n", k + 1, nprocs, st);
				pids[k] = 0;
				return false;
			}
		}
		if (behind == 0)
			return true;
		if (now_ns() > deadline)
		{
			fprintf(stderr, "loadgen: %d of %d processes did not answer within %.0f s\n",
					behind, nprocs, timeout_s);
			return false;
		}
		sleep_ms(2);
	}
}

static int
sum_int(size_t offset)
{
	int			total = 0;

	for (int k = 0; k < nprocs; k++)
		total += atomic_load((atomic_int *) ((char *) &team->child[k] + offset));
	return total;
}

#define SUM(field) sum_int(offsetof(Child, field))

static uint64_t
received(int flip)
{
	uint64_t	total = 0;

	for (int k = 0; k < nprocs; k++)
		total += atomic_load(&team->child[k].count[flip]);
	return total;
}

static int64_t
last_receipt(int flip)
{
	int64_t		t = 0;

	for (int k = 0; k < nprocs; k++)
	{
		int64_t		x = atomic_load(&team->child[k].max_t[flip]);

		t = x > t ? x : t;
	}
	return t;
}

static bool
delivered(int flip)
{
	return received(flip) >= (uint64_t) SUM(ready);
}

/* wait_delivered waits until every client of every process has flip, or timeout_s. */
static bool
wait_delivered(int flip, double timeout_s)
{
	int64_t		deadline = now_ns() + (int64_t) (timeout_s * 1e9);

	while (!delivered(flip))
	{
		if (now_ns() > deadline)
			return false;
		sleep_ms(1);
	}
	return true;
}

/* connect_all brings every process to its share of n clients; the seconds it took, or -1. */
static double
connect_all(int n, int concurrency)
{
	int64_t		t0 = now_ns(), last = 0;

	for (int k = 0; k < nprocs; k++)
		team->target[k] = n / nprocs + (k < n % nprocs);
	team->concurrency = (concurrency + nprocs - 1) / nprocs;
	post(CMD_CONNECT);
	if (!wait_acks(CONNECT_TIMEOUT_S + 10) || SUM(connect_failed) > 0 || SUM(ready) < n)
		return -1;
	for (int k = 0; k < nprocs; k++)
	{
		int64_t		t = atomic_load(&team->child[k].last_ready_t);

		last = t > last ? t : last;
	}
	return (last - t0) / 1e9;
}

/* flip_all flips count times, each after the previous one reached every client of every process. */
static void
flip_all(int count, int64_t *t_commit)
{
	const char *sql = flip_sql();

	for (int k = 0; k < count; k++)
	{
		PGresult   *res = PQexec(pg, sql);
		int64_t		t = now_ns();

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			fprintf(stderr, "loadgen: flip failed: %s", PQerrorMessage(pg));
			team->version[k] = -1;
		}
		else
			team->version[k] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		t_commit[k] = t;
		atomic_store(&team->nflips, k + 1);
		if (team->version[k] > 0 && !wait_delivered(k, 10))
			fprintf(stderr, "loadgen: flip %lld not delivered to all within 10 s\n",
					(long long) team->version[k]);
		/* A pause, so one flip's tail does not overlap the next. */
		sleep_ms(20);
	}
	/* Drain: until every client has the last version, or 3 s. */
	if (count > 0 && team->version[count - 1] > 0)
		wait_delivered(count - 1, 3);
}

/* own_cpu_ns: the CPU time of the load generator, this process and every child. */
static int64_t
own_cpu_ns(void)
{
	int64_t		total = process_cpu_ns(getpid());

	for (int k = 0; k < nprocs; k++)
		if (pids[k] > 0)
			total += process_cpu_ns(pids[k]);
	return total;
}

static bool
step(int n, int repeat, int concurrency, double idle_s, long rss0)
{
	double		secs = connect_all(n, concurrency);
	int64_t		cpu0, cpu1, own0, own1;
	int64_t    *fan, t_commit[MAX_FLIPS];
	int			nf = 0, ready;
	double		missing = 0;
	uint64_t	messages = 0;

	if (secs < 0)
	{
		emit("fanout", n, "connect_failed", SUM(ready));
		return false;
	}
	emit("fanout", n, "connect_s", secs);
	sleep_ms(1000);
	emit_server_memory(n, rss0);
	if (idle_s > 0)
	{
		int			lost_before = SUM(lost);

		/* The children go on pumping: pings are answered, closes are counted. */
		sleep_ms((int) (idle_s * 1000));
		emit_idle(n, rss0, idle_s, SUM(lost) - lost_before);
	}

	atomic_store(&team->nflips, 0);
	post(CMD_RESET);
	if (!wait_acks(30))
		return false;
	cpu0 = server_cpu_ns();
	own0 = own_cpu_ns();
	flip_all(repeat, t_commit);
	cpu1 = server_cpu_ns();
	own1 = own_cpu_ns();
	ready = SUM(ready);
	fan = malloc(sizeof(int64_t) * (size_t) repeat);
	for (int k = 0; k < repeat; k++)
	{
		uint64_t	got = received(k);

		if (team->version[k] <= 0)
			continue;
		messages += got;
		if (got >= (uint64_t) ready)
			fan[nf++] = last_receipt(k) - t_commit[k];
		else
			missing += (double) ((uint64_t) ready - got);
		fprintf(stderr, "loadgen: %d clients: flip %d: %llu of %d received, the last after %.1f ms\n",
				n, k + 1, (unsigned long long) got, ready, (last_receipt(k) - t_commit[k]) / 1e6);
	}
	emit_stats("fanout", n, "fanout", fan, (size_t) nf);
	emit("fanout", n, "missing", missing);
	if (cpu0 >= 0 && messages > 0)
		emit("fanout", n, "cpu_us_per_msg", (cpu1 - cpu0) / 1e3 / (double) messages);
	if (messages > 0)
		emit("fanout", n, "loadgen_cpu_us_per_msg", (own1 - own0) / 1e3 / (double) messages);
	emit("fanout", n, "lost", SUM(lost));
	emit("fanout", n, "procs", nprocs);
	free(fan);
	return true;
}

void
procs_fanout(int procs, const int *steps, int nsteps, int repeat, int concurrency, double idle_s)
{
	long		rss0;

	if (procs > MAX_PROCS || repeat > MAX_FLIPS)
	{
		fprintf(stderr, "loadgen: at most %d processes and %d flips per step\n", MAX_PROCS, MAX_FLIPS);
		exit(2);
	}
	for (int s = 0; s < nsteps; s++)
		if ((steps[s] + procs - 1) / procs > nconns_max)
		{
			fprintf(stderr, "loadgen: %d clients need more than %d processes (%d descriptors each)\n",
					steps[s], procs, nconns_max);
			exit(2);
		}
	team = mmap(NULL, sizeof(Team), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (team == MAP_FAILED)
	{
		perror("loadgen: mmap");
		exit(1);
	}
	nprocs = procs;
	fflush(stdout);
	for (int k = 0; k < procs; k++)
	{
		pid_t		pid = fork();

		if (pid < 0)
		{
			perror("loadgen: fork");
			exit(1);
		}
		if (pid == 0)
		{
			me = k;
			child_main();
		}
		pids[k] = pid;
	}

	rss0 = server_rss_kib();
	emit("memory", 0, "rss_kib", (double) rss0);
	for (int s = 0; s < nsteps; s++)
		if (!step(steps[s], repeat, concurrency, idle_s, rss0))
			break;
	nprotocol_errors = SUM(protocol_errors);

	post(CMD_EXIT);
	for (int k = 0; k < procs; k++)
		if (pids[k] > 0)
		{
			int64_t		deadline = now_ns() + 30 * (int64_t) 1000000000;

			while (waitpid(pids[k], NULL, WNOHANG) == 0)
			{
				if (now_ns() > deadline)
				{
					kill(pids[k], SIGKILL);
					waitpid(pids[k], NULL, 0);
					break;
				}
				sleep_ms(10);
			}
		}
}
