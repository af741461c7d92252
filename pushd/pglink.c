/*
 * pglink.c — the database link (see pglink.h).
 *
 * libpq runs non-blocking; its socket joins the lws loop as an adopted raw descriptor.
 * lws closes what it adopts, so it gets a dup().  libpq may switch sockets while
 * connecting (several addresses of one host, SSL fallback), so the adoption follows
 * PQsocket() and the socket's inode.  Each adoption carries a generation number: the close of a superseded one
 * is expected, the close of the current one means the link is gone.
 *
 * Hosts are tried one at a time (db_targets.h), each with its own deadline.  After every
 * (re)connect: LISTEN first, prepare the catch-up, then probe the epoch and the log, then
 * either catch up from the log or load everything afresh (the statements and what their
 * answers mean are its user's: LinkSteps).  Only then is the link "ready".  The catch-up runs after every notification: prepared once per connection, it
 * is not parsed and planned again each time.
 *
 * The link is watched, not trusted (docs/operations.md, "The database link"): one
 * timer gives every query --db-timeout to be answered, and reads the log when nothing has
 * come from the server for --db-probe-interval, so a link that goes silent without
 * closing (a partition, a stopped backend, a hung proxy) is given up within the sum.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_limits.h"
#include "db_targets.h"
#include "log.h"
#include "metrics.h"
#include "pglink.h"
#include "pushd.h"

#define MAX_JOBS 16
/* How often the watch looks at the link: the granularity of its deadlines. */
#define WATCH_TICK_US (200 * LWS_US_PER_MS)
#define CATCHUP_STATEMENT "toggles_pushd_catchup"

typedef enum LinkState
{
	LINK_DOWN,
	LINK_CONNECTING,
	LINK_SETUP,
	LINK_READY
} LinkState;

typedef enum Query
{
	Q_NONE,
	Q_LISTEN,
	Q_PREPARE,
	Q_PROBE,
	Q_LOAD,
	Q_CATCHUP,
	Q_JOB
} Query;

typedef struct Job
{
	char	   *sql;
	int			nparams;
	char	   *params[4];
	JobDone		done;
	void	   *arg;
} Job;

/* What lws keeps per adopted descriptor. */
typedef struct RawSession
{
	unsigned	generation;
} RawSession;

static PGconn *conn;
static LinkState state = LINK_DOWN;
static Query inflight = Q_NONE;
static int	result_index;		/* results seen of the query in flight */
static bool query_failed;
static bool load_wanted;		/* the probe found that only a full load is exact */
static bool refused;			/* the probe found data not to be followed (LINK_REFUSE) */
static struct lws *raw;
static int	raw_sock = -1;
static ino_t raw_ino;			/* the adopted socket's inode: the same number may be reused */
static unsigned generation;
static int	backoff_ms;
static bool ever_ready;
static lws_sorted_usec_list_t reconnect_timer;
static lws_sorted_usec_list_t watch_timer;
static lws_sorted_usec_list_t rearm_timer;
static bool in_writeable;		/* inside the raw descriptor's WRITEABLE callback */
#define MAX_STATE_HOOKS 4
static PglinkStateHook state_hooks[MAX_STATE_HOOKS];
static int	nstate_hooks;
static PglinkFinalHook final_hook;
static const LinkSteps *steps;

static DbTargets targets;		/* the hosts of --db, parsed at each round of attempts */
static int	host_at;			/* the host being tried */
static int64_t attempt_us;		/* when connecting to it began */
static int64_t query_sent_us;	/* when the query in flight was sent */
static int64_t last_answer_us;	/* when the server last sent anything; 0: never */
static lws_sorted_usec_list_t catchup_timer;
static bool catchup_deferred;	/* catchup_timer will start the read */
static lws_sorted_usec_list_t flush_timer;

static bool catchup_wanted;		/* a notification arrived since the last catch-up began */
static int	notes_since_catchup;
static int	notes_in_flight;
static int64_t first_note_us;
static int64_t catchup_note_us;

static Job	jobs[MAX_JOBS];
static int	njobs;

static void connect_host(void);
static void reconnect_due(lws_sorted_usec_list_t *sul);
static void kick(void);
static void start_catchup(void);

bool
pglink_ready(void)
{
	return state == LINK_READY;
}

double
pglink_seconds_since_answer(void)
{
	return last_answer_us ? (now_us() - last_answer_us) / 1e6 : -1;
}

