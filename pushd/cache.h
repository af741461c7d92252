/*
 * cache.h — pushd's in-memory state: the toggles, the epoch and version they are at, and
 * the resume window of recent transactions that resume and coalescing are served from.
 */
#ifndef PUSHD_CACHE_H
#define PUSHD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "message.h"

typedef struct Toggle
{
	char	   *name;
	bool		active;
	int64_t		version;
	char	   *description;
	char	   *updated_at;
} Toggle;

/* What one transaction did to one toggle: its new state, or its removal. */
typedef struct ToggleDelta
{
	bool		removed;
	Toggle		state;			/* state.name is always set */
} ToggleDelta;

typedef struct WindowEntry
{
	int64_t		version;
	int			ndeltas;
	ToggleDelta *deltas;
} WindowEntry;

typedef struct Cache
{
	bool		loaded;
	char	   *epoch;
	int64_t		version;
	Toggle	   *toggles;		/* sorted by name */
	int			ntoggles;
	int			cap;
	WindowEntry *ring;			/* the last ring_cap transactions */
	int			ring_cap;
	int			ring_start;
	int			ring_len;
	int64_t		floor;			/* resume from V >= floor is exact */
	Msg		   *snapshot;		/* serialised lazily, dropped on every change */
} Cache;

extern void cache_init(Cache *cache, int window);
extern void cache_free(Cache *cache);

/* cache_reset empties the cache for a fresh load of epoch at version. */
extern void cache_reset(Cache *cache, const char *epoch, int64_t version);
extern void cache_put(Cache *cache, const Toggle *toggle);
extern const Toggle *cache_get(const Cache *cache, const char *name);

/* cache_window_add records a loaded transaction in the resume window only. */
extern void cache_window_add(Cache *cache, int64_t version, ToggleDelta *deltas, int ndeltas);

/*
 * cache_apply applies one committed transaction: the toggles, the version and the
 * window.  Takes ownership of deltas.
 */
extern void cache_apply(Cache *cache, int64_t version, ToggleDelta *deltas, int ndeltas);

/* cache_snapshot_msg returns (a new reference to) the serialised snapshot. */
extern Msg *cache_snapshot_msg(Cache *cache);

/*
 * cache_since returns a change message with exactly what changed after version since, at
 * the cache's version; NULL when since is older than the window (the client needs a
 * snapshot).
 */
extern Msg *cache_since(Cache *cache, int64_t since);

extern void toggle_free(Toggle *toggle);
extern void deltas_free(ToggleDelta *deltas, int ndeltas);

#endif
