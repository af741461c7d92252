/*
 * groups.c — client groups (see groups.h): the table of groups by key, evaluation of
 * toggles for a group, and the per-group messages of a transaction, a resume and a
 * schedule change.
 *
 * A group's results are always current: every transaction and every schedule change
 * re-evaluates what it touched for every group, and compares with what the group had, so
 * that a group's clients hear only of what changed for them.  With no rules and one
 * context (the plain case) there is one group, and a transaction costs one comparison per
 * toggle it wrote and one serialisation, as it did before targeting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "encode.h"
#include "groups.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"

static Group *all_groups;
static int	ngroups;
static Group **table;
static uint32_t table_size;		/* a power of two, or 0 */
static GroupSink sink;

/* What a transaction did to one toggle, as every group needs to know it. */
typedef struct Written
{
	const char *name;
	bool		removed;
	bool		existed;		/* it was in the cache before the transaction */
	bool		fresh;			/* new, or news (toggle_news): a visible change for everyone */
	Toggle	   *toggle;			/* its cached state afterwards (NULL when removed) */
} Written;

int
groups_count(void)
{
	return ngroups;
}

static double
groups_gauge(void)
{
	return ngroups;
}

const MetricDef groups_rows[] = {
	{"pushd_groups", "Client groups (distinct contexts), each evaluated once.", METRIC_GAUGE,
	NULL, NULL, groups_gauge, NULL},
};
const int	groups_nrows = sizeof(groups_rows) / sizeof(groups_rows[0]);

