/*
 * toggle.h — a toggle as pushd holds it, and the one description of its fields: the column
 * it is read from, the member of T (docs/protocol.md) it is sent as, and what a change of
 * it shows a client.  Reading (sync.c), copying and freeing (cache.c), encoding
 * (encode.c) and the rule of which writes clients hear of (groups.c) all walk
 * toggle_fields; a field is added there, once.
 */
#ifndef PUSHD_TOGGLE_H
#define PUSHD_TOGGLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targeting.h"

typedef struct Toggle
{
	/* Described by toggle_fields. */
	char	   *name;
	bool		active;			/* is_active: the kill switch */
	int64_t		version;
	char	   *description;
	char	   *updated_at;
	char	   *rules;			/* JSON text as read (deltas only; NULL = []) */
	char	   *variants;		/* JSON text as read (deltas only; NULL = {}) */

	/* Cached toggles only: what the cache derives from the fields. */
	int			slot;			/* stable index of its result in every group */
	TgToggle   *compiled;		/* NULL: no rules and no variants, or broken */
	char	   *broken;			/* why tg_compile refused it (evaluates as ERROR, off) */
	bool		timed;			/* has window conditions: its result changes with time */
	uint64_t	signature;		/* tg_time_signature when its results were last evaluated */
} Toggle;

/* What one transaction did to one toggle: its new state, or its removal. */
typedef struct ToggleDelta
{
	bool		removed;
	Toggle		state;			/* state.name is always set */
} ToggleDelta;

typedef enum ToggleFieldKind
{
	TF_TEXT,					/* char *, NULL for SQL NULL */
	TF_BOOL,					/* bool, from 't' / 'f' */
	TF_INT64					/* int64_t, from decimal text: never through a double */
} ToggleFieldKind;

/* What a client sees of a field; every field says, so none is left out by accident. */
typedef enum ToggleFieldShown
{
	TF_KEY,						/* the name: sent, and what the toggle is known by */
	TF_EVALUATED,				/* seen only through the result of evaluation */
	TF_SENT_NEWS,				/* sent as is; a write that changes it alone is news */
	TF_SENT_STAMP				/* sent as is; every write changes it, so alone it is no news */
} ToggleFieldShown;

typedef struct ToggleField
{
	const char *column;			/* SQL over a row of toggles.features or toggles.changes */
	const char *member;			/* its member in T; NULL when not sent as is */
	ToggleFieldKind kind;
	ToggleFieldShown shown;
	bool		cached;			/* kept by the cache (rules and variants are compiled instead) */
	bool		null_as_empty;	/* text: NULL is read and sent as "" */
	size_t		offset;			/* in Toggle */
} ToggleField;

extern const ToggleField toggle_fields[];
extern const int toggle_nfields;

/*
 * toggle_columns_sql: the SQL select list of every field, in the order of toggle_fields,
 * over a row whose columns are name and version and whose jsonb is new (the changes
 * table's column, or to_jsonb() of a features row).  Static text.
 */
extern const char *toggle_columns_sql(void);

/* toggle_field_by_member: the field sent as member, or NULL. */
extern const ToggleField *toggle_field_by_member(const char *member);

/* toggle_set_field reads one field's column text (NULL: SQL NULL) into t. */
extern void toggle_set_field(Toggle *t, const ToggleField *f, const char *text);

/* toggle_copy_cached copies into dst (empty) the fields the cache keeps of src. */
extern void toggle_copy_cached(Toggle *dst, const Toggle *src);

/*
 * toggle_news: whether a write that took a toggle from old to new is news to every client
 * who may see it, whatever its result: a TF_SENT_NEWS field changed.  (A changed result is
 * news too; groups.c compares those per group.)
 */
extern bool toggle_news(const Toggle *old, const Toggle *new);

/* toggle_text: a text field's value as sent (NULL only for a nullable NULL). */
extern const char *toggle_text(const Toggle *t, const ToggleField *f);
extern int64_t toggle_int64(const Toggle *t, const ToggleField *f);
extern bool toggle_bool(const Toggle *t, const ToggleField *f);

extern void toggle_free(Toggle *toggle);
extern void deltas_free(ToggleDelta *deltas, int ndeltas);

#endif
