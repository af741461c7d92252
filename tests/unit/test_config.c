/*
 * test_config.c — cmocka tests of toggles-pushd's settings (pushd/config.c): defaults, the
 * command line, the config file, their precedence, errors, the exit options and reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "acl.h"
#include "config.h"

#define MAX_TEMP_FILES 32

/* Files made by make_file, removed by the group teardown even when a test failed. */
static char temp_files[MAX_TEMP_FILES][64];
static int	num_temp_files;

static char err[512];

/* ARGS builds a NULL-terminated argv with the program name in front. */
#define ARGS(...) ((char *[]) {"toggles-pushd", __VA_ARGS__, NULL})

static int
count_args(char **argv)
{
	int			n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

static ConfigResult
parse(PushdConfig *cfg, char **argv)
{
	return config_parse_args(cfg, count_args(argv), argv, err, sizeof(err));
}

static bool
reload(PushdConfig *cfg, char **argv)
{
	return config_reload(cfg, count_args(argv), argv, err, sizeof(err));
}

/* write_file replaces path's content. */
static void
write_file(const char *path, const char *content)
{
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* make_file creates a temporary file holding content and returns its path. */
static const char *
make_file(const char *content)
{
	char	   *path;
	int			fd;

	assert_true(num_temp_files < MAX_TEMP_FILES);
	path = temp_files[num_temp_files];
	strcpy(path, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	num_temp_files++;
	write_file(path, content);
	return path;
}

static int
remove_temp_files(void **state)
{
	(void) state;
	for (int i = 0; i < num_temp_files; i++)
		unlink(temp_files[i]);
	num_temp_files = 0;
	return 0;
}

/*
 * capture_parse runs config_parse_args with stdout sent to a file and returns what was
 * printed (to free), so the exit options' output can be checked without cluttering the
 * test log.
 */
static char *
capture_parse(char **argv, ConfigResult *result, PushdConfig *cfg)
{
	char		path[] = "/tmp/test_config_out.XXXXXX";
	int			fd;
	int			saved;
	FILE	   *f;
	long		size;
	char	   *text;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);

	*result = parse(cfg, argv);

	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);

	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = malloc(size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, size, f), (size_t) size);
	text[size] = '\0';
	fclose(f);
	unlink(path);
	return text;
}

/* assert_same_config compares every field, strings by content. */
static void
assert_same_config(const PushdConfig *a, const PushdConfig *b)
{
	assert_string_equal(a->db, b->db);
	assert_string_equal(a->listen, b->listen);
	assert_string_equal(a->listen_host, b->listen_host);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_string_equal(a->node, b->node);
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->resume_window, b->resume_window);
	assert_int_equal(a->future_wait_ms, b->future_wait_ms);
	assert_int_equal(a->max_backlog, b->max_backlog);
	assert_int_equal(a->max_backlog_bytes, b->max_backlog_bytes);
	assert_int_equal(a->max_client_frame, b->max_client_frame);
	assert_int_equal(a->ping_interval_s, b->ping_interval_s);
	assert_int_equal(a->pong_timeout_s, b->pong_timeout_s);
	assert_int_equal(a->track_connections, b->track_connections);
	assert_int_equal(a->register_interval_ms, b->register_interval_ms);
	assert_int_equal(a->heartbeat_interval_s, b->heartbeat_interval_s);
	assert_int_equal(a->lease_s, b->lease_s);
	assert_int_equal(a->prune_interval_s, b->prune_interval_s);
	assert_int_equal(a->reconnect_min_ms, b->reconnect_min_ms);
	assert_int_equal(a->reconnect_max_ms, b->reconnect_max_ms);
}

/* expect_error checks that argv is refused with one line containing each of the needles. */
static void
expect_error(char **argv, const char *needle1, const char *needle2)
{
	PushdConfig cfg;

	err[0] = '\0';
	assert_int_equal(parse(&cfg, argv), CONFIG_ERROR);
	assert_null(strchr(err, '\n'));
	if (strstr(err, needle1) == NULL || (needle2 != NULL && strstr(err, needle2) == NULL))
		fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err, needle1,
				 needle2 != NULL ? needle2 : "");
	config_free(&cfg);
}

/* expect_file_error writes content to a file and checks how --config of it is refused. */
static void
expect_file_error(const char *content, int line, const char *needle)
{
	const char *path = make_file(content);
	char		where[96];

	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	expect_error(ARGS("--config", (char *) path), where, needle);
}

