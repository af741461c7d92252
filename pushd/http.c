/*
 * http.c — HTTP answers on the stream's port (see http.h, docs/protocol.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "context.h"
#include "auth.h"
#include "console.h"
#include "encode.h"
#include "etag.h"
#include "future.h"
#include "groups.h"
#include "http.h"
#include "conn_limits.h"
#include "log.h"
#include "metrics.h"
#include "ofrep.h"
#include "outage.h"
#include "pglink.h"
#include "pushd.h"
#include "shared.h"
#include "worker.h"
#include "sse.h"

bool
http_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
				unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *) name,
									   (const unsigned char *) value, (int) strlen(value),
									   p, end) != 0;
}

/*
 * respond_with writes the headers (and one more, when name is not NULL) now and leaves body
 * (taken over) for HTTP_WRITEABLE.
 */
static int
respond_with(struct lws *wsi, Session *s, int status, const char *type, const char *etag,
			 const char *name, const char *value, char *body, size_t len)
{
	unsigned char headers[LWS_PRE + 1024];
	unsigned char *start = headers + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = headers + sizeof(headers) - 1;

	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
		(etag && lws_add_http_header_by_name(wsi, (const unsigned char *) "etag:",
											 (const unsigned char *) etag, strlen(etag), &p, end)) ||
		(name && lws_add_http_header_by_name(wsi, (const unsigned char *) name,
											 (const unsigned char *) value, strlen(value), &p, end)) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *) "cache-control:",
									(const unsigned char *) "no-cache", 8, &p, end) ||
		lws_finalize_write_http_header(wsi, start, &p, end))
	{
		free(body);
		return 1;
	}
	return http_send_body(wsi, s, body, len);
}

/* respond: respond_with no other header. */
static int
respond(struct lws *wsi, Session *s, int status, const char *type, const char *etag,
		char *body, size_t len)
{
	return respond_with(wsi, s, status, type, etag, NULL, NULL, body, len);
}

int
http_send_body(struct lws *wsi, Session *s, char *body, size_t len)
{
	if (body == NULL || len == 0)
	{
		free(body);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	s->http.body = body;
	s->http.len = len;
	lws_callback_on_writable(wsi);
	return 0;
}

Group *
http_context_group(struct lws *wsi, const Scope *scope, char *err, size_t errlen)
{
	char	   *text = NULL;
	size_t		len = 0;
	Group	   *g;

	if (!http_query_arg(wsi, "context", CONTEXT_MAX, &text, &len))
	{
		snprintf(err, errlen, "the context is larger than %d bytes", CONTEXT_MAX);
		return NULL;
	}
	g = group_acquire(text ? text : "", len, scope, err, errlen);
	free(text);
	return g;
}

/* The most fragments of a query string looked at; the rest are ignored. */
#define MAX_QUERY_ARGS 64

bool
http_query_arg(struct lws *wsi, const char *name, size_t max, char **value, size_t *len)
{
	size_t		name_len = strlen(name);
	int			i;

	*value = NULL;
	*len = 0;
	for (i = 0; i < MAX_QUERY_ARGS; i++)
	{
		int			frag_len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		char	   *frag;

		if (frag_len <= (int) name_len)
			continue;
		frag = malloc(frag_len + 1);
		if (frag == NULL)
			return false;
		if (lws_hdr_copy_fragment(wsi, frag, frag_len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0 ||
			strncmp(frag, name, name_len) != 0 || frag[name_len] != '=')
		{
			free(frag);
			continue;
		}
		*len = frag_len - name_len - 1;
		if (*len > max)
		{
			free(frag);
			*len = 0;
			return false;
		}
		memmove(frag, frag + name_len + 1, *len + 1);
		*value = frag;
		return true;
	}
	return true;
}

/* error_body: {"error":...,"message":...} with a final newline; NULL when out of memory. */
static char *
error_body(const char *error, const char *message, size_t *len)
{
	TextBuf		buf;

	textbuf_init(&buf);
	textbuf_puts(&buf, "{\"error\":");
	textbuf_json_string(&buf, error);
	textbuf_puts(&buf, ",\"message\":");
	textbuf_json_string(&buf, message);
	textbuf_puts(&buf, "}\n");
	*len = buf.len;
	return buf.data;
}

int
http_refuse(struct lws *wsi, int status, const char *error, const char *message)
{
	unsigned char out[LWS_PRE + 2048];
	unsigned char *start = out + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = out + sizeof(out) - 1;
	size_t		len;
	char	   *body = error_body(error, message, &len);
	const char *retry_after = outage_retry_after();

	if (body == NULL || len > 1024 ||
		lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *) "connection:",
									(const unsigned char *) "close", 5, &p, end) ||
		(status == HTTP_STATUS_UNAUTHORIZED &&
		 lws_add_http_header_by_name(wsi, (const unsigned char *) "www-authenticate:",
									 (const unsigned char *) "Bearer realm=\"toggles\"", 22, &p, end)) ||
		/* OpenFeature providers pause until Retry-After; a second is what a slot takes. */
		(status == 429 &&
		 lws_add_http_header_by_name(wsi, (const unsigned char *) "retry-after:",
									 (const unsigned char *) "1", 1, &p, end)) ||
		(status == HTTP_STATUS_SERVICE_UNAVAILABLE &&
		 lws_add_http_header_by_name(wsi, (const unsigned char *) "retry-after:",
									 (const unsigned char *) retry_after, strlen(retry_after),
									 &p, end)) ||
		lws_finalize_http_header(wsi, &p, end))
	{
		free(body);
		return -1;
	}
	memcpy(p, body, len);
	p += len;
	free(body);
	/* Headers and body in one write: lws drops the connection right after. */
	return lws_write(wsi, start, p - start, LWS_WRITE_HTTP_HEADERS) < (int) (p - start) ? -1 : 1;
}

