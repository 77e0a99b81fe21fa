/* lmdb_commit.c — the LMDB engine's write path: a write() becomes an immutable, reference
 * counted batch in the FIFO and one overlay node per op, and sync(seq) is the group commit that
 * moves the batches seq covers into LMDB in one synced transaction (or hands them to
 * lmdb_wal.c when the redo log is on), then retires their overlay nodes and advances
 * durable_seq. It owns a batch's whole life, from the copy write() makes to the last unref.
 * Apart from lmdb.c (the environment, reads, open and close) because the write path is where
 * the durability argument lives: what is acknowledged when, and what a failed commit rolls
 * back. lmdb.c's header comment gives the design, the threads and the error rules;
 * lmdb_internal.h holds the state the files share. */
#include "lmdb_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- batches -------------------------------------------------------------------------- */

void lmdb_batch_unref_locked(lmdb_batch *b)
{
    RK_ASSERT(b->refs > 0);
    b->refs--;
    if (b->refs == 0) {
        free(b);
    }
}

void lmdb_overlay_node_free(void *ctx, rk_omap_node *n)
{
    (void)ctx;
    lmdb_pending *p = rk_omap_node_payload(n);
    lmdb_batch_unref_locked(p->batch);
    free(n);
}

/* ---- writes --------------------------------------------------------------------------- */

/* Copy `ops` and their bytes into one new batch (seq and refs are set when it is queued). */
static lmdb_batch *lmdb_batch_new(const rk_batch_op *ops, size_t op_count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < op_count; i++) {
        size_t value_len = ops[i].kind == RK_BATCH_PUT ? ops[i].value_len : 0;
        /* store.c bounds keys by 511 and values by RK_VALUE_BYTES_MAX: no overflow. */
        bytes += ops[i].key_len + value_len;
    }
    size_t head = sizeof(lmdb_batch) + op_count * sizeof(rk_batch_op);
    lmdb_batch *b = malloc(head + bytes);
    if (b == NULL) {
        return NULL;
    }
    memset(b, 0, head);
    b->bytes = bytes;
    b->op_count = op_count;
    uint8_t *at = (uint8_t *)b + head;
    for (size_t i = 0; i < op_count; i++) {
        rk_batch_op *op = &b->ops[i];
        *op = ops[i];
        memcpy(at, ops[i].key, ops[i].key_len);
        op->key = at;
        at += op->key_len;
        if (op->kind == RK_BATCH_PUT) {
            if (op->value_len > 0) {
                memcpy(at, ops[i].value, op->value_len);
            }
            op->value = at;
            at += op->value_len;
        } else {
            op->value = NULL;
            op->value_len = 0;
        }
    }
    RK_ASSERT(at == (uint8_t *)b + head + bytes);
    return b;
}

rk_omap_node *lmdb_overlay_node_new(lmdb_batch *b, const rk_batch_op *op)
{
    uint32_t level = rk_omap_level(op->key, op->key_len);
    rk_omap_node *n = malloc(rk_omap_node_bytes(level) + sizeof(lmdb_pending));
    if (n == NULL) {
        return NULL;
    }
    n->key = op->key;
    n->key_len = op->key_len;
    n->level = level;
    lmdb_pending *p = rk_omap_node_payload(n);
    *p = (lmdb_pending){
        .batch = b,
        .value = op->value,
        .value_len = op->value_len,
        .deleted = op->kind == RK_BATCH_DEL,
    };
    return n;
}