static void
test_defaults(void **state)
{
	PushdConfig cfg;

	(void) state;
	config_defaults(&cfg);
	assert_string_equal(cfg.db, "");
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8080);
	assert_string_equal(cfg.node, "");
	assert_string_equal(cfg.config_file, "");
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.resume_window, 1000);
	assert_int_equal(cfg.future_wait_ms, 5000);
	assert_int_equal(cfg.max_backlog, 1024);
	assert_int_equal(cfg.max_backlog_bytes, 4194304);
	assert_int_equal(cfg.max_stall_s, 10);
	assert_int_equal(cfg.max_client_frame, 4096);
	assert_int_equal(cfg.ping_interval_s, 30);
	assert_int_equal(cfg.pong_timeout_s, 10);
	assert_true(cfg.track_connections);
	assert_int_equal(cfg.register_interval_ms, 200);
	assert_int_equal(cfg.heartbeat_interval_s, 15);
	assert_int_equal(cfg.lease_s, 90);
	assert_int_equal(cfg.prune_interval_s, 300);
	assert_int_equal(cfg.reconnect_min_ms, 250);
	assert_int_equal(cfg.reconnect_max_ms, 30000);
	assert_string_equal(cfg.workers, "1");
	assert_int_equal(cfg.nworkers, 1);
	assert_int_equal(cfg.worker_timeout_s, 10);
	config_free(&cfg);
	assert_null(cfg.db);
	config_free(&cfg);			/* twice is harmless */
}

static void
test_no_arguments_give_defaults(void **state)
{
	PushdConfig cfg;
	PushdConfig defaults;
	char	   *argv[] = {"toggles-pushd", NULL};

	(void) state;
	assert_int_equal(config_parse_args(&cfg, 1, argv, err, sizeof(err)), CONFIG_OK);
	config_defaults(&defaults);
	assert_same_config(&cfg, &defaults);
	config_free(&cfg);
	config_free(&defaults);
}

static void
test_every_setting_on_the_command_line(void **state)
{
	PushdConfig cfg;

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--db", "host=/tmp dbname=toggles",
									  "--listen=:9000",
									  "--node", "pushd-1",
									  "--log-level=debug",
									  "--resume-window", "5",
									  "--future-wait=0",
									  "--max-backlog", "1",
									  "--max-backlog-bytes=65536",
									  "--max-client-frame", "1048576",
									  "--ping-interval=2",
									  "--pong-timeout", "3",
									  "--no-track-connections",
									  "--register-interval=10",
									  "--heartbeat-interval", "4",
									  "--lease=3",
									  "--prune-interval", "0",
									  "--reconnect-min=100",
									  "--reconnect-max", "100")),
					 CONFIG_OK);
	assert_string_equal(cfg.db, "host=/tmp dbname=toggles");
	assert_string_equal(cfg.listen, ":9000");
	assert_string_equal(cfg.listen_host, "");
	assert_int_equal(cfg.listen_port, 9000);
	assert_string_equal(cfg.node, "pushd-1");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.resume_window, 5);
	assert_int_equal(cfg.future_wait_ms, 0);
	assert_int_equal(cfg.max_backlog, 1);
	assert_int_equal(cfg.max_backlog_bytes, 65536);
	assert_int_equal(cfg.max_client_frame, 1048576);
	assert_int_equal(cfg.ping_interval_s, 2);
	assert_int_equal(cfg.pong_timeout_s, 3);
	assert_false(cfg.track_connections);
	assert_int_equal(cfg.register_interval_ms, 10);
	assert_int_equal(cfg.heartbeat_interval_s, 4);
	assert_int_equal(cfg.lease_s, 3);
	assert_int_equal(cfg.prune_interval_s, 0);
	assert_int_equal(cfg.reconnect_min_ms, 100);
	assert_int_equal(cfg.reconnect_max_ms, 100);
	assert_string_equal(cfg.config_file, "");
	config_free(&cfg);
}

static void
test_later_flag_wins_and_empty_values(void **state)
{
	PushdConfig cfg;

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--node", "a", "--node=b", "--db", "x", "--db=",
									  "--max-backlog", "2", "--max-backlog=+7")),
					 CONFIG_OK);
	assert_string_equal(cfg.node, "b");
	assert_string_equal(cfg.db, "");
	assert_int_equal(cfg.max_backlog, 7);
	config_free(&cfg);
}

static void
test_bool_forms(void **state)
{
	static const struct
	{
		const char *arg;
		bool		expected;
	}			cases[] = {
		{"--track-connections", true},
		{"--track-connections=true", true},
		{"--track-connections=on", true},
		{"--track-connections=1", true},
		{"--track-connections=yes", true},
		{"--track-connections=TRUE", true},
		{"--track-connections=false", false},
		{"--track-connections=off", false},
		{"--track-connections=0", false},
		{"--track-connections=no", false},
		{"--no-track-connections", false},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		PushdConfig cfg;

		/* Start from the opposite, so that each form is seen to set the value. */
		assert_int_equal(parse(&cfg, ARGS(cases[i].expected ? "--no-track-connections"
										  : "--track-connections",
										  (char *) cases[i].arg)),
						 CONFIG_OK);
		if (cfg.track_connections != cases[i].expected)
			fail_msg("%s gave %d", cases[i].arg, cfg.track_connections);
		config_free(&cfg);
	}
}

