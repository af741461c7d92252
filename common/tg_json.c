/*
 * tg_json.c — the strict JSON parser of the rule language, and the arena its trees live in.
 */
#include <stdio.h>
#include <string.h>

#include "tg_json.h"

#define ARENA_ALIGN 16
#define ARENA_BLOCK_SIZE 8192

struct TgArenaBlock
{
	TgArenaBlock *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
};

/* The header rounded up so that the data after it stays aligned. */
#define BLOCK_HEADER (((sizeof(TgArenaBlock) + ARENA_ALIGN - 1) / ARENA_ALIGN) * ARENA_ALIGN)

void
tg_arena_init(TgArena *arena, const TgHooks *hooks)
{
	arena->head = NULL;
	arena->hooks = hooks;
}

void *
tg_arena_alloc(TgArena *arena, size_t size)
{
	TgArenaBlock *block = arena->head;
	size_t		rounded = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	void	   *p;

	if (rounded < size)
		return NULL;
	if (block == NULL || block->size - block->used < rounded)
	{
		size_t		want = rounded > ARENA_BLOCK_SIZE / 2 ? rounded : ARENA_BLOCK_SIZE;

		if (want > SIZE_MAX - BLOCK_HEADER)
			return NULL;
		block = arena->hooks->alloc(arena->hooks->arg, BLOCK_HEADER + want);
		if (block == NULL)
			return NULL;
		block->size = want;
		block->used = 0;
		/*
		 * A big allocation gets a block of its own behind the current one, so that the
		 * current block's free space stays in use.
		 */
		if (want > ARENA_BLOCK_SIZE && arena->head != NULL)
		{
			block->next = arena->head->next;
			arena->head->next = block;
		}
		else
		{
			block->next = arena->head;
			arena->head = block;
		}
	}
	p = (char *) block + BLOCK_HEADER + block->used;
	block->used += rounded;
	return p;
}

