/* check.c — the checkers of issue 5, over the history and the final state (after healing, a
 * read of every key and quiescence). Dots and histories come from history.c; a context is
 * what a write superseded: the client's token for RK.PUT/RK.DEL under siblings, and the
 * coordinator's whole local history for plain SET/DEL and for every lww write (those supersede
 * what the coordinator holds).
 *
 *   converged           every primary of every key holds an equal object.
 *   handoff             no node holds a hint record, and no node that is not a primary of a
 *                       key holds a copy of it: every hinted copy went home and was dropped.
 *   lost_acked_writes   siblings: an acked write whose dot is no sibling of the final object
 *                       and that no write's context covered (nobody saw it, yet it is gone).
 *                       lww: an acked write not in the final object, with a timestamp above
 *                       the final one's, that no later write's history covered.
 *   lww_dropped         lww: an acked write that lost to a write which completed before it
 *                       began, with a higher timestamp, and which it had not seen (so LWW, not
 *                       causality, chose): the price of clock skew, 0 without it.
 *   resurrected_deletes an acked delete whose context covered a sibling that is still live at
 *                       the end: the delete saw that value, so the value came back.
 *   stale_reads         a read whose context lacks the dot of a write acknowledged before the
 *                       read began (a context covers a write iff the read saw it or a
 *                       successor of it).
 *   dots_reused         two writes of one key minted with one dot, whatever became of them
 *                       (kv679: a node that lost unsynced dots in a crash and minted them
 *                       again; replicas would take one write for the other). Pairs counted.
 * Writes refused (RK_EUNAVAIL, RK_EBUSY) did not happen and cover nothing; indeterminate ones
 * may have happened, so they may cover but are never required.
 *
 * The cart workload (issue 12) is judged instead by lost_adds and resurrected_removes
 * (check_cart.h), over the history of what its clients saw and its final reads, and under
 * counter and map (issue 13) by counter_out_of_range; the value checkers above do not run on
 * it. converged and handoff judge every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/elems.h"
#include "../core/hash.h"
#include "../core/ring.h"
#include "../core/setrows.h"
#include "../core/skey.h"
#include "check_cart.h"
#include "sim_internal.h"

typedef struct check_final {
    rk_dvvset *sets;            /* [node * keys + key] */
    uint32_t keys;
} check_final;

typedef struct check_load {
    check_final *final;
    uint32_t node;
    rk_node *node_ptr;  /* a set stored by element is read whole through its node */
} check_load;

static int check_key_index(const uint8_t *key, size_t len, uint32_t keys)
{
    if (len < 2 || len > 8 || key[0] != 'k') {
        return -1;
    }
    uint32_t k = 0;
    for (size_t i = 1; i < len; i++) {
        if (key[i] < '0' || key[i] > '9') {
            return -1;
        }
        k = k * 10 + (uint32_t)(key[i] - '0');
    }
    return k < keys ? (int)k : -1;
}

static int check_load_entry(void *ctx, const uint8_t *skey, size_t skey_len, const uint8_t *value,
                            size_t value_len)
{
    check_load *load = ctx;
    uint32_t partition = 0;
    const uint8_t *key = NULL;
    size_t key_len = 0;
    RK_ASSERT(rk_skey_decode(skey, skey_len, &partition, &key, &key_len) == 0);
    int k = check_key_index(key, key_len, load->final->keys);
    RK_ASSERT(k >= 0);
    rk_dvvset *set = &load->final->sets[load->node * load->final->keys + (uint32_t)k];
    rk_dvvset_deinit(set);
    if (rk_setrows_is_head(value, value_len)) {
        rk_buf whole;
        RK_ASSERT(rk_node_local_get(load->node_ptr, key, key_len, &whole) == 0);
        RK_ASSERT(rk_dvvset_decode(whole.data, whole.len, set) == 0);
        rk_store_buf_free(&whole);
        return 0;
    }
    RK_ASSERT(rk_dvvset_decode(value, value_len, set) == 0);
    return 0;
}

