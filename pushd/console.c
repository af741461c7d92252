/*
 * console.c — serves the live console (console.h) from the files compiled into the binary.
 */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "http.h"

/*
 * Scripts and styles come only from this server, never inline: an injected script (a
 * toggle description that slipped through, a hostile extension of the page) cannot run.
 * connect-src 'self' covers the page's own ws:// and /v1/toggles.
 */
#define CONSOLE_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The page itself: at /, /console and /console/. */
#define CONSOLE_PAGE "/console/index.html"

bool
console_path(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/console") == 0 ||
		strncmp(path, "/console/", 9) == 0;
}

static const ConsoleAsset *
find_asset(const char *path)
{
	size_t		i;

	if (strcmp(path, "/") == 0 || strcmp(path, "/console") == 0 || strcmp(path, "/console/") == 0)
		path = CONSOLE_PAGE;
	for (i = 0; i < console_asset_count; i++)
		if (strcmp(console_assets[i].path, path) == 0)
			return &console_assets[i];
	return NULL;
}

int
console_serve(struct lws *wsi, Session *s, const char *path)
{
	static const char not_found[] = "not found\n";
	unsigned char headers[LWS_PRE + 1024];
	unsigned char *start = headers + LWS_PRE;
	unsigned char *p = start;
	unsigned char *end = headers + sizeof(headers) - 1;
	const ConsoleAsset *asset = find_asset(path);
	const unsigned char *data = asset ? asset->data : (const unsigned char *) not_found;
	size_t		len = asset ? asset->len : sizeof(not_found) - 1;
	char	   *body;

	if (lws_add_http_common_headers(wsi, asset ? HTTP_STATUS_OK : HTTP_STATUS_NOT_FOUND,
									asset ? asset->type : "text/plain", len, &p, end) ||
		http_add_header(wsi, "content-security-policy:", CONSOLE_CSP, &p, end) ||
		http_add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
		http_add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
		/* The files change only with the binary; revalidating costs little on a page this small. */
		http_add_header(wsi, "cache-control:", "no-cache", &p, end) ||
		lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	body = malloc(len);
	if (body == NULL)
		return -1;
	memcpy(body, data, len);
	s->http.body = body;
	s->http.len = len;
	lws_callback_on_writable(wsi);
	return 0;
}
