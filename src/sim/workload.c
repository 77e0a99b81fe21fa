/* workload.c — simulated clients. Each client is closed-loop: it sends one request to a node it
 * picks at random (so writes are often forwarded to a replica), waits for the answer or its own
 * timeout, thinks a few ms and goes on. An operation is one of
 *
 *   read      RK.GET (reads use the versioned API so the checkers see the context)
 *   blind     SET key value: under siblings a new sibling, under lww the newest value
 *   rmw       RK.GET, then RK.PUT key context value with the context it returned
 *   delete    siblings: RK.GET, then RK.DEL key context; lww: DEL key
 *
 * in the proportions of rk_sim_config (defaults 50/20/20/10, 20 keys, 8 clients). Every value
 * written is unique ("v<op id>"), so a value names the write that put it there. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "sim_internal.h"

#define SIM_CLIENT_THINK_MS_MAX 10u
#define SIM_CLIENT_LATENCY_MS 1u
/* The client waits this much longer than the node's request timeout before giving up (a
 * coordinator that crashed never answers). */
#define SIM_CLIENT_TIMEOUT_EXTRA_MS 1000u

typedef enum sim_plan {
    SIM_PLAN_READ = 1,
    SIM_PLAN_BLIND = 2,
    SIM_PLAN_RMW = 3,
    SIM_PLAN_DELETE = 4,
} sim_plan;

int sim_workload_start(sim_world *w)
{
    w->clients = calloc(w->cfg.clients, sizeof(*w->clients));
    w->key_names = calloc(w->cfg.keys, sizeof(*w->key_names));
    if (w->clients == NULL || w->key_names == NULL) {
        return RK_ENOMEM;
    }
    for (uint32_t k = 0; k < w->cfg.keys; k++) {
        snprintf(w->key_names[k], sizeof(w->key_names[k]), "k%u", k);
    }
    for (uint32_t c = 0; c < w->cfg.clients; c++) {
        sim_event *e = sim_event_new(w, SIM_EV_CLIENT, w->now_ms + sim_rng_range(&w->rng, 10,
                                                                                  20));
        e->a = c;
        sim_schedule(w, e);
    }
    return 0;
}

static void sim_op_send(sim_world *w, sim_op *op)
{
    w->clients[op->client].op = op->id;
    uint32_t saved = w->current_tag;
    w->current_tag = op->id;
    sim_event *e = sim_event_new(w, SIM_EV_REQ, w->now_ms + SIM_CLIENT_LATENCY_MS);
    e->node = op->node;
    e->a = op->id;
    sim_schedule(w, e);
    w->current_tag = 0;
    e = sim_event_new(w, SIM_EV_CLIENT_TIMEOUT,
                      w->now_ms + w->cfg.request_timeout_ms + SIM_CLIENT_TIMEOUT_EXTRA_MS);
    e->a = op->id;
    sim_schedule(w, e);
    w->current_tag = saved;
}

/* A client connects to a random node that accepts connections (a crashed one refuses, and a
 * client would try the next); a paused node accepts and then says nothing. */
static uint32_t sim_pick_coordinator(sim_world *w)
{
    uint32_t up[RK_SIM_NODES_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (w->nodes[i].node != NULL) {
            up[count++] = i;
        }
    }
    if (count == 0) {
        return (uint32_t)sim_rng_below(&w->rng, w->cfg.nodes);
    }
    return up[sim_rng_below(&w->rng, count)];
}

void sim_workload_on_client(sim_world *w, uint32_t client)
{
    sim_client *c = &w->clients[client];
    if (w->res.ops >= w->cfg.ops) {
        if (!c->done) {
            c->done = true;
            w->clients_done++;
        }
        return;
    }
    uint32_t roll = (uint32_t)sim_rng_below(&w->rng, 100);
    const rk_sim_config *cfg = &w->cfg;
    sim_plan plan = SIM_PLAN_DELETE;
    if (roll < cfg->read_pct) {
        plan = SIM_PLAN_READ;
    } else if (roll < cfg->read_pct + cfg->blind_pct) {
        plan = SIM_PLAN_BLIND;
    } else if (roll < cfg->read_pct + cfg->blind_pct + cfg->rmw_pct) {
        plan = SIM_PLAN_RMW;
    }
    uint32_t key = (uint32_t)sim_rng_below(&w->rng, cfg->keys);
    uint8_t kind = SIM_OP_READ;
    if (plan == SIM_PLAN_BLIND) {
        kind = SIM_OP_SET;
    } else if (plan == SIM_PLAN_DELETE && cfg->policy == RK_POLICY_LWW) {
        kind = SIM_OP_DEL;
    }
    c->plan = (uint8_t)plan;
    sim_op *op = sim_op_new(w, client, kind, key, sim_pick_coordinator(w));
    sim_op_send(w, op);
}

/* The client is done with `op`: go on with the second half of its operation or think. */
static void sim_client_next(sim_world *w, sim_op *op)
{
    sim_client *c = &w->clients[op->client];
    if (c->op != op->id) {
        return;
    }
    c->op = 0;
    bool two_step = c->plan == SIM_PLAN_RMW ||
                    (c->plan == SIM_PLAN_DELETE && w->cfg.policy == RK_POLICY_SIBLINGS);
    if (two_step && op->kind == SIM_OP_READ && op->outcome == SIM_OK) {
        uint8_t kind = c->plan == SIM_PLAN_RMW ? SIM_OP_VPUT : SIM_OP_VDEL;
        uint32_t key = op->key;
        char *ctx = strdup(op->ctx);
        RK_ASSERT(ctx != NULL);
        sim_op *next = sim_op_new(w, op->client, kind, key, sim_pick_coordinator(w));
        next->ctx = ctx;    /* op may have moved: sim_op_new grows the array */
        sim_op_send(w, next);
        return;
    }
    sim_event *e = sim_event_new(w, SIM_EV_CLIENT,
                                 w->now_ms + sim_rng_range(&w->rng, 0, SIM_CLIENT_THINK_MS_MAX));
    e->a = op->client;
    e->tag = 0;
    sim_schedule(w, e);
}

