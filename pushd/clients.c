/*
 * clients.c — the WebSocket side of the stream (see clients.h).
 *
 * Each client has a small ring of shared messages.  A client that falls behind never
 * costs more than that ring: when it is full, the ring is dropped and the client is
 * marked to receive, at its next write, one change computed from the resume window with
 * the latest state of everything it missed (or a snapshot when that is out of the
 * window).  A client that has taken nothing for --max-stall seconds while more than
 * --max-backlog-bytes were broadcast is closed with 4001; a slow client that keeps
 * reading is coalesced, never culled.  Writes happen only in the WRITEABLE callback.
 *
 * Each client belongs to the group of its context (groups.c), whose messages it gets;
 * a context given at the handshake or later in a context message picks the group.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "client_input.h"
#include "clients.h"
#include "context.h"
#include "epoch_order.h"
#include "http.h"
#include "conn_limits.h"
#include "liveness.h"
#include "log.h"
#include "metrics.h"
#include "outage.h"
#include "pglink.h"
#include "pushd.h"
#include "registry.h"
#include "sse.h"

static lws_dll2_owner_t all_clients;	/* Client.list, newest first */
static int	nwaiting;			/* clients waiting for a version from ahead */

/*
 * What a client that resumed from ahead of this node waits for (docs/protocol.md, "Never
 * backwards"): allocated only while it waits, so that other clients do not carry it.
 */
typedef struct Ahead
{
	Client	   *client;
	int64_t		version;		/* the version it has */
	lws_sorted_usec_list_t timer;	/* --future-wait */
	char		epoch[];		/* of that version */
} Ahead;

static void admitted_drop(void);
static uint64_t next_id = 1;

int
clients_count(void)
{
	return (int) all_clients.count;
}

static Client *
client_of(lws_dll2_t *d)
{
	return d ? lws_container_of(d, Client, list) : NULL;
}

static double
clients_gauge(void)
{
	return all_clients.count;
}

const MetricDef clients_rows[] = {
	{"pushd_clients", "Connected stream clients (WebSocket, SSE, OFREP event streams).",
	METRIC_GAUGE, NULL, NULL, clients_gauge, NULL},
};
const int	clients_nrows = sizeof(clients_rows) / sizeof(clients_rows[0]);

Client *
clients_first(void)
{
	return client_of(lws_dll2_get_head(&all_clients));
}

Client *
clients_next(const Client *c)
{
	return client_of(c->list.next);
}

static void
queue_clear(Client *c)
{
	while (c->queue_len > 0)
	{
		msg_unref(c->queue[c->queue_start]);
		c->queue_start = (c->queue_start + 1) % c->queue_cap;
		c->queue_len--;
	}
	c->queue_start = 0;
}

/*
 * queue_push appends msg; false when the client already holds --max-backlog messages.
 * The ring is allocated at the first message, starts small and doubles up to that
 * limit, so idle clients cost little.
 */
static bool
queue_push(Client *c, Msg *msg)
{
	if (c->queue_len == c->queue_cap)
	{
		int			newcap = c->queue_cap ? c->queue_cap * 2 : 8;
		Msg		  **bigger;
		int			i;

		if (newcap > pushd.cfg.max_backlog)
			newcap = pushd.cfg.max_backlog;
		if (newcap <= c->queue_cap || (bigger = malloc(newcap * sizeof(Msg *))) == NULL)
			return false;
		for (i = 0; i < c->queue_len; i++)
			bigger[i] = c->queue[(c->queue_start + i) % c->queue_cap];
		free(c->queue);
		c->queue = bigger;
		c->queue_cap = newcap;
		c->queue_start = 0;
	}
	c->queue[(c->queue_start + c->queue_len) % c->queue_cap] = msg_ref(msg);
	c->queue_len++;
	return true;
}

static void close_soon(Client *c, int code, const char *reason);
static void stop_waiting(Client *c);

/* want_write asks for c's next WRITEABLE (an SSE stream reads only meanwhile: sse.c). */
static void
want_write(Client *c)
{
	if (c->sse)
		sse_want_write(c->wsi);
	else
		lws_callback_on_writable(c->wsi);
}

static bool
has_output(const Client *c)
{
	return c->close_code || c->needs_snapshot || c->coalesce || c->queue_len > 0 ||
		c->heartbeat_due || c->ping_due;
}

