/*
 * zoneinfo.c — UTC offsets of IANA time zones from TZif files (RFC 8536), for the time
 * windows of the rule language: the 64-bit transition table, and the POSIX TZ string of
 * the footer for instants after the last transition.
 *
 * Zones are parsed on first use and kept in a small most-recently-used cache; a zone that
 * could not be read is asked for again at most once a minute.  Leap-second records
 * ("right/" zones) are ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "targeting.h"
#include "zoneinfo.h"

#define MAX_ZONES 64
#define MAX_ZONE_NAME 255
#define MAX_TZIF_BYTES (1024 * 1024)
#define RETRY_UNKNOWN_SECS 60
#define SECS_PER_DAY 86400

/* One date rule of a POSIX TZ string: Jn, n or Mm.w.d, and the local time of day. */
typedef struct RuleDate
{
	char		kind;			/* 'J', 'N' or 'M' */
	int			day;			/* J: 1..365, N: 0..365, M: weekday 0 (Sunday)..6 */
	int			month;			/* M: 1..12 */
	int			week;			/* M: 1..5, 5 = the last */
	int32_t		time;			/* seconds, may be negative or beyond 24 h (RFC 8536) */
} RuleDate;

/* The POSIX TZ string of a TZif footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
typedef struct PosixRule
{
	int32_t		std_off;		/* seconds east of UTC */
	int32_t		dst_off;
	bool		has_dst;
	RuleDate	start;			/* in standard time */
	RuleDate	end;			/* in daylight time */
} PosixRule;

typedef struct Zone Zone;

struct Zone
{
	Zone	   *next;			/* most recently used first */
	char		name[MAX_ZONE_NAME + 1];
	bool		known;
	time_t		checked_at;		/* unknown zones: when the file was last tried */
	int			ntrans;
	int64_t    *trans;			/* transition instants, ascending */
	uint8_t    *trans_type;
	int			ntypes;
	int32_t    *utoff;			/* per type: seconds east of UTC */
	bool		has_rule;
	PosixRule	rule;
};

struct ZoneCache
{
	char	   *root;
	Zone	   *zones;
	int			nzones;
};

static ZoneCache *default_cache;

/* ---------------------------------------------------------------- calendar (with common/targeting.c) */

/* year_of_day: the year holding day number days since 1970-01-01. */
static int64_t
year_of_day(int64_t days)
{
	int64_t		y = 1970 + tg_floor_div(days * 400, 146097);

	while (tg_days_from_civil(y, 1, 1) > days)
		y--;
	while (tg_days_from_civil(y + 1, 1, 1) <= days)
		y++;
	return y;
}

/* ---------------------------------------------------------------- POSIX TZ strings */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
parse_number(const char **p, int min, int max, int *v)
{
	int			n = 0,
				digits = 0;

	while (is_digit(**p) && digits < 4)
	{
		n = n * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || n < min || n > max)
		return false;
	*v = n;
	return true;
}

/* parse_abbrev: an abbreviation, alphabetic (3 or more) or <quoted>. */
static bool
parse_abbrev(const char **p)
{
	const char *s = *p;

	if (*s == '<')
	{
		while (*s != '\0' && *s != '>')
			s++;
		if (*s != '>' || s - *p < 4)
			return false;
		*p = s + 1;
		return true;
	}
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
		s++;
	if (s - *p < 3)
		return false;
	*p = s;
	return true;
}

