/*
 * test_targeting.c — cmocka tests of the rule language (common/targeting.c) and pushd's
 * zoneinfo reader (pushd/zoneinfo.c): MurmurHash3 reference values, rollout shares, the
 * shared vectors of tests/vectors/targeting.json, validation messages, time windows across
 * DST, and a micro-benchmark printed as info.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <cJSON.h>

#include "targeting.h"
#include "tg_json.h"
#include "zoneinfo.h"

#define VECTORS_PATH "tests/vectors/targeting.json"
#define DEFAULT_AT "2026-01-01T00:00:00Z"

/* Allocation hooks that count, to show that tg_evaluate does not allocate. */
static long allocations;
static ZoneCache *zones;

static void *
hook_alloc(void *arg, size_t size)
{
	(void) arg;
	allocations++;
	return malloc(size);
}

static void
hook_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

static bool
test_local_time(void *arg, const char *tz, int64_t t_us, int64_t *local_us)
{
	(void) arg;
	return zoneinfo_local_time(zones, tz, t_us, local_us);
}

static const TgHooks hooks = {hook_alloc, hook_free, test_local_time, NULL};

static char err[512];

static int64_t
at(const char *s)
{
	int64_t		us = 0;

	assert_true(tg_parse_rfc3339(s, strlen(s), &us));
	return us;
}

/* q: JSON written with single quotes, for readable literals; returns a static copy. */
static const char *
q(const char *s)
{
	static char buf[64][4096];
	static int	next;
	char	   *out = buf[next++ % 64];
	size_t		i;

	assert_true(strlen(s) < sizeof(buf[0]));
	for (i = 0; s[i] != '\0'; i++)
		out[i] = s[i] == '\'' ? '"' : s[i];
	out[i] = '\0';
	return out;
}

static TgToggle *
compile(const char *name, const char *rules, const char *variants, unsigned flags)
{
	return tg_compile(name, rules, rules ? strlen(rules) : 0, variants,
					  variants ? strlen(variants) : 0, flags, &hooks, err, sizeof(err));
}

/* compile_error: the error of compiling rules and variants, which must fail. */
static const char *
compile_error(const char *rules, const char *variants)
{
	TgToggle   *t = compile("t", rules, variants, TG_CHECK_ZONES);

	if (t != NULL)
	{
		tg_toggle_free(t, &hooks);
		fail_msg("compiled, but expected an error: %s", rules);
	}
	return err;
}

static void
assert_error(const char *rules, const char *variants, const char *expected)
{
	const char *got = compile_error(rules, variants);

	if (strcmp(got, expected) != 0)
		fail_msg("error\n  got:      %s\n  expected: %s", got, expected);
}

static TgContext *
context(const char *json)
{
	TgContext  *c = tg_context_parse(json, strlen(json), &hooks, err, sizeof(err));

	if (c == NULL)
		fail_msg("context %s: %s", json, err);
	return c;
}

/* eval: is_active toggle with rules/variants for context json at instant when. */
static TgResult
eval(const char *rules, const char *variants, const char *ctx_json, const char *when)
{
	TgToggle   *t = compile("t", rules, variants, 0);
	TgContext  *c;
	TgResult	r;

	if (t == NULL)
		fail_msg("compile %s: %s", rules, err);
	c = context(ctx_json);
	tg_evaluate(t, true, c, at(when), &hooks, &r);
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);
	/* variant and value point into the freed toggle: callers look at active and reason */
	r.variant = NULL;
	r.value = NULL;
	return r;
}

/* ---------------------------------------------------------------- MurmurHash3 */

static uint32_t
mm(const char *s, uint32_t seed)
{
	return tg_murmur3_32(s, strlen(s), seed);
}

static void
test_murmur3_reference_values(void **state)
{
	uint8_t		key[256];
	uint8_t		hashes[256 * 4];
	uint32_t	h;
	int			i;

	(void) state;

	/*
	 * Published MurmurHash3_x86_32 values: the test vectors collected in the answers to
	 * Stack Overflow question 14747343 ("MurmurHash3 test vectors"), which Boost.Hash2's
	 * test/murmur3_32.cpp cites, and spaolacci/murmur3's murmur_test.go for "hello".
	 */
	assert_int_equal(mm("", 0), 0);
	assert_int_equal(mm("", 1), 0x514E28B7);
	assert_int_equal(mm("", 0xffffffff), 0x81F16F39);
	assert_int_equal(tg_murmur3_32("\xff\xff\xff\xff", 4, 0), 0x76293B50);
	assert_int_equal(tg_murmur3_32("\x21\x43\x65\x87", 4, 0), 0xF55B516B);
	assert_int_equal(tg_murmur3_32("\x21\x43\x65\x87", 4, 0x5082EDEE), 0x2362F9DE);
	assert_int_equal(tg_murmur3_32("\x21\x43\x65", 3, 0), 0x7E4A8634);
	assert_int_equal(mm("test", 0), 0xBA6BD213);
	assert_int_equal(mm("test", 0x9747b28c), 0x704B81DC);
	assert_int_equal(mm("Hello, world!", 0), 0xC0363E43);
	assert_int_equal(mm("Hello, world!", 0x9747b28c), 0x24884CBA);
	assert_int_equal(mm("hello", 0), 0x248BFA47);
	assert_int_equal(mm("The quick brown fox jumps over the lazy dog", 0), 0x2E4FF723);
	assert_int_equal(mm("The quick brown fox jumps over the lazy dog", 0x9747b28c), 0x2FA826CD);

	/*
	 * SMHasher's VerificationTest (Austin Appleby, src/KeysetTest.cpp): hash the keys
	 * {}, {0}, {0,1}, ... {0..254} with seed 256 - length, then hash the concatenated
	 * little-endian results with seed 0; MurmurHash3_x86_32's value is 0xB0F57EE3.
	 */
	for (i = 0; i < 256; i++)
	{
		key[i] = (uint8_t) i;
		h = tg_murmur3_32(key, (size_t) i, (uint32_t) (256 - i));
		hashes[i * 4] = (uint8_t) h;
		hashes[i * 4 + 1] = (uint8_t) (h >> 8);
		hashes[i * 4 + 2] = (uint8_t) (h >> 16);
		hashes[i * 4 + 3] = (uint8_t) (h >> 24);
	}
	assert_int_equal(tg_murmur3_32(hashes, sizeof(hashes), 0), 0xB0F57EE3);

	/* The bucket hashes name ":" key in one go, whatever the split between them. */
	assert_int_equal(tg_bucket("new-checkout", "user-42", 7),
					 mm("new-checkout:user-42", 0) % 10000);
	assert_int_equal(tg_bucket("abc", "", 0), mm("abc:", 0) % 10000);
}

