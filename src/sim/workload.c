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
 * reads are SMEMBERS at R = N, recorded for the cart checkers (check_cart.h).
 *
 * With --preload-members N (issue 14) every key first gets the members "p0".."p<N-1>": SADDs of
 * up to RK_SIM_PRELOAD_BATCH members, one key's batches one after the other, every key at once,
 * sent before any client or fault starts (sim.c waits for their outcomes). They are ops of the
 * history like any SADD (check.c judges each member as one add), outside the clients' count of
 * --ops; an SMEMBERS that returns them lets the client's SREMs pick them too.
 *
 * Under `counter` (issue 13) a cart is one quantity per key: 75% (the add and remove shares)
 * INCRBY key q, q a random quantity in [RK_SIM_QUANTITY_MIN, RK_SIM_QUANTITY_MAX] other than 0,
 * and 25% GET key; the final reads are GET at R = N. Under `map` a cart is item -> quantity:
 * 50% HINCRBY key item<i> q on one of RK_SIM_MAP_ITEMS counter fields, 25% HSET key note<j>
 * "v<op id>" or HDEL key note<j> on one of RK_SIM_MAP_NOTES register fields (half each: the
 * registers' writes and removes go beside the counters, which nothing removes), 25% HGETALL
 * key; the final reads are HGETALL at R = N. */
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
/* A preload batch not acknowledged is sent again this much later, at most this many times. */
#define SIM_PRELOAD_RETRY_MS 50u
#define SIM_PRELOAD_TRIES 20u

typedef enum sim_plan {
    SIM_PLAN_READ = 1,
    SIM_PLAN_BLIND = 2,
    SIM_PLAN_RMW = 3,
    SIM_PLAN_DELETE = 4,
    SIM_PLAN_CART = 5,      /* one request of the cart's (SADD ... HGETALL) */
} sim_plan;

/* A name the workload makes ("m<op id>", "v<op id>", "item<i>", "note<j>") with its NUL. The
 * largest argument is an element list (elems.h) of two such strings, or of a field and an
 * increment: one u32 count, then a u32 length and the bytes of each. */
#define SIM_MEMBER_BYTES_MAX 12u
#define SIM_ARG_BYTES_MAX (RK_ELEMS_HEAD_BYTES + 2 * (RK_ELEMS_LEN_BYTES + SIM_MEMBER_BYTES_MAX))
_Static_assert(RK_OP_INCREMENT_BYTES <= SIM_MEMBER_BYTES_MAX, "an increment fits a name's room");
_Static_assert(RK_SIM_PRELOAD_MAX <= 9999999u, "\"p<i>\" fits a name's room");

static void sim_preload_send(sim_world *w, uint32_t key, uint32_t first);
static void sim_keep_elems(const uint8_t *const *strings, const size_t *lens, uint32_t count,
                           uint8_t **out, size_t *len_out);

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
    if (w->cfg.preload_members > 0) {
        for (uint32_t k = 0; k < w->cfg.keys; k++) {
            sim_preload_send(w, k, 0);
        }
        return 0;
    }
    sim_workload_clients_start(w);
    return 0;
}

bool sim_workload_preloaded(const sim_world *w)
{
    return w->preload_pending == 0;
}

void sim_workload_clients_start(sim_world *w)
{
    for (uint32_t c = 0; c < w->cfg.clients; c++) {
        sim_event *e = sim_event_new(w, SIM_EV_CLIENT, w->now_ms + sim_rng_range(&w->rng, 10,
                                                                                  20));
        e->a = c;
        sim_schedule(w, e);
    }
}

/* The request of op reaches its node in a moment; the client gives up after its timeout. */
static void sim_op_send(sim_world *w, sim_op *op)
{
    if (op->preload_count == 0) {
        w->clients[op->client].op = op->id;
    }
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
        if (sim_node_serves(w, i)) {   /* membership: members only, not spares or leavers */
            up[count++] = i;
        }
    }
    if (count == 0) {
        return (uint32_t)sim_rng_below(&w->rng, w->cfg.nodes);
    }
    return up[sim_rng_below(&w->rng, count)];
}

/* The preload's SADD of key's members "p<first>".. (up to RK_SIM_PRELOAD_BATCH of them), sent
 * by no client: its outcome sends the key's next batch, or this one again (sim_preload_next). */
