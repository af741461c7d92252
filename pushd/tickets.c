/*
 * tickets.c — stream tickets in memory (see tickets.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tickets.h"

/* At most this many live tickets; the oldest go first beyond it. */
#define TICKETS_MAX 10000

static Ticket *tickets;			/* in minting order: the oldest first */
static int	nticket;
static int	cap;

static void
drop_first(int n)
{
	int			i;

	if (n == 0)
		return;					/* tickets may be NULL: memmove must not see it */
	for (i = 0; i < n; i++)
		free(tickets[i].context);
	memmove(tickets, tickets + n, (nticket - n) * sizeof(Ticket));
	nticket -= n;
}

/* prune drops expired tickets (all at the front: every ticket lives TICKET_TTL_S). */
static void
prune(int64_t now_us)
{
	int			n = 0;

	while (n < nticket && tickets[n].expires_us <= now_us)
		n++;
	if (n > 0)
		drop_first(n);
}

static void
base64url(const unsigned char *in, size_t len, char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		i;
	int			o = 0;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
}

const Ticket *
ticket_for(bool has_token, int64_t token_id, const char *context, int64_t now_us)
{
	unsigned char random[TICKET_LEN * 3 / 4];
	Ticket	   *t;
	int			i;

	prune(now_us);
	/* The same caller and context keep their URL: the provider then keeps its stream. */
	for (i = nticket - 1; i >= 0; i--)
	{
		t = &tickets[i];
		if (t->expires_us - now_us < (int64_t) TICKET_TTL_S * 1000000 / 2)
			break;
		if (t->has_token == has_token && t->token_id == token_id && strcmp(t->context, context) == 0)
			return t;
	}
	if (getrandom(random, sizeof(random), 0) != (ssize_t) sizeof(random))
		return NULL;
	if (nticket == TICKETS_MAX)
		drop_first(1);
	if (nticket == cap)
	{
		int			want = cap ? cap * 2 : 64;
		Ticket	   *bigger = realloc(tickets, want * sizeof(Ticket));

		if (bigger == NULL)
			return NULL;
		tickets = bigger;
		cap = want;
	}
	t = &tickets[nticket];
	t->context = strdup(context);
	if (t->context == NULL)
		return NULL;
	base64url(random, sizeof(random), t->text);
	t->has_token = has_token;
	t->token_id = token_id;
	t->expires_us = now_us + (int64_t) TICKET_TTL_S * 1000000;
	nticket++;
	return t;
}

const Ticket *
ticket_find(const char *text, int64_t now_us)
{
	int			i;

	if (strlen(text) != TICKET_LEN)
		return NULL;
	for (i = 0; i < nticket; i++)
		if (tickets[i].expires_us > now_us && strcmp(tickets[i].text, text) == 0)
			return &tickets[i];
	return NULL;
}

int
tickets_count(void)
{
	return nticket;
}

void
tickets_free_all(void)
{
	drop_first(nticket);
	free(tickets);
	tickets = NULL;
	cap = 0;
}
