/*
 * config.c — toggles-pushd's settings: defaults, command line, config file, SIGHUP reload,
 * --help and --print-config, all driven by the one table below.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "config.h"

#ifndef PUSHD_VERSION
#define PUSHD_VERSION "0.1.0"
#endif

/* Callers turn seconds into milliseconds; this keeps that product within an int. */
#define MAX_SECONDS (INT_MAX / 1000)

/*
 * toggles.connections.node is text of 1 to 255 characters, and with --workers each worker
 * adds "/wK" (worker.c): the name leaves room for the longest suffix.
 */
#define MAX_NODE_LEN (255 - (sizeof("/w" MAX_WORKERS_TEXT) - 1))
_Static_assert(MAX_NODE_LEN == 251, "check_node's message names the limit");

typedef enum SettingType
{
	SETTING_STRING,
	SETTING_INT,
	SETTING_BOOL,
	SETTING_LOG_LEVEL
} SettingType;

/* A SettingCheck returns NULL when value is acceptable, else what was expected instead. */
typedef const char *(*SettingCheck) (const char *value);

typedef struct Setting
{
	const char *name;			/* long option without "--", and config file key */
	SettingType type;
	size_t		offset;			/* of the field in PushdConfig */
	const char *default_value;	/* parsed like any other value */
	int			min;			/* SETTING_INT only */
	int			max;
	bool		reloadable;		/* taken over by config_reload */
	const char *unit;			/* printed after numbers, or NULL */
	const char *arg;			/* --help metavariable of a string setting */
	SettingCheck check;			/* extra rule of a string setting, or NULL */
	const char *help;
} Setting;

static const char *check_listen(const char *value);
static const char *check_node(const char *value);
static const char *check_workers(const char *value);
static const char *check_origins(const char *value);
static const char *check_cidrs(const char *value);

