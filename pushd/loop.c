/*
 * loop.c — lws on libuv instead of its default poll() loop (see loop.h).
 *
 * poll() hands the kernel every descriptor at every wakeup, and when it sleeps it
 * registers and unregisters a wait on each: with 10,000 idle clients that is ~15 ms of
 * CPU per wakeup, two wakeups per commit (its notification, then the log's rows), a
 * quarter of pushd's CPU during a fan-out (bench/profiles.md).  epoll, under libuv, keeps
 * the interest list in the kernel and returns only what is ready.  lws 4.1.6 runs on libuv
 * through its plugin (libwebsockets-evlib_uv.so); the loop is ours (a "foreign" loop to
 * lws) so that run() can check its flags after every round, as it did with lws_service.
 */
#include "loop.h"

#include <uv.h>

#include "log.h"

static uv_loop_t loop;
static void *foreign_loops[1];

bool
loop_configure(struct lws_context_creation_info *info)
{
	int			rc = uv_loop_init(&loop);

	if (rc != 0)
	{
		log_error("could not create the event loop (libuv): %s", uv_strerror(rc));
		return false;
	}
	foreign_loops[0] = &loop;
	info->options |= LWS_SERVER_OPTION_LIBUV;
	info->foreign_loops = foreign_loops;
	return true;
}

bool
loop_round(void)
{
	return uv_run(&loop, UV_RUN_ONCE) >= 0;
}

void
loop_finish(void)
{
	/* lws closes its handles asynchronously: their close callbacks run in the loop. */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		log_warn("the event loop still had handles at exit");
}
