/* aae_tree.c — the hash trees anti-entropy compares (aae_tree.h). */
#include "aae_tree.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "dvvset.h"

int rk_aae_tree_init(rk_aae_tree *t, uint32_t partition_count)
{
    memset(t, 0, sizeof(*t));
    RK_ASSERT(partition_count > 0);
    uint32_t per_branch = RK_AAE_TREE_SEGMENTS_TOTAL_MAX / partition_count / RK_AAE_TREE_BRANCHES;
    if (per_branch > RK_AAE_SEGMENTS_PER_BRANCH_MAX) {
        per_branch = RK_AAE_SEGMENTS_PER_BRANCH_MAX;
    }
    if (per_branch < 2) {
        per_branch = 2;
    }
    t->partition_count = partition_count;
    t->segments_per_branch = per_branch;
    t->segment_count = RK_AAE_TREE_BRANCHES * per_branch;
    t->segments = calloc(partition_count, sizeof(*t->segments));
    t->built_ms = calloc(partition_count, sizeof(*t->built_ms));
    if (t->segments == NULL || t->built_ms == NULL) {
        rk_aae_tree_deinit(t);
        return RK_ENOMEM;
    }
    return 0;
}

void rk_aae_tree_deinit(rk_aae_tree *t)
{
    if (t->segments != NULL) {
        for (uint32_t p = 0; p < t->partition_count; p++) {
            free(t->segments[p]);
        }
    }
    free(t->segments);
    free(t->built_ms);
    memset(t, 0, sizeof(*t));
}

uint64_t rk_aae_object_hash(const uint8_t *skey, size_t skey_len, const uint8_t *bytes,
                            size_t len)
{
    if (len < RK_DVVSET_CHECKSUM_BYTES) {
        return 0;
    }
    uint64_t checksum = rk_le64_get(bytes + len - RK_DVVSET_CHECKSUM_BYTES);
    uint64_t h = XXH3_64bits_withSeed(skey, skey_len, checksum);
    return h != 0 ? h : 1;      /* 0 means "absent" to the callers */
}

uint32_t rk_aae_tree_segment_of(const rk_aae_tree *t, const uint8_t *skey, size_t skey_len)
{
    /* Seeded apart from the ring's hash, so keys of one partition spread over its segments. */
    uint64_t h = XXH3_64bits_withSeed(skey, skey_len, 0x5eed5e6e17ull);
    return (uint32_t)((h >> 32) % t->segment_count);
}

bool rk_aae_tree_built(const rk_aae_tree *t, uint32_t partition)
{
    RK_ASSERT(partition < t->partition_count);
    return t->segments[partition] != NULL;
}

void rk_aae_tree_update(rk_aae_tree *t, uint32_t partition, const uint8_t *skey, size_t skey_len,
                        uint64_t old_hash, uint64_t new_hash)
{
    if (t->segments == NULL || partition >= t->partition_count ||
        t->segments[partition] == NULL || old_hash == new_hash) {
        return;
    }
    t->segments[partition][rk_aae_tree_segment_of(t, skey, skey_len)] ^= old_hash ^ new_hash;
}

void rk_aae_tree_invalidate(rk_aae_tree *t, uint32_t partition)
{
    if (t->segments == NULL || partition >= t->partition_count ||
        t->segments[partition] == NULL) {
        return;
    }
    free(t->segments[partition]);
    t->segments[partition] = NULL;
    RK_ASSERT(t->built_count > 0);
    t->built_count--;
}

void rk_aae_tree_invalidate_all(rk_aae_tree *t)
{
    for (uint32_t p = 0; t->segments != NULL && p < t->partition_count; p++) {
        rk_aae_tree_invalidate(t, p);
    }
}

void rk_aae_partition_range(uint32_t partition, uint32_t partition_count, uint8_t start[2],
                            uint8_t end[2], size_t *end_len)
{
    start[0] = (uint8_t)(partition >> 8);
    start[1] = (uint8_t)partition;
    uint32_t next = partition + 1;
    end[0] = (uint8_t)(next >> 8);
    end[1] = (uint8_t)next;
    *end_len = next < 65536u && next <= partition_count ? 2 : 0;
}

typedef struct aae_scan {
    const rk_aae_tree *tree;
    const uint8_t *marks;
    rk_aae_key_fn fn;
    void *ctx;
    uint64_t damaged;
} aae_scan;

