/* ring_claim.c — how the ring's table is built: a fresh claim from the block or round-robin
 * layout, a rebalance on a membership change, the bounded repair of windows that break the
 * target_n_val rule, and the count of such windows (see ring.h for the rules and why they
 * hold). The table itself, preference lists and the byte format are ring.c's. */
#include "ring_internal.h"

#include <string.h>

/* A partition between owners while a rebalance moves it. */
#define RING_OWNER_NONE 0xffu
/* Repair stops after this many owner reads, so a ring that cannot be fixed costs bounded time
 * (about a tenth of a second) however large Q and N are. */
#define RING_REPAIR_WORK_MAX (1u << 26)
/* Fill passes, from the most demanding receiver to any receiver at all (ring_fill). */
#define RING_FILL_PASS_SELF 0u   /* only partitions whose owner repeats nearby */
#define RING_FILL_PASS_SPREAD 1u /* receivers without conflict, spread out */
#define RING_FILL_PASS_CLEAN 2u  /* receivers without conflict */
#define RING_FILL_PASS_ANY 3u    /* the receiver with the fewest conflicts */
#define RING_FILL_PASS_COUNT 4u

_Static_assert(RING_OWNER_NONE >= RK_RING_NODES_MAX, "the free marker is no member index");

/* A claim layout, a pure function from partition to symbol (the i-th member of the claim):
 * symbols below quota.rem own quota.high partitions, the others quota.base.
 *
 * Blocks (ring.h): `blocks` = ceil(Q/S) blocks, the first `long_blocks` of block_size + 1
 * partitions, the rest of block_size; symbol i owns one slot of successive blocks. It keeps the
 * rule wherever the rule can hold.
 *
 * Round robin: partition p belongs to symbol p mod S, leaving the whole shortfall at the seam
 * where the ring wraps. Where the rule cannot hold, breaking windows bunched at one seam can be
 * fewer than the block layout's spread ones (Q = 8, S = 5, N = 5: 4 against 6), so a claim
 * takes whichever of the two breaks fewer windows. */
typedef struct ring_layout {
    uint32_t partition_count;
    uint32_t member_count;
    bool round_robin;
    uint32_t blocks;
    uint32_t block_size;
    uint32_t long_blocks;
    uint32_t period; /* the layout repeats about this often */
    ring_quota quota;
} ring_layout;

/* The state of one claim or rebalance. */
typedef struct ring_work {
    rk_ring *ring;                              /* being built */
    const rk_ring *before;                      /* NULL for a fresh claim */
    uint8_t before_to_index[RK_RING_NODES_MAX]; /* before's member index -> ring's */
    ring_quota quota;
    uint32_t target_n;
    uint32_t count[RK_RING_NODES_MAX];  /* partitions owned, per member index */
    uint32_t target[RK_RING_NODES_MAX]; /* the quota each member is filled to */
    uint32_t gain[RK_RING_NODES_MAX];   /* partitions it gains filling to quota */
    uint32_t clean[RK_RING_NODES_MAX];  /* free partitions it could take cleanly */
    uint64_t work;                      /* owner reads spent by repair */
} ring_work;

static void ring_count_owners(const rk_ring *ring, uint32_t *count)
{
    memset(count, 0, sizeof(uint32_t) * RK_RING_NODES_MAX);
    for (uint32_t p = 0; p < ring->partition_count; p++) {
        uint8_t index = ring->owner_index[p];
        RK_ASSERT(index < ring->member_count);
        count[index]++;
    }
}