static void
test_listen_forms(void **state)
{
	static const struct
	{
		const char *listen;
		const char *host;
		int			port;
	}			cases[] = {
		{"127.0.0.1:8080", "127.0.0.1", 8080},
		{"0.0.0.0:65535", "0.0.0.0", 65535},
		{"localhost:1", "localhost", 1},
		{":80", "", 80},
		{"[::1]:8080", "::1", 8080},
		{"[::]:443", "::", 443},
		{"[fe80::1%eth0]:9", "fe80::1%eth0", 9},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		PushdConfig cfg;

		assert_int_equal(parse(&cfg, ARGS("--listen", (char *) cases[i].listen)), CONFIG_OK);
		assert_string_equal(cfg.listen, cases[i].listen);
		assert_string_equal(cfg.listen_host, cases[i].host);
		assert_int_equal(cfg.listen_port, cases[i].port);
		config_free(&cfg);
	}
}

static void
test_file_parsing(void **state)
{
	PushdConfig cfg;
	const char *path = make_file(
		"# a comment\n"
		"\n"
		"   \t\n"
		"db = 'host=/tmp dbname=toggles'\n"
		"  listen=\"[::1]:7000\"   # trailing comment\n"
		"node = pushd#1\n"
		"log_level = warn\n"
		"resume_window\t=\t77\n"
		"future-wait = 10 # ms\n"
		"max_backlog = 3\r\n"
		"max-backlog-bytes = \"70000\"\n"
		"max_client_frame = 128\n"
		"ping_interval = 5\n"
		"pong_timeout = 6\n"
		"track_connections = off\n"
		"register_interval = 11\n"
		"heartbeat_interval = 7\n"
		"lease = 30\n"
		"prune_interval = 0\n"
		"reconnect_min = 500\n"
		"reconnect_max = 500\n"
		"# the last line has no newline\n"
		"resume-window = 78");

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--config", (char *) path)), CONFIG_OK);
	assert_string_equal(cfg.config_file, path);
	assert_string_equal(cfg.db, "host=/tmp dbname=toggles");
	assert_string_equal(cfg.listen, "[::1]:7000");
	assert_string_equal(cfg.listen_host, "::1");
	assert_int_equal(cfg.listen_port, 7000);
	assert_string_equal(cfg.node, "pushd#1");
	assert_int_equal(cfg.log_level, LOG_WARN);
	assert_int_equal(cfg.resume_window, 78);
	assert_int_equal(cfg.future_wait_ms, 10);
	assert_int_equal(cfg.max_backlog, 3);
	assert_int_equal(cfg.max_backlog_bytes, 70000);
	assert_int_equal(cfg.max_client_frame, 128);
	assert_int_equal(cfg.ping_interval_s, 5);
	assert_int_equal(cfg.pong_timeout_s, 6);
	assert_false(cfg.track_connections);
	assert_int_equal(cfg.register_interval_ms, 11);
	assert_int_equal(cfg.heartbeat_interval_s, 7);
	assert_int_equal(cfg.lease_s, 30);
	assert_int_equal(cfg.prune_interval_s, 0);
	assert_int_equal(cfg.reconnect_min_ms, 500);
	assert_int_equal(cfg.reconnect_max_ms, 500);
	config_free(&cfg);
}

static void
test_file_quotes(void **state)
{
	PushdConfig cfg;
	const char *path = make_file(
		"db = \"host=a,b password='x y' target_session_attrs=read-write\" # primary\n"
		"node = ''\n"
		"listen = ':1'\n");

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--config", (char *) path)), CONFIG_OK);
	assert_string_equal(cfg.db, "host=a,b password='x y' target_session_attrs=read-write");
	assert_string_equal(cfg.node, "");
	assert_string_equal(cfg.listen_host, "");
	assert_int_equal(cfg.listen_port, 1);
	config_free(&cfg);
}

static void
test_flags_win_over_file(void **state)
{
	PushdConfig cfg;
	const char *path = make_file("resume-window = 5\nnode = from-file\nmax-backlog = 9\n"
								 "track-connections = false\n");

	(void) state;
	/* --config after the flag: the file is still read first. */
	assert_int_equal(parse(&cfg, ARGS("--resume-window=7", "--track-connections",
									  "--config", (char *) path)),
					 CONFIG_OK);
	assert_int_equal(cfg.resume_window, 7);
	assert_true(cfg.track_connections);
	assert_string_equal(cfg.node, "from-file");
	assert_int_equal(cfg.max_backlog, 9);
	assert_int_equal(cfg.ping_interval_s, 30);
	config_free(&cfg);
}

