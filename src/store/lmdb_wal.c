/* lmdb_wal.c — the LMDB engine's redo-log side (opts->wal): sync through the WAL, the
 * checkpoint that moves WAL-durable batches into LMDB, and replay into LMDB at open. The log
 * file itself (records, fdatasync, scan) is wal.c's; the overlay, the FIFO and plain group
 * commit are lmdb_commit.c's, open/close lmdb.c's, whose header comment gives the design and
 * threads.
 *
 * With the redo log sync does not commit to LMDB: it appends the detached batches to the log
 * with one fdatasync (about a quarter of a group commit's cost: one sequential write instead
 * of ~17 scattered pages and a meta page), advances durable_seq and moves the batches to a
 * checkpoint list, overlay nodes and all. A checkpoint commits that list to LMDB in ordinary
 * synced commits, retires it as lmdb_commit.c does and empties the log: inside a sync once the log
 * passes LMDB_WAL_CHECKPOINT_BYTES or _BATCHES (after that sync's append), at close, and on
 * rk_store_checkpoint. Open replays what a crash left in the log. A checkpoint that fails
 * keeps everything (the writes were acknowledged) and refuses new writes. */
#include "lmdb_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* With the WAL on, a checkpoint moves the durable batches into LMDB once the log holds this many
 * bytes or batches. Bytes: replay after a crash reads and commits at most about this much, and
 * it is one LMDB commit (LMDB_COMMIT_BYTES_MAX). Batches: each keeps about 150 bytes of overlay
 * (batch head, skiplist node) until the checkpoint, and 64Ki single-key SETs touch most leaf
 * pages of a 100k-key store once instead of once per group of ~24 (at 50k SET/s: one
 * checkpoint a second or so, a few tens of ms of page writes). */
#define LMDB_WAL_CHECKPOINT_BYTES   (64u << 20)
#define LMDB_WAL_CHECKPOINT_BATCHES 65536u
/* The overlay holds checkpointed-later batches too: they must fit under the pending limit with
 * room for a group of new writes, or writes would see RK_EBUSY while waiting for a checkpoint. */
_Static_assert(LMDB_WAL_CHECKPOINT_BYTES <= RK_LMDB_PENDING_BYTES_MAX / 2,
               "a checkpoint comes well before the pending limit");

static void lmdb_wal_error(lmdb_store *l)
{
    lmdb_lock(l);
    snprintf(l->last_error, sizeof(l->last_error), "%s", l->wal.error);
    lmdb_unlock(l);
}

/* Append the detached batches from `first` to the WAL, one record per append (several only
 * for a group past RK_WAL_PAYLOAD_BYTES_MAX), each made durable by its fdatasync. */
static int lmdb_wal_append(lmdb_store *l, const lmdb_batch *first)
{
    const size_t head = RK_WAL_HEADER_BYTES + RK_WAL_GROUP_HEADER_BYTES;
    for (const lmdb_batch *b = first; b != NULL;) {
        size_t bytes = head;
        uint32_t batch_count = 0;
        const lmdb_batch *end = b;
        for (; end != NULL; end = end->next) {
            size_t batch_bytes = rk_wal_batch_bytes(end->ops, end->op_count);
            RK_ASSERT(batch_bytes > 0);     /* write() refused larger batches */
            if (batch_count > 0 && batch_bytes > RK_WAL_PAYLOAD_BYTES_MAX - (bytes - head)) {
                break;
            }
            bytes += batch_bytes;
            batch_count++;
        }
        uint8_t *record = malloc(bytes);
        if (record == NULL) {
            snprintf(l->wal.error, sizeof(l->wal.error), "wal: no memory for %zu bytes", bytes);
            lmdb_wal_error(l);
            return RK_EIO;
        }
        uint8_t *at = record + head;
        uint64_t seq_last = 0;
        for (const lmdb_batch *e = b; e != end; e = e->next) {
            rk_wal_batch_encode(e->seq, e->ops, e->op_count, at);
            at += rk_wal_batch_bytes(e->ops, e->op_count);
            seq_last = e->seq;
        }
        RK_ASSERT(at == record + bytes);
        rk_wal_record_seal(record, bytes, batch_count, seq_last);
        int rc = rk_wal_append(&l->wal, record, bytes);
        free(record);
        if (rc != 0) {
            lmdb_wal_error(l);
            return rc;
        }
        b = end;
    }
    return 0;
}

