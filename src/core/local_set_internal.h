/* local_set_internal.h — what local_set.c (a set's rows, whole states, narrowed reads) shares
 * with local_set_delta.c (deltas merged into the rows) and nobody else. */
#ifndef RK_LOCAL_SET_INTERNAL_H
#define RK_LOCAL_SET_INTERNAL_H

#include "local_internal.h"
#include "setrows.h"

/* One stored row of a set, copied out of the store. */
typedef struct set_row {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;         /* NULL unless collected with values */
    size_t value_len;
    uint64_t hash;
} set_row;

typedef struct set_rows {
    set_row *rows;
    uint32_t count;
    uint32_t capacity;
    bool values;            /* keep (and check) each row's value */
    const uint8_t *prefix;
    size_t prefix_len;
    int error;
} set_rows;

/* Row changes, flushed RK_BATCH_OPS_MAX - reserve at a time; the last batch is the caller's. */
typedef struct set_batch {
    rk_local *l;
    rk_batch_op *ops;
    uint32_t count;
    uint32_t room;
    uint64_t seq;
    int rc;
} set_batch;

void rk_lset_rows_free(set_rows *r);
/* Every row of `skey` in key order into *r (values too, checked, when `values`). */
int rk_lset_rows_read(rk_local *l, const uint8_t *skey, size_t skey_len, bool values,
                      set_rows *r);
/* The rows whose key suffix (after the prefix) is in [lo, hi) (hi_len 0: to the end). */
int rk_lset_rows_range(rk_local *l, const uint8_t *skey, size_t skey_len, const uint8_t *lo,
                       size_t lo_len, const uint8_t *hi, size_t hi_len, bool values,
                       set_rows *r);
int rk_lset_row_key_cmp(const void *a, const void *b);
/* qsort's order of rk_sibling by dot. */
int rk_lset_sibling_dot_cmp(const void *a, const void *b);
/* A batch whose last write keeps `reserve` ops free for the head and the records. */
int rk_lset_batch_init(set_batch *b, rk_local *l, uint32_t reserve);
void rk_lset_batch_add(set_batch *b, rk_batch_op op);
/* Write the last batch with the head and `extra`; keep keys_live and the tree. */
int rk_lset_finish(rk_local *l, const rk_local_key *k, set_batch *b, const rk_setrows_head *head,
                   bool was_live, const rk_batch_op *extra, uint32_t extra_count,
                   uint64_t *seq_out);
/* The stored object row of `k` (len 0: absent), or a store error. */
int rk_lset_get_object(rk_local *l, const rk_local_key *k, rk_buf *out);
/* The dots of `member`'s row (RK_SETROWS_DOTS_MAX room) and its checksum (0: no row). */
int rk_lset_member_dots(rk_local *l, const rk_local_key *k, const uint8_t *member,
                        size_t member_len, rk_setrows_dot *dots, uint32_t *count,
                        uint64_t *row_hash);

#endif
