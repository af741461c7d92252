/*
 * sync.c — the meaning of pushd's queries (see sync.h).  Notifications are only hints:
 * whatever a payload says, pushd reads toggles.changes after the last version it applied,
 * so a forged NOTIFY changes nothing a client sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epoch_order.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"
#include "pglink.h"
#include "stream.h"
#include "sync.h"
#include "toggle.h"
#include "tokens.h"

/*
 * A change row: its operation, then every field of toggle_fields (toggle.h) in order.  A
 * snapshot row is the same, from toggles.features: to_jsonb() of the row stands in for the
 * log's new, so that both read every field through one select list.
 */
#define CHANGE_COLUMNS "operation, %s"
#define FEATURE_ROWS \
	"SELECT 'insert', %s FROM toggles.features f, LATERAL to_jsonb(f) AS new " \
	"ORDER BY name COLLATE \"C\""

/* The statements of a full load, in the order of their results. */
enum
{
	LOAD_BEGIN,
	LOAD_STATE,
	LOAD_FEATURES,
	LOAD_TOKENS,
	LOAD_WINDOW,
	LOAD_COMMIT
};

/*
 * The catch-up also returns the epoch, in its first column: DROP and CREATE EXTENSION on a
 * live link start a new history whose versions begin again at 1, which "version > last"
 * alone would never see.  Its second column is the token set's fingerprint: a token that
 * is created or revoked is reloaded with the next notification.
 */
#define CATCHUP_COLUMNS 2
#define CATCHUP_SQL \
	"SELECT e.epoch, e.tokens, c.* FROM (SELECT toggles.epoch() AS epoch, %s AS tokens) e " \
	"LEFT JOIN LATERAL (SELECT " CHANGE_COLUMNS ", id FROM toggles.changes " \
	"                   WHERE version > $1) c ON true " \
	"ORDER BY c.version, c.id"

/* What a full load has read so far; installed when the load completes. */
static struct
{
	char	   *epoch;
	int64_t		version;
	int64_t		log_min;
	PGresult   *features;
	PGresult   *tokens;
	PGresult   *window;
} loading;

/* The fingerprint of the token set last loaded (tokens_fingerprint_sql()). */
static char *tokens_fingerprint;
static char *catchup_sql;

static const char *
sync_probe_sql(void)
{
	return "SELECT toggles.epoch(), "
		"(SELECT coalesce(min(version), 0) FROM toggles.changes), "
		"(SELECT coalesce(max(version), 0) FROM toggles.changes)";
}

