/* policy_fields.c — entries of counter and map states: codec, merge, reads and the changes the
 * two policies make (policy_fields.h). */
#include "policy_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rk_fields_parse(const rk_sibling *s, rk_field_entry *out)
{
    memset(out, 0, sizeof(*out));
    if (s->tombstone || s->value_len < RK_FIELD_HEAD_BYTES) {
        return false;
    }
    const uint8_t *v = s->value;
    uint32_t name_len = rk_le32_get(v + 1);
    if (name_len > s->value_len - RK_FIELD_HEAD_BYTES) {
        return false;
    }
    out->kind = v[0];
    out->name = v + RK_FIELD_HEAD_BYTES;
    out->name_len = name_len;
    const uint8_t *rest = out->name + name_len;
    uint32_t rest_len = s->value_len - RK_FIELD_HEAD_BYTES - name_len;
    if (out->kind == RK_FIELD_KIND_REGISTER) {
        out->value = rest;
        out->value_len = rest_len;
        return true;
    }
    if (out->kind == RK_FIELD_KIND_BASE && rest_len == RK_FIELD_BASE_BYTES) {
        out->base = (int64_t)rk_le64_get(rest);
        return true;
    }
    if (out->kind != RK_FIELD_KIND_COUNTER || rest_len != RK_FIELD_ACTOR_BYTES) {
        return false;
    }
    out->lineage = rk_le64_get(rest);
    out->p = rk_le64_get(rest + 8);
    out->n = rk_le64_get(rest + 16);
    out->rp = rk_le64_get(rest + 24);
    out->rn = rk_le64_get(rest + 32);
    return out->rp <= out->p && out->rn <= out->n;
}

bool rk_fields_valid(const rk_dvvset *state)
{
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!rk_fields_parse(&state->siblings[i], &e)) {
            return false;
        }
    }
    return true;
}

bool rk_fields_named(const rk_field_entry *e, const uint8_t *name, size_t name_len)
{
    return e->name_len == name_len && (name_len == 0 || memcmp(e->name, name, name_len) == 0);
}

/* The bytes of an entry's head and name into `out` (RK_FIELD_HEAD_BYTES + name_len). */
static void fields_put_head(uint8_t kind, const uint8_t *name, size_t name_len, uint8_t *out)
{
    out[0] = kind;
    rk_le32_put(out + 1, (uint32_t)name_len);
    if (name_len > 0) {
        memcpy(out + RK_FIELD_HEAD_BYTES, name, name_len);
    }
}

/* Rewrite an actor's sums in its sibling's own bytes (its length does not change). */
static void fields_put_actor(rk_sibling *s, const rk_field_entry *e)
{
    RK_ASSERT(e->kind == RK_FIELD_KIND_COUNTER);
    RK_ASSERT(e->rp <= e->p);
    RK_ASSERT(e->rn <= e->n);
    uint8_t *rest = s->value + RK_FIELD_HEAD_BYTES + e->name_len;
    RK_ASSERT(rest + RK_FIELD_ACTOR_BYTES == s->value + s->value_len);
    rk_le64_put(rest, e->lineage);
    rk_le64_put(rest + 8, e->p);
    rk_le64_put(rest + 16, e->n);
    rk_le64_put(rest + 24, e->rp);
    rk_le64_put(rest + 32, e->rn);
}

static uint64_t fields_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Two entries under one dot. One actor on both sides: each sum's maximum, into `mine`. A register
 * and the base made from it: the base. Anything else means one dot was minted twice, which the
 * clock prevents (epochs, a fallback's node-wide counter, a new store's birth epoch); should it
 * happen, a fixed order picks one — the later stamp, then the longer, then the greater bytes —
 * which settles two replicas but is not associative over three, and loses one of the writes.
 * Returns whether `theirs` replaces `mine` whole. */
