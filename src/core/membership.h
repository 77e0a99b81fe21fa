/* membership.h — the node's side of the cluster metadata (cluster.h, docs/membership.md):
 * loading it from RK_DB_META or bootstrapping it from the configured members, mirroring it
 * into the member table the runtime connects by and the ring requests are routed by,
 * persisting and gossiping every change, the staged changes the RESP commands make, and the
 * membership timer (gossip every second; transfers and the flip while a plan moves). Owns
 * the gossip schedule; the metadata itself lives in the node (parts.h) and only this file
 * and transfer.c change it. */
#ifndef RK_MEMBERSHIP_H
#define RK_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

#define RK_TIMER_CLUSTER 6u
#define RK_MEMBERSHIP_GOSSIP_MS 1000u
#define RK_MEMBERSHIP_TICK_MS 100u
/* The RK_DB_META key the metadata is stored under. */
#define RK_MEMBERSHIP_META_KEY "cluster-meta"

typedef struct rk_membership {
    bool timer_set;
    uint64_t timer_at_ms;
    uint64_t gossip_at_ms;
    uint64_t gossip_sent;       /* metadata messages sent */
    uint64_t gossip_merged;     /* received copies that changed this node's */
} rk_membership;

struct rk_node;

/* At start: the stored metadata, else a bootstrap from the configured members. */
int rk_membership_start(struct rk_node *n);
/* The rest of the node is up: a node that loaded changed metadata starts gossiping. */
void rk_membership_ready(struct rk_node *n);
void rk_membership_on_message(struct rk_node *n, rk_node_id from, const rk_msg *m);
void rk_membership_on_timer(struct rk_node *n);
/* The metadata changed here: mirror it, store it, tell every member, keep the timer. */
void rk_membership_changed(struct rk_node *n);
/* A member's link came up: send it our copy if anything ever changed. */
void rk_membership_on_peer_up(struct rk_node *n, rk_node_id peer);
/* The smallest n any bucket uses: a unit's first that many sources hold every key of its
 * partition (a source at place i holds the keys of buckets with n > i). */
uint32_t rk_membership_n_min(const struct rk_node *n);
/* The largest n any bucket uses (the plan's units are computed for it). */
uint32_t rk_membership_n_max(const struct rk_node *n);

#endif
