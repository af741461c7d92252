/*
 * fuzz_zoneinfo.c — pushd's TZif reader (pushd/zoneinfo.c) on a hostile zone file: the
 * input is the file, served from a memfd through /proc/self/fd so nothing lands on disk,
 * and read into a fresh cache for every input; then local times at fixed instants and at
 * a few derived from the input.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "zoneinfo.h"

static const int64_t instants[] = {
	INT64_MIN / 2,
	INT64_C(-62135596800000000),	/* 0001-01-01 */
	INT64_C(-2208988800000000),		/* 1900 */
	INT64_C(-2147483649000000),		/* before the 32-bit range */
	-1,
	0,
	INT64_C(1711846800000000),		/* 2024-03-31T01:00:00Z */
	INT64_C(1729990799999999),		/* 2024-10-27T00:59:59.999999Z */
	INT64_C(2147483648000000),		/* 2038, past the 32-bit range */
	INT64_C(4107564000000000),		/* 2100-03-01 */
	INT64_C(253402300799000000),	/* 9999-12-31T23:59:59Z */
	INT64_MAX / 2,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	fd = -1;
	static char name[32];
	ZoneCache  *cache;
	uint64_t	h = 1469598103934665603u;	/* FNV-1a over the input: instants of its own */
	int64_t		local,
				again;

	if (fd < 0)
	{
		fd = memfd_create("fuzz_zoneinfo", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(name, sizeof(name), "%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t) size))
		abort();
	cache = zoneinfo_cache_new("/proc/self/fd");
	if (cache == NULL)
		abort();
	for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++)
	{
		if (zoneinfo_local_time(cache, name, instants[i], &local) &&
			(!zoneinfo_local_time(cache, name, instants[i], &again) || again != local))
		{
			fprintf(stderr, "a cached zone answered differently\n");
			abort();
		}
	}
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	for (int i = 0; i < 8; i++)
	{
		h = (h ^ (uint64_t) i) * 1099511628211u;
		/* Spread over +-2^61 us, about 73000 years either way. */
		(void) zoneinfo_local_time(cache, name, (int64_t) (h >> 2) - (INT64_C(1) << 61), &local);
	}
	zoneinfo_cache_free(cache);
	return 0;
}