int lmdb_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out)
{
    lmdb_store *l = lmdb_from(s);
    RK_ASSERT(op_count >= 1);
    RK_ASSERT(op_count <= RK_BATCH_OPS_MAX);
    rk_omap_node *nodes[RK_BATCH_OPS_MAX];
    memset(nodes, 0, op_count * sizeof(nodes[0]));
    if (l->wal_on && rk_wal_batch_bytes(ops, op_count) == 0) {
        return RK_ETOOBIG;      /* one WAL record could not hold it */
    }

    /* Allocate everything first: once the lock is taken the batch applies whole. */
    lmdb_batch *b = lmdb_batch_new(ops, op_count);
    if (b == NULL) {
        return RK_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < op_count; i++) {
        nodes[i] = lmdb_overlay_node_new(b, &b->ops[i]);
        if (nodes[i] == NULL) {
            rc = RK_ENOMEM;
            goto out_free_prepared;
        }
    }

    lmdb_lock(l);
    if (l->ckpt_failed_rc != 0) {
        /* Acknowledged writes wait in the WAL for LMDB to take them (map full): take no more.
         * last_error still says why. */
        rc = l->ckpt_failed_rc;
        lmdb_unlock(l);
        goto out_free_prepared;
    }
    if (l->pending_bytes > 0 && (l->pending_bytes >= RK_LMDB_PENDING_BYTES_MAX ||
                                 b->bytes > RK_LMDB_PENDING_BYTES_MAX - l->pending_bytes)) {
        lmdb_unlock(l);
        rc = RK_EBUSY;
        goto out_free_prepared;
    }
    b->seq = ++l->seq_last;
    b->refs = 1 + op_count;     /* the FIFO, and each overlay node */
    if (l->queue_tail != NULL) {
        l->queue_tail->next = b;
    } else {
        l->queue_head = b;
    }
    l->queue_tail = b;
    l->pending_bytes += b->bytes;
    for (size_t i = 0; i < op_count; i++) {
        rk_omap_node *old = rk_omap_put(&l->overlay[b->ops[i].db], nodes[i]);
        if (old != NULL) {
            lmdb_overlay_node_free(NULL, old);   /* may be this batch's own earlier op */
        }
    }
    *seq_out = b->seq;
    lmdb_unlock(l);
    return 0;

out_free_prepared:
    for (size_t i = 0; i < op_count; i++) {
        free(nodes[i]);
    }
    free(b);
    return rc;
}

/* ---- sync ----------------------------------------------------------------------------- */

/* Apply `ops` in `txn`; on failure abort `txn` and return the RK_E* code. */
int lmdb_txn_apply(lmdb_store *l, MDB_txn *txn, const rk_batch_op *ops, size_t op_count)
{
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        MDB_val k = {.mv_size = op->key_len, .mv_data = (void *)op->key};
        if (op->kind == RK_BATCH_PUT) {
            MDB_val v = {.mv_size = op->value_len, .mv_data = (void *)op->value};
            int mdb_rc = mdb_put(txn, l->dbis[op->db], &k, &v, 0);
            if (mdb_rc != MDB_SUCCESS) {
                mdb_txn_abort(txn);
                return lmdb_fail(l, "mdb_put", mdb_rc);
            }
        } else {
            int mdb_rc = mdb_del(txn, l->dbis[op->db], &k, NULL);
            if (mdb_rc != MDB_SUCCESS && mdb_rc != MDB_NOTFOUND) {
                mdb_txn_abort(txn);
                return lmdb_fail(l, "mdb_del", mdb_rc);
            }
        }
    }
    return 0;
}

/* Apply the batches from `first` up to and including `last` in one write transaction and
 * commit it (durably). Runs without the mutex: detached batches are immutable. */
int lmdb_commit(lmdb_store *l, const lmdb_batch *first, const lmdb_batch *last)
{
    MDB_txn *txn = NULL;
    int mdb_rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (mdb_rc != MDB_SUCCESS) {
        return lmdb_fail(l, "mdb_txn_begin", mdb_rc);
    }
    for (const lmdb_batch *b = first;; b = b->next) {
        int rc = lmdb_txn_apply(l, txn, b->ops, b->op_count);
        if (rc != 0) {
            return rc;
        }
        if (b == last) {
            break;
        }
    }
    mdb_rc = mdb_txn_commit(txn);   /* frees txn whatever happens */
    if (mdb_rc != MDB_SUCCESS) {
        return lmdb_fail(l, "mdb_txn_commit", mdb_rc);
    }
    return 0;
}

/* Unlink the overlay nodes batch `b` still owns and drop the detached batch; whether `b` was
 * committed or failed, LMDB now holds what get and iterate must see for those keys. */
