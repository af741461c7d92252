/*
 * fuzz_ofrep.c — the body of an OFREP evaluation request as pushd reads it
 * (pushd/ofrep_body.c), then its context as the evaluator takes it.  Input: the body.
 * Checks that an accepted body always yields one JSON object, in which a targetingKey
 * given without a key has become the key.
 */
#include <stdio.h>

#include "context.h"
#include "fuzz.h"
#include "ofrep_body.h"
#include "take_context.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TextBuf		out;
	TextBuf		canonical;
	char		err[256];
	const char *v;
	size_t		vlen;
	OfrepBodyVerdict verdict;

	textbuf_init(&out);
	err[0] = '\0';
	verdict = ofrep_body_context((const char *) data, size, &out, err, sizeof(err));
	if (verdict != OFREP_BODY_OK)
	{
		/* A refusal always says why. */
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		textbuf_free(&out);
		return 0;
	}
	if (out.data == NULL)
		return 0;
	textbuf_init(&canonical);
	if (!context_canonical(out.data, out.len, &canonical, err, sizeof(err)))
	{
		fprintf(stderr, "an accepted body gave a context that is not an object: %s\n", out.data);
		abort();
	}
	if (json_member_raw(canonical.data, canonical.len, "targetingKey", &v, &vlen) &&
		!json_member_raw(canonical.data, canonical.len, "key", &v, &vlen))
	{
		fprintf(stderr, "targetingKey without key: %s\n", out.data);
		abort();
	}
	textbuf_free(&canonical);
	fuzz_take_context(out.data, out.len);
	textbuf_free(&out);
	return 0;
}
