/*
 * liveness.c — dead WebSocket peers found by one sweep timer (see liveness.h).
 *
 * Every client carries when it was last heard from.  Once a second the sweep walks the
 * clients: one silent for --ping-interval is asked for a ping (clients.c writes it from
 * WRITEABLE), one whose ping went unanswered for --pong-timeout is hung up on.  A walk of
 * 19,000 clients is well under a millisecond; one lws timer per client would have cost a
 * walk of the sorted timer list at every connect and every pong.  SSE streams cannot
 * answer a ping: their heartbeat (sse.c) and TCP keepalive (listener.c) watch them.
 * The sweep also hangs up on a client being closed (WebSocket or SSE) that did not take
 * its close within CLOSE_WAIT_US.
 */
#include "liveness.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"

/*
 * The loop's timers fire by its cached time, a few milliseconds before the interval is
 * up by the clock: a bound compared exactly would slip by a whole round every time.
 */
#define SWEEP_SLACK_US (LIVENESS_SWEEP_US / 10)

static lws_sorted_usec_list_t sweep_timer;
static uint64_t dead_peers;
static uint64_t pings_sent;

void
liveness_heard(Client *c)
{
	c->heard_us = now_us();
	c->pinged_us = 0;
}

static void
sweep(lws_sorted_usec_list_t *sul)
{
	int64_t		now = now_us();
	int64_t		ping_after = (int64_t) pushd.cfg.ping_interval_s * LWS_US_PER_SEC - SWEEP_SLACK_US;
	int64_t		pong_within = (int64_t) pushd.cfg.pong_timeout_s * LWS_US_PER_SEC - SWEEP_SLACK_US;

	(void) sul;
	for (Client *c = clients_first(); c != NULL; c = clients_next(c))
	{
		int64_t		silent = now - c->heard_us;

		if (c->closing || c->wsi == NULL)
			continue;
		if (c->close_code)
		{
			/* Its close (clients.c close_soon) could not be written in time. */
			if (now >= c->close_by_us)
			{
				c->closing = true;
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
			continue;
		}
		if (c->sse)
			continue;
		/*
		 * Dead: its ping is pong-timeout old, unanswered.  Not "silent for ping-interval +
		 * pong-timeout": the sweep pings at the first round after ping-interval, up to a
		 * round late, and a client that answered at once was taken for dead then.
		 */
		if (c->pinged_us && now - c->pinged_us >= pong_within)
		{
			log_info("client %llu (%s): no answer to a ping for %d s, closing as dead",
					 (unsigned long long) c->id, CLIENT_PEER(c), pushd.cfg.pong_timeout_s);
			dead_peers++;
			c->closing = true;
			/* No close frame: whoever could read it would have answered the ping. */
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
		else if (silent >= ping_after && !c->pinged_us)
		{
			c->pinged_us = now;
			c->ping_due = true;
			pings_sent++;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(pushd.context, 0, &sweep_timer, sweep, LIVENESS_SWEEP_US);
}

void
liveness_start(void)
{
	lws_sul_schedule(pushd.context, 0, &sweep_timer, sweep, LIVENESS_SWEEP_US);
}

void
liveness_stop(void)
{
	lws_sul_cancel(&sweep_timer);
}

const MetricDef liveness_rows[] = {
	{"pushd_pings_sent_total", "WebSocket pings sent to clients silent for --ping-interval.",
	METRIC_COUNTER, NULL, &pings_sent, NULL, NULL},
	{"pushd_dead_peers_total",
		"WebSocket clients closed for not answering a ping within --pong-timeout.",
	METRIC_COUNTER, NULL, &dead_peers, NULL, NULL},
};
const int	liveness_nrows = sizeof(liveness_rows) / sizeof(liveness_rows[0]);
