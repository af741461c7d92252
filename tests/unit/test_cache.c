/*
 * test_cache.c — unit tests of pushd's message encoding, cache and resume window
 * (pushd/encode.c, pushd/cache.c, pushd/message.c), under ASan/UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"
#include "encode.h"

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

static char *
msg_text(Msg *msg)
{
	char	   *s = strndup((const char *) msg->data, msg->len);

	msg_unref(msg);
	return s;
}

static void
test_encode_escapes(void **state)
{
	TextBuf		buf;
	Toggle		t = {"quote\"back\\slash", 1, 7, "line\nbreak\ttab\x01 and \xc3\xa9", NULL};

	(void) state;
	textbuf_init(&buf);
	encode_toggle(&buf, &t);
	assert_string_equal(buf.data,
						"{\"name\":\"quote\\\"back\\\\slash\",\"active\":true,\"version\":7,"
						"\"description\":\"line\\nbreak\\ttab\\u0001 and \xc3\xa9\",\"updated_at\":null}");
	textbuf_free(&buf);
}

static void
test_encode_change_and_snapshot(void **state)
{
	TextBuf		buf;
	ToggleDelta deltas[2] = {
		{0, {"a", 1, 9000000000LL, "d", "t"}},
		{1, {"gone", 0, 9000000000LL, NULL, NULL}},
	};
	Toggle		toggles[1] = {{"a", 0, 1, "", "t"}};

	(void) state;
	textbuf_init(&buf);
	encode_change(&buf, 9000000000LL, deltas, 2);
	assert_string_equal(buf.data,
						"{\"type\":\"change\",\"version\":9000000000,\"toggles\":[{\"name\":\"a\",\"active\":true,"
						"\"version\":9000000000,\"description\":\"d\",\"updated_at\":\"t\"}],\"removed\":[\"gone\"]}");
	textbuf_free(&buf);

	textbuf_init(&buf);
	encode_snapshot(&buf, "E", 1, toggles, 1);
	assert_string_equal(buf.data,
						"{\"type\":\"snapshot\",\"epoch\":\"E\",\"version\":1,\"toggles\":[{\"name\":\"a\","
						"\"active\":false,\"version\":1,\"description\":\"\",\"updated_at\":\"t\"}]}");
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
test_cache_sorted_and_snapshot_shared(void **state)
{
	Cache		cache;
	Msg		   *a;
	Msg		   *b;
	char	   *text;

	(void) state;
	cache_init(&cache, 10);
	cache_reset(&cache, "E", 0);
	cache_apply(&cache, 1, one_delta("zeta", 0, 1, 1), 1);
	cache_apply(&cache, 2, one_delta("alpha", 0, 0, 2), 1);
	cache_apply(&cache, 3, one_delta("mid", 0, 1, 3), 1);
	assert_int_equal(cache.ntoggles, 3);
	assert_string_equal(cache.toggles[0].name, "alpha");
	assert_string_equal(cache.toggles[2].name, "zeta");

	/* Serialised once: the same message until the next change. */
	a = cache_snapshot_msg(&cache);
	b = cache_snapshot_msg(&cache);
	assert_ptr_equal(a, b);
	msg_unref(b);
	cache_apply(&cache, 4, one_delta("mid", 1, 0, 4), 1);
	b = cache_snapshot_msg(&cache);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->version, 4);
	text = msg_text(b);
	assert_null(strstr(text, "\"mid\""));
	free(text);
	msg_unref(a);
	assert_null(cache_get(&cache, "mid"));
	assert_true(cache_get(&cache, "zeta")->active);
	cache_free(&cache);
}

static void
test_resume_is_net_effect(void **state)
{
	Cache		cache;
	char	   *text;

	(void) state;
	cache_init(&cache, 100);
	cache_reset(&cache, "E", 10);
	cache_apply(&cache, 11, one_delta("a", 0, 1, 11), 1);
	cache_apply(&cache, 13, one_delta("b", 0, 1, 13), 1);
	cache_apply(&cache, 14, one_delta("a", 0, 0, 14), 1);
	cache_apply(&cache, 15, one_delta("b", 1, 0, 15), 1);
	cache_apply(&cache, 16, one_delta("c", 1, 0, 16), 1);
	cache_apply(&cache, 17, one_delta("c", 0, 1, 17), 1);

	/* After 12: a changed twice (last: off), b added then removed, c removed then re-added. */
	text = msg_text(cache_since(&cache, 12));
	assert_non_null(strstr(text, "\"version\":17,"));
	assert_non_null(strstr(text, "{\"name\":\"a\",\"active\":false,\"version\":14"));
	assert_non_null(strstr(text, "{\"name\":\"c\",\"active\":true,\"version\":17"));
	assert_non_null(strstr(text, "\"removed\":[\"b\"]"));
	free(text);

	/* Up to date: an empty change at the current version. */
	text = msg_text(cache_since(&cache, 17));
	assert_string_equal(text, "{\"type\":\"change\",\"version\":17,\"toggles\":[],\"removed\":[]}");
	free(text);

	/* Before the window's floor: no exact answer, a snapshot is needed. */
	assert_null(cache_since(&cache, 9));
	assert_non_null(text = msg_text(cache_since(&cache, 10)));
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
	cache_init(&cache, 10);
	cache_reset(&cache, "E", 0);
	for (v = 1; v <= 1000; v++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "t%d", v % 7);
		cache_apply(&cache, v * 2, one_delta(name, 0, v % 2, v * 2), 1);
	}
	assert_int_equal(cache.ring_len, 10);
	/* The ten newest are 1982..2000; resuming from 1980 (the last evicted) is exact. */
	assert_int_equal(cache.floor, 1980);
	assert_null(cache_since(&cache, 1979));
	text = msg_text(cache_since(&cache, 1980));
	assert_non_null(strstr(text, "\"version\":2000,"));
	free(text);
	cache_free(&cache);
}

static void
test_reset_clears_window(void **state)
{
	Cache		cache;

	(void) state;
	cache_init(&cache, 10);
	cache_reset(&cache, "E1", 5);
	cache_apply(&cache, 6, one_delta("a", 0, 1, 6), 1);
	cache_reset(&cache, "E2", 3);
	assert_string_equal(cache.epoch, "E2");
	assert_int_equal(cache.ntoggles, 0);
	assert_int_equal(cache.ring_len, 0);
	assert_null(cache_since(&cache, 2));
	cache_free(&cache);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_escapes),
		cmocka_unit_test(test_encode_change_and_snapshot),
		cmocka_unit_test(test_textbuf_grows),
		cmocka_unit_test(test_cache_sorted_and_snapshot_shared),
		cmocka_unit_test(test_resume_is_net_effect),
		cmocka_unit_test(test_window_eviction_moves_floor),
		cmocka_unit_test(test_reset_clears_window),
	};
	int			failed = cmocka_run_group_tests(tests, NULL, NULL);

	fflush(stderr);
	printf("%d passed, %d failed\n", (int) (sizeof(tests) / sizeof(tests[0])) - failed, failed);
	return failed ? 1 : 0;
}
