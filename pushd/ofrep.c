/*
 * ofrep.c — OpenFeature's remote evaluation protocol (see ofrep.h): one flag or all of
 * them for a context, read from the group the stream itself would put that context in.
 *
 * There is no second evaluator: a request acquires the group of (token scope, context),
 * which group_acquire evaluates or finds already evaluated, reads its results and lets
 * it go.  What OFREP adds is the mapping of reasons and errors onto its vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "context.h"
#include "encode.h"
#include "etag.h"
#include "future.h"
#include "groups.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ofrep.h"
#include "ofrep_body.h"
#include "origin.h"
#include "outage.h"
#include "pushd.h"
#include "sse.h"
#include "tickets.h"

#define OFREP_PREFIX "/ofrep/"
#define OFREP_FLAGS "/ofrep/v1/evaluate/flags"
#define OFREP_EVENTS "/ofrep/v1/events"

/* Providers close an idle stream after this long and reopen it when they evaluate again. */
#define OFREP_INACTIVITY_S 120

/* Longest Origin looked at; a longer one is refused (ETags: etag.h's ETAG_MAX). */
#define ORIGIN_MAX 512

/*
 * What a request needs once its body has arrived (the headers may be gone by then), and
 * while it waits for a state this process has not reached (future.h).
 */
typedef struct OfrepRequest
{
	char	   *key;			/* NULL: the bulk request */
	bool		has_token;
	int64_t		token_id;
	char		origin[ORIGIN_MAX + 1];	/* "" when no CORS headers are due */
	int			nmatch;			/* the tags of ours in If-None-Match (etag.h) */
	StateTag	match[ETAG_LIST_MAX];
	bool		has_refetch;	/* flagConfigEtag (bulk, after a notification) is one */
	StateTag	refetch;
	bool		body_done;		/* the body is in: nothing more is read */
	TextBuf		body;
} OfrepRequest;

typedef struct OfrepCounters
{
	uint64_t	single;			/* single-flag requests answered */
	uint64_t	bulk;			/* bulk requests answered */
	uint64_t	not_modified;	/* 304s */
	uint64_t	client_errors;	/* 4xx */
	uint64_t	preflights;		/* OPTIONS answered */
} OfrepCounters;

static OfrepCounters counters;

bool
ofrep_path(const char *path)
{
	return strncmp(path, OFREP_PREFIX, strlen(OFREP_PREFIX)) == 0;
}

/*
 * request_origin copies the request's Origin into origin; false when one is given that
 * may not read answers (too long or not listed).  No Origin: not a browser, origin "".
 */
static bool
request_origin(struct lws *wsi, char *origin)
{
	int			len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

	origin[0] = '\0';
	if (len <= 0)
		return true;
	if (len > ORIGIN_MAX || lws_hdr_copy(wsi, origin, ORIGIN_MAX + 1, WSI_TOKEN_ORIGIN) != len)
	{
		origin[0] = '\0';
		return false;
	}
	if (!origin_listed(origin, (size_t) len))
	{
		origin[0] = '\0';
		return false;
	}
	return true;
}

/*
 * cors_headers: what lets a page on an allowed origin read the answer.  Tokens travel in
 * headers, never cookies, so credentials are not allowed; the Origin is echoed (with
 * Vary) rather than "*" so that --allowed-origins decides.
 */
static bool
cors_headers(struct lws *wsi, const char *origin, unsigned char **p, unsigned char *end)
{
	if (origin[0] == '\0')
		return false;
	return http_add_header(wsi, "access-control-allow-origin:", origin, p, end) ||
		http_add_header(wsi, "vary:", "Origin", p, end) ||
		http_add_header(wsi, "access-control-expose-headers:", "ETag, Retry-After", p, end);
}

/*
 * reply answers status with body (taken over; NULL for none) and the headers OFREP needs;
 * the body goes out from HTTP_WRITEABLE (http.c).  close: the connection ends after it
 * (the request's body may be unread).
 */
