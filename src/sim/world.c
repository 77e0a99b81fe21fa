/* world.c — the simulated nodes: each has its own rk_env (ctx = its sim_node), a mem store
 * with the crash layer behind a watching wrapper, an incarnation that a crash bumps, a wall
 * clock with its own skew, and a sync that completes when the simulator says. Also the fault
 * schedule: partitions, crashes and restarts, pauses, lossy periods.
 *
 *   crash    rk_node_free, rk_store_mem_crash (unsynced writes are gone), incarnation++: the
 *            events still addressed to the old incarnation (timers, syncs, messages) are lost.
 *   restart  rk_node_new on the same store; the node mints dots only once its epoch write
 *            is durable (it answers RK_EBUSY until then).
 *   stop     SIGTERM: the node is asked for its clean-stop mark (again while writes wait for
 *            durability), then until the mark is durable, a few ms between asks, meanwhile
 *            refusing writes as "node stopping"; then the process is gone as after a crash and
 *            restarts later, keeping its epoch. A crash meanwhile ends the stop.
 *   pause    the node handles nothing; its events wait in a backlog, in order, and run at
 *            resume with the clock at the resume time (late timers, a burst of messages), as
 *            after a GC pause or SIGSTOP. Links stay up.
 *   sync     always: one sync per call, one after the other; batch: one in flight, the calls
 *            made meanwhile share the next one (group commit); none: the node acks at once,
 *            the engine syncs lazily. Each takes a few simulated ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/setrows.h"
#include "sim_internal.h"

#define SIM_SYNC_MS_MIN 1u
#define SIM_SYNC_MS_MAX 6u
#define SIM_SYNC_LAZY_MS_MAX 100u      /* sync=none: the engine gets round to it */
#define SIM_SKEW_US_MAX 500000         /* +-0.5 s of wall-clock skew */
#define SIM_FAULT_GAP_MS_MIN 100u
#define SIM_FAULT_GAP_MS_MAX 700u
#define SIM_FAULT_LEN_MS_MIN 100u
#define SIM_FAULT_LEN_MS_MAX 2000u
#define SIM_STOP_STEP_MS_MAX 5u
#define SIM_STOP_STEPS_MAX 1000u       /* ringkvd's shutdown-timeout-ms: then it exits anyway */

/* ---- env ---------------------------------------------------------------------------------- */

static uint64_t sim_env_now_ms(void *ctx)
{
    sim_node *sn = ctx;
    return sn->w->now_ms;
}

/* Wall clock: virtual time plus this node's skew. The core reads it when it stamps a write it
 * coordinates; the history then takes the write's stamp from the stored sibling. */
static uint64_t sim_env_wall_us(void *ctx)
{
    sim_node *sn = ctx;
    int64_t wall = (int64_t)(sn->w->now_ms * 1000u) + sn->skew_us;
    sim_history_on_stamp(sn->w, sn);
    return wall > 0 ? (uint64_t)wall : 0;
}

static uint64_t sim_env_random(void *ctx)
{
    sim_node *sn = ctx;
    return sim_rng_next(&sn->w->rng);
}

static void sim_env_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    sim_node *sn = ctx;
    sim_net_send(sn->w, sn, to, m);
}

static void sim_env_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    sim_node *sn = ctx;
    sim_event *e = sim_event_new(sn->w, SIM_EV_TIMER, at_ms);
    e->node = sn->index;
    e->inc = sn->inc;
    e->a = timer_id;
    e->tag = 0;
    sim_schedule(sn->w, e);
}

static void sim_env_reply(void *ctx, uint64_t client_req, const rk_reply *r)
{
    sim_node *sn = ctx;
    if (sn->w->reply_hook != NULL) {
        sn->w->reply_hook(sn->w->hook_ctx, sn->index, client_req, r);
        return;
    }
    sim_workload_on_reply(sn->w, client_req, r);
}

static void sim_sync_start(sim_node *sn, uint64_t seq, uint64_t at_ms)
{
    sim_world *w = sn->w;
    sim_event *e = sim_event_new(w, SIM_EV_SYNC, at_ms);
    e->node = sn->index;
    e->inc = sn->inc;
    e->a = seq;
    e->tag = 0;
    sim_schedule(w, e);
}

