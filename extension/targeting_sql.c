/*
 * targeting_sql.c — the rule language (docs/targeting.md) in the backend: the evaluator's
 * hooks, validation for the row trigger, and toggles.enabled / evaluate /
 * evaluate_definition.
 *
 * The evaluator (common/targeting.c) is shared with toggles-pushd, so that SQL and the
 * push daemon give the same answer.  Both must also agree on which time zones exist:
 * pushd reads /usr/share/zoneinfo/<name>, PostgreSQL's pg_tzset() matches names
 * case-insensitively and also accepts POSIX zone specifications ("XYZ+3").  A zone is
 * therefore known here only when pg_tzset's canonical name equals the given name byte
 * for byte and the file pushd would read exists.
 *
 * Evaluation reads toggles.features directly through its primary key with the active
 * snapshot, and keeps the compiled rules of each toggle per backend, keyed by name and
 * checked against the row version's xmin and ctid (the way PL/pgSQL checks its function
 * cache against pg_proc), so a call on an unchanged toggle parses nothing but the context.
 * The row itself is not looked up again while the snapshot cannot see anything new
 * (see SeenSnapshot).
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "name_rule.h"
#include "pg_toggles.h"
#include "targeting.h"

/* Where toggles-pushd reads time zones; Debian's PostgreSQL reads the same files. */
#define ZONEINFO_DIR "/usr/share/zoneinfo"

/* A context is at most 64 KiB of JSON text in SQL (docs/targeting.md, Limits). */
#define CONTEXT_MAX_BYTES (64 * 1024)

/* How many toggles' compiled rules a backend keeps before starting over. */
#define COMPILED_CACHE_MAX 4096

/* How many time-zone names a backend remembers before starting over. */
#define ZONE_CACHE_MAX 1024

/* Room for the validator's messages: a path, what was expected, what was given. */
#define TG_ERRLEN 1024

/* Microseconds between 1970-01-01 (the evaluator's epoch) and 2000-01-01 (PostgreSQL's). */
#define UNIX_TO_PG_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

typedef struct ZoneEntry
{
	char		name[TZ_STRLEN_MAX + 1];	/* hash key */
	pg_tz	   *tz;				/* NULL: not a zone pushd would find */
} ZoneEntry;

typedef struct CompiledEntry
{
	char		name[TOGGLE_NAME_MAX_LEN + 1];	/* hash key */
	Oid			relid;			/* toggles.features as of this entry */
	TransactionId xmin;			/* the row version it was compiled from */
	ItemPointerData tid;
	bool		invalid;		/* stored rules the validator refuses (reason ERROR) */
	TgToggle   *toggle;			/* NULL: no rules and no variants */
	MemoryContext cxt;			/* holds toggle; NULL when toggle is NULL */

	/* The row as last looked up: valid while snapshot_generation() says so. */
	uint64		seen_generation;	/* 0: nothing remembered */
	bool		is_active;
} CompiledEntry;

/*
 * The last snapshot evaluation looked through.  A snapshot equal to it (same transaction,
 * subtransaction and command, same transactions in progress) sees exactly the same rows,
 * so rows looked up with it need not be looked up again: a statement evaluating a toggle
 * for many contexts reads the table once.
 */
typedef struct SeenSnapshot
{
	uint64		generation;		/* 0: none yet */
	LocalTransactionId lxid;
	SubTransactionId subid;
	CommandId	curcid;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	bool		takenDuringRecovery;
	TransactionId *xip;			/* in TopMemoryContext */
	TransactionId *subxip;
	uint32		xip_size;
	uint32		subxip_size;
} SeenSnapshot;

/* The last definition evaluate_definition compiled, for calls repeating it per row. */
typedef struct DefinitionCache
{
	Jsonb	   *definition;		/* a copy, in cxt */
	char	   *name;
	bool		is_active;
	TgToggle   *toggle;
	MemoryContext cxt;
} DefinitionCache;