/* Validate the arguments of a claim or rebalance and sort the members into `sorted`. */
static int ring_sort_members(const rk_node_id *members, uint32_t member_count, uint32_t target_n,
                             rk_node_id *sorted)
{
    if (members == NULL || member_count == 0 || target_n == 0) {
        return RK_EINVAL;
    }
    if (member_count > RK_RING_NODES_MAX || target_n > RK_RING_TARGET_N_MAX) {
        return RK_ETOOBIG;
    }
    /* Insertion sort: at most 64 ids, and stable whatever the input order. */
    for (uint32_t i = 0; i < member_count; i++) {
        rk_node_id id = members[i];
        uint32_t j = i;
        while (j > 0 && sorted[j - 1] > id) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = id;
    }
    for (uint32_t i = 1; i < member_count; i++) {
        if (sorted[i - 1] == sorted[i]) {
            return RK_EINVAL;
        }
    }
    return 0;
}

static void ring_set_members(rk_ring *ring, const rk_node_id *sorted, uint32_t member_count)
{
    memset(ring->members, 0, sizeof(ring->members));
    memcpy(ring->members, sorted, sizeof(rk_node_id) * member_count);
    ring->member_count = member_count;
}

/* ---- windows and conflicts ---------------------------------------------------------------- */

/* Whether the target_n partitions from `start` clockwise repeat an owner. */
static bool ring_window_repeats(const rk_ring *ring, uint32_t start, uint32_t target_n)
{
    uint64_t seen = 0;
    for (uint32_t i = 0; i < target_n; i++) {
        uint8_t index = ring_owner_at(ring, start + i);
        RK_ASSERT(index < RK_RING_NODES_MAX);
        uint64_t bit = 1ull << index;
        if (seen & bit) {
            return true;
        }
        seen |= bit;
    }
    return false;
}

/* How many partitions fewer than target_n steps from p, either side, `member` owns. */
static uint32_t ring_conflict_count(const rk_ring *ring, uint32_t p, uint32_t member,
                                    uint32_t target_n)
{
    uint32_t reach = ring_min_u32(target_n - 1u, ring->partition_count - 1u);
    uint32_t conflicts = 0;
    for (uint32_t d = 1; d <= reach; d++) {
        conflicts += ring_owner_at(ring, p + d) == member ? 1u : 0u;
        conflicts += ring_owner_at(ring, p - d) == member ? 1u : 0u;
    }
    return conflicts;
}

/* Breaking windows among those holding partition a or partition b, each counted once. */
static uint32_t ring_violations_near(const rk_ring *ring, uint32_t a, uint32_t b, uint32_t target_n,
                                     uint64_t *work)
{
    uint32_t mask = ring->partition_count - 1u;
    uint32_t span = ring_min_u32(target_n, ring->partition_count);
    uint32_t violations = 0;
    for (uint32_t i = 0; i < span; i++) {
        violations += ring_window_repeats(ring, (a - i) & mask, target_n) ? 1u : 0u;
    }
    for (uint32_t i = 0; b != a && i < span; i++) {
        uint32_t start = (b - i) & mask;
        if (((a - start) & mask) < span) {
            continue; /* this window holds a as well */
        }
        violations += ring_window_repeats(ring, start, target_n) ? 1u : 0u;
    }
    *work += 2ull * span * target_n;
    return violations;
}

/* Sliding window over the owners given by `ring`, or by `layout` when ring is NULL. */
static uint32_t ring_layout_symbol(const ring_layout *layout, uint32_t p);

static uint32_t ring_source_owner(const rk_ring *ring, const ring_layout *layout, uint32_t p)
{
    if (ring != NULL) {
        return ring_owner_at(ring, p);
    }
    return ring_layout_symbol(layout, p % layout->partition_count);
}

static uint32_t ring_count_violations(const rk_ring *ring, const ring_layout *layout,
                                      uint32_t partition_count, uint32_t target_n)
{
    uint32_t count[RK_RING_NODES_MAX] = {0};
    uint32_t repeated = 0; /* owners held more than once in the window */
    for (uint32_t i = 0; i < target_n; i++) {
        uint32_t owner = ring_source_owner(ring, layout, i);
        RK_ASSERT(owner < RK_RING_NODES_MAX);
        repeated += ++count[owner] == 2 ? 1u : 0u;
    }
    uint32_t violations = 0;
    for (uint32_t p = 0; p < partition_count; p++) {
        violations += repeated > 0 ? 1u : 0u;
        uint32_t leaving = ring_source_owner(ring, layout, p);
        repeated -= count[leaving]-- == 2 ? 1u : 0u;
        uint32_t entering = ring_source_owner(ring, layout, p + target_n);
        repeated += ++count[entering] == 2 ? 1u : 0u;
    }
    return violations;
}

