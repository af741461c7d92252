/*
 * ofrep.h — the OpenFeature Remote Evaluation Protocol on the stream's port
 * (docs/openfeature.md): POST /ofrep/v1/evaluate/flags/{key} and the bulk
 * POST /ofrep/v1/evaluate/flags, answered from the same groups, tokens and scopes as the
 * stream, with CORS for browsers on other origins and counters of its own.
 */
#ifndef PUSHD_OFREP_H
#define PUSHD_OFREP_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "encode.h"
#include "http.h"
#include "metrics.h"

/* ofrep_path: the request is for /ofrep/ (any method). */
extern bool ofrep_path(const char *path);

/*
 * The exchange, from the stream protocol's HTTP callbacks: ofrep_request at
 * LWS_CALLBACK_HTTP (answers at once, or waits for the body), ofrep_body_chunk per
 * LWS_CALLBACK_HTTP_BODY, ofrep_body_done at LWS_CALLBACK_HTTP_BODY_COMPLETION,
 * ofrep_closed when the connection's HTTP side ends.  Each returns what the callback does.
 */
extern int	ofrep_request(struct lws *wsi, Session *s, const char *path);
extern int	ofrep_body_chunk(struct lws *wsi, Session *s, const void *in, size_t len);
extern int	ofrep_body_done(struct lws *wsi, Session *s);
extern void ofrep_closed(Session *s);

/* ofrep_bulk_etag: the ETag a bulk answer for group would carry now (notifications). */
struct Group;
extern void ofrep_bulk_etag(struct Group *group, char *etag, size_t size);

/* The rows of /metrics of OFREP's counters (metrics_register). */
extern const MetricDef ofrep_rows[];
extern const int ofrep_nrows;

#endif