static HTAB *zone_cache = NULL;
static HTAB *compiled_cache = NULL;
static MemoryContext compiled_cache_cxt = NULL;
static DefinitionCache last_definition = {NULL, NULL, false, NULL, NULL};
static SeenSnapshot seen_snapshot;

/*
 * zone_lookup returns the time zone named exactly tz, or NULL when pushd would not
 * find it (see the file comment).  Answers are kept for the life of the backend, as
 * pg_tzset keeps the zones themselves.
 */
static pg_tz *
zone_lookup(const char *tz)
{
	ZoneEntry  *entry;
	bool		found;
	size_t		len = strlen(tz);

	if (len == 0 || len > TZ_STRLEN_MAX)
		return NULL;
	/* Every name probed is remembered, known or not: bounded, as names come from users. */
	if (zone_cache != NULL && hash_get_num_entries(zone_cache) >= ZONE_CACHE_MAX)
	{
		hash_destroy(zone_cache);
		zone_cache = NULL;
	}
	if (zone_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = TZ_STRLEN_MAX + 1;
		ctl.entrysize = sizeof(ZoneEntry);
		zone_cache = hash_create("pg_toggles time zones", 16, &ctl,
								 HASH_ELEM | HASH_STRINGS);
	}
	entry = hash_search(zone_cache, tz, HASH_FIND, &found);
	if (!found)
	{
		pg_tz	   *zone = NULL;

		/* Only names below the zoneinfo directory: no absolute paths, no "..". */
		if (tz[0] != '/' && strstr(tz, "..") == NULL)
			zone = pg_tzset(tz);
		if (zone != NULL &&
			(strcmp(pg_get_timezone_name(zone), tz) != 0 || !pg_tz_acceptable(zone)))
			zone = NULL;
		if (zone != NULL)
		{
			char		path[sizeof(ZONEINFO_DIR) + 1 + TZ_STRLEN_MAX + 1];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				zone = NULL;
		}
		entry = hash_search(zone_cache, tz, HASH_ENTER, &found);
		entry->tz = zone;
	}
	return entry->tz;
}

/* backend_local_time is the evaluator's local_time hook: t_us plus tz's UTC offset. */
static bool
backend_local_time(void *arg, const char *tz, int64_t t_us, int64_t *local_us)
{
	pg_tz	   *zone = zone_lookup(tz);
	pg_time_t	secs;
	struct pg_tm *tm;

	if (zone == NULL)
		return false;
	secs = t_us / USECS_PER_SEC;
	if (t_us % USECS_PER_SEC < 0)
		secs--;					/* floor, for instants before 1970 */
	tm = pg_localtime(&secs, zone);
	if (tm == NULL)
		return false;
	return !pg_add_s64_overflow(t_us, (int64) tm->tm_gmtoff * USECS_PER_SEC,
								(int64 *) local_us);
}

/* backend_alloc never returns NULL: palloc throws instead. */
static void *
backend_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

/* backend_free: pfree, which finds the chunk's context itself. */
static void
backend_free(void *arg, void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/* backend_hooks: the evaluator's hooks, allocating in cxt. */
static TgHooks
backend_hooks(MemoryContext cxt)
{
	TgHooks		hooks;

	hooks.alloc = backend_alloc;
	hooks.free = backend_free;
	hooks.local_time = backend_local_time;
	hooks.arg = cxt;
	return hooks;
}

/* jsonb_text: the JSON text of a jsonb value, for the evaluator's parser. */
static char *
jsonb_text(Jsonb *jb, size_t *len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	JsonbToCString(&buf, &jb->root, VARSIZE(jb));
	*len = buf.len;
	return buf.data;
}

/* jsonb_is_empty_array / _object: [] and {}, which need no parsing. */
static bool
jsonb_is_empty_array(Jsonb *jb)
{
	return JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb) && JB_ROOT_COUNT(jb) == 0;
}