/* ---------------------------------------------------------------- rollouts */

static void
test_rollout_shares_and_monotonicity(void **state)
{
	static const int percents[] = {10, 20, 50};
	TgToggle   *toggles[3];
	int			on[3] = {0, 0, 0};
	int			i,
				k;

	(void) state;
	for (k = 0; k < 3; k++)
	{
		char		rules[64];

		snprintf(rules, sizeof(rules), "[{\"serve\": {\"percentage\": %d}}]", percents[k]);
		toggles[k] = compile("rollout", rules, NULL, 0);
		assert_non_null(toggles[k]);
	}
	for (i = 0; i < 100000; i++)
	{
		char		json[64];
		TgContext  *c;
		bool		was_on = false;

		snprintf(json, sizeof(json), "{\"key\": \"user-%d\"}", i);
		c = context(json);
		for (k = 0; k < 3; k++)
		{
			TgResult	r;

			tg_evaluate(toggles[k], true, c, 0, &hooks, &r);
			assert_int_equal(r.reason, TG_SPLIT);
			if (r.active)
				on[k]++;
			/* a key on at a lower percentage stays on at a higher one */
			if (was_on && !r.active)
				fail_msg("user-%d on at %d%% but off at %d%%", i, percents[k - 1], percents[k]);
			was_on = r.active;
		}
		tg_context_free(c, &hooks);
	}
	for (k = 0; k < 3; k++)
	{
		double		share = on[k] / 1000.0;

		print_message("info: rollout %d%%: %.3f%% of 100000 keys on\n", percents[k], share);
		assert_true(share > percents[k] - 0.5 && share < percents[k] + 0.5);
		tg_toggle_free(toggles[k], &hooks);
	}
}

static void
test_bucket_of_integer_keys(void **state)
{
	TgToggle   *t;
	TgContext  *c;
	TgResult	r;
	int			b = tg_bucket("t", "-17", 3);
	char		rules[64];

	(void) state;
	/* A percentage just above the bucket of "-17" is on; just at it, off. */
	snprintf(rules, sizeof(rules), "[{\"serve\": {\"percentage\": %d.%02d}}]",
			 (b + 1) / 100, (b + 1) % 100);
	t = compile("t", rules, NULL, 0);
	assert_non_null(t);
	c = context("{\"key\": -17}");
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_true(r.active);
	tg_context_free(c, &hooks);
	/* -17.0 and -1.7e1 are the same integer */
	c = context("{\"key\": -1.7e1}");
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_SPLIT);
	tg_context_free(c, &hooks);
	/* a fraction is no key: the rule does not match */
	c = context("{\"key\": 1.5}");
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_false(r.active);
	assert_int_equal(r.reason, TG_DEFAULT);
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);

	snprintf(rules, sizeof(rules), "[{\"serve\": {\"percentage\": %d.%02d}}]", b / 100, b % 100);
	t = compile("t", rules, NULL, 0);
	c = context("{\"key\": \"-17\"}");
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_false(r.active);
	assert_int_equal(r.reason, TG_SPLIT);
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);
}

static void
test_split_weights(void **state)
{
	const char *variants = q("{'a': 1, 'b': 2, 'c': 3}");
	TgToggle   *t = compile("split", q("[{'serve': {'split': [{'variant': 'a', 'weight': 1},"
									   "{'variant': 'b', 'weight': 0}, {'variant': 'c', 'weight': 3}]}}]"),
							variants, 0);
	int			count[3] = {0, 0, 0};
	int			i;

	(void) state;
	assert_non_null(t);
	for (i = 0; i < 20000; i++)
	{
		char		json[64];
		TgContext  *c;
		TgResult	r;
		char		key[32];
		int			b;

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(json, sizeof(json), "{\"key\": \"%s\"}", key);
		b = tg_bucket("split", key, strlen(key));
		c = context(json);
		tg_evaluate(t, true, c, 0, &hooks, &r);
		assert_true(r.active);
		assert_int_equal(r.reason, TG_SPLIT);
		/* bucket × 4 < 1 × 10000 gives a; b has weight 0; else c */
		assert_string_equal(r.variant, b * 4 < 10000 ? "a" : "c");
		count[r.variant[0] - 'a']++;
		tg_context_free(c, &hooks);
	}
	assert_int_equal(count[1], 0);
	assert_true(count[0] > 4500 && count[0] < 5500);
	tg_toggle_free(t, &hooks);
}

/* ---------------------------------------------------------------- conditions */

