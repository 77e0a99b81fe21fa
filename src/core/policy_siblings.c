/* policy_siblings.c — Dynamo's own rule (4.4): concurrent versions are all kept as siblings
 * and returned together with RK.GET; the client reconciles and writes back with the context it
 * read, which supersedes exactly what that context saw. A plain SET or DEL supersedes what the
 * coordinator holds (a client's own SET x 1; SET x 2 never conflicts and DEL really deletes).
 * Takes PUT, DEL and GETDEL (refused with CONFLICT while several values are live); APPEND is
 * refused (which of several values would it grow?); a set operation is of the wrong type. */
#include <stdio.h>

#include "policy.h"

static int siblings_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                          char *message, size_t message_bytes)
{
    rk_vv context;
    rk_policy_values_context(state, w->context, &context);
    if (w->op.kind == RK_OP_GETDEL) {
        return rk_policy_values_getdel(w, &context, state, out, message, message_bytes);
    }
    if (w->op.kind == RK_OP_SADD || w->op.kind == RK_OP_SREM) {
        return rk_policy_wrongtype(message, message_bytes);
    }
    if (w->op.kind != RK_OP_PUT && w->op.kind != RK_OP_DEL) {
        snprintf(message, message_bytes, "%s needs a bucket whose policy is lww: a siblings "
                 "bucket may hold several values", w->op.kind == RK_OP_APPEND ? "APPEND"
                                                                               : "this write");
        return RK_EINVAL;
    }
    return rk_policy_values_update(w, &context, state, out, message, message_bytes);
}

static int siblings_merge(rk_dvvset *state, const rk_dvvset *other)
{
    return rk_dvvset_sync(state, other);
}

const rk_policy rk_policy_siblings = {
    .name = "siblings",
    .type_tag = RK_POLICY_TAG_VALUES,
    .type_name = "string",
    .durable_before_send = false,
    .read_before_write = false,
    .apply = siblings_apply,
    .merge = siblings_merge,
    .merge_delta = siblings_merge,  /* the delta of a value write is the whole state */
    .read = rk_policy_values_read,
    .hash = rk_policy_values_hash,
    .is_reapable = rk_policy_values_reapable,
};
