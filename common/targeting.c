/*
 * targeting.c — the rule language of docs/targeting.md: rules and variants validated and
 * compiled once (tg_compile), then evaluated for a context at an instant (tg_evaluate)
 * without allocating.
 *
 * The same source is built into the extension and into toggles-pushd, so that both
 * answer alike: memory comes only from the host's hooks, time zones only from its
 * local_time hook, and nothing here keeps state between calls.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targeting.h"
#include "tg_json.h"

/* Limits of docs/targeting.md ("Limits"). */
#define MAX_DOC_BYTES (1024 * 1024)
#define MAX_CONTEXT_BYTES (64 * 1024)
#define MAX_RULES 100
#define MAX_CONDITIONS 50
#define MAX_WINDOWS 63			/* one signature bit each; bit 63 flags an unknown zone */
#define MAX_LIST_VALUES 10000
#define MAX_SPLIT 20
#define MAX_VARIANTS 100
#define MAX_NAME_CHARS 100		/* rule names and variant names */
#define MAX_TZ_NAME 255
/* An integer key longer than this many digits is not a bucketing value. */
#define MAX_INTEGER_KEY_DIGITS 64

#define USECS_PER_SEC INT64_C(1000000)
#define SECS_PER_DAY 86400

typedef enum Op
{
	OP_EQUALS,
	OP_NOT_EQUALS,
	OP_IN,
	OP_NOT_IN,
	OP_STARTS_WITH,
	OP_ENDS_WITH,
	OP_CONTAINS,
	OP_LT,
	OP_LTE,
	OP_GT,
	OP_GTE,
	OP_SEMVER_EQ,
	OP_SEMVER_LT,
	OP_SEMVER_LTE,
	OP_SEMVER_GT,
	OP_SEMVER_GTE,
	OP_BEFORE,
	OP_AFTER,
	NUM_OPS
} Op;

static const char *const op_names[NUM_OPS] = {
	"equals", "not_equals", "in", "not_in", "starts_with", "ends_with", "contains",
	"lt", "lte", "gt", "gte", "semver_eq", "semver_lt", "semver_lte", "semver_gt",
	"semver_gte", "before", "after"
};

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

typedef struct TgString
{
	const char *s;
	size_t		len;
} TgString;

/* A context attribute named by a rule; hash speeds up the lookup in the context. */
typedef struct AttrRef
{
	const char *name;
	size_t		len;
	uint32_t	hash;
	bool		is_key;			/* "key": only a string or an integer counts */
} AttrRef;

/* A parsed semantic version: spans of the string it was parsed from. */
typedef struct Semver
{
	const char *core[3];		/* major, minor, patch digits */
	size_t		core_len[3];
	const char *pre;			/* pre-release identifiers, or NULL */
	size_t		pre_len;
} Semver;

typedef struct Window
{
	bool		has_from;
	bool		has_until;
	int64_t		from_us;
	int64_t		until_us;
	bool		recurring;
	int32_t		start;			/* seconds of the day, 0..86399 */
	int32_t		end;			/* seconds of the day, 0..86400 */
	uint8_t		days;			/* bit 0 = Monday ... bit 6 = Sunday */
	const char *tz;				/* NULL: UTC */
	const char *error;			/* the TgResult.error when tz is unknown */
} Window;

typedef struct Cond
{
	const Window *window;		/* a window condition; the rest is then unused */
	Op			op;
	AttrRef		attr;
	/* equals, not_equals (any scalar), starts_with... (string), lt... (number) */
	TgJsonType	type;
	TgString	str;
	TgDecimal	num;
	/* in, not_in: sorted for binary search */
	TgString   *strs;
	int			nstrs;
	TgDecimal  *nums;
	int			nnums;
	bool		has_true;
	bool		has_false;
	Semver		semver;			/* semver_* */
	int64_t		at_us;			/* before, after */
} Cond;

typedef enum ServeKind
{
	SERVE_TRUE,
	SERVE_FALSE,
	SERVE_VARIANT,
	SERVE_PERCENTAGE,
	SERVE_SPLIT
} ServeKind;

typedef struct Rule
{
	Cond	   *conds;
	int			nconds;
	ServeKind	serve;
	TgReason	reason;
	int			variant;		/* SERVE_VARIANT */
	int			threshold;		/* SERVE_PERCENTAGE: on when bucket < threshold */
	AttrRef		by;				/* SERVE_PERCENTAGE, SERVE_SPLIT */
	int			nsplit;
	int		   *split_variant;
	int		   *split_upto;		/* entry i serves buckets below split_upto[i] */
} Rule;

typedef struct Variant
{
	const char *name;
	const char *value;			/* compact JSON */
} Variant;

/* MurmurHash3 x86_32 fed in pieces, so that "name:" is hashed once per toggle. */
typedef struct Murmur
{
	uint32_t	h;
	uint32_t	tail;			/* up to 3 pending bytes, little-endian */
	uint32_t	ntail;
	uint32_t	total;
} Murmur;

struct TgToggle
{
	TgArena		arena;			/* everything below lives in it, the toggle too */
	Murmur		prefix;			/* the hash state after name ":" */
	Rule	   *rules;
	int			nrules;
	Variant    *variants;
	int			nvariants;
	const Window *windows[MAX_WINDOWS];	/* in rule order, for tg_time_signature */
	int			nwindows;
};

typedef struct Attr
{
	uint32_t	hash;
	int			index;			/* position in the document: the last one wins */
	const char *name;
	size_t		len;
	const TgJson *value;
} Attr;

struct TgContext
{
	TgArena		arena;
	Attr	   *attrs;			/* sorted by hash, then name */
	int			nattrs;
};

/* ---------------------------------------------------------------- MurmurHash3 */

static uint32_t
rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t
murmur_mix_k(uint32_t k)
{
	k *= 0xcc9e2d51;
	k = rotl32(k, 15);
	k *= 0x1b873593;
	return k;
}

static void
murmur_init(Murmur *m, uint32_t seed)
{
	m->h = seed;
	m->tail = 0;
	m->ntail = 0;
	m->total = 0;
}

