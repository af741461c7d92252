/*
 * future.h — HTTP requests that name a state this process has not reached (their
 * If-None-Match, or OFREP's flagConfigEtag, is a tag from ahead: etag.h) wait for it here,
 * up to --future-wait, and are then answered by their endpoint: with the state, or 503
 * (docs/protocol.md, "Never backwards").  GET /v1/toggles (http.c) and OFREP's
 * evaluations (ofrep.c) share this one list and its one timer.
 */
#ifndef PUSHD_FUTURE_H
#define PUSHD_FUTURE_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "etag.h"

struct Session;

/* FutureAnswer answers a request whose wait is over; the HTTP callback's return value. */
typedef int (*FutureAnswer) (struct lws *wsi, struct Session *s);

/*
 * future_wait holds the request of s until this process reaches the state tag names or
 * --future-wait is over, whichever comes first; then answer is called from the
 * connection's HTTP_WRITEABLE (future_writeable), once.  Counted in
 * pushd_future_waits_total.  Returns what the HTTP callback returns (-1: out of memory).
 */
extern int	future_wait(struct lws *wsi, struct Session *s, const StateTag *tag,
						FutureAnswer answer);

/*
 * future_writeable, at HTTP_WRITEABLE: when the wait of s is over, answers it and sets *rc
 * to the callback's return value; false when s has no wait that is over.
 */
extern bool future_writeable(struct lws *wsi, struct Session *s, int *rc);

/* future_closed forgets the wait of s, if any (its connection closed). */
extern void future_closed(struct Session *s);

#endif
