/*
 * client_input.c — parsing what clients send (see client_input.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_input.h"
#include "context.h"

ClientMessage
client_message_parse(const char *text, size_t len, const char **context, size_t *context_len)
{
	const char *end = NULL;
	cJSON	   *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	cJSON	   *type;
	ClientMessage kind;

	*context = NULL;
	*context_len = 0;
	/* One JSON value per message: cJSON alone would stop at the end of the first one. */
	while (doc != NULL && end < text + len && *end && strchr(" \t\r\n", *end))
		end++;
	if (doc == NULL || end != text + len)
	{
		cJSON_Delete(doc);
		return MSG_INVALID_JSON;
	}
	type = cJSON_GetObjectItemCaseSensitive(doc, "type");
	if (cJSON_IsString(type) && strcmp(type->valuestring, "context") == 0)
	{
		kind = MSG_CONTEXT;
		if (!json_member_raw(text, len, "context", context, context_len))
		{
			*context = NULL;
			*context_len = 0;
		}
	}
	else if (cJSON_IsString(type) && strcmp(type->valuestring, "ping") == 0)
		kind = MSG_PING;
	else
		kind = MSG_UNKNOWN;
	cJSON_Delete(doc);
	return kind;
}

bool
parse_since(const char *text, int64_t *version)
{
	char	   *end;
	long long	v;

	if (text == NULL || *text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return false;
	*version = v;
	return true;
}
