/*
 * supervisor.c — the parent process of --workers N > 1 (see supervisor.h).
 *
 * One loop, woken by a signal or every SUPERVISE_TICK_MS: reap the workers that ended,
 * start the ones whose restart is due, kill the ones whose heartbeat (worker.c) is older
 * than --worker-timeout.  The signals it handles stay blocked and are taken with
 * sigtimedwait, so none is lost between two checks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pushd.h"
#include "shared.h"
#include "supervisor.h"

#define SUPERVISE_TICK_MS 100

/* Restart delays: a worker that ran a while comes back at once; one that keeps dying, slower. */
#define RESTART_MIN_US (100 * 1000)
#define RESTART_MAX_US (5 * 1000000)
#define STABLE_US (10 * 1000000)

/* How long the workers have to drain after SIGTERM before they are killed. */
#define DRAIN_LIMIT_US (15 * 1000000)

typedef struct Worker
{
	pid_t		pid;			/* 0: not running */
	int64_t		started_us;
	int64_t		restart_at_us;	/* when not running: when to start it again */
	int64_t		delay_us;		/* the next restart's delay */
	bool		killed_hung;
} Worker;

static Worker workers[MAX_WORKERS];
static char tags[MAX_WORKERS][16];		/* "wK: ", each worker's log_tag */
static sigset_t handled;
static sigset_t before;

/* start forks worker k; true in the child. */
static bool
start(int k)
{
	WorkerSlot *slot = shared_slot(k);
	pid_t		parent = getpid();
	pid_t		pid;

	atomic_store(&slot->ready, false);
	atomic_store(&slot->link_up, 0);
	atomic_store(&slot->clients, 0);
	atomic_store(&slot->heartbeat_us, now_us());
	atomic_fetch_add(&slot->starts, 1);
	pid = fork();
	if (pid < 0)
	{
		log_error("could not start worker %d: %s", k + 1, strerror(errno));
		workers[k].restart_at_us = now_us() + RESTART_MAX_US;
		return false;
	}
	if (pid == 0)
	{
		/* A worker outlives no parent: it drains when the parent is gone. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		/* Until setup() installs its handler, a reload must not end the worker. */
		signal(SIGHUP, SIG_IGN);
		sigprocmask(SIG_SETMASK, &before, NULL);
		shared_set_worker(k);
		log_tag = tags[k];
		atomic_store(&slot->pid, getpid());
		return true;
	}
	workers[k].pid = pid;
	workers[k].started_us = now_us();
	workers[k].killed_hung = false;
	atomic_store(&slot->pid, pid);
	log_info("worker %d started (pid %d)", k + 1, (int) pid);
	return false;
}

static int
find(pid_t pid)
{
	for (int k = 0; k < shared_nworkers(); k++)
		if (workers[k].pid == pid)
			return k;
	return -1;
}

static void
signal_all(int sig)
{
	for (int k = 0; k < shared_nworkers(); k++)
		if (workers[k].pid > 0)
			kill(workers[k].pid, sig);
}

static int
running(void)
{
	int			n = 0;

	for (int k = 0; k < shared_nworkers(); k++)
		n += workers[k].pid > 0;
	return n;
}

/*
 * reap collects the workers that ended; false when one failed before it was ever ready
 * (a setting it cannot use, a port taken): restarting it would only fail again.
 */