static int
respond_text(struct lws *wsi, Session *s, int status, const char *type, const char *text)
{
	return respond(wsi, s, status, type, NULL, strdup(text), strlen(text));
}

int
http_request_tags(struct lws *wsi, StateTag *tags)
{
	char		match[ETAG_HEADER_MAX + 1];
	int			len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);

	if (len <= 0 || len > ETAG_HEADER_MAX ||
		lws_hdr_copy(wsi, match, sizeof(match), WSI_TOKEN_HTTP_IF_NONE_MATCH) != len)
		return 0;
	return etag_parse_list(match, (size_t) len, tags, ETAG_LIST_MAX);
}

/* names_state: one of the n tags is the ETag of this body (hash) at this state. */
static bool
names_state(const StateTag *tags, int n, uint64_t hash)
{
	int			i;

	for (i = 0; i < n; i++)
		if (tags[i].hash == hash && tags[i].version == pushd.cache.version &&
			pushd.cache.epoch && strcmp(tags[i].epoch, pushd.cache.epoch) == 0)
			return true;
	return false;
}

static int	toggles_after_wait(struct lws *wsi, Session *s);

/*
 * answer_toggles answers GET /v1/toggles; waited: its wait for the state of its
 * If-None-Match is over (it does not wait again).
 */
static int
answer_toggles(struct lws *wsi, Session *s, bool waited)
{
	char		etag[ETAG_MAX + 1];
	char		err[256];
	StateTag	tags[ETAG_LIST_MAX];
	int			ntags;
	const StateTag *ahead;
	char	   *context;
	size_t		context_len;
	Group	   *group;
	Msg		   *snap;
	uint64_t	hash = 0;
	char	   *body;
	size_t		len;
	const Token *token;
	const char *outage;

	TokenVerdict verdict = auth_admit(wsi, pushd.cfg.allow_anonymous, wall_clock_us(), &token);

	if (verdict != TOKEN_OK)
	{
		metrics.auth_refused++;
		return http_refuse(wsi, auth_http_status(verdict),
						   verdict == TOKEN_UNAVAILABLE ? "unavailable" : "unauthorized",
						   token_verdict_text(verdict));
	}
	if ((outage = outage_refusal()) != NULL)
	{
		metrics.outage_refused++;
		return http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "unavailable", outage);
	}
	/* An If-None-Match of a state this process has not reached: never an older body. */
	ntags = http_request_tags(wsi, tags);
	ahead = etag_furthest_ahead(tags, ntags, pushd.cache.epoch, pushd.cache.version);
	if (ahead != NULL)
	{
		static const char *const behind =
			"this node has not reached the version of your If-None-Match yet: try again";

		if (!waited && pushd.cfg.future_wait_ms > 0)
			return future_wait(wsi, s, ahead, toggles_after_wait);
		metrics.future_refused++;
		if (!waited)
			return http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "unavailable", behind);
		/* After the wait, as any answer from HTTP_WRITEABLE: the connection may live on. */
		body = error_body("unavailable", behind, &len);
		return respond_with(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json", NULL,
							"retry-after:", outage_retry_after(), body, body ? len : 0);
	}
	if (!http_query_arg(wsi, "context", CONTEXT_MAX, &context, &context_len))
	{
		snprintf(err, sizeof(err), "the context is larger than %d bytes", CONTEXT_MAX);
		group = NULL;
	}
	else
		group = group_acquire(context ? context : "", context_len, token ? token->scope : NULL,
							  err, sizeof(err));
	free(context);
	if (group == NULL)
	{
		body = error_body("invalid_context", err, &len);
		return respond(wsi, s, HTTP_STATUS_BAD_REQUEST, "application/json", NULL, body,
					   body ? len : 0);
	}
	snap = group_snapshot(group, &hash);
	group_release(group);
	if (snap == NULL)
		return respond_text(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
	/* epoch and version name the state; the hash covers what the version alone does not. */
	etag_format(etag, sizeof(etag), pushd.cache.epoch, pushd.cache.version, hash);
	if (names_state(tags, ntags, hash))
	{
		msg_unref(snap);
		return respond(wsi, s, HTTP_STATUS_NOT_MODIFIED, "application/json", etag, NULL, 0);
	}
	len = snap->len;
	body = malloc(len);
	if (body)
		memcpy(body, snap->data, len);
	msg_unref(snap);
	return respond(wsi, s, HTTP_STATUS_OK, "application/json", etag, body, body ? len : 0);
}