static bool
jsonb_is_empty_object(Jsonb *jb)
{
	return JB_ROOT_IS_OBJECT(jb) && JB_ROOT_COUNT(jb) == 0;
}

/* report_invalid_rules: the validator's refusal, for the trigger and evaluate_definition. */
static void
report_invalid_rules(const char *name, const char *message)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid rules for toggle \"%s\": %s", name, message),
			 errhint("The rule language is described in docs/targeting.md.")));
}

/*
 * compile_toggle compiles rules and variants of toggle name in cxt.  Returns NULL with
 * the validator's message in err when they are invalid.  An empty rules array with an
 * empty variants object compiles to nothing at all: *plain is set and NULL returned.
 */
static TgToggle *
compile_toggle(const char *name, Jsonb *rules, Jsonb *variants, unsigned flags,
			   MemoryContext cxt, bool *plain, char *err)
{
	TgHooks		hooks = backend_hooks(cxt);
	char	   *rules_text;
	char	   *variants_text;
	size_t		rules_len;
	size_t		variants_len;
	TgToggle   *toggle;

	*plain = jsonb_is_empty_array(rules) && jsonb_is_empty_object(variants);
	err[0] = '\0';
	if (*plain)
		return NULL;
	rules_text = jsonb_text(rules, &rules_len);
	variants_text = jsonb_text(variants, &variants_len);
	toggle = tg_compile(name, rules_text, rules_len, variants_text, variants_len, flags,
						&hooks, err, TG_ERRLEN);
	pfree(rules_text);
	pfree(variants_text);
	return toggle;
}

/*
 * targeting_validate raises "invalid rules for toggle" unless rules and variants are a
 * valid pair for toggle name; with check_zones, every time zone must also be known.
 */
void
targeting_validate(const char *name, Datum rules, Datum variants, bool check_zones)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_toggles rules validation",
											  ALLOCSET_SMALL_SIZES);
	char		err[TG_ERRLEN];
	bool		plain;
	TgToggle   *toggle;

	toggle = compile_toggle(name, DatumGetJsonbP(rules), DatumGetJsonbP(variants),
							check_zones ? TG_CHECK_ZONES : 0, cxt, &plain, err);
	if (toggle == NULL && !plain)
		report_invalid_rules(name, err);
	MemoryContextDelete(cxt);
}

/* parse_context: the client context, or NULL for {}. */
static TgContext *
parse_context(Jsonb *context, const TgHooks *hooks)
{
	char		err[TG_ERRLEN];
	char	   *text;
	size_t		len;
	TgContext  *parsed;

	if (context == NULL || jsonb_is_empty_object(context))
		return NULL;
	text = jsonb_text(context, &len);
	if (len > CONTEXT_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("context is too large"),
				 errdetail("The context is %zu bytes of JSON; the limit is %d.",
						   len, CONTEXT_MAX_BYTES)));
	parsed = tg_context_parse(text, len, hooks, err, sizeof(err));
	if (parsed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid context: %s", err),
				 errhint("A context is a JSON object such as {\"key\": \"user-42\", \"country\": \"DE\"}.")));
	pfree(text);
	return parsed;
}

/* instant_us: the evaluator's instant (µs since 1970) of a finite timestamptz. */
static int64
instant_us(TimestampTz at)
{
	int64		us;

	if (TIMESTAMP_NOT_FINITE(at) || pg_add_s64_overflow(at, UNIX_TO_PG_EPOCH_US, &us))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot evaluate toggles at an infinite instant")));
	return us;
}

/* compiled_cache_reset drops every compiled toggle. */
static void
compiled_cache_reset(void)
{
	if (compiled_cache_cxt != NULL)
		MemoryContextReset(compiled_cache_cxt);
	else
		compiled_cache_cxt = AllocSetContextCreate(TopMemoryContext,
												   "pg_toggles compiled rules",
												   ALLOCSET_DEFAULT_SIZES);
	compiled_cache = NULL;
}

