/* sim.h — the deterministic simulator (issue 5): many nodes running the very same src/core
 * code in one process, on a virtual clock, over a network that delays, reorders, duplicates,
 * drops and partitions messages, with stores that crash and lose what was not synced, nodes
 * that pause and clocks that are skewed. Simulated clients issue a workload, every operation
 * is recorded in a history, and checkers judge what the clients observed (check.c).
 *
 * Everything is derived from one seed: the same config gives the same run, byte for byte, and
 * the same trace_hash (XXH3 over a canonical encoding of every event). The idea is
 * FoundationDB's simulation testing and TigerBeetle's VOPR; the checkers follow Jepsen's
 * vocabulary (ok / fail / info = indeterminate).
 *
 * Owns the whole simulated world for the length of rk_sim_run; keeps nothing afterwards. */
#ifndef RK_SIM_H
#define RK_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/node.h"

/* Fault kinds, as a mask. `all` is every one of them but `stop`, which came later: `all` keeps
 * the schedule its regression seeds were found with (ask for `all,stop`). */
#define RK_SIM_FAULT_PARTITION 0x01u
#define RK_SIM_FAULT_CRASH     0x02u
#define RK_SIM_FAULT_PAUSE     0x04u
#define RK_SIM_FAULT_LOSS      0x08u
#define RK_SIM_FAULT_SKEW      0x10u
#define RK_SIM_FAULT_ALL       0x1fu
#define RK_SIM_FAULT_STOP      0x20u   /* SIGTERM: a clean stop (its mark), then a restart */
/* Membership changes (membership.c): the last node starts alone as a spare; spares join, members
 * leave (a leaver's slot comes back as a spare with a fresh id), and a node whose transfer runs
 * may crash. Not in `all` either: ask for `all,membership`. */
#define RK_SIM_FAULT_MEMBERSHIP 0x40u
/* After the heal, a run with membership changes goes on until every plan is done and every
 * member agrees, for at most this much simulated time (then `membership` fails). */
#define RK_SIM_MEMBERSHIP_SETTLE_MS (10u * 60u * 1000u)

/* What the clients do (workload.c). */
typedef enum rk_sim_workload {
    RK_SIM_WORKLOAD_VALUES = 0, /* RK.GET, SET, RK.PUT, deletes: policies siblings and lww */
    RK_SIM_WORKLOAD_CART = 1,   /* SADD, SREM, SMEMBERS (issue 12): policies union and set;
                                 * INCRBY, GET (issue 13): policy counter; HINCRBY, HSET, HDEL,
                                 * HGETALL: policy map */
} rk_sim_workload;

/* The cart's quantities under counter and map (workload.c), pinned and printed with every
 * run: each change is a random quantity in [MIN, MAX] other than 0; a map changes the counter
 * fields item0.. and sets or deletes the register fields note0.. */
#define RK_SIM_QUANTITY_MIN (-3)
#define RK_SIM_QUANTITY_MAX 5
#define RK_SIM_MAP_ITEMS 4u
#define RK_SIM_MAP_NOTES 2u

#define RK_SIM_NODES_MAX 16u     /* fits RK_MEMBERS_MAX; pairs of links live in small arrays */
#define RK_SIM_KEYS_MAX  1000u
#define RK_SIM_OPS_MAX   10000000u
#define RK_SIM_AAE_CONVERGE_MS (30u * 60u * 1000u)  /* simulated time anti-entropy may take */
#define RK_SIM_AAE_INTERVAL_MS 200u
/* After the heal, a run that reaps lets the grace delay and this much more pass, so every
 * tombstone left is reaped before the checkers look (a pass per partition per interval). */
#define RK_SIM_REAP_SWEEP_MS 30000u
/* The cart's preload (issue 14, --preload-members): at most this many members per key, sent as
 * SADDs of at most RK_SIM_PRELOAD_BATCH members each. */
#define RK_SIM_PRELOAD_MAX 50000u
#define RK_SIM_PRELOAD_BATCH 1000u

