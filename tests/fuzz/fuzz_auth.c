/*
 * fuzz_auth.c — the handshake headers pushd reads for a token (pushd/auth.c) and token
 * scopes (pushd/scope.c).  Input: Authorization value NUL Sec-WebSocket-Protocol value
 * NUL scope JSON NUL toggle names (NUL-separated).  scope_match is checked against a
 * plain dynamic-programming glob, and the parsers' answers against what they promise.
 */
#include <stdbool.h>
#include <stdio.h>

#include "auth.h"
#include "fuzz.h"
#include "scope.h"

#define MAX_PARTS 8

/* reference_match: '*' matches any run; the table walk of the textbook, for small inputs. */
static bool
reference_match(const char *pattern, const char *name)
{
	size_t		m = strlen(pattern),
				n = strlen(name);
	bool	   *prev = calloc(n + 1, sizeof(bool));
	bool	   *cur = calloc(n + 1, sizeof(bool));
	bool		result;

	if (prev == NULL || cur == NULL)
		abort();
	prev[0] = true;				/* empty pattern, empty name */
	for (size_t i = 1; i <= m; i++)
	{
		cur[0] = prev[0] && pattern[i - 1] == '*';
		for (size_t j = 1; j <= n; j++)
			cur[j] = pattern[i - 1] == '*' ? (prev[j] || cur[j - 1]) :
				(prev[j - 1] && pattern[i - 1] == name[j - 1]);
		memcpy(prev, cur, (n + 1) * sizeof(bool));
	}
	result = prev[n];
	free(prev);
	free(cur);
	return result;
}

static void
check_match(const char *pattern, const char *name)
{
	if (strlen(pattern) * strlen(name) > 1000000)
		return;
	if (scope_match(pattern, name) != reference_match(pattern, name))
	{
		fprintf(stderr, "scope_match(\"%s\", \"%s\") is wrong\n", pattern, name);
		abort();
	}
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed_names[] = {
		"dark-mode", "checkout.new-flow", "checkout.", "a", "beta.*", "x_y-z.1"
	};
	const char *names[sizeof(fixed_names) / sizeof(fixed_names[0]) + MAX_PARTS];
	int			nnames = 0;
	FuzzPart	part[MAX_PARTS];
	char	   *text[MAX_PARTS];
	int			nparts = fuzz_split(data, size, part, MAX_PARTS);
	const char *tok;
	size_t		len = 0;
	Scope	   *scope;

	for (int i = 0; i < MAX_PARTS; i++)
		text[i] = fuzz_cstring(part[i]);
	for (size_t i = 0; i < sizeof(fixed_names) / sizeof(fixed_names[0]); i++)
		names[nnames++] = fixed_names[i];
	for (int i = 3; i < nparts; i++)
		names[nnames++] = text[i];

	/* Authorization: the token is inside the value, non-empty, without white space. */
	tok = auth_parse_bearer(text[0], &len);
	if (tok != NULL &&
		(tok < text[0] || tok + len > text[0] + strlen(text[0]) || len == 0 ||
		 strcspn(tok, " \t\r\n") != len))
	{
		fprintf(stderr, "auth_parse_bearer: a bad token\n");
		abort();
	}

	/* Sec-WebSocket-Protocol: a non-empty entry, not ours, without edge white space. */
	tok = auth_parse_subprotocols(text[1], &len);
	if (tok != NULL &&
		(tok < text[1] || tok + len > text[1] + strlen(text[1]) || len == 0 ||
		 memchr(tok, ',', len) != NULL || is_ows(tok[0]) || is_ows(tok[len - 1]) ||
		 (len == strlen(AUTH_SUBPROTOCOL) && memcmp(tok, AUTH_SUBPROTOCOL, len) == 0)))
	{
		fprintf(stderr, "auth_parse_subprotocols: a bad entry\n");
		abort();
	}

	/* The scope: sorted, no duplicates, allows what one of its patterns matches. */
	scope = scope_from_json(text[2]);
	if (scope != NULL)
	{
		for (int i = 1; i < scope->npatterns; i++)
			if (strcmp(scope->patterns[i - 1], scope->patterns[i]) >= 0)
			{
				fprintf(stderr, "scope_from_json: patterns not sorted and unique\n");
				abort();
			}
		for (int k = 0; k < nnames; k++)
		{
			bool		any = false;

			for (int i = 0; i < scope->npatterns; i++)
			{
				check_match(scope->patterns[i], names[k]);
				any = any || scope_match(scope->patterns[i], names[k]);
			}
			if (scope_allows(scope, names[k]) != any)
			{
				fprintf(stderr, "scope_allows disagrees with its patterns\n");
				abort();
			}
		}
		scope_free(scope);
	}

	/* The glob on its own: the first two parts as pattern and name. */
	check_match(text[0], text[1]);
	check_match(text[1], text[0]);

	for (int i = 0; i < MAX_PARTS; i++)
		free(text[i]);
	return 0;
}
