/*
 * name_rule.c — validation of toggle names (see TOGGLE_NAME_RULE).
 *
 * Names travel in URLs, JSON, log lines and SDK code, so the alphabet is kept to
 * what needs no escaping anywhere and no Unicode look-alikes.
 */
#include "name_rule.h"

static int
is_ascii_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_name_char(unsigned char c)
{
	return is_ascii_letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

ToggleNameVerdict
toggle_name_check(const char *name, size_t len, size_t *bad_pos)
{
	size_t		i;

	if (len == 0)
		return TOGGLE_NAME_EMPTY;
	if (len > TOGGLE_NAME_MAX_LEN)
		return TOGGLE_NAME_TOO_LONG;
	if (!is_ascii_letter((unsigned char) name[0]))
	{
		*bad_pos = 0;
		return TOGGLE_NAME_BAD_FIRST_CHAR;
	}
	for (i = 1; i < len; i++)
	{
		if (!is_name_char((unsigned char) name[i]))
		{
			*bad_pos = i;
			return TOGGLE_NAME_BAD_CHAR;
		}
	}
	return TOGGLE_NAME_OK;
}
