/*
 * test_epoch_order.c — cmocka tests of how pushd orders epochs (pushd/epoch_order.c):
 * timelines of one history are ordered, anything else is unrelated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "epoch_order.h"

#define TL1 "7714499956199856962-1-ffd5388479e84e02836a34fefea2f06a"
#define TL2 "7714499956199856962-2-ffd5388479e84e02836a34fefea2f06a"
#define TL10 "7714499956199856962-10-ffd5388479e84e02836a34fefea2f06a"

static void
test_timelines_are_ordered(void **state)
{
	(void) state;
	assert_int_equal(epoch_order(TL1, TL1), EPOCH_SAME);
	assert_int_equal(epoch_order(TL2, TL1), EPOCH_LATER);
	assert_int_equal(epoch_order(TL1, TL2), EPOCH_EARLIER);
	/* Numerically, not as text: 10 comes after 2. */
	assert_int_equal(epoch_order(TL10, TL2), EPOCH_LATER);
	assert_int_equal(epoch_order(TL2, TL10), EPOCH_EARLIER);
}

static void
test_other_histories_are_unrelated(void **state)
{
	(void) state;
	/* Another instance (a restore, a re-created extension). */
	assert_int_equal(epoch_order("7714499956199856962-2-00000000000000000000000000000000", TL1),
					 EPOCH_UNRELATED);
	/* Another cluster. */
	assert_int_equal(epoch_order("1234-2-ffd5388479e84e02836a34fefea2f06a", TL1), EPOCH_UNRELATED);
	assert_int_equal(epoch_order("77144999561998569620-2-ffd5388479e84e02836a34fefea2f06a", TL1),
					 EPOCH_UNRELATED);
}

static void
test_malformed_is_unrelated(void **state)
{
	(void) state;
	assert_int_equal(epoch_order("", TL1), EPOCH_UNRELATED);
	assert_int_equal(epoch_order("garbage", TL1), EPOCH_UNRELATED);
	assert_int_equal(epoch_order("7714499956199856962-x-ffd5", "7714499956199856962-1-ffd5"),
					 EPOCH_UNRELATED);
	assert_int_equal(epoch_order("7714499956199856962--ffd5", "7714499956199856962-1-ffd5"),
					 EPOCH_UNRELATED);
	assert_int_equal(epoch_order("7714499956199856962-2-", "7714499956199856962-1-"),
					 EPOCH_UNRELATED);
	assert_int_equal(epoch_order("-2-ffd5", "-1-ffd5"), EPOCH_UNRELATED);
	assert_int_equal(epoch_order(NULL, TL1), EPOCH_UNRELATED);
	assert_int_equal(epoch_order(TL1, NULL), EPOCH_UNRELATED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timelines_are_ordered),
		cmocka_unit_test(test_other_histories_are_unrelated),
		cmocka_unit_test(test_malformed_is_unrelated),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
