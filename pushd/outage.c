/*
 * outage.c — what clients get while the database link is down (see outage.h).
 */
#include <stdio.h>

#include "clients.h"
#include "log.h"
#include "metrics.h"
#include "outage.h"
#include "pushd.h"

/* Closing goes in steps of this length, each closing its share of the clients left. */
#define CLOSE_STEP_US (100 * LWS_US_PER_MS)

static int64_t down_since_us;	/* 0: the link is up, or was never up */
static int64_t closing_ends_us; /* 0: not closing clients */
static lws_sorted_usec_list_t outage_timer;

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

	if (!pushd.cache.loaded)
		return "this node has no snapshot yet: its database link is not up";
	if (!past_grace())
		return NULL;
	snprintf(why, sizeof(why), "this node's database link has been down for %lld s",
			 (long long) ((now_us() - down_since_us) / LWS_US_PER_SEC));
	return why;
}

/*
 * close_step closes the share of the open clients that is due: all that are left spread
 * over the time that is left, so that the closes keep an even pace whatever the clients do.
 */
static void
close_step(lws_sorted_usec_list_t *sul)
{
	int64_t		now = now_us();
	int64_t		left_us = closing_ends_us - now;
	int			open = 0;
	int			due;
	Client	   *c;

	(void) sul;
	if (closing_ends_us == 0)
		return;
	for (c = clients_first(); c != NULL; c = c->next)
		open += c->close_code == 0 && !c->closing;
	due = left_us <= CLOSE_STEP_US ? open
		: (int) ((open * (int64_t) CLOSE_STEP_US + left_us - 1) / left_us);
	for (c = clients_first(); c != NULL && due > 0; c = c->next)
	{
		if (c->close_code != 0 || c->closing)
			continue;
		clients_close(c, CLOSE_TRY_AGAIN, "database unavailable");
		metrics.outage_closes++;
		due--;
		open--;
	}
	if (open > 0)
		lws_sul_schedule(pushd.context, 0, &outage_timer, close_step, CLOSE_STEP_US);
	else
		closing_ends_us = 0;
}

static void
grace_over(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	log_warn("database link down for %d s (--outage-grace): closing %d clients (1013) over %d s",
			 pushd.cfg.outage_grace_s, clients_count(), pushd.cfg.outage_close_spread_s);
	closing_ends_us = now_us() + (int64_t) pushd.cfg.outage_close_spread_s * LWS_US_PER_SEC;
	close_step(NULL);
}

void
outage_link_changed(bool ready)
{
	lws_sul_cancel(&outage_timer);
	closing_ends_us = 0;
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