static void sim_env_sync(void *ctx, uint64_t seq)
{
    sim_node *sn = ctx;
    sim_world *w = sn->w;
    if (w->cfg.sync == RK_SYNC_ALWAYS) {
        uint64_t start = sn->sync_busy_until_ms > w->now_ms ? sn->sync_busy_until_ms : w->now_ms;
        sn->sync_busy_until_ms = start + sim_rng_range(&w->rng, SIM_SYNC_MS_MIN, SIM_SYNC_MS_MAX);
        sim_sync_start(sn, seq, sn->sync_busy_until_ms);
        return;
    }
    if (sn->sync_inflight) {
        sn->sync_wanted = seq > sn->sync_wanted ? seq : sn->sync_wanted;
        return;
    }
    sn->sync_inflight = true;
    sn->sync_target = seq;
    uint64_t max = w->cfg.sync == RK_SYNC_NONE ? SIM_SYNC_LAZY_MS_MAX : SIM_SYNC_MS_MAX;
    sim_sync_start(sn, seq, w->now_ms + sim_rng_range(&w->rng, SIM_SYNC_MS_MIN, max));
}

void sim_node_on_sync_event(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    if (sn->sync_fail_error != 0) {
        /* fixture.c asked for a failed sync: the disk said no, nothing became durable. */
        int error = sn->sync_fail_error;
        sn->sync_fail_error = 0;
        rk_node_on_sync_failed(sn->node, e->a, error);
    } else {
        int rc = rk_store_sync(sn->store.inner, e->a);
        RK_ASSERT(rc == 0);
        rk_node_on_durable(sn->node, e->a);
    }
    if (w->cfg.sync == RK_SYNC_ALWAYS) {
        return;
    }
    sn->sync_inflight = false;
    if (sn->sync_wanted > sn->sync_target) {
        uint64_t next = sn->sync_wanted;
        sn->sync_wanted = 0;
        sim_env_sync(sn, next);
    }
}

/* ---- the watching store -------------------------------------------------------------------- */

static sim_store *sim_store_from(rk_store *s)
{
    return (sim_store *)s;
}

static int sim_store_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    return rk_store_get(sim_store_from(s)->inner, db, key, key_len, out);
}

/* A set's head written (setrows.h) with the member rows of its batch, as the whole state the
 * history hook reads a mint from: the clock and the rows' dots (values borrowed). */
static int sim_store_head_set(const rk_batch_op *ops, size_t op_count, const rk_batch_op *head_op,
                              rk_dvvset *out)
{
    rk_setrows_head head;
    if (rk_setrows_head_decode(head_op->value, head_op->value_len, &head) != 0) {
        return RK_ECORRUPT;
    }
    rk_dvvset_init(out);
    out->history = head.history;
    out->type_tag = head.type_tag;
    out->values_borrowed = true;
    for (size_t i = 0; i < op_count; i++) {
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = 0;
        if (ops[i].kind != RK_BATCH_PUT || ops[i].db != RK_DB_ELEMS ||
            rk_setrows_row_check(ops[i].value, ops[i].value_len, &member, &member_len,
                                 &dots) != 0) {
            continue;
        }
        rk_sibling *grown = realloc(out->siblings, (out->sibling_count + dots) * sizeof(*grown));
        RK_ASSERT(grown != NULL);
        out->siblings = grown;
        for (uint32_t d = 0; d < dots; d++) {
            rk_setrows_dot dot = rk_setrows_row_dot(ops[i].value, member_len, d);
            out->siblings[out->sibling_count++] = (rk_sibling){
                .dot = dot.dot, .timestamp_us = dot.timestamp_us,
                .value = member_len > 0 ? (uint8_t *)(uintptr_t)member : NULL,
                .value_len = (uint32_t)member_len};
        }
    }
    return 0;
}

static int sim_store_write(rk_store *s, const rk_batch_op *ops, size_t op_count,
                           uint64_t *seq_out)
{
    sim_store *ss = sim_store_from(s);
    int rc = rk_store_write(ss->inner, ops, op_count, seq_out);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < op_count; i++) {
        if (ops[i].kind != RK_BATCH_PUT || ops[i].db != RK_DB_DATA) {
            continue;
        }
        rk_dvvset set;
        if (rk_dvvset_decode(ops[i].value, ops[i].value_len, &set) == 0 ||
            sim_store_head_set(ops, op_count, &ops[i], &set) == 0) {
            sim_history_on_store_write(ss->node->w, ss->node, &set);
            rk_dvvset_deinit(&set);
        }
    }
    return 0;
}

