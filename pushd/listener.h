/*
 * listener.h — pushd's own listening socket.  lws 4.1.6 accepts until the listen queue is
 * empty, so in a connect storm every client is mid-handshake at once: each holds a
 * header buffer, and each of lws's handshake timeouts is a sorted insertion behind all
 * the others (LWS-NOTES.md).  pushd opens the socket itself, adopts it into the loop, and
 * on readiness accepts a bounded batch while fewer than --max-handshakes connections are
 * in their handshake; the rest wait in the kernel's listen queue.
 */
#ifndef PUSHD_LISTENER_H
#define PUSHD_LISTENER_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "encode.h"
#include "metrics.h"

/* listener_start opens --listen and adopts it into pushd.vhost; false (logged) on failure. */
extern bool listener_start(void);

/* listener_stop cancels its timer (the socket goes with the lws context). */
extern void listener_stop(void);

/*
 * listener_close closes the listening socket (connections still in its queue are reset;
 * with SO_REUSEPORT, new ones go to the other workers' sockets); listener_start opens it
 * again.  listener_is_open says which.
 */
extern void listener_close(void);
extern bool listener_is_open(void);

/* listener_tune applies the settings accepted sockets inherit (again, after a reload). */
extern void listener_tune(void);

/* listener_handshake_done: a handshake ended (streaming, closed): accept again if paused. */
extern void listener_handshake_done(void);

/* The listening descriptor's lws callback (protocol PROTOCOL_LISTENER, a raw file). */
extern int	listener_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
							  void *in, size_t len);

/* The rows of /metrics of handshakes and accept pauses (metrics_register). */
extern const MetricDef listener_rows[];
extern const int listener_nrows;

#endif
