/*
 * supervisor.h — the parent of --workers N > 1.  It serves nothing: it forks the workers
 * (after shared_create, before lws, OpenSSL or libpq start), restarts one that exits or is
 * killed (with a backoff), kills and restarts one whose heartbeat is older than
 * --worker-timeout (hung, not only dead), forwards SIGHUP, and on SIGTERM or SIGINT has
 * every worker drain (clients closed with 1001) and exits after the last of them.
 */
#ifndef PUSHD_SUPERVISOR_H
#define PUSHD_SUPERVISOR_H

#include <stdbool.h>

/*
 * supervisor_run forks the workers and supervises them.  It returns true in each worker
 * (shared_worker() says which), which then serves as a single pushd would; in the parent
 * it returns false when the service has stopped, with the exit status in *status.
 */
extern bool supervisor_run(int *status);

#endif
