/* ring.h — the partition ring: Q equal partitions, the node that owns each, and the preference
 * list of a partition (Dynamo 4.2-4.3, strategy 3 of 6.2). Owns the partition -> node table and
 * the ring's version; membership is members.h's business, moving data is handoff.h's, and
 * key -> position is hash.h's.
 *
 * Placement. The ring is cut into Q partitions (a power of two, RK_RING_PARTITIONS_DEFAULT
 * unless configured); a position belongs to the partition named by its top log2(Q) bits. Each
 * partition has one owner among S members. Two rules shape the table:
 *
 *   balance       every member owns floor(Q/S) or ceil(Q/S) partitions;
 *   target_n_val  any N consecutive partitions, wrap-around included, have N distinct owners
 *                 (Riak's target_n_val), so the first N partitions clockwise of a key are its N
 *                 replicas and no node holds two of them.
 *
 * When the target_n_val rule can hold. A member owning c partitions needs c gaps of at least
 * N between its partitions round the ring, so c <= floor(Q/N); a balanced ring has a member
 * with ceil(Q/S). Hence the rule is achievable for balanced rings exactly when
 *
 *     N * ceil(Q/S) <= Q                                  (rk_ring_target_n_achievable)
 *
 * and balance never costs anything: if no balanced table satisfies the rule, no table does
 * (S * floor(Q/N) < Q then). The condition implies N <= S and N <= Q. For S > N it holds
 * whenever Q >= N * N (ceil(Q/S) <= (Q + N) / (N + 1)), so with Q a power of two the cases that
 * fail are S < N; S = N when S is not a power of two (Q = 64, S = 3, N = 3: someone owns 22
 * partitions and 3 * 22 > 64, so the default ring on three nodes breaks at least two windows);
 * and, only where Q < N * N, some S just above N (Q = 8, N = 5, S = 6, 7).
 *
 * Claim. A fresh claim lays owners out in ceil(Q/S) blocks of floor(Q/ceil(Q/S)) or one more
 * partitions and writes member i's copies into the same slot of successive blocks (members with
 * ceil(Q/S) first). Copies of a member then sit at least one block apart, so the one layout
 * meets the rule for every N for which it is achievable at once; when S divides Q it is plain
 * round robin. When the rule cannot hold, the claim takes plain round robin instead if that
 * breaks fewer windows (it bunches the shortfall at one seam: Q = 8, S = 5, N = 5 breaks 4
 * windows, the fewest any balanced ring can, against 6), then a bounded local search swaps
 * owners to break fewer still, and rk_ring_violations reports what is left.
 *
 * Rebalance. On a membership change the members already holding most partitions keep the ceil(Q/S)
 * quotas; partitions of departed members and the surplus of members above their quota go to
 * members below theirs, preferring receivers that keep the rule and spreading what each gains
 * round the ring, so the moves are the minimum balance needs. Windows that still break are
 * repaired by owner moves and nearby swaps; if the claim layout would break fewer windows than
 * what repair reached, the layout is used, rotated and relabelled to keep as many owners as it
 * can, and repaired in turn. So the rule comes first, then fewer moves: a join to a claimed ring,
 * the rule holding before and after, moved exactly floor(Q/(S+1)) partitions, all to the newcomer,
 * in every case tested; a leave moves the leaver's partitions plus, for members near every one of
 * them, a chain of one more move per partition they gain; with fewer than about 2N members left
 * the ring is largely rewritten (measured in tests/unit/test_ring.c). One exception: with S <= N
 * every preference list names every member whatever the windows, so a rebalance to S <= N only
 * balances and mends no window (moving three quarters of a ring to lay four nodes out in strict
 * rotation for N = 4 would buy nothing). Everything is ordered by member index (ascending node id)
 * and partition index, never by pointer or hash order, so the same inputs give the same bytes.
 *
 * The table is fixed-size (no allocation, a ring copies by assignment): about 64 KiB. */
#ifndef RK_RING_H
#define RK_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "env.h"

#define RK_RING_PARTITIONS_DEFAULT 64u /* Riak's ring_creation_size default */
/* hash.h takes at most the top 16 bits of a position and skey.h stores a partition in a u16. */
#define RK_RING_PARTITIONS_MAX 65536u
/* Owners are byte indexes into the member list and windows are uint64_t member masks. */
#define RK_RING_NODES_MAX 64u
/* Longer windows than there are members can never hold distinct owners. */
#define RK_RING_TARGET_N_MAX RK_RING_NODES_MAX

/* Encoded ring, little-endian:
 *   u8 format (RK_RING_FORMAT_V1) | u8 log2(Q) | u8 S | u8 0 | u64 version
 *   | S x u32 node id, strictly ascending | Q x u8 owner index < S (absent when S = 0)
 *   | u32 checksum: the low 32 bits of rk_hash_key over every byte before it. */
#define RK_RING_FORMAT_V1 1u
#define RK_RING_HEADER_BYTES 12u
#define RK_RING_CHECKSUM_BYTES 4u
#define RK_RING_ENCODED_BYTES_MAX                                                                  \
    (RK_RING_HEADER_BYTES + RK_RING_NODES_MAX * 4u + RK_RING_PARTITIONS_MAX +                      \
     RK_RING_CHECKSUM_BYTES)

_Static_assert(RK_RING_NODES_MAX <= 64, "window member sets are uint64_t masks");
_Static_assert(RK_RING_NODES_MAX < 255, "owner indexes are bytes");
_Static_assert(RK_RING_PARTITIONS_MAX <= 65536, "skey.h stores a partition in a u16");
_Static_assert(RK_RING_ENCODED_BYTES_MAX < INT32_MAX, "rk_ring_encode returns an int");

