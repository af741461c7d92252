/*
 * encode.h — the JSON text of the messages pushd sends (docs/protocol.md).
 */
#ifndef PUSHD_ENCODE_H
#define PUSHD_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "toggle.h"

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

/* A toggle as one client group sees it: its state and its result for their context. */
typedef struct Evaluated
{
	const Toggle *toggle;
	const TgResult *result;
} Evaluated;

/* encode_toggle writes T of docs/protocol.md; result NULL is the plain is_active result. */
extern void encode_toggle(TextBuf *buf, const Toggle *toggle, const TgResult *result);
extern void encode_snapshot(TextBuf *buf, const char *epoch, int64_t version,
							const Evaluated *toggles, int ntoggles);

/*
 * encode_change writes a change message: toggles (one per name) and removed names; cause
 * NULL for a transaction, "schedule" for a change of time alone.
 */
extern void encode_change(TextBuf *buf, int64_t version, const char *cause,
						  const Evaluated *toggles, int ntoggles,
						  const char *const *removed, int nremoved);

#endif