void
pglink_on_state(PglinkStateHook hook)
{
	if (nstate_hooks == MAX_STATE_HOOKS)
		abort();				/* a wiring mistake in main.c */
	state_hooks[nstate_hooks++] = hook;
}

void
pglink_on_shutdown(PglinkFinalHook hook)
{
	final_hook = hook;
}

static void
tell_state(bool ready)
{
	int			i;

	for (i = 0; i < nstate_hooks; i++)
		state_hooks[i] (ready);
}

static double
database_up(void)
{
	return state == LINK_READY;
}

const MetricDef pglink_rows[] = {
	{"pushd_database_up", "1 when the database link is up and the cache current.", METRIC_GAUGE,
	NULL, NULL, database_up, NULL},
	{"pushd_database_last_answer_seconds",
		"Seconds since the database server last sent anything; -1 before the first connection.",
	METRIC_GAUGE, NULL, NULL, pglink_seconds_since_answer, NULL},
};
const int	pglink_nrows = sizeof(pglink_rows) / sizeof(pglink_rows[0]);

static void
forget_raw(void)
{
	if (raw != NULL)
	{
		/* Superseded: its close will carry an old generation and be ignored. */
		lws_set_timeout(raw, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		raw = NULL;
	}
	raw_sock = -1;
}

static void
job_free(Job *job)
{
	int			p;

	free(job->sql);
	for (p = 0; p < job->nparams; p++)
		free(job->params[p]);
}

static void
jobs_clear(void)
{
	int			i;

	for (i = 0; i < njobs; i++)
		job_free(&jobs[i]);
	njobs = 0;
}

/* one_line copies a libpq message with its line breaks folded, for a one-line log entry. */
static void
one_line(char *dst, size_t size, const char *src)
{
	size_t		n = 0;
	bool		space = false;

	for (; *src && n + 1 < size; src++)
	{
		if (*src == '\n' || *src == '\t' || *src == ' ')
		{
			space = n > 0;
			continue;
		}
		if (space && n + 2 < size)
			dst[n++] = ' ';
		space = false;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

static void
log_notice(void *arg, const char *message)
{
	char		line[512];

	(void) arg;
	one_line(line, sizeof(line), message);
	log_info("database: %s", line);
}

/* drop_conn closes the connection and forgets what was in flight on it. */
static void
drop_conn(void)
{
	forget_raw();
	if (conn)
	{
		PQfinish(conn);
		conn = NULL;
	}
	inflight = Q_NONE;
	refused = false;
	lws_sul_cancel(&flush_timer);
	lws_sul_cancel(&rearm_timer);
}

static void
link_lost(const char *why)
{
	int			delay;
	char		reason[512];
	bool		was_ready = state == LINK_READY;

	if (state == LINK_DOWN)
		return;
	one_line(reason, sizeof(reason), why);
	if (was_ready)
		log_warn("database link lost: %s", reason);
	else
		log_warn("could not reach the database: %s", reason);
	drop_conn();
	state = LINK_DOWN;
	jobs_clear();
	if (was_ready)
		tell_state(false);
	if (pushd.shutting_down)
		return;

	/* Exponential backoff with +-25% jitter, so that many nodes do not return in step. */
	backoff_ms = backoff_ms == 0 ? pushd.cfg.reconnect_min_ms : backoff_ms * 2;
	if (backoff_ms > pushd.cfg.reconnect_max_ms)
		backoff_ms = pushd.cfg.reconnect_max_ms;
	delay = backoff_ms * 3 / 4 + (int) (random() % (backoff_ms / 2 + 1));
	log_info("reconnecting to the database in %d ms", delay);
	lws_sul_schedule(pushd.context, 0, &reconnect_timer, reconnect_due,
					 (lws_usec_t) delay * LWS_US_PER_MS);
}

/*
 * attempt_failed moves on to the next host while the link is not ready yet (a host that
 * is down, black-holed, read-only or without the extension); after the last one, or once
 * the link was ready, the link is lost and the next round waits for the backoff.
 */
static void
attempt_failed(const char *why)
{
	char		where[300];
	char		reason[512];

	if (state == LINK_READY || host_at + 1 >= targets.nhosts)
	{
		link_lost(why);
		return;
	}
	db_targets_describe(&targets, host_at, where, sizeof(where));
	one_line(reason, sizeof(reason), why);
	log_warn("database host %s: %s; trying the next host", where, reason);
	drop_conn();
	host_at++;
	connect_host();
}

static void
rearm_due(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	if (raw)
		lws_callback_on_writable(raw);
}

/* watch_socket adopts libpq's current socket if it changed; wants a write if writing. */
static void
watch_socket(bool want_write)
{
	int			sock = PQsocket(conn);
	struct stat st;

	if (sock < 0)
	{
		attempt_failed("libpq has no socket");
		return;
	}
	/*
	 * libpq opens a new socket for the next address of a host, or to retry with(out) SSL,
	 * and it may get the closed one's number: the inode tells them apart.
	 */
	if (fstat(sock, &st) != 0)
	{
		attempt_failed("fstat() of the libpq socket failed");
		return;
	}
	if (sock != raw_sock || st.st_ino != raw_ino || raw == NULL)
	{
		lws_sock_file_fd_type fd;
		int			copy;

		forget_raw();
		copy = dup(sock);
		if (copy < 0)
		{
			attempt_failed("dup() of the libpq socket failed");
			return;
		}
		fd.filefd = copy;
		raw = lws_adopt_descriptor_vhost(pushd.vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
										 PROTOCOL_PGLINK, NULL);
		if (raw == NULL)
		{
			close(copy);
			attempt_failed("could not adopt the libpq socket");
			return;
		}
		((RawSession *) lws_wsi_user(raw))->generation = ++generation;
		raw_sock = sock;
		raw_ino = st.st_ino;
	}
	/*
	 * lws forgets a POLLOUT request made inside the WRITEABLE callback once it returns
	 * (LWS-NOTES.md), and libpq's TCP connect asks for writability twice in a row: ask
	 * again from outside the callback.
	 */
	if (want_write && in_writeable)
		lws_sul_schedule(pushd.context, 0, &rearm_timer, rearm_due, 1);
	else if (want_write)
		lws_callback_on_writable(raw);
}

/*
 * flush_pending sends what libpq still holds of a query.  A query bigger than the socket
 * buffer (register_connections after a connect storm of thousands) stays partly in libpq's
 * buffer; the adopted raw-file wsi was seen never to get its WRITEABLE callback then, which
 * left the backend waiting for the rest and the link stuck for good, so a short timer
 * retries as well until libpq has sent everything.
 */
#define FLUSH_RETRY_US 1000

static void
flush_due(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	if (conn == NULL)
		return;
	if (PQflush(conn) == 1)
	{
		if (raw)
			lws_callback_on_writable(raw);
		lws_sul_schedule(pushd.context, 0, &flush_timer, flush_due, FLUSH_RETRY_US);
	}
}

static void
flush_pending(void)
{
	if (conn != NULL && PQflush(conn) == 1)
	{
		if (raw)
			lws_callback_on_writable(raw);
		lws_sul_schedule(pushd.context, 0, &flush_timer, flush_due, FLUSH_RETRY_US);
	}
}

static bool
send_query(Query q, const char *sql, int nparams, const char *const *params)
{
	int			ok;

	if (q == Q_PREPARE)
		ok = PQsendPrepare(conn, CATCHUP_STATEMENT, sql, 1, NULL);
	else if (q == Q_CATCHUP)
		ok = PQsendQueryPrepared(conn, CATCHUP_STATEMENT, nparams, params, NULL, NULL, 0);
	else if (nparams > 0)
		ok = PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		ok = PQsendQuery(conn, sql);
	if (!ok)
	{
		attempt_failed(PQerrorMessage(conn));
		return false;
	}
	inflight = q;
	query_sent_us = now_us();
	result_index = 0;
	query_failed = false;
	flush_pending();
	return true;
}

/* connect_host starts connecting to host host_at of targets. */
static void
connect_host(void)
{
	const char *keys[DB_TARGETS_MAX_KEYS + 5];
	const char *values[DB_TARGETS_MAX_KEYS + 5];

	db_targets_params(&targets, host_at, keys, values);
	state = LINK_CONNECTING;
	attempt_us = now_us();
	conn = PQconnectStartParams(keys, values, 0);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		attempt_failed(conn ? PQerrorMessage(conn) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(conn, log_notice, NULL);
	watch_socket(true);
}

/* connect_begin starts a round of attempts from the first host. */
static void
connect_begin(void)
{
	host_at = 0;
	connect_host();
}

static void
reconnect_due(lws_sorted_usec_list_t *sul)
{
	DbTargets	fresh;
	char		err[256];

	(void) sul;
	metrics.reconnects += ever_ready ? 1 : 0;
	/* Parsed again each round, so that a reloaded --db-timeout sizes the keepalives. */
	if (db_targets_parse(&fresh, pushd.cfg.db, pushd.cfg.db_timeout_s, err, sizeof(err)))
	{
		db_targets_free(&targets);
		targets = fresh;
	}
	connect_begin();
}

/* connect_deadline_s: how long one host may take to connect and log in. */
static int
connect_deadline_s(void)
{
	return targets.connect_timeout_s > 0 ? targets.connect_timeout_s
		: pushd.cfg.db_connect_timeout_s;
}

/*
 * watch_due is the link's one timer: a host that does not let pushd in, or a query that
 * gets no answer, in time is given up; an idle link is probed with a catch-up, which
 * checks the epoch and the log too.
 */
static void
watch_due(lws_sorted_usec_list_t *sul)
{
	int64_t		now = now_us();
	char		why[128];

	(void) sul;
	if (state == LINK_CONNECTING &&
		now - attempt_us > (int64_t) connect_deadline_s() * LWS_US_PER_SEC)
	{
		snprintf(why, sizeof(why), "not connected and logged in within %d s", connect_deadline_s());
		metrics.db_timeouts++;
		attempt_failed(why);
	}
	else if ((state == LINK_SETUP || state == LINK_READY) && inflight != Q_NONE &&
			 now - (last_answer_us > query_sent_us ? last_answer_us : query_sent_us) >
			 (int64_t) pushd.cfg.db_timeout_s * LWS_US_PER_SEC)
	{
		snprintf(why, sizeof(why), "no answer from the server for %d s", pushd.cfg.db_timeout_s);
		metrics.db_timeouts++;
		attempt_failed(why);
	}
	else if (state == LINK_READY && inflight == Q_NONE &&
			 now - last_answer_us >= (int64_t) pushd.cfg.db_probe_interval_s * LWS_US_PER_SEC)
	{
		metrics.db_probes++;
		start_catchup();
	}
	if (!pushd.shutting_down)
		lws_sul_schedule(pushd.context, 0, &watch_timer, watch_due, WATCH_TICK_US);
}

bool
pglink_start(const LinkSteps *link_steps)
{
	char		err[256];

	if (!db_targets_parse(&targets, pushd.cfg.db, pushd.cfg.db_timeout_s, err, sizeof(err)))
	{
		log_error("%s", err);
		return false;
	}
	steps = link_steps;
	lws_sul_schedule(pushd.context, 0, &watch_timer, watch_due, WATCH_TICK_US);
	connect_begin();
	return true;
}

static void
connect_progress(void)
{
	switch (PQconnectPoll(conn))
	{
		case PGRES_POLLING_OK:
			if (PQsetnonblocking(conn, 1) != 0)
			{
				link_lost("could not make the connection non-blocking");
				return;
			}
			log_info("connected to the database (%s:%s/%s%s)", PQhost(conn), PQport(conn),
					 PQdb(conn), PQsslInUse(conn) ? ", TLS" : "");
			state = LINK_SETUP;
			last_answer_us = now_us();
			watch_socket(false);
			/* LISTEN before reading anything: a change committed meanwhile is not lost. */
			send_query(Q_LISTEN, steps->listen, 0, NULL);
			break;
		case PGRES_POLLING_READING:
			watch_socket(false);
			break;
		case PGRES_POLLING_WRITING:
			watch_socket(true);
			break;
		default:
			attempt_failed(PQerrorMessage(conn));
			break;
	}
}

static void
became_ready(void)
{
	state = LINK_READY;
	backoff_ms = 0;
	lws_sul_cancel(&flush_timer);
	ever_ready = true;
	tell_state(true);
}

static void
start_catchup(void)
{
	char		last[32];
	const char *params[1] = {last};

	snprintf(last, sizeof(last), "%lld", (long long) steps->catchup_after());
	catchup_wanted = false;
	notes_in_flight = notes_since_catchup;
	notes_since_catchup = 0;
	catchup_note_us = first_note_us;
	first_note_us = 0;
	send_query(Q_CATCHUP, steps->catchup_sql(), 1, params);
}

static void
start_load(void)
{
	char	   *sql = steps->load_sql();

	load_wanted = false;
	if (sql == NULL)
	{
		link_lost("out of memory");
		return;
	}
	send_query(Q_LOAD, sql, 0, NULL);
	free(sql);
}

/* handle_result takes one result of the query in flight; it owns res. */
static void
handle_result(PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);
	int			index = result_index++;

	if (status == PGRES_FATAL_ERROR)
	{
		char		line[512];

		one_line(line, sizeof(line), PQresultErrorMessage(res));
		log_error("query failed: %s", line);
		query_failed = true;
		PQclear(res);
		return;
	}
	switch (inflight)
	{
		case Q_PROBE:
			if (status == PGRES_TUPLES_OK && PQntuples(res) == 1)
			{
				LinkPlan	plan = steps->plan(res);

				load_wanted = plan == LINK_LOAD;
				refused = plan == LINK_REFUSE;
			}
			else
				query_failed = true;
			break;
		case Q_LOAD:
			switch (steps->load_result(res, index))
			{
				case LINK_LOAD_FAILED:
					query_failed = true;
					break;
				case LINK_LOAD_USED:
					break;
				case LINK_LOAD_KEPT:
					return;
			}
			break;
		case Q_CATCHUP:
			if (status == PGRES_TUPLES_OK)
			{
				int			versions = steps->catchup_result(res, catchup_note_us);

				if (versions == LINK_CATCHUP_REFUSE)
					refused = true;
				else if (versions == LINK_CATCHUP_RELOAD)
					load_wanted = true;
				else if (notes_in_flight > versions)
					metrics.notifications_ignored += notes_in_flight - versions;
			}
			else
				query_failed = true;
			break;
		case Q_JOB:
			if (njobs > 0 && jobs[0].done)
				jobs[0].done(res, jobs[0].arg);
			break;
		default:
			break;
	}
	PQclear(res);
}

static void
job_finished(void)
{
	job_free(&jobs[0]);
	memmove(&jobs[0], &jobs[1], (njobs - 1) * sizeof(Job));
	njobs--;
}

/* query_finished moves the setup along, or frees the link for the next query. */
static void
query_finished(void)
{
	Query		done = inflight;
	bool		failed = query_failed;

	inflight = Q_NONE;
	if (done == Q_JOB)
		job_finished();
	if (refused)
	{
		refused = false;
		attempt_failed("its timeline is earlier than the one this node follows");
		return;
	}
	if (failed && done != Q_JOB)
	{
		/* e.g. the extension is missing, or a standby: the next host, or the backoff. */
		attempt_failed(state == LINK_READY ? "query failed" : "setup query failed");
		return;
	}
	switch (done)
	{
		case Q_LISTEN:
			send_query(Q_PREPARE, steps->catchup_sql(), 0, NULL);
			return;
		case Q_PREPARE:
			send_query(Q_PROBE, steps->probe_sql(), 0, NULL);
			return;
		case Q_PROBE:
			if (load_wanted)
				start_load();
			else
				start_catchup();	/* catch up (maybe on nothing), then be ready */
			return;
		case Q_LOAD:
			steps->load_done();
			if (state == LINK_SETUP)
				became_ready();
			break;
		case Q_CATCHUP:
			if (load_wanted)
			{
				start_load();
				return;
			}
			if (state == LINK_SETUP)
				became_ready();
			break;
		default:
			break;
	}
	kick();
}

static void
catchup_due(lws_sorted_usec_list_t *sul)
{
	(void) sul;
	catchup_deferred = false;
	kick();
}

/*
 * kick starts the next query when none is in flight: catch-up first, then jobs.  A
 * catch-up over --max-catchups-per-second waits for its turn (the notifications that
 * arrive meanwhile join it), and jobs may run in the gap.
 */
static void
kick(void)
{
	int64_t		wait_us;

	if (state != LINK_READY || inflight != Q_NONE)
		return;
	if (catchup_wanted && !catchup_deferred && limits_catchup_allowed(&wait_us))
		start_catchup();
	else
	{
		if (catchup_wanted && !catchup_deferred)
		{
			catchup_deferred = true;
			lws_sul_schedule(pushd.context, 0, &catchup_timer, catchup_due, (lws_usec_t) wait_us);
		}
		if (njobs > 0)
			send_query(Q_JOB, jobs[0].sql, jobs[0].nparams, (const char *const *) jobs[0].params);
	}
}

static void
read_input(void)
{
	PGnotify   *note;

	if (!PQconsumeInput(conn))
	{
		attempt_failed(PQerrorMessage(conn));
		return;
	}
	last_answer_us = now_us();
	while (conn && inflight != Q_NONE && !PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);

		if (res == NULL)
		{
			query_finished();
			if (conn == NULL)
				return;
			continue;
		}
		handle_result(res);
	}
	if (conn == NULL)
		return;
	while ((note = PQnotifies(conn)) != NULL)
	{
		/* The payload is not read: the log is the truth (DESIGN.md). */
		metrics.notifications++;
		if (notes_since_catchup++ == 0)
			first_note_us = now_us();
		catchup_wanted = true;
		PQfreemem(note);
	}
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		attempt_failed("connection closed");
		return;
	}
	kick();
}

bool
pglink_enqueue(const char *sql, int nparams, const char *const *params, JobDone done, void *arg)
{
	Job		   *job;
	int			p;

	if (state != LINK_READY || njobs == MAX_JOBS || nparams > 4)
		return false;
	job = &jobs[njobs++];
	job->sql = strdup(sql);
	job->nparams = nparams;
	for (p = 0; p < nparams; p++)
		job->params[p] = strdup(params[p]);
	job->done = done;
	job->arg = arg;
	kick();
	return true;
}

int
pglink_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	RawSession *session = user;

	(void) in;
	(void) len;
	switch (reason)
	{
		case LWS_CALLBACK_RAW_RX_FILE:
			if (wsi != raw || conn == NULL)
				break;
			if (state == LINK_CONNECTING)
				connect_progress();
			else
				read_input();
			break;
		case LWS_CALLBACK_RAW_WRITEABLE_FILE:
			if (wsi != raw || conn == NULL)
				break;
			in_writeable = true;
			if (state == LINK_CONNECTING)
				connect_progress();
			else
				flush_pending();
			in_writeable = false;
			break;
		case LWS_CALLBACK_RAW_CLOSE_FILE:
			if (session != NULL && session->generation == generation && wsi == raw)
			{
				raw = NULL;
				raw_sock = -1;
				/*
				 * On libuv, lws closes a descriptor that reports an error before anyone
				 * reads it (a refused connect): libpq says what it was, and a connect still
				 * under way is watched again.
				 */
				if (state == LINK_CONNECTING && conn != NULL)
					connect_progress();
				else
					attempt_failed("socket closed");
			}
			break;
		default:
			break;
	}
	return 0;
}

