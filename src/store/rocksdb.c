/* rocksdb.c — the `rocksdb` engine on RocksDB's C API (librocksdb 7.8, <rocksdb/c.h>). Owns one
 * RocksDB database in the subdirectory "rocksdb" of the data directory (so it never mixes with
 * another engine's files or the runtime's ringkvd.lock), its column families, and the mapping
 * of store.h's sequence numbers onto RocksDB's write-ahead log. The data directory lock (one
 * process per directory) is the runtime's business; RocksDB's own LOCK file is a second guard.
 *
 * Sub-databases are column families "data", "hints", "meta" and "elems" ("default" exists because
 * RocksDB insists, and stays empty). Chosen over a 1-byte key prefix because each family gets its
 * own memtables and SST files (a scan of the small meta family never reads past data blocks),
 * iteration bounds are the caller's keys as they are, and one WriteBatch still spans
 * families atomically through the one shared WAL. The cost: the WAL holds the oldest unflushed
 * write of any family, so a rarely written family could pin old logs; max_total_wal_size
 * bounds that by flushing the family that holds the oldest log. Keys sort with RocksDB's
 * default comparator, bytewise (memcmp, shorter first on a common prefix), as store.h asks.
 *
 * Writes and sync. write() applies one WriteBatch per call with WriteOptions sync=false and
 * the WAL on (never disableWAL): the batch is in the memtable, so get and iterate see it at
 * once, and in the WAL (its write buffer, see below), then takes the next seq (1, 2, 3, ... per
 * open store) on the loop thread. sync(seq), on the runtime's worker thread, reads the seq
 * counter first and then calls FlushWAL(sync=true) (rocksdb_flush_wal(db, 1)): one fdatasync
 * of the WAL covers every write that was in it, including those that arrived while the
 * previous sync ran (group commit). Every write numbered up to the counter read before the
 * flush was in the WAL before it, so durable_seq may move to min(seq, that value) once the
 * flush returns. manual_wal_flush is on: a write appends to RocksDB's in-memory WAL buffer
 * without a write() syscall, and FlushWAL writes the buffer out and syncs it (docs/storage.md
 * has the measurement that chose it). RocksDB serialises FlushWAL with writers on its log
 * mutex, so sync may run concurrently with write, get and iterate on the loop thread; one
 * mutex here keeps syncs (the worker, and close) one at a time.
 *
 * A failed sync: deviation from store.h. The contract says the writes a failed sync covered
 * are rolled back. RocksDB cannot un-write them: they stay in the memtable, visible to get and
 * iterate, and whether they reach the disk is unknown. So a failed sync makes the store refuse
 * every later write and sync with RK_EIO, and last_error keeps RocksDB's text: durable_seq
 * never passes the last good sync, nothing later is acknowledged, and the node's handling of a
 * sync error (it stops acknowledging and needs a restart) applies. After a restart RocksDB
 * recovers whatever prefix of its WAL is intact.
 *
 * Options (rocks_options_new): create_if_missing and create_missing_column_families; one LRU
 * block cache of ROCKS_BLOCK_CACHE_BYTES shared by the families; a full bloom filter of
 * ROCKS_BLOOM_BITS_PER_KEY bits per key (point gets of absent keys are common: reads of new
 * keys, hints); LZ4 compression (the Debian build links it); at most ROCKS_OPEN_FILES_MAX open
 * SST files; background jobs sized for a small machine; a bounded info LOG. RocksDB grows its
 * files as needed: there is no map size and the store does not fill up short of the disk.
 * rk_store_options: `dir` is used; map_bytes and wal are LMDB's and ignored; sync_each_commit
 * is ignored because no write syncs by itself (sync does). checkpoint is NULL: RocksDB flushes
 * memtables and compacts on its own threads. */
#include "store.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROCKS_SUBDIR               "rocksdb"
#define ROCKS_PATH_BYTES_MAX       4200u
#define ROCKS_ERROR_BYTES_MAX      512u
#define ROCKS_BLOCK_CACHE_BYTES    (64u << 20)  /* hot blocks of a node's share of the keys */
#define ROCKS_BLOOM_BITS_PER_KEY   10.0         /* ~1% false positives */
#define ROCKS_OPEN_FILES_MAX       512          /* well under a default RLIMIT_NOFILE of 1024 */
#define ROCKS_BACKGROUND_JOBS      2            /* flush + compaction on a 2-core machine */
#define ROCKS_WAL_TOTAL_BYTES_MAX  (256ull << 20) /* bounds WAL kept alive by a quiet family */
#define ROCKS_LOG_FILE_BYTES_MAX   (8u << 20)   /* RocksDB's info LOG, rotated */
#define ROCKS_LOG_FILES_KEPT       4
#define ROCKS_FAMILY_COUNT         (RK_DB_COUNT + 1) /* "default" first */

