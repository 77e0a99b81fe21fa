/* ring.c — the partition ring's table: init, partition and owner lookup, preference lists and
 * the byte format (see ring.h for the rules and why they hold). Building the table (claim,
 * rebalance, repair) is ring_claim.c's. */
#include "ring.h"

#include <string.h>

#include "hash.h"
#include "ring_internal.h"

/* ---- small helpers ------------------------------------------------------------------------ */

static size_t ring_encoded_bytes(uint32_t partition_count, uint32_t member_count)
{
    size_t owner_bytes = member_count > 0 ? partition_count : 0;
    return RK_RING_HEADER_BYTES + (size_t)member_count * 4u + owner_bytes + RK_RING_CHECKSUM_BYTES;
}

/* Whether per-member partition counts form a balanced ring. */
static bool ring_counts_balanced(const uint32_t *count, uint32_t partition_count,
                                 uint32_t member_count)
{
    ring_quota quota = ring_quota_of(partition_count, member_count);
    uint32_t total = 0;
    for (uint32_t i = 0; i < member_count; i++) {
        if (count[i] < quota.base || count[i] > quota.high) {
            return false;
        }
        total += count[i];
    }
    return total == partition_count;
}

#ifdef RK_SLOW_ASSERTS
/* Whole-ring invariants, checked before encoding and after building or decoding. */
bool ring_valid(const rk_ring *ring)
{
    if (!ring_is_power_of_two(ring->partition_count) ||
        ring->partition_count > RK_RING_PARTITIONS_MAX || ring->member_count > RK_RING_NODES_MAX) {
        return false;
    }
    for (uint32_t i = 1; i < ring->member_count; i++) {
        if (ring->members[i - 1] >= ring->members[i]) {
            return false;
        }
    }
    if (ring->member_count == 0) {
        return true;
    }
    uint32_t count[RK_RING_NODES_MAX] = {0};
    for (uint32_t p = 0; p < ring->partition_count; p++) {
        if (ring->owner_index[p] >= ring->member_count) {
            return false;
        }
        count[ring->owner_index[p]]++;
    }
    return ring_counts_balanced(count, ring->partition_count, ring->member_count);
}
#endif

/* ---- public ------------------------------------------------------------------------------- */

int rk_ring_init(rk_ring *ring, uint32_t partition_count)
{
    if (!ring_is_power_of_two(partition_count) || partition_count > RK_RING_PARTITIONS_MAX) {
        return RK_EINVAL;
    }
    memset(ring, 0, sizeof(*ring));
    ring->partition_count = partition_count;
    return 0;
}

uint32_t rk_ring_partition_of(const rk_ring *ring, uint64_t position)
{
    return rk_hash_partition(position, ring->partition_count);
}

rk_node_id rk_ring_owner(const rk_ring *ring, uint32_t partition)
{
    RK_ASSERT(partition < ring->partition_count);
    RK_ASSERT(ring->member_count > 0);
    uint8_t index = ring->owner_index[partition];
    RK_ASSERT(index < ring->member_count);
    return ring->members[index];
}

void rk_ring_set_zones(rk_ring *ring, const uint32_t *zones)
{
    memset(ring->zone, 0, sizeof(ring->zone));
    ring->zone_count = 0;
    if (zones == NULL) {
        return;
    }
    uint32_t seen[RK_RING_NODES_MAX];
    for (uint32_t i = 0; i < ring->member_count; i++) {
        uint32_t z = 0;
        while (z < ring->zone_count && seen[z] != zones[i]) {
            z++;
        }
        if (z == ring->zone_count) {
            seen[ring->zone_count++] = zones[i];
        }
        ring->zone[i] = (uint8_t)z;
    }
}

/* With n zones or more: the first owner of each zone clockwise until n zones are listed, then
 * the others in their clockwise order (Dynamo's placement across data centres). `order` holds
 * member indexes clockwise, count of them; rewritten in place. */
static void ring_zones_first(const rk_ring *ring, uint32_t n, uint8_t *order, uint32_t count)
{
    if (ring->zone_count < n || ring->zone_count < 2) {
        return;
    }
    uint8_t first[RK_RING_NODES_MAX];
    uint8_t rest[RK_RING_NODES_MAX];
    uint32_t first_count = 0;
    uint32_t rest_count = 0;
    uint64_t zones_taken = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t z = ring->zone[order[i]];
        if (first_count < n && !(zones_taken & (1ull << z))) {
            zones_taken |= 1ull << z;
            first[first_count++] = order[i];
        } else {
            rest[rest_count++] = order[i];
        }
    }
    memcpy(order, first, first_count);
    memcpy(order + first_count, rest, rest_count);
}

/* The first `limit` members' indexes in preference order from `partition` clockwise: each owner
 * not yet listed, then the members owning nothing (S > Q), rotated so that no one of them takes
 * every partition's first fallback. Returns how many (limit <= the member count). */
static uint32_t ring_walk(const rk_ring *ring, uint32_t partition, uint32_t limit,
                          uint8_t *order)
{
    uint32_t member_count = limit; /* how many to list */
    uint64_t seen = 0;
    uint32_t written = 0;
    for (uint32_t i = 0; i < ring->partition_count && written < member_count; i++) {
        uint8_t index = ring_owner_at(ring, partition + i);
        RK_ASSERT(index < ring->member_count);
        if (!(seen & (1ull << index))) {
            seen |= 1ull << index;
            order[written++] = index;
        }
    }
    for (uint32_t i = 0; i < ring->member_count && written < member_count; i++) {
        uint32_t index = (partition + i) % ring->member_count;
        if (!(seen & (1ull << index))) {
            seen |= 1ull << index;
            order[written++] = (uint8_t)index;
        }
    }
    RK_ASSERT(written == member_count);
    return written;
}

