/*
 * test_db_targets.c — cmocka tests of how pushd splits --db into the hosts it tries one
 * at a time (pushd/db_targets.c): host, hostaddr and port lists, the environment, the
 * liveness defaults and what the conninfo overrides of them, and refused lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "db_targets.h"

static char err[256];

/* param: the value given for key to reach host i, or NULL when not given. */
static const char *
param(const DbTargets *t, int i, const char *key)
{
	static const char *keys[DB_TARGETS_MAX_KEYS + 5];
	static const char *values[DB_TARGETS_MAX_KEYS + 5];
	int			k;

	db_targets_params(t, i, keys, values);
	for (k = 0; keys[k]; k++)
		if (strcmp(keys[k], key) == 0)
			return values[k];
	return NULL;
}

static void
clear_env(void)
{
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	unsetenv("PGPORT");
}

static void
test_single_host(void **state)
{
	DbTargets	t;
	char		where[64];

	(void) state;
	clear_env();
	assert_true(db_targets_parse(&t, "host=db1 port=5433 dbname=app user=pushd", 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 1);
	assert_string_equal(param(&t, 0, "host"), "db1");
	assert_string_equal(param(&t, 0, "port"), "5433");
	assert_string_equal(param(&t, 0, "dbname"), "app");
	assert_string_equal(param(&t, 0, "user"), "pushd");
	assert_string_equal(param(&t, 0, "fallback_application_name"), "toggles-pushd");
	assert_null(param(&t, 0, "hostaddr"));
	db_targets_describe(&t, 0, where, sizeof(where));
	assert_string_equal(where, "db1:5433");
	db_targets_free(&t);
}

static void
test_multi_host_one_port(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	assert_true(db_targets_parse(&t, "host=a,b,c port=6000 target_session_attrs=read-write",
								 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 3);
	assert_string_equal(param(&t, 0, "host"), "a");
	assert_string_equal(param(&t, 2, "host"), "c");
	assert_string_equal(param(&t, 2, "port"), "6000");
	assert_string_equal(param(&t, 1, "target_session_attrs"), "read-write");
	db_targets_free(&t);
}

static void
test_multi_host_ports_and_addrs(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	assert_true(db_targets_parse(&t, "postgresql://a:1,b:2/app?hostaddr=10.0.0.1,fd00::2",
								 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 2);
	assert_string_equal(param(&t, 1, "host"), "b");
	assert_string_equal(param(&t, 1, "port"), "2");
	assert_string_equal(param(&t, 1, "hostaddr"), "fd00::2");
	assert_string_equal(param(&t, 0, "hostaddr"), "10.0.0.1");
	assert_string_equal(param(&t, 0, "dbname"), "app");
	db_targets_free(&t);
}

static void
test_environment_lists(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	setenv("PGHOST", "e1,e2", 1);
	setenv("PGPORT", "7,8", 1);
	assert_true(db_targets_parse(&t, "", 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 2);
	assert_string_equal(param(&t, 1, "host"), "e2");
	assert_string_equal(param(&t, 1, "port"), "8");
	db_targets_free(&t);
	/* The conninfo wins over the environment (whose two ports would not fit one host). */
	unsetenv("PGPORT");
	assert_true(db_targets_parse(&t, "host=c", 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 1);
	assert_string_equal(param(&t, 0, "host"), "c");
	db_targets_free(&t);
	clear_env();
	/* Nothing anywhere: one attempt, libpq's defaults. */
	assert_true(db_targets_parse(&t, "", 5, err, sizeof(err)));
	assert_int_equal(t.nhosts, 1);
	assert_null(param(&t, 0, "host"));
	db_targets_free(&t);
}

static void
test_liveness_defaults(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	assert_true(db_targets_parse(&t, "host=db", 7, err, sizeof(err)));
	assert_string_equal(param(&t, 0, "keepalives"), "1");
	assert_string_equal(param(&t, 0, "keepalives_idle"), "7");
	assert_string_equal(param(&t, 0, "keepalives_interval"), "1");
	assert_string_equal(param(&t, 0, "keepalives_count"), "7");
	assert_string_equal(param(&t, 0, "tcp_user_timeout"), "7000");
	assert_int_equal(t.connect_timeout_s, 0);
	db_targets_free(&t);
	/* What the conninfo says wins. */
	assert_true(db_targets_parse(&t, "host=db keepalives_idle=60 tcp_user_timeout=0 "
								 "connect_timeout=3 application_name=x", 7, err, sizeof(err)));
	assert_string_equal(param(&t, 0, "keepalives_idle"), "60");
	assert_string_equal(param(&t, 0, "tcp_user_timeout"), "0");
	assert_string_equal(param(&t, 0, "keepalives_count"), "7");
	assert_int_equal(t.connect_timeout_s, 3);
	assert_string_equal(param(&t, 0, "application_name"), "x");
	db_targets_free(&t);
}

static void
test_bare_database_name(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	assert_true(db_targets_parse(&t, "toggles", 5, err, sizeof(err)));
	assert_string_equal(param(&t, 0, "dbname"), "toggles");
	db_targets_free(&t);
}

static void
test_refused(void **state)
{
	DbTargets	t;

	(void) state;
	clear_env();
	assert_false(db_targets_parse(&t, "host=a,b hostaddr=1.2.3.4", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "2 host names but 1 hostaddr values"));
	assert_false(db_targets_parse(&t, "host=a,b,c port=1,2", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "3 hosts but 2 port values"));
	assert_false(db_targets_parse(&t, "host='unterminated", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid --db"));
	assert_false(db_targets_parse(&t, "nosuchkey=1", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "nosuchkey"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_host),
		cmocka_unit_test(test_multi_host_one_port),
		cmocka_unit_test(test_multi_host_ports_and_addrs),
		cmocka_unit_test(test_environment_lists),
		cmocka_unit_test(test_liveness_defaults),
		cmocka_unit_test(test_bare_database_name),
		cmocka_unit_test(test_refused),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
