/* wal.c — the redo log (see wal.h). */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_FILE_MODE     0640
#define WAL_PATH_BYTES    4096u
#define WAL_CRC32C_POLY   0x82F63B78u   /* Castagnoli, reflected */

/* ---- CRC-32C ---------------------------------------------------------------------------- */

static uint32_t wal_crc_table[256];
static pthread_once_t wal_crc_once = PTHREAD_ONCE_INIT;

static void wal_crc_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++) {
            c = (c & 1u) ? (c >> 1) ^ WAL_CRC32C_POLY : c >> 1;
        }
        wal_crc_table[i] = c;
    }
}

uint32_t rk_wal_crc32c(uint32_t crc, const uint8_t *data, size_t len)
{
    int rc = pthread_once(&wal_crc_once, wal_crc_table_init);
    RK_ASSERT(rc == 0);
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc = wal_crc_table[(crc ^ data[i]) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- encoding --------------------------------------------------------------------------- */

static void wal_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wal_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void wal_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint16_t wal_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t wal_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t wal_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* The crc covers payload_len and seq too: a record torn or shifted in its header fails. */
static uint32_t wal_record_crc(const uint8_t *record, size_t payload_len)
{
    uint32_t crc = rk_wal_crc32c(0, record, 12);
    return rk_wal_crc32c(crc, record + RK_WAL_HEADER_BYTES, payload_len);
}

size_t rk_wal_batch_bytes(const rk_batch_op *ops, size_t op_count)
{
    uint64_t bytes = RK_WAL_BATCH_HEADER_BYTES;
    for (size_t i = 0; i < op_count; i++) {
        size_t value_len = ops[i].kind == RK_BATCH_PUT ? ops[i].value_len : 0;
        /* store.c bounds keys by 511 and values by RK_VALUE_BYTES_MAX: no overflow. */
        bytes += RK_WAL_OP_HEADER_BYTES + ops[i].key_len + value_len;
    }
    if (bytes > RK_WAL_PAYLOAD_BYTES_MAX - RK_WAL_GROUP_HEADER_BYTES) {
        return 0;
    }
    return (size_t)bytes;
}

void rk_wal_batch_encode(uint64_t seq, const rk_batch_op *ops, size_t op_count, uint8_t *out)
{
    RK_ASSERT(op_count >= 1);
    RK_ASSERT(op_count <= RK_BATCH_OPS_MAX);
    size_t batch_bytes = rk_wal_batch_bytes(ops, op_count);
    RK_ASSERT(batch_bytes > 0);
    wal_put_u64(out, seq);
    wal_put_u32(out + 8, (uint32_t)op_count);
    uint8_t *at = out + RK_WAL_BATCH_HEADER_BYTES;
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        size_t value_len = op->kind == RK_BATCH_PUT ? op->value_len : 0;
        at[0] = (uint8_t)op->kind;
        at[1] = (uint8_t)op->db;
        wal_put_u16(at + 2, (uint16_t)op->key_len);
        wal_put_u32(at + 4, (uint32_t)value_len);
        at += RK_WAL_OP_HEADER_BYTES;
        memcpy(at, op->key, op->key_len);
        at += op->key_len;
        if (value_len > 0) {
            memcpy(at, op->value, value_len);
            at += value_len;
        }
    }
    RK_ASSERT(at == out + batch_bytes);
}

void rk_wal_record_seal(uint8_t *record, size_t record_bytes, uint32_t batch_count,
                        uint64_t seq_last)
{
    RK_ASSERT(batch_count >= 1);
    RK_ASSERT(record_bytes > RK_WAL_HEADER_BYTES + RK_WAL_GROUP_HEADER_BYTES);
    size_t payload_len = record_bytes - RK_WAL_HEADER_BYTES;
    RK_ASSERT(payload_len <= RK_WAL_PAYLOAD_BYTES_MAX);
    wal_put_u32(record, (uint32_t)payload_len);
    wal_put_u64(record + 4, seq_last);
    wal_put_u32(record + RK_WAL_HEADER_BYTES, batch_count);
    wal_put_u32(record + 12, wal_record_crc(record, payload_len));
}

/* Decode one batch at `at` (`len` bytes left in the payload) into `ops` (NULL: only validate).
 * Returns its bytes, or 0 if it is not a well-formed batch. Keys and values point into `at`. */
static size_t wal_batch_decode(const uint8_t *at, size_t len, uint64_t *seq, size_t *op_count,
                               rk_batch_op *ops)
{
    if (len < RK_WAL_BATCH_HEADER_BYTES) {
        return 0;
    }
    *seq = wal_get_u64(at);
    *op_count = wal_get_u32(at + 8);
    if (*op_count == 0 || *op_count > RK_BATCH_OPS_MAX) {
        return 0;
    }
    size_t off = RK_WAL_BATCH_HEADER_BYTES;
    for (size_t i = 0; i < *op_count; i++) {
        if (len - off < RK_WAL_OP_HEADER_BYTES) {
            return 0;
        }
        const uint8_t *h = at + off;
        uint8_t kind = h[0];
        uint8_t db = h[1];
        size_t key_len = wal_get_u16(h + 2);
        size_t value_len = wal_get_u32(h + 4);
        off += RK_WAL_OP_HEADER_BYTES;
        bool kind_ok = kind == RK_BATCH_PUT || (kind == RK_BATCH_DEL && value_len == 0);
        if (!kind_ok || db >= RK_DB_COUNT || key_len == 0 || key_len > RK_LMDB_KEY_BYTES_MAX ||
            value_len > RK_VALUE_BYTES_MAX || len - off < key_len + value_len) {
            return 0;
        }
        if (ops != NULL) {
            ops[i] = (rk_batch_op){
                .kind = (rk_batch_op_kind)kind,
                .db = (rk_db)db,
                .key = at + off,
                .key_len = key_len,
                .value = kind == RK_BATCH_PUT ? at + off + key_len : NULL,
                .value_len = value_len,
            };
        }
        off += key_len + value_len;
    }
    return off;
}

/* Walk the batches of a payload: validate them (fn NULL) or hand each to fn. Batch seqs must
 * rise above seq_prev and the last must equal the record's seq. Returns 0, RK_ECORRUPT, or
 * fn's error. */
static int wal_payload_walk(const uint8_t *payload, size_t payload_len, uint64_t seq_prev,
                            uint64_t seq_record, rk_batch_op *ops, rk_wal_replay_fn fn,
                            void *ctx)
{
    if (payload_len < RK_WAL_GROUP_HEADER_BYTES) {
        return RK_ECORRUPT;
    }
    uint32_t batch_count = wal_get_u32(payload);
    size_t off = RK_WAL_GROUP_HEADER_BYTES;
    for (uint32_t i = 0; i < batch_count; i++) {
        uint64_t seq = 0;
        size_t op_count = 0;
        size_t bytes = wal_batch_decode(payload + off, payload_len - off, &seq, &op_count, ops);
        if (bytes == 0 || seq <= seq_prev) {
            return RK_ECORRUPT;
        }
        if (fn != NULL) {
            int rc = fn(ctx, seq, ops, op_count);
            if (rc != 0) {
                return rc;
            }
        }
        off += bytes;
        seq_prev = seq;
    }
    return batch_count > 0 && off == payload_len && seq_prev == seq_record ? 0 : RK_ECORRUPT;
}

/* Is there a valid record at `off` of `buf` with a seq above `seq_prev`? Sets its length. */
static bool wal_record_valid(const uint8_t *buf, size_t size, size_t off, uint64_t seq_prev,
                             size_t *record_bytes, uint64_t *seq)
{
    if (size - off < RK_WAL_HEADER_BYTES) {
        return false;
    }
    const uint8_t *r = buf + off;
    size_t payload_len = wal_get_u32(r);
    *seq = wal_get_u64(r + 4);
    if (payload_len < RK_WAL_GROUP_HEADER_BYTES || payload_len > RK_WAL_PAYLOAD_BYTES_MAX ||
        payload_len > size - off - RK_WAL_HEADER_BYTES || *seq <= seq_prev) {
        return false;
    }
    if (wal_get_u32(r + 12) != wal_record_crc(r, payload_len)) {
        return false;
    }
    if (wal_payload_walk(r + RK_WAL_HEADER_BYTES, payload_len, seq_prev, *seq, NULL, NULL,
                         NULL) != 0) {
        return false;
    }
    *record_bytes = RK_WAL_HEADER_BYTES + payload_len;
    return true;
}

/* ---- the file --------------------------------------------------------------------------- */

static int wal_fail(rk_wal *w, const char *call, int err_no)
{
    snprintf(w->error, sizeof(w->error), "wal: %s: %s", call, strerror(err_no));
    return RK_EIO;
}

/* A file just created is durable only once its directory entry is. */
static int wal_sync_dir(rk_wal *w, const char *dir)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        return wal_fail(w, "open dir", errno);
    }
    int rc = fsync(dir_fd) == 0 ? 0 : wal_fail(w, "fsync dir", errno);
    close(dir_fd);
    return rc;
}

