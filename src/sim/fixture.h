/* fixture.h — a stepping API over the simulator's world, for tests that build one situation by
 * hand: N core nodes on the simulator's virtual clock, network (every message encoded to a wire
 * frame and decoded at delivery), failure detector and crashable mem stores, with no random
 * workload and no random faults. The test sends client requests to nodes and reads their
 * replies, moves time forward, takes nodes down and up, crashes and restarts them, and may hold,
 * drop or duplicate messages of one kind. The idea is canonical/raft's raft/fixture.h: one
 * in-process cluster that every node-level test shares.
 *
 * Nodes are named by id, as the core names them: 1..nodes at start, each in its own slot; the
 * last `lone` of them start as clusters of one (not members of the others' cluster, as ringkvd
 * without --members) for membership tests to join, and rk_fixture_fresh gives a slot a new id
 * (nodes + 1, nodes + 2, ...) as a fresh, empty, lone node. Delays (message, sync) are drawn
 * from the world's PRNG, seeded from the config: the same calls give the same run, byte for
 * byte (rk_fixture_trace_hash).
 *
 * Owns the world and every reply it captured until rk_fixture_free. */
#ifndef RK_SIM_FIXTURE_H
#define RK_SIM_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/msg.h"
#include "../core/node.h"

typedef struct rk_fixture rk_fixture;

typedef struct rk_fixture_config {
    uint64_t seed;
    uint32_t nodes;             /* 1..RK_SIM_NODES_MAX */
    /* Of them, how many start alone: ids nodes - lone + 1 .. nodes list only themselves as
     * members; the others list ids 1 .. nodes - lone. 0 (the default): every node a member. */
    uint32_t lone;
    /* Every node starts from this config (its id and member list are the fixture's); the
     * default bucket's n/r/w, policy and sloppy flag, the sync policy, limits, timeouts and
     * handoff pacing come from here. */
    rk_node_config node;
} rk_fixture_config;

/* Defaults: seed 1, 5 nodes, rk_node_config_default (N=3, R=W=2, sync batch). */
void rk_fixture_config_default(rk_fixture_config *c);

/* Start the world: every node created, told its links are up, and run until every start-up
 * write is durable. Returns 0 and *out (free with rk_fixture_free), RK_EINVAL for a config the
 * core refuses, or RK_ENOMEM. */
int rk_fixture_new(const rk_fixture_config *c, rk_fixture **out);
void rk_fixture_free(rk_fixture *fx);

/* The live node `id` (NULL while crashed), to read it through node.h (preflist, member state).
 * Borrowed; valid until the node crashes. */
rk_node *rk_fixture_node(rk_fixture *fx, rk_node_id id);
/* The config nodes are created with; changing it affects nodes restarted afterwards. */
rk_node_config *rk_fixture_node_config(rk_fixture *fx);
/* Slots: nodes of the config; ids live in them (rk_fixture_id_at). */
uint32_t rk_fixture_node_count(const rk_fixture *fx);
/* The id of the node in `slot` (0 .. rk_fixture_node_count - 1): slot + 1 unless
 * rk_fixture_fresh renamed it. */
rk_node_id rk_fixture_id_at(const rk_fixture *fx, uint32_t slot);
uint64_t rk_fixture_now_ms(const rk_fixture *fx);
uint64_t rk_fixture_trace_hash(const rk_fixture *fx);

/* ---- clients -------------------------------------------------------------------------------- */

/* A captured client reply: owned copies of what the node answered. */
typedef struct rk_fixture_reply {
    rk_node_id node;
    rk_reply_kind kind;
    int64_t integer;
    int error;
    uint8_t *value;             /* RK_REPLY_VALUE, RK_REPLY_STATUS */
    size_t value_len;
    char *context;              /* VERSIONS and WRITTEN */
    char *message;              /* ERROR */
    uint32_t value_count;       /* VERSIONS, ARRAY, MAP, SET (INTS are not kept) */
    uint8_t **values;
    size_t *value_lens;
    uint32_t answers;           /* how many replies the request got: 1, or a bug */
} rk_fixture_reply;

/* Hand `req` (borrowed) to node `id` now, as a client connected to it would. Returns the
 * request's handle (> 0), or RK_EUNAVAIL if the node is crashed (the connection is refused). */
int64_t rk_fixture_request(rk_fixture *fx, rk_node_id id, const rk_request *req);
/* RK.BUCKET SET of one property through node `id`; returns the request's handle. */
int64_t rk_fixture_bucket_set(rk_fixture *fx, rk_node_id id, const char *bucket,
                              const char *prop, const char *value);
/* The reply to `handle` so far, or NULL. Borrowed until rk_fixture_free. */
const rk_fixture_reply *rk_fixture_reply_get(const rk_fixture *fx, int64_t handle);
/* Run events until `handle` is answered or ms_max of virtual time passed; the reply or NULL. */
const rk_fixture_reply *rk_fixture_wait(rk_fixture *fx, int64_t handle, uint64_t ms_max);

/* ---- time ----------------------------------------------------------------------------------- */

/* Run every event due now (a request's immediate effects), without moving the clock. */
void rk_fixture_run_due(rk_fixture *fx);
/* Move the clock forward by ms, running every event due meanwhile in order (timers included). */
void rk_fixture_advance(rk_fixture *fx, uint64_t ms);
/* Run events until no message, sync or link change is pending (timers that fall due meanwhile
 * run too): the cluster has done everything it can do without a timer. Returns 0, or
 * RK_ETIMEDOUT if it did not go quiet within a bound. */
