/*
 * main.c — toggles-pushd: relays the pg_toggles change stream to WebSocket clients.
 *
 * One thread, one event loop: libwebsockets serves the clients and HTTP, and the libpq
 * socket is adopted into the same loop (pglink.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "groups.h"
#include "http.h"
#include "conn_limits.h"
#include "listener.h"
#include "liveness.h"
#include "log.h"
#include "loop.h"
#include "manpage.h"
#include "metrics.h"
#include "ofrep.h"
#include "origin.h"
#include "outage.h"
#include "pglink.h"
#include "pushd.h"
#include "registry.h"
#include "schedule.h"
#include "shared.h"
#include "sse.h"
#include "stream.h"
#include "supervisor.h"
#include "sync.h"
#include "zoneinfo.h"
#include "tls.h"
#include "tokens.h"
#include "worker.h"

Pushd		pushd;

/* How long shutdown waits for clients to take their close frame. */
#define SHUTDOWN_GRACE_US (2 * LWS_US_PER_SEC)

int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
wall_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *
tg_alloc(void *arg, size_t size)
{
	(void) arg;
	return malloc(size);
}

static void
tg_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

/* The evaluator's hooks: plain malloc, and time zones from the system's zoneinfo. */
static const TgHooks targeting_hooks = {tg_alloc, tg_free, zoneinfo_local_time, NULL};

/* RFC 6585; lws 4.1 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429

/*
 * Room for a request line carrying a context of CONTEXT_MAX bytes percent-encoded (three
 * bytes each) and the usual headers.
 */
#define MAX_HTTP_HEADER_DATA (4 * 4096)

/* upgrade_is_valid: RFC 6455 version 13 and a key of 16 bytes in base64 (24 characters). */
static bool
upgrade_is_valid(struct lws *wsi)
{
	char		uri[128];
	char		version[8];
	char		key[64];

	/* The stream lives at / and /v1/stream; other paths get no upgrade. */
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
		(strcmp(uri, "/") != 0 && strcmp(uri, "/v1/stream") != 0))
		return false;
	return lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_VERSION) > 0 &&
		strcmp(version, "13") == 0 &&
		lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY) == 24 &&
		strcmp(key + 22, "==") == 0 &&
		strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 22;
}

/*
 * The stream protocol gets HTTP and WebSocket events alike, and, being protocols[0], the
 * connection-level ones; route them.  The limits see every connection first.
 */
static int
stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason)
	{
		case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
			limits_attach(wsi);
			return 0;
		case LWS_CALLBACK_WSI_DESTROY:
			limits_detach(wsi);
			return 0;
		case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
			tls_context_created(user);
			return 0;
		case LWS_CALLBACK_HTTP:
			if (limits_forwarded(wsi))
				return http_refuse(wsi, HTTP_TOO_MANY_REQUESTS, "too_many_connections",
								   "too many connections from this address");
			return http_callback(wsi, reason, user, in, len);
		case LWS_CALLBACK_HTTP_WRITEABLE:
		case LWS_CALLBACK_HTTP_BODY:
		case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		case LWS_CALLBACK_CLOSED_HTTP:
			return http_callback(wsi, reason, user, in, len);
		case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
			if (limits_forwarded(wsi))
				return http_refuse(wsi, HTTP_TOO_MANY_REQUESTS, "too_many_connections",
								   "too many connections from this address");
			/* WebSocket only: no h2c, whose streams would slip past the per-connection limits. */
			if (in == NULL || strcasecmp(in, "websocket") != 0)
			{
				lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "only WebSocket upgrades");
				return 1;
			}
			/* A missing token or an unacceptable context is refused here, while HTTP can say why. */
			return clients_confirm_upgrade(wsi);
		case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
			if (!upgrade_is_valid(wsi))
			{
				clients_upgrade_refused(wsi);
				return 1;
			}
			if (!origin_allowed(wsi))
			{
				limit_counters.origins_refused++;
				clients_upgrade_refused(wsi);
				lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
				return 1;
			}
			return 0;
		case LWS_CALLBACK_ESTABLISHED:
			limits_established(wsi);
			return clients_callback(wsi, reason, user, in, len);
		case LWS_CALLBACK_RECEIVE:
			/* One token per data frame, taken when its last byte has arrived. */
			if (user != NULL && lws_remaining_packet_payload(wsi) == 0 && !limits_client_frame(wsi))
			{
				Client	   *c = user;

				log_info("client %llu (%s): over --client-messages-per-second (%d), closing",
						 (unsigned long long) c->id, CLIENT_PEER(c), pushd.cfg.client_messages_per_second);
				clients_abort(c, CLOSE_TOO_MANY_MESSAGES, "too many messages");
				return -1;
			}
			return clients_callback(wsi, reason, user, in, len);
		default:
			return clients_callback(wsi, reason, user, in, len);
	}
}

