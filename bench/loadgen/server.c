/*
 * server.c — what the load generator reads of the server under test: its resident memory
 * and CPU time, summed over the process given with --pid and its children so that a server
 * of several processes (pushd --workers: the parent and every worker) counts whole, and
 * the memory report after a connect.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

#define MAX_SERVER_PIDS 64

/*
 * server_pids fills pids with --pid and its direct children (from the parent field of
 * /proc/N/stat, which follows the command name in parentheses); returns how many, 0
 * without --pid.
 */
static int
server_pids(int *pids, int max)
{
	DIR		   *d;
	struct dirent *e;
	int			n = 0;

	if (opt_pid <= 0 || max < 1)
		return 0;
	pids[n++] = opt_pid;
	if ((d = opendir("/proc")) == NULL)
		return n;
	while ((e = readdir(d)) != NULL && n < max)
	{
		char		path[300], line[512];
		FILE	   *f;
		const char *close_paren;
		int			ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
			(close_paren = strrchr(line, ')')) != NULL &&
			sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == opt_pid)
			pids[n++] = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* process_rss_kib: one process's VmRSS; -1 when it is gone. */
static int64_t
process_rss_kib(int pid)
{
	char		path[64], line[256];
	FILE	   *f;
	int64_t		kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* sum_over_server: read summed over the server's processes that answer; -1 without --pid. */
static int64_t
sum_over_server(int64_t (*read) (int pid))
{
	int			pids[MAX_SERVER_PIDS];
	int			n = server_pids(pids, MAX_SERVER_PIDS);
	int64_t		total = -1;

	for (int k = 0; k < n; k++)
	{
		int64_t		v = read(pids[k]);

		if (v >= 0)
			total = (total < 0 ? 0 : total) + v;
	}
	return total;
}

/* server_rss_kib sums VmRSS over the server's processes; -1 without --pid. */
long
server_rss_kib(void)
{
	return (long) sum_over_server(process_rss_kib);
}

/*
 * process_cpu_ns sums the CPU time of every thread of one process from schedstat
 * (nanoseconds, unlike the clock ticks of /proc/PID/stat); -1 when it is gone.
 */
int64_t
process_cpu_ns(int pid)
{
	char		path[64];
	DIR		   *d;
	struct dirent *e;
	int64_t		total = -1;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
	{
		char		p[300];
		FILE	   *f;
		long long	ns;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		if ((f = fopen(p, "r")) == NULL)
			continue;
		if (fscanf(f, "%lld", &ns) == 1)
			total = (total < 0 ? 0 : total) + ns;
		fclose(f);
	}
	closedir(d);
	return total;
}

/*
 * server_cpu_ns sums the CPU time of the server's processes and all their threads (Node
 * has several threads, pushd --workers several processes); -1 without --pid.
 */
int64_t
server_cpu_ns(void)
{
	return sum_over_server(process_cpu_ns);
}

/*
 * server_fds finds the fewest and the most descriptors open in one child of the server
 * (one pushd worker); false when the server has no children.
 */
static bool
server_fds(int *fewest, int *most)
{
	int			pids[MAX_SERVER_PIDS];
	int			n = server_pids(pids, MAX_SERVER_PIDS);

	if (n < 2)
		return false;
	*fewest = -1;
	*most = 0;
	for (int k = 1; k < n; k++)
	{
		char		path[64];
		DIR		   *d;
		int			fds = 0;

		snprintf(path, sizeof(path), "/proc/%d/fd", pids[k]);
		if ((d = opendir(path)) == NULL)
			continue;
		while (readdir(d) != NULL)
			fds++;
		closedir(d);
		fds -= 2;				/* . and .. */
		*most = fds > *most ? fds : *most;
		*fewest = *fewest < 0 || fds < *fewest ? fds : *fewest;
	}
	return true;
}

/*
 * emit_server_memory reports the server once n clients are connected: how its children
 * share them (pushd --workers), its resident memory and, against rss0 (its memory with no
 * client), the bytes per connection.
 */
void
emit_server_memory(int n, long rss0)
{
	int			fewest, most;
	long		rss = server_rss_kib();

	if (server_fds(&fewest, &most))
	{
		/* How evenly the kernel spread the clients over the server's processes. */
		emit("memory", n, "child_fds_min", fewest);
		emit("memory", n, "child_fds_max", most);
	}
	emit("memory", n, "rss_kib", (double) rss);
	if (rss0 > 0)
		emit("memory", n, "bytes_per_conn", (double) (rss - rss0) * 1024.0 / n);
}