static int
toggles(struct lws *wsi, Session *s)
{
	return answer_toggles(wsi, s, false);
}

static int
toggles_after_wait(struct lws *wsi, Session *s)
{
	return answer_toggles(wsi, s, true);
}

/*
 * An endpoint served only to the addresses of its setting's list, with its refusals
 * counted.  A new guarded endpoint is a setting (config.c) and one of these.
 */
typedef struct GuardedEndpoint
{
	const char *setting;		/* its address list's option, for the log */
	char	  **allow;			/* the list's text in pushd.cfg */
	const char *refusal;		/* the body of its 403 */
	Acl			acl;
	uint64_t	refused;
} GuardedEndpoint;

static GuardedEndpoint healthz_guard = {
	.setting = "--healthz-allow", .allow = &pushd.cfg.healthz_allow,
	.refusal = "/healthz is not served to this address (--healthz-allow)\n"
};
static GuardedEndpoint metrics_guard = {
	.setting = "--metrics-allow", .allow = &pushd.cfg.metrics_allow,
	.refusal = "/metrics is not served to this address (--metrics-allow)\n"
};
static GuardedEndpoint *const guarded[] = {&healthz_guard, &metrics_guard};

#define NGUARDED ((int) (sizeof(guarded) / sizeof(guarded[0])))

const MetricDef http_rows[] = {
	{"pushd_metrics_refused_total", "GET /metrics answered 403 for a peer not in --metrics-allow.",
	METRIC_COUNTER, NULL, &metrics_guard.refused, NULL, NULL},
	{"pushd_healthz_refused_total", "GET /healthz answered 403 for a peer not in --healthz-allow.",
	METRIC_COUNTER, NULL, &healthz_guard.refused, NULL, NULL},
};
const int	http_nrows = sizeof(http_rows) / sizeof(http_rows[0]);

bool
http_start(void)
{
	Acl			acls[NGUARDED];
	int			i;

	for (i = 0; i < NGUARDED; i++)
		if (!acl_parse(*guarded[i]->allow, &acls[i]))
		{
			log_error("invalid %s \"%s\"", guarded[i]->setting, *guarded[i]->allow);
			while (--i >= 0)
				acl_free(&acls[i]);
			return false;
		}
	for (i = 0; i < NGUARDED; i++)
	{
		acl_free(&guarded[i]->acl);
		guarded[i]->acl = acls[i];
	}
	return true;
}

void
http_stop(void)
{
	int			i;

	for (i = 0; i < NGUARDED; i++)
		acl_free(&guarded[i]->acl);
}

/* guard_allows: the peer is in the endpoint's list; counted when it is not. */
static bool
guard_allows(GuardedEndpoint *e, struct lws *wsi)
{
	if (limits_peer_allowed(wsi, &e->acl))
		return true;
	e->refused++;
	return false;
}

