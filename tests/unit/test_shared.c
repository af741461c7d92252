/*
 * test_shared.c — cmocka tests of the workers' shared region (pushd/shared.c): the limits
 * count for the whole service, a dead worker's connections leave the counts, the address
 * table gives every entry back (collisions, removal in any order), and two processes
 * opening at once from one address get exactly the limit between them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared.h"

static struct in6_addr
addr_of(unsigned n)
{
	struct in6_addr a;

	memset(&a, 0, sizeof(a));
	a.s6_addr[10] = a.s6_addr[11] = 0xff;
	a.s6_addr[12] = 10;
	a.s6_addr[13] = (uint8_t) (n >> 16);
	a.s6_addr[14] = (uint8_t) (n >> 8);
	a.s6_addr[15] = (uint8_t) n;
	return a;
}

static int
setup(void **state)
{
	(void) state;
	return shared_create(2) ? 0 : -1;
}

static void
test_limits_count_every_worker(void **state)
{
	struct in6_addr a = addr_of(1);
	struct in6_addr b = addr_of(2);

	(void) state;
	shared_set_worker(0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(shared_conn_open(&a, 5, 3), SHARED_OK);
	assert_int_equal(shared_conn_open(&a, 5, 3), SHARED_OVER_ADDRESS);
	/* Another worker: the address is at its limit for the service. */
	shared_set_worker(1);
	assert_int_equal(shared_conn_open(&a, 5, 3), SHARED_OVER_ADDRESS);
	assert_int_equal(shared_conn_open(&b, 5, 3), SHARED_OK);
	assert_int_equal(shared_conn_open(&b, 5, 3), SHARED_OK);
	assert_int_equal(shared_conn_open(&b, 5, 3), SHARED_OVER_TOTAL);
	assert_int_equal(shared_connections(), 5);
	assert_int_equal(shared_worker_connections(0), 3);
	assert_int_equal(shared_worker_connections(1), 2);
	/* X-Forwarded-For: b's connection counted under a, which is full. */
	assert_int_equal(shared_addr_move(&b, &a, 3), SHARED_OVER_ADDRESS);
	assert_int_equal(shared_addr_move(&b, &a, 0), SHARED_OK);
	assert_int_equal(shared_address_connections(&a), 4);
	assert_int_equal(shared_address_connections(&b), 1);

	/* Worker 0 dies: its three connections from a go, worker 1's stay. */
	shared_forget_worker(0);
	assert_int_equal(shared_connections(), 2);
	assert_int_equal(shared_address_connections(&a), 1);
	shared_set_worker(0);
	assert_int_equal(shared_conn_open(&a, 5, 3), SHARED_OK);
	shared_conn_close(&a);
	/* A close that worker 0 does not hold changes nothing. */
	shared_conn_close(&a);
	assert_int_equal(shared_address_connections(&a), 1);
	shared_set_worker(1);
	shared_conn_close(&a);
	shared_conn_close(&b);
	assert_int_equal(shared_connections(), 0);
	assert_int_equal(shared_address_connections(&a), 0);
	assert_int_equal(shared_address_connections(&b), 0);
}

/* 40,000 addresses, in long probe chains, closed in another order: every count right. */
static void
test_address_table_gives_entries_back(void **state)
{
	enum
	{
		N = 40000
	};
	static int	order[N];

	(void) state;
	shared_set_worker(0);
	for (unsigned i = 0; i < N; i++)
	{
		struct in6_addr a = addr_of(i);

		assert_int_equal(shared_conn_open(&a, 1000000, 2), SHARED_OK);
		if (i % 3 == 0)
			assert_int_equal(shared_conn_open(&a, 1000000, 2), SHARED_OK);
		order[i] = (int) i;
	}
	srandom(7);
	for (int i = N - 1; i > 0; i--)
	{
		int			j = (int) (random() % (i + 1));
		int			t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < N / 2; i++)
	{
		struct in6_addr a = addr_of((unsigned) order[i]);

		shared_conn_close(&a);
		if (order[i] % 3 == 0)
			shared_conn_close(&a);
	}
	for (int i = 0; i < N; i++)
	{
		struct in6_addr a = addr_of((unsigned) order[i]);
		int			want = i < N / 2 ? 0 : order[i] % 3 == 0 ? 2 : 1;

		assert_int_equal(shared_address_connections(&a), want);
	}
	/* The rest go with their worker. */
	shared_forget_worker(0);
	assert_int_equal(shared_connections(), 0);
	for (int i = 0; i < N; i++)
	{
		struct in6_addr a = addr_of((unsigned) order[i]);

		assert_int_equal(shared_address_connections(&a), 0);
	}
}

/* Two processes, 2,000 attempts each from one address, limit 700: exactly 700 in. */
static void
test_two_processes_exact(void **state)
{
	struct in6_addr a = addr_of(99);
	pid_t		pids[2];
	int			got = 0;

	(void) state;
	for (int k = 0; k < 2; k++)
	{
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0)
		{
			int			n = 0;

			shared_set_worker(k);
			for (int i = 0; i < 2000; i++)
				n += shared_conn_open(&a, 1000000, 700) == SHARED_OK;
			_exit(n > 255 ? 255 : 0);
		}
	}
	for (int k = 0; k < 2; k++)
	{
		int			st;

		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
	}
	got = shared_address_connections(&a);
	assert_int_equal(got, 700);
	assert_int_equal(shared_connections(), 700);
	assert_int_equal(shared_worker_connections(0) + shared_worker_connections(1), 700);
	shared_forget_worker(0);
	shared_forget_worker(1);
	assert_int_equal(shared_connections(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_count_every_worker),
		cmocka_unit_test(test_address_table_gives_entries_back),
		cmocka_unit_test(test_two_processes_exact),
	};

	int			total = (int) (sizeof(tests) / sizeof(tests[0]));
	int			failed = cmocka_run_group_tests(tests, setup, NULL);

	/* scripts/test.sh adds up this line across the unit tests. */
	printf("%d passed, %d failed\n", total - failed, failed);
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}