static void
murmur_feed(Murmur *m, const void *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end = p + len;

	/* The reference implementation folds the length in as a 32-bit value. */
	m->total += (uint32_t) len;
	while (m->ntail > 0 && p < end)
	{
		m->tail |= (uint32_t) *p++ << (8 * m->ntail);
		if (++m->ntail == 4)
		{
			m->h ^= murmur_mix_k(m->tail);
			m->h = rotl32(m->h, 13) * 5 + 0xe6546b64;
			m->tail = 0;
			m->ntail = 0;
		}
	}
	/* Blocks are read byte by byte: little-endian whatever the host, and unaligned. */
	while (end - p >= 4)
	{
		uint32_t	k = (uint32_t) p[0] | (uint32_t) p[1] << 8 |
			(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;

		m->h ^= murmur_mix_k(k);
		m->h = rotl32(m->h, 13) * 5 + 0xe6546b64;
		p += 4;
	}
	while (p < end)
	{
		m->tail |= (uint32_t) *p++ << (8 * m->ntail);
		m->ntail++;
	}
}

static uint32_t
murmur_final(const Murmur *m)
{
	uint32_t	h = m->h;

	if (m->ntail > 0)
		h ^= murmur_mix_k(m->tail);
	h ^= m->total;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

uint32_t
tg_murmur3_32(const void *data, size_t len, uint32_t seed)
{
	Murmur		m;

	murmur_init(&m, seed);
	murmur_feed(&m, data, len);
	return murmur_final(&m);
}

int
tg_bucket(const char *name, const char *key, size_t key_len)
{
	Murmur		m;

	murmur_init(&m, 0);
	murmur_feed(&m, name, strlen(name));
	murmur_feed(&m, ":", 1);
	murmur_feed(&m, key, key_len);
	return (int) (murmur_final(&m) % 10000);
}

static uint32_t
name_hash(const char *s, size_t len)
{
	return tg_murmur3_32(s, len, 0);
}

/* ---------------------------------------------------------------- calendar and time */

int64_t
tg_floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

bool
tg_is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && tg_is_leap_year(y) ? 29 : days[m - 1];
}

/*
 * days_from_civil: days since 1970-01-01 of a proleptic Gregorian date, counting in
 * 400-year eras (146097 days) of years that start on March 1st, so that the leap day is
 * the last day of its year.
 */
int64_t
tg_days_from_civil(int64_t y, int m, int d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	if (m <= 2)
		y--;
	era = tg_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
digits_at(const char *s, int n, int *value)
{
	int			v = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value = v;
	return true;
}

/*
 * parse_rfc3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), 'T' and 'Z' in either
 * case (RFC 3339 section 5.6).  A leap second (:60) counts as the next second's start.
 * Digits of the fraction beyond microseconds are dropped.
 */
static bool
parse_rfc3339(const char *s, size_t len, int64_t *us, bool *has_fraction)
{
	int			year,
				month,
				day,
				hour,
				minute,
				second,
				oh,
				om;
	int64_t		frac = 0;
	int			frac_digits = 0;
	size_t		i = 19;
	int64_t		offset = 0;
	int64_t		secs;

	*has_fraction = false;
	if (len < 20 ||
		!digits_at(s, 4, &year) || s[4] != '-' ||
		!digits_at(s + 5, 2, &month) || s[7] != '-' ||
		!digits_at(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
		!digits_at(s + 11, 2, &hour) || s[13] != ':' ||
		!digits_at(s + 14, 2, &minute) || s[16] != ':' ||
		!digits_at(s + 17, 2, &second))
		return false;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
		hour > 23 || minute > 59 || second > 60)
		return false;
	if (s[i] == '.')
	{
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
		{
			if (frac_digits < 6)
			{
				frac = frac * 10 + (s[i] - '0');
				frac_digits++;
			}
			i++;
		}
		while (frac_digits < 6)
		{
			frac *= 10;
			frac_digits++;
		}
		*has_fraction = true;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < len && (s[i] == '+' || s[i] == '-'))
	{
		if (len - i < 6 || !digits_at(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
			!digits_at(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		offset = (int64_t) oh * 3600 + om * 60;
		if (s[i] == '-')
			offset = -offset;
		i += 6;
	}
	else
		return false;
	if (i != len)
		return false;
	secs = tg_days_from_civil(year, month, day) * SECS_PER_DAY +
		hour * 3600 + minute * 60 + second - offset;
	*us = secs * USECS_PER_SEC + frac;
	return true;
}

bool
tg_parse_rfc3339(const char *s, size_t len, int64_t *us)
{
	bool		has_fraction;

	return parse_rfc3339(s, len, us, &has_fraction);
}

/* parse_time_of_day: HH:MM or HH:MM:SS, and 24:00[:00] when allow_24. */
static bool
parse_time_of_day(const char *s, size_t len, bool allow_24, int32_t *secs)
{
	int			h,
				m,
				sec = 0;

	if ((len != 5 && len != 8) || !digits_at(s, 2, &h) || s[2] != ':' ||
		!digits_at(s + 3, 2, &m))
		return false;
	if (len == 8 && (s[5] != ':' || !digits_at(s + 6, 2, &sec)))
		return false;
	if (m > 59 || sec > 59)
		return false;
	if (h == 24 && allow_24 && m == 0 && sec == 0)
	{
		*secs = SECS_PER_DAY;
		return true;
	}
	if (h > 23)
		return false;
	*secs = h * 3600 + m * 60 + sec;
	return true;
}

/* ---------------------------------------------------------------- semantic versions */

static bool
is_alnum_hyphen(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		c == '-';
}

static bool
all_digits(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * dot_identifiers: s[0..len) is one or more non-empty dot-separated identifiers of
 * [0-9A-Za-z-]; numeric ones without leading zeros when numeric_strict.
 */
static bool
dot_identifiers(const char *s, size_t len, bool numeric_strict)
{
	size_t		i = 0;

	while (i <= len)
	{
		size_t		j = i;

		while (j < len && s[j] != '.')
		{
			if (!is_alnum_hyphen(s[j]))
				return false;
			j++;
		}
		if (j == i)
			return false;
		if (numeric_strict && j - i > 1 && s[i] == '0' && all_digits(s + i, j - i))
			return false;
		i = j + 1;
	}
	return true;
}

/* semver_parse: MAJOR.MINOR.PATCH[-pre][+build] of SemVer 2.0.0, no leading 'v'. */
static bool
semver_parse(const char *s, size_t len, Semver *v)
{
	size_t		i = 0;
	int			part;
	size_t		pre_end;

	for (part = 0; part < 3; part++)
	{
		size_t		start = i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || (i - start > 1 && s[start] == '0'))
			return false;
		v->core[part] = s + start;
		v->core_len[part] = i - start;
		if (part < 2)
		{
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	v->pre = NULL;
	v->pre_len = 0;
	if (i < len && s[i] == '-')
	{
		i++;
		pre_end = i;
		while (pre_end < len && s[pre_end] != '+')
			pre_end++;
		if (!dot_identifiers(s + i, pre_end - i, true))
			return false;
		v->pre = s + i;
		v->pre_len = pre_end - i;
		i = pre_end;
	}
	if (i < len && s[i] == '+')
	{
		i++;
		if (!dot_identifiers(s + i, len - i, false))
			return false;
		i = len;
	}
	return i == len;
}

/* Numeric identifiers without leading zeros: the longer is larger. */
static int
numeric_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* semver_cmp: SemVer 2.0.0 precedence (section 11); build metadata plays no part. */
static int
semver_cmp(const Semver *a, const Semver *b)
{
	int			part;
	size_t		i = 0,
				j = 0;

	for (part = 0; part < 3; part++)
	{
		int			c = numeric_cmp(a->core[part], a->core_len[part],
									b->core[part], b->core_len[part]);

		if (c != 0)
			return c;
	}
	if (a->pre == NULL || b->pre == NULL)
		return a->pre == b->pre ? 0 : (a->pre == NULL ? 1 : -1);
	for (;;)
	{
		size_t		ai = i,
					bj = j;
		bool		anum,
					bnum;
		int			c;

		if (i > a->pre_len || j > b->pre_len)
			break;
		while (i < a->pre_len && a->pre[i] != '.')
			i++;
		while (j < b->pre_len && b->pre[j] != '.')
			j++;
		anum = all_digits(a->pre + ai, i - ai);
		bnum = all_digits(b->pre + bj, j - bj);
		if (anum && bnum)
			c = numeric_cmp(a->pre + ai, i - ai, b->pre + bj, j - bj);
		else if (anum != bnum)
			c = anum ? -1 : 1;	/* numeric identifiers sort first */
		else
			c = bytes_cmp(a->pre + ai, i - ai, b->pre + bj, j - bj);
		if (c != 0)
			return c;
		i++;
		j++;
	}
	/* All shared identifiers equal: the one with more identifiers is larger. */
	if (i > a->pre_len && j > b->pre_len)
		return 0;
	return i > a->pre_len ? -1 : 1;
}

/* ---------------------------------------------------------------- compiling */

typedef struct Compiler
{
	TgToggle   *t;
	TgArena    *tree_arena;		/* the parsed documents, freed after compiling */
	const char *name;
	unsigned	flags;
	const TgHooks *hooks;
	char		path[256];
	size_t		pathlen;
	char	   *err;
	size_t		errlen;
} Compiler;

static void
path_append(Compiler *c, const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len && c->pathlen + 1 < sizeof(c->path); i++)
	{
		unsigned char ch = (unsigned char) s[i];

		/* Keep control characters out of error messages. */
		c->path[c->pathlen++] = ch < 0x20 || ch == 0x7f ? '?' : (char) ch;
	}
	c->path[c->pathlen] = '\0';
}

static size_t
path_member(Compiler *c, const char *name, size_t len)
{
	size_t		mark = c->pathlen;

	if (c->pathlen > 0)
		path_append(c, ".", 1);
	path_append(c, name, len);
	return mark;
}

static size_t
path_index(Compiler *c, int i)
{
	size_t		mark = c->pathlen;
	char		buf[16];

	snprintf(buf, sizeof(buf), "[%d]", i);
	path_append(c, buf, strlen(buf));
	return mark;
}

static void
path_reset(Compiler *c, size_t mark)
{
	c->pathlen = mark;
	c->path[mark] = '\0';
}

static bool bad(Compiler *c, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* bad writes "path: message" to the error buffer and returns false. */
static bool
bad(Compiler *c, const char *fmt,...)
{
	va_list		ap;
	int			n;

	n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n >= 0 && (size_t) n < c->errlen)
	{
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t) n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool
out_of_memory(Compiler *c)
{
	snprintf(c->err, c->errlen, "out of memory");
	return false;
}

/*
 * describe: v as shown after "got" in error messages: a string quoted and shortened, a
 * number as written (shortened), else the literal or the type.
 */
static const char *
describe(const TgJson *v, char *buf, size_t size)
{
	const size_t max = 40;
	size_t		n,
				i,
				o = 0;

	if (v->type != TGJ_STRING && v->type != TGJ_NUMBER)
	{
		if (v->type == TGJ_TRUE)
			return "true";
		if (v->type == TGJ_FALSE)
			return "false";
		return tg_json_type_name(v->type);
	}
	n = v->len;
	if (n > max)
	{
		/* Cut at a UTF-8 character boundary. */
		n = max;
		while (n > 0 && ((unsigned char) v->str[n] & 0xC0) == 0x80)
			n--;
	}
	if (v->type == TGJ_STRING)
		buf[o++] = '"';
	for (i = 0; i < n && o + 6 < size; i++)
	{
		unsigned char ch = (unsigned char) v->str[i];

		buf[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char) ch;
	}
	if (n < v->len)
	{
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	if (v->type == TGJ_STRING)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static bool
expected(Compiler *c, const char *what, const TgJson *got)
{
	char		buf[64];

	return bad(c, "expected %s; got %s", what, describe(got, buf, sizeof(buf)));
}

/*
 * check_members refuses members not in allowed (a NULL-terminated list), naming the
 * allowed ones.
 */
static bool
check_members(Compiler *c, const TgJson *obj, const char *const *allowed)
{
	const TgJson *m;

	for (m = obj->child; m != NULL; m = m->next)
	{
		const char *const *a;
		bool		found = false;

		for (a = allowed; *a != NULL && !found; a++)
			found = strlen(*a) == m->key_len && memcmp(*a, m->key, m->key_len) == 0;
		if (!found)
		{
			char		list[128] = "";

			for (a = allowed; *a != NULL; a++)
			{
				if (a != allowed)
					strcat(list, ", ");
				strcat(list, *a);
			}
			path_member(c, m->key, m->key_len);
			return bad(c, "unknown member; expected %s", list);
		}
	}
	return true;
}

static const char *
keep_str(Compiler *c, const char *s, size_t len)
{
	return tg_arena_strndup(&c->t->arena, s, len);
}

static bool
keep_decimal(Compiler *c, const TgDecimal *in, TgDecimal *out)
{
	*out = *in;
	out->digits = keep_str(c, in->digits, (size_t) in->ndigits);
	return out->digits != NULL;
}

static int
utf8_chars(const char *s, size_t len)
{
	int			n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* The toggle name rule (extension/name_rule.c), for variant names. */
static bool
valid_variant_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > MAX_NAME_CHARS)
		return false;
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];
		bool		letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');

		if (!letter && (i == 0 || !((ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
									ch == '.')))
			return false;
	}
	return true;
}

/*
 * valid_tz_name: what an IANA name may look like, so that a name can never reach outside
 * the zoneinfo directory: letters, digits, '/', '_', '-', '+', '.', no empty component,
 * no component starting with '.'.
 */
static bool
valid_tz_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > MAX_TZ_NAME)
		return false;
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];
		bool		first = i == 0 || s[i - 1] == '/';

		if (ch == '/' && (first || i + 1 == len))
			return false;
		if (ch == '.' && first)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' ||
			  ch == '+' || ch == '.'))
			return false;
	}
	return true;
}

static bool
compile_variants(Compiler *c, const TgJson *doc)
{
	TgToggle   *t = c->t;
	const TgJson *m;
	int			n = 0;

	if (doc->type != TGJ_OBJECT)
		return expected(c, "an object of named values", doc);
	if (doc->count > MAX_VARIANTS)
		return bad(c, "at most %d variants; got %d", MAX_VARIANTS, doc->count);
	t->variants = tg_arena_alloc(&t->arena, sizeof(Variant) * (size_t) (doc->count + 1));
	if (t->variants == NULL)
		return out_of_memory(c);
	for (m = doc->child; m != NULL; m = m->next)
	{
		size_t		mark;
		size_t		len;
		char	   *value;
		const TgJson *later;
		bool		overridden = false;

		/* A later member of the same name wins, as in jsonb. */
		for (later = m->next; later != NULL && !overridden; later = later->next)
			overridden = later->key_len == m->key_len &&
				memcmp(later->key, m->key, m->key_len) == 0;
		if (overridden)
			continue;
		mark = path_member(c, m->key, m->key_len);
		if (!valid_variant_name(m->key, m->key_len))
			return bad(c, "variant names start with an ASCII letter, then letters, digits, "
					   "-, _ or . (1 to %d characters)", MAX_NAME_CHARS);
		path_reset(c, mark);
		len = tg_json_compact_len(m);
		value = tg_arena_alloc(&t->arena, len + 1);
		t->variants[n].name = keep_str(c, m->key, m->key_len);
		if (value == NULL || t->variants[n].name == NULL)
			return out_of_memory(c);
		tg_json_write_compact(m, value);
		t->variants[n].value = value;
		n++;
	}
	t->nvariants = n;
	return true;
}

static int
find_variant(const TgToggle *t, const TgJson *name)
{
	int			i;

	if (name->type != TGJ_STRING)
		return -1;
	for (i = 0; i < t->nvariants; i++)
		if (strlen(t->variants[i].name) == name->len &&
			memcmp(t->variants[i].name, name->str, name->len) == 0)
			return i;
	return -1;
}

static bool
compile_attr_ref(Compiler *c, const TgJson *v, AttrRef *ref)
{
	if (v->type != TGJ_STRING || v->len == 0)
		return expected(c, "the name of a context attribute (a non-empty string)", v);
	ref->name = keep_str(c, v->str, v->len);
	if (ref->name == NULL)
		return out_of_memory(c);
	ref->len = v->len;
	ref->hash = name_hash(v->str, v->len);
	ref->is_key = v->len == 3 && memcmp(v->str, "key", 3) == 0;
	return true;
}

static int
string_cmp(const void *a, const void *b)
{
	const TgString *x = a;
	const TgString *y = b;

	return bytes_cmp(x->s, x->len, y->s, y->len);
}

static int
decimal_qsort_cmp(const void *a, const void *b)
{
	return tg_decimal_cmp(a, b);
}

static bool
is_scalar(const TgJson *v)
{
	return v->type == TGJ_STRING || v->type == TGJ_NUMBER || v->type == TGJ_TRUE ||
		v->type == TGJ_FALSE;
}

static bool
compile_list(Compiler *c, const TgJson *list, Cond *cond)
{
	TgToggle   *t = c->t;
	const TgJson *e;
	int			i = 0;

	if (list->type != TGJ_ARRAY)
		return expected(c, "an array of strings, numbers or booleans", list);
	if (list->count > MAX_LIST_VALUES)
		return bad(c, "at most %d values; got %d", MAX_LIST_VALUES, list->count);
	cond->strs = tg_arena_alloc(&t->arena, sizeof(TgString) * (size_t) (list->count + 1));
	cond->nums = tg_arena_alloc(&t->arena, sizeof(TgDecimal) * (size_t) (list->count + 1));
	if (cond->strs == NULL || cond->nums == NULL)
		return out_of_memory(c);
	for (e = list->child; e != NULL; e = e->next, i++)
	{
		if (!is_scalar(e))
		{
			path_index(c, i);
			return expected(c, "a string, number or boolean", e);
		}
		if (e->type == TGJ_STRING)
		{
			TgString   *s = &cond->strs[cond->nstrs++];

			s->s = keep_str(c, e->str, e->len);
			s->len = e->len;
			if (s->s == NULL)
				return out_of_memory(c);
		}
		else if (e->type == TGJ_NUMBER)
		{
			if (!keep_decimal(c, &e->num, &cond->nums[cond->nnums++]))
				return out_of_memory(c);
		}
		else if (e->type == TGJ_TRUE)
			cond->has_true = true;
		else
			cond->has_false = true;
	}
	qsort(cond->strs, (size_t) cond->nstrs, sizeof(TgString), string_cmp);
	qsort(cond->nums, (size_t) cond->nnums, sizeof(TgDecimal), decimal_qsort_cmp);
	return true;
}

static bool
compile_attr_cond(Compiler *c, const TgJson *obj, Cond *cond)
{
	static const char *const allowed[] = {"attribute", "op", "value", NULL};
	const TgJson *attr = tg_json_member(obj, "attribute");
	const TgJson *op = tg_json_member(obj, "op");
	const TgJson *value = tg_json_member(obj, "value");
	char		ops[256] = "";
	size_t		mark;
	int			i;
	bool		has_fraction;

	if (!check_members(c, obj, allowed))
		return false;
	for (i = 0; i < NUM_OPS; i++)
	{
		if (i > 0)
			strcat(ops, ", ");
		strcat(ops, op_names[i]);
	}
	mark = path_member(c, "attribute", 9);
	if (attr == NULL)
		return bad(c, "missing; expected the name of a context attribute");
	if (!compile_attr_ref(c, attr, &cond->attr))
		return false;
	path_reset(c, mark);
	path_member(c, "op", 2);
	if (op == NULL)
		return bad(c, "missing; expected one of %s", ops);
	for (i = 0; i < NUM_OPS; i++)
		if (op->type == TGJ_STRING && strlen(op_names[i]) == op->len &&
			memcmp(op_names[i], op->str, op->len) == 0)
			break;
	if (i == NUM_OPS)
	{
		char		buf[64];

		return bad(c, "expected one of %s; got %s", ops, describe(op, buf, sizeof(buf)));
	}
	cond->op = (Op) i;
	path_reset(c, mark);
	path_member(c, "value", 5);
	switch (cond->op)
	{
		case OP_EQUALS:
		case OP_NOT_EQUALS:
			if (value == NULL)
				return bad(c, "missing; expected a string, number or boolean");
			if (!is_scalar(value))
				return expected(c, "a string, number or boolean", value);
			break;
		case OP_IN:
		case OP_NOT_IN:
			if (value == NULL)
				return bad(c, "missing; expected an array of strings, numbers or booleans");
			return compile_list(c, value, cond);
		case OP_STARTS_WITH:
		case OP_ENDS_WITH:
		case OP_CONTAINS:
			if (value == NULL)
				return bad(c, "missing; expected a string");
			if (value->type != TGJ_STRING)
				return expected(c, "a string", value);
			break;
		case OP_LT:
		case OP_LTE:
		case OP_GT:
		case OP_GTE:
			if (value == NULL)
				return bad(c, "missing; expected a number");
			if (value->type != TGJ_NUMBER)
				return expected(c, "a number", value);
			break;
		case OP_SEMVER_EQ:
		case OP_SEMVER_LT:
		case OP_SEMVER_LTE:
		case OP_SEMVER_GT:
		case OP_SEMVER_GTE:
			if (value == NULL)
				return bad(c, "missing; expected a semantic version such as 1.2.3");
			if (value->type != TGJ_STRING || !semver_parse(value->str, value->len, &cond->semver))
				return expected(c, "a semantic version such as 1.2.3 (SemVer 2.0.0, no leading v)",
								value);
			break;
		case OP_BEFORE:
		case OP_AFTER:
			if (value == NULL)
				return bad(c, "missing; expected an RFC 3339 timestamp");
			if (value->type != TGJ_STRING ||
				!parse_rfc3339(value->str, value->len, &cond->at_us, &has_fraction))
				return expected(c, "an RFC 3339 timestamp with Z or an offset, such as "
								"2026-12-24T18:00:00+01:00", value);
			break;
		case NUM_OPS:
			break;
	}
	cond->type = value->type;
	if (value->type == TGJ_STRING)
	{
		cond->str.s = keep_str(c, value->str, value->len);
		cond->str.len = value->len;
		if (cond->str.s == NULL)
			return out_of_memory(c);
		/* The semver spans must point into the kept copy. */
		if (cond->op >= OP_SEMVER_EQ && cond->op <= OP_SEMVER_GTE)
			semver_parse(cond->str.s, cond->str.len, &cond->semver);
	}
	else if (value->type == TGJ_NUMBER && !keep_decimal(c, &value->num, &cond->num))
		return out_of_memory(c);
	path_reset(c, mark);
	return true;
}

static bool
window_timestamp(Compiler *c, const TgJson *v, int64_t *us)
{
	bool		has_fraction;

	if (v->type != TGJ_STRING || !parse_rfc3339(v->str, v->len, us, &has_fraction) ||
		has_fraction)
		return expected(c, "an RFC 3339 timestamp in whole seconds with Z or an offset, "
						"such as 2026-12-24T18:00:00+01:00", v);
	return true;
}

static bool
compile_window(Compiler *c, const TgJson *obj, Window *w)
{
	static const char *const allowed[] = {"from", "until", "days", "start", "end", "tz", NULL};
	const TgJson *from = tg_json_member(obj, "from");
	const TgJson *until = tg_json_member(obj, "until");
	const TgJson *days = tg_json_member(obj, "days");
	const TgJson *start = tg_json_member(obj, "start");
	const TgJson *end = tg_json_member(obj, "end");
	const TgJson *tz = tg_json_member(obj, "tz");
	const char *tod = "a time of day HH:MM or HH:MM:SS";
	size_t		mark = c->pathlen;

	if (obj->type != TGJ_OBJECT)
		return expected(c, "an object with from and/or until, or start and end", obj);
	if (!check_members(c, obj, allowed))
		return false;
	if (from == NULL && until == NULL && start == NULL && end == NULL && days == NULL &&
		tz == NULL)
		return bad(c, "expected from and/or until, or start and end");
	if (from != NULL)
	{
		path_member(c, "from", 4);
		if (!window_timestamp(c, from, &w->from_us))
			return false;
		w->has_from = true;
		path_reset(c, mark);
	}
	if (until != NULL)
	{
		path_member(c, "until", 5);
		if (!window_timestamp(c, until, &w->until_us))
			return false;
		if (w->has_from && w->until_us <= w->from_us)
			return bad(c, "expected a timestamp after from");
		w->has_until = true;
		path_reset(c, mark);
	}
	if (start == NULL && end == NULL && days == NULL && tz == NULL)
		return true;

	w->recurring = true;
	path_member(c, "start", 5);
	if (start == NULL)
		return bad(c, "missing; expected %s", tod);
	if (start->type != TGJ_STRING ||
		!parse_time_of_day(start->str, start->len, false, &w->start))
		return expected(c, tod, start);
	path_reset(c, mark);
	path_member(c, "end", 3);
	if (end == NULL)
		return bad(c, "missing; expected %s (or 24:00)", tod);
	if (end->type != TGJ_STRING || !parse_time_of_day(end->str, end->len, true, &w->end))
		return expected(c, "a time of day HH:MM or HH:MM:SS, or 24:00", end);
	if (w->end == w->start)
		return bad(c, "expected a time different from start");
	path_reset(c, mark);

	w->days = 0x7f;
	if (days != NULL)
	{
		const TgJson *d;
		int			i = 0;

		path_member(c, "days", 4);
		if (days->type != TGJ_ARRAY || days->count == 0)
			return expected(c, "a non-empty array of mon, tue, wed, thu, fri, sat, sun", days);
		w->days = 0;
		for (d = days->child; d != NULL; d = d->next, i++)
		{
			int			k;

			for (k = 0; k < 7; k++)
				if (d->type == TGJ_STRING && d->len == 3 && memcmp(d->str, day_names[k], 3) == 0)
					break;
			if (k == 7)
			{
				path_index(c, i);
				return expected(c, "one of mon, tue, wed, thu, fri, sat, sun", d);
			}
			w->days |= (uint8_t) (1 << k);
		}
		path_reset(c, mark);
	}

	if (tz != NULL)
	{
		char		buf[64];

		path_member(c, "tz", 2);
		if (tz->type != TGJ_STRING || !valid_tz_name(tz->str, tz->len))
			return expected(c, "an IANA time zone name such as Europe/Berlin", tz);
		/* UTC needs no zone data: its offset is always 0. */
		if (!(tz->len == 3 && memcmp(tz->str, "UTC", 3) == 0))
		{
			char		msg[sizeof(c->path) + MAX_TZ_NAME + 64];
			int64_t		probe;

			if ((c->flags & TG_CHECK_ZONES) &&
				(c->hooks->local_time == NULL ||
				 !c->hooks->local_time(c->hooks->arg, tz->str, 0, &probe)))
				return bad(c, "unknown time zone; got %s", describe(tz, buf, sizeof(buf)));
			w->tz = keep_str(c, tz->str, tz->len);
			snprintf(msg, sizeof(msg), "%s: unknown time zone \"%s\"", c->path, tz->str);
			w->error = keep_str(c, msg, strlen(msg));
			if (w->tz == NULL || w->error == NULL)
				return out_of_memory(c);
		}
		path_reset(c, mark);
	}
	return true;
}

static bool
compile_condition(Compiler *c, const TgJson *obj, Cond *cond, bool *has_window)
{
	const TgJson *window;
	TgToggle   *t = c->t;
	Window	   *w;
	size_t		mark = c->pathlen;

	if (obj->type != TGJ_OBJECT)
		return expected(c, "a condition object (attribute, op, value; or window)", obj);
	window = tg_json_member(obj, "window");
	if (window == NULL)
		return compile_attr_cond(c, obj, cond);

	if (obj->count > 1)
	{
		static const char *const allowed[] = {"window", NULL};

		if (!check_members(c, obj, allowed))
			return false;
	}
	if (t->nwindows >= MAX_WINDOWS)
		return bad(c, "at most %d window conditions in all", MAX_WINDOWS);
	w = tg_arena_alloc(&t->arena, sizeof(Window));
	if (w == NULL)
		return out_of_memory(c);
	memset(w, 0, sizeof(Window));
	path_member(c, "window", 6);
	if (!compile_window(c, window, w))
		return false;
	path_reset(c, mark);
	cond->window = w;
	t->windows[t->nwindows++] = w;
	*has_window = true;
	return true;
}

/*
 * split_upto: the first bucket b not served by the entries up to one whose cumulative
 * weight is cum, i.e. the first for which b * W < cum * 10000 fails, computed in binary64
 * as the formula reads; the predicate only turns from true to false as b grows.
 */
static int
split_upto(double cum, double total)
{
	int			lo = 0,
				hi = 10000;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if ((double) mid * total < cum * 10000.0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
compile_split(Compiler *c, const TgJson *split, Rule *rule)
{
	static const char *const allowed[] = {"variant", "weight", NULL};
	TgToggle   *t = c->t;
	double		weights[MAX_SPLIT];
	double		total = 0,
				cum = 0;
	const TgJson *e;
	int			i = 0,
				last_nonzero = -1;
	size_t		mark = c->pathlen;

	if (split->type != TGJ_ARRAY || split->count == 0)
		return expected(c, "a non-empty array of {\"variant\": ..., \"weight\": ...}", split);
	if (split->count > MAX_SPLIT)
		return bad(c, "at most %d entries; got %d", MAX_SPLIT, split->count);
	rule->split_variant = tg_arena_alloc(&t->arena, sizeof(int) * (size_t) split->count);
	rule->split_upto = tg_arena_alloc(&t->arena, sizeof(int) * (size_t) split->count);
	if (rule->split_variant == NULL || rule->split_upto == NULL)
		return out_of_memory(c);
	for (e = split->child; e != NULL; e = e->next, i++)
	{
		const TgJson *variant,
				   *weight;
		size_t		entry_mark;

		path_index(c, i);
		entry_mark = c->pathlen;
		if (e->type != TGJ_OBJECT)
			return expected(c, "an object {\"variant\": ..., \"weight\": ...}", e);
		if (!check_members(c, e, allowed))
			return false;
		variant = tg_json_member(e, "variant");
		weight = tg_json_member(e, "weight");
		path_member(c, "variant", 7);
		if (variant == NULL)
			return bad(c, "missing; expected a name from variants");
		if ((rule->split_variant[i] = find_variant(t, variant)) < 0)
			return expected(c, "a name from variants", variant);
		path_reset(c, entry_mark);
		path_member(c, "weight", 6);
		if (weight == NULL)
			return bad(c, "missing; expected a non-negative number");
		/*
		 * Weights are binary64 numbers, as in every JSON library; strtod reads the digits
		 * exactly as written (both hosts run with the C numeric locale).
		 */
		if (weight->type != TGJ_NUMBER || weight->num.neg ||
			(weights[i] = strtod(weight->str, NULL)) > 1e300)
			return expected(c, "a non-negative number", weight);
		total += weights[i];
		if (weights[i] > 0)
			last_nonzero = i;
		path_reset(c, mark);
	}
	if (!(total > 0))
		return bad(c, "expected weights with a sum above 0");
	for (i = 0; i < split->count; i++)
	{
		cum += weights[i];
		rule->split_upto[i] = weights[i] > 0 ? split_upto(cum, total) :
			(i > 0 ? rule->split_upto[i - 1] : 0);
	}
	/* Rounding must not leave a bucket without a variant: the last one takes the rest. */
	rule->split_upto[last_nonzero] = 10000;
	rule->nsplit = split->count;
	return true;
}

/*
 * percentage_threshold: P × 100 for 0 <= P <= 100 with at most two decimals, exactly
 * from the decimal digits (so round() has nothing to do); -1 if P is not such a number.
 */
static int
percentage_threshold(const TgDecimal *p)
{
	int			v = 0;
	int			i;
	int			scale;

	if (p->ndigits == 0)
		return 0;
	/* value = digits × 10^(exp - ndigits); hundredths = digits × 10^(exp - ndigits + 2) */
	scale = p->exp - p->ndigits + 2;
	if (p->neg || scale < 0 || p->exp > 3)
		return -1;
	for (i = 0; i < p->ndigits; i++)
		v = v * 10 + (p->digits[i] - '0');
	for (i = 0; i < scale; i++)
		v *= 10;
	return v <= 10000 ? v : -1;
}

static bool
compile_serve(Compiler *c, const TgJson *serve, Rule *rule)
{
	static const char *const allowed[] = {"variant", "percentage", "split", "by", NULL};
	const char *forms = "true, false or an object with variant, percentage or split";
	const TgJson *variant,
			   *percentage,
			   *split,
			   *by;
	size_t		mark = c->pathlen;

	if (serve->type == TGJ_TRUE || serve->type == TGJ_FALSE)
	{
		rule->serve = serve->type == TGJ_TRUE ? SERVE_TRUE : SERVE_FALSE;
		return true;
	}
	if (serve->type != TGJ_OBJECT)
		return expected(c, forms, serve);
	if (!check_members(c, serve, allowed))
		return false;
	variant = tg_json_member(serve, "variant");
	percentage = tg_json_member(serve, "percentage");
	split = tg_json_member(serve, "split");
	by = tg_json_member(serve, "by");
	if ((variant != NULL) + (percentage != NULL) + (split != NULL) != 1)
		return bad(c, "expected exactly one of variant, percentage or split");
	if (variant != NULL)
	{
		if (by != NULL)
		{
			path_member(c, "by", 2);
			return bad(c, "only with percentage or split");
		}
		path_member(c, "variant", 7);
		rule->serve = SERVE_VARIANT;
		if ((rule->variant = find_variant(c->t, variant)) < 0)
			return expected(c, "a name from variants", variant);
		path_reset(c, mark);
		return true;
	}
	if (by != NULL)
	{
		path_member(c, "by", 2);
		if (!compile_attr_ref(c, by, &rule->by))
			return false;
		path_reset(c, mark);
	}
	else
	{
		rule->by.name = "key";
		rule->by.len = 3;
		rule->by.hash = name_hash("key", 3);
		rule->by.is_key = true;
	}
	if (percentage != NULL)
	{
		path_member(c, "percentage", 10);
		rule->serve = SERVE_PERCENTAGE;
		if (percentage->type != TGJ_NUMBER ||
			(rule->threshold = percentage_threshold(&percentage->num)) < 0)
			return expected(c, "a number from 0 to 100 with at most two decimals", percentage);
		path_reset(c, mark);
		return true;
	}
	path_member(c, "split", 5);
	rule->serve = SERVE_SPLIT;
	if (!compile_split(c, split, rule))
		return false;
	path_reset(c, mark);
	return true;
}

static bool
compile_rule(Compiler *c, const TgJson *obj, Rule *rule)
{
	static const char *const allowed[] = {"name", "when", "serve", NULL};
	const TgJson *name,
			   *when,
			   *serve;
	size_t		mark = c->pathlen;
	bool		has_window = false;

	if (obj->type != TGJ_OBJECT)
		return expected(c, "a rule object (name, when, serve)", obj);
	if (!check_members(c, obj, allowed))
		return false;
	name = tg_json_member(obj, "name");
	when = tg_json_member(obj, "when");
	serve = tg_json_member(obj, "serve");
	if (name != NULL)
	{
		path_member(c, "name", 4);
		if (name->type != TGJ_STRING || utf8_chars(name->str, name->len) > MAX_NAME_CHARS)
			return expected(c, "a string of at most 100 characters", name);
		path_reset(c, mark);
	}
	if (when != NULL)
	{
		const TgJson *e;
		int			i = 0;

		path_member(c, "when", 4);
		if (when->type != TGJ_ARRAY)
			return expected(c, "an array of conditions", when);
		if (when->count > MAX_CONDITIONS)
			return bad(c, "at most %d conditions; got %d", MAX_CONDITIONS, when->count);
		rule->conds = tg_arena_alloc(&c->t->arena, sizeof(Cond) * (size_t) (when->count + 1));
		if (rule->conds == NULL)
			return out_of_memory(c);
		memset(rule->conds, 0, sizeof(Cond) * (size_t) (when->count + 1));
		for (e = when->child; e != NULL; e = e->next, i++)
		{
			size_t		cond_mark = path_index(c, i);

			if (!compile_condition(c, e, &rule->conds[i], &has_window))
				return false;
			path_reset(c, cond_mark);
		}
		rule->nconds = when->count;
		path_reset(c, mark);
	}
	path_member(c, "serve", 5);
	if (serve == NULL)
		return bad(c, "missing; expected true, false or an object with variant, "
				   "percentage or split");
	if (!compile_serve(c, serve, rule))
		return false;
	path_reset(c, mark);
	if (rule->serve == SERVE_PERCENTAGE || rule->serve == SERVE_SPLIT)
		rule->reason = TG_SPLIT;
	else
		rule->reason = has_window ? TG_SCHEDULE : TG_TARGETING_MATCH;
	return true;
}

static bool
compile_rules(Compiler *c, const TgJson *doc)
{
	TgToggle   *t = c->t;
	const TgJson *e;
	int			i = 0;

	if (doc->type != TGJ_ARRAY)
		return expected(c, "an array of rules", doc);
	if (doc->count > MAX_RULES)
		return bad(c, "at most %d rules; got %d", MAX_RULES, doc->count);
	t->rules = tg_arena_alloc(&t->arena, sizeof(Rule) * (size_t) (doc->count + 1));
	if (t->rules == NULL)
		return out_of_memory(c);
	memset(t->rules, 0, sizeof(Rule) * (size_t) (doc->count + 1));
	for (e = doc->child; e != NULL; e = e->next, i++)
	{
		size_t		mark = path_index(c, i);

		if (!compile_rule(c, e, &t->rules[i]))
			return false;
		path_reset(c, mark);
	}
	t->nrules = doc->count;
	return true;
}

/*
 * parse_document parses one of the documents (rules, variants, context), prefixing a
 * syntax error with its name.  NULL or empty text is the given default.
 */
static const TgJson *
parse_document(const char *what, const char *text, size_t len, size_t max,
			   const char *empty, TgArena *arena, char *err, size_t errlen)
{
	char		msg[160];
	const TgJson *doc;

	if (text == NULL || len == 0)
	{
		text = empty;
		len = strlen(empty);
	}
	if (len > max)
	{
		if (max % (1024 * 1024) == 0)
			snprintf(err, errlen, "%s: larger than %zu MiB", what, max / (1024 * 1024));
		else
			snprintf(err, errlen, "%s: larger than %zu KiB", what, max / 1024);
		return NULL;
	}
	doc = tg_json_parse(text, len, arena, msg, sizeof(msg));
	if (doc == NULL)
	{
		if (strcmp(msg, "out of memory") == 0)
			snprintf(err, errlen, "%s", msg);
		else
			snprintf(err, errlen, "%s: %s", what, msg);
	}
	return doc;
}

TgToggle *
tg_compile(const char *name, const char *rules, size_t rules_len,
		   const char *variants, size_t variants_len,
		   unsigned flags, const TgHooks *hooks, char *err, size_t errlen)
{
	TgArena		arena,
				tree_arena;
	TgToggle   *t;
	Compiler	c;
	const TgJson *rules_doc,
			   *variants_doc;
	bool		ok = false;

	err[0] = '\0';
	if (name == NULL)
		name = "";
	tg_arena_init(&arena, hooks);
	tg_arena_init(&tree_arena, hooks);
	t = tg_arena_alloc(&arena, sizeof(TgToggle));
	if (t == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(t, 0, sizeof(TgToggle));
	murmur_init(&t->prefix, 0);
	murmur_feed(&t->prefix, name, strlen(name));
	murmur_feed(&t->prefix, ":", 1);

	memset(&c, 0, sizeof(c));
	c.t = t;
	t->arena = arena;			/* from here on, allocate through t->arena */
	c.tree_arena = &tree_arena;
	c.name = name;
	c.flags = flags;
	c.hooks = hooks;
	c.err = err;
	c.errlen = errlen;

	variants_doc = parse_document("variants", variants, variants_len, MAX_DOC_BYTES, "{}",
								  &tree_arena, err, errlen);
	rules_doc = variants_doc == NULL ? NULL :
		parse_document("rules", rules, rules_len, MAX_DOC_BYTES, "[]",
					   &tree_arena, err, errlen);
	if (rules_doc != NULL)
	{
		path_member(&c, "variants", 8);
		if (compile_variants(&c, variants_doc))
		{
			path_reset(&c, 0);
			path_member(&c, "rules", 5);
			ok = compile_rules(&c, rules_doc);
		}
	}
	tg_arena_free(&tree_arena, hooks);
	if (!ok)
	{
		if (err[0] == '\0')
			snprintf(err, errlen, "invalid rules");
		tg_toggle_free(t, hooks);
		return NULL;
	}
	return t;
}

void
tg_toggle_free(TgToggle *toggle, const TgHooks *hooks)
{
	TgArena		arena;

	if (toggle == NULL)
		return;
	/* The toggle lives in its own arena: copy the arena out before freeing. */
	arena = toggle->arena;
	tg_arena_free(&arena, hooks);
}

/* ---------------------------------------------------------------- contexts */

static int
attr_cmp(const void *a, const void *b)
{
	const Attr *x = a;
	const Attr *y = b;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	c = bytes_cmp(x->name, x->len, y->name, y->len);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

TgContext *
tg_context_parse(const char *json, size_t len, const TgHooks *hooks, char *err, size_t errlen)
{
	TgArena		arena;
	TgContext  *ctx;
	const TgJson *doc;
	const TgJson *m;
	int			n = 0,
				i;

	err[0] = '\0';
	tg_arena_init(&arena, hooks);
	doc = parse_document("context", json, len, MAX_CONTEXT_BYTES, "{}", &arena, err, errlen);
	if (doc == NULL)
	{
		tg_arena_free(&arena, hooks);
		return NULL;
	}
	if (doc->type != TGJ_OBJECT)
	{
		snprintf(err, errlen, "context: expected a JSON object; got %s",
				 tg_json_type_name(doc->type));
		tg_arena_free(&arena, hooks);
		return NULL;
	}
	ctx = tg_arena_alloc(&arena, sizeof(TgContext));
	if (ctx != NULL)
		ctx->attrs = tg_arena_alloc(&arena, sizeof(Attr) * (size_t) (doc->count + 1));
	if (ctx == NULL || ctx->attrs == NULL)
	{
		snprintf(err, errlen, "out of memory");
		tg_arena_free(&arena, hooks);
		return NULL;
	}
	for (m = doc->child; m != NULL; m = m->next, n++)
	{
		ctx->attrs[n].hash = name_hash(m->key, m->key_len);
		ctx->attrs[n].index = n;
		ctx->attrs[n].name = m->key;
		ctx->attrs[n].len = m->key_len;
		ctx->attrs[n].value = m;
	}
	qsort(ctx->attrs, (size_t) n, sizeof(Attr), attr_cmp);
	/* Of members with the same name keep the last, as jsonb does. */
	ctx->nattrs = 0;
	for (i = 0; i < n; i++)
	{
		if (i + 1 < n && ctx->attrs[i + 1].hash == ctx->attrs[i].hash &&
			bytes_cmp(ctx->attrs[i + 1].name, ctx->attrs[i + 1].len,
					  ctx->attrs[i].name, ctx->attrs[i].len) == 0)
			continue;
		ctx->attrs[ctx->nattrs++] = ctx->attrs[i];
	}
	ctx->arena = arena;
	return ctx;
}

void
tg_context_free(TgContext *context, const TgHooks *hooks)
{
	TgArena		arena;

	if (context == NULL)
		return;
	arena = context->arena;
	tg_arena_free(&arena, hooks);
}

static const TgJson *
context_get(const TgContext *ctx, const AttrRef *ref)
{
	int			lo = 0,
				hi;

	if (ctx == NULL)
		return NULL;
	hi = ctx->nattrs;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (ctx->attrs[mid].hash < ref->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ctx->nattrs && ctx->attrs[lo].hash == ref->hash; lo++)
		if (ctx->attrs[lo].len == ref->len &&
			memcmp(ctx->attrs[lo].name, ref->name, ref->len) == 0)
			return ctx->attrs[lo].value;
	return NULL;
}

/*
 * integer_text writes the decimal digits of an integral number (e.g. "-17"; 1.0 and 1e1
 * count, as 1 and 10) to buf and returns their length, or -1 when the number is not an
 * integer or has more than MAX_INTEGER_KEY_DIGITS digits.
 */
static int
integer_text(const TgDecimal *d, char *buf)
{
	int			n = 0;
	int			i;

	if (d->ndigits == 0)
	{
		buf[0] = '0';
		return 1;
	}
	if (d->exp < d->ndigits || d->exp > MAX_INTEGER_KEY_DIGITS)
		return -1;
	if (d->neg)
		buf[n++] = '-';
	memcpy(buf + n, d->digits, (size_t) d->ndigits);
	n += d->ndigits;
	for (i = d->ndigits; i < d->exp; i++)
		buf[n++] = '0';
	return n;
}

/* get_attr: the attribute, or NULL; a "key" that is neither string nor integer is NULL. */
static const TgJson *
get_attr(const TgContext *ctx, const AttrRef *ref)
{
	const TgJson *v = context_get(ctx, ref);
	char		buf[MAX_INTEGER_KEY_DIGITS + 2];

	if (v != NULL && ref->is_key && v->type != TGJ_STRING &&
		!(v->type == TGJ_NUMBER && integer_text(&v->num, buf) >= 0))
		return NULL;
	return v;
}

/* ---------------------------------------------------------------- evaluation */

static bool
list_has_string(const Cond *c, const char *s, size_t len)
{
	int			lo = 0,
				hi = c->nstrs;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		int			r = bytes_cmp(c->strs[mid].s, c->strs[mid].len, s, len);

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
list_has_number(const Cond *c, const TgDecimal *d)
{
	int			lo = 0,
				hi = c->nnums;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		int			r = tg_decimal_cmp(&c->nums[mid], d);

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
scalar_equal(const Cond *c, const TgJson *v)
{
	if (v->type != c->type)
		return false;
	if (v->type == TGJ_STRING)
		return v->len == c->str.len && memcmp(v->str, c->str.s, v->len) == 0;
	if (v->type == TGJ_NUMBER)
		return tg_decimal_cmp(&v->num, &c->num) == 0;
	return true;					/* the same boolean */
}

static bool
list_has(const Cond *c, const TgJson *v)
{
	switch (v->type)
	{
		case TGJ_STRING:
			return list_has_string(c, v->str, v->len);
		case TGJ_NUMBER:
			return list_has_number(c, &v->num);
		case TGJ_TRUE:
			return c->has_true;
		case TGJ_FALSE:
			return c->has_false;
		default:
			return false;
	}
}

static bool
contains_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	size_t		i;

	if (nlen == 0)
		return true;
	for (i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

static bool
order_holds(Op op, int cmp)
{
	switch (op)
	{
		case OP_LT:
		case OP_SEMVER_LT:
			return cmp < 0;
		case OP_LTE:
		case OP_SEMVER_LTE:
			return cmp <= 0;
		case OP_GT:
		case OP_SEMVER_GT:
			return cmp > 0;
		case OP_GTE:
		case OP_SEMVER_GTE:
			return cmp >= 0;
		default:
			return cmp == 0;
	}
}

/* scalar_holds: the condition for one value that is not an array. */
static bool
scalar_holds(const Cond *c, const TgJson *v)
{
	Semver		sv;
	int64_t		us;
	bool		has_fraction;

	if (!is_scalar(v))
		return false;			/* objects and null: nothing holds */
	switch (c->op)
	{
		case OP_EQUALS:
			return scalar_equal(c, v);
		case OP_NOT_EQUALS:
			return !scalar_equal(c, v);
		case OP_IN:
			return list_has(c, v);
		case OP_NOT_IN:
			return !list_has(c, v);
		case OP_STARTS_WITH:
			return v->type == TGJ_STRING && v->len >= c->str.len &&
				memcmp(v->str, c->str.s, c->str.len) == 0;
		case OP_ENDS_WITH:
			return v->type == TGJ_STRING && v->len >= c->str.len &&
				memcmp(v->str + v->len - c->str.len, c->str.s, c->str.len) == 0;
		case OP_CONTAINS:
			return v->type == TGJ_STRING && contains_bytes(v->str, v->len, c->str.s, c->str.len);
		case OP_LT:
		case OP_LTE:
		case OP_GT:
		case OP_GTE:
			return v->type == TGJ_NUMBER && order_holds(c->op, tg_decimal_cmp(&v->num, &c->num));
		case OP_SEMVER_EQ:
		case OP_SEMVER_LT:
		case OP_SEMVER_LTE:
		case OP_SEMVER_GT:
		case OP_SEMVER_GTE:
			return v->type == TGJ_STRING && semver_parse(v->str, v->len, &sv) &&
				order_holds(c->op, semver_cmp(&sv, &c->semver));
		case OP_BEFORE:
		case OP_AFTER:
			if (v->type != TGJ_STRING || !parse_rfc3339(v->str, v->len, &us, &has_fraction))
				return false;
			return c->op == OP_BEFORE ? us < c->at_us : us > c->at_us;
		case NUM_OPS:
			break;
	}
	return false;
}

/*
 * attr_cond_holds: an array attribute holds when some element does, or for not_equals and
 * not_in when every element does (so [] holds only for those two).
 */
static bool
attr_cond_holds(const Cond *c, const TgContext *ctx)
{
	const TgJson *v = get_attr(ctx, &c->attr);
	const TgJson *e;
	bool		every = c->op == OP_NOT_EQUALS || c->op == OP_NOT_IN;

	if (v == NULL)
		return false;
	if (v->type != TGJ_ARRAY)
		return scalar_holds(c, v);
	for (e = v->child; e != NULL; e = e->next)
		if (scalar_holds(c, e) != every)
			return !every;
	return every;
}

typedef enum WindowState
{
	WINDOW_CLOSED,
	WINDOW_OPEN,
	WINDOW_ERROR
} WindowState;

static WindowState
window_state(const Window *w, int64_t at_us, const TgHooks *hooks)
{
	int64_t		local_us = at_us;
	int64_t		secs,
				day;
	int			tod,
				weekday,
				yesterday;
	bool		open;

	if (w->has_from && at_us < w->from_us)
		return WINDOW_CLOSED;
	if (w->has_until && at_us >= w->until_us)
		return WINDOW_CLOSED;
	if (!w->recurring)
		return WINDOW_OPEN;
	if (w->tz != NULL &&
		(hooks == NULL || hooks->local_time == NULL ||
		 !hooks->local_time(hooks->arg, w->tz, at_us, &local_us)))
		return WINDOW_ERROR;
	/* The wall-clock time of day and weekday of the local date; 1970-01-01 was a Thursday. */
	secs = tg_floor_div(local_us, USECS_PER_SEC);
	day = tg_floor_div(secs, SECS_PER_DAY);
	tod = (int) (secs - day * SECS_PER_DAY);
	weekday = (int) ((day % 7 + 7 + 3) % 7);
	yesterday = (weekday + 6) % 7;
	if (w->start < w->end)
		open = (w->days & (1 << weekday)) && tod >= w->start && tod < w->end;
	else
	{
		/* Over midnight: from start on a listed day until end on the next day. */
		open = ((w->days & (1 << weekday)) && tod >= w->start) ||
			((w->days & (1 << yesterday)) && tod < w->end);
	}
	return open ? WINDOW_OPEN : WINDOW_CLOSED;
}

typedef enum Match
{
	NO_MATCH,
	MATCH,
	MATCH_ERROR
} Match;

static Match
rule_matches(const Rule *rule, const TgContext *ctx, int64_t at_us, const TgHooks *hooks,
			 const char **error)
{
	int			i;

	for (i = 0; i < rule->nconds; i++)
	{
		const Cond *c = &rule->conds[i];

		if (c->window != NULL)
		{
			WindowState s = window_state(c->window, at_us, hooks);

			if (s == WINDOW_ERROR)
			{
				*error = c->window->error;
				return MATCH_ERROR;
			}
			if (s == WINDOW_CLOSED)
				return NO_MATCH;
		}
		else if (!attr_cond_holds(c, ctx))
			return NO_MATCH;
	}
	return MATCH;
}

/* bucket_of: the bucket of the rule's bucketing attribute, false when there is none. */
static bool
bucket_of(const TgToggle *t, const Rule *rule, const TgContext *ctx, int *bucket)
{
	const TgJson *v = context_get(ctx, &rule->by);
	char		buf[MAX_INTEGER_KEY_DIGITS + 2];
	Murmur		m = t->prefix;
	int			n;

	if (v == NULL)
		return false;
	if (v->type == TGJ_STRING)
		murmur_feed(&m, v->str, v->len);
	else if (v->type == TGJ_NUMBER && (n = integer_text(&v->num, buf)) >= 0)
		murmur_feed(&m, buf, (size_t) n);
	else
		return false;
	*bucket = (int) (murmur_final(&m) % 10000);
	return true;
}

void
tg_evaluate(const TgToggle *toggle, bool is_active, const TgContext *context,
			int64_t at_us, const TgHooks *hooks, TgResult *result)
{
	int			r;

	result->active = false;
	result->variant = NULL;
	result->value = NULL;
	result->rule = -1;
	result->error = NULL;
	if (!is_active)
	{
		result->reason = TG_DISABLED;
		return;
	}
	if (toggle == NULL || toggle->nrules == 0)
	{
		result->active = true;
		result->reason = TG_DEFAULT;
		return;
	}
	for (r = 0; r < toggle->nrules; r++)
	{
		const Rule *rule = &toggle->rules[r];
		Match		m = rule_matches(rule, context, at_us, hooks, &result->error);
		int			bucket,
					i;

		if (m == MATCH_ERROR)
		{
			result->reason = TG_ERROR;
			result->rule = r;
			return;
		}
		if (m == NO_MATCH)
			continue;
		switch (rule->serve)
		{
			case SERVE_TRUE:
				result->active = true;
				break;
			case SERVE_FALSE:
				break;
			case SERVE_VARIANT:
				result->active = true;
				result->variant = toggle->variants[rule->variant].name;
				result->value = toggle->variants[rule->variant].value;
				break;
			case SERVE_PERCENTAGE:
				if (!bucket_of(toggle, rule, context, &bucket))
					continue;
				result->active = bucket < rule->threshold;
				break;
			case SERVE_SPLIT:
				if (!bucket_of(toggle, rule, context, &bucket))
					continue;
				for (i = 0; i < rule->nsplit - 1 && bucket >= rule->split_upto[i]; i++)
					;
				result->active = true;
				result->variant = toggle->variants[rule->split_variant[i]].name;
				result->value = toggle->variants[rule->split_variant[i]].value;
				break;
		}
		result->reason = rule->reason;
		result->rule = r;
		return;
	}
	result->reason = TG_DEFAULT;
}

static bool
same_text(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool
tg_result_equal(const TgResult *a, const TgResult *b)
{
	return a->active == b->active && a->reason == b->reason &&
		same_text(a->variant, b->variant) && same_text(a->value, b->value);
}

const char *
tg_reason_name(TgReason reason)
{
	switch (reason)
	{
		case TG_DISABLED:
			return "DISABLED";
		case TG_TARGETING_MATCH:
			return "TARGETING_MATCH";
		case TG_SPLIT:
			return "SPLIT";
		case TG_DEFAULT:
			return "DEFAULT";
		case TG_SCHEDULE:
			return "SCHEDULE";
		case TG_ERROR:
			return "ERROR";
	}
	return "ERROR";
}

int
tg_rule_count(const TgToggle *toggle)
{
	return toggle ? toggle->nrules : 0;
}

int
tg_variant_count(const TgToggle *toggle)
{
	return toggle ? toggle->nvariants : 0;
}

bool
tg_time_dependent(const TgToggle *toggle)
{
	return toggle != NULL && toggle->nwindows > 0;
}

uint64_t
tg_time_signature(const TgToggle *toggle, int64_t at_us, const TgHooks *hooks)
{
	uint64_t	sig = 0;
	int			i;

	if (toggle == NULL)
		return 0;
	for (i = 0; i < toggle->nwindows; i++)
	{
		WindowState s = window_state(toggle->windows[i], at_us, hooks);

		if (s == WINDOW_OPEN)
			sig |= UINT64_C(1) << i;
		else if (s == WINDOW_ERROR)
			sig |= UINT64_C(1) << 63;
	}
	return sig;
}