/* ---- the claim layout --------------------------------------------------------------------- */

static ring_layout ring_layout_of(uint32_t partition_count, uint32_t member_count, bool round_robin)
{
    ring_layout layout;
    layout.partition_count = partition_count;
    layout.member_count = member_count;
    layout.round_robin = round_robin;
    layout.quota = ring_quota_of(partition_count, member_count);
    layout.blocks = layout.quota.high;
    RK_ASSERT(layout.blocks >= 1);
    RK_ASSERT(layout.blocks <= partition_count);
    layout.block_size = partition_count / layout.blocks;
    layout.long_blocks = partition_count % layout.blocks;
    layout.period = round_robin ? member_count : layout.block_size + 1u;
    return layout;
}

/* The symbol at partition p: p is slot `slot` of block `block`; filling blocks column by
 * column makes it the j-th entry of the list in which symbol 0 is repeated high times, then
 * symbol 1, and so on. A symbol's copies are consecutive in that list, so they land in
 * distinct blocks at least one block apart; the high symbols come first and start at block 0,
 * so the wrap from the last block back to the first never brings copies closer. */
static uint32_t ring_layout_symbol(const ring_layout *layout, uint32_t p)
{
    RK_ASSERT(p < layout->partition_count);
    if (layout->round_robin) {
        return p % layout->member_count;
    }
    uint32_t long_span = layout->long_blocks * (layout->block_size + 1u);
    uint32_t block;
    uint32_t slot;
    if (p < long_span) {
        block = p / (layout->block_size + 1u);
        slot = p % (layout->block_size + 1u);
    } else {
        block = layout->long_blocks + (p - long_span) / layout->block_size;
        slot = (p - long_span) % layout->block_size;
    }
    uint32_t j = slot * layout->blocks + block;
    RK_ASSERT(j < layout->partition_count);
    uint32_t high_span = layout->quota.rem * (layout->quota.base + 1u);
    if (j < high_span) {
        return j / (layout->quota.base + 1u);
    }
    return layout->quota.rem + (j - high_span) / layout->quota.base;
}

/* The layout that breaks fewer windows of target_n (the block layout on a tie). */
static ring_layout ring_layout_best(uint32_t partition_count, uint32_t member_count,
                                    uint32_t target_n, uint32_t *violations_out)
{
    ring_layout blocks = ring_layout_of(partition_count, member_count, false);
    uint32_t blocks_violations = ring_count_violations(NULL, &blocks, partition_count, target_n);
    if (blocks_violations == 0) {
        *violations_out = 0;
        return blocks;
    }
    ring_layout round_robin = ring_layout_of(partition_count, member_count, true);
    uint32_t round_robin_violations =
        ring_count_violations(NULL, &round_robin, partition_count, target_n);
    if (round_robin_violations < blocks_violations) {
        *violations_out = round_robin_violations;
        return round_robin;
    }
    *violations_out = blocks_violations;
    return blocks;
}

static void ring_fill_layout(rk_ring *ring, const ring_layout *layout,
                             const uint8_t *symbol_to_index, uint32_t rotation)
{
    uint32_t mask = ring->partition_count - 1u;
    for (uint32_t p = 0; p < ring->partition_count; p++) {
        ring->owner_index[(p + rotation) & mask] = symbol_to_index[ring_layout_symbol(layout, p)];
    }
}

/* ---- rebalance: who owned what before ----------------------------------------------------- */

/* The owner of p before this rebalance, as an index into the new members (RING_OWNER_NONE for
 * a departed member or a fresh claim). */
