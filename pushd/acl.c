/*
 * acl.c — address lists for who may read /metrics, and address helpers for the
 * per-address connection limit (see acl.h).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

/* MAX_ENTRY_LEN: the longest IPv6 text plus "/128". */
#define MAX_ENTRY_LEN (INET6_ADDRSTRLEN + 4)

static void
v4_mapped(const struct in_addr *v4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], v4, 4);
}

/* parse_entry reads "ADDR" or "ADDR/BITS" of len bytes. */
static bool
parse_entry(const char *text, size_t len, AclEntry *entry)
{
	char		buf[MAX_ENTRY_LEN + 1];
	char	   *slash;
	int			max_bits;
	int			bits;
	struct in_addr v4;

	if (len == 0 || len > MAX_ENTRY_LEN)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, &v4) == 1)
	{
		v4_mapped(&v4, &entry->addr);
		max_bits = 32;
	}
	else if (inet_pton(AF_INET6, buf, &entry->addr) == 1)
		max_bits = 128;
	else
		return false;
	bits = max_bits;
	if (slash)
	{
		char	   *end;
		long		n;

		if (slash[1] < '0' || slash[1] > '9')
			return false;
		n = strtol(slash + 1, &end, 10);
		if (*end != '\0' || n < 0 || n > max_bits)
			return false;
		bits = (int) n;
	}
	entry->prefix = max_bits == 32 ? 96 + bits : bits;
	return true;
}

bool
acl_parse(const char *text, Acl *acl)
{
	int			count = 0;
	int			i = 0;
	const char *p;
	AclEntry	scratch;
	AclEntry   *entries = NULL;

	if (text[0] != '\0')
	{
		count = 1;
		for (p = text; *p; p++)
			count += *p == ',';
		if (acl != NULL && (entries = calloc(count, sizeof(AclEntry))) == NULL)
			return false;
		for (p = text;; i++)
		{
			const char *end = strchr(p, ',');
			size_t		len = end ? (size_t) (end - p) : strlen(p);

			/* White space around an entry is allowed: "127.0.0.1, ::1". */
			while (len > 0 && (*p == ' ' || *p == '\t'))
				p++, len--;
			while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
				len--;
			if (!parse_entry(p, len, entries ? &entries[i] : &scratch))
			{
				free(entries);
				return false;
			}
			if (end == NULL)
				break;
			p = end + 1;
		}
	}
	if (acl != NULL)
	{
		acl->entries = entries;
		acl->n = count;
	}
	return true;
}

void
acl_free(Acl *acl)
{
	free(acl->entries);
	acl->entries = NULL;
	acl->n = 0;
}

bool
acl_normalize(const struct sockaddr *sa, struct in6_addr *out)
{
	if (sa->sa_family == AF_INET)
	{
		v4_mapped(&((const struct sockaddr_in *) sa)->sin_addr, out);
		return true;
	}
	if (sa->sa_family == AF_INET6)
	{
		*out = ((const struct sockaddr_in6 *) sa)->sin6_addr;
		return true;
	}
	return false;
}

static bool
prefix_equal(const struct in6_addr *a, const struct in6_addr *b, int bits)
{
	int			bytes = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a->s6_addr, b->s6_addr, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->s6_addr[bytes] ^ b->s6_addr[bytes]) & (0xff << (8 - rest))) == 0;
}

bool
acl_match(const Acl *acl, const struct sockaddr *sa)
{
	struct in6_addr a;

	if (acl->n == 0)
		return true;
	if (!acl_normalize(sa, &a))
		return false;
	for (int i = 0; i < acl->n; i++)
	{
		if (prefix_equal(&a, &acl->entries[i].addr, acl->entries[i].prefix))
			return true;
	}
	return false;
}

bool
acl_is_loopback(const struct in6_addr *a)
{
	static const struct in6_addr v6_loopback = IN6ADDR_LOOPBACK_INIT;
	struct in6_addr v4_loopback;
	struct in_addr net = {htonl(0x7f000000)};

	v4_mapped(&net, &v4_loopback);
	return memcmp(a, &v6_loopback, sizeof(*a)) == 0 || prefix_equal(a, &v4_loopback, 104);
}