static int sim_store_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                             const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    return rk_store_iterate(sim_store_from(s)->inner, db, start, start_len, end, end_len, fn,
                            ctx);
}

static int sim_store_sync(rk_store *s, uint64_t seq)
{
    return rk_store_sync(sim_store_from(s)->inner, seq);
}

static uint64_t sim_store_durable_seq(rk_store *s)
{
    return rk_store_durable_seq(sim_store_from(s)->inner);
}

static void sim_store_close(rk_store *s)
{
    (void)s;    /* the world owns the inner store */
}

static const char *sim_store_last_error(rk_store *s)
{
    return rk_store_last_error(sim_store_from(s)->inner);
}

static const rk_store_ops sim_store_ops = {
    .name = "sim",
    .durable = false,
    .get = sim_store_get,
    .write = sim_store_write,
    .iterate = sim_store_iterate,
    .sync = sim_store_sync,
    .durable_seq = sim_store_durable_seq,
    .close = sim_store_close,
    .last_error = sim_store_last_error,
};

/* ---- lifecycle ----------------------------------------------------------------------------- */

/* Whether `id` is on the member list every node starts from. */
static bool sim_node_listed(const rk_node_config *c, rk_node_id id)
{
    for (uint32_t i = 0; i < c->member_count; i++) {
        if (c->members[i].id == id) {
            return true;
        }
    }
    return false;
}

static int sim_node_create(sim_world *w, sim_node *sn)
{
    rk_node_config c = w->node_config;
    c.id = sn->id;
    /* A node the start list leaves out (fixture.c's lone nodes, and the fresh ids it gives a
     * slot) starts as a cluster of one, as ringkvd without --members: it joins by adopting
     * a cluster's metadata. A node that joined restarts from its stored metadata anyway. */
    if (!sim_node_listed(&c, c.id)) {
        memset(c.members, 0, sizeof(c.members));
        c.members[0].id = c.id;
        c.member_count = 1;
    }
    sn->sync_inflight = false;
    sn->sync_wanted = 0;
    sn->sync_busy_until_ms = 0;
    memset(sn->link_known_up, 0, sizeof(sn->link_known_up));
    return rk_node_new(&c, &sn->env, &sn->node);
}

int sim_world_start(sim_world *w)
{
    const rk_sim_config *cfg = &w->cfg;
    rk_node_config *c = &w->node_config;
    if (w->node_config_base != NULL) {
        *c = *w->node_config_base;
    } else {
        rk_node_config_default(c);
        c->aae_on = cfg->aae || cfg->no_read_repair || cfg->reap_grace_ms > 0;
        c->tombstone_grace_ms = cfg->reap_grace_ms;
        c->aae_interval_ms = cfg->break_aae ? UINT32_MAX / 2 : RK_SIM_AAE_INTERVAL_MS;
        c->read_repair = !cfg->no_read_repair;
    }
    c->sync = cfg->sync;
    /* fixture.c's base lists the members at start (ids 1..k, k <= nodes); the nodes past k
     * start alone. rk_sim_run starts every node a member but the spares (membership.c). */
    uint32_t listed = w->node_config_base != NULL ? w->node_config_base->member_count : cfg->nodes;
    RK_ASSERT(listed >= 1);
    RK_ASSERT(listed <= cfg->nodes);
    memset(c->members, 0, sizeof(c->members));
    c->member_count = 0;
    for (uint32_t i = 0; i < listed; i++) {
        if ((w->spare_mask & (1u << i)) == 0) {
            c->members[c->member_count++].id = i + 1;
        }
    }
    RK_ASSERT(c->member_count >= 1);
    c->request_timeout_ms = cfg->request_timeout_ms;
    c->default_n = (uint8_t)cfg->n;
    c->default_r = (uint8_t)cfg->r;
    c->default_w = (uint8_t)cfg->w;
    c->default_policy = cfg->policy;
    c->default_sloppy = !cfg->no_sloppy;
    for (uint32_t i = 0; i < cfg->nodes; i++) {
        sim_node *sn = &w->nodes[i];
        sn->w = w;
        sn->index = i;
        sn->id = i + 1;
        sn->inc = 1;
        if ((cfg->faults & RK_SIM_FAULT_SKEW) != 0) {
            sn->skew_us = (int64_t)sim_rng_range(&w->rng, 0, 2 * SIM_SKEW_US_MAX) -
                          SIM_SKEW_US_MAX;
        }
        int rc = rk_store_mem_open(&sn->store.inner);
        if (rc != 0) {
            return rc;
        }
        sn->store.base.ops = &sim_store_ops;
        sn->store.node = sn;
        sn->env = (rk_env){.ctx = sn,
                           .now_ms = sim_env_now_ms,
                           .wall_us = sim_env_wall_us,
                           .random = sim_env_random,
                           .send = sim_env_send,
                           .set_timer = sim_env_set_timer,
                           .reply = sim_env_reply,
                           .sync = sim_env_sync,
                           .store = &sn->store.base};
        rc = sim_node_create(w, sn);
        if (rc != 0) {
            return rc;
        }
    }
    /* Every link is up from the start, as the runtime's connections would be. */
    for (uint32_t a = 0; a < cfg->nodes; a++) {
        for (uint32_t b = 0; b < cfg->nodes; b++) {
            if (a != b) {
                w->nodes[a].link_known_up[b] = true;
                rk_node_on_peer(w->nodes[a].node, w->nodes[b].id, true);
            }
        }
    }
    return 0;
}