/* compiled_cache_get: the cache of compiled toggles, started over when full. */
static HTAB *
compiled_cache_get(void)
{
	if (compiled_cache == NULL ||
		hash_get_num_entries(compiled_cache) >= COMPILED_CACHE_MAX)
	{
		HASHCTL		ctl;

		compiled_cache_reset();
		ctl.keysize = TOGGLE_NAME_MAX_LEN + 1;
		ctl.entrysize = sizeof(CompiledEntry);
		ctl.hcxt = compiled_cache_cxt;
		compiled_cache = hash_create("pg_toggles compiled rules", 64, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	return compiled_cache;
}

/* features_relid: toggles.features of the extension as installed now. */
static Oid
features_relid(void)
{
	Oid			nsp = get_namespace_oid("toggles", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("features", nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table toggles.features does not exist"),
				 errhint("Is the extension pg_toggles installed?")));
	return relid;
}

/* features_column: the attribute number of a column of toggles.features. */
static AttrNumber
features_column(TupleDesc desc, const char *colname)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), colname) == 0)
			return att->attnum;
	}
	elog(ERROR, "toggles.features has no column \"%s\"", colname);
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * compile_stored compiles the rules of a row of toggles.features into a fresh context,
 * the child of parent until the caller adopts it.
 */
static void
compile_stored(CompiledEntry *entry, const char *name, HeapTuple tup, TupleDesc desc,
			   MemoryContext parent)
{
	bool		rules_null;
	bool		variants_null;
	Datum		rules = heap_getattr(tup, features_column(desc, "rules"), desc, &rules_null);
	Datum		variants = heap_getattr(tup, features_column(desc, "variants"), desc,
										&variants_null);
	MemoryContext cxt = AllocSetContextCreate(parent, "pg_toggles compiled toggle",
											  ALLOCSET_SMALL_SIZES);
	char		err[TG_ERRLEN];
	bool		plain = false;

	entry->toggle = NULL;
	entry->invalid = rules_null || variants_null;
	if (!entry->invalid)
	{
		/* Zones are checked when rules are written; one gone since gives reason ERROR. */
		entry->toggle = compile_toggle(name, DatumGetJsonbP(rules), DatumGetJsonbP(variants),
									   0, cxt, &plain, err);
		entry->invalid = entry->toggle == NULL && !plain;
	}
	if (entry->toggle == NULL)
	{
		MemoryContextDelete(cxt);
		cxt = NULL;
	}
	entry->cxt = cxt;
}

/* copy_xids copies n ids into *dst (grown in TopMemoryContext as needed). */
static void
copy_xids(TransactionId **dst, uint32 *size, const TransactionId *src, uint32 n)
{
	if (n > *size)
	{
		if (*dst != NULL)
			pfree(*dst);
		*dst = MemoryContextAlloc(TopMemoryContext, n * sizeof(TransactionId));
		*size = n;
	}
	if (n > 0)
		memcpy(*dst, src, n * sizeof(TransactionId));
}

/*
 * snapshot_generation returns a number that is the same for two snapshots exactly when
 * they see the same rows (see SeenSnapshot), or 0 for a snapshot it cannot tell about.
 */
