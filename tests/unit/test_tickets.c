/*
 * test_tickets.c — cmocka tests of stream tickets (pushd/tickets.c): a ticket made on one
 * node is good on any other with the same key, the same caller gets the same ticket for
 * half its life, and nothing else passes: another key, a changed byte, an expired one,
 * an anonymous ticket posing as a token's, garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "context.h"
#include "tickets.h"

#define S 1000000LL
#define NOW (1796175900LL * S)	/* a multiple of 300 s */

static const unsigned char key[TICKET_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char other_key[TICKET_KEY_LEN] = "0123456789abcdef0123456789abcdeF";
static const char context[] = "{\"country\":\"fr\",\"key\":\"user-1\"}";

static bool
opens(const char *text, const unsigned char *with, int64_t now, Ticket *t)
{
	return ticket_parse(text, strlen(text), t) && ticket_verify(t, with, now);
}

static void
test_round_trip_on_any_node(void **state)
{
	char	   *text = ticket_make(42, key, context, NOW);
	Ticket		t;

	(void) state;
	assert_non_null(text);
	/* URL-safe as it is: base64url and one dot. */
	assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
					 strlen(text));
	assert_true(opens(text, key, NOW + 5 * S, &t));
	assert_true(t.has_token);
	assert_int_equal(t.token_id, 42);
	assert_string_equal(t.context, context);
	assert_int_equal(t.expires_s, NOW / S + 600);
	ticket_clear(&t);
	free(text);
}

static void
test_same_caller_same_ticket_for_half_its_life(void **state)
{
	char	   *a = ticket_make(42, key, context, NOW);
	char	   *b = ticket_make(42, key, context, NOW + 299 * S);
	char	   *c = ticket_make(42, key, context, NOW + 300 * S);
	char	   *d = ticket_make(42, key, "{\"key\":\"user-2\"}", NOW);
	Ticket		t;

	(void) state;
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	/* Every ticket handed out has more than half of its life left. */
	assert_true(opens(b, key, NOW + 599 * S, &t));
	ticket_clear(&t);
	assert_false(opens(b, key, NOW + 600 * S, &t));
	ticket_clear(&t);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void
test_forgeries_fail(void **state)
{
	char	   *text = ticket_make(42, key, context, NOW);
	char	   *anon = ticket_make(0, NULL, context, NOW);
	char	   *copy = strdup(text);
	Ticket		t;

	(void) state;
	assert_false(opens(text, other_key, NOW, &t));	/* another token's key */
	ticket_clear(&t);
	assert_false(opens(text, NULL, NOW, &t));	/* taken for an anonymous one */
	ticket_clear(&t);
	assert_true(opens(anon, NULL, NOW, &t));
	assert_false(t.has_token);
	ticket_clear(&t);
	assert_false(opens(anon, key, NOW, &t));	/* an anonymous ticket is no token's */
	ticket_clear(&t);
	/* Every single character changed: refused (or not even a ticket). */
	for (size_t i = 0; i < strlen(copy); i++)
	{
		char		was = copy[i];

		copy[i] = was == 'A' ? 'B' : 'A';
		assert_false(opens(copy, key, NOW, &t));
		ticket_clear(&t);
		copy[i] = was;
	}
	free(text);
	free(anon);
	free(copy);
}

static void
test_garbage_is_no_ticket(void **state)
{
	const char *garbage[] = {"", ".", "A.", ".A", "AAAA", "A.A", "AAAA.AAAA", "!!!!.!!!!", "AAAA=.AAAA",
	"AAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AA+/.AAAA"};
	Ticket		t;
	char	   *huge = malloc(TICKET_MAX + 2);

	(void) state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(*garbage); i++)
	{
		assert_false(opens(garbage[i], key, NOW, &t));
		ticket_clear(&t);
	}
	memset(huge, 'A', TICKET_MAX + 1);
	huge[TICKET_MAX / 2] = '.';
	huge[TICKET_MAX + 1] = '\0';
	assert_false(ticket_parse(huge, TICKET_MAX + 1, &t));
	free(huge);
}

static void
test_largest_context_fits(void **state)
{
	char	   *big = malloc(CONTEXT_MAX + 2);
	char	   *text;
	Ticket		t;

	(void) state;
	memset(big, 'x', CONTEXT_MAX);
	big[CONTEXT_MAX] = '\0';
	text = ticket_make(7, key, big, NOW);
	assert_non_null(text);
	assert_true(strlen(text) <= TICKET_MAX);
	assert_true(opens(text, key, NOW, &t));
	assert_int_equal(strlen(t.context), CONTEXT_MAX);
	ticket_clear(&t);
	free(text);
	big[CONTEXT_MAX] = 'x';
	big[CONTEXT_MAX + 1] = '\0';
	assert_null(ticket_make(7, key, big, NOW));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_on_any_node),
		cmocka_unit_test(test_same_caller_same_ticket_for_half_its_life),
		cmocka_unit_test(test_forgeries_fail),
		cmocka_unit_test(test_garbage_is_no_ticket),
		cmocka_unit_test(test_largest_context_fits),
	};

	return RUN_AND_REPORT(tests, NULL, NULL);
}
