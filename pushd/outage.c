/*
 * outage.c — what clients get while the database link is down (see outage.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "clients.h"
#include "log.h"
#include "metrics.h"
#include "outage.h"
#include "pushd.h"

/* Closing goes in steps of this length, each closing its share of the clients left. */
#define CLOSE_STEP_US (100 * LWS_US_PER_MS)

static int64_t down_since_us;	/* 0: the link is up, or was never up */
static lws_sorted_usec_list_t outage_timer;

/* The closes after the grace: how many were open then, and how many are done. */
static int64_t closing_since_us;	/* 0: not closing clients */
static int	closing_total;
static int	closing_done;
static double closing_phase;	/* [0, 1): where in the window this node's closes fall */

static bool
past_grace(void)
{
	return down_since_us != 0 &&
		now_us() - down_since_us >= (int64_t) pushd.cfg.outage_grace_s * LWS_US_PER_SEC;
}

const char *
outage_refusal(void)
{
	static char why[128];

	if (pushd.shutting_down)
		return "this node is shutting down";
	if (!pushd.cache.loaded)
		return "this node has no snapshot yet: its database link is not up";
	if (!past_grace())
		return NULL;
	snprintf(why, sizeof(why), "this node's database link has been down for %lld s",
			 (long long) ((now_us() - down_since_us) / LWS_US_PER_SEC));
	return why;
}

static bool
is_open(const Client *c)
{
	return c->close_code == 0 && !c->closing;
}

const char *
outage_retry_after(void)
{
	return down_since_us != 0 && !pushd.shutting_down ? "5" : "1";
}

/*
 * close_step keeps an even pace: by a fraction f of --outage-close-spread, f of the clients
 * that were open when the grace ended are closed (give or take the random phase, so that
 * a node with one client does not close it at the same instant as every other node); at
 * its end, all that are left.
 */
static void
close_step(lws_sorted_usec_list_t *sul)
{
	int64_t		elapsed = now_us() - closing_since_us;
	int64_t		spread = (int64_t) pushd.cfg.outage_close_spread_s * LWS_US_PER_SEC;
	bool		last = elapsed >= spread;
	int			due = last ? INT_MAX
		: (int) ((double) closing_total * elapsed / spread + closing_phase) - closing_done;
	Client	   *c;

	(void) sul;
	for (c = clients_first(); c != NULL && due > 0; c = clients_next(c))
	{
		if (!is_open(c))
			continue;
		clients_close(c, CLOSE_TRY_AGAIN, "database unavailable");
		metrics.outage_closes++;
		closing_done++;
		due--;
	}
	if (last)
		closing_since_us = 0;
	else
		lws_sul_schedule(pushd.context, 0, &outage_timer, close_step, CLOSE_STEP_US);
}

static void
grace_over(lws_sorted_usec_list_t *sul)
{
	Client	   *c;

	(void) sul;
	closing_since_us = now_us();
	closing_total = 0;
	closing_done = 0;
	closing_phase = random() / ((double) RAND_MAX + 1);
	for (c = clients_first(); c != NULL; c = clients_next(c))
		closing_total += is_open(c);
	log_warn("database link down for %d s (--outage-grace): closing %d clients (1013) over %d s",
			 pushd.cfg.outage_grace_s, closing_total, pushd.cfg.outage_close_spread_s);
	close_step(NULL);
}

void
outage_link_changed(bool ready)
{
	lws_sul_cancel(&outage_timer);
	closing_since_us = 0;
	if (ready)
	{
		if (down_since_us)
			log_info("database link back after %.1f s", (now_us() - down_since_us) / 1e6);
		down_since_us = 0;
		return;
	}
	down_since_us = now_us();
	lws_sul_schedule(pushd.context, 0, &outage_timer, grace_over,
					 (lws_usec_t) pushd.cfg.outage_grace_s * LWS_US_PER_SEC);
}

void
outage_stop(void)
{
	lws_sul_cancel(&outage_timer);
}