static void
test_conditions(void **state)
{
	char		ctx[1024];
	const char *ctx_json = q("{'key': 'user-42', 'groups': ['beta', 'staff'], 'country': 'DE',"
						"'age_days': 31, 'app_version': '2.4.1-rc.1+build.7', 'vip': true,"
						"'none': null, 'obj': {'a': 1}, 'empty': [], 'n': 1.50,"
						"'signup': '2026-01-15T10:00:00.5+01:00'}");
	static const struct
	{
		const char *cond;
		bool		holds;
	}			cases[] = {
		{"{'attribute': 'country', 'op': 'equals', 'value': 'DE'}", true},
		{"{'attribute': 'country', 'op': 'equals', 'value': 'de'}", false},
		{"{'attribute': 'n', 'op': 'equals', 'value': 1.5}", true},
		{"{'attribute': 'n', 'op': 'equals', 'value': 15e-1}", true},
		{"{'attribute': 'n', 'op': 'equals', 'value': '1.5'}", false},
		{"{'attribute': 'n', 'op': 'not_equals', 'value': '1.5'}", true},
		{"{'attribute': 'vip', 'op': 'equals', 'value': true}", true},
		{"{'attribute': 'missing', 'op': 'not_equals', 'value': 'x'}", false},
		{"{'attribute': 'missing', 'op': 'not_in', 'value': []}", false},
		{"{'attribute': 'country', 'op': 'not_in', 'value': []}", true},
		{"{'attribute': 'country', 'op': 'in', 'value': []}", false},
		{"{'attribute': 'none', 'op': 'not_equals', 'value': 'x'}", false},
		{"{'attribute': 'obj', 'op': 'not_in', 'value': ['x']}", false},
		{"{'attribute': 'groups', 'op': 'in', 'value': ['staff']}", true},
		{"{'attribute': 'groups', 'op': 'equals', 'value': 'beta'}", true},
		{"{'attribute': 'groups', 'op': 'not_in', 'value': ['admin']}", true},
		{"{'attribute': 'groups', 'op': 'not_in', 'value': ['admin', 'beta']}", false},
		{"{'attribute': 'groups', 'op': 'not_equals', 'value': 'beta'}", false},
		{"{'attribute': 'groups', 'op': 'starts_with', 'value': 'st'}", true},
		{"{'attribute': 'empty', 'op': 'not_in', 'value': ['a']}", true},
		{"{'attribute': 'empty', 'op': 'not_equals', 'value': 'a'}", true},
		{"{'attribute': 'empty', 'op': 'in', 'value': ['a']}", false},
		{"{'attribute': 'country', 'op': 'in', 'value': ['AT', 'DE', 1, true]}", true},
		{"{'attribute': 'age_days', 'op': 'in', 'value': ['31', 31.0]}", true},
		{"{'attribute': 'age_days', 'op': 'in', 'value': ['31']}", false},
		{"{'attribute': 'key', 'op': 'in', 'value': ['user-1', 'user-42']}", true},
		{"{'attribute': 'key', 'op': 'ends_with', 'value': '-42'}", true},
		{"{'attribute': 'key', 'op': 'contains', 'value': 'er-4'}", true},
		{"{'attribute': 'key', 'op': 'contains', 'value': ''}", true},
		{"{'attribute': 'age_days', 'op': 'starts_with', 'value': '3'}", false},
		{"{'attribute': 'age_days', 'op': 'gt', 'value': 30}", true},
		{"{'attribute': 'age_days', 'op': 'lte', 'value': 3.1e1}", true},
		{"{'attribute': 'age_days', 'op': 'lt', 'value': 31}", false},
		{"{'attribute': 'age_days', 'op': 'gte', 'value': -100}", true},
		{"{'attribute': 'country', 'op': 'lt', 'value': 100}", false},
		{"{'attribute': 'app_version', 'op': 'semver_lt', 'value': '2.4.1'}", true},
		{"{'attribute': 'app_version', 'op': 'semver_gt', 'value': '2.4.1-rc.0'}", true},
		{"{'attribute': 'app_version', 'op': 'semver_gt', 'value': '2.4.1-rc.2'}", false},
		{"{'attribute': 'app_version', 'op': 'semver_gt', 'value': '2.4.1-beta'}", true},
		{"{'attribute': 'app_version', 'op': 'semver_eq', 'value': '2.4.1-rc.1'}", true},
		{"{'attribute': 'app_version', 'op': 'semver_gte', 'value': '2.4.0'}", true},
		{"{'attribute': 'country', 'op': 'semver_gte', 'value': '0.0.0'}", false},
		{"{'attribute': 'signup', 'op': 'after', 'value': '2026-01-15T09:00:00Z'}", true},
		{"{'attribute': 'signup', 'op': 'before', 'value': '2026-01-15T09:00:01Z'}", true},
		{"{'attribute': 'signup', 'op': 'before', 'value': '2026-01-15T09:00:00Z'}", false},
		{"{'attribute': 'country', 'op': 'before', 'value': '2026-01-15T09:00:00Z'}", false},
	};
	size_t		i;

	(void) state;
	/* q's buffers are reused: keep a copy */
	snprintf(ctx, sizeof(ctx), "%s", ctx_json);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		rules[1024];
		TgResult	r;

		snprintf(rules, sizeof(rules), "[{'when': [%s], 'serve': true}]", cases[i].cond);
		r = eval(q(rules), NULL, ctx, DEFAULT_AT);
		if (r.active != cases[i].holds)
			fail_msg("%s: expected %s", cases[i].cond, cases[i].holds ? "true" : "false");
		assert_int_equal(r.reason, cases[i].holds ? TG_TARGETING_MATCH : TG_DEFAULT);
	}
}

static void
test_semver_precedence(void **state)
{
	/* SemVer 2.0.0 section 11's example chain, each lower than the next. */
	static const char *const chain[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"
	};
	size_t		i,
				j;

	(void) state;
	for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++)
		for (j = 0; j < sizeof(chain) / sizeof(chain[0]); j++)
		{
			char		rules[256],
						ctx[128];
			TgResult	r;

			snprintf(rules, sizeof(rules),
					 "[{\"when\": [{\"attribute\": \"v\", \"op\": \"semver_lt\", \"value\": \"%s\"}],"
					 " \"serve\": true}]", chain[j]);
			snprintf(ctx, sizeof(ctx), "{\"v\": \"%s+meta\"}", chain[i]);
			r = eval(rules, NULL, ctx, DEFAULT_AT);
			if (r.active != (i < j))
				fail_msg("%s < %s should be %d", chain[i], chain[j], i < j);
		}
	/* Not versions: leading v, leading zeros, missing patch, empty identifiers. */
	for (i = 0; i < 5; i++)
	{
		static const char *const bad[] = {"v1.2.3", "01.2.3", "1.2", "1.2.3-", "1.2.3-a..b"};
		char		ctx[64];

		snprintf(ctx, sizeof(ctx), "{\"v\": \"%s\"}", bad[i]);
		assert_false(eval("[{\"when\": [{\"attribute\": \"v\", \"op\": \"semver_gte\", "
						  "\"value\": \"0.0.0-0\"}], \"serve\": true}]", NULL, ctx,
						  DEFAULT_AT).active);
	}
}

/* ---------------------------------------------------------------- validation */

