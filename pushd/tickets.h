/*
 * tickets.h — stream tickets: short-lived, unguessable names for (token, context) that an
 * OFREP bulk answer puts in its eventStreams URL, because a browser's EventSource cannot
 * send the token in a header and the token itself must not go into a URL
 * (docs/openfeature.md).  Held in memory: a ticket is good on the node that minted it.
 */
#ifndef PUSHD_TICKETS_H
#define PUSHD_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a ticket is good for; one with less than half of it left is not handed out again. */
#define TICKET_TTL_S 600

/* The ticket's text: 32 base64url characters (24 random bytes). */
#define TICKET_LEN 32

typedef struct Ticket
{
	char		text[TICKET_LEN + 1];
	bool		has_token;
	int64_t		token_id;		/* the token it stands for (has_token) */
	char	   *context;		/* canonical context text */
	int64_t		expires_us;		/* wall clock */
} Ticket;

/*
 * ticket_for returns a ticket for the caller's token (has_token false: anonymous) and
 * canonical context, minting one unless a fresh enough one exists; NULL when out of memory
 * or randomness.
 */
extern const Ticket *ticket_for(bool has_token, int64_t token_id, const char *context,
								int64_t now_us);

/* ticket_find: the unexpired ticket of that text, or NULL. */
extern const Ticket *ticket_find(const char *text, int64_t now_us);

extern int	tickets_count(void);
extern void tickets_free_all(void);

#endif
