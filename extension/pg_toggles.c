/*
 * pg_toggles.c — module entry point: the pg_toggles.* settings and the transaction hooks.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "change_stream.h"
#include "pg_toggles.h"

PG_MODULE_MAGIC;

char	   *toggles_actor = NULL;
int			toggles_log_retention = 30 * 24 * 3600;
int			toggles_log_keep_versions = 1000;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("pg_toggles.actor",
							   "Who to record as the author of toggle changes.",
							   "Empty means session_user. Tools that act for a person set it, "
							   "e.g. SET LOCAL pg_toggles.actor = 'alice@example.com'.",
							   &toggles_actor, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_toggles.log_retention",
							"How long toggles.prune_changes() keeps entries of toggles.changes.",
							"Entries within the newest pg_toggles.log_keep_versions versions are "
							"kept whatever their age.",
							&toggles_log_retention, 30 * 24 * 3600, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_toggles.log_keep_versions",
							"How many of the newest versions toggles.prune_changes() never removes.",
							"Clients resume from toggles.changes; this is the resume window that "
							"pruning always leaves intact.",
							&toggles_log_keep_versions, 1000, 1, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("pg_toggles");

	change_stream_init();
}

/* toggles_current_actor returns pg_toggles.actor when set, else session_user. */
const char *
toggles_current_actor(void)
{
	if (toggles_actor != NULL && toggles_actor[0] != '\0')
		return toggles_actor;
	return GetUserNameFromId(GetSessionUserId(), false);
}
