/*
 * outage.h — what clients get while the database link is down (docs/operations.md,
 * "What clients see during an outage").
 *
 * For --outage-grace the last state is served as usual: a short outage goes unseen.
 * After it, the node cannot tell how stale it is: connected clients are closed with 1013
 * (Try Again Later), spread evenly over --outage-close-spread so that a balancer's healthy
 * nodes are not hit by every client in one instant, and new WebSocket handshakes and
 * /v1/toggles are answered 503 with Retry-After.  A node that has never loaded a snapshot
 * answers 503 too: it has nothing it could serve without sending someone back in time; so
 * does a node that is shutting down (a balancer retries the request elsewhere).
 */
#ifndef PUSHD_OUTAGE_H
#define PUSHD_OUTAGE_H

#include <stdbool.h>

/* outage_link_changed is a state hook of the database link (pglink_on_state). */
extern void outage_link_changed(bool ready);

/* outage_refusal: NULL while this node serves new clients, else why not, for a 503. */
extern const char *outage_refusal(void);

/*
 * outage_retry_after: the Retry-After of a 503, in seconds: "1" while the node is starting
 * (its first load takes milliseconds) or shutting down (another node can serve), "5" in an
 * outage (nothing will change sooner).
 */
extern const char *outage_retry_after(void);

extern void outage_stop(void);

#endif
