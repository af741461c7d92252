/*
 * cache.h — pushd's in-memory state: the toggles (with their rules compiled), the epoch
 * and version they are at, and the resume window of recent transactions that resume and
 * coalescing are served from.
 */
#ifndef PUSHD_CACHE_H
#define PUSHD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "message.h"
#include "targeting.h"
#include "toggle.h"

/* The window keeps only which names each transaction wrote. */
typedef struct WindowEntry
{
	int64_t		version;
	int			nnames;
	char	  **names;
} WindowEntry;

typedef struct Cache
{
	bool		loaded;
	char	   *epoch;
	int64_t		version;
	const TgHooks *hooks;
	Toggle	   *toggles;		/* sorted by name */
	int			ntoggles;
	int			cap;
	int			ntimed;			/* toggles with window conditions */
	int			slot_count;		/* slots handed out so far (groups size results by it) */
	int		   *free_slots;		/* slots of removed toggles, reused first */
	int			nfree_slots;
	TgToggle  **retired;		/* compiled rules replaced, freed by cache_drop_retired */
	int			nretired;
	int			retired_cap;
	WindowEntry *ring;			/* the last ring_cap transactions */
	int			ring_cap;
	int			ring_start;
	int			ring_len;
	int64_t		floor;			/* resume from V >= floor is exact */
} Cache;

extern void cache_init(Cache *cache, int window, const TgHooks *hooks);
extern void cache_free(Cache *cache);

/* cache_reset empties the cache for a fresh load of epoch at version. */
extern void cache_reset(Cache *cache, const char *epoch, int64_t version);

/*
 * cache_put adds or replaces a toggle and compiles its rules; the rules it replaces stay
 * allocated until cache_drop_retired, so that results pointing into them can still be
 * compared with the new ones.
 */
extern const Toggle *cache_put(Cache *cache, const Toggle *toggle);
extern const Toggle *cache_get(const Cache *cache, const char *name);
extern Toggle *cache_get_mutable(Cache *cache, const char *name);
extern void cache_drop_retired(Cache *cache);

/* cache_window_add records a loaded transaction in the resume window only. */
extern void cache_window_add(Cache *cache, int64_t version, const ToggleDelta *deltas, int ndeltas);

/*
 * cache_apply applies one committed transaction: the toggles, the version and the
 * window.  The deltas stay the caller's.
 */
extern void cache_apply(Cache *cache, int64_t version, const ToggleDelta *deltas, int ndeltas);

/*
 * cache_touched_since returns the names written after version since, each once, sorted
 * (the strings belong to the window); NULL when since is older than the window (the
 * client needs a snapshot).  The caller frees the array.
 */
extern const char **cache_touched_since(const Cache *cache, int64_t since, int *nnames);

#endif
