/*
 * test_metrics.c — unit tests of the one table /metrics is rendered from (pushd/metrics.c):
 * rows of every kind in the exposition format, families with labelled rows, the order of
 * registration, a family registered twice refused, the rendering for a service of several
 * workers.  Under ASan/UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmocka_report.h"

#include "metrics.h"

static uint64_t hits = 7;
static uint64_t misses = 2;

static double
answer(void)
{
	return 42;
}

static const MetricDef rows[] = {
	{"t_gauge", "A gauge.", METRIC_GAUGE, NULL, NULL, answer, NULL},
	{"t_total", "Lookups, by result.", METRIC_COUNTER, "{result=\"hit\"}", &hits, NULL, NULL},
	{"t_total", NULL, METRIC_COUNTER, "{result=\"miss\"}", &misses, NULL, NULL},
};

static const MetricDef again[] = {
	{"t_total", "The same family.", METRIC_COUNTER, NULL, &hits, NULL, NULL},
};

static int
reset(void **state)
{
	(void) state;
	metrics_reset();
	return 0;
}

static void
test_rows_render_in_order(void **state)
{
	TextBuf		buf;

	(void) state;
	assert_true(metrics_register(rows, 3));
	textbuf_init(&buf);
	metrics_render(&buf);
	assert_string_equal(buf.data,
						"# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\nt_gauge 42\n"
						"# HELP t_total Lookups, by result.\n# TYPE t_total counter\n"
						"t_total{result=\"hit\"} 7\nt_total{result=\"miss\"} 2\n");
	textbuf_free(&buf);
}

static void
test_family_registered_once(void **state)
{
	TextBuf		buf;

	(void) state;
	assert_true(metrics_register(rows, 3));
	assert_false(metrics_register(again, 1));
	textbuf_init(&buf);
	metrics_render(&buf);
	assert_null(strstr(buf.data, "The same family."));
	textbuf_free(&buf);
}

/* metrics.c's own rows: every counter of Metrics, the queue gauge, the latency histogram. */
static void
test_own_rows(void **state)
{
	TextBuf		buf;

	(void) state;
	metrics.token_loads = 3;
	metrics_observe_latency(0.003);
	metrics_observe_latency(2.0);
	assert_true(metrics_register(metrics_rows, metrics_nrows));
	assert_true(metrics_register(rows, 3));
	textbuf_init(&buf);
	metrics_render(&buf);
	assert_non_null(strstr(buf.data, "\npushd_token_loads_total 3\n"));
	assert_non_null(strstr(buf.data, "# TYPE pushd_notify_to_send_seconds histogram\n"));
	assert_non_null(strstr(buf.data, "pushd_notify_to_send_seconds_bucket{le=\"0.0025\"} 0\n"
						   "pushd_notify_to_send_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(buf.data, "pushd_notify_to_send_seconds_bucket{le=\"+Inf\"} 2\n"
						   "pushd_notify_to_send_seconds_sum 2.003000000\n"
						   "pushd_notify_to_send_seconds_count 2\n"));
	/* Registered after: rendered after. */
	assert_true(strstr(buf.data, "t_gauge") > strstr(buf.data, "pushd_notify_to_send_seconds_count"));
	textbuf_free(&buf);
}

/* Two workers' published values (t_gauge, t_total hit, t_total miss); worker 2 is gone. */
static const double published[2][3] = {{42, 7, 2}, {5, 10, 1}};

static bool
running(int k)
{
	return k == 0;
}

static double
value(int k, int i)
{
	return published[k][i];
}

static double
retired(int i)
{
	return i == 1 ? 100 : 0;
}

static const MetricService two = {2, running, value, retired};

static const MetricDef theirs[] = {
	{"t_service", "Already the service's.", METRIC_GAUGE, NULL, NULL, answer, NULL},
};

/*
 * For the service: counters summed over the workers and the retired ones, gauges one line
 * per running worker with its label, rows registered as the service's as they are (and not
 * published).
 */
static void
test_service(void **state)
{
	TextBuf		buf;
	double		out[METRIC_VALUES];

	(void) state;
	assert_true(metrics_register(rows, 3));
	assert_true(metrics_register_service(theirs, 1));
	assert_int_equal(metrics_publish(out, METRIC_VALUES), 3);
	assert_true(out[0] == 42 && out[1] == 7 && out[2] == 2);
	metrics_set_service(&two);
	textbuf_init(&buf);
	metrics_render(&buf);
	assert_string_equal(buf.data,
						"# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\nt_gauge{worker=\"1\"} 42\n"
						"# HELP t_total Lookups, by result.\n# TYPE t_total counter\n"
						"t_total{result=\"hit\"} 117\nt_total{result=\"miss\"} 3\n"
						"# HELP t_service Already the service's.\n# TYPE t_service gauge\nt_service 42\n");
	textbuf_free(&buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rows_render_in_order, reset),
		cmocka_unit_test_setup(test_family_registered_once, reset),
		cmocka_unit_test_setup(test_own_rows, reset),
		cmocka_unit_test_setup(test_service, reset),
	};
	return RUN_AND_REPORT(tests, NULL, NULL);
}
