/*
 * epoch.c — toggles.epoch(): names the history that versions belong to.
 *
 * Versions can repeat after a restore, a failover to a replica that lacked the last
 * commits, or DROP/CREATE EXTENSION.  The epoch combines the cluster's system identifier,
 * the current WAL timeline (a promoted replica starts a new one) and an id drawn at
 * CREATE EXTENSION (toggles.instance, deliberately left out of pg_dump so that a restore
 * draws a new one).  Two equal epochs mean versions are comparable.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(epoch);
Datum
epoch(PG_FUNCTION_ARGS)
{
	TimeLineID	tli;
	char	   *instance_id;
	char	   *result;

	if (RecoveryInProgress())
		(void) GetXLogReplayRecPtr(&tli);
	else
		tli = GetWALInsertionTimeLine();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.replace(id::text, '-', '') FROM toggles.instance",
					true, 2) != SPI_OK_SELECT)
		elog(ERROR, "could not read toggles.instance");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("toggles.instance must hold exactly one row, it holds %llu",
						(unsigned long long) SPI_processed),
				 errhint("Recreate the extension: DROP EXTENSION pg_toggles; CREATE EXTENSION pg_toggles;")));
	instance_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	result = psprintf(UINT64_FORMAT "-%u-%s", GetSystemIdentifier(), tli, instance_id);
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(result));
}
