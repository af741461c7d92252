/*
 * epoch_order.h — how two epochs relate (docs/change-stream.md, "Epochs").
 *
 * An epoch is SYSTEMID-TIMELINE-INSTANCE (toggles.epoch()).  A promoted standby keeps the
 * system identifier and the instance (they replicate) and starts a higher timeline, so
 * epochs equal in both are ordered by timeline: the higher one is a later history of the
 * same toggles, which superseded the lower one for good.  Any other difference (a restore,
 * a re-created extension, another cluster) is unrelated: neither comes after the other.
 */
#ifndef PUSHD_EPOCH_ORDER_H
#define PUSHD_EPOCH_ORDER_H

typedef enum EpochOrder
{
	EPOCH_SAME,
	EPOCH_LATER,				/* a is a later timeline of b's history */
	EPOCH_EARLIER,				/* a is an earlier timeline of b's history */
	EPOCH_UNRELATED				/* another history, or text that is not an epoch */
} EpochOrder;

/* epoch_order: how epoch a relates to epoch b. */
extern EpochOrder epoch_order(const char *a, const char *b);

#endif
