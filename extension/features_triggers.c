/*
 * features_triggers.c — the triggers on toggles.features: stamp and validate rows, take
 * the transaction's version, write the change log, feed the change stream.
 *
 *   features_before_statement  BEFORE INSERT/UPDATE/DELETE, per statement: takes the
 *                              version lock before the statement locks any row, so two
 *                              writers cannot deadlock on row lock versus version lock
 *   features_before_row        BEFORE INSERT/UPDATE, per row: validates the name and the
 *                              rules, refuses renames, skips no-op updates, sets version/
 *                              created_at/updated_at/updated_by whatever the user wrote
 *   features_after_row         AFTER INSERT/UPDATE/DELETE, per row: appends to
 *                              toggles.changes and records the change for the NOTIFY
 *   features_refuse_truncate   BEFORE TRUNCATE: TRUNCATE fires no row triggers and would
 *                              bypass the change stream
 *
 * Restores: pg_dump writes toggles.features as COPY ... (..., version, ...) FROM stdin.
 * Were that COPY stamped and logged like any insert, the restore would re-version every
 * toggle and its log entries would collide with the restored toggles.changes.  So a COPY
 * FROM by a superuser that supplies the version column is taken as a restore: rows are
 * stored as they come, neither logged nor announced (a restore is a new epoch anyway).
 * Their rules are checked for syntax only: the machine restored to may have other time
 * zones installed, and a zone that is missing makes evaluation say ERROR, not the restore
 * fail.
 *
 * The same shared library serves every installed version of the extension, so columns
 * added by later versions (rules, variants: 0.2.0) may be missing.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/timestamp.h"

#include "change_stream.h"
#include "name_rule.h"
#include "pg_toggles.h"

/* Columns the extension owns: users may write them, the trigger overwrites them. */
typedef struct ManagedColumns
{
	int			name;
	int			is_active;
	int			version;
	int			created_at;
	int			updated_at;
	int			updated_by;
	int			rules;			/* 0 before 0.2.0 */
	int			variants;
} ManagedColumns;

static int
column_number(TupleDesc desc, const char *colname)
{
	int			attnum = SPI_fnumber(desc, colname);

	if (attnum <= 0)
		elog(ERROR, "toggles.features has no column \"%s\"", colname);
	return attnum;
}

static ManagedColumns
managed_columns(TupleDesc desc)
{
	ManagedColumns c;

	c.name = column_number(desc, "name");
	c.is_active = column_number(desc, "is_active");
	c.version = column_number(desc, "version");
	c.created_at = column_number(desc, "created_at");
	c.updated_at = column_number(desc, "updated_at");
	c.updated_by = column_number(desc, "updated_by");
	c.rules = Max(SPI_fnumber(desc, "rules"), 0);
	c.variants = Max(SPI_fnumber(desc, "variants"), 0);
	return c;
}

static bool
is_stamp_column(const ManagedColumns *c, int attnum)
{
	return attnum == c->version || attnum == c->created_at ||
		attnum == c->updated_at || attnum == c->updated_by;
}

/*
 * trigger_data checks that the function was called as the trigger it is meant to be
 * (timing, level, events) and returns the trigger data.
 */
static TriggerData *
trigger_data(FunctionCallInfo fcinfo, const char *funcname, bool before, bool row)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by the trigger manager", funcname)));
	td = (TriggerData *) fcinfo->context;
	if ((TRIGGER_FIRED_BEFORE(td->tg_event) != 0) != before ||
		(TRIGGER_FIRED_FOR_ROW(td->tg_event) != 0) != row)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s %s", funcname,
						before ? "BEFORE" : "AFTER", row ? "FOR EACH ROW" : "FOR EACH STATEMENT")));
	return td;
}

/*
 * copy_supplies_version reports whether a COPY FROM into toggles.features names the
 * version column (or all columns).
 */
