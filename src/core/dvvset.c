/* dvvset.c — sibling sets: update, sync, join, values and the store encoding (see dvvset.h). */
#include "dvvset.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A total order on a sibling's contents, for the one case two replicas hold different
 * contents under one dot (dvvset.h): any fixed order converges; this one prefers the later. */
static int dvvset_content_cmp(const rk_sibling *a, const rk_sibling *b)
{
    if (a->timestamp_us != b->timestamp_us) {
        return a->timestamp_us < b->timestamp_us ? -1 : 1;
    }
    if (a->tombstone != b->tombstone) {
        return a->tombstone ? 1 : -1;      /* a delete wins a tie against a put */
    }
    if (a->value_len != b->value_len) {
        return a->value_len < b->value_len ? -1 : 1;
    }
    if (a->value_len == 0) {
        return 0;
    }
    return memcmp(a->value, b->value, a->value_len);
}

bool rk_dvvset_valid(const rk_dvvset *set)
{
    if (!rk_vv_valid(&set->history)) {
        return false;
    }
    if (set->sibling_count > rk_dvvset_siblings_bound(set->type_tag)) {
        return false;
    }
    if (set->sibling_count > 0 && set->siblings == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        if (s->dot.counter == 0 || !rk_vv_covers(&set->history, s->dot)) {
            return false;
        }
        if (i > 0 && rk_dot_cmp(set->siblings[i - 1].dot, s->dot) >= 0) {
            return false;
        }
        if (s->tombstone && s->value_len != 0) {
            return false;
        }
        if ((s->value_len == 0) != (s->value == NULL)) {
            return false;
        }
        if (s->value_len > RK_VALUE_BYTES_MAX) {
            return false;
        }
    }
    return true;
}

void rk_dvvset_init(rk_dvvset *set)
{
    memset(set, 0, sizeof(*set));
    rk_vv_init(&set->history);
}

void rk_dvvset_deinit(rk_dvvset *set)
{
    for (uint32_t i = 0; i < set->sibling_count && !set->values_borrowed; i++) {
        free(set->siblings[i].value);
    }
    free(set->siblings);
    rk_dvvset_init(set);
}

/* *out = a heap copy of len bytes (NULL for 0). Returns 0 or RK_ENOMEM. */
static int dvvset_bytes_dup(const uint8_t *bytes, size_t len, uint8_t **out)
{
    *out = NULL;
    if (len == 0) {
        return 0;
    }
    *out = malloc(len);
    if (*out == NULL) {
        return RK_ENOMEM;
    }
    memcpy(*out, bytes, len);
    return 0;
}

/* Free the values of siblings[0..count) and the array. */
static void dvvset_siblings_free(rk_sibling *siblings, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        free(siblings[i].value);
    }
    free(siblings);
}

int rk_dvvset_copy(const rk_dvvset *src, rk_dvvset *out)
{
    RK_ASSERT_SLOW(rk_dvvset_valid(src));

    rk_dvvset_init(out);
    out->type_tag = src->type_tag;
    if (src->sibling_count == 0) {
        out->history = src->history;
        return 0;
    }
    rk_sibling *siblings = calloc(src->sibling_count, sizeof(siblings[0]));
    if (siblings == NULL) {
        return RK_ENOMEM;
    }
    for (uint32_t i = 0; i < src->sibling_count; i++) {
        siblings[i] = src->siblings[i];
        int rc = dvvset_bytes_dup(src->siblings[i].value, src->siblings[i].value_len,
                                  &siblings[i].value);
        if (rc != 0) {
            dvvset_siblings_free(siblings, i);
            return rc;
        }
    }
    out->history = src->history;
    out->siblings = siblings;
    out->sibling_count = src->sibling_count;
    RK_ASSERT_SLOW(rk_dvvset_equal(src, out));
    return 0;
}

/* The dots of siblings[0..count) into a new array, for version.h's pruning to keep. */
static rk_dot *dvvset_dots_new(const rk_sibling *siblings, uint32_t count)
{
    rk_dot *dots = calloc(count > 0 ? count : 1, sizeof(dots[0]));
    if (dots == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        dots[i] = siblings[i].dot;
    }
    return dots;
}