static bool fields_merge_same_dot(rk_sibling *mine, const rk_sibling *theirs)
{
    rk_field_entry a;
    rk_field_entry b;
    bool parsed = rk_fields_parse(mine, &a) && rk_fields_parse(theirs, &b);
    if (parsed && a.kind == RK_FIELD_KIND_COUNTER && b.kind == RK_FIELD_KIND_COUNTER &&
        a.lineage == b.lineage && rk_fields_named(&a, b.name, b.name_len)) {
        a.p = fields_max(a.p, b.p);
        a.n = fields_max(a.n, b.n);
        a.rp = fields_max(a.rp, b.rp);
        a.rn = fields_max(a.rn, b.rn);
        fields_put_actor(mine, &a);
        /* Actors carry no stamp of their own (0); a peer's other one must not make the merge
         * depend on its order. */
        mine->timestamp_us = fields_max(mine->timestamp_us, theirs->timestamp_us);
        return false;
    }
    /* A register turned into a counter's base (HINCRBY over it) keeps its dot: the base wins,
     * and two conversions of one register are the same base. */
    if (parsed && a.kind != b.kind &&
        (a.kind == RK_FIELD_KIND_BASE || b.kind == RK_FIELD_KIND_BASE) &&
        (a.kind == RK_FIELD_KIND_REGISTER || b.kind == RK_FIELD_KIND_REGISTER)) {
        return b.kind == RK_FIELD_KIND_BASE;
    }
    if (mine->timestamp_us != theirs->timestamp_us) {
        return theirs->timestamp_us > mine->timestamp_us;
    }
    if (mine->value_len != theirs->value_len) {
        return theirs->value_len > mine->value_len;
    }
    return mine->value_len > 0 && memcmp(theirs->value, mine->value, mine->value_len) > 0;
}

/* Whether an entry only one side holds stays: an actor always (actors are never dropped), a
 * register or a base unless the other side saw its dot (and so removed it). */
static bool fields_keep_one_sided(const rk_sibling *s, const rk_vv *other_history)
{
    rk_field_entry e;
    if (rk_fields_parse(s, &e) && e.kind == RK_FIELD_KIND_COUNTER) {
        return true;
    }
    return !rk_vv_covers(other_history, s->dot);
}

static int fields_copy_sibling(const rk_sibling *from, rk_sibling *to)
{
    *to = *from;
    to->value = NULL;
    if (from->value_len > 0) {
        to->value = malloc(from->value_len);
        if (to->value == NULL) {
            return RK_ENOMEM;
        }
        memcpy(to->value, from->value, from->value_len);
    }
    return 0;
}

/* The merged siblings of `state` and `other` into a fresh copy of state's (so state is left
 * as it was on any error). 0 with *out and *count_out, or an error. */
static int fields_merge_siblings(const rk_dvvset *state, const rk_dvvset *other, rk_sibling **out,
                                 uint32_t *count_out)
{
    uint64_t total = (uint64_t)state->sibling_count + other->sibling_count;
    rk_sibling *merged = calloc(total > 0 ? total : 1, sizeof(*merged));
    if (merged == NULL) {
        return RK_ENOMEM;
    }
    uint32_t count = 0;
    uint32_t i = 0;
    uint32_t j = 0;
    int rc = 0;
    while (rc == 0 && (i < state->sibling_count || j < other->sibling_count)) {
        const rk_sibling *s = i < state->sibling_count ? &state->siblings[i] : NULL;
        const rk_sibling *o = j < other->sibling_count ? &other->siblings[j] : NULL;
        int order = s == NULL ? 1 : o == NULL ? -1 : rk_dot_cmp(s->dot, o->dot);
        if (order < 0) {
            i++;
            rc = fields_keep_one_sided(s, &other->history) ? fields_copy_sibling(s, &merged[count++])
                                                           : 0;
        } else if (order > 0) {
            j++;
            rc = fields_keep_one_sided(o, &state->history) ? fields_copy_sibling(o, &merged[count++])
                                                           : 0;
        } else {
            i++;
            j++;
            rc = fields_copy_sibling(s, &merged[count]);
            if (rc == 0 && fields_merge_same_dot(&merged[count], o)) {
                free(merged[count].value);
                rc = fields_copy_sibling(o, &merged[count]);
            }
            count++;
        }
        if (rc != 0) {
            count--;    /* the failed copy holds nothing */
        }
    }
    if (rc == 0 && count > RK_COLL_MEMBERS_MAX) {
        rc = RK_ETOOBIG;
    }
    if (rc != 0) {
        for (uint32_t k = 0; k < count; k++) {
            free(merged[k].value);
        }
        free(merged);
        return rc;
    }
    *out = merged;
    *count_out = count;
    return 0;
}

