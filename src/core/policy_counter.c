/* policy_counter.c — the `counter` policy: a PN-counter with observed reset behind INCR,
 * INCRBY, DECR, DECRBY, GET and DEL. Its state is a map's with one counter field named ""
 * (policy_fields.h: one sibling per actor, sums merged by maximum, a remove resets what it
 * saw). Sums are taken in 128 bits; an increment whose result, in the coordinator's merged
 * view, would leave int64 is refused with Redis's error, so a value never wraps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_fields.h"

static const uint8_t counter_name[1] = {0};    /* the field is "": counter_name, length 0 */

static int counter_incrby(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                          char *message, size_t message_bytes)
{
    if (w->op.arg == NULL || w->op.arg_len != RK_OP_INCREMENT_BYTES) {
        snprintf(message, message_bytes, "the increment is not %u bytes", RK_OP_INCREMENT_BYTES);
        return RK_EINVAL;
    }
    int64_t delta = rk_op_increment_decode(w->op.arg);
    bool live = false;
    rk_field_sum result = rk_fields_counter(state, counter_name, 0, &live) + delta;
    if (!rk_fields_sum_fits(result)) {
        return rk_fields_overflow(message, message_bytes);
    }
    int rc = 0;
    if (delta != 0) {
        rc = rk_fields_increment(w, state, counter_name, 0, delta, out, message, message_bytes);
    } else if (!live) {
        /* INCRBY k 0 makes k exist with 0, as in Redis: a base of 0. */
        rc = rk_fields_add_base(w, state, counter_name, 0, out, message, message_bytes);
    }
    if (rc != 0) {
        return rc;
    }
    out->integer = (int64_t)result;
    return 0;
}

static int counter_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                         char *message, size_t message_bytes)
{
    if (w->op.kind != RK_OP_INCRBY && w->op.kind != RK_OP_DEL) {
        return rk_policy_wrongtype(message, message_bytes);
    }
    rk_fields_take_over(state, RK_POLICY_TAG_COUNTER);   /* a deleted value's tombstones go */
    if (!rk_fields_valid(state)) {
        snprintf(message, message_bytes, "the stored counter is damaged");
        return RK_ECORRUPT;
    }
    out->reply_kind = RK_REPLY_INT;
    if (w->op.kind == RK_OP_DEL) {
        out->integer = rk_fields_remove(state, NULL, 0) ? 1 : 0;
        return 0;
    }
    return counter_incrby(w, state, out, message, message_bytes);
}

static bool counter_exists(const rk_dvvset *state)
{
    bool live = false;
    (void)rk_fields_counter(state, counter_name, 0, &live);
    return live;
}

static void counter_read(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    if (q->kind != RK_REQ_GET) {
        int rc = rk_policy_wrongtype(out->message, sizeof(out->message));
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = rc, .message = out->message};
        return;
    }
    bool live = false;
    rk_field_sum sum = rk_fields_counter(state, counter_name, 0, &live);
    if (!live) {
        out->reply.kind = RK_REPLY_NIL;
        return;
    }
    if (!rk_fields_sum_fits(sum)) {
        /* Concurrent increments each within range may sum past it; the value is still exact,
         * but Redis has no integer for it: say so rather than wrap. */
        snprintf(out->message, sizeof(out->message), "the counter's value is out of the 64-bit "
                 "range after concurrent increments; DECRBY brings it back");
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_EINVAL,
                                .message = out->message};
        return;
    }
    _Static_assert(sizeof(out->token) > RK_FIELD_DECIMAL_BYTES, "a decimal fits the token");
    size_t len = rk_fields_decimal((int64_t)sum, out->token);
    out->reply = (rk_reply){.kind = RK_REPLY_VALUE,
                            .value = (const uint8_t *)out->token,
                            .value_len = len};
}

const rk_policy rk_policy_counter = {
    .name = "counter",
    .type_tag = RK_POLICY_TAG_COUNTER,
    .type_name = "string",      /* as Redis says of a counter */
    .read_before_write = true,
    .durable_before_send = true,
    .advances_actors = true,
    .exists = counter_exists,
    .apply = counter_apply,
    .merge = rk_fields_merge,
    .merge_delta = rk_fields_merge,     /* a state of the same lattice: never a "+1" */
    .read = counter_read,
    .hash = rk_policy_values_hash,
    .is_reapable = rk_policy_values_reapable,
};
