/* aae_tree.h — the hash trees anti-entropy compares (Dynamo 4.7; the incremental form is Riak's
 * TicTac AAE): per partition, RK_AAE_TREE_BRANCHES branches of `segments_per_branch` segments.
 * A stored object contributes one 64-bit hash, of its storage key seeded with the checksum its
 * bytes end in (dvvset.h: the checksum covers clock and values, so a value damaged on disk
 * changes it), to the segment its key hashes to; a segment is the XOR of its contributions and
 * a branch the XOR of its segments. XOR makes an update cheap and order-free: a write XORs out
 * the old object's contribution and XORs in the new one, with no scan.
 *
 * Owns the hashes and whether each partition's tree is built. A tree is *built* when it agrees
 * with the store; updates to a tree not built are dropped, and a rebuild (one partition, one
 * ordered scan of its range) makes it agree again. Who calls what: local.c updates trees on
 * every object write and removal, aae.c builds and rebuilds them and compares them with peers.
 * Pure: the store is reached only through the rk_store handed in. */
#ifndef RK_AAE_TREE_H
#define RK_AAE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

#define RK_AAE_TREE_BRANCHES 32u
#define RK_AAE_SEGMENTS_PER_BRANCH_MAX 32u
/* Every tree of a node together holds at most this many segments (8 bytes each): 1024 segments
 * per partition for up to 1024 partitions, fewer per partition on a larger ring. */
#define RK_AAE_TREE_SEGMENTS_TOTAL_MAX (1u << 20)

typedef struct rk_aae_tree {
    uint32_t partition_count;
    uint32_t segments_per_branch;   /* 2..RK_AAE_SEGMENTS_PER_BRANCH_MAX */
    uint32_t segment_count;         /* per partition: RK_AAE_TREE_BRANCHES * per branch */
    uint64_t **segments;            /* [partition] -> segment_count hashes; NULL: not built */
    uint64_t *built_ms;             /* [partition]: when it was last built */
    uint32_t built_count;           /* partitions whose tree is built */
} rk_aae_tree;

/* 0 or RK_ENOMEM. Every tree starts not built. */
int rk_aae_tree_init(rk_aae_tree *t, uint32_t partition_count);
void rk_aae_tree_deinit(rk_aae_tree *t);

/* The contribution of the stored object `bytes` under storage key `skey`: 0 for none (len 0).
 * Reads the checksum the bytes end in without checking it (see rk_aae_object_hash_checked). */
uint64_t rk_aae_object_hash(const uint8_t *skey, size_t skey_len, const uint8_t *bytes,
                            size_t len);
/* The segment of `skey` in its partition's tree. */
uint32_t rk_aae_tree_segment_of(const rk_aae_tree *t, const uint8_t *skey, size_t skey_len);

bool rk_aae_tree_built(const rk_aae_tree *t, uint32_t partition);
/* An object of `partition` changed from one contribution to another (0: absent). Dropped when
 * the tree is not built. */
void rk_aae_tree_update(rk_aae_tree *t, uint32_t partition, const uint8_t *skey, size_t skey_len,
                        uint64_t old_hash, uint64_t new_hash);
/* Forget one tree (it no longer agrees with the store), or every tree. */
void rk_aae_tree_invalidate(rk_aae_tree *t, uint32_t partition);
void rk_aae_tree_invalidate_all(rk_aae_tree *t);

/* Build the tree of `partition` from the store: one scan of its range, checking each object's
 * checksum; a damaged one contributes nothing and is counted in *damaged_out. 0, RK_ENOMEM or a
 * store error (the tree is then not built). */
int rk_aae_tree_build(rk_aae_tree *t, rk_store *store, uint32_t partition, uint64_t now_ms,
                      uint64_t *damaged_out);
/* Whether the built tree of `partition` equals one built from the store now (the simulator's
 * check at quiescence). True for a tree not built. */
bool rk_aae_tree_matches_store(const rk_aae_tree *t, rk_store *store, uint32_t partition);

/* The RK_AAE_TREE_BRANCHES branch hashes of a built tree into out. */
void rk_aae_tree_branches(const rk_aae_tree *t, uint32_t partition, uint64_t *out);
/* The segments of `branch` (segments_per_branch hashes) into out. */
void rk_aae_tree_branch_segments(const rk_aae_tree *t, uint32_t partition, uint32_t branch,
                                 uint64_t *out);

/* The storage-key range [start, end) of `partition` (skey.h: the partition is the first two
 * bytes); *end_len is 0 for the last partition of a 65536-partition ring (no end). */
void rk_aae_partition_range(uint32_t partition, uint32_t partition_count, uint8_t start[2],
                            uint8_t end[2], size_t *end_len);

/* Visit the objects of `partition` whose segment is marked in `segment_marks` (one byte per
 * segment; NULL: every segment), with their checked contribution (0 for a damaged object, which
 * is skipped and counted in *damaged_out). `fn` returns 0 to go on, 1 to stop, or an error. */
typedef int (*rk_aae_key_fn)(void *ctx, const uint8_t *skey, size_t skey_len, uint64_t hash);
int rk_aae_tree_scan(const rk_aae_tree *t, rk_store *store, uint32_t partition,
                     const uint8_t *segment_marks, rk_aae_key_fn fn, void *ctx,
                     uint64_t *damaged_out);

#endif
