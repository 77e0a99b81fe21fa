/* local_internal.h — what local.c shares with local_set.c (a set stored by element) and with
 * nobody else: the batch writer that keeps written_seq, the live-key count, and the anti-entropy
 * tree's bookkeeping. Callers outside these two files use local.h. */
#ifndef RK_LOCAL_INTERNAL_H
#define RK_LOCAL_INTERNAL_H

#include "local.h"

/* Write `ops` (count <= RK_BATCH_OPS_MAX) as one atomic batch; advance written_seq. */
int rk_local__write_ops(rk_local *l, const rk_batch_op *ops, uint32_t count, uint64_t *seq_out);
/* Keep keys_live for an object that was (not) live and now is (not). */
void rk_local__count_live(rk_local *l, bool was_live, bool live);
/* The anti-entropy hash of the object row now stored under `k` (0: none or damaged). */
uint64_t rk_local__stored_hash(rk_local *l, const rk_local_key *k);
/* The object row of `k` changed to `bytes` (NULL: removed): update its tree. */
void rk_local__tree_update(rk_local *l, const rk_local_key *k, uint64_t old_hash,
                           const uint8_t *bytes, size_t len);

#endif
