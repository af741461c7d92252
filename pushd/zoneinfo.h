/*
 * zoneinfo.h — toggles-pushd's time-zone hook for the rule language (TgHooks.local_time):
 * UTC offsets read from the system's TZif files, the same ones PostgreSQL uses.
 */
#ifndef PUSHD_ZONEINFO_H
#define PUSHD_ZONEINFO_H

#include <stdbool.h>
#include <stdint.h>

#define ZONEINFO_DEFAULT_ROOT "/usr/share/zoneinfo"

/* A cache of parsed zones, read from the TZif files under one directory. */
typedef struct ZoneCache ZoneCache;

/* zoneinfo_cache_new: a cache reading zones under root (NULL: ZONEINFO_DEFAULT_ROOT). */
extern ZoneCache *zoneinfo_cache_new(const char *root);
extern void zoneinfo_cache_free(ZoneCache *cache);

/*
 * zoneinfo_local_time, a TgHooks.local_time: *local_us = t_us plus the UTC offset of zone
 * tz at t_us.  arg is a ZoneCache, or NULL for the process's default cache (reading
 * ZONEINFO_DEFAULT_ROOT, made on first use).  False when tz is not a valid, installed zone.
 */
extern bool zoneinfo_local_time(void *arg, const char *tz, int64_t t_us, int64_t *local_us);

/* zoneinfo_free_default frees the default cache (at shutdown, for leak checkers). */
extern void zoneinfo_free_default(void);

#endif
