/*
 * conn_limits.c — connection, handshake, rate and address limits (see conn_limits.h).
 *
 * A connection is counted from the moment it is accepted until lws destroys it, whatever
 * it turns out to be (WebSocket, HTTP, TLS garbage).  lws offers no per-connection slot
 * before a protocol is bound, so the bookkeeping rides on the wsi's opaque user data: the
 * accept filter (which sees only the descriptor) prepares it, and the instantiation
 * callback that lws makes synchronously right after claims it.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "conn_limits.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"
#include "shared.h"

/* How often a flood of refusals may be logged: one line, then a count per interval. */
#define REFUSAL_LOG_INTERVAL_US (10 * LWS_US_PER_SEC)

LimitCounters limit_counters;

typedef struct Conn
{
	struct lws *wsi;
	/* The address it is counted under (shared.c): X-Forwarded-For's once forwarded. */
	struct in6_addr counted;
	bool		established;
	bool		via_proxy;		/* accepted from --trusted-proxies */
	bool		forwarded;		/* counted is the address X-Forwarded-For named */
	lws_dll2_t	handshaking;	/* in the handshakes list until established */
	int64_t		deadline_us;	/* when its handshake times out */
	double		tokens;			/* client frame bucket */
	int64_t		refilled_us;
} Conn;

static Conn *pending;			/* accepted, not yet claimed by limits_attach */
static int	pending_fd;			/* its descriptor */
static Acl	proxies_acl;			/* empty: no proxy is trusted */

static double catchup_tokens = -1;	/* < 0: full, set at first use */
static int64_t catchup_refilled_us;

static uint64_t refusals_unlogged;
static int64_t refusal_logged_us;

/*
 * Handshakes in progress, oldest first: every one gets the same timeout, so the list is
 * in deadline order and one timer for its head serves them all.  A timer per connection
 * costs an O(n) insertion into lws's sorted timer list, O(n^2) in a connect storm.
 */
static lws_dll2_owner_t handshakes;
static lws_sorted_usec_list_t handshake_timer;
static void (*handshake_done_cb) (void);

bool
limits_start(void)
{
	Acl			proxies;

	if (!acl_parse(pushd.cfg.trusted_proxies, &proxies))
	{
		log_error("invalid --trusted-proxies \"%s\"", pushd.cfg.trusted_proxies);
		return false;
	}
	acl_free(&proxies_acl);
	proxies_acl = proxies;
	return true;
}

void
limits_stop(void)
{
	acl_free(&proxies_acl);
}

/* handshake_end takes conn out of the handshakes in progress, if it was in. */
static void
handshake_end(Conn *conn)
{
	if (conn->handshaking.owner == NULL)
		return;
	lws_dll2_remove(&conn->handshaking);
	if (handshake_done_cb)
		handshake_done_cb();
}

/* conn_release undoes what limits_accept counted. */
static void
conn_release(Conn *conn)
{
	handshake_end(conn);
	shared_conn_close(&conn->counted);
	free(conn);
}

static void
log_refusal(const char *why, const struct in6_addr *addr)
{
	char		text[INET6_ADDRSTRLEN];
	int64_t		now = now_us();

	refusals_unlogged++;
	if (now - refusal_logged_us < REFUSAL_LOG_INTERVAL_US && refusal_logged_us != 0)
		return;
	if (IN6_IS_ADDR_V4MAPPED(addr))
		inet_ntop(AF_INET, &addr->s6_addr[12], text, sizeof(text));
	else
		inet_ntop(AF_INET6, addr, text, sizeof(text));
	log_warn("connection from %s refused: %s (%llu refused since the last such line)",
			 text, why, (unsigned long long) refusals_unlogged);
	refusals_unlogged = 0;
	refusal_logged_us = now;
}

int
limits_accept(int fd)
{
	struct sockaddr_storage ss;
	socklen_t	sslen = sizeof(ss);
	struct in6_addr addr;
	Conn	   *conn;
	bool		via_proxy;

	/* The previous accept never reached limits_attach: lws gave up on it. */
	if (pending)
	{
		conn_release(pending);
		pending = NULL;
	}
	if (getpeername(fd, (struct sockaddr *) &ss, &sslen) != 0 ||
		!acl_normalize((struct sockaddr *) &ss, &addr))
		memset(&addr, 0, sizeof(addr));	/* unix socket or gone: counted as one "address" */

	/* A balancer's connections are limited per client once its header names the client. */
	via_proxy = proxies_acl.n > 0 && acl_match(&proxies_acl, (struct sockaddr *) &ss);
	if ((conn = calloc(1, sizeof(Conn))) == NULL)
		return 1;
	switch (shared_conn_open(&addr, pushd.cfg.max_connections,
							 via_proxy ? 0 : pushd.cfg.max_connections_per_ip))
	{
		case SHARED_OK:
			break;
		case SHARED_OVER_TOTAL:
			limit_counters.refused_total++;
			log_refusal("--max-connections reached", &addr);
			free(conn);
			return 1;
		case SHARED_OVER_ADDRESS:
			limit_counters.refused_per_ip++;
			log_refusal("--max-connections-per-ip reached", &addr);
			free(conn);
			return 1;
		case SHARED_TABLE_FULL:
			limit_counters.refused_per_ip++;
			log_refusal("too many distinct addresses at once", &addr);
			free(conn);
			return 1;
	}
	conn->counted = addr;
	conn->via_proxy = via_proxy;
	conn->tokens = pushd.cfg.client_messages_per_second;
	conn->refilled_us = now_us();
	limit_counters.accepted++;
	pending = conn;
	pending_fd = fd;
	return 0;
}

