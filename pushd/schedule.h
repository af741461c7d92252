/*
 * schedule.h — time as a change source: while any toggle has window conditions, a timer
 * at every whole second re-evaluates the toggles whose windows opened or closed.
 */
#ifndef PUSHD_SCHEDULE_H
#define PUSHD_SCHEDULE_H

/* schedule_update arms or disarms the timer after the cache changed. */
extern void schedule_update(void);
extern void schedule_stop(void);

#endif
