/*
 * scope.h — a client token's scope: the toggle names it may see, as a list of patterns
 * where '*' stands for any run of characters ("checkout.*", "*", "dark-mode").
 */
#ifndef PUSHD_SCOPE_H
#define PUSHD_SCOPE_H

#include <stdbool.h>

typedef struct Scope
{
	int			npatterns;
	char	  **patterns;		/* sorted, duplicates removed */
	bool		all;			/* one of them is "*" */
	char	   *key;			/* the patterns joined by ',': equal scopes, equal keys */
} Scope;

/* scope_match: does name match pattern ('*' = any run of characters, maybe none)? */
extern bool scope_match(const char *pattern, const char *name);

/* scope_allows: may a client with this scope see name?  NULL scope: everything. */
extern bool scope_allows(const Scope *scope, const char *name);

/*
 * scope_from_json parses a JSON array of pattern strings (array_to_json(text[])).
 * NULL when the text is not such an array or is empty.
 */
extern Scope *scope_from_json(const char *json);
extern Scope *scope_copy(const Scope *scope);
extern void scope_free(Scope *scope);

#endif
