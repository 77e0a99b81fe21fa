/* sim_internal.h — the simulated world shared by the modules of src/sim: the event queue and
 * PRNG (sim.c), the network (net.c), nodes, stores and faults (world.c), clients (workload.c),
 * the history (history.c) and the checkers (check.c, and check_cart.c through check_cart.h).
 * Nothing outside src/sim includes it. */
#ifndef RK_SIM_INTERNAL_H
#define RK_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <xxhash.h>

#include "../core/dvvset.h"
#include "../core/msg.h"
#include "../core/node.h"
#include "../core/version.h"
#include "scenario.h"
#include "sim.h"

/* ---- PRNG: xoshiro256** seeded through splitmix64; the one source of every choice -------- */

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

void sim_rng_seed(sim_rng *rng, uint64_t seed);
uint64_t sim_rng_next(sim_rng *rng);
/* Uniform in [0, bound); bound > 0. */
uint64_t sim_rng_below(sim_rng *rng, uint64_t bound);
/* Uniform in [lo, hi]. */
uint64_t sim_rng_range(sim_rng *rng, uint64_t lo, uint64_t hi);
/* True with probability per_mille / 1000. */
bool sim_rng_chance(sim_rng *rng, uint32_t per_mille);

/* ---- events -------------------------------------------------------------------------------- */

typedef enum sim_event_kind {
    SIM_EV_MSG = 1,         /* a message reaches `node` from `from` */
    SIM_EV_TIMER = 2,       /* a node's timer `a` */
    SIM_EV_SYNC = 3,        /* a node's sync up to seq `a` completes */
    SIM_EV_REQ = 4,         /* a client request (op `a`) reaches `node` */
    SIM_EV_CLIENT = 5,      /* client `a` starts its next operation */
    SIM_EV_CLIENT_TIMEOUT = 6, /* op `a` gave up waiting */
    SIM_EV_FAULT = 7,       /* the fault schedule acts */
    SIM_EV_HEAL = 8,        /* one fault ends: `a` is a sim_heal_kind, `b` its argument */
    SIM_EV_PEER = 9,        /* `node` learns whether its link to `from` is up */
    SIM_EV_SCENARIO = 10,   /* step `a` of the scripted scenario runs (scenario.c) */
    SIM_EV_PRELOAD = 11,    /* a preload SADD is sent again: key `a`, first member `b` (its
                             * try in a's upper 32 bits) */
} sim_event_kind;

typedef enum sim_heal_kind {
    SIM_HEAL_PARTITION = 1,
    SIM_HEAL_RESTART = 2,
    SIM_HEAL_RESUME = 3,
    SIM_HEAL_LOSS = 4,
    SIM_HEAL_STOP_STEP = 5,     /* not an end: the next step of node `b`'s clean stop */
} sim_heal_kind;

typedef struct sim_msg sim_msg;

typedef struct sim_event {
    uint64_t at_ms;
    uint64_t seq;               /* insertion order: ties at one time replay in it */
    uint8_t kind;
    uint32_t node;              /* target node index, when there is one */
    uint64_t inc;               /* target incarnation (0: any) */
    uint32_t from;              /* MSG: sender index; PEER: the peer */
    uint64_t from_inc;
    uint64_t a;
    uint64_t b;
    uint32_t tag;               /* the client op whose handling caused this event, 0 if none */
    sim_msg *msg;
    struct sim_event *next;     /* a paused node's backlog */
} sim_event;

/* ---- nodes and stores ---------------------------------------------------------------------- */

typedef struct sim_world sim_world;
typedef struct sim_node sim_node;

/* The store a node sees: the mem engine behind a thin wrapper that lets the simulator watch
 * every object written (to learn the dot and history of each client write). */
typedef struct sim_store {
    rk_store base;
    rk_store *inner;            /* mem engine, survives crashes */
    sim_node *node;
} sim_store;

struct sim_node {
    sim_world *w;
    uint32_t index;
    rk_node_id id;
    rk_node *node;              /* NULL while crashed */
    rk_env env;
    sim_store store;
    uint64_t inc;               /* incarnation, bumped at each crash */
    bool paused;
    sim_event *backlog_head;
    sim_event *backlog_tail;
    int64_t skew_us;
    uint32_t group;             /* partition group */
    uint16_t cut_to_mask;       /* one-way cuts: bit b set, what this node sends to b is lost */
    bool link_known_up[RK_SIM_NODES_MAX]; /* what this node was last told about each peer */
    /* sync */
    bool sync_inflight;
    uint64_t sync_target;
    uint64_t sync_wanted;
    uint64_t sync_busy_until_ms;
    int sync_fail_error;        /* fixture.c: the next sync fails with this RK_E* (0: none) */
    /* a clean stop under way (the stop fault); a crash ends it */
    bool stopping;
    bool stop_marked;           /* rk_node_stop_clean returned 0 */
    uint32_t stop_steps;        /* asks so far */
    /* membership.c: whether clients may send here (a member the sim joined or started with,
     * not committed to leave), and whether its leave was committed (its slot becomes a spare
     * with a fresh id once it is gone). A spare is neither. */
    bool member;
    bool leaving;
};

