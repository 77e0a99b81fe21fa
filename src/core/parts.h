/* parts.h — one node as the core's modules see it: a struct of parts, each with its own header
 * and the only .c file that writes it (docs/architecture.md has the table), plus the few
 * node-wide helpers node.c provides to all of them. Nothing outside src/core includes this;
 * the runtime and the simulator see node.h. */
#ifndef RK_PARTS_H
#define RK_PARTS_H

#include "aae.h"
#include "bucket.h"
#include "cluster.h"
#include "clock.h"
#include "coord.h"
#include "coord_table.h"
#include "durable.h"
#include "epochs.h"
#include "fwd_seen.h"
#include "handoff.h"
#include "local.h"
#include "members.h"
#include "membership.h"
#include "msg.h"
#include "node.h"
#include "ring.h"
#include "transfer.h"

struct rk_node {
    rk_node_config config;      /* node.c, at rk_node_new; read-only after */
    const rk_env *env;          /* kept */
    /* Counters and gauges INFO shows; each field is written by the one part its comment in
     * node.h names (counters by whoever counts the event). */
    rk_node_stats stats;
    rk_ring ring;               /* membership.c: the serving ring, mirrored from `cluster` */
    rk_cluster_meta cluster;    /* membership.c, transfer*.c: the cluster metadata */
    rk_membership membership;   /* membership.c: gossip schedule */
    rk_transfer transfer;       /* transfer.c: the units this node receives, the cleanup */
    rk_bucket_table buckets;    /* node_bucket.c */
    rk_members members;         /* members.c */
    rk_local local;             /* local.c */
    rk_clock clock;             /* clock.c */
    rk_epochs epochs;           /* epochs.c: members' epochs, learning a new store's */
    rk_durable durable;         /* durable.c */
    rk_coord_table coords;      /* coord_table.c */
    rk_handoff handoff;         /* handoff.c */
    rk_fwd_seen fwd_seen;       /* fwd_seen.c: the last forwarded writes taken */
    rk_aae aae;                 /* aae.c, aae_keys.c: hash trees and exchanges */
    uint64_t set_streams;       /* coord_put_delta.c: whole sets sent in chunks, for their ids */
};

/* node.c: messages, replies and the clock, for every part. */
void node_send(rk_node *n, rk_node_id to, const rk_msg *m);
/* node_send to each of `to` (never this node), encoded once where the runtime can. */
void node_send_many(rk_node *n, const rk_node_id *to, uint32_t count, const rk_msg *m);
/* Answer a client of this node, or (from_peer) the peer that forwarded the request. */
void node_reply(rk_node *n, bool from_peer, rk_node_id origin, uint64_t req, const rk_reply *r);
void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message);
uint64_t node_now_ms(const rk_node *n);
/* Reachable by this node now (self: always). */
bool node_member_up(const rk_node *n, rk_node_id id);
/* The bucket's n, capped at the member count (a cluster of one works). */
uint32_t node_effective_n(const rk_node *n, const rk_bucket_props *props);
/* The key's primaries in the serving ring (its bucket's effective n) into out; their count. */
uint32_t node_primaries(const rk_node *n, const rk_local_key *k, rk_node_id out[RK_N_MAX]);
/* True when this node (or `id`) is one of the key's primaries (its bucket's effective n). */
bool node_is_primary(const rk_node *n, const rk_local_key *k);
bool node_key_primary(const rk_node *n, const rk_local_key *k, rk_node_id id);

/* node_bucket.c: cluster-wide bucket properties (stored in RK_DB_META, pushed to members). */
int node_bucket_load(rk_node *n);
void node_bucket_on_set(rk_node *n, rk_node_id from, const rk_msg *m);
/* Push every configured bucket's properties to `to` (a member that came up). */
void node_bucket_push_all(rk_node *n, rk_node_id to);

#endif