static uint32_t check_preflist(sim_world *w, uint32_t key, uint32_t *out_index)
{
    const rk_ring *ring = rk_node_ring(w->nodes[sim_anchor(w)].node);
    const char *name = w->key_names[key];
    uint32_t partition = rk_ring_partition_of(ring, rk_hash_key((const uint8_t *)name,
                                                                strlen(name)));
    uint32_t n = w->cfg.n < w->cfg.nodes ? w->cfg.n : w->cfg.nodes;
    rk_node_id list[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    int count = rk_ring_preflist(ring, partition, n, list, RK_MEMBERS_MAX, &primaries);
    RK_ASSERT(count >= 0);
    RK_ASSERT(primaries == n);
    for (uint32_t i = 0; i < primaries; i++) {
        int index = sim_node_index_of(w, list[i]);
        RK_ASSERT(index >= 0);
        out_index[i] = (uint32_t)index;
    }
    return primaries;
}

/* What write `op` superseded; false when unknown. A plain SET/DEL (no token) and every lww
 * write supersede what the coordinator held: the stored history covers exactly that and the
 * new dot. RK.PUT/RK.DEL under siblings supersede what their token saw. */
static bool check_write_context(const sim_world *w, const sim_op *op, rk_vv *out)
{
    if (w->cfg.policy == RK_POLICY_LWW || op->ctx == NULL) {
        size_t used = 0;
        return op->hist != NULL && rk_vv_decode(op->hist, op->hist_len, out, &used) == 0;
    }
    return op->ctx != NULL && rk_vv_token_decode(op->ctx, strlen(op->ctx), out) == 0;
}

static bool check_has_dot(const rk_dvvset *set, rk_dot dot, bool live_only)
{
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        if (s->dot.node == dot.node && s->dot.counter == dot.counter &&
            (!live_only || !s->tombstone)) {
            return true;
        }
    }
    return false;
}

static bool check_may_have_happened(const sim_op *op)
{
    return op->outcome == SIM_OK || op->outcome == SIM_INDET;
}

/* The checkers for one key: `ids` are its ops in invocation order, `ctx` their contexts. */
static void check_key(sim_world *w, const rk_dvvset *final, const uint32_t *ids, uint32_t count,
                      const rk_vv *ctx, const bool *ctx_ok)
{
    bool lww = w->cfg.policy == RK_POLICY_LWW;
    const rk_sibling *winner = final->sibling_count > 0 ? &final->siblings[0] : NULL;
    for (uint32_t i = 0; i < count; i++) {
        const sim_op *op = &w->ops[ids[i]];
        if (!sim_op_is_write(op) || op->outcome != SIM_OK) {
            continue;
        }
        bool present = op->dot_known && check_has_dot(final, op->dot, false);
        bool covered = false;
        for (uint32_t j = 0; j < count && op->dot_known && !covered; j++) {
            const sim_op *other = &w->ops[ids[j]];
            covered = j != i && ctx_ok[j] && check_may_have_happened(other) &&
                      rk_vv_covers(&ctx[j], op->dot);
        }
        bool above = !lww || winner == NULL || !op->ts_known ||
                     op->ts_us > winner->timestamp_us;
        bool is_delete = op->kind == SIM_OP_DEL || op->kind == SIM_OP_VDEL;
        /* Under lww a delete with a later stamp wins; once its tombstone is reaped the final
         * object is gone, so the winner's stamp comes from the history instead. */
        for (uint32_t j = 0; lww && winner == NULL && w->cfg.reap_grace_ms > 0 && j < count; j++) {
            const sim_op *del = &w->ops[ids[j]];
            if ((del->kind == SIM_OP_DEL || del->kind == SIM_OP_VDEL) &&
                check_may_have_happened(del) && del->ts_known && op->ts_known &&
                del->ts_us > op->ts_us) {
                above = false;
            }
        }
        /* A reaped tombstone leaves no trace: its delete held if nothing it deleted is left
         * (what resurrected_deletes judges). */
        if (!present && !covered && is_delete && w->cfg.reap_grace_ms > 0 && ctx_ok[i]) {
            covered = true;
            for (uint32_t s = 0; s < final->sibling_count && covered; s++) {
                covered = !rk_vv_covers(&ctx[i], final->siblings[s].dot);
            }
        }
        if (!present && !covered && above) {
            w->res.lost_acked_writes++;
            if (w->cfg.trace) {
                fprintf(stderr, "lost: op %u key k%u kind %u node %u dot %u:%llu ts %llu "
                        "invoked %llu acked %llu; final %u siblings, winner ts %llu\n",
                        op->id, op->key, op->kind, op->node, op->dot.node,
                        (unsigned long long)op->dot.counter, (unsigned long long)op->ts_us,
                        (unsigned long long)op->invoke_ms, (unsigned long long)op->complete_ms,
                        final->sibling_count,
                        (unsigned long long)(winner != NULL ? winner->timestamp_us : 0));
            }
        }
        /* lww_dropped: an earlier-completed write it had not seen beat it on timestamp. */
        for (uint32_t j = 0; lww && j < count; j++) {
            const sim_op *before = &w->ops[ids[j]];
            if (!sim_op_is_write(before) || before->outcome != SIM_OK || !before->ts_known ||
                !before->dot_known || before->complete_ms >= op->invoke_ms) {
                continue;
            }
            if (before->ts_us > op->ts_us && !(ctx_ok[i] && rk_vv_covers(&ctx[i], before->dot))) {
                w->res.lww_dropped++;
                break;
            }
        }
        /* resurrected: a delete whose context covered a sibling still live. */
        for (uint32_t s = 0; is_delete && ctx_ok[i] && s < final->sibling_count; s++) {
            const rk_sibling *sib = &final->siblings[s];
            bool own = op->dot_known && sib->dot.node == op->dot.node &&
                       sib->dot.counter == op->dot.counter;
            if (!sib->tombstone && !own && rk_vv_covers(&ctx[i], sib->dot)) {
                w->res.resurrected_deletes++;
                break;
            }
        }
    }
    /* stale reads */
    for (uint32_t i = 0; i < count; i++) {
        const sim_op *r = &w->ops[ids[i]];
        if (r->kind != SIM_OP_READ || r->outcome != SIM_OK) {
            continue;
        }
        rk_vv seen;
        if (rk_vv_token_decode(r->ctx, strlen(r->ctx), &seen) != 0) {
            w->res.stale_reads++;
            continue;
        }
        for (uint32_t j = 0; j < count; j++) {
            const sim_op *wr = &w->ops[ids[j]];
            if (sim_op_is_write(wr) && wr->outcome == SIM_OK && wr->dot_known &&
                wr->complete_ms < r->invoke_ms && !rk_vv_covers(&seen, wr->dot)) {
                w->res.stale_reads++;
                break;
            }
        }
    }
}

