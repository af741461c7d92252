/*
 * schedule.c — the per-second re-evaluation of time-dependent toggles (see schedule.h).
 *
 * Window boundaries are whole seconds of the wall clock, so the timer fires just after
 * each one (CLOCK_REALTIME, aligned to the second plus a millisecond).  Each tick asks
 * every time-dependent toggle for its time signature (which windows hold now); only a
 * toggle whose signature moved is re-evaluated, for every group, and only the clients
 * whose result changed hear of it.  No timer runs while no toggle has a window.
 */
#include <stdlib.h>

#include "pushd.h"
#include "schedule.h"

/* How long after the whole second the tick runs: a clock read at xx.000999 is too early. */
#define TICK_OFFSET_US 1000

static lws_sorted_usec_list_t tick_timer;
static bool armed;
static ScheduleMoved moved_hook;

static void tick(lws_sorted_usec_list_t *sul);

static void
arm(void)
{
	int64_t		now = wall_clock_us();
	int64_t		delay = LWS_US_PER_SEC - now % LWS_US_PER_SEC + TICK_OFFSET_US;

	lws_sul_schedule(pushd.context, 0, &tick_timer, tick, (lws_usec_t) delay);
	armed = true;
}

/* moved_toggles collects the time-dependent toggles whose signature changed at at_us. */
static int
moved_toggles(Toggle **moved, int64_t at_us)
{
	Cache	   *cache = &pushd.cache;
	int			n = 0;
	int			i;

	for (i = 0; i < cache->ntoggles; i++)
	{
		Toggle	   *t = &cache->toggles[i];
		uint64_t	signature;

		if (!t->timed)
			continue;
		signature = tg_time_signature(t->compiled, at_us, cache->hooks);
		if (signature == t->signature)
			continue;
		t->signature = signature;
		moved[n++] = t;
	}
	return n;
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	Cache	   *cache = &pushd.cache;
	int64_t		at_us = wall_clock_us();
	Toggle	  **moved;
	int			n;

	(void) sul;
	armed = false;
	if (!cache->loaded || cache->ntimed == 0)
		return;
	moved = malloc(cache->ntimed * sizeof(Toggle *));
	if (moved == NULL)
		abort();
	n = moved_toggles(moved, at_us);
	if (n > 0 && moved_hook)
		moved_hook(moved, n, at_us);
	free(moved);
	arm();
}

void
schedule_on_moved(ScheduleMoved hook)
{
	moved_hook = hook;
}

void
schedule_update(void)
{
	if (pushd.cache.ntimed > 0 && !armed)
		arm();
	else if (pushd.cache.ntimed == 0 && armed)
		schedule_stop();
}

void
schedule_stop(void)
{
	lws_sul_cancel(&tick_timer);
	armed = false;
}
