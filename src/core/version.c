/* version.c — histories as sorted counter ranges, their merge and pruning, and the byte and
 * token codecs (see version.h). */
#include "version.h"

#include <stddef.h>
#include <string.h>
#include <xxhash.h>

/* A merge sees both inputs and one dot before it prunes. */
#define VV_SCRATCH_ENTRIES_MAX (2u * RK_VV_ENTRIES_MAX + 1u)

static bool vv_entry_before(const rk_vv_entry *a, const rk_vv_entry *b)
{
    if (a->node != b->node) {
        return a->node < b->node;
    }
    return a->first < b->first;
}

static bool vv_entries_valid(const rk_vv_entry *entries, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        const rk_vv_entry *e = &entries[i];
        if (e->zero != 0 || e->first == 0 || e->first > e->last) {
            return false;
        }
        if (i == 0) {
            continue;
        }
        const rk_vv_entry *prev = &entries[i - 1];
        if (prev->node > e->node) {
            return false;
        }
        /* Same node: disjoint and not touching, else the two should be one entry. */
        if (prev->node == e->node && prev->last >= e->first - 1) {
            return false;
        }
    }
    return true;
}

bool rk_vv_valid(const rk_vv *vv)
{
    if (vv->entry_count > RK_VV_ENTRIES_MAX) {
        return false;
    }
    if (!vv_entries_valid(vv->entries, vv->entry_count)) {
        return false;
    }
    /* The zero tail in one comparison (64 of one entry each were a visible share of a
     * replica's decode). */
    static const rk_vv_entry zero_entries[RK_VV_ENTRIES_MAX];
    uint32_t tail = RK_VV_ENTRIES_MAX - vv->entry_count;
    return tail == 0 || memcmp(&vv->entries[vv->entry_count], zero_entries,
                               tail * sizeof(zero_entries[0])) == 0;
}

void rk_vv_init(rk_vv *vv)
{
    memset(vv, 0, sizeof(*vv));
}

/* Write `count` entries into `vv` with a zeroed tail. `entries` is a scratch array, never
 * `vv`'s own (every caller builds the result apart), so it is written in place. */
static void vv_set_entries(rk_vv *vv, const rk_vv_entry *entries, uint32_t count)
{
    RK_ASSERT(count <= RK_VV_ENTRIES_MAX);
    RK_ASSERT(count == 0 || entries + count <= vv->entries ||
              entries >= vv->entries + RK_VV_ENTRIES_MAX);

    /* The padding after entry_count too: equality compares the bytes (rk_vv_equal). */
    memset(vv, 0, offsetof(rk_vv, entries));
    vv->entry_count = count;
    if (count > 0) {
        memcpy(vv->entries, entries, count * sizeof(entries[0]));
    }
    memset(&vv->entries[count], 0, (RK_VV_ENTRIES_MAX - count) * sizeof(entries[0]));
    RK_ASSERT_SLOW(rk_vv_valid(vv));
}

static bool vv_entry_covers(const rk_vv_entry *e, rk_dot dot)
{
    return e->node == dot.node && e->first <= dot.counter && dot.counter <= e->last;
}

bool rk_vv_covers(const rk_vv *vv, rk_dot dot)
{
    RK_ASSERT(vv->entry_count <= RK_VV_ENTRIES_MAX);

    for (uint32_t i = 0; i < vv->entry_count; i++) {
        if (vv_entry_covers(&vv->entries[i], dot)) {
            return true;
        }
    }
    return false;
}

uint64_t rk_vv_counter_max(const rk_vv *vv, rk_node_id node)
{
    RK_ASSERT(vv->entry_count <= RK_VV_ENTRIES_MAX);

    uint64_t counter_max = 0;
    for (uint32_t i = 0; i < vv->entry_count; i++) {
        if (vv->entries[i].node == node) {
            counter_max = vv->entries[i].last;    /* sorted: the last one is the highest */
        }
    }
    return counter_max;
}