static void check_tally(sim_world *w)
{
    for (uint32_t i = 1; i <= w->op_count; i++) {
        const sim_op *op = &w->ops[i];
        if (sim_op_is_write(op)) {
            w->res.acked_writes += op->outcome == SIM_OK;
            w->res.indeterminate += op->outcome == SIM_INDET;
            w->res.refused += op->outcome == SIM_REFUSED;
            w->res.writes_by_node[op->node]++;
            w->res.unavailable_writes_by_node[op->node] +=
                op->outcome == SIM_INDET || op->outcome == SIM_REFUSED;
        } else {
            w->res.failed_reads += op->outcome != SIM_OK;
        }
    }
}

static void check_histories(sim_world *w, const check_final *final)
{
    uint32_t keys = w->cfg.keys;
    uint32_t *ids = malloc((w->op_count + 1) * sizeof(*ids));
    rk_vv *ctx = malloc((w->op_count + 1) * sizeof(*ctx));
    bool *ctx_ok = malloc((w->op_count + 1) * sizeof(*ctx_ok));
    RK_ASSERT(ids != NULL && ctx != NULL && ctx_ok != NULL);
    for (uint32_t k = 0; k < keys; k++) {
        uint32_t count = 0;
        for (uint32_t i = 1; i <= w->op_count; i++) {
            if (w->ops[i].key != k) {
                continue;
            }
            ctx_ok[count] = sim_op_is_write(&w->ops[i]) &&
                            check_write_context(w, &w->ops[i], &ctx[count]);
            ids[count++] = i;
        }
        uint32_t pref[RK_N_MAX];
        check_preflist(w, k, pref);
        check_key(w, &final->sets[pref[0] * keys + k], ids, count, ctx, ctx_ok);
    }
    free(ids);
    free(ctx);
    free(ctx_ok);
}

/* ---- the cart workload ---------------------------------------------------------------------- */

static uint8_t check_cart_kind(const sim_op *op)
{
    RK_ASSERT(op->kind == SIM_OP_SADD || op->kind == SIM_OP_SREM || op->kind == SIM_OP_SMEMBERS);
    if (op->kind == SIM_OP_SADD) {
        return RK_CART_SADD;
    }
    return op->kind == SIM_OP_SREM ? RK_CART_SREM : RK_CART_SMEMBERS;
}

