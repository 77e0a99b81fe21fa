/* policy_set.c — an add-wins observed-remove set without tombstones: Riak's ORSWOT (riak_dt's
 * riak_dt_orswot; Bieniusa, Zawirski, Preguiça, Shapiro et al., "An optimized conflict-free
 * replicated set", arXiv 1210.3368). One version vector for the whole set — the state's
 * history — and one dot per member: each member is a sibling whose value is the member and
 * whose dot is the add that put it there (concurrent adds of one member leave one sibling
 * each).
 *
 *   add m     mint a dot for m, drop the dots of m it observed (the new one supersedes them)
 *   remove m  drop the dots of m it observed; no dot is minted: the clock already covers them
 *   merge     rk_dvvset_sync, which is ORSWOT's merge exactly: keep a member's dot if both
 *             sides hold it, or if the side without it has not seen it (a concurrent add);
 *             drop it if that side saw it and removed it
 *
 * So a remove deletes exactly the adds it observed and a concurrent add survives — no acked
 * add is lost and no observed remove is undone. The price is the clock: it must never be
 * pruned (a pruned entry forgets the removes of its dots, and a replica still holding one
 * brings it back), so it is bounded instead (RK_SET_CLOCK_ENTRIES_MAX, policy.h) and a write
 * past the bound is refused with an error naming it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "policy.h"

/* Drop the siblings holding `member` (the adds of it this state observed); returns how many. */
static uint32_t set_drop_member(rk_dvvset *state, const uint8_t *member, size_t member_len)
{
    RK_ASSERT(!state->values_borrowed);
    uint32_t kept = 0;
    uint32_t dropped = 0;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        rk_sibling *s = &state->siblings[i];
        if (s->value_len == member_len &&
            (member_len == 0 || memcmp(s->value, member, member_len) == 0)) {
            free(s->value);
            dropped++;
            continue;
        }
        state->siblings[kept++] = *s;
    }
    state->sibling_count = kept;
    return dropped;
}

/* A state of another type with nothing live becomes an empty set that keeps its history. */
static void set_take_over(rk_dvvset *state)
{
    if (state->type_tag == RK_POLICY_TAG_SET) {
        return;
    }
    RK_ASSERT(!rk_policy_live(state));
    rk_policy_clear_siblings(state);
    state->type_tag = RK_POLICY_TAG_SET;
}

/* SADD: each member gets a fresh dot that supersedes the adds of it observed. */
static int set_add(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                   char *message, size_t message_bytes)
{
    int rc = rk_policy_clock_room(w, state, "set", message, message_bytes);
    if (rc != 0) {
        out->clock_full = true;
        return rc;
    }
    rk_vv nothing;
    rk_vv_init(&nothing);   /* supersede by hand: only the member's own dots go */
    rk_elems_iter it;
    rk_elems_iter_init(&it, w->op.arg, w->op.arg_len);
    const uint8_t *member = NULL;
    size_t member_len = 0;
    int64_t added = 0;
    while (rk_elems_next(&it, &member, &member_len)) {
        bool was_member = set_drop_member(state, member, member_len) > 0;
        rk_dvvset_write write = {.value = member,
                                 .value_len = member_len,
                                 .timestamp_us = w->stamp_us};
        rc = rk_dvvset_update(state, &nothing, &write, w->coordinator, w->dot_floor,
                              RK_DVVSET_ELEMENTS_MAX, &out->dot);
        if (rc == RK_ETOOBIG) {
            snprintf(message, message_bytes, "a set holds at most %u members",
                     RK_DVVSET_ELEMENTS_MAX);
            return rc;
        }
        if (rc != 0) {
            snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
            return rc;
        }
        added += was_member ? 0 : 1;
    }
    out->integer = added;
    return 0;
}

/* Members whose add was minted by a node that left the cluster are added again under this
 * coordinator's dots, so the left node's clock entry is pinned by nothing and can be forgotten
 * later (rk_dvvset_forget): without it every departed node that added a member still present keeps
 * an entry, and churn fills the set's clock until writes are refused (docs/membership.md). An
 * add again supersedes exactly the add it re-dots; like any add it wins over a concurrent
 * remove of the member, which may then reappear. */
