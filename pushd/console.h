/*
 * console.h — the live console: a read-only page at GET / and /console (a request that is
 * not a WebSocket upgrade), its scripts and styles compiled into the binary.
 */
#ifndef PUSHD_CONSOLE_H
#define PUSHD_CONSOLE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* One embedded file, as scripts/embed-assets.pl writes them into pushd/console/assets.c. */
typedef struct ConsoleAsset
{
	const char *path;			/* the URL path it is served at */
	const char *type;			/* its Content-Type */
	const unsigned char *data;
	size_t		len;
} ConsoleAsset;

extern const ConsoleAsset console_assets[];
extern const size_t console_asset_count;

/* console_path: the request path belongs to the console (/, /console, /console/...). */
extern bool console_path(const char *path);

/*
 * console_serve answers a GET of such a path: the file with its type and a strict
 * Content-Security-Policy, or 404.  The body goes out through s->http like every HTTP
 * answer (http.c's WRITEABLE).
 */
extern int	console_serve(struct lws *wsi, Session *s, const char *path);

#endif