static uint8_t check_cart_outcome(const sim_op *op)
{
    switch ((sim_outcome)op->outcome) {
    case SIM_OK:
        return RK_CART_OK;
    case SIM_REFUSED:
        return RK_CART_REFUSED;
    case SIM_FAILED:
        return RK_CART_FAILED;
    case SIM_INDET:
    case SIM_PENDING:   /* never answered: after quiescence every client timed out first */
        break;
    }
    return RK_CART_UNKNOWN;
}

/* The members of every key's final read, decoded into (pointer, length) arrays borrowed from
 * the recorded element lists; finals[k] points into them. Returns the arrays to free. */
static void check_cart_finals(const sim_world *w, rk_cart_final *finals,
                              const uint8_t ***members_out, size_t **lens_out)
{
    uint32_t keys = w->cfg.keys;
    size_t total = 0;
    for (uint32_t k = 0; k < keys; k++) {
        const sim_cart_final *f = &w->cart_finals[k];
        uint32_t count = 0;
        RK_ASSERT(!f->read || rk_elems_check(f->members, f->members_len, &count) == 0);
        total += count;
    }
    const uint8_t **members = calloc(total > 0 ? total : 1, sizeof(*members));
    size_t *lens = calloc(total > 0 ? total : 1, sizeof(*lens));
    RK_ASSERT(members != NULL && lens != NULL);
    size_t used = 0;
    for (uint32_t k = 0; k < keys; k++) {
        const sim_cart_final *f = &w->cart_finals[k];
        finals[k] = (rk_cart_final){.read = f->read, .members = members + used,
                                    .member_lens = lens + used};
        if (!f->read) {
            continue;
        }
        rk_elems_iter it;
        rk_elems_iter_init(&it, f->members, f->members_len);
        while (rk_elems_next(&it, &members[used], &lens[used])) {
            RK_ASSERT(used < total);    /* bounded by the count checked above */
            used++;
            finals[k].member_count++;
        }
    }
    RK_ASSERT(used == total);
    *members_out = members;
    *lens_out = lens;
}

/* How many of a key's final members are the preload's "p<i>" (i < cfg.preload_members). */
static uint64_t check_preloaded_present(const sim_world *w, const rk_cart_final *f)
{
    uint64_t present = 0;
    for (uint32_t m = 0; f->read && m < f->member_count; m++) {
        const uint8_t *b = f->members[m];
        size_t len = f->member_lens[m];
        bool ok = len >= 2 && len <= 8 && b[0] == 'p' && (len == 2 || b[1] != '0');
        uint32_t i = 0;
        for (size_t at = 1; ok && at < len; at++) {
            ok = b[at] >= '0' && b[at] <= '9';
            i = i * 10 + (uint32_t)(b[at] - '0');
        }
        present += ok && i < w->cfg.preload_members ? 1u : 0u;
    }
    return present;
}

/* The cart's history as check_cart.h takes it: kinds, keys, members, outcomes and replies,
 * what the clients saw, and the final reads; nothing learnt from inside the nodes. A preload
 * SADD of count members becomes count SADDs of one member each, with its outcome (and the
 * reply 1, which the checker does not judge): an acknowledged batch acknowledged every one. */