static const char *const rocks_family_names[ROCKS_FAMILY_COUNT] = {"default", "data", "hints",
                                                                   "meta", "elems"};
_Static_assert(RK_DB_DATA == 0 && RK_DB_HINTS == 1 && RK_DB_META == 2 && RK_DB_ELEMS == 3,
               "family i + 1 holds rk_db i");

typedef struct rocks_store {
    rk_store base;
    rocksdb_t *db;
    rocksdb_column_family_handle_t *families[ROCKS_FAMILY_COUNT];
    rocksdb_writeoptions_t *write_options;
    rocksdb_readoptions_t *read_options;
    rocksdb_writebatch_t *batch;    /* reused by write(): one thread at a time */
    pthread_mutex_t sync_lock;      /* one sync at a time: the worker, and close */
    pthread_mutex_t error_lock;     /* last_error */
    _Atomic uint64_t seq_last;      /* written by write() only, after the batch is in */
    _Atomic uint64_t durable_seq;   /* written by sync() only, under sync_lock */
    _Atomic bool failed;            /* a sync failed: refuse writes and syncs from now on */
    _Atomic bool fail_next_sync;    /* tests: the next sync fails as if RocksDB had */
    char last_error[ROCKS_ERROR_BYTES_MAX];
} rocks_store;

static const rk_store_ops rocks_ops;

static rocks_store *rocks_from(rk_store *s)
{
    RK_ASSERT(s != NULL);
    RK_ASSERT(s->ops == &rocks_ops);
    return (rocks_store *)s;
}

static rocksdb_column_family_handle_t *rocks_family(rocks_store *r, rk_db db)
{
    RK_ASSERT((unsigned)db < RK_DB_COUNT);
    return r->families[db + 1];
}

/* Record RocksDB's text for a failed `call`, free it, and turn it into an RK_E* code. */
static int rocks_fail(rocks_store *r, const char *call, char *rocks_err)
{
    RK_ASSERT(rocks_err != NULL);
    int rc = strstr(rocks_err, "No space left") != NULL ? RK_ENOSPC : RK_EIO;
    int lock_rc = pthread_mutex_lock(&r->error_lock);
    RK_ASSERT(lock_rc == 0);
    snprintf(r->last_error, sizeof(r->last_error), "%s: %s", call, rocks_err);
    lock_rc = pthread_mutex_unlock(&r->error_lock);
    RK_ASSERT(lock_rc == 0);
    rocksdb_free(rocks_err);
    return rc;
}

static const char *rocks_last_error(rk_store *s)
{
    return rocks_from(s)->last_error;
}

/* ---- reads ---------------------------------------------------------------------------- */

static int rocks_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    rocks_store *r = rocks_from(s);
    char *err = NULL;
    rocksdb_pinnableslice_t *p = rocksdb_get_pinned_cf(
        r->db, r->read_options, rocks_family(r, db), (const char *)key, key_len, &err);
    if (err != NULL) {
        return rocks_fail(r, "rocksdb_get", err);
    }
    if (p == NULL) {
        return RK_ENOTFOUND;
    }
    size_t len = 0;
    const char *value = rocksdb_pinnableslice_value(p, &len);
    int rc = 0;
    out->data = malloc(len > 0 ? len : 1);     /* an empty value is still a value */
    if (out->data == NULL) {
        rc = RK_ENOMEM;
    } else {
        if (len > 0) {
            memcpy(out->data, value, len);
        }
        out->len = len;
    }
    rocksdb_pinnableslice_destroy(p);
    return rc;
}

/* Walk `it` (already positioned) until it runs out, `fn` stops, or RocksDB fails. */
static int rocks_iterate_walk(rocks_store *r, rocksdb_iterator_t *it, rk_store_iter_fn fn,
                              void *ctx)
{
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t key_len = 0;
        size_t value_len = 0;
        const char *key = rocksdb_iter_key(it, &key_len);
        const char *value = rocksdb_iter_value(it, &value_len);
        int rc = fn(ctx, (const uint8_t *)key, key_len, (const uint8_t *)value, value_len);
        if (rc != 0) {
            return rc > 0 ? 0 : rc;
        }
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    return err != NULL ? rocks_fail(r, "rocksdb_iter", err) : 0;
}

