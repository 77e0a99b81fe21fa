/* store.h — the storage engine interface: get, put, delete, atomic batches, ordered iteration
 * over a key range, sync and close, behind which sit the engines `mem` (tests, simulator),
 * `lmdb` (the durable default) and `rocksdb` (durable, an LSM tree; rocksdb.c). Owns nothing but the vtable; each engine owns its data.
 *
 * Durability is a sequence number, not a blocking call (DESIGN.md): every successful write
 * returns the batch's sequence number `seq` (1, 2, 3, ... per open store). Writes are visible to
 * get/iterate at once. They are durable only once rk_store_sync(store, s) with s >= seq has
 * returned 0. The node asks the runtime to call sync (env->sync); the real runtime calls it on a
 * worker thread, so an engine must allow rk_store_sync from one other thread concurrently with
 * the other calls made from the loop thread. Every other call is made from one thread at a time.
 *
 * Sub-databases: RK_DB_DATA holds objects, RK_DB_HINTS hinted replicas (a later issue),
 * RK_DB_META node metadata (epochs, bucket properties), RK_DB_ELEMS the member rows of sets
 * stored by element (src/core/setrows.h). Keys sort bytewise (memcmp, shorter
 * first on a common prefix) in every engine. */
#ifndef RK_STORE_H
#define RK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/common.h"

typedef enum rk_db {
    RK_DB_DATA = 0,
    RK_DB_HINTS = 1,
    RK_DB_META = 2,
    RK_DB_ELEMS = 3,
} rk_db;
#define RK_DB_COUNT 4

typedef struct rk_store rk_store;

/* An owned byte buffer returned by the store; free with rk_store_buf_free. */
typedef struct rk_buf {
    uint8_t *data;
    size_t len;
} rk_buf;
void rk_store_buf_free(rk_buf *buf);

typedef enum rk_batch_op_kind {
    RK_BATCH_PUT = 1,
    RK_BATCH_DEL = 2,
} rk_batch_op_kind;

/* One operation of an atomic batch. Borrowed: the store copies key and value. */
typedef struct rk_batch_op {
    rk_batch_op_kind kind;
    rk_db db;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;   /* RK_BATCH_PUT only */
    size_t value_len;
} rk_batch_op;

#define RK_BATCH_OPS_MAX 1024u  /* a batch is one transaction; bounded so one write stays small */

/* Called for each entry of an iteration, in key order; borrows key and value for the call
 * only. Return 0 to go on, 1 to stop early, a negative RK_E* to stop with that error. */
typedef int (*rk_store_iter_fn)(void *ctx, const uint8_t *key, size_t key_len,
                                const uint8_t *value, size_t value_len);

typedef struct rk_store_ops {
    const char *name;
    bool durable;   /* false: sync completes at once, a crash of the process loses everything */
    int (*get)(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out);
    int (*write)(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out);
    int (*iterate)(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                   const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx);
    int (*sync)(rk_store *s, uint64_t seq);
    int (*checkpoint)(rk_store *s);     /* NULL: nothing to checkpoint (mem) */
    uint64_t (*durable_seq)(rk_store *s);
    void (*close)(rk_store *s);
    /* Text of the engine's last failure (e.g. LMDB's mdb_strerror); NULL means "" always. */
    const char *(*last_error)(rk_store *s);
} rk_store_ops;

struct rk_store {
    const rk_store_ops *ops;
};

typedef struct rk_store_options {
    const char *engine;       /* "lmdb" (default), "rocksdb" or "mem" */
    const char *dir;          /* data directory (lmdb, rocksdb); must exist */
    uint64_t map_bytes;       /* lmdb map size; 0 means auto (rk_store_lmdb_auto_map_bytes) */
    bool sync_each_commit;    /* false: under sync=none, commits skip fsync (lmdb) */
    bool wal;                 /* lmdb: sync appends to a redo log, LMDB commits in checkpoints */
} rk_store_options;
/* map-size auto (the default): LMDB reserves address space, not disk, so the map is sized at
 * open to everything the file system could still give it: the data file as it is plus the
 * free space, at least RK_STORE_MAP_BYTES_MIN_AUTO, at most RK_STORE_MAP_BYTES_MAX. The store
 * then fills only when the disk does (a write then gets RK_ENOSPC), not at a fixed size a user
 * meets after an afternoon of 16 KiB values. A restart after the disk grew picks the room up. */
#define RK_STORE_MAP_BYTES_MIN_AUTO (1ull << 30)
#define RK_STORE_MAP_BYTES_MAX      (1ull << 44)  /* 16 TiB of address space */
uint64_t rk_store_lmdb_auto_map_bytes(const char *dir);
/* lmdb keeps writes in memory until a sync commits them; past this many key and value bytes
 * waiting, a write is refused with RK_EBUSY (one batch alone is always taken). It only bites a
 * runtime that stopped syncing: memory stays bounded instead of growing until the OOM killer. */
#define RK_LMDB_PENDING_BYTES_MAX (256ull << 20)

/* Open the engine named in `opts`. Returns 0 and an owned store in *out (close with
 * rk_store_close), RK_EINVAL for an unknown engine, RK_EIO (the OS error is written to
 * `err`, up to err_len bytes) when the engine cannot open its files. */
int rk_store_open(const rk_store_options *opts, rk_store **out, char *err, size_t err_len);

/* Fetch a value: 0 and an owned buffer in *out, RK_ENOTFOUND, or RK_EIO. */
int rk_store_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out);