static void check_cart(sim_world *w)
{
    size_t total = 0;
    for (uint32_t i = 1; i <= w->op_count; i++) {
        total += w->ops[i].preload_count > 0 ? w->ops[i].preload_count : 1u;
    }
    rk_cart_op *ops = calloc(total + 1, sizeof(*ops));
    char (*names)[12] = calloc(total + 1, sizeof(*names));
    rk_cart_final *finals = calloc(w->cfg.keys, sizeof(*finals));
    RK_ASSERT(ops != NULL && names != NULL && finals != NULL);
    size_t used = 0;
    for (uint32_t i = 1; i <= w->op_count; i++) {
        const sim_op *op = &w->ops[i];
        uint32_t count = op->preload_count > 0 ? op->preload_count : 1u;
        for (uint32_t j = 0; j < count; j++) {
            rk_cart_op *c = &ops[used];
            *c = (rk_cart_op){.kind = check_cart_kind(op), .outcome = check_cart_outcome(op),
                              .key = op->key, .reply = op->preload_count > 0 ? 1 : op->reply};
            int len = 0;
            if (op->preload_count > 0) {
                len = snprintf(names[used], sizeof(names[used]), "p%u", op->preload_first + j);
            } else if (op->kind != SIM_OP_SMEMBERS) {
                bool preloaded = (op->member & SIM_MEMBER_PRELOADED) != 0;
                len = snprintf(names[used], sizeof(names[used]), "%s%u", preloaded ? "p" : "m",
                               op->member & ~SIM_MEMBER_PRELOADED);
            }
            if (op->kind != SIM_OP_SMEMBERS) {
                RK_ASSERT(len > 1 && (size_t)len < sizeof(names[used]));
                c->member = (const uint8_t *)names[used];
                c->member_len = (size_t)len;
            }
            used++;
        }
    }
    RK_ASSERT(used == total);
    const uint8_t **members = NULL;
    size_t *lens = NULL;
    check_cart_finals(w, finals, &members, &lens);
    rk_cart_history h = {.ops = ops, .op_count = total, .finals = finals,
                         .key_count = w->cfg.keys};
    rk_cart_verdict v;
    RK_ASSERT(rk_cart_check(&h, &v) == 0);
    w->res.acked_adds = v.acked_adds;
    w->res.acked_removes = v.acked_removes;
    w->res.lost_adds = v.lost_adds;
    w->res.resurrected_removes = v.resurrected_removes;
    w->res.final_reads_failed = v.keys_unread;
    for (uint32_t k = 0; w->cfg.preload_members > 0 && k < w->cfg.keys; k++) {
        w->res.preloaded_present += check_preloaded_present(w, &finals[k]);
    }
    free(members);
    free(lens);
    free(finals);
    free(names);
    free(ops);
}

/* ---- the cart under counter and map --------------------------------------------------------- */

/* Whether a map's final field is a counter of the workload's (item<i>), not a register
 * (note<j>): registers are no quantity, and only counters are judged. */
static bool check_counter_field(const uint8_t *field, size_t len)
{
    return len < 4 || memcmp(field, "note", 4) != 0;
}

/* The arrays every key's rk_counter_final points into. */
typedef struct check_counter_strings {
    const uint8_t **fields;
    size_t *field_lens;
    const uint8_t **values;
    size_t *value_lens;
} check_counter_strings;

/* Every key's final read as check_cart.h takes it: its counters' fields and values, borrowed
 * from the recorded pairs, in arrays *out holds (free them with free()). */
static void check_counter_finals(const sim_world *w, rk_counter_final *finals,
                                 check_counter_strings *out)
{
    size_t total = 0;
    for (uint32_t k = 0; k < w->cfg.keys; k++) {
        const sim_cart_final *f = &w->cart_finals[k];
        uint32_t count = 0;
        RK_ASSERT(!f->read || rk_elems_check(f->pairs, f->pairs_len, &count) == 0);
        total += count / 2;
    }
    size_t slots = total > 0 ? total : 1;
    const uint8_t **fields = calloc(slots, sizeof(*fields));
    size_t *field_lens = calloc(slots, sizeof(*field_lens));
    const uint8_t **values = calloc(slots, sizeof(*values));
    size_t *value_lens = calloc(slots, sizeof(*value_lens));
    RK_ASSERT(fields != NULL && field_lens != NULL && values != NULL && value_lens != NULL);
    size_t used = 0;
    for (uint32_t k = 0; k < w->cfg.keys; k++) {
        const sim_cart_final *f = &w->cart_finals[k];
        finals[k] = (rk_counter_final){.read = f->read, .fields = fields + used,
                                       .field_lens = field_lens + used, .values = values + used,
                                       .value_lens = value_lens + used};
        rk_elems_iter it;
        rk_elems_iter_init(&it, f->pairs, f->read ? f->pairs_len : 0);
        while (f->read && rk_elems_next(&it, &fields[used], &field_lens[used])) {
            RK_ASSERT(rk_elems_next(&it, &values[used], &value_lens[used]));
            RK_ASSERT(used < total);    /* bounded by the count checked above */
            if (check_counter_field(fields[used], field_lens[used])) {
                used++;
                finals[k].field_count++;
            }
        }
    }
    *out = (check_counter_strings){.fields = fields, .field_lens = field_lens, .values = values,
                                   .value_lens = value_lens};
}

/* The names of a map's counter fields, item0 ... */
typedef char check_item_names[RK_SIM_MAP_ITEMS][12];

/* The counter an INCRBY or HINCRBY names: "" for a counter key, else its item's name. */
static const char *check_counter_of(const sim_op *op, const check_item_names items)
{
    RK_ASSERT(op->kind == SIM_OP_INCRBY || op->kind == SIM_OP_HINCRBY);
    RK_ASSERT(op->field < RK_SIM_MAP_ITEMS);
    return op->kind == SIM_OP_HINCRBY ? items[op->field] : "";
}