/* *history_out = a ∪ b ∪ {dot}, pruned keeping the dots of siblings[0..count). */
static int dvvset_history_merge(const rk_vv *a, const rk_vv *b, const rk_dot *dot,
                                const rk_sibling *siblings, uint32_t count, rk_vv *history_out)
{
    rk_dot *keep = dvvset_dots_new(siblings, count);
    if (keep == NULL) {
        return RK_ENOMEM;
    }
    int rc = rk_vv_merge(a, b, dot, keep, count, history_out);
    free(keep);
    return rc;
}

/* The counter of a new dot at `coordinator` (dvvset.h), or 0 when it would pass UINT64_MAX. */
static uint64_t dvvset_counter_next(const rk_dvvset *set, const rk_vv *context,
                                    rk_node_id coordinator, uint64_t counter_floor)
{
    uint64_t known = rk_vv_counter_max(&set->history, coordinator);
    uint64_t known_context = rk_vv_counter_max(context, coordinator);
    if (known_context > known) {
        known = known_context;
    }
    if (known == UINT64_MAX) {
        return 0;
    }
    return known + 1 > counter_floor ? known + 1 : counter_floor;
}

/* Write the siblings `context` does not cover, and `fresh` in its place, into out (borrowing
 * values). The new dot is above every dot of its node here, so it goes after them and before
 * the next node's: one pass keeps the order. Returns the count; *fresh_index is where it went. */
static uint32_t dvvset_update_place(const rk_dvvset *set, const rk_vv *context,
                                    const rk_sibling *fresh, rk_sibling *out,
                                    uint32_t *fresh_index)
{
    uint32_t count = 0;
    bool placed = false;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        if (rk_vv_covers(context, s->dot)) {
            continue;
        }
        if (!placed && rk_dot_cmp(fresh->dot, s->dot) < 0) {
            *fresh_index = count;
            out[count++] = *fresh;
            placed = true;
        }
        RK_ASSERT(rk_dot_cmp(fresh->dot, s->dot) != 0);
        out[count++] = *s;
    }
    if (!placed) {
        *fresh_index = count;
        out[count++] = *fresh;
    }
    return count;
}

int rk_dvvset_update(rk_dvvset *set, const rk_vv *context, const rk_dvvset_write *write,
                     rk_node_id coordinator, uint64_t counter_floor, uint32_t siblings_max,
                     rk_dot *dot_out)
{
    RK_ASSERT(!set->values_borrowed);
    RK_ASSERT_SLOW(rk_dvvset_valid(set));
    RK_ASSERT_SLOW(rk_vv_valid(context));
    RK_ASSERT(write->tombstone || write->value_len == 0 || write->value != NULL);

    if (siblings_max == 0 || siblings_max > rk_dvvset_siblings_bound(set->type_tag)) {
        return RK_EINVAL;
    }
    size_t value_len = write->tombstone ? 0 : write->value_len;
    if (value_len > RK_VALUE_BYTES_MAX) {
        return RK_ETOOBIG;
    }
    uint64_t counter = dvvset_counter_next(set, context, coordinator, counter_floor);
    if (counter == 0) {
        return RK_ETOOBIG;
    }
    rk_dot dot = {.node = coordinator, .counter = counter};

    uint32_t kept_count = 0;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        kept_count += rk_vv_covers(context, set->siblings[i].dot) ? 0 : 1;
    }
    if (kept_count >= siblings_max) {
        return RK_ETOOBIG;                       /* the new one would make siblings_max + 1 */
    }

    rk_sibling *siblings = calloc(kept_count + 1, sizeof(siblings[0]));
    if (siblings == NULL) {
        return RK_ENOMEM;
    }
    rk_sibling fresh = {.dot = dot, .timestamp_us = write->timestamp_us,
                        .tombstone = write->tombstone, .value_len = (uint32_t)value_len};
    uint32_t fresh_index = 0;
    uint32_t count = dvvset_update_place(set, context, &fresh, siblings, &fresh_index);
    RK_ASSERT(count == kept_count + 1);

    rk_vv history;
    int rc = dvvset_history_merge(&set->history, context, &dot, siblings, count, &history);
    if (rc == 0) {
        rc = dvvset_bytes_dup(write->value, value_len, &siblings[fresh_index].value);
    }
    if (rc != 0) {
        free(siblings);                 /* the kept values still belong to the set */
        return rc;
    }
    /* Commit: the superseded siblings' values go; the kept ones moved into the new array. */
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (rk_vv_covers(context, set->siblings[i].dot)) {
            free(set->siblings[i].value);
        }
    }
    free(set->siblings);
    set->siblings = siblings;
    set->sibling_count = count;
    set->history = history;
    *dot_out = dot;
    RK_ASSERT_SLOW(rk_dvvset_valid(set));
    return 0;
}

