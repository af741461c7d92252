/*
 * origin.h — the Origin allow-list of WebSocket upgrades and of OFREP's CORS answers
 * (--allowed-origins): a page on a site not in the list cannot open the stream, nor read
 * an evaluation, from a visitor's browser.
 */
#ifndef PUSHD_ORIGIN_H
#define PUSHD_ORIGIN_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

/* origin_start (re)reads --allowed-origins. */
extern void origin_start(void);
extern void origin_stop(void);

/*
 * origin_allowed: the upgrade request carries no Origin (not a browser), or one in the
 * list, or the list is empty.
 */
extern bool origin_allowed(struct lws *wsi);

/* origin_listed: an Origin value (len bytes) is in --allowed-origins, or the list is empty. */
extern bool origin_listed(const char *origin, size_t len);

#endif