static void
test_last_config_option_wins(void **state)
{
	PushdConfig cfg;
	const char *first = make_file("node = first\n");
	const char *second = make_file("node = second\n");
	char		option[96];

	(void) state;
	snprintf(option, sizeof(option), "--config=%s", second);
	assert_int_equal(parse(&cfg, ARGS("--config", (char *) first, option)), CONFIG_OK);
	assert_string_equal(cfg.node, "second");
	assert_string_equal(cfg.config_file, second);
	config_free(&cfg);
}

static void
test_error_message_wording(void **state)
{
	PushdConfig cfg;

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--resume-window", "abc")), CONFIG_ERROR);
	assert_string_equal(err,
						"invalid value \"abc\" for --resume-window: expected an integer from 1 to 2147483647");
	config_free(&cfg);
}

/* --workers: a number, or auto for the online CPUs (at most MAX_WORKERS). */
static void
test_workers(void **state)
{
	PushdConfig cfg;
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--workers", "4")), CONFIG_OK);
	assert_int_equal(cfg.nworkers, 4);
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--workers", "32")), CONFIG_OK);
	assert_int_equal(cfg.nworkers, 32);
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--workers", "auto")), CONFIG_OK);
	assert_int_equal(cfg.nworkers, cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus);
	config_free(&cfg);
}

static void
test_command_line_errors(void **state)
{
	(void) state;
	/* unknown options */
	expect_error(ARGS("--bogus"), "--bogus", NULL);
	expect_error(ARGS("--bogus=1"), "--bogus", NULL);
	expect_error(ARGS("-x"), "-x", NULL);
	expect_error(ARGS("--no-lease"), "--no-lease", NULL);
	expect_error(ARGS("--resume_window", "5"), "--resume_window", NULL);

	/* bad integers and ranges */
	expect_error(ARGS("--lease", "abc"), "--lease", "\"abc\"");
	expect_error(ARGS("--lease="), "--lease", "integer");
	expect_error(ARGS("--lease", " 5"), "--lease", "integer");
	expect_error(ARGS("--lease", "5s"), "--lease", "integer");
	expect_error(ARGS("--lease", "99999999999999999999"), "--lease", "integer");
	expect_error(ARGS("--lease", "2"), "--lease", "from 3 to");
	expect_error(ARGS("--resume-window", "0"), "--resume-window", "from 1 to 2147483647");
	expect_error(ARGS("--max-client-frame", "127"), "--max-client-frame", "from 128 to 1048576");
	expect_error(ARGS("--max-client-frame", "1048577"), "--max-client-frame", "1048576");
	expect_error(ARGS("--max-backlog-bytes", "65535"), "--max-backlog-bytes", "65536");
	expect_error(ARGS("--prune-interval", "-1"), "--prune-interval", "from 0 to");
	expect_error(ARGS("--reconnect-min", "9"), "--reconnect-min", "from 10 to");
	expect_error(ARGS("--reconnect-max", "99"), "--reconnect-max", "from 100 to");
	expect_error(ARGS("--register-interval", "9"), "--register-interval", "from 10 to");
	expect_error(ARGS("--ping-interval", "0"), "--ping-interval", "from 1 to");
	expect_error(ARGS("--pong-timeout", "0"), "--pong-timeout", "from 1 to");
	expect_error(ARGS("--heartbeat-interval", "0"), "--heartbeat-interval", "from 1 to");
	expect_error(ARGS("--max-backlog", "0"), "--max-backlog", "from 1 to");
	expect_error(ARGS("--future-wait", "-1"), "--future-wait", "from 0 to");
	expect_error(ARGS("--workers", "0"), "--workers", "auto or a number from 1 to 32");
	expect_error(ARGS("--workers", "33"), "--workers", "from 1 to 32");
	expect_error(ARGS("--workers", "2x"), "--workers", "auto");
	expect_error(ARGS("--workers", ""), "--workers", "auto");
	expect_error(ARGS("--worker-timeout", "0"), "--worker-timeout", "from 1 to 3600");
	{
		/* The node name leaves room for a worker's "/w32" within the column's 255. */
		char		name[253];
		PushdConfig cfg;

		memset(name, 'n', 252);
		name[252] = '\0';
		expect_error(ARGS("--node", name), "--node", "at most 251");
		name[251] = '\0';
		assert_int_equal(parse(&cfg, ARGS("--node", name)), CONFIG_OK);
		config_free(&cfg);
	}

	/* bad bools and levels */
	expect_error(ARGS("--track-connections=maybe"), "--track-connections", "\"maybe\"");
	expect_error(ARGS("--track-connections="), "--track-connections", "true, false");
	expect_error(ARGS("--no-track-connections=true"), "--no-track-connections", "no value");
	expect_error(ARGS("--log-level", "verbose"), "--log-level", "debug, info, warn or error");

	/* bad listen addresses */
	expect_error(ARGS("--listen", "localhost"), "--listen", "HOST:PORT");
	expect_error(ARGS("--listen", "localhost:"), "--listen", "\"localhost:\"");
	expect_error(ARGS("--listen", "localhost:0"), "--listen", "65535");
	expect_error(ARGS("--listen", "localhost:65536"), "--listen", "65535");
	expect_error(ARGS("--listen", "localhost:80x"), "--listen", "65535");
	expect_error(ARGS("--listen", "localhost:+80"), "--listen", "65535");
	expect_error(ARGS("--listen", "::1:8080"), "--listen", "[IPv6]:PORT");
	expect_error(ARGS("--listen", "[::1]8080"), "--listen", NULL);
	expect_error(ARGS("--listen", "[::1:8080"), "--listen", NULL);
	expect_error(ARGS("--listen", "[]:8080"), "--listen", NULL);
	expect_error(ARGS("--listen", "my host:80"), "--listen", NULL);
	expect_error(ARGS("--listen", ""), "--listen", NULL);

	/* a node name longer than toggles.connections accepts */
	{
		char		node[300];

		memset(node, 'n', 256);
		node[256] = '\0';
		expect_error(ARGS("--node", node), "--node", "255");
	}

	/* missing values, positional arguments, options that take no value */
	expect_error(ARGS("--db"), "--db", "needs a value");
	expect_error(ARGS("--db", "--listen", ":80"), "--db", "needs a value");
	expect_error(ARGS("--config"), "--config", "needs a value");
	expect_error(ARGS("--config="), "--config", "file name");
	expect_error(ARGS("extra"), "\"extra\"", "unexpected argument");
	expect_error(ARGS("--lease", "10", "20"), "\"20\"", "unexpected argument");
	expect_error(ARGS("--track-connections", "false"), "\"false\"", "unexpected argument");
	expect_error(ARGS("-"), "\"-\"", "unexpected argument");
	expect_error(ARGS("--"), "\"--\"", "unexpected argument");
	expect_error(ARGS("--help=1"), "--help", "no value");

	/* rules across settings */
	expect_error(ARGS("--reconnect-min", "5000", "--reconnect-max", "1000"),
				 "--reconnect-min", "--reconnect-max");
}

