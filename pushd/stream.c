/*
 * stream.c — the sequencer (see stream.h).  Every event goes down the same way: the cache
 * first, then the groups (evaluation, per-group messages), then the clients and the
 * schedule, which read what the cache and the groups now hold.
 */
#include "cache.h"
#include "clients.h"
#include "groups.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"
#include "schedule.h"
#include "stream.h"

static double
last_version(void)
{
	return (double) pushd.cache.version;
}

const MetricDef stream_rows[] = {
	{"pushd_last_version", "Version of the cached state.", METRIC_GAUGE, NULL, NULL,
	last_version, NULL},
};
const int	stream_nrows = sizeof(stream_rows) / sizeof(stream_rows[0]);

void
stream_load_begin(const char *epoch, int64_t version)
{
	cache_reset(&pushd.cache, epoch, version);
}

void
stream_load_toggle(const Toggle *toggle)
{
	cache_put(&pushd.cache, toggle);
}

void
stream_load_window(int64_t version, const ToggleDelta *deltas, int ndeltas)
{
	cache_window_add(&pushd.cache, version, deltas, ndeltas);
}

void
stream_load_end(int64_t log_min)
{
	Cache	   *cache = &pushd.cache;
	int64_t		floor;

	/* Resume from V is exact when every change after V is in the window. */
	floor = cache->version - pushd.cfg.resume_window;
	if (log_min == 0)
		floor = cache->version;	/* empty log: nothing to resume from */
	else if (log_min - 1 > floor)
		floor = log_min - 1;
	if (floor > cache->version)
		floor = cache->version;
	cache->floor = floor;

	log_info("loaded %d toggles at version %lld of epoch %s (resume window from version %lld)",
			 cache->ntoggles, (long long) cache->version, cache->epoch, (long long) cache->floor);
	/* The token set was loaded in the same transaction. */
	clients_tokens_changed();
	groups_reload(wall_clock_us());
	schedule_update();
	clients_resync_all();
}

void
stream_commit(int64_t version, const ToggleDelta *deltas, int ndeltas, int64_t notified_us)
{
	GroupsCommit *commit;

	if (version <= pushd.cache.version)
		return;
	/* What each write is for the groups is noted before the cache changes. */
	commit = groups_commit_begin(deltas, ndeltas);
	cache_apply(&pushd.cache, version, deltas, ndeltas);
	groups_commit_end(commit, version, wall_clock_us());
	/* Only now may the rules replaced be freed: the groups' old results pointed into them. */
	cache_drop_retired(&pushd.cache);
	metrics.changes_applied++;
	clients_version_advanced();
	schedule_update();
	if (notified_us)
		metrics_observe_latency((now_us() - notified_us) / 1e6);
}

void
stream_time_moved(Toggle *const *moved, int nmoved, int64_t at_us)
{
	metrics.schedule_reevaluations += nmoved;
	groups_time_changed(moved, nmoved, at_us);
}

void
stream_tokens_changed(void)
{
	clients_tokens_changed();
}
