/* policy_lww.c — last-write-wins (Cassandra's rule, the plain-Redis behaviour): one value
 * survives, the highest stamp, ties broken by the dot so every replica picks the same. Every
 * write supersedes exactly what its coordinator holds, whatever context the client sent: its
 * stamp is above every stamp it supersedes (the hybrid clock, coord_put.c), so timestamps and
 * causality agree and the highest stamp always survives. A client context could cover siblings
 * this node has not seen, whose stamps it cannot know. The price, and the lesson: a write
 * concurrent with another is dropped silently. Takes PUT, DEL, APPEND and GETDEL; a set operation is of the wrong type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* Keep only the winning sibling (highest timestamp, then dot), history unchanged. */
static void lww_resolve(rk_dvvset *set)
{
    RK_ASSERT(!set->values_borrowed);
    if (set->sibling_count <= 1) {
        return;
    }
    uint32_t best = 0;
    for (uint32_t i = 1; i < set->sibling_count; i++) {
        const rk_sibling *a = &set->siblings[i];
        const rk_sibling *b = &set->siblings[best];
        /* Ties broken by the dot, never by the value: every replica picks the same winner. */
        if (a->timestamp_us > b->timestamp_us ||
            (a->timestamp_us == b->timestamp_us &&
             (a->dot.node > b->dot.node ||
              (a->dot.node == b->dot.node && a->dot.counter > b->dot.counter)))) {
            best = i;
        }
    }
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (i != best) {
            free(set->siblings[i].value);
        }
    }
    set->siblings[0] = set->siblings[best];
    set->sibling_count = 1;
}

/* APPEND: the value the coordinator holds (empty when absent or deleted) followed by the
 * argument, into *joined_out (owned). */
static int lww_appended(const rk_dvvset *state, const rk_op *op, uint64_t value_bytes_max,
                        uint8_t **joined_out, size_t *len_out, char *message,
                        size_t message_bytes)
{
    const rk_sibling *current = NULL;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            current = &state->siblings[i];     /* resolved: at most one */
        }
    }
    size_t current_len = current != NULL ? current->value_len : 0;
    if (current_len > value_bytes_max || op->arg_len > value_bytes_max - current_len) {
        snprintf(message, message_bytes, "APPEND would make the value %zu bytes; "
                 "max-value-bytes is %llu", current_len + op->arg_len,
                 (unsigned long long)value_bytes_max);
        return RK_ETOOBIG;
    }
    size_t len = current_len + op->arg_len;
    uint8_t *joined = malloc(len > 0 ? len : 1);
    if (joined == NULL) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    if (current_len > 0) {
        memcpy(joined, current->value, current_len);
    }
    if (op->arg_len > 0) {
        memcpy(joined + current_len, op->arg, op->arg_len);
    }
    *joined_out = joined;
    *len_out = len;
    return 0;
}

static int lww_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                     char *message, size_t message_bytes)
{
    if (w->op.kind != RK_OP_PUT && w->op.kind != RK_OP_DEL && w->op.kind != RK_OP_APPEND &&
        w->op.kind != RK_OP_GETDEL) {
        return rk_policy_wrongtype(message, message_bytes);
    }
    rk_vv context;
    rk_policy_values_context(state, NULL, &context);
    rk_policy_write write = *w;
    uint8_t *joined = NULL;
    if (w->op.kind == RK_OP_APPEND) {
        size_t len = 0;
        int rc = lww_appended(state, &w->op, w->value_bytes_max, &joined, &len, message,
                              message_bytes);
        if (rc != 0) {
            return rc;
        }
        write.op = (rk_op){.kind = RK_OP_PUT, .arg = joined, .arg_len = len};
    }
    int rc = w->op.kind == RK_OP_GETDEL
                 ? rk_policy_values_getdel(&write, &context, state, out, message, message_bytes)
                 : rk_policy_values_update(&write, &context, state, out, message, message_bytes);
    if (rc == 0) {
        lww_resolve(state);
    }
    if (rc == 0 && w->op.kind == RK_OP_APPEND) {
        out->reply_kind = RK_REPLY_INT;     /* Redis: the length after the append */
        out->integer = (int64_t)write.op.arg_len;
    }
    free(joined);
    return rc;
}

static int lww_merge(rk_dvvset *state, const rk_dvvset *other)
{
    int rc = rk_dvvset_sync(state, other);
    if (rc == 0) {
        lww_resolve(state);
    }
    return rc;
}

const rk_policy rk_policy_lww = {
    .name = "lww",
    .type_tag = RK_POLICY_TAG_VALUES,
    .type_name = "string",
    .durable_before_send = false,
    .read_before_write = false,
    .apply = lww_apply,
    .merge = lww_merge,
    .merge_delta = lww_merge,   /* the delta of a value write is the whole state */
    .read = rk_policy_values_read,
    .hash = rk_policy_values_hash,
    .is_reapable = rk_policy_values_reapable,
};
