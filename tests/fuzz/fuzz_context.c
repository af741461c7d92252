/*
 * fuzz_context.c — a client's context (tg_context_parse, common/tg_json.c) as pushd gets it
 * from a client, evaluated against fixed toggles that use every operator, bucketing and
 * windows.  Input: the context's JSON text.
 */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz.h"
#include "targeting.h"
#include "zoneinfo.h"

static void *
fuzz_alloc(void *arg, size_t size)
{
	(void) arg;
	return malloc(size);
}

static void
fuzz_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

static const TgHooks hooks = {fuzz_alloc, fuzz_free, zoneinfo_local_time, NULL};

/* Rules and variants of the fixed toggles; every one must compile. */
static const char *const toggle_docs[][2] = {
	{"[{\"when\":[{\"attribute\":\"country\",\"op\":\"in\",\"value\":[\"DE\",\"AT\",1,true]},"
	 "{\"attribute\":\"plan\",\"op\":\"not_equals\",\"value\":\"free\"}],\"serve\":true},"
	 "{\"when\":[{\"attribute\":\"email\",\"op\":\"ends_with\",\"value\":\"@example.com\"}],"
	 "\"serve\":{\"variant\":\"staff\"}},"
	 "{\"serve\":{\"split\":[{\"variant\":\"a\",\"weight\":1},{\"variant\":\"b\",\"weight\":2.5},"
	 "{\"variant\":\"staff\",\"weight\":0}]}}]",
	 "{\"a\":\"A\",\"b\":{\"x\":[1,2]},\"staff\":true}"},
	{"[{\"when\":[{\"attribute\":\"age\",\"op\":\"gte\",\"value\":18},"
	 "{\"attribute\":\"age\",\"op\":\"lt\",\"value\":6.5e1},"
	 "{\"attribute\":\"score\",\"op\":\"not_in\",\"value\":[0,-1e3,0.5]}],"
	 "\"serve\":{\"percentage\":12.34,\"by\":\"org\"}},"
	 "{\"when\":[{\"attribute\":\"tags\",\"op\":\"contains\",\"value\":\"beta\"}],"
	 "\"serve\":{\"percentage\":50}}]", NULL},
	{"[{\"when\":[{\"attribute\":\"version\",\"op\":\"semver_gte\",\"value\":\"1.2.0-rc.1\"},"
	 "{\"attribute\":\"version\",\"op\":\"semver_lt\",\"value\":\"2.0.0\"}],\"serve\":true},"
	 "{\"when\":[{\"attribute\":\"version\",\"op\":\"semver_eq\",\"value\":\"1.0.0+build\"}],"
	 "\"serve\":false},"
	 "{\"when\":[{\"attribute\":\"signup\",\"op\":\"before\",\"value\":\"2026-01-01T00:00:00Z\"},"
	 "{\"attribute\":\"signup\",\"op\":\"after\",\"value\":\"2020-02-29T12:00:00.5+05:30\"}],"
	 "\"serve\":true}]", NULL},
	{"[{\"when\":[{\"attribute\":\"key\",\"op\":\"starts_with\",\"value\":\"user-\"},"
	 "{\"window\":{\"start\":\"22:00\",\"end\":\"06:00\",\"days\":[\"fri\",\"sat\"],"
	 "\"tz\":\"Europe/Berlin\"}}],\"serve\":{\"variant\":\"night\"}},"
	 "{\"when\":[{\"attribute\":\"beta\",\"op\":\"equals\",\"value\":true},"
	 "{\"window\":{\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2027-01-01T00:00:00Z\"}}],"
	 "\"serve\":{\"split\":[{\"variant\":\"night\",\"weight\":1},{\"variant\":\"day\",\"weight\":1}],"
	 "\"by\":\"key\"}}]",
	 "{\"night\":\"dark\",\"day\":\"light\"}"},
};

#define NUM_TOGGLES (sizeof(toggle_docs) / sizeof(toggle_docs[0]))

static TgToggle *toggles[NUM_TOGGLES];

static void
compile_toggles(void)
{
	char		err[256];

	for (size_t i = 0; i < NUM_TOGGLES; i++)
	{
		const char *rules = toggle_docs[i][0];
		const char *variants = toggle_docs[i][1];

		toggles[i] = tg_compile("fuzz", rules, strlen(rules), variants,
								variants != NULL ? strlen(variants) : 0, 0, &hooks,
								err, sizeof(err));
		if (toggles[i] == NULL)
		{
			fprintf(stderr, "fixed toggle %zu: %s\n", i, err);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t instants[] = {
		INT64_C(1767614400000000),	/* 2026-01-05T12:00:00Z, a Monday */
		INT64_C(1781393400000000),	/* 2026-06-13T23:30:00Z, a Saturday night */
	};
	char		err[256];
	TgContext  *context;

	if (toggles[0] == NULL)
		compile_toggles();
	context = tg_context_parse((const char *) data, size, &hooks, err, sizeof(err));
	if (context == NULL && err[0] == '\0')
	{
		fprintf(stderr, "tg_context_parse failed without a message\n");
		abort();
	}
	for (size_t i = 0; i < NUM_TOGGLES; i++)
		for (size_t k = 0; k < sizeof(instants) / sizeof(instants[0]); k++)
		{
			TgResult	r;

			tg_evaluate(toggles[i], true, context, instants[k], &hooks, &r);
			if ((r.variant == NULL) != (r.value == NULL) || r.reason == TG_ERROR)
			{
				fprintf(stderr, "toggle %zu: unexpected result %s\n", i,
						tg_reason_name(r.reason));
				abort();
			}
		}
	tg_context_free(context, &hooks);
	return 0;
}
