/* ring_internal.h — what ring.c (the table, preference lists, the byte format) and
 * ring_claim.c (claim, layout, rebalance, repair) share: the quota arithmetic, the owner
 * lookup and the whole-ring check. Nothing outside src/core/ring*.c includes it; ring.h is
 * the contract. The helpers are static inline because the claim's window scans call them in
 * their innermost loops. */
#ifndef RK_RING_INTERNAL_H
#define RK_RING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

/* The quotas of a balanced ring: `rem` members own base + 1 partitions, the others base. */
typedef struct ring_quota {
    uint32_t base;
    uint32_t rem;
    uint32_t high; /* ceil(Q/S) */
} ring_quota;

static inline bool ring_is_power_of_two(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static inline uint32_t ring_min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static inline ring_quota ring_quota_of(uint32_t partition_count, uint32_t member_count)
{
    RK_ASSERT(member_count >= 1);
    ring_quota quota;
    quota.base = partition_count / member_count;
    quota.rem = partition_count % member_count;
    quota.high = quota.base + (quota.rem > 0 ? 1u : 0u);
    return quota;
}

static inline uint8_t ring_owner_at(const rk_ring *ring, uint32_t partition)
{
    return ring->owner_index[partition & (ring->partition_count - 1u)];
}

#ifdef RK_SLOW_ASSERTS
/* Whole-ring invariants (ring.c), checked before encoding and after building or decoding. */
bool ring_valid(const rk_ring *ring);
#endif

#endif
