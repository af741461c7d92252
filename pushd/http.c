/*
 * http.c — HTTP answers on the stream's port (see http.h, docs/protocol.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "http.h"
#include "conn_limits.h"
#include "log.h"
#include "metrics.h"
#include "pglink.h"
#include "pushd.h"

/* respond writes the headers now and leaves body (taken over) for HTTP_WRITEABLE. */
static int
respond(struct lws *wsi, Session *s, int status, const char *type, const char *etag,
		char *body, size_t len)
{
	unsigned char headers[LWS_PRE + 1024];
	unsigned char *start = headers + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = headers + sizeof(headers) - 1;

	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
		(etag && lws_add_http_header_by_name(wsi, (const unsigned char *) "etag:",
											 (const unsigned char *) etag, strlen(etag), &p, end)) ||
		lws_add_http_header_by_name(wsi, (const unsigned char *) "cache-control:",
									(const unsigned char *) "no-cache", 8, &p, end) ||
		lws_finalize_write_http_header(wsi, start, &p, end))
	{
		free(body);
		return 1;
	}
	if (len == 0)
	{
		free(body);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	s->http.body = body;
	s->http.len = len;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
respond_text(struct lws *wsi, Session *s, int status, const char *type, const char *text)
{
	return respond(wsi, s, status, type, NULL, strdup(text), strlen(text));
}

static int
toggles(struct lws *wsi, Session *s)
{
	char		etag[300];
	char		match[300];
	Msg		   *snap;
	char	   *body;
	size_t		len;

	if (!pushd.cache.loaded)
		return respond_text(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json",
							"{\"error\":\"not_loaded\",\"message\":\"no snapshot yet\"}");
	/* Epoch and version name the body exactly: both change whenever it would. */
	snprintf(etag, sizeof(etag), "\"%s-%lld\"", pushd.cache.epoch, (long long) pushd.cache.version);
	if (lws_hdr_copy(wsi, match, sizeof(match), WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0 &&
		strcmp(match, etag) == 0)
		return respond(wsi, s, HTTP_STATUS_NOT_MODIFIED, "application/json", etag, NULL, 0);
	snap = cache_snapshot_msg(&pushd.cache);
	if (snap == NULL)
		return respond_text(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
	len = snap->len;
	body = malloc(len);
	if (body)
		memcpy(body, snap->data, len);
	msg_unref(snap);
	return respond(wsi, s, HTTP_STATUS_OK, "application/json", etag, body, body ? len : 0);
}

static int
healthz(struct lws *wsi, Session *s)
{
	TextBuf		buf;
	bool		up = pglink_ready() && pushd.cache.loaded;

	textbuf_init(&buf);
	textbuf_printf(&buf, "{\"status\":\"%s\",\"database\":\"%s\",\"epoch\":",
				   up ? "ok" : "unavailable", pglink_ready() ? "up" : "down");
	if (pushd.cache.epoch)
		textbuf_json_string(&buf, pushd.cache.epoch);
	else
		textbuf_puts(&buf, "null");
	textbuf_printf(&buf, ",\"version\":%lld}\n", (long long) pushd.cache.version);
	return respond(wsi, s, up ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
				   "application/json", NULL, buf.data, buf.data ? buf.len : 0);
}

static int
metrics_page(struct lws *wsi, Session *s)
{
	TextBuf		buf;

	if (!limits_metrics_allowed(wsi))
		return respond_text(wsi, s, HTTP_STATUS_FORBIDDEN, "text/plain",
							"/metrics is not served to this address (--metrics-allow)\n");
	textbuf_init(&buf);
	metrics_render(&buf, clients_count(), pushd.cache.version, pglink_ready() && pushd.cache.loaded);
	return respond(wsi, s, HTTP_STATUS_OK, "text/plain; version=0.0.4", NULL, buf.data,
				   buf.data ? buf.len : 0);
}

int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	Session    *s = user;
	const char *path = in;

	(void) len;
	if (s == NULL)
		return 0;				/* lws closes a request it refused before binding us */
	switch (reason)
	{
		case LWS_CALLBACK_HTTP:
			if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
				return respond_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
									"only GET is served\n");
			if (strcmp(path, "/v1/toggles") == 0)
				return toggles(wsi, s);
			if (strcmp(path, "/healthz") == 0)
				return healthz(wsi, s);
			if (strcmp(path, "/metrics") == 0)
				return metrics_page(wsi, s);
			if (strcmp(path, "/v1/stream") == 0 || strcmp(path, "/") == 0)
				return respond_text(wsi, s, 426, "text/plain",
									"this is a WebSocket endpoint: connect with ws://\n");
			return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
		case LWS_CALLBACK_HTTP_WRITEABLE:
			{
				/* lws_write wants LWS_PRE bytes of headroom before what it sends. */
				unsigned char *out;
				int			written;

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
		case LWS_CALLBACK_CLOSED_HTTP:
			free(s->http.body);
			s->http.body = NULL;
			break;
		default:
			break;
	}
	return 0;
}