static void sim_op_complete(sim_world *w, sim_op *op, uint8_t outcome, int error)
{
    op->outcome = outcome;
    op->error = error;
    op->complete_ms = w->now_ms;
    sim_trace_u64(w, ((uint64_t)op->id << 32) | ((uint64_t)outcome << 16) | (uint16_t)error);
}

void sim_workload_on_request(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    char value[24];
    rk_request req = {0};
    if ((e->a & SIM_REQ_INTERNAL) != 0) {
        uint32_t key = (uint32_t)(e->a & ~SIM_REQ_INTERNAL);
        if (sn->node == NULL) {
            return;
        }
        req.kind = RK_REQ_VGET;
        req.key = (const uint8_t *)w->key_names[key];
        req.key_len = strlen(w->key_names[key]);
        rk_node_on_request(sn->node, e->a, &req);
        return;
    }
    sim_op *op = &w->ops[e->a];
    if (sn->node == NULL) {
        if (op->outcome == SIM_PENDING) {   /* connection refused: nothing was sent */
            sim_op_complete(w, op, sim_op_is_write(op) ? SIM_REFUSED : SIM_FAILED, RK_EUNAVAIL);
            sim_client_next(w, op);
        }
        return;
    }
    req.key = (const uint8_t *)w->key_names[op->key];
    req.key_len = strlen(w->key_names[op->key]);
    switch ((sim_op_kind)op->kind) {
    case SIM_OP_READ:
        req.kind = RK_REQ_VGET;
        break;
    case SIM_OP_SET:
    case SIM_OP_VPUT:
        req.kind = op->kind == SIM_OP_SET ? RK_REQ_PUT : RK_REQ_VPUT;
        snprintf(value, sizeof(value), "v%" PRIu32, op->id);
        req.value = (const uint8_t *)value;
        req.value_len = strlen(value);
        break;
    case SIM_OP_DEL:
        req.kind = RK_REQ_DEL;
        break;
    case SIM_OP_VDEL:
        req.kind = RK_REQ_VDEL;
        break;
    }
    if (op->ctx != NULL && op->kind != SIM_OP_READ) {
        req.context = op->ctx;
        req.context_len = strlen(op->ctx);
    }
    rk_node_on_request(sn->node, op->id, &req);
}

/* Values are "v<op id>"; anything else is not ours (0). */
static uint32_t sim_value_op(const uint8_t *value, size_t len)
{
    if (len < 2 || len > 11 || value[0] != 'v') {
        return 0;
    }
    uint64_t id = 0;
    for (size_t i = 1; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return 0;
        }
        id = id * 10 + (uint64_t)(value[i] - '0');
    }
    return id <= UINT32_MAX ? (uint32_t)id : 0;
}

static void sim_op_record_read(sim_op *op, const rk_reply *r)
{
    op->ctx = strdup(r->context != NULL ? r->context : "");
    RK_ASSERT(op->ctx != NULL);
    if (r->value_count > 0) {
        op->seen = calloc(r->value_count, sizeof(*op->seen));
        RK_ASSERT(op->seen != NULL);
    }
    for (uint32_t i = 0; i < r->value_count; i++) {
        op->seen[op->seen_count++] = sim_value_op(r->values[i], r->value_lens[i]);
    }
}

void sim_workload_on_reply(sim_world *w, uint64_t client_req, const rk_reply *r)
{
    if ((client_req & SIM_REQ_INTERNAL) != 0) {
        return;
    }
    RK_ASSERT(client_req > 0 && client_req <= w->op_count);
    sim_op *op = &w->ops[client_req];
    if (op->outcome != SIM_PENDING) {
        return;     /* the client gave up already */
    }
    if (r->kind == RK_REPLY_ERROR) {
        uint8_t outcome = SIM_FAILED;
        if (sim_op_is_write(op)) {
            /* Refused before anything was written or sent; every other error came after. */
            bool refused = r->error == RK_EUNAVAIL || r->error == RK_EBUSY ||
                           r->error == RK_ETOOBIG || r->error == RK_EINVAL;
            outcome = refused ? SIM_REFUSED : SIM_INDET;
        }
        sim_op_complete(w, op, outcome, r->error);
    } else {
        if (op->kind == SIM_OP_READ) {
            RK_ASSERT(r->kind == RK_REPLY_VERSIONS);
            sim_op_record_read(op, r);
        }
        sim_op_complete(w, op, SIM_OK, 0);
    }
    sim_client_next(w, op);
}

void sim_workload_on_timeout(sim_world *w, uint32_t op_id)
{
    sim_op *op = &w->ops[op_id];
    if (op->outcome != SIM_PENDING) {
        return;
    }
    sim_op_complete(w, op, sim_op_is_write(op) ? SIM_INDET : SIM_FAILED, RK_ETIMEDOUT);
    sim_client_next(w, op);
}

void sim_workload_read_all(sim_world *w)
{
    for (uint32_t k = 0; k < w->cfg.keys; k++) {
        sim_event *e = sim_event_new(w, SIM_EV_REQ, w->now_ms + SIM_CLIENT_LATENCY_MS);
        e->node = sim_pick_coordinator(w);
        e->a = SIM_REQ_INTERNAL | k;
        e->tag = 0;
        sim_schedule(w, e);
    }
}
