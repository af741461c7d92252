/*
 * loadgen.c — the benchmark's WebSocket load generator: holds up to ~19,000 client
 * connections from one process (epoll, one thread), timestamps every message it receives,
 * and flips toggles from a second thread that records when each COMMIT returned, both on
 * CLOCK_MONOTONIC.  More clients than one process may hold: `fanout --procs N` forks N
 * processes that each hold a share (procs.c).
 *
 *   loadgen --port P --db CONNINFO [--pid PID] [--label NAME] SCENARIO [OPTIONS]
 *
 * Scenarios (see bench/README.md): latency, fanout, storm, throughput, connrate.  Results
 * go to stdout as CSV lines "label,scenario,clients,metric,value"; progress to stderr.
 *
 * Client sockets are bound to 127.0.0.2-127.0.0.9 before connecting (with
 * IP_BIND_ADDRESS_NO_PORT, so the port is picked per destination) to stay clear of the
 * ephemeral port range.  Frames are parsed as a stream: a client keeps only the first
 * bytes of each message (enough for "type" and "version"), never the whole message.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "loadgen.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define PREFIX_LEN 128			/* bytes of each message kept: type, version */
#define SOURCE_ADDRS 8			/* 127.0.0.2 .. 127.0.0.9 */
#define MAX_SAMPLES (8u << 20)	/* (version, receipt) pairs kept for percentiles */
#define EFD_TAG UINT32_MAX

enum
{
	C_FREE, C_CONNECTING, C_HANDSHAKE, C_OPEN
};

typedef struct Conn
{
	int			fd;
	uint8_t		state;
	uint8_t		ready;			/* has had its snapshot */
	uint8_t		in_payload;
	uint8_t		hs_match;		/* bytes of "\r\n\r\n" matched */
	uint8_t		hdr_have;
	uint8_t		hdr_need;
	uint8_t		msg_opcode;
	uint8_t		attempts;
	uint16_t	hs_count;
	uint16_t	prefix_have;
	uint8_t		hdr[14];
	uint64_t	payload_left;
	char		prefix[PREFIX_LEN + 1];
} Conn;

typedef struct Sample
{
	int64_t		version;
	int64_t		t;
} Sample;

typedef struct Flip
{
	int64_t		version;
	int64_t		t_commit;
} Flip;

/* Options */
static const char *opt_host = "127.0.0.1";
static int	opt_port;
static const char *opt_path = "/v1/stream";
static const char *opt_db;
static const char *opt_label = "server";
int			opt_pid;
static const char *opt_toggle = "bench-000";
static const char *opt_token;	/* sent as Authorization: Bearer when given */

/* Clients */
static Conn *conns;
int			nconns_max;
static int	nstarted;			/* conns[0..nstarted) have been used */
int			nready;			/* open and had a snapshot */
static int	ninflight;			/* connecting or waiting for the snapshot */
int			nfailed;		/* connection attempts that failed */
int			nlost;			/* ready clients the server closed */
int			nprotocol_errors;	/* frames that made no sense (clients dropped) */
int64_t		last_ready_t;
static int	epfd;
static int	main_efd;			/* the flipper wakes the loop */
static int	flip_efd;			/* the loop wakes the flipper */
static struct sockaddr_in server_addr;
static char handshake[512];
static size_t handshake_len;

/* Receipts */
VStat	   *vring;
static Sample *samples;
static size_t nsamples;
int			sample_every = 1;
uint64_t	received_changes;

/* Flipper */
PGconn	   *pg;
static Flip *flips;
static int	flip_count;
static double flip_rate;
static bool flip_wait;
static atomic_int flips_done;
static atomic_bool flipper_finished;
static atomic_llong awaited_version;
static int	flip_errors;

int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