static void sim_preload_send_try(sim_world *w, uint32_t key, uint32_t first, uint32_t attempt)
{
    uint32_t left = w->cfg.preload_members - first;
    sim_op *op = sim_op_new(w, 0, SIM_OP_SADD, key, sim_pick_coordinator(w));
    op->preload_first = first;
    op->preload_count = left < RK_SIM_PRELOAD_BATCH ? left : RK_SIM_PRELOAD_BATCH;
    op->preload_try = attempt;
    w->res.preload_ops++;
    w->preload_pending++;
    sim_op_send(w, op);
}

static void sim_preload_send(sim_world *w, uint32_t key, uint32_t first)
{
    sim_preload_send_try(w, key, first, 0);
}

void sim_workload_on_preload(sim_world *w, const sim_event *e)
{
    RK_ASSERT(w->preload_pending > 0);
    w->preload_pending--;   /* the retry's own op counts from here */
    sim_preload_send_try(w, (uint32_t)e->a, (uint32_t)e->b, (uint32_t)(e->a >> 32));
}

/* A preload SADD has its outcome: send its key's next batch; or, when it was not acknowledged
 * (a node still making its epoch durable answers "node starting"), the same batch again a
 * little later, at most SIM_PRELOAD_TRIES times in all (then it stays unacknowledged and the
 * run fails `preload`). Re-adding a member that may have been added is harmless: the history
 * holds both adds. */
