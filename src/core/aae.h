/* aae.h — active anti-entropy (Dynamo 4.7): the node part that keeps replicas equal without
 * reads. It owns the hash trees (aae_tree.h, kept current by local.c on every object write),
 * builds them at start-up and rebuilds them periodically at a bounded rate (one partition per
 * tick, each partition at its own time, so never all at once: basho/riak_kv#1765), and runs
 * exchanges: one at a time, with one other primary of one partition.
 *
 * An exchange descends only into what differs: the partition's branch hashes, then the segments
 * of differing branches, then the keys (with their objects' hashes) of differing segments. A
 * key that differs is compared again after a pause (RK_AAE_CONFIRM_MS), and only a key that
 * differed both times with the same two hashes is repaired: a write in flight changes one of
 * them meanwhile, and is not mistaken for damage. Repair is the read-repair merge: the peer's
 * object is merged into this node's, and this node's merged object is sent to the peer as a
 * repair put. A damaged object reads as missing on both sides (local.h), so its bytes never
 * travel. Exchanges run every aae_interval_ms (sooner after one that repaired, so a wiped
 * node fills quickly), each request carrying at most RK_AAE_KEYS_MAX keys or
 * RK_AAE_OBJECT_BYTES_MAX bytes of objects, one request in flight: a bounded share of the
 * node's work. RK.REPAIR queues exchanges of a partition (or all) with every other primary,
 * ahead of the rotation. */
#ifndef RK_AAE_H
#define RK_AAE_H

#include <stdbool.h>
#include <stdint.h>

#include "aae_tree.h"
#include "env.h"

#define RK_TIMER_AAE 3u
#define RK_AAE_TICK_MS 50u              /* builds one partition per tick, times the exchange */
#define RK_AAE_CONFIRM_MS 200u          /* between an exchange's two looks at a key */
#define RK_AAE_KEYS_MAX 4096u           /* keys one answer lists */
#define RK_AAE_OBJECTS_PER_REQ 128u     /* objects one request asks for */
#define RK_AAE_OBJECT_BYTES_MAX (4u << 20)  /* object bytes one answer carries (one at least) */
#define RK_AAE_REBUILD_MS_DEFAULT (3600u * 1000u)

typedef struct rk_node rk_node;
typedef struct rk_msg rk_msg;
typedef struct aae_diff aae_diff;     /* a key that differs: aae.c */

typedef enum rk_aae_reap_state {
    RK_AAE_REAP_IDLE = 0,
    RK_AAE_REAP_CHECKING,       /* waiting for every other member's answer */
} rk_aae_reap_state;

typedef enum rk_aae_state {
    RK_AAE_IDLE = 0,
    RK_AAE_WAIT_BRANCHES,
    RK_AAE_WAIT_SEGMENTS,
    RK_AAE_WAIT_KEYS,
    RK_AAE_CONFIRM_PAUSE,
    RK_AAE_WAIT_CONFIRM,
    RK_AAE_WAIT_OBJECTS,
} rk_aae_state;

typedef struct rk_aae {
    rk_aae_tree tree;
    bool on;
    bool timer_set;
    uint64_t *rebuild_due_ms;       /* [partition]: 0 = build as soon as a tick comes */
    uint32_t build_cursor;
    uint64_t next_exchange_ms;
    uint64_t busy_until_ms;         /* exchanges follow at once until then (one repaired) */
    uint32_t rotation;              /* next (partition, peer) pair of the periodic rotation */
    uint8_t *repair_peers;          /* [partition]: bit i = exchange with preflist entry i */
    uint32_t repair_pending;        /* exchanges RK.REPAIR asked for, not done yet */
    /* The running exchange. */
    rk_aae_state state;
    uint32_t partition;
    rk_node_id peer;
    uint64_t req_id;
    uint64_t deadline_ms;           /* for the answer, or the end of the confirm pause */
    bool repairing;                 /* came from RK.REPAIR's queue */
    uint32_t repaired;              /* keys this exchange repaired */
    uint8_t *marks;                 /* [segment]: 1 = differs */
    aae_diff *diffs;                /* first look: sorted by storage key */
    uint32_t diff_count;
    aae_diff *confirmed;            /* differed twice: to repair */
    uint32_t confirmed_count;
    uint32_t confirmed_cursor;      /* the next to ask the peer's object of */
    /* Tombstone reaping (aae_reap.c). */
    uint64_t *reap_floor;           /* [partition]: this node's highest counter in a tombstone
                                     * it reaped there; every dot it mints there is above */
    uint32_t *reap_seen;            /* [partition]: tombstones its last pass saw */
    rk_aae_reap_state reap_state;
    uint32_t reap_partition;
    uint32_t reap_rotation;
    bool reap_again;                /* the last pass reaped a full batch: its partition again */
    uint64_t reap_next_ms;
    uint64_t reap_req_id;
    uint64_t reap_deadline_ms;
    uint64_t reap_answers;          /* bit per member slot: answered the check */
    aae_diff *reap_keys;            /* RK_AAE_OBJECTS_PER_REQ candidates: skey and hash */
    uint32_t reap_count;
    bool reap_ok[RK_AAE_OBJECTS_PER_REQ];       /* still reapable after the answers so far */
    bool reap_ok_next[RK_AAE_OBJECTS_PER_REQ];
} rk_aae;

/* Set up the trees (every one not built) and hand them to local.c. 0 or RK_ENOMEM. With
 * config aae off, nothing is kept and nothing runs. */
int rk_aae_start(rk_node *n);
void rk_aae_deinit(rk_aae *a);
void rk_aae_on_timer(rk_node *n);
void rk_aae_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
/* The partition's dot floor from reaped tombstones: every dot this node mints for a key of
 * the partition must be above it (0: none reaped). */
uint64_t rk_aae_reap_floor(const rk_node *n, uint32_t partition);

#endif
