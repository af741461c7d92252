/*
 * registry.h — this node's rows in toggles.connections: written in batches every
 * --register-interval, a heartbeat per node, reaping of dead nodes' rows, log pruning.
 */
#ifndef PUSHD_REGISTRY_H
#define PUSHD_REGISTRY_H

#include <stdbool.h>

#include "clients.h"

extern void registry_start(void);
extern void registry_stop(void);
/* registry_link_ready: after a (re)connect, (re)register every live connection. */
extern void registry_link_ready(void);
extern void registry_client_open(Client *client, const char *user_agent);
extern void registry_client_close(Client *client);

#endif
