/*
 * epoch_order.c — how two epochs relate (see epoch_order.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "epoch_order.h"

/*
 * split_epoch finds the timeline of SYSTEMID-TIMELINE-INSTANCE: both dashes, digits only
 * on either side of the first; false for anything else.
 */
static bool
split_epoch(const char *epoch, const char **first_dash, const char **second_dash,
			unsigned long *timeline)
{
	const char *d1 = strchr(epoch, '-');
	const char *d2;
	char	   *end;

	if (d1 == NULL || d1 == epoch || strspn(epoch, "0123456789") != (size_t) (d1 - epoch))
		return false;
	d2 = strchr(d1 + 1, '-');
	if (d2 == NULL || d2 == d1 + 1 || strspn(d1 + 1, "0123456789") != (size_t) (d2 - d1 - 1) ||
		d2[1] == '\0')
		return false;
	*timeline = strtoul(d1 + 1, &end, 10);
	*first_dash = d1;
	*second_dash = d2;
	return end == d2;
}

EpochOrder
epoch_order(const char *a, const char *b)
{
	const char *a1,
			   *a2,
			   *b1,
			   *b2;
	unsigned long ta,
				tb;

	if (a == NULL || b == NULL)
		return EPOCH_UNRELATED;
	if (strcmp(a, b) == 0)
		return EPOCH_SAME;
	if (!split_epoch(a, &a1, &a2, &ta) || !split_epoch(b, &b1, &b2, &tb))
		return EPOCH_UNRELATED;
	/* The same system identifier and instance, another timeline. */
	if (a1 - a != b1 - b || strncmp(a, b, a1 - a) != 0 || strcmp(a2, b2) != 0 || ta == tb)
		return EPOCH_UNRELATED;
	return ta > tb ? EPOCH_LATER : EPOCH_EARLIER;
}