int rk_fields_merge(rk_dvvset *state, const rk_dvvset *other)
{
    RK_ASSERT(!state->values_borrowed);
    if (!rk_fields_valid(other) || !rk_fields_valid(state)) {
        return RK_ECORRUPT;
    }
    if (rk_vv_union_count(&state->history, &other->history) > RK_VV_ENTRIES_MAX) {
        return RK_ETOOBIG;      /* never pruned: refused (the replica answers the error) */
    }
    rk_vv history;
    int rc = rk_vv_merge(&state->history, &other->history, NULL, NULL, 0, &history);
    RK_ASSERT(rc == 0);     /* under the bound: nothing to prune */
    rk_sibling *merged = NULL;
    uint32_t count = 0;
    rc = fields_merge_siblings(state, other, &merged, &count);
    if (rc != 0) {
        return rc;
    }
    uint8_t tag = state->sibling_count == 0 && state->history.entry_count == 0 ? other->type_tag
                                                                                : state->type_tag;
    rk_dvvset_deinit(state);
    state->siblings = merged;
    state->sibling_count = count;
    state->history = history;
    state->type_tag = tag;
    RK_ASSERT_SLOW(rk_dvvset_valid(state));
    return 0;
}

void rk_fields_take_over(rk_dvvset *state, uint8_t tag)
{
    if (state->type_tag == tag) {
        return;
    }
    RK_ASSERT(!rk_policy_live(state));
    rk_policy_clear_siblings(state);
    state->type_tag = tag;
}

rk_field_sum rk_fields_counter(const rk_dvvset *state, const uint8_t *name, size_t name_len,
                               bool *live_out)
{
    rk_field_sum sum = 0;
    bool live = false;
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (!rk_fields_parse(&state->siblings[i], &e) || !rk_fields_named(&e, name, name_len)) {
            continue;
        }
        if (e.kind == RK_FIELD_KIND_COUNTER) {
            sum += (rk_field_sum)(e.p - e.rp) - (rk_field_sum)(e.n - e.rn);
            live = live || e.p != e.rp || e.n != e.rn;
        } else if (e.kind == RK_FIELD_KIND_BASE) {
            sum += e.base;
            live = true;    /* a base is there until a remove drops it, even at 0 */
        }
    }
    *live_out = live;
    return sum;
}

const rk_sibling *rk_fields_register(const rk_dvvset *state, const uint8_t *name,
                                     size_t name_len, rk_field_entry *entry_out)
{
    const rk_sibling *best = NULL;
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        const rk_sibling *s = &state->siblings[i];
        if (!rk_fields_parse(s, &e) || e.kind != RK_FIELD_KIND_REGISTER ||
            !rk_fields_named(&e, name, name_len)) {
            continue;
        }
        /* Siblings are in dot order: >= makes the later dot win a tie of stamps. */
        if (best == NULL || s->timestamp_us >= best->timestamp_us) {
            best = s;
            *entry_out = e;
        }
    }
    return best;
}

bool rk_fields_live(const rk_dvvset *state, const uint8_t *name, size_t name_len)
{
    rk_field_entry e;
    bool counter_live = false;
    (void)rk_fields_counter(state, name, name_len, &counter_live);
    return counter_live || rk_fields_register(state, name, name_len, &e) != NULL;
}

/* Drop registers (of `name`, or all when NULL) and reset actors when `reset`; returns whether
 * anything it touched made a field exist. */
static bool fields_remove_where(rk_dvvset *state, const uint8_t *name, size_t name_len,
                                bool reset)
{
    RK_ASSERT(!state->values_borrowed);
    bool existed = false;
    uint32_t kept = 0;
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        rk_sibling *s = &state->siblings[i];
        bool parsed = rk_fields_parse(s, &e);
        bool match = parsed && (name == NULL || rk_fields_named(&e, name, name_len));
        bool dropped_kind = e.kind == RK_FIELD_KIND_REGISTER ||
                            (reset && e.kind == RK_FIELD_KIND_BASE);
        if (match && dropped_kind) {
            existed = true;
            free(s->value);
            continue;
        }
        if (match && reset && (e.p != e.rp || e.n != e.rn)) {
            existed = true;
            e.rp = e.p;
            e.rn = e.n;
            fields_put_actor(s, &e);
        }
        state->siblings[kept++] = *s;
    }
    state->sibling_count = kept;
    return existed;
}

bool rk_fields_remove(rk_dvvset *state, const uint8_t *name, size_t name_len)
{
    return fields_remove_where(state, name, name_len, true);
}

void rk_fields_drop_registers(rk_dvvset *state, const uint8_t *name, size_t name_len)
{
    (void)fields_remove_where(state, name, name_len, false);
}

/* Mint a fresh sibling for an entry whose bytes are in `bytes` (one dot, superseding nothing:
 * the caller dropped what it supersedes). */
