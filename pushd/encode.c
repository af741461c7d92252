/*
 * encode.c — JSON text of snapshot and change messages.
 *
 * Written by hand rather than through cJSON: versions are 64-bit integers that cJSON
 * would print through a double, and the text must be the same bytes every time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

void
textbuf_init(TextBuf *buf)
{
	buf->cap = 256;
	buf->len = 0;
	buf->data = malloc(buf->cap);
	if (buf->data)
		buf->data[0] = '\0';
}

void
textbuf_free(TextBuf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

static void
textbuf_reserve(TextBuf *buf, size_t more)
{
	char	   *bigger;
	size_t		want;

	if (buf->data == NULL || buf->len + more + 1 <= buf->cap)
		return;
	want = buf->cap * 2;
	while (want < buf->len + more + 1)
		want *= 2;
	bigger = realloc(buf->data, want);
	if (bigger == NULL)
	{
		free(buf->data);
		buf->data = NULL;
		return;
	}
	buf->data = bigger;
	buf->cap = want;
}

void
textbuf_append(TextBuf *buf, const char *s, size_t len)
{
	textbuf_reserve(buf, len);
	if (buf->data == NULL)
		return;
	memcpy(buf->data + buf->len, s, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
textbuf_puts(TextBuf *buf, const char *s)
{
	textbuf_append(buf, s, strlen(s));
}

void
textbuf_printf(TextBuf *buf, const char *fmt, ...)
{
	char		small[128];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n < sizeof(small))
	{
		textbuf_append(buf, small, n);
		return;
	}
	textbuf_reserve(buf, n);
	if (buf->data == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, n + 1, fmt, ap);
	va_end(ap);
	buf->len += n;
}

/* textbuf_json_string appends s as a JSON string; s is UTF-8 from PostgreSQL. */
void
textbuf_json_string(TextBuf *buf, const char *s)
{
	const unsigned char *p;
	const unsigned char *run = (const unsigned char *) s;

	textbuf_append(buf, "\"", 1);
	for (p = (const unsigned char *) s; *p; p++)
	{
		const char *esc = NULL;
		char		u[8];

		switch (*p)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			default:
				if (*p < 0x20)
				{
					snprintf(u, sizeof(u), "\\u%04x", *p);
					esc = u;
				}
				break;
		}
		if (esc)
		{
			textbuf_append(buf, (const char *) run, p - run);
			textbuf_puts(buf, esc);
			run = p + 1;
		}
	}
	textbuf_append(buf, (const char *) run, p - run);
	textbuf_append(buf, "\"", 1);
}

/* encode_field writes one field's value as JSON. */
static void
encode_field(TextBuf *buf, const Toggle *t, const ToggleField *f)
{
	const char *text;

	switch (f->kind)
	{
		case TF_BOOL:
			textbuf_puts(buf, toggle_bool(t, f) ? "true" : "false");
			return;
		case TF_INT64:
			textbuf_printf(buf, "%lld", (long long) toggle_int64(t, f));
			return;
		case TF_TEXT:
			text = toggle_text(t, f);
			if (text)
				textbuf_json_string(buf, text);
			else
				textbuf_puts(buf, "null");
			return;
	}
}

/*
 * encode_toggle: the name, what evaluation gave the group (active, variant, value, reason),
 * then every field sent as is (toggle_fields), in the table's order.
 */
void
encode_toggle(TextBuf *buf, const Toggle *t, const TgResult *r)
{
	bool		active = r ? r->active : t->active;
	int			i;

	textbuf_puts(buf, "{\"name\":");
	textbuf_json_string(buf, t->name);
	textbuf_printf(buf, ",\"active\":%s,\"variant\":", active ? "true" : "false");
	if (r && r->variant)
	{
		textbuf_json_string(buf, r->variant);
		textbuf_puts(buf, ",\"value\":");
		textbuf_puts(buf, r->value ? r->value : "null");
	}
	else
		textbuf_puts(buf, "null");
	textbuf_puts(buf, ",\"reason\":\"");
	textbuf_puts(buf, tg_reason_name(r ? r->reason : (t->active ? TG_DEFAULT : TG_DISABLED)));
	textbuf_puts(buf, "\"");
	for (i = 0; i < toggle_nfields; i++)
	{
		const ToggleField *f = &toggle_fields[i];

		if (f->shown != TF_SENT_NEWS && f->shown != TF_SENT_STAMP)
			continue;
		textbuf_printf(buf, ",\"%s\":", f->member);
		encode_field(buf, t, f);
	}
	textbuf_puts(buf, "}");
}

static void
encode_toggles(TextBuf *buf, const Evaluated *toggles, int ntoggles)
{
	int			i;

	for (i = 0; i < ntoggles; i++)
	{
		if (i > 0)
			textbuf_puts(buf, ",");
		encode_toggle(buf, toggles[i].toggle, toggles[i].result);
	}
}

void
encode_snapshot(TextBuf *buf, const char *epoch, int64_t version, const Evaluated *toggles,
				int ntoggles)
{
	textbuf_puts(buf, "{\"type\":\"snapshot\",\"epoch\":");
	textbuf_json_string(buf, epoch ? epoch : "");
	textbuf_printf(buf, ",\"version\":%lld,\"toggles\":[", (long long) version);
	encode_toggles(buf, toggles, ntoggles);
	textbuf_puts(buf, "]}");
}

void
encode_change(TextBuf *buf, int64_t version, const char *cause, const Evaluated *toggles,
			  int ntoggles, const char *const *removed, int nremoved)
{
	int			i;

	textbuf_printf(buf, "{\"type\":\"change\",\"version\":%lld,", (long long) version);
	if (cause)
		textbuf_printf(buf, "\"cause\":\"%s\",", cause);
	textbuf_puts(buf, "\"toggles\":[");
	encode_toggles(buf, toggles, ntoggles);
	textbuf_puts(buf, "],\"removed\":[");
	for (i = 0; i < nremoved; i++)
	{
		if (i > 0)
			textbuf_puts(buf, ",");
		textbuf_json_string(buf, removed[i]);
	}
	textbuf_puts(buf, "]}");
}
