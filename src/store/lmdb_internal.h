/* lmdb_internal.h — the LMDB engine's state shared by lmdb.c (environment, reads, open and
 * close), lmdb_commit.c (the write path: batches, the overlay they fill, group commit) and
 * lmdb_wal.c (the redo-log side: sync through the WAL, checkpoint, replay at open). Nothing
 * outside src/store includes it; everyone else sees rk_store (store.h). The design, threads
 * and error rules are in lmdb.c's header comment. */
#ifndef RK_LMDB_INTERNAL_H
#define RK_LMDB_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>

#include "omap.h"
#include "store.h"
#include "wal.h"

/* One LMDB transaction stays well below LMDB's dirty-page limit (MDB_IDL_UM_MAX, 128Ki pages
 * of 4 KiB = 512 MiB): past this many key and value bytes a sync commits in several. */
#define LMDB_COMMIT_BYTES_MAX (64u << 20)
#define LMDB_ERROR_BYTES_MAX  256u

/* A batch waiting for sync: its ops, then their key and value bytes, in one allocation. */
typedef struct lmdb_batch {
    struct lmdb_batch *next;    /* FIFO link */
    uint64_t seq;
    size_t refs;                /* guarded by the mutex */
    size_t bytes;               /* key and value bytes, counted against the pending limit */
    size_t op_count;
    rk_batch_op ops[];
} lmdb_batch;

/* The payload of an overlay node: the newest pending write of its key. The node's key points
 * into the batch's bytes. */
typedef struct lmdb_pending {
    lmdb_batch *batch;          /* holds a reference */
    const uint8_t *value;
    size_t value_len;
    bool deleted;
} lmdb_pending;

/* One overlay entry copied out for an iteration; holds a reference on its batch. */
typedef struct lmdb_snap {
    const uint8_t *key;
    size_t key_len;
    lmdb_pending pending;
} lmdb_snap;

typedef struct lmdb_store {
    rk_store base;
    MDB_env *env;
    MDB_dbi dbis[RK_DB_COUNT];
    MDB_txn *reader;            /* the calling thread's read txn, reset when idle */
    bool reader_busy;
    pthread_mutex_t sync_lock;  /* one sync at a time */
    pthread_mutex_t mutex;      /* guards everything below */
    rk_omap overlay[RK_DB_COUNT];
    lmdb_batch *queue_head;
    lmdb_batch *queue_tail;
    size_t pending_bytes;
    uint64_t seq_last;
    uint64_t durable_seq;
    char last_error[LMDB_ERROR_BYTES_MAX];
    /* The WAL (opts->wal). The list below is changed only with sync_lock held (and the mutex,
     * for readers of the counters): batches durable in the WAL, not yet in LMDB, in seq order.
     * They keep their overlay nodes and count against pending_bytes until checkpointed. */
    bool wal_on;
    rk_wal wal;
    lmdb_batch *ckpt_head;
    lmdb_batch *ckpt_tail;
    size_t ckpt_batch_count;
    int ckpt_failed_rc;         /* nonzero: the last checkpoint failed; writes get this code */
} lmdb_store;

/* lmdb.c */
/* The engine behind `s`, which must be an LMDB store. */
lmdb_store *lmdb_from(rk_store *s);
void lmdb_lock(lmdb_store *l);
void lmdb_unlock(lmdb_store *l);
/* Turn an LMDB result into an RK_E* code and record the text in last_error; takes the mutex. */
int lmdb_fail(lmdb_store *l, const char *call, int mdb_rc);

/* lmdb_commit.c: the rk_store_ops entries of the write path (store.h gives the contracts). */
int lmdb_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out);
int lmdb_sync(rk_store *s, uint64_t seq);
int lmdb_checkpoint(rk_store *s);
uint64_t lmdb_durable_seq(rk_store *s);

/* Drop one reference on `b`, freeing it at zero; call with the mutex held. */
void lmdb_batch_unref_locked(lmdb_batch *b);
/* A new overlay node for `op` of batch `b` (the caller takes the reference on `b`), or NULL. */
rk_omap_node *lmdb_overlay_node_new(lmdb_batch *b, const rk_batch_op *op);
/* Free an overlay node and drop its batch reference; call with the mutex held. */
void lmdb_overlay_node_free(void *ctx, rk_omap_node *n);
/* Apply `ops` in `txn`; on failure abort `txn` and return the RK_E* code. */
int lmdb_txn_apply(lmdb_store *l, MDB_txn *txn, const rk_batch_op *ops, size_t op_count);
/* Apply the batches from `first` up to and including `last` in one write transaction and
 * commit it (durably). Runs without the mutex: detached batches are immutable. */
int lmdb_commit(lmdb_store *l, const lmdb_batch *first, const lmdb_batch *last);
/* Unlink the overlay nodes batch `b` still owns and drop the detached batch; mutex held. */
void lmdb_retire_locked(lmdb_store *l, lmdb_batch *b);
/* The last batch from `first` whose bytes, with those before it, stay within one commit. */
lmdb_batch *lmdb_chunk_last(lmdb_batch *first);

/* lmdb_wal.c */
/* sync with the WAL on and sync_lock held: the detached batches `first`..`last` (may be NULL)
 * become durable by one append and join the checkpoint list; a due checkpoint follows. */
int lmdb_sync_wal(lmdb_store *l, lmdb_batch *first, lmdb_batch *last, uint64_t seq);
/* With sync_lock held: commit the checkpoint list to LMDB and empty the WAL. 0 or RK_E*. */
int lmdb_checkpoint_serial(lmdb_store *l);
/* At open: replay what the WAL holds into LMDB and empty it; sets wal_on from opts->wal and
 * keeps the WAL open when it is on. 0, or an RK_E* with the reason in `err`. */
int lmdb_wal_recover(lmdb_store *l, const rk_store_options *opts, char *err, size_t err_len);

#endif