static uint64
snapshot_generation(Snapshot snapshot)
{
	SeenSnapshot *seen = &seen_snapshot;
	uint32		subxcnt;

	if (snapshot->snapshot_type != SNAPSHOT_MVCC || snapshot->subxcnt < 0)
		return 0;
	subxcnt = (uint32) snapshot->subxcnt;
	if (seen->generation != 0 &&
		seen->lxid == toggles_current_lxid() &&
		seen->subid == GetCurrentSubTransactionId() &&
		seen->curcid == snapshot->curcid &&
		seen->xmin == snapshot->xmin &&
		seen->xmax == snapshot->xmax &&
		seen->xcnt == snapshot->xcnt &&
		seen->subxcnt == snapshot->subxcnt &&
		seen->suboverflowed == snapshot->suboverflowed &&
		seen->takenDuringRecovery == snapshot->takenDuringRecovery &&
		(snapshot->xcnt == 0 ||
		 memcmp(seen->xip, snapshot->xip, snapshot->xcnt * sizeof(TransactionId)) == 0) &&
		(subxcnt == 0 ||
		 memcmp(seen->subxip, snapshot->subxip, subxcnt * sizeof(TransactionId)) == 0))
		return seen->generation;

	copy_xids(&seen->xip, &seen->xip_size, snapshot->xip, snapshot->xcnt);
	copy_xids(&seen->subxip, &seen->subxip_size, snapshot->subxip, subxcnt);
	seen->lxid = toggles_current_lxid();
	seen->subid = GetCurrentSubTransactionId();
	seen->curcid = snapshot->curcid;
	seen->xmin = snapshot->xmin;
	seen->xmax = snapshot->xmax;
	seen->xcnt = snapshot->xcnt;
	seen->subxcnt = snapshot->subxcnt;
	seen->suboverflowed = snapshot->suboverflowed;
	seen->takenDuringRecovery = snapshot->takenDuringRecovery;
	return ++seen->generation;
}

/*
 * lookup_stored finds toggle name as the active snapshot sees it.  Returns false when
 * there is none; otherwise sets *is_active and returns the compiled rules, from the cache
 * when the row version is the one they were compiled from.  *scratch receives a context
 * to delete after evaluating when the result could not be cached (a name too long to be
 * a key), else NULL.
 */