static void
test_missing_config_file(void **state)
{
	(void) state;
	expect_error(ARGS("--config", "/nonexistent/pushd.conf"), "--config",
				 "\"/nonexistent/pushd.conf\"");
	expect_error(ARGS("--config", "/tmp"), "--config", "\"/tmp\"");
}

static void
test_file_errors(void **state)
{
	(void) state;
	expect_file_error("# fine\nbogus = 1\n", 2, "\"bogus\"");
	expect_file_error("\n\nresume-window = abc\n", 3, "for resume-window");
	expect_file_error("resume-window = 0\n", 1, "expected an integer from 1 to 2147483647");
	expect_file_error("lease = 1.5\n", 1, "for lease");
	expect_file_error("max-client-frame = 2000000\n", 1, "for max-client-frame");
	expect_file_error("track-connections = maybe\n", 1, "for track-connections");
	expect_file_error("log-level = loud\n", 1, "for log-level");
	expect_file_error("listen = nowhere\n", 1, "for listen");
	expect_file_error("resume-window 5\n", 1, "resume-window");
	expect_file_error("resume-window\n", 1, "\"=\" after resume-window");
	expect_file_error("= 5\n", 1, "name is missing");
	expect_file_error("db = 'host=x\n", 1, "unterminated quoted value for db");
	expect_file_error("db = 'host=x' y\n", 1, "after the closing quote for db");
	expect_file_error("config = /etc/other.conf\n", 1, "config");
	expect_file_error("resume-window =\n", 1, "for resume-window");
}

static void
test_file_error_then_flag_error_order(void **state)
{
	const char *path = make_file("lease = 1\n");

	(void) state;
	/* The file is read before the flags are applied, so its error is the one reported. */
	expect_error(ARGS("--resume-window", "abc", "--config", (char *) path), path, "for lease");

	/* A flag cannot rescue a bad file line: the file is refused as a whole. */
	expect_error(ARGS("--lease", "30", "--config", (char *) path), path, "for lease");
}

