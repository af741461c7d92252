/*
 * fuzz_query.c — the query parameters of a stream handshake as pushd reads them, after
 * libwebsockets has cut and percent-decoded them: since (pushd/client_input.c) and context
 * (canonical form, then the evaluator's parser).  Input: since NUL context.  Checks that
 * an accepted since is exactly the decimal digits given.
 */
#include <stdio.h>

#include "client_input.h"
#include "fuzz.h"
#include "take_context.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzPart	parts[2];
	char	   *since;
	int64_t		v = -1;

	fuzz_split(data, size, parts, 2);
	since = fuzz_cstring(parts[0]);
	if (parse_since(since, &v))
	{
		char		back[32];

		/* Leading zeros aside, the digits read back as given. */
		const char *digits = since;

		while (digits[0] == '0' && digits[1] != '\0')
			digits++;
		snprintf(back, sizeof(back), "%lld", (long long) v);
		if (v < 0 || strcmp(back, digits) != 0)
			abort();
	}
	free(since);
	fuzz_take_context(parts[1].s, parts[1].len);
	return 0;
}