static int
healthz(struct lws *wsi, Session *s)
{
	TextBuf		buf;
	/* A node that shuts down fails its checks at once: balancers send nobody new. */
	bool		up = pglink_ready() && pushd.cache.loaded && !pushd.shutting_down &&
		worker_all_links_up();

	if (!guard_allows(&healthz_guard, wsi))
		return respond_text(wsi, s, HTTP_STATUS_FORBIDDEN, "text/plain",
							healthz_guard.refusal);
	textbuf_init(&buf);
	textbuf_printf(&buf, "{\"status\":\"%s\",\"database\":\"%s\",\"epoch\":",
				   up ? "ok" : "unavailable", pglink_ready() ? "up" : "down");
	if (pushd.cache.epoch)
		textbuf_json_string(&buf, pushd.cache.epoch);
	else
		textbuf_puts(&buf, "null");
	textbuf_printf(&buf, ",\"version\":%lld", (long long) pushd.cache.version);
	if (shared_nworkers() > 1)
		textbuf_printf(&buf, ",\"worker\":%d,\"workers_up\":%s", shared_worker() + 1,
					   worker_all_links_up() ? "true" : "false");
	textbuf_puts(&buf, "}\n");
	return respond(wsi, s, up ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
				   "application/json", NULL, buf.data, buf.data ? buf.len : 0);
}

static int
metrics_page(struct lws *wsi, Session *s)
{
	TextBuf		buf;

	if (!guard_allows(&metrics_guard, wsi))
		return respond_text(wsi, s, HTTP_STATUS_FORBIDDEN, "text/plain",
							metrics_guard.refusal);
	textbuf_init(&buf);
	metrics_render(&buf);
	return respond(wsi, s, HTTP_STATUS_OK, "text/plain; version=0.0.4", NULL, buf.data,
				   buf.data ? buf.len : 0);
}

/*
 * http_version_known: the request line said HTTP/1.0 or HTTP/1.1.  lws takes any other
 * version ("HTTP/9.9") for 1.0 and would answer it like one.
 */
static bool
http_version_known(struct lws *wsi)
{
	char		version[16];

	return lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_HTTP) > 0 &&
		(strcmp(version, "HTTP/1.1") == 0 || strcmp(version, "HTTP/1.0") == 0);
}

int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	Session    *s = user;
	const char *path = in;

	if (s == NULL)
		return 0;				/* lws closes a request it refused before binding us */
	switch (reason)
	{
		case LWS_CALLBACK_HTTP:
			if (!http_version_known(wsi))
				return respond_text(wsi, s, HTTP_STATUS_HTTP_VERSION_NOT_SUPPORTED, "text/plain",
									"only HTTP/1.0 and HTTP/1.1 are served\n");
			/* OFREP is POSTed, and browsers on other origins ask first (OPTIONS). */
			if (ofrep_path(path))
				return ofrep_request(wsi, s, path);
			if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
				return respond_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
									"only GET is served\n");
			if (strcmp(path, "/v1/toggles") == 0)
				return toggles(wsi, s);
			if (strcmp(path, "/v1/events") == 0)
				return sse_start(wsi, s);
			if (strcmp(path, "/healthz") == 0)
				return healthz(wsi, s);
			if (strcmp(path, "/metrics") == 0)
				return metrics_page(wsi, s);
			if (strcmp(path, "/v1/stream") == 0)
				return respond_text(wsi, s, 426, "text/plain",
									"this is a WebSocket endpoint: connect with ws://\n");
			/* A browser opening the server's address gets the live console, not a 426. */
			if (console_path(path))
				return console_serve(wsi, s, path);
			return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
		case LWS_CALLBACK_HTTP_WRITEABLE:
			{
				/* lws_write wants LWS_PRE bytes of headroom before what it sends. */
				unsigned char *out;
				int			written;

				if (s->client.sse)
					return clients_sse_writeable(&s->client);
				/* A request that waited for a state (future.h): answered now. */
				if (future_writeable(wsi, s, &written))
					return written;
				if (s->http.body == NULL)
					break;
				out = malloc(LWS_PRE + s->http.len);
				if (out == NULL)
					return -1;
				memcpy(out + LWS_PRE, s->http.body, s->http.len);
				written = lws_write(wsi, out + LWS_PRE, s->http.len, LWS_WRITE_HTTP_FINAL);
				free(out);
				free(s->http.body);
				s->http.body = NULL;
				if (written < (int) s->http.len)
					return -1;
				return lws_http_transaction_completed(wsi) ? -1 : 0;
			}
		case LWS_CALLBACK_HTTP_BODY:
			return ofrep_body_chunk(wsi, s, in, len);
		case LWS_CALLBACK_HTTP_BODY_COMPLETION:
			return ofrep_body_done(wsi, s);
		case LWS_CALLBACK_CLOSED_HTTP:
			future_closed(s);
			free(s->http.body);
			s->http.body = NULL;
			ofrep_closed(s);
			if (s->client.sse)
				clients_sse_closed(&s->client);
			break;
		default:
			break;
	}
	return 0;
}
