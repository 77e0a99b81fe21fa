/* lmdb.c — the durable default engine on LMDB (Symas, http://www.lmdb.tech/doc/). Owns one LMDB
 * environment in the data directory with four named sub-databases ("data", "hints", "meta",
 * "elems"), an in-memory overlay of the writes not yet committed, and the group commit that moves
 * them to LMDB. The data directory lock (one process per directory) is the runtime's business.
 * This file opens and closes the environment and serves reads (get, iterate: the overlay merged
 * with LMDB); the write path and the group commit are lmdb_commit.c's.
 *
 * Why an overlay. LMDB commits are durable only with their fsync. Its documentation warns that
 * MDB_NOSYNC with a later mdb_env_sync is not safe against an OS crash: the meta page may reach
 * the disk before the data pages it points to, and the database is then corrupt. So nothing
 * commits without its sync, and the loop thread never commits (it would block on the fsync):
 *  - write() copies the batch into a pending batch (FIFO, in seq order) and links one overlay
 *    node per op into a skiplist per sub-database (omap.h): key -> value or deletion, newest
 *    write wins. get and iterate read the overlay first, so a write is visible at once.
 *  - sync(seq), on the runtime's worker thread, detaches the pending batches with seq' <= seq,
 *    applies them in one ordinary LMDB write transaction (several if they pass
 *    LMDB_COMMIT_BYTES_MAX, to stay under LMDB's dirty-page limit) and commits it: LMDB fsyncs
 *    the data, then the meta page. Only then does it unlink the overlay nodes those batches
 *    still own (a key rewritten by a later, still pending batch keeps that newer node) and
 *    advance durable_seq. A failed commit unlinks the same nodes, which rolls the batches back:
 *    get and iterate see LMDB's older value again, and later syncs never see them.
 * Many writes share one fsync (group commit); the worker never holds the mutex while in LMDB.
 *
 * Threads. One mutex guards the overlay, the FIFO, the counters and last_error; a second lock
 * makes syncs run one at a time (the worker, and close on the loop thread). A batch is
 * immutable once queued and reference counted: its FIFO slot (then the sync that detached it),
 * each overlay node and each iteration snapshot that points into its bytes hold a reference,
 * so the worker reads it without the mutex. Readers see a commit before its overlay nodes go
 * (both orders are checked under the mutex first, then LMDB is read), so no write is ever
 * invisible. The loop thread keeps one read transaction, reset between calls and renewed per
 * call (a long-lived snapshot would miss commits); the env is opened with MDB_NOTLS because
 * that transaction and the worker's write transactions live on different threads and an
 * iterate callback may nest a get (which then begins a second read transaction).
 *
 * Errors. MDB_MAP_FULL (the map size is the most the store can hold) becomes RK_ENOSPC and any
 * other LMDB failure RK_EIO; the text of the failing call goes to last_error. Deletes need free
 * pages too (copy-on-write), so a store full to the last page may refuse them as well; the
 * pages of the failed transaction are free again, which usually leaves room to delete.
 *
 * sync_each_commit is deliberately ignored: every commit is durable. Under sync=none the node
 * does not wait for sync, which is already all that policy asks; MDB_NOMETASYNC would save one
 * fsync per group commit but an OS crash could then undo a commit durable_seq already reported.
 * Sequence numbers start at 1 per open store; durable_seq is 0 after open (everything already
 * in LMDB is durable and has no number).
 *
 * The redo log (opts->wal, wal.h) is lmdb_wal.c's: with it on, sync appends to the log instead
 * of committing, and a checkpoint later commits to LMDB; lmdb_internal.h holds the state the
 * three files share. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lmdb_internal.h"

#define LMDB_FILE_MODE 0640

static const char *const lmdb_db_names[RK_DB_COUNT] = {"data", "hints", "meta",
                                                             "elems"};

static const rk_store_ops lmdb_ops;

lmdb_store *lmdb_from(rk_store *s)
{
    RK_ASSERT(s != NULL);
    RK_ASSERT(s->ops == &lmdb_ops);
    return (lmdb_store *)s;
}

void lmdb_lock(lmdb_store *l)
{
    int rc = pthread_mutex_lock(&l->mutex);
    RK_ASSERT(rc == 0);
}

void lmdb_unlock(lmdb_store *l)
{
    int rc = pthread_mutex_unlock(&l->mutex);
    RK_ASSERT(rc == 0);
}

/* Turn an LMDB result into an RK_E* code and record the text; call with the mutex held. */
static int lmdb_fail_locked(lmdb_store *l, const char *call, int mdb_rc)
{
    RK_ASSERT(mdb_rc != MDB_SUCCESS);
    snprintf(l->last_error, sizeof(l->last_error), "%s: %s", call, mdb_strerror(mdb_rc));
    /* ENOSPC: the disk itself is full (the auto map reaches as far as the disk). */
    return mdb_rc == MDB_MAP_FULL || mdb_rc == ENOSPC ? RK_ENOSPC : RK_EIO;
}