static int64_t
int64_value(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * epoch_plan: what the database's epoch means for the cache's.  A later timeline of the
 * same history (a promoted standby) or another history starts over with a full load; an
 * earlier timeline is a primary that was failed over from, still running: following it
 * would send clients back to a history that was superseded (docs/change-stream.md).
 */
static LinkPlan
epoch_plan(const char *epoch)
{
	switch (epoch_order(epoch, pushd.cache.epoch))
	{
		case EPOCH_SAME:
			return LINK_CATCH_UP;
		case EPOCH_EARLIER:
			log_warn("database epoch %s is an earlier timeline than %s, which this node follows: "
					 "not following it (a failed-over primary that was not fenced?)",
					 epoch, pushd.cache.epoch);
			metrics.epoch_refusals++;
			return LINK_REFUSE;
		default:
			log_info("database epoch changed from %s to %s: full resync", pushd.cache.epoch, epoch);
			metrics.epoch_changes++;
			return LINK_LOAD;
	}
}

static LinkPlan
sync_plan(PGresult *probe)
{
	Cache	   *cache = &pushd.cache;
	const char *epoch = PQgetvalue(probe, 0, 0);
	int64_t		log_min = int64_value(probe, 0, 1);
	int64_t		log_max = int64_value(probe, 0, 2);
	LinkPlan	plan;

	if (!cache->loaded)
		return LINK_LOAD;
	if ((plan = epoch_plan(epoch)) != LINK_CATCH_UP)
		return plan;
	if (log_max <= cache->version)
		return LINK_CATCH_UP;	/* nothing new */
	/* Entries below log_min were pruned: the gap after our version must start at or after it. */
	if (log_min - 1 > cache->version)
	{
		log_info("changes after version %lld were pruned from the log: full resync",
				 (long long) cache->version);
		return LINK_LOAD;
	}
	return LINK_CATCH_UP;
}

/*
 * sync_load_sql: in one repeatable-read transaction, the epoch and the version of the
 * state (as toggles.snapshot() computes it: the highest version visible), the toggles,
 * the tokens and the resume window.
 */
static char *
sync_load_sql(void)
{
	char	   *sql;

	if (asprintf(&sql,
				 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				 "SELECT toggles.epoch(), "
				 "greatest((SELECT coalesce(max(version), 0) FROM toggles.features), "
				 "(SELECT coalesce(max(version), 0) FROM toggles.changes)), "
				 "(SELECT coalesce(min(version), 0) FROM toggles.changes), %s; "
				 FEATURE_ROWS "; "
				 "%s; "
				 "SELECT " CHANGE_COLUMNS " FROM toggles.changes "
				 "WHERE version > (SELECT coalesce(max(version), 0) FROM toggles.changes) - %d "
				 "ORDER BY version, id; "
				 "COMMIT",
				 tokens_fingerprint_sql(), toggle_columns_sql(), tokens_load_sql(),
				 toggle_columns_sql(), pushd.cfg.resume_window) < 0)
		return NULL;
	return sql;
}

static void
loading_clear(void)
{
	free(loading.epoch);
	PQclear(loading.features);
	PQclear(loading.tokens);
	PQclear(loading.window);
	memset(&loading, 0, sizeof(loading));
}

static LinkLoadResult
sync_load_result(PGresult *res, int index)
{
	ExecStatusType status = PQresultStatus(res);

	if (index == LOAD_BEGIN || index == LOAD_COMMIT)
		return status == PGRES_COMMAND_OK ? LINK_LOAD_USED : LINK_LOAD_FAILED;
	if (status != PGRES_TUPLES_OK)
		return LINK_LOAD_FAILED;
	if (index == LOAD_STATE)
	{
		loading_clear();
		loading.epoch = strdup(PQgetvalue(res, 0, 0));
		loading.version = int64_value(res, 0, 1);
		loading.log_min = int64_value(res, 0, 2);
		free(tokens_fingerprint);
		tokens_fingerprint = strdup(PQgetvalue(res, 0, 3));
		return LINK_LOAD_USED;
	}
	/* The toggles, the tokens and the resume window are kept until the load completes. */
	if (index == LOAD_FEATURES)
	{
		PQclear(loading.features);
		loading.features = res;
	}
	else if (index == LOAD_TOKENS)
	{
		PQclear(loading.tokens);
		loading.tokens = res;
	}
	else
	{
		PQclear(loading.window);
		loading.window = res;
	}
	return LINK_LOAD_KEPT;
}

/* The columns of a change row: the operation, then the fields from FIELDS_AT. */
#define OPERATION_AT 0
#define FIELDS_AT 1

/* read_fields fills t from the fields of row (column col + FIELDS_AT onwards). */
static void
read_fields(Toggle *t, PGresult *res, int row, int col)
{
	int			i;

	for (i = 0; i < toggle_nfields; i++)
	{
		int			c = col + FIELDS_AT + i;

		toggle_set_field(t, &toggle_fields[i],
						 PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c));
	}
}

/* version_column: the column of the field version in a change row starting at col. */
static int
version_column(int col)
{
	return col + FIELDS_AT + (int) (toggle_field_by_member("version") - toggle_fields);
}

/* name_column: likewise, the toggle's name. */
static int
name_column(int col)
{
	return col + FIELDS_AT + (int) (toggle_field_by_member("name") - toggle_fields);
}

/*
 * group_rows turns the rows of one version (first .. last-1) into one delta per name: a
 * transaction may write a toggle several times; its last row is the toggle's state.
 */
static ToggleDelta *
group_rows(PGresult *res, int col, int first, int last, int *ndeltas)
{
	ToggleDelta *deltas = calloc(last - first, sizeof(ToggleDelta));
	int			n = 0;
	int			row;

	for (row = first; row < last; row++)
	{
		const char *name = PQgetvalue(res, row, name_column(col));
		ToggleDelta *d = NULL;
		int			i;

		for (i = 0; i < n; i++)
			if (strcmp(deltas[i].state.name, name) == 0)
				d = &deltas[i];
		if (d == NULL)
			d = &deltas[n++];
		else
			toggle_free(&d->state);
		d->removed = strcmp(PQgetvalue(res, row, col + OPERATION_AT), "delete") == 0;
		read_fields(&d->state, res, row, col);
	}
	*ndeltas = n;
	return deltas;
}

/*
 * for_each_version calls fn for every version's rows, in order; the change columns start
 * at col, and rows whose version is NULL (a catch-up that found nothing) are skipped.
 */