static void
test_validation_messages(void **state)
{
	const char *variants = q("{'blue': '#00f', 'red': '#f00'}");

	(void) state;
	assert_error(q("[{'serve': true}, {'when': [{'attribute': 'a', 'op': 'eq', 'value': 1}],"
				   "'serve': true}]"), NULL,
				 "rules[1].when[0].op: expected one of equals, not_equals, in, not_in, "
				 "starts_with, ends_with, contains, lt, lte, gt, gte, semver_eq, semver_lt, "
				 "semver_lte, semver_gt, semver_gte, before, after; got \"eq\"");
	assert_error(q("[{'wen': [], 'serve': true}]"), NULL,
				 "rules[0].wen: unknown member; expected name, when, serve");
	assert_error(q("[{'serve': {'split': [{'variant': 'blue', 'weight': 1},"
				   "{'variant': 'red', 'weight': -1}]}}]"), variants,
				 "rules[0].serve.split[1].weight: expected a non-negative number; got -1");
	assert_error(q("[{'serve': true}]"), q("{'1abc': 1}"),
				 "variants.1abc: variant names start with an ASCII letter, then letters, "
				 "digits, -, _ or . (1 to 100 characters)");
	assert_error(q("[{'serve': {'variant': 'green'}}]"), variants,
				 "rules[0].serve.variant: expected a name from variants; got \"green\"");
	assert_error(q("[{'serve': {'percentage': 12.345}}]"), NULL,
				 "rules[0].serve.percentage: expected a number from 0 to 100 with at most two "
				 "decimals; got 12.345");
	assert_error(q("[{'when': [{'window': {'from': '2026-12-24T18:00:00.5+01:00'}}], "
				   "'serve': true}]"), NULL,
				 "rules[0].when[0].window.from: expected an RFC 3339 timestamp in whole seconds "
				 "with Z or an offset, such as 2026-12-24T18:00:00+01:00; "
				 "got \"2026-12-24T18:00:00.5+01:00\"");
	assert_error(q("[{'when': [{'window': {'until': '2026-12-24T18:00:00'}}], 'serve': true}]"),
				 NULL,
				 "rules[0].when[0].window.until: expected an RFC 3339 timestamp in whole seconds "
				 "with Z or an offset, such as 2026-12-24T18:00:00+01:00; "
				 "got \"2026-12-24T18:00:00\"");
	assert_error(q("[{'when': [{'window': {'start': '09:00', 'end': '09:00:00'}}], 'serve': true}]"),
				 NULL, "rules[0].when[0].window.end: expected a time different from start");
	assert_error(q("[{'when': [{'window': {'start': '09:00', 'end': '17:00', 'tz': 'Mars/Olympus'}}],"
				   "'serve': true}]"), NULL,
				 "rules[0].when[0].window.tz: unknown time zone; got \"Mars/Olympus\"");
	assert_error(q("[{'when': [{'window': {'start': '09:00', 'end': '17:00', 'tz': '../etc/passwd'}}],"
				   "'serve': true}]"), NULL,
				 "rules[0].when[0].window.tz: expected an IANA time zone name such as "
				 "Europe/Berlin; got \"../etc/passwd\"");
	assert_error(q("[{'serve': {'variant': 'blue', 'percentage': 5}}]"), variants,
				 "rules[0].serve: expected exactly one of variant, percentage or split");
	assert_error(q("[{'serve': {'variant': 'blue', 'by': 'org'}}]"), variants,
				 "rules[0].serve.by: only with percentage or split");
	assert_error(q("[{'when': [{'attribute': 'a', 'op': 'in', 'value': ['x', null]}], 'serve': true}]"),
				 NULL, "rules[0].when[0].value[1]: expected a string, number or boolean; got null");
	assert_error(q("[{'when': [{'window': {'days': ['mon', 'monday'], 'start': '09:00', 'end': '10:00'}}],"
				   "'serve': true}]"), NULL,
				 "rules[0].when[0].window.days[1]: expected one of mon, tue, wed, thu, fri, sat, "
				 "sun; got \"monday\"");
	assert_error(q("[{'serve': true}"), NULL,
				 "rules: invalid JSON at offset 16: expected ',' or ']'");
	assert_error(q("{}"), NULL, "rules: expected an array of rules; got an object");
	assert_error(q("[{'serve': 'yes'}]"), NULL,
				 "rules[0].serve: expected true, false or an object with variant, percentage or "
				 "split; got \"yes\"");
	assert_error(q("[{'when': []}]"), NULL,
				 "rules[0].serve: missing; expected true, false or an object with variant, "
				 "percentage or split");
	assert_error(q("[{'serve': {'split': [{'variant': 'blue', 'weight': 0}]}}]"), variants,
				 "rules[0].serve.split: expected weights with a sum above 0");
	assert_error(q("[{'when': [{'attribute': 'v', 'op': 'semver_gt', 'value': '2.x'}], 'serve': true}]"),
				 NULL,
				 "rules[0].when[0].value: expected a semantic version such as 1.2.3 (SemVer "
				 "2.0.0, no leading v); got \"2.x\"");
	assert_error(q("[{'when': [{'window': {'from': '2026-01-02T00:00:00Z', "
				   "'until': '2026-01-01T00:00:00Z'}}], 'serve': true}]"), NULL,
				 "rules[0].when[0].window.until: expected a timestamp after from");
	/* strict JSON */
	assert_non_null(strstr(compile_error("[\"\\ud800\"]", NULL), "surrogate"));
	assert_non_null(strstr(compile_error("[\"\xc0\xaf\"]", NULL), "invalid UTF-8"));
	assert_non_null(strstr(compile_error("[01]", NULL), "rules: invalid JSON"));
	assert_non_null(strstr(compile_error("[1,]", NULL), "rules: invalid JSON"));
	/* a long error is cut to the buffer, NUL-terminated */
	{
		char		small[16];

		assert_null(tg_compile("t", "[{'x'}]", 7, NULL, 0, 0, &hooks, small, sizeof(small)));
		assert_int_equal(strlen(small), sizeof(small) - 1);
		assert_null(tg_compile("t", "[1]", 3, NULL, 0, 0, &hooks, small, 1));
		assert_int_equal(small[0], '\0');
	}
}

