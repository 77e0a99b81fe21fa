/* policy.c — the table lookup, merging and answering across types, and what the value-holding
 * policies (lww, siblings) share: which context a write supersedes, minting PUT and DEL, the
 * read replies, the hash and the reapable test (policy.h). */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "bucket.h"

extern const rk_policy rk_policy_lww;
extern const rk_policy rk_policy_siblings;
extern const rk_policy rk_policy_union;
extern const rk_policy rk_policy_set;
extern const rk_policy rk_policy_counter;
extern const rk_policy rk_policy_map;

const rk_policy *rk_policy_of(uint8_t policy)
{
    switch ((rk_bucket_policy)policy) {
    case RK_POLICY_LWW:
        return &rk_policy_lww;
    case RK_POLICY_SIBLINGS:
        return &rk_policy_siblings;
    case RK_POLICY_UNION:
        return &rk_policy_union;
    case RK_POLICY_SET:
        return &rk_policy_set;
    case RK_POLICY_COUNTER:
        return &rk_policy_counter;
    case RK_POLICY_MAP:
        return &rk_policy_map;
    }
    RK_ASSERT(!"unknown bucket policy");
    return NULL;
}

/* The table that merges states of `tag`: the collection's own, or for values the bucket's
 * value policy (keep-all siblings when the bucket holds a collection type: losing nothing). */
static const rk_policy *policy_of_tag(uint8_t tag, uint8_t bucket_policy)
{
    if (tag == RK_POLICY_TAG_UNION) {
        return &rk_policy_union;
    }
    if (tag == RK_POLICY_TAG_SET) {
        return &rk_policy_set;
    }
    if (tag == RK_POLICY_TAG_COUNTER) {
        return &rk_policy_counter;
    }
    if (tag == RK_POLICY_TAG_MAP) {
        return &rk_policy_map;
    }
    const rk_policy *bucket = rk_policy_of(bucket_policy);
    return bucket->type_tag == RK_POLICY_TAG_VALUES ? bucket : &rk_policy_siblings;
}

const rk_policy *rk_policy_of_state(uint8_t policy, const rk_dvvset *state)
{
    return policy_of_tag(state->type_tag, policy);
}

static bool policy_state_empty(const rk_dvvset *s)
{
    return s->sibling_count == 0 && s->history.entry_count == 0;
}

bool rk_policy_live(const rk_dvvset *state)
{
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            return true;
        }
    }
    return false;
}

bool rk_policy_holds(const rk_policy *policy, const rk_dvvset *state)
{
    return state->type_tag == policy->type_tag || !rk_policy_live(state);
}

int rk_policy_wrongtype(char *message, size_t message_bytes)
{
    snprintf(message, message_bytes, "%s", RK_POLICY_WRONGTYPE_MESSAGE);
    return RK_EWRONGTYPE;
}

void rk_policy_clear_siblings(rk_dvvset *state)
{
    RK_ASSERT(!state->values_borrowed);
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        free(state->siblings[i].value);
    }
    state->sibling_count = 0;
}

/* Merge states of different tags, one of them with nothing live: the live one (or, both dead,
 * the higher tag with no siblings) keeps its siblings, and takes the other's history too, so
 * no dot either saw is minted again. Unpruned: a set's clock is never pruned. */
static int policy_merge_across(rk_dvvset *state, const rk_dvvset *other)
{
    bool state_live = rk_policy_live(state);
    bool other_live = rk_policy_live(other);
    if (state_live && other_live) {
        return RK_EWRONGTYPE;
    }
    if (rk_vv_union_count(&state->history, &other->history) > RK_VV_ENTRIES_MAX) {
        return RK_ETOOBIG;
    }
    rk_vv history;
    int rc = rk_vv_merge(&state->history, &other->history, NULL, NULL, 0, &history);
    RK_ASSERT(rc == 0);     /* under the bound: nothing to prune */
    if (other_live) {
        rk_dvvset copy;
        rc = rk_dvvset_copy(other, &copy);
        if (rc != 0) {
            return rc;
        }
        rk_dvvset_deinit(state);
        *state = copy;
    } else if (!state_live) {
        rk_policy_clear_siblings(state);    /* both dead: tombstones only */
        state->type_tag = state->type_tag > other->type_tag ? state->type_tag : other->type_tag;
    }
    state->history = history;
    RK_ASSERT_SLOW(rk_dvvset_valid(state));
    return 0;
}

int rk_policy_merge(uint8_t policy, rk_dvvset *state, const rk_dvvset *other)
{
    if (policy_state_empty(other)) {
        /* Two never-written states (a remove of a key nobody added stores one) are equal
         * whatever their tags: the higher tag, on either side, keeps merge commutative. */
        if (policy_state_empty(state) && other->type_tag > state->type_tag) {
            state->type_tag = other->type_tag;
        }
        return 0;
    }
    if (policy_state_empty(state) || state->type_tag == other->type_tag) {
        return policy_of_tag(other->type_tag, policy)->merge(state, other);
    }
    return policy_merge_across(state, other);
}

void rk_policy_answer(uint8_t policy, const rk_dvvset *state, const rk_policy_query *q,
                      rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    out->heap_values = NULL;
    out->heap_lens = NULL;
    out->heap_integers = NULL;
    out->heap_text = NULL;
    const rk_policy *table = rk_policy_of(policy);
    bool live = rk_policy_live(state);
    const rk_policy *held = policy_of_tag(state->type_tag, policy);
    /* A counter reset by DEL keeps its actors (live siblings) but does not exist. */
    bool exists = live && (held->exists == NULL || held->exists(state));
    if (q->kind == RK_REQ_READ && q->op == RK_READ_TYPE) {
        const char *name = exists ? held->type_name : "none";
        out->reply = (rk_reply){.kind = RK_REPLY_STATUS,
                                .value = (const uint8_t *)name,
                                .value_len = strlen(name)};
        return;
    }
    if (q->kind == RK_REQ_EXISTS && (held != table || held->exists != NULL)) {
        out->reply = (rk_reply){.kind = RK_REPLY_INT, .integer = exists ? 1 : 0};
        return;
    }
    if (live && state->type_tag != table->type_tag) {
        int rc = rk_policy_wrongtype(out->message, sizeof(out->message));
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = rc, .message = out->message};
        return;
    }
    table->read(state, q, out);
}

void rk_policy_read_deinit(rk_policy_read *out)
{
    free(out->heap_values);
    free(out->heap_lens);
    free(out->heap_integers);
    free(out->heap_text);
    out->heap_values = NULL;
    out->heap_lens = NULL;
    out->heap_integers = NULL;
    out->heap_text = NULL;
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
    RK_ASSERT(state->type_tag == RK_POLICY_TAG_VALUES || !rk_policy_live(state));
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

void rk_policy_values_read(const rk_dvvset *state, const rk_policy_query *q,
                           rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    rk_request_kind kind = q->kind;
    if (kind == RK_REQ_READ) {
        int rc = rk_policy_wrongtype(out->message, sizeof(out->message));
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = rc, .message = out->message};
        return;
    }
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
