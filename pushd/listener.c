/*
 * listener.c — the listening socket, accepted from in bounded batches (see listener.h).
 *
 * Each accepted descriptor goes through the connection limits (conn_limits.c) and is
 * handed to lws with lws_adopt_socket_vhost(), which serves it as if lws had accepted it
 * (TLS when the vhost has a certificate, HTTP, the WebSocket upgrade).  When
 * --max-handshakes are in progress the listening descriptor stops asking for POLLIN;
 * listener_handshake_done turns it back on.
 */
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_limits.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"
#include "shared.h"

/*
 * Accepts per readiness.  In a storm every accepted connection has its request waiting,
 * so the batch is about how many handshakes are in progress at once, and lws 4.1.6 pays
 * per handshake for each one in progress: its header table is freed by a walk of a
 * singly linked list from the newest, and its two timeouts are inserted by a walk of a
 * sorted list.  64 keeps both short and the loop busy (epoll costs nothing per idle
 * descriptor, where poll() scanned them all per batch: then 512 was faster).  Slow
 * handshakes still accumulate up to --max-handshakes over several batches.
 */
#define ACCEPT_BATCH 64

/* The kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

/* How often an accept() failure (descriptors exhausted) may be logged. */
#define ACCEPT_ERROR_LOG_US (10 * LWS_US_PER_SEC)

/*
 * After accept() failed for want of descriptors, how long accepting rests: the queued
 * connection keeps the socket readable, and the event loop would otherwise wake at once,
 * forever.
 */
#define ACCEPT_RETRY_US (100 * 1000)

/*
 * After this many handshakes at once, the allocator is asked to give freed memory back
 * once they are over (listener_handshake_done).
 */
#define TRIM_AFTER_HANDSHAKES 64

static struct lws *listen_wsi;
static bool paused;
static int	handshakes_peak;
static uint64_t pauses;
static int64_t accept_error_logged_us;
static lws_sorted_usec_list_t retry_timer;

/* bind_listen makes a listening socket for one address; -1 when it cannot. */
static int
bind_listen(int family, const struct sockaddr *addr, socklen_t addrlen)
{
	int			fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int			one = 1;
	int			zero = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* --workers: each worker listens on the same address; the kernel spreads the accepts. */
	if (shared_nworkers() > 1)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* The wildcard address serves IPv4 clients too (as ::ffff:a.b.c.d). */
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, addr, addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
	{
		close(fd);
		return -1;
	}
	return fd;
}

/* open_listen: --listen's host (empty: every interface, IPv6 and IPv4) and port. */
static int
open_listen(void)
{
	const char *host = pushd.cfg.listen_host;
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	char		port[16];
	int			fd = -1;

	if (host == NULL || host[0] == '\0')
	{
		struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons(pushd.cfg.listen_port),
		.sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons(pushd.cfg.listen_port),
		.sin_addr.s_addr = htonl(INADDR_ANY)};

		fd = bind_listen(AF_INET6, (struct sockaddr *) &any6, sizeof(any6));
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
			fd = bind_listen(AF_INET, (struct sockaddr *) &any4, sizeof(any4));
		return fd;
	}
	snprintf(port, sizeof(port), "%d", pushd.cfg.listen_port);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = bind_listen(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return fd;
}

bool
listener_start(void)
{
	lws_sock_file_fd_type desc;
	int			fd = open_listen();

	if (fd < 0)
	{
		log_error("could not listen on %s: %s", pushd.cfg.listen, strerror(errno));
		return false;
	}
	desc.filefd = fd;
	listen_wsi = lws_adopt_descriptor_vhost(pushd.vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
											PROTOCOL_LISTENER, NULL);
	if (listen_wsi == NULL)
	{
		close(fd);
		log_error("could not listen on %s: the socket could not join the event loop",
				  pushd.cfg.listen);
		return false;
	}
	listener_tune();
	return true;
}

bool
listener_is_open(void)
{
	return listen_wsi != NULL;
}

