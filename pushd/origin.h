/*
 * origin.h — the Origin allow-list of WebSocket upgrades (--allowed-origins): a page on a
 * site not in the list cannot open the stream from a visitor's browser.
 */
#ifndef PUSHD_ORIGIN_H
#define PUSHD_ORIGIN_H

#include <libwebsockets.h>
#include <stdbool.h>

/* origin_start (re)reads --allowed-origins. */
extern void origin_start(void);
extern void origin_stop(void);

/*
 * origin_allowed: the upgrade request carries no Origin (not a browser), or one in the
 * list, or the list is empty.
 */
extern bool origin_allowed(struct lws *wsi);

#endif