static void
test_help(void **state)
{
	PushdConfig cfg;
	ConfigResult result;
	char	   *out;
	static const char *const names[] = {
		"--db CONNINFO", "--listen HOST:PORT", "--node", "--log-level", "--resume-window",
		"--future-wait", "--max-backlog ", "--max-backlog-bytes", "--max-client-frame",
		"--ping-interval", "--pong-timeout", "--[no-]track-connections",
		"--register-interval", "--heartbeat-interval", "--lease", "--prune-interval",
		"--reconnect-min", "--reconnect-max", "--config FILE", "--print-config",
		"--version", "PG*", "multi-host",
		"[1000 versions]", "[4194304 bytes]", "[127.0.0.1:8080]", "[true]", "[info]"
	};

	(void) state;
	out = capture_parse(ARGS("--help"), &result, &cfg);
	assert_int_equal(result, CONFIG_EXIT);
	assert_true(strncmp(out, "Usage: toggles-pushd --db CONNINFO --listen HOST:PORT "
						"[--config FILE] [OPTIONS]\n", 72) == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		if (strstr(out, names[i]) == NULL)
			fail_msg("--help lacks \"%s\"", names[i]);
	}
	free(out);
	config_free(&cfg);

	/* -h acts before the missing file would be noticed. */
	out = capture_parse(ARGS("--config", "/nonexistent", "-h"), &result, &cfg);
	assert_int_equal(result, CONFIG_EXIT);
	assert_non_null(strstr(out, "Usage:"));
	free(out);
	config_free(&cfg);
}

static void
test_version(void **state)
{
	PushdConfig cfg;
	ConfigResult result;
	char	   *out;

	(void) state;
	out = capture_parse(ARGS("--version"), &result, &cfg);
	assert_int_equal(result, CONFIG_EXIT);
	assert_true(strncmp(out, "toggles-pushd ", 14) == 0);
	assert_true(strlen(out) > 15 && out[strlen(out) - 1] == '\n');
	free(out);
	config_free(&cfg);

	out = capture_parse(ARGS("-V"), &result, &cfg);
	assert_int_equal(result, CONFIG_EXIT);
	assert_true(strncmp(out, "toggles-pushd ", 14) == 0);
	free(out);
	config_free(&cfg);
}

static void
test_print_config_parses_back_to_defaults(void **state)
{
	PushdConfig cfg;
	PushdConfig defaults;
	ConfigResult result;
	char	   *out;
	const char *path;

	(void) state;
	out = capture_parse(ARGS("--print-config"), &result, &cfg);
	assert_int_equal(result, CONFIG_EXIT);
	config_free(&cfg);
	assert_non_null(strstr(out, "\nmax-backlog-bytes = 4194304\n"));
	assert_non_null(strstr(out, "\ndb = \"\"\n"));

	path = make_file(out);
	free(out);
	assert_int_equal(parse(&cfg, ARGS("--config", (char *) path)), CONFIG_OK);
	config_defaults(&defaults);
	assert_same_config(&cfg, &defaults);
	config_free(&cfg);
	config_free(&defaults);
}

static void
test_print_example_directly(void **state)
{
	char		path[] = "/tmp/test_config_example.XXXXXX";
	int			fd;
	FILE	   *f;
	PushdConfig cfg;
	PushdConfig defaults;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	config_print_example(f);
	fclose(f);
	assert_int_equal(parse(&cfg, ARGS("--config", path)), CONFIG_OK);
	unlink(path);
	config_defaults(&defaults);
	assert_same_config(&cfg, &defaults);
	config_free(&cfg);
	config_free(&defaults);
}

static void
test_reload_applies_reloadable_settings_only(void **state)
{
	PushdConfig cfg;
	const char *path = make_file("listen = :7000\nlog-level = info\n");
	char	  **argv;
	char	   *db_before;

	(void) state;
	argv = ARGS("--config", (char *) path, "--db", "dbname=one", "--max-backlog", "7");
	assert_int_equal(parse(&cfg, argv), CONFIG_OK);
	db_before = cfg.db;

	write_file(path,
			   "listen = :7001\n"
			   "db = dbname=two\n"
			   "node = renamed\n"
			   "resume-window = 5\n"
			   "lease = 60\n"
			   "track-connections = off\n"
			   "log-level = debug\n"
			   "max-backlog = 99\n"
			   "max-backlog-bytes = 100000\n"
			   "ping-interval = 3\n"
			   "heartbeat-interval = 4\n"
			   "prune-interval = 0\n");
	assert_true(reload(&cfg, argv));

	/* reloadable: taken, except where a flag still wins */
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.max_backlog, 7);
	assert_int_equal(cfg.max_backlog_bytes, 100000);
	assert_int_equal(cfg.ping_interval_s, 3);
	assert_int_equal(cfg.heartbeat_interval_s, 4);
	assert_int_equal(cfg.prune_interval_s, 0);

	/* not reloadable: left alone, and named for the log */
	assert_string_equal(cfg.listen, ":7000");
	assert_int_equal(cfg.listen_port, 7000);
	assert_string_equal(cfg.node, "");
	assert_int_equal(cfg.resume_window, 1000);
	assert_int_equal(cfg.lease_s, 90);
	assert_true(cfg.track_connections);
	assert_ptr_equal(cfg.db, db_before);
	assert_string_equal(cfg.db, "dbname=one");
	assert_non_null(strstr(err, "restart"));
	assert_non_null(strstr(err, "listen"));
	assert_non_null(strstr(err, "node"));
	assert_non_null(strstr(err, "resume-window"));
	assert_non_null(strstr(err, "lease"));
	assert_non_null(strstr(err, "track-connections"));
	assert_null(strstr(err, "db"));		/* the flag still wins: no change */
	assert_null(strstr(err, "log-level"));

	/* nothing changed: no notice */
	write_file(path, "listen = :7000\nlog-level = debug\nmax-backlog-bytes = 100000\n"
			   "ping-interval = 3\nheartbeat-interval = 4\nprune-interval = 0\n");
	assert_true(reload(&cfg, argv));
	assert_string_equal(err, "");
	config_free(&cfg);
}