void
listener_close(void)
{
	struct lws *wsi = listen_wsi;

	if (wsi == NULL)
		return;
	listen_wsi = NULL;
	paused = false;
	/* lws closes the descriptor with the connection (a raw file's close, then close()). */
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/*
 * listener_tune: what every accepted socket gets, set once on the listening socket, whose
 * options Linux copies to each socket it accepts (no system call per client): no Nagle,
 * as lws gives the sockets it accepts itself, and TCP keepalive, which finds a vanished
 * peer of a stream that cannot answer a WebSocket ping (SSE) within --ping-interval +
 * 3 probes --pong-timeout / 3 apart.
 */
void
listener_stop(void)
{
	lws_sul_cancel(&retry_timer);
}

void
listener_tune(void)
{
	int			fd = listen_wsi ? lws_get_socket_fd(listen_wsi) : -1;
	int			one = 1;
	int			idle = pushd.cfg.ping_interval_s;
	int			interval = pushd.cfg.pong_timeout_s / 3 > 0 ? pushd.cfg.pong_timeout_s / 3 : 1;
	int			probes = 3;

	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

/* note_handshakes remembers the most handshakes in progress at once since the last trim. */
static void
note_handshakes(void)
{
	if (limits_handshakes() > handshakes_peak)
		handshakes_peak = limits_handshakes();
}

static void
pause_accepting(void)
{
	if (paused)
		return;
	paused = true;
	pauses++;
	lws_rx_flow_control(listen_wsi, 0);
}

void
listener_handshake_done(void)
{
	/*
	 * A storm is over when no handshake is left.  Its header tables (16 KiB each) were
	 * freed, but the allocator keeps freed memory for reuse, and those blocks sit between
	 * the long-lived client records: malloc_trim returns the free pages inside the heap
	 * to the system, so that a storm does not stay in the resident memory.
	 */
	if (limits_handshakes() == 0 && handshakes_peak >= TRIM_AFTER_HANDSHAKES)
	{
		handshakes_peak = 0;
		malloc_trim(0);
	}
	if (!paused || listen_wsi == NULL || limits_handshakes() >= pushd.cfg.max_handshakes)
		return;
	paused = false;
	lws_rx_flow_control(listen_wsi, 1);
}

/* retry_due: accepting again after a rest (ACCEPT_RETRY_US). */
static void
retry_due(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	if (!paused || listen_wsi == NULL)
		return;
	paused = false;
	lws_rx_flow_control(listen_wsi, 1);
}

/* accept_batch accepts up to ACCEPT_BATCH connections and hands them to lws. */
static void
accept_batch(int listen_fd)
{
	for (int n = 0; n < ACCEPT_BATCH; n++)
	{
		int			fd;

		if (limits_handshakes() >= pushd.cfg.max_handshakes)
		{
			pause_accepting();
			return;
		}
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
		{
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (now_us() - accept_error_logged_us > ACCEPT_ERROR_LOG_US)
			{
				accept_error_logged_us = now_us();
				log_warn("accept on %s failed: %s; accepting again in %d ms", pushd.cfg.listen,
						 strerror(errno), ACCEPT_RETRY_US / 1000);
			}
			pause_accepting();
			lws_sul_schedule(pushd.context, 0, &retry_timer, retry_due, ACCEPT_RETRY_US);
			return;
		}
		if (limits_accept(fd) != 0)
		{
			close(fd);
			continue;
		}
		/* On failure lws has closed the descriptor; the limits let go of it below. */
		lws_adopt_socket_vhost(pushd.vhost, fd);
		limits_adopt_done();
		note_handshakes();
	}
}

int
listener_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
				  size_t len)
{
	(void) user;
	(void) in;
	(void) len;
	switch (reason)
	{
		case LWS_CALLBACK_RAW_RX_FILE:
			accept_batch(lws_get_socket_fd(wsi));
			return 0;
		case LWS_CALLBACK_RAW_CLOSE_FILE:
			if (wsi == listen_wsi)
				listen_wsi = NULL;
			return 0;
		default:
			return 0;
	}
}

static double
handshakes(void)
{
	return limits_handshakes();
}

const MetricDef listener_rows[] = {
	{"pushd_handshakes", "Connections in TLS, their upgrade or an HTTP exchange.", METRIC_GAUGE,
	NULL, NULL, handshakes, NULL},
	{"pushd_accept_pauses_total", "Times accepting stopped at --max-handshakes.", METRIC_COUNTER,
	NULL, &pauses, NULL, NULL},
};
const int	listener_nrows = sizeof(listener_rows) / sizeof(listener_rows[0]);
