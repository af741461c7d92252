/*
 * context.c — a small JSON scanner for client contexts (see context.h).
 *
 * Not cJSON: the canonical text must keep numbers exactly as the client wrote them (cJSON
 * reads them into doubles, which would merge two targeting keys past 2^53 into one group),
 * and the evaluator parses the text itself anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

#define MAX_DEPTH 64

typedef struct Scan
{
	const char *p;
	const char *end;
	const char *start;
	int			depth;
	char	   *err;
	size_t		errlen;
} Scan;

/* A member of an object being canonicalised: its key as written and its canonical value. */
typedef struct Member
{
	const char *key;
	size_t		key_len;
	TextBuf		value;
	int			index;
} Member;

static bool scan_value(Scan *s, TextBuf *out);

static bool
fail(Scan *s, const char *what)
{
	snprintf(s->err, s->errlen, "%s at byte %ld", what, (long) (s->p - s->start));
	return false;
}

static void
skip_space(Scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* scan_string moves past a string token, checking its escapes. */
static bool
scan_string(Scan *s)
{
	s->p++;						/* the opening quote */
	while (s->p < s->end && *s->p != '"')
	{
		unsigned char c = (unsigned char) *s->p;

		if (c < 0x20)
			return fail(s, "control character in a string");
		if (c == '\\')
		{
			s->p++;
			if (s->p >= s->end)
				break;
			if (*s->p == 'u')
			{
				int			i;

				for (i = 1; i <= 4; i++)
					if (s->p + i >= s->end || !is_hex(s->p[i]))
						return fail(s, "bad \\u escape");
				s->p += 4;
			}
			else if (strchr("\"\\/bfnrt", *s->p) == NULL)
				return fail(s, "bad escape");
		}
		s->p++;
	}
	if (s->p >= s->end)
		return fail(s, "unterminated string");
	s->p++;
	return true;
}

static bool
scan_digits(Scan *s)
{
	const char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

/* scan_number moves past a number token of the JSON grammar. */
static bool
scan_number(Scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return fail(s, "bad number");
	if (s->p < s->end && *s->p == '.')
	{
		s->p++;
		if (!scan_digits(s))
			return fail(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
	{
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return fail(s, "bad number");
	}
	return true;
}

static bool
scan_word(Scan *s, const char *word)
{
	size_t		n = strlen(word);

	if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "unexpected character");
	s->p += n;
	return true;
}

static void
emit(TextBuf *out, const char *from, const char *to)
{
	if (out)
		textbuf_append(out, from, to - from);
}

static int
compare_members(const void *a, const void *b)
{
	const Member *x = a;
	const Member *y = b;
	size_t		n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int			cmp = memcmp(x->key, y->key, n);

	if (cmp != 0)
		return cmp;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return x->index - y->index;	/* stable: duplicate keys keep their order */
}

static void
members_free(Member *members, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		textbuf_free(&members[i].value);
	free(members);
}

/* emit_members writes the members sorted by key. */
static void
emit_members(TextBuf *out, Member *members, int n)
{
	int			i;

	qsort(members, n, sizeof(Member), compare_members);
	textbuf_puts(out, "{");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			textbuf_puts(out, ",");
		textbuf_append(out, members[i].key, members[i].key_len);
		textbuf_puts(out, ":");
		textbuf_append(out, members[i].value.data, members[i].value.len);
	}
	textbuf_puts(out, "}");
}

/* scan_object: members are canonicalised one by one, then written sorted. */
static bool
scan_object(Scan *s, TextBuf *out)
{
	Member	   *members = NULL;
	int			n = 0;
	int			cap = 0;
	bool		ok = false;

	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == '}')
	{
		s->p++;
		if (out)
			textbuf_puts(out, "{}");
		return true;
	}
	for (;;)
	{
		Member	   *m;

		skip_space(s);
		if (s->p >= s->end || *s->p != '"')
		{
			fail(s, "expected a member name");
			break;
		}
		if (n == cap)
		{
			Member	   *bigger;

			cap = cap ? cap * 2 : 8;
			bigger = realloc(members, cap * sizeof(Member));
			if (bigger == NULL)
			{
				fail(s, "out of memory");
				break;
			}
			members = bigger;
		}
		m = &members[n++];
		m->key = s->p;
		m->index = n;
		textbuf_init(&m->value);
		if (!scan_string(s))
			break;
		m->key_len = s->p - m->key;
		skip_space(s);
		if (s->p >= s->end || *s->p != ':')
		{
			fail(s, "expected ':'");
			break;
		}
		s->p++;
		if (!scan_value(s, out ? &m->value : NULL))
			break;
		skip_space(s);
		if (s->p < s->end && *s->p == ',')
		{
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}')
		{
			s->p++;
			ok = true;
		}
		else
			fail(s, "expected ',' or '}'");
		break;
	}
	if (ok && out)
		emit_members(out, members, n);
	members_free(members, n);
	return ok;
}

static bool
scan_array(Scan *s, TextBuf *out)
{
	int			i = 0;

	s->p++;
	if (out)
		textbuf_puts(out, "[");
	skip_space(s);
	if (s->p < s->end && *s->p == ']')
	{
		s->p++;
		if (out)
			textbuf_puts(out, "]");
		return true;
	}
	for (;; i++)
	{
		if (i > 0 && out)
			textbuf_puts(out, ",");
		if (!scan_value(s, out))
			return false;
		skip_space(s);
		if (s->p < s->end && *s->p == ',')
		{
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']')
		{
			s->p++;
			if (out)
				textbuf_puts(out, "]");
			return true;
		}
		return fail(s, "expected ',' or ']'");
	}
}

/* scan_value moves past one value, writing its canonical text to out (when not NULL). */
static bool
scan_value(Scan *s, TextBuf *out)
{
	const char *from;
	bool		ok;

	skip_space(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end");
	if (++s->depth > MAX_DEPTH)
		return fail(s, "nested too deeply");
	from = s->p;
	switch (*s->p)
	{
		case '{':
			ok = scan_object(s, out);
			break;
		case '[':
			ok = scan_array(s, out);
			break;
		case '"':
			ok = scan_string(s);
			if (ok)
				emit(out, from, s->p);
			break;
		case 't':
			ok = scan_word(s, "true");
			if (ok)
				emit(out, from, s->p);
			break;
		case 'f':
			ok = scan_word(s, "false");
			if (ok)
				emit(out, from, s->p);
			break;
		case 'n':
			ok = scan_word(s, "null");
			if (ok)
				emit(out, from, s->p);
			break;
		default:
			ok = (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) ? scan_number(s)
				: fail(s, "unexpected character");
			if (ok)
				emit(out, from, s->p);
			break;
	}
	s->depth--;
	return ok;
}

static void
scan_init(Scan *s, const char *text, size_t len, char *err, size_t errlen)
{
	static char ignored[1];

	s->p = s->start = text;
	s->end = text + len;
	s->depth = 0;
	s->err = err ? err : ignored;
	s->errlen = err ? errlen : sizeof(ignored);
}

bool
context_canonical(const char *text, size_t len, TextBuf *out, char *err, size_t errlen)
{
	Scan		s;

	scan_init(&s, text, len, err, errlen);
	skip_space(&s);
	if (s.p >= s.end || *s.p != '{')
		return fail(&s, "expected a JSON object");
	if (!scan_value(&s, out))
		return false;
	skip_space(&s);
	if (s.p != s.end)
		return fail(&s, "text after the object");
	if (out->data == NULL)
		return fail(&s, "out of memory");
	return true;
}

bool
json_member_raw(const char *text, size_t len, const char *name, const char **value,
				size_t *value_len)
{
	Scan		s;
	size_t		name_len = strlen(name);

	scan_init(&s, text, len, NULL, 0);
	skip_space(&s);
	if (s.p >= s.end || *s.p != '{')
		return false;
	s.p++;
	for (;;)
	{
		const char *key;
		bool		match;

		skip_space(&s);
		if (s.p >= s.end || *s.p != '"')
			return false;
		key = s.p;
		if (!scan_string(&s))
			return false;
		match = (size_t) (s.p - key) == name_len + 2 && memcmp(key + 1, name, name_len) == 0;
		skip_space(&s);
		if (s.p >= s.end || *s.p != ':')
			return false;
		s.p++;
		skip_space(&s);
		key = s.p;
		if (!scan_value(&s, NULL))
			return false;
		if (match)
		{
			*value = key;
			*value_len = s.p - key;
			return true;
		}
		skip_space(&s);
		if (s.p >= s.end || *s.p != ',')
			return false;
		s.p++;
	}
}
