/*
 * future.c — requests that wait for a state this process has not reached (see future.h).
 *
 * One list and one timer for all of them: a sweep every FUTURE_POLL_US lets go of those
 * whose state has arrived or whose time is up.  A wait lives on the heap while it lasts,
 * so a connection that never waits pays one pointer for it.
 */
#include <stdlib.h>

#include "future.h"
#include "http.h"
#include "metrics.h"
#include "pushd.h"

/* How often the waiting requests look at the cache. */
#define FUTURE_POLL_US (50 * 1000)

typedef struct FutureWait
{
	lws_dll2_t	link;			/* on the waiting list until released */
	struct lws *wsi;
	int64_t		deadline_us;
	StateTag	tag;			/* the state awaited */
	FutureAnswer answer;
	bool		ready;			/* released: answered at the next HTTP_WRITEABLE */
} FutureWait;

static lws_dll2_owner_t waiting;
static lws_sorted_usec_list_t sweep_timer;

/* sweep releases each waiting request whose state has arrived or whose time is up. */
static void
sweep(lws_sorted_usec_list_t *sul)
{
	int64_t		now = now_us();

	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&waiting))
	{
		FutureWait *w = lws_container_of(d, FutureWait, link);

		if (now >= w->deadline_us ||
			!etag_ahead(&w->tag, pushd.cache.epoch, pushd.cache.version))
		{
			lws_dll2_remove(&w->link);
			w->ready = true;
			lws_callback_on_writable(w->wsi);
		}
	}
	lws_end_foreach_dll_safe(d, d1);
	if (waiting.count > 0)
		lws_sul_schedule(pushd.context, 0, sul, sweep, FUTURE_POLL_US);
}

int
future_wait(struct lws *wsi, Session *s, const StateTag *tag, FutureAnswer answer)
{
	FutureWait *w = calloc(1, sizeof(FutureWait));

	if (w == NULL)
		return -1;
	future_closed(s);
	w->wsi = wsi;
	w->deadline_us = now_us() + (int64_t) pushd.cfg.future_wait_ms * 1000;
	w->tag = *tag;
	w->answer = answer;
	s->http.future = w;
	metrics.future_waits++;
	lws_dll2_add_tail(&w->link, &waiting);
	if (waiting.count == 1)
		lws_sul_schedule(pushd.context, 0, &sweep_timer, sweep, FUTURE_POLL_US);
	return 0;
}

bool
future_writeable(struct lws *wsi, Session *s, int *rc)
{
	FutureWait *w = s->http.future;
	FutureAnswer answer;

	if (w == NULL || !w->ready)
		return false;
	answer = w->answer;
	s->http.future = NULL;
	free(w);
	*rc = answer(wsi, s);
	return true;
}

void
future_closed(Session *s)
{
	FutureWait *w = s->http.future;

	if (w == NULL)
		return;
	if (w->link.owner)
		lws_dll2_remove(&w->link);
	s->http.future = NULL;
	free(w);
}
