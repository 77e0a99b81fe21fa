/* replica.h — the replica side (Dynamo 4.5-4.6): serve a coordinator's read, and merge a
 * coordinator's object (a replicated write, a read repair, a handoff) into the local one,
 * answering only once the merge is durable. Merging is rk_dvvset_sync, so applying the same
 * object twice, or objects in any order, converges. Keeps no state of its own. */
#ifndef RK_REPLICA_H
#define RK_REPLICA_H

#include "durable.h"
#include "local.h"
#include "node.h"

void rk_replica_on_get(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_replica_on_put(rk_node *n, rk_node_id from, const rk_msg *m);
/* Merge `incoming` into the local object of `k`; answer via `p` once durable (p may be NULL:
 * nobody waits). `incoming_bytes` (may be NULL) are its encoding: when the key is absent here
 * they are stored as they are, with no merge and no encoding. With hint_owner not 0 the copy
 * is kept as a hinted replica for that owner. Returns 0 or an error. */
int rk_replica_merge(rk_node *n, const rk_local_key *k, const rk_dvvset *incoming,
                     const uint8_t *incoming_bytes, size_t incoming_len, uint8_t policy,
                     rk_node_id hint_owner, const rk_pending *p);

#endif