static int
reply(struct lws *wsi, Session *s, int status, const char *origin, const char *etag,
	  const char *retry_after, bool close, char *body, size_t len)
{
	unsigned char headers[LWS_PRE + 2048 + 1024];
	unsigned char *start = headers + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = headers + LWS_PRE + 2048;

	if (status >= 400 && status < 500)
		counters.client_errors++;
	if (status == HTTP_STATUS_NOT_MODIFIED)
		counters.not_modified++;
	if (lws_add_http_common_headers(wsi, status, "application/json", body ? len : 0, &p, end) ||
		http_add_header(wsi, "cache-control:", "no-cache", &p, end) ||
		cors_headers(wsi, origin, &p, end) ||
		(etag && http_add_header(wsi, "etag:", etag, &p, end)) ||
		(retry_after && http_add_header(wsi, "retry-after:", retry_after, &p, end)) ||
		(status == HTTP_STATUS_UNAUTHORIZED &&
		 http_add_header(wsi, "www-authenticate:", "Bearer realm=\"toggles\"", &p, end)) ||
		(close && http_add_header(wsi, "connection:", "close", &p, end)))
	{
		free(body);
		return -1;
	}
	if (close)
	{
		/*
		 * The request's body is unread: headers and a short body go out in one write, and
		 * the connection ends (lws sends what it buffered first), as http_refuse does.
		 */
		if (lws_finalize_http_header(wsi, &p, end) || (body && len > 1024))
		{
			free(body);
			return -1;
		}
		if (body)
		{
			memcpy(p, body, len);
			p += len;
		}
		free(body);
		lws_write(wsi, start, p - start, LWS_WRITE_HTTP_HEADERS);
		return 1;
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
	{
		free(body);
		return -1;
	}
	return http_send_body(wsi, s, body, len);
}

/*
 * fail answers an error in OFREP's shape: {"key"?, "errorCode"?, "errorDetails"}; key
 * and code NULL leave them out (401, 403, 5xx carry only the details).
 */
static int
fail(struct lws *wsi, Session *s, int status, const char *origin, const char *key,
	 const char *code, const char *details, bool close)
{
	TextBuf		buf;

	textbuf_init(&buf);
	textbuf_puts(&buf, "{");
	if (key)
	{
		textbuf_puts(&buf, "\"key\":");
		textbuf_json_string(&buf, key);
		textbuf_puts(&buf, ",");
	}
	if (code)
	{
		textbuf_puts(&buf, "\"errorCode\":");
		textbuf_json_string(&buf, code);
		textbuf_puts(&buf, ",");
	}
	textbuf_puts(&buf, "\"errorDetails\":");
	textbuf_json_string(&buf, details);
	textbuf_puts(&buf, "}\n");
	return reply(wsi, s, status, origin, NULL,
				 status == HTTP_STATUS_SERVICE_UNAVAILABLE ? outage_retry_after() : NULL,
				 close, buf.data, buf.data ? buf.len : 0);
}

/* preflight: the browser asks whether a page on its Origin may POST with our headers. */
static int
preflight(struct lws *wsi, Session *s)
{
	char		origin[ORIGIN_MAX + 1];
	unsigned char headers[LWS_PRE + 2048];
	unsigned char *start = headers + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = headers + sizeof(headers) - 1;

	counters.preflights++;
	if (!request_origin(wsi, origin) || origin[0] == '\0')
		return fail(wsi, s, HTTP_STATUS_FORBIDDEN, "", NULL, NULL,
					"this Origin may not read OpenFeature answers (--allowed-origins)", true);
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_NO_CONTENT, "text/plain", 0, &p, end) ||
		http_add_header(wsi, "access-control-allow-origin:", origin, &p, end) ||
		http_add_header(wsi, "vary:", "Origin", &p, end) ||
		http_add_header(wsi, "access-control-allow-methods:", "POST, OPTIONS", &p, end) ||
		http_add_header(wsi, "access-control-allow-headers:",
				   "Authorization, X-API-Key, Content-Type, If-None-Match", &p, end) ||
		/* Browsers cap this (Chromium: 2 h); a list change reaches them within 10 min. */
		http_add_header(wsi, "access-control-max-age:", "600", &p, end) ||
		lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* reason_name: our reason in OpenFeature's words (docs/openfeature.md, "Reasons"). */
static const char *
reason_name(const Toggle *t, const TgResult *r)
{
	switch (r->reason)
	{
		case TG_DISABLED:
			return "DISABLED";
		case TG_TARGETING_MATCH:
		case TG_SCHEDULE:		/* a rule with a window matched: targeting, by time */
			return "TARGETING_MATCH";
		case TG_SPLIT:
			return "SPLIT";
		case TG_DEFAULT:
			/* No rules: the same for every context.  Rules, none matched: the fallback. */
			return tg_rule_count(t->compiled) == 0 ? "STATIC" : "DEFAULT";
		case TG_ERROR:
			break;
	}
	return "ERROR";
}

/*
 * encode_flag writes one flag's evaluation: {key, value, reason, variant, metadata}, or,
 * for a toggle whose rules failed, {key, errorCode, errorDetails}.  A toggle with
 * variants that serves none (off, or no rule matched) has no value: the caller's default
 * applies, as OFREP says.
 */
static void
encode_flag(TextBuf *buf, const Toggle *t, const TgResult *r)
{
	textbuf_puts(buf, "{\"key\":");
	textbuf_json_string(buf, t->name);
	if (r->reason == TG_ERROR)
	{
		textbuf_puts(buf, ",\"errorCode\":\"GENERAL\",\"errorDetails\":");
		textbuf_json_string(buf, r->error ? r->error : "evaluation failed");
		textbuf_puts(buf, "}");
		return;
	}
	if (r->value)
	{
		textbuf_puts(buf, ",\"value\":");
		textbuf_puts(buf, r->value);
	}
	else if (tg_variant_count(t->compiled) == 0)
		textbuf_puts(buf, r->active ? ",\"value\":true" : ",\"value\":false");
	textbuf_puts(buf, ",\"reason\":");
	textbuf_json_string(buf, reason_name(t, r));
	if (r->variant)
	{
		textbuf_puts(buf, ",\"variant\":");
		textbuf_json_string(buf, r->variant);
	}
	textbuf_printf(buf, ",\"metadata\":{\"version\":%lld", (long long) t->version);
	if (r->rule >= 0)
		textbuf_printf(buf, ",\"rule\":%d", r->rule);
	if (r->reason == TG_SCHEDULE)
		textbuf_puts(buf, ",\"schedule\":true");
	textbuf_puts(buf, "}}");
}

/*
 * encode_bulk writes every toggle the group may see, the state they come from, and, with
 * a ticket, where to hear of changes (the URL stands for the caller's token and context).
 */
static void
encode_bulk(TextBuf *buf, Group *g, const char *ticket)
{
	const Cache *cache = &pushd.cache;
	bool		first = true;
	int			i;

	textbuf_puts(buf, "{\"flags\":[");
	for (i = 0; i < cache->ntoggles; i++)
	{
		const Toggle *t = &cache->toggles[i];

		if (!group_visible(g, t->name))
			continue;
		if (!first)
			textbuf_puts(buf, ",");
		first = false;
		encode_flag(buf, t, &g->results[t->slot]);
	}
	textbuf_puts(buf, "],\"metadata\":{\"epoch\":");
	textbuf_json_string(buf, cache->epoch ? cache->epoch : "");
	textbuf_printf(buf, ",\"version\":%lld}", (long long) cache->version);
	if (ticket)
		textbuf_printf(buf, ",\"eventStreams\":[{\"type\":\"sse\",\"endpoint\":{\"requestUri\":"
					   "\"" OFREP_EVENTS "?ticket=%s\"},\"inactivityDelaySec\":%d}]",
					   ticket, OFREP_INACTIVITY_S);
	textbuf_puts(buf, "}\n");
}

/*
 * answer_hash: the hash of what an answer says about the flags: a single flag's whole
 * answer, a bulk answer's flags up to its metadata (which names the version).
 */
static uint64_t
answer_hash(const TextBuf *out, bool bulk)
{
	const char *flags_end = bulk ? strstr(out->data, "],\"metadata\":") : NULL;

	return fnv1a64((const unsigned char *) out->data,
				   flags_end ? (size_t) (flags_end - out->data) : out->len);
}

/*
 * answer_etag: "EPOCH-VERSION-HASH" (etag.h): the state the answer was computed from, so
 * that a process that is behind can tell a tag from ahead, and the hash of its flags, so
 * that a commit that changes nothing for them still gets a 304.
 */
static void
answer_etag(char *etag, size_t size, uint64_t hash)
{
	/* An epoch too long for a tag (toggles.epoch() never is): "", which names no state. */
	if (!etag_format(etag, size, pushd.cache.epoch, pushd.cache.version, hash))
		snprintf(etag, size, "\"\"");
}

void
ofrep_bulk_etag(Group *group, char *etag, size_t size)
{
	TextBuf		out;

	textbuf_init(&out);
	encode_bulk(&out, group, NULL);
	if (out.data)
		answer_etag(etag, size, answer_hash(&out, true));
	else
		snprintf(etag, size, "\"\"");
	textbuf_free(&out);
}

/*
 * awaited: the state the request says its caller has seen that this process has not
 * reached (its If-None-Match, or the flagConfigEtag of a refetch after a notification;
 * the later of the two), or NULL when it names none.
 */
static const StateTag *
awaited(const OfrepRequest *req)
{
	const StateTag *tag = etag_furthest_ahead(req->match, req->nmatch, pushd.cache.epoch,
											  pushd.cache.version);

	if (req->has_refetch && etag_ahead(&req->refetch, pushd.cache.epoch, pushd.cache.version) &&
		(tag == NULL || etag_ahead(&req->refetch, tag->epoch, tag->version)))
		tag = &req->refetch;
	return tag;
}

/*
 * not_modified: a tag of the caller's If-None-Match has the hash of this answer and is
 * not from ahead (none is, by now: awaited()): its flags are these, whichever version it
 * was computed at (docs/openfeature.md, "Bulk answers and ETags").
 */
static bool
not_modified(const OfrepRequest *req, uint64_t hash)
{
	int			i;

	for (i = 0; i < req->nmatch; i++)
		if (req->match[i].hash == hash &&
			!etag_ahead(&req->match[i], pushd.cache.epoch, pushd.cache.version))
			return true;
	return false;
}

static void
request_free(OfrepRequest *req)
{
	if (req == NULL)
		return;
	free(req->key);
	textbuf_free(&req->body);
	free(req);
}

static int	evaluate_after_wait(struct lws *wsi, Session *s);

/*
 * evaluate answers a request whose body has arrived, or, when it names a state this
 * process has not reached, keeps it in s->ofrep (*kept) while it waits up to
 * --future-wait; waited: it has waited, and is answered 503 if that state is still ahead.
 */
static int
evaluate(struct lws *wsi, Session *s, OfrepRequest *req, bool waited, bool *kept)
{
	char		err[256];
	char		etag[ETAG_MAX + 1];
	TextBuf		context;
	TextBuf		out;
	const Token *token = NULL;
	const Scope *scope = NULL;
	const StateTag *ahead;
	Group	   *group;
	OfrepBodyVerdict verdict;
	uint64_t	hash;
	int			rc;

	if (req->has_token)
	{
		/* The token may have been revoked while the body was on its way. */
		TokenVerdict tv = tokens_check_id(req->token_id, wall_clock_us(), &token);

		if (tv != TOKEN_OK)
		{
			metrics.auth_refused++;
			return fail(wsi, s, auth_http_status(tv), req->origin, NULL, NULL,
						token_verdict_text(tv), false);
		}
		scope = token->scope;
	}
	textbuf_init(&context);
	verdict = ofrep_body_context(req->body.data ? req->body.data : "", req->body.len, &context,
								 err, sizeof(err));
	if (verdict != OFREP_BODY_OK || context.data == NULL)
	{
		textbuf_free(&context);
		return fail(wsi, s, HTTP_STATUS_BAD_REQUEST, req->origin, req->key,
					verdict == OFREP_BODY_INVALID_CONTEXT ? "INVALID_CONTEXT" : "PARSE_ERROR",
					context.data || verdict != OFREP_BODY_OK ? err : "out of memory", false);
	}
	/* The caller has seen a newer state (on another worker or node): never an older answer. */
	if ((ahead = awaited(req)) != NULL)
	{
		textbuf_free(&context);
		if (!waited && pushd.cfg.future_wait_ms > 0)
		{
			s->ofrep = req;
			*kept = true;
			return future_wait(wsi, s, ahead, evaluate_after_wait);
		}
		metrics.future_refused++;
		return fail(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE, req->origin, NULL, NULL,
					"this node has not reached the version of your If-None-Match or "
					"flagConfigEtag yet: try again", false);
	}
	group = group_acquire(context.data, context.len, scope, err, sizeof(err));
	textbuf_free(&context);
	if (group == NULL)
		return fail(wsi, s, HTTP_STATUS_BAD_REQUEST, req->origin, req->key, "INVALID_CONTEXT",
					err, false);

	textbuf_init(&out);
	if (req->key)
	{
		const Toggle *t = cache_get(&pushd.cache, req->key);

		counters.single++;
		/* The scope was checked with the headers; a reload may have narrowed it since. */
		if (!group_visible(group, req->key))
		{
			group_release(group);
			textbuf_free(&out);
			return fail(wsi, s, HTTP_STATUS_FORBIDDEN, req->origin, NULL, NULL,
						"the token's scope does not cover this flag", false);
		}
		if (t == NULL)
		{
			group_release(group);
			textbuf_free(&out);
			snprintf(err, sizeof(err), "no toggle is named %.200s", req->key);
			return fail(wsi, s, HTTP_STATUS_NOT_FOUND, req->origin, req->key, "FLAG_NOT_FOUND",
						err, false);
		}
		if (group->results[t->slot].reason == TG_ERROR)
		{
			/* The toggle, not the request, is at fault: the server's error, with the key. */
			const char *why = group->results[t->slot].error;

			snprintf(err, sizeof(err), "%.250s", why ? why : "evaluation failed");
			group_release(group);
			textbuf_free(&out);
			return fail(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, req->origin, req->key,
						"GENERAL", err, false);
		}
		encode_flag(&out, t, &group->results[t->slot]);
		textbuf_puts(&out, "\n");
	}
	else
	{
		const Token *token = NULL;
		char	   *ticket = NULL;

		if (!req->has_token || tokens_check_id(req->token_id, wall_clock_us(), &token) == TOKEN_OK)
			ticket = ticket_make(req->token_id, token ? token->hash : NULL, group->context,
								 wall_clock_us());
		counters.bulk++;
		encode_bulk(&out, group, ticket);
		free(ticket);
	}
	group_release(group);
	if (out.data == NULL)
		return fail(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, req->origin, NULL, NULL,
					"out of memory", false);

	/* The hash covers the flags only, so that a commit elsewhere still gets a 304. */
	hash = answer_hash(&out, req->key == NULL);
	answer_etag(etag, sizeof(etag), hash);
	if (not_modified(req, hash))
	{
		textbuf_free(&out);
		return reply(wsi, s, HTTP_STATUS_NOT_MODIFIED, req->origin, etag, NULL, false, NULL, 0);
	}
	rc = reply(wsi, s, HTTP_STATUS_OK, req->origin, etag, NULL, false, out.data, out.len);
	return rc;
}

/*
 * answer evaluates the request of s (its body is in) and lets it go, unless it waits
 * for a state (future.c calls evaluate_after_wait then).  Once an answer is out, s may be
 * gone: lws can end the transaction, and the session with it, inside the reply.
 */
static int
answer(struct lws *wsi, Session *s, bool waited)
{
	OfrepRequest *req = s->ofrep;
	bool		kept = false;
	int			rc;

	if (req == NULL)
		return 0;
	s->ofrep = NULL;
	req->body_done = true;
	rc = evaluate(wsi, s, req, waited, &kept);
	if (!kept)
		request_free(req);
	return rc;
}

static int
evaluate_after_wait(struct lws *wsi, Session *s)
{
	return answer(wsi, s, true);
}

/*
 * request_tags reads the request's If-None-Match (one tag or a list) and, on the bulk
 * call, flagConfigEtag (a query parameter) into req; a tag that is too long or not ours
 * (etag.h) is as none: it never matches and is never waited for.
 */
static void
request_tags(struct lws *wsi, OfrepRequest *req)
{
	char	   *text = NULL;
	size_t		text_len = 0;

	req->nmatch = http_request_tags(wsi, req->match);
	if (req->key == NULL && http_query_arg(wsi, "flagConfigEtag", ETAG_MAX, &text, &text_len) &&
		text != NULL)
		req->has_refetch = etag_parse(text, text_len, &req->refetch);
	free(text);
}

/*
 * notifications answers GET /ofrep/v1/events?ticket=T, the eventStreams URL of a bulk
 * answer: an EventSource sends no headers, so the ticket stands for the caller's token and
 * context (tickets.h).
 */
static int
notifications(struct lws *wsi, Session *s)
{
	char	   *text = NULL;
	size_t		len = 0;
	Ticket		ticket;
	bool		parsed = false;
	const Token *token = NULL;
	TokenVerdict verdict = TOKEN_OK;
	const char *refusal = NULL;
	int64_t		now = wall_clock_us();
	int			rc;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return fail(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "", NULL, NULL,
					"the event stream is read with GET", true);
	if (http_query_arg(wsi, "ticket", TICKET_MAX, &text, &len) && text != NULL)
		parsed = ticket_parse(text, len, &ticket);
	free(text);
	if (parsed && ticket.has_token)
		verdict = tokens_check_id(ticket.token_id, now, &token);
	/* Another node's ticket is as good: its MAC is keyed with the token's hash. */
	if (!parsed || (ticket.has_token && token == NULL) ||
		!ticket_verify(&ticket, token ? token->hash : NULL, now))
		refusal = "unknown or expired stream ticket: fetch /ofrep/v1/evaluate/flags again";
	else if (verdict != TOKEN_OK)
		refusal = token_verdict_text(verdict);
	else if (!ticket.has_token && !pushd.cfg.allow_anonymous)
		refusal = "a token is required";
	if (refusal != NULL)
	{
		if (parsed)
			ticket_clear(&ticket);
		metrics.auth_refused++;
		return http_refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized", refusal);
	}
	rc = sse_start_notify(wsi, s, token, ticket.context);
	ticket_clear(&ticket);
	return rc;
}

int
ofrep_request(struct lws *wsi, Session *s, const char *path)
{
	char		origin[ORIGIN_MAX + 1];
	char		buf[64];
	const char *key = NULL;
	const Token *token;
	const char *outage;
	TokenVerdict verdict;
	OfrepRequest *req;
	int			content_length = -1;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
		return preflight(wsi, s);
	/* An Origin that may not read the answer is refused before anything is evaluated. */
	if (!request_origin(wsi, origin))
		return fail(wsi, s, HTTP_STATUS_FORBIDDEN, "", NULL, NULL,
					"this Origin may not read OpenFeature answers (--allowed-origins)", true);
	if (strcmp(path, OFREP_EVENTS) == 0)
		return notifications(wsi, s);
	if (strcmp(path, OFREP_FLAGS) == 0)
		key = NULL;
	else if (strncmp(path, OFREP_FLAGS "/", strlen(OFREP_FLAGS) + 1) == 0 &&
			 path[strlen(OFREP_FLAGS) + 1] != '\0' && strchr(path + strlen(OFREP_FLAGS) + 1, '/') == NULL)
		key = path + strlen(OFREP_FLAGS) + 1;
	else
		return fail(wsi, s, HTTP_STATUS_NOT_FOUND, origin, NULL, NULL,
					"not an OFREP endpoint: POST /ofrep/v1/evaluate/flags[/{key}]", true);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0)
		return fail(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, origin, NULL, NULL,
					"OFREP evaluations are POSTed", true);

	/* A body must say how long it is: chunked bodies are refused, not buffered blind. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return fail(wsi, s, HTTP_STATUS_LENGTH_REQUIRED, origin, key, "PARSE_ERROR",
					"send the body with a Content-Length, not chunked", true);
	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
	{
		char	   *endp;
		long		n = strtol(buf, &endp, 10);

		if (*endp != '\0' || n < 0)
			return fail(wsi, s, HTTP_STATUS_BAD_REQUEST, origin, key, "PARSE_ERROR",
						"unreadable Content-Length", true);
		if (n > OFREP_BODY_MAX)
		{
			snprintf(buf, sizeof(buf), "the request body is larger than %d bytes", OFREP_BODY_MAX);
			return fail(wsi, s, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, origin, key, "PARSE_ERROR",
						buf, true);
		}
		content_length = (int) n;
	}

	verdict = auth_admit(wsi, pushd.cfg.allow_anonymous, wall_clock_us(), &token);
	if (verdict != TOKEN_OK)
	{
		metrics.auth_refused++;
		return fail(wsi, s, auth_http_status(verdict), origin, NULL, NULL,
					token_verdict_text(verdict), true);
	}
	if ((outage = outage_refusal()) != NULL)
	{
		metrics.outage_refused++;
		return fail(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE, origin, NULL, NULL, outage, true);
	}
	/* Outside the token's scope whether it exists or not: nothing is told about it. */
	if (key && token && !scope_allows(token->scope, key))
		return fail(wsi, s, HTTP_STATUS_FORBIDDEN, origin, NULL, NULL,
					"the token's scope does not cover this flag", true);

	req = calloc(1, sizeof(OfrepRequest));
	if (req == NULL)
		return -1;
	textbuf_init(&req->body);
	req->key = key ? strdup(key) : NULL;
	req->has_token = token != NULL;
	req->token_id = token ? token->id : 0;
	memcpy(req->origin, origin, sizeof(origin));
	if (key && req->key == NULL)
	{
		request_free(req);
		return -1;
	}
	request_tags(wsi, req);
	ofrep_closed(s);
	s->ofrep = req;
	/* lws announces no body when there is none: answer now. */
	if (content_length <= 0)
		return answer(wsi, s, false);
	return 0;
}

