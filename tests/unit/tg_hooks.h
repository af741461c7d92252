/*
 * tg_hooks.h — the evaluator's hooks for the unit tests of pushd's evaluation layer
 * (test_cache, test_groups) and the fuzz targets that parse contexts
 * (tests/fuzz/take_context.c): plain malloc; every time zone is UTC.
 */
#ifndef PG_TOGGLES_TG_HOOKS_H
#define PG_TOGGLES_TG_HOOKS_H

#include <stdlib.h>
#include <string.h>

#include "targeting.h"

static void *
hook_alloc(void *arg, size_t size)
{
	(void) arg;
	return malloc(size);
}

static void
hook_free(void *arg, void *ptr)
{
	(void) arg;
	free(ptr);
}

static bool
hook_local_time(void *arg, const char *tz, int64_t t_us, int64_t *local_us)
{
	(void) arg;
	*local_us = t_us;
	return strcmp(tz, "UTC") == 0;
}

static const TgHooks hooks = {hook_alloc, hook_free, hook_local_time, NULL};

#endif
