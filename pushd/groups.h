/*
 * groups.h — clients grouped by what they may see: one Group per distinct context, which
 * holds the parsed context, the current result of every toggle for it and its serialised
 * snapshot, so that evaluation and serialisation happen once per group, never per client.
 */
#ifndef PUSHD_GROUPS_H
#define PUSHD_GROUPS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "message.h"
#include "metrics.h"
#include "scope.h"
#include "targeting.h"

typedef struct Group
{
	struct Group *next;			/* every group */
	struct Group *prev;
	struct Group *hash_next;	/* the group table's chain */
	uint32_t	hash;
	char	   *key;			/* what the table is keyed by (group_key) */
	char	   *context;		/* canonical context text */
	Scope	   *scope;			/* what its clients' token lets them see; NULL: all */
	TgContext  *parsed;
	TgResult   *results;		/* by toggle slot, current for every cached toggle */
	int			nresults;		/* allocated */
	int			refs;			/* members and requests holding it */
	lws_dll2_owner_t members;	/* whoever joined it (clients.c: its clients) */
	Msg		   *snapshot;		/* serialised lazily, dropped on every change */
	uint64_t	snapshot_hash;	/* FNV-1a of the snapshot's text (ETags) */
} Group;

/*
 * group_acquire returns (a new reference to) the group of a client context given as JSON
 * text (len 0: {}) and a token scope (NULL: everything), evaluated for the current cache
 * when new; NULL with a message in err when the context is not acceptable.
 */
extern Group *group_acquire(const char *context, size_t len, const Scope *scope,
							char *err, size_t errlen);
extern void group_release(Group *group);

/*
 * group_join makes member one of the group's members, taking over one reference;
 * group_leave takes it out and releases that reference.  What a member is, is its
 * owner's (clients.c embeds the link in a Client).
 */
extern void group_join(Group *group, lws_dll2_t *member);
extern void group_leave(Group *group, lws_dll2_t *member);

/*
 * A GroupSink receives each change a group sends (a transaction's, a schedule's), once
 * per group: delivering it to the group's members is the sink's.  main.c wires the
 * clients' (clients_broadcast_group); with none, changes are only evaluated.
 */
typedef void (*GroupSink) (Group *group, Msg *msg);
extern void groups_on_change(GroupSink sink);

/*
 * group_visible: whether the group's clients may know of toggle name at all.  Every path
 * that tells a client about a toggle (snapshot, change, removal, resume, /v1/toggles)
 * asks it: a client never learns of a toggle outside its token's scope.
 */
extern bool group_visible(const Group *group, const char *name);

/* group_snapshot returns (a new reference to) the group's snapshot; its hash in *hash. */
extern Msg *group_snapshot(Group *group, uint64_t *hash);

/*
 * group_since returns a change at the cache's version with the group's current result of
 * every toggle written after version since and of every time-dependent toggle, and the
 * removed names; NULL when since is older than the resume window.
 */
extern Msg *group_since(Group *group, int64_t since);

/*
 * A commit in two halves around the cache's (stream_commit): groups_commit_begin notes
 * what each delta is (new, removed, news) while the cache still has the toggles' old
 * state; groups_commit_end, once the cache has applied them, sends each group a change
 * with only what changed for it (nothing when nothing did).  The deltas stay the caller's.
 */
typedef struct GroupsCommit GroupsCommit;
extern GroupsCommit *groups_commit_begin(const ToggleDelta *deltas, int ndeltas);
extern void groups_commit_end(GroupsCommit *commit, int64_t version, int64_t at_us);

/* groups_reload re-evaluates every group after a full load. */
extern void groups_reload(int64_t at_us);

/*
 * groups_time_changed re-evaluates toggles whose windows moved at instant at_us, and
 * sends each group whose results changed a change with cause "schedule".
 */
extern void groups_time_changed(Toggle *const *toggles, int ntoggles, int64_t at_us);

extern int	groups_count(void);

/* The row of /metrics of the groups (metrics_register). */
extern const MetricDef groups_rows[];
extern const int groups_nrows;

/* fnv1a64: FNV-1a of data, the hash of snapshot and OFREP ETags. */
extern uint64_t fnv1a64(const unsigned char *data, size_t len);

#endif