typedef struct rk_ring {
    uint64_t version;                            /* +1 per claim or rebalance */
    uint32_t partition_count;                    /* Q, a power of two */
    uint32_t member_count;                       /* S; 0 until claimed */
    rk_node_id members[RK_RING_NODES_MAX];       /* [0, S), strictly ascending */
    /* Zones (issue 16): zone[i] is member i's zone, 0 .. zone_count - 1. Not part of the
     * encoding: the cluster metadata sets them from its members (rk_ring_set_zones); 0 zones
     * (a decoded or claimed ring) means none. */
    uint32_t zone_count;
    uint8_t zone[RK_RING_NODES_MAX];
    uint8_t owner_index[RK_RING_PARTITIONS_MAX]; /* [0, Q): index into members */
} rk_ring;

/* Whether a balanced ring of `partition_count` partitions over `member_count` members can give
 * every `target_n` consecutive partitions distinct owners: target_n * ceil(Q/S) <= Q. Pure. */
bool rk_ring_target_n_achievable(uint32_t partition_count, uint32_t member_count,
                                 uint32_t target_n);

/* An empty ring of `partition_count` partitions (a power of two, 1..RK_RING_PARTITIONS_MAX),
 * version 0, no members. Returns 0 or RK_EINVAL. */
int rk_ring_init(rk_ring *ring, uint32_t partition_count);

/* Replace ownership with a fresh claim over `members` (any order, no duplicates, 1..
 * RK_RING_NODES_MAX of them) for `target_n` (1..RK_RING_TARGET_N_MAX), and bump the version.
 * Ignores the current owners; rk_ring_rebalance moves fewer partitions. Borrows `members`.
 * Returns 0, RK_EINVAL (no members, a duplicate, target_n 0, ring not initialized) or
 * RK_ETOOBIG (too many members, target_n too large); the ring is unchanged on error. */
int rk_ring_claim(rk_ring *ring, const rk_node_id *members, uint32_t member_count,
                  uint32_t target_n);

/* Write into `next` the ownership of `ring` moved to the new member set: balanced, target_n_val
 * kept whenever achievable with more members than target_n (see above), as few partitions
 * moved as that allows; next's version is ring's
 * plus one. An unclaimed ring gets a fresh claim. *moved_count_out (may be NULL) is the number
 * of partitions whose owner differs from ring's (0 after a fresh claim). Borrows `ring` and
 * `members`; `next` must not be `ring`. Errors as rk_ring_claim; `next` is unchanged on error. */
int rk_ring_rebalance(const rk_ring *ring, const rk_node_id *members, uint32_t member_count,
                      uint32_t target_n, rk_ring *next, uint32_t *moved_count_out);

/* The partition of a ring position (hash.h: its top bits). */
uint32_t rk_ring_partition_of(const rk_ring *ring, uint64_t position);

/* The owner of `partition` (< Q) in a claimed ring. */
rk_node_id rk_ring_owner(const rk_ring *ring, uint32_t partition);

/* Set the zone of each member (zones[i] for members[i], any values: they are renumbered in
 * order of first appearance) or, with zones NULL, clear them. Preference lists then take n
 * distinct zones first whenever the members span at least n zones. */
void rk_ring_set_zones(rk_ring *ring, const uint32_t *zones);

/* The preference list of `partition`: walking clockwise from it, each owner not yet listed
 * (Dynamo 4.3: positions already taken are skipped), then the members that own no partition
 * (only when S > Q), rotated by the partition. The first min(n, S) entries are the primaries,
 * the rest fallbacks, up to every member. Writes at most `out_count_max` ids and returns how
 * many it wrote (0 for an unclaimed ring); *primary_count_out (may be NULL) gets how many of
 * them are primaries. Returns RK_EINVAL for n outside 1..RK_RING_TARGET_N_MAX, a partition
 * >= Q, or no room. Borrows `ring`; keeps nothing. */
int rk_ring_preflist(const rk_ring *ring, uint32_t partition, uint32_t n, rk_node_id *out,
                     uint32_t out_count_max, uint32_t *primary_count_out);

/* How many of the Q windows of `target_n` consecutive partitions (one starting at each
 * partition, wrap-around included) repeat an owner: 0 when the target_n_val rule holds. A
 * window longer than the ring repeats a partition, so counts. 0 for an unclaimed ring. */
uint32_t rk_ring_violations(const rk_ring *ring, uint32_t target_n);

/* Copy up to `out_count_max` member ids (ascending) into `out`; returns the member count. */
uint32_t rk_ring_members(const rk_ring *ring, rk_node_id *out, uint32_t out_count_max);

/* How many partitions `node` owns (0 for a non-member). */
uint32_t rk_ring_owned_count(const rk_ring *ring, rk_node_id node);

/* Encode into out (out_size bytes; RK_RING_ENCODED_BYTES_MAX always suffice). Returns the
 * encoded length or RK_ETOOBIG when out is too small. Equal rings give equal bytes. */
int rk_ring_encode(const rk_ring *ring, uint8_t *out, size_t out_size);

/* Decode and validate bytes from a peer or the disk: format, lengths, checksum, ascending
 * members, owner indexes and balance. Returns 0 or RK_ECORRUPT; `ring` is unchanged on error.
 * Borrows `bytes`. */
int rk_ring_decode(rk_ring *ring, const uint8_t *bytes, size_t len);

#endif