static uint8_t ring_work_before(const ring_work *w, uint32_t p)
{
    if (w->before == NULL) {
        return RING_OWNER_NONE;
    }
    return w->before_to_index[w->before->owner_index[p]];
}

static void ring_work_start(ring_work *w, rk_ring *ring, const rk_ring *before, uint32_t target_n)
{
    memset(w, 0, sizeof(*w));
    w->ring = ring;
    w->before = before;
    w->quota = ring_quota_of(ring->partition_count, ring->member_count);
    w->target_n = target_n;
    memset(w->before_to_index, RING_OWNER_NONE, sizeof(w->before_to_index));
    uint32_t j = 0;
    for (uint32_t i = 0; before != NULL && i < before->member_count; i++) {
        while (j < ring->member_count && ring->members[j] < before->members[i]) {
            j++;
        }
        if (j < ring->member_count && ring->members[j] == before->members[i]) {
            w->before_to_index[i] = (uint8_t)j;
        }
    }
}

/* ---- repair: lower the breaking windows by owner moves and swaps -------------------------- */

/* Score setting partition a to owner_a and b to owner_b (b == a for a single move): the change
 * in breaking windows and in partitions that differ from before. */
static void ring_repair_score(ring_work *w, uint32_t a, uint8_t owner_a, uint32_t b,
                              uint8_t owner_b, int32_t *violations_delta, int32_t *moves_delta)
{
    rk_ring *ring = w->ring;
    uint8_t was_a = ring->owner_index[a];
    uint8_t was_b = ring->owner_index[b];
    uint8_t before_a = ring_work_before(w, a);
    uint8_t before_b = ring_work_before(w, b);
    int32_t moves_before = (was_a != before_a) + (b != a && was_b != before_b);
    uint32_t violations_before = ring_violations_near(ring, a, b, w->target_n, &w->work);
    ring->owner_index[a] = owner_a;
    ring->owner_index[b] = owner_b;
    int32_t moves_after = (owner_a != before_a) + (b != a && owner_b != before_b);
    uint32_t violations_after = ring_violations_near(ring, a, b, w->target_n, &w->work);
    ring->owner_index[a] = was_a;
    ring->owner_index[b] = was_b;
    *violations_delta = (int32_t)violations_after - (int32_t)violations_before;
    *moves_delta = moves_after - moves_before;
}

typedef struct ring_repair_best {
    bool found;
    uint32_t b;
    uint8_t owner_a;
    uint8_t owner_b;
    int32_t violations_delta;
    int32_t moves_delta;
} ring_repair_best;

static void ring_repair_consider(ring_work *w, uint32_t a, uint8_t owner_a, uint32_t b,
                                 uint8_t owner_b, ring_repair_best *best)
{
    int32_t violations_delta;
    int32_t moves_delta;
    ring_repair_score(w, a, owner_a, b, owner_b, &violations_delta, &moves_delta);
    if (violations_delta >= 0) {
        return;
    }
    /* Strict comparisons keep the first candidate on ties: lowest member, then nearest. */
    if (!best->found || violations_delta < best->violations_delta ||
        (violations_delta == best->violations_delta && moves_delta < best->moves_delta)) {
        best->found = true;
        best->b = b;
        best->owner_a = owner_a;
        best->owner_b = owner_b;
        best->violations_delta = violations_delta;
        best->moves_delta = moves_delta;
    }
}

/* Try to lower the breaking windows through partition p, whose owner repeats nearby: hand p to
 * a member below the high quota (balance allows it when p's owner is at the high quota), or
 * swap p's owner with a nearby partition's. Returns whether a change was made. */
