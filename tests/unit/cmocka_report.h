/*
 * cmocka_report.h — for the cmocka unit tests: run a group and print the line
 * "N passed, N failed" that scripts/test.sh adds up across the unit tests.
 *
 *	return RUN_AND_REPORT(tests, setup, teardown);
 */
#ifndef PG_TOGGLES_CMOCKA_REPORT_H
#define PG_TOGGLES_CMOCKA_REPORT_H

#include <stdio.h>

static inline int
cmocka_report(int total, int failed)
{
	fflush(stderr);
	printf("%d passed, %d failed\n", total - failed, failed);
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}

#define RUN_AND_REPORT(tests, setup, teardown) \
	cmocka_report((int) (sizeof(tests) / sizeof((tests)[0])), \
				  cmocka_run_group_tests(tests, setup, teardown))

#endif
