/*
 * origin.c — the Origin check of WebSocket upgrades (see origin.h).
 *
 * Browsers send Origin on every WebSocket upgrade and let any page connect anywhere, so
 * without this check any site a user visits could read the stream with the user's
 * network position (cross-site WebSocket hijacking).  Non-browser clients send no Origin
 * and are not concerned; what they may do is the business of tokens.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn_limits.h"
#include "log.h"
#include "origin.h"
#include "pushd.h"

/* An Origin is scheme://host[:port]; longer values are refused without a look. */
#define MAX_ORIGIN_LEN 512

static char *origins;			/* a copy of --allowed-origins */

void
origin_start(void)
{
	free(origins);
	origins = strdup(pushd.cfg.allowed_origins);
}

void
origin_stop(void)
{
	free(origins);
	origins = NULL;
}

bool
origin_allowed(struct lws *wsi)
{
	char		origin[MAX_ORIGIN_LEN + 1];
	int			len;

	if (origins == NULL || origins[0] == '\0')
		return true;
	len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
	if (len <= 0)
		return true;
	if (len > MAX_ORIGIN_LEN || lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) != len)
		return false;
	return origin_listed(origin, (size_t) len);
}

bool
origin_listed(const char *origin, size_t len)
{
	const char *p;

	if (origins == NULL || origins[0] == '\0')
		return true;
	for (p = origins;;)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;

		/* Scheme and host are case-insensitive (RFC 6454). */
		if (n == (size_t) len && strncasecmp(p, origin, n) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}