int rk_wal_open(rk_wal *w, const char *dir, bool create)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    char path[WAL_PATH_BYTES];
    if (snprintf(path, sizeof(path), "%s/%s", dir, RK_WAL_FILE_NAME) >= (int)sizeof(path)) {
        snprintf(w->error, sizeof(w->error), "wal: data directory path too long");
        return RK_EIO;
    }
    bool created = false;
    w->fd = open(path, O_RDWR | O_CLOEXEC);
    if (w->fd < 0 && errno == ENOENT) {
        if (!create) {
            return 1;
        }
        w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, WAL_FILE_MODE);
        created = true;
    }
    if (w->fd < 0) {
        return wal_fail(w, "open " RK_WAL_FILE_NAME, errno);
    }
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        int rc = wal_fail(w, "fstat", errno);
        rk_wal_close(w);
        return rc;
    }
    w->end_bytes = (uint64_t)st.st_size;
    if (created) {
        int rc = wal_sync_dir(w, dir);
        if (rc != 0) {
            rk_wal_close(w);
            return rc;
        }
    }
    return 0;
}

static int wal_read_all(rk_wal *w, uint8_t **out, size_t *out_size)
{
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        return wal_fail(w, "fstat", errno);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        return RK_ENOMEM;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(w->fd, buf + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            free(buf);
            return n < 0 ? wal_fail(w, "pread", errno) : wal_fail(w, "pread", EIO);
        }
        done += (size_t)n;
    }
    *out = buf;
    *out_size = size;
    return 0;
}