static const Setting settings[] = {
	{"db", SETTING_STRING, offsetof(PushdConfig, db), "", 0, 0,
	 false, NULL, "CONNINFO", NULL,
	 "libpq connection string; empty: the PG* environment"},
	{"listen", SETTING_STRING, offsetof(PushdConfig, listen), "127.0.0.1:8080", 0, 0,
	 false, NULL, "HOST:PORT", check_listen,
	 "address to serve; :PORT = all interfaces, [IPv6]:PORT"},
	{"node", SETTING_STRING, offsetof(PushdConfig, node), "", 0, 0,
	 false, NULL, "NAME", check_node,
	 "this node in toggles.connections; empty: hostname:port"},
	{"workers", SETTING_STRING, offsetof(PushdConfig, workers), "1", 0, 0,
	 false, NULL, "N", check_workers,
	 "processes serving the one port (SO_REUSEPORT), each with its own database link; auto = online CPUs"},
	{"worker-timeout", SETTING_INT, offsetof(PushdConfig, worker_timeout_s), "10", 1, 3600,
	 false, "s", NULL, NULL,
	 "with --workers above 1: a worker whose heartbeat is this old is killed and restarted"},
	{"log-level", SETTING_LOG_LEVEL, offsetof(PushdConfig, log_level), "info", 0, 0,
	 true, NULL, NULL, NULL,
	 "lowest level logged: debug, info, warn or error"},
	{"resume-window", SETTING_INT, offsetof(PushdConfig, resume_window), "1000", 1, INT_MAX,
	 false, "versions", NULL, NULL,
	 "versions kept in memory for clients to resume from"},
	{"future-wait", SETTING_INT, offsetof(PushdConfig, future_wait_ms), "5000", 0, INT_MAX,
	 false, "ms", NULL, NULL,
	 "wait for a client that has seen a newer version"},
	{"max-backlog", SETTING_INT, offsetof(PushdConfig, max_backlog), "1024", 1, 65536,
	 true, "messages", NULL, NULL,
	 "messages queued per client before coalescing"},
	{"max-backlog-bytes", SETTING_INT, offsetof(PushdConfig, max_backlog_bytes), "4194304",
	 65536, INT_MAX,
	 true, "bytes", NULL, NULL,
	 "bytes a stalled client may fall behind before it is closed (4001)"},
	{"max-stall", SETTING_INT, offsetof(PushdConfig, max_stall_s), "10", 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "how long a client may take nothing before it is closed (4001)"},
	{"max-client-frame", SETTING_INT, offsetof(PushdConfig, max_client_frame), "4096",
	 128, 1048576,
	 false, "bytes", NULL, NULL,
	 "largest frame a client may send (else closed, 1009)"},
	{"ping-interval", SETTING_INT, offsetof(PushdConfig, ping_interval_s), "30", 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "a WebSocket client silent this long is sent a ping"},
	{"pong-timeout", SETTING_INT, offsetof(PushdConfig, pong_timeout_s), "10", 1, MAX_SECONDS,
	 false, "s", NULL, NULL,
	 "a client still silent this long after its ping is closed as dead (checked every second)"},
	{"allow-anonymous", SETTING_BOOL, offsetof(PushdConfig, allow_anonymous), "false", 0, 0,
	 true, NULL, NULL, NULL,
	 "serve clients that present no token (they see every toggle); without it a token is required"},
	{"track-connections", SETTING_BOOL, offsetof(PushdConfig, track_connections), "true", 0, 0,
	 false, NULL, NULL, NULL,
	 "record connections in toggles.connections"},
	{"register-interval", SETTING_INT, offsetof(PushdConfig, register_interval_ms), "200",
	 10, INT_MAX,
	 false, "ms", NULL, NULL,
	 "how long connection rows are batched before writing"},
	{"heartbeat-interval", SETTING_INT, offsetof(PushdConfig, heartbeat_interval_s), "15",
	 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "how often this node's connection rows are refreshed"},
	{"lease", SETTING_INT, offsetof(PushdConfig, lease_s), "90", 3, MAX_SECONDS,
	 false, "s", NULL, NULL,
	 "other nodes' rows not refreshed this long are reaped"},
	{"prune-interval", SETTING_INT, offsetof(PushdConfig, prune_interval_s), "300",
	 0, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "how often toggles.prune_changes() runs; 0 = never"},
	{"db-connect-timeout", SETTING_INT, offsetof(PushdConfig, db_connect_timeout_s), "5",
	 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "per database host, to connect and log in; then the next host (conninfo's connect_timeout wins)"},
	{"db-timeout", SETTING_INT, offsetof(PushdConfig, db_timeout_s), "5", 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "a query or probe unanswered this long means the database link is dead"},
	{"db-probe-interval", SETTING_INT, offsetof(PushdConfig, db_probe_interval_s), "2",
	 1, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "an idle database link is probed after this long without an answer"},
	{"outage-grace", SETTING_INT, offsetof(PushdConfig, outage_grace_s), "30", 0, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "how long clients are served the last state while the database link is down"},
	{"outage-close-spread", SETTING_INT, offsetof(PushdConfig, outage_close_spread_s), "10",
	 0, MAX_SECONDS,
	 true, "s", NULL, NULL,
	 "after the grace, clients are closed (1013) evenly over this long"},
	{"sse-heartbeat", SETTING_INT, offsetof(PushdConfig, sse_heartbeat_s), "15", 1, 3600,
	 true, "s", NULL, NULL,
	 "a quiet Server-Sent Events stream (/v1/events) gets a comment line this often"},
	{"reconnect-min", SETTING_INT, offsetof(PushdConfig, reconnect_min_ms), "250", 10, INT_MAX,
	 false, "ms", NULL, NULL,
	 "first delay before reconnecting to the database"},
	{"reconnect-max", SETTING_INT, offsetof(PushdConfig, reconnect_max_ms), "30000",
	 100, INT_MAX,
	 false, "ms", NULL, NULL,
	 "cap of the doubling reconnect delay"},
	{"tls-cert", SETTING_STRING, offsetof(PushdConfig, tls_cert), "", 0, 0,
	 true, NULL, "FILE", NULL,
	 "PEM certificate (chain) to serve wss:// and https://; empty: plain text"},
	{"tls-key", SETTING_STRING, offsetof(PushdConfig, tls_key), "", 0, 0,
	 true, NULL, "FILE", NULL,
	 "PEM private key of --tls-cert"},
	{"max-connections", SETTING_INT, offsetof(PushdConfig, max_connections), "10000",
	 1, 1000000,
	 true, "connections", NULL, NULL,
	 "open connections of every kind; more are closed at once"},
	{"max-connections-per-ip", SETTING_INT, offsetof(PushdConfig, max_connections_per_ip), "256",
	 0, 1000000,
	 true, "connections", NULL, NULL,
	 "open connections from one address; 0 = no limit (behind a proxy)"},
	{"handshake-timeout", SETTING_INT, offsetof(PushdConfig, handshake_timeout_s), "10",
	 1, 3600,
	 true, "s", NULL, NULL,
	 "time to finish TLS and the upgrade, or an HTTP connection's life"},
	{"max-handshakes", SETTING_INT, offsetof(PushdConfig, max_handshakes), "1024", 1, 65000,
	 false, "connections", NULL, NULL,
	 "connections in TLS, their upgrade or an HTTP exchange at once; more wait in the listen queue"},
	{"client-messages-per-second", SETTING_INT,
	 offsetof(PushdConfig, client_messages_per_second), "20", 0, 1000000,
	 true, "frames", NULL, NULL,
	 "data frames a client may send per second (else closed, 4029); 0 = no limit"},
	{"allowed-origins", SETTING_STRING, offsetof(PushdConfig, allowed_origins), "", 0, 0,
	 true, NULL, "LIST", check_origins,
	 "Origin values a browser may upgrade from (else 403), comma-separated; empty: any"},
	{"max-catchups-per-second", SETTING_INT, offsetof(PushdConfig, max_catchups_per_second),
	 "50", 1, 100000,
	 true, "reads", NULL, NULL,
	 "log reads that notifications may trigger; more notifications wait and coalesce"},
	{"metrics-allow", SETTING_STRING, offsetof(PushdConfig, metrics_allow),
	 "127.0.0.0/8,::1/128", 0, 0,
	 true, NULL, "CIDRS", check_cidrs,
	 "addresses that may GET /metrics (else 403), comma-separated; empty: any"},
	{"trusted-proxies", SETTING_STRING, offsetof(PushdConfig, trusted_proxies), "", 0, 0,
	 true, NULL, "CIDRS", check_cidrs,
	 "balancers whose X-Forwarded-For names the client (limits, allow-lists, logs); empty: none"},
	{"healthz-allow", SETTING_STRING, offsetof(PushdConfig, healthz_allow), "", 0, 0,
	 true, NULL, "CIDRS", check_cidrs,
	 "addresses that may GET /healthz (else 403), comma-separated; empty: any (load balancers)"},
};