int
ofrep_body_chunk(struct lws *wsi, Session *s, const void *in, size_t len)
{
	(void) wsi;
	/* None waiting: the answer is already on its way; what follows is not read. */
	if (s->ofrep == NULL || s->ofrep->body_done)
		return 0;
	/* Content-Length was checked; a peer sending more than it said is cut off. */
	if (s->ofrep->body.len + len > OFREP_BODY_MAX)
		return -1;
	textbuf_append(&s->ofrep->body, in, len);
	return s->ofrep->body.data ? 0 : -1;
}

int
ofrep_body_done(struct lws *wsi, Session *s)
{
	/* Answered already (a request without a body), or waiting: nothing more to do. */
	if (s->ofrep == NULL || s->ofrep->body_done)
		return 0;
	return answer(wsi, s, false);
}

void
ofrep_closed(Session *s)
{
	request_free(s->ofrep);
	s->ofrep = NULL;
}

const MetricDef ofrep_rows[] = {
	{"pushd_ofrep_requests_total", "OFREP evaluation requests answered, by kind.", METRIC_COUNTER,
	"{kind=\"single\"}", &counters.single, NULL, NULL},
	{"pushd_ofrep_requests_total", NULL, METRIC_COUNTER, "{kind=\"bulk\"}", &counters.bulk, NULL,
	NULL},
	{"pushd_ofrep_not_modified_total", "OFREP answers 304 (If-None-Match).", METRIC_COUNTER, NULL,
	&counters.not_modified, NULL, NULL},
	{"pushd_ofrep_client_errors_total", "OFREP requests answered 4xx.", METRIC_COUNTER, NULL,
	&counters.client_errors, NULL, NULL},
	{"pushd_ofrep_preflights_total", "CORS preflights of OFREP paths.", METRIC_COUNTER, NULL,
	&counters.preflights, NULL, NULL},
};
const int	ofrep_nrows = sizeof(ofrep_rows) / sizeof(ofrep_rows[0]);
