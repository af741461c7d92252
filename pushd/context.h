/*
 * context.h — client contexts as text: the canonical form that names a group, and the
 * raw text of one member of a client message.
 */
#ifndef PUSHD_CONTEXT_H
#define PUSHD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "encode.h"

/* The largest context a client may give, in bytes of JSON (docs/protocol.md). */
#define CONTEXT_MAX 4096

/*
 * context_canonical appends to out the canonical text of a JSON object: members sorted by
 * key (bytewise, stable, at every depth), no white space, every scalar as written (so
 * that numbers keep every digit).  Equal canonical texts are equal documents.  False with
 * a message in err when text is not one JSON object.
 */
extern bool context_canonical(const char *text, size_t len, TextBuf *out,
							  char *err, size_t errlen);

/*
 * json_member_raw finds member name of the JSON object text (top level only) and returns
 * its value's text in *value, *value_len; false when text is not an object or has no
 * such member.
 */
extern bool json_member_raw(const char *text, size_t len, const char *name,
							const char **value, size_t *value_len);

#endif
