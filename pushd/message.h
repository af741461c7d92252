/*
 * message.h — messages to clients, serialised once and shared by every client that
 * receives them (reference counted, with the LWS_PRE headroom lws_write needs).
 */
#ifndef PUSHD_MESSAGE_H
#define PUSHD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Msg
{
	int			refs;
	int64_t		version;		/* the version a client has once it has this message */
	bool		schedule;		/* a change of time alone: same version as the last one */
	size_t		len;
	unsigned char *data;		/* len bytes, preceded by LWS_PRE bytes of headroom */
} Msg;

/* msg_new copies json (len bytes) into a new message with one reference. */
extern Msg *msg_new(const char *json, size_t len, int64_t version);
extern Msg *msg_ref(Msg *msg);
extern void msg_unref(Msg *msg);

#endif
