/*
 * test_tokens.c — unit tests of client tokens in pushd: scope patterns (pushd/scope.c),
 * where a token is found in a request (pushd/auth.c) and the in-memory token set
 * (pushd/tokens.c, fed a libpq result built by hand), under ASan/UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "auth.h"
#include "scope.h"
#include "tokens.h"

static void
test_scope_match(void **state)
{
	assert_true(scope_match("*", "anything"));
	assert_true(scope_match("*", ""));
	assert_true(scope_match("checkout.*", "checkout.new-flow"));
	assert_true(scope_match("checkout.*", "checkout."));
	assert_false(scope_match("checkout.*", "checkout"));
	assert_false(scope_match("checkout.*", "xcheckout.a"));
	assert_true(scope_match("dark-mode", "dark-mode"));
	assert_false(scope_match("dark-mode", "dark-mode2"));
	assert_false(scope_match("dark-mode", "dark-mod"));
	assert_true(scope_match("*.beta", "search.beta"));
	assert_false(scope_match("*.beta", "search.beta.2"));
	assert_true(scope_match("a*b*c", "aXXbYYc"));
	assert_true(scope_match("a*b*c", "abc"));
	assert_false(scope_match("a*b*c", "acb"));
	assert_true(scope_match("**", "x"));
	/* backtracking: the first 'b' is not the one that matches */
	assert_true(scope_match("*ab", "aab"));
	assert_true(scope_match("a*ab", "aaab"));
}

static void
test_scope_from_json(void **state)
{
	Scope	   *s = scope_from_json("[\"checkout.*\", \"dark-mode\", \"checkout.*\"]");

	assert_non_null(s);
	assert_int_equal(s->npatterns, 2);
	assert_string_equal(s->key, "checkout.*,dark-mode");
	assert_false(s->all);
	assert_true(scope_allows(s, "checkout.x"));
	assert_true(scope_allows(s, "dark-mode"));
	assert_false(scope_allows(s, "search"));
	scope_free(s);

	s = scope_from_json("[\"b\", \"*\"]");
	assert_non_null(s);
	assert_true(s->all);
	assert_true(scope_allows(s, "whatever"));
	scope_free(s);

	assert_true(scope_allows(NULL, "x"));
	assert_null(scope_from_json("[]"));
	assert_null(scope_from_json("{}"));
	assert_null(scope_from_json("[1]"));
	assert_null(scope_from_json("[\"\"]"));
	assert_null(scope_from_json("not json"));
}

static void
test_bearer(void **state)
{
	size_t		len = 0;
	const char *t;

	t = auth_parse_bearer("Bearer tgt_abc", &len);
	assert_non_null(t);
	assert_int_equal(len, 7);
	assert_memory_equal(t, "tgt_abc", 7);
	t = auth_parse_bearer("  bearer   tgt_abc  ", &len);
	assert_non_null(t);
	assert_int_equal(len, 7);
	assert_null(auth_parse_bearer("Basic dXNlcjpwYXNz", &len));
	assert_null(auth_parse_bearer("Bearer", &len));
	assert_null(auth_parse_bearer("Bearer ", &len));
	assert_null(auth_parse_bearer("Bearertgt_abc", &len));
	assert_null(auth_parse_bearer("Bearer a b", &len));
	assert_null(auth_parse_bearer("", &len));
}

static void
test_subprotocols(void **state)
{
	size_t		len = 0;
	const char *t;

	t = auth_parse_subprotocols("pg-toggles.v1, tgt_abc", &len);
	assert_non_null(t);
	assert_int_equal(len, 7);
	assert_memory_equal(t, "tgt_abc", 7);
	t = auth_parse_subprotocols("tgt_abc,pg-toggles.v1", &len);
	assert_non_null(t);
	assert_int_equal(len, 7);
	t = auth_parse_subprotocols(" pg-toggles.v1 ,  tgt_x  ", &len);
	assert_non_null(t);
	assert_int_equal(len, 5);
	assert_null(auth_parse_subprotocols("pg-toggles.v1", &len));
	assert_null(auth_parse_subprotocols("pg-toggles.v1, ,", &len));
	assert_null(auth_parse_subprotocols("", &len));
}