/* Apply `ops` atomically; on success *seq_out holds the batch's sequence number. Returns
 * RK_EINVAL (a key of length 0 or over RK_LMDB_KEY_BYTES_MAX, op_count 0 or above
 * RK_BATCH_OPS_MAX, an unknown db or op kind), RK_ETOOBIG (a value over RK_VALUE_BYTES_MAX),
 * RK_ENOSPC (no room), RK_ENOMEM, RK_EBUSY (lmdb: more than RK_LMDB_PENDING_BYTES_MAX wait
 * for a sync; sync, then retry), RK_EIO. On error nothing was applied. */
int rk_store_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out);
int rk_store_put(rk_store *s, rk_db db, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len, uint64_t *seq_out);
int rk_store_del(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, uint64_t *seq_out);

/* Visit entries with start <= key < end in key order (end NULL: to the last key; start NULL:
 * from the first). Sees every write made before the call. `fn` may read the store but must not
 * write to it (the mem engine walks its live table). */
int rk_store_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                     const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx);

/* Make every write with sequence number <= seq durable. May block (fsync); may be called from
 * one worker thread concurrently with the other calls. Returns 0, RK_ENOSPC or RK_EIO; after an
 * error the writes it could not make durable are rolled back (gone from get and iterate) and
 * every later sync also covers them no more. A seq beyond the last write means every write so
 * far (UINT64_MAX: "everything"); durable_seq then becomes the last write's seq. */
int rk_store_sync(rk_store *s, uint64_t seq);

/* lmdb with `wal`: sync makes writes durable by appending them to the redo log (wal.h) and
 * keeps them in memory; a checkpoint applies the durable ones to LMDB in ordinary commits and
 * empties the log. sync runs one itself past a size or count threshold (after the append, so
 * durability never waits for it, though that sync returns later), and close runs one.
 * If a checkpoint fails (RK_ENOSPC: the map is full; RK_EIO), the writes stay durable in the
 * log and readable, and every later write is refused with that code until a checkpoint
 * succeeds (raise map-size and restart: open replays the log into LMDB; an open that cannot
 * replay it fails with RK_ENOSPC, RK_EIO or RK_ECORRUPT, and a message in `err`). Open also
 * replays a log left by a crash, whether or not `wal` is on now. With `wal`, a batch whose
 * log record would pass RK_WAL_PAYLOAD_BYTES_MAX (1 GiB) is refused with RK_ETOOBIG.
 * Same threads as sync. Returns 0, RK_ENOSPC or RK_EIO; 0 at once for engines without. */
int rk_store_checkpoint(rk_store *s);

/* The engine's own text for its last failure (LMDB's mdb_strerror, with the call that failed),
 * for logs next to rk_strerror(rc); "" if none or the engine keeps none (mem). Never NULL. The
 * text belongs to the store; read it on the thread that saw the error, before the next call. */
const char *rk_store_last_error(rk_store *s);

/* The highest sequence number known durable. */
uint64_t rk_store_durable_seq(rk_store *s);
bool rk_store_is_durable(const rk_store *s);
const char *rk_store_engine_name(const rk_store *s);
/* Close and free the store (NULL is fine). lmdb first syncs what is pending; a failure there is
 * lost as in a crash, so a caller that must know calls rk_store_sync(s, UINT64_MAX) first. */
void rk_store_close(rk_store *s);

/* Engines. */
int rk_store_mem_open(rk_store **out);
int rk_store_lmdb_open(const rk_store_options *opts, rk_store **out, char *err, size_t err_len);
/* RocksDB in opts->dir/rocksdb (created if missing; opts->dir must exist). Its sync cannot roll
 * back: after a failed sync every later write and sync fails with RK_EIO (rocksdb.c). */
int rk_store_rocksdb_open(const rk_store_options *opts, rk_store **out, char *err,
                          size_t err_len);

/* The mem engine's crash layer (tests and simulator). A mem store opened with
 * rk_store_mem_open keeps an undo log of writes not yet synced:
 *  - rk_store_mem_crash drops every write after the last successful sync, as a power loss would;
 *  - rk_store_mem_fail_at makes the nth store operation from now (1 = the next get, write,
 *    iterate or sync) fail with RK_ECRASHED, once (`sticky` false) or from then on (true);
 *    n = 0 switches injection off. A failed call did nothing (a failed sync rolls back the writes
 *    it covered, as the sync contract says); callers usually crash the store next.
 * rk_store_mem_crash also switches injection off (the process that crashed is gone); sequence
 * numbers go on from the last one handed out, so a stale sync(seq) cannot cover new writes.
 * Sync is what trims the undo log: a runtime using mem must call rk_store_sync (it does, on the
 * loop thread, as soon as a sync is asked for). */
void rk_store_mem_crash(rk_store *s);
/* Free an lmdb store without syncing or checkpointing, as kill -9 would (tests): what was
 * synced is in LMDB or the WAL, the rest is gone. */
void rk_store_lmdb_crash_for_test(rk_store *s);
/* Make the next sync of a rocksdb store that has something to sync fail as a failed WAL fsync
 * would (tests). */
void rk_store_rocksdb_fail_next_sync_for_test(rk_store *s);
void rk_store_mem_fail_at(rk_store *s, uint64_t n, bool sticky);
/* Count of live entries in `db` (tests). */
size_t rk_store_mem_count(rk_store *s, rk_db db);

#endif