static uint32_t
fnv1a32(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

uint64_t
fnv1a64(const unsigned char *data, size_t len)
{
	uint64_t	h = 14695981039346656037ull;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	return h;
}

bool
group_visible(const Group *group, const char *name)
{
	return scope_allows(group->scope, name);
}

/*
 * group_key: what makes two clients' views equal: the token scope's patterns and the
 * canonical context ("*" stands for no scope; patterns cannot contain a newline).
 */
static char *
group_key(const Scope *scope, const char *context)
{
	char	   *key;

	if (asprintf(&key, "%s\n%s", scope ? scope->key : "*", context) < 0)
		return NULL;
	return key;
}

static void
evaluate(const Toggle *t, const Group *g, int64_t at_us, TgResult *out)
{
	metrics.evaluations++;
	if (t->broken)
	{
		memset(out, 0, sizeof(*out));
		out->reason = TG_ERROR;
		out->rule = -1;
		out->error = t->broken;
		return;
	}
	tg_evaluate(t->compiled, t->active, g->parsed, at_us, pushd.cache.hooks, out);
}

static void
drop_snapshot(Group *g)
{
	msg_unref(g->snapshot);
	g->snapshot = NULL;
}

/* reserve makes room for a result per slot the cache has handed out. */
static void
reserve(Group *g)
{
	int			want = pushd.cache.slot_count;
	TgResult   *bigger;

	if (want <= g->nresults)
		return;
	want = want < 64 ? 64 : want * 2;
	bigger = realloc(g->results, want * sizeof(TgResult));
	if (bigger == NULL)
		abort();
	memset(bigger + g->nresults, 0, (want - g->nresults) * sizeof(TgResult));
	g->results = bigger;
	g->nresults = want;
}

static void
evaluate_all(Group *g, int64_t at_us)
{
	int			i;

	reserve(g);
	for (i = 0; i < pushd.cache.ntoggles; i++)
	{
		const Toggle *t = &pushd.cache.toggles[i];

		evaluate(t, g, at_us, &g->results[t->slot]);
	}
	drop_snapshot(g);
}

static void
table_link(Group *g)
{
	uint32_t	b = g->hash & (table_size - 1);

	g->hash_next = table[b];
	table[b] = g;
}

static void
table_grow(void)
{
	Group	   *g;

	free(table);
	table_size = table_size ? table_size * 2 : 64;
	table = calloc(table_size, sizeof(Group *));
	if (table == NULL)
		abort();
	for (g = all_groups; g != NULL; g = g->next)
		table_link(g);
}

static Group *
table_find(const char *key, uint32_t hash)
{
	Group	   *g;

	if (table_size == 0)
		return NULL;
	for (g = table[hash & (table_size - 1)]; g != NULL; g = g->hash_next)
		if (g->hash == hash && strcmp(g->key, key) == 0)
			return g;
	return NULL;
}

static void
table_unlink(Group *g)
{
	Group	  **p = &table[g->hash & (table_size - 1)];

	while (*p != g)
		p = &(*p)->hash_next;
	*p = g->hash_next;
}

/* group_new makes and evaluates the group of a canonical context; NULL with err. */
static Group *
group_new(const char *context, const Scope *scope, char *key, uint32_t hash,
		  char *err, size_t errlen)
{
	Group	   *g = calloc(1, sizeof(Group));

	if (g == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->parsed = tg_context_parse(context, strlen(context), pushd.cache.hooks, err, errlen);
	if (g->parsed == NULL)
	{
		free(g);
		return NULL;
	}
	g->context = strdup(context);
	g->scope = scope_copy(scope);
	g->key = key;
	g->hash = hash;
	evaluate_all(g, wall_clock_us());

	if (ngroups + 1 > (int) table_size)
		table_grow();
	g->next = all_groups;
	if (all_groups)
		all_groups->prev = g;
	all_groups = g;
	ngroups++;
	table_link(g);
	return g;
}

/* canonical_context writes the canonical text of a client's context, {} for none. */
static bool
canonical_context(const char *context, size_t len, TextBuf *out, char *err, size_t errlen)
{
	if (len > CONTEXT_MAX)
	{
		snprintf(err, errlen, "the context is larger than %d bytes", CONTEXT_MAX);
		return false;
	}
	if (len == 0)
	{
		textbuf_puts(out, "{}");
		return true;
	}
	return context_canonical(context, len, out, err, errlen);
}

Group *
group_acquire(const char *context, size_t len, const Scope *scope, char *err, size_t errlen)
{
	TextBuf		canonical;
	char	   *key;
	uint32_t	hash;
	Group	   *g;

	textbuf_init(&canonical);
	if (!canonical_context(context, len, &canonical, err, errlen))
	{
		textbuf_free(&canonical);
		return NULL;
	}
	key = canonical.data ? group_key(scope, canonical.data) : NULL;
	if (key == NULL)
	{
		textbuf_free(&canonical);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hash = fnv1a32(key);
	g = table_find(key, hash);
	if (g != NULL)
		free(key);
	else
		g = group_new(canonical.data, scope, key, hash, err, errlen);
	textbuf_free(&canonical);
	if (g == NULL)
	{
		free(key);
		return NULL;
	}
	g->refs++;
	return g;
}

void
group_release(Group *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	table_unlink(g);
	if (g->prev)
		g->prev->next = g->next;
	else
		all_groups = g->next;
	if (g->next)
		g->next->prev = g->prev;
	ngroups--;
	tg_context_free(g->parsed, pushd.cache.hooks);
	drop_snapshot(g);
	free(g->results);
	free(g->context);
	scope_free(g->scope);
	free(g->key);
	free(g);
}

void
group_join(Group *g, lws_dll2_t *member)
{
	lws_dll2_add_head(member, &g->members);
}

void
group_leave(Group *g, lws_dll2_t *member)
{
	lws_dll2_remove(member);
	group_release(g);
}

void
groups_on_change(GroupSink on_change)
{
	sink = on_change;
}

/* to_msg turns serialised text into a message, logging what cannot be sent. */
static Msg *
to_msg(TextBuf *buf, int64_t version)
{
	Msg		   *msg = buf->data ? msg_new(buf->data, buf->len, version) : NULL;

	if (msg == NULL)
		log_error("out of memory serialising version %lld", (long long) version);
	textbuf_free(buf);
	return msg;
}

Msg *
group_snapshot(Group *g, uint64_t *hash)
{
	if (g->snapshot == NULL)
	{
		Cache	   *cache = &pushd.cache;
		Evaluated  *items = malloc((cache->ntoggles ? cache->ntoggles : 1) * sizeof(Evaluated));
		int			n = 0;
		int			i;
		TextBuf		buf;

		if (items == NULL)
			return NULL;
		for (i = 0; i < cache->ntoggles; i++)
		{
			const Toggle *t = &cache->toggles[i];

			if (!group_visible(g, t->name))
				continue;
			items[n].toggle = t;
			items[n].result = &g->results[t->slot];
			n++;
		}
		textbuf_init(&buf);
		encode_snapshot(&buf, cache->epoch, cache->version, items, n);
		free(items);
		g->snapshot = to_msg(&buf, cache->version);
		if (g->snapshot == NULL)
			return NULL;
		g->snapshot_hash = fnv1a64(g->snapshot->data, g->snapshot->len);
	}
	if (hash)
		*hash = g->snapshot_hash;
	return msg_ref(g->snapshot);
}

/*
 * collect_since fills items and removed from the touched names (sorted) and, when any
 * toggle is time-dependent, every such toggle: a merge of two sorted lists.
 */
static void
collect_since(Group *g, const char **names, int nnames, Evaluated *items, int *nitems,
			  const char **removed, int *nremoved)
{
	Cache	   *cache = &pushd.cache;
	int			i = 0;
	int			j = 0;

	*nitems = *nremoved = 0;
	while (i < cache->ntoggles || j < nnames)
	{
		const Toggle *t = i < cache->ntoggles ? &cache->toggles[i] : NULL;
		int			cmp = t == NULL ? 1 : j == nnames ? -1 : strcmp(t->name, names[j]);

		if (cmp > 0)
		{
			/* touched and gone */
			if (group_visible(g, names[j]))
				removed[(*nremoved)++] = names[j];
			j++;
			continue;
		}
		if ((cmp == 0 || t->timed) && group_visible(g, t->name))
		{
			items[*nitems].toggle = t;
			items[*nitems].result = &g->results[t->slot];
			(*nitems)++;
		}
		i++;
		if (cmp == 0)
			j++;
		if (cache->ntimed == 0 && j == nnames)
			break;				/* nothing more to find */
	}
}

Msg *
group_since(Group *g, int64_t since)
{
	Cache	   *cache = &pushd.cache;
	int			nnames;
	const char **names = cache_touched_since(cache, since, &nnames);
	Evaluated  *items;
	const char **removed;
	int			nitems;
	int			nremoved;
	TextBuf		buf;

	if (names == NULL)
		return NULL;
	items = malloc((cache->ntoggles + 1) * sizeof(Evaluated));
	removed = malloc((nnames + 1) * sizeof(char *));
	if (items == NULL || removed == NULL)
	{
		free(items);
		free(removed);
		free(names);
		return NULL;
	}
	collect_since(g, names, nnames, items, &nitems, removed, &nremoved);
	textbuf_init(&buf);
	encode_change(&buf, cache->version, NULL, items, nitems, removed, nremoved);
	free(items);
	free(removed);
	free(names);
	return to_msg(&buf, cache->version);
}

/*
 * update_result re-evaluates one toggle for a group and records the new result; true
 * when the group's clients must hear of it.
 */
static bool
update_result(Group *g, const Toggle *t, bool fresh, int64_t at_us)
{
	TgResult	r;
	bool		changed;

	evaluate(t, g, at_us, &r);
	changed = fresh || !tg_result_equal(&r, &g->results[t->slot]);
	g->results[t->slot] = r;
	return changed;
}

/* send_change serialises one group's change and queues it for the group's clients. */
static void
send_change(Group *g, int64_t version, const char *cause, const Evaluated *items, int nitems,
			const char **removed, int nremoved)
{
	TextBuf		buf;
	Msg		   *msg;

	textbuf_init(&buf);
	encode_change(&buf, version, cause, items, nitems, removed, nremoved);
	msg = to_msg(&buf, version);
	if (msg == NULL)
		return;
	msg->schedule = cause != NULL;
	if (sink)
		sink(g, msg);
	msg_unref(msg);
}

/* commit_group sends one group what the transaction changed for it. */
static void
commit_group(Group *g, int64_t version, const Written *written, int nwritten,
			 Evaluated *items, const char **removed, int64_t at_us)
{
	int			nitems = 0;
	int			nremoved = 0;
	int			i;

	reserve(g);
	drop_snapshot(g);			/* its version is out of date, whatever else is */
	for (i = 0; i < nwritten; i++)
	{
		const Written *w = &written[i];

		if (!group_visible(g, w->name))
			continue;
		if (w->removed)
		{
			if (w->existed)
				removed[nremoved++] = w->name;
		}
		else if (update_result(g, w->toggle, w->fresh, at_us))
		{
			items[nitems].toggle = w->toggle;
			items[nitems].result = &g->results[w->toggle->slot];
			nitems++;
		}
	}
	if (nitems > 0 || nremoved > 0)
		send_change(g, version, NULL, items, nitems, removed, nremoved);
}

/* note_written records, before the cache changes, what each delta does. */
static void
note_written(const ToggleDelta *deltas, int ndeltas, Written *written)
{
	int			i;

	for (i = 0; i < ndeltas; i++)
	{
		const Toggle *old = cache_get(&pushd.cache, deltas[i].state.name);

		written[i].name = deltas[i].state.name;
		written[i].removed = deltas[i].removed;
		written[i].existed = old != NULL;
		written[i].fresh = old == NULL || toggle_news(old, &deltas[i].state);
		written[i].toggle = NULL;
	}
}

/* note_applied finds each written toggle's new cached state and its time signature. */
static void
note_applied(Written *written, int nwritten, int64_t at_us)
{
	int			i;

	for (i = 0; i < nwritten; i++)
	{
		Toggle	   *t;

		if (written[i].removed)
			continue;
		t = cache_get_mutable(&pushd.cache, written[i].name);
		written[i].toggle = t;
		if (t->broken)
			log_error("toggle \"%s\": its rules do not compile, it evaluates as ERROR (off): %s",
					  t->name, t->broken);
		if (t->timed)
			t->signature = tg_time_signature(t->compiled, at_us, pushd.cache.hooks);
	}
}

/* What a commit needs between groups_commit_begin and groups_commit_end. */
struct GroupsCommit
{
	Written    *written;
	int			nwritten;
};

GroupsCommit *
groups_commit_begin(const ToggleDelta *deltas, int ndeltas)
{
	GroupsCommit *commit = malloc(sizeof(GroupsCommit));

	if (commit == NULL || (commit->written = malloc((ndeltas + 1) * sizeof(Written))) == NULL)
		abort();
	commit->nwritten = ndeltas;
	note_written(deltas, ndeltas, commit->written);
	return commit;
}

void
groups_commit_end(GroupsCommit *commit, int64_t version, int64_t at_us)
{
	int			n = commit->nwritten;
	Evaluated  *items = malloc((n + 1) * sizeof(Evaluated));
	const char **removed = malloc((n + 1) * sizeof(char *));
	Group	   *g;

	if (items == NULL || removed == NULL)
		abort();
	note_applied(commit->written, n, at_us);
	for (g = all_groups; g != NULL; g = g->next)
		commit_group(g, version, commit->written, n, items, removed, at_us);
	free(commit->written);
	free(commit);
	free(items);
	free(removed);
}

void
groups_reload(int64_t at_us)
{
	Group	   *g;
	int			i;

	for (i = 0; i < pushd.cache.ntoggles; i++)
	{
		Toggle	   *t = &pushd.cache.toggles[i];

		if (t->broken)
			log_error("toggle \"%s\": its rules do not compile, it evaluates as ERROR (off): %s",
					  t->name, t->broken);
		if (t->timed)
			t->signature = tg_time_signature(t->compiled, at_us, pushd.cache.hooks);
	}
	for (g = all_groups; g != NULL; g = g->next)
		evaluate_all(g, at_us);
	cache_drop_retired(&pushd.cache);
}

void
groups_time_changed(Toggle *const *toggles, int ntoggles, int64_t at_us)
{
	Evaluated  *items = malloc((ntoggles + 1) * sizeof(Evaluated));
	Group	   *g;
	int			i;

	if (items == NULL)
		abort();
	for (g = all_groups; g != NULL; g = g->next)
	{
		int			nitems = 0;

		for (i = 0; i < ntoggles; i++)
		{
			if (!group_visible(g, toggles[i]->name) ||
				!update_result(g, toggles[i], false, at_us))
				continue;
			items[nitems].toggle = toggles[i];
			items[nitems].result = &g->results[toggles[i]->slot];
			nitems++;
		}
		if (nitems == 0)
			continue;
		drop_snapshot(g);
		metrics.schedule_changes++;
		send_change(g, pushd.cache.version, "schedule", items, nitems, NULL, 0);
	}
	free(items);
}