static void
handshakes_due(lws_sorted_usec_list_t *sul)
{
	int64_t		now = now_us();

	(void) sul;
	while (handshakes.head != NULL)
	{
		Conn	   *conn = lws_container_of(handshakes.head, Conn, handshaking);

		if (conn->deadline_us > now)
		{
			lws_sul_schedule(pushd.context, 0, &handshake_timer, handshakes_due,
							 (lws_usec_t) (conn->deadline_us - now));
			return;
		}
		handshake_end(conn);
		limit_counters.handshake_timeouts++;
		log_debug("connection fd %d: no upgrade or HTTP exchange finished within %d s, closing",
				  (int) lws_get_socket_fd(conn->wsi), pushd.cfg.handshake_timeout_s);
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

void
limits_attach(struct lws *wsi)
{
	Conn	   *conn = pending;

	if (conn == NULL || lws_get_opaque_user_data(wsi) != NULL)
		return;
	pending = NULL;
	conn->wsi = wsi;
	lws_set_opaque_user_data(wsi, conn);
	conn->deadline_us = now_us() + (int64_t) pushd.cfg.handshake_timeout_s * LWS_US_PER_SEC;
	if (handshakes.head == NULL)
		lws_sul_schedule(pushd.context, 0, &handshake_timer, handshakes_due,
						 (lws_usec_t) pushd.cfg.handshake_timeout_s * LWS_US_PER_SEC);
	lws_dll2_add_tail(&conn->handshaking, &handshakes);
}

void
limits_established(struct lws *wsi)
{
	Conn	   *conn = lws_get_opaque_user_data(wsi);

	if (conn == NULL)
		return;
	conn->established = true;
	handshake_end(conn);
}

void
limits_adopt_done(void)
{
	/* Adoption failed before lws made the connection's first callback. */
	if (pending)
	{
		conn_release(pending);
		pending = NULL;
	}
}

int
limits_handshakes(void)
{
	return (int) handshakes.count;
}

void
limits_on_handshake_done(void (*cb) (void))
{
	handshake_done_cb = cb;
}

void
limits_detach(struct lws *wsi)
{
	Conn	   *conn = lws_get_opaque_user_data(wsi);

	if (conn == NULL)
	{
		/* Adoption failed between the accept filter and limits_attach. */
		if (pending && (lws_get_socket_fd(wsi) == pending_fd || lws_get_socket_fd(wsi) < 0))
		{
			conn_release(pending);
			pending = NULL;
		}
		return;
	}
	lws_set_opaque_user_data(wsi, NULL);
	conn_release(conn);
}

int
limits_open_connections(void)
{
	return shared_worker_connections(shared_worker());
}

/* refill adds what rate (tokens a second) gave since *refilled_us, up to cap. */
static void
refill(double *tokens, int64_t *refilled_us, double rate, double cap)
{
	int64_t		now = now_us();

	*tokens += (double) (now - *refilled_us) * rate / 1e6;
	if (*tokens > cap)
		*tokens = cap;
	*refilled_us = now;
}

bool
limits_client_frame(struct lws *wsi)
{
	Conn	   *conn = lws_get_opaque_user_data(wsi);
	int			rate = pushd.cfg.client_messages_per_second;

	if (conn == NULL || rate == 0)
		return true;
	refill(&conn->tokens, &conn->refilled_us, rate, rate);
	if (conn->tokens >= 1)
	{
		conn->tokens -= 1;
		return true;
	}
	limit_counters.rate_limited++;
	return false;
}

/*
 * last_forwarded: the last address of X-Forwarded-For, the one the trusted proxy added
 * (those before it are whatever the client claimed); false when there is none.
 */
static bool
last_forwarded(struct lws *wsi, struct in6_addr *addr)
{
	char		header[512];
	char	   *last;
	size_t		len;
	struct in_addr v4;

	if (lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_X_FORWARDED_FOR) <= 0)
		return false;
	last = strrchr(header, ',');
	last = last ? last + 1 : header;
	last += strspn(last, " \t");
	len = strcspn(last, " \t");
	last[len] = '\0';
	if (inet_pton(AF_INET6, last, addr) == 1)
		return true;
	if (inet_pton(AF_INET, last, &v4) != 1)
		return false;
	memset(addr, 0, sizeof(*addr));
	addr->s6_addr[10] = addr->s6_addr[11] = 0xff;
	memcpy(&addr->s6_addr[12], &v4, 4);
	return true;
}

int
limits_forwarded(struct lws *wsi)
{
	Conn	   *conn = lws_get_opaque_user_data(wsi);
	struct in6_addr addr;

	if (conn == NULL || !conn->via_proxy || !last_forwarded(wsi, &addr) ||
		(conn->forwarded && memcmp(&conn->counted, &addr, sizeof(addr)) == 0))
		return 0;
	switch (shared_addr_move(&conn->counted, &addr, pushd.cfg.max_connections_per_ip))
	{
		case SHARED_OK:
			break;
		case SHARED_OVER_ADDRESS:
			limit_counters.refused_per_ip++;
			log_refusal("--max-connections-per-ip reached (X-Forwarded-For)", &addr);
			return 1;
		case SHARED_OVER_TOTAL:
		case SHARED_TABLE_FULL:
			return 1;
	}
	conn->counted = addr;
	conn->forwarded = true;
	return 0;
}

void
limits_client_text(struct lws *wsi, char *text, size_t size)
{
	Conn	   *conn = lws_get_opaque_user_data(wsi);
	static const struct in6_addr none;

	text[0] = '\0';
	if (conn == NULL || memcmp(&conn->counted, &none, sizeof(none)) == 0)
		return;
	if (IN6_IS_ADDR_V4MAPPED(&conn->counted))
		inet_ntop(AF_INET, &conn->counted.s6_addr[12], text, size);
	else
		inet_ntop(AF_INET6, &conn->counted, text, size);
}

bool
limits_peer_allowed(struct lws *wsi, const Acl *acl)
{
	struct sockaddr_storage ss;
	socklen_t	sslen = sizeof(ss);
	Conn	   *conn = lws_get_opaque_user_data(wsi);

	if (acl->n == 0)
		return true;
	if (conn && conn->forwarded)
	{
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = conn->counted};

		return acl_match(acl, (struct sockaddr *) &sin6);
	}
	return getpeername(lws_get_socket_fd(wsi), (struct sockaddr *) &ss, &sslen) == 0 &&
		acl_match(acl, (struct sockaddr *) &ss);
}