/* --trace: every increment of the counter `v` reports first, to start a diagnosis from. */
static void check_counter_trace(const sim_world *w, const check_item_names items,
                                const rk_counter_verdict *v)
{
    for (uint32_t i = 1; i <= w->op_count; i++) {
        const sim_op *op = &w->ops[i];
        if (op->key != v->example_key ||
            (op->kind != SIM_OP_INCRBY && op->kind != SIM_OP_HINCRBY)) {
            continue;
        }
        const char *field = check_counter_of(op, items);
        if (strlen(field) != v->example_field_len ||
            memcmp(field, v->example_field, v->example_field_len) != 0) {
            continue;
        }
        fprintf(stderr, "  op %u client %u node %u quantity %lld outcome %u error %d reply %lld "
                "invoked %llu completed %llu\n", op->id, op->client, op->node + 1,
                (long long)op->quantity, op->outcome, op->error, (long long)op->reply,
                (unsigned long long)op->invoke_ms, (unsigned long long)op->complete_ms);
    }
}

/* The quantities' history as check_cart.h takes it: every INCRBY and HINCRBY with its key,
 * field, quantity and outcome, and every key's final read; reads, HSETs and HDELs (which
 * change no counter) are left out. Nothing learnt from inside the nodes. */
static void check_counter(sim_world *w)
{
    check_item_names items;
    for (uint32_t i = 0; i < RK_SIM_MAP_ITEMS; i++) {
        snprintf(items[i], sizeof(items[i]), "item%u", i);
    }
    rk_counter_op *ops = calloc(w->op_count + 1, sizeof(*ops));
    rk_counter_final *finals = calloc(w->cfg.keys, sizeof(*finals));
    RK_ASSERT(ops != NULL && finals != NULL);
    size_t count = 0;
    for (uint32_t i = 1; i <= w->op_count; i++) {
        const sim_op *op = &w->ops[i];
        if (op->kind != SIM_OP_INCRBY && op->kind != SIM_OP_HINCRBY) {
            continue;
        }
        const char *field = check_counter_of(op, items);
        ops[count++] = (rk_counter_op){.outcome = check_cart_outcome(op), .key = op->key,
                                       .field = (const uint8_t *)field,
                                       .field_len = strlen(field), .increment = op->quantity};
    }
    check_counter_strings strings;
    check_counter_finals(w, finals, &strings);
    rk_counter_history h = {.ops = ops, .op_count = count, .finals = finals,
                            .key_count = w->cfg.keys};
    rk_counter_verdict v;
    RK_ASSERT(rk_counter_check(&h, &v) == 0);
    w->res.acked_increments = v.acked_increments;
    w->res.counter_out_of_range = v.out_of_range;
    w->res.final_reads_failed = v.keys_unread;
    if (v.example) {
        fprintf(stderr, "counter out of range: %u of %u, first key k%u field '%.*s' read %.*s, "
                "allowed %lld..%lld\n", (unsigned)v.out_of_range, (unsigned)v.counters,
                v.example_key, (int)v.example_field_len, (const char *)v.example_field,
                v.example_value != NULL ? (int)v.example_value_len : 4,
                v.example_value != NULL ? (const char *)v.example_value : "none",
                (long long)v.example_low, (long long)v.example_high);
    }
    if (v.example && w->cfg.trace) {
        check_counter_trace(w, items, &v);
    }
    free(strings.fields);
    free(strings.field_lens);
    free(strings.values);
    free(strings.value_lens);
    free(finals);
    free(ops);
}

/* One minted write for check_dots: its key and dot, and the op for a total order. */
typedef struct check_mint {
    uint32_t key;
    rk_dot dot;
    uint32_t op;
} check_mint;

static int check_mint_cmp(const void *pa, const void *pb)
{
    const check_mint *a = pa;
    const check_mint *b = pb;
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    if (a->dot.node != b->dot.node) {
        return a->dot.node < b->dot.node ? -1 : 1;
    }
    if (a->dot.counter != b->dot.counter) {
        return a->dot.counter < b->dot.counter ? -1 : 1;
    }
    return a->op < b->op ? -1 : (a->op > b->op ? 1 : 0);
}

/* dots_reused: sort every minted write by (key, dot) and count neighbours that share both. A
 * duplicated forward that minted twice is one op with one dot (history.c keeps its first). */
