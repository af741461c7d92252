/*
 * registry.h — this node's rows in toggles.connections: written in batches every
 * --register-interval, a heartbeat per node, reaping of dead nodes' rows, log pruning.
 */
#ifndef PUSHD_REGISTRY_H
#define PUSHD_REGISTRY_H

#include <stdbool.h>

#include "clients.h"
#include "pglink.h"

extern void registry_start(void);
extern void registry_stop(void);
/*
 * registry_restart: the database link is (back) up, so this node's rows are written again
 * from nothing (unlogged rows vanish in a crash or failover, and a predecessor under the
 * same node name may have left rows): what was pending is dropped.  False when connections
 * are not tracked; otherwise the caller registers every live connection again
 * (registry_client_open), then calls registry_flush (clients_link_changed).
 */
extern bool registry_restart(void);
extern void registry_flush(void);

/*
 * registry_final_statement is the link's shutdown hook (pglink_on_shutdown): the removal
 * of this node's rows, when connections are tracked.
 */
extern bool registry_final_statement(PglinkFinal *final);
extern void registry_client_open(Client *client);
/* registry_client_context: the client's context changed; its row follows. */
extern void registry_client_context(Client *client);
extern void registry_client_close(Client *client);

#endif