/*
 * Stream buffers.  lws allocates rx_buffer_size for every connection, and clients send
 * next to nothing (pings, pongs, a context now and then), so it is small, but no smaller
 * than a control frame (125 bytes of payload); client_receive reassembles bigger frames
 * up to --max-client-frame.  With tx_packet_size left at 0, lws would cut every send to the rx
 * buffer size and copy the rest of each snapshot into a per-client list, a few bytes per
 * writable event; STREAM_TX_PACKET lets a snapshot go to the kernel in one send().
 */
#define STREAM_RX_BUFFER 128
#define STREAM_TX_PACKET (256 * 1024)

static struct lws_protocols protocols[] = {
	{PROTOCOL_STREAM, stream_callback, sizeof(Session), STREAM_RX_BUFFER, 0, NULL, STREAM_TX_PACKET},
	{PROTOCOL_PGLINK, pglink_callback, sizeof(unsigned), 0, 0, NULL, 0},
	{PROTOCOL_LISTENER, listener_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		pushd.reload_requested = 1;
	else
		pushd.stop_requested = 1;
	/* Wakes the event loop; only writes to lws's event pipe. */
	if (pushd.context)
		lws_cancel_service(pushd.context);
}

static char *
default_node_name(void)
{
	char		host[HOST_NAME_MAX + 1];
	char	   *node;

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[HOST_NAME_MAX] = '\0';
	if (asprintf(&node, "%s:%d", host, pushd.cfg.listen_port) < 0)
		return NULL;
	return node;
}

/*
 * No validity (ping) timer inside lws: with secs_since_valid_hangup 0 it arms none
 * (lws 4.1.6 _lws_validity_confirmed_role).  A vhost given no policy would still get
 * lws's built-in one (ping at 300 s, hang up at 310 s), whose timer, inserted into one
 * sorted list behind every established connection's, made connect storms quadratic.
 * liveness.c pings idle clients and hangs up on dead ones from one sweep timer instead.
 */
static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};

/*
 * raise_fd_limit lifts the soft descriptor limit towards the hard one: every connection
 * is a descriptor, and lws stops accepting at the limit rather than refusing, which
 * would leave --max-connections unreachable and the listen queue filling.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t		want = (rlim_t) pushd.cfg.max_connections + 64;
	/* With workers, the service holds the connections: each needs its share at least. */
	rlim_t		share = (rlim_t) (pushd.cfg.max_connections + pushd.cfg.nworkers - 1) /
		(rlim_t) pushd.cfg.nworkers + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < share)
		log_warn("descriptor limit %llu is below --max-connections (%d)%s + 64: raise ulimit -n",
				 (unsigned long long) rl.rlim_cur, pushd.cfg.max_connections,
				 pushd.cfg.nworkers > 1 ? " / --workers" : "");
}

/*
 * register_metrics puts every module's rows on /metrics, in this order: the one table it
 * is rendered from (metrics.h).  False when two modules claim one family.
 */
static bool
register_metrics(void)
{
	int			nworker_rows;
	const MetricDef *wrows = worker_metric_rows(&nworker_rows);

	return metrics_register(clients_rows, clients_nrows) &&
		metrics_register(groups_rows, groups_nrows) &&
		metrics_register(metrics_rows, metrics_nrows) &&
		metrics_register(stream_rows, stream_nrows) &&
		metrics_register(pglink_rows, pglink_nrows) &&
		metrics_register(tokens_rows, tokens_nrows) &&
		metrics_register(limits_rows, limits_nrows) &&
		metrics_register(http_rows, http_nrows) &&
		metrics_register(liveness_rows, liveness_nrows) &&
		metrics_register(listener_rows, listener_nrows) &&
		metrics_register(ofrep_rows, ofrep_nrows) &&
		metrics_register(sse_rows, sse_nrows) &&
		metrics_register_service(wrows, nworker_rows);
}

