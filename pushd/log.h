/*
 * log.h — one line per event on stderr, with a timestamp, a level and, where there is
 * one, the identity of the connection it concerns.
 */
#ifndef PUSHD_LOG_H
#define PUSHD_LOG_H

#include "config.h"

extern LogLevel log_min_level;

/* log_tag: written before every message ("" = none; "w2: " in worker 2 of --workers). */
extern const char *log_tag;

extern void pd_log(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_min_level <= LOG_DEBUG) pd_log(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) pd_log(LOG_INFO, __VA_ARGS__)
#define log_warn(...) pd_log(LOG_WARN, __VA_ARGS__)
#define log_error(...) pd_log(LOG_ERROR, __VA_ARGS__)

#endif