/* ---- history ------------------------------------------------------------------------------- */

typedef enum sim_op_kind {
    SIM_OP_READ = 1,    /* RK.GET */
    SIM_OP_SET = 2,     /* SET: a blind write */
    SIM_OP_VPUT = 3,    /* RK.PUT with the context of a read */
    SIM_OP_DEL = 4,     /* DEL: a plain delete (lww) */
    SIM_OP_VDEL = 5,    /* RK.DEL with the context of a read */
    SIM_OP_SADD = 6,    /* cart: SADD of the new member "m<op id>" */
    SIM_OP_SREM = 7,    /* cart: SREM of a member the client's last SMEMBERS of the key saw */
    SIM_OP_SMEMBERS = 8,    /* cart: a read of the members */
    SIM_OP_INCRBY = 9,      /* cart under counter: INCRBY key quantity */
    SIM_OP_COUNTER_GET = 10,    /* cart under counter: GET key, the decimal value */
    SIM_OP_HINCRBY = 11,    /* cart under map: HINCRBY key item<field> quantity */
    SIM_OP_HSET = 12,       /* cart under map: HSET key note<field> "v<op id>" */
    SIM_OP_HDEL = 13,       /* cart under map: HDEL key note<field> */
    SIM_OP_HGETALL = 14,    /* cart under map: a read of every field */
} sim_op_kind;

typedef enum sim_outcome {
    SIM_PENDING = 0,
    SIM_OK = 1,
    SIM_REFUSED = 2,    /* did not happen */
    SIM_INDET = 3,      /* sent, not acknowledged: may or may not take effect */
    SIM_FAILED = 4,     /* a read that returned an error or timed out */
} sim_outcome;

typedef struct sim_op {
    uint32_t id;
    uint32_t client;
    uint8_t kind;
    uint8_t outcome;
    uint32_t key;
    uint32_t node;              /* the node the client sent it to */
    uint64_t invoke_ms;
    uint64_t complete_ms;
    int error;
    /* writes, learnt from the coordinator's store write and wall clock */
    bool dot_known;
    rk_dot dot;
    bool ts_known;
    uint64_t ts_us;
    uint8_t *hist;              /* encoded history of the object the coordinator wrote */
    size_t hist_len;
    uint32_t mints;             /* > 1: a duplicated forward coordinated it twice */
    /* VPUT/VDEL: the token sent; READ: the token returned */
    char *ctx;
    uint32_t *seen;             /* READ: ops whose values it returned; SMEMBERS: the SADD ops
                                 * whose members it returned */
    uint32_t seen_count;
    /* cart: the SADD op whose member "m<id>" this SADD or SREM names, and the INT reply of any
     * cart write */
    uint32_t member;            /* SIM_MEMBER_PRELOADED | i: the preloaded member "p<i>" */
    int64_t reply;
    /* cart preload (issue 14): an SADD of "p<first>".."p<first + count - 1>" (count 0: not one) */
    uint32_t preload_first;
    uint32_t preload_count;
    uint32_t preload_try;       /* 0 the first time; a batch not acknowledged is sent again */
    /* cart under counter and map: INCRBY's and HINCRBY's quantity; the field HINCRBY (item<n>),
     * HSET and HDEL (note<n>) name */
    int64_t quantity;
    uint32_t field;
} sim_op;

/* A member that names no SADD op but the preload's "p<i>": SIM_MEMBER_PRELOADED | i (op ids stay
 * below RK_SIM_OPS_MAX, far under this bit). */
#define SIM_MEMBER_PRELOADED 0x80000000u
_Static_assert(RK_SIM_OPS_MAX < SIM_MEMBER_PRELOADED, "op ids and preloaded members differ");

/* ---- the world ----------------------------------------------------------------------------- */

typedef struct sim_client {
    uint32_t op;                /* current op, 0 if none */
    uint8_t plan;               /* what the current operation is (workload.c) */
    bool done;
    uint32_t *last_read;        /* cart: per key, the client's last answered SMEMBERS (0: none) */
} sim_client;

/* cart: the final read of one key at R = N, after heal and quiescence: SMEMBERS under union
 * and set, GET under counter, HGETALL under map. */
typedef struct sim_cart_final {
    bool read;                  /* it answered */
    uint8_t *members;           /* union, set: the members, as an element list (elems.h) */
    size_t members_len;
    uint8_t *pairs;             /* counter, map: field, value, ... as an element list; a
                                 * counter's one field is "" (none when it read nil) */
    size_t pairs_len;
} sim_cart_final;

