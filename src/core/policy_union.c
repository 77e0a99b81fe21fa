/* policy_union.c — Dynamo's shopping cart (DeCandia et al. 2007, 4.4): a key holds a set of
 * members, and concurrent versions are reconciled as the union of their members. Each version
 * is one sibling whose value is its sorted member list (elems.h); replicas keep concurrent
 * versions side by side exactly as the siblings policy does (rk_dvvset_sync), and every read,
 * and every write's read-modify-write at R, sees their union. A write (SADD, SREM, DEL)
 * replaces every version it read with one new version: the union, changed. So no added member
 * is ever lost — and a member removed on one side comes back when a concurrent version on the
 * other side still holds it: the anomaly Amazon accepted, counted by the simulator's
 * resurrected_removes. A version with no member is a tombstone (the key reads as absent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "policy.h"

/* Every member of every live version, borrowed from the state, into malloc'd arrays (not yet
 * sorted). A version whose bytes are not an element list (a damaged peer's) adds nothing. */
static int union_gather(const rk_dvvset *state, const uint8_t ***members_out, size_t **lens_out,
                        uint32_t *count_out)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        const rk_sibling *s = &state->siblings[i];
        uint32_t count = 0;
        if (!s->tombstone && rk_elems_check(s->value, s->value_len, &count) == 0) {
            total += count;
        }
    }
    const uint8_t **members = malloc((total > 0 ? total : 1) * sizeof(*members));
    size_t *lens = malloc((total > 0 ? total : 1) * sizeof(*lens));
    if (members == NULL || lens == NULL) {
        free(members);
        free(lens);
        return RK_ENOMEM;
    }
    uint32_t at = 0;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        const rk_sibling *s = &state->siblings[i];
        uint32_t count = 0;
        if (s->tombstone || rk_elems_check(s->value, s->value_len, &count) != 0) {
            continue;
        }
        rk_elems_iter it;
        rk_elems_iter_init(&it, s->value, s->value_len);
        while (rk_elems_next(&it, &members[at], &lens[at])) {
            at++;
        }
    }
    RK_ASSERT(at == total);
    *members_out = members;
    *lens_out = lens;
    *count_out = at;
    return 0;
}

/* The new member list of a write: the union it read, changed by `op`, into *members_out (count
 * in *count_out) with the reply count. Takes `current` (sorted unique, freed here). */
static int union_changed(const rk_op *op, uint32_t arg_total, const uint8_t **current,
                         size_t *current_lens, uint32_t current_count,
                         const uint8_t ***members_out, size_t **lens_out, uint32_t *count_out,
                         int64_t *reply_out)
{
    const uint8_t **args = NULL;
    size_t *arg_lens = NULL;
    uint32_t arg_count = 0;
    if (op->kind != RK_OP_DEL) {
        rk_elems_iter it;     /* union_apply checked the list: arg_total members */
        args = malloc(arg_total * sizeof(*args));
        arg_lens = malloc(arg_total * sizeof(*arg_lens));
        if (args == NULL || arg_lens == NULL) {
            free(args);
            free(arg_lens);
            free(current);
            free(current_lens);
            return RK_ENOMEM;
        }
        rk_elems_iter_init(&it, op->arg, op->arg_len);
        while (rk_elems_next(&it, &args[arg_count], &arg_lens[arg_count])) {
            arg_count++;
        }
        arg_count = rk_policy_coll_sort_unique(args, arg_lens, arg_count);
    }
    if (op->kind == RK_OP_SADD) {
        const uint8_t **all = malloc((current_count + arg_count) * sizeof(*all));
        size_t *all_lens = malloc((current_count + arg_count) * sizeof(*all_lens));
        if (all == NULL || all_lens == NULL) {
            free(all);
            free(all_lens);
            free(args);
            free(arg_lens);
            free(current);
            free(current_lens);
            return RK_ENOMEM;
        }
        memcpy(all, current, current_count * sizeof(*all));
        memcpy(all_lens, current_lens, current_count * sizeof(*all_lens));
        memcpy(all + current_count, args, arg_count * sizeof(*all));
        memcpy(all_lens + current_count, arg_lens, arg_count * sizeof(*all_lens));
        uint32_t count = rk_policy_coll_sort_unique(all, all_lens, current_count + arg_count);
        *reply_out = (int64_t)count - (int64_t)current_count;
        *members_out = all;
        *lens_out = all_lens;
        *count_out = count;
        free(current);
        free(current_lens);
    } else {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < current_count; i++) {
            bool removed = op->kind == RK_OP_DEL ||
                           rk_policy_coll_has(args, arg_lens, arg_count, current[i],
                                              current_lens[i]);
            if (!removed) {
                current[kept] = current[i];
                current_lens[kept] = current_lens[i];
                kept++;
            }
        }
        *reply_out = op->kind == RK_OP_DEL ? (current_count > 0 ? 1 : 0)
                                           : (int64_t)(current_count - kept);
        *members_out = current;
        *lens_out = current_lens;
        *count_out = kept;
    }
    free(args);
    free(arg_lens);
    return 0;
}