static int rocks_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                         const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    rocks_store *r = rocks_from(s);
    if (end != NULL && end_len == 0) {
        return 0;       /* nothing sorts before the empty key */
    }
    /* Own read options per call: the upper bound is this call's, and a get nested in `fn`
     * uses the shared ones. The iterator reads an implicit snapshot taken here. */
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (ro == NULL) {
        return RK_ENOMEM;
    }
    if (end != NULL) {
        rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)end, end_len);
    }
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(r->db, ro, rocks_family(r, db));
    if (start != NULL) {
        rocksdb_iter_seek(it, (const char *)start, start_len);
    } else {
        rocksdb_iter_seek_to_first(it);
    }
    int rc = rocks_iterate_walk(r, it, fn, ctx);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}

/* ---- writes and sync ------------------------------------------------------------------ */

static int rocks_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out)
{
    rocks_store *r = rocks_from(s);
    if (atomic_load(&r->failed)) {
        return RK_EIO;      /* a lost fsync: acknowledge nothing more (see the header) */
    }
    rocksdb_writebatch_clear(r->batch);
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        rocksdb_column_family_handle_t *family = rocks_family(r, op->db);
        if (op->kind == RK_BATCH_PUT) {
            const char *value = op->value != NULL ? (const char *)op->value : "";
            rocksdb_writebatch_put_cf(r->batch, family, (const char *)op->key, op->key_len,
                                      value, op->value_len);
        } else {
            RK_ASSERT(op->kind == RK_BATCH_DEL);
            rocksdb_writebatch_delete_cf(r->batch, family, (const char *)op->key, op->key_len);
        }
    }
    char *err = NULL;
    rocksdb_write(r->db, r->write_options, r->batch, &err);
    if (err != NULL) {
        return rocks_fail(r, "rocksdb_write", err);
    }
    /* Numbered only once in the WAL: a sync that reads this seq covers the batch. */
    uint64_t seq = atomic_load(&r->seq_last) + 1;
    atomic_store(&r->seq_last, seq);
    *seq_out = seq;
    return 0;
}

static int rocks_sync(rk_store *s, uint64_t seq)
{
    rocks_store *r = rocks_from(s);
    int lock_rc = pthread_mutex_lock(&r->sync_lock);
    RK_ASSERT(lock_rc == 0);
    int rc = 0;
    uint64_t last = atomic_load(&r->seq_last);     /* before the flush: see the header */
    uint64_t target = seq < last ? seq : last;
    if (atomic_load(&r->failed)) {
        rc = RK_EIO;
    } else if (target > atomic_load(&r->durable_seq)) {
        char *err = NULL;
        if (atomic_exchange(&r->fail_next_sync, false)) {
            err = strdup("IO error: injected by rk_store_rocksdb_fail_next_sync_for_test");
            RK_ASSERT(err != NULL);
        } else {
            rocksdb_flush_wal(r->db, 1, &err);
        }
        if (err != NULL) {
            atomic_store(&r->failed, true);
            rc = rocks_fail(r, "rocksdb_flush_wal", err);
        } else {
            atomic_store(&r->durable_seq, target);
        }
    }
    lock_rc = pthread_mutex_unlock(&r->sync_lock);
    RK_ASSERT(lock_rc == 0);
    return rc;
}

static uint64_t rocks_durable_seq(rk_store *s)
{
    return atomic_load(&rocks_from(s)->durable_seq);
}

void rk_store_rocksdb_fail_next_sync_for_test(rk_store *s)
{
    atomic_store(&rocks_from(s)->fail_next_sync, true);
}

/* ---- open and close ------------------------------------------------------------------- */

static void rocks_free(rocks_store *r)
{
    for (int i = 0; i < ROCKS_FAMILY_COUNT; i++) {
        if (r->families[i] != NULL) {
            rocksdb_column_family_handle_destroy(r->families[i]);
        }
    }
    if (r->db != NULL) {
        rocksdb_close(r->db);
    }
    if (r->batch != NULL) {
        rocksdb_writebatch_destroy(r->batch);
    }
    if (r->read_options != NULL) {
        rocksdb_readoptions_destroy(r->read_options);
    }
    if (r->write_options != NULL) {
        rocksdb_writeoptions_destroy(r->write_options);
    }
    pthread_mutex_destroy(&r->error_lock);
    pthread_mutex_destroy(&r->sync_lock);
    free(r);
}

