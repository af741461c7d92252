/*
 * tokens.c — the in-memory token set (see tokens.h): an array sorted by hash for
 * connecting clients, and an index sorted by id for re-checking connected ones after every
 * reload (clients × log(tokens), not clients × tokens).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "tokens.h"

static Token *tokens;
static const Token **by_id;		/* the same tokens, sorted by id */
static int	ntokens;
static bool loaded;

const char *
token_verdict_text(TokenVerdict verdict)
{
	switch (verdict)
	{
		case TOKEN_OK:
			return "ok";
		case TOKEN_MISSING:
			return "a token is required";
		case TOKEN_UNKNOWN:
			return "unknown token";
		case TOKEN_REVOKED:
			return "token revoked";
		case TOKEN_EXPIRED:
			return "token expired";
		case TOKEN_MALFORMED:
			return "malformed token or Authorization header";
		case TOKEN_UNAVAILABLE:
			return "tokens not loaded yet: the database has not been reached";
	}
	return "?";
}

const char *
tokens_load_sql(void)
{
	return "SELECT id, label, encode(hash, 'hex'), array_to_json(scope)::text, "
		"coalesce((extract(epoch FROM expires_at) * 1000000)::bigint, 0), "
		"revoked_at IS NOT NULL FROM toggles.tokens";
}

const char *
tokens_fingerprint_sql(void)
{
	return "(SELECT md5(coalesce(string_agg(concat_ws(':', id, scope, expires_at, revoked_at, "
		"encode(hash, 'hex')), ',' ORDER BY id), '')) FROM toggles.tokens)";
}

static int
compare_hash(const void *a, const void *b)
{
	return memcmp(((const Token *) a)->hash, ((const Token *) b)->hash, 32);
}

static int
compare_id(const void *a, const void *b)
{
	int64_t		x = (*(const Token *const *) a)->id;
	int64_t		y = (*(const Token *const *) b)->id;

	return (x > y) - (x < y);
}

static bool
unhex(const char *hex, unsigned char *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		unsigned int v = 0;

		for (int k = 0; k < 2; k++)
		{
			char		c = hex[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return false;
		}
		out[i] = (unsigned char) v;
	}
	return true;
}

static void
free_set(Token *set, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(set[i].label);
		scope_free(set[i].scope);
	}
	free(set);
}

bool
tokens_load_result(PGresult *res)
{
	int			n = PQntuples(res);
	Token	   *set = calloc(n > 0 ? n : 1, sizeof(Token));
	const Token **index = calloc(n > 0 ? n : 1, sizeof(Token *));
	int			kept = 0;

	if (set == NULL || index == NULL || PQnfields(res) != 6)
	{
		free(set);
		free(index);
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		Token	   *t = &set[kept];

		t->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (!unhex(PQgetvalue(res, i, 2), t->hash, sizeof(t->hash)) ||
			(t->scope = scope_from_json(PQgetvalue(res, i, 3))) == NULL)
		{
			log_warn("token %lld: unreadable hash or scope, ignored", (long long) t->id);
			continue;
		}
		t->label = strdup(PQgetvalue(res, i, 1));
		t->expires_at = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		t->revoked = PQgetvalue(res, i, 5)[0] == 't';
		kept++;
	}
	qsort(set, kept, sizeof(Token), compare_hash);
	for (int i = 0; i < kept; i++)
		index[i] = &set[i];
	qsort(index, kept, sizeof(Token *), compare_id);
	free_set(tokens, ntokens);
	free(by_id);
	tokens = set;
	by_id = index;
	ntokens = kept;
	loaded = true;
	return true;
}

static TokenVerdict
verdict(const Token *t, int64_t now)
{
	if (t->revoked)
		return TOKEN_REVOKED;
	if (t->expires_at != 0 && now >= t->expires_at)
		return TOKEN_EXPIRED;
	return TOKEN_OK;
}

TokenVerdict
tokens_check(const char *text, size_t len, int64_t now, const Token **out)
{
	Token		key;
	const Token *found;
	unsigned int mdlen = 0;

	*out = NULL;
	if (text == NULL || len == 0)
		return TOKEN_MISSING;
	if (!EVP_Digest(text, len, key.hash, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return TOKEN_UNKNOWN;
	found = ntokens ? bsearch(&key, tokens, ntokens, sizeof(Token), compare_hash) : NULL;
	if (found == NULL)
		return TOKEN_UNKNOWN;
	*out = found;
	return verdict(found, now);
}

TokenVerdict
tokens_check_id(int64_t id, int64_t now, const Token **out)
{
	Token		key = {.id = id};
	const Token *keyp = &key;
	const Token **found;

	found = ntokens ? bsearch(&keyp, by_id, ntokens, sizeof(Token *), compare_id) : NULL;
	*out = found ? *found : NULL;
	if (found == NULL)
		return TOKEN_REVOKED;	/* deleted outright: as good as revoked */
	return verdict(*found, now);
}

int64_t
tokens_next_expiry(int64_t now)
{
	int64_t		next = 0;

	for (int i = 0; i < ntokens; i++)
		if (!tokens[i].revoked && tokens[i].expires_at > now &&
			(next == 0 || tokens[i].expires_at < next))
			next = tokens[i].expires_at;
	return next;
}

int
tokens_count(void)
{
	return ntokens;
}

static double
tokens_gauge(void)
{
	return tokens_count();
}

const MetricDef tokens_rows[] = {
	{"pushd_tokens", "Tokens held in memory (revoked and expired included).", METRIC_GAUGE, NULL,
	NULL, tokens_gauge, NULL},
};
const int	tokens_nrows = sizeof(tokens_rows) / sizeof(tokens_rows[0]);

bool
tokens_loaded(void)
{
	return loaded;
}

void
tokens_free_all(void)
{
	free_set(tokens, ntokens);
	free(by_id);
	tokens = NULL;
	by_id = NULL;
	ntokens = 0;
	loaded = false;
}