/* Whether one entry of `vv` holds all of `range` (entries never touch, so one must). */
static bool vv_holds_range(const rk_vv *vv, const rk_vv_entry *range)
{
    for (uint32_t i = 0; i < vv->entry_count; i++) {
        const rk_vv_entry *e = &vv->entries[i];
        if (e->node == range->node && e->first <= range->first && range->last <= e->last) {
            return true;
        }
    }
    return false;
}

bool rk_vv_descends(const rk_vv *a, const rk_vv *b)
{
    RK_ASSERT_SLOW(rk_vv_valid(a));
    RK_ASSERT_SLOW(rk_vv_valid(b));

    for (uint32_t i = 0; i < b->entry_count; i++) {
        if (!vv_holds_range(a, &b->entries[i])) {
            return false;
        }
    }
    return true;
}

rk_vv_order rk_vv_compare(const rk_vv *a, const rk_vv *b)
{
    bool a_has_b = rk_vv_descends(a, b);
    bool b_has_a = rk_vv_descends(b, a);
    if (a_has_b && b_has_a) {
        return RK_VV_EQUAL;
    }
    if (a_has_b) {
        return RK_VV_DESCENDS;
    }
    if (b_has_a) {
        return RK_VV_DOMINATED;
    }
    return RK_VV_CONCURRENT;
}