/* Replace every version `state` holds with one holding members[0..count) (a tombstone when
 * empty), minted by the write's coordinator. */
static int union_write(const rk_policy_write *w, rk_dvvset *state, const uint8_t **members,
                       const size_t *lens, uint32_t count, rk_policy_applied *out,
                       char *message, size_t message_bytes)
{
    size_t len = rk_elems_encoded_len(lens, count);
    if (count > RK_COLL_MEMBERS_MAX || len > w->value_bytes_max) {
        snprintf(message, message_bytes, "the set would hold %u members in %zu bytes; a set "
                 "holds at most %u members and max-value-bytes (%llu)", count, len,
                 RK_COLL_MEMBERS_MAX, (unsigned long long)w->value_bytes_max);
        return RK_ETOOBIG;
    }
    uint8_t *bytes = count > 0 ? malloc(len) : NULL;
    if (count > 0 && bytes == NULL) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    if (bytes != NULL) {
        rk_elems_encode(members, lens, count, bytes);
    }
    rk_vv context;
    rk_dvvset_join(state, &context);    /* it read them all: supersede them all */
    rk_dvvset_write write = {.value = bytes,
                             .value_len = count > 0 ? len : 0,
                             .tombstone = count == 0,
                             .timestamp_us = w->stamp_us};
    int rc = rk_dvvset_update(state, &context, &write, w->coordinator, w->dot_floor,
                              w->siblings_max, &out->dot);
    free(bytes);
    if (rc != 0) {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        return rc;
    }
    state->type_tag = RK_POLICY_TAG_UNION;
    return 0;
}

static int union_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                       char *message, size_t message_bytes)
{
    uint32_t arg_count = 0;
    int rc = rk_policy_coll_write_check(&w->op, &arg_count, message, message_bytes);
    if (rc != 0) {
        return rc;
    }
    const uint8_t **current = NULL;
    size_t *current_lens = NULL;
    uint32_t current_count = 0;
    if (union_gather(state, &current, &current_lens, &current_count) != 0) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    current_count = rk_policy_coll_sort_unique(current, current_lens, current_count);
    const uint8_t **members = NULL;
    size_t *lens = NULL;
    uint32_t count = 0;
    int64_t reply = 0;
    rc = union_changed(&w->op, arg_count, current, current_lens, current_count, &members, &lens,
                       &count, &reply);
    if (rc != 0) {
        snprintf(message, message_bytes, "out of memory");
        return rc;
    }
    rc = union_write(w, state, members, lens, count, out, message, message_bytes);
    free(members);
    free(lens);
    if (rc == 0) {
        out->reply_kind = RK_REPLY_INT;
        out->integer = reply;
    }
    return rc;
}

static int union_merge(rk_dvvset *state, const rk_dvvset *other)
{
    return rk_dvvset_sync(state, other);    /* versions side by side; reads unite them */
}

static void union_read(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    const uint8_t **members = NULL;
    size_t *lens = NULL;
    uint32_t count = 0;
    if (union_gather(state, &members, &lens, &count) != 0) {
        snprintf(out->message, sizeof(out->message), "out of memory");
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_ENOMEM,
                                .message = out->message};
        return;
    }
    rk_policy_coll_answer(members, lens, count, q, out);
}

const rk_policy rk_policy_union = {
    .name = "union",
    .type_tag = RK_POLICY_TAG_UNION,
    .type_name = "set",
    .durable_before_send = false,
    .read_before_write = true,
    .apply = union_apply,
    .merge = union_merge,
    .merge_delta = union_merge,     /* a write's delta is its whole new version */
    .read = union_read,
    .hash = rk_policy_values_hash,  /* the canonical encoding: clock and every version */
    .is_reapable = rk_policy_values_reapable,
};