struct sim_world {
    rk_sim_config cfg;
    sim_rng rng;
    uint64_t now_ms;
    uint64_t seq;
    sim_event **heap;
    size_t heap_count;
    size_t aae_timers;          /* of them, anti-entropy ticks: they never let a run go quiet */
    size_t heap_cap;
    XXH3_state_t *trace;
    uint32_t current_tag;       /* tag of the event being handled */
    uint32_t current_node;      /* node handling it, UINT32_MAX for none */
    bool stamped_now;           /* that node took an LWW stamp for the event's write op */
    rk_node_config node_config;
    sim_node nodes[RK_SIM_NODES_MAX];
    /* network */
    bool loss_on;
    bool partitioned;
    bool faulting;              /* the fault schedule still acts */
    uint32_t down_count;
    uint32_t stopping_count;    /* nodes in a clean stop: down soon */
    /* workload */
    sim_client *clients;
    sim_op *ops;                /* ops[1..op_count]; 0 is no op */
    uint32_t op_count;
    uint32_t op_cap;
    uint32_t clients_done;
    char (*key_names)[16];
    sim_cart_final *cart_finals;    /* cart: [key] */
    uint32_t preload_pending;   /* preload SADDs without an outcome yet */
    /* membership.c: on with the membership fault or join/leave steps (else nothing there runs
     * and runs replay as before); the slots that start alone, the next fresh id, and per slot
     * the member table generation last looked at and the slots it was told links to since. */
    bool membership_on;
    uint32_t spare_mask;
    rk_node_id id_next;
    uint64_t members_generation[RK_SIM_NODES_MAX];
    uint32_t linked_mask[RK_SIM_NODES_MAX];
    rk_sim_result res;
    /* fixture.c only (NULL in rk_sim_run): the node config the world starts from, and who
     * gets the client replies instead of the workload. */
    const rk_node_config *node_config_base;
    void (*reply_hook)(void *ctx, uint32_t node, uint64_t client_req, const rk_reply *r);
    void *hook_ctx;
};

/* sim.c */
sim_event *sim_event_new(sim_world *w, uint8_t kind, uint64_t at_ms);
void sim_schedule(sim_world *w, sim_event *e);
void sim_event_free(sim_event *e);
void sim_trace_bytes(sim_world *w, const void *bytes, size_t len);
void sim_trace_u64(sim_world *w, uint64_t v);
/* A world for c (config checked by the caller): its PRNG seeded, its trace started, no nodes
 * yet (sim_world_start). NULL when out of memory. */
sim_world *sim_world_new(const rk_sim_config *c);
/* Drop every pending event, stop the nodes, free the world. */
void sim_world_free(sim_world *w);
/* The next event in (time, seq) order, taken out of the queue; NULL if none. */
sim_event *sim_pop(sim_world *w);
/* Move the clock to e's time, trace and dispatch it. Takes e. */
void sim_event_run(sim_world *w, sim_event *e);

/* net.c */
void sim_msg_free(sim_msg *m);
/* A copy of a frame in flight (a duplicated message). */
sim_msg *sim_msg_dup(const sim_msg *m);
void sim_net_send(sim_world *w, sim_node *from, rk_node_id to, const rk_msg *m);
void sim_net_deliver(sim_world *w, sim_event *e);
bool sim_link_up(const sim_world *w, uint32_t a, uint32_t b);
/* Tell every node, after the detection delay, what its links now are. */
void sim_links_changed(sim_world *w);
void sim_net_on_peer(sim_world *w, sim_event *e);
void sim_partition_start(sim_world *w);
void sim_partition_heal(sim_world *w);
/* Put node index i in group[i] (cfg.nodes entries): a partition until healed. */
void sim_partition_set(sim_world *w, const uint32_t *group);
/* From now on what the nodes of from_mask send to those of to_mask is lost (bits are indices). */
void sim_cut_add(sim_world *w, uint16_t from_mask, uint16_t to_mask);
/* End every partition and cut; tells the nodes only if something changed. */
void sim_net_heal(sim_world *w);

/* world.c */
int sim_world_start(sim_world *w);
void sim_world_stop(sim_world *w);
void sim_node_dispatch(sim_world *w, sim_event *e);
void sim_node_crash(sim_world *w, sim_node *sn);
/* A crash that loses the whole disk: the node's store is replaced by an empty one. 0 or the
 * store's error. */
int sim_node_wipe(sim_world *w, sim_node *sn);
int sim_node_restart(sim_world *w, sim_node *sn);
void sim_faults_on_tick(sim_world *w);
void sim_faults_on_heal(sim_world *w, sim_event *e);
void sim_faults_heal_all(sim_world *w);
void sim_node_on_sync_event(sim_world *w, sim_event *e);
void sim_node_pause(sim_world *w, sim_node *sn);
void sim_node_resume(sim_world *w, sim_node *sn);

