/* wal.h — the lmdb engine's redo log (write-ahead log): one append-only file, `wal.log` in the
 * data directory, of records that each hold one batch of store.h ops with full values or
 * deletions. Owns the file, its append offset, the record format and its validation; what the
 * records mean, when to append and when to checkpoint them into LMDB are lmdb_wal.c's business.
 *
 * Why. A group commit on LMDB writes every copy-on-write page it touched, scattered over the
 * file (about 17 for 24 random keys), then the meta page, then fsyncs: about 0.67 ms. Appending
 * the same batches to one file and fdatasyncing that costs about 0.15 ms. So the
 * acknowledgement waits for the log, and the scattered LMDB writes happen later, many groups in
 * one commit (the "checkpoint" of ARIES and of SQLite's WAL mode; redo-only, since a record
 * carries full values and replaying it twice gives the same state).
 *
 * Record, little-endian: [u32 payload_len][u64 seq][u32 crc][payload], where crc is CRC-32C
 * (Castagnoli) over payload_len, seq and payload, seq is the last batch's, and payload is
 * [u32 batch_count] then per batch [u64 seq][u32 op_count] and per op
 * [u8 kind][u8 db][u16 key_len][u32 value_len][key][value]. One record holds one group: the
 * batches one sync makes durable, with one write and one fdatasync. Seqs increase within a
 * file. One record per group, not per batch, because a crash during the write may persist its
 * pages in any order: a torn group is then one torn record at the tail, never a bad record with
 * a good one behind it. So after a crash the last record may be torn (short, zeros, or failing
 * its crc) and replay stops there; but a bad record with a valid later one (higher seq) behind
 * it was damaged after its fdatasync returned, i.e. the disk lost acknowledged writes, and
 * replay refuses with RK_ECORRUPT rather than guess.
 *
 * Not thread-safe: the lmdb engine calls it under its sync lock (the worker, or open and close). */
#ifndef RK_WAL_H
#define RK_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define RK_WAL_FILE_NAME       "wal.log"
#define RK_WAL_HEADER_BYTES       16u   /* u32 payload_len, u64 seq, u32 crc */
#define RK_WAL_GROUP_HEADER_BYTES 4u    /* u32 batch_count, first in the payload */
#define RK_WAL_BATCH_HEADER_BYTES 12u   /* u64 seq, u32 op_count */
#define RK_WAL_OP_HEADER_BYTES    8u    /* u8 kind, u8 db, u16 key_len, u32 value_len */
/* The largest payload a record may hold; a batch that would encode larger is refused with
 * RK_ETOOBIG, and a group larger than this is split over several appends. Well within u32,
 * and replay reads the file into memory. */
#define RK_WAL_PAYLOAD_BYTES_MAX (1u << 30)
#define RK_WAL_ERROR_BYTES     256u
_Static_assert(RK_LMDB_KEY_BYTES_MAX <= UINT16_MAX, "key_len is a u16 in a record");
_Static_assert(RK_VALUE_BYTES_MAX <= UINT32_MAX, "value_len is a u32 in a record");

typedef struct rk_wal {
    int fd;                 /* -1 when closed */
    uint64_t end_bytes;     /* where the next record goes: the valid prefix after replay */
    bool broken;            /* a failed append could not be undone: every append fails */
    char error[RK_WAL_ERROR_BYTES];     /* the OS text of the last failure */
} rk_wal;

/* Encoding a record: reserve RK_WAL_HEADER_BYTES + RK_WAL_GROUP_HEADER_BYTES, encode each
 * batch after them, then seal the record. */

/* Bytes batch `ops` takes inside a record; 0 if that alone would pass RK_WAL_PAYLOAD_BYTES_MAX
 * (with the group header). */
size_t rk_wal_batch_bytes(const rk_batch_op *ops, size_t op_count);
/* Encode one batch at `out` (rk_wal_batch_bytes(ops, op_count) bytes, which must not be 0). */
void rk_wal_batch_encode(uint64_t seq, const rk_batch_op *ops, size_t op_count, uint8_t *out);
/* Fill in the headers of the record at `record` whose batches (`batch_count`, the last with
 * seq `seq_last`) take record_bytes - RK_WAL_HEADER_BYTES - RK_WAL_GROUP_HEADER_BYTES bytes. */
void rk_wal_record_seal(uint8_t *record, size_t record_bytes, uint32_t batch_count,
                        uint64_t seq_last);

/* Open (creating it when `create`) `dir`/wal.log. Returns 0; 1 if it does not exist and
 * `create` is false (w stays closed); RK_EIO with the OS text in w->error. */
int rk_wal_open(rk_wal *w, const char *dir, bool create);

/* Called for each valid record in order; borrows ops (keys and values point into the read
 * buffer) for the call only. Return 0 to go on or a negative RK_E* to stop with it. */
typedef int (*rk_wal_replay_fn)(void *ctx, uint64_t seq, const rk_batch_op *ops,
                                size_t op_count);

/* Read the whole file, validate it, and hand every record of the valid prefix to `fn`; a torn
 * tail is ignored. Returns the number of records, RK_ECORRUPT (w->error names the offset) when
 * a bad record has a valid one behind it (then `fn` was never called), RK_EIO, RK_ENOMEM, or
 * fn's error. Sets end_bytes to the valid prefix; call rk_wal_reset before appending. */
int rk_wal_replay(rk_wal *w, rk_wal_replay_fn fn, void *ctx);

/* Append `len` bytes of encoded records at end_bytes with one write and make them durable
 * with one fdatasync. Returns 0, or RK_EIO (text in w->error); on failure the file is cut
 * back to where it was, and if even that fails the log is broken and refuses every append. */
int rk_wal_append(rk_wal *w, const uint8_t *records, size_t len);

/* Empty the file, durably (every record in it is in LMDB). 0 or RK_EIO. */
int rk_wal_reset(rk_wal *w);

/* Close the file (nothing pending: appends are durable when they return). */
void rk_wal_close(rk_wal *w);

/* CRC-32C of `len` bytes continuing from `crc` (0 to start); exported for the tests. */
uint32_t rk_wal_crc32c(uint32_t crc, const uint8_t *data, size_t len);

#endif
