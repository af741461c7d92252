/*
 * targeting.h — the rule language of docs/targeting.md: validation and evaluation of a
 * toggle's rules and variants for a client context at an instant.
 *
 * Shared, as the same source files, by the extension (extension/targeting_sql.c) and
 * toggles-pushd: no PostgreSQL, libwebsockets or cJSON here, no global state.  The host
 * passes memory and time-zone hooks; the instant is an argument.
 */
#ifndef COMMON_TARGETING_H
#define COMMON_TARGETING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct TgHooks
{
	/* alloc returns NULL on failure (the extension's never returns NULL: it throws). */
	void	   *(*alloc) (void *arg, size_t size);
	void		(*free) (void *arg, void *ptr);

	/*
	 * local_time sets *local_us to the wall-clock time of instant t_us (microseconds
	 * since 1970-01-01 00:00 UTC) in time zone tz, as microseconds since 1970-01-01 00:00
	 * local, i.e. t_us plus the UTC offset in force at t_us.  Returns false when tz is
	 * unknown.
	 */
	bool		(*local_time) (void *arg, const char *tz, int64_t t_us, int64_t *local_us);
	void	   *arg;
} TgHooks;

/* tg_compile flags */
#define TG_CHECK_ZONES 0x1		/* refuse unknown time zones (probed with local_time) */

typedef enum TgReason
{
	TG_DISABLED,
	TG_TARGETING_MATCH,
	TG_SPLIT,
	TG_DEFAULT,
	TG_SCHEDULE,
	TG_ERROR
} TgReason;

/* "DISABLED", "TARGETING_MATCH", ... */
extern const char *tg_reason_name(TgReason reason);

/* A toggle's rules and variants, parsed and validated. */
typedef struct TgToggle TgToggle;

/* A client context, parsed. */
typedef struct TgContext TgContext;

/*
 * tg_compile parses and validates rules (a JSON array) and variants (a JSON object) of
 * toggle name; a NULL or empty text stands for [] / {}.  On error returns NULL and writes
 * a message of the form "rules[1].when[0].op: expected ...; got ..." (or
 * "variants.x: ...") to err (always NUL-terminated; errlen >= 1).
 */
extern TgToggle *tg_compile(const char *name,
							const char *rules, size_t rules_len,
							const char *variants, size_t variants_len,
							unsigned flags, const TgHooks *hooks,
							char *err, size_t errlen);
extern void tg_toggle_free(TgToggle *toggle, const TgHooks *hooks);

/* tg_context_parse: a JSON object; NULL/empty text is {}.  NULL + err on error. */
extern TgContext *tg_context_parse(const char *json, size_t len, const TgHooks *hooks,
								   char *err, size_t errlen);
extern void tg_context_free(TgContext *context, const TgHooks *hooks);

typedef struct TgResult
{
	bool		active;
	TgReason	reason;
	const char *variant;		/* variant name or NULL; points into the TgToggle */
	const char *value;			/* the variant's value as compact JSON text, or NULL when
								 * there is no variant (the value is then active) */
	int			rule;			/* index of the deciding rule, -1 when none */
	const char *error;			/* reason TG_ERROR: what went wrong (static or in toggle) */
} TgResult;

/*
 * tg_evaluate evaluates a toggle (is_active and its compiled rules; toggle may be NULL
 * for "no rules, no variants") for context (NULL: {}) at instant at_us.
 */
extern void tg_evaluate(const TgToggle *toggle, bool is_active, const TgContext *context,
						int64_t at_us, const TgHooks *hooks, TgResult *result);

/* tg_result_equal: same active, reason, variant and value. */
extern bool tg_result_equal(const TgResult *a, const TgResult *b);

/* tg_rule_count, tg_variant_count: how many rules and variants (0 for NULL). */
extern int	tg_rule_count(const TgToggle *toggle);
extern int	tg_variant_count(const TgToggle *toggle);

/* Whether the toggle has any window condition (its result can change with time alone). */
extern bool tg_time_dependent(const TgToggle *toggle);

/*
 * tg_time_signature: one bit per window condition of the toggle (in rule order, at most
 * 63), set when the window holds at at_us, plus the top bit when a zone is unknown.  When
 * the signatures at two instants are equal, tg_evaluate gives the same result at both, for
 * every context: pushd calls it each second and re-evaluates only on a difference.
 */
extern uint64_t tg_time_signature(const TgToggle *toggle, int64_t at_us, const TgHooks *hooks);

/* MurmurHash3 x86 32-bit, and the bucket (0..9999) of key for toggle name. */
extern uint32_t tg_murmur3_32(const void *data, size_t len, uint32_t seed);
extern int	tg_bucket(const char *name, const char *key, size_t key_len);

/* Calendar arithmetic, shared with pushd's zoneinfo reader: floor division, leap years,
 * and days since 1970-01-01 of a proleptic Gregorian date. */
extern int64_t tg_floor_div(int64_t a, int64_t b);
extern bool tg_is_leap_year(int64_t y);
extern int64_t tg_days_from_civil(int64_t y, int m, int d);

/* tg_parse_rfc3339: "2026-12-24T18:00:00+01:00" (fractions allowed) -> µs since epoch. */
extern bool tg_parse_rfc3339(const char *s, size_t len, int64_t *us);

#endif