bool rk_vv_equal(const rk_vv *a, const rk_vv *b)
{
    RK_ASSERT_SLOW(rk_vv_valid(a));
    RK_ASSERT_SLOW(rk_vv_valid(b));

    /* Valid histories are canonical: the same dots have one representation. */
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* Append `e` to the sorted run out[0..*count), joining it to the previous entry when they
 * overlap or touch. Input must arrive in (node, first) order. */
static void vv_push_joined(rk_vv_entry *out, uint32_t *count, uint32_t count_max,
                           const rk_vv_entry *e)
{
    if (*count > 0) {
        rk_vv_entry *prev = &out[*count - 1];
        RK_ASSERT(!vv_entry_before(e, prev));
        if (prev->node == e->node && (prev->last == UINT64_MAX || e->first <= prev->last + 1)) {
            if (e->last > prev->last) {
                prev->last = e->last;
            }
            return;
        }
    }
    RK_ASSERT(*count < count_max);
    out[*count] = *e;
    (*count)++;
}

/* out = a ∪ b as sorted, joined entries; returns the count. */
static uint32_t vv_union(const rk_vv_entry *a, uint32_t a_count, const rk_vv_entry *b,
                         uint32_t b_count, rk_vv_entry *out, uint32_t out_count_max)
{
    RK_ASSERT(a_count <= out_count_max);
    RK_ASSERT(b_count <= out_count_max - a_count);

    uint32_t a_index = 0;
    uint32_t b_index = 0;
    uint32_t count = 0;
    while (a_index < a_count || b_index < b_count) {
        bool take_a = b_index == b_count ||
                      (a_index < a_count && !vv_entry_before(&b[b_index], &a[a_index]));
        const rk_vv_entry *next = take_a ? &a[a_index++] : &b[b_index++];
        vv_push_joined(out, &count, out_count_max, next);
    }
    return count;
}

static bool vv_entry_covers_any(const rk_vv_entry *e, const rk_dot *dots, uint32_t dot_count)
{
    for (uint32_t i = 0; i < dot_count; i++) {
        if (vv_entry_covers(e, dots[i])) {
            return true;
        }
    }
    return false;
}

/* The pruning rule of version.h: while over the bound, remove the oldest entry (smallest
 * last, then node) that is not its node's highest and covers no kept dot. */
static int vv_prune_entries(rk_vv_entry *entries, uint32_t *count, uint32_t count_max,
                            const rk_dot *keep, uint32_t keep_count)
{
    RK_ASSERT(keep_count == 0 || keep != NULL);

    while (*count > count_max) {
        uint32_t victim = *count;
        for (uint32_t i = 0; i + 1 < *count; i++) {
            const rk_vv_entry *e = &entries[i];
            if (entries[i + 1].node != e->node) {
                continue;               /* a node's highest entry stays: no dot minted twice */
            }
            if (vv_entry_covers_any(e, keep, keep_count)) {
                continue;               /* a live sibling's dot stays in its own history */
            }
            bool older = victim == *count || e->last < entries[victim].last ||
                         (e->last == entries[victim].last && e->node < entries[victim].node);
            if (older) {
                victim = i;
            }
        }
        if (victim == *count) {
            return RK_ETOOBIG;
        }
        memmove(&entries[victim], &entries[victim + 1],
                (*count - victim - 1) * sizeof(entries[0]));
        (*count)--;
    }
    return 0;
}

int rk_vv_merge(const rk_vv *a, const rk_vv *b, const rk_dot *dot, const rk_dot *keep,
                uint32_t keep_count, rk_vv *out)
{
    RK_ASSERT_SLOW(rk_vv_valid(a));
    RK_ASSERT_SLOW(rk_vv_valid(b));
    RK_ASSERT(dot == NULL || dot->counter > 0);

    rk_vv_entry both[VV_SCRATCH_ENTRIES_MAX];
    uint32_t both_count = vv_union(a->entries, a->entry_count, b->entries, b->entry_count,
                                   both, VV_SCRATCH_ENTRIES_MAX);
    rk_vv_entry merged[VV_SCRATCH_ENTRIES_MAX];
    uint32_t merged_count = both_count;
    if (dot != NULL) {
        rk_vv_entry dot_entry = {.node = dot->node, .first = dot->counter, .last = dot->counter};
        merged_count = vv_union(both, both_count, &dot_entry, 1, merged, VV_SCRATCH_ENTRIES_MAX);
    } else if (both_count > 0) {
        memcpy(merged, both, both_count * sizeof(both[0]));
    }
    RK_ASSERT_SLOW(vv_entries_valid(merged, merged_count));

    int rc = vv_prune_entries(merged, &merged_count, RK_VV_ENTRIES_MAX, keep, keep_count);
    if (rc != 0) {
        return rc;
    }
    vv_set_entries(out, merged, merged_count);
    return 0;
}

uint32_t rk_vv_union_count(const rk_vv *a, const rk_vv *b)
{
    rk_vv_entry both[VV_SCRATCH_ENTRIES_MAX];
    return vv_union(a->entries, a->entry_count, b->entries, b->entry_count, both,
                    VV_SCRATCH_ENTRIES_MAX);
}

int rk_vv_prune(rk_vv *vv, uint32_t entry_count_max, const rk_dot *keep, uint32_t keep_count)
{
    RK_ASSERT_SLOW(rk_vv_valid(vv));

    rk_vv_entry entries[RK_VV_ENTRIES_MAX];
    uint32_t count = vv->entry_count;
    memcpy(entries, vv->entries, sizeof(entries));
    int rc = vv_prune_entries(entries, &count, entry_count_max, keep, keep_count);
    vv_set_entries(vv, entries, count);
    return rc;
}

/* ---- bytes ---------------------------------------------------------------------------- */

static size_t vv_varint_len(uint64_t v)
{
    size_t len = 1;
    while (v >= 0x80u) {
        v >>= 7;
        len++;
    }
    return len;
}

static size_t vv_varint_put(uint8_t *out, uint64_t v)
{
    size_t len = 0;
    while (v >= 0x80u) {
        out[len++] = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    out[len++] = (uint8_t)v;
    return len;
}

/* Read a minimal LEB128 varint of at most `value_max`; returns bytes used, 0 if invalid. */
static size_t vv_varint_get(const uint8_t *in, size_t len, uint64_t value_max, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < RK_VV_VARINT64_BYTES_MAX; i++) {
        uint64_t bits = in[i] & 0x7fu;
        unsigned shift = (unsigned)(7u * i);
        if (shift == 63 && bits > 1) {
            return 0;                         /* above 2^64 - 1 */
        }
        v |= bits << shift;
        if ((in[i] & 0x80u) == 0) {
            if (i > 0 && in[i] == 0) {
                return 0;                     /* overlong: a token has one spelling */
            }
            if (v > value_max) {
                return 0;
            }
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

size_t rk_vv_encoded_len(const rk_vv *vv)
{
    RK_ASSERT_SLOW(rk_vv_valid(vv));

    size_t len = vv_varint_len(vv->entry_count);
    for (uint32_t i = 0; i < vv->entry_count; i++) {
        const rk_vv_entry *e = &vv->entries[i];
        len += vv_varint_len(e->node) + vv_varint_len(e->first) +
               vv_varint_len(e->last - e->first);
    }
    RK_ASSERT(len <= RK_VV_ENCODED_BYTES_MAX);
    return len;
}

size_t rk_vv_encode(const rk_vv *vv, uint8_t *out)
{
    RK_ASSERT_SLOW(rk_vv_valid(vv));

    size_t len = vv_varint_put(out, vv->entry_count);
    for (uint32_t i = 0; i < vv->entry_count; i++) {
        const rk_vv_entry *e = &vv->entries[i];
        len += vv_varint_put(out + len, e->node);
        len += vv_varint_put(out + len, e->first);
        len += vv_varint_put(out + len, e->last - e->first);
    }
    RK_ASSERT(len <= RK_VV_ENCODED_BYTES_MAX);
    return len;
}

int rk_vv_decode(const uint8_t *bytes, size_t len, rk_vv *out, size_t *used_len)
{
    rk_vv_init(out);
    *used_len = 0;

    uint64_t count = 0;
    size_t pos = vv_varint_get(bytes, len, RK_VV_ENTRIES_MAX, &count);
    if (pos == 0) {
        return RK_ECORRUPT;
    }
    /* Decoded in place (one 1.5 KiB vector zeroed, none copied); a failure leaves `out`
     * empty again, as rk_vv_init made it. */
    out->entry_count = (uint32_t)count;
    for (uint32_t i = 0; i < out->entry_count; i++) {
        uint64_t node = 0;
        uint64_t first = 0;
        uint64_t span = 0;
        size_t used = vv_varint_get(bytes + pos, len - pos, UINT32_MAX, &node);
        if (used > 0) {
            pos += used;
            used = vv_varint_get(bytes + pos, len - pos, UINT64_MAX, &first);
        }
        if (used > 0) {
            pos += used;
            used = vv_varint_get(bytes + pos, len - pos, UINT64_MAX - first, &span);
        }
        if (used == 0) {
            rk_vv_init(out);
            return RK_ECORRUPT;
        }
        pos += used;
        out->entries[i].node = (rk_node_id)node;
        out->entries[i].first = first;
        out->entries[i].last = first + span;
    }
    if (!rk_vv_valid(out)) {
        rk_vv_init(out);
        return RK_ECORRUPT;
    }
    *used_len = pos;
    return 0;
}

/* ---- tokens --------------------------------------------------------------------------- */

static const char vv_base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t vv_base64_chars(size_t byte_count)
{
    return (byte_count * 4u + 2u) / 3u;
}

static void vv_base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t out_len = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = (uint32_t)in[i] << 16;
        size_t group_bytes = len - i < 3 ? len - i : 3;
        if (group_bytes > 1) {
            group |= (uint32_t)in[i + 1] << 8;
        }
        if (group_bytes > 2) {
            group |= in[i + 2];
        }
        for (size_t k = 0; k < group_bytes + 1; k++) {
            out[out_len++] = vv_base64url[(group >> (18 - 6 * k)) & 0x3fu];
        }
    }
    out[out_len] = '\0';
}

static int vv_base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

/* Strict: the alphabet above, no padding, unused trailing bits zero (one spelling per token).
 * Returns the byte count or RK_ECORRUPT. */
static int vv_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
    if (len % 4 == 1) {
        return RK_ECORRUPT;
    }
    size_t out_len = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    if (out_len > out_size) {
        return RK_ECORRUPT;
    }
    size_t pos = 0;
    for (size_t i = 0; i < len; i += 4) {
        size_t group_chars = len - i < 4 ? len - i : 4;
        uint32_t group = 0;
        for (size_t k = 0; k < 4; k++) {
            int v = k < group_chars ? vv_base64_value(in[i + k]) : 0;
            if (v < 0) {
                return RK_ECORRUPT;
            }
            group |= (uint32_t)v << (18 - 6 * k);
        }
        size_t group_bytes = group_chars - 1;
        uint32_t unused_mask = group_bytes == 3 ? 0 : (0xffffffu >> (8 * group_bytes));
        if ((group & unused_mask) != 0) {
            return RK_ECORRUPT;
        }
        for (size_t k = 0; k < group_bytes; k++) {
            out[pos++] = (uint8_t)(group >> (16 - 8 * k));
        }
    }
    RK_ASSERT(pos == out_len);
    return (int)out_len;
}

static uint32_t vv_token_checksum(const uint8_t *bytes, size_t len)
{
    return (uint32_t)XXH3_64bits(bytes, len);
}

int rk_vv_token_encode(const rk_vv *vv, char *out, size_t out_size)
{
    RK_ASSERT_SLOW(rk_vv_valid(vv));
    RK_ASSERT(out != NULL || out_size == 0);

    uint8_t bytes[RK_VV_TOKEN_BYTES_MAX];
    size_t len = 0;
    bytes[len++] = RK_VV_TOKEN_FORMAT;
    len += rk_vv_encode(vv, bytes + len);
    uint32_t checksum = vv_token_checksum(bytes, len);
    for (size_t i = 0; i < RK_VV_TOKEN_CHECKSUM_BYTES; i++) {
        bytes[len++] = (uint8_t)(checksum >> (8 * i));
    }
    RK_ASSERT(len <= RK_VV_TOKEN_BYTES_MAX);

    size_t chars = vv_base64_chars(len);
    RK_ASSERT(chars <= RK_VV_TOKEN_CHARS_MAX);
    if (chars >= out_size) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return RK_ETOOBIG;
    }
    vv_base64_encode(bytes, len, out);
    return (int)chars;
}