void lmdb_retire_locked(lmdb_store *l, lmdb_batch *b)
{
    for (size_t i = 0; i < b->op_count; i++) {
        const rk_batch_op *op = &b->ops[i];
        rk_omap *m = &l->overlay[op->db];
        rk_omap_node *n = rk_omap_find(m, op->key, op->key_len);
        if (n == NULL) {
            continue;       /* a repeated key of this batch, already retired */
        }
        lmdb_pending *p = rk_omap_node_payload(n);
        if (p->batch != b) {
            continue;       /* a later pending batch rewrote the key: its node stays */
        }
        rk_omap_node *removed = rk_omap_remove(m, op->key, op->key_len);
        RK_ASSERT(removed == n);
        lmdb_overlay_node_free(NULL, n);
    }
    RK_ASSERT(l->pending_bytes >= b->bytes);
    l->pending_bytes -= b->bytes;
    lmdb_batch_unref_locked(b);
}

/* The last batch from `first` whose bytes, with those before it, stay within one commit. */
lmdb_batch *lmdb_chunk_last(lmdb_batch *first)
{
    lmdb_batch *last = first;
    size_t bytes = first->bytes;
    while (last->next != NULL && bytes <= LMDB_COMMIT_BYTES_MAX &&
           last->next->bytes <= LMDB_COMMIT_BYTES_MAX - bytes) {
        last = last->next;
        bytes += last->bytes;
    }
    return last;
}

/* sync with sync_lock held: detach, commit chunk by chunk, retire. */
static int lmdb_sync_serial(lmdb_store *l, uint64_t seq)
{
    /* Detach the batches seq covers; the loop thread keeps queueing behind them. */
    lmdb_lock(l);
    if (seq > l->seq_last) {
        seq = l->seq_last;
    }
    lmdb_batch *first = NULL;
    lmdb_batch *last = NULL;
    while (l->queue_head != NULL && l->queue_head->seq <= seq) {
        lmdb_batch *b = l->queue_head;
        l->queue_head = b->next;
        if (l->queue_head == NULL) {
            l->queue_tail = NULL;
        }
        b->next = NULL;
        if (last != NULL) {
            last->next = b;
        } else {
            first = b;
        }
        last = b;
    }
    lmdb_unlock(l);
    if (l->wal_on) {
        return lmdb_sync_wal(l, first, last, seq);
    }

    int rc = 0;
    while (first != NULL) {
        lmdb_batch *chunk_last = lmdb_chunk_last(first);
        if (rc == 0) {
            rc = lmdb_commit(l, first, chunk_last);
        }
        /* After a failure every later detached batch is rolled back too: it was asked to be
         * durable with the failed ones, and the store may hold no gap between them. */
        lmdb_lock(l);
        lmdb_batch *after = chunk_last->next;
        uint64_t chunk_seq = chunk_last->seq;
        for (lmdb_batch *b = first; b != after;) {
            lmdb_batch *next = b->next;
            lmdb_retire_locked(l, b);
            b = next;
        }
        if (rc == 0 && chunk_seq > l->durable_seq) {
            l->durable_seq = chunk_seq;
        }
        lmdb_unlock(l);
        first = after;
    }
    if (rc == 0) {
        lmdb_lock(l);
        if (seq > l->durable_seq) {
            l->durable_seq = seq;
        }
        lmdb_unlock(l);
    }
    return rc;
}

int lmdb_sync(rk_store *s, uint64_t seq)
{
    lmdb_store *l = lmdb_from(s);
    int lock_rc = pthread_mutex_lock(&l->sync_lock);
    RK_ASSERT(lock_rc == 0);
    int rc = lmdb_sync_serial(l, seq);
    lock_rc = pthread_mutex_unlock(&l->sync_lock);
    RK_ASSERT(lock_rc == 0);
    return rc;
}

int lmdb_checkpoint(rk_store *s)
{
    lmdb_store *l = lmdb_from(s);
    if (!l->wal_on) {
        return 0;       /* every sync already committed to LMDB */
    }
    int lock_rc = pthread_mutex_lock(&l->sync_lock);
    RK_ASSERT(lock_rc == 0);
    int rc = lmdb_checkpoint_serial(l);
    lock_rc = pthread_mutex_unlock(&l->sync_lock);
    RK_ASSERT(lock_rc == 0);
    return rc;
}

uint64_t lmdb_durable_seq(rk_store *s)
{
    lmdb_store *l = lmdb_from(s);
    lmdb_lock(l);
    uint64_t seq = l->durable_seq;
    lmdb_unlock(l);
    return seq;
}
