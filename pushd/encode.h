/*
 * encode.h — the JSON text of the messages pushd sends (docs/protocol.md).
 */
#ifndef PUSHD_ENCODE_H
#define PUSHD_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"

/* A growable text buffer; data is NUL-terminated, NULL after an allocation failure. */
typedef struct TextBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} TextBuf;

extern void textbuf_init(TextBuf *buf);
extern void textbuf_free(TextBuf *buf);
extern void textbuf_append(TextBuf *buf, const char *s, size_t len);
extern void textbuf_puts(TextBuf *buf, const char *s);
extern void textbuf_printf(TextBuf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern void textbuf_json_string(TextBuf *buf, const char *s);

extern void encode_toggle(TextBuf *buf, const Toggle *toggle);
extern void encode_snapshot(TextBuf *buf, const char *epoch, int64_t version,
							const Toggle *toggles, int ntoggles);
/* encode_change writes a change message; deltas must be one per name. */
extern void encode_change(TextBuf *buf, int64_t version, const ToggleDelta *deltas, int ndeltas);

#endif
