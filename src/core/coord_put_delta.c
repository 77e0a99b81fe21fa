/* coord_put_delta.c — a large set's writes (issue 14, docs/merge.md): SADD and SREM on a set
 * of at least RK_SET_DELTA_MEMBERS_MIN members read only the members they name (the whole clock
 * and those members' dots, GET_REQ flag RK_MSG_GET_MEMBERS), apply the operation to that
 * narrowed state through the set policy as any write, and send the replicas the delta
 * (setrows.h) instead of the whole set: the new dots as siblings, and as history exactly the
 * dots it saw of those members and minted. A replica merges it when causally ready; one that
 * is not answers RK_ENOTREADY and gets the whole set from here. Also the member limit
 * (max-collection-members) every set write is checked against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "elems.h"
#include "hash.h"
#include "parts.h"
#include "policy.h"
#include "setrows.h"

bool rk_coord_put_delta_choose(rk_node *n, rk_coord_put *c, const rk_op *op)
{
    uint32_t count = 0;
    c->delta = false;
    if (rk_policy_of(c->policy)->type_tag != RK_POLICY_TAG_SET ||
        (op->kind != RK_OP_SADD && op->kind != RK_OP_SREM) ||
        rk_elems_check(op->arg, op->arg_len, &count) != 0 || count > RK_SET_DELTA_OP_MEMBERS_MAX) {
        return false;
    }
    c->delta_base_count = rk_local_set_count(&n->local, &c->key);
    c->delta = c->delta_base_count >= RK_SET_DELTA_MEMBERS_MIN;
    return c->delta;
}

void rk_coord_put_delta_seen(const rk_dvvset *state, rk_vv *seen)
{
    rk_vv_init(seen);
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        int rc = rk_vv_merge(seen, seen, &state->siblings[i].dot, NULL, 0, seen);
        RK_ASSERT(rc == 0 || rc == RK_ETOOBIG);
    }
}

/* Distinct members among the live siblings of a whole set (concurrent adds of one member
 * count once). */
static uint64_t coord_set_members(const rk_dvvset *state)
{
    const uint8_t **members = malloc((state->sibling_count + 1u) * sizeof(*members));
    size_t *lens = malloc((state->sibling_count + 1u) * sizeof(*lens));
    uint32_t count = 0;
    if (members == NULL || lens == NULL) {
        free(members);
        free(lens);
        return state->sibling_count;
    }
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            members[count] = state->siblings[i].value;
            lens[count++] = state->siblings[i].value_len;
        }
    }
    count = rk_policy_coll_sort_unique(members, lens, count);
    free(members);
    free(lens);
    return count;
}

int rk_coord_put_members_check(rk_node *n, const rk_coord_put *c, const rk_op *op,
                               const rk_dvvset *state, int64_t added, char *message,
                               size_t message_bytes)
{
    uint64_t limit = n->config.collection_members_max;
    if (op->kind != RK_OP_SADD || state->type_tag != RK_POLICY_TAG_SET ||
        (!c->delta && state->sibling_count <= limit)) {
        return 0;
    }
    uint64_t after = c->delta ? c->delta_base_count + (uint64_t)(added > 0 ? added : 0)
                              : coord_set_members(state);
    if (after <= limit) {
        return 0;
    }
    n->stats.set_members_refused++;
    snprintf(message, message_bytes, "the set would hold %llu members; a collection holds at "
             "most %llu (max-collection-members)", (unsigned long long)after,
             (unsigned long long)limit);
    return RK_ETOOBIG;
}

