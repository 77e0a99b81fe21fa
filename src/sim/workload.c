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
 * written is unique ("v<op id>"), so a value names the write that put it there.
 *
 * The cart workload (issue 12, buckets `union` or `set`) is instead one of
 *
 *   add       SADD key "m<op id>": a member nobody added before
 *   remove    SREM key m, m picked at random among the members the client's own last answered
 *             SMEMBERS of that key returned (a Dynamo cart's user removes what they see);
 *             an SMEMBERS instead when it has seen none
 *   read      SMEMBERS key
 *
 * (defaults 50/25/25), each a read-modify-write at the bucket's R on the coordinator. Its final
 * reads are SMEMBERS at R = N, recorded for the cart checkers (check_cart.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/elems.h"
#include "../core/op.h"
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
    SIM_PLAN_CART = 5,      /* one request: SADD, SREM or SMEMBERS */
} sim_plan;

/* "m<op id>" and its element list (elems.h): one u32 count, one u32 length, the bytes. */
#define SIM_MEMBER_BYTES_MAX 12u
#define SIM_MEMBER_ARG_BYTES_MAX (RK_ELEMS_HEAD_BYTES + RK_ELEMS_LEN_BYTES + SIM_MEMBER_BYTES_MAX)

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
    if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
        w->cart_finals = calloc(w->cfg.keys, sizeof(*w->cart_finals));
        if (w->cart_finals == NULL) {
            return RK_ENOMEM;
        }
        for (uint32_t c = 0; c < w->cfg.clients; c++) {
            w->clients[c].last_read = calloc(w->cfg.keys, sizeof(*w->clients[c].last_read));
            if (w->clients[c].last_read == NULL) {
                return RK_ENOMEM;
            }
        }
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

/* The cart's next operation: add, remove what the client last saw of a key, or read. */
static void sim_cart_on_client(sim_world *w, uint32_t client)
{
    const rk_sim_config *cfg = &w->cfg;
    sim_client *c = &w->clients[client];
    uint32_t roll = (uint32_t)sim_rng_below(&w->rng, 100);
    uint32_t key = (uint32_t)sim_rng_below(&w->rng, cfg->keys);
    uint8_t kind = SIM_OP_SMEMBERS;
    uint32_t member = 0;
    if (roll < cfg->cart_add_pct) {
        kind = SIM_OP_SADD;
    } else if (roll < cfg->cart_add_pct + cfg->cart_remove_pct && c->last_read[key] != 0) {
        const sim_op *read = &w->ops[c->last_read[key]];
        if (read->seen_count > 0) {
            kind = SIM_OP_SREM;
            member = read->seen[sim_rng_below(&w->rng, read->seen_count)];
        }
    }
    c->plan = SIM_PLAN_CART;
    sim_op *op = sim_op_new(w, client, kind, key, sim_pick_coordinator(w));
    op->member = kind == SIM_OP_SADD ? op->id : member;
    sim_op_send(w, op);
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
    if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
        sim_cart_on_client(w, client);
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

/* The argument of SADD/SREM naming member "m<member>": an element list of one, into arg. */
static size_t sim_cart_member_arg(uint32_t member, uint8_t arg[SIM_MEMBER_ARG_BYTES_MAX])
{
    char name[SIM_MEMBER_BYTES_MAX];
    int len = snprintf(name, sizeof(name), "m%" PRIu32, member);
    RK_ASSERT(len > 1 && (size_t)len < sizeof(name));
    const uint8_t *elems[1] = {(const uint8_t *)name};
    size_t lens[1] = {(size_t)len};
    RK_ASSERT(rk_elems_encoded_len(lens, 1) <= SIM_MEMBER_ARG_BYTES_MAX);
    return rk_elems_encode(elems, lens, 1, arg);
}

void sim_workload_on_request(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    char value[24];
    uint8_t arg[SIM_MEMBER_ARG_BYTES_MAX];
    rk_request req = {0};
    if ((e->a & SIM_REQ_INTERNAL) != 0) {
        uint32_t key = (uint32_t)(e->a & ~SIM_REQ_INTERNAL);
        if (sn->node == NULL) {
            return;
        }
        req.kind = RK_REQ_VGET;
        if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
            /* R = N: the final read merges every primary's copy (check_cart.h judges it). */
            req.kind = RK_REQ_READ;
            req.op = RK_READ_SMEMBERS;
            req.r = w->cfg.n;
        }
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
    case SIM_OP_SADD:
    case SIM_OP_SREM:
        req.kind = RK_REQ_WRITE;
        req.op = op->kind == SIM_OP_SADD ? RK_OP_SADD : RK_OP_SREM;
        req.value_len = sim_cart_member_arg(op->member, arg);
        req.value = arg;
        break;
    case SIM_OP_SMEMBERS:
        req.kind = RK_REQ_READ;
        req.op = RK_READ_SMEMBERS;
        break;
    }
    if (op->ctx != NULL && op->kind != SIM_OP_READ) {
        req.context = op->ctx;
        req.context_len = strlen(op->ctx);
    }
    rk_node_on_request(sn->node, op->id, &req);
}

/* Values are "v<op id>" and members "m<op id>" (prefix 'v' or 'm'); anything else is not
 * ours (0). */
static uint32_t sim_name_op(char prefix, const uint8_t *value, size_t len)
{
    if (len < 2 || len > 11 || value[0] != (uint8_t)prefix) {
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
        op->seen[op->seen_count++] = sim_name_op('v', r->values[i], r->value_lens[i]);
    }
}

/* An SMEMBERS answered: the SADD ops whose members it returned become the client's view of
 * the key, what its next SREM there picks from. A member no SADD of this run named is left
 * out (the client could not have added it). */
static void sim_cart_record_members(sim_world *w, sim_op *op, const rk_reply *r)
{
    RK_ASSERT(r->kind == RK_REPLY_SET);
    if (r->value_count > 0) {
        op->seen = calloc(r->value_count, sizeof(*op->seen));
        RK_ASSERT(op->seen != NULL);
    }
    for (uint32_t i = 0; i < r->value_count; i++) {
        uint32_t id = sim_name_op('m', r->values[i], r->value_lens[i]);
        if (id != 0 && id <= w->op_count && w->ops[id].kind == SIM_OP_SADD) {
            op->seen[op->seen_count++] = id;
        }
    }
    w->clients[op->client].last_read[op->key] = op->id;
}

/* The final SMEMBERS of `key`: keep what it answered for the cart checkers. An error leaves
 * the key unread (check.c fails the run: nothing on that key could be judged). */
static void sim_cart_record_final(sim_world *w, uint32_t key, const rk_reply *r)
{
    RK_ASSERT(key < w->cfg.keys);
    sim_cart_final *final = &w->cart_finals[key];
    RK_ASSERT(!final->read);
    if (r->kind != RK_REPLY_SET) {
        return;
    }
    size_t len = rk_elems_encoded_len(r->value_lens, r->value_count);
    RK_ASSERT(len != SIZE_MAX);
    final->members = malloc(len);
    RK_ASSERT(final->members != NULL);
    final->members_len = rk_elems_encode(r->values, r->value_lens, r->value_count,
                                         final->members);
    RK_ASSERT(final->members_len == len);
    final->read = true;
}

void sim_workload_on_reply(sim_world *w, uint64_t client_req, const rk_reply *r)
{
    if ((client_req & SIM_REQ_INTERNAL) != 0) {
        if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
            sim_cart_record_final(w, (uint32_t)(client_req & ~SIM_REQ_INTERNAL), r);
        }
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
        } else if (op->kind == SIM_OP_SMEMBERS) {
            sim_cart_record_members(w, op, r);
        } else if (op->kind == SIM_OP_SADD || op->kind == SIM_OP_SREM) {
            RK_ASSERT(r->kind == RK_REPLY_INT);
            op->reply = r->integer;
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
