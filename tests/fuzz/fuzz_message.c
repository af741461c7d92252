/*
 * fuzz_message.c — a WebSocket client's message as pushd reads it (pushd/client_input.c):
 * its kind, and for a context message the context as groups.c takes it (canonical form,
 * then the evaluator's context parser).  Input: the message, any bytes.  Checks that a
 * context member points inside the message and that a canonical context is stable.
 */
#include <stdio.h>

#include "client_input.h"
#include "fuzz.h"
#include "take_context.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	const char *context;
	size_t		len;
	ClientMessage kind = client_message_parse(text, size, &context, &len);

	if (kind == MSG_CONTEXT && context != NULL)
	{
		if (context < text || context + len > text + size)
			abort();
		fuzz_take_context(context, len);
	}
	else if (kind != MSG_CONTEXT && context != NULL)
		abort();
	return 0;
}