static void check_dots(sim_world *w)
{
    check_mint *mints = calloc(w->op_count + 1u, sizeof(*mints));
    RK_ASSERT(mints != NULL);
    uint32_t count = 0;
    for (uint32_t i = 1; i <= w->op_count; i++) {
        const sim_op *op = &w->ops[i];
        if (sim_op_is_write(op) && op->dot_known) {
            mints[count++] = (check_mint){.key = op->key, .dot = op->dot, .op = op->id};
        }
    }
    qsort(mints, count, sizeof(*mints), check_mint_cmp);
    for (uint32_t i = 1; i < count; i++) {
        const check_mint *a = &mints[i - 1];
        const check_mint *b = &mints[i];
        if (a->key == b->key && a->dot.node == b->dot.node && a->dot.counter == b->dot.counter) {
            w->res.dots_reused++;
            fprintf(stderr, "dot reused: key k%u dot %u:%llu by ops %u and %u\n", a->key,
                    a->dot.node, (unsigned long long)a->dot.counter, a->op, b->op);
        }
    }
    free(mints);
}

void sim_check_promise(sim_world *w, bool broken, const char *name)
{
    if (!broken) {
        return;
    }
    size_t used = strlen(w->res.failures);
    snprintf(w->res.failures + used, sizeof(w->res.failures) - used, "%s%s", used > 0 ? "," : "",
             name);
    w->res.failed = true;
}

/* Which checkers the configuration promises, and whether they held. */
static void check_promises(sim_world *w)
{
    const rk_sim_config *c = &w->cfg;
    bool cart = c->workload == RK_SIM_WORKLOAD_CART;
    uint32_t faults = c->faults | sim_scenario_faults(w);   /* random and scripted */
    w->res.promise_no_lost = c->sync != RK_SYNC_NONE;
    w->res.promise_no_stale = faults == 0 && c->r + c->w > c->n;
    /* Without skew every clock agrees, so real-time order and timestamps agree too. */
    bool skewed = (faults & RK_SIM_FAULT_SKEW) != 0;
    sim_check_promise(w, w->res.promise_no_lost && w->res.lost_acked_writes > 0,
                  "lost_acked_writes");
    sim_check_promise(w, !skewed && w->res.lww_dropped > 0, "lww_dropped");
    sim_check_promise(w, w->res.resurrected_deletes > 0, "resurrected_deletes");
    sim_check_promise(w, w->res.promise_no_stale && w->res.stale_reads > 0, "stale_reads");
    sim_check_promise(w, w->res.dots_reused > 0, "dots_reused");
    /* An observed-remove set promises both; Dynamo's cart loses no add but resurrects removes
     * by design (the anomaly is counted, not failed). A key the final read missed is unjudged. */
    sim_check_promise(w, cart && w->res.promise_no_lost && w->res.lost_adds > 0, "lost_adds");
    sim_check_promise(w, cart && c->policy == RK_POLICY_SET && w->res.resurrected_removes > 0,
                  "resurrected_removes");
    /* A counter out of range lost an acknowledged increment or decrement (a lost decrement
     * leaves it above) or counted one twice: promised, as a lost add, where acknowledged writes
     * survive crashes. With --sync none a crash may drop both kinds, so neither side fails. */
    sim_check_promise(w, cart && w->res.promise_no_lost && w->res.counter_out_of_range > 0,
                  "counter_out_of_range");
    sim_check_promise(w, cart && w->res.final_reads_failed > 0, "final_reads");
    /* The preload runs before any fault: every batch must be acknowledged. */
    sim_check_promise(w, w->res.preload_unacked > 0, "preload");
    sim_check_promise(w, !w->res.converged, "converged");
    sim_check_promise(w, w->res.hints_left > 0 || w->res.hinted_copies_left > 0, "handoff");
}

void sim_check_aae(sim_world *w)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        rk_node *n = w->nodes[i].node;
        w->res.aae_keys_repaired += rk_node_stats_get(n)->aae_keys_repaired;
        w->res.tombstones_reaped += rk_node_stats_get(n)->tombstones_reaped;
        if (!rk_node_aae_matches_store(n)) {
            w->res.aae_trees_mismatched++;
        }
    }
    /* Promised on top of sim_check's: the trees agreed when no read repaired anything, and
     * every kept tree equals the store's. */
    sim_check_promise(w, w->cfg.no_read_repair && !w->res.aae_converged, "aae_converged");
    sim_check_promise(w, w->res.aae_trees_mismatched > 0, "aae_trees");
    /* Reaping: the sweep after the heal (sim.c) leaves no tombstone behind. */
    sim_check_promise(w, w->cfg.reap_grace_ms > 0 && w->res.tombstones_left > 0, "tombstones_left");
}

