/*
 * test_name_rule.c — unit tests of the toggle name rule (extension/name_rule.c).
 */
#include <string.h>

#include "name_rule.h"
#include "unit.h"

static ToggleNameVerdict
check(const char *name, size_t *pos)
{
	return toggle_name_check(name, strlen(name), pos);
}

int
main(void)
{
	size_t		pos = 999;
	char		longest[TOGGLE_NAME_MAX_LEN + 2];

	CHECK(check("dark-mode", &pos) == TOGGLE_NAME_OK);
	CHECK(check("checkout.new_flow-v2", &pos) == TOGGLE_NAME_OK);
	CHECK(check("X", &pos) == TOGGLE_NAME_OK);
	CHECK(check("newCheckout", &pos) == TOGGLE_NAME_OK);

	CHECK(check("", &pos) == TOGGLE_NAME_EMPTY);

	CHECK(check("1st", &pos) == TOGGLE_NAME_BAD_FIRST_CHAR && pos == 0);
	CHECK(check("-x", &pos) == TOGGLE_NAME_BAD_FIRST_CHAR && pos == 0);
	CHECK(check(".x", &pos) == TOGGLE_NAME_BAD_FIRST_CHAR && pos == 0);

	CHECK(check("dark mode", &pos) == TOGGLE_NAME_BAD_CHAR && pos == 4);
	CHECK(check("a/b", &pos) == TOGGLE_NAME_BAD_CHAR && pos == 1);
	CHECK(check("caf\xc3\xa9", &pos) == TOGGLE_NAME_BAD_CHAR && pos == 3);
	CHECK(check("tab\there", &pos) == TOGGLE_NAME_BAD_CHAR && pos == 3);
	CHECK(check("quote\"", &pos) == TOGGLE_NAME_BAD_CHAR && pos == 5);

	/* An embedded NUL is caught because the length, not the terminator, bounds the scan. */
	CHECK(toggle_name_check("ab\0c", 4, &pos) == TOGGLE_NAME_BAD_CHAR && pos == 2);

	memset(longest, 'a', TOGGLE_NAME_MAX_LEN);
	longest[TOGGLE_NAME_MAX_LEN] = '\0';
	CHECK(check(longest, &pos) == TOGGLE_NAME_OK);
	longest[TOGGLE_NAME_MAX_LEN] = 'a';
	longest[TOGGLE_NAME_MAX_LEN + 1] = '\0';
	CHECK(check(longest, &pos) == TOGGLE_NAME_TOO_LONG);

	return unit_report();
}
