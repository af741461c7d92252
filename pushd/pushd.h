/*
 * pushd.h — the daemon's shared state: configuration, the lws context, the cache.
 */
#ifndef PUSHD_PUSHD_H
#define PUSHD_PUSHD_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"

typedef struct Pushd
{
	PushdConfig cfg;
	int			argc;
	char	  **argv;
	char	   *node;			/* node name in toggles.connections */
	struct lws_context *context;
	struct lws_vhost *vhost;
	Cache		cache;
	volatile sig_atomic_t stop_requested;
	volatile sig_atomic_t reload_requested;
	int			shutting_down;
} Pushd;

extern Pushd pushd;

/* now_us: monotonic clock in microseconds. */
extern int64_t now_us(void);

/* wall_clock_us: CLOCK_REALTIME in microseconds since 1970, the instant rules see. */
extern int64_t wall_clock_us(void);

/*
 * Protocol names: the first serves HTTP and the stream, the second the libpq socket, the
 * third the listening socket.
 */
#define PROTOCOL_STREAM "pg-toggles.v1"
#define PROTOCOL_PGLINK "toggles-pglink"
#define PROTOCOL_LISTENER "toggles-listener"

#endif
