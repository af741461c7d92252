/*
 * test_cache.c — unit tests of pushd's message encoding, cache and resume window, and
 * the canonical form of contexts, and the description of a toggle's fields that drives
 * them (pushd/encode.c, pushd/cache.c, pushd/toggle.c, pushd/message.c, pushd/context.c,
 * with the evaluator of common/), under ASan/UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "cache.h"
#include "context.h"
#include "encode.h"
#include "tg_hooks.h"
#include "toggle.h"


static ToggleDelta *
one_delta(const char *name, int removed, int active, int64_t version)
{
	ToggleDelta *d = calloc(1, sizeof(ToggleDelta));

	d->removed = removed;
	d->state.name = strdup(name);
	d->state.active = active;
	d->state.version = version;
	if (!removed)
	{
		d->state.description = strdup("");
		d->state.updated_at = strdup("2026-01-01T00:00:00+00:00");
	}
	return d;
}

/* apply_one applies a transaction of one delta and frees it. */
static void
apply_one(Cache *cache, int64_t version, ToggleDelta *d)
{
	cache_apply(cache, version, d, 1);
	deltas_free(d, 1);
}

/* touched: the names written after since, joined by ','; "(snapshot)" when out of the window. */
static char *
touched(Cache *cache, int64_t since)
{
	int			n;
	const char **names = cache_touched_since(cache, since, &n);
	TextBuf		buf;
	int			i;

	if (names == NULL)
		return strdup("(snapshot)");
	textbuf_init(&buf);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			textbuf_puts(&buf, ",");
		textbuf_puts(&buf, names[i]);
	}
	free(names);
	return buf.data;
}

static void
test_encode_escapes(void **state)
{
	TextBuf		buf;
	Toggle		t = {.name = "quote\"back\\slash", .active = 1, .version = 7,
	.description = "line\nbreak\ttab\x01 and \xc3\xa9"};

	(void) state;
	textbuf_init(&buf);
	encode_toggle(&buf, &t, NULL);
	assert_string_equal(buf.data,
						"{\"name\":\"quote\\\"back\\\\slash\",\"active\":true,\"variant\":null,"
						"\"reason\":\"DEFAULT\",\"version\":7,"
						"\"description\":\"line\\nbreak\\ttab\\u0001 and \xc3\xa9\",\"updated_at\":null}");
	textbuf_free(&buf);
}

static void
test_encode_change_and_snapshot(void **state)
{
	TextBuf		buf;
	Toggle		a = {.name = "a", .active = 1, .version = 9000000000LL, .description = "d", .updated_at = "t"};
	TgResult	on_blue = {.active = true, .reason = TG_TARGETING_MATCH, .variant = "blue",
	.value = "{\"rgb\":[0,0,255]}", .rule = 0};
	Evaluated	items[1] = {{&a, &on_blue}};
	const char *removed[1] = {"gone"};
	Toggle		off = {.name = "a", .active = 0, .version = 1, .description = "", .updated_at = "t"};
	Evaluated	plain[1] = {{&off, NULL}};

	(void) state;
	textbuf_init(&buf);
	encode_change(&buf, 9000000000LL, NULL, items, 1, removed, 1);
	assert_string_equal(buf.data,
						"{\"type\":\"change\",\"version\":9000000000,\"toggles\":[{\"name\":\"a\",\"active\":true,"
						"\"variant\":\"blue\",\"value\":{\"rgb\":[0,0,255]},\"reason\":\"TARGETING_MATCH\","
						"\"version\":9000000000,\"description\":\"d\",\"updated_at\":\"t\"}],\"removed\":[\"gone\"]}");
	textbuf_free(&buf);

	textbuf_init(&buf);
	encode_change(&buf, 5, "schedule", NULL, 0, NULL, 0);
	assert_string_equal(buf.data,
						"{\"type\":\"change\",\"version\":5,\"cause\":\"schedule\",\"toggles\":[],\"removed\":[]}");
	textbuf_free(&buf);

	textbuf_init(&buf);
	encode_snapshot(&buf, "E", 1, plain, 1);
	assert_string_equal(buf.data,
						"{\"type\":\"snapshot\",\"epoch\":\"E\",\"version\":1,\"toggles\":[{\"name\":\"a\","
						"\"active\":false,\"variant\":null,\"reason\":\"DISABLED\",\"version\":1,"
						"\"description\":\"\",\"updated_at\":\"t\"}]}");
	textbuf_free(&buf);
}

static void
test_textbuf_grows(void **state)
{
	TextBuf		buf;
	int			i;

	(void) state;
	textbuf_init(&buf);
	for (i = 0; i < 10000; i++)
		textbuf_printf(&buf, "%05d", i);
	assert_int_equal(buf.len, 50000);
	assert_memory_equal(buf.data + 49995, "09999", 5);
	textbuf_free(&buf);
}