static int fields_mint(const rk_policy_write *w, rk_dvvset *state, const uint8_t *bytes,
                       size_t len, uint64_t stamp_us, rk_policy_applied *out, char *message,
                       size_t message_bytes)
{
    /* The clock is never pruned (registers are observed-remove): bounded as a set's. */
    const char *what = state->type_tag == RK_POLICY_TAG_COUNTER ? "counter" : "map";
    int rc = rk_policy_clock_room(w, state, what, message, message_bytes);
    if (rc != 0) {
        out->clock_full = true;
        return rc;
    }
    rk_vv nothing;
    rk_vv_init(&nothing);
    rk_dvvset_write write = {.value = bytes, .value_len = len, .timestamp_us = stamp_us};
    /* out->dot is the last dot minted: a fallback's node-wide counter moves past it. */
    rc = rk_dvvset_update(state, &nothing, &write, w->coordinator, w->dot_floor,
                          RK_COLL_MEMBERS_MAX, &out->dot);
    if (rc == RK_ETOOBIG) {
        snprintf(message, message_bytes, "a key holds at most %u fields and actors",
                 RK_COLL_MEMBERS_MAX);
    } else if (rc != 0) {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
    }
    return rc;
}

int rk_fields_set_register(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                           size_t name_len, const uint8_t *value, size_t value_len,
                           rk_policy_applied *out, char *message, size_t message_bytes)
{
    if (name_len > UINT32_MAX - RK_FIELD_HEAD_BYTES - value_len) {
        snprintf(message, message_bytes, "field and value are too long");
        return RK_ETOOBIG;
    }
    size_t len = RK_FIELD_HEAD_BYTES + name_len + value_len;
    uint8_t *bytes = malloc(len);
    if (bytes == NULL) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    fields_put_head(RK_FIELD_KIND_REGISTER, name, name_len, bytes);
    if (value_len > 0) {
        memcpy(bytes + RK_FIELD_HEAD_BYTES + name_len, value, value_len);
    }
    /* Refused before anything changes: the clock's bound is checked again when minting. */
    const char *what = state->type_tag == RK_POLICY_TAG_COUNTER ? "counter" : "map";
    int room = rk_policy_clock_room(w, state, what, message, message_bytes);
    if (room != 0) {
        free(bytes);
        out->clock_full = true;
        return room;
    }
    (void)fields_remove_where(state, name, name_len, true);   /* HSET replaces what it saw */
    int rc = fields_mint(w, state, bytes, len, w->stamp_us, out, message, message_bytes);
    free(bytes);
    return rc;
}

/* Whether the coordinator may advance actor `s` (policy_fields.h): its own, of its lineage,
 * above a fallback's handback floor, and held by its own copy with the sums the merge holds.
 * Only P and N are compared: they are the coordinator's own; RP and RN are what removes saw,
 * raised by any node, and a remove elsewhere must not cost a fresh actor. */
static bool fields_actor_own(const rk_policy_write *w, const rk_sibling *s,
                             const rk_field_entry *e)
{
    if (s->dot.node != w->coordinator || e->lineage != w->lineage ||
        s->dot.counter <= w->handback_floor || w->own_base == NULL) {
        return false;
    }
    const rk_sibling *held = rk_dvvset_find(w->own_base, s->dot);
    rk_field_entry b;
    return held != NULL && rk_fields_parse(held, &b) && b.kind == e->kind &&
           b.lineage == e->lineage && rk_fields_named(&b, e->name, e->name_len) && b.p == e->p &&
           b.n == e->n;
}

/* Advance actor `s` by `delta` in place; false when a sum would pass UINT64_MAX. */
static bool fields_actor_advance(rk_sibling *s, rk_field_entry *e, int64_t delta)
{
    uint64_t magnitude = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
    uint64_t *sum = delta < 0 ? &e->n : &e->p;
    if (*sum > UINT64_MAX - magnitude) {
        return false;
    }
    *sum += magnitude;
    fields_put_actor(s, e);
    return true;
}

