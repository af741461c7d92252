/*
 * toggle.c — the description of a toggle's fields and what is done through it (see
 * toggle.h).
 */
#include <stdlib.h>
#include <string.h>

#include "toggle.h"

#define FIELD(col, mem, kind, shown, cached, empty, field) \
	{col, mem, kind, shown, cached, empty, offsetof(Toggle, field)}

/*
 * The fields in the order of their columns and of their members in T.  rules and variants
 * are read through the row's jsonb, which holds whatever columns the installed extension
 * has: before 0.2.0 they are NULL, i.e. [] and {}.
 */
const ToggleField toggle_fields[] = {
	FIELD("name", "name", TF_TEXT, TF_KEY, true, false, name),
	FIELD("(new->>'is_active')::boolean", NULL, TF_BOOL, TF_EVALUATED, true, false, active),
	FIELD("version", "version", TF_INT64, TF_SENT_STAMP, true, false, version),
	FIELD("new->>'description'", "description", TF_TEXT, TF_SENT_NEWS, true, true, description),
	FIELD("new->>'updated_at'", "updated_at", TF_TEXT, TF_SENT_STAMP, true, false, updated_at),
	FIELD("new->>'rules'", NULL, TF_TEXT, TF_EVALUATED, false, false, rules),
	FIELD("new->>'variants'", NULL, TF_TEXT, TF_EVALUATED, false, false, variants),
};
const int	toggle_nfields = sizeof(toggle_fields) / sizeof(toggle_fields[0]);

const char *
toggle_columns_sql(void)
{
	static char sql[512];

	if (sql[0] == '\0')
	{
		int			i;

		for (i = 0; i < toggle_nfields; i++)
		{
			if (i > 0)
				strcat(sql, ", ");
			strcat(sql, toggle_fields[i].column);
		}
	}
	return sql;
}

const ToggleField *
toggle_field_by_member(const char *member)
{
	int			i;

	for (i = 0; i < toggle_nfields; i++)
		if (toggle_fields[i].member && strcmp(toggle_fields[i].member, member) == 0)
			return &toggle_fields[i];
	return NULL;
}

static char **
text_at(Toggle *t, const ToggleField *f)
{
	return (char **) ((char *) t + f->offset);
}

static char *
dup_or_null(const char *s)
{
	char	   *copy;

	if (s == NULL)
		return NULL;
	copy = strdup(s);
	if (copy == NULL)
		abort();
	return copy;
}

void
toggle_set_field(Toggle *t, const ToggleField *f, const char *text)
{
	char	   *p = (char *) t + f->offset;

	switch (f->kind)
	{
		case TF_TEXT:
			free(*text_at(t, f));
			*text_at(t, f) = dup_or_null(text == NULL && f->null_as_empty ? "" : text);
			break;
		case TF_BOOL:
			*(bool *) p = text != NULL && text[0] == 't';
			break;
		case TF_INT64:
			*(int64_t *) p = text ? strtoll(text, NULL, 10) : 0;
			break;
	}
}

const char *
toggle_text(const Toggle *t, const ToggleField *f)
{
	const char *s = *(char *const *) ((const char *) t + f->offset);

	return s == NULL && f->null_as_empty ? "" : s;
}

int64_t
toggle_int64(const Toggle *t, const ToggleField *f)
{
	return *(const int64_t *) ((const char *) t + f->offset);
}

bool
toggle_bool(const Toggle *t, const ToggleField *f)
{
	return *(const bool *) ((const char *) t + f->offset);
}

void
toggle_copy_cached(Toggle *dst, const Toggle *src)
{
	int			i;

	for (i = 0; i < toggle_nfields; i++)
	{
		const ToggleField *f = &toggle_fields[i];

		if (!f->cached)
			continue;
		if (f->kind == TF_TEXT)
			*text_at(dst, f) = dup_or_null(*(char *const *) ((const char *) src + f->offset));
		else if (f->kind == TF_BOOL)
			*(bool *) ((char *) dst + f->offset) = toggle_bool(src, f);
		else
			*(int64_t *) ((char *) dst + f->offset) = toggle_int64(src, f);
	}
}

static bool
field_equal(const Toggle *a, const Toggle *b, const ToggleField *f)
{
	const char *sa;
	const char *sb;

	switch (f->kind)
	{
		case TF_BOOL:
			return toggle_bool(a, f) == toggle_bool(b, f);
		case TF_INT64:
			return toggle_int64(a, f) == toggle_int64(b, f);
		case TF_TEXT:
			break;
	}
	sa = toggle_text(a, f);
	sb = toggle_text(b, f);
	return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
}

bool
toggle_news(const Toggle *old, const Toggle *new)
{
	int			i;

	for (i = 0; i < toggle_nfields; i++)
		if (toggle_fields[i].shown == TF_SENT_NEWS && !field_equal(old, new, &toggle_fields[i]))
			return true;
	return false;
}

void
toggle_free(Toggle *t)
{
	int			i;

	for (i = 0; i < toggle_nfields; i++)
		if (toggle_fields[i].kind == TF_TEXT)
		{
			free(*text_at(t, &toggle_fields[i]));
			*text_at(t, &toggle_fields[i]) = NULL;
		}
	free(t->broken);
	t->broken = NULL;
}

void
deltas_free(ToggleDelta *deltas, int ndeltas)
{
	int			i;

	for (i = 0; i < ndeltas; i++)
		toggle_free(&deltas[i].state);
	free(deltas);
}