static bool ring_repair_at(ring_work *w, uint32_t p)
{
    rk_ring *ring = w->ring;
    uint8_t owner = ring->owner_index[p];
    ring_repair_best best = {0};
    if (w->quota.high > w->quota.base && w->count[owner] == w->quota.high) {
        for (uint32_t y = 0; y < ring->member_count; y++) {
            if (y != owner && w->count[y] == w->quota.base) {
                ring_repair_consider(w, p, (uint8_t)y, p, (uint8_t)y, &best);
            }
        }
    }
    /* Swap partners within a few runs of all members either side: far enough to find a member
     * missing from the neighbourhood, near enough to stay cheap on large rings. */
    uint32_t radius =
        ring_min_u32(ring->partition_count / 2u, 2u * (ring->member_count + w->target_n));
    uint32_t mask = ring->partition_count - 1u;
    for (uint32_t d = 1; d <= radius; d++) {
        uint32_t partners[2] = {(p + d) & mask, (p - d) & mask};
        for (uint32_t side = 0; side < 2; side++) {
            uint8_t other = ring->owner_index[partners[side]];
            if (other != owner) {
                ring_repair_consider(w, p, other, partners[side], owner, &best);
            }
        }
    }
    if (!best.found) {
        return false;
    }
    if (best.b == p) {
        w->count[owner]--;
        w->count[best.owner_a]++;
    }
    ring->owner_index[p] = best.owner_a;
    ring->owner_index[best.b] = best.owner_b;
    return true;
}

/* Local search: each accepted change lowers the breaking windows, so it ends; the work budget
 * bounds the time spent looking. w->count must match the ring. */
static void ring_repair(ring_work *w)
{
    rk_ring *ring = w->ring;
    if (w->target_n > ring->member_count || w->target_n > ring->partition_count) {
        return; /* every window repeats an owner, whoever owns what */
    }
    for (uint32_t round = 0; round <= ring->partition_count; round++) {
        bool improved = false;
        for (uint32_t p = 0; p < ring->partition_count; p++) {
            if (w->work > RING_REPAIR_WORK_MAX) {
                return;
            }
            uint8_t owner = ring->owner_index[p];
            if (ring_conflict_count(ring, p, owner, w->target_n) == 0) {
                continue;
            }
            improved |= ring_repair_at(w, p);
        }
        if (!improved) {
            return;
        }
    }
}

/* ---- rebalance: fill the free and surplus partitions -------------------------------------- */

/* Quotas for the new members: the high quota goes to those holding most partitions already
 * (ties to the lower node id), so the fewest partitions move. */