static void
test_limits(void **state)
{
	char	   *buf = malloc(2 * 1024 * 1024);
	size_t		n = 0;
	int			i;

	(void) state;
	/* nesting beyond 64 levels */
	for (i = 0; i < 65; i++)
		buf[n++] = '[';
	for (i = 0; i < 65; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	assert_non_null(strstr(compile_error(buf, NULL), "nested too deeply"));

	/* 101 rules */
	n = 0;
	buf[n++] = '[';
	for (i = 0; i < 101; i++)
		n += (size_t) sprintf(buf + n, "%s{\"serve\": true}", i ? "," : "");
	buf[n++] = ']';
	buf[n] = '\0';
	assert_string_equal(compile_error(buf, NULL), "rules: at most 100 rules; got 101");

	/* 64 windows: one more than the time signature has bits for */
	n = 0;
	buf[n++] = '[';
	for (i = 0; i < 64; i++)
		n += (size_t) sprintf(buf + n, "%s{\"when\": [{\"window\": {\"from\": \"2026-01-01T00:00:00Z\"}}],"
							  " \"serve\": true}", i ? "," : "");
	buf[n++] = ']';
	buf[n] = '\0';
	assert_string_equal(compile_error(buf, NULL),
						"rules[63].when[0]: at most 63 window conditions in all");

	/* a document over 1 MiB */
	memset(buf, ' ', 1024 * 1024 + 1);
	buf[0] = '[';
	buf[1024 * 1024] = ']';
	buf[1024 * 1024 + 1] = '\0';
	assert_string_equal(compile_error(buf, NULL), "rules: larger than 1 MiB");
	free(buf);
}

/* ---------------------------------------------------------------- evaluation */

static void
test_results_and_reasons(void **state)
{
	const char *variants = q("{'blue': '#00f', 'big': {'size': 3, 'label': 'a\\u00e9\\n\\\"'}}");
	TgToggle   *t;
	TgContext  *c;
	TgResult	r,
				r2;
	long		before;

	(void) state;
	t = compile("t", q("[{'when': [{'attribute': 'plan', 'op': 'equals', 'value': 'pro'}],"
					   "  'serve': {'variant': 'big'}},"
					   " {'when': [{'attribute': 'country', 'op': 'equals', 'value': 'FR'}],"
					   "  'serve': false},"
					   " {'serve': {'percentage': 100, 'by': 'org'}}]"), variants, 0);
	assert_non_null(t);
	c = context(q("{'plan': 'pro'}"));
	before = allocations;
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_int_equal(allocations, before);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_TARGETING_MATCH);
	assert_string_equal(r.variant, "big");
	/* compact, minimal escapes, UTF-8 kept as is */
	assert_string_equal(r.value, "{\"size\":3,\"label\":\"a\xc3\xa9\\n\\\"\"}");
	assert_int_equal(r.rule, 0);
	tg_evaluate(t, false, c, 0, &hooks, &r2);
	assert_int_equal(r2.reason, TG_DISABLED);
	assert_false(r2.active);
	assert_false(tg_result_equal(&r, &r2));
	tg_context_free(c, &hooks);

	c = context(q("{'country': 'FR'}"));
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_false(r.active);
	assert_int_equal(r.reason, TG_TARGETING_MATCH);
	assert_null(r.value);
	tg_context_free(c, &hooks);

	/* by an integer organisation id */
	c = context(q("{'org': 17}"));
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_SPLIT);
	tg_context_free(c, &hooks);
	/* no bucketing attribute: no rule matches */
	c = context(q("{'org': true}"));
	tg_evaluate(t, true, c, 0, &hooks, &r);
	assert_false(r.active);
	assert_int_equal(r.reason, TG_DEFAULT);
	assert_int_equal(r.rule, -1);
	tg_evaluate(t, true, NULL, 0, &hooks, &r2);
	assert_true(tg_result_equal(&r, &r2));
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);

	/* plain toggles */
	tg_evaluate(NULL, true, NULL, 0, &hooks, &r);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_DEFAULT);
	assert_string_equal(tg_reason_name(r.reason), "DEFAULT");
	t = compile("t", "", NULL, 0);
	assert_non_null(t);
	assert_false(tg_time_dependent(t));
	tg_evaluate(t, true, NULL, 0, &hooks, &r2);
	assert_true(tg_result_equal(&r, &r2));
	tg_toggle_free(t, &hooks);
}

static void
test_context_parsing(void **state)
{
	TgContext  *c;

	(void) state;
	assert_null(tg_context_parse("[1]", 3, &hooks, err, sizeof(err)));
	assert_string_equal(err, "context: expected a JSON object; got an array");
	assert_null(tg_context_parse("{\"a\": }", 7, &hooks, err, sizeof(err)));
	assert_string_equal(err, "context: invalid JSON at offset 6: expected a value");
	c = tg_context_parse(NULL, 0, &hooks, err, sizeof(err));
	assert_non_null(c);
	tg_context_free(c, &hooks);
	/* a repeated member: the last one counts, as in jsonb */
	assert_true(eval(q("[{'when': [{'attribute': 'a', 'op': 'equals', 'value': 2}], 'serve': true}]"),
					 NULL, q("{'a': 1, 'b': 0, 'a': 2}"), DEFAULT_AT).active);
	/* a key that is neither string nor integer is no key */
	assert_false(eval(q("[{'when': [{'attribute': 'key', 'op': 'not_in', 'value': ['x']}], 'serve': true}]"),
					  NULL, q("{'key': 1.5}"), DEFAULT_AT).active);
	assert_true(eval(q("[{'when': [{'attribute': 'key', 'op': 'in', 'value': [42]}], 'serve': true}]"),
					 NULL, q("{'key': 42}"), DEFAULT_AT).active);
}

/* ---------------------------------------------------------------- time windows */

static bool
open_at(const char *window, const char *when)
{
	char		rules[512];
	TgResult	r;

	snprintf(rules, sizeof(rules), "[{\"when\": [{\"window\": %s}], \"serve\": true}]", window);
	r = eval(q(rules), NULL, "{}", when);
	assert_int_equal(r.reason, r.active ? TG_SCHEDULE : TG_DEFAULT);
	return r.active;
}

static void
test_windows(void **state)
{
	const char *gap1 = "{'start': '02:00', 'end': '03:00', 'tz': 'Europe/Berlin'}";
	const char *gap2 = "{'start': '02:30', 'end': '04:00', 'tz': 'Europe/Berlin'}";
	const char *night = "{'days': ['fri'], 'start': '22:00', 'end': '02:00', 'tz': 'Europe/Berlin'}";
	const char *late = "{'start': '18:00', 'end': '24:00'}";
	const char *holidays = "{'from': '2026-12-24T00:00:00+01:00', 'until': '2027-01-02T00:00:00+01:00'}";

	(void) state;
	/* absolute: from inclusive, until exclusive */
	assert_false(open_at(holidays, "2026-12-23T22:59:59Z"));
	assert_true(open_at(holidays, "2026-12-23T23:00:00Z"));
	assert_true(open_at(holidays, "2027-01-01T22:59:59.999999Z"));
	assert_false(open_at(holidays, "2027-01-01T23:00:00Z"));

	/* spring forward in Berlin, 2026-03-29 01:00Z: 02:00-03:00 local never happens */
	assert_false(open_at(gap1, "2026-03-29T00:59:59Z"));
	assert_false(open_at(gap1, "2026-03-29T01:00:00Z"));
	assert_false(open_at(gap1, "2026-03-29T01:30:00Z"));
	assert_true(open_at(gap1, "2026-03-30T00:00:00Z"));
	/* 02:30-04:00 opens when the clocks jump to 03:00 */
	assert_false(open_at(gap2, "2026-03-29T00:59:59Z"));
	assert_true(open_at(gap2, "2026-03-29T01:00:00Z"));
	assert_true(open_at(gap2, "2026-03-29T01:59:59Z"));
	assert_false(open_at(gap2, "2026-03-29T02:00:00Z"));
	/* fall back, 2026-10-25 01:00Z: 02:00-03:00 local happens twice, open both times */
	assert_false(open_at(gap1, "2026-10-24T23:59:59Z"));
	assert_true(open_at(gap1, "2026-10-25T00:00:00Z"));
	assert_true(open_at(gap1, "2026-10-25T00:59:59Z"));
	assert_true(open_at(gap1, "2026-10-25T01:00:00Z"));
	assert_true(open_at(gap1, "2026-10-25T01:59:59Z"));
	assert_false(open_at(gap1, "2026-10-25T02:00:00Z"));

	/* over midnight: Friday 22:00 until Saturday 02:00 (2026-01-02 is a Friday) */
	assert_false(open_at(night, "2026-01-02T20:59:59Z"));
	assert_true(open_at(night, "2026-01-02T21:00:00Z"));
	assert_true(open_at(night, "2026-01-03T00:59:59Z"));
	assert_false(open_at(night, "2026-01-03T01:00:00Z"));
	assert_false(open_at(night, "2026-01-03T21:30:00Z"));
	assert_false(open_at(night, "2026-01-02T00:30:00Z"));
	/* end 24:00, UTC by default */
	assert_false(open_at(late, "2026-01-01T17:59:59Z"));
	assert_true(open_at(late, "2026-01-01T23:59:59Z"));
	assert_false(open_at(late, "2026-01-02T00:00:00Z"));
	/* both kinds in one window */
	assert_true(open_at("{'from': '2026-01-01T00:00:00Z', 'start': '00:00', 'end': '01:00'}",
						"2026-01-01T00:30:00Z"));
	assert_false(open_at("{'from': '2026-01-02T00:00:00Z', 'start': '00:00', 'end': '01:00'}",
						 "2026-01-01T00:30:00Z"));
}