char *
tg_arena_strndup(TgArena *arena, const char *s, size_t len)
{
	char	   *p;

	if (len == SIZE_MAX)
		return NULL;
	p = tg_arena_alloc(arena, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
tg_arena_free(TgArena *arena, const TgHooks *hooks)
{
	TgArenaBlock *block = arena->head;

	arena->head = NULL;
	while (block != NULL)
	{
		TgArenaBlock *next = block->next;

		hooks->free(hooks->arg, block);
		block = next;
	}
}

typedef struct Parser
{
	const unsigned char *p;
	const unsigned char *start;
	const unsigned char *end;
	TgArena    *arena;
	char	   *err;
	size_t		errlen;
	bool		failed;
} Parser;

static void
fail(Parser *ps, const char *what)
{
	if (ps->failed)
		return;
	ps->failed = true;
	if (what == NULL)
		snprintf(ps->err, ps->errlen, "out of memory");
	else
		snprintf(ps->err, ps->errlen, "invalid JSON at offset %zu: %s",
				 (size_t) (ps->p - ps->start), what);
}

static void
skip_space(Parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int
tg_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* read_hex4 reads the 4 hex digits of a \u escape at s (the caller checked there are 4). */
static int
read_hex4(const unsigned char *s)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			h = tg_hex_value(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * utf8_sequence_length: the length of the well-formed UTF-8 sequence at s (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static int
utf8_sequence_length(const unsigned char *s, const unsigned char *end)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			n,
				i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (end - s < n)
		return 0;
	/* Only the second byte has a narrowed range. */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

static size_t
put_utf8(unsigned char *out, uint32_t cp)
{
	if (cp < 0x80)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (unsigned char) (0xC0 | (cp >> 6));
		out[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (unsigned char) (0xE0 | (cp >> 12));
		out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char) (0xF0 | (cp >> 18));
	out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * parse_string parses the string whose opening quote is at ps->p, decoding it into a
 * NUL-terminated arena copy.  Escapes never make text longer, so the raw length bounds
 * the copy.
 */
static bool
parse_string(Parser *ps, const char **str, size_t *len)
{
	const unsigned char *s = ps->p + 1;
	const unsigned char *q = s;
	unsigned char *out;
	size_t		n = 0;

	/* Find the closing quote first, to size the copy. */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end)
	{
		fail(ps, "unterminated string");
		return false;
	}
	out = tg_arena_alloc(ps->arena, (size_t) (q - s) + 1);
	if (out == NULL)
	{
		fail(ps, NULL);
		return false;
	}
	ps->p = s;
	while (ps->p < q)
	{
		unsigned char c = *ps->p;

		if (c == '\\')
		{
			unsigned char e = ps->p[1];
			uint32_t	cp;

			switch (e)
			{
				case '"':
				case '\\':
				case '/':
					out[n++] = e;
					break;
				case 'b':
					out[n++] = '\b';
					break;
				case 'f':
					out[n++] = '\f';
					break;
				case 'n':
					out[n++] = '\n';
					break;
				case 'r':
					out[n++] = '\r';
					break;
				case 't':
					out[n++] = '\t';
					break;
				case 'u':
					if (q - ps->p < 6 || read_hex4(ps->p + 2) < 0)
					{
						fail(ps, "expected 4 hex digits after \\u");
						return false;
					}
					cp = (uint32_t) read_hex4(ps->p + 2);
					if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						fail(ps, "unpaired low surrogate in \\u escape");
						return false;
					}
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			low;

						if (q - ps->p < 12 || ps->p[6] != '\\' || ps->p[7] != 'u' ||
							(low = read_hex4(ps->p + 8)) < 0xDC00 || low > 0xDFFF)
						{
							fail(ps, "high surrogate not followed by a low surrogate in \\u escape");
							return false;
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t) low - 0xDC00);
						ps->p += 6;
					}
					n += put_utf8(out + n, cp);
					ps->p += 4;
					break;
				default:
					fail(ps, "invalid escape in string");
					return false;
			}
			ps->p += 2;
		}
		else if (c < 0x20)
		{
			fail(ps, "control character in string");
			return false;
		}
		else
		{
			int			k = utf8_sequence_length(ps->p, q);

			if (k == 0)
			{
				fail(ps, "invalid UTF-8 in string");
				return false;
			}
			memcpy(out + n, ps->p, (size_t) k);
			n += (size_t) k;
			ps->p += k;
		}
	}
	out[n] = '\0';
	ps->p = q + 1;
	*str = (const char *) out;
	*len = n;
	return true;
}

/*
 * parse_number parses a number into its exact decimal form: the significant digits, with
 * leading and trailing zeros dropped, and the exponent of 0.d1d2...
 */
static bool
parse_number(Parser *ps, TgJson *v)
{
	const unsigned char *s = ps->p;
	const unsigned char *int_start,
			   *int_end,
			   *frac_start = NULL,
			   *frac_end = NULL;
	int64_t		e = 0;
	bool		eneg = false;
	char	   *digits;
	int64_t		nd = 0,
				point;
	const unsigned char *d;
	int64_t		exp;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	int_start = ps->p;
	if (ps->p >= ps->end || !is_digit(*ps->p))
	{
		fail(ps, "expected a digit");
		return false;
	}
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	int_end = ps->p;
	if (ps->p < ps->end && *ps->p == '.')
	{
		ps->p++;
		frac_start = ps->p;
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
		frac_end = ps->p;
		if (frac_end == frac_start)
		{
			fail(ps, "expected a digit after the decimal point");
			return false;
		}
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E'))
	{
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			eneg = *ps->p++ == '-';
		if (ps->p >= ps->end || !is_digit(*ps->p))
		{
			fail(ps, "expected a digit in the exponent");
			return false;
		}
		while (ps->p < ps->end && is_digit(*ps->p))
		{
			/* Saturate: anything this large is refused below anyway. */
			if (e < 1000000000)
				e = e * 10 + (*ps->p - '0');
			ps->p++;
		}
		if (eneg)
			e = -e;
	}

	v->type = TGJ_NUMBER;
	v->str = tg_arena_strndup(ps->arena, (const char *) s, (size_t) (ps->p - s));
	digits = tg_arena_alloc(ps->arena, (size_t) (ps->p - s) + 1);
	if (v->str == NULL || digits == NULL)
	{
		fail(ps, NULL);
		return false;
	}
	v->len = (size_t) (ps->p - s);

	/*
	 * Collect the significant digits; point is the exponent of 0.d1d2... before leading
	 * zeros are removed: the number of integer digits.
	 */
	point = int_end - int_start;
	for (d = int_start; d < int_end; d++)
	{
		if (nd == 0 && *d == '0')
		{
			point--;
			continue;
		}
		digits[nd++] = (char) *d;
	}
	for (d = frac_start; d != NULL && d < frac_end; d++)
	{
		if (nd == 0 && *d == '0')
		{
			point--;
			continue;
		}
		digits[nd++] = (char) *d;
	}
	while (nd > 0 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp = point + e;
	if (nd > 0 && (exp > 1000000000 || exp < -1000000000))
	{
		fail(ps, "number out of range");
		return false;
	}
	v->num.digits = digits;
	v->num.ndigits = (int32_t) nd;
	v->num.exp = nd > 0 ? (int32_t) exp : 0;
	v->num.neg = nd > 0 && *s == '-';
	return true;
}

static bool
match_literal(Parser *ps, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
	{
		fail(ps, "expected a value");
		return false;
	}
	ps->p += n;
	return true;
}

static TgJson *parse_value(Parser *ps, int depth);

/* parse_container parses an array or object, whose opening bracket is at ps->p. */
static bool
parse_container(Parser *ps, TgJson *v, int depth)
{
	bool		object = *ps->p == '{';
	unsigned char close = object ? '}' : ']';
	TgJson	  **tail = &v->child;

	if (depth >= TG_JSON_MAX_DEPTH)
	{
		fail(ps, "nested too deeply");
		return false;
	}
	v->type = object ? TGJ_OBJECT : TGJ_ARRAY;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close)
	{
		ps->p++;
		return true;
	}
	for (;;)
	{
		const char *key = NULL;
		size_t		key_len = 0;
		TgJson	   *child;

		if (object)
		{
			if (ps->p >= ps->end || *ps->p != '"')
			{
				fail(ps, "expected a member name");
				return false;
			}
			if (!parse_string(ps, &key, &key_len))
				return false;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
			{
				fail(ps, "expected ':'");
				return false;
			}
			ps->p++;
		}
		child = parse_value(ps, depth + 1);
		if (child == NULL)
			return false;
		child->key = key;
		child->key_len = key_len;
		*tail = child;
		tail = &child->next;
		v->count++;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',')
		{
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close)
		{
			ps->p++;
			return true;
		}
		fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
		return false;
	}
}

static TgJson *
parse_value(Parser *ps, int depth)
{
	TgJson	   *v;
	bool		ok;

	skip_space(ps);
	if (ps->p >= ps->end)
	{
		fail(ps, "expected a value");
		return NULL;
	}
	v = tg_arena_alloc(ps->arena, sizeof(TgJson));
	if (v == NULL)
	{
		fail(ps, NULL);
		return NULL;
	}
	memset(v, 0, sizeof(TgJson));
	switch (*ps->p)
	{
		case '{':
		case '[':
			ok = parse_container(ps, v, depth);
			break;
		case '"':
			v->type = TGJ_STRING;
			ok = parse_string(ps, &v->str, &v->len);
			break;
		case 't':
			v->type = TGJ_TRUE;
			ok = match_literal(ps, "true");
			break;
		case 'f':
			v->type = TGJ_FALSE;
			ok = match_literal(ps, "false");
			break;
		case 'n':
			v->type = TGJ_NULL;
			ok = match_literal(ps, "null");
			break;
		default:
			if (*ps->p == '-' || is_digit(*ps->p))
				ok = parse_number(ps, v);
			else
			{
				fail(ps, "expected a value");
				ok = false;
			}
			break;
	}
	return ok ? v : NULL;
}

TgJson *
tg_json_parse(const char *text, size_t len, TgArena *arena, char *err, size_t errlen)
{
	Parser		ps;
	TgJson	   *v;

	ps.start = ps.p = (const unsigned char *) text;
	ps.end = ps.start + len;
	ps.arena = arena;
	ps.err = err;
	ps.errlen = errlen;
	ps.failed = false;
	v = parse_value(&ps, 0);
	if (v == NULL)
		return NULL;
	skip_space(&ps);
	if (ps.p != ps.end)
	{
		fail(&ps, "unexpected text after the value");
		return NULL;
	}
	return v;
}

const TgJson *
tg_json_member(const TgJson *obj, const char *key)
{
	const TgJson *found = NULL;
	const TgJson *m;
	size_t		n = strlen(key);

	for (m = obj->child; m != NULL; m = m->next)
		if (m->key_len == n && memcmp(m->key, key, n) == 0)
			found = m;
	return found;
}

int
tg_decimal_cmp(const TgDecimal *a, const TgDecimal *b)
{
	int			sign_a = a->ndigits == 0 ? 0 : (a->neg ? -1 : 1);
	int			sign_b = b->ndigits == 0 ? 0 : (b->neg ? -1 : 1);
	int			mag;
	int32_t		n;
	int			c;

	if (sign_a != sign_b)
		return sign_a < sign_b ? -1 : 1;
	if (sign_a == 0)
		return 0;
	/* Same sign, both non-zero: compare magnitudes, then flip for negatives. */
	if (a->exp != b->exp)
		mag = a->exp < b->exp ? -1 : 1;
	else
	{
		n = a->ndigits < b->ndigits ? a->ndigits : b->ndigits;
		c = memcmp(a->digits, b->digits, (size_t) n);
		if (c != 0)
			mag = c < 0 ? -1 : 1;
		else
			mag = a->ndigits == b->ndigits ? 0 : (a->ndigits < b->ndigits ? -1 : 1);
	}
	return sign_a < 0 ? -mag : mag;
}

const char *
tg_json_type_name(TgJsonType type)
{
	switch (type)
	{
		case TGJ_NULL:
			return "null";
		case TGJ_FALSE:
		case TGJ_TRUE:
			return "a boolean";
		case TGJ_NUMBER:
			return "a number";
		case TGJ_STRING:
			return "a string";
		case TGJ_ARRAY:
			return "an array";
		case TGJ_OBJECT:
			return "an object";
	}
	return "?";
}

/*
 * escaped_len / write_escaped: a JSON string literal with the minimal escapes: the quote,
 * the backslash and control characters (the short forms where JSON has them).
 */
static size_t
escaped_len(const char *s, size_t len)
{
	size_t		n = 2;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
			c == '\t')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n += 1;
	}
	return n;
}

