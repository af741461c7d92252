/*
 * db_targets.h — the database hosts pushd tries, one at a time, from its --db conninfo.
 *
 * libpq walks a multi-host conninfo by itself only in a blocking connect: PQconnectPoll
 * applies no connect_timeout, so a black-holed first host would hold an asynchronous
 * connect for minutes.  pushd therefore splits the host list and connects to each host
 * with its own deadline.  It also adds TCP keepalives and tcp_user_timeout, unless the
 * conninfo sets them, so that the kernel too gives up on a dead peer.
 */
#ifndef PUSHD_DB_TARGETS_H
#define PUSHD_DB_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#define DB_TARGETS_MAX_KEYS 64

typedef struct DbTargets
{
	int			nhosts;			/* at least 1 */
	char	  **hosts;			/* per host: host, hostaddr, port; NULL = not given */
	char	  **hostaddrs;
	char	  **ports;
	int			connect_timeout_s;	/* the conninfo's connect_timeout; 0 = not given */
	int			nbase;			/* every other keyword, with the liveness defaults */
	char	   *keys[DB_TARGETS_MAX_KEYS];
	char	   *values[DB_TARGETS_MAX_KEYS];
} DbTargets;

/*
 * db_targets_parse splits conninfo (key=value or URI; a bare word is a database name; ""
 * is the PG* environment, PGHOST, PGHOSTADDR and PGPORT lists included).  db_timeout_s
 * sizes the keepalive defaults.  On false, err says why and t holds nothing.
 */
extern bool db_targets_parse(DbTargets *t, const char *conninfo, int db_timeout_s,
							 char *err, size_t errlen);

/*
 * db_targets_params fills keys and values (NULL-terminated, DB_TARGETS_MAX_KEYS + 4
 * entries) for PQconnectStartParams(..., expand_dbname 0) to reach host i alone.
 */
extern void db_targets_params(const DbTargets *t, int i, const char **keys, const char **values);

/* db_targets_describe: "host:port" of host i for log lines. */
extern void db_targets_describe(const DbTargets *t, int i, char *out, size_t size);

extern void db_targets_free(DbTargets *t);

#endif