static void
test_cache_sorted_with_stable_slots(void **state)
{
	Cache		cache;
	int			slot_zeta;

	(void) state;
	cache_init(&cache, 10, &hooks);
	cache_reset(&cache, "E", 0);
	apply_one(&cache, 1, one_delta("zeta", 0, 1, 1));
	apply_one(&cache, 2, one_delta("alpha", 0, 0, 2));
	apply_one(&cache, 3, one_delta("mid", 0, 1, 3));
	assert_int_equal(cache.ntoggles, 3);
	assert_string_equal(cache.toggles[0].name, "alpha");
	assert_string_equal(cache.toggles[2].name, "zeta");

	/* Slots stay with their toggle while others come and go; a freed slot is reused. */
	slot_zeta = cache_get(&cache, "zeta")->slot;
	apply_one(&cache, 4, one_delta("mid", 1, 0, 4));
	assert_null(cache_get(&cache, "mid"));
	assert_int_equal(cache_get(&cache, "zeta")->slot, slot_zeta);
	apply_one(&cache, 5, one_delta("beta", 0, 1, 5));
	assert_int_equal(cache.slot_count, 3);
	assert_int_equal(cache_get(&cache, "zeta")->slot, slot_zeta);
	assert_true(cache_get(&cache, "zeta")->active);
	cache_free(&cache);
}

static void
test_rules_compiled_once(void **state)
{
	Cache		cache;
	ToggleDelta *d;
	const Toggle *t;
	TgResult	r;
	TgContext  *pro;
	char		err[256];

	(void) state;
	cache_init(&cache, 10, &hooks);
	cache_reset(&cache, "E", 0);
	d = one_delta("beta", 0, 1, 1);
	d->state.rules = strdup("[{\"when\": [{\"attribute\": \"plan\", \"op\": \"equals\", \"value\": \"pro\"}],"
							" \"serve\": true}]");
	apply_one(&cache, 1, d);
	t = cache_get(&cache, "beta");
	assert_non_null(t->compiled);
	assert_null(t->broken);
	assert_false(t->timed);
	assert_null(t->rules);		/* the text is not kept */

	pro = tg_context_parse("{\"plan\":\"pro\"}", 14, &hooks, err, sizeof(err));
	assert_non_null(pro);
	tg_evaluate(t->compiled, t->active, pro, 0, &hooks, &r);
	assert_true(r.active);
	assert_int_equal(r.reason, TG_TARGETING_MATCH);
	tg_evaluate(t->compiled, t->active, NULL, 0, &hooks, &r);
	assert_false(r.active);
	tg_context_free(pro, &hooks);

	/* A window makes it time-dependent; rules replaced wait in the retired list. */
	d = one_delta("beta", 0, 1, 2);
	d->state.rules = strdup("[{\"when\": [{\"window\": {\"from\": \"2026-01-01T00:00:00Z\"}}], \"serve\": true}]");
	apply_one(&cache, 2, d);
	assert_true(cache_get(&cache, "beta")->timed);
	assert_int_equal(cache.ntimed, 1);
	assert_int_equal(cache.nretired, 1);
	cache_drop_retired(&cache);

	/* Rules that do not compile: kept, marked broken, not time-dependent. */
	d = one_delta("beta", 0, 1, 3);
	d->state.rules = strdup("[{\"serve\": {\"variant\": \"nope\"}}]");
	apply_one(&cache, 3, d);
	t = cache_get(&cache, "beta");
	assert_null(t->compiled);
	assert_non_null(t->broken);
	assert_int_equal(cache.ntimed, 0);
	cache_free(&cache);
}

static void
test_touched_since_is_net_names(void **state)
{
	Cache		cache;
	char	   *text;

	(void) state;
	cache_init(&cache, 100, &hooks);
	cache_reset(&cache, "E", 10);
	apply_one(&cache, 11, one_delta("a", 0, 1, 11));
	apply_one(&cache, 13, one_delta("b", 0, 1, 13));
	apply_one(&cache, 14, one_delta("a", 0, 0, 14));
	apply_one(&cache, 15, one_delta("b", 1, 0, 15));
	apply_one(&cache, 16, one_delta("c", 1, 0, 16));
	apply_one(&cache, 17, one_delta("c", 0, 1, 17));

	/* After 12: a twice, b added then removed, c removed then re-added: each name once. */
	text = touched(&cache, 12);
	assert_string_equal(text, "a,b,c");
	free(text);
	assert_null(cache_get(&cache, "b"));
	assert_false(cache_get(&cache, "a")->active);

	/* Up to date: nothing. */
	text = touched(&cache, 17);
	assert_string_equal(text, "");
	free(text);

	/* Before the window's floor: no exact answer, a snapshot is needed. */
	text = touched(&cache, 9);
	assert_string_equal(text, "(snapshot)");
	free(text);
	text = touched(&cache, 10);
	assert_string_equal(text, "a,b,c");
	free(text);
	cache_free(&cache);
}