static void ring_set_targets(ring_work *w)
{
    uint32_t member_count = w->ring->member_count;
    uint8_t order[RK_RING_NODES_MAX];
    for (uint32_t i = 0; i < member_count; i++) {
        uint32_t j = i;
        while (j > 0 && w->count[order[j - 1]] < w->count[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (uint8_t)i;
    }
    for (uint32_t i = 0; i < member_count; i++) {
        w->target[order[i]] = w->quota.base + (i < w->quota.rem ? 1u : 0u);
    }
}

static bool ring_fill_donates(const ring_work *w, uint32_t pass, uint32_t p, uint8_t owner)
{
    if (owner == RING_OWNER_NONE) {
        return true;
    }
    if (w->count[owner] <= w->target[owner]) {
        return false;
    }
    if (pass == RING_FILL_PASS_SELF) {
        return ring_conflict_count(w->ring, p, owner, w->target_n) > 0;
    }
    return true;
}

/* The member below its quota that takes p in this pass, or RING_OWNER_NONE: without conflict,
 * and in the first passes at least Q / (partitions it gains) past the last partition it gained,
 * so that what a member gains spreads round the ring; in the last pass the fewest conflicts.
 * Then the largest shortfall, then the lowest index. */
static uint8_t ring_fill_receiver(const ring_work *w, uint32_t pass, uint32_t p, uint8_t owner,
                                  const int64_t *last_gained)
{
    uint8_t best = RING_OWNER_NONE;
    uint32_t best_conflicts = UINT32_MAX;
    uint32_t best_shortfall = 0;
    int64_t best_slack = INT64_MAX;
    for (uint32_t y = 0; y < w->ring->member_count; y++) {
        if (y == owner || w->count[y] >= w->target[y]) {
            continue;
        }
        uint32_t shortfall = w->target[y] - w->count[y];
        uint32_t conflicts = ring_conflict_count(w->ring, p, y, w->target_n);
        if (pass != RING_FILL_PASS_ANY && conflicts > 0) {
            continue;
        }
        RK_ASSERT(w->gain[y] > 0);
        int64_t spacing = (int64_t)(w->ring->partition_count / w->gain[y]);
        if (pass <= RING_FILL_PASS_SPREAD && (int64_t)p - last_gained[y] < spacing) {
            continue;
        }
        int64_t slack = (int64_t)w->clean[y] - (int64_t)shortfall;
        if (conflicts < best_conflicts || (conflicts == best_conflicts && slack < best_slack) ||
            (conflicts == best_conflicts && slack == best_slack && shortfall > best_shortfall)) {
            best = (uint8_t)y;
            best_conflicts = conflicts;
            best_shortfall = shortfall;
            best_slack = slack;
        }
    }
    return best;
}

/* Hand every free partition, and the surplus of members above quota, to members below quota.
 * The last pass takes any receiver, so every member ends on its quota. */
static void ring_fill(ring_work *w)
{
    rk_ring *ring = w->ring;
    uint32_t partition_count = ring->partition_count;
    for (uint32_t y = 0; y < ring->member_count; y++) {
        w->gain[y] = w->target[y] > w->count[y] ? w->target[y] - w->count[y] : 0;
        w->clean[y] = 0;
    }
    for (uint32_t p = 0; p < partition_count; p++) {
        if (ring->owner_index[p] != RING_OWNER_NONE) {
            continue;
        }
        for (uint32_t y = 0; y < ring->member_count; y++) {
            if (w->gain[y] > 0 && ring_conflict_count(ring, p, y, w->target_n) == 0) {
                w->clean[y]++;
            }
        }
    }
    for (uint32_t pass = 0; pass < RING_FILL_PASS_COUNT; pass++) {
        /* last_gained[y]: the latest partition y gained behind the scan, starting from the last
         * one it gained in earlier passes, one turn back. */
        int64_t last_gained[RK_RING_NODES_MAX];
        for (uint32_t y = 0; y < RK_RING_NODES_MAX; y++) {
            last_gained[y] = -2 * (int64_t)partition_count;
        }
        for (uint32_t p = 0; p < partition_count; p++) {
            uint8_t owner = ring->owner_index[p];
            if (owner != RING_OWNER_NONE && owner != ring_work_before(w, p)) {
                last_gained[owner] = (int64_t)p - (int64_t)partition_count;
            }
        }
        for (uint32_t p = 0; p < partition_count; p++) {
            uint8_t owner = ring->owner_index[p];
            if (!ring_fill_donates(w, pass, p, owner)) {
                continue;
            }
            uint8_t receiver = ring_fill_receiver(w, pass, p, owner, last_gained);
            if (receiver == RING_OWNER_NONE) {
                continue;
            }
            if (owner != RING_OWNER_NONE) {
                w->count[owner]--;
            }
            w->count[receiver]++;
            ring->owner_index[p] = receiver;
            last_gained[receiver] = p;
        }
    }
    for (uint32_t y = 0; y < ring->member_count; y++) {
        RK_ASSERT(w->count[y] == w->target[y]);
    }
}

/* ---- rebalance: the claim layout as a last resort ----------------------------------------- */

/* Map layout symbols to members so that as many partitions as possible keep their owner:
 * greedily the (member, symbol) pair sharing most partitions, ties to the lower member index
 * then the lower symbol. Returns how many partitions keep their owner. */
static uint32_t ring_relabel(const ring_work *w, const ring_layout *layout, uint32_t rotation,
                             uint8_t *symbol_to_index)
{
    uint32_t member_count = w->ring->member_count;
    uint32_t mask = layout->partition_count - 1u;
    uint32_t shared[RK_RING_NODES_MAX][RK_RING_NODES_MAX]; /* [symbol][member] */
    memset(shared, 0, sizeof(shared));
    for (uint32_t p = 0; p < layout->partition_count; p++) {
        uint8_t before = ring_work_before(w, (p + rotation) & mask);
        if (before != RING_OWNER_NONE) {
            shared[ring_layout_symbol(layout, p)][before]++;
        }
    }
    uint64_t symbol_taken = 0;
    uint64_t member_taken = 0;
    uint32_t kept = 0;
    for (uint32_t round = 0; round < member_count; round++) {
        uint32_t best_symbol = 0;
        uint32_t best_member = 0;
        bool found = false;
        for (uint32_t y = 0; y < member_count; y++) {
            if (member_taken & (1ull << y)) {
                continue;
            }
            for (uint32_t s = 0; s < member_count; s++) {
                if (symbol_taken & (1ull << s)) {
                    continue;
                }
                if (!found || shared[s][y] > shared[best_symbol][best_member]) {
                    found = true;
                    best_symbol = s;
                    best_member = y;
                }
            }
        }
        RK_ASSERT(found);
        symbol_taken |= 1ull << best_symbol;
        member_taken |= 1ull << best_member;
        symbol_to_index[best_symbol] = (uint8_t)best_member;
        kept += shared[best_symbol][best_member];
    }
    return kept;
}

/* Replace the ring with the claim layout, rotated and relabelled to keep the most owners. */
static void ring_adopt_layout(ring_work *w, const ring_layout *layout)
{
    uint8_t symbol_to_index[RK_RING_NODES_MAX];
    uint32_t best_rotation = 0;
    uint32_t best_kept = 0;
    /* The layout repeats about every period, so two periods' worth of rotations covers its
     * distinct alignments. */
    uint32_t rotations = ring_min_u32(layout->partition_count, 2u * layout->period);
    for (uint32_t rotation = 0; rotation < rotations; rotation++) {
        uint32_t kept = ring_relabel(w, layout, rotation, symbol_to_index);
        if (rotation == 0 || kept > best_kept) {
            best_kept = kept;
            best_rotation = rotation;
        }
    }
    (void)ring_relabel(w, layout, best_rotation, symbol_to_index);
    ring_fill_layout(w->ring, layout, symbol_to_index, best_rotation);
    ring_count_owners(w->ring, w->count);
}

/* ---- public ------------------------------------------------------------------------------- */

bool rk_ring_target_n_achievable(uint32_t partition_count, uint32_t member_count, uint32_t target_n)
{
    if (partition_count == 0 || member_count == 0) {
        return false;
    }
    ring_quota quota = ring_quota_of(partition_count, member_count);
    return (uint64_t)target_n * quota.high <= partition_count;
}

/* Lay the claim layout over ring's (sorted) members and repair what the rule cannot give. */
static void ring_claim_sorted(rk_ring *ring, const rk_node_id *sorted, uint32_t member_count,
                              uint32_t target_n)
{
    ring_set_members(ring, sorted, member_count);
    memset(ring->owner_index, 0, sizeof(ring->owner_index));
    uint32_t layout_violations = 0;
    ring_layout layout =
        ring_layout_best(ring->partition_count, member_count, target_n, &layout_violations);
    uint8_t identity[RK_RING_NODES_MAX];
    for (uint32_t i = 0; i < RK_RING_NODES_MAX; i++) {
        identity[i] = (uint8_t)i;
    }
    ring_fill_layout(ring, &layout, identity, 0);
    RK_ASSERT_SLOW(ring_valid(ring));
    RK_ASSERT_SLOW(rk_ring_violations(ring, target_n) == layout_violations);
    RK_ASSERT(!rk_ring_target_n_achievable(ring->partition_count, member_count, target_n) ||
              layout_violations == 0);

    if (layout_violations > 0) {
        ring_work w;
        ring_work_start(&w, ring, NULL, target_n);
        ring_count_owners(ring, w.count);
        ring_repair(&w);
    }
    RK_ASSERT(ring->version < UINT64_MAX);
    ring->version++;
    RK_ASSERT_SLOW(ring_valid(ring));
}

int rk_ring_claim(rk_ring *ring, const rk_node_id *members, uint32_t member_count,
                  uint32_t target_n)
{
    if (!ring_is_power_of_two(ring->partition_count) ||
        ring->partition_count > RK_RING_PARTITIONS_MAX) {
        return RK_EINVAL;
    }
    rk_node_id sorted[RK_RING_NODES_MAX];
    int err = ring_sort_members(members, member_count, target_n, sorted);
    if (err < 0) {
        return err;
    }
    ring_claim_sorted(ring, sorted, member_count, target_n);
    return 0;
}

int rk_ring_rebalance(const rk_ring *ring, const rk_node_id *members, uint32_t member_count,
                      uint32_t target_n, rk_ring *next, uint32_t *moved_count_out)
{
    RK_ASSERT(ring != next);
    if (!ring_is_power_of_two(ring->partition_count) ||
        ring->partition_count > RK_RING_PARTITIONS_MAX) {
        return RK_EINVAL;
    }
    rk_node_id sorted[RK_RING_NODES_MAX];
    int err = ring_sort_members(members, member_count, target_n, sorted);
    if (err < 0) {
        return err;
    }
    RK_ASSERT_SLOW(ring_valid(ring));
    (void)rk_ring_init(next, ring->partition_count);
    next->version = ring->version;
    if (ring->member_count == 0) {
        ring_claim_sorted(next, sorted, member_count, target_n);
        if (moved_count_out != NULL) {
            *moved_count_out = 0;
        }
        return 0;
    }

    ring_set_members(next, sorted, member_count);
    ring_work w;
    ring_work_start(&w, next, ring, target_n);
    for (uint32_t p = 0; p < next->partition_count; p++) {
        uint8_t owner = ring_work_before(&w, p);
        next->owner_index[p] = owner;
        if (owner != RING_OWNER_NONE) {
            w.count[owner]++;
        }
    }
    ring_set_targets(&w);
    ring_fill(&w);
    /* With no more members than target_n every preference list names every member, whatever
     * the windows look like: moving partitions to mend them would buy nothing. */
    bool windows_matter = member_count > target_n;
    uint32_t violations = rk_ring_violations(next, target_n);
    if (violations > 0 && windows_matter) {
        ring_repair(&w);
        violations = rk_ring_violations(next, target_n);
    }
    /* Repair fell short: rewrite the ring from the claim layout, which keeps the rule wherever
     * it can hold, or at least breaks fewer windows. */
    if (violations > 0 && windows_matter) {
        uint32_t layout_violations = 0;
        ring_layout layout =
            ring_layout_best(next->partition_count, member_count, target_n, &layout_violations);
        if (layout_violations < violations) {
            ring_adopt_layout(&w, &layout);
            ring_repair(&w);
        }
    }
    RK_ASSERT_SLOW(!windows_matter ||
                   !rk_ring_target_n_achievable(next->partition_count, member_count, target_n) ||
                   rk_ring_violations(next, target_n) == 0);

    uint32_t moved = 0;
    for (uint32_t p = 0; p < next->partition_count; p++) {
        moved += next->owner_index[p] != ring_work_before(&w, p) ? 1u : 0u;
    }
    RK_ASSERT(next->version < UINT64_MAX);
    next->version++;
    RK_ASSERT_SLOW(ring_valid(next));
    if (moved_count_out != NULL) {
        *moved_count_out = moved;
    }
    return 0;
}

uint32_t rk_ring_violations(const rk_ring *ring, uint32_t target_n)
{
    RK_ASSERT(target_n >= 1);
    RK_ASSERT(target_n <= RK_RING_TARGET_N_MAX);
    if (ring->member_count == 0) {
        return 0;
    }
    return ring_count_violations(ring, NULL, ring->partition_count, target_n);
}