static void rocks_close(rk_store *s)
{
    rocks_store *r = rocks_from(s);
    /* Like lmdb, close makes what is pending durable (the WAL buffer would otherwise be lost
     * with manual_wal_flush); a failure here is lost as in a crash (store.h). */
    (void)rocks_sync(s, UINT64_MAX);
    rocks_free(r);
}

/* The options of the database and of every family (see the header for the choices). */
static rocksdb_options_t *rocks_options_new(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_increase_parallelism(o, ROCKS_BACKGROUND_JOBS);
    rocksdb_options_set_max_open_files(o, ROCKS_OPEN_FILES_MAX);
    rocksdb_options_set_max_total_wal_size(o, ROCKS_WAL_TOTAL_BYTES_MAX);
    rocksdb_options_set_max_log_file_size(o, ROCKS_LOG_FILE_BYTES_MAX);
    rocksdb_options_set_keep_log_file_num(o, ROCKS_LOG_FILES_KEPT);
    rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_manual_wal_flush(o, 1);

    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(ROCKS_BLOCK_CACHE_BYTES);
    rocksdb_block_based_options_set_block_cache(t, cache);   /* shares it */
    rocksdb_block_based_options_set_filter_policy(              /* takes it */
        t, rocksdb_filterpolicy_create_bloom_full(ROCKS_BLOOM_BITS_PER_KEY));
    rocksdb_options_set_block_based_table_factory(o, t);         /* copies t */
    rocksdb_block_based_options_destroy(t);
    rocksdb_cache_destroy(cache);   /* the table factory keeps its reference */
    return o;
}

static int rocks_open_db(rocks_store *r, const char *path, char *err, size_t err_len)
{
    rocksdb_options_t *o = rocks_options_new();
    const rocksdb_options_t *family_options[ROCKS_FAMILY_COUNT];
    for (int i = 0; i < ROCKS_FAMILY_COUNT; i++) {
        family_options[i] = o;
    }
    char *rocks_err = NULL;
    r->db = rocksdb_open_column_families(o, path, ROCKS_FAMILY_COUNT, rocks_family_names,
                                         family_options, r->families, &rocks_err);
    rocksdb_options_destroy(o);
    if (rocks_err != NULL) {
        r->db = NULL;
        memset(r->families, 0, sizeof(r->families));
        if (err != NULL && err_len > 0) {
            snprintf(err, err_len, "rocksdb: open %s: %s", path, rocks_err);
        }
        return rocks_fail(r, "rocksdb_open", rocks_err);
    }
    return 0;
}

int rk_store_rocksdb_open(const rk_store_options *opts, rk_store **out, char *err,
                          size_t err_len)
{
    RK_ASSERT(opts != NULL);
    RK_ASSERT(out != NULL);
    *out = NULL;
    if (opts->dir == NULL) {
        return RK_EINVAL;
    }
    char path[ROCKS_PATH_BYTES_MAX];
    int path_len = snprintf(path, sizeof(path), "%s/%s", opts->dir, ROCKS_SUBDIR);
    if (path_len < 0 || (size_t)path_len >= sizeof(path)) {
        return RK_EINVAL;
    }
    rocks_store *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return RK_ENOMEM;
    }
    r->base.ops = &rocks_ops;
    if (pthread_mutex_init(&r->sync_lock, NULL) != 0) {
        free(r);
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&r->error_lock, NULL) != 0) {
        pthread_mutex_destroy(&r->sync_lock);
        free(r);
        return RK_ENOMEM;
    }
    r->write_options = rocksdb_writeoptions_create();
    r->read_options = rocksdb_readoptions_create();
    r->batch = rocksdb_writebatch_create();
    if (r->write_options == NULL || r->read_options == NULL || r->batch == NULL) {
        rocks_free(r);
        return RK_ENOMEM;
    }
    rocksdb_writeoptions_set_sync(r->write_options, 0);      /* sync() is the one fsync */
    rocksdb_writeoptions_disable_WAL(r->write_options, 0);   /* never without the WAL */
    int rc = rocks_open_db(r, path, err, err_len);
    if (rc != 0) {
        rocks_free(r);
        return rc;
    }
    *out = &r->base;
    return 0;
}

static const rk_store_ops rocks_ops = {
    .name = "rocksdb",
    .durable = true,
    .get = rocks_get,
    .write = rocks_write,
    .iterate = rocks_iterate,
    .sync = rocks_sync,
    .checkpoint = NULL,
    .durable_seq = rocks_durable_seq,
    .close = rocks_close,
    .last_error = rocks_last_error,
};
