/*
 * tg_json.h — a small strict JSON parser (RFC 8259) into a tree held in an arena, for the
 * rule language (targeting.c) only.
 *
 * Strict: no comments, trailing commas, NaN or leading zeros; strings must be valid UTF-8
 * and \u escapes well-formed (surrogates in pairs); nesting is limited to TG_JSON_MAX_DEPTH.
 * Numbers are kept exactly, as decimals, so that 1, 1.0 and 1e0 compare equal without a
 * locale-dependent or rounding conversion.  Duplicate object members are kept; readers take
 * the last one, as jsonb does.
 */
#ifndef COMMON_TG_JSON_H
#define COMMON_TG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targeting.h"

#define TG_JSON_MAX_DEPTH 64

/* An arena: blocks from the host's alloc hook, all freed at once. */
typedef struct TgArenaBlock TgArenaBlock;

typedef struct TgArena
{
	TgArenaBlock *head;
	const TgHooks *hooks;
} TgArena;

extern void tg_arena_init(TgArena *arena, const TgHooks *hooks);

/* tg_hex_value: the value of hex digit c, or -1. */
extern int	tg_hex_value(unsigned char c);

/* tg_arena_alloc: size bytes aligned for any member type, or NULL when out of memory. */
extern void *tg_arena_alloc(TgArena *arena, size_t size);
extern char *tg_arena_strndup(TgArena *arena, const char *s, size_t len);
extern void tg_arena_free(TgArena *arena, const TgHooks *hooks);

typedef enum TgJsonType
{
	TGJ_NULL,
	TGJ_FALSE,
	TGJ_TRUE,
	TGJ_NUMBER,
	TGJ_STRING,
	TGJ_ARRAY,
	TGJ_OBJECT
} TgJsonType;

/*
 * TgDecimal: the exact value of a JSON number, (neg ? -1 : 1) * 0.d1d2...dn * 10^exp with
 * no leading or trailing zero digit; zero has ndigits = 0 and neg = false.
 */
typedef struct TgDecimal
{
	const char *digits;
	int32_t		ndigits;
	int32_t		exp;
	bool		neg;
} TgDecimal;

typedef struct TgJson TgJson;

struct TgJson
{
	TgJsonType	type;
	TgJson	   *next;			/* next element or member of the parent */
	const char *key;			/* object member: its name (NUL-terminated copy) */
	size_t		key_len;
	const char *str;			/* string: the decoded UTF-8 (NUL-terminated copy);
								 * number: the text as written */
	size_t		len;
	TgDecimal	num;			/* number */
	TgJson	   *child;			/* array or object: the first element or member */
	int			count;			/* array or object: number of elements or members */
};

/*
 * tg_json_parse parses text[0..len) into a tree allocated in arena.  On error returns NULL
 * and writes "invalid JSON at offset N: ..." (or "out of memory") to err.
 */
extern TgJson *tg_json_parse(const char *text, size_t len, TgArena *arena,
							 char *err, size_t errlen);

/* tg_json_member: the last member called key of object obj, or NULL. */
extern const TgJson *tg_json_member(const TgJson *obj, const char *key);

/* tg_decimal_cmp: -1, 0 or 1 as a is less than, equal to or greater than b. */
extern int	tg_decimal_cmp(const TgDecimal *a, const TgDecimal *b);

/* tg_json_type_name: "null", "a boolean", "a number", "a string", "an array", "an object". */
extern const char *tg_json_type_name(TgJsonType type);

/*
 * tg_json_compact_len and tg_json_write_compact: v as compact JSON (no whitespace, strings
 * escaped minimally, numbers as written).  The writer writes exactly compact_len bytes and
 * a NUL.
 */
extern size_t tg_json_compact_len(const TgJson *v);
extern void tg_json_write_compact(const TgJson *v, char *out);

#endif
