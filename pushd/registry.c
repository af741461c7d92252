/*
 * registry.c — connection bookkeeping in toggles.connections (see registry.h).
 *
 * A storm of thousands of connects must cost a handful of statements, so opens and
 * closes are collected and flushed as two batch calls per interval.  A connection that
 * opens and closes within one interval never reaches the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "encode.h"
#include "log.h"
#include "metrics.h"
#include "groups.h"
#include "pglink.h"
#include "pushd.h"
#include "registry.h"

/* A connection opened but not yet written to toggles.connections. */
typedef struct Pending
{
	uint64_t	id;
	char	   *json;			/* its element of the register_connections batch */
	bool		row_exists;		/* an update of a row written before (a new context) */
} Pending;

static char *registration_json(const Client *client);

static Pending *adds;
static int	nadds;
static int	capadds;
static uint64_t *removals;
static int	nremovals;
static int	capremovals;
static bool clear_node_first;

static lws_sorted_usec_list_t flush_timer;
static lws_sorted_usec_list_t heartbeat_timer;
static lws_sorted_usec_list_t prune_timer;

static bool
tracking(void)
{
	return pushd.cfg.track_connections;
}

/* add_pending queues json (taking it over) as the element of connection id. */
static void
add_pending(uint64_t id, char *json, bool row_exists)
{
	if (json == NULL)
		return;
	if (nadds == capadds)
	{
		capadds = capadds ? capadds * 2 : 64;
		adds = realloc(adds, capadds * sizeof(Pending));
	}
	adds[nadds].id = id;
	adds[nadds].json = json;
	adds[nadds].row_exists = row_exists;
	nadds++;
}

static void
drop_pending(void)
{
	int			i;

	for (i = 0; i < nadds; i++)
		free(adds[i].json);
	nadds = 0;
	nremovals = 0;
}

static void
schedule(lws_sorted_usec_list_t *timer, sul_cb_t cb, int64_t us)
{
	lws_sul_schedule(pushd.context, 0, timer, cb, (lws_usec_t) us);
}

/* flush_removals: one unregister_connections call for the collected closes. */
static void
flush_removals(void)
{
	TextBuf		ids;
	const char *params[2] = {pushd.node, NULL};
	int			i;

	textbuf_init(&ids);
	textbuf_puts(&ids, "{");
	for (i = 0; i < nremovals; i++)
		textbuf_printf(&ids, "%s%llu", i ? "," : "", (unsigned long long) removals[i]);
	textbuf_puts(&ids, "}");
	params[1] = ids.data;
	if (ids.data &&
		pglink_enqueue("SELECT toggles.unregister_connections($1, $2::bigint[])", 2, params,
					   NULL, NULL))
		nremovals = 0;
	textbuf_free(&ids);
}

/* flush_adds: one register_connections call for the collected opens. */
static void
flush_adds(void)
{
	TextBuf		batch;
	const char *params[2] = {pushd.node, NULL};
	int			i;

	textbuf_init(&batch);
	textbuf_puts(&batch, "[");
	for (i = 0; i < nadds; i++)
	{
		if (i)
			textbuf_puts(&batch, ",");
		textbuf_puts(&batch, adds[i].json);
	}
	textbuf_puts(&batch, "]");
	params[1] = batch.data;
	if (batch.data &&
		pglink_enqueue("SELECT toggles.register_connections($1, $2::jsonb)", 2, params, NULL, NULL))
	{
		for (i = 0; i < nadds; i++)
			free(adds[i].json);
		nadds = 0;
	}
	textbuf_free(&batch);
}

static void
flush(lws_sorted_usec_list_t *sul)
{
	const char *node[1] = {pushd.node};

	(void) sul;
	if (pglink_ready())
	{
		/* The node's old rows go first; the queue keeps the order. */
		if (clear_node_first &&
			pglink_enqueue("SELECT toggles.unregister_node($1)", 1, node, NULL, NULL))
			clear_node_first = false;
		if (!clear_node_first && nremovals > 0)
			flush_removals();
		if (!clear_node_first && nadds > 0)
			flush_adds();
	}
	schedule(&flush_timer, flush, (int64_t) pushd.cfg.register_interval_ms * LWS_US_PER_MS);
}

static void
heartbeat_done(PGresult *res, void *arg)
{
	(void) arg;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		metrics.queue_usage = strtod(PQgetvalue(res, 0, 2), NULL);
}

static void
heartbeat(lws_sorted_usec_list_t *sul)
{
	char		lease[32];
	const char *params[2] = {pushd.node, lease};

	(void) sul;
	snprintf(lease, sizeof(lease), "%d", pushd.cfg.lease_s);
	if (pglink_ready())
	{
		if (tracking())
			/* Our own heartbeat first, then other nodes' rows past their lease. */
			pglink_enqueue("SELECT toggles.heartbeat($1), "
						   "toggles.reap_connections(make_interval(secs => $2::int)), "
						   "pg_notification_queue_usage()", 2, params, heartbeat_done, NULL);
		else
			pglink_enqueue("SELECT 0, 0, pg_notification_queue_usage()", 0, NULL,
						   heartbeat_done, NULL);
	}
	schedule(&heartbeat_timer, heartbeat, (int64_t) pushd.cfg.heartbeat_interval_s * LWS_US_PER_SEC);
}