/* Where a sibling of a sync's result comes from. */
typedef enum dvvset_source {
    DVVSET_FROM_SET = 0,
    DVVSET_FROM_OTHER,
} dvvset_source;

/* The sync rule, without copying: pick the result's siblings into out (borrowing values) and
 * record their sources; returns the count, or RK_ETOOBIG. */
static int dvvset_sync_pick(const rk_dvvset *set, const rk_dvvset *other, rk_sibling *out,
                            dvvset_source *sources)
{
    uint32_t set_index = 0;
    uint32_t other_index = 0;
    uint32_t count = 0;
    while (set_index < set->sibling_count || other_index < other->sibling_count) {
        const rk_sibling *s = set_index < set->sibling_count ? &set->siblings[set_index] : NULL;
        const rk_sibling *o =
            other_index < other->sibling_count ? &other->siblings[other_index] : NULL;
        int order = s == NULL ? 1 : o == NULL ? -1 : rk_dot_cmp(s->dot, o->dot);
        const rk_sibling *pick = NULL;
        dvvset_source source = DVVSET_FROM_SET;
        if (order < 0) {
            set_index++;
            pick = rk_vv_covers(&other->history, s->dot) ? NULL : s;   /* seen and dropped */
        } else if (order > 0) {
            other_index++;
            pick = rk_vv_covers(&set->history, o->dot) ? NULL : o;
            source = DVVSET_FROM_OTHER;
        } else {
            set_index++;
            other_index++;
            bool other_wins = dvvset_content_cmp(o, s) > 0;
            pick = other_wins ? o : s;
            source = other_wins ? DVVSET_FROM_OTHER : DVVSET_FROM_SET;
        }
        if (pick == NULL) {
            continue;
        }
        if (count == rk_dvvset_siblings_bound(set->type_tag)) {
            return RK_ETOOBIG;
        }
        out[count] = *pick;
        sources[count] = source;
        count++;
    }
    return (int)count;
}

/* Give each sibling taken from the other set its own copy of the value. On RK_ENOMEM the
 * copies made so far are freed. */
static int dvvset_sync_copy_values(rk_sibling *siblings, const dvvset_source *sources,
                                   uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (sources[i] != DVVSET_FROM_OTHER) {
            continue;
        }
        uint8_t *copy = NULL;
        int rc = dvvset_bytes_dup(siblings[i].value, siblings[i].value_len, &copy);
        if (rc != 0) {
            for (uint32_t k = 0; k < i; k++) {
                if (sources[k] == DVVSET_FROM_OTHER) {
                    free(siblings[k].value);
                }
            }
            return rc;
        }
        siblings[i].value = copy;
    }
    return 0;
}

/* Free the values of the set's siblings that did not move into the result. Both lists are
 * sorted by dot, so one pass matches them. */
static void dvvset_sync_free_dropped(rk_dvvset *set, const rk_sibling *result,
                                     const dvvset_source *sources, uint32_t count)
{
    uint32_t result_index = 0;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        while (result_index < count && rk_dot_cmp(result[result_index].dot, s->dot) < 0) {
            result_index++;
        }
        bool moved = result_index < count &&
                     rk_dot_cmp(result[result_index].dot, s->dot) == 0 &&
                     sources[result_index] == DVVSET_FROM_SET;
        if (!moved) {
            free(s->value);
        }
    }
}