static void
test_window_eviction_moves_floor(void **state)
{
	Cache		cache;
	int			v;
	char	   *text;

	(void) state;
	cache_init(&cache, 10, &hooks);
	cache_reset(&cache, "E", 0);
	for (v = 1; v <= 1000; v++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "t%d", v % 7);
		apply_one(&cache, v * 2, one_delta(name, 0, v % 2, v * 2));
	}
	assert_int_equal(cache.ring_len, 10);
	/* The ten newest are 1982..2000; resuming from 1980 (the last evicted) is exact. */
	assert_int_equal(cache.floor, 1980);
	text = touched(&cache, 1979);
	assert_string_equal(text, "(snapshot)");
	free(text);
	text = touched(&cache, 1996);
	assert_string_equal(text, "t5,t6");
	free(text);
	cache_free(&cache);
}

static void
test_reset_clears_window(void **state)
{
	Cache		cache;
	char	   *text;

	(void) state;
	cache_init(&cache, 10, &hooks);
	cache_reset(&cache, "E1", 5);
	apply_one(&cache, 6, one_delta("a", 0, 1, 6));
	cache_reset(&cache, "E2", 3);
	assert_string_equal(cache.epoch, "E2");
	assert_int_equal(cache.ntoggles, 0);
	assert_int_equal(cache.ring_len, 0);
	assert_int_equal(cache.slot_count, 0);
	text = touched(&cache, 2);
	assert_string_equal(text, "(snapshot)");
	free(text);
	cache_free(&cache);
}

/* canonical: the canonical text of a context, or "error: ..." */
static char *
canonical(const char *json)
{
	TextBuf		buf;
	char		err[128];

	textbuf_init(&buf);
	if (!context_canonical(json, strlen(json), &buf, err, sizeof(err)))
	{
		textbuf_free(&buf);
		textbuf_init(&buf);
		textbuf_puts(&buf, "error: ");
		textbuf_puts(&buf, err);
	}
	return buf.data;
}

static void
test_context_canonical(void **state)
{
	static const char *const cases[][2] = {
		{"{}", "{}"},
		{" { \"b\" : 1 , \"a\" : [ 2 , {\"z\":null,\"y\":true} ] } ", "{\"a\":[2,{\"y\":true,\"z\":null}],\"b\":1}"},
		/* numbers as written: two keys past 2^53 stay apart */
		{"{\"key\":9007199254740993}", "{\"key\":9007199254740993}"},
		{"{\"key\":-1.5e+3,\"s\":\"\\u00e9\\\"\"}", "{\"key\":-1.5e+3,\"s\":\"\\u00e9\\\"\"}"},
		/* duplicate keys keep their order */
		{"{\"a\":2,\"b\":0,\"a\":1}", "{\"a\":2,\"a\":1,\"b\":0}"},
		{"[1]", "error: expected a JSON object at byte 0"},
		{"{\"a\":}", "error: unexpected character at byte 5"},
		{"{\"a\":1} x", "error: text after the object at byte 8"},
		{"{\"a\":01}", "error: expected ',' or '}' at byte 6"},
		{"{\"a\":\"\\x\"}", "error: bad escape at byte 7"},
	};
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *got = canonical(cases[i][0]);

		assert_string_equal(got, cases[i][1]);
		free(got);
	}
}

static void
test_json_member_raw(void **state)
{
	const char *msg = "{\"type\":\"context\", \"context\" : {\"b\":[1,\"}\"]} }";
	const char *value;
	size_t		len;

	(void) state;
	assert_true(json_member_raw(msg, strlen(msg), "context", &value, &len));
	assert_int_equal(len, strlen("{\"b\":[1,\"}\"]}"));
	assert_memory_equal(value, "{\"b\":[1,\"}\"]}", len);
	assert_false(json_member_raw(msg, strlen(msg), "missing", &value, &len));
	assert_false(json_member_raw("[1]", 3, "context", &value, &len));
}

/*
 * field_text: a distinct value for field i as its column would read: text "value-i", a
 * boolean true, and a version past 2^53, which a double would round.
 */
static const char *
field_text(int i, char *buf, size_t size)
{
	switch (toggle_fields[i].kind)
	{
		case TF_BOOL:
			return "t";
		case TF_INT64:
			return "9007199254740993";
		case TF_TEXT:
			break;
	}
	snprintf(buf, size, "value-%d", i);
	return buf;
}