/* parse_hms: [+-]hh[:mm[:ss]] in seconds, hours up to max_hours. */
static bool
parse_hms(const char **p, int max_hours, int32_t *secs)
{
	int			sign = 1,
				h,
				m = 0,
				s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (!parse_number(p, 0, max_hours, &h))
		return false;
	if (**p == ':')
	{
		(*p)++;
		if (!parse_number(p, 0, 59, &m))
			return false;
		if (**p == ':')
		{
			(*p)++;
			if (!parse_number(p, 0, 59, &s))
				return false;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool
parse_rule_date(const char **p, RuleDate *d)
{
	d->time = 2 * 3600;
	if (**p == 'J')
	{
		(*p)++;
		d->kind = 'J';
		if (!parse_number(p, 1, 365, &d->day))
			return false;
	}
	else if (**p == 'M')
	{
		(*p)++;
		d->kind = 'M';
		if (!parse_number(p, 1, 12, &d->month) || *(*p)++ != '.' ||
			!parse_number(p, 1, 5, &d->week) || *(*p)++ != '.' ||
			!parse_number(p, 0, 6, &d->day))
			return false;
	}
	else
	{
		d->kind = 'N';
		if (!parse_number(p, 0, 365, &d->day))
			return false;
	}
	if (**p == '/')
	{
		(*p)++;
		if (!parse_hms(p, 167, &d->time))
			return false;
	}
	return true;
}

/*
 * parse_posix_tz parses a TZ string such as "EST5EDT,M3.2.0,M11.1.0" (POSIX offsets count
 * west of UTC, hence the negations).
 */
static bool
parse_posix_tz(const char *s, PosixRule *r)
{
	int32_t		off;

	memset(r, 0, sizeof(PosixRule));
	if (!parse_abbrev(&s) || !parse_hms(&s, 24, &off))
		return false;
	r->std_off = -off;
	if (*s == '\0')
		return true;
	if (!parse_abbrev(&s))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s != ',' && *s != '\0')
	{
		if (!parse_hms(&s, 24, &off))
			return false;
		r->dst_off = -off;
	}
	if (*s == '\0')
	{
		/* No rule given: POSIX leaves it to the implementation; glibc's is the US one. */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s++ != ',' || !parse_rule_date(&s, &r->start) || *s++ != ',' ||
		!parse_rule_date(&s, &r->end))
		return false;
	return *s == '\0';
}

/* rule_day: the day (since 1970-01-01) on which date falls in year y. */
static int64_t
rule_day(const RuleDate *d, int64_t y)
{
	int64_t		jan1 = tg_days_from_civil(y, 1, 1);
	int64_t		first,
				day,
				next_month;
	int			first_wday;

	switch (d->kind)
	{
		case 'J':
			/* 1..365, February 29th never counted */
			return jan1 + d->day - 1 + (tg_is_leap_year(y) && d->day >= 60 ? 1 : 0);
		case 'N':
			return jan1 + d->day;
		default:
			break;
	}
	first = tg_days_from_civil(y, d->month, 1);
	next_month = d->month == 12 ? tg_days_from_civil(y + 1, 1, 1) :
		tg_days_from_civil(y, d->month + 1, 1);
	/* 1970-01-01 was a Thursday (4, counting from Sunday = 0). */
	first_wday = (int) ((first % 7 + 7 + 4) % 7);
	day = first + (d->day - first_wday + 7) % 7 + (int64_t) (d->week - 1) * 7;
	while (day >= next_month)
		day -= 7;
	return day;
}

/*
 * rule_offset: the offset at t under a POSIX rule.  The latest transition at or before t
 * decides; the neighbouring years are looked at too, as a transition time may cross the
 * new year.  On a tie the start of daylight time wins, which keeps "DST all year" rules
 * (start Jan 1 00:00, end Dec 31 24:00 + the DST difference) in daylight time.
 */
static int32_t
rule_offset(const PosixRule *r, int64_t t)
{
	int64_t		y = year_of_day(tg_floor_div(t + r->std_off, SECS_PER_DAY));
	int64_t		best = INT64_MIN;
	int32_t		off = r->std_off;
	int64_t		yy;

	if (!r->has_dst)
		return r->std_off;
	for (yy = y - 1; yy <= y + 1; yy++)
	{
		int64_t		start = rule_day(&r->start, yy) * SECS_PER_DAY + r->start.time - r->std_off;
		int64_t		end = rule_day(&r->end, yy) * SECS_PER_DAY + r->end.time - r->dst_off;

		if (end <= t && end > best)
		{
			best = end;
			off = r->std_off;
		}
		if (start <= t && start >= best)
		{
			best = start;
			off = r->dst_off;
		}
	}
	return off;
}

/* ---------------------------------------------------------------- TZif files */

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

typedef struct TzifHeader
{
	char		version;
	uint32_t	isutcnt,
				isstdcnt,
				leapcnt,
				timecnt,
				typecnt,
				charcnt;
} TzifHeader;

static bool
read_header(const unsigned char *p, size_t avail, TzifHeader *h)
{
	if (avail < 44 || memcmp(p, "TZif", 4) != 0)
		return false;
	h->version = (char) p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	/* Bounds that also keep the size arithmetic below from overflowing. */
	return h->typecnt >= 1 && h->typecnt <= 256 && h->timecnt <= MAX_TZIF_BYTES &&
		h->leapcnt <= MAX_TZIF_BYTES && h->charcnt <= MAX_TZIF_BYTES &&
		h->isutcnt <= h->typecnt && h->isstdcnt <= h->typecnt;
}

static size_t
data_size(const TzifHeader *h, size_t time_size)
{
	return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt +
		h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

/*
 * parse_tzif fills z from a TZif file: for version 2 and later from the second, 64-bit
 * header and data block and the footer; for version 1 from the 32-bit block.
 */
static bool
parse_tzif(const unsigned char *buf, size_t len, Zone *z)
{
	TzifHeader	h;
	const unsigned char *p = buf;
	size_t		time_size = 4;
	size_t		size;
	uint32_t	i;

	if (!read_header(p, len, &h))
		return false;
	size = data_size(&h, 4);
	if (h.version >= '2')
	{
		if (len - 44 < size)
			return false;
		p += 44 + size;
		if (!read_header(p, len - (size_t) (p - buf), &h))
			return false;
		time_size = 8;
		size = data_size(&h, 8);
	}
	if ((size_t) (buf + len - p) - 44 < size)
		return false;
	p += 44;

	z->ntrans = (int) h.timecnt;
	z->ntypes = (int) h.typecnt;
	z->trans = malloc(sizeof(int64_t) * (h.timecnt + 1));
	z->trans_type = malloc(h.timecnt + 1);
	z->utoff = malloc(sizeof(int32_t) * h.typecnt);
	if (z->trans == NULL || z->trans_type == NULL || z->utoff == NULL)
		return false;
	for (i = 0; i < h.timecnt; i++)
	{
		z->trans[i] = time_size == 8 ? be64(p + i * 8) : (int32_t) be32(p + i * 4);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			return false;
	}
	p += h.timecnt * time_size;
	for (i = 0; i < h.timecnt; i++)
	{
		if (p[i] >= h.typecnt)
			return false;
		z->trans_type[i] = p[i];
	}
	p += h.timecnt;
	for (i = 0; i < h.typecnt; i++)
		z->utoff[i] = (int32_t) be32(p + i * 6);
	p += size - h.timecnt * time_size - h.timecnt;

	/* The footer: "\n" TZ string "\n", in version 2 and later. */
	z->has_rule = false;
	if (time_size == 8 && p < buf + len && *p == '\n')
	{
		const unsigned char *nl = memchr(p + 1, '\n', (size_t) (buf + len - p - 1));
		char		tz[128];
		size_t		n;

		if (nl != NULL && (n = (size_t) (nl - p - 1)) > 0 && n < sizeof(tz))
		{
			memcpy(tz, p + 1, n);
			tz[n] = '\0';
			/* An unreadable footer leaves the last transition's type in force. */
			z->has_rule = parse_posix_tz(tz, &z->rule);
		}
	}
	return true;
}

/*
 * valid_name: a zone name that stays inside the root: letters, digits, '/', '_', '-',
 * '+', '.', no empty component and none starting with '.' (so no "..").
 */
static bool
valid_name(const char *s)
{
	size_t		len = strlen(s);
	size_t		i;

	if (len == 0 || len > MAX_ZONE_NAME)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];
		bool		first = i == 0 || s[i - 1] == '/';

		if (c == '/' && (first || i + 1 == len))
			return false;
		if (c == '.' && first)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
			  c == '/' || c == '_' || c == '-' || c == '+' || c == '.'))
			return false;
	}
	return true;
}

