/*
 * ofrep_body.c — reading an OFREP request body into a context (see ofrep_body.h).
 */
#include <stdio.h>
#include <string.h>

#include "context.h"
#include "ofrep_body.h"

/* blank: only JSON white space (an empty body is as good as {}). */
static bool
blank(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

OfrepBodyVerdict
ofrep_body_context(const char *body, size_t len, TextBuf *out, char *err, size_t errlen)
{
	TextBuf		canonical;
	const char *context;
	size_t		context_len;
	const char *value;
	size_t		value_len;
	OfrepBodyVerdict verdict = OFREP_BODY_OK;

	if (len > OFREP_BODY_MAX)
	{
		snprintf(err, errlen, "the request body is larger than %d bytes", OFREP_BODY_MAX);
		return OFREP_BODY_PARSE_ERROR;
	}
	if (blank(body, len))
	{
		textbuf_puts(out, "{}");
		return OFREP_BODY_OK;
	}

	/*
	 * The canonical text is compact and sorted at every depth, so the members looked up
	 * below are found by a plain scan, and a body that is not one object fails here.
	 */
	textbuf_init(&canonical);
	if (!context_canonical(body, len, &canonical, err, errlen))
	{
		textbuf_free(&canonical);
		return OFREP_BODY_PARSE_ERROR;
	}
	if (canonical.data == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return OFREP_BODY_PARSE_ERROR;
	}
	if (!json_member_raw(canonical.data, canonical.len, "context", &context, &context_len) ||
		(context_len == 4 && memcmp(context, "null", 4) == 0))
		textbuf_puts(out, "{}");
	else if (context[0] != '{')
	{
		snprintf(err, errlen, "\"context\" must be an object");
		verdict = OFREP_BODY_INVALID_CONTEXT;
	}
	else if (!json_member_raw(context, context_len, "key", &value, &value_len) &&
			 json_member_raw(context, context_len, "targetingKey", &value, &value_len))
	{
		/* {"key":<targetingKey>, then the members as they were (sorted again downstream) */
		textbuf_puts(out, "{\"key\":");
		textbuf_append(out, value, value_len);
		textbuf_puts(out, ",");
		textbuf_append(out, context + 1, context_len - 1);
	}
	else
		textbuf_append(out, context, context_len);
	textbuf_free(&canonical);
	return verdict;
}
