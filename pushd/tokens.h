/*
 * tokens.h — client tokens, held in memory: their SHA-256 hashes, scopes, expiry and
 * revocation, loaded from toggles.tokens (docs/security.md).  A connecting client is
 * checked against memory, never with a query.
 */
#ifndef PUSHD_TOKENS_H
#define PUSHD_TOKENS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "scope.h"

typedef struct Token
{
	int64_t		id;
	char	   *label;
	unsigned char hash[32];		/* SHA-256 of the token text */
	Scope	   *scope;
	int64_t		expires_at;		/* µs since 1970 (wall clock); 0 = never */
	bool		revoked;
} Token;

/* Why a token was refused; TOKEN_OK when it was not. */
typedef enum TokenVerdict
{
	TOKEN_OK,
	TOKEN_MISSING,
	TOKEN_UNKNOWN,
	TOKEN_REVOKED,
	TOKEN_EXPIRED,
	TOKEN_MALFORMED,			/* unreadable Authorization header, or too long */
	TOKEN_UNAVAILABLE			/* tokens not loaded yet: the database was never reached */
} TokenVerdict;

extern const char *token_verdict_text(TokenVerdict verdict);

/* tokens_load_sql: every token; tokens_load_result replaces the set (false: bad rows). */
extern const char *tokens_load_sql(void);
extern bool tokens_load_result(PGresult *res);

/*
 * tokens_fingerprint_sql: an expression over toggles.tokens that changes whenever a token
 * is added, revoked or altered; the catch-up query carries it so that a token change
 * reaches pushd with the next notification.
 */
extern const char *tokens_fingerprint_sql(void);

/* tokens_check: the verdict on a presented token at wall-clock time now; *out when OK. */
extern TokenVerdict tokens_check(const char *text, size_t len, int64_t now, const Token **out);

/* tokens_check_id: the verdict on a token admitted earlier, after a reload or in time. */
extern TokenVerdict tokens_check_id(int64_t id, int64_t now, const Token **out);

/* tokens_next_expiry: the earliest expiry after now among live tokens, 0 when none. */
extern int64_t tokens_next_expiry(int64_t now);

extern int	tokens_count(void);

/* The row of /metrics of the token set (metrics_register). */
extern const MetricDef tokens_rows[];
extern const int tokens_nrows;
extern bool tokens_loaded(void);
extern void tokens_free_all(void);

#endif