void
emit(const char *scenario, int clients, const char *metric, double value)
{
	printf("%s,%s,%d,%s,%.6g\n", opt_label, scenario, clients, metric, value);
	fflush(stdout);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a, y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* percentile of a sorted array, nearest rank. */
static int64_t
percentile(const int64_t *v, size_t n, double q)
{
	size_t		rank;

	if (n == 0)
		return 0;
	rank = (size_t) ceil(q * (double) n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* emit_stats sorts v (nanoseconds) and emits NAME_p50_ms, _p99_ms and _max_ms. */
void
emit_stats(const char *scenario, int clients, const char *name, int64_t *v, size_t n)
{
	char		metric[128];

	qsort(v, n, sizeof(int64_t), cmp_i64);
	snprintf(metric, sizeof(metric), "%s_p50_ms", name);
	emit(scenario, clients, metric, percentile(v, n, 0.5) / 1e6);
	snprintf(metric, sizeof(metric), "%s_p99_ms", name);
	emit(scenario, clients, metric, percentile(v, n, 0.99) / 1e6);
	snprintf(metric, sizeof(metric), "%s_max_ms", name);
	emit(scenario, clients, metric, n ? v[n - 1] / 1e6 : 0);
	snprintf(metric, sizeof(metric), "%s_samples", name);
	emit(scenario, clients, metric, (double) n);
}

/* ---- Clients ---- */

static void
conn_reset_frame(Conn *c)
{
	c->in_payload = 0;
	c->hdr_have = 0;
	c->hdr_need = 2;
	c->prefix_have = 0;
}

static void start_connect(int i);

/* conn_drop closes a client; one that never got its snapshot is tried again. */
static void
conn_drop(int i, bool retry)
{
	Conn	   *c = &conns[i];

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->ready)
	{
		nready--;
		nlost++;
	}
	else if (c->state != C_FREE)
	{
		ninflight--;
		nfailed++;
	}
	c->state = C_FREE;
	c->ready = 0;
	if (retry && c->attempts < 5)
		start_connect(i);
}

static void
start_connect(int i)
{
	Conn	   *c = &conns[i];
	struct sockaddr_in src;
	int			one = 1;
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct epoll_event ev;

	c->attempts++;
	if (fd < 0)
	{
		perror("loadgen: socket");
		nfailed++;
		return;
	}
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000002 + (uint32_t) (i % SOURCE_ADDRS));
	if (bind(fd, (struct sockaddr *) &src, sizeof(src)) != 0 ||
		(connect(fd, (struct sockaddr *) &server_addr, sizeof(server_addr)) != 0 &&
		 errno != EINPROGRESS))
	{
		close(fd);
		nfailed++;
		return;
	}
	c->fd = fd;
	c->state = C_CONNECTING;
	c->ready = 0;
	c->hs_match = 0;
	c->hs_count = 0;
	conn_reset_frame(c);
	ninflight++;
	ev.events = EPOLLOUT;
	ev.data.u32 = (uint32_t) i;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void
record_change(int i, int64_t version, int64_t t)
{
	VStat	   *s = &vring[version & (VRING - 1)];

	if (s->version != version)
	{
		s->version = version;
		s->count = 0;
		s->max_t = 0;
	}
	s->count++;
	if (t > s->max_t)
		s->max_t = t;
	received_changes++;
	if (i % sample_every == 0 && nsamples < MAX_SAMPLES)
	{
		samples[nsamples].version = version;
		samples[nsamples].t = t;
		nsamples++;
	}
}

static int64_t
parse_version(const char *s)
{
	const char *p = strstr(s, "\"version\":");

	if (p == NULL)
		return -1;
	p += 10;
	while (*p == ' ')
		p++;
	return strtoll(p, NULL, 10);
}

static void
on_message(int i, int64_t t)
{
	Conn	   *c = &conns[i];

	c->prefix[c->prefix_have] = '\0';
	if (c->msg_opcode == 1)
	{
		if (strstr(c->prefix, "\"snapshot\"") != NULL)
		{
			if (!c->ready)
			{
				c->ready = 1;
				nready++;
				ninflight--;
				last_ready_t = t;
			}
		}
		else if (strstr(c->prefix, "\"change\"") != NULL)
		{
			int64_t		v = parse_version(c->prefix);

			if (v >= 0)
				record_change(i, v, t);
		}
	}
	else if (c->msg_opcode == 9)
	{
		/* A ping: answer with a masked pong carrying the same payload. */
		uint8_t		frame[2 + 4 + 125];
		size_t		n = c->prefix_have > 125 ? 125 : c->prefix_have;

		frame[0] = 0x8a;
		frame[1] = 0x80 | (uint8_t) n;
		memset(frame + 2, 0, 4);	/* mask key 0: payload unchanged */
		memcpy(frame + 6, c->prefix, n);
		if (write(c->fd, frame, 6 + n) < 0)
			conn_drop(i, false);
	}
	else if (c->msg_opcode == 8)
		conn_drop(i, false);
}

/* conn_feed runs the HTTP response and the frames of one read through the parser. */
static void
conn_feed(int i, const uint8_t *p, size_t n, int64_t t)
{
	Conn	   *c = &conns[i];

	while (n > 0 && c->state != C_FREE)
	{
		if (c->state == C_HANDSHAKE)
		{
			uint8_t		b = *p++;

			n--;
			if (c->hs_count < 12)
				c->prefix[c->hs_count] = (char) b;
			if (++c->hs_count == 12 && memcmp(c->prefix, "HTTP/1.1 101", 12) != 0)
			{
				conn_drop(i, false);
				return;
			}
			if (b == "\r\n\r\n"[c->hs_match])
				c->hs_match++;
			else
				c->hs_match = b == '\r';
			if (c->hs_match == 4)
			{
				c->state = C_OPEN;
				conn_reset_frame(c);
			}
			continue;
		}
		if (!c->in_payload)
		{
			c->hdr[c->hdr_have++] = *p++;
			n--;
			if (c->hdr_have == 2)
			{
				uint8_t		len7 = c->hdr[1] & 0x7f;

				c->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
					((c->hdr[1] & 0x80) ? 4 : 0);
			}
			if (c->hdr_have >= 2 && c->hdr_have == c->hdr_need)
			{
				uint8_t		len7 = c->hdr[1] & 0x7f;
				uint8_t		opcode = c->hdr[0] & 0x0f;
				uint64_t	len = len7;

				if (len7 == 126)
					len = ((uint64_t) c->hdr[2] << 8) | c->hdr[3];
				else if (len7 == 127)
				{
					len = 0;
					for (int k = 0; k < 8; k++)
						len = (len << 8) | c->hdr[2 + k];
				}
				if (opcode != 0)
				{
					c->msg_opcode = opcode;
					c->prefix_have = 0;
				}
				if (len > (64u << 20) || (opcode >= 8 && len > 125))
				{
					/* Not a frame any server here sends: the stream is out of step. */
					nprotocol_errors++;
					conn_drop(i, false);
					return;
				}
				c->payload_left = len;
				c->in_payload = 1;
			}
			else
				continue;
		}
		else
		{
			size_t		take = n < c->payload_left ? n : (size_t) c->payload_left;

			if (c->prefix_have < PREFIX_LEN)
			{
				size_t		keep = PREFIX_LEN - c->prefix_have;

				if (keep > take)
					keep = take;
				memcpy(c->prefix + c->prefix_have, p, keep);
				c->prefix_have += keep;
			}
			p += take;
			n -= take;
			c->payload_left -= take;
		}
		if (c->in_payload && c->payload_left == 0)
		{
			bool		fin = (c->hdr[0] & 0x80) != 0;

			if (fin)
				on_message(i, t);
			if (c->state == C_FREE)
				return;
			c->in_payload = 0;
			c->hdr_have = 0;
			c->hdr_need = 2;
			if (fin)
				c->prefix_have = 0;
		}
	}
}

static void
conn_event(int i, uint32_t events)
{
	static uint8_t buf[256 * 1024];
	Conn	   *c = &conns[i];

	if (c->state == C_CONNECTING)
	{
		int			err = 0;
		socklen_t	len = sizeof(err);
		struct epoll_event ev;

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP)))
		{
			conn_drop(i, true);
			return;
		}
		if (write(c->fd, handshake, handshake_len) != (ssize_t) handshake_len)
		{
			conn_drop(i, true);
			return;
		}
		c->state = C_HANDSHAKE;
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t) i;
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (int rounds = 0; rounds < 4 && c->state != C_FREE; rounds++)
	{
		ssize_t		n = read(c->fd, buf, sizeof(buf));
		int64_t		t = now_ns();

		if (n > 0)
		{
			conn_feed(i, buf, (size_t) n, t);
			if ((size_t) n < sizeof(buf))
				break;
		}
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		else
		{
			conn_drop(i, !c->ready);
			break;
		}
	}
}

