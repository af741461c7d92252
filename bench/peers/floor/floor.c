/*
 * floor.c — the benchmark's yardstick: the least a toggle relay can do.  One thread, one
 * epoll loop; it accepts the WebSocket upgrade, sends a snapshot frame built once at start
 * (with the members of pushd's, so as many bytes), and on every NOTIFY toggles writes one
 * frame, built once, to every client.  Nothing else: no reading of the change log, no
 * per-client queue, no connection rows, no pings.
 *
 *   floor --port P --db CONNINFO
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PG_TAG UINT32_MAX
#define LISTEN_TAG (UINT32_MAX - 1)
#define REQ_MAX 2048

typedef struct Peer
{
	char	   *req;			/* the upgrade request until it is complete, then NULL */
	uint16_t	req_len;
	int			slot;			/* index in open_fds, -1 before the upgrade */
} Peer;

static Peer *peers;				/* by fd */
static int *open_fds;
static int	nopen;
static int	epfd;
static unsigned char *snapshot_frame;
static size_t snapshot_len;
static volatile sig_atomic_t stop;
static unsigned long short_writes;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

/* frame_new wraps text in one unmasked FIN text frame. */
static unsigned char *
frame_new(const char *text, size_t len, size_t *out_len)
{
	unsigned char *f = malloc(len + 10);
	size_t		h = 2;

	f[0] = 0x81;
	if (len < 126)
		f[1] = (unsigned char) len;
	else if (len < 65536)
	{
		f[1] = 126;
		f[2] = (unsigned char) (len >> 8);
		f[3] = (unsigned char) len;
		h = 4;
	}
	else
	{
		f[1] = 127;
		for (int k = 0; k < 8; k++)
			f[2 + k] = (unsigned char) ((uint64_t) len >> (56 - 8 * k));
		h = 10;
	}
	memcpy(f + h, text, len);
	*out_len = h + len;
	return f;
}

static void
peer_close(int fd)
{
	Peer	   *p = &peers[fd];

	if (p->slot >= 0)
	{
		int			last = open_fds[--nopen];

		open_fds[p->slot] = last;
		peers[last].slot = p->slot;
	}
	free(p->req);
	p->req = NULL;
	p->req_len = 0;
	p->slot = -1;
	close(fd);
}

/* upgrade answers a complete request with 101 and the snapshot frame. */
static void
upgrade(int fd)
{
	Peer	   *p = &peers[fd];
	const char *key = strcasestr(p->req, "\r\nSec-WebSocket-Key:");
	char		src[128], resp[256];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char		accept_b64[64];
	size_t		klen;
	int			n;

	if (key == NULL)
	{
		peer_close(fd);
		return;
	}
	key += 20;
	while (*key == ' ')
		key++;
	klen = strcspn(key, "\r");
	if (klen > 64)
	{
		peer_close(fd);
		return;
	}
	memcpy(src, key, klen);
	memcpy(src + klen, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
	EVP_Digest(src, klen + 36, md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *) accept_b64, md, (int) mdlen);
	n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept_b64);
	free(p->req);
	p->req = NULL;
	if (write(fd, resp, (size_t) n) != n ||
		write(fd, snapshot_frame, snapshot_len) != (ssize_t) snapshot_len)
	{
		peer_close(fd);
		return;
	}
	p->slot = nopen;
	open_fds[nopen++] = fd;
}

static void
peer_readable(int fd)
{
	Peer	   *p = &peers[fd];
	char		buf[4096];
	ssize_t		n;

	if (p->slot >= 0)
	{
		/* Clients' frames are read and dropped; EOF closes. */
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN))
			peer_close(fd);
		return;
	}
	if (p->req == NULL)
		p->req = malloc(REQ_MAX + 1);
	n = read(fd, p->req + p->req_len, REQ_MAX - p->req_len);
	if (n <= 0)
	{
		if (n == 0 || errno != EAGAIN)
			peer_close(fd);
		return;
	}
	p->req_len += (uint16_t) n;
	p->req[p->req_len] = '\0';
	if (strstr(p->req, "\r\n\r\n") != NULL)
		upgrade(fd);
	else if (p->req_len >= REQ_MAX)
		peer_close(fd);
}

/* broadcast writes one frame, built once, to every open client. */
static void
broadcast(const char *payload)
{
	/* {"v":1,"version":V,...} becomes {"type":"change","v":1,"version":V,...} */
	size_t		plen = strlen(payload);
	char	   *text = malloc(plen + 32);
	size_t		len, flen;
	unsigned char *frame;

	len = (size_t) sprintf(text, "{\"type\":\"change\",%s", payload + 1);
	frame = frame_new(text, len, &flen);
	for (int k = 0; k < nopen; k++)
		if (write(open_fds[k], frame, flen) != (ssize_t) flen)
		{
			/* A part of a frame would corrupt the stream: that client is gone. */
			short_writes++;
			peer_close(open_fds[k--]);
		}
	free(frame);
	free(text);
}