#define NUM_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

/*
 * set_error writes one line into err.  Callers may pass a NULL err, and a message longer
 * than errlen is cut rather than overflowing.
 */
static void
set_error(char *err, size_t errlen, const char *fmt,...) __attribute__((format(printf, 3, 4)));

static void
set_error(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * xstrdup copies s or aborts: settings are a few short strings, so running out of memory
 * here leaves nothing sensible to fall back on.
 */
static char *
xstrdup(const char *s)
{
	char	   *copy = strdup(s);

	if (copy == NULL)
	{
		fputs("toggles-pushd: out of memory\n", stderr);
		abort();
	}
	return copy;
}

static char **
string_field(PushdConfig *cfg, const Setting *s)
{
	return (char **) ((char *) cfg + s->offset);
}

static int *
int_field(PushdConfig *cfg, const Setting *s)
{
	return (int *) ((char *) cfg + s->offset);
}

static bool *
bool_field(PushdConfig *cfg, const Setting *s)
{
	return (bool *) ((char *) cfg + s->offset);
}

static LogLevel *
log_level_field(PushdConfig *cfg, const Setting *s)
{
	return (LogLevel *) ((char *) cfg + s->offset);
}

/* find_setting looks up a name of the given length, which need not be terminated. */
static const Setting *
find_setting(const char *name, size_t len)
{
	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	}
	return NULL;
}

/*
 * split_listen parses HOST:PORT, [IPV6]:PORT or :PORT.  An unbracketed host with a colon
 * is refused because "::1:8080" could be read two ways.
 */
static bool
split_listen(const char *value, char **host, int *port)
{
	const char *host_start;
	size_t		host_len;
	const char *port_text;
	long		n;
	char	   *end;

	if (value[0] == '[')
	{
		const char *close = strchr(value, ']');

		if (close == NULL || close == value + 1 || close[1] != ':')
			return false;
		host_start = value + 1;
		host_len = (size_t) (close - host_start);
		port_text = close + 2;
	}
	else
	{
		const char *colon = strrchr(value, ':');

		if (colon == NULL)
			return false;
		host_start = value;
		host_len = (size_t) (colon - value);
		if (memchr(host_start, ':', host_len) != NULL ||
			memchr(host_start, '[', host_len) != NULL ||
			memchr(host_start, ']', host_len) != NULL)
			return false;
		port_text = colon + 1;
	}
	for (size_t i = 0; i < host_len; i++)
	{
		if (isspace((unsigned char) host_start[i]))
			return false;
	}

	/* strtol alone would let signs, spaces and "0x" through. */
	if (port_text[0] == '\0' || strlen(port_text) > 5)
		return false;
	for (const char *p = port_text; *p; p++)
	{
		if (!isdigit((unsigned char) *p))
			return false;
	}
	n = strtol(port_text, &end, 10);
	if (n < 1 || n > 65535)
		return false;

	if (host != NULL)
	{
		*host = strndup(host_start, host_len);
		if (*host == NULL)
		{
			fputs("toggles-pushd: out of memory\n", stderr);
			abort();
		}
	}
	if (port != NULL)
		*port = (int) n;
	return true;
}