static void sim_preload_next(sim_world *w, const sim_op *op)
{
    RK_ASSERT(w->preload_pending > 0);
    w->preload_pending--;
    uint32_t key = op->key;
    uint32_t next = op->preload_first + op->preload_count;
    if (op->outcome != SIM_OK && op->preload_try + 1 < SIM_PRELOAD_TRIES) {
        sim_event *e = sim_event_new(w, SIM_EV_PRELOAD, w->now_ms + SIM_PRELOAD_RETRY_MS);
        e->a = key | ((uint64_t)(op->preload_try + 1) << 32);
        e->b = op->preload_first;
        e->tag = 0;
        w->preload_pending++;
        sim_schedule(w, e);
        return;
    }
    w->res.preload_unacked += op->outcome != SIM_OK ? 1u : 0u;
    if (next < w->cfg.preload_members) {
        sim_preload_send(w, key, next);     /* op may move: sim_op_new grows the array */
    }
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

/* A quantity in [RK_SIM_QUANTITY_MIN, RK_SIM_QUANTITY_MAX] other than 0. */
static int64_t sim_quantity(sim_world *w)
{
    _Static_assert(RK_SIM_QUANTITY_MIN < 0 && RK_SIM_QUANTITY_MAX > 0, "0 is skipped");
    uint64_t span = (uint64_t)(RK_SIM_QUANTITY_MAX - RK_SIM_QUANTITY_MIN);  /* 0 left out */
    int64_t q = RK_SIM_QUANTITY_MIN + (int64_t)sim_rng_below(&w->rng, span);
    return q >= 0 ? q + 1 : q;
}

/* A cart of quantities: under counter INCRBY or GET, under map HINCRBY, HSET or HDEL of a
 * note, or HGETALL. */
static void sim_counter_on_client(sim_world *w, uint32_t client)
{
    const rk_sim_config *cfg = &w->cfg;
    bool map = cfg->policy == RK_POLICY_MAP;
    uint32_t roll = (uint32_t)sim_rng_below(&w->rng, 100);
    uint32_t key = (uint32_t)sim_rng_below(&w->rng, cfg->keys);
    uint8_t kind = map ? SIM_OP_HGETALL : SIM_OP_COUNTER_GET;
    uint32_t field = 0;
    if (roll < cfg->cart_add_pct || (!map && roll < cfg->cart_add_pct + cfg->cart_remove_pct)) {
        kind = map ? SIM_OP_HINCRBY : SIM_OP_INCRBY;
        field = map ? (uint32_t)sim_rng_below(&w->rng, RK_SIM_MAP_ITEMS) : 0;
    } else if (roll < cfg->cart_add_pct + cfg->cart_remove_pct) {
        kind = sim_rng_chance(&w->rng, 500) ? SIM_OP_HSET : SIM_OP_HDEL;
        field = (uint32_t)sim_rng_below(&w->rng, RK_SIM_MAP_NOTES);
    }
    w->clients[client].plan = SIM_PLAN_CART;
    sim_op *op = sim_op_new(w, client, kind, key, sim_pick_coordinator(w));
    op->field = field;
    if (kind == SIM_OP_INCRBY || kind == SIM_OP_HINCRBY) {
        op->quantity = sim_quantity(w);
    }
    sim_op_send(w, op);
}

void sim_workload_on_client(sim_world *w, uint32_t client)
{
    sim_client *c = &w->clients[client];
    if (w->res.ops - w->res.preload_ops >= w->cfg.ops) {
        if (!c->done) {
            c->done = true;
            w->clients_done++;
        }
        return;
    }
    if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
        bool counters = w->cfg.policy == RK_POLICY_COUNTER || w->cfg.policy == RK_POLICY_MAP;
        if (counters) {
            sim_counter_on_client(w, client);
        } else {
            sim_cart_on_client(w, client);
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
    if (op->preload_count > 0) {
        sim_preload_next(w, op);
        return;
    }
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

/* "<prefix><n>" into name; returns its length. */
static size_t sim_name(const char *prefix, uint32_t n, char name[SIM_MEMBER_BYTES_MAX])
{
    int len = snprintf(name, SIM_MEMBER_BYTES_MAX, "%s%" PRIu32, prefix, n);
    RK_ASSERT(len > 1 && len < (int)SIM_MEMBER_BYTES_MAX);
    return (size_t)len;
}

/* An increment as INCRBY and HINCRBY take it: 8 bytes little-endian (op.h). */
static void sim_increment_bytes(int64_t quantity, uint8_t out[RK_OP_INCREMENT_BYTES])
{
    uint64_t bits = (uint64_t)quantity;
    for (uint32_t i = 0; i < RK_OP_INCREMENT_BYTES; i++) {
        out[i] = (uint8_t)(bits >> (8 * i));
    }
}

/* The element list of `first` and, when `second_len` is not 0, `second`, into arg. */
static size_t sim_pair_arg(const char *first, size_t first_len, const uint8_t *second,
                           size_t second_len, uint8_t arg[SIM_ARG_BYTES_MAX])
{
    const uint8_t *elems[2] = {(const uint8_t *)first, second};
    size_t lens[2] = {first_len, second_len};
    uint32_t count = second_len > 0 ? 2 : 1;
    RK_ASSERT(rk_elems_encoded_len(lens, count) <= SIM_ARG_BYTES_MAX);
    return rk_elems_encode(elems, lens, count, arg);
}

/* The request of a cart op: its kind, op and argument (written into arg). */
static void sim_cart_request(const sim_op *op, rk_request *req, uint8_t arg[SIM_ARG_BYTES_MAX])
{
    char field[SIM_MEMBER_BYTES_MAX];
    char value[SIM_MEMBER_BYTES_MAX];
    uint8_t increment[RK_OP_INCREMENT_BYTES];
    size_t field_len = 0;
    if (op->kind == SIM_OP_COUNTER_GET) {
        req->kind = RK_REQ_GET;
        return;
    }
    if (op->kind == SIM_OP_SMEMBERS || op->kind == SIM_OP_HGETALL) {
        req->kind = RK_REQ_READ;
        req->op = op->kind == SIM_OP_SMEMBERS ? RK_READ_SMEMBERS : RK_READ_HGETALL;
        return;
    }
    req->kind = RK_REQ_WRITE;
    req->value = arg;
    if (op->kind == SIM_OP_SADD || op->kind == SIM_OP_SREM) {
        req->op = op->kind == SIM_OP_SADD ? RK_OP_SADD : RK_OP_SREM;
        bool preloaded = (op->member & SIM_MEMBER_PRELOADED) != 0;
        field_len = sim_name(preloaded ? "p" : "m", op->member & ~SIM_MEMBER_PRELOADED, field);
        req->value_len = sim_pair_arg(field, field_len, NULL, 0, arg);
    } else if (op->kind == SIM_OP_INCRBY) {
        req->op = RK_OP_INCRBY;
        sim_increment_bytes(op->quantity, arg);
        req->value_len = RK_OP_INCREMENT_BYTES;
    } else if (op->kind == SIM_OP_HINCRBY) {
        req->op = RK_OP_HINCRBY;
        field_len = sim_name("item", op->field, field);
        sim_increment_bytes(op->quantity, increment);
        req->value_len = sim_pair_arg(field, field_len, increment, sizeof(increment), arg);
    } else {
        RK_ASSERT(op->kind == SIM_OP_HSET || op->kind == SIM_OP_HDEL);
        req->op = op->kind == SIM_OP_HSET ? RK_OP_HSET : RK_OP_HDEL;
        field_len = sim_name("note", op->field, field);
        size_t value_len = op->kind == SIM_OP_HSET ? sim_name("v", op->id, value) : 0;
        req->value_len = sim_pair_arg(field, field_len, (const uint8_t *)value, value_len, arg);
    }
}

/* A preload SADD: its element list of "p<first>".. built on the heap (a batch is ~10 KB), sent
 * to the node, freed (the node copies what it keeps). */
static void sim_preload_request(rk_node *node, const sim_op *op, rk_request *req)
{
    uint32_t count = op->preload_count;
    char (*names)[SIM_MEMBER_BYTES_MAX] = calloc(count, sizeof(*names));
    const uint8_t **elems = calloc(count, sizeof(*elems));
    size_t *lens = calloc(count, sizeof(*lens));
    RK_ASSERT(names != NULL && elems != NULL && lens != NULL);
    for (uint32_t i = 0; i < count; i++) {
        lens[i] = sim_name("p", op->preload_first + i, names[i]);
        elems[i] = (const uint8_t *)names[i];
    }
    uint8_t *arg = NULL;
    size_t arg_len = 0;
    sim_keep_elems(elems, lens, count, &arg, &arg_len);
    req->kind = RK_REQ_WRITE;
    req->op = RK_OP_SADD;
    req->value = arg;
    req->value_len = arg_len;
    rk_node_on_request(node, op->id, req);
    free(arg);
    free(lens);
    free(elems);
    free(names);
}

/* The final read of a cart key at R = N: it merges every primary's copy (check_cart.h judges
 * what it answers). */
static void sim_cart_final_request(const sim_world *w, rk_request *req)
{
    req->r = w->cfg.n;
    if (w->cfg.policy == RK_POLICY_COUNTER) {
        req->kind = RK_REQ_GET;
        return;
    }
    req->kind = RK_REQ_READ;
    req->op = w->cfg.policy == RK_POLICY_MAP ? RK_READ_HGETALL : RK_READ_SMEMBERS;
}

void sim_workload_on_request(sim_world *w, sim_event *e)
{
    sim_node *sn = &w->nodes[e->node];
    char value[24];
    uint8_t arg[SIM_ARG_BYTES_MAX];
    rk_request req = {0};
    if ((e->a & SIM_REQ_INTERNAL) != 0) {
        uint32_t key = (uint32_t)(e->a & ~SIM_REQ_INTERNAL);
        if (sn->node == NULL) {
            return;
        }
        req.kind = RK_REQ_VGET;
        if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
            sim_cart_final_request(w, &req);
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
        if (op->preload_count > 0) {
            sim_preload_request(sn->node, op, &req);
            return;
        }
        sim_cart_request(op, &req, arg);
        break;
    case SIM_OP_SREM:
    case SIM_OP_SMEMBERS:
    case SIM_OP_INCRBY:
    case SIM_OP_COUNTER_GET:
    case SIM_OP_HINCRBY:
    case SIM_OP_HSET:
    case SIM_OP_HDEL:
    case SIM_OP_HGETALL:
        sim_cart_request(op, &req, arg);
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

/* i for the preloaded member "p<i>" (i < cfg.preload_members), else UINT32_MAX. */
static uint32_t sim_preload_index(const sim_world *w, const uint8_t *value, size_t len)
{
    if (w->cfg.preload_members == 0 || len < 2 || len > 8 || value[0] != 'p') {
        return UINT32_MAX;
    }
    if (len > 2 && value[1] == '0') {
        return UINT32_MAX;      /* "p0" is ours, "p01" is not */
    }
    uint32_t i = 0;
    for (size_t at = 1; at < len; at++) {
        if (value[at] < '0' || value[at] > '9') {
            return UINT32_MAX;
        }
        i = i * 10 + (uint32_t)(value[at] - '0');
    }
    return i < w->cfg.preload_members ? i : UINT32_MAX;
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
 * the key, what its next SREM there picks from, and so do the preload's members it returned
 * (as SIM_MEMBER_PRELOADED | i). A member no SADD of this run named is left out (the client
 * could not have added it). */
static void sim_cart_record_members(sim_world *w, sim_op *op, const rk_reply *r)
{
    RK_ASSERT(r->kind == RK_REPLY_SET);
    if (r->value_count > 0) {
        op->seen = calloc(r->value_count, sizeof(*op->seen));
        RK_ASSERT(op->seen != NULL);
    }
    for (uint32_t i = 0; i < r->value_count; i++) {
        uint32_t id = sim_name_op('m', r->values[i], r->value_lens[i]);
        if (id != 0 && id <= w->op_count && w->ops[id].kind == SIM_OP_SADD &&
            w->ops[id].preload_count == 0) {
            op->seen[op->seen_count++] = id;
        }
        uint32_t p = sim_preload_index(w, r->values[i], r->value_lens[i]);
        if (p != UINT32_MAX) {
            op->seen[op->seen_count++] = SIM_MEMBER_PRELOADED | p;
        }
    }
    w->clients[op->client].last_read[op->key] = op->id;
}

/* strings[0..count) as an element list into *out (owned), its length in *len_out. */
static void sim_keep_elems(const uint8_t *const *strings, const size_t *lens, uint32_t count,
                           uint8_t **out, size_t *len_out)
{
    size_t len = rk_elems_encoded_len(lens, count);
    RK_ASSERT(len != SIZE_MAX);
    *out = malloc(len);
    RK_ASSERT(*out != NULL);
    *len_out = rk_elems_encode(strings, lens, count, *out);
    RK_ASSERT(*len_out == len);
}

/* A counter's final GET as field, value pairs: ("", value), or none when it read nil. */
static void sim_counter_record_final(sim_cart_final *final, const rk_reply *r)
{
    const uint8_t *strings[2] = {(const uint8_t *)"", r->value};
    size_t lens[2] = {0, r->value_len};
    uint32_t count = r->kind == RK_REPLY_VALUE ? 2 : 0;
    sim_keep_elems(strings, lens, count, &final->pairs, &final->pairs_len);
    final->read = true;
}

/* The final read of `key` (SMEMBERS, GET or HGETALL): keep what it answered for the cart
 * checkers. An error leaves the key unread (check.c fails the run: nothing on that key could
 * be judged). */
static void sim_cart_record_final(sim_world *w, uint32_t key, const rk_reply *r)
{
    RK_ASSERT(key < w->cfg.keys);
    sim_cart_final *final = &w->cart_finals[key];
    RK_ASSERT(!final->read);
    uint8_t policy = w->cfg.policy;
    if (policy == RK_POLICY_COUNTER && (r->kind == RK_REPLY_VALUE || r->kind == RK_REPLY_NIL)) {
        sim_counter_record_final(final, r);
    } else if (policy == RK_POLICY_MAP && (r->kind == RK_REPLY_MAP || r->kind == RK_REPLY_NIL)) {
        uint32_t count = r->kind == RK_REPLY_MAP ? r->value_count : 0;
        RK_ASSERT(count % 2 == 0);  /* field, value, ... */
        sim_keep_elems(r->values, r->value_lens, count, &final->pairs, &final->pairs_len);
        final->read = true;
    } else if (r->kind == RK_REPLY_SET) {
        sim_keep_elems(r->values, r->value_lens, r->value_count, &final->members,
                       &final->members_len);
        final->read = true;
    }
}

/* Whether an error answering a write says the write did not happen: refused before anything
 * was written or sent, or an increment refused because its result, in the coordinator's
 * merged view, would leave int64 (nothing was written). Every other error came after, so the
 * write may still take effect. */
static bool sim_error_refused(const rk_reply *r)
{
    if (r->error == RK_EUNAVAIL || r->error == RK_EBUSY || r->error == RK_ETOOBIG ||
        r->error == RK_EINVAL) {
        return true;
    }
    return r->message != NULL && strstr(r->message, "would overflow") != NULL;
}

/* An answer to a cart op other than an error: what it says, kept or checked for shape. Every
 * cart write answers how many it changed or the new value. */
static void sim_cart_record_reply(sim_world *w, sim_op *op, const rk_reply *r)
{
    RK_ASSERT(sim_op_is_cart(op));
    if (op->kind == SIM_OP_SMEMBERS) {
        sim_cart_record_members(w, op, r);
    } else if (sim_op_is_write(op)) {
        RK_ASSERT(r->kind == RK_REPLY_INT);
        op->reply = r->integer;
    } else if (op->kind == SIM_OP_COUNTER_GET) {
        RK_ASSERT(r->kind == RK_REPLY_VALUE || r->kind == RK_REPLY_NIL);
    } else {
        RK_ASSERT(op->kind == SIM_OP_HGETALL);
        RK_ASSERT(r->kind == RK_REPLY_MAP || r->kind == RK_REPLY_NIL);
    }
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
            outcome = sim_error_refused(r) ? SIM_REFUSED : SIM_INDET;
        }
        sim_op_complete(w, op, outcome, r->error);
    } else {
        if (op->kind == SIM_OP_READ) {
            RK_ASSERT(r->kind == RK_REPLY_VERSIONS);
            sim_op_record_read(op, r);
        } else if (sim_op_is_cart(op)) {
            sim_cart_record_reply(w, op, r);
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