/* A libpq result shaped like tokens_load_sql()'s, built by hand. */
static PGresult *
token_rows(int n, const char *const rows[][6])
{
	PGresAttDesc attrs[6];
	const char *names[6] = {"id", "label", "hash", "scope", "expires", "revoked"};
	PGresult   *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < 6; i++)
	{
		attrs[i].name = (char *) names[i];
		attrs[i].format = 0;
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(res, 6, attrs));
	for (int r = 0; r < n; r++)
		for (int f = 0; f < 6; f++)
			assert_true(PQsetvalue(res, r, f, (char *) rows[r][f], (int) strlen(rows[r][f])));
	return res;
}


static void
test_token_set(void **state)
{
	char		alpha[65], beta[65], gamma[65];
	FILE	   *p;
	const Token *t = NULL;

	/* The digests from the system's sha256sum, so the test checks our hashing too. */
	p = popen("printf %s tgt_alpha | sha256sum | cut -c1-64; "
			  "printf %s tgt_beta | sha256sum | cut -c1-64; "
			  "printf %s tgt_gamma | sha256sum | cut -c1-64", "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s %64s %64s", alpha, beta, gamma), 3);
	pclose(p);

	{
		const char *const rows[][6] = {
			{"1", "web", alpha, "[\"checkout.*\"]", "0", "f"},
			{"2", "old", beta, "[\"*\"]", "0", "t"},
			{"3", "temp", gamma, "[\"*\"]", "2000000", "f"},
			{"4", "broken", "zz", "[\"*\"]", "0", "f"},
		};
		PGresult   *res = token_rows(4, rows);

		assert_true(tokens_load_result(res));
		PQclear(res);
	}
	assert_int_equal(tokens_count(), 3);	/* the unreadable hash is left out */

	assert_int_equal(tokens_check("tgt_alpha", 9, 1000000, &t), TOKEN_OK);
	assert_non_null(t);
	assert_int_equal(t->id, 1);
	assert_true(scope_allows(t->scope, "checkout.a"));
	assert_false(scope_allows(t->scope, "search"));
	assert_int_equal(tokens_check("tgt_beta", 8, 1000000, &t), TOKEN_REVOKED);
	assert_int_equal(tokens_check("tgt_gamma", 9, 1999999, &t), TOKEN_OK);
	assert_int_equal(tokens_check("tgt_gamma", 9, 2000000, &t), TOKEN_EXPIRED);
	assert_int_equal(tokens_check("tgt_delta", 9, 0, &t), TOKEN_UNKNOWN);
	assert_null(t);
	assert_int_equal(tokens_check("tgt_alph", 8, 0, &t), TOKEN_UNKNOWN);
	assert_int_equal(tokens_check(NULL, 0, 0, &t), TOKEN_MISSING);
	assert_int_equal(tokens_check_id(1, 0, &t), TOKEN_OK);
	assert_int_equal(tokens_check_id(2, 0, &t), TOKEN_REVOKED);
	assert_int_equal(tokens_check_id(99, 0, &t), TOKEN_REVOKED);
	assert_int_equal(tokens_next_expiry(1000000), 2000000);
	assert_int_equal(tokens_next_expiry(2000000), 0);

	/* A reload replaces the set: alpha revoked, gamma gone. */
	{
		const char *const rows[][6] = {
			{"1", "web", alpha, "[\"checkout.*\"]", "0", "t"},
		};
		PGresult   *res = token_rows(1, rows);

		assert_true(tokens_load_result(res));
		PQclear(res);
	}
	assert_int_equal(tokens_check("tgt_alpha", 9, 0, &t), TOKEN_REVOKED);
	assert_int_equal(tokens_check_id(3, 0, &t), TOKEN_REVOKED);
	tokens_free_all();
	assert_int_equal(tokens_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_match),
		cmocka_unit_test(test_scope_from_json),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_subprotocols),
		cmocka_unit_test(test_token_set),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