static bool
setup(void)
{
	struct lws_context_creation_info info;

	log_min_level = pushd.cfg.log_level;
	{
		char	   *name = pushd.cfg.node[0] ? strdup(pushd.cfg.node) : default_node_name();

		pushd.node = name ? worker_node_name(name) : NULL;
		free(name);
	}
	cache_init(&pushd.cache, pushd.cfg.resume_window, &targeting_hooks);
	srandom((unsigned) (now_us() ^ getpid()));

	/* Quiet lws: its own notices would be chatter next to ours. */
	lws_set_log_level(LLL_ERR, NULL);
	if (!register_metrics())
	{
		log_error("two modules register one /metrics family");
		return false;
	}

	raise_fd_limit();
	memset(&info, 0, sizeof(info));
	/* A server vhost (TLS, HTTP, WebSocket) without lws's own listener: listener.c's. */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = "pushd";
	info.retry_and_idle_policy = &idle_policy;
	info.pt_serv_buf_size = 64 * 1024;
	info.max_http_header_data = MAX_HTTP_HEADER_DATA;
	/* RFC 6455: a text frame that is not UTF-8 fails the connection (1007). */
	info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8;
	/*
	 * lws parses headers into a pool of header tables, one per connection in its
	 * handshake or an HTTP exchange; listener.c accepts no more than --max-handshakes of
	 * those at a time, so the pool never runs dry and its memory is bounded.
	 */
	info.max_http_header_pool = (unsigned short) (pushd.cfg.max_handshakes + 1);
	if (!limits_start() || !http_start() || !tls_configure(&info) || !loop_configure(&info))
		return false;
	origin_start();

	pushd.context = lws_create_context(&info);
	if (pushd.context == NULL)
	{
		log_error("could not create the event loop (libwebsockets on libuv: is the package "
				  "libwebsockets-evlib-uv installed?)");
		return false;
	}
	pushd.vhost = lws_get_vhost_by_name(pushd.context, "pushd");
	limits_on_handshake_done(listener_handshake_done);
	if (!listener_start())
		return false;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	log_info("toggles-pushd listening on %s://%s/v1/stream as node %s",
			 tls_active() ? "wss" : "ws", pushd.cfg.listen, pushd.node);
	tls_warn_plaintext();
	/*
	 * The database link's user: sync's steps; who hears of it: the clients (their rows go
	 * again, through the registry), then outage.
	 */
	pglink_on_state(clients_link_changed);
	pglink_on_state(outage_link_changed);
	pglink_on_state(worker_link_changed);
	pglink_on_shutdown(registry_final_statement);
	schedule_on_moved(stream_time_moved);
	groups_on_change(clients_broadcast_group);
	if (!pglink_start(&sync_link_steps))
		return false;
	registry_start();
	liveness_start();
	worker_start();
	return true;
}

static void
reload(void)
{
	char		err[512];

	pushd.reload_requested = 0;
	if (!config_reload(&pushd.cfg, pushd.argc, pushd.argv, err, sizeof(err)))
	{
		log_error("reload refused, settings unchanged: %s", err);
		return;
	}
	log_min_level = pushd.cfg.log_level;
	limits_start();
	listener_tune();
	http_start();
	origin_start();
	tls_reload();
	log_info("settings reloaded%s%s", err[0] ? "; " : "", err);
	tls_warn_plaintext();
}

static void
run(void)
{
	while (!pushd.stop_requested)
	{
		if (!loop_round())
			break;
		if (pushd.reload_requested)
			reload();
	}
}

static void
teardown(void)
{
	int64_t		deadline = now_us() + SHUTDOWN_GRACE_US;

	log_info("shutting down: closing %d clients", clients_count());
	pushd.shutting_down = 1;
	clients_close_all();
	while (clients_count() > 0 && now_us() < deadline)
		loop_round();

	worker_stop();
	liveness_stop();
	listener_stop();
	registry_stop();
	schedule_stop();
	pglink_shutdown();
	outage_stop();
	lws_context_destroy(pushd.context);
	pushd.context = NULL;
	loop_finish();
	cache_free(&pushd.cache);
	sync_free();
	zoneinfo_free_default();
	limits_stop();
	http_stop();
	origin_stop();
	tls_stop();
	free(pushd.node);
	config_free(&pushd.cfg);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	char		err[512];

	/* The manual page, rendered from the settings table (pushd/manpage.c). */
	if (argc == 2 && strcmp(argv[1], "--print-man") == 0)
	{
		manpage_print(stdout);
		return 0;
	}
	pushd.argc = argc;
	pushd.argv = argv;
	switch (config_parse_args(&pushd.cfg, argc, argv, err, sizeof(err)))
	{
		case CONFIG_EXIT:
			config_free(&pushd.cfg);
			return 0;
		case CONFIG_ERROR:
			fprintf(stderr, "toggles-pushd: %s\nTry \"toggles-pushd --help\".\n", err);
			config_free(&pushd.cfg);
			return 2;
		case CONFIG_OK:
			break;
	}
	/* The region the workers share exists before any of them, and before lws or libpq. */
	if (!shared_create(pushd.cfg.nworkers))
	{
		config_free(&pushd.cfg);
		return 1;
	}
	if (pushd.cfg.nworkers > 1)
	{
		int			status;

		if (!supervisor_run(&status))
		{
			config_free(&pushd.cfg);
			return status;
		}
	}
	else
	{
		atomic_store(&shared_slot(0)->pid, getpid());
		atomic_store(&shared_slot(0)->starts, 1);
	}
	if (!setup())
	{
		config_free(&pushd.cfg);
		return 1;
	}
	run();
	teardown();
	return 0;
}