static int aae_scan_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                        size_t value_len)
{
    aae_scan *s = ctx;
    if (s->marks != NULL && !s->marks[rk_aae_tree_segment_of(s->tree, key, key_len)]) {
        return 0;
    }
    if (!rk_dvvset_frame_ok(value, value_len)) {
        s->damaged++;       /* reads as missing: contributes nothing, is repaired */
        return 0;
    }
    return s->fn(s->ctx, key, key_len, rk_aae_object_hash(key, key_len, value, value_len));
}

int rk_aae_tree_scan(const rk_aae_tree *t, rk_store *store, uint32_t partition,
                     const uint8_t *segment_marks, rk_aae_key_fn fn, void *ctx,
                     uint64_t *damaged_out)
{
    RK_ASSERT(partition < t->partition_count);
    uint8_t start[2];
    uint8_t end[2];
    size_t end_len = 0;
    rk_aae_partition_range(partition, t->partition_count, start, end, &end_len);
    aae_scan s = {.tree = t, .marks = segment_marks, .fn = fn, .ctx = ctx};
    int rc = rk_store_iterate(store, RK_DB_DATA, start, 2, end_len > 0 ? end : NULL, end_len,
                              aae_scan_one, &s);
    if (damaged_out != NULL) {
        *damaged_out += s.damaged;
    }
    return rc < 0 ? rc : 0;
}

typedef struct aae_fill {
    const rk_aae_tree *tree;
    uint64_t *segments;
} aae_fill;

static int aae_fill_one(void *ctx, const uint8_t *skey, size_t skey_len, uint64_t hash)
{
    aae_fill *f = ctx;
    f->segments[rk_aae_tree_segment_of(f->tree, skey, skey_len)] ^= hash;
    return 0;
}

/* A fresh segment array of `partition` computed from the store (owned), or NULL with *rc_out. */
static uint64_t *aae_tree_compute(const rk_aae_tree *t, rk_store *store, uint32_t partition,
                                  uint64_t *damaged_out, int *rc_out)
{
    uint64_t *segments = calloc(t->segment_count, sizeof(*segments));
    if (segments == NULL) {
        *rc_out = RK_ENOMEM;
        return NULL;
    }
    aae_fill f = {.tree = t, .segments = segments};
    *rc_out = rk_aae_tree_scan(t, store, partition, NULL, aae_fill_one, &f, damaged_out);
    if (*rc_out != 0) {
        free(segments);
        return NULL;
    }
    return segments;
}

int rk_aae_tree_build(rk_aae_tree *t, rk_store *store, uint32_t partition, uint64_t now_ms,
                      uint64_t *damaged_out)
{
    int rc = 0;
    uint64_t *segments = aae_tree_compute(t, store, partition, damaged_out, &rc);
    if (segments == NULL) {
        rk_aae_tree_invalidate(t, partition);
        return rc;
    }
    if (t->segments[partition] == NULL) {
        t->built_count++;
    }
    free(t->segments[partition]);
    t->segments[partition] = segments;
    t->built_ms[partition] = now_ms;
    return 0;
}

bool rk_aae_tree_matches_store(const rk_aae_tree *t, rk_store *store, uint32_t partition)
{
    if (!rk_aae_tree_built(t, partition)) {
        return true;
    }
    int rc = 0;
    uint64_t *fresh = aae_tree_compute(t, store, partition, NULL, &rc);
    if (fresh == NULL) {
        return false;
    }
    bool same = memcmp(fresh, t->segments[partition], t->segment_count * sizeof(*fresh)) == 0;
    free(fresh);
    return same;
}

void rk_aae_tree_branches(const rk_aae_tree *t, uint32_t partition, uint64_t *out)
{
    RK_ASSERT(rk_aae_tree_built(t, partition));
    const uint64_t *segments = t->segments[partition];
    for (uint32_t b = 0; b < RK_AAE_TREE_BRANCHES; b++) {
        uint64_t h = 0;
        for (uint32_t i = 0; i < t->segments_per_branch; i++) {
            h ^= segments[b * t->segments_per_branch + i];
        }
        out[b] = h;
    }
}

void rk_aae_tree_branch_segments(const rk_aae_tree *t, uint32_t partition, uint32_t branch,
                                 uint64_t *out)
{
    RK_ASSERT(rk_aae_tree_built(t, partition));
    RK_ASSERT(branch < RK_AAE_TREE_BRANCHES);
    memcpy(out, t->segments[partition] + (size_t)branch * t->segments_per_branch,
           t->segments_per_branch * sizeof(*out));
}