/* After failed batches were retired, give each key they owned back the newest value the
 * checkpoint list holds for it: that write was acknowledged (it is in the WAL) but LMDB does
 * not have it yet. Walk old to new, each batch's ops last to first, so the newest op wins. */
static void lmdb_overlay_restore_locked(lmdb_store *l)
{
    for (lmdb_batch *b = l->ckpt_head; b != NULL; b = b->next) {
        for (size_t i = b->op_count; i-- > 0;) {
            const rk_batch_op *op = &b->ops[i];
            rk_omap *m = &l->overlay[op->db];
            rk_omap_node *n = rk_omap_find(m, op->key, op->key_len);
            if (n != NULL && ((lmdb_pending *)rk_omap_node_payload(n))->batch->seq >= b->seq) {
                continue;       /* a newer write, or this batch's later op, owns the key */
            }
            rk_omap_node *fresh = lmdb_overlay_node_new(b, op);
            /* Without the node a reader would see LMDB's older value of an acknowledged
             * write; stop instead (a restart replays the WAL). Only after a WAL failure. */
            RK_ASSERT(fresh != NULL);
            b->refs++;
            rk_omap_node *old = rk_omap_put(m, fresh);
            if (old != NULL) {
                lmdb_overlay_node_free(NULL, old);
            }
        }
    }
}

static bool lmdb_checkpoint_due_locked(const lmdb_store *l, bool idle)
{
    if (l->ckpt_head == NULL) {
        return false;
    }
    return idle || l->ckpt_failed_rc != 0 || l->wal.end_bytes >= LMDB_WAL_CHECKPOINT_BYTES ||
           l->ckpt_batch_count >= LMDB_WAL_CHECKPOINT_BATCHES;
}

/* With sync_lock held: apply every durable batch to LMDB in ordinary (synced) commits, then
 * drop their overlay nodes and empty the WAL. On failure everything stays (WAL, overlay,
 * list), and writes are refused until a checkpoint succeeds: they were acknowledged, so they
 * may not be dropped, and new writes would only pile up behind them. */
int lmdb_checkpoint_serial(lmdb_store *l)
{
    lmdb_batch *first = l->ckpt_head;  /* the list changes only under sync_lock, which we hold */
    if (first == NULL) {
        return 0;
    }
    int rc = 0;
    for (lmdb_batch *b = first; b != NULL && rc == 0;) {
        lmdb_batch *chunk_last = lmdb_chunk_last(b);
        rc = lmdb_commit(l, b, chunk_last);
        b = chunk_last->next;
    }
    if (rc == 0) {
        rc = rk_wal_reset(&l->wal);     /* LMDB holds it all now */
        if (rc != 0) {
            lmdb_wal_error(l);
        }
    }
    lmdb_lock(l);
    if (rc == 0 || l->wal.end_bytes == 0) {
        /* In LMDB (a failed reset already cut the file, or could not): drop the overlay. */
        for (lmdb_batch *b = first; b != NULL;) {
            lmdb_batch *next = b->next;
            lmdb_retire_locked(l, b);
            b = next;
        }
        l->ckpt_head = NULL;
        l->ckpt_tail = NULL;
        l->ckpt_batch_count = 0;
    }
    l->ckpt_failed_rc = rc;
    lmdb_unlock(l);
    return rc;
}

/* sync with the WAL on: the detached batches `first`..`last` become durable by one append,
 * join the checkpoint list and keep their overlay nodes; a due checkpoint follows. */