void
clients_close(Client *c, int code, const char *reason)
{
	queue_clear(c);
	c->needs_snapshot = c->coalesce = false;
	stop_waiting(c);
	close_soon(c, code, reason);
}

static void
close_soon(Client *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	c->close_code = code;
	c->close_reason = reason;
	want_write(c);
	/*
	 * A client that reads nothing never becomes writable: the liveness sweep hangs up on
	 * it then.  Not an lws timeout: closing every client at once (shutdown, an outage)
	 * would insert 19,000 of them into lws's sorted timer list, each after a walk of it.
	 */
	c->close_by_us = now_us() + CLOSE_WAIT_US;
}

static int	write_msg(Client *c, Msg *msg);

/*
 * write_now writes a broadcast message at once to a WebSocket client that is owed nothing
 * else and has nothing left in lws's buffer, as the floor server does: no round of the
 * event loop and no POLLOUT switched on and off (an epoll_ctl each) per client.
 * lws 4.1.6 allows a write outside WRITEABLE on an h1 connection: lws_issue_raw keeps what
 * the kernel did not take and asks for WRITEABLE itself, and until that has gone the
 * client's messages wait in its ring.  False: the message is to be queued.
 */
static bool
write_now(Client *c, Msg *msg, int64_t now)
{
	if (c->sse || c->closing || has_output(c) || !pushd.cache.loaded ||
		lws_partial_buffered(c->wsi))
		return false;
	if (write_msg(c, msg) < 0)
	{
		/* The connection failed: lws finds it closed, or the sweep hangs up on it. */
		close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed");
		return true;
	}
	if (!lws_partial_buffered(c->wsi))
		c->last_writable = now;
	return true;
}

/*
 * enqueue_for gives one client a broadcast message, coalescing when it lags; now is the
 * broadcast's time, read once for all its clients.
 */
static void
enqueue_for(Client *c, Msg *msg, int64_t now)
{
	int64_t		stalled;

	if (c->close_code || c->ahead)
		return;
	/* A schedule change repeats the version the client has; anything else is newer. */
	if (msg->version < c->sent_version || (msg->version == c->sent_version && !msg->schedule))
		return;
	c->behind_bytes += msg->len;
	stalled = now - c->last_writable;
	if (c->behind_bytes > (size_t) pushd.cfg.max_backlog_bytes &&
		stalled > (int64_t) pushd.cfg.max_stall_s * 1000000)
	{
		log_warn("client %llu (%s): culled, took nothing for %lld s, %zu bytes behind",
				 (unsigned long long) c->id, CLIENT_PEER(c), (long long) (stalled / 1000000),
				 c->behind_bytes);
		metrics.culled++;
		queue_clear(c);
		close_soon(c, CLOSE_TOO_SLOW, "too slow");
		return;
	}
	if (c->needs_snapshot || c->coalesce)
		return;					/* what it will get covers this message too */
	if (write_now(c, msg, now))
		return;
	if (!queue_push(c, msg))
	{
		metrics.coalesced++;
		queue_clear(c);
		c->coalesce = true;
	}
	want_write(c);
}

void
clients_broadcast_group(Group *group, Msg *msg)
{
	/* One clock read per broadcast: a stall is judged in seconds (--max-stall). */
	int64_t		now = now_us();

	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&group->members))
	{
		enqueue_for(lws_container_of(d, Client, group_member), msg, now);
	}
	lws_end_foreach_dll(d);
}

/* client_join makes c a member of g, taking over one reference. */
static void
client_join(Client *c, Group *g)
{
	c->group = g;
	group_join(g, &c->group_member);
}

/* client_leave takes c out of its group, if any, and releases the reference. */
static void
client_leave(Client *c)
{
	if (c->group == NULL)
		return;
	group_leave(c->group, &c->group_member);
	c->group = NULL;
}

static void
stop_waiting(Client *c)
{
	if (c->ahead == NULL)
		return;
	nwaiting--;
	lws_sul_cancel(&c->ahead->timer);
	free(c->ahead);
	c->ahead = NULL;
}

/* caught_up: the node has reached what a waiting client came with. */
static bool
caught_up(const Client *c)
{
	return strcmp(c->ahead->epoch, pushd.cache.epoch) == 0 &&
		pushd.cache.version >= c->ahead->version;
}

/* resume_now lets a client that came from ahead go on: what changed after its version. */
static void
resume_now(Client *c)
{
	c->sent_version = c->ahead->version;
	stop_waiting(c);
	c->coalesce = true;
	want_write(c);
}