static const char *
check_listen(const char *value)
{
	if (split_listen(value, NULL, NULL))
		return NULL;
	return "HOST:PORT, [IPv6]:PORT or :PORT with a port from 1 to 65535";
}

static const char *
check_node(const char *value)
{
	if (strlen(value) <= MAX_NODE_LEN)
		return NULL;
	return "at most 251 characters (with --workers, each worker adds /wK to make 255)";
}

/* workers_count: "auto" is the online CPUs (at most MAX_WORKERS); 0 when value is neither. */
static int
workers_count(const char *value)
{
	char	   *end;
	long		n;

	if (strcmp(value, "auto") == 0)
	{
		n = sysconf(_SC_NPROCESSORS_ONLN);
		return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int) n;
	}
	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || n < 1 || n > MAX_WORKERS)
		return 0;
	return (int) n;
}

static const char *
check_workers(const char *value)
{
	if (workers_count(value) > 0)
		return NULL;
	return "auto or a number from 1 to " MAX_WORKERS_TEXT;
}

/*
 * check_origins accepts a comma-separated list of scheme://host[:port] (what browsers
 * send in Origin: no path, no trailing slash, no white space); "" means any origin.
 */
static const char *
check_origins(const char *value)
{
	static const char *const expected =
		"a comma-separated list of origins like https://app.example.com or http://localhost:3000";
	const char *p = value;

	if (*p == '\0')
		return NULL;
	for (;;)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);
		const char *sep;

		/* White space around an entry is allowed: "https://a.example, https://b.example". */
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		sep = memchr(p, ':', len);

		if (len == 0 || sep == NULL || sep == p || (size_t) (sep - p) + 3 >= len ||
			strncmp(sep, "://", 3) != 0 || memchr(sep + 3, '/', len - (sep + 3 - p)) != NULL)
			return expected;
		for (size_t i = 0; i < len; i++)
		{
			if (isspace((unsigned char) p[i]) || !isprint((unsigned char) p[i]))
				return expected;
		}
		if (end == NULL)
			return NULL;
		p = end + 1;
	}
}

/* check_cidrs accepts a comma-separated list of addresses and CIDRs; "" means any. */
static const char *
check_cidrs(const char *value)
{
	if (acl_parse(value, NULL))
		return NULL;
	return "a comma-separated list of addresses or CIDRs like 127.0.0.0/8,::1/128,10.1.2.3";
}

static bool
parse_int(const char *value, int min, int max, int *result)
{
	long		n;
	char	   *end;

	/* strtol skips leading white space; a value with any is a typo, not a number. */
	if (value[0] == '\0' || isspace((unsigned char) value[0]))
		return false;
	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*result = (int) n;
	return true;
}

static bool
parse_bool(const char *value, bool *result)
{
	static const char *const yes[] = {"true", "on", "yes", "1"};
	static const char *const no[] = {"false", "off", "no", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
	{
		if (strcasecmp(value, yes[i]) == 0)
		{
			*result = true;
			return true;
		}
		if (strcasecmp(value, no[i]) == 0)
		{
			*result = false;
			return true;
		}
	}
	return false;
}

static bool
parse_log_level(const char *value, LogLevel *result)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
	{
		if (strcasecmp(value, log_level_names[i]) == 0)
		{
			*result = (LogLevel) i;
			return true;
		}
	}
	return false;
}

/*
 * apply_value parses value for setting s and stores it in cfg.  where ("" or "FILE:LINE: ")
 * and dashes ("--" on the command line, "" in a file) make the error name the setting the
 * way the user wrote it.
 */
static bool
apply_value(PushdConfig *cfg, const Setting *s, const char *value,
			const char *where, const char *dashes, char *err, size_t errlen)
{
	const char *expected = NULL;
	char		range[64];

	switch (s->type)
	{
		case SETTING_STRING:
			if (s->check != NULL)
				expected = s->check(value);
			if (expected == NULL)
			{
				char	  **field = string_field(cfg, s);

				free(*field);
				*field = xstrdup(value);
			}
			break;
		case SETTING_INT:
			if (!parse_int(value, s->min, s->max, int_field(cfg, s)))
			{
				snprintf(range, sizeof(range), "an integer from %d to %d", s->min, s->max);
				expected = range;
			}
			break;
		case SETTING_BOOL:
			if (!parse_bool(value, bool_field(cfg, s)))
				expected = "true, false, on, off, yes, no, 1 or 0";
			break;
		case SETTING_LOG_LEVEL:
			if (!parse_log_level(value, log_level_field(cfg, s)))
				expected = "debug, info, warn or error";
			break;
	}
	if (expected != NULL)
	{
		set_error(err, errlen, "%sinvalid value \"%s\" for %s%s: expected %s",
				  where, value, dashes, s->name, expected);
		return false;
	}
	return true;
}

