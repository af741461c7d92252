/*
 * retention.c — toggles.prune_changes(): bounds the growth of the change log.
 *
 * An entry goes when it is older than pg_toggles.log_retention and outside the newest
 * pg_toggles.log_keep_versions versions, which are the window clients resume from.
 * Pruning only ever removes a prefix of the log (every version below some bound): a
 * reader that finds the oldest remaining version at or below the one it has knows that
 * nothing after it is missing.  changed_at is the transaction's start, so a long
 * transaction can carry an older changed_at than an earlier commit; the bound is
 * therefore the first version that is still young, not each entry's own age.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "pg_toggles.h"

#define PRUNE_CHANGES \
	"WITH bounds AS (" \
	"  SELECT pg_catalog.max(version) AS newest, " \
	"         pg_catalog.min(version) FILTER (WHERE changed_at OPERATOR(pg_catalog.>=) " \
	"             (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1))) " \
	"             AS first_young " \
	"  FROM toggles.changes) " \
	"DELETE FROM toggles.changes c USING bounds b " \
	"WHERE c.version OPERATOR(pg_catalog.<=) (b.newest OPERATOR(pg_catalog.-) $2) " \
	"  AND (b.first_young IS NULL OR c.version OPERATOR(pg_catalog.<) b.first_young)"

PG_FUNCTION_INFO_V1(prune_changes);
Datum
prune_changes(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {FLOAT8OID, INT8OID};
	Datum		values[2];
	int			ret;
	uint64		pruned;

	values[0] = Float8GetDatum((double) toggles_log_retention);
	values[1] = Int64GetDatum((int64) toggles_log_keep_versions);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args(PRUNE_CHANGES, 2, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "pruning toggles.changes failed: %s", SPI_result_code_string(ret));
	pruned = SPI_processed;
	SPI_finish();

	PG_RETURN_INT64((int64) pruned);
}
