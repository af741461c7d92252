/*
 * tickets.c — stream tickets that any node can check (see tickets.h).
 *
 * text = base64url(payload) "." base64url(HMAC-SHA256(key, payload)), where payload is
 * a version byte (1), a flags byte (1: for a token), the token's id and the expiry in
 * seconds (64-bit, big-endian), then the canonical context.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "context.h"
#include "tickets.h"

#define TICKET_VERSION 1
#define HEAD_LEN 18				/* version, flags, token id, expiry */

/* The key of anonymous tickets: not a secret (see tickets.h). */
static const unsigned char anonymous_key[] = "pg_toggles anonymous stream ticket";

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool
mac_of(const unsigned char *key, const unsigned char *payload, size_t len, unsigned char mac[32])
{
	unsigned int mac_len = 0;

	if (key == NULL)
		return HMAC(EVP_sha256(), anonymous_key, sizeof(anonymous_key) - 1, payload, len,
					mac, &mac_len) != NULL && mac_len == 32;
	return HMAC(EVP_sha256(), key, TICKET_KEY_LEN, payload, len, mac, &mac_len) != NULL &&
		mac_len == 32;
}

/* b64url appends base64url of in (no padding) at out; returns the characters written. */
static size_t
b64url(const unsigned char *in, size_t len, char *out)
{
	int			n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);

	while (n > 0 && out[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[n] = '\0';
	return n;
}

/* unb64url decodes len characters of base64url into a new buffer; NULL when malformed. */
static unsigned char *
unb64url(const char *in, size_t len, size_t *out_len)
{
	size_t		padded = (len + 3) / 4 * 4;
	char	   *std;
	unsigned char *out;
	int			n;

	if (len % 4 == 1)
		return NULL;
	std = malloc(padded + 1);
	out = malloc(padded / 4 * 3 + 1);
	if (std == NULL || out == NULL)
	{
		free(std);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
	{
		char		ch = in[i];

		if (ch == '+' || ch == '/' || ch == '=')
		{
			free(std);
			free(out);
			return NULL;		/* base64url only */
		}
		std[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	memset(std + len, '=', padded - len);
	n = EVP_DecodeBlock(out, (unsigned char *) std, (int) padded);
	free(std);
	if (n < 0)
	{
		free(out);
		return NULL;
	}
	*out_len = (size_t) n - (padded - len);		/* EVP_DecodeBlock counts the padding */
	return out;
}

char *
ticket_make(int64_t token_id, const unsigned char *key, const char *context, int64_t now_us)
{
	size_t		context_len = strlen(context);
	size_t		len = HEAD_LEN + context_len;
	int64_t		half = TICKET_TTL_S / 2;
	unsigned char *payload;
	unsigned char mac[32];
	char	   *text;
	size_t		n;

	if (context_len > CONTEXT_MAX || (payload = malloc(len)) == NULL)
		return NULL;
	payload[0] = TICKET_VERSION;
	payload[1] = key != NULL;
	put64(payload + 2, (uint64_t) token_id);
	put64(payload + 10, (uint64_t) ((now_us / 1000000 / half + 2) * half));
	memcpy(payload + HEAD_LEN, context, context_len);
	text = malloc((len + 2) / 3 * 4 + 1 + 44 + 1);
	if (text == NULL || !mac_of(key, payload, len, mac))
	{
		free(payload);
		free(text);
		return NULL;
	}
	n = b64url(payload, len, text);
	text[n++] = '.';
	b64url(mac, sizeof(mac), text + n);
	free(payload);
	return text;
}

bool
ticket_parse(const char *text, size_t len, Ticket *t)
{
	const char *dot = memchr(text, '.', len);
	unsigned char *mac;
	size_t		mac_len;

	memset(t, 0, sizeof(*t));
	if (dot == NULL || len > TICKET_MAX)
		return false;
	t->payload = unb64url(text, dot - text, &t->payload_len);
	mac = unb64url(dot + 1, len - (dot + 1 - text), &mac_len);
	if (t->payload == NULL || mac == NULL || mac_len != sizeof(t->mac) ||
		t->payload_len < HEAD_LEN || t->payload[0] != TICKET_VERSION || t->payload[1] > 1 ||
		memchr(t->payload + HEAD_LEN, '\0', t->payload_len - HEAD_LEN) != NULL ||
		(t->context = malloc(t->payload_len - HEAD_LEN + 1)) == NULL)
	{
		free(mac);
		ticket_clear(t);
		return false;
	}
	memcpy(t->mac, mac, sizeof(t->mac));
	free(mac);
	t->has_token = t->payload[1];
	t->token_id = (int64_t) get64(t->payload + 2);
	t->expires_s = (int64_t) get64(t->payload + 10);
	memcpy(t->context, t->payload + HEAD_LEN, t->payload_len - HEAD_LEN);
	t->context[t->payload_len - HEAD_LEN] = '\0';
	return true;
}

bool
ticket_verify(const Ticket *t, const unsigned char *key, int64_t now_us)
{
	unsigned char mac[32];

	return t->payload != NULL && t->has_token == (key != NULL) &&
		mac_of(key, t->payload, t->payload_len, mac) &&
		CRYPTO_memcmp(mac, t->mac, sizeof(mac)) == 0 &&
		t->expires_s > now_us / 1000000;
}

void
ticket_clear(Ticket *t)
{
	free(t->payload);
	free(t->context);
	memset(t, 0, sizeof(*t));
}