/*
 * finish_config derives listen_host and listen_port and checks the rules that span
 * settings, once every source has been applied.
 */
static bool
finish_config(PushdConfig *cfg, char *err, size_t errlen)
{
	free(cfg->listen_host);
	cfg->listen_host = NULL;
	if (!split_listen(cfg->listen, &cfg->listen_host, &cfg->listen_port))
	{
		/* Unreachable: check_listen vetted every value stored. */
		set_error(err, errlen, "invalid value \"%s\" for --listen", cfg->listen);
		cfg->listen_host = xstrdup("");
		return false;
	}
	cfg->nworkers = workers_count(cfg->workers);
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
	{
		set_error(err, errlen, "--tls-cert and --tls-key go together: %s is missing",
				  cfg->tls_cert[0] ? "--tls-key" : "--tls-cert");
		return false;
	}
	if (cfg->reconnect_min_ms > cfg->reconnect_max_ms)
	{
		set_error(err, errlen,
				  "--reconnect-min (%d ms) must not be greater than --reconnect-max (%d ms)",
				  cfg->reconnect_min_ms, cfg->reconnect_max_ms);
		return false;
	}
	return true;
}

void
config_defaults(PushdConfig *cfg)
{
	char		err[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		if (!apply_value(cfg, &settings[i], settings[i].default_value, "", "--",
						 err, sizeof(err)))
		{
			/* A default the table's own rules refuse is a bug in the table. */
			fprintf(stderr, "toggles-pushd: bad default: %s\n", err);
			abort();
		}
	}
	cfg->config_file = xstrdup("");
	if (!finish_config(cfg, err, sizeof(err)))
	{
		fprintf(stderr, "toggles-pushd: bad defaults: %s\n", err);
		abort();
	}
}

/*
 * parse_file_value takes the text after '=' and cuts out the value: quoted with ' or ",
 * or bare up to a '#' that follows white space (so "a#b" survives, as passwords may hold
 * '#').  Returns NULL on success, else what is wrong.
 */
static const char *
parse_file_value(char *text, char **value)
{
	char	   *rest;

	while (isspace((unsigned char) *text))
		text++;
	if (*text == '\'' || *text == '"')
	{
		char	   *close = strchr(text + 1, *text);

		if (close == NULL)
			return "unterminated quoted value";
		*close = '\0';
		*value = text + 1;
		rest = close + 1;
		while (isspace((unsigned char) *rest))
			rest++;
		if (*rest != '\0' && *rest != '#')
			return "unexpected text after the closing quote";
		return NULL;
	}

	*value = text;
	for (rest = text; *rest; rest++)
	{
		if (*rest == '#' && (rest == text || isspace((unsigned char) rest[-1])))
		{
			*rest = '\0';
			break;
		}
	}
	while (rest > text && isspace((unsigned char) rest[-1]))
		rest--;
	*rest = '\0';
	return NULL;
}

/* parse_file_line applies one line of path; lineno is for the messages. */
static bool
parse_file_line(PushdConfig *cfg, const char *path, int lineno, char *line,
				char *err, size_t errlen)
{
	char		where[PATH_MAX + 32];
	char	   *name;
	char	   *name_end;
	char	   *p;
	char	   *value;
	const char *problem;
	const Setting *s;

	snprintf(where, sizeof(where), "%s:%d: ", path, lineno);

	p = line;
	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0' || *p == '#')
		return true;

	name = p;
	while (*p != '\0' && *p != '=' && !isspace((unsigned char) *p))
	{
		if (*p == '_')
			*p = '-';
		p++;
	}
	name_end = p;
	while (isspace((unsigned char) *p))
		p++;
	if (name_end == name)
	{
		set_error(err, errlen, "%sexpected \"name = value\", the name is missing", where);
		return false;
	}
	if (*p != '=')
	{
		*name_end = '\0';
		set_error(err, errlen, "%sexpected \"=\" after %s", where, name);
		return false;
	}
	*name_end = '\0';

	s = find_setting(name, strlen(name));
	if (s == NULL)
	{
		if (strcmp(name, "config") == 0)
			set_error(err, errlen, "%sconfig can only be given on the command line", where);
		else
			set_error(err, errlen, "%sunknown setting \"%s\"", where, name);
		return false;
	}

	problem = parse_file_value(p + 1, &value);
	if (problem != NULL)
	{
		set_error(err, errlen, "%s%s for %s", where, problem, s->name);
		return false;
	}
	return apply_value(cfg, s, value, where, "", err, errlen);
}

