/*
 * payload.c — the JSON text of a change-stream notification (format "v":1, see
 * docs/change-stream.md).
 *
 * The payload is deterministic: toggles sorted by name, no timestamps, no whitespace.
 * NOTIFY refuses payloads of 8000 bytes or more, so an event that does not fit is sent
 * as a reference naming its version; the full event is in toggles.changes.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/json.h"

#include "change_stream.h"

/* async.c refuses payloads of BLCKSZ - NAMEDATALEN - 128 bytes (8000) or more. */
#define PAYLOAD_LIMIT (BLCKSZ - NAMEDATALEN - 128)

/* change_stream_payload returns the notification text for one committed transaction. */
char *
change_stream_payload(int64 version, ToggleChange *changes, int nchanges)
{
	StringInfoData buf;
	int			i;
	bool		first;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"v\":1,\"version\":" INT64_FORMAT ",\"toggles\":[", version);
	first = true;
	for (i = 0; i < nchanges; i++)
	{
		if (changes[i].removed)
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		appendStringInfoString(&buf, "{\"name\":");
		escape_json(&buf, changes[i].name);
		appendStringInfo(&buf, ",\"active\":%s}", changes[i].active ? "true" : "false");
	}
	appendStringInfoString(&buf, "],\"removed\":[");
	first = true;
	for (i = 0; i < nchanges; i++)
	{
		if (!changes[i].removed)
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		escape_json(&buf, changes[i].name);
	}
	appendStringInfoString(&buf, "]}");

	if (buf.len < PAYLOAD_LIMIT)
		return buf.data;

	resetStringInfo(&buf);
	appendStringInfo(&buf, "{\"v\":1,\"version\":" INT64_FORMAT ",\"ref\":true,\"count\":%d}",
					 version, nchanges);
	return buf.data;
}
