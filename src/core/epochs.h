/* epochs.h — what a node knows of epochs across the cluster: the highest epoch each member
 * announced to it (kept in RK_DB_META, one record per member), and, for a node whose store is
 * new, the asking that tells it the highest epoch its peers saw from it before its data was lost
 * (clock.h says why: a wiped node must not mint the dots its old store minted; Riak's kv679
 * again). Owns the records and the learning round; the epoch itself is clock.c's. Written only
 * by epochs.c.
 *
 * Protocol (msg.h): on every link up a node sends the peer RK_MSG_EPOCH with its epoch; a node
 * that is learning sends 0 and RK_MSG_EPOCH_ASK instead. A receiver records a version above the
 * one it holds for the sender (in memory and durably) and answers an ASK with RK_MSG_EPOCH_RESP:
 * the highest epoch it recorded for the asker (0: none). A learning node asks again every
 * RK_EPOCH_ASK_INTERVAL_MS those that did not answer yet (messages may be lost). Learning ends
 * when every other member answered, or, once epoch_learn_ms_max passed since the start, when it
 * and the members that answered are a majority of the cluster (a member down for good must not
 * keep the node from ever taking writes; INFO epoch_learned_partial says it happened, and the
 * birth epoch's randomness is then the only guard against what the silent members saw). Then the
 * epoch becomes max(birth epoch, highest answer + 1) (rk_clock_learned), and the node announces
 * it to every member. A fresh cluster (all stores new) ends within one round trip: every
 * member answers 0.
 *
 * Until then the clock is not ready, and a write this node would coordinate is refused RK_EBUSY
 * "node starting" (coord_put.c); reads, replica writes and forwarding go on as usual. */
#ifndef RK_EPOCHS_H
#define RK_EPOCHS_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "members.h"

/* The env timer id of the learning round. */
#define RK_TIMER_EPOCH 5u
/* How often a learning node asks again those that did not answer. */
#define RK_EPOCH_ASK_INTERVAL_MS 500u
/* The default bound on waiting for every member (rk_node_config.epoch_learn_ms_max). */
#define RK_EPOCH_LEARN_MS_DEFAULT 30000u
/* A record of RK_DB_META: key RK_EPOCH_RECORD_PREFIX then the member id (u32 little-endian),
 * value the epoch (u64 little-endian). */
#define RK_EPOCH_RECORD_PREFIX "epoch-of:"
#define RK_EPOCH_RECORD_KEY_BYTES (sizeof(RK_EPOCH_RECORD_PREFIX) - 1u + 4u)

typedef struct rk_epochs {
    /* By member slot (members.h): the highest epoch that member announced here. */
    uint64_t seen_epoch[RK_MEMBERS_MAX];
    bool learning;
    uint64_t learn_start_ms;
    uint64_t learn_highest;             /* the highest answer so far */
    bool answered[RK_MEMBERS_MAX];      /* by member slot */
    uint32_t answered_count;
    uint64_t timer_at_ms;               /* the armed timer; 0: none */
} rk_epochs;

typedef struct rk_node rk_node;

/* Load the records of every member; start learning when the clock learns (rk_clock_learning).
 * 0, RK_ECORRUPT (a record not 8 bytes) or a store error. */
int rk_epochs_start(rk_node *n);
/* The link to `peer` came up: announce this node's epoch (or ask, while learning). */
void rk_epochs_on_peer_up(rk_node *n, rk_node_id peer);
/* RK_MSG_EPOCH and RK_MSG_EPOCH_RESP from `from`. */
void rk_epochs_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_epochs_on_timer(rk_node *n);
/* The highest epoch `id` announced to this node (0: none, or not a member). */
uint64_t rk_epochs_seen(const rk_node *n, rk_node_id id);

#endif