/* load_file applies every line of the config file at path. */
static bool
load_file(PushdConfig *cfg, const char *path, char *err, size_t errlen)
{
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	int			lineno = 0;
	bool		ok = true;

	f = fopen(path, "r");
	if (f == NULL)
	{
		set_error(err, errlen, "cannot read --config file \"%s\": %s", path, strerror(errno));
		return false;
	}
	while (getline(&line, &cap, f) != -1)
	{
		lineno++;
		if (!parse_file_line(cfg, path, lineno, line, err, errlen))
		{
			ok = false;
			break;
		}
	}
	/* A directory opens fine and only fails on the first read. */
	if (ok && ferror(f))
	{
		set_error(err, errlen, "cannot read --config file \"%s\": %s", path, strerror(errno));
		ok = false;
	}
	free(line);
	fclose(f);
	return ok;
}

/*
 * scan_args walks argv twice with the same syntax rules, so both passes agree on which
 * word is an option and which is its value.  The first pass (apply false) only notes
 * --config and acts on --help, --version and --print-config; the second applies the
 * settings over the file's.  When reloading, the exit options are not acted on: the
 * daemon got past them at startup and must not print help on SIGHUP.
 */
static ConfigResult
scan_args(PushdConfig *cfg, int argc, char **argv, bool apply, bool reloading,
		  char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *name;
		size_t		name_len;
		const char *eq;
		const char *value;
		const Setting *s;
		bool		negated = false;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		{
			if (!apply && !reloading)
			{
				config_print_help(stdout);
				return CONFIG_EXIT;
			}
			continue;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
		{
			if (!apply && !reloading)
			{
				printf("toggles-pushd %s\n", PUSHD_VERSION);
				return CONFIG_EXIT;
			}
			continue;
		}
		if (strcmp(arg, "--print-config") == 0)
		{
			if (!apply && !reloading)
			{
				config_print_example(stdout);
				return CONFIG_EXIT;
			}
			continue;
		}

		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		{
			if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-')
				set_error(err, errlen, "unknown option \"%s\" (see --help)", arg);
			else
				set_error(err, errlen,
						  "unexpected argument \"%s\": toggles-pushd takes only options (see --help)",
						  arg);
			return CONFIG_ERROR;
		}

		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq != NULL ? (size_t) (eq - name) : strlen(name);
		value = eq != NULL ? eq + 1 : NULL;

		if ((name_len == 4 && strncmp(name, "help", 4) == 0) ||
			(name_len == 7 && strncmp(name, "version", 7) == 0) ||
			(name_len == 12 && strncmp(name, "print-config", 12) == 0))
		{
			set_error(err, errlen, "option --%.*s takes no value", (int) name_len, name);
			return CONFIG_ERROR;
		}

		s = find_setting(name, name_len);
		if (s == NULL && name_len > 3 && strncmp(name, "no-", 3) == 0)
		{
			s = find_setting(name + 3, name_len - 3);
			if (s != NULL && s->type != SETTING_BOOL)
				s = NULL;
			negated = (s != NULL);
		}
		if (s == NULL && !(name_len == 6 && strncmp(name, "config", 6) == 0))
		{
			set_error(err, errlen, "unknown option \"--%.*s\" (see --help)", (int) name_len, name);
			return CONFIG_ERROR;
		}

		if (negated || (s != NULL && s->type == SETTING_BOOL))
		{
			if (negated && value != NULL)
			{
				set_error(err, errlen, "option --no-%s takes no value", s->name);
				return CONFIG_ERROR;
			}
			/* No separate value word: "--track-connections false" would be ambiguous. */
			if (value == NULL)
				value = negated ? "false" : "true";
		}
		else if (value == NULL)
		{
			/* A value that looks like an option is more likely a forgotten value. */
			if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
			{
				set_error(err, errlen, "option --%.*s needs a value", (int) name_len, name);
				return CONFIG_ERROR;
			}
			value = argv[++i];
		}

		if (s == NULL)
		{
			/* --config */
			if (value[0] == '\0')
			{
				set_error(err, errlen, "option --config needs a file name");
				return CONFIG_ERROR;
			}
			if (!apply)
			{
				free(cfg->config_file);
				cfg->config_file = xstrdup(value);
			}
			continue;
		}
		if (apply && !apply_value(cfg, s, value, "", "--", err, errlen))
			return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/*
 * build_config makes cfg from scratch: defaults, then the --config file (or fallback_file
 * when argv names none), then argv.
 */
static ConfigResult
build_config(PushdConfig *cfg, int argc, char **argv, const char *fallback_file,
			 bool reloading, char *err, size_t errlen)
{
	ConfigResult result;

	config_defaults(cfg);
	result = scan_args(cfg, argc, argv, false, reloading, err, errlen);
	if (result != CONFIG_OK)
		return result;
	if (cfg->config_file[0] == '\0' && fallback_file != NULL && fallback_file[0] != '\0')
	{
		free(cfg->config_file);
		cfg->config_file = xstrdup(fallback_file);
	}
	if (cfg->config_file[0] != '\0' && !load_file(cfg, cfg->config_file, err, errlen))
		return CONFIG_ERROR;
	result = scan_args(cfg, argc, argv, true, reloading, err, errlen);
	if (result != CONFIG_OK)
		return result;
	if (!finish_config(cfg, err, errlen))
		return CONFIG_ERROR;
	return CONFIG_OK;
}

/*
 * config_parse_args initializes cfg itself (it need not hold anything before), and
 * leaves it for config_free whatever the result.
 */
ConfigResult
config_parse_args(PushdConfig *cfg, int argc, char **argv, char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	return build_config(cfg, argc, argv, NULL, false, err, errlen);
}

/* same_value tells whether setting s is equal in a and b. */
static bool
same_value(PushdConfig *a, PushdConfig *b, const Setting *s)
{
	switch (s->type)
	{
		case SETTING_STRING:
			return strcmp(*string_field(a, s), *string_field(b, s)) == 0;
		case SETTING_INT:
			return *int_field(a, s) == *int_field(b, s);
		case SETTING_BOOL:
			return *bool_field(a, s) == *bool_field(b, s);
		case SETTING_LOG_LEVEL:
			return *log_level_field(a, s) == *log_level_field(b, s);
	}
	return true;
}

/*
 * config_reload builds a whole new configuration first, so that a file broken halfway
 * changes nothing.  On success err is "" or, for the log, a line naming the changed
 * settings that were left alone because they need a restart.
 */
bool
config_reload(PushdConfig *cfg, int argc, char **argv, char *err, size_t errlen)
{
	PushdConfig fresh;
	size_t		used = 0;

	set_error(err, errlen, "%s", "");
	if (build_config(&fresh, argc, argv, cfg->config_file, true, err, errlen) != CONFIG_OK)
	{
		config_free(&fresh);
		return false;
	}

	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		const Setting *s = &settings[i];

		if (same_value(cfg, &fresh, s))
			continue;
		if (!s->reloadable)
		{
			if (err != NULL && used < errlen)
				used += (size_t) snprintf(err + used, errlen - used, "%s%s",
										  used == 0 ? "changed but needs a restart: " : ", ",
										  s->name);
			continue;
		}
		switch (s->type)
		{
			case SETTING_STRING:
				{
					char	  **to = string_field(cfg, s);
					char	  **from = string_field(&fresh, s);

					free(*to);
					*to = *from;
					*from = NULL;
				}
				break;
			case SETTING_INT:
				*int_field(cfg, s) = *int_field(&fresh, s);
				break;
			case SETTING_BOOL:
				*bool_field(cfg, s) = *bool_field(&fresh, s);
				break;
			case SETTING_LOG_LEVEL:
				*log_level_field(cfg, s) = *log_level_field(&fresh, s);
				break;
		}
	}
	config_free(&fresh);
	return true;
}

/* format_arg writes the "--name ARG" column of --help for s. */
static void
format_arg(char *buf, size_t len, const Setting *s)
{
	switch (s->type)
	{
		case SETTING_STRING:
			snprintf(buf, len, "--%s %s", s->name, s->arg);
			break;
		case SETTING_INT:
			snprintf(buf, len, "--%s N", s->name);
			break;
		case SETTING_BOOL:
			snprintf(buf, len, "--[no-]%s", s->name);
			break;
		case SETTING_LOG_LEVEL:
			snprintf(buf, len, "--%s LEVEL", s->name);
			break;
	}
}

/* format_default writes s's default with its unit, quoted when it is an empty string. */
static void
format_default(char *buf, size_t len, const Setting *s)
{
	if (s->type == SETTING_STRING && s->default_value[0] == '\0')
		snprintf(buf, len, "\"\"");
	else if (s->unit != NULL)
		snprintf(buf, len, "%s %s", s->default_value, s->unit);
	else
		snprintf(buf, len, "%s", s->default_value);
}

void
config_print_help(FILE *out)
{
	const Setting *db = find_setting("db", 2);
	const Setting *listen_setting = find_setting("listen", 6);

	fprintf(out, "Usage: toggles-pushd --%s %s --%s %s [--config FILE] [OPTIONS]\n",
			db->name, db->arg, listen_setting->name, listen_setting->arg);
	fputs("\n"
		  "toggles-pushd serves pg_toggles feature toggles to WebSocket clients: a snapshot,\n"
		  "then every committed change, read from PostgreSQL with LISTEN.\n"
		  "\n"
		  "Settings, with [default]; SIGHUP marks those a reload changes.  Each can also be\n"
		  "set by a \"name = value\" line in the --config file; flags win over the file.\n",
		  out);
	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		const Setting *s = &settings[i];
		char		arg[64];
		char		def[64];

		format_arg(arg, sizeof(arg), s);
		format_default(def, sizeof(def), s);
		fprintf(out, "  %-27s %s [%s]%s\n", arg, s->help, def, s->reloadable ? " SIGHUP" : "");
	}
	fputs("\n"
		  "Other options:\n"
		  "  --config FILE               read settings from FILE (command line only)\n"
		  "  --print-config              print an annotated example config file and exit\n"
		  "  --print-man                 print the manual page (roff) and exit; alone\n"
		  "  -h, --help                  print this help and exit\n"
		  "  -V, --version               print the version and exit\n"
		  "\n"
		  "libpq's PG* environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD,\n"
		  "PGSSLMODE, ...) and ~/.pgpass apply; a multi-host conninfo such as\n"
		  "\"host=a,b target_session_attrs=read-write\" is passed to libpq as it is.\n",
		  out);
}