static int set_readopt(const rk_policy_write *w, rk_dvvset *state)
{
    if (w->gone_count == 0) {
        return 0;
    }
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        rk_node_id node = state->siblings[i].dot.node;
        bool gone = false;
        for (uint32_t g = 0; g < w->gone_count && !gone; g++) {
            gone = w->gone[g] == node;
        }
        if (!gone) {
            continue;
        }
        rk_sibling old = state->siblings[i];
        uint8_t *member = old.value_len > 0 ? malloc(old.value_len) : NULL;
        if (old.value_len > 0 && member == NULL) {
            return RK_ENOMEM;
        }
        if (old.value_len > 0) {
            memcpy(member, old.value, old.value_len);
        }
        (void)set_drop_member(state, member, old.value_len);
        rk_vv nothing;
        rk_vv_init(&nothing);
        rk_dvvset_write write = {.value = member,
                                 .value_len = old.value_len,
                                 .timestamp_us = w->stamp_us};
        rk_dot dot;
        int rc = rk_dvvset_update(state, &nothing, &write, w->coordinator, w->dot_floor,
                                  RK_DVVSET_ELEMENTS_MAX, &dot);
        free(member);
        if (rc != 0) {
            return rc;
        }
        i = (uint32_t)-1; /* the siblings moved: look again from the start */
    }
    /* The left node's entry stays in this write's clock, so a replica merging it drops the old
     * dot (the clock covers it) instead of keeping it as unseen; replicas forget the entry after
     * that merge, and this node before its next write. */
    return 0;
}

static int set_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                     char *message, size_t message_bytes)
{
    uint32_t arg_count = 0;
    int rc = rk_policy_coll_write_check(&w->op, &arg_count, message, message_bytes);
    if (rc != 0) {
        return rc;
    }
    /* The caller applies to a copy and keeps it only on success, so an error part-way through
     * a multi-member SADD changes nothing. */
    set_take_over(state);
    rc = set_readopt(w, state);
    if (rc != 0) {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        return rc;
    }
    out->reply_kind = RK_REPLY_INT;
    out->integer = 0;
    if (w->op.kind == RK_OP_SADD) {
        return set_add(w, state, out, message, message_bytes);
    }
    if (w->op.kind == RK_OP_DEL) {
        out->integer = state->sibling_count > 0 ? 1 : 0;
        rk_policy_clear_siblings(state);
        return 0;
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, w->op.arg, w->op.arg_len);
    const uint8_t *member = NULL;
    size_t member_len = 0;
    while (rk_elems_next(&it, &member, &member_len)) {
        out->integer += set_drop_member(state, member, member_len) > 0 ? 1 : 0;
    }
    return 0;
}

static int set_merge(rk_dvvset *state, const rk_dvvset *other)
{
    if (rk_vv_union_count(&state->history, &other->history) > RK_VV_ENTRIES_MAX) {
        return RK_ETOOBIG;      /* never pruned: refused (the replica answers the error) */
    }
    return rk_dvvset_sync(state, other);
}

static void set_read(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    uint32_t total = state->sibling_count;
    const uint8_t **members = malloc((total > 0 ? total : 1) * sizeof(*members));
    size_t *lens = malloc((total > 0 ? total : 1) * sizeof(*lens));
    if (members == NULL || lens == NULL) {
        free(members);
        free(lens);
        snprintf(out->message, sizeof(out->message), "out of memory");
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_ENOMEM,
                                .message = out->message};
        return;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < total; i++) {
        if (!state->siblings[i].tombstone) {    /* a deleted value's, before a set took over */
            members[count] = state->siblings[i].value;
            lens[count] = state->siblings[i].value_len;
            count++;
        }
    }
    rk_policy_coll_answer(members, lens, count, q, out);
}

const rk_policy rk_policy_set = {
    .name = "set",
    .type_tag = RK_POLICY_TAG_SET,
    .type_name = "set",
    .durable_before_send = true,
    .read_before_write = true,
    .apply = set_apply,
    .merge = set_merge,
    .merge_delta = set_merge,       /* the whole state for now: deltas are a later issue */
    .read = set_read,
    .hash = rk_policy_values_hash,
    .is_reapable = rk_policy_values_reapable,
};
