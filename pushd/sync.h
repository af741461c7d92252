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

/* sync_needs_load decides from the probe's result whether a catch-up can be exact. */
extern bool sync_needs_load(PGresult *probe);

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
 * -1 when the epoch changed under a live link (a full load is needed).
 */
extern int	sync_catchup_result(PGresult *res, int64_t notified_us);

/* sync_free releases what sync keeps between queries (at shutdown). */
extern void sync_free(void);

#endif
