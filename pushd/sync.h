/*
 * sync.h — what pushd's queries mean: the probe, the full load (state, toggles, tokens and
 * resume window in one repeatable-read transaction) and the catch-up from toggles.changes,
 * turned into the sequencer's calls (stream.h).
 */
#ifndef PUSHD_SYNC_H
#define PUSHD_SYNC_H

#include "pglink.h"

/*
 * sync_link_steps: the statements of the database link's setup and catch-up, and what
 * their answers mean (pglink.h); main.c hands them to pglink_start.
 */
extern const LinkSteps sync_link_steps;

/* sync_free releases what sync keeps between queries (at shutdown). */
extern void sync_free(void);

#endif