int rk_coord_put_delta_store(rk_node *n, rk_coord_put *c, const rk_dvvset *applied,
                             const rk_vv *seen, rk_node_id hint_owner, uint64_t *seq_out,
                             const uint8_t **bytes_out, size_t *len_out)
{
    /* The delta: the members' dots now, and as history what was seen of them and minted. */
    rk_dvvset delta = {.history = *seen,
                       .sibling_count = applied->sibling_count,
                       .siblings = applied->siblings,
                       .values_borrowed = true,
                       .type_tag = RK_POLICY_TAG_SET};
    for (uint32_t i = 0; i < applied->sibling_count; i++) {
        if (rk_vv_merge(&delta.history, &delta.history, &applied->siblings[i].dot, NULL, 0,
                        &delta.history) != 0) {
            return RK_ETOOBIG;
        }
    }
    size_t state_len = rk_dvvset_encoded_len(&delta);
    uint8_t *state = malloc(state_len);
    size_t len = rk_setrows_delta_len(c->request.value_len, state_len);
    free(c->delta_object);
    c->delta_object = malloc(len);
    if (state == NULL || c->delta_object == NULL) {
        free(state);
        return RK_ENOMEM;
    }
    (void)rk_dvvset_encode(&delta, state);
    (void)rk_setrows_delta_encode(c->request.value, c->request.value_len, state, state_len,
                                  c->delta_object);
    free(state);
    /* This node may lag (a delta it missed): its copy takes the delta anyway, gaps and all. */
    int rc = rk_handoff_store_delta(n, &c->key, c->request.value, c->request.value_len, &delta,
                                    false, hint_owner, seq_out);
    *bytes_out = c->delta_object;
    *len_out = len;
    return rc;
}

typedef struct coord_chunks {
    rk_node *n;
    rk_node_id to;
    const rk_local_key *key;
    uint64_t req_id;
    uint32_t flags;
    rk_node_id hint_owner;
} coord_chunks;

/* One chunk of the whole set; only the last is answered (the chunks before it go as repairs). */
static int coord_send_chunk(void *ctx, const uint8_t *bytes, size_t len, bool last)
{
    coord_chunks *r = ctx;
    rk_msg m = {.kind = RK_MSG_PUT_REQ,
                .req_id = last ? r->req_id : 0,
                .key = r->key->key,
                .key_len = r->key->key_len,
                .object = bytes,
                .object_len = len,
                .flags = r->flags | RK_MSG_PUT_CHUNK | (last ? 0u : RK_MSG_PUT_REPAIR),
                .hint_owner = r->hint_owner};
    node_send(r->n, r->to, &m);
    return 0;
}

int rk_coord_send_whole_set(rk_node *n, rk_node_id to, const rk_local_key *k, uint64_t req_id,
                            uint32_t flags, rk_node_id hint_owner)
{
    if (rk_local_set_count(&n->local, k) < RK_SET_STREAM_MEMBERS_MIN) {
        /* Small enough for one frame: one message, which reordering cannot break. */
        rk_buf whole;
        int rc = rk_local_read_raw(&n->local, k, &whole);
        if (rc == 0 && whole.len > 0) {
            rk_msg m = {.kind = RK_MSG_PUT_REQ, .req_id = req_id, .key = k->key,
                        .key_len = k->key_len, .object = whole.data, .object_len = whole.len,
                        .flags = flags, .hint_owner = hint_owner};
            node_send(n, to, &m);
        }
        rc = rc == 0 && whole.len == 0 ? RK_ENOTFOUND : rc;
        rk_store_buf_free(&whole);
        return rc;
    }
    coord_chunks r = {.n = n, .to = to, .key = k, .req_id = req_id, .flags = flags,
                      .hint_owner = hint_owner};
    /* Unique among this node's streams, across restarts too (the wall clock), and never 0; a
     * receiver also tells streams apart by key. */
    uint64_t parts[3] = {n->config.id, n->env->wall_us(n->env->ctx), ++n->set_streams};
    uint64_t stream = rk_hash_key((const uint8_t *)parts, sizeof(parts)) | 1u;
    return rk_local_set_stream(&n->local, k, stream, coord_send_chunk, &r);
}

void rk_coord_put_resend_whole(rk_node *n, rk_coord_put *c, uint32_t index)
{
    RK_ASSERT(index < c->q.preflist_count);
    uint16_t bit = (uint16_t)(1u << index);
    if ((c->resent_mask & bit) != 0) {
        rk_coord_put_on_ack(n, c, index, false);   /* refused twice: that replica failed */
        return;
    }
    c->resent_mask |= bit;
    n->stats.set_full_resends++;
    /* In chunks that each fit a frame, however large the set (setrows.h). */
    if (rk_coord_send_whole_set(n, c->q.preflist[index], &c->key, c->base.id, 0,
                                c->q.hint_for[index]) != 0) {
        rk_coord_put_on_ack(n, c, index, false);
    }
}
