/*
 * schedule.h — time as a change source: while any toggle has window conditions, a timer
 * at every whole second re-evaluates the toggles whose windows opened or closed.
 */
#ifndef PUSHD_SCHEDULE_H
#define PUSHD_SCHEDULE_H

#include <stdint.h>

#include "toggle.h"

/* A ScheduleMoved hears of the toggles whose windows opened or closed at at_us. */
typedef void (*ScheduleMoved) (Toggle *const *moved, int nmoved, int64_t at_us);

/* schedule_on_moved sets who hears of a tick that moved something (main.c: the sequencer). */
extern void schedule_on_moved(ScheduleMoved hook);

/* schedule_update arms or disarms the timer after the cache changed. */
extern void schedule_update(void);
extern void schedule_stop(void);

#endif
