/*
 * liveness.h — dead WebSocket peers, found by one sweep timer: a client silent for
 * --ping-interval is sent a WebSocket ping, and one still silent --pong-timeout later is
 * closed; a client being closed that did not take its close frame within CLOSE_WAIT_US
 * is hung up on.  lws's own per-connection validity timer is off (main.c), because each
 * of its timers is a sorted insertion that walks every established connection
 * (LWS-NOTES.md).
 */
#ifndef PUSHD_LIVENESS_H
#define PUSHD_LIVENESS_H

#include "clients.h"
#include "encode.h"
#include "metrics.h"

/* How often the sweep runs: the bound on a dead peer is the settings plus this. */
#define LIVENESS_SWEEP_US (1000 * 1000)

/* liveness_start arms the sweep; liveness_stop cancels it. */
extern void liveness_start(void);
extern void liveness_stop(void);

/* liveness_heard: the client sent something (a frame, a pong); it is alive. */
extern void liveness_heard(Client *c);

/* The rows of /metrics of the pings and dead peers (metrics_register). */
extern const MetricDef liveness_rows[];
extern const int liveness_nrows;

#endif