int rk_ring_preflist(const rk_ring *ring, uint32_t partition, uint32_t n, rk_node_id *out,
                     uint32_t out_count_max, uint32_t *primary_count_out)
{
    if (n == 0 || n > RK_RING_TARGET_N_MAX || partition >= ring->partition_count || out == NULL ||
        out_count_max == 0) {
        return RK_EINVAL;
    }
    /* Zones first needs every member's place; otherwise the walk stops at what is asked. */
    bool zoned = ring->zone_count >= 2 && ring->zone_count >= n;
    uint8_t order[RK_RING_NODES_MAX];
    uint32_t count = ring_walk(ring, partition,
                               zoned ? ring->member_count
                                     : ring_min_u32(out_count_max, ring->member_count),
                               order);
    ring_zones_first(ring, n, order, count);
    uint32_t want = ring_min_u32(out_count_max, count);
    for (uint32_t i = 0; i < want; i++) {
        out[i] = ring->members[order[i]];
    }
    if (primary_count_out != NULL) {
        *primary_count_out = ring_min_u32(n, want);
    }
    return (int)want;
}

uint32_t rk_ring_members(const rk_ring *ring, rk_node_id *out, uint32_t out_count_max)
{
    uint32_t copy_count = ring_min_u32(out_count_max, ring->member_count);
    if (copy_count > 0) {
        memcpy(out, ring->members, sizeof(rk_node_id) * copy_count);
    }
    return ring->member_count;
}

uint32_t rk_ring_owned_count(const rk_ring *ring, rk_node_id node)
{
    for (uint32_t i = 0; i < ring->member_count; i++) {
        if (ring->members[i] != node) {
            continue;
        }
        uint32_t owned = 0;
        for (uint32_t p = 0; p < ring->partition_count; p++) {
            owned += ring->owner_index[p] == i ? 1u : 0u;
        }
        return owned;
    }
    return 0;
}

int rk_ring_encode(const rk_ring *ring, uint8_t *out, size_t out_size)
{
    RK_ASSERT_SLOW(ring_valid(ring));
    uint32_t member_count = ring->member_count;
    size_t encoded_bytes = ring_encoded_bytes(ring->partition_count, member_count);
    if (out == NULL || out_size < encoded_bytes) {
        return RK_ETOOBIG;
    }
    out[0] = (uint8_t)RK_RING_FORMAT_V1;
    out[1] = (uint8_t)__builtin_ctz(ring->partition_count);
    out[2] = (uint8_t)member_count;
    out[3] = 0;
    rk_le64_put(out + 4, ring->version);
    uint8_t *cursor = out + RK_RING_HEADER_BYTES;
    for (uint32_t i = 0; i < member_count; i++) {
        rk_le32_put(cursor, ring->members[i]);
        cursor += 4;
    }
    if (member_count > 0) {
        memcpy(cursor, ring->owner_index, ring->partition_count);
        cursor += ring->partition_count;
    }
    rk_le32_put(cursor, (uint32_t)rk_hash_key(out, (size_t)(cursor - out)));
    cursor += RK_RING_CHECKSUM_BYTES;
    RK_ASSERT((size_t)(cursor - out) == encoded_bytes);
    return (int)encoded_bytes;
}

int rk_ring_decode(rk_ring *ring, const uint8_t *bytes, size_t len)
{
    if (bytes == NULL || len < RK_RING_HEADER_BYTES + RK_RING_CHECKSUM_BYTES) {
        return RK_ECORRUPT;
    }
    uint32_t partition_bits = bytes[1];
    uint32_t member_count = bytes[2];
    if (bytes[0] != RK_RING_FORMAT_V1 || partition_bits > 16u || member_count > RK_RING_NODES_MAX ||
        bytes[3] != 0) {
        return RK_ECORRUPT;
    }
    _Static_assert(RK_RING_PARTITIONS_MAX == 1u << 16, "log2(Q) is at most 16");
    uint32_t partition_count = 1u << partition_bits;
    if (len != ring_encoded_bytes(partition_count, member_count)) {
        return RK_ECORRUPT;
    }
    size_t body_bytes = len - RK_RING_CHECKSUM_BYTES;
    if ((uint32_t)rk_hash_key(bytes, body_bytes) != rk_le32_get(bytes + body_bytes)) {
        return RK_ECORRUPT;
    }
    const uint8_t *member_bytes = bytes + RK_RING_HEADER_BYTES;
    for (uint32_t i = 1; i < member_count; i++) {
        if (rk_le32_get(member_bytes + 4u * (i - 1u)) >= rk_le32_get(member_bytes + 4u * i)) {
            return RK_ECORRUPT;
        }
    }
    const uint8_t *owner_bytes = member_bytes + 4u * member_count;
    if (member_count > 0) {
        uint32_t count[RK_RING_NODES_MAX] = {0};
        for (uint32_t p = 0; p < partition_count; p++) {
            if (owner_bytes[p] >= member_count) {
                return RK_ECORRUPT;
            }
            count[owner_bytes[p]]++;
        }
        if (!ring_counts_balanced(count, partition_count, member_count)) {
            return RK_ECORRUPT;
        }
    }

    (void)rk_ring_init(ring, partition_count);
    ring->version = rk_le64_get(bytes + 4);
    ring->member_count = member_count;
    for (uint32_t i = 0; i < member_count; i++) {
        ring->members[i] = rk_le32_get(member_bytes + 4u * i);
    }
    if (member_count > 0) {
        memcpy(ring->owner_index, owner_bytes, partition_count);
    }
    RK_ASSERT_SLOW(ring_valid(ring));
    return 0;
}
