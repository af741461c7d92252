/*
 * etag.h — the entity tags of answers computed from one state of the toggles, "EPOCH-
 * VERSION-HASH" (docs/protocol.md, "Never backwards"; docs/openfeature.md): EPOCH and
 * VERSION name the state (toggles.epoch() and the version this process had reached), HASH
 * (16 hex digits) what the answer says.  A tag a client sends back says which state it has
 * seen, so a process that is behind can tell it has not reached that state yet.
 */
#ifndef PUSHD_ETAG_H
#define PUSHD_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest tag read (with its quotes); a longer one is not ours and never matches. */
#define ETAG_MAX 256

/* The longest If-None-Match read (a list of tags); a longer one is as none. */
#define ETAG_HEADER_MAX 1024

/* The most tags of ours an If-None-Match list is read for; later ones are left out. */
#define ETAG_LIST_MAX 4

/* The longest epoch a tag may name (toggles.epoch() is about 55 characters). */
#define ETAG_EPOCH_MAX 200

/* What a tag says: the state an answer came from and a hash of the answer. */
typedef struct StateTag
{
	char		epoch[ETAG_EPOCH_MAX + 1];
	int64_t		version;
	uint64_t	hash;
} StateTag;

/*
 * etag_format writes the tag of an answer with hash, computed at (epoch, version), quotes
 * included; false when it does not fit in size (out is then "").  epoch NULL: "".
 */
extern bool etag_format(char *out, size_t size, const char *epoch, int64_t version, uint64_t hash);

/*
 * etag_parse reads one entity tag of len bytes, as etag_format writes it (a weak W/ prefix
 * is allowed: If-None-Match compares weakly): EPOCH of letters, digits and dashes, VERSION
 * of decimal digits (at most INT64_MAX), HASH of 16 hex digits.  False for anything else: a
 * list, "*", another server's tag, text too long or cut.
 */
extern bool etag_parse(const char *text, size_t len, StateTag *tag);

/*
 * etag_parse_list reads If-None-Match: one entity tag or a comma-separated list of them
 * (RFC 9110), and keeps those that are tags of ours (etag_parse) in tags, at most max, in
 * their order; returns how many.  Other tags in the list are skipped; "*", or text that is
 * not a list of entity tags (even in part), gives 0.
 */
extern int	etag_parse_list(const char *text, size_t len, StateTag *tags, int max);

/*
 * etag_ahead: tag names a state the process at (epoch, version) has not reached: a higher
 * version of the same epoch, or a later timeline of its history (epoch_order.h).  A tag of
 * an unrelated or earlier epoch is not ahead: versions of other histories do not compare.
 */
extern bool etag_ahead(const StateTag *tag, const char *epoch, int64_t version);

/*
 * etag_furthest_ahead: of the n tags, the one furthest ahead of (epoch, version) — a later
 * timeline before a higher version — or NULL when none is ahead.
 */
extern const StateTag *etag_furthest_ahead(const StateTag *tags, int n, const char *epoch,
										   int64_t version);

#endif
