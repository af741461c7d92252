/*
 * config.h — toggles-pushd's settings: one table (name, type, default, help) drives the
 * command-line parser, the config-file parser, --help and the annotated example file.
 */
#ifndef PUSHD_CONFIG_H
#define PUSHD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
} LogLevel;

/* --workers: at most this many processes (the shared region has a slot for each). */
#define MAX_WORKERS 32
#define MAX_WORKERS_TEXT "32"

typedef struct PushdConfig
{
	char	   *db;					/* libpq conninfo; "" = PG* environment */
	char	   *listen;				/* HOST:PORT */
	char	   *listen_host;		/* derived from listen */
	int			listen_port;		/* derived from listen */
	char	   *node;				/* "" = hostname:port */
	char	   *workers;			/* --workers: N or auto */
	int			nworkers;			/* derived from workers: 1 to MAX_WORKERS */
	int			worker_timeout_s;	/* a worker's heartbeat older than this: killed */
	char	   *config_file;		/* --config, command line only */
	LogLevel	log_level;			/* reloadable */
	int			resume_window;		/* versions kept in memory for resume */
	int			future_wait_ms;		/* how long a client ahead of us waits */
	int			max_backlog;		/* queued messages per client before coalescing; reloadable */
	int			max_backlog_bytes;	/* bytes a stalled client may miss before close 4001; reloadable */
	int			max_stall_s;		/* ... and how long it must have taken nothing; reloadable */
	int			max_client_frame;	/* largest client frame accepted, bytes */
	int			ping_interval_s;	/* WebSocket ping to idle clients; reloadable */
	int			pong_timeout_s;		/* no pong by then: the peer is dead */
	bool		track_connections;	/* write toggles.connections */
	bool		allow_anonymous;	/* serve clients that present no token; reloadable */
	int			register_interval_ms;	/* batch interval for connection rows */
	int			heartbeat_interval_s;	/* node heartbeat; reloadable */
	int			lease_s;			/* rows without heartbeat this long are reaped */
	int			prune_interval_s;	/* toggles.prune_changes() period, 0 = never; reloadable */
	int			db_connect_timeout_s;	/* per host, to connect and log in; reloadable */
	int			db_timeout_s;		/* a query unanswered this long: link dead; reloadable */
	int			db_probe_interval_s;	/* idle link probed after this long; reloadable */
	int			outage_grace_s;		/* link down this long: clients are closed (1013); reloadable */
	int			sse_heartbeat_s;	/* comment line on a quiet SSE stream; reloadable */
	int			outage_close_spread_s;	/* ... evenly over this long; reloadable */
	int			reconnect_min_ms;	/* first reconnect delay */
	int			reconnect_max_ms;	/* cap of the exponential backoff */

	/* Security and limits (docs/security.md). */
	char	   *tls_cert;			/* PEM certificate chain; "" = no TLS; reloadable */
	char	   *tls_key;			/* PEM private key; reloadable */
	int			max_connections;	/* open TCP connections, all kinds; reloadable */
	int			max_connections_per_ip;	/* ... from one address, 0 = no limit; reloadable */
	int			handshake_timeout_s;	/* to finish TLS + upgrade or an HTTP exchange; reloadable */
	int			max_handshakes;	/* accepted, not yet streaming: the header buffers in use */
	int			client_messages_per_second;	/* data frames per client, 0 = no limit; reloadable */
	char	   *allowed_origins;	/* comma-separated Origin values; "" = any; reloadable */
	int			max_catchups_per_second;	/* log reads triggered by notifications; reloadable */
	char	   *metrics_allow;		/* CIDRs that may GET /metrics; "" = any; reloadable */
	char	   *healthz_allow;		/* CIDRs that may GET /healthz; "" = any; reloadable */
	char	   *trusted_proxies;	/* CIDRs whose X-Forwarded-For is believed; "" = none; reloadable */
} PushdConfig;

/* Outcome of config_parse_args. */
typedef enum ConfigResult
{
	CONFIG_OK,					/* run */
	CONFIG_EXIT,				/* --help or --version was printed: exit 0 */
	CONFIG_ERROR				/* message in err: exit 2 */
} ConfigResult;

/* config_defaults fills cfg with every setting's default. */
extern void config_defaults(PushdConfig *cfg);

/*
 * config_parse_args parses argv (and the file named by --config, if any); command-line
 * values win over the file, the file over defaults.  On CONFIG_ERROR, err holds one line
 * naming the setting and what is wrong.
 */
extern ConfigResult config_parse_args(PushdConfig *cfg, int argc, char **argv,
									  char *err, size_t errlen);

/*
 * config_reload re-reads cfg->config_file and re-applies argv (flags still win), then
 * copies only the reloadable settings into cfg.  Returns false (cfg untouched, err set)
 * when the file is invalid.
 */
extern bool config_reload(PushdConfig *cfg, int argc, char **argv, char *err, size_t errlen);

/* One setting as --help shows it; see config_describe_setting. */
typedef struct SettingDescription
{
	const char *name;			/* "max-backlog" */
	const char *help;			/* the one-line help */
	bool		reloadable;		/* SIGHUP applies it */
	char		synopsis[64];	/* "--max-backlog N", as in --help */
	char		default_text[64];	/* "1024 messages", as in --help */
	char		range[64];		/* "1 to 65536 messages" for numbers, else "" */
} SettingDescription;

extern bool config_describe_setting(size_t i, SettingDescription *d);

extern void config_print_help(FILE *out);
extern void config_print_example(FILE *out);	/* --print-config: annotated example file */
extern void config_free(PushdConfig *cfg);
extern const char *log_level_name(LogLevel level);

#endif