int lmdb_fail(lmdb_store *l, const char *call, int mdb_rc)
{
    lmdb_lock(l);
    int rc = lmdb_fail_locked(l, call, mdb_rc);
    lmdb_unlock(l);
    return rc;
}

/* ---- reads ---------------------------------------------------------------------------- */

/* A read transaction on the latest commit: the cached one renewed, or a fresh one if that is
 * in use (a get nested in an iterate callback). */
static int lmdb_reader_begin(lmdb_store *l, MDB_txn **txn)
{
    int mdb_rc = MDB_SUCCESS;
    if (l->reader_busy) {
        mdb_rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
        return mdb_rc == MDB_SUCCESS ? 0 : lmdb_fail(l, "mdb_txn_begin", mdb_rc);
    }
    if (l->reader != NULL) {
        mdb_rc = mdb_txn_renew(l->reader);
        if (mdb_rc != MDB_SUCCESS) {
            mdb_txn_abort(l->reader);
            l->reader = NULL;
        }
    }
    if (l->reader == NULL) {
        mdb_rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->reader);
        if (mdb_rc != MDB_SUCCESS) {
            l->reader = NULL;
            return lmdb_fail(l, "mdb_txn_begin", mdb_rc);
        }
    }
    l->reader_busy = true;
    *txn = l->reader;
    return 0;
}

static void lmdb_reader_end(lmdb_store *l, MDB_txn *txn)
{
    if (txn == l->reader) {
        RK_ASSERT(l->reader_busy);
        mdb_txn_reset(txn);     /* keeps the reader slot, drops the snapshot */
        l->reader_busy = false;
    } else {
        mdb_txn_abort(txn);
    }
}

static int lmdb_buf_copy(const void *data, size_t len, rk_buf *out)
{
    out->data = malloc(len > 0 ? len : 1);  /* an empty value is still a value */
    if (out->data == NULL) {
        return RK_ENOMEM;
    }
    if (len > 0) {
        memcpy(out->data, data, len);
    }
    out->len = len;
    return 0;
}

static int lmdb_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    lmdb_store *l = lmdb_from(s);

    /* The overlay first: a commit lands in LMDB before its overlay node goes. */
    lmdb_lock(l);
    rk_omap_node *n = rk_omap_find(&l->overlay[db], key, key_len);
    if (n != NULL) {
        lmdb_pending *p = rk_omap_node_payload(n);
        int rc = p->deleted ? RK_ENOTFOUND : lmdb_buf_copy(p->value, p->value_len, out);
        lmdb_unlock(l);
        return rc;
    }
    lmdb_unlock(l);

    MDB_txn *txn = NULL;
    int rc = lmdb_reader_begin(l, &txn);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {.mv_size = key_len, .mv_data = (void *)key};
    MDB_val v = {0};
    int mdb_rc = mdb_get(txn, l->dbis[db], &k, &v);
    if (mdb_rc == MDB_SUCCESS) {
        rc = lmdb_buf_copy(v.mv_data, v.mv_size, out);
    } else if (mdb_rc == MDB_NOTFOUND) {
        rc = RK_ENOTFOUND;
    } else {
        rc = lmdb_fail(l, "mdb_get", mdb_rc);
    }
    lmdb_reader_end(l, txn);
    return rc;
}

