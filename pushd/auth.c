/*
 * auth.c — finding the token in a request (see auth.h).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "auth.h"

/* skip_ows: past spaces and tabs. */
static const char *
skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

const char *
auth_parse_bearer(const char *value, size_t *len)
{
	const char *tok;
	size_t		n;

	value = skip_ows(value);
	if (strncasecmp(value, "Bearer", 6) != 0 || (value[6] != ' ' && value[6] != '\t'))
		return NULL;
	tok = skip_ows(value + 6);
	n = strcspn(tok, " \t\r\n");
	if (n == 0 || *skip_ows(tok + n) != '\0')
		return NULL;
	*len = n;
	return tok;
}

const char *
auth_parse_subprotocols(const char *value, size_t *len)
{
	const char *p = value;

	while (*p)
	{
		const char *start = skip_ows(p);
		const char *end = start + strcspn(start, ",");
		const char *stop = end;

		while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if (stop > start &&
			!((size_t) (stop - start) == strlen(AUTH_SUBPROTOCOL) &&
			  strncmp(start, AUTH_SUBPROTOCOL, stop - start) == 0))
		{
			*len = stop - start;
			return start;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* copy_token: into buf, or -1 when it is too long. */
static int
copy_token(const char *tok, size_t len, char *buf, size_t buflen)
{
	if (len > AUTH_TOKEN_MAX || len + 1 > buflen)
		return -1;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	return (int) len;
}

int
auth_token(struct lws *wsi, char *buf, size_t buflen)
{
	char		hdr[AUTH_TOKEN_MAX + 64];
	const char *tok;
	size_t		len = 0;
	int			hlen;

	hlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (hlen > 0)
	{
		if (hlen >= (int) sizeof(hdr) ||
			lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
			(tok = auth_parse_bearer(hdr, &len)) == NULL)
			return -1;
		return copy_token(tok, len, buf, buflen);
	}
	/* OpenFeature's OFREP providers may send the key as X-API-Key instead. */
	hlen = lws_hdr_custom_length(wsi, "x-api-key:", 10);
	if (hlen > 0)
	{
		if (hlen >= (int) sizeof(hdr) ||
			lws_hdr_custom_copy(wsi, hdr, sizeof(hdr), "x-api-key:", 10) < 0)
			return -1;
		tok = skip_ows(hdr);
		len = strcspn(tok, " \t\r\n");
		if (len == 0 || *skip_ows(tok + len) != '\0')
			return -1;
		return copy_token(tok, len, buf, buflen);
	}
	if ((tok = lws_get_urlarg_by_name(wsi, "token=", hdr, sizeof(hdr))) != NULL)
		return *tok ? copy_token(tok, strlen(tok), buf, buflen) : -1;
	hlen = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
	if (hlen > 0 && hlen < (int) sizeof(hdr) &&
		lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_PROTOCOL) >= 0 &&
		(tok = auth_parse_subprotocols(hdr, &len)) != NULL)
		return copy_token(tok, len, buf, buflen);
	return 0;
}

TokenVerdict
auth_admit(struct lws *wsi, bool allow_anonymous, int64_t now, const Token **token)
{
	char		buf[AUTH_TOKEN_MAX + 1];
	int			len = auth_token(wsi, buf, sizeof(buf));

	*token = NULL;
	if (len < 0)
		return TOKEN_MALFORMED;
	if (len == 0)
		return allow_anonymous ? TOKEN_OK : TOKEN_MISSING;
	if (!tokens_loaded())
		return TOKEN_UNAVAILABLE;
	return tokens_check(buf, (size_t) len, now, token);
}

int
auth_http_status(TokenVerdict verdict)
{
	return verdict == TOKEN_UNAVAILABLE ? HTTP_STATUS_SERVICE_UNAVAILABLE : HTTP_STATUS_UNAUTHORIZED;
}