/*
 * await_results reads every pending result until none is left (true), or until deadline
 * passes or the link fails (false); blocking, for the shutdown only.  The last result,
 * if last is not NULL, is kept there for the caller.
 */
static bool
await_results(int64_t deadline, PGresult **last)
{
	for (;;)
	{
		int			flushing = PQflush(conn);
		struct pollfd pfd;
		int64_t		left = deadline - now_us();

		if (flushing < 0)
			return false;
		if (flushing == 0 && !PQisBusy(conn))
		{
			PGresult   *res = PQgetResult(conn);

			if (res == NULL)
				return true;
			if (last)
			{
				PQclear(*last);
				*last = res;
			}
			else
				PQclear(res);
			continue;
		}
		if (left <= 0)
			return false;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN | (flushing ? POLLOUT : 0);
		if (poll(&pfd, 1, (int) (left / 1000) + 1) < 0 && errno != EINTR)
			return false;
		if (!PQconsumeInput(conn))
			return false;
	}
}

void
pglink_shutdown(void)
{
	lws_sul_cancel(&reconnect_timer);
	lws_sul_cancel(&watch_timer);
	lws_sul_cancel(&rearm_timer);
	lws_sul_cancel(&catchup_timer);
	catchup_deferred = false;
	lws_sul_cancel(&flush_timer);
	if (state == LINK_READY && conn != NULL)
	{
		/* A silent link must not hold the shutdown: --db-timeout for all of it. */
		int64_t		deadline = now_us() + (int64_t) pushd.cfg.db_timeout_s * LWS_US_PER_SEC;
		PglinkFinal final = {0};
		bool		has_final = final_hook && final_hook(&final);
		PGresult   *res = NULL;

		if (!await_results(deadline, NULL))
			log_warn("the database did not answer%s%s", has_final ? "; " : "",
					 has_final ? final.unanswered : "");
		else if (has_final)
		{
			if (!PQsendQueryParams(conn, final.sql, 1, NULL, &final.param, NULL, NULL, 0) ||
				!await_results(deadline, &res))
				log_warn("could not %s: no answer in %d s", final.what, pushd.cfg.db_timeout_s);
			else if (PQresultStatus(res) != PGRES_TUPLES_OK)
				log_warn("could not %s: %s", final.what, PQresultErrorMessage(res));
			PQclear(res);
		}
	}
	state = LINK_DOWN;
	jobs_clear();
	if (conn)
	{
		PQfinish(conn);
		conn = NULL;
	}
	raw = NULL;
	db_targets_free(&targets);
}
