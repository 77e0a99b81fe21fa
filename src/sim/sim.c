/* sim.c — the simulator's heart: the one seeded PRNG, the event queue (a binary heap ordered by
 * (time, insertion sequence), so ties replay in the order they were scheduled), the trace hash,
 * and rk_sim_run, which runs the phases: the cart's preload if asked (issue 14), workload under
 * faults, heal, quiescence, one read of every key (read repair), quiescence again, then the
 * checkers. */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/aae.h"
#include "../core/ring.h"
#include "sim_internal.h"

/* A run that schedules more events than this is stuck in a loop; stop it rather than hang. */
#define SIM_EVENTS_MAX 200000000ull

/* ---- PRNG ----------------------------------------------------------------------------------- */

static uint64_t sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        rng->s[i] = sim_splitmix64(&x);
    }
}

static uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(sim_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

uint64_t sim_rng_below(sim_rng *rng, uint64_t bound)
{
    RK_ASSERT(bound > 0);
    /* Lemire's multiply-shift without the rejection step: the bias is below 2^-40 for the small
     * bounds used here, and determinism is what matters. */
    return (uint64_t)(((unsigned __int128)sim_rng_next(rng) * bound) >> 64);
}

uint64_t sim_rng_range(sim_rng *rng, uint64_t lo, uint64_t hi)
{
    RK_ASSERT(lo <= hi);
    return lo + sim_rng_below(rng, hi - lo + 1);
}

bool sim_rng_chance(sim_rng *rng, uint32_t per_mille)
{
    return sim_rng_below(rng, 1000) < per_mille;
}

/* ---- config -------------------------------------------------------------------------------- */

void rk_sim_config_default(rk_sim_config *c)
{
    memset(c, 0, sizeof(*c));
    c->seed = 1;
    c->nodes = 5;
    c->n = 3;
    c->r = 2;
    c->w = 2;
    c->ops = 2000;
    c->faults = 0;
    c->policy = RK_POLICY_SIBLINGS;
    c->sync = RK_SYNC_BATCH;
    c->keys = 20;
    c->clients = 8;
    c->read_pct = 50;
    c->blind_pct = 20;
    c->rmw_pct = 20;    /* the rest (10%) are deletes */
    c->cart_add_pct = 50;
    c->cart_remove_pct = 25;    /* the rest (25%) are SMEMBERS */
    c->request_timeout_ms = 1000;
}

const char *rk_sim_config_mismatch(const rk_sim_config *c)
{
    bool values_policy = c->policy == RK_POLICY_SIBLINGS || c->policy == RK_POLICY_LWW;
    bool cart_policy = c->policy == RK_POLICY_UNION || c->policy == RK_POLICY_SET ||
                       c->policy == RK_POLICY_COUNTER || c->policy == RK_POLICY_MAP;
    if (c->workload == RK_SIM_WORKLOAD_VALUES && !values_policy) {
        return "the values workload needs --policy siblings or lww (union, set, counter and map "
               "hold merge types: use --workload cart)";
    }
    if (c->workload == RK_SIM_WORKLOAD_CART && !cart_policy) {
        return "the cart workload needs --policy union, set, counter or map";
    }
    if (c->workload != RK_SIM_WORKLOAD_VALUES && c->workload != RK_SIM_WORKLOAD_CART) {
        return "unknown workload";
    }
    bool sets = c->policy == RK_POLICY_UNION || c->policy == RK_POLICY_SET;
    if (c->preload_members > 0 && (c->workload != RK_SIM_WORKLOAD_CART || !sets)) {
        return "--preload-members needs --workload cart with --policy set or union (a map's "
               "checker judges only its item counters, so preloaded fields would go unjudged)";
    }
    return NULL;
}

static const struct {
    const char *name;
    uint32_t mask;
} sim_fault_names[] = {
    {"partition", RK_SIM_FAULT_PARTITION}, {"crash", RK_SIM_FAULT_CRASH},
    {"pause", RK_SIM_FAULT_PAUSE},         {"loss", RK_SIM_FAULT_LOSS},
    {"skew", RK_SIM_FAULT_SKEW},           {"stop", RK_SIM_FAULT_STOP},
    {"membership", RK_SIM_FAULT_MEMBERSHIP},
};
#define SIM_FAULT_NAME_COUNT (sizeof(sim_fault_names) / sizeof(sim_fault_names[0]))

int rk_sim_faults_parse(const char *text, uint32_t *out)
{
    uint32_t mask = 0;
    const char *p = text;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        bool found = false;
        if (len == 4 && strncmp(p, "none", 4) == 0) {
            found = true;
        } else if (len == 3 && strncmp(p, "all", 3) == 0) {
            mask |= RK_SIM_FAULT_ALL;
            found = true;
        }
        for (size_t i = 0; i < SIM_FAULT_NAME_COUNT && !found; i++) {
            if (strlen(sim_fault_names[i].name) == len &&
                strncmp(p, sim_fault_names[i].name, len) == 0) {
                mask |= sim_fault_names[i].mask;
                found = true;
            }
        }
        if (!found || len == 0) {
            return RK_EINVAL;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    *out = mask;
    return 0;
}

void rk_sim_faults_name(uint32_t faults, char *out, size_t out_size)
{
    if (faults == 0) {
        snprintf(out, out_size, "none");
        return;
    }
    uint32_t rest = faults & ~RK_SIM_FAULT_MEMBERSHIP;
    if (rest == RK_SIM_FAULT_ALL || rest == (RK_SIM_FAULT_ALL | RK_SIM_FAULT_STOP)) {
        snprintf(out, out_size, "%s%s", rest == RK_SIM_FAULT_ALL ? "all" : "all,stop",
                 rest != faults ? ",membership" : "");
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < SIM_FAULT_NAME_COUNT; i++) {
        if ((faults & sim_fault_names[i].mask) != 0 && used < out_size) {
            int n = snprintf(out + used, out_size - used, "%s%s", used > 0 ? "," : "",
                             sim_fault_names[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
}

/* ---- events -------------------------------------------------------------------------------- */

sim_event *sim_event_new(sim_world *w, uint8_t kind, uint64_t at_ms)
{
    sim_event *e = calloc(1, sizeof(*e));
    RK_ASSERT(e != NULL);
    e->kind = kind;
    e->at_ms = at_ms < w->now_ms ? w->now_ms : at_ms;
    e->tag = w->current_tag;
    return e;
}

void sim_event_free(sim_event *e)
{
    if (e->msg != NULL) {
        sim_msg_free(e->msg);
    }
    free(e);
}

static bool sim_event_before(const sim_event *a, const sim_event *b)
{
    return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->seq < b->seq);
}

void sim_schedule(sim_world *w, sim_event *e)
{
    RK_ASSERT(e->at_ms >= w->now_ms);
    if (w->heap_count == w->heap_cap) {
        size_t cap = w->heap_cap == 0 ? 1024 : w->heap_cap * 2;
        sim_event **grown = realloc(w->heap, cap * sizeof(*grown));
        RK_ASSERT(grown != NULL);
        w->heap = grown;
        w->heap_cap = cap;
    }
    e->seq = ++w->seq;
    w->aae_timers += e->kind == SIM_EV_TIMER && e->a == RK_TIMER_AAE ? 1u : 0u;
    size_t i = w->heap_count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sim_event_before(e, w->heap[parent])) {
            break;
        }
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = e;
}

sim_event *sim_pop(sim_world *w)
{
    if (w->heap_count == 0) {
        return NULL;
    }
    sim_event *top = w->heap[0];
    if (top->kind == SIM_EV_TIMER && top->a == RK_TIMER_AAE) {
        RK_ASSERT(w->aae_timers > 0);
        w->aae_timers--;
    }
    sim_event *last = w->heap[--w->heap_count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= w->heap_count) {
            break;
        }
        if (child + 1 < w->heap_count && sim_event_before(w->heap[child + 1], w->heap[child])) {
            child++;
        }
        if (!sim_event_before(w->heap[child], last)) {
            break;
        }
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (w->heap_count > 0) {
        w->heap[i] = last;
    }
    return top;
}

void sim_trace_bytes(sim_world *w, const void *bytes, size_t len)
{
    XXH3_64bits_update(w->trace, bytes, len);
}

void sim_trace_u64(sim_world *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    XXH3_64bits_update(w->trace, b, sizeof(b));
}

/* The canonical encoding of an event for the trace hash: its time, kind, target and
 * arguments in fixed-width little-endian; a message adds its own bytes (net.c). */
static void sim_trace_event(sim_world *w, const sim_event *e)
{
    sim_trace_u64(w, e->at_ms);
    sim_trace_u64(w, ((uint64_t)e->kind << 56) | ((uint64_t)e->node << 32) | e->from);
    sim_trace_u64(w, e->a);
    sim_trace_u64(w, e->b);
    sim_trace_u64(w, e->tag);
    if (w->cfg.trace) {
        fprintf(stderr, "%8" PRIu64 " ev%u node=%u from=%u a=%" PRIu64 " b=%" PRIu64 " tag=%u\n",
                e->at_ms, e->kind, e->node, e->from, e->a, e->b, e->tag);
    }
}

static void sim_dispatch(sim_world *w, sim_event *e)
{
    w->current_tag = e->tag;
    w->current_node = UINT32_MAX;
    w->stamped_now = false;
    switch ((sim_event_kind)e->kind) {
    case SIM_EV_MSG:
    case SIM_EV_TIMER:
    case SIM_EV_SYNC:
    case SIM_EV_REQ:
    case SIM_EV_PEER:
        sim_node_dispatch(w, e);   /* takes e */
        return;
    case SIM_EV_CLIENT:
        sim_workload_on_client(w, (uint32_t)e->a);
        break;
    case SIM_EV_CLIENT_TIMEOUT:
        sim_workload_on_timeout(w, (uint32_t)e->a);
        break;
    case SIM_EV_FAULT:
        sim_faults_on_tick(w);
        break;
    case SIM_EV_HEAL:
        sim_faults_on_heal(w, e);
        break;
    case SIM_EV_SCENARIO:
        sim_scenario_on_step(w, e);
        break;
    case SIM_EV_PRELOAD:
        sim_workload_on_preload(w, e);
        break;
    }
    sim_event_free(e);
}

void sim_event_run(sim_world *w, sim_event *e)
{
    RK_ASSERT(e->at_ms >= w->now_ms);
    w->now_ms = e->at_ms;
    w->res.events++;
    RK_ASSERT(w->res.events < SIM_EVENTS_MAX);
    sim_trace_event(w, e);
    sim_dispatch(w, e);
    w->current_tag = 0;
    sim_membership_follow(w);
}

/* Run events until the queue is empty (quiescence) or `stop` says so. Anti-entropy's ticks
 * recur for ever, so a queue holding nothing else is quiet too. */
static void sim_run_until_quiet(sim_world *w, bool (*stop)(const sim_world *w))
{
    while (stop == NULL || !stop(w)) {
        if (w->heap_count == w->aae_timers) {
            return;
        }
        sim_event *e = sim_pop(w);
        if (e == NULL) {
            return;
        }
        sim_event_run(w, e);
    }
}

/* Until quiet; with membership changes bounded (sim_membership_settle), since a plan that
 * never finishes retries for ever and the membership checker must get to say so. */
static void sim_drain(sim_world *w)
{
    if (w->membership_on) {
        sim_membership_settle(w);
        return;
    }
    sim_run_until_quiet(w, NULL);
}

/* A fresh cluster's stores are all new: each node learns its epoch from the others (epochs.h)
 * and refuses writes until then, one round trip. The workload starts after it, as
 * tests/cluster/lib.sh waits for epoch_learning:0 before a test's first write. */
static bool sim_epochs_learned(const sim_world *w)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (w->nodes[i].node != NULL && rk_node_stats_get(w->nodes[i].node)->epoch_learning) {
            return false;
        }
    }
    return true;
}

/* The workload phase ends when the clients are done and every scripted step has run. */
static bool sim_workload_done(const sim_world *w)
{
    return w->clients_done == w->cfg.clients && sim_scenario_done(w);
}

static int sim_config_check(const rk_sim_config *c)
{
    if (c->nodes == 0 || c->nodes > RK_SIM_NODES_MAX || c->n == 0 || c->n > RK_N_MAX) {
        return RK_EINVAL;
    }
    if (c->r == 0 || c->r > c->n || c->w == 0 || c->w > c->n || c->ops == 0 ||
        c->ops > RK_SIM_OPS_MAX) {
        return RK_EINVAL;
    }
    if (c->keys == 0 || c->keys > RK_SIM_KEYS_MAX || c->clients == 0 ||
        c->read_pct + c->blind_pct + c->rmw_pct > 100) {
        return RK_EINVAL;
    }
    if (c->cart_add_pct + c->cart_remove_pct > 100 || rk_sim_config_mismatch(c) != NULL) {
        return RK_EINVAL;
    }
    if (c->scenario != NULL && rk_sim_scenario_nodes(c->scenario) != c->nodes) {
        return RK_EINVAL;
    }
    if (c->preload_members > RK_SIM_PRELOAD_MAX) {
        return RK_EINVAL;
    }
    return 0;
}

sim_world *sim_world_new(const rk_sim_config *c)
{
    sim_world *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->cfg = *c;
    w->current_node = UINT32_MAX;
    sim_rng_seed(&w->rng, c->seed);
    w->trace = XXH3_createState();
    RK_ASSERT(w->trace != NULL);
    XXH3_64bits_reset(w->trace);
    return w;
}

void sim_world_free(sim_world *w)
{
    while (w->heap_count > 0) {
        sim_event_free(sim_pop(w));
    }
    free(w->heap);
    sim_world_stop(w);
    sim_history_free(w);
    XXH3_freeState(w->trace);
    free(w);
}

/* Run every event due in the next `ms` of simulated time (anti-entropy's ticks keep coming). */
static void sim_run_for(sim_world *w, uint64_t ms)
{
    uint64_t until = w->now_ms + ms;
    while (w->heap_count > 0 && w->heap[0]->at_ms <= until) {
        sim_event_run(w, sim_pop(w));
    }
    w->now_ms = until > w->now_ms ? until : w->now_ms;
}

/* Whether the primaries of every partition hold built, equal trees. */
static bool sim_trees_agree(const sim_world *w)
{
    const rk_ring *ring = rk_node_ring(w->nodes[sim_anchor(w)].node);
    uint32_t n = w->cfg.n < w->cfg.nodes ? w->cfg.n : w->cfg.nodes;
    for (uint32_t p = 0; p < ring->partition_count; p++) {
        rk_node_id list[RK_N_MAX];
        uint32_t primaries = 0;
        int count = rk_ring_preflist(ring, p, n, list, RK_N_MAX, &primaries);
        RK_ASSERT(count > 0);
        int first = sim_node_index_of(w, list[0]);
        RK_ASSERT(first >= 0);
        for (uint32_t i = 1; i < primaries; i++) {
            int other = sim_node_index_of(w, list[i]);
            RK_ASSERT(other >= 0);
            if (!rk_node_aae_agrees(w->nodes[first].node, w->nodes[other].node, p)) {
                return false;
            }
        }
    }
    return true;
}

/* Run until every partition's trees agree, looking every 100 simulated ms, for at most
 * RK_SIM_AAE_CONVERGE_MS. */
static void sim_run_aae(sim_world *w)
{
    uint64_t start = w->now_ms;
    uint64_t next_look = start;
    for (;;) {
        if (w->now_ms >= next_look) {
            if (sim_trees_agree(w)) {
                w->res.aae_converged = true;
                break;
            }
            next_look = w->now_ms + 100;
        }
        if (w->now_ms >= start + RK_SIM_AAE_CONVERGE_MS) {
            break;
        }
        sim_event *e = sim_pop(w);
        if (e == NULL) {
            break;
        }
        sim_event_run(w, e);
    }
    w->res.aae_converge_ms = w->now_ms - start;
}

int rk_sim_run(const rk_sim_config *c, rk_sim_result *out)
{
    memset(out, 0, sizeof(*out));
    int rc = sim_config_check(c);
    if (rc != 0) {
        return rc;
    }
    sim_world *w = sim_world_new(c);
    if (w == NULL) {
        return RK_ENOMEM;
    }
    sim_membership_setup(w);
    rc = sim_world_start(w);
    if (rc == 0) {
        sim_membership_start(w);
        sim_run_until_quiet(w, sim_epochs_learned);
        rc = sim_workload_start(w);
    }
    if (rc == 0 && c->preload_members > 0) {
        /* Phase 0 (issue 14): the preload, acknowledged before any client or fault starts. */
        sim_run_until_quiet(w, sim_workload_preloaded);
        sim_workload_clients_start(w);
    }
    if (rc == 0) {
        sim_scenario_start(w);
        /* Phase 1: the workload under faults. */
        w->faulting = c->faults != 0;
        if (w->faulting) {
            sim_schedule(w, sim_event_new(w, SIM_EV_FAULT, w->now_ms + 50));
        }
        sim_run_until_quiet(w, sim_workload_done);
        /* Phase 2: heal everything, let the backlog drain (late timers, retries). */
        w->faulting = false;
        sim_faults_heal_all(w);
        sim_drain(w);
        /* Phase 3: without read repair, anti-entropy alone must make every partition's
         * primaries equal; then every key is read once for the checkers (with read repair on,
         * that read is what converges the replicas). */
        if (c->reap_grace_ms > 0) {
            sim_run_for(w, (uint64_t)c->reap_grace_ms + RK_SIM_REAP_SWEEP_MS);
        }
        if (c->no_read_repair) {
            sim_run_aae(w);
        }
        sim_workload_read_all(w);
        sim_drain(w);
        w->res.simulated_ms = w->now_ms;
        sim_check(w);
        sim_check_aae(w);
        sim_membership_check(w);
        w->res.trace_hash = XXH3_64bits_digest(w->trace);
        *out = w->res;
    }
    sim_world_free(w);
    return rc;
}