/* With membership changes, copies are compared as the nodes compare them: without the
 * history entries of members that left (rk_dvvset_forget, docs/membership.md), which a replica
 * drops whenever it merges but not when it stores an object it lacked as it came (replica.c:
 * a transfer or a repair into an absent key), so equal data may differ in forgotten entries. */
static void check_forget_gone(sim_world *w, check_final *final)
{
    if (!w->membership_on) {
        return;
    }
    const rk_cluster_meta *m = rk_node_cluster(w->nodes[sim_anchor(w)].node);
    for (uint32_t i = 0; i < w->cfg.nodes * final->keys; i++) {
        (void)rk_dvvset_forget(&final->sets[i], m->gone, m->gone_count);
    }
}

void sim_check(sim_world *w)
{
    uint32_t keys = w->cfg.keys;
    check_final final = {.keys = keys};
    final.sets = calloc((size_t)w->cfg.nodes * keys, sizeof(*final.sets));
    RK_ASSERT(final.sets != NULL);
    for (uint32_t i = 0; i < w->cfg.nodes * keys; i++) {
        rk_dvvset_init(&final.sets[i]);
    }
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        RK_ASSERT(w->nodes[i].node != NULL);
        check_load load = {.final = &final, .node = i, .node_ptr = w->nodes[i].node};
        RK_ASSERT(rk_store_iterate(w->nodes[i].store.inner, RK_DB_DATA, NULL, 0, NULL, 0,
                                   check_load_entry, &load) == 0);
    }
    check_forget_gone(w, &final);
    w->res.converged = true;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        w->res.hints_left += rk_node_stats_get(w->nodes[i].node)->hints_pending;
    }
    for (uint32_t k = 0; k < keys; k++) {
        uint32_t pref[RK_N_MAX];
        uint32_t count = check_preflist(w, k, pref);
        for (uint32_t i = 0; i < w->cfg.nodes; i++) {
            bool primary = false;
            for (uint32_t j = 0; j < count; j++) {
                primary = primary || pref[j] == i;
            }
            const rk_dvvset *copy = &final.sets[i * keys + k];
            bool held = copy->sibling_count > 0 || copy->history.entry_count > 0;
            w->res.hinted_copies_left += !primary && held ? 1 : 0;
            if (w->cfg.trace && !primary && held) {
                fprintf(stderr, "misplaced: key k%u held by node %u, no primary of it\n", k,
                        w->nodes[i].id);
            }
            bool live = false;
            for (uint32_t s = 0; s < copy->sibling_count; s++) {
                live = live || !copy->siblings[s].tombstone;
            }
            w->res.tombstones_left += copy->sibling_count > 0 && !live ? 1 : 0;
        }
        bool equal = true;
        for (uint32_t i = 1; i < count; i++) {
            equal = equal && rk_dvvset_equal(&final.sets[pref[0] * keys + k],
                                             &final.sets[pref[i] * keys + k]);
        }
        if (!equal) {
            w->res.converged = false;
            w->res.keys_diverged++;
            for (uint32_t i = 0; w->cfg.trace && i < count; i++) {
                const rk_dvvset *copy = &final.sets[pref[i] * keys + k];
                fprintf(stderr, "diverged: key k%u primary %u (node %u) holds %u siblings, %u "
                        "history entries\n", k, i, w->nodes[pref[i]].id, copy->sibling_count,
                        copy->history.entry_count);
            }
        }
    }
    check_tally(w);
    bool counters = w->cfg.policy == RK_POLICY_COUNTER || w->cfg.policy == RK_POLICY_MAP;
    if (w->cfg.workload == RK_SIM_WORKLOAD_CART && counters) {
        check_counter(w);
    } else if (w->cfg.workload == RK_SIM_WORKLOAD_CART) {
        check_cart(w);
    } else {
        check_histories(w, &final);
        check_dots(w);
    }
    for (uint32_t i = 0; i < w->cfg.nodes * keys; i++) {
        rk_dvvset_deinit(&final.sets[i]);
    }
    free(final.sets);
    check_promises(w);
}