/* Copy the overlay entries of `db` in [start, end) and take a reference on their batches. */
static int lmdb_snapshot(lmdb_store *l, rk_db db, const uint8_t *start, size_t start_len,
                         const uint8_t *end, size_t end_len, lmdb_snap **out, size_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    lmdb_lock(l);
    size_t cap = l->overlay[db].count;
    if (cap == 0) {
        lmdb_unlock(l);
        return 0;
    }
    lmdb_snap *snap = malloc(cap * sizeof(*snap));
    if (snap == NULL) {
        lmdb_unlock(l);
        return RK_ENOMEM;
    }
    size_t count = 0;
    for (rk_omap_node *n = rk_omap_seek(&l->overlay[db], start, start_len); n != NULL;
         n = rk_omap_next(n)) {
        if (end != NULL && rk_omap_key_cmp(n->key, n->key_len, end, end_len) >= 0) {
            break;
        }
        RK_ASSERT(count < cap);
        lmdb_pending *p = rk_omap_node_payload(n);
        snap[count] = (lmdb_snap){.key = n->key, .key_len = n->key_len, .pending = *p};
        p->batch->refs++;
        count++;
    }
    lmdb_unlock(l);
    *out = snap;
    *out_count = count;
    return 0;
}

static void lmdb_snapshot_release(lmdb_store *l, lmdb_snap *snap, size_t count)
{
    lmdb_lock(l);
    for (size_t i = 0; i < count; i++) {
        lmdb_batch_unref_locked(snap[i].pending.batch);
    }
    lmdb_unlock(l);
    free(snap);
}

/* Position `cur` at the first key >= start; false when there is none. */
static int lmdb_cursor_first(lmdb_store *l, MDB_cursor *cur, const uint8_t *start,
                             size_t start_len, MDB_val *k, MDB_val *v, bool *have)
{
    int mdb_rc = MDB_SUCCESS;
    if (start == NULL || start_len == 0) {
        mdb_rc = mdb_cursor_get(cur, k, v, MDB_FIRST);
    } else {
        k->mv_size = start_len;
        k->mv_data = (void *)start;
        mdb_rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    }
    *have = mdb_rc == MDB_SUCCESS;
    if (mdb_rc == MDB_SUCCESS || mdb_rc == MDB_NOTFOUND) {
        return 0;
    }
    return lmdb_fail(l, "mdb_cursor_get", mdb_rc);
}

static int lmdb_cursor_next(lmdb_store *l, MDB_cursor *cur, MDB_val *k, MDB_val *v, bool *have)
{
    int mdb_rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    *have = mdb_rc == MDB_SUCCESS;
    if (mdb_rc == MDB_SUCCESS || mdb_rc == MDB_NOTFOUND) {
        return 0;
    }
    return lmdb_fail(l, "mdb_cursor_get", mdb_rc);
}

/* Merge the overlay snapshot with a cursor walk; the overlay wins ties, deletions hide. */
static int lmdb_merge(lmdb_store *l, MDB_cursor *cur, const lmdb_snap *snap, size_t snap_count,
                      const uint8_t *start, size_t start_len, const uint8_t *end,
                      size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    MDB_val k = {0};
    MDB_val v = {0};
    bool have = false;
    int rc = lmdb_cursor_first(l, cur, start, start_len, &k, &v, &have);
    size_t snap_index = 0;
    while (rc == 0) {
        if (have && end != NULL && rk_omap_key_cmp(k.mv_data, k.mv_size, end, end_len) >= 0) {
            have = false;
        }
        if (!have && snap_index == snap_count) {
            break;
        }
        int order = 1;      /* > 0: the snapshot entry comes first */
        if (have && snap_index < snap_count) {
            const lmdb_snap *e = &snap[snap_index];
            order = rk_omap_key_cmp(k.mv_data, k.mv_size, e->key, e->key_len);
        } else if (have) {
            order = -1;
        }
        int fn_rc = 0;
        if (order < 0) {
            fn_rc = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        } else {
            const lmdb_snap *e = &snap[snap_index++];
            if (!e->pending.deleted) {
                fn_rc = fn(ctx, e->key, e->key_len, e->pending.value, e->pending.value_len);
            }
        }
        if (fn_rc < 0) {
            return fn_rc;
        }
        if (fn_rc > 0) {
            break;
        }
        if (order <= 0) {
            rc = lmdb_cursor_next(l, cur, &k, &v, &have);
        }
    }
    return rc;
}