static bool
copy_supplies_version(CopyStmt *copy)
{
	ListCell   *lc;

	if (!copy->is_from || copy->relation == NULL ||
		strcmp(copy->relation->relname, "features") != 0)
		return false;
	if (copy->attlist == NIL)
		return true;
	foreach(lc, copy->attlist)
	{
		if (strcmp(strVal(lfirst(lc)), "version") == 0)
			return true;
	}
	return false;
}

/*
 * restoring reports whether the statement being run is a restore of toggles.features:
 * a superuser's COPY FROM that supplies versions (see the file comment).
 */
static bool
restoring(void)
{
	ListCell   *lc;

	if (ActivePortal == NULL || ActivePortal->commandTag != CMDTAG_COPY || !superuser())
		return false;
	foreach(lc, ActivePortal->stmts)
	{
		PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);

		if (stmt->commandType == CMD_UTILITY && IsA(stmt->utilityStmt, CopyStmt) &&
			copy_supplies_version((CopyStmt *) stmt->utilityStmt))
			return true;
	}
	return false;
}

static void
check_toggle_name(const char *name)
{
	size_t		bad_pos = 0;
	const char *detail;

	switch (toggle_name_check(name, strlen(name), &bad_pos))
	{
		case TOGGLE_NAME_OK:
			return;
		case TOGGLE_NAME_EMPTY:
			detail = "The name is empty.";
			break;
		case TOGGLE_NAME_TOO_LONG:
			detail = psprintf("The name is %zu bytes long.", strlen(name));
			break;
		case TOGGLE_NAME_BAD_FIRST_CHAR:
			detail = "The name does not start with an ASCII letter.";
			break;
		default:
			detail = psprintf("Byte %zu of the name is not allowed.", bad_pos + 1);
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid toggle name \"%.*s%s\"", TOGGLE_NAME_MAX_LEN, name,
					strlen(name) > TOGGLE_NAME_MAX_LEN ? "..." : ""),
			 errdetail_internal("%s", detail),
			 errhint("%s", TOGGLE_NAME_RULE)));
}

/*
 * user_columns_equal reports whether two versions of a row agree on every column the
 * user owns, i.e. whether an UPDATE would change nothing a client can see.
 */
static bool
user_columns_equal(TupleDesc desc, const ManagedColumns *c, HeapTuple a, HeapTuple b)
{
	int			attnum;

	for (attnum = 1; attnum <= desc->natts; attnum++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		bool		anull;
		bool		bnull;
		Datum		ad;
		Datum		bd;

		if (att->attisdropped || is_stamp_column(c, attnum))
			continue;
		ad = heap_getattr(a, attnum, desc, &anull);
		bd = heap_getattr(b, attnum, desc, &bnull);
		if (anull != bnull)
			return false;
		if (!anull && !datum_image_eq(ad, bd, att->attbyval, att->attlen))
			return false;
	}
	return true;
}

static char *
text_column(HeapTuple tup, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * validate_rules checks the rules and variants of a row (see targeting_validate).  NULLs
 * are left to the NOT NULL constraints.
 */
static void
validate_rules(HeapTuple tup, TupleDesc desc, const ManagedColumns *c, const char *name,
			   bool check_zones)
{
	bool		rules_null;
	bool		variants_null;
	Datum		rules;
	Datum		variants;

	if (c->rules == 0 || c->variants == 0 || name == NULL)
		return;
	rules = heap_getattr(tup, c->rules, desc, &rules_null);
	variants = heap_getattr(tup, c->variants, desc, &variants_null);
	if (!rules_null && !variants_null)
		targeting_validate(name, rules, variants, check_zones);
}

/* column_changed reports whether attnum differs between two versions of a row. */
static bool
column_changed(TupleDesc desc, int attnum, HeapTuple a, HeapTuple b)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	bool		anull;
	bool		bnull;
	Datum		ad = heap_getattr(a, attnum, desc, &anull);
	Datum		bd = heap_getattr(b, attnum, desc, &bnull);

	if (anull || bnull)
		return anull != bnull;
	return !datum_image_eq(ad, bd, att->attbyval, att->attlen);
}