void
clients_version_advanced(void)
{
	Client	   *c;

	if (nwaiting == 0)
		return;
	for (c = clients_first(); c != NULL; c = clients_next(c))
		if (c->ahead && caught_up(c))
			resume_now(c);
}

void
clients_resync_all(void)
{
	Client	   *c;

	for (c = clients_first(); c != NULL; c = clients_next(c))
	{
		if (c->close_code)
			continue;
		queue_clear(c);
		c->coalesce = false;
		if (c->ahead)
		{
			/*
			 * A client from ahead: a snapshot now could be older than what it has.  It
			 * goes on once this node reaches its version, or keeps waiting while the node
			 * is still behind it; only a history after its own (a later timeline, another
			 * epoch) replaces its state.
			 */
			if (caught_up(c))
			{
				resume_now(c);
				continue;
			}
			switch (epoch_order(c->ahead->epoch, pushd.cache.epoch))
			{
				case EPOCH_SAME:
				case EPOCH_LATER:
					continue;
				default:
					break;
			}
			stop_waiting(c);
		}
		c->needs_snapshot = true;
		want_write(c);
	}
}

void
clients_close_all(void)
{
	Client	   *c;

	admitted_drop();
	for (c = clients_first(); c != NULL; c = clients_next(c))
		clients_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "shutting down");
}

/*
 * future_expired: the client has seen a version this node did not reach in time.  An older
 * snapshot would send it back in time (docs/protocol.md, "Never backwards"): it is told
 * to try again, here later or on a node that is current.
 */
static void
future_expired(lws_sorted_usec_list_t *sul)
{
	Client	   *c = lws_container_of(sul, Ahead, timer)->client;

	log_info("client %llu (%s): version %lld of epoch %s not reached within %d ms (at %lld of %s), "
			 "closing (1013)", (unsigned long long) c->id, CLIENT_PEER(c), (long long) c->ahead->version,
			 c->ahead->epoch, pushd.cfg.future_wait_ms, (long long) pushd.cache.version,
			 pushd.cache.epoch);
	metrics.future_closes++;
	clients_close(c, CLOSE_TRY_AGAIN, "version not reached yet");
}

/*
 * start_stream decides the first message from since and epoch: the WebSocket's query, or
 * an EventSource's Last-Event-ID (docs/protocol.md "Resume").
 */
static void
start_stream(Client *c, const char *since, const char *want_epoch)
{
	int64_t		v;
	EpochOrder	order;

	if (!parse_since(since, &v))
	{
		c->needs_snapshot = true;
		return;
	}
	if (want_epoch == NULL || *want_epoch == '\0')
		want_epoch = pushd.cache.epoch;
	order = pushd.cache.loaded ? epoch_order(want_epoch, pushd.cache.epoch) : EPOCH_UNRELATED;
	/* An earlier timeline or another history: start over.  A later timeline: wait for it. */
	if (order == EPOCH_EARLIER || order == EPOCH_UNRELATED)
	{
		c->needs_snapshot = true;
		return;
	}
	if (order == EPOCH_LATER || v > pushd.cache.version)
	{
		size_t		elen = strlen(want_epoch) + 1;

		if ((c->ahead = calloc(1, sizeof(Ahead) + elen)) == NULL)
		{
			close_soon(c, CLOSE_TRY_AGAIN, "out of memory");
			return;
		}
		c->ahead->client = c;
		c->ahead->version = v;
		memcpy(c->ahead->epoch, want_epoch, elen);
		nwaiting++;
		lws_sul_schedule(pushd.context, 0, &c->ahead->timer, future_expired,
						 (lws_usec_t) pushd.cfg.future_wait_ms * LWS_US_PER_MS);
		return;
	}
	c->sent_version = v;
	c->coalesce = true;
}

/*
 * The WebSocket upgrade being admitted.  HTTP_CONFIRM_UPGRADE checks the token and the
 * context once and leaves what they gave here for ESTABLISHED, which lws 4.1 calls in the
 * same pass (lws_process_ws_upgrade: the confirmation, the protocol filter, the
 * handshake, then ESTABLISHED), so one slot is enough.  An upgrade refused in between
 * gives it back (clients_upgrade_refused); one that fails in lws's own handshake leaves
 * it to the next confirmation or the shutdown.
 */