static int lmdb_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                        const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    lmdb_store *l = lmdb_from(s);
    lmdb_snap *snap = NULL;
    size_t snap_count = 0;
    int rc = lmdb_snapshot(l, db, start, start_len, end, end_len, &snap, &snap_count);
    if (rc != 0) {
        return rc;
    }
    MDB_txn *txn = NULL;
    rc = lmdb_reader_begin(l, &txn);
    if (rc != 0) {
        goto out_release_snapshot;
    }
    MDB_cursor *cur = NULL;
    int mdb_rc = mdb_cursor_open(txn, l->dbis[db], &cur);
    if (mdb_rc != MDB_SUCCESS) {
        rc = lmdb_fail(l, "mdb_cursor_open", mdb_rc);
        goto out_end_reader;
    }
    rc = lmdb_merge(l, cur, snap, snap_count, start, start_len, end, end_len, fn, ctx);
    mdb_cursor_close(cur);
out_end_reader:
    lmdb_reader_end(l, txn);
out_release_snapshot:
    lmdb_snapshot_release(l, snap, snap_count);
    return rc;
}

static const char *lmdb_last_error(rk_store *s)
{
    return lmdb_from(s)->last_error;
}

/* ---- open and close ------------------------------------------------------------------- */

static void lmdb_free(lmdb_store *l)
{
    if (l->reader != NULL) {
        mdb_txn_abort(l->reader);
    }
    if (l->env != NULL) {
        mdb_env_close(l->env);  /* closes the dbis too */
    }
    lmdb_lock(l);
    for (int db = 0; db < RK_DB_COUNT; db++) {
        rk_omap_clear(&l->overlay[db], lmdb_overlay_node_free, NULL);
    }
    lmdb_batch *lists[2] = {l->queue_head, l->ckpt_head};
    for (int i = 0; i < 2; i++) {
        lmdb_batch *b = lists[i];
        while (b != NULL) {
            lmdb_batch *next = b->next;
            lmdb_batch_unref_locked(b);
            b = next;
        }
    }
    lmdb_unlock(l);
    rk_wal_close(&l->wal);
    pthread_mutex_destroy(&l->mutex);
    pthread_mutex_destroy(&l->sync_lock);
    free(l);
}

static void lmdb_close(rk_store *s)
{
    lmdb_store *l = lmdb_from(s);
    /* What cannot be synced now is lost as in a crash; callers who must know sync first.
     * What cannot be checkpointed stays in the WAL for the next open. */
    (void)lmdb_sync(s, UINT64_MAX);
    (void)lmdb_checkpoint(s);
    lmdb_free(l);
}

void rk_store_lmdb_crash_for_test(rk_store *s)
{
    lmdb_free(lmdb_from(s));    /* no sync, no checkpoint: only what was synced survives */
}

uint64_t rk_store_lmdb_auto_map_bytes(const char *dir)
{
    uint64_t bytes = 0;
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0) {
        bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    }
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) < (int)sizeof(path) &&
        stat(path, &st) == 0 && st.st_size > 0) {
        bytes += (uint64_t)st.st_size;
    }
    if (bytes < RK_STORE_MAP_BYTES_MIN_AUTO) {
        bytes = RK_STORE_MAP_BYTES_MIN_AUTO;
    }
    return bytes > RK_STORE_MAP_BYTES_MAX ? RK_STORE_MAP_BYTES_MAX : bytes;
}