int rk_fixture_pump(rk_fixture *fx);
/* Run events until a message of `kind` has been delivered to `to` (count of them since the
 * fixture started reaches `count`), or ms_max passed. Returns true if it has. */
bool rk_fixture_run_until_delivered(rk_fixture *fx, rk_msg_kind kind, rk_node_id to,
                                    uint64_t count, uint64_t ms_max);
/* Messages of `kind` delivered to `to` so far (0 kind: of any kind). */
uint64_t rk_fixture_delivered(const rk_fixture *fx, rk_msg_kind kind, rk_node_id to);

/* ---- faults --------------------------------------------------------------------------------- */

/* A partition of one: `id`'s links are cut both ways, and every node (it included) learns it
 * through the failure detector; returns once they all have. */
void rk_fixture_down(rk_fixture *fx, rk_node_id id);
/* Its links come back and everyone learns it; returns once they all have. */
void rk_fixture_up(rk_fixture *fx, rk_node_id id);
/* Cut `id`'s links both ways without anyone noticing: a node gone silent (a hung process) that
 * no failure detector has caught. Messages to and from it are lost. */
void rk_fixture_disconnect(rk_fixture *fx, rk_node_id id);
/* Restore `id`'s links; only `id` itself learns the truth about its links at once; the others
 * keep the view they had (rk_fixture_tell them one by one). */
void rk_fixture_reconnect(rk_fixture *fx, rk_node_id id);
/* `observer` learns, now, whether its link to `peer` is up. */
void rk_fixture_tell(rk_fixture *fx, rk_node_id observer, rk_node_id peer);
/* kill -9: unsynced writes are gone, as are messages, timers and syncs of this incarnation. */
void rk_fixture_crash(rk_fixture *fx, rk_node_id id);
/* Flip a bit in every object node `id` stores, durably, behind its back (a damaged disk);
 * returns how many. */
uint32_t rk_fixture_damage(rk_fixture *fx, rk_node_id id);
/* kill -9 and a lost disk: the node is gone and its store is empty (restart it next). */
void rk_fixture_wipe(rk_fixture *fx, rk_node_id id);
/* SIGTERM: node `id` records its clean stop (rk_node_stop_clean, asked again while its writes
 * wait for durability), the world runs until the mark is durable, and the process is gone as
 * after rk_fixture_crash (what came after the mark and was not synced is lost). Returns 0 when
 * the mark was durable, else the node's error (the node is gone anyway; its next start bumps
 * the epoch), or RK_ETIMEDOUT if the world did not get there within a bound. */
int rk_fixture_stop(rk_fixture *fx, rk_node_id id);
/* A new incarnation on the same store, with the fixture's node config; it learns its links at
 * once. Peers that did not see the crash are not told anything. */
void rk_fixture_restart(rk_fixture *fx, rk_node_id id);
/* Membership churn: the slot of node `id` (live or crashed) loses its process and its disk, and
 * takes a new id never used in this world; a fresh node of that id starts there alone, with
 * an empty store, the fixture's node config and its links up (told at once). Returns the new
 * id. Messages still addressed to the old id are lost; the old id no longer names a node here,
 * so the test must be done with it (a member that left). */
rk_node_id rk_fixture_fresh(rk_fixture *fx, rk_node_id id);
/* Node `id`'s wall clock runs skew_us ahead of virtual time (behind if negative). */
void rk_fixture_skew(rk_fixture *fx, rk_node_id id, int64_t skew_us);
/* Node `id`'s next sync fails with `error` (an RK_E*) instead of completing. */
void rk_fixture_fail_next_sync(rk_fixture *fx, rk_node_id id, int error);

/* What to do with the messages a filter matches, when they are about to be delivered. */
typedef enum rk_fixture_action {
    RK_FIXTURE_PASS = 0,
    RK_FIXTURE_HOLD = 1,        /* kept aside until rk_fixture_release */
    RK_FIXTURE_DROP = 2,        /* lost */
    RK_FIXTURE_DUPLICATE = 3,   /* delivered, and a copy held until rk_fixture_release */
} rk_fixture_action;

/* Apply `action` to messages of `kind` from `from` to `to` (0: any node), the next `count` of
 * them (0: every one until the filter is replaced). One filter at a time. */
void rk_fixture_filter(rk_fixture *fx, rk_fixture_action action, rk_msg_kind kind,
                       rk_node_id from, rk_node_id to, uint32_t count);
/* Clear the filter and deliver the held messages from now, in the order they were held.
 * Returns how many were held. */
uint32_t rk_fixture_release(rk_fixture *fx);
uint32_t rk_fixture_held(const rk_fixture *fx);

/* ---- state ---------------------------------------------------------------------------------- */

/* The stats of node `id`, or NULL while it is crashed. Borrowed. */
const rk_node_stats *rk_fixture_stats(rk_fixture *fx, rk_node_id id);
/* Node `id`'s own encoded copy of key (rk_node_local_get): 0 and *out (len 0 when it has none;
 * free with rk_store_buf_free), or an RK_E*. */
int rk_fixture_local_get(rk_fixture *fx, rk_node_id id, const char *key, rk_buf *out);

#endif