static struct
{
	struct lws *wsi;
	Group	   *group;
	int64_t		token_id;
}			admitted;

static void
admitted_drop(void)
{
	group_release(admitted.group);
	memset(&admitted, 0, sizeof(admitted));
}

void
clients_upgrade_refused(struct lws *wsi)
{
	if (admitted.wsi == wsi)
		admitted_drop();
}

int
clients_confirm_upgrade(struct lws *wsi)
{
	char		err[256];
	Group	   *g;
	const Token *token;
	TokenVerdict verdict;
	const char *outage = outage_refusal();

	admitted_drop();			/* left by an upgrade that failed after its confirmation */

	if (outage != NULL)
	{
		metrics.outage_refused++;
		log_debug("upgrade refused: %s", outage);
		return http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "unavailable", outage);
	}
	verdict = auth_admit(wsi, pushd.cfg.allow_anonymous, wall_clock_us(), &token);
	if (verdict != TOKEN_OK)
	{
		metrics.auth_refused++;
		log_info("upgrade refused: %s", token_verdict_text(verdict));
		return http_refuse(wsi, auth_http_status(verdict),
						   verdict == TOKEN_UNAVAILABLE ? "unavailable" : "unauthorized",
						   token_verdict_text(verdict));
	}
	g = http_context_group(wsi, token ? token->scope : NULL, err, sizeof(err));
	if (g == NULL)
	{
		log_info("upgrade refused: invalid context: %s", err);
		return http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "invalid_context", err);
	}
	admitted.wsi = wsi;
	admitted.group = g;
	admitted.token_id = token ? token->id : 0;
	return 0;
}

static int	write_next(Client *c);

/*
 * client_attach makes c a member of g (taking over the reference) and starts its stream.
 * A WebSocket client gets its first message at once, from ESTABLISHED, after the 101
 * lws has just written (as write_now does for a change): a storm then costs no POLLOUT
 * switched on and off and no trip through the event loop per client.
 */
static void
client_attach(Client *c, Group *g, const char *since, const char *epoch)
{
	client_join(c, g);
	start_stream(c, since, epoch);
	registry_client_open(c);
	log_debug("client %llu (%s): connected", (unsigned long long) c->id, CLIENT_PEER(c));
	if (!pushd.cache.loaded || !has_output(c))
		return;
	if (c->sse || c->close_code || lws_partial_buffered(c->wsi))
		want_write(c);
	else if (write_next(c) < 0)
		close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed");
}