static bool
bool_column(HeapTuple tup, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, desc, &isnull);

	return !isnull && DatumGetBool(d);
}

PG_FUNCTION_INFO_V1(features_before_statement);
Datum
features_before_statement(PG_FUNCTION_ARGS)
{
	trigger_data(fcinfo, "features_before_statement", true, false);
	if (!restoring())
		change_stream_version();
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(features_before_row);
Datum
features_before_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = trigger_data(fcinfo, "features_before_row", true, true);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	ManagedColumns cols = managed_columns(desc);
	HeapTuple	newtup;
	int			attnums[4];
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (restoring())
	{
		newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
		validate_rules(newtup, desc, &cols, text_column(newtup, desc, cols.name), false);
		return PointerGetDatum(newtup);
	}
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		char	   *name;

		newtup = td->tg_trigtuple;
		name = text_column(newtup, desc, cols.name);
		/* NULL is left to the NOT NULL constraint, which reports it by column. */
		if (name != NULL)
			check_toggle_name(name);
		validate_rules(newtup, desc, &cols, name, true);
		values[1] = TimestampTzGetDatum(now);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	oldtup = td->tg_trigtuple;
		char	   *oldname = text_column(oldtup, desc, cols.name);
		char	   *newname;
		bool		isnull;

		newtup = td->tg_newtuple;
		newname = text_column(newtup, desc, cols.name);
		if (newname == NULL || strcmp(oldname, newname) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot rename toggle \"%s\"", oldname),
					 errdetail("Clients and the change log know a toggle by its name."),
					 errhint("Delete the toggle and insert it under the new name.")));
		if (user_columns_equal(desc, &cols, oldtup, newtup))
			return PointerGetDatum(NULL);	/* no-op: row, version and stream untouched */

		/*
		 * Rules are validated only when they change, and zones only when the rules do:
		 * the kill switch must work even if a zone the rules name has gone since.
		 */
		if (cols.rules != 0 && cols.variants != 0 &&
			(column_changed(desc, cols.rules, oldtup, newtup) ||
			 column_changed(desc, cols.variants, oldtup, newtup)))
			validate_rules(newtup, desc, &cols, newname,
						   column_changed(desc, cols.rules, oldtup, newtup));
		values[1] = heap_getattr(oldtup, cols.created_at, desc, &isnull);
		nulls[1] = isnull;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"features_before_row\" must be fired for INSERT or UPDATE")));

	attnums[0] = cols.version;
	values[0] = Int64GetDatum(change_stream_version());
	attnums[1] = cols.created_at;
	attnums[2] = cols.updated_at;
	values[2] = TimestampTzGetDatum(now);
	attnums[3] = cols.updated_by;
	values[3] = CStringGetTextDatum(toggles_current_actor());

	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 4, attnums, values, nulls));
}

PG_FUNCTION_INFO_V1(features_after_row);
Datum
features_after_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = trigger_data(fcinfo, "features_after_row", false, true);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	ManagedColumns cols = managed_columns(desc);
	int64		version;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	const char *operation;

	if (restoring())
		return PointerGetDatum(NULL);
	version = change_stream_version();
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		operation = "insert";
		newtup = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		operation = "update";
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
	{
		operation = "delete";
		oldtup = td->tg_trigtuple;
	}

	change_log_append(td->tg_relation, version, operation, oldtup, newtup);
	if (newtup != NULL)
		change_stream_record(text_column(newtup, desc, cols.name), false,
							 bool_column(newtup, desc, cols.is_active));
	else
		change_stream_record(text_column(oldtup, desc, cols.name), true, false);

	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(features_refuse_truncate);
Datum
features_refuse_truncate(PG_FUNCTION_ARGS)
{
	trigger_data(fcinfo, "features_refuse_truncate", true, false);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot truncate toggles.features"),
			 errdetail("TRUNCATE fires no row triggers, so clients would never learn of the removals."),
			 errhint("Use DELETE FROM toggles.features; every removal is then logged and sent to clients.")));
	return PointerGetDatum(NULL);
}
