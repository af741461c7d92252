/*
 * sync.h — keeps the cache in step with the database: the full load (snapshot and resume
 * window in one repeatable-read transaction) and the catch-up from toggles.changes.
 */
#ifndef PUSHD_SYNC_H
#define PUSHD_SYNC_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* sync_probe_sql: the epoch and the log's extent, asked after every (re)connect. */
extern const char *sync_probe_sql(void);

typedef enum SyncPlan
{
	SYNC_CATCH_UP,				/* the log holds everything after the cache's version */
	SYNC_LOAD,					/* only a full load is exact: first start, new epoch, pruned gap */
	SYNC_REFUSE					/* the database is on an earlier timeline: not to be followed */
} SyncPlan;

/* sync_plan decides from the probe's result how to bring the cache up to date. */
extern SyncPlan sync_plan(PGresult *probe);

/* sync_load_sql: the statements of a full load (one string, several results). */
extern char *sync_load_sql(void);

typedef enum LoadResult
{
	LOAD_FAILED,
	LOAD_USED,					/* the caller frees the result */
	LOAD_KEPT					/* sync keeps the result until the load completes */
} LoadResult;

/* sync_load_result consumes the full load's results, one call per result, in order. */
extern LoadResult sync_load_result(PGresult *res, int index);
extern void sync_load_done(void);

extern const char *sync_catchup_sql(void);

/*
 * sync_catchup_result applies the catch-up rows; returns how many versions were new, or
 * CATCHUP_RELOAD when the epoch changed under a live link (a full load is needed), or
 * CATCHUP_REFUSE when it went back to an earlier timeline.
 */
#define CATCHUP_RELOAD (-1)
#define CATCHUP_REFUSE (-2)
extern int	sync_catchup_result(PGresult *res, int64_t notified_us);

/* sync_free releases what sync keeps between queries (at shutdown). */
extern void sync_free(void);

#endif