int rk_vv_token_decode(const char *token, size_t len, rk_vv *out)
{
    rk_vv_init(out);
    if (len > RK_VV_TOKEN_CHARS_MAX) {
        return RK_ECORRUPT;
    }
    uint8_t bytes[RK_VV_TOKEN_BYTES_MAX];
    int byte_count = vv_base64_decode(token, len, bytes, sizeof(bytes));
    if (byte_count < 0) {
        return byte_count;
    }
    size_t body_len = (size_t)byte_count;
    if (body_len < 1 + RK_VV_TOKEN_CHECKSUM_BYTES) {
        return RK_ECORRUPT;
    }
    body_len -= RK_VV_TOKEN_CHECKSUM_BYTES;
    uint32_t checksum = 0;
    for (size_t i = 0; i < RK_VV_TOKEN_CHECKSUM_BYTES; i++) {
        checksum |= (uint32_t)bytes[body_len + i] << (8 * i);
    }
    if (checksum != vv_token_checksum(bytes, body_len)) {
        return RK_ECORRUPT;
    }
    if (bytes[0] != RK_VV_TOKEN_FORMAT) {
        return RK_ECORRUPT;
    }
    rk_vv vv;
    size_t used_len = 0;
    int rc = rk_vv_decode(bytes + 1, body_len - 1, &vv, &used_len);
    if (rc != 0) {
        return rc;
    }
    if (used_len != body_len - 1) {
        return RK_ECORRUPT;
    }
    *out = vv;
    return 0;
}