static void
zone_clear(Zone *z)
{
	free(z->trans);
	free(z->trans_type);
	free(z->utoff);
	z->trans = NULL;
	z->trans_type = NULL;
	z->utoff = NULL;
	z->ntrans = z->ntypes = 0;
	z->has_rule = false;
}

/* zone_load reads root/name into z; false when it is missing or not a good TZif file. */
static bool
zone_load(const ZoneCache *cache, Zone *z)
{
	char		path[PATH_MAX];
	struct stat st;
	unsigned char *buf;
	size_t		got = 0;
	int			fd;
	bool		ok;

	zone_clear(z);
	if ((size_t) snprintf(path, sizeof(path), "%s/%s", cache->root, z->name) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 44 ||
		st.st_size > MAX_TZIF_BYTES || (buf = malloc((size_t) st.st_size)) == NULL)
	{
		close(fd);
		return false;
	}
	while (got < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + got, (size_t) st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t) n;
	}
	close(fd);
	ok = got == (size_t) st.st_size && parse_tzif(buf, got, z);
	free(buf);
	if (!ok)
		zone_clear(z);
	return ok;
}

static time_t
monotonic_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* zone_get: the cached zone called name, read when not cached yet, moved to the front. */
static Zone *
zone_get(ZoneCache *cache, const char *name)
{
	Zone	  **link = &cache->zones;
	Zone	   *z;
	Zone	  **last_link = NULL;

	for (z = cache->zones; z != NULL; link = &z->next, z = z->next)
	{
		if (strcmp(z->name, name) == 0)
		{
			*link = z->next;
			break;
		}
		last_link = link;
	}
	if (z == NULL)
	{
		if (cache->nzones >= MAX_ZONES && last_link != NULL)
		{
			/* Evict the least recently used: the last of the list. */
			Zone	   *victim = *last_link;

			*last_link = NULL;
			zone_clear(victim);
			free(victim);
			cache->nzones--;
		}
		z = calloc(1, sizeof(Zone));
		if (z == NULL)
			return NULL;
		strcpy(z->name, name);
		z->known = zone_load(cache, z);
		z->checked_at = monotonic_secs();
		cache->nzones++;
	}
	else if (!z->known && monotonic_secs() - z->checked_at >= RETRY_UNKNOWN_SECS)
	{
		z->known = zone_load(cache, z);
		z->checked_at = monotonic_secs();
	}
	z->next = cache->zones;
	cache->zones = z;
	return z;
}

