/*
 * client_input.h — what a WebSocket client sends pushd, parsed without the connection:
 * its messages and the resume point of its handshake (docs/protocol.md).  Kept apart from
 * clients.c so that the fuzz targets reach the parsers directly (tests/fuzz/).
 */
#ifndef PUSHD_CLIENT_INPUT_H
#define PUSHD_CLIENT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ClientMessage
{
	MSG_INVALID_JSON,			/* not exactly one JSON value */
	MSG_UNKNOWN,				/* JSON, but no type we know */
	MSG_PING,					/* {"type":"ping"} */
	MSG_CONTEXT					/* {"type":"context","context":...}: *context set (raw JSON, may be NULL) */
} ClientMessage;

/*
 * client_message_parse classifies a client's message (text of len bytes, any bytes); for
 * MSG_CONTEXT, *context and *context_len give the raw text of the "context" member (NULL
 * when it is missing), pointing into text.
 */
extern ClientMessage client_message_parse(const char *text, size_t len,
										  const char **context, size_t *context_len);

/*
 * parse_since reads the since query parameter: a non-negative decimal integer that fits
 * in 63 bits and nothing else.  false for anything other, which the protocol answers like
 * a fresh start.
 */
extern bool parse_since(const char *text, int64_t *version);

#endif
