/*
 * log.c — stderr logging with levels (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

LogLevel	log_min_level = LOG_INFO;
const char *log_tag = "";

void
pd_log(LogLevel level, const char *fmt, ...)
{
	struct timeval tv;
	struct tm	tm;
	char		stamp[32];
	va_list		ap;

	if (level < log_min_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One fprintf per line, so concurrent writers to the same stderr do not interleave. */
	{
		char		line[2048];
		int			n = snprintf(line, sizeof(line), "%s.%03dZ %-5s %s", stamp,
								 (int) (tv.tv_usec / 1000), log_level_name(level), log_tag);

		va_start(ap, fmt);
		if (n > 0 && n < (int) sizeof(line))
			vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		fprintf(stderr, "%s\n", line);
	}
}