/*
 * config_describe_setting fills d with setting number i as --help shows it, for the other
 * renderings of the table (the man page, pushd/manpage.c).  False past the last one.
 */
bool
config_describe_setting(size_t i, SettingDescription *d)
{
	const Setting *s;

	if (i >= NUM_SETTINGS)
		return false;
	s = &settings[i];
	d->name = s->name;
	d->help = s->help;
	d->reloadable = s->reloadable;
	format_arg(d->synopsis, sizeof(d->synopsis), s);
	format_default(d->default_text, sizeof(d->default_text), s);
	d->range[0] = '\0';
	if (s->type == SETTING_INT)
		snprintf(d->range, sizeof(d->range), "%d to %d%s%s", s->min, s->max,
				 s->unit != NULL ? " " : "", s->unit != NULL ? s->unit : "");
	return true;
}

void
config_print_example(FILE *out)
{
	fputs("# toggles-pushd configuration file (toggles-pushd --print-config); use it with\n"
		  "# --config FILE.  Lines are \"name = value\" with the long option names ('_' may\n"
		  "# stand for '-').  Quote a value with ' or \" when it holds spaces, as a conninfo\n"
		  "# does.  '#' starts a comment, at the start of a line or after white space.\n"
		  "# Command-line flags win over this file.  SIGHUP re-reads it, but only the\n"
		  "# settings marked so change then; the others need a restart.\n"
		  "# Every value below is the default.\n",
		  out);
	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		const Setting *s = &settings[i];
		const char *reload = s->reloadable ? "; SIGHUP reloads it" : "";

		fprintf(out, "\n# %s\n", s->help);
		if (s->type == SETTING_INT)
			fprintf(out, "# %d to %d%s%s%s\n", s->min, s->max,
					s->unit != NULL ? " " : "", s->unit != NULL ? s->unit : "", reload);
		else if (s->type == SETTING_BOOL)
			fprintf(out, "# true or false%s\n", reload);
		else if (s->reloadable)
			fprintf(out, "# SIGHUP reloads it\n");
		if (s->type == SETTING_STRING)
		{
			/* Quoted even when empty, so that the line visibly sets "". */
			const char *q = strchr(s->default_value, '"') != NULL ? "'" : "\"";

			fprintf(out, "%s = %s%s%s\n", s->name, q, s->default_value, q);
		}
		else
			fprintf(out, "%s = %s\n", s->name, s->default_value);
	}
}

void
config_free(PushdConfig *cfg)
{
	for (size_t i = 0; i < NUM_SETTINGS; i++)
	{
		if (settings[i].type == SETTING_STRING)
		{
			char	  **field = string_field(cfg, &settings[i]);

			free(*field);
			*field = NULL;
		}
	}
	free(cfg->listen_host);
	cfg->listen_host = NULL;
	free(cfg->config_file);
	cfg->config_file = NULL;
}

const char *
log_level_name(LogLevel level)
{
	if ((int) level >= LOG_DEBUG && (int) level <= LOG_ERROR)
		return log_level_names[level];
	return "unknown";
}
