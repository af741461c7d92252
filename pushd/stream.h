/*
 * stream.h — the sequencer: what happens after a load, a commit, a tick of the schedule
 * and a change of the token set, each in one function and one order.  sync.c turns the
 * database's rows into these calls; schedule.c says when time moved a toggle; nothing
 * below the sequencer reaches the groups or the clients itself.
 */
#ifndef PUSHD_STREAM_H
#define PUSHD_STREAM_H

#include <stdint.h>

#include "metrics.h"
#include "toggle.h"

/*
 * A full load, in order: stream_load_begin (a fresh state of epoch at version),
 * stream_load_toggle for every toggle, stream_load_window for every transaction of the
 * resume window, then stream_load_end with the log's lowest version (0: empty log) —
 * which re-evaluates every group, arms the schedule and gives every client a snapshot.
 */
extern void stream_load_begin(const char *epoch, int64_t version);
extern void stream_load_toggle(const Toggle *toggle);
extern void stream_load_window(int64_t version, const ToggleDelta *deltas, int ndeltas);
extern void stream_load_end(int64_t log_min);

/*
 * stream_commit applies one committed transaction (nothing when the cache has it
 * already): the cache, each group's change, the clients waiting for that version, the
 * schedule.  notified_us: when its notification arrived (now_us), 0 for none.  The
 * deltas stay the caller's.
 */
extern void stream_commit(int64_t version, const ToggleDelta *deltas, int ndeltas,
						  int64_t notified_us);

/* stream_time_moved: toggles whose windows opened or closed at at_us (schedule.c's tick). */
extern void stream_time_moved(Toggle *const *moved, int nmoved, int64_t at_us);

/* stream_tokens_changed: the token set was loaded again; clients it no longer admits go. */
extern void stream_tokens_changed(void);

/* The row of /metrics of the version served (metrics_register). */
extern const MetricDef stream_rows[];
extern const int stream_nrows;

#endif
