/*
 * test_etag.c — cmocka tests of the tags that name a state (pushd/etag.c): what is
 * written is read back, anything else is no tag, and "ahead" follows the epochs' order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "etag.h"

#define TL1 "7714499956199856962-1-ffd5388479e84e02836a34fefea2f06a"
#define TL2 "7714499956199856962-2-ffd5388479e84e02836a34fefea2f06a"
#define OTHER "7714499956199856962-2-00000000000000000000000000000000"

/* parses: text (NUL-terminated) reads as a tag. */
static bool
parses(const char *text, StateTag *tag)
{
	return etag_parse(text, strlen(text), tag);
}

static void
test_round_trip(void **state)
{
	char		text[ETAG_MAX + 1];
	StateTag	tag;

	(void) state;
	assert_true(etag_format(text, sizeof(text), TL1, 42, 0x1535ffa7d0378eb5ULL));
	assert_string_equal(text, "\"" TL1 "-42-1535ffa7d0378eb5\"");
	assert_true(parses(text, &tag));
	assert_string_equal(tag.epoch, TL1);
	assert_int_equal(tag.version, 42);
	assert_true(tag.hash == 0x1535ffa7d0378eb5ULL);

	/* The extremes: version 0 and INT64_MAX, hash 0 and all ones. */
	assert_true(etag_format(text, sizeof(text), TL1, 0, 0));
	assert_true(parses(text, &tag));
	assert_int_equal(tag.version, 0);
	assert_true(tag.hash == 0);
	assert_true(etag_format(text, sizeof(text), TL1, INT64_MAX, UINT64_MAX));
	assert_true(parses(text, &tag));
	assert_true(tag.version == INT64_MAX);
	assert_true(tag.hash == UINT64_MAX);

	/* If-None-Match compares weakly: W/ is read past; upper-case hex is hex. */
	assert_true(parses("W/\"" TL1 "-7-00000000000000AB\"", &tag));
	assert_int_equal(tag.version, 7);
	assert_true(tag.hash == 0xab);
}

static void
test_format_that_does_not_fit(void **state)
{
	char		text[ETAG_MAX + 1];
	StateTag	tag;

	(void) state;
	assert_false(etag_format(text, 16, TL1, 1, 1));
	assert_string_equal(text, "");
	/* No epoch yet: an empty one, which etag_parse refuses (it names no state). */
	assert_true(etag_format(text, sizeof(text), NULL, 1, 1));
	assert_string_equal(text, "\"-1-0000000000000001\"");
	assert_false(parses(text, &tag));
}

static void
test_not_a_tag(void **state)
{
	char		long_tag[ETAG_MAX + 64];
	StateTag	tag;
	static const char *const bad[] = {
		"",
		"\"",
		"\"\"",
		"*",
		"W/",
		TL1 "-1-0000000000000001",	/* unquoted */
		"\"" TL1 "-1-0000000000000001",	/* cut */
		"\"1535ffa7d0378eb5\"",	/* an OFREP tag of pushd before versions */
		"\"-1-0000000000000001\"",	/* no epoch */
		"\"" TL1 "--0000000000000001\"",	/* no version */
		"\"" TL1 "-+1-0000000000000001\"",	/* a sign */
		"\"" TL1 "-1-000000000000001\"",	/* 15 hex digits */
		"\"" TL1 "-1-00000000000000001\"",	/* 17 */
		"\"" TL1 "-1-000000000000000g\"",
		"\"" TL1 "-9223372036854775808-0000000000000001\"",	/* INT64_MAX + 1 */
		"\"" TL1 "-99999999999999999999-0000000000000001\"",
		"\"" TL1 "-1-0000000000000001\", \"" TL1 "-2-0000000000000001\"",	/* a list */
		"\"" TL1 " -1-0000000000000001\"",
		"\"epoch\\\"-1-0000000000000001\"",
		"w/\"" TL1 "-1-0000000000000001\"",
	};
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parses(bad[i], &tag))
			fail_msg("read as a tag: %s", bad[i]);
	assert_false(etag_parse(NULL, 0, &tag));

	/* Longer than ETAG_MAX, however well formed. */
	memset(long_tag, 'a', sizeof(long_tag));
	long_tag[0] = '"';
	memcpy(long_tag + ETAG_MAX + 1 - 20, "-1-0000000000000001\"", 20);
	assert_false(etag_parse(long_tag, ETAG_MAX + 1, &tag));
	/* An epoch of ETAG_EPOCH_MAX + 1 characters in a tag that is short enough. */
	memset(long_tag, 'a', sizeof(long_tag));
	long_tag[0] = '"';
	memcpy(long_tag + 1 + ETAG_EPOCH_MAX + 1, "-1-0000000000000001\"", 20);
	assert_false(etag_parse(long_tag, 1 + ETAG_EPOCH_MAX + 1 + 20, &tag));
	memcpy(long_tag + 1 + ETAG_EPOCH_MAX, "-1-0000000000000001\"", 20);
	assert_true(etag_parse(long_tag, 1 + ETAG_EPOCH_MAX + 20, &tag));
	assert_int_equal(strlen(tag.epoch), ETAG_EPOCH_MAX);
}

