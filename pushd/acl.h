/*
 * acl.h — address lists: comma-separated IPv4/IPv6 addresses and CIDRs, matched against
 * a peer's address (IPv4-mapped IPv6 addresses match their IPv4 entries).
 */
#ifndef PUSHD_ACL_H
#define PUSHD_ACL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

typedef struct AclEntry
{
	struct in6_addr addr;		/* IPv4 stored as ::ffff:a.b.c.d */
	int			prefix;			/* over the 128 bits */
} AclEntry;

typedef struct Acl
{
	AclEntry   *entries;
	int			n;				/* 0: the list was empty, anything matches */
} Acl;

/*
 * acl_parse parses text into acl (which may be NULL to only validate); false when any
 * entry is malformed.  On success *acl owns its entries (acl_free).
 */
extern bool acl_parse(const char *text, Acl *acl);
extern void acl_free(Acl *acl);

/* acl_match: an empty list matches everything. */
extern bool acl_match(const Acl *acl, const struct sockaddr *sa);

/* acl_normalize turns sa into the 16-byte form acl entries use; false for other families. */
extern bool acl_normalize(const struct sockaddr *sa, struct in6_addr *out);

/* acl_is_loopback: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
extern bool acl_is_loopback(const struct in6_addr *a);

#endif