static bool
lookup_stored(const char *name, bool *is_active, CompiledEntry *result,
			  MemoryContext *scratch)
{
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	bool		cacheable = strlen(name) <= TOGGLE_NAME_MAX_LEN;
	uint64		generation = cacheable ? snapshot_generation(snapshot) : 0;
	Oid			relid;
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	name_att;
	Oid			pkey;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	HeapTuple	copy = NULL;
	bool		found = false;
	CompiledEntry *entry = NULL;

	*scratch = NULL;
	if (generation != 0)
	{
		entry = hash_search(compiled_cache_get(), name, HASH_FIND, NULL);
		if (entry != NULL && entry->seen_generation == generation)
		{
			*is_active = entry->is_active;
			*result = *entry;
			return true;
		}
		entry = NULL;
	}

	relid = features_relid();
	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	name_att = features_column(desc, "name");
	pkey = toggles_primary_key_index(rel);
	/* The index's collation orders the btree; texteq is what the row must satisfy. */
	ScanKeyEntryInitialize(&key, 0, name_att, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(desc, name_att - 1)->attcollation,
						   F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(rel, pkey, OidIsValid(pkey), snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		TransactionId xmin = HeapTupleHeaderGetRawXmin(tup->t_data);

		found = true;
		*is_active = DatumGetBool(heap_getattr(tup, features_column(desc, "is_active"),
											   desc, &isnull)) && !isnull;
		if (cacheable)
		{
			bool		hit;

			entry = hash_search(compiled_cache_get(), name, HASH_FIND, &hit);
			if (entry != NULL &&
				!(entry->relid == relid && entry->xmin == xmin &&
				  ItemPointerEquals(&entry->tid, &tup->t_self)))
				entry = NULL;
		}
		if (entry == NULL)
			copy = heap_copytuple(tup);
	}
	systable_endscan(scan);

	if (found && entry == NULL)
	{
		CompiledEntry fresh;

		compile_stored(&fresh, name, copy, desc, CurrentMemoryContext);
		fresh.relid = relid;
		fresh.xmin = HeapTupleHeaderGetRawXmin(copy->t_data);
		fresh.tid = copy->t_self;
		if (cacheable)
		{
			bool		existed;

			entry = hash_search(compiled_cache_get(), name, HASH_ENTER, &existed);
			if (existed && entry->cxt != NULL)
				MemoryContextDelete(entry->cxt);
			entry->relid = fresh.relid;
			entry->xmin = fresh.xmin;
			entry->tid = fresh.tid;
			entry->invalid = fresh.invalid;
			entry->toggle = fresh.toggle;
			entry->cxt = fresh.cxt;
			if (entry->cxt != NULL)
				MemoryContextSetParent(entry->cxt, compiled_cache_cxt);
		}
		else
		{
			*scratch = fresh.cxt;
			*result = fresh;
		}
		heap_freetuple(copy);
	}
	if (found && entry != NULL)
	{
		entry->seen_generation = generation;
		entry->is_active = *is_active;
		*result = *entry;
	}
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * evaluate_stored evaluates toggle name (NULL: none) for context at instant at.
 * Returns false, with reason ERROR, for an unknown toggle.
 */
static bool
evaluate_stored(const char *name, Jsonb *context, TimestampTz at, TgResult *result)
{
	TgHooks		hooks = backend_hooks(CurrentMemoryContext);
	int64		at_us = instant_us(at);
	CompiledEntry compiled;
	MemoryContext scratch = NULL;
	bool		is_active = false;
	TgContext  *ctx = parse_context(context, &hooks);
	bool		found = name != NULL && lookup_stored(name, &is_active, &compiled, &scratch);

	if (!found || compiled.invalid)
	{
		memset(result, 0, sizeof(*result));
		result->reason = found && !is_active ? TG_DISABLED : TG_ERROR;
		result->rule = -1;
		result->error = found ? "the stored rules are invalid" : "no such toggle";
	}
	else
		tg_evaluate(compiled.toggle, is_active, ctx, at_us, &hooks, result);
	if (ctx != NULL)
		tg_context_free(ctx, &hooks);
	/* Copies what result points to before a scratch toggle goes. */
	if (scratch != NULL)
	{
		if (result->variant != NULL)
			result->variant = pstrdup(result->variant);
		if (result->value != NULL)
			result->value = pstrdup(result->value);
		result->error = NULL;
		MemoryContextDelete(scratch);
	}
	return found;
}

/* result_tuple: the (active, value, variant, reason) row of a result. */
static Datum
result_tuple(FunctionCallInfo fcinfo, const TgResult *result)
{
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	values[0] = BoolGetDatum(result->active);
	if (result->value != NULL)
		values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(result->value));
	else
		values[1] = DirectFunctionCall1(jsonb_in,
										CStringGetDatum(result->active ? "true" : "false"));
	if (result->variant != NULL)
		values[2] = CStringGetTextDatum(result->variant);
	else
		nulls[2] = true;
	values[3] = CStringGetTextDatum(tg_reason_name(result->reason));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* call_arguments: name (NULL when NULL), context (NULL for {}), at (now() when NULL). */
static void
call_arguments(FunctionCallInfo fcinfo, char **name, Jsonb **context, TimestampTz *at)
{
	*name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	*context = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	*at = PG_ARGISNULL(2) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(2);
}

PG_FUNCTION_INFO_V1(enabled);
Datum
enabled(PG_FUNCTION_ARGS)
{
	char	   *name;
	Jsonb	   *context;
	TimestampTz at;
	TgResult	result;

	call_arguments(fcinfo, &name, &context, &at);
	evaluate_stored(name, context, at, &result);
	PG_RETURN_BOOL(result.active);
}

PG_FUNCTION_INFO_V1(evaluate);
Datum
evaluate(PG_FUNCTION_ARGS)
{
	char	   *name;
	Jsonb	   *context;
	TimestampTz at;
	TgResult	result;

	call_arguments(fcinfo, &name, &context, &at);
	evaluate_stored(name, context, at, &result);
	return result_tuple(fcinfo, &result);
}

/* definition_member: member key of the definition object, or NULL when absent. */
static JsonbValue *
definition_member(Jsonb *definition, const char *key)
{
	return getKeyJsonValueFromContainer(&definition->root, key, strlen(key), NULL);
}

/* definition_document: member key as a jsonb document, missing (JSON text) if absent. */
static Jsonb *
definition_document(Jsonb *definition, const char *key, const char *missing)
{
	JsonbValue *v = definition_member(definition, key);

	if (v == NULL)
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(missing)));
	return JsonbValueToJsonb(v);
}