static void
read_every_field(Toggle *t)
{
	char		buf[32];
	int			i;

	for (i = 0; i < toggle_nfields; i++)
		toggle_set_field(t, &toggle_fields[i], field_text(i, buf, sizeof(buf)));
}

/* Every field is read, the cache keeps what it says it keeps, and every sent field is sent. */
static void
test_fields_read_cached_and_sent(void **state)
{
	Cache		cache;
	Toggle		t = {0};
	const Toggle *cached;
	TextBuf		buf;
	char		value[32];
	char		member[64];
	int			i;

	(void) state;
	cache_init(&cache, 4, &hooks);
	cache_reset(&cache, "e", 1);
	read_every_field(&t);
	assert_int_equal(t.version, 9007199254740993LL);
	cached = cache_put(&cache, &t);
	textbuf_init(&buf);
	encode_toggle(&buf, cached, NULL);
	for (i = 0; i < toggle_nfields; i++)
	{
		const ToggleField *f = &toggle_fields[i];

		if (f->cached && f->kind == TF_TEXT)
			assert_string_equal(toggle_text(cached, f), toggle_text(&t, f));
		else if (f->cached && f->kind == TF_INT64)
			assert_true(toggle_int64(cached, f) == toggle_int64(&t, f));
		else if (f->cached)
			assert_int_equal(toggle_bool(cached, f), toggle_bool(&t, f));
		if (f->member == NULL)
			continue;
		assert_true(f->cached);
		if (f->kind == TF_TEXT)
			snprintf(member, sizeof(member), "\"%s\":\"%s\"", f->member,
					 field_text(i, value, sizeof(value)));
		else
			snprintf(member, sizeof(member), "\"%s\":%s", f->member,
					 field_text(i, value, sizeof(value)));
		assert_non_null(strstr(buf.data, member));
	}
	/* The select list is the table's columns, in order. */
	assert_string_equal(toggle_columns_sql(),
						"name, (new->>'is_active')::boolean, version, new->>'description', "
						"new->>'updated_at', new->>'rules', new->>'variants'");
	textbuf_free(&buf);
	toggle_free(&t);
	cache_free(&cache);
}

/*
 * What a write shows: a field sent to clients is news when it alone changes, unless it is
 * one every write stamps anew.  A field added as sent falls under the rule by itself; one
 * added as a stamp must be added here, with its reason.
 */
static void
test_every_sent_field_is_news_or_a_stamp(void **state)
{
	int			i;

	(void) state;
	for (i = 0; i < toggle_nfields; i++)
	{
		const ToggleField *f = &toggle_fields[i];
		Toggle		a = {0};
		Toggle		b = {0};

		read_every_field(&a);
		read_every_field(&b);
		toggle_set_field(&b, f, f->kind == TF_BOOL ? "f" : f->kind == TF_INT64 ? "9007199254740992"
						 : "other");
		assert_int_equal(toggle_news(&a, &b), f->shown == TF_SENT_NEWS);
		/* Sent means a member of T, and every member of T is sent. */
		assert_int_equal(f->member != NULL, f->shown != TF_EVALUATED);
		if (f->shown == TF_SENT_STAMP)
			/* A new version and updated_at come with every write (features_before_row). */
			assert_true(strcmp(f->member, "version") == 0 || strcmp(f->member, "updated_at") == 0);
		toggle_free(&a);
		toggle_free(&b);
	}
	/* A NULL description reads, compares and is sent as "". */
	{
		Toggle		a = {0};
		Toggle		b = {0};
		const ToggleField *desc = toggle_field_by_member("description");

		toggle_set_field(&a, desc, NULL);
		toggle_set_field(&b, desc, "");
		assert_false(toggle_news(&a, &b));
		assert_string_equal(toggle_text(&a, desc), "");
		toggle_free(&a);
		toggle_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_escapes),
		cmocka_unit_test(test_encode_change_and_snapshot),
		cmocka_unit_test(test_textbuf_grows),
		cmocka_unit_test(test_cache_sorted_with_stable_slots),
		cmocka_unit_test(test_rules_compiled_once),
		cmocka_unit_test(test_touched_since_is_net_names),
		cmocka_unit_test(test_window_eviction_moves_floor),
		cmocka_unit_test(test_reset_clears_window),
		cmocka_unit_test(test_context_canonical),
		cmocka_unit_test(test_json_member_raw),
		cmocka_unit_test(test_fields_read_cached_and_sent),
		cmocka_unit_test(test_every_sent_field_is_news_or_a_stamp),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