static int
for_each_version(PGresult *res, int col, void (*fn) (int64_t, ToggleDelta *, int, void *),
				 void *arg)
{
	int			nrows = PQntuples(res);
	int			first = 0;
	int			versions = 0;

	int			vcol = version_column(col);

	while (first < nrows && PQgetisnull(res, first, vcol))
		first++;
	while (first < nrows)
	{
		int64_t		version = int64_value(res, first, vcol);
		int			last = first + 1;
		int			ndeltas;
		ToggleDelta *deltas;

		while (last < nrows && int64_value(res, last, vcol) == version)
			last++;
		deltas = group_rows(res, col, first, last, &ndeltas);
		fn(version, deltas, ndeltas, arg);
		versions++;
		first = last;
	}
	return versions;
}

static void
add_to_window(int64_t version, ToggleDelta *deltas, int ndeltas, void *arg)
{
	(void) arg;
	stream_load_window(version, deltas, ndeltas);
	deltas_free(deltas, ndeltas);
}

static void
sync_load_done(void)
{
	int			row;

	stream_load_begin(loading.epoch, loading.version);
	for (row = 0; loading.features && row < PQntuples(loading.features); row++)
	{
		Toggle		t = {0};

		read_fields(&t, loading.features, row, 0);
		stream_load_toggle(&t);
		toggle_free(&t);
	}
	if (loading.window)
		for_each_version(loading.window, 0, add_to_window, NULL);
	if (loading.tokens && tokens_load_result(loading.tokens))
		metrics.token_loads++;
	stream_load_end(loading.log_min);
	loading_clear();
}

static const char *
sync_catchup_sql(void)
{
	if (catchup_sql == NULL &&
		asprintf(&catchup_sql, CATCHUP_SQL, tokens_fingerprint_sql(), toggle_columns_sql()) < 0)
		catchup_sql = NULL;
	return catchup_sql;
}

static void
tokens_reloaded(PGresult *res, void *arg)
{
	(void) arg;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || !tokens_load_result(res))
	{
		log_warn("reloading tokens failed: %s", PQresultErrorMessage(res));
		free(tokens_fingerprint);
		tokens_fingerprint = NULL;	/* the next catch-up tries again */
		return;
	}
	metrics.token_loads++;
	log_info("tokens reloaded: %d", tokens_count());
	stream_tokens_changed();
}

/* tokens_check_fingerprint queues a reload of the token set when it changed. */
static void
tokens_check_fingerprint(const char *fingerprint)
{
	if (tokens_fingerprint && strcmp(tokens_fingerprint, fingerprint) == 0)
		return;
	free(tokens_fingerprint);
	tokens_fingerprint = strdup(fingerprint);
	if (!pglink_enqueue(tokens_load_sql(), 0, NULL, tokens_reloaded, NULL))
	{
		free(tokens_fingerprint);
		tokens_fingerprint = NULL;
	}
}

static void
commit(int64_t version, ToggleDelta *deltas, int ndeltas, void *arg)
{
	stream_commit(version, deltas, ndeltas, *(int64_t *) arg);
	deltas_free(deltas, ndeltas);
}

static int
sync_catchup_result(PGresult *res, int64_t notified_us)
{
	switch (epoch_plan(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "(none)"))
	{
		case LINK_CATCH_UP:
			break;
		case LINK_LOAD:
			return LINK_CATCHUP_RELOAD;
		case LINK_REFUSE:
			return LINK_CATCHUP_REFUSE;
	}
	tokens_check_fingerprint(PQgetvalue(res, 0, 1));
	return for_each_version(res, CATCHUP_COLUMNS, commit, &notified_us);
}

/* sync_catchup_after: the catch-up reads what came after the cache's version. */
static int64_t
sync_catchup_after(void)
{
	return pushd.cache.version;
}

const LinkSteps sync_link_steps = {
	.listen = "LISTEN toggles",
	.catchup_sql = sync_catchup_sql,
	.probe_sql = sync_probe_sql,
	.plan = sync_plan,
	.load_sql = sync_load_sql,
	.load_result = sync_load_result,
	.load_done = sync_load_done,
	.catchup_after = sync_catchup_after,
	.catchup_result = sync_catchup_result,
};

void
sync_free(void)
{
	loading_clear();
	free(tokens_fingerprint);
	tokens_fingerprint = NULL;
	free(catchup_sql);
	catchup_sql = NULL;
	tokens_free_all();
}
