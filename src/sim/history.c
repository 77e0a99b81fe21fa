/* history.c — what the clients did and saw: one record per request with its invocation and
 * completion time and outcome (ok, refused, indeterminate), and what the simulator learnt
 * about each write from inside: its dot, its LWW timestamp and the history of the object its
 * coordinator wrote. Those are learnt by attribution: every event carries the tag of the client
 * op whose handling caused it (a forwarded write's FWD_REQ carries its op), and the first
 * object a node writes while handling an event tagged with a write op is that write's mint
 * (coord_put_start writes the new object before it sends anything). */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

bool sim_op_is_write(const sim_op *op)
{
    switch ((sim_op_kind)op->kind) {
    case SIM_OP_SET:
    case SIM_OP_VPUT:
    case SIM_OP_DEL:
    case SIM_OP_VDEL:
    case SIM_OP_SADD:
    case SIM_OP_SREM:
    case SIM_OP_INCRBY:
    case SIM_OP_HINCRBY:
    case SIM_OP_HSET:
    case SIM_OP_HDEL:
        return true;
    case SIM_OP_READ:
    case SIM_OP_SMEMBERS:
    case SIM_OP_COUNTER_GET:
    case SIM_OP_HGETALL:
        break;
    }
    return false;
}

bool sim_op_is_cart(const sim_op *op)
{
    return op->kind >= SIM_OP_SADD && op->kind <= SIM_OP_HGETALL;
}

sim_op *sim_op_new(sim_world *w, uint32_t client, uint8_t kind, uint32_t key, uint32_t node)
{
    if (w->op_count + 1 >= w->op_cap) {
        uint32_t cap = w->op_cap == 0 ? 1024 : w->op_cap * 2;
        sim_op *grown = realloc(w->ops, cap * sizeof(*grown));
        RK_ASSERT(grown != NULL);
        memset(grown + w->op_cap, 0, (cap - w->op_cap) * sizeof(*grown));
        w->ops = grown;
        w->op_cap = cap;
    }
    sim_op *op = &w->ops[++w->op_count];
    memset(op, 0, sizeof(*op));
    op->id = w->op_count;
    op->client = client;
    op->kind = kind;
    op->key = key;
    op->node = node;
    op->invoke_ms = w->now_ms;
    w->res.ops++;
    if (sim_op_is_write(op)) {
        w->res.writes++;
    } else {
        w->res.reads++;
    }
    return op;
}

/* The value write op being coordinated by the node handling the current event, if any. Cart
 * writes learn nothing from inside: their checkers judge what the clients saw. */
static sim_op *sim_history_current_write(sim_world *w, const sim_node *sn)
{
    if (w->current_tag == 0 || w->current_node != sn->index) {
        return NULL;
    }
    sim_op *op = &w->ops[w->current_tag];
    return sim_op_is_write(op) && !sim_op_is_cart(op) ? op : NULL;
}

void sim_history_on_stamp(sim_world *w, sim_node *sn)
{
    if (sim_history_current_write(w, sn) != NULL) {
        w->stamped_now = true;  /* the coordinator is minting: its next store write is it */
    }
}

void sim_history_on_store_write(sim_world *w, sim_node *sn, const rk_dvvset *set)
{
    sim_op *op = sim_history_current_write(w, sn);
    if (op == NULL || !w->stamped_now) {
        return;     /* a replica merging, or a read repair: not a mint */
    }
    w->stamped_now = false;     /* one mint per stamp: later writes of the event are not it */
    op->mints++;
    if (op->dot_known) {
        return;     /* a duplicated forward minted it again; the first mint answers */
    }
    /* The coordinator minted its highest counter in the new history. */
    op->dot_known = true;
    op->dot.node = sn->id;
    op->dot.counter = rk_vv_counter_max(&set->history, sn->id);
    RK_ASSERT(op->dot.counter > 0);
    /* The write's LWW stamp is the one its sibling was stored with (the core's clock rule is
     * its own business). Under lww a new write always wins locally, so its sibling is there. */
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *sib = &set->siblings[i];
        if (sib->dot.node == op->dot.node && sib->dot.counter == op->dot.counter) {
            op->ts_known = true;
            op->ts_us = sib->timestamp_us;
        }
    }
    uint8_t bytes[RK_VV_ENCODED_BYTES_MAX];
    op->hist_len = rk_vv_encode(&set->history, bytes);
    op->hist = malloc(op->hist_len);
    RK_ASSERT(op->hist != NULL);
    memcpy(op->hist, bytes, op->hist_len);
}

void sim_history_free(sim_world *w)
{
    for (uint32_t i = 1; i <= w->op_count; i++) {
        free(w->ops[i].hist);
        free(w->ops[i].ctx);
        free(w->ops[i].seen);
    }
    free(w->ops);
    w->ops = NULL;
    for (uint32_t c = 0; w->clients != NULL && c < w->cfg.clients; c++) {
        free(w->clients[c].last_read);
    }
    free(w->clients);
    free(w->key_names);
    for (uint32_t k = 0; w->cart_finals != NULL && k < w->cfg.keys; k++) {
        free(w->cart_finals[k].members);
        free(w->cart_finals[k].pairs);
    }
    free(w->cart_finals);
}