uint32_t rk_dvvset_forget(rk_dvvset *set, const rk_node_id *gone, uint32_t gone_count)
{
    if (gone_count == 0) {
        return 0;
    }
    rk_vv *h = &set->history;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < h->entry_count; i++) {
        rk_node_id node = h->entries[i].node;
        bool drop = false;
        for (uint32_t g = 0; g < gone_count && !drop; g++) {
            drop = gone[g] == node;
        }
        for (uint32_t s = 0; s < set->sibling_count && drop; s++) {
            drop = set->siblings[s].dot.node != node; /* a live dot pins its node's history */
        }
        if (!drop) {
            h->entries[kept++] = h->entries[i];
        }
    }
    uint32_t removed = h->entry_count - kept;
    if (removed > 0) {
        memset(&h->entries[kept], 0, removed * sizeof(h->entries[0]));
        h->entry_count = kept;
    }
    return removed;
}

int rk_dvvset_sync(rk_dvvset *set, const rk_dvvset *other)
{
    RK_ASSERT(!set->values_borrowed);
    RK_ASSERT_SLOW(rk_dvvset_valid(set));
    RK_ASSERT_SLOW(rk_dvvset_valid(other));
    RK_ASSERT(set != other);
    /* Objects of two types never merge (policy.h checks first); an empty set takes the type of
     * what it merges. */
    bool set_empty = set->sibling_count == 0 && set->history.entry_count == 0;
    bool other_empty = other->sibling_count == 0 && other->history.entry_count == 0;
    RK_ASSERT(set_empty || other_empty || set->type_tag == other->type_tag);
    if (set_empty) {
        set->type_tag = other->type_tag;
    }

    uint32_t capacity = set->sibling_count + other->sibling_count;
    rk_sibling *siblings = calloc(capacity > 0 ? capacity : 1, sizeof(siblings[0]));
    dvvset_source *sources = calloc(capacity > 0 ? capacity : 1, sizeof(sources[0]));
    int rc = RK_ENOMEM;
    if (siblings == NULL || sources == NULL) {
        goto out_free_scratch;
    }
    rc = dvvset_sync_pick(set, other, siblings, sources);
    if (rc < 0) {
        goto out_free_scratch;
    }
    uint32_t count = (uint32_t)rc;
    rk_vv history;
    rc = dvvset_history_merge(&set->history, &other->history, NULL, siblings, count, &history);
    if (rc != 0) {
        goto out_free_scratch;
    }
    rc = dvvset_sync_copy_values(siblings, sources, count);
    if (rc != 0) {
        goto out_free_scratch;
    }
    dvvset_sync_free_dropped(set, siblings, sources, count);
    free(set->siblings);
    free(sources);
    set->siblings = siblings;
    set->sibling_count = count;
    set->history = history;
    RK_ASSERT_SLOW(rk_dvvset_valid(set));
    return 0;

out_free_scratch:
    free(sources);
    free(siblings);
    return rc;
}

void rk_dvvset_join(const rk_dvvset *set, rk_vv *context_out)
{
    RK_ASSERT_SLOW(rk_vv_valid(&set->history));
    *context_out = set->history;
}

uint32_t rk_dvvset_values(const rk_dvvset *set, const rk_sibling **out, uint32_t out_count_max)
{
    RK_ASSERT(out != NULL || out_count_max == 0);

    uint32_t count = 0;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (set->siblings[i].tombstone) {
            continue;
        }
        if (count < out_count_max) {
            out[count] = &set->siblings[i];
        }
        count++;
    }
    return count;
}