static uint64_t lmdb_map_bytes(const rk_store_options *opts)
{
    uint64_t bytes = opts->map_bytes > 0 ? opts->map_bytes : rk_store_lmdb_auto_map_bytes(opts->dir);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t page_bytes = page > 0 ? (uint64_t)page : 4096u;
    return (bytes + page_bytes - 1) / page_bytes * page_bytes;   /* LMDB wants whole pages */
}

static int lmdb_open_dbis(lmdb_store *l, char *err, size_t err_len)
{
    MDB_txn *txn = NULL;
    int mdb_rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    const char *call = "mdb_txn_begin";
    if (mdb_rc == MDB_SUCCESS) {
        call = "mdb_dbi_open";
        for (int db = 0; db < RK_DB_COUNT && mdb_rc == MDB_SUCCESS; db++) {
            mdb_rc = mdb_dbi_open(txn, lmdb_db_names[db], MDB_CREATE, &l->dbis[db]);
        }
        if (mdb_rc == MDB_SUCCESS) {
            call = "mdb_txn_commit";
            mdb_rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }
    if (mdb_rc == MDB_SUCCESS) {
        return 0;
    }
    int rc = lmdb_fail(l, call, mdb_rc);
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "lmdb: %s", l->last_error);
    }
    return rc;
}

int rk_store_lmdb_open(const rk_store_options *opts, rk_store **out, char *err, size_t err_len)
{
    RK_ASSERT(opts != NULL);
    RK_ASSERT(out != NULL);
    *out = NULL;
    if (opts->dir == NULL) {
        return RK_EINVAL;
    }
    int rc = 0;
    lmdb_store *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return RK_ENOMEM;
    }
    l->base.ops = &lmdb_ops;
    l->wal.fd = -1;
    for (int db = 0; db < RK_DB_COUNT; db++) {
        rk_omap_init(&l->overlay[db]);
    }
    if (pthread_mutex_init(&l->mutex, NULL) != 0) {
        free(l);
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&l->sync_lock, NULL) != 0) {
        pthread_mutex_destroy(&l->mutex);
        free(l);
        return RK_ENOMEM;
    }

    const char *call = "mdb_env_create";
    int mdb_rc = mdb_env_create(&l->env);
    if (mdb_rc != MDB_SUCCESS) {
        l->env = NULL;
        goto out_free_store;
    }
    call = "mdb_env_set_maxdbs";
    mdb_rc = mdb_env_set_maxdbs(l->env, RK_DB_COUNT);
    if (mdb_rc != MDB_SUCCESS) {
        goto out_free_store;
    }
    call = "mdb_env_set_mapsize";
    mdb_rc = mdb_env_set_mapsize(l->env, (size_t)lmdb_map_bytes(opts));
    if (mdb_rc != MDB_SUCCESS) {
        goto out_free_store;
    }
    /* MDB_NOTLS: read transactions are not tied to a thread (see the header). */
    call = "mdb_env_open";
    mdb_rc = mdb_env_open(l->env, opts->dir, MDB_NOTLS, LMDB_FILE_MODE);
    if (mdb_rc != MDB_SUCCESS) {
        goto out_free_store;
    }
    rc = lmdb_open_dbis(l, err, err_len);
    if (rc == 0) {
        rc = lmdb_wal_recover(l, opts, err, err_len);
    }
    if (rc != 0) {
        lmdb_free(l);
        return rc;
    }
    *out = &l->base;
    return 0;

out_free_store:
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "lmdb: %s %s: %s", call, opts->dir, mdb_strerror(mdb_rc));
    }
    rc = mdb_rc == MDB_MAP_FULL ? RK_ENOSPC : RK_EIO;
    lmdb_free(l);   /* mdb_env_close also undoes a failed mdb_env_open */
    return rc;
}

static const rk_store_ops lmdb_ops = {
    .name = "lmdb",
    .durable = true,
    .get = lmdb_get,
    .write = lmdb_write,
    .iterate = lmdb_iterate,
    .sync = lmdb_sync,
    .checkpoint = lmdb_checkpoint,
    .durable_seq = lmdb_durable_seq,
    .close = lmdb_close,
    .last_error = lmdb_last_error,
};
