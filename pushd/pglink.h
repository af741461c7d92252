/*
 * pglink.h — the database link: an asynchronous libpq connection whose socket is adopted
 * into the libwebsockets loop, with reconnection, and one query in flight at a time.
 */
#ifndef PUSHD_PGLINK_H
#define PUSHD_PGLINK_H

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdbool.h>

typedef void (*JobDone) (PGresult *res, void *arg);

/* A PglinkStateHook hears the link become ready (true) and, once ready, lost (false). */
typedef void (*PglinkStateHook) (bool ready);

/* pglink_start starts connecting; false (logged) when --db cannot be read. */
extern bool pglink_start(PglinkStateHook hook);
/* pglink_shutdown removes this node's connection rows (blocking) and closes the link. */
extern void pglink_shutdown(void);
/* pglink_ready: the link is up and the cache current (what /healthz reports). */
extern bool pglink_ready(void);
/* pglink_seconds_since_answer: since the server last sent anything; -1: never. */
extern double pglink_seconds_since_answer(void);

/*
 * pglink_enqueue queues a bookkeeping statement with text parameters, run when no other
 * query is in flight and the cache is current; done (may be NULL) sees its result.
 * Returns false when the link is not ready or the queue is full.
 */
extern bool pglink_enqueue(const char *sql, int nparams, const char *const *params,
						   JobDone done, void *arg);

extern int	pglink_callback(struct lws *wsi, enum lws_callback_reasons reason,
							void *user, void *in, size_t len);

#endif