static char *
write_escaped(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	*out++ = '"';
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		short_form = 0;

		switch (c)
		{
			case '"':
				short_form = '"';
				break;
			case '\\':
				short_form = '\\';
				break;
			case '\b':
				short_form = 'b';
				break;
			case '\f':
				short_form = 'f';
				break;
			case '\n':
				short_form = 'n';
				break;
			case '\r':
				short_form = 'r';
				break;
			case '\t':
				short_form = 't';
				break;
			default:
				break;
		}
		if (short_form)
		{
			*out++ = '\\';
			*out++ = short_form;
		}
		else if (c < 0x20)
		{
			memcpy(out, "\\u00", 4);
			out[4] = hex[c >> 4];
			out[5] = hex[c & 0xF];
			out += 6;
		}
		else
			*out++ = (char) c;
	}
	*out++ = '"';
	return out;
}

size_t
tg_json_compact_len(const TgJson *v)
{
	const TgJson *c;
	size_t		n;

	switch (v->type)
	{
		case TGJ_NULL:
		case TGJ_TRUE:
			return 4;
		case TGJ_FALSE:
			return 5;
		case TGJ_NUMBER:
			return v->len;
		case TGJ_STRING:
			return escaped_len(v->str, v->len);
		case TGJ_ARRAY:
		case TGJ_OBJECT:
			n = 2;
			for (c = v->child; c != NULL; c = c->next)
			{
				if (c != v->child)
					n++;
				if (v->type == TGJ_OBJECT)
					n += escaped_len(c->key, c->key_len) + 1;
				n += tg_json_compact_len(c);
			}
			return n;
	}
	return 0;
}

static char *
write_compact(const TgJson *v, char *out)
{
	const TgJson *c;

	switch (v->type)
	{
		case TGJ_NULL:
			memcpy(out, "null", 4);
			return out + 4;
		case TGJ_TRUE:
			memcpy(out, "true", 4);
			return out + 4;
		case TGJ_FALSE:
			memcpy(out, "false", 5);
			return out + 5;
		case TGJ_NUMBER:
			memcpy(out, v->str, v->len);
			return out + v->len;
		case TGJ_STRING:
			return write_escaped(out, v->str, v->len);
		case TGJ_ARRAY:
		case TGJ_OBJECT:
			*out++ = v->type == TGJ_OBJECT ? '{' : '[';
			for (c = v->child; c != NULL; c = c->next)
			{
				if (c != v->child)
					*out++ = ',';
				if (v->type == TGJ_OBJECT)
				{
					out = write_escaped(out, c->key, c->key_len);
					*out++ = ':';
				}
				out = write_compact(c, out);
			}
			*out++ = v->type == TGJ_OBJECT ? '}' : ']';
			return out;
	}
	return out;
}

void
tg_json_write_compact(const TgJson *v, char *out)
{
	*write_compact(v, out) = '\0';
}
