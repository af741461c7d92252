/*
 * change_log.c — appends a row to toggles.changes for every row change of toggles.features.
 *
 * Writers get no INSERT privilege on the log (it is the audit history), so the insert
 * runs as the owner of toggles.features — the extension owner, who also owns
 * toggles.changes — the way referential-integrity triggers run their checks as the
 * table owner.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "pg_toggles.h"

#define INSERT_CHANGE \
	"INSERT INTO toggles.changes (version, operation, name, old, new, changed_by, db_user) " \
	"VALUES ($1, $2, $3, pg_catalog.to_jsonb($4), pg_catalog.to_jsonb($5), $6, $7)"

/* The saved plan, prepared for one row type (a new one after DROP/CREATE EXTENSION). */
static SPIPlanPtr insert_plan = NULL;
static Oid	insert_plan_rowtype = InvalidOid;

static SPIPlanPtr
prepare_insert(Oid rowtype)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, rowtype, rowtype, TEXTOID, TEXTOID};
	SPIPlanPtr	plan;

	if (insert_plan != NULL && insert_plan_rowtype == rowtype)
		return insert_plan;
	if (insert_plan != NULL)
	{
		SPI_freeplan(insert_plan);
		insert_plan = NULL;
	}
	plan = SPI_prepare(INSERT_CHANGE, 7, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the change log insert: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for the change log insert");
	insert_plan = plan;
	insert_plan_rowtype = rowtype;
	return plan;
}

/*
 * change_log_append writes one entry: operation is "insert", "update" or "delete";
 * oldtup and newtup are NULL where the operation has none.
 */
void
change_log_append(Relation features, int64 version, const char *operation,
				  HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	desc = RelationGetDescr(features);
	HeapTuple	nametup = newtup != NULL ? newtup : oldtup;
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	values[0] = Int64GetDatum(version);
	values[1] = CStringGetTextDatum(operation);
	values[2] = SPI_getbinval(nametup, desc, SPI_fnumber(desc, "name"), &(bool) {false});
	if (oldtup != NULL)
		values[3] = heap_copy_tuple_as_datum(oldtup, desc);
	else
	{
		values[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	if (newtup != NULL)
		values[4] = heap_copy_tuple_as_datum(newtup, desc);
	else
	{
		values[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	values[5] = CStringGetTextDatum(toggles_current_actor());
	values[6] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(features->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	/* On error, transaction abort restores the user id, as for RI triggers. */
	ret = SPI_execute_plan(prepare_insert(features->rd_rel->reltype), values, nulls,
						   false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "change log insert failed: %s", SPI_result_code_string(ret));

	SPI_finish();
}