static void
test_reload_rejects_broken_file(void **state)
{
	PushdConfig cfg;
	PushdConfig before;
	const char *path = make_file("log-level = warn\nmax-backlog = 10\n");
	char	  **argv;
	char		where[96];

	(void) state;
	argv = ARGS("--config", (char *) path);
	assert_int_equal(parse(&cfg, argv), CONFIG_OK);
	before = cfg;

	/* The good first line must not slip through when a later one is bad. */
	write_file(path, "log-level = error\nmax-backlog = 20\nping-interval = never\n");
	assert_false(reload(&cfg, argv));
	snprintf(where, sizeof(where), "%s:3: ", path);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "ping-interval"));
	assert_memory_equal(&cfg, &before, sizeof(cfg));

	write_file(path, "reconnect-min = 900\nreconnect-max = 800\n");
	assert_false(reload(&cfg, argv));
	assert_non_null(strstr(err, "--reconnect-min"));
	assert_memory_equal(&cfg, &before, sizeof(cfg));

	unlink(path);
	assert_false(reload(&cfg, argv));
	assert_non_null(strstr(err, path));
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(cfg.log_level, LOG_WARN);
	assert_int_equal(cfg.max_backlog, 10);
	config_free(&cfg);
}

static void
test_reload_uses_config_file_of_cfg(void **state)
{
	PushdConfig cfg;
	const char *path = make_file("max-backlog = 10\n");
	char	   *argv[] = {"toggles-pushd", NULL};

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--config", (char *) path)), CONFIG_OK);
	write_file(path, "max-backlog = 11\n");
	/* argv without --config: the file cfg was loaded from is re-read. */
	assert_true(config_reload(&cfg, 1, argv, err, sizeof(err)));
	assert_int_equal(cfg.max_backlog, 11);
	config_free(&cfg);
}

static void
test_reload_ignores_exit_options(void **state)
{
	PushdConfig cfg;
	const char *path = make_file("max-backlog = 12\n");
	char		outpath[] = "/tmp/test_config_out.XXXXXX";
	int			fd;
	int			saved;

	(void) state;
	config_defaults(&cfg);

	/* On SIGHUP the daemon must not print help and stop: stdout stays empty. */
	fd = mkstemp(outpath);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	assert_true(reload(&cfg, ARGS("--help", "--config", (char *) path, "--version")));
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	close(fd);
	unlink(outpath);

	assert_int_equal(cfg.max_backlog, 12);
	config_free(&cfg);
}

static void
test_null_error_buffer(void **state)
{
	PushdConfig cfg;
	char	   *argv[] = {"toggles-pushd", "--bogus", NULL};

	(void) state;
	assert_int_equal(config_parse_args(&cfg, 2, argv, NULL, 0), CONFIG_ERROR);
	config_free(&cfg);

	/* A short buffer cuts the message instead of overflowing. */
	{
		char		small[8];

		assert_int_equal(config_parse_args(&cfg, 2, argv, small, sizeof(small)), CONFIG_ERROR);
		assert_int_equal(strlen(small), sizeof(small) - 1);
		config_free(&cfg);
	}
}