static void
pg_readable(PGconn *pg)
{
	PGnotify   *note;

	if (!PQconsumeInput(pg))
	{
		fprintf(stderr, "floor: database: %s", PQerrorMessage(pg));
		stop = 1;
		return;
	}
	while ((note = PQnotifies(pg)) != NULL)
	{
		broadcast(note->extra);
		PQfreemem(note);
	}
}

/*
 * SNAPSHOT_SQL: the snapshot frame pushd sends, built by the database: every toggle with
 * the members pushd's T has (docs/protocol.md), so that both send as many bytes.
 */
#define SNAPSHOT_SQL \
	"SELECT jsonb_build_object('type', 'snapshot', 'epoch', toggles.snapshot()->'epoch', " \
	"'version', (SELECT coalesce(max(version), 0) FROM toggles.features), " \
	"'toggles', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'active', is_active, " \
	"'variant', NULL, 'reason', 'DEFAULT', 'version', version, 'description', description, " \
	"'updated_at', updated_at) ORDER BY name), '[]') FROM toggles.features))::text"

/* minify drops the whitespace jsonb's text puts outside strings; returns the new length. */
static size_t
minify(char *s)
{
	char	   *out = s;
	bool		in_string = false;

	for (char *p = s; *p; p++)
	{
		if (in_string)
		{
			*out++ = *p;
			if (*p == '\\' && p[1])
				*out++ = *++p;
			else if (*p == '"')
				in_string = false;
		}
		else if (*p == '"')
		{
			in_string = true;
			*out++ = *p;
		}
		else if (*p != ' ' && *p != '\n')
			*out++ = *p;
	}
	*out = '\0';
	return (size_t) (out - s);
}

static bool
load_snapshot(PGconn *pg)
{
	PGresult   *res = PQexec(pg, SNAPSHOT_SQL);
	char	   *text;
	size_t		len;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fprintf(stderr, "floor: snapshot: %s", PQerrorMessage(pg));
		PQclear(res);
		return false;
	}
	text = strdup(PQgetvalue(res, 0, 0));
	len = minify(text);
	snapshot_frame = frame_new(text, len, &snapshot_len);
	fprintf(stderr, "floor: snapshot of %zu bytes\n", len);
	free(text);
	PQclear(res);
	return true;
}

int
main(int argc, char **argv)
{
	int			port = 0;
	const char *db = NULL;
	struct rlimit rl;
	struct sockaddr_in addr;
	int			lfd, one = 1, sndbuf = 2 * 1024 * 1024;
	struct epoll_event ev, events[1024];
	PGconn	   *pg;

	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--db"))
			db = argv[i + 1];
	}
	if (port <= 0 || db == NULL)
	{
		fprintf(stderr, "usage: floor --port P --db CONNINFO\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	peers = calloc(rl.rlim_cur, sizeof(Peer));
	open_fds = calloc(rl.rlim_cur, sizeof(int));
	for (rlim_t k = 0; k < rl.rlim_cur; k++)
		peers[k].slot = -1;

	pg = PQconnectdb(db);
	if (PQstatus(pg) != CONNECTION_OK)
	{
		fprintf(stderr, "floor: database: %s", PQerrorMessage(pg));
		return 1;
	}
	if (!load_snapshot(pg))
		return 1;
	PQclear(PQexec(pg, "LISTEN toggles"));
	PQsetnonblocking(pg, 1);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(lfd, SOMAXCONN) != 0)
	{
		perror("floor: listen");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	epfd = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.u32 = LISTEN_TAG;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.u32 = PG_TAG;
	epoll_ctl(epfd, EPOLL_CTL_ADD, PQsocket(pg), &ev);
	fprintf(stderr, "floor: listening on 127.0.0.1:%d\n", port);

	while (!stop)
	{
		int			n = epoll_wait(epfd, events, 1024, 1000);

		for (int k = 0; k < n; k++)
		{
			uint32_t	tag = events[k].data.u32;

			if (tag == LISTEN_TAG)
			{
				int			fd;

				for (int burst = 0; burst < 256; burst++)
				{
					fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (fd < 0)
						break;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					/* The same send buffer as pushd gives each client (--max-backlog-bytes / 2). */
					setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
					ev.events = EPOLLIN;
					ev.data.u32 = (uint32_t) fd;
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
			}
			else if (tag == PG_TAG)
				pg_readable(pg);
			else
				peer_readable((int) tag);
		}
	}
	fprintf(stderr, "floor: stopping, %d clients, %lu clients closed on a short write\n", nopen, short_writes);
	PQfinish(pg);
	return 0;
}