static void check_awaited(void);

/* What pump does after each round: wakes the flipper, or in a child of --procs, reports. */
void		(*after_pump) (void) = check_awaited;

/* pump waits up to timeout_ms for events and handles them. */
void
pump(int timeout_ms)
{
	static struct epoll_event events[4096];
	int			n = epoll_wait(epfd, events, 4096, timeout_ms);

	for (int k = 0; k < n; k++)
	{
		if (events[k].data.u32 == EFD_TAG)
		{
			uint64_t	x;

			if (read(main_efd, &x, sizeof(x)) < 0)
				continue;
			continue;
		}
		conn_event((int) events[k].data.u32, events[k].events);
	}
	after_pump();
}

/*
 * loop_open makes the epoll set and the flipper's two eventfds.  A child of --procs calls
 * it again after fork: an epoll set is shared with the parent across fork, and every
 * process needs its own.
 */
void
loop_open(void)
{
	struct epoll_event ev;

	if (epfd > 0)
	{
		close(epfd);
		close(main_efd);
		close(flip_efd);
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	main_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	flip_efd = eventfd(0, EFD_CLOEXEC);
	if (epfd < 0 || main_efd < 0 || flip_efd < 0)
		die("epoll/eventfd: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.u32 = EFD_TAG;
	epoll_ctl(epfd, EPOLL_CTL_ADD, main_efd, &ev);
}

/*
 * connect_clients opens clients until `target` have their snapshot, with at most
 * `concurrency` handshakes in flight; returns the seconds it took, or -1 on a timeout.
 */
double
connect_clients(int target, int concurrency, double timeout_s)
{
	int64_t		t0 = now_ns();
	int64_t		deadline = t0 + (int64_t) (timeout_s * 1e9);

	if (target > nconns_max)
		target = nconns_max;
	while (nready < target)
	{
		while (nstarted < target && ninflight < concurrency)
			start_connect(nstarted++);
		/* Retry free slots (failed for good are skipped: attempts >= 5). */
		if (nstarted >= target && ninflight == 0 && nready < target)
		{
			int			restarted = 0;

			for (int i = 0; i < nstarted && ninflight < concurrency; i++)
				if (conns[i].state == C_FREE && conns[i].attempts < 5)
				{
					start_connect(i);
					restarted++;
				}
			if (restarted == 0)
				break;
		}
		pump(10);
		if (now_ns() > deadline)
		{
			fprintf(stderr, "loadgen: %s: connect timeout, %d of %d ready\n", opt_label, nready, target);
			return -1;
		}
	}
	if (nready < target)
		return -1;
	return (last_ready_t - t0) / 1e9;
}

void
pump_for(double seconds)
{
	int64_t		end = now_ns() + (int64_t) (seconds * 1e9);

	while (now_ns() < end)
		pump(10);
}

/* ---- Flipper ---- */

const char *
flip_sql(void)
{
	static char sql[256];

	snprintf(sql, sizeof(sql),
			 "UPDATE toggles.features SET is_active = NOT is_active WHERE name = '%s' RETURNING version",
			 opt_toggle);
	return sql;
}

static void
check_awaited(void)
{
	long long	v = atomic_load(&awaited_version);

	if (v > 0)
	{
		VStat	   *s = &vring[v & (VRING - 1)];

		if (s->version == v && s->count >= (uint32_t) nready)
		{
			uint64_t	one = 1;

			atomic_store(&awaited_version, 0);
			if (write(flip_efd, &one, sizeof(one)) < 0)
				perror("loadgen: eventfd");
		}
	}
}

static void *
flipper_main(void *arg)
{
	const char *sql = flip_sql();
	int64_t		t0 = now_ns();

	(void) arg;
	for (int i = 0; i < flip_count; i++)
	{
		PGresult   *res;
		int64_t		t;

		if (flip_rate > 0)
		{
			int64_t		at = t0 + (int64_t) (i * 1e9 / flip_rate);
			struct timespec ts = {at / 1000000000, at % 1000000000};

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		res = PQexec(pg, sql);
		t = now_ns();
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			fprintf(stderr, "loadgen: flip failed: %s", PQerrorMessage(pg));
			flip_errors++;
			PQclear(res);
			flips[i].version = -1;
			continue;
		}
		flips[i].version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		flips[i].t_commit = t;
		PQclear(res);
		atomic_store(&flips_done, i + 1);
		if (flip_wait)
		{
			uint64_t	one = 1, x;
			struct pollfd pfd = {flip_efd, POLLIN, 0};

			atomic_store(&awaited_version, flips[i].version);
			if (write(main_efd, &one, sizeof(one)) < 0)
				perror("loadgen: eventfd");
			if (poll(&pfd, 1, 10000) <= 0)
			{
				fprintf(stderr, "loadgen: flip %lld not delivered to all within 10 s\n",
						(long long) flips[i].version);
				atomic_store(&awaited_version, 0);
			}
			else if (read(flip_efd, &x, sizeof(x)) < 0)
				perror("loadgen: eventfd");
			/* A pause, so one flip's tail does not overlap the next. */
			{
				struct timespec gap = {0, 20 * 1000000};

				nanosleep(&gap, NULL);
			}
		}
	}
	atomic_store(&flipper_finished, true);
	{
		uint64_t	one = 1;

		if (write(main_efd, &one, sizeof(one)) < 0)
			perror("loadgen: eventfd");
	}
	return NULL;
}

/* run_flips flips count times (at rate/s, or each after full delivery) and pumps meanwhile. */
static void
run_flips(int count, double rate, bool wait_delivery)
{
	pthread_t	th;
	int64_t		last_v;
	int64_t		drain_end;

	free(flips);
	flips = calloc((size_t) count, sizeof(Flip));
	flip_count = count;
	flip_rate = rate;
	flip_wait = wait_delivery;
	flip_errors = 0;
	atomic_store(&flips_done, 0);
	atomic_store(&flipper_finished, false);
	atomic_store(&awaited_version, 0);
	pthread_create(&th, NULL, flipper_main, NULL);
	while (!atomic_load(&flipper_finished))
		pump(10);
	pthread_join(th, NULL);
	/* Drain: until every client has the last version, or 3 s. */
	last_v = count > 0 ? flips[count - 1].version : -1;
	drain_end = now_ns() + 3000000000LL;
	while (last_v > 0 && now_ns() < drain_end)
	{
		VStat	   *s = &vring[last_v & (VRING - 1)];

		if (s->version == last_v && s->count >= (uint32_t) nready)
			break;
		pump(5);
	}
}

static int
cmp_flip(const void *a, const void *b)
{
	const Flip *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static const Flip *
find_flip(int64_t version)
{
	Flip		key = {version, 0};

	return bsearch(&key, flips, (size_t) flip_count, sizeof(Flip), cmp_flip);
}

/* latencies turns the samples into receipt - commit (ns); returns how many. */
static size_t
latencies(int64_t *out)
{
	size_t		n = 0;

	qsort(flips, (size_t) flip_count, sizeof(Flip), cmp_flip);
	for (size_t k = 0; k < nsamples; k++)
	{
		const Flip *f = find_flip(samples[k].version);

		if (f != NULL)
			out[n++] = samples[k].t - f->t_commit;
	}
	return n;
}

void
reset_receipts(void)
{
	memset(vring, 0, sizeof(VStat) * VRING);
	nsamples = 0;
	received_changes = 0;
}

static long long
pg_count(const char *sql)
{
	PGresult   *res = PQexec(pg, sql);
	long long	v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		fprintf(stderr, "loadgen: %s: %s", sql, PQerrorMessage(pg));
	PQclear(res);
	return v;
}

#define STATEMENTS_SQL \
	"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements " \
	"WHERE query NOT ILIKE '%pg_stat_statements%'"

static void
print_statements(void)
{
	PGresult   *res = PQexec(pg, "SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
							 "FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' "
							 "ORDER BY calls DESC LIMIT 6");

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		for (int r = 0; r < PQntuples(res); r++)
			fprintf(stderr, "loadgen: %s:   %6s x %s\n", opt_label, PQgetvalue(res, r, 0),
					PQgetvalue(res, r, 1));
	PQclear(res);
}

/* ---- Scenarios ---- */

static void
scenario_latency(int clients, int count, double rate)
{
	int64_t		cpu0, cpu1;
	int64_t    *lat;
	size_t		n;

	if (connect_clients(clients, 500, 120) < 0)
		return;
	pump_for(0.5);
	reset_receipts();
	sample_every = 1;
	cpu0 = server_cpu_ns();
	run_flips(count, rate, false);
	cpu1 = server_cpu_ns();
	lat = malloc(sizeof(int64_t) * (nsamples + 1));
	n = latencies(lat);
	emit_stats("latency", clients, "latency", lat, n);
	emit("latency", clients, "missing", (double) ((size_t) clients * (size_t) (count - flip_errors)) - (double) n);
	emit("latency", clients, "rss_kib", (double) server_rss_kib());
	if (cpu0 >= 0 && received_changes > 0)
		emit("latency", clients, "cpu_us_per_msg", (cpu1 - cpu0) / 1e3 / (double) received_changes);
	free(lat);
}

/* emit_idle reports the server's memory after the clients were held idle, and how many it closed. */
void
emit_idle(int n, long rss0, double idle_s, int lost)
{
	long		rss = server_rss_kib();

	emit("idle", n, "seconds", idle_s);
	emit("idle", n, "rss_kib", (double) rss);
	if (rss0 > 0)
		emit("idle", n, "bytes_per_conn", (double) (rss - rss0) * 1024.0 / n);
	emit("idle", n, "lost", lost);
}

static void
scenario_fanout(int *steps, int nsteps, int repeat, int concurrency, double idle_s)
{
	long		rss0 = server_rss_kib();

	emit("memory", 0, "rss_kib", (double) rss0);
	for (int s = 0; s < nsteps; s++)
	{
		int			n = steps[s];
		double		secs = connect_clients(n, concurrency, 180);
		int64_t		cpu0, cpu1, own0, own1;
		int64_t    *fan;
		int			nf = 0;
		double		missing = 0;

		if (secs < 0)
		{
			emit("fanout", n, "connect_failed", nready);
			return;
		}
		emit("fanout", n, "connect_s", secs);
		pump_for(1.0);
		emit_server_memory(n, rss0);
		if (idle_s > 0)
		{
			int			lost_before = nlost;

			/* Held idle, the clients still answer pings: none should be closed. */
			pump_for(idle_s);
			emit_idle(n, rss0, idle_s, nlost - lost_before);
		}
		reset_receipts();
		sample_every = 1 << 30;
		cpu0 = server_cpu_ns();
		own0 = process_cpu_ns(getpid());
		run_flips(repeat, 0, true);
		cpu1 = server_cpu_ns();
		own1 = process_cpu_ns(getpid());
		fan = malloc(sizeof(int64_t) * (size_t) repeat);
		for (int k = 0; k < repeat; k++)
		{
			VStat	   *v = &vring[flips[k].version & (VRING - 1)];

			if (flips[k].version > 0 && v->version == flips[k].version && v->count >= (uint32_t) nready)
				fan[nf++] = v->max_t - flips[k].t_commit;
			if (flips[k].version > 0)
			{
				uint32_t	got = v->version == flips[k].version ? v->count : 0;

				if (got < (uint32_t) nready)
					missing += nready - got;
			}
		}
		emit_stats("fanout", n, "fanout", fan, (size_t) nf);
		emit("fanout", n, "missing", missing);
		if (cpu0 >= 0 && received_changes > 0)
			emit("fanout", n, "cpu_us_per_msg", (cpu1 - cpu0) / 1e3 / (double) received_changes);
		if (received_changes > 0)
			emit("fanout", n, "loadgen_cpu_us_per_msg", (own1 - own0) / 1e3 / (double) received_changes);
		emit("fanout", n, "lost", nlost);
		free(fan);
	}
}

/* scenario_storm: clients connect at once, at most concurrency of them in flight. */
static void
scenario_storm(int clients, int concurrency)
{
	double		secs;
	long long	statements;

	PQclear(PQexec(pg, "SELECT pg_stat_statements_reset()"));
	secs = connect_clients(clients, concurrency, 120);
	emit("storm", clients, "storm_s", secs);
	emit("storm", clients, "retried_connects", nfailed);
	/* Connection rows are written after the fact, in batches: wait until the count settles. */
	pump_for(1.5);
	statements = pg_count(STATEMENTS_SQL);
	for (int k = 0; k < 10; k++)
	{
		long long	again;

		pump_for(0.5);
		again = pg_count(STATEMENTS_SQL);
		if (again == statements && (again > 0 || k >= 2))
			break;
		statements = again;
	}
	emit("storm", clients, "db_statements", (double) statements);
	print_statements();
	emit("storm", clients, "rss_kib", (double) server_rss_kib());
}

static void
scenario_throughput(int clients, int *rates, int nrates, double duration, int sample)
{
	int			best = 0;

	if (connect_clients(clients, 500, 120) < 0)
		return;
	pump_for(0.5);
	sample_every = sample;
	for (int r = 0; r < nrates; r++)
	{
		int			count = (int) (rates[r] * duration);
		int64_t    *lat;
		size_t		n;
		double		achieved, p99;
		bool		complete;
		VStat	   *last;

		reset_receipts();
		run_flips(count, rates[r], false);
		achieved = count > 1 ? (count - 1) / ((flips[count - 1].t_commit - flips[0].t_commit) / 1e9) : 0;
		last = &vring[flips[count - 1].version & (VRING - 1)];
		complete = last->version == flips[count - 1].version && last->count >= (uint32_t) nready;
		lat = malloc(sizeof(int64_t) * (nsamples + 1));
		n = latencies(lat);
		qsort(lat, n, sizeof(int64_t), cmp_i64);
		p99 = percentile(lat, n, 0.99) / 1e6;
		fprintf(stderr, "loadgen: %s: %d flips/s: achieved %.0f, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %s\n",
				opt_label, rates[r], achieved, percentile(lat, n, 0.5) / 1e6, p99,
				n ? lat[n - 1] / 1e6 : 0, complete ? "all delivered" : "NOT all delivered");
		{
			char		m[64];

			snprintf(m, sizeof(m), "rate_%d_p99_ms", rates[r]);
			emit("throughput", clients, m, p99);
			snprintf(m, sizeof(m), "rate_%d_achieved", rates[r]);
			emit("throughput", clients, m, achieved);
		}
		free(lat);
		if (p99 >= 50 || achieved < 0.95 * rates[r] || !complete || flip_errors)
			break;
		best = rates[r];
	}
	emit("throughput", clients, "max_sustained_rate", best);
}

static void
scenario_connrate(int clients, int concurrency)
{
	double		secs;

	PQclear(PQexec(pg, "SELECT pg_stat_statements_reset()"));
	secs = connect_clients(clients, concurrency, 120);
	emit("connrate", clients, "connect_s", secs);
	if (secs > 0)
		emit("connrate", clients, "connects_per_s", clients / secs);
	pump_for(1.0);
	emit("connrate", clients, "db_statements", (double) pg_count(STATEMENTS_SQL));
	print_statements();
}

static int
parse_list(const char *s, int *out, int max)
{
	int			n = 0;

	while (*s && n < max)
	{
		out[n++] = (int) strtol(s, (char **) &s, 10);
		if (*s == ',')
			s++;
		else if (*s)
			die("bad list: %s", s);
	}
	return n;
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: loadgen --port P --db CONNINFO [--host H] [--path /v1/stream] [--pid PID]\n"
			"               [--label NAME] [--toggle NAME] [--token T] SCENARIO [OPTIONS]\n"
			"  latency    --clients N --flips F --rate R\n"
			"  fanout     --steps 1000,5000 --repeat 20 [--concurrency C] [--idle S] [--procs N]\n"
			"  storm      --clients N [--concurrency C]  (default: all at once)\n"
			"  throughput --clients N --rates 100,200 --duration S --sample K\n"
			"  connrate   --clients N --concurrency C\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *scenario = NULL;
	int			clients = 1, count = 300, repeat = 20, concurrency = 0, sample = 20, procs = 0;
	double		rate = 50, duration = 30, idle = 0;
	int			steps[16], nsteps = 0, rates[16], nrates = 0;
	struct rlimit rl;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-')
		{
			scenario = a;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (!strcmp(a, "--host"))
			opt_host = v;
		else if (!strcmp(a, "--port"))
			opt_port = atoi(v);
		else if (!strcmp(a, "--path"))
			opt_path = v;
		else if (!strcmp(a, "--db"))
			opt_db = v;
		else if (!strcmp(a, "--pid"))
			opt_pid = atoi(v);
		else if (!strcmp(a, "--label"))
			opt_label = v;
		else if (!strcmp(a, "--toggle"))
			opt_toggle = v;
		else if (!strcmp(a, "--token"))
			opt_token = v;
		else if (!strcmp(a, "--clients"))
			clients = atoi(v);
		else if (!strcmp(a, "--flips"))
			count = atoi(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--repeat"))
			repeat = atoi(v);
		else if (!strcmp(a, "--steps"))
			nsteps = parse_list(v, steps, 16);
		else if (!strcmp(a, "--rates"))
			nrates = parse_list(v, rates, 16);
		else if (!strcmp(a, "--duration"))
			duration = atof(v);
		else if (!strcmp(a, "--sample"))
			sample = atoi(v);
		else if (!strcmp(a, "--concurrency"))
			concurrency = atoi(v);
		else if (!strcmp(a, "--procs"))
			procs = atoi(v);
		else if (!strcmp(a, "--idle"))
			idle = atof(v);
		else
			usage();
	}
	if (scenario == NULL || opt_port <= 0 || opt_db == NULL)
		usage();

	/* Each client is a descriptor: take the whole hard limit. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	nconns_max = (int) rl.rlim_cur - 64;
	conns = calloc((size_t) nconns_max, sizeof(Conn));
	vring = calloc(VRING, sizeof(VStat));
	samples = malloc(sizeof(Sample) * MAX_SAMPLES);
	if (conns == NULL || vring == NULL || samples == NULL)
		die("%s", "out of memory");
	for (int i = 0; i < nconns_max; i++)
		conns[i].fd = -1;

	memset(&server_addr, 0, sizeof(server_addr));
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t) opt_port);
	if (inet_pton(AF_INET, opt_host, &server_addr.sin_addr) != 1)
		die("bad --host %s", opt_host);
	handshake_len = (size_t) snprintf(handshake, sizeof(handshake),
									  "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
									  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
									  "Sec-WebSocket-Version: 13\r\nUser-Agent: toggles-loadgen\r\n%s%s%s\r\n",
									  opt_path, opt_host, opt_port, opt_token ? "Authorization: Bearer " : "",
									  opt_token ? opt_token : "", opt_token ? "\r\n" : "");
	if (handshake_len >= sizeof(handshake))
		die("%s", "the handshake does not fit: --token too long");

	pg = PQconnectdb(opt_db);
	if (PQstatus(pg) != CONNECTION_OK)
		die("database: %s", PQerrorMessage(pg));
	loop_open();

	if (!strcmp(scenario, "latency"))
		scenario_latency(clients, count, rate);
	else if (!strcmp(scenario, "fanout"))
	{
		int			most = 0;

		for (int k = 0; k < nsteps; k++)
			most = steps[k] > most ? steps[k] : most;
		/* One process while one can hold them all: the figures of earlier runs compare. */
		if (procs <= 0)
			procs = most <= nconns_max ? 1 : (most + PROC_CLIENTS - 1) / PROC_CLIENTS;
		if (procs == 1)
			scenario_fanout(steps, nsteps, repeat, concurrency > 0 ? concurrency : 1000, idle);
		else
			procs_fanout(procs, steps, nsteps, repeat, concurrency > 0 ? concurrency : 1000, idle);
	}
	else if (!strcmp(scenario, "storm"))
		scenario_storm(clients, concurrency > 0 ? concurrency : clients);
	else if (!strcmp(scenario, "throughput"))
		scenario_throughput(clients, rates, nrates, duration, sample);
	else if (!strcmp(scenario, "connrate"))
		scenario_connrate(clients, concurrency > 0 ? concurrency : 100);
	else
		usage();

	if (nprotocol_errors > 0)
		emit(scenario, clients, "protocol_errors", nprotocol_errors);
	PQfinish(pg);
	return 0;
}
