/*
 * unit.h — a minimal test harness for the C unit tests: CHECK counts, the summary line
 * "N passed, N failed" is what scripts/test.sh adds up.
 */
#ifndef PG_TOGGLES_UNIT_H
#define PG_TOGGLES_UNIT_H

#include <stdio.h>

static int	unit_passed;
static int	unit_failed;

#define CHECK(cond) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

static inline int
unit_report(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed == 0 && unit_passed > 0 ? 0 : 1;
}

#endif
