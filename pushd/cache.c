/*
 * cache.c — the toggles in memory, sorted by name, each with its rules compiled once and
 * a stable slot that groups index their results by; and the resume window: a ring of
 * the names the last transactions wrote, from which a client's resume and a laggard's
 * coalesced catch-up are computed without asking the database.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

static void
entry_free(Cache *cache, Toggle *t)
{
	if (t->compiled)
		tg_toggle_free(t->compiled, cache->hooks);
	t->compiled = NULL;
	toggle_free(t);
}

static void
retire(Cache *cache, TgToggle *compiled)
{
	if (compiled == NULL)
		return;
	if (cache->nretired == cache->retired_cap)
	{
		int			newcap = cache->retired_cap ? cache->retired_cap * 2 : 16;
		TgToggle  **bigger = realloc(cache->retired, newcap * sizeof(TgToggle *));

		if (bigger == NULL)
			abort();
		cache->retired = bigger;
		cache->retired_cap = newcap;
	}
	cache->retired[cache->nretired++] = compiled;
}

void
cache_drop_retired(Cache *cache)
{
	int			i;

	for (i = 0; i < cache->nretired; i++)
		tg_toggle_free(cache->retired[i], cache->hooks);
	cache->nretired = 0;
}

static void
window_entry_free(WindowEntry *e)
{
	int			i;

	for (i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	e->names = NULL;
	e->nnames = 0;
}

static void
window_clear(Cache *cache)
{
	int			i;

	for (i = 0; i < cache->ring_len; i++)
		window_entry_free(&cache->ring[(cache->ring_start + i) % cache->ring_cap]);
	cache->ring_start = 0;
	cache->ring_len = 0;
}

static void
toggles_clear(Cache *cache)
{
	int			i;

	for (i = 0; i < cache->ntoggles; i++)
		entry_free(cache, &cache->toggles[i]);
	cache->ntoggles = 0;
	cache->ntimed = 0;
	cache->slot_count = 0;
	cache->nfree_slots = 0;
}

void
cache_init(Cache *cache, int window, const TgHooks *hooks)
{
	memset(cache, 0, sizeof(*cache));
	cache->hooks = hooks;
	cache->ring_cap = window > 0 ? window : 1;
	cache->ring = calloc(cache->ring_cap, sizeof(WindowEntry));
}

void
cache_free(Cache *cache)
{
	toggles_clear(cache);
	cache_drop_retired(cache);
	free(cache->toggles);
	free(cache->free_slots);
	free(cache->retired);
	window_clear(cache);
	free(cache->ring);
	free(cache->epoch);
	memset(cache, 0, sizeof(*cache));
}

void
cache_reset(Cache *cache, const char *epoch, int64_t version)
{
	toggles_clear(cache);
	cache_drop_retired(cache);
	window_clear(cache);
	free(cache->epoch);
	cache->epoch = strdup(epoch);
	cache->version = version;
	cache->floor = version;
	cache->loaded = true;
}

/* find returns the index of name, or -(insertion point) - 1. */
static int
find(const Cache *cache, const char *name)
{
	int			lo = 0;
	int			hi = cache->ntoggles - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			cmp = strcmp(cache->toggles[mid].name, name);

		if (cmp == 0)
			return mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

const Toggle *
cache_get(const Cache *cache, const char *name)
{
	int			i = find(cache, name);

	return i >= 0 ? &cache->toggles[i] : NULL;
}

Toggle *
cache_get_mutable(Cache *cache, const char *name)
{
	int			i = find(cache, name);

	return i >= 0 ? &cache->toggles[i] : NULL;
}

static int
slot_take(Cache *cache)
{
	if (cache->nfree_slots > 0)
		return cache->free_slots[--cache->nfree_slots];
	return cache->slot_count++;
}

static void
slot_give_back(Cache *cache, int slot)
{
	/* At most slot_count slots are ever free at once. */
	int		   *bigger = realloc(cache->free_slots, cache->slot_count * sizeof(int));

	if (bigger == NULL)
		abort();
	cache->free_slots = bigger;
	cache->free_slots[cache->nfree_slots++] = slot;
}

static bool
is_empty_document(const char *json, const char *empty)
{
	return json == NULL || json[0] == '\0' || strcmp(json, empty) == 0;
}

/*
 * compile fills the cached fields of dst from the rules and variants of src.  A toggle
 * with neither needs no compiled form: the plain case evaluates to is_active.
 */
static void
compile(Cache *cache, Toggle *dst, const Toggle *src)
{
	char		err[512];

	dst->compiled = NULL;
	dst->broken = NULL;
	dst->timed = false;
	dst->signature = 0;
	if (is_empty_document(src->rules, "[]") && is_empty_document(src->variants, "{}"))
		return;
	dst->compiled = tg_compile(src->name,
							   src->rules, src->rules ? strlen(src->rules) : 0,
							   src->variants, src->variants ? strlen(src->variants) : 0,
							   0, cache->hooks, err, sizeof(err));
	if (dst->compiled == NULL)
		dst->broken = strdup(err[0] ? err : "out of memory");
	else
		dst->timed = tg_time_dependent(dst->compiled);
}

/* fill copies what the cache keeps of src into dst (a free entry) and compiles it. */
static void
fill(Cache *cache, Toggle *dst, const Toggle *src, int slot)
{
	memset(dst, 0, sizeof(*dst));
	toggle_copy_cached(dst, src);
	dst->slot = slot;
	compile(cache, dst, src);
	cache->ntimed += dst->timed;
}

const Toggle *
cache_put(Cache *cache, const Toggle *toggle)
{
	int			i = find(cache, toggle->name);

	if (i >= 0)
	{
		Toggle	   *t = &cache->toggles[i];
		int			slot = t->slot;

		cache->ntimed -= t->timed;
		retire(cache, t->compiled);
		t->compiled = NULL;
		toggle_free(t);
		fill(cache, t, toggle, slot);
		return t;
	}
	i = -i - 1;
	if (cache->ntoggles == cache->cap)
	{
		int			newcap = cache->cap ? cache->cap * 2 : 64;
		Toggle	   *bigger = realloc(cache->toggles, newcap * sizeof(Toggle));

		if (bigger == NULL)
			abort();
		cache->toggles = bigger;
		cache->cap = newcap;
	}
	memmove(&cache->toggles[i + 1], &cache->toggles[i],
			(cache->ntoggles - i) * sizeof(Toggle));
	fill(cache, &cache->toggles[i], toggle, slot_take(cache));
	cache->ntoggles++;
	return &cache->toggles[i];
}

static void
cache_remove(Cache *cache, const char *name)
{
	int			i = find(cache, name);
	Toggle	   *t;

	if (i < 0)
		return;
	t = &cache->toggles[i];
	cache->ntimed -= t->timed;
	slot_give_back(cache, t->slot);
	retire(cache, t->compiled);
	t->compiled = NULL;
	toggle_free(t);
	memmove(&cache->toggles[i], &cache->toggles[i + 1],
			(cache->ntoggles - i - 1) * sizeof(Toggle));
	cache->ntoggles--;
}

void
cache_window_add(Cache *cache, int64_t version, const ToggleDelta *deltas, int ndeltas)
{
	WindowEntry *e;
	int			i;

	if (cache->ring_len == cache->ring_cap)
	{
		/* Evicting the oldest: resuming from before it is no longer exact. */
		e = &cache->ring[cache->ring_start];
		cache->floor = e->version;
		window_entry_free(e);
		cache->ring_start = (cache->ring_start + 1) % cache->ring_cap;
		cache->ring_len--;
	}
	e = &cache->ring[(cache->ring_start + cache->ring_len) % cache->ring_cap];
	e->version = version;
	e->names = malloc((ndeltas ? ndeltas : 1) * sizeof(char *));
	if (e->names == NULL)
		abort();
	for (i = 0; i < ndeltas; i++)
		e->names[i] = strdup(deltas[i].state.name);
	e->nnames = ndeltas;
	cache->ring_len++;
}

void
cache_apply(Cache *cache, int64_t version, const ToggleDelta *deltas, int ndeltas)
{
	int			i;

	for (i = 0; i < ndeltas; i++)
	{
		if (deltas[i].removed)
			cache_remove(cache, deltas[i].state.name);
		else
			cache_put(cache, &deltas[i].state);
	}
	cache->version = version;
	cache_window_add(cache, version, deltas, ndeltas);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

const char **
cache_touched_since(const Cache *cache, int64_t since, int *nnames)
{
	const char **names;
	int			n = 0;
	int			unique = 0;
	int			i;
	int			j;

	*nnames = 0;
	if (since < cache->floor)
		return NULL;
	for (i = 0; i < cache->ring_len; i++)
	{
		const WindowEntry *e = &cache->ring[(cache->ring_start + i) % cache->ring_cap];

		if (e->version > since)
			n += e->nnames;
	}
	names = malloc((n ? n : 1) * sizeof(char *));
	if (names == NULL)
		return NULL;
	n = 0;
	for (i = 0; i < cache->ring_len; i++)
	{
		const WindowEntry *e = &cache->ring[(cache->ring_start + i) % cache->ring_cap];

		if (e->version > since)
			for (j = 0; j < e->nnames; j++)
				names[n++] = e->names[j];
	}
	qsort(names, n, sizeof(char *), compare_names);
	for (i = 0; i < n; i++)
		if (unique == 0 || strcmp(names[unique - 1], names[i]) != 0)
			names[unique++] = names[i];
	*nnames = unique;
	return names;
}