static void
prune(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	if (pushd.cfg.prune_interval_s <= 0)
		return;
	if (pglink_ready())
		pglink_enqueue("SELECT toggles.prune_changes()", 0, NULL, NULL, NULL);
	schedule(&prune_timer, prune, (int64_t) pushd.cfg.prune_interval_s * LWS_US_PER_SEC);
}

void
registry_start(void)
{
	clear_node_first = tracking();
	if (tracking())
		schedule(&flush_timer, flush, (int64_t) pushd.cfg.register_interval_ms * LWS_US_PER_MS);
	schedule(&heartbeat_timer, heartbeat, (int64_t) pushd.cfg.heartbeat_interval_s * LWS_US_PER_SEC);
	if (pushd.cfg.prune_interval_s > 0)
		schedule(&prune_timer, prune, (int64_t) pushd.cfg.prune_interval_s * LWS_US_PER_SEC);
}

void
registry_stop(void)
{
	lws_sul_cancel(&flush_timer);
	lws_sul_cancel(&heartbeat_timer);
	lws_sul_cancel(&prune_timer);
	drop_pending();
	free(adds);
	free(removals);
	adds = NULL;
	removals = NULL;
	capadds = capremovals = 0;
}

bool
registry_restart(void)
{
	if (!tracking())
		return false;
	drop_pending();
	clear_node_first = true;
	return true;
}

void
registry_flush(void)
{
	flush(NULL);
}

bool
registry_final_statement(PglinkFinal *final)
{
	if (!tracking())
		return false;
	final->sql = "SELECT toggles.unregister_node($1)";
	final->param = pushd.node;
	final->what = "remove this node's connection rows";
	final->unanswered = "this node's connection rows stay until another node reaps them";
	return true;
}

/* The transport column's value (0.3.0; an older extension ignores the member). */
static const char *
client_transport(const Client *client)
{
	if (!client->sse)
		return "websocket";
	return client->notify ? "ofrep-events" : "sse";
}

/* registration_json: the client's element of a register_connections batch. */
static char *
registration_json(const Client *client)
{
	TextBuf		json;
	time_t		secs = (time_t) (client->connected_us / 1000000);
	struct tm	tm;
	char		stamp[24];
	char		peer[PEER_TEXT_MAX];

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	textbuf_init(&json);
	textbuf_printf(&json, "{\"id\":%llu,\"peer\":", (unsigned long long) client->id);
	if (*clients_peer(client, peer, sizeof(peer)))
		textbuf_json_string(&json, peer);
	else
		textbuf_puts(&json, "null");
	textbuf_puts(&json, ",\"user_agent\":");
	textbuf_json_string(&json, client->user_agent ? client->user_agent : "");
	textbuf_puts(&json, ",\"context\":");
	textbuf_puts(&json, client->group ? client->group->context : "{}");
	textbuf_printf(&json, ",\"connected_at\":\"%s.%06ldZ\",\"transport\":\"%s\"}", stamp,
				   (long) (client->connected_us % 1000000), client_transport(client));
	return json.data;
}

void
registry_client_open(Client *client)
{
	char	   *json;

	if (!tracking() || (json = registration_json(client)) == NULL)
		return;
	/* Not kept with the client: made again from it when needed (registry_restart). */
	client->registered = true;
	add_pending(client->id, json, false);
}

void
registry_client_context(Client *client)
{
	char	   *json;
	int			i;

	if (!tracking() || !client->registered || (json = registration_json(client)) == NULL)
		return;
	/* register_connections updates a row that exists: queue it again, once. */
	for (i = 0; i < nadds; i++)
	{
		if (adds[i].id == client->id)
		{
			free(adds[i].json);
			adds[i].json = json;
			return;
		}
	}
	add_pending(client->id, json, true);
}

void
registry_client_close(Client *client)
{
	int			i;

	if (!tracking() || !client->registered)
		return;
	for (i = 0; i < nadds; i++)
	{
		if (adds[i].id == client->id)
		{
			bool		row_exists = adds[i].row_exists;

			free(adds[i].json);
			memmove(&adds[i], &adds[i + 1], (nadds - i - 1) * sizeof(Pending));
			nadds--;
			if (!row_exists)
				return;			/* never written: nothing to remove */
			break;
		}
	}
	if (nremovals == capremovals)
	{
		capremovals = capremovals ? capremovals * 2 : 64;
		removals = realloc(removals, capremovals * sizeof(uint64_t));
	}
	removals[nremovals++] = client->id;
}
