/*
 * etag.c — entity tags that name a state of the toggles (see etag.h).
 */
#include <stdio.h>
#include <string.h>

#include "epoch_order.h"
#include "etag.h"
#include "tg_json.h"

bool
etag_format(char *out, size_t size, const char *epoch, int64_t version, uint64_t hash)
{
	int			n = snprintf(out, size, "\"%s-%lld-%016llx\"", epoch ? epoch : "",
							 (long long) version, (unsigned long long) hash);

	if (n < 0 || (size_t) n >= size)
	{
		if (size > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

/* epoch_char: a character an epoch may have (toggles.epoch() has digits, hex and dashes). */
static bool
epoch_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

bool
etag_parse(const char *text, size_t len, StateTag *tag)
{
	const char *inner;
	size_t		inner_len;
	const char *hash_dash;
	const char *version_dash;
	size_t		epoch_len;
	uint64_t	hash = 0;
	uint64_t	version = 0;
	size_t		i;

	if (text == NULL || len > ETAG_MAX)
		return false;
	if (len >= 2 && text[0] == 'W' && text[1] == '/')
	{
		text += 2;
		len -= 2;
	}
	if (len < 2 || text[0] != '"' || text[len - 1] != '"')
		return false;
	inner = text + 1;
	inner_len = len - 2;
	for (i = 0; i < inner_len; i++)
		if (!epoch_char(inner[i]))
			return false;

	/* HASH: the 16 characters after the last dash. */
	if (inner_len < 17 || inner[inner_len - 17] != '-')
		return false;
	hash_dash = inner + inner_len - 17;
	for (i = 1; i <= 16; i++)
	{
		int			v = tg_hex_value((unsigned char) hash_dash[i]);

		if (v < 0)
			return false;
		hash = hash << 4 | (uint64_t) v;
	}

	/* VERSION: the digits between the dash before it and hash_dash. */
	version_dash = hash_dash;
	while (version_dash > inner && version_dash[-1] != '-')
		version_dash--;
	if (version_dash == inner || version_dash == hash_dash)
		return false;			/* no epoch, or no version */
	for (i = 0; version_dash + i < hash_dash; i++)
	{
		char		c = version_dash[i];

		if (c < '0' || c > '9' || version > ((uint64_t) INT64_MAX - (uint64_t) (c - '0')) / 10)
			return false;
		version = version * 10 + (uint64_t) (c - '0');
	}
	version_dash--;				/* now at the dash itself */

	epoch_len = (size_t) (version_dash - inner);
	if (epoch_len == 0 || epoch_len > ETAG_EPOCH_MAX)
		return false;
	memcpy(tag->epoch, inner, epoch_len);
	tag->epoch[epoch_len] = '\0';
	tag->version = (int64_t) version;
	tag->hash = hash;
	return true;
}

bool
etag_ahead(const StateTag *tag, const char *epoch, int64_t version)
{
	switch (epoch_order(tag->epoch, epoch))
	{
		case EPOCH_SAME:
			return tag->version > version;
		case EPOCH_LATER:
			return true;
		default:
			return false;
	}
}

int
etag_parse_list(const char *text, size_t len, StateTag *tags, int max)
{
	size_t		pos = 0;
	int			n = 0;

	if (text == NULL)
		return 0;
	for (;;)
	{
		size_t		start;
		size_t		close;

		/* White space and empty elements (",,") between tags, as the list syntax allows. */
		while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == ','))
			pos++;
		if (pos == len)
			return n;
		start = pos;
		if (len - pos >= 2 && text[pos] == 'W' && text[pos + 1] == '/')
			pos += 2;
		if (pos == len || text[pos] != '"')
			return 0;			/* "*", or not a tag */
		close = pos + 1;
		while (close < len && text[close] != '"')
			close++;
		if (close == len)
			return 0;			/* an unclosed quote */
		pos = close + 1;
		if (n < max && etag_parse(text + start, pos - start, &tags[n]))
			n++;
		while (pos < len && (text[pos] == ' ' || text[pos] == '\t'))
			pos++;
		if (pos < len && text[pos] != ',')
			return 0;			/* something after a tag that is not the next one */
	}
}

const StateTag *
etag_furthest_ahead(const StateTag *tags, int n, const char *epoch, int64_t version)
{
	const StateTag *furthest = NULL;
	int			i;

	for (i = 0; i < n; i++)
		if (etag_ahead(&tags[i], epoch, version) &&
			(furthest == NULL || etag_ahead(&tags[i], furthest->epoch, furthest->version)))
			furthest = &tags[i];
	return furthest;
}
