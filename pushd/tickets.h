/*
 * tickets.h — stream tickets: short-lived names for (token, context) that an OFREP bulk
 * answer puts in its eventStreams URL, because a browser's EventSource cannot send the
 * token in a header and the token itself must not go into a URL (docs/openfeature.md).
 *
 * A ticket carries what it stands for (the token's id, the canonical context, its expiry)
 * and a MAC keyed with the token's SHA-256 hash, which every node holds and no client
 * does: any node of the service can check a ticket another node minted, so a stream
 * follows its caller through a balancer and a failover.  Nothing is kept in memory.
 * An anonymous ticket (no token) has a fixed key: it grants only what anonymous callers
 * get anyway, so it needs integrity at most.
 */
#ifndef PUSHD_TICKETS_H
#define PUSHD_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How long a ticket is good for.  Expiries fall on multiples of half of it, so a caller
 * asking again with the same token and context gets the same ticket, from any node, while
 * more than half of that is left (its provider then keeps its stream).
 */
#define TICKET_TTL_S 600

/* The longest ticket text: the context (CONTEXT_MAX bytes) and 61 more, in base64url. */
#define TICKET_MAX 5600

/* The SHA-256 of a token, the key of its tickets. */
#define TICKET_KEY_LEN 32

typedef struct Ticket
{
	bool		has_token;
	int64_t		token_id;		/* the token it stands for (has_token) */
	char	   *context;		/* canonical context text, NUL-terminated */
	int64_t		expires_s;		/* wall clock, seconds since 1970 */
	/* What the MAC covers and the MAC, for ticket_verify. */
	unsigned char *payload;
	size_t		payload_len;
	unsigned char mac[32];
} Ticket;

/*
 * ticket_make returns the text of the ticket for token token_id (0: anonymous, key NULL)
 * with key (its hash) and canonical context at wall-clock time now_us; NULL when out of
 * memory or the context is too long.  The caller frees it.
 */
extern char *ticket_make(int64_t token_id, const unsigned char *key, const char *context,
						 int64_t now_us);

/*
 * ticket_parse reads text into *t (ticket_clear frees it): false when it is not a ticket
 * at all.  Nothing is trusted until ticket_verify.
 */
extern bool ticket_parse(const char *text, size_t len, Ticket *t);

/* ticket_verify: t was made with key (NULL for an anonymous one) and is unexpired at now_us. */
extern bool ticket_verify(const Ticket *t, const unsigned char *key, int64_t now_us);

extern void ticket_clear(Ticket *t);

#endif