static void
test_ahead(void **state)
{
	StateTag	tag;

	(void) state;
	assert_true(parses("\"" TL1 "-10-0000000000000001\"", &tag));
	/* The same epoch: by version. */
	assert_true(etag_ahead(&tag, TL1, 9));
	assert_false(etag_ahead(&tag, TL1, 10));
	assert_false(etag_ahead(&tag, TL1, 11));
	/* This process on a later timeline: whatever the versions, not ahead. */
	assert_false(etag_ahead(&tag, TL2, 1));
	/* The tag of a later timeline: ahead of a process on the earlier one. */
	assert_true(parses("\"" TL2 "-1-0000000000000001\"", &tag));
	assert_true(etag_ahead(&tag, TL1, 1000));
	/* Another history, or no state loaded yet: versions do not compare. */
	assert_false(etag_ahead(&tag, OTHER, 0));
	assert_false(etag_ahead(&tag, NULL, 0));
	assert_true(parses("\"garbage-5-0000000000000001\"", &tag));
	assert_false(etag_ahead(&tag, TL1, 0));
}

/* list: the tags of ours etag_parse_list reads from text (NUL-terminated), at most max. */
static int
list(const char *text, StateTag *tags, int max)
{
	return etag_parse_list(text, strlen(text), tags, max);
}

static void
test_list(void **state)
{
	StateTag	tags[ETAG_LIST_MAX];
	static const char *const broken[] = {
		"*",
		"\"" TL1 "-1-0000000000000001\", *",
		"\"" TL1 "-1-0000000000000001\", garbage",
		"\"" TL1 "-1-0000000000000001\" \"" TL1 "-2-0000000000000002\"",	/* no comma */
		"\"" TL1 "-1-0000000000000001\", \"unclosed",
		"W/ \"" TL1 "-1-0000000000000001\"",
	};
	size_t		i;

	(void) state;
	assert_int_equal(list("", tags, ETAG_LIST_MAX), 0);
	assert_int_equal(list(" , ,", tags, ETAG_LIST_MAX), 0);
	/* One tag, as etag_parse reads it. */
	assert_int_equal(list("\"" TL1 "-5-0000000000000005\"", tags, ETAG_LIST_MAX), 1);
	assert_int_equal(tags[0].version, 5);
	/* Another server's tags (a comma inside one) are skipped; ours kept in order, weak or not. */
	assert_int_equal(list("\"a,b\", W/\"" TL1 "-7-0000000000000007\",\t\"" TL2 "-1-0000000000000001\" ,",
						  tags, ETAG_LIST_MAX), 2);
	assert_int_equal(tags[0].version, 7);
	assert_string_equal(tags[1].epoch, TL2);
	/* At most max kept; the rest of a well-formed list is read past. */
	assert_int_equal(list("\"" TL1 "-1-0000000000000001\", \"" TL1 "-2-0000000000000002\", \""
						  TL1 "-3-0000000000000003\"", tags, 2), 2);
	assert_int_equal(tags[1].version, 2);
	/* Anything that is not a list of entity tags, even in part: none. */
	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (list(broken[i], tags, ETAG_LIST_MAX) != 0)
			fail_msg("read as a list: %s", broken[i]);
	assert_int_equal(etag_parse_list(NULL, 0, tags, ETAG_LIST_MAX), 0);
}

static void
test_furthest_ahead(void **state)
{
	StateTag	tags[ETAG_LIST_MAX];

	(void) state;
	assert_int_equal(list("\"" TL1 "-3-0000000000000001\", \"" TL1 "-9-0000000000000002\", \""
						  TL1 "-5-0000000000000003\"", tags, ETAG_LIST_MAX), 3);
	assert_ptr_equal(etag_furthest_ahead(tags, 3, TL1, 4), &tags[1]);
	assert_ptr_equal(etag_furthest_ahead(tags, 3, TL1, 8), &tags[1]);
	assert_null(etag_furthest_ahead(tags, 3, TL1, 9));
	assert_null(etag_furthest_ahead(tags, 0, TL1, 0));
	/* A later timeline goes before any version of the earlier one. */
	assert_int_equal(list("\"" TL1 "-90-0000000000000001\", \"" TL2 "-1-0000000000000002\"", tags,
						  ETAG_LIST_MAX), 2);
	assert_ptr_equal(etag_furthest_ahead(tags, 2, TL1, 5), &tags[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_that_does_not_fit),
		cmocka_unit_test(test_not_a_tag),
		cmocka_unit_test(test_ahead),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_furthest_ahead),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