typedef struct rk_sim_config {
    uint64_t seed;
    uint32_t nodes;
    uint32_t n;
    uint32_t r;
    uint32_t w;
    uint32_t ops;               /* client requests issued (the read and write of an RMW: 2) */
    uint32_t faults;            /* RK_SIM_FAULT_* mask; 0 = none */
    uint8_t workload;           /* rk_sim_workload */
    uint8_t policy;             /* rk_bucket_policy: siblings or lww for the values workload,
                                 * union, set, counter or map for the cart workload */
    rk_sync_policy sync;
    bool no_sloppy;             /* strict quorums: only primaries count (bucket sloppy false) */
    /* Anti-entropy (aae.h) on every node; off by default, so runs without it replay as before.
     * no_read_repair switches read repair off and anti-entropy on: after the heal the run goes
     * on until every partition's primaries hold equal trees (capped, RK_SIM_AAE_CONVERGE_MS). */
    bool aae;
    bool no_read_repair;
    /* Test only: trees are kept but no exchange ever starts, so --no-read-repair runs must end
     * diverged on some seeds (tests/sim/run.sh proves the convergence is anti-entropy's). */
    bool break_aae;
    /* Tombstone reaping (aae_reap.c) once a tombstone is this old; 0: never. Turns anti-entropy
     * on. */
    uint32_t reap_grace_ms;
    /* Test only: the network strips every sibling but the newest from PUT_REQ objects it
     * delivers, as a replica that forgot to merge siblings would. The checkers must then
     * report lost acknowledged writes (tests/sim/run.sh proves it). */
    bool break_sibling_merge;
    /* Test only: every crash leaves a valid clean-stop mark behind (clock.h), as a node that
     * claimed a clean stop it did not make would: its next start keeps the epoch although
     * unsynced dots were lost. The checkers must then report reused dots. */
    bool break_clean_stop;
    /* Workload, pinned defaults printed with every run. */
    uint32_t keys;
    uint32_t clients;
    uint32_t read_pct;          /* reads (RK.GET) */
    uint32_t blind_pct;         /* blind writes (SET) */
    uint32_t rmw_pct;           /* RK.GET then RK.PUT with its context */
    uint32_t cart_add_pct;      /* cart: SADD of a new member (the rest: SREM, SMEMBERS);
                                 * counter: INCRBY; map: HINCRBY of a counter field */
    uint32_t cart_remove_pct;   /* cart: SREM of a member the client last read, else SMEMBERS;
                                 * counter: INCRBY too; map: HSET or HDEL of a register field */
    uint32_t request_timeout_ms;
    /* Cart under union or set (issue 14): before the clients and the faults start, every key
     * gets this many members "p0".."p<N-1>" (SADDs of RK_SIM_PRELOAD_BATCH, one key's batches
     * one after the other), recorded in the history as adds; the clients' SREMs may remove
     * them. 0: none, and the run is the one it always was. */
    uint32_t preload_members;
    bool trace;                 /* print every event to stderr */
    /* A scripted fault schedule (scenario.h), borrowed for the run; NULL: none. Its steps run
     * beside the random faults of `faults`, and the workload phase lasts until both the
     * clients and the steps are done. */
    const struct rk_sim_scenario *scenario;
} rk_sim_config;

void rk_sim_config_default(rk_sim_config *c);

/* Whether the workload and policy of c go together: the values workload needs siblings or
 * lww, the cart workload union, set, counter or map. NULL if they do, else a sentence saying
 * what is needed (static text). rk_sim_run refuses the rest with RK_EINVAL. */
const char *rk_sim_config_mismatch(const rk_sim_config *c);

/* Parse "none" | "partition" | "crash" | "pause" | "loss" | "skew" | "stop" | "membership" |
 * "all", or a
 * comma list of them. Returns 0 or RK_EINVAL. */
int rk_sim_faults_parse(const char *text, uint32_t *out);
/* Writes the canonical text of a mask into out (at least 48 bytes). */
void rk_sim_faults_name(uint32_t faults, char *out, size_t out_size);