static void
test_unknown_zone_and_signature(void **state)
{
	TgToggle   *t;
	TgContext  *c;
	TgResult	r;
	uint64_t	s1,
				s2;

	(void) state;
	/* an unknown zone is accepted without TG_CHECK_ZONES, and gives ERROR when reached */
	t = compile("t", q("[{'when': [{'attribute': 'a', 'op': 'equals', 'value': 1},"
					   "           {'window': {'start': '09:00', 'end': '17:00', 'tz': 'Mars/Olympus'}}],"
					   "  'serve': true},"
					   " {'when': [{'window': {'start': '09:00', 'end': '17:00', 'tz': 'Europe/Berlin'}}],"
					   "  'serve': true}]"), NULL, 0);
	assert_non_null(t);
	assert_true(tg_time_dependent(t));
	c = context(q("{'a': 2}"));
	tg_evaluate(t, true, c, at("2026-01-05T10:00:00Z"), &hooks, &r);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_SCHEDULE);
	tg_context_free(c, &hooks);
	c = context(q("{'a': 1}"));
	tg_evaluate(t, true, c, at("2026-01-05T10:00:00Z"), &hooks, &r);
	assert_false(r.active);
	assert_int_equal(r.reason, TG_ERROR);
	assert_string_equal(r.error, "rules[0].when[1].window.tz: unknown time zone \"Mars/Olympus\"");
	tg_context_free(c, &hooks);

	s1 = tg_time_signature(t, at("2026-01-05T10:00:00Z"), &hooks);
	assert_true(s1 == ((UINT64_C(1) << 63) | 2));
	s2 = tg_time_signature(t, at("2026-01-05T16:00:00Z"), &hooks);
	assert_true(s2 == (UINT64_C(1) << 63));
	assert_true(tg_time_signature(t, at("2026-01-05T15:59:59Z"), &hooks) == s1);
	tg_toggle_free(t, &hooks);
}

/* ---------------------------------------------------------------- zoneinfo */

static int64_t
offset_of(ZoneCache *cache, const char *tz, const char *when)
{
	int64_t		t = at(when),
				local = 0;

	if (!zoneinfo_local_time(cache, tz, t, &local))
		return INT64_MIN;
	return (local - t) / 1000000;
}

static void
test_zoneinfo(void **state)
{
	ZoneCache  *cache = zoneinfo_cache_new(ZONEINFO_DEFAULT_ROOT);
	int64_t		local;

	(void) state;
	assert_non_null(cache);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2026-03-29T00:59:59Z"), 3600);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2026-03-29T01:00:00Z"), 7200);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2026-10-25T00:59:59Z"), 7200);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2026-10-25T01:00:00Z"), 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2026-03-08T06:59:59Z"), -5 * 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2026-03-08T07:00:00Z"), -4 * 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2026-11-01T05:59:59Z"), -4 * 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2026-11-01T06:00:00Z"), -5 * 3600);
	/* 2100 is beyond the transition table: the footer's rule decides */
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2100-03-28T00:59:59Z"), 3600);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2100-03-28T01:00:00Z"), 7200);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2100-10-31T00:59:59Z"), 7200);
	assert_int_equal(offset_of(cache, "Europe/Berlin", "2100-10-31T01:00:00Z"), 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2100-03-14T06:59:59Z"), -5 * 3600);
	assert_int_equal(offset_of(cache, "America/New_York", "2100-03-14T07:00:00Z"), -4 * 3600);
	assert_int_equal(offset_of(cache, "UTC", "2026-06-01T12:00:00Z"), 0);
	assert_int_equal(offset_of(cache, "Asia/Kolkata", "2026-06-01T12:00:00Z"), 19800);
	/* unknown, and names that would leave the zoneinfo directory */
	assert_false(zoneinfo_local_time(cache, "Mars/Olympus", 0, &local));
	assert_false(zoneinfo_local_time(cache, "../../etc/passwd", 0, &local));
	assert_false(zoneinfo_local_time(cache, "Europe/../Europe/Berlin", 0, &local));
	assert_false(zoneinfo_local_time(cache, "/usr/share/zoneinfo/UTC", 0, &local));
	assert_false(zoneinfo_local_time(cache, "Europe", 0, &local));
	assert_false(zoneinfo_local_time(cache, "", 0, &local));
	assert_false(zoneinfo_local_time(cache, "Europe/Berlin ", 0, &local));
	/* a root without the zone */
	{
		ZoneCache  *empty = zoneinfo_cache_new("/nonexistent");

		assert_false(zoneinfo_local_time(empty, "Europe/Berlin", 0, &local));
		zoneinfo_cache_free(empty);
	}
	/* the default cache */
	assert_true(zoneinfo_local_time(NULL, "Europe/Berlin", 0, &local));
	assert_true(local == 3600 * INT64_C(1000000));
	zoneinfo_free_default();
	zoneinfo_cache_free(cache);
}

