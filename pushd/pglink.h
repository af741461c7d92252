/*
 * pglink.h — the database link: an asynchronous libpq connection whose socket is adopted
 * into the libwebsockets loop, with reconnection, and one query in flight at a time.
 */
#ifndef PUSHD_PGLINK_H
#define PUSHD_PGLINK_H

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

typedef void (*JobDone) (PGresult *res, void *arg);

/* What the probe says of the data the link follows: catch up, load afresh, or let go. */
typedef enum LinkPlan
{
	LINK_CATCH_UP,				/* the log holds everything after what is held */
	LINK_LOAD,					/* only a full load is exact */
	LINK_REFUSE					/* not to be followed: try the next host */
} LinkPlan;

typedef enum LinkLoadResult
{
	LINK_LOAD_FAILED,
	LINK_LOAD_USED,				/* the link frees the result */
	LINK_LOAD_KEPT				/* the steps keep the result until the load completes */
} LinkLoadResult;

/* What a catch-up's result may say instead of how many versions were new. */
#define LINK_CATCHUP_RELOAD (-1)
#define LINK_CATCHUP_REFUSE (-2)

/*
 * LinkSteps: what the link runs and who hears the answers, registered by its user (sync.c's
 * sync_link_steps, wired by main.c); the link itself knows no statement of the
 * extension's but listen.  After every (re)connect: listen, prepare catchup_sql, run
 * probe_sql and plan from it, then load or catch up; then the link is ready.  The
 * catch-up runs again after every notification, with catchup_after() as its parameter.
 */
typedef struct LinkSteps
{
	const char *listen;
	const char *(*catchup_sql) (void);
	const char *(*probe_sql) (void);
	LinkPlan	(*plan) (PGresult *probe);
	char	   *(*load_sql) (void);	/* malloc'd; several statements, several results */
	LinkLoadResult (*load_result) (PGresult *res, int index);
	void		(*load_done) (void);
	int64_t		(*catchup_after) (void);
	/* how many versions were new, or LINK_CATCHUP_RELOAD / LINK_CATCHUP_REFUSE */
	int			(*catchup_result) (PGresult *res, int64_t notified_us);
} LinkSteps;

/* A PglinkStateHook hears the link become ready (true) and, once ready, lost (false). */
typedef void (*PglinkStateHook) (bool ready);

/*
 * A PglinkFinal is a statement the link runs at shutdown, blocking, before it closes (one
 * text parameter); what says what it does and unanswered what is left when the database
 * does not answer, for the log.  The hook returns false when it has nothing to run.
 */
typedef struct PglinkFinal
{
	const char *sql;
	const char *param;
	const char *what;
	const char *unanswered;
} PglinkFinal;
typedef bool (*PglinkFinalHook) (PglinkFinal *final);

/* pglink_on_state adds a state hook; hooks are called in the order they were added. */
extern void pglink_on_state(PglinkStateHook hook);
/* pglink_on_shutdown sets the hook of the statement run at shutdown. */
extern void pglink_on_shutdown(PglinkFinalHook hook);

/* pglink_start starts connecting; false (logged) when --db cannot be read. */
extern bool pglink_start(const LinkSteps *steps);
/* pglink_shutdown runs the final statement (blocking) and closes the link. */
extern void pglink_shutdown(void);
/* pglink_ready: the link is up and the cache current (what /healthz reports). */
extern bool pglink_ready(void);
/* pglink_seconds_since_answer: since the server last sent anything; -1: never. */
extern double pglink_seconds_since_answer(void);

/* The rows of /metrics of the link (metrics_register). */
extern const MetricDef pglink_rows[];
extern const int pglink_nrows;

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
