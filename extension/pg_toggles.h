/*
 * pg_toggles.h — settings and helpers shared by the extension's source files.
 */
#ifndef PG_TOGGLES_H
#define PG_TOGGLES_H

#include "postgres.h"

#include "access/htup.h"
#include "utils/rel.h"

/* GUCs, defined in pg_toggles.c */
extern char *toggles_actor;
extern int	toggles_log_retention;
extern int	toggles_log_keep_versions;

extern const char *toggles_current_actor(void);

/* change_log.c */
extern void change_log_append(Relation features, int64 version, const char *operation,
							  HeapTuple oldtup, HeapTuple newtup);

/* targeting_sql.c */
extern void targeting_validate(const char *name, Datum rules, Datum variants,
							   bool check_zones);

#endif
