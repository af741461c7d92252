/*
 * loop.h — the event loop lws runs on: libuv (epoll), owned by pushd so that the main
 * loop can take one round at a time (see loop.c for why not lws's poll()).
 */
#ifndef PUSHD_LOOP_H
#define PUSHD_LOOP_H

#include <libwebsockets.h>
#include <stdbool.h>

/* loop_configure makes the context created from info run on pushd's libuv loop. */
extern bool loop_configure(struct lws_context_creation_info *info);

/* loop_round serves what is ready, waiting for something when nothing is; false on error. */
extern bool loop_round(void);

/* loop_finish lets lws close its handles once the context is destroyed, then the loop. */
extern void loop_finish(void);

#endif