static void sim_backlog_drop(sim_node *sn)
{
    while (sn->backlog_head != NULL) {
        sim_event *e = sn->backlog_head;
        sn->backlog_head = e->next;
        sim_event_free(e);
    }
    sn->backlog_tail = NULL;
}

void sim_world_stop(sim_world *w)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        sim_node *sn = &w->nodes[i];
        rk_node_free(sn->node);
        sn->node = NULL;
        sim_backlog_drop(sn);
        rk_store_close(sn->store.inner);
        sn->store.inner = NULL;
    }
}

/* Test only (break_clean_stop): a durable clean-stop mark of `epoch` in a crashed node's store,
 * as if the run that lost its unsynced writes had stopped cleanly. */
static void sim_forge_clean_stop(sim_node *sn, uint64_t epoch)
{
    uint8_t mark[RK_CLOCK_MARK_BYTES];
    rk_clock_mark_encode(epoch, 0, mark);
    uint64_t seq = 0;
    int rc = rk_store_put(sn->store.inner, RK_DB_META, (const uint8_t *)RK_CLOCK_MARK_KEY,
                          sizeof(RK_CLOCK_MARK_KEY) - 1, mark, sizeof(mark), &seq);
    RK_ASSERT(rc == 0);
    rc = rk_store_sync(sn->store.inner, seq);
    RK_ASSERT(rc == 0);
}

void sim_node_crash(sim_world *w, sim_node *sn)
{
    RK_ASSERT(sn->node != NULL);
    uint64_t epoch = rk_node_stats_get(sn->node)->epoch;
    if (w->cfg.trace) {
        fprintf(stderr, "%8llu crash: node %u\n", (unsigned long long)w->now_ms, sn->id);
    }
    rk_node_free(sn->node);
    sn->node = NULL;
    rk_store_mem_crash(sn->store.inner);
    if (w->cfg.break_clean_stop) {
        sim_forge_clean_stop(sn, epoch);
    }
    if (sn->stopping) {
        sn->stopping = false;
        w->stopping_count--;
    }
    sn->inc++;
    sn->paused = false;
    sim_backlog_drop(sn);
    w->down_count++;
    w->res.crashes++;
    sim_links_changed(w);
}

int sim_node_wipe(sim_world *w, sim_node *sn)
{
    sim_node_crash(w, sn);
    rk_store_close(sn->store.inner);
    sn->store.inner = NULL;
    return rk_store_mem_open(&sn->store.inner);
}

int sim_node_restart(sim_world *w, sim_node *sn)
{
    RK_ASSERT(sn->node == NULL);
    int rc = sim_node_create(w, sn);
    RK_ASSERT(rc == 0);
    w->down_count--;
    sim_links_changed(w);
    return rc;
}

void sim_node_pause(sim_world *w, sim_node *sn)
{
    sn->paused = true;
    w->res.pauses++;
}

/* Resume: the backlog runs from now, in the order it arrived. */
void sim_node_resume(sim_world *w, sim_node *sn)
{
    sn->paused = false;
    sim_event *e = sn->backlog_head;
    sn->backlog_head = NULL;
    sn->backlog_tail = NULL;
    while (e != NULL) {
        sim_event *next = e->next;
        e->next = NULL;
        e->at_ms = w->now_ms;
        sim_schedule(w, e);
        e = next;
    }
}