/* zone_offset: the UTC offset in force at instant t (seconds since the epoch). */
static int32_t
zone_offset(const Zone *z, int64_t t)
{
	int			lo,
				hi;

	if (z->ntrans == 0)
		return z->has_rule ? rule_offset(&z->rule, t) : z->utoff[0];
	/* Before the first transition: type 0 (RFC 8536 section 3.2). */
	if (t < z->trans[0])
		return z->utoff[0];
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_offset(&z->rule, t);
	/* The last transition at or before t. */
	lo = 0;
	hi = z->ntrans - 1;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo + 1) / 2;

		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return z->utoff[z->trans_type[lo]];
}

ZoneCache *
zoneinfo_cache_new(const char *root)
{
	ZoneCache  *cache = calloc(1, sizeof(ZoneCache));

	if (cache == NULL)
		return NULL;
	cache->root = strdup(root != NULL ? root : ZONEINFO_DEFAULT_ROOT);
	if (cache->root == NULL)
	{
		free(cache);
		return NULL;
	}
	return cache;
}

void
zoneinfo_cache_free(ZoneCache *cache)
{
	Zone	   *z;

	if (cache == NULL)
		return;
	while ((z = cache->zones) != NULL)
	{
		cache->zones = z->next;
		zone_clear(z);
		free(z);
	}
	free(cache->root);
	free(cache);
}

void
zoneinfo_free_default(void)
{
	zoneinfo_cache_free(default_cache);
	default_cache = NULL;
}

bool
zoneinfo_local_time(void *arg, const char *tz, int64_t t_us, int64_t *local_us)
{
	ZoneCache  *cache = arg;
	Zone	   *z;
	int64_t		t = tg_floor_div(t_us, 1000000);

	if (tz == NULL || !valid_name(tz))
		return false;
	/* Keep t_us + offset in range; no zone data speaks of such instants anyway. */
	if (t_us > INT64_MAX / 2 || t_us < INT64_MIN / 2)
		return false;
	if (cache == NULL)
	{
		if (default_cache == NULL)
			default_cache = zoneinfo_cache_new(NULL);
		if ((cache = default_cache) == NULL)
			return false;
	}
	z = zone_get(cache, tz);
	if (z == NULL || !z->known)
		return false;
	*local_us = t_us + (int64_t) zone_offset(z, t) * 1000000;
	return true;
}
