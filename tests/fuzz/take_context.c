/*
 * take_context.c — what pushd's groups.c does with a client context, for the fuzz targets
 * of client messages and query strings: the canonical form (which must be stable: the
 * canonical form of a canonical form is itself), then the evaluator's context parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "take_context.h"
#include "targeting.h"
#include "tg_hooks.h"

void
fuzz_take_context(const char *text, size_t len)
{
	TextBuf		canonical;
	char		err[256];

	textbuf_init(&canonical);
	if (context_canonical(text, len, &canonical, err, sizeof(err)) && canonical.data)
	{
		TextBuf		again;
		TgContext  *parsed;

		textbuf_init(&again);
		if (!context_canonical(canonical.data, canonical.len, &again, err, sizeof(err)) ||
			again.data == NULL || again.len != canonical.len ||
			memcmp(again.data, canonical.data, canonical.len) != 0)
		{
			fprintf(stderr, "canonical context is not stable: %s\n", canonical.data);
			abort();
		}
		textbuf_free(&again);
		parsed = tg_context_parse(canonical.data, canonical.len, &hooks, err, sizeof(err));
		tg_context_free(parsed, &hooks);
	}
	textbuf_free(&canonical);
}