/* An event for a node: drop it if its incarnation is gone, keep it while the node is paused,
 * else hand it to the node. Takes e. */
void sim_node_dispatch(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    if (e->kind == SIM_EV_REQ) {
        /* Client requests are not bound to an incarnation: workload.c refuses them when the
         * node is down. */
        if (sn->node != NULL && sn->paused) {
            goto out_backlog;
        }
        w->current_node = sn->index;
        sim_workload_on_request(w, e);
        sim_event_free(e);
        return;
    }
    if (sn->node == NULL || e->inc != sn->inc) {
        sim_event_free(e);
        return;
    }
    if (sn->paused) {
        goto out_backlog;
    }
    w->current_node = sn->index;
    switch ((sim_event_kind)e->kind) {
    case SIM_EV_MSG:
        sim_net_deliver(w, e);
        break;
    case SIM_EV_TIMER:
        rk_node_on_timer(sn->node, e->a);
        break;
    case SIM_EV_SYNC:
        sim_node_on_sync_event(w, e);
        break;
    case SIM_EV_PEER:
        sim_net_on_peer(w, e);
        break;
    default:
        RK_ASSERT(!"not a node event");
    }
    sim_event_free(e);
    return;

out_backlog:
    e->next = NULL;
    if (sn->backlog_tail != NULL) {
        sn->backlog_tail->next = e;
    } else {
        sn->backlog_head = e;
    }
    sn->backlog_tail = e;
}

/* ---- the fault schedule -------------------------------------------------------------------- */

static void sim_heal_after(sim_world *w, sim_heal_kind kind, uint32_t node, uint64_t min_ms,
                           uint64_t max_ms)
{
    sim_event *e = sim_event_new(w, SIM_EV_HEAL, w->now_ms + sim_rng_range(&w->rng, min_ms,
                                                                           max_ms));
    e->a = kind;
    e->b = node;
    e->tag = 0;
    sim_schedule(w, e);
}

static int sim_pick_node(sim_world *w, bool want_unpaused)
{
    uint32_t candidates[RK_SIM_NODES_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (w->nodes[i].node != NULL && (!want_unpaused || !w->nodes[i].paused)) {
            candidates[count++] = i;
        }
    }
    if (count == 0) {
        return -1;
    }
    return (int)candidates[sim_rng_below(&w->rng, count)];
}

/* The next step of `sn`'s clean stop in a few ms, for this incarnation only. */
static void sim_stop_step_after(sim_world *w, sim_node *sn)
{
    sim_event *e = sim_event_new(w, SIM_EV_HEAL, w->now_ms + sim_rng_range(&w->rng, 1,
                                                                           SIM_STOP_STEP_MS_MAX));
    e->a = SIM_HEAL_STOP_STEP;
    e->b = sn->index;
    e->inc = sn->inc;
    e->tag = 0;
    sim_schedule(w, e);
}

static void sim_node_stop_begin(sim_world *w, sim_node *sn)
{
    RK_ASSERT(sn->node != NULL);
    sn->stopping = true;
    sn->stop_marked = false;
    sn->stop_steps = 0;
    w->stopping_count++;
    sim_stop_step_after(w, sn);
}

/* One step of a clean stop, as ringkvd's shutdown tick: ask for the mark (again while writes
 * wait for durability), then whether it is durable. Once it is, or after SIM_STOP_STEPS_MAX
 * asks, the process is gone and comes back later, as after a crash. */
static void sim_node_stop_step(sim_world *w, sim_node *sn, uint64_t inc)
{
    if (!sn->stopping || sn->inc != inc) {
        return;     /* a crash ended this stop */
    }
    if (sn->paused) {
        sim_stop_step_after(w, sn);     /* a stopped process takes SIGTERM when it resumes */
        return;
    }
    int rc = sn->stop_marked ? rk_node_stop_clean_status(sn->node) : rk_node_stop_clean(sn->node);
    if (rc == 0 && !sn->stop_marked) {
        sn->stop_marked = true;
        rc = RK_EBUSY;                  /* written: now wait until it is durable */
    }
    if (rc == RK_EBUSY && ++sn->stop_steps < SIM_STOP_STEPS_MAX) {
        sim_stop_step_after(w, sn);
        return;
    }
    w->res.clean_stops += rc == 0 ? 1u : 0u;
    sim_node_crash(w, sn);
    sim_heal_after(w, SIM_HEAL_RESTART, sn->index, SIM_FAULT_LEN_MS_MIN, SIM_FAULT_LEN_MS_MAX);
}

