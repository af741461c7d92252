/*
 * sse.c — the change stream over Server-Sent Events (see sse.h).
 *
 * A browser's EventSource gives up for good on any answer but a 200 of
 * text/event-stream, and reconnects by itself after a 200 that ends.  So everything that
 * passes (no tokens loaded yet, the database down, a node shutting down) is a 200 whose
 * body says retry: and ends; only a token that is refused is a 401, which should stop it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "conn_limits.h"
#include "context.h"
#include "etag.h"
#include "groups.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "outage.h"
#include "pushd.h"
#include "sse.h"
#include "ofrep.h"

#define ORIGIN_MAX 512

typedef struct SseCounters
{
	uint64_t	streams;		/* streams started */
	uint64_t	retries;		/* answered or ended with retry: */
	uint64_t	heartbeats;		/* comment lines written */
	uint64_t	hangups;		/* streams let go by the sweep: their client had hung up */
} SseCounters;

static SseCounters counters;
static lws_sorted_usec_list_t sweep_timer;
static bool sweep_armed;

/*
 * stream_headers: what every answer of /v1/events carries.  A page on an allowed origin
 * may read it (EventSource is CORS-checked); nothing may buffer it.
 */
static bool
stream_headers(struct lws *wsi, lws_filepos_t len, unsigned char **p, unsigned char *end)
{
	char		origin[ORIGIN_MAX + 1];
	int			olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream", len, p, end) ||
		http_add_header(wsi, "cache-control:", "no-cache", p, end) ||
		/* nginx buffers responses unless told not to; a stream must not wait in it. */
		http_add_header(wsi, "x-accel-buffering:", "no", p, end))
		return true;
	if (olen > 0 && olen <= ORIGIN_MAX &&
		lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) == olen &&
		origin_listed(origin, (size_t) olen) &&
		(http_add_header(wsi, "access-control-allow-origin:", origin, p, end) ||
		 http_add_header(wsi, "vary:", "Origin", p, end)))
		return true;
	return false;
}

/*
 * retry_later answers a 200 that tells the EventSource when to come back, and why (as a
 * comment), then ends: the temporary refusals.
 */
static int
retry_later(struct lws *wsi, const char *why)
{
	unsigned char out[LWS_PRE + 2048];
	unsigned char *start = out + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = out + LWS_PRE + 1536;
	char		body[400];
	int			n;

	counters.retries++;
	n = snprintf(body, sizeof(body), "retry: %d000\n: %.300s\n\n", atoi(outage_retry_after()), why);
	if (n < 0 || (size_t) n >= sizeof(body) ||
		stream_headers(wsi, (lws_filepos_t) n, &p, end) ||
		http_add_header(wsi, "connection:", "close", &p, end) ||
		lws_finalize_http_header(wsi, &p, end))
		return -1;
	memcpy(p, body, n);
	p += n;
	lws_write(wsi, start, p - start, LWS_WRITE_HTTP_HEADERS);
	return 1;
}

/*
 * A stream reads only while it has something to write.  lws 4.1.6 does not read a
 * connection whose response is under way (LRS_DOING_TRANSACTION): a client that hung up
 * (or sent anything) leaves its socket readable, and poll would return at once, forever.
 * Turning reading off (rx flow control) ends that, but lws then serves no POLLOUT either
 * (rops_handle_POLLIN_h1 returns early for a flow-controlled wsi).  So reading is on from
 * a request to write until what was written has left (sse_wrote), and off in between;
 * the sweep finds clients that hung up meanwhile (peer_gone), and a write to one meets a
 * reset, which lws sees as a hang-up and closes.
 */
void
sse_want_write(struct lws *wsi)
{
	lws_rx_flow_control(wsi, 1);
	lws_callback_on_writable(wsi);
}

void
sse_wrote(struct lws *wsi, bool more)
{
	if (more)
		return;
	if (lws_send_pipe_choked(wsi))
		lws_callback_on_writable(wsi);	/* back once it has drained, to stop reading */
	else
		lws_rx_flow_control(wsi, 0);
}

/*
 * peer_gone: the client of a stream has hung up (it sent its FIN, or the connection is
 * broken).  A stream's client sends nothing after its request, so anything else waiting
 * is left where it is.
 */