/*
 * test_zoneinfo_matches_glibc: offsets over 1900..2200 against glibc's localtime_r, which
 * reads the same files, for zones with southern-hemisphere, negative ("Europe/Dublin")
 * and half-hour DST rules.
 */
static void
test_zoneinfo_matches_glibc(void **state)
{
	static const char *const names[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/Dublin",
		"America/St_Johns", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Chatham",
		"Asia/Tehran", "Africa/Casablanca", "America/Santiago", "Antarctica/Troll"
	};
	ZoneCache  *cache = zoneinfo_cache_new(NULL);
	char	   *saved_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	size_t		i;
	long		checked = 0;

	(void) state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		int64_t		t;
		uint32_t	rng = 12345;

		setenv("TZ", names[i], 1);
		tzset();
		/* from 1900 to 2200, in steps of about 5 hours with some jitter */
		for (t = -2208988800LL; t < 7258118400LL; t += 17000 + (rng % 4000))
		{
			time_t		tt = (time_t) t;
			struct tm	tm;
			int64_t		local;

			rng = rng * 1103515245 + 12345;
			if (localtime_r(&tt, &tm) == NULL)
				continue;
			assert_true(zoneinfo_local_time(cache, names[i], t * 1000000, &local));
			if (local / 1000000 - t != tm.tm_gmtoff)
				fail_msg("%s at %lld: ours %lld, glibc %ld", names[i], (long long) t,
						 (long long) (local / 1000000 - t), tm.tm_gmtoff);
			checked++;
		}
	}
	print_message("info: zoneinfo agrees with glibc at %ld instants in %zu zones\n",
				  checked, sizeof(names) / sizeof(names[0]));
	if (saved_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved_tz);
	zoneinfo_cache_free(cache);
}

/* ---------------------------------------------------------------- benchmark */

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double
ns_per_eval(const TgToggle *t, const TgContext *c, int64_t when, int n)
{
	TgResult	r;
	double		start = now_ns();
	int			i;
	int			on = 0;

	for (i = 0; i < n; i++)
	{
		tg_evaluate(t, true, c, when + i, &hooks, &r);
		on += r.active;
	}
	/* keep the loop from being optimised away */
	assert_true(on >= 0);
	return (now_ns() - start) / n;
}

static void
test_benchmark(void **state)
{
	TgToggle   *t = compile("bench", q("[{'when': [{'attribute': 'country', 'op': 'in', 'value': ['DE', 'AT', 'CH']}],"
									   "  'serve': true},"
									   " {'when': [{'window': {'days': ['mon', 'tue', 'wed', 'thu', 'fri'],"
									   "    'start': '09:00', 'end': '18:00', 'tz': 'Europe/Berlin'}}],"
									   "  'serve': true},"
									   " {'serve': {'percentage': 10}}]"), NULL, 0);
	TgContext  *c = context(q("{'key': 'user-42', 'groups': ['beta', 'staff'], 'country': 'FR',"
							  " 'plan': 'pro', 'app_version': '2.4.1', 'age_days': 31}"));
	int64_t		sat = at("2026-01-03T12:00:00Z");
	long		before = allocations;
	double		rules3,
				plain;

	(void) state;
	assert_non_null(t);
	/* warm the zone cache */
	ns_per_eval(t, c, sat, 1000);
	before = allocations;
	rules3 = ns_per_eval(t, c, sat, 1000000);
	plain = ns_per_eval(NULL, c, sat, 1000000);
	assert_int_equal(allocations, before);
	print_message("info: tg_evaluate: %.0f ns for 3 rules (in-list, window, percentage), "
				  "%.1f ns for a plain toggle%s\n", rules3, plain,
#if defined(__SANITIZE_ADDRESS__)
				  " (built with AddressSanitizer)"
#else
				  ""
#endif
		);
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);
}

/* ---------------------------------------------------------------- the shared vectors */

/*
 * Cases in the format of tests/vectors/targeting.json, used when that file is missing
 * (single quotes stand for double quotes).
 */
static const char inline_vectors[] =
"[{'name': 'plain on', 'toggle': {'name': 't', 'is_active': true},"
"  'expect': {'active': true, 'value': true, 'variant': null, 'reason': 'DEFAULT'}},"
" {'name': 'staff first', 'toggle': {'name': 't', 'is_active': true, 'rules':"
"   [{'name': 'staff', 'when': [{'attribute': 'groups', 'op': 'in', 'value': ['staff']}], 'serve': true},"
"    {'name': 'rollout', 'serve': {'percentage': 10}}]},"
"  'context': {'key': 'user-42', 'groups': ['staff']},"
"  'expect': {'active': true, 'value': true, 'variant': null, 'reason': 'TARGETING_MATCH'}},"
" {'name': 'no key', 'toggle': {'name': 't', 'is_active': true, 'rules': [{'serve': {'percentage': 10}}]},"
"  'context': {}, 'expect': {'active': false, 'value': false, 'variant': null, 'reason': 'DEFAULT'}},"
" {'name': 'variant', 'toggle': {'name': 't', 'is_active': true, 'rules': [{'serve': {'variant': 'big'}}],"
"   'variants': {'big': {'size': 3}}},"
"  'expect': {'active': true, 'value': {'size': 3}, 'variant': 'big', 'reason': 'TARGETING_MATCH'}},"
" {'name': 'holidays', 'at': '2026-12-25T12:00:00Z', 'toggle': {'name': 't', 'is_active': true, 'rules':"
"   [{'when': [{'window': {'from': '2026-12-24T00:00:00+01:00', 'until': '2027-01-02T00:00:00+01:00'}}],"
"     'serve': false}, {'serve': true}]},"
"  'expect': {'active': false, 'value': false, 'variant': null, 'reason': 'SCHEDULE'}},"
" {'name': 'bad op', 'toggle': {'name': 't', 'is_active': true, 'rules':"
"   [{'serve': true}, {'when': [{'attribute': 'a', 'op': 'eq', 'value': 1}], 'serve': true}]},"
"  'error': 'rules[1].when[0].op: expected one of equals'}]";

typedef struct VectorState
{
	const cJSON *vector;
} VectorState;

static char *
json_text(const cJSON *item)
{
	return item != NULL ? cJSON_PrintUnformatted(item) : NULL;
}