void sim_faults_on_tick(sim_world *w)
{
    if (!w->faulting) {
        return;
    }
    uint32_t kinds[6];
    uint32_t count = 0;
    for (uint32_t bit = 0; bit < 4; bit++) {   /* skew is set at start, not scheduled */
        if ((w->cfg.faults & (1u << bit)) != 0) {
            kinds[count++] = 1u << bit;
        }
    }
    if ((w->cfg.faults & RK_SIM_FAULT_STOP) != 0) {
        kinds[count++] = RK_SIM_FAULT_STOP;
    }
    if ((w->cfg.faults & RK_SIM_FAULT_MEMBERSHIP) != 0) {
        kinds[count++] = RK_SIM_FAULT_MEMBERSHIP;     /* last: the other kinds draw as before */
    }
    if (count > 0) {
        uint32_t kind = kinds[sim_rng_below(&w->rng, count)];
        int node = -1;
        switch (kind) {
        case RK_SIM_FAULT_PARTITION:
            if (!w->partitioned) {
                sim_partition_start(w);
                sim_heal_after(w, SIM_HEAL_PARTITION, 0, SIM_FAULT_LEN_MS_MIN,
                               SIM_FAULT_LEN_MS_MAX);
            }
            break;
        case RK_SIM_FAULT_CRASH:
            /* A minority at most, so quorums can still form somewhere. */
            if (w->down_count + w->stopping_count < (w->cfg.nodes - 1) / 2 &&
                (node = sim_pick_node(w, false)) >= 0) {
                sim_node_crash(w, &w->nodes[node]);
                sim_heal_after(w, SIM_HEAL_RESTART, (uint32_t)node, SIM_FAULT_LEN_MS_MIN,
                               SIM_FAULT_LEN_MS_MAX);
            }
            break;
        case RK_SIM_FAULT_PAUSE:
            if ((node = sim_pick_node(w, true)) >= 0) {
                sim_node_pause(w, &w->nodes[node]);
                sim_heal_after(w, SIM_HEAL_RESUME, (uint32_t)node, 50, 1500);
            }
            break;
        case RK_SIM_FAULT_STOP:
            if (w->down_count + w->stopping_count < (w->cfg.nodes - 1) / 2 &&
                (node = sim_pick_node(w, false)) >= 0 && !w->nodes[node].stopping) {
                sim_node_stop_begin(w, &w->nodes[node]);
            }
            break;
        case RK_SIM_FAULT_MEMBERSHIP:
            sim_membership_on_tick(w);
            break;
        case RK_SIM_FAULT_LOSS:
            if (!w->loss_on) {
                w->loss_on = true;
                sim_heal_after(w, SIM_HEAL_LOSS, 0, SIM_FAULT_LEN_MS_MIN, SIM_FAULT_LEN_MS_MAX);
            }
            break;
        default:
            break;
        }
    }
    if (count > 0) {
        sim_event *e = sim_event_new(w, SIM_EV_FAULT, w->now_ms + sim_rng_range(
                                                          &w->rng, SIM_FAULT_GAP_MS_MIN,
                                                          SIM_FAULT_GAP_MS_MAX));
        e->tag = 0;
        sim_schedule(w, e);
    }
}

void sim_faults_on_heal(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->b];
    switch ((sim_heal_kind)e->a) {
    case SIM_HEAL_PARTITION:
        if (w->partitioned) {
            sim_partition_heal(w);
        }
        return;
    case SIM_HEAL_RESTART:
        if (sn->node == NULL) {
            sim_node_restart(w, sn);
        }
        return;
    case SIM_HEAL_RESUME:
        if (sn->node != NULL && sn->paused) {
            sim_node_resume(w, sn);
        }
        return;
    case SIM_HEAL_LOSS:
        w->loss_on = false;
        return;
    case SIM_HEAL_STOP_STEP:
        sim_node_stop_step(w, sn, e->inc);
        return;
    }
}

void sim_faults_heal_all(sim_world *w)
{
    w->loss_on = false;
    sim_net_heal(w);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        sim_node *sn = &w->nodes[i];
        if (sn->node != NULL && sn->stopping) {
            sim_node_crash(w, sn);      /* the stop ends here: the process is gone */
        }
        if (sn->node == NULL) {
            sim_node_restart(w, sn);
        } else if (sn->paused) {
            sim_node_resume(w, sn);
        }
    }
}