/* The valid prefix of `buf`: its length, and whether a valid record follows a bad one. */
static size_t wal_valid_prefix(const uint8_t *buf, size_t size, size_t *records,
                               bool *corrupt, size_t *corrupt_at)
{
    size_t off = 0;
    uint64_t seq_prev = 0;
    size_t record_bytes = 0;
    uint64_t seq = 0;
    *records = 0;
    *corrupt = false;
    while (off < size && wal_record_valid(buf, size, off, seq_prev, &record_bytes, &seq)) {
        off += record_bytes;
        seq_prev = seq;
        (*records)++;
    }
    /* A torn tail ends the file; a record we can trust behind the bad one means the bad one
     * was damaged after it was written. Its length may be damaged too, so look at every
     * offset (only on this rare path). */
    for (size_t p = off + 1; off < size && p < size; p++) {
        if (wal_record_valid(buf, size, p, seq_prev, &record_bytes, &seq)) {
            *corrupt = true;
            *corrupt_at = off;
            break;
        }
    }
    return off;
}

int rk_wal_replay(rk_wal *w, rk_wal_replay_fn fn, void *ctx)
{
    RK_ASSERT(w->fd >= 0);
    uint8_t *buf = NULL;
    size_t size = 0;
    int rc = wal_read_all(w, &buf, &size);
    if (rc != 0) {
        return rc;
    }
    size_t records = 0;
    bool corrupt = false;
    size_t corrupt_at = 0;
    size_t valid_bytes = wal_valid_prefix(buf, size, &records, &corrupt, &corrupt_at);
    if (corrupt) {
        snprintf(w->error, sizeof(w->error),
                 "wal: " RK_WAL_FILE_NAME " record at byte %zu of %zu is damaged and valid "
                 "records follow it; refusing to replay past lost acknowledged writes",
                 corrupt_at, size);
        free(buf);
        return RK_ECORRUPT;
    }
    rk_batch_op *ops = malloc(RK_BATCH_OPS_MAX * sizeof(*ops));
    if (ops == NULL) {
        free(buf);
        return RK_ENOMEM;
    }
    size_t off = 0;
    uint64_t seq_prev = 0;
    for (size_t i = 0; i < records && rc == 0; i++) {
        const uint8_t *r = buf + off;
        size_t payload_len = wal_get_u32(r);
        uint64_t seq = wal_get_u64(r + 4);
        rc = wal_payload_walk(r + RK_WAL_HEADER_BYTES, payload_len, seq_prev, seq, ops, fn, ctx);
        RK_ASSERT(rc != RK_ECORRUPT);   /* validated above */
        off += RK_WAL_HEADER_BYTES + payload_len;
        seq_prev = seq;
    }
    RK_ASSERT(rc != 0 || off == valid_bytes);
    free(ops);
    free(buf);
    w->end_bytes = valid_bytes;
    return rc != 0 ? rc : (int)(records > INT32_MAX ? INT32_MAX : records);
}

int rk_wal_append(rk_wal *w, const uint8_t *records, size_t len)
{
    RK_ASSERT(w->fd >= 0);
    if (w->broken) {
        return RK_EIO;      /* w->error still holds the failure that broke it */
    }
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = pwrite(w->fd, records + done, len - done, (off_t)(w->end_bytes + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = wal_fail(w, "pwrite", n < 0 ? errno : ENOSPC);
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && fdatasync(w->fd) != 0) {
        rc = wal_fail(w, "fdatasync", errno);
    }
    if (rc == 0) {
        w->end_bytes += len;
        return 0;
    }
    /* Cut the failed records off so a later append cannot land behind a half-written one. */
    if (ftruncate(w->fd, (off_t)w->end_bytes) != 0 || fdatasync(w->fd) != 0) {
        w->broken = true;
    }
    return rc;
}

int rk_wal_reset(rk_wal *w)
{
    RK_ASSERT(w->fd >= 0);
    if (ftruncate(w->fd, 0) != 0) {
        return wal_fail(w, "ftruncate", errno);   /* the file is as it was */
    }
    w->end_bytes = 0;
    /* Durably empty before new records go in: a stale record behind new ones after a crash
     * would look like corruption. If that cannot be made sure, append nothing more. */
    if (fsync(w->fd) != 0) {
        w->broken = true;
        return wal_fail(w, "fsync", errno);
    }
    w->broken = false;
    return 0;
}

void rk_wal_close(rk_wal *w)
{
    if (w->fd >= 0) {
        close(w->fd);
    }
    w->fd = -1;
}
