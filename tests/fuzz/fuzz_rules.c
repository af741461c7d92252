/*
 * fuzz_rules.c — the rule language (common/targeting.c, common/tg_json.c) on hostile rules,
 * variants and contexts: compile, and when that succeeds, evaluate and take the time
 * signature at fixed instants, with pushd's zoneinfo reader for time zones.
 *
 * Input: one options byte, then rules NUL variants NUL context NUL at NUL name, any of them
 * missing or empty.  Options: bit 0 TG_CHECK_ZONES, bit 1 the toggle is inactive, bits 2-7
 * (when not 0) the number of the allocation that fails, to walk the out-of-memory paths.
 * "at" is an RFC 3339 instant evaluated besides the fixed ones.
 *
 * Checks beyond the sanitizers: tg_time_signature's promise (equal signatures at two
 * instants, equal results), a result's variant and value come together, and evaluation
 * does not allocate.
 */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz.h"
#include "targeting.h"
#include "zoneinfo.h"

static unsigned allocations;
static unsigned fail_at;		/* 0: no allocation fails */

static void *
fuzz_alloc(void *arg, size_t size)
{
	(void) arg;
	if (++allocations == fail_at)
		return NULL;
	return malloc(size);
}

static void
fuzz_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

/* NULL arg: the process's default zone cache, the system's /usr/share/zoneinfo. */
static const TgHooks hooks = {fuzz_alloc, fuzz_free, zoneinfo_local_time, NULL};

/* Instants pushd may evaluate at: around DST changes, weekdays, 2038, far years. */
static const int64_t instants[] = {
	INT64_C(-2208988800000000),	/* 1900-01-01T00:00:00Z */
	0,
	INT64_C(1711846799000000),	/* 2024-03-31T00:59:59Z, before CEST */
	INT64_C(1711846800000000),	/* 2024-03-31T01:00:00Z */
	INT64_C(1729990799000000),	/* 2024-10-27T00:59:59Z, before CET */
	INT64_C(1729990800000000),	/* 2024-10-27T01:00:00Z */
	INT64_C(1767614400000000),	/* 2026-01-05T12:00:00Z, a Monday */
	INT64_C(1781393400000000),	/* 2026-06-13T23:30:00Z, a Saturday night */
	INT64_C(1798131600000000),	/* 2026-12-24T17:00:00Z */
	INT64_C(2147483648000000),	/* 2038-01-19T03:14:08Z */
	INT64_C(4107564000000000),	/* 2100-03-01T06:00:00Z */
	INT64_C(32519655900000000),	/* 3000-07-04T21:45:00Z */
};

#define NUM_FIXED (sizeof(instants) / sizeof(instants[0]))
#define MAX_INSTANTS (NUM_FIXED + 2)

static void
check_result(const TgResult *r)
{
	if ((r->variant == NULL) != (r->value == NULL))
	{
		fprintf(stderr, "variant and value not given together\n");
		abort();
	}
	if (r->reason == TG_ERROR && r->error == NULL)
	{
		fprintf(stderr, "TG_ERROR without a message\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzPart	part[5];
	unsigned	options;
	char		err[256];
	char	   *name;
	TgToggle   *toggle;
	TgContext  *context;
	int64_t		at[MAX_INSTANTS];
	uint64_t	sig[MAX_INSTANTS];
	TgResult	result[MAX_INSTANTS];
	size_t		nat = 0;
	int64_t		extra;

	if (size == 0)
		return 0;
	options = data[0];
	fuzz_split(data + 1, size - 1, part, 5);
	allocations = 0;
	fail_at = options >> 2;

	name = fuzz_cstring(part[4]);
	toggle = tg_compile(name, part[0].s, part[0].len, part[1].s, part[1].len,
						(options & 1) ? TG_CHECK_ZONES : 0, &hooks, err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	if (toggle == NULL)
	{
		if (err[0] == '\0')
		{
			fprintf(stderr, "tg_compile failed without a message\n");
			abort();
		}
		free(name);
		return 0;
	}
	context = tg_context_parse(part[2].s, part[2].len, &hooks, err, sizeof(err));

	for (size_t i = 0; i < NUM_FIXED; i++)
		at[nat++] = instants[i];
	if (tg_parse_rfc3339(part[3].s, part[3].len, &extra))
	{
		at[nat++] = extra;
		at[nat++] = extra - 1;
	}
	for (size_t i = 0; i < nat; i++)
	{
		unsigned	before = allocations;

		sig[i] = tg_time_signature(toggle, at[i], &hooks);
		tg_evaluate(toggle, !(options & 2), context, at[i], &hooks, &result[i]);
		check_result(&result[i]);
		if (allocations != before)
		{
			fprintf(stderr, "evaluation allocated\n");
			abort();
		}
		if (!tg_time_dependent(toggle) && sig[i] != 0)
		{
			fprintf(stderr, "a signature without windows\n");
			abort();
		}
	}
	/* tg_time_signature's promise, which pushd's once-a-second re-evaluation rests on. */
	for (size_t i = 0; i < nat; i++)
		for (size_t j = i + 1; j < nat; j++)
			if (sig[i] == sig[j] && !tg_result_equal(&result[i], &result[j]))
			{
				fprintf(stderr, "equal time signatures %016llx at %lld and %lld, "
						"different results %s/%s and %s/%s\n",
						(unsigned long long) sig[i], (long long) at[i], (long long) at[j],
						tg_reason_name(result[i].reason), result[i].active ? "on" : "off",
						tg_reason_name(result[j].reason), result[j].active ? "on" : "off");
				abort();
			}
	/* Extreme instants: no promise, but no crash either. */
	{
		TgResult	r;

		tg_evaluate(toggle, true, context, INT64_MIN, &hooks, &r);
		tg_evaluate(toggle, true, context, INT64_MAX, &hooks, &r);
		tg_time_signature(toggle, INT64_MIN, &hooks);
		tg_time_signature(toggle, INT64_MAX, &hooks);
	}

	tg_context_free(context, &hooks);
	tg_toggle_free(toggle, &hooks);
	free(name);
	return 0;
}