static bool
reap(bool stopping)
{
	int			st;
	pid_t		pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
	{
		int			k = find(pid);
		Worker	   *w;
		bool		was_ready;

		if (k < 0)
			continue;
		w = &workers[k];
		was_ready = atomic_load(&shared_slot(k)->ready);
		w->pid = 0;
		atomic_store(&shared_slot(k)->pid, 0);
		atomic_store(&shared_slot(k)->ready, false);
		atomic_store(&shared_slot(k)->link_up, 0);
		atomic_store(&shared_slot(k)->clients, 0);
		shared_forget_worker(k);
		if (stopping)
		{
			log_info("worker %d (pid %d) stopped", k + 1, (int) pid);
			continue;
		}
		if (!was_ready && !w->killed_hung && WIFEXITED(st) && WEXITSTATUS(st) != 0)
		{
			log_error("worker %d (pid %d) failed to start (exit status %d): stopping",
					  k + 1, (int) pid, WEXITSTATUS(st));
			return false;
		}
		if (now_us() - w->started_us > STABLE_US)
			w->delay_us = RESTART_MIN_US;
		else
			w->delay_us = w->delay_us == 0 ? RESTART_MIN_US :
				w->delay_us * 2 > RESTART_MAX_US ? RESTART_MAX_US : w->delay_us * 2;
		w->restart_at_us = now_us() + w->delay_us;
		if (WIFSIGNALED(st))
			log_warn("worker %d (pid %d) killed by signal %d; restarting in %lld ms",
					 k + 1, (int) pid, WTERMSIG(st), (long long) (w->delay_us / 1000));
		else
			log_warn("worker %d (pid %d) exited with status %d; restarting in %lld ms",
					 k + 1, (int) pid, WEXITSTATUS(st), (long long) (w->delay_us / 1000));
	}
	return true;
}

/* watch kills the workers whose heartbeat is older than --worker-timeout. */
static void
watch(void)
{
	int64_t		limit = (int64_t) pushd.cfg.worker_timeout_s * 1000000;

	for (int k = 0; k < shared_nworkers(); k++)
	{
		Worker	   *w = &workers[k];
		int64_t		age = now_us() - atomic_load(&shared_slot(k)->heartbeat_us);

		if (w->pid <= 0 || w->killed_hung || age <= limit)
			continue;
		log_warn("worker %d (pid %d) gave no heartbeat for %lld ms (--worker-timeout %d s): killing it",
				 k + 1, (int) w->pid, (long long) (age / 1000), pushd.cfg.worker_timeout_s);
		w->killed_hung = true;
		kill(w->pid, SIGKILL);
	}
}

bool
supervisor_run(int *status)
{
	struct timespec tick = {0, SUPERVISE_TICK_MS * 1000000L};
	bool		stopping = false;
	int64_t		drain_deadline = 0;

	sigemptyset(&handled);
	sigaddset(&handled, SIGCHLD);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigprocmask(SIG_BLOCK, &handled, &before);
	*status = 0;
	for (int k = 0; k < shared_nworkers(); k++)
		snprintf(tags[k], sizeof(tags[k]), "w%d: ", k + 1);
	log_info("toggles-pushd supervising %d workers on %s", shared_nworkers(), pushd.cfg.listen);
	for (int k = 0; k < shared_nworkers(); k++)
		if (start(k))
			return true;

	for (;;)
	{
		int			sig = sigtimedwait(&handled, NULL, &tick);

		if (sig == SIGHUP && !stopping)
		{
			log_info("reload: SIGHUP to every worker");
			signal_all(SIGHUP);
		}
		else if ((sig == SIGTERM || sig == SIGINT) && !stopping)
		{
			log_info("shutting down: every worker drains");
			stopping = true;
			drain_deadline = now_us() + DRAIN_LIMIT_US;
			signal_all(SIGTERM);
		}
		if (!reap(stopping))
		{
			*status = 1;
			stopping = true;
			drain_deadline = now_us() + DRAIN_LIMIT_US;
			signal_all(SIGTERM);
		}
		if (stopping)
		{
			if (running() == 0)
				break;
			if (now_us() > drain_deadline)
			{
				log_warn("workers still running %d s after SIGTERM: killing them",
						 DRAIN_LIMIT_US / 1000000);
				signal_all(SIGKILL);
				drain_deadline = now_us() + DRAIN_LIMIT_US;
			}
			continue;
		}
		watch();
		for (int k = 0; k < shared_nworkers(); k++)
			if (workers[k].pid == 0 && now_us() >= workers[k].restart_at_us && start(k))
				return true;
	}
	log_info("stopped");
	return false;
}