static void
run_vector(void **state)
{
	const cJSON *v = *state;
	const cJSON *toggle = cJSON_GetObjectItemCaseSensitive(v, "toggle");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(toggle, "name");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(v, "error");
	const cJSON *expect = cJSON_GetObjectItemCaseSensitive(v, "expect");
	const cJSON *when = cJSON_GetObjectItemCaseSensitive(v, "at");
	char	   *rules = json_text(cJSON_GetObjectItemCaseSensitive(toggle, "rules"));
	char	   *variants = json_text(cJSON_GetObjectItemCaseSensitive(toggle, "variants"));
	char	   *ctx_text = json_text(cJSON_GetObjectItemCaseSensitive(v, "context"));
	const char *case_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
	TgToggle   *t;
	TgContext  *c = NULL;
	TgResult	r;
	cJSON	   *got_value,
			   *want;
	long		before;
	bool		ok = true;

	/* Writes are validated with the zone check; stored rules are evaluated without. */
	t = compile(cJSON_IsString(name) ? name->valuestring : "t", rules, variants,
				error != NULL ? TG_CHECK_ZONES : 0);
	if (error != NULL)
	{
		if (t != NULL)
			fail_msg("%s: compiled, expected an error containing \"%s\"", case_name,
					 error->valuestring);
		if (strstr(err, error->valuestring) == NULL)
			fail_msg("%s: error \"%s\" does not contain \"%s\"", case_name, err,
					 error->valuestring);
		goto done;
	}
	if (t == NULL)
		fail_msg("%s: %s", case_name, err);
	if (ctx_text != NULL)
		c = context(ctx_text);
	before = allocations;
	tg_evaluate(t, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(toggle, "is_active")), c,
				at(cJSON_IsString(when) ? when->valuestring : DEFAULT_AT), &hooks, &r);
	assert_int_equal(allocations, before);

	want = cJSON_GetObjectItemCaseSensitive(expect, "active");
	if (want != NULL && cJSON_IsTrue(want) != r.active)
	{
		print_error("%s: active %d, expected %d\n", case_name, r.active, cJSON_IsTrue(want));
		ok = false;
	}
	want = cJSON_GetObjectItemCaseSensitive(expect, "reason");
	if (want != NULL && strcmp(want->valuestring, tg_reason_name(r.reason)) != 0)
	{
		print_error("%s: reason %s, expected %s%s%s\n", case_name, tg_reason_name(r.reason),
					want->valuestring, r.error ? "; error: " : "", r.error ? r.error : "");
		ok = false;
	}
	want = cJSON_GetObjectItemCaseSensitive(expect, "variant");
	if (want != NULL &&
		(cJSON_IsNull(want) ? r.variant != NULL :
		 r.variant == NULL || strcmp(r.variant, want->valuestring) != 0))
	{
		print_error("%s: variant %s, expected %s\n", case_name,
					r.variant ? r.variant : "null",
					cJSON_IsNull(want) ? "null" : want->valuestring);
		ok = false;
	}
	want = cJSON_GetObjectItemCaseSensitive(expect, "value");
	got_value = cJSON_Parse(r.value != NULL ? r.value : (r.active ? "true" : "false"));
	if (want != NULL && !cJSON_Compare(want, got_value, true))
	{
		char	   *w = cJSON_PrintUnformatted(want);

		print_error("%s: value %s, expected %s\n", case_name,
					r.value ? r.value : (r.active ? "true" : "false"), w);
		free(w);
		ok = false;
	}
	cJSON_Delete(got_value);
	tg_context_free(c, &hooks);
	tg_toggle_free(t, &hooks);
	if (!ok)
		fail_msg("%s", case_name);
done:
	free(rules);
	free(variants);
	free(ctx_text);
}

/* read_vectors: the vectors file, or the inline cases when there is none. */
static cJSON *
read_vectors(const char **source)
{
	const char *path = getenv("TOGGLES_VECTORS") ? getenv("TOGGLES_VECTORS") : VECTORS_PATH;
	FILE	   *f = fopen(path, "rb");
	char	   *text;
	long		size;
	cJSON	   *vectors;

	if (f == NULL)
	{
		char	   *copy = strdup(inline_vectors);
		size_t		i;

		for (i = 0; copy[i] != '\0'; i++)
			if (copy[i] == '\'')
				copy[i] = '"';
		*source = "inline cases (no " VECTORS_PATH ")";
		vectors = cJSON_Parse(copy);
		free(copy);
		return vectors;
	}
	*source = path;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc((size_t) size + 1);
	if (fread(text, 1, (size_t) size, f) != (size_t) size)
		size = 0;
	text[size] = '\0';
	fclose(f);
	vectors = cJSON_Parse(text);
	free(text);
	return vectors;
}

static int
setup_zones(void **state)
{
	(void) state;
	zones = zoneinfo_cache_new(NULL);
	return zones == NULL;
}

static int
teardown_zones(void **state)
{
	(void) state;
	zoneinfo_cache_free(zones);
	zones = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur3_reference_values),
		cmocka_unit_test(test_rollout_shares_and_monotonicity),
		cmocka_unit_test(test_bucket_of_integer_keys),
		cmocka_unit_test(test_split_weights),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_semver_precedence),
		cmocka_unit_test(test_validation_messages),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_results_and_reasons),
		cmocka_unit_test(test_context_parsing),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_unknown_zone_and_signature),
		cmocka_unit_test(test_zoneinfo),
		cmocka_unit_test(test_zoneinfo_matches_glibc),
		cmocka_unit_test(test_benchmark),
	};
	int			total = (int) (sizeof(tests) / sizeof(tests[0]));
	int			failed;
	const char *source;
	cJSON	   *vectors = read_vectors(&source);
	struct CMUnitTest *vector_tests;
	const cJSON *v;
	int			n = 0;

	failed = cmocka_run_group_tests_name("targeting", tests, setup_zones, teardown_zones);

	/* One cmocka test per vector, so that each failing case is named. */
	if (vectors == NULL || !cJSON_IsArray(vectors))
	{
		fprintf(stderr, "%s: not a JSON array\n", source);
		total++;
		failed++;
	}
	else
	{
		vector_tests = calloc((size_t) cJSON_GetArraySize(vectors), sizeof(struct CMUnitTest));
		cJSON_ArrayForEach(v, vectors)
		{
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));

			vector_tests[n].name = name ? name : "(unnamed vector)";
			vector_tests[n].test_func = run_vector;
			vector_tests[n].initial_state = (void *) v;
			n++;
		}
		print_message("info: vectors from %s\n", source);
		failed += _cmocka_run_group_tests("vectors", vector_tests, (size_t) n,
										  setup_zones, teardown_zones);
		total += n;
		free(vector_tests);
	}
	cJSON_Delete(vectors);

	/* scripts/test.sh adds up this line across the unit tests. */
	printf("%d passed, %d failed\n", total - failed, failed);
	/* LeakSanitizer ends the process without flushing stdio when it reports. */
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}