/* workload.c */
/* The clients' state; with cfg.preload_members the preload's first SADDs are sent, else the
 * clients start (sim_workload_clients_start). */
int sim_workload_start(sim_world *w);
/* Whether every preload SADD has its outcome (at once without a preload). */
bool sim_workload_preloaded(const sim_world *w);
/* The clients' first operations: after the preload, if any. */
void sim_workload_clients_start(sim_world *w);
/* SIM_EV_PRELOAD: send a preload batch again. */
void sim_workload_on_preload(sim_world *w, const sim_event *e);
void sim_workload_on_client(sim_world *w, uint32_t client);
void sim_workload_on_request(sim_world *w, sim_event *e);
void sim_workload_on_reply(sim_world *w, uint64_t client_req, const rk_reply *r);
void sim_workload_on_timeout(sim_world *w, uint32_t op);
/* Convergence: read every key once through some node, ignoring the answers. */
void sim_workload_read_all(sim_world *w);
#define SIM_REQ_INTERNAL (1ull << 62)   /* client_req of the convergence reads */

/* history.c */
sim_op *sim_op_new(sim_world *w, uint32_t client, uint8_t kind, uint32_t key, uint32_t node);
void sim_history_on_store_write(sim_world *w, sim_node *sn, const rk_dvvset *set);
void sim_history_on_stamp(sim_world *w, sim_node *sn);
void sim_history_free(sim_world *w);
/* SET, RK.PUT, DEL, RK.DEL, SADD, SREM, INCRBY, HINCRBY, HSET, HDEL: what may change a key
 * (refused, indeterminate). */
bool sim_op_is_write(const sim_op *op);
/* The cart's ops (SADD ... HGETALL): judged by what the clients saw only (check_cart.h). */
bool sim_op_is_cart(const sim_op *op);

/* scenario.c: the scripted steps of cfg.scenario, if any */
void sim_scenario_start(sim_world *w);
void sim_scenario_on_step(sim_world *w, sim_event *e);
/* True once every step ran (at once without a scenario). */
bool sim_scenario_done(const sim_world *w);
/* The RK_SIM_FAULT_* kinds the scenario's steps inject (cuts count as partitions), so the
 * checkers promise no more than they would under those random faults. */
uint32_t sim_scenario_faults(const sim_world *w);
/* The slots `join` steps name (they start alone), and whether any step is a `leave`. */
uint32_t sim_scenario_join_mask(const sim_world *w);
bool sim_scenario_has_leave(const sim_world *w);

/* membership.c */
/* Before sim_world_start: whether membership changes are on, and which slots start alone. */
void sim_membership_setup(sim_world *w);
/* After sim_world_start: the links each node was told about. */
void sim_membership_start(sim_world *w);
/* After each event: a node whose member table gained members is told whether its links to
 * them are up, as the runtime's handshake tells it. Nothing when membership is off. */
void sim_membership_follow(sim_world *w);
/* The same, whatever the configuration (the fixture's steps); and slot a's links taken as its
 * table says now, telling it nothing (at start and restart, whose callers tell it every link). */
void sim_links_follow(sim_world *w);
void sim_links_taken(sim_world *w, uint32_t a);
/* The membership fault's turn in the fault schedule. */
void sim_membership_on_tick(sim_world *w);
/* Scripted steps: node index `index` joins through node 1 (or the first member up) and the
 * plan is committed; or its leave is staged and committed. 0, or RK_EBUSY while a plan moves
 * (try again later), or another RK_E* when the change is impossible (refused for good). */
int sim_membership_join(sim_world *w, uint32_t index);
int sim_membership_leave(sim_world *w, uint32_t index);
/* Whether clients send to slot `index`: up, and a member when membership is on. */
bool sim_node_serves(const sim_world *w, uint32_t index);
/* The slot of node `id`, or -1. */
int sim_node_index_of(const sim_world *w, rk_node_id id);
/* The slot whose ring the checkers use: the first member up (slot 0 without membership). */
uint32_t sim_anchor(const sim_world *w);
/* Run until the queue is quiet, for at most RK_SIM_MEMBERSHIP_SETTLE_MS (a plan that never
 * finishes retries for ever); sim_membership_check then judges the members. */
void sim_membership_settle(sim_world *w);
void sim_membership_check(sim_world *w);

/* check.c */
void sim_check(sim_world *w);
/* Record a promised checker `name` as failed when `broken`. */
void sim_check_promise(sim_world *w, bool broken, const char *name);
/* After sim_check: anti-entropy's promises (trees agreed, kept trees equal rebuilt ones). */
void sim_check_aae(sim_world *w);

#endif