/* The security settings: TLS files go in pairs, address and origin lists are checked. */
static void
test_security_settings(void **state)
{
	PushdConfig cfg;
	Acl			acl;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

	(void) state;
	assert_int_equal(parse(&cfg, ARGS("--tls-cert", "c.pem")), CONFIG_ERROR);
	assert_non_null(strstr(err, "--tls-key"));
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--tls-key", "k.pem")), CONFIG_ERROR);
	assert_non_null(strstr(err, "--tls-cert"));
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--tls-cert", "c.pem", "--tls-key", "k.pem", "--allow-anonymous",
									  "--allowed-origins", "https://a.example, http://localhost:3000",
									  "--metrics-allow", "10.0.0.0/8, ::1")), CONFIG_OK);
	assert_true(cfg.allow_anonymous);
	assert_string_equal(cfg.metrics_allow, "10.0.0.0/8, ::1");
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--log-level", "info")), CONFIG_OK);
	assert_false(cfg.allow_anonymous);
	assert_int_equal(cfg.max_connections, 10000);
	assert_int_equal(cfg.max_connections_per_ip, 256);
	assert_int_equal(cfg.handshake_timeout_s, 10);
	assert_int_equal(cfg.client_messages_per_second, 20);
	assert_int_equal(cfg.max_catchups_per_second, 50);
	assert_string_equal(cfg.allowed_origins, "");
	assert_string_equal(cfg.metrics_allow, "127.0.0.0/8,::1/128");
	config_free(&cfg);
	for (const char *const *bad = (const char *const[]) {"https://a.example/", "a.example", "https://",
				"https://a b", "https://a.example,", ",https://a.example", NULL}; *bad; bad++)
	{
		assert_int_equal(parse(&cfg, ARGS("--allowed-origins", (char *) *bad)), CONFIG_ERROR);
		assert_non_null(strstr(err, "allowed-origins"));
		config_free(&cfg);
	}
	for (const char *const *bad = (const char *const[]) {"localhost", "10.0.0.0/33", "::1/129", "1.2.3.4/",
				"1.2.3.4/-1", "1.2.3", ",", "10.0.0.0/8,", NULL}; *bad; bad++)
	{
		assert_int_equal(parse(&cfg, ARGS("--metrics-allow", (char *) *bad)), CONFIG_ERROR);
		assert_non_null(strstr(err, "metrics-allow"));
		config_free(&cfg);
	}

	/* Matching: IPv4 entries match IPv4-mapped IPv6 peers; an empty list matches all. */
	assert_true(acl_parse("127.0.0.0/8, 10.1.2.3, 2001:db8::/32", &acl));
	inet_pton(AF_INET, "127.9.9.9", &sin.sin_addr);
	assert_true(acl_match(&acl, (struct sockaddr *) &sin));
	inet_pton(AF_INET, "10.1.2.4", &sin.sin_addr);
	assert_false(acl_match(&acl, (struct sockaddr *) &sin));
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &sin6.sin6_addr);
	assert_true(acl_match(&acl, (struct sockaddr *) &sin6));
	inet_pton(AF_INET6, "2001:db8:ffff::1", &sin6.sin6_addr);
	assert_true(acl_match(&acl, (struct sockaddr *) &sin6));
	inet_pton(AF_INET6, "2001:db9::1", &sin6.sin6_addr);
	assert_false(acl_match(&acl, (struct sockaddr *) &sin6));
	acl_free(&acl);
	assert_true(acl_parse("", &acl));
	assert_true(acl_match(&acl, (struct sockaddr *) &sin6));
	acl_free(&acl);
	assert_true(acl_parse("0.0.0.0/0", &acl));
	assert_true(acl_match(&acl, (struct sockaddr *) &sin));
	assert_false(acl_match(&acl, (struct sockaddr *) &sin6));
	acl_free(&acl);
}

static void
test_log_level_name(void **state)
{
	(void) state;
	assert_string_equal(log_level_name(LOG_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_INFO), "info");
	assert_string_equal(log_level_name(LOG_WARN), "warn");
	assert_string_equal(log_level_name(LOG_ERROR), "error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_arguments_give_defaults),
		cmocka_unit_test(test_every_setting_on_the_command_line),
		cmocka_unit_test(test_later_flag_wins_and_empty_values),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_file_parsing),
		cmocka_unit_test(test_file_quotes),
		cmocka_unit_test(test_flags_win_over_file),
		cmocka_unit_test(test_last_config_option_wins),
		cmocka_unit_test(test_error_message_wording),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_command_line_errors),
		cmocka_unit_test(test_missing_config_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_error_then_flag_error_order),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_print_config_parses_back_to_defaults),
		cmocka_unit_test(test_print_example_directly),
		cmocka_unit_test(test_reload_applies_reloadable_settings_only),
		cmocka_unit_test(test_reload_rejects_broken_file),
		cmocka_unit_test(test_reload_uses_config_file_of_cfg),
		cmocka_unit_test(test_reload_ignores_exit_options),
		cmocka_unit_test(test_null_error_buffer),
		cmocka_unit_test(test_log_level_name),
		cmocka_unit_test(test_security_settings),
	};
	int			total = (int) (sizeof(tests) / sizeof(tests[0]));
	int			failed;

	failed = cmocka_run_group_tests(tests, NULL, remove_temp_files);

	/* scripts/test.sh adds up this line across the unit tests. */
	printf("%d passed, %d failed\n", total - failed, failed);
	/* LeakSanitizer ends the process without flushing stdio when it reports. */
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}
