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
extern void registry_client_open(Client *client);
/* registry_client_context: the client's context changed; its row follows. */
extern void registry_client_context(Client *client);
extern void registry_client_close(Client *client);

#endif