/* client_init: a new client of wsi, in the list, in no group yet. */
static void
client_init(Client *c, struct lws *wsi, bool sse)
{
	char		ua[256];

	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->sse = sse;
	c->id = next_id++;
	c->sent_version = -1;
	c->last_writable = now_us();
	c->heard_us = c->last_writable;
	{
		/*
		 * What waits for a client in the kernel counts too: without a cap, autotuning
		 * lets each stalled socket hold megabytes, and the stall would go unseen.  The
		 * kernel doubles the value it is given.
		 */
		int			sndbuf = pushd.cfg.max_backlog_bytes / 2;

		setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	c->connected_us = wall_clock_us();
	/* Only the connection row shows it. */
	if (pushd.cfg.track_connections)
	{
		if (lws_hdr_copy(wsi, ua, sizeof(ua), WSI_TOKEN_HTTP_USER_AGENT) < 0)
			ua[0] = '\0';
		c->user_agent = strdup(ua);
	}

	lws_dll2_add_head(&c->list, &all_clients);
}

void
clients_open(Client *c, struct lws *wsi, bool sse, Group *g, int64_t token_id,
			 const char *since, const char *epoch)
{
	client_init(c, wsi, sse);
	c->token_id = token_id;
	if (g == NULL)
	{
		close_soon(c, CLOSE_BAD_CONTEXT, "invalid context or token");
		return;
	}
	client_attach(c, g, since, epoch);
}

void
clients_open_notify(Client *c, struct lws *wsi, Group *g, int64_t token_id)
{
	client_init(c, wsi, true);
	c->notify = true;
	c->token_id = token_id;
	client_attach(c, g, NULL, NULL);
}

static void
client_closed(Client *c)
{
	if (c->wsi == NULL)
		return;
	lws_dll2_remove(&c->list);
	stop_waiting(c);
	registry_client_close(c);
	client_leave(c);
	queue_clear(c);
	free(c->queue);
	free(c->rx);
	free(c->user_agent);
	log_debug("client %llu (%s): closed", (unsigned long long) c->id, CLIENT_PEER(c));
	c->wsi = NULL;
}

void
clients_abort(Client *c, int code, const char *reason)
{
	lws_close_reason(c->wsi, code, (unsigned char *) reason, strlen(reason));
	queue_clear(c);
	c->needs_snapshot = c->coalesce = false;
	c->closing = true;
}

static int
write_msg(Client *c, Msg *msg)
{
	if (c->sse ? !sse_write_msg(c, msg)
		: lws_write(c->wsi, msg->data, msg->len, LWS_WRITE_TEXT) < (int) msg->len)
		return -1;
	metrics.messages_sent++;
	metrics.bytes_sent += msg->len;
	if (msg->version >= 0)
	{
		c->sent_version = msg->version;
		c->behind_bytes = 0;
	}
	return 0;
}

/* is_stale: a queued change that what the client was sent since already covers. */
static bool
is_stale(const Client *c, const Msg *msg)
{
	return msg->version >= 0 &&
		(msg->version < c->sent_version || (msg->version == c->sent_version && !msg->schedule));
}

/*
 * close_now writes the close frame itself and lets the connection go without waiting for
 * the client's answer (returning -1 with no close reason left to lws: it shuts the socket
 * down, which sends the frame before the FIN, and frees it at once).  Not lws's own close
 * handshake (lws_close_reason and -1), for two reasons found in lws 4.1.6:
 * - it arms two timeouts per client, each a sorted insertion behind every other closing
 *   client's: closing 19,000 clients at once (a shutdown, an outage) took 30-60 s of CPU;
 * - Debian builds it with _DEBUG, and on libuv (loop.c) a close from WRITEABLE is then
 *   made twice in a row ("uv repeat test", core-net/service.c), the second one killing the
 *   connection before the close frame was written: the client saw 1006, not the code.
 */
/* lws 4.1.6 keeps the close frame's write type private (roles/ws/private-lib-roles-ws.h). */
#define LWS_4_1_WRITE_CLOSE ((enum lws_write_protocol) 4)

static int
close_now(Client *c)
{
	unsigned char frame[LWS_PRE + 125];
	size_t		reason_len = strlen(c->close_reason);

	if (reason_len > 123)
		reason_len = 123;
	frame[LWS_PRE] = (unsigned char) (c->close_code >> 8);
	frame[LWS_PRE + 1] = (unsigned char) (c->close_code & 0xff);
	memcpy(frame + LWS_PRE + 2, c->close_reason, reason_len);
	lws_write(c->wsi, frame + LWS_PRE, 2 + reason_len, LWS_4_1_WRITE_CLOSE);
	c->closing = true;
	return -1;
}

/* write_next writes one message: the most urgent of what the client is owed. */
static int
write_next(Client *c)
{
	Msg		   *msg = NULL;
	int			rc;

	if (c->closing)
		return 0;
	if (c->close_code && c->sse)
		return sse_end(c, c->close_code);
	if (c->close_code)
		return close_now(c);
	if (c->ping_due)
	{
		/* Not empty: lws 4.1.6 passes an empty pong to nobody (ops-ws.c, already_done). */
		unsigned char ping[LWS_PRE + 4] = {[LWS_PRE] = 'p', 'i', 'n', 'g'};

		c->ping_due = false;
		if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
			return -1;
		if (has_output(c))
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (!pushd.cache.loaded)
		return 0;
	if (c->coalesce)
	{
		c->coalesce = false;
		msg = group_since(c->group, c->sent_version);
		if (msg == NULL)
			c->needs_snapshot = true;
	}
	if (c->needs_snapshot)
	{
		/* Whatever set it dropped the versioned messages queued before. */
		c->needs_snapshot = false;
		msg_unref(msg);
		msg = group_snapshot(c->group, NULL);
	}
	while (msg == NULL && c->queue_len > 0)
	{
		msg = c->queue[c->queue_start];
		c->queue_start = (c->queue_start + 1) % c->queue_cap;
		c->queue_len--;
		if (is_stale(c, msg))
		{
			msg_unref(msg);
			msg = NULL;
		}
	}
	/* Anything written is as good as a heartbeat; only a quiet stream gets the comment. */
	c->heartbeat_due = c->heartbeat_due && msg == NULL;
	if (c->heartbeat_due)
	{
		c->heartbeat_due = false;
		return sse_write_heartbeat(c) ? 0 : -1;
	}
	if (msg == NULL)
		return 0;
	rc = write_msg(c, msg);
	msg_unref(msg);
	/*
	 * A client that fell behind has several changes queued: as long as the kernel takes
	 * them, they go in this callback, rather than one per trip through the event loop,
	 * whose every trip costs O(connections).  Otherwise a node that fell behind once, in
	 * a burst, would stay as far behind for as long as the changes kept coming.
	 */
	while (rc == 0 && c->queue_len > 0 && !c->close_code && !c->needs_snapshot &&
		   !c->coalesce && !lws_send_pipe_choked(c->wsi))
	{
		msg = c->queue[c->queue_start];
		c->queue_start = (c->queue_start + 1) % c->queue_cap;
		c->queue_len--;
		if (!is_stale(c, msg))
			rc = write_msg(c, msg);
		msg_unref(msg);
	}
	if (rc == 0 && has_output(c))
		want_write(c);
	return rc;
}

/* reply queues an unversioned message (pong, error) for this client only. */
static void
reply(Client *c, const char *json)
{
	Msg		   *msg = msg_new(json, strlen(json), -1);

	if (msg == NULL)
		return;
	queue_push(c, msg);			/* a client flooding pings past its backlog gets fewer answers */
	msg_unref(msg);
	want_write(c);
}

/* reply_error queues an error message whose text is err. */
static void
reply_error(Client *c, const char *error, const char *message)
{
	TextBuf		buf;

	textbuf_init(&buf);
	textbuf_puts(&buf, "{\"type\":\"error\",\"error\":");
	textbuf_json_string(&buf, error);
	textbuf_puts(&buf, ",\"message\":");
	textbuf_json_string(&buf, message);
	textbuf_puts(&buf, "}");
	if (buf.data)
		reply(c, buf.data);
	textbuf_free(&buf);
}

/* queue_drop_versioned drops the changes queued for a client, keeping pongs and errors. */
static void
queue_drop_versioned(Client *c)
{
	int			kept = 0;
	int			i;

	for (i = 0; i < c->queue_len; i++)
	{
		Msg		   *msg = c->queue[(c->queue_start + i) % c->queue_cap];

		if (msg->version < 0)
			c->queue[kept++] = msg;
		else
			msg_unref(msg);
	}
	c->queue_start = 0;
	c->queue_len = kept;
}

/*
 * change_context moves the client to the group of its new context and starts it over
 * with that group's snapshot; an unacceptable context is answered with an error and
 * changes nothing.
 */
static void
change_context(Client *c, const char *raw, size_t len)
{
	char		err[256];
	Group	   *g;

	if (raw == NULL)
	{
		reply_error(c, "invalid_context", "expected {\"type\":\"context\",\"context\":{...}}");
		return;
	}
	g = group_acquire(raw, len, c->group ? c->group->scope : NULL, err, sizeof(err));
	if (g == NULL)
	{
		log_debug("client %llu (%s): context refused: %s", (unsigned long long) c->id, CLIENT_PEER(c), err);
		reply_error(c, "invalid_context", err);
		return;
	}
	client_leave(c);
	client_join(c, g);
	registry_client_context(c);
	queue_drop_versioned(c);
	c->coalesce = false;
	stop_waiting(c);
	c->needs_snapshot = true;
	want_write(c);
}

static void
client_message(Client *c)
{
	const char *context;
	size_t		context_len;
	ClientMessage kind = client_message_parse(c->rx, c->rx_len, &context, &context_len);

	if (kind == MSG_CONTEXT)
		change_context(c, context, context_len);
	else if (kind == MSG_PING)
	{
		char		pong[64];

		snprintf(pong, sizeof(pong), "{\"type\":\"pong\",\"version\":%lld}",
				 (long long) pushd.cache.version);
		reply(c, pong);
	}
	else
	{
		log_debug("client %llu (%s): unknown message", (unsigned long long) c->id, CLIENT_PEER(c));
		reply(c, kind == MSG_INVALID_JSON
			  ? "{\"type\":\"error\",\"error\":\"invalid_json\",\"message\":\"messages are JSON objects\"}"
			  : "{\"type\":\"error\",\"error\":\"unknown_message\",\"message\":"
			  "\"expected {\\\"type\\\":\\\"ping\\\"} or {\\\"type\\\":\\\"context\\\",\\\"context\\\":{...}}\"}");
	}
}

static int
client_receive(Client *c, const void *in, size_t len)
{
	if (lws_frame_is_binary(c->wsi))
	{
		clients_abort(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not accepted");
		return -1;
	}
	if (c->rx_len + len > (size_t) pushd.cfg.max_client_frame)
	{
		log_info("client %llu (%s): message over %d bytes, closing", (unsigned long long) c->id,
				 CLIENT_PEER(c), pushd.cfg.max_client_frame);
		limit_counters.messages_too_big++;
		clients_abort(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
		return -1;
	}
	if (len > 0)
	{
		char	   *bigger = realloc(c->rx, c->rx_len + len);

		if (bigger == NULL)
			return -1;
		c->rx = bigger;
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (lws_is_final_fragment(c->wsi) && lws_remaining_packet_payload(c->wsi) == 0)
	{
		client_message(c);
		c->rx_len = 0;
	}
	return 0;
}

int
clients_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	Client	   *c = user;

	if (c == NULL)
		return 0;
	switch (reason)
	{
		case LWS_CALLBACK_ESTABLISHED:
			{
				char		since[256];
				char		epoch[256];
				Group	   *g = admitted.wsi == wsi ? admitted.group : NULL;
				int64_t		token_id = admitted.token_id;

				/* What HTTP_CONFIRM_UPGRADE admitted, taken over: nothing is checked twice. */
				if (g != NULL)
					memset(&admitted, 0, sizeof(admitted));
				if (pushd.shutting_down)
				{
					group_release(g);
					return -1;
				}
				clients_open(c, wsi, false, g, token_id,
							 lws_get_urlarg_by_name(wsi, "since=", since, sizeof(since)),
							 lws_get_urlarg_by_name(wsi, "epoch=", epoch, sizeof(epoch)));
				break;
			}
		case LWS_CALLBACK_CLOSED:
			client_closed(c);
			break;
		case LWS_CALLBACK_SERVER_WRITEABLE:
			/* lws calls this only once what was written before has gone to the kernel. */
			c->last_writable = now_us();
			return write_next(c);
		case LWS_CALLBACK_RECEIVE:
			liveness_heard(c);
			return client_receive(c, in, len);
		case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
			/* lws answers the close: nothing may follow it, not even a write_now. */
			c->closing = true;
			break;
		case LWS_CALLBACK_RECEIVE_PONG:
			liveness_heard(c);
			break;
		default:
			break;
	}
	return 0;
}

int
clients_sse_writeable(Client *c)
{
	int			rc;

	c->last_writable = now_us();
	rc = write_next(c);
	if (rc == 0)
		sse_wrote(c->wsi, has_output(c));
	return rc;
}

void
clients_sse_closed(Client *c)
{
	client_closed(c);
}

void
clients_link_changed(bool ready)
{
	if (!ready || !registry_restart())
		return;
	for (Client *c = clients_first(); c != NULL; c = clients_next(c))
		if (c->registered)
			registry_client_open(c);
	registry_flush();
}

static lws_sorted_usec_list_t token_timer;

static void
token_timer_fired(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	clients_tokens_changed();
}

void
clients_tokens_changed(void)
{
	int64_t		now = wall_clock_us();
	int64_t		next;

	for (Client *c = clients_first(); c; c = clients_next(c))
	{
		const Token *token;
		TokenVerdict verdict;

		if (c->token_id == 0 || c->close_code != 0)
			continue;
		verdict = tokens_check_id(c->token_id, now, &token);
		if (verdict == TOKEN_OK && c->group &&
			strcmp(token->scope->key, c->group->scope ? c->group->scope->key : "") != 0)
		{
			close_soon(c, CLOSE_TOKEN, "token scope changed");
			metrics.token_closes++;
		}
		else if (verdict != TOKEN_OK)
		{
			log_info("client %llu (%s): %s", (unsigned long long) c->id, CLIENT_PEER(c),
					 token_verdict_text(verdict));
			close_soon(c, CLOSE_TOKEN, token_verdict_text(verdict));
			metrics.token_closes++;
		}
	}
	next = tokens_next_expiry(now);
	if (next != 0)
		lws_sul_schedule(pushd.context, 0, &token_timer, token_timer_fired,
						 (lws_usec_t) (next - now));
	else
		lws_sul_cancel(&token_timer);
}
