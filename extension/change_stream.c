/*
 * change_stream.c — gives each writing transaction one commit-ordered version, collects
 * what it changed, and queues one NOTIFY on channel "toggles" when it commits.
 *
 * Commit order: a sequence value alone is not commit-ordered (T1 takes 10, T2 takes 11,
 * T2 commits first).  So the first toggle write of a transaction takes an exclusive lock
 * on the version sequence, held to the end of the top-level transaction, and only then
 * draws the transaction's version.  A later writer waits for the lock, so it draws its
 * version after the earlier writer has committed and become visible; its NOTIFY, queued
 * in its own pre-commit, follows the earlier one's in the queue.
 *
 * Atomicity: row triggers record changes here; XACT_EVENT_PRE_COMMIT, which runs before
 * PreCommit_Notify, turns them into a single payload.  Subtransactions that abort drop
 * what they recorded.  PREPARE TRANSACTION is refused: NOTIFY cannot be prepared, and a
 * prepared transaction would hold the version lock for an unbounded time.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "change_stream.h"

/* State of the current top-level transaction; 0 / NULL when it wrote no toggle. */
static int64 xact_version = 0;
static ToggleChange *changes = NULL;
static int	nchanges = 0;
static int	maxchanges = 0;
static int	next_seq = 0;		/* never reused, even after a subtransaction abort */

static void
reset_xact_state(void)
{
	/* The memory belongs to TopTransactionContext and goes with it. */
	xact_version = 0;
	changes = NULL;
	nchanges = 0;
	maxchanges = 0;
	next_seq = 0;
}

/*
 * change_stream_version returns the version of the current transaction, taking the
 * version lock and drawing the version on first use.
 */
int64
change_stream_version(void)
{
	Oid			seqoid;
	ResourceOwner saved_owner;

	if (xact_version != 0)
		return xact_version;

	seqoid = get_relname_relid("version_seq", get_namespace_oid("toggles", false));
	if (!OidIsValid(seqoid))
		elog(ERROR, "sequence toggles.version_seq is missing");

	/*
	 * Lock under the top-level resource owner: a subtransaction that aborts must not
	 * release it, or a later writer could commit a higher version before we commit ours.
	 */
	saved_owner = CurrentResourceOwner;
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		LockRelationOid(seqoid, ExclusiveLock);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = saved_owner;
	}
	PG_END_TRY();

	/* Privileges are the extension's business here: writers need no USAGE on it. */
	xact_version = nextval_internal(seqoid, false);
	return xact_version;
}

/*
 * change_stream_record notes that the current (sub)transaction inserted, updated or
 * removed toggle "name".
 */
void
change_stream_record(const char *name, bool removed, bool active)
{
	ToggleChange *c;

	if (nchanges == maxchanges)
	{
		int			newmax = maxchanges == 0 ? 16 : maxchanges * 2;

		if (changes == NULL)
			changes = MemoryContextAlloc(TopTransactionContext, newmax * sizeof(ToggleChange));
		else
			changes = repalloc(changes, newmax * sizeof(ToggleChange));
		maxchanges = newmax;
	}
	c = &changes[nchanges];
	c->name = MemoryContextStrdup(TopTransactionContext, name);
	c->removed = removed;
	c->active = active;
	c->seq = next_seq++;
	c->subid = GetCurrentSubTransactionId();
	nchanges++;
}

/* compare_by_name_then_seq orders changes by name, then in the order they were made. */
static int
compare_by_name_then_seq(const void *a, const void *b)
{
	const ToggleChange *ca = a;
	const ToggleChange *cb = b;
	int			cmp = strcmp(ca->name, cb->name);

	if (cmp != 0)
		return cmp;
	return (ca->seq > cb->seq) - (ca->seq < cb->seq);
}

/*
 * net_changes sorts the recorded changes by name and keeps only the last one of each
 * name: a client needs each toggle's final state, not how the transaction got there.
 * Returns the number kept, at the front of the array.
 */
static int
net_changes(ToggleChange *arr, int n)
{
	int			kept = 0;
	int			i;

	qsort(arr, n, sizeof(ToggleChange), compare_by_name_then_seq);
	for (i = 0; i < n; i++)
	{
		if (i + 1 < n && strcmp(arr[i].name, arr[i + 1].name) == 0)
			continue;
		arr[kept++] = arr[i];
	}
	return kept;
}

static void
pre_commit(void)
{
	int			n;

	if (nchanges == 0)
		return;
	n = net_changes(changes, nchanges);
	Async_Notify(TOGGLES_CHANNEL, change_stream_payload(xact_version, changes, n));
}

static void
on_xact_event(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact_version != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has written to toggles.features"),
						 errdetail("Toggle changes are announced with NOTIFY, which cannot be prepared."),
						 errhint("Commit toggle changes in an ordinary transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			reset_xact_state();
			break;
		default:
			break;
	}
}

static void
on_subxact_event(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			i;
	int			kept = 0;

	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			/* What survives a released savepoint now belongs to its parent. */
			for (i = 0; i < nchanges; i++)
				if (changes[i].subid == mySubid)
					changes[i].subid = parentSubid;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			for (i = 0; i < nchanges; i++)
				if (changes[i].subid != mySubid)
					changes[kept++] = changes[i];
			nchanges = kept;
			break;
		default:
			break;
	}
}

void
change_stream_init(void)
{
	RegisterXactCallback(on_xact_event, NULL);
	RegisterSubXactCallback(on_subxact_event, NULL);
}