int lmdb_sync_wal(lmdb_store *l, lmdb_batch *first, lmdb_batch *last, uint64_t seq)
{
    int rc = first != NULL ? lmdb_wal_append(l, first) : 0;
    size_t count = 0;
    for (lmdb_batch *b = first; b != NULL; b = b->next) {
        count++;
    }
    lmdb_lock(l);
    if (rc == 0 && first != NULL) {
        if (l->ckpt_tail != NULL) {
            l->ckpt_tail->next = first;
        } else {
            l->ckpt_head = first;
        }
        l->ckpt_tail = last;
        l->ckpt_batch_count += count;
    } else if (rc != 0) {
        for (lmdb_batch *b = first; b != NULL;) {
            lmdb_batch *next = b->next;
            lmdb_retire_locked(l, b);
            b = next;
        }
        lmdb_overlay_restore_locked(l);
    }
    if (rc == 0 && seq > l->durable_seq) {
        l->durable_seq = seq;
    }
    bool due = rc == 0 && lmdb_checkpoint_due_locked(l, first == NULL);
    lmdb_unlock(l);
    if (due) {
        /* Durability is done; a failure here is the checkpoint's, reported to writers. This
         * group's reply waits for the checkpoint (runtime.c runs one job at a time). */
        (void)lmdb_checkpoint_serial(l);
    }
    return rc;
}

/* Replay state: batches go into one write transaction, committed every
 * LMDB_COMMIT_BYTES_MAX bytes (replaying a record twice is harmless: full values, deletions). */
typedef struct lmdb_replay {
    lmdb_store *l;
    MDB_txn *txn;
    size_t bytes;
} lmdb_replay;

static int lmdb_replay_commit(lmdb_replay *r)
{
    if (r->txn == NULL) {
        return 0;
    }
    int mdb_rc = mdb_txn_commit(r->txn);
    r->txn = NULL;
    r->bytes = 0;
    return mdb_rc == MDB_SUCCESS ? 0 : lmdb_fail(r->l, "mdb_txn_commit", mdb_rc);
}

static int lmdb_replay_batch(void *ctx, uint64_t seq, const rk_batch_op *ops, size_t op_count)
{
    (void)seq;
    lmdb_replay *r = ctx;
    if (r->txn == NULL) {
        int mdb_rc = mdb_txn_begin(r->l->env, NULL, 0, &r->txn);
        if (mdb_rc != MDB_SUCCESS) {
            r->txn = NULL;
            return lmdb_fail(r->l, "mdb_txn_begin", mdb_rc);
        }
    }
    int rc = lmdb_txn_apply(r->l, r->txn, ops, op_count);
    if (rc != 0) {
        r->txn = NULL;      /* lmdb_txn_apply aborted it */
        return rc;
    }
    for (size_t i = 0; i < op_count; i++) {
        r->bytes += ops[i].key_len + ops[i].value_len;
    }
    return r->bytes >= LMDB_COMMIT_BYTES_MAX ? lmdb_replay_commit(r) : 0;
}

/* Replay what the WAL holds into LMDB and empty it: records a crash (or a failed checkpoint)
 * left behind were acknowledged. Runs whether or not opts->wal is on now, so turning the WAL
 * off loses nothing; with it off and no file, nothing is created. */
int lmdb_wal_recover(lmdb_store *l, const rk_store_options *opts, char *err, size_t err_len)
{
    l->wal_on = opts->wal;
    int rc = rk_wal_open(&l->wal, opts->dir, opts->wal);
    if (rc == 1) {
        return 0;
    }
    const char *what = l->wal.error;
    if (rc == 0) {
        lmdb_replay replay = {.l = l};
        rc = rk_wal_replay(&l->wal, lmdb_replay_batch, &replay);
        if (rc == RK_ECORRUPT || rc == RK_EIO) {
            what = l->wal.error;
        } else if (rc < 0) {
            what = l->last_error;   /* LMDB's, e.g. MDB_MAP_FULL: raise map-size */
        }
        if (rc >= 0) {
            rc = lmdb_replay_commit(&replay);
            what = l->last_error;
        } else if (replay.txn != NULL) {
            mdb_txn_abort(replay.txn);
        }
        if (rc >= 0) {
            rc = rk_wal_reset(&l->wal);
            what = l->wal.error;
        }
    }
    if (rc == 0 && !l->wal_on) {
        rk_wal_close(&l->wal);
    }
    if (rc != 0 && err != NULL && err_len > 0) {
        snprintf(err, err_len, "lmdb: replaying %s/" RK_WAL_FILE_NAME ": %s (%s)", opts->dir,
                 what, rk_strerror(rc));
    }
    return rc;
}
