/*
 * name_rule.h — the rule a toggle name must follow, free of backend code so that
 * the daemon and the unit tests can share it.
 */
#ifndef PG_TOGGLES_NAME_RULE_H
#define PG_TOGGLES_NAME_RULE_H

#include <stddef.h>

#define TOGGLE_NAME_MAX_LEN 100

/* The rule in one sentence, for error hints and docs. */
#define TOGGLE_NAME_RULE \
	"A toggle name is 1 to 100 characters long, starts with an ASCII letter " \
	"and contains only ASCII letters, digits, \"-\", \"_\" and \".\"."

typedef enum ToggleNameVerdict
{
	TOGGLE_NAME_OK,
	TOGGLE_NAME_EMPTY,
	TOGGLE_NAME_TOO_LONG,
	TOGGLE_NAME_BAD_FIRST_CHAR,
	TOGGLE_NAME_BAD_CHAR
} ToggleNameVerdict;

/*
 * toggle_name_check returns the verdict for name[0..len); on TOGGLE_NAME_BAD_CHAR
 * and TOGGLE_NAME_BAD_FIRST_CHAR *bad_pos is set to the offending byte offset.
 */
extern ToggleNameVerdict toggle_name_check(const char *name, size_t len, size_t *bad_pos);

#endif