static bool
peer_gone(struct lws *wsi)
{
	char		byte;
	ssize_t		n = recv(lws_get_socket_fd(wsi), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * sweep asks every SSE client for a heartbeat, and lets go of those whose client hung up:
 * one timer, however many streams.
 */
static void
sweep(lws_sorted_usec_list_t *sul)
{
	Client	   *c;
	Client	   *next;
	int			n = 0;

	(void) sul;
	for (c = clients_first(); c != NULL; c = next)
	{
		next = clients_next(c);	/* a stream closed here leaves the list */
		if (c->sse && !c->close_code)
		{
			if (peer_gone(c->wsi))
			{
				counters.hangups++;
				/* Now: not inside a callback of that connection. */
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
				continue;
			}
			c->heartbeat_due = true;
			sse_want_write(c->wsi);
			n++;
		}
	}
	sweep_armed = n > 0;
	if (sweep_armed)
		lws_sul_schedule(pushd.context, 0, &sweep_timer, sweep,
						 (lws_usec_t) pushd.cfg.sse_heartbeat_s * LWS_US_PER_SEC);
}

/* last_event_id: EPOCH and VERSION of the Last-Event-ID header (a reconnecting EventSource). */
static bool
last_event_id(struct lws *wsi, char *epoch, size_t size, char *since, size_t since_size)
{
	char		id[300];
	int			len = lws_hdr_custom_length(wsi, "last-event-id:", 14);
	char	   *colon;

	if (len <= 0 || len >= (int) sizeof(id) ||
		lws_hdr_custom_copy(wsi, id, sizeof(id), "last-event-id:", 14) < 0 ||
		(colon = strrchr(id, ':')) == NULL)
		return false;
	*colon = '\0';
	if (strlen(id) >= size || strlen(colon + 1) >= since_size)
		return false;
	strcpy(epoch, id);
	strcpy(since, colon + 1);
	return true;
}

/* begin_stream sends the headers of a stream whose client is open, and retry: 1000. */
static int
begin_stream(struct lws *wsi)
{
	unsigned char out[LWS_PRE + 2048];
	unsigned char *start = out + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = out + sizeof(out) - 1;
	unsigned char retry[LWS_PRE + 16];

	if (stream_headers(wsi, LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
		lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	/* The headers are out: the handshake deadline and lws's own timeouts end here. */
	limits_established(wsi);
	lws_http_mark_sse(wsi);
	/* Its first WRITEABLE stops its reading if it has nothing to write (sse_wrote). */
	lws_callback_on_writable(wsi);
	counters.streams++;
	/* A stream that breaks (a node killed) is resumed after 1 s, not the browser's 3 s. */
	memcpy(retry + LWS_PRE, "retry: 1000\n\n", 13);
	if (lws_write(wsi, retry + LWS_PRE, 13, LWS_WRITE_HTTP) < 13)
		return -1;
	if (!sweep_armed)
	{
		sweep_armed = true;
		lws_sul_schedule(pushd.context, 0, &sweep_timer, sweep,
						 (lws_usec_t) pushd.cfg.sse_heartbeat_s * LWS_US_PER_SEC);
	}
	return 0;
}

int
sse_start_notify(struct lws *wsi, Session *s, const Token *token, const char *context)
{
	const char *outage;
	char		err[256];
	Group	   *group;

	if (pushd.shutting_down)
		return retry_later(wsi, "this node is shutting down");
	if ((outage = outage_refusal()) != NULL)
	{
		metrics.outage_refused++;
		return retry_later(wsi, outage);
	}
	group = group_acquire(context, strlen(context), token ? token->scope : NULL, err, sizeof(err));
	if (group == NULL)
		return http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "invalid_context", err);
	clients_open_notify(&s->client, wsi, group, token ? token->id : 0);
	return begin_stream(wsi);
}

int
sse_start(struct lws *wsi, Session *s)
{
	char		err[256];
	Group	   *group;
	const Token *token;
	const char *outage;
	char		epoch[256];
	char		since[32];
	TokenVerdict verdict = auth_admit(wsi, pushd.cfg.allow_anonymous, wall_clock_us(), &token);

	if (pushd.shutting_down)
		return retry_later(wsi, "this node is shutting down");
	if (verdict == TOKEN_UNAVAILABLE)
		return retry_later(wsi, token_verdict_text(verdict));
	if (verdict != TOKEN_OK)
	{
		metrics.auth_refused++;
		return http_refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized", token_verdict_text(verdict));
	}
	if ((outage = outage_refusal()) != NULL)
	{
		metrics.outage_refused++;
		return retry_later(wsi, outage);
	}
	/* The token and the context are read once, here. */
	group = http_context_group(wsi, token ? token->scope : NULL, err, sizeof(err));
	if (group == NULL)
		return http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "invalid_context", err);

	/* Before the headers go out: lws lets go of the request's headers once they have. */
	if (last_event_id(wsi, epoch, sizeof(epoch), since, sizeof(since)))
		clients_open(&s->client, wsi, true, group, token ? token->id : 0, since, epoch);
	else
		clients_open(&s->client, wsi, true, group, token ? token->id : 0, NULL, NULL);
	return begin_stream(wsi);
}

/* write_text writes len bytes (with LWS_PRE headroom before buf) as body of the stream. */
static bool
write_text(Client *c, unsigned char *buf, size_t len)
{
	return lws_write(c->wsi, buf, len, LWS_WRITE_HTTP) >= (int) len;
}

/*
 * write_notification: OFREP's event stream carries no flags, only "refetch": the change
 * was for this client's group, so something it evaluates did change.  The ETag is the one
 * the bulk answer will have.
 */
static bool
write_notification(Client *c)
{
	char		etag[ETAG_MAX + 1];
	unsigned char buf[LWS_PRE + ETAG_MAX + 128];
	int			n;

	/* The tag is quotes around letters, digits and dashes (etag.h): only its quotes need escaping. */
	ofrep_bulk_etag(c->group, etag, sizeof(etag));
	if (strlen(etag) < 2)
		return false;
	n = snprintf((char *) buf + LWS_PRE, sizeof(buf) - LWS_PRE,
				 "event: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"\\\"%.*s\\\"\",\"lastModified\":%lld}\n\n",
				 (int) strlen(etag) - 2, etag + 1, (long long) (wall_clock_us() / 1000000));
	if (n < 0 || (size_t) n >= sizeof(buf) - LWS_PRE)
		return false;
	return write_text(c, buf + LWS_PRE, n);
}

bool
sse_write_msg(Client *c, const Msg *msg)
{
	/* Every message is one line of compact JSON: its newlines are escaped. */
	bool		snapshot = msg->len > 17 && memcmp(msg->data, "{\"type\":\"snapshot\"", 18) == 0;
	const char *epoch = pushd.cache.epoch ? pushd.cache.epoch : "";
	size_t		head_max = strlen(epoch) + 64;
	unsigned char *buf = malloc(LWS_PRE + head_max + msg->len + 2);
	int			head;
	bool		ok;

	if (buf == NULL)
		return false;
	if (c->notify)
	{
		free(buf);
		/* The provider fetches everything when its stream opens: the snapshot is not news. */
		return snapshot ? true : write_notification(c);
	}
	head = snprintf((char *) buf + LWS_PRE, head_max, "id: %s:%lld\nevent: %s\ndata: ",
					epoch, (long long) msg->version, snapshot ? "snapshot" : "change");
	memcpy(buf + LWS_PRE + head, msg->data, msg->len);
	memcpy(buf + LWS_PRE + head + msg->len, "\n\n", 2);
	ok = write_text(c, buf + LWS_PRE, head + msg->len + 2);
	free(buf);
	return ok;
}

bool
sse_write_heartbeat(Client *c)
{
	unsigned char buf[LWS_PRE + 16];

	counters.heartbeats++;
	memcpy(buf + LWS_PRE, ": ping\n\n", 8);
	return write_text(c, buf + LWS_PRE, 8);
}

int
sse_end(Client *c, int code)
{
	unsigned char buf[LWS_PRE + 64];
	int			n;

	/* A token refused while streaming: no retry field; the reconnect meets the 401. */
	if (code != CLOSE_TOKEN)
	{
		counters.retries++;
		n = snprintf((char *) buf + LWS_PRE, 64, "retry: %d000\n\n", atoi(outage_retry_after()));
		lws_write(c->wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP);
	}
	return -1;
}

const MetricDef sse_rows[] = {
	{"pushd_sse_streams_total", "Server-Sent Events streams started (GET /v1/events).",
	METRIC_COUNTER, NULL, &counters.streams, NULL, NULL},
	{"pushd_sse_retries_total", "SSE answers and streams ended with retry: (temporary conditions).",
	METRIC_COUNTER, NULL, &counters.retries, NULL, NULL},
	{"pushd_sse_heartbeats_total", "SSE heartbeat comments written.", METRIC_COUNTER, NULL,
	&counters.heartbeats, NULL, NULL},
	{"pushd_sse_hangups_total",
		"SSE streams let go at a heartbeat sweep because their client had hung up.",
	METRIC_COUNTER, NULL, &counters.hangups, NULL, NULL},
};
const int	sse_nrows = sizeof(sse_rows) / sizeof(sse_rows[0]);
