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
 * registry_link_changed is a state hook of the database link (pglink_on_state): after a
 * (re)connect, it (re)registers every live connection.
 */
extern void registry_link_changed(bool ready);

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
