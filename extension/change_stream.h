/*
 * change_stream.h — per-transaction collection of toggle changes, the commit-ordered
 * version, and the one NOTIFY each committing transaction sends.
 */
#ifndef PG_TOGGLES_CHANGE_STREAM_H
#define PG_TOGGLES_CHANGE_STREAM_H

#include "postgres.h"

#define TOGGLES_CHANNEL "toggles"

/* A toggle as the change stream reports it: its final state, or its removal. */
typedef struct ToggleChange
{
	char	   *name;
	bool		removed;
	bool		active;
	int			seq;			/* order of recording, to find the last change of a name */
	SubTransactionId subid;		/* subtransaction that recorded it */
} ToggleChange;

extern void change_stream_init(void);
extern int64 change_stream_version(void);
extern void change_stream_record(const char *name, bool removed, bool active);

/* payload.c */
extern char *change_stream_payload(int64 version, ToggleChange *changes, int nchanges);

#endif
