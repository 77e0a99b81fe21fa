/* policy.c — the table lookup and what the value-holding policies (lww, siblings) share:
 * which context a write supersedes, minting PUT and DEL, the read replies, the hash and the
 * reapable test (policy.h). */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "bucket.h"

extern const rk_policy rk_policy_lww;
extern const rk_policy rk_policy_siblings;

const rk_policy *rk_policy_of(uint8_t policy)
{
    switch ((rk_bucket_policy)policy) {
    case RK_POLICY_LWW:
        return &rk_policy_lww;
    case RK_POLICY_SIBLINGS:
        return &rk_policy_siblings;
    }
    RK_ASSERT(!"unknown bucket policy");
    return NULL;
}

static bool policy_state_empty(const rk_dvvset *s)
{
    return s->sibling_count == 0 && s->history.entry_count == 0;
}

bool rk_policy_holds(const rk_policy *policy, const rk_dvvset *state)
{
    return policy_state_empty(state) || state->type_tag == policy->type_tag;
}

bool rk_policy_mergeable(const rk_dvvset *a, const rk_dvvset *b)
{
    return policy_state_empty(a) || policy_state_empty(b) || a->type_tag == b->type_tag;
}

/* ---- the value policies --------------------------------------------------------------------- */

void rk_policy_values_context(const rk_dvvset *state, const rk_vv *client_context, rk_vv *out)
{
    if (client_context != NULL) {
        *out = *client_context;
        return;
    }
    rk_dvvset_join(state, out);
}

int rk_policy_values_update(const rk_policy_write *w, const rk_vv *context, rk_dvvset *state,
                            rk_policy_applied *out, char *message, size_t message_bytes)
{
    RK_ASSERT(w->op.kind == RK_OP_PUT || w->op.kind == RK_OP_DEL);
    RK_ASSERT(state->type_tag == RK_POLICY_TAG_VALUES || policy_state_empty(state));
    bool was_live = !rk_policy_values_reapable(state);
    rk_dvvset_write write = {.value = w->op.arg,
                             .value_len = w->op.arg_len,
                             .tombstone = w->op.kind == RK_OP_DEL,
                             .timestamp_us = w->stamp_us};
    int rc = rk_dvvset_update(state, context, &write, w->coordinator, w->dot_floor,
                              w->siblings_max, &out->dot);
    if (rc == RK_ETOOBIG) {
        snprintf(message, message_bytes, "too many siblings: max-siblings is %u; read with "
                 "RK.GET and write with its context to resolve them", w->siblings_max);
        return rc;
    }
    if (rc != 0) {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        return rc;
    }
    state->type_tag = RK_POLICY_TAG_VALUES;
    out->reply_kind = w->op.kind == RK_OP_DEL ? RK_REPLY_INT : RK_REPLY_OK;
    out->integer = w->op.kind == RK_OP_DEL && was_live ? 1 : 0;
    return 0;
}

int rk_policy_values_getdel(const rk_policy_write *w, const rk_vv *context, rk_dvvset *state,
                            rk_policy_applied *out, char *message, size_t message_bytes)
{
    RK_ASSERT(w->op.kind == RK_OP_GETDEL);
    const rk_sibling *live = NULL;
    uint32_t live_count = 0;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            live = &state->siblings[i];
            live_count++;
        }
    }
    if (live_count > 1) {
        snprintf(message, message_bytes, "the key has %u concurrent versions; read them with "
                 "RK.GET and write with its context", live_count);
        return RK_ECONFLICT;
    }
    uint8_t *value = NULL;
    size_t value_len = live != NULL ? live->value_len : 0;
    if (live != NULL) {
        value = malloc(value_len > 0 ? value_len : 1);
        if (value == NULL) {
            snprintf(message, message_bytes, "out of memory");
            return RK_ENOMEM;
        }
        if (value_len > 0) {
            memcpy(value, live->value, value_len);
        }
    }
    rk_policy_write del = *w;
    del.op = (rk_op){.kind = RK_OP_DEL};
    int rc = rk_policy_values_update(&del, context, state, out, message, message_bytes);
    if (rc != 0) {
        free(value);
        return rc;
    }
    out->reply_kind = live != NULL ? RK_REPLY_VALUE : RK_REPLY_NIL;
    out->integer = 0;
    out->value = value;
    out->value_len = value_len;
    return 0;
}

/* The value a plain GET answers: the one live sibling (the latest stamp if several). */
static const rk_sibling *policy_values_winner(const rk_dvvset *state)
{
    const rk_sibling *best = NULL;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        const rk_sibling *s = &state->siblings[i];
        if (!s->tombstone && (best == NULL || s->timestamp_us > best->timestamp_us)) {
            best = s;
        }
    }
    return best;
}

void rk_policy_values_read(const rk_dvvset *state, rk_request_kind kind, rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    uint32_t live = 0;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            out->values[live] = state->siblings[i].value;
            out->lens[live] = state->siblings[i].value_len;
            live++;
        }
    }
    if (kind == RK_REQ_EXISTS) {
        out->reply.kind = RK_REPLY_INT;
        out->reply.integer = live > 0 ? 1 : 0;
    } else if (kind == RK_REQ_GET && live > 1) {
        snprintf(out->message, sizeof(out->message), "the key has %u concurrent versions; read "
                 "them with RK.GET and write with its context", live);
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_ECONFLICT,
                                .message = out->message};
    } else if (kind == RK_REQ_GET) {
        const rk_sibling *s = policy_values_winner(state);
        out->reply.kind = s == NULL ? RK_REPLY_NIL : RK_REPLY_VALUE;
        out->reply.value = s != NULL ? s->value : NULL;
        out->reply.value_len = s != NULL ? s->value_len : 0;
    } else {
        RK_ASSERT(kind == RK_REQ_VGET);
        rk_vv context;
        rk_dvvset_join(state, &context);
        int rc = rk_vv_token_encode(&context, out->token, sizeof(out->token));
        RK_ASSERT(rc >= 0);
        out->reply = (rk_reply){.kind = RK_REPLY_VERSIONS,
                                .context = out->token,
                                .value_count = live,
                                .values = out->values,
                                .value_lens = out->lens};
    }
}

uint64_t rk_policy_values_hash(const rk_dvvset *state)
{
    /* The canonical encoding covers the clock and every value (and ends in its own checksum,
     * which is the hash of everything before it). */
    size_t len = rk_dvvset_encoded_len(state);
    uint8_t small[512];
    uint8_t *bytes = len <= sizeof(small) ? small : malloc(len);
    if (bytes == NULL) {
        /* Out of memory: a hash no encoding gives in practice, so an exchange sees a
         * difference and sends the object, which costs a transfer and never hides damage. */
        return 0;
    }
    size_t written = rk_dvvset_encode(state, bytes);
    RK_ASSERT(written == len);
    uint64_t hash = XXH3_64bits(bytes, len);
    if (bytes != small) {
        free(bytes);
    }
    return hash;
}

bool rk_policy_values_reapable(const rk_dvvset *state)
{
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            return false;
        }
    }
    return true;
}