typedef struct rk_sim_result {
    uint64_t ops;
    uint64_t reads;
    uint64_t writes;            /* sets, puts and deletes */
    uint64_t acked_writes;
    uint64_t indeterminate;     /* writes that timed out after being sent */
    uint64_t refused;           /* writes refused before anything happened */
    uint64_t failed_reads;
    uint64_t lost_acked_writes;
    uint64_t lww_dropped;
    uint64_t resurrected_deletes;
    uint64_t stale_reads;
    uint64_t dots_reused;       /* two acked or indeterminate writes of one key with one dot */
    /* The cart workload's checkers (check_cart.h): counted only with RK_SIM_WORKLOAD_CART,
     * when the value checkers above stay 0 because they do not run. */
    uint64_t acked_adds;        /* SADDs answered */
    uint64_t acked_removes;     /* SREMs answered 1: they observed the member and removed it */
    uint64_t lost_adds;
    uint64_t resurrected_removes;
    /* Under counter and map (check_cart.h): INCRBYs and HINCRBYs answered, and counters whose
     * final value lies outside what the acknowledged and unknown increments allow. */
    uint64_t acked_increments;
    uint64_t counter_out_of_range;
    uint64_t final_reads_failed;    /* keys whose final read at R = N did not answer */
    /* With preload_members: the preload's SADDs, those not acknowledged (promised 0: nothing
     * faults yet), and the preloaded members the final reads hold (all of them but those the
     * clients removed). */
    uint64_t preload_ops;
    uint64_t preload_unacked;
    uint64_t preloaded_present;
    bool converged;
    uint64_t keys_diverged;
    /* Anti-entropy: whether every partition's primaries ended with equal trees (no_read_repair
     * runs only), the simulated time that took after the heal, and the nodes whose kept trees
     * differ from trees rebuilt from their stores at the end (promised 0). */
    bool aae_converged;
    uint64_t aae_converge_ms;
    uint64_t aae_trees_mismatched;
    uint64_t aae_keys_repaired;
    uint64_t tombstones_reaped;     /* summed over the nodes */
    uint64_t tombstones_left;       /* stored tombstones at the end, every node's copies */
    /* Hinted handoff after the heal: hint records still held, and copies still on nodes that
     * are not primaries of their key (both promised 0: every hint went home). */
    uint64_t hints_left;
    uint64_t hinted_copies_left;
    uint64_t simulated_ms;
    uint64_t events;
    uint64_t messages;
    uint64_t crashes;
    uint64_t clean_stops;       /* stops whose clean-stop mark was durable (in crashes too) */
    uint64_t partitions;
    uint64_t pauses;
    uint64_t trace_hash;
    uint64_t scenario_steps;    /* scripted steps run */
    /* Membership changes (membership.c), with the membership fault or join/leave steps only:
     * plans committed for joins and for leaves, crashes of a node while its transfer ran, the
     * members and ring version at the end, whether every member agreed then (one ring, one
     * member list, all valid, nothing moving), and the transfer units still pending. */
    bool membership;
    uint64_t joins;
    uint64_t leaves;
    uint64_t transfer_crashes;
    uint64_t commits_lost;      /* committed changes the cluster never heard of (a crash) */
    uint64_t members_final;
    uint64_t ring_version_final;
    bool members_converged;
    uint64_t transfers_left;
    /* Per node, by index (node id - 1): writes clients sent to it, those refused or
     * indeterminate (the per-node split of unavailable_writes: a strict quorum's minority side
     * shows here), and the link-down notices it received (rk_node_on_peer up=false). */
    uint64_t writes_by_node[RK_SIM_NODES_MAX];
    uint64_t unavailable_writes_by_node[RK_SIM_NODES_MAX];
    uint64_t peer_down_by_node[RK_SIM_NODES_MAX];
    /* What the configuration promises, and whether it held. */
    bool promise_no_lost;
    bool promise_no_stale;
    bool failed;
    char failures[160];         /* the promised checkers that failed, comma-separated */
} rk_sim_result;

/* Run one simulation. Returns 0 and fills *out, or RK_EINVAL for a config the core refuses
 * (n, r, w out of range, too many nodes) or RK_ENOMEM. */
int rk_sim_run(const rk_sim_config *c, rk_sim_result *out);

#endif