/* report_invalid_definition: evaluate_definition's errors other than the validator's. */
static void
report_invalid_definition(const char *message)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid toggle definition: %s", message),
			 errhint("A definition is {\"name\": ..., \"is_active\": ..., \"rules\": [...], \"variants\": {...}}.")));
}

/*
 * compile_definition fills last_definition from definition, unless it holds that
 * definition already.  An invalid definition raises the validator's error.
 */
static void
compile_definition(Jsonb *definition)
{
	JsonbValue *v;
	MemoryContext cxt;
	char	   *name;
	bool		is_active = false;
	bool		plain;
	char		err[TG_ERRLEN];
	TgToggle   *toggle;

	if (last_definition.definition != NULL &&
		VARSIZE(last_definition.definition) == VARSIZE(definition) &&
		memcmp(last_definition.definition, definition, VARSIZE(definition)) == 0)
		return;

	if (!JB_ROOT_IS_OBJECT(definition))
		report_invalid_definition("expected a JSON object");
	v = definition_member(definition, "name");
	if (v == NULL || v->type != jbvString || v->val.string.len == 0)
		report_invalid_definition("name: expected a non-empty string");
	name = pnstrdup(v->val.string.val, v->val.string.len);
	v = definition_member(definition, "is_active");
	if (v != NULL && v->type != jbvBool)
		report_invalid_definition("is_active: expected true or false");
	if (v != NULL)
		is_active = v->val.boolean;

	/* Compiled where it can stay; without zone checks, as docs/targeting.md says. */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_toggles definition",
								ALLOCSET_SMALL_SIZES);
	toggle = compile_toggle(name, definition_document(definition, "rules", "[]"),
							definition_document(definition, "variants", "{}"),
							0, cxt, &plain, err);
	if (toggle == NULL && !plain)
		report_invalid_rules(name, err);

	if (last_definition.cxt != NULL)
		MemoryContextDelete(last_definition.cxt);
	MemoryContextSetParent(cxt, TopMemoryContext);
	last_definition.cxt = cxt;
	last_definition.definition = MemoryContextAlloc(cxt, VARSIZE(definition));
	memcpy(last_definition.definition, definition, VARSIZE(definition));
	last_definition.name = MemoryContextStrdup(cxt, name);
	last_definition.is_active = is_active;
	last_definition.toggle = toggle;
}

PG_FUNCTION_INFO_V1(evaluate_definition);
Datum
evaluate_definition(PG_FUNCTION_ARGS)
{
	TgHooks		hooks = backend_hooks(CurrentMemoryContext);
	Jsonb	   *context = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	TimestampTz at = PG_ARGISNULL(2) ? GetCurrentTransactionStartTimestamp() :
		PG_GETARG_TIMESTAMPTZ(2);
	int64		at_us = instant_us(at);
	TgContext  *ctx;
	TgResult	result;

	if (PG_ARGISNULL(0))
		report_invalid_definition("expected a JSON object, got NULL");
	compile_definition(PG_GETARG_JSONB_P(0));
	ctx = parse_context(context, &hooks);
	tg_evaluate(last_definition.toggle, last_definition.is_active, ctx, at_us, &hooks, &result);
	if (ctx != NULL)
		tg_context_free(ctx, &hooks);
	return result_tuple(fcinfo, &result);
}
