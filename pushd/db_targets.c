/*
 * db_targets.c — the database hosts pushd tries, one at a time (see db_targets.h).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_targets.h"

/* split_list: the comma-separated elements of list ("" is one empty element). */
static char **
split_list(const char *list, int *count)
{
	int			n = 1;
	const char *p;
	char	  **items;
	int			i;

	for (p = list; *p; p++)
		n += *p == ',';
	items = calloc(n, sizeof(char *));
	if (items == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		size_t		len = strcspn(list, ",");

		items[i] = strndup(list, len);
		if (items[i] == NULL)
		{
			while (i-- > 0)
				free(items[i]);
			free(items);
			return NULL;
		}
		list += len + (list[len] == ',');
	}
	*count = n;
	return items;
}

static void
free_list(char **items, int n)
{
	int			i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

static bool
add_base(DbTargets *t, const char *key, const char *value)
{
	if (t->nbase == DB_TARGETS_MAX_KEYS)
		return false;
	t->keys[t->nbase] = strdup(key);
	t->values[t->nbase] = strdup(value);
	t->nbase++;
	return t->keys[t->nbase - 1] && t->values[t->nbase - 1];
}

static bool
has_base(const DbTargets *t, const char *key)
{
	int			i;

	for (i = 0; i < t->nbase; i++)
		if (strcmp(t->keys[i], key) == 0)
			return true;
	return false;
}

/*
 * add_liveness_defaults: keepalives from db_timeout_s on (probes every second, given up
 * after as many), and tcp_user_timeout, so that data the peer never acknowledges fails
 * the socket in the same time.  Unix sockets ignore them.
 */
static bool
add_liveness_defaults(DbTargets *t, int db_timeout_s)
{
	char		idle[16];
	char		user_timeout[16];

	snprintf(idle, sizeof(idle), "%d", db_timeout_s);
	snprintf(user_timeout, sizeof(user_timeout), "%d", db_timeout_s * 1000);
	return (has_base(t, "keepalives") || add_base(t, "keepalives", "1")) &&
		(has_base(t, "keepalives_idle") || add_base(t, "keepalives_idle", idle)) &&
		(has_base(t, "keepalives_interval") || add_base(t, "keepalives_interval", "1")) &&
		(has_base(t, "keepalives_count") || add_base(t, "keepalives_count", idle)) &&
		(has_base(t, "tcp_user_timeout") || add_base(t, "tcp_user_timeout", user_timeout));
}

/* host_list: the conninfo's value of key, else the environment's, else NULL. */
static const char *
host_list(const char *value, const char *env)
{
	if (value && *value)
		return value;
	value = getenv(env);
	return value && *value ? value : NULL;
}

bool
db_targets_parse(DbTargets *t, const char *conninfo, int db_timeout_s, char *err, size_t errlen)
{
	PQconninfoOption *options = NULL;
	PQconninfoOption *o;
	char	   *perr = NULL;
	const char *host = NULL;
	const char *hostaddr = NULL;
	const char *port = NULL;
	int			nhostaddrs = 0;
	int			nports = 0;
	bool		ok = true;
	char		mismatch[128] = "";

	memset(t, 0, sizeof(*t));
	if (conninfo[0] != '\0')
	{
		options = PQconninfoParse(conninfo, &perr);
		/* A bare word is a database name, as psql takes it. */
		if (options == NULL && perr != NULL && strchr(conninfo, '=') == NULL &&
			strstr(conninfo, "://") == NULL)
		{
			PQfreemem(perr);
			perr = NULL;
			ok = add_base(t, "dbname", conninfo);
		}
		else if (options == NULL)
		{
			snprintf(err, errlen, "invalid --db: %s", perr ? perr : "out of memory");
			if (perr)
				PQfreemem(perr);
			return false;
		}
	}
	for (o = options; o && o->keyword && ok; o++)
	{
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else
		{
			if (strcmp(o->keyword, "connect_timeout") == 0)
				t->connect_timeout_s = atoi(o->val);
			ok = add_base(t, o->keyword, o->val);
		}
	}
	host = host_list(host, "PGHOST");
	hostaddr = host_list(hostaddr, "PGHOSTADDR");
	port = host_list(port, "PGPORT");
	ok = ok && add_liveness_defaults(t, db_timeout_s);

	t->nhosts = 1;
	if (ok && host)
		ok = (t->hosts = split_list(host, &t->nhosts)) != NULL;
	if (ok && hostaddr)
	{
		ok = (t->hostaddrs = split_list(hostaddr, &nhostaddrs)) != NULL;
		if (ok && host == NULL)
			t->nhosts = nhostaddrs;
		else if (ok && nhostaddrs != t->nhosts)
		{
			snprintf(mismatch, sizeof(mismatch), "%d host names but %d hostaddr values",
					 t->nhosts, nhostaddrs);
			free_list(t->hostaddrs, nhostaddrs);
			t->hostaddrs = NULL;
		}
	}
	if (ok && port && !mismatch[0])
	{
		ok = (t->ports = split_list(port, &nports)) != NULL;
		if (ok && nports != 1 && nports != t->nhosts)
		{
			snprintf(mismatch, sizeof(mismatch), "%d hosts but %d port values", t->nhosts, nports);
			free_list(t->ports, nports);
			t->ports = NULL;
		}
		else if (ok && nports == 1 && t->nhosts > 1)
		{
			/* One port serves every host: repeat it, so that port i is always there. */
			char	  **ports = calloc(t->nhosts, sizeof(char *));
			int			i;

			ok = ports != NULL;
			for (i = 0; ok && i < t->nhosts; i++)
				ok = (ports[i] = strdup(t->ports[0])) != NULL;
			free_list(t->ports, 1);
			t->ports = ports;
		}
	}
	if (options)
		PQconninfoFree(options);
	if (!ok || mismatch[0])
	{
		snprintf(err, errlen, "invalid --db: %s", ok ? mismatch : "out of memory");
		db_targets_free(t);
		return false;
	}
	return true;
}

void
db_targets_params(const DbTargets *t, int i, const char **keys, const char **values)
{
	int			n = 0;
	int			k;

	for (k = 0; k < t->nbase; k++)
	{
		keys[n] = t->keys[k];
		values[n++] = t->values[k];
	}
	if (t->hosts)
	{
		keys[n] = "host";
		values[n++] = t->hosts[i];
	}
	if (t->hostaddrs)
	{
		keys[n] = "hostaddr";
		values[n++] = t->hostaddrs[i];
	}
	if (t->ports)
	{
		keys[n] = "port";
		values[n++] = t->ports[i];
	}
	if (!has_base(t, "fallback_application_name"))
	{
		keys[n] = "fallback_application_name";
		values[n++] = "toggles-pushd";
	}
	keys[n] = NULL;
	values[n] = NULL;
}

void
db_targets_describe(const DbTargets *t, int i, char *out, size_t size)
{
	const char *host = t->hosts && t->hosts[i][0] ? t->hosts[i]
		: t->hostaddrs && t->hostaddrs[i][0] ? t->hostaddrs[i] : "(default)";

	snprintf(out, size, "%s%s%s", host, t->ports ? ":" : "", t->ports ? t->ports[i] : "");
}

void
db_targets_free(DbTargets *t)
{
	int			k;

	free_list(t->hosts, t->hosts ? t->nhosts : 0);
	free_list(t->hostaddrs, t->hostaddrs ? t->nhosts : 0);
	free_list(t->ports, t->ports ? t->nhosts : 0);
	for (k = 0; k < t->nbase; k++)
	{
		free(t->keys[k]);
		free(t->values[k]);
	}
	memset(t, 0, sizeof(*t));
}
