/*
 * cache.c — the toggles in memory, sorted by name, and the resume window: a ring of the
 * last transactions, from which a client's resume and a laggard's coalesced catch-up are
 * computed without asking the database.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "encode.h"

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
toggle_copy(Toggle *dst, const Toggle *src)
{
	dst->name = strdup(src->name);
	dst->active = src->active;
	dst->version = src->version;
	dst->description = dup_or_null(src->description);
	dst->updated_at = dup_or_null(src->updated_at);
}

void
toggle_free(Toggle *t)
{
	free(t->name);
	free(t->description);
	free(t->updated_at);
	t->name = t->description = t->updated_at = NULL;
}

void
deltas_free(ToggleDelta *deltas, int ndeltas)
{
	int			i;

	for (i = 0; i < ndeltas; i++)
		toggle_free(&deltas[i].state);
	free(deltas);
}

static void
drop_snapshot(Cache *cache)
{
	msg_unref(cache->snapshot);
	cache->snapshot = NULL;
}

static void
window_clear(Cache *cache)
{
	int			i;

	for (i = 0; i < cache->ring_len; i++)
	{
		WindowEntry *e = &cache->ring[(cache->ring_start + i) % cache->ring_cap];

		deltas_free(e->deltas, e->ndeltas);
	}
	cache->ring_start = 0;
	cache->ring_len = 0;
}

void
cache_init(Cache *cache, int window)
{
	memset(cache, 0, sizeof(*cache));
	cache->ring_cap = window > 0 ? window : 1;
	cache->ring = calloc(cache->ring_cap, sizeof(WindowEntry));
}

void
cache_free(Cache *cache)
{
	int			i;

	for (i = 0; i < cache->ntoggles; i++)
		toggle_free(&cache->toggles[i]);
	free(cache->toggles);
	window_clear(cache);
	free(cache->ring);
	free(cache->epoch);
	drop_snapshot(cache);
	memset(cache, 0, sizeof(*cache));
}

void
cache_reset(Cache *cache, const char *epoch, int64_t version)
{
	int			i;

	for (i = 0; i < cache->ntoggles; i++)
		toggle_free(&cache->toggles[i]);
	cache->ntoggles = 0;
	window_clear(cache);
	free(cache->epoch);
	cache->epoch = strdup(epoch);
	cache->version = version;
	cache->floor = version;
	cache->loaded = true;
	drop_snapshot(cache);
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

void
cache_put(Cache *cache, const Toggle *toggle)
{
	int			i = find(cache, toggle->name);

	drop_snapshot(cache);
	if (i >= 0)
	{
		toggle_free(&cache->toggles[i]);
		toggle_copy(&cache->toggles[i], toggle);
		return;
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
	toggle_copy(&cache->toggles[i], toggle);
	cache->ntoggles++;
}

static void
cache_remove(Cache *cache, const char *name)
{
	int			i = find(cache, name);

	if (i < 0)
		return;
	drop_snapshot(cache);
	toggle_free(&cache->toggles[i]);
	memmove(&cache->toggles[i], &cache->toggles[i + 1],
			(cache->ntoggles - i - 1) * sizeof(Toggle));
	cache->ntoggles--;
}

void
cache_window_add(Cache *cache, int64_t version, ToggleDelta *deltas, int ndeltas)
{
	WindowEntry *e;

	if (cache->ring_len == cache->ring_cap)
	{
		/* Evicting the oldest: resuming from before it is no longer exact. */
		e = &cache->ring[cache->ring_start];
		cache->floor = e->version;
		deltas_free(e->deltas, e->ndeltas);
		cache->ring_start = (cache->ring_start + 1) % cache->ring_cap;
		cache->ring_len--;
	}
	e = &cache->ring[(cache->ring_start + cache->ring_len) % cache->ring_cap];
	e->version = version;
	e->deltas = deltas;
	e->ndeltas = ndeltas;
	cache->ring_len++;
}

void
cache_apply(Cache *cache, int64_t version, ToggleDelta *deltas, int ndeltas)
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
	drop_snapshot(cache);
	cache_window_add(cache, version, deltas, ndeltas);
}

Msg *
cache_snapshot_msg(Cache *cache)
{
	if (cache->snapshot == NULL)
	{
		TextBuf		buf;

		textbuf_init(&buf);
		encode_snapshot(&buf, cache->epoch, cache->version, cache->toggles, cache->ntoggles);
		if (buf.data == NULL)
			return NULL;
		cache->snapshot = msg_new(buf.data, buf.len, cache->version);
		textbuf_free(&buf);
		if (cache->snapshot == NULL)
			return NULL;
	}
	return msg_ref(cache->snapshot);
}

typedef struct Ranked
{
	const ToggleDelta *delta;
	long		order;
} Ranked;

static int
compare_ranked(const void *a, const void *b)
{
	const Ranked *ra = a;
	const Ranked *rb = b;
	int			cmp = strcmp(ra->delta->state.name, rb->delta->state.name);

	if (cmp != 0)
		return cmp;
	return (ra->order > rb->order) - (ra->order < rb->order);
}

Msg *
cache_since(Cache *cache, int64_t since)
{
	Ranked	   *ranked;
	ToggleDelta *net;
	long		n = 0;
	int			nnet = 0;
	int			i;
	int			j;
	TextBuf		buf;
	Msg		   *msg;

	if (since < cache->floor)
		return NULL;

	for (i = 0; i < cache->ring_len; i++)
	{
		WindowEntry *e = &cache->ring[(cache->ring_start + i) % cache->ring_cap];

		if (e->version > since)
			n += e->ndeltas;
	}
	ranked = malloc((n ? n : 1) * sizeof(Ranked));
	net = malloc((n ? n : 1) * sizeof(ToggleDelta));
	if (ranked == NULL || net == NULL)
	{
		free(ranked);
		free(net);
		return NULL;
	}
	n = 0;
	for (i = 0; i < cache->ring_len; i++)
	{
		WindowEntry *e = &cache->ring[(cache->ring_start + i) % cache->ring_cap];

		if (e->version <= since)
			continue;
		for (j = 0; j < e->ndeltas; j++)
		{
			ranked[n].delta = &e->deltas[j];
			ranked[n].order = n;
			n++;
		}
	}
	/* Sorted by name, later changes after earlier: the last of each name is its state. */
	qsort(ranked, n, sizeof(Ranked), compare_ranked);
	for (i = 0; i < n; i++)
	{
		if (i + 1 < n && strcmp(ranked[i].delta->state.name, ranked[i + 1].delta->state.name) == 0)
			continue;
		net[nnet++] = *ranked[i].delta;
	}

	textbuf_init(&buf);
	encode_change(&buf, cache->version, net, nnet);
	msg = buf.data ? msg_new(buf.data, buf.len, cache->version) : NULL;
	textbuf_free(&buf);
	free(ranked);
	free(net);
	return msg;
}
