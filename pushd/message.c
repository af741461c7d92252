/*
 * message.c — shared, reference-counted client messages (see message.h).
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

Msg *
msg_new(const char *json, size_t len, int64_t version)
{
	Msg		   *msg = malloc(sizeof(Msg) + LWS_PRE + len + 1);

	if (msg == NULL)
		return NULL;
	msg->refs = 1;
	msg->version = version;
	msg->schedule = false;
	msg->len = len;
	msg->data = (unsigned char *) (msg + 1) + LWS_PRE;
	memcpy(msg->data, json, len);
	msg->data[len] = '\0';
	return msg;
}

Msg *
msg_ref(Msg *msg)
{
	msg->refs++;
	return msg;
}

void
msg_unref(Msg *msg)
{
	if (msg != NULL && --msg->refs == 0)
		free(msg);
}
