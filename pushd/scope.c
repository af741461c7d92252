/*
 * scope.c — token scopes (see scope.h, docs/security.md).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "scope.h"

bool
scope_match(const char *pattern, const char *name)
{
	const char *star_p = NULL;	/* the last '*' seen, and where name stood then */
	const char *star_n = NULL;

	/* Iterative glob with one level of backtracking: linear in practice. */
	while (*name)
	{
		if (*pattern == '*')
		{
			star_p = pattern++;
			star_n = name;
		}
		else if (*pattern == *name)
		{
			pattern++;
			name++;
		}
		else if (star_p)
		{
			pattern = star_p + 1;
			name = ++star_n;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

bool
scope_allows(const Scope *scope, const char *name)
{
	if (scope == NULL || scope->all)
		return true;
	for (int i = 0; i < scope->npatterns; i++)
		if (scope_match(scope->patterns[i], name))
			return true;
	return false;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

Scope *
scope_from_json(const char *json)
{
	cJSON	   *array = cJSON_Parse(json);
	Scope	   *scope = NULL;
	int			n;
	size_t		keylen = 1;

	if (!cJSON_IsArray(array) || (n = cJSON_GetArraySize(array)) == 0)
		goto done;
	scope = calloc(1, sizeof(Scope));
	scope->patterns = calloc(n, sizeof(char *));
	for (cJSON *item = array->child; item; item = item->next)
	{
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
		{
			scope_free(scope);
			scope = NULL;
			goto done;
		}
		scope->patterns[scope->npatterns++] = strdup(item->valuestring);
	}
	qsort(scope->patterns, scope->npatterns, sizeof(char *), compare_strings);

	/* Drop duplicates, note "*", build the key. */
	n = 0;
	for (int i = 0; i < scope->npatterns; i++)
	{
		if (n > 0 && strcmp(scope->patterns[n - 1], scope->patterns[i]) == 0)
		{
			free(scope->patterns[i]);
			continue;
		}
		scope->patterns[n++] = scope->patterns[i];
	}
	scope->npatterns = n;
	for (int i = 0; i < n; i++)
	{
		if (strcmp(scope->patterns[i], "*") == 0)
			scope->all = true;
		keylen += strlen(scope->patterns[i]) + 1;
	}
	scope->key = malloc(keylen);
	scope->key[0] = '\0';
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			strcat(scope->key, ",");
		strcat(scope->key, scope->patterns[i]);
	}
done:
	cJSON_Delete(array);
	return scope;
}

Scope *
scope_copy(const Scope *scope)
{
	Scope	   *copy;

	if (scope == NULL)
		return NULL;
	copy = calloc(1, sizeof(Scope));
	copy->patterns = calloc(scope->npatterns, sizeof(char *));
	for (int i = 0; i < scope->npatterns; i++)
		copy->patterns[i] = strdup(scope->patterns[i]);
	copy->npatterns = scope->npatterns;
	copy->all = scope->all;
	copy->key = strdup(scope->key);
	return copy;
}

void
scope_free(Scope *scope)
{
	if (scope == NULL)
		return;
	for (int i = 0; i < scope->npatterns; i++)
		free(scope->patterns[i]);
	free(scope->patterns);
	free(scope->key);
	free(scope);
}