int rk_fields_increment(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                        size_t name_len, int64_t delta, rk_policy_applied *out, char *message,
                        size_t message_bytes)
{
    uint32_t actors = 0;
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        rk_sibling *s = &state->siblings[i];
        if (!rk_fields_parse(s, &e) || e.kind != RK_FIELD_KIND_COUNTER ||
            !rk_fields_named(&e, name, name_len)) {
            continue;
        }
        actors++;
        if (fields_actor_own(w, s, &e) && fields_actor_advance(s, &e, delta)) {
            return 0;   /* advanced in place: no dot minted */
        }
    }
    if (actors >= RK_FIELD_ACTORS_MAX) {
        out->actors_full = true;
        snprintf(message, message_bytes, "the counter has %u actors, the most a counter holds "
                 "(they are never merged: that could count an increment twice)", actors);
        return RK_ETOOBIG;
    }
    if (name_len > UINT32_MAX - RK_FIELD_HEAD_BYTES - RK_FIELD_ACTOR_BYTES) {
        snprintf(message, message_bytes, "the field name is too long");
        return RK_ETOOBIG;
    }
    size_t len = RK_FIELD_HEAD_BYTES + name_len + RK_FIELD_ACTOR_BYTES;
    uint8_t *bytes = calloc(1, len);
    if (bytes == NULL) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    fields_put_head(RK_FIELD_KIND_COUNTER, name, name_len, bytes);
    rk_sibling fresh = {.value = bytes, .value_len = (uint32_t)len};
    e = (rk_field_entry){.kind = RK_FIELD_KIND_COUNTER, .name_len = (uint32_t)name_len,
                         .lineage = w->lineage};
    bool advanced = fields_actor_advance(&fresh, &e, delta);
    RK_ASSERT(advanced);    /* from zero, any int64 fits */
    int rc = fields_mint(w, state, bytes, len, 0, out, message, message_bytes);
    free(bytes);
    if (rc == 0) {
        out->actor_minted = out->dot.counter;
    }
    return rc;
}

/* The bytes of a base entry of `name` holding `value` into `out` (fields_base_len bytes). */
static size_t fields_base_len(size_t name_len)
{
    return RK_FIELD_HEAD_BYTES + name_len + RK_FIELD_BASE_BYTES;
}

static void fields_put_base(const uint8_t *name, size_t name_len, int64_t value, uint8_t *out)
{
    fields_put_head(RK_FIELD_KIND_BASE, name, name_len, out);
    rk_le64_put(out + RK_FIELD_HEAD_BYTES + name_len, (uint64_t)value);
}

int rk_fields_add_base(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                       size_t name_len, rk_policy_applied *out, char *message,
                       size_t message_bytes)
{
    size_t len = fields_base_len(name_len);
    uint8_t *bytes = malloc(len);
    if (bytes == NULL) {
        snprintf(message, message_bytes, "out of memory");
        return RK_ENOMEM;
    }
    fields_put_base(name, name_len, 0, bytes);
    int rc = fields_mint(w, state, bytes, len, w->stamp_us, out, message, message_bytes);
    free(bytes);
    return rc;
}

int rk_fields_register_to_base(rk_dvvset *state, const rk_sibling *shown, int64_t value)
{
    RK_ASSERT(!state->values_borrowed);
    RK_ASSERT(shown >= state->siblings && shown < state->siblings + state->sibling_count);
    rk_sibling *s = &state->siblings[shown - state->siblings];
    rk_field_entry e;
    bool parsed = rk_fields_parse(s, &e);
    RK_ASSERT(parsed);
    RK_ASSERT(e.kind == RK_FIELD_KIND_REGISTER);
    size_t len = fields_base_len(e.name_len);
    uint8_t *bytes = malloc(len);
    if (bytes == NULL) {
        return RK_ENOMEM;
    }
    fields_put_base(e.name, e.name_len, value, bytes);
    free(s->value);
    s->value = bytes;       /* the same dot and stamp: only what it holds changes */
    s->value_len = (uint32_t)len;
    /* The name's other registers, which the conversion saw, go; the name is read from the
     * base's own bytes, which stay. */
    rk_fields_drop_registers(state, bytes + RK_FIELD_HEAD_BYTES, e.name_len);
    return 0;
}

bool rk_fields_sum_fits(rk_field_sum sum)
{
    return sum >= (rk_field_sum)INT64_MIN && sum <= (rk_field_sum)INT64_MAX;
}

size_t rk_fields_decimal(int64_t value, char *out)
{
    int len = snprintf(out, RK_FIELD_DECIMAL_BYTES + 1, "%lld", (long long)value);
    RK_ASSERT(len > 0 && (size_t)len <= RK_FIELD_DECIMAL_BYTES);
    return (size_t)len;
}

int rk_fields_overflow(char *message, size_t message_bytes)
{
    snprintf(message, message_bytes, "increment or decrement would overflow");
    return RK_EINVAL;
}