bool rk_dvvset_equal(const rk_dvvset *a, const rk_dvvset *b)
{
    if (!rk_vv_equal(&a->history, &b->history) || a->sibling_count != b->sibling_count ||
        a->type_tag != b->type_tag) {
        return false;
    }
    for (uint32_t i = 0; i < a->sibling_count; i++) {
        const rk_sibling *sa = &a->siblings[i];
        const rk_sibling *sb = &b->siblings[i];
        if (rk_dot_cmp(sa->dot, sb->dot) != 0 || dvvset_content_cmp(sa, sb) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- store encoding ------------------------------------------------------------------- */

static void dvvset_put_le(uint8_t *out, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t dvvset_get_le(const uint8_t *in, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) {
        v |= (uint64_t)in[i] << (8 * i);
    }
    return v;
}

size_t rk_dvvset_encoded_len(const rk_dvvset *set)
{
    RK_ASSERT_SLOW(rk_dvvset_valid(set));

    size_t len = RK_DVVSET_HEAD_BYTES + rk_vv_encoded_len(&set->history) + 4u;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        len += RK_DVVSET_SIBLING_HEAD_BYTES + set->siblings[i].value_len;
    }
    return len + RK_DVVSET_CHECKSUM_BYTES;
}

size_t rk_dvvset_encode(const rk_dvvset *set, uint8_t *out)
{
    RK_ASSERT_SLOW(rk_dvvset_valid(set));

    out[0] = RK_DVVSET_MAGIC;
    out[1] = RK_DVVSET_FORMAT;
    out[2] = set->type_tag;
    out[3] = 0;
    size_t pos = RK_DVVSET_HEAD_BYTES;
    pos += rk_vv_encode(&set->history, out + pos);
    dvvset_put_le(out + pos, set->sibling_count, 4);
    pos += 4;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        dvvset_put_le(out + pos, s->dot.node, 4);
        dvvset_put_le(out + pos + 4, s->dot.counter, 8);
        dvvset_put_le(out + pos + 12, s->timestamp_us, 8);
        out[pos + 20] = s->tombstone ? RK_DVVSET_FLAG_TOMBSTONE : 0;
        dvvset_put_le(out + pos + 21, s->value_len, 4);
        pos += RK_DVVSET_SIBLING_HEAD_BYTES;
        if (s->value_len > 0) {
            memcpy(out + pos, s->value, s->value_len);
            pos += s->value_len;
        }
    }
    dvvset_put_le(out + pos, XXH3_64bits(out, pos), RK_DVVSET_CHECKSUM_BYTES);
    pos += RK_DVVSET_CHECKSUM_BYTES;
    RK_ASSERT(pos == rk_dvvset_encoded_len(set));
    return pos;
}

/* Read one sibling's fixed part at bytes[*pos] and check it against its predecessor and the
 * history. Returns 0 or RK_ECORRUPT; the value is left for the caller. */
static int dvvset_decode_sibling_head(const uint8_t *bytes, size_t len, size_t *pos,
                                      const rk_dvvset *set, rk_sibling *out)
{
    if (RK_DVVSET_SIBLING_HEAD_BYTES > len - *pos) {
        return RK_ECORRUPT;
    }
    const uint8_t *head = bytes + *pos;
    uint8_t flags = head[20];
    out->dot.node = (rk_node_id)dvvset_get_le(head, 4);
    out->dot.counter = dvvset_get_le(head + 4, 8);
    out->timestamp_us = dvvset_get_le(head + 12, 8);
    out->tombstone = (flags & RK_DVVSET_FLAG_TOMBSTONE) != 0;
    uint64_t value_len = dvvset_get_le(head + 21, 4);
    *pos += RK_DVVSET_SIBLING_HEAD_BYTES;

    if ((flags & ~RK_DVVSET_FLAG_TOMBSTONE) != 0) {
        return RK_ECORRUPT;
    }
    if (out->tombstone && value_len != 0) {
        return RK_ECORRUPT;
    }
    if (value_len > RK_VALUE_BYTES_MAX || value_len > len - *pos) {
        return RK_ECORRUPT;
    }
    if (out->dot.counter == 0 || !rk_vv_covers(&set->history, out->dot)) {
        return RK_ECORRUPT;
    }
    if (set->sibling_count > 0 &&
        rk_dot_cmp(set->siblings[set->sibling_count - 1].dot, out->dot) >= 0) {
        return RK_ECORRUPT;
    }
    out->value_len = (uint32_t)value_len;
    return 0;
}

const rk_sibling *rk_dvvset_find(const rk_dvvset *set, rk_dot dot)
{
    uint32_t low = 0;
    uint32_t high = set->sibling_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int order = rk_dot_cmp(set->siblings[mid].dot, dot);
        if (order == 0) {
            return &set->siblings[mid];
        }
        if (order < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return NULL;
}

bool rk_dvvset_frame_ok(const uint8_t *bytes, size_t len)
{
    if (len < RK_DVVSET_HEAD_BYTES + RK_DVVSET_CHECKSUM_BYTES) {
        return false;
    }
    size_t body_len = len - RK_DVVSET_CHECKSUM_BYTES;
    /* A set stored by element keeps its head here instead (setrows.h), checksummed alike. */
    bool head = bytes[0] == RK_DVVSET_SET_HEAD_MAGIC && bytes[1] == 1u;
    return ((bytes[0] == RK_DVVSET_MAGIC && bytes[1] == RK_DVVSET_FORMAT) || head) &&
           dvvset_get_le(bytes + body_len, RK_DVVSET_CHECKSUM_BYTES) ==
               XXH3_64bits(bytes, body_len);
}

/* Check the frame (magic, format, checksum) and read the history and the sibling count. */
static int dvvset_decode_head(const uint8_t *bytes, size_t len, rk_vv *history,
                              uint32_t *sibling_count, size_t *pos)
{
    if (len < RK_DVVSET_HEAD_BYTES + RK_DVVSET_CHECKSUM_BYTES) {
        return RK_ECORRUPT;
    }
    size_t body_len = len - RK_DVVSET_CHECKSUM_BYTES;
    uint64_t checksum = dvvset_get_le(bytes + body_len, RK_DVVSET_CHECKSUM_BYTES);
    if (checksum != XXH3_64bits(bytes, body_len)) {
        return RK_ECORRUPT;
    }
    if (bytes[0] != RK_DVVSET_MAGIC || bytes[1] != RK_DVVSET_FORMAT ||
        bytes[2] > RK_DVVSET_TYPE_TAG_MAX ||
        bytes[3] != 0) {
        return RK_ECORRUPT;
    }
    size_t history_len = 0;
    if (rk_vv_decode(bytes + RK_DVVSET_HEAD_BYTES, body_len - RK_DVVSET_HEAD_BYTES, history,
                     &history_len) != 0) {
        return RK_ECORRUPT;
    }
    *pos = RK_DVVSET_HEAD_BYTES + history_len;
    if (4u > body_len - *pos) {
        return RK_ECORRUPT;
    }
    uint64_t count = dvvset_get_le(bytes + *pos, 4);
    *pos += 4;
    /* Bound the allocation by what the bytes can hold before trusting the count. */
    if (count > rk_dvvset_siblings_bound(bytes[2]) ||
        count > (body_len - *pos) / RK_DVVSET_SIBLING_HEAD_BYTES) {
        return RK_ECORRUPT;
    }
    *sibling_count = (uint32_t)count;
    return 0;
}

/* Decode; the values are copied (owned by the set) or, with `borrow`, point into `bytes`. */
static int dvvset_decode(const uint8_t *bytes, size_t len, bool borrow, rk_dvvset *out)
{
    rk_dvvset_init(out);
    out->values_borrowed = borrow;

    rk_vv history;
    uint32_t sibling_count = 0;
    size_t pos = 0;
    int rc = dvvset_decode_head(bytes, len, &history, &sibling_count, &pos);
    if (rc != 0) {
        return rc;
    }
    size_t body_len = len - RK_DVVSET_CHECKSUM_BYTES;
    out->history = history;
    out->type_tag = bytes[2];
    if (sibling_count > 0) {
        out->siblings = calloc(sibling_count, sizeof(out->siblings[0]));
        if (out->siblings == NULL) {
            rk_dvvset_init(out);
            return RK_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < sibling_count; i++) {
        rk_sibling s;
        memset(&s, 0, sizeof(s));
        rc = dvvset_decode_sibling_head(bytes, body_len, &pos, out, &s);
        if (rc == 0 && borrow) {
            s.value = s.value_len > 0 ? (uint8_t *)(bytes + pos) : NULL;
        } else if (rc == 0) {
            rc = dvvset_bytes_dup(bytes + pos, s.value_len, &s.value);
        }
        if (rc != 0) {
            rk_dvvset_deinit(out);
            return rc;
        }
        pos += s.value_len;
        out->siblings[out->sibling_count++] = s;
    }
    if (pos != body_len) {
        rk_dvvset_deinit(out);
        return RK_ECORRUPT;
    }
    RK_ASSERT_SLOW(rk_dvvset_valid(out));
    return 0;
}

int rk_dvvset_decode(const uint8_t *bytes, size_t len, rk_dvvset *out)
{
    return dvvset_decode(bytes, len, false, out);
}

int rk_dvvset_decode_view(const uint8_t *bytes, size_t len, rk_dvvset *out)
{
    return dvvset_decode(bytes, len, true, out);
}