bool
limits_catchup_allowed(int64_t *wait_us)
{
	/*
	 * The setting is the service's: with --workers each worker's link takes its share, so
	 * that the database sees no more reads than it says whatever the number of workers
	 * (a bucket of at least one read, or a share under one would never fill).
	 */
	double		rate = (double) pushd.cfg.max_catchups_per_second / pushd.cfg.nworkers;
	double		cap = rate > 1 ? rate : 1;

	if (catchup_tokens < 0)
	{
		catchup_tokens = cap;
		catchup_refilled_us = now_us();
	}
	refill(&catchup_tokens, &catchup_refilled_us, rate, cap);
	if (catchup_tokens >= 1)
	{
		catchup_tokens -= 1;
		limit_counters.catchups++;
		return true;
	}
	limit_counters.catchups_delayed++;
	*wait_us = (int64_t) ((1 - catchup_tokens) * 1e6 / rate) + 1;
	return false;
}

static double
connections_open(void)
{
	return limits_open_connections();
}

#define LIMIT(name, labels, help, field) \
	{name, help, METRIC_COUNTER, labels, &limit_counters.field, NULL, NULL}

const MetricDef limits_rows[] = {
	{"pushd_connections", "Open TCP connections (WebSocket, HTTP, handshaking).", METRIC_GAUGE,
	NULL, NULL, connections_open, NULL},
	LIMIT("pushd_connections_accepted_total", NULL, "TCP connections accepted.", accepted),
	LIMIT("pushd_connections_refused_total", "{limit=\"max-connections\"}",
		  "TCP connections closed at once for a connection limit.", refused_total),
	LIMIT("pushd_connections_refused_total", "{limit=\"max-connections-per-ip\"}", NULL,
		  refused_per_ip),
	LIMIT("pushd_handshake_timeouts_total", NULL,
		  "Connections closed for not finishing TLS, the upgrade or an HTTP exchange in time.",
		  handshake_timeouts),
	LIMIT("pushd_client_messages_too_big_total", NULL,
		  "Clients closed with 1009 for a message over --max-client-frame.", messages_too_big),
	LIMIT("pushd_client_rate_limited_total", NULL,
		  "Clients closed with 4029 for sending over --client-messages-per-second.", rate_limited),
	LIMIT("pushd_origins_refused_total", NULL,
		  "WebSocket upgrades answered 403 for an Origin not in --allowed-origins.", origins_refused),
	LIMIT("pushd_catchups_total", NULL, "Reads of the change log started after notifications.",
		  catchups),
	LIMIT("pushd_catchups_delayed_total", NULL,
		  "Times a read of the log waited for --max-catchups-per-second.", catchups_delayed),
};
const int	limits_nrows = sizeof(limits_rows) / sizeof(limits_rows[0]);
