/*
 * fuzz_etag.c — the tags that name a state (pushd/etag.c), as If-None-Match (one or a
 * list) and OFREP's flagConfigEtag bring them.  Input: the tag, or the list.  Checks that
 * a tag read is written back to the same fields, that its own state is never ahead of it
 * and the version before is, and the same of every tag read from the input as a list.
 */
#include <stdio.h>

#include "epoch_order.h"
#include "etag.h"
#include "fuzz.h"

/* check_tag aborts unless tag keeps the promises above. */
static void
check_tag(const StateTag *tag)
{
	StateTag	again;
	char		text[ETAG_MAX + 64];

	if (strlen(tag->epoch) == 0 || strlen(tag->epoch) > ETAG_EPOCH_MAX || tag->version < 0)
	{
		fprintf(stderr, "a tag read with an empty, long or negative part\n");
		abort();
	}
	if (!etag_format(text, sizeof(text), tag->epoch, tag->version, tag->hash) ||
		!etag_parse(text, strlen(text), &again) || strcmp(again.epoch, tag->epoch) != 0 ||
		again.version != tag->version || again.hash != tag->hash)
	{
		fprintf(stderr, "a tag read is not written back the same: %s\n", text);
		abort();
	}
	if (etag_ahead(tag, tag->epoch, tag->version) ||
		(epoch_order(tag->epoch, tag->epoch) == EPOCH_SAME && tag->version > 0 &&
		 !etag_ahead(tag, tag->epoch, tag->version - 1)))
	{
		fprintf(stderr, "ahead of its own state, or not of the one before: %s\n", text);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StateTag	tag;
	StateTag	tags[ETAG_LIST_MAX];
	int			n;
	int			i;

	if (etag_parse((const char *) data, size, &tag))
	{
		check_tag(&tag);
		/* A tag alone is a list of one. */
		if (etag_parse_list((const char *) data, size, tags, ETAG_LIST_MAX) != 1)
		{
			fprintf(stderr, "a tag is not a list of one\n");
			abort();
		}
	}
	n = etag_parse_list((const char *) data, size, tags, ETAG_LIST_MAX);
	if (n < 0 || n > ETAG_LIST_MAX)
		abort();
	for (i = 0; i < n; i++)
		check_tag(&tags[i]);
	return 0;
}
