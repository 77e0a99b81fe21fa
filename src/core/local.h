/* local.h — this node's own store access: how a user key becomes a storage key (once per
 * request: the key is hashed once, its partition and storage key kept in an rk_local_key), reads
 * and decodes of local objects, and every write the node makes, each one atomic batch: an object
 * with the records that must change with it (a hint, handoff.c), an object removed with its
 * hint, or records alone (bucket properties, the epoch, hints). Keeps `written_seq` (the last
 * batch's sequence number, which a caller waits on for durability) and the count of live keys,
 * and the scratch buffer objects are encoded into. Waiting for durability is durable.h's
 * business, what a record means is its owner's. Written only by local.c. */
#ifndef RK_LOCAL_H
#define RK_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aae_tree.h"
#include "dvvset.h"
#include "env.h"
#include "ring.h"
#include "skey.h"

typedef struct rk_node_stats rk_node_stats;

/* A user key resolved once: its ring position, partition and storage key. The user key is
 * the tail of skey (skey.h), so `key` points into this struct: copy it with
 * rk_local_key_copy, never memcpy. */
typedef struct rk_local_key {
    uint64_t hash;
    uint32_t partition;
    uint32_t skey_len;
    const uint8_t *key;         /* = skey + RK_SKEY_PREFIX_BYTES */
    size_t key_len;
    uint8_t skey[RK_SKEY_BYTES_MAX];
} rk_local_key;

/* A whole set arriving in chunks (setrows.h), kept until every chunk came (in any order, twice
 * is harmless) and then merged as one whole state: which chunks came, how many there are (known
 * from the last), the rows so far, and whom to answer (the last chunk's request, parked). A
 * stream evicted before it completes leaves nothing (the sender times out and sends again). */
#define RK_LOCAL_STREAMS 8u
#define RK_LOCAL_STREAM_CHUNKS_MAX 8192u    /* x 512 rows: RK_DVVSET_ELEMENTS_MAX and more */
typedef struct rk_local_stream {
    uint64_t id;            /* 0: free */
    uint64_t key_hash;      /* the key's storage key, hashed: a stream is (id, key) */
    uint32_t total;         /* chunks in the stream, once its last came (0: not yet) */
    uint32_t received;      /* distinct chunks kept */
    bool has_waiter;
    uint64_t waiter[2];     /* the caller's words: whom to answer */
    uint8_t type_tag;
    rk_vv clock;            /* the sender's clock (one snapshot for the stream) */
    uint8_t *rows;          /* owned: [u32 len][row] of every chunk kept */
    size_t rows_len;
    size_t rows_cap;
    uint64_t dots;
    uint64_t seen[RK_LOCAL_STREAM_CHUNKS_MAX / 64u];
} rk_local_stream;

/* What keeping one chunk did to its stream. */
typedef struct rk_local_chunk_done {
    bool complete;          /* every chunk came: the whole state is ready to merge */
    bool answer;            /* answer `waiter` once it is merged */
    uint64_t waiter[2];
} rk_local_chunk_done;

typedef struct rk_local {
    const rk_env *env;          /* kept */
    const rk_ring *ring;        /* kept: partitions of keys */
    rk_node_stats *stats;       /* kept: writes keys_live and store_errors */
    uint64_t written_seq;       /* the last batch written */
    uint64_t keys_live;         /* stored objects with a live sibling */
    uint8_t *scratch;           /* encoding buffer, grows to the largest object */
    size_t scratch_capacity;
    /* Anti-entropy's trees (aae.c owns them; NULL: off): every object write and removal
     * updates its partition's tree from the old and the new object's hash. The old one is
     * usually the object just read; `last_*` remembers the last key read or written and its
     * stored object's hash (0: absent or damaged), so a write after a read costs no lookup. */
    rk_aae_tree *tree;
    /* Damaged objects counted lately (hashes of their storage keys): each is counted once,
     * not at every read, until it is repaired (or falls out of this ring). */
    uint64_t damaged_seen[16];
    uint32_t damaged_next;
    /* Whole sets arriving in chunks, in any order (local_set_delta.c). */
    rk_local_stream streams[RK_LOCAL_STREAMS];
    uint32_t stream_next;
    uint8_t last_skey[RK_SKEY_BYTES_MAX];
    uint32_t last_skey_len;     /* 0: nothing remembered */
    uint64_t last_hash;
} rk_local;

/* Keeps env, ring and stats. Counts the live keys in the store (one scan). 0 or a store
 * error. */
int rk_local_init(rk_local *l, const rk_env *env, const rk_ring *ring, rk_node_stats *stats);
void rk_local_deinit(rk_local *l);

/* Resolve `key` (hashing it once). 0, or RK_ETOOBIG when key_len > RK_KEY_BYTES_MAX. */
int rk_local_key_init(const rk_local *l, const uint8_t *key, size_t key_len, rk_local_key *out);
/* Resolve a storage key read back from the store (no hash: hash is 0). 0 or RK_ECORRUPT. */
int rk_local_key_from_skey(const uint8_t *skey, size_t skey_len, rk_local_key *out);
void rk_local_key_copy(const rk_local_key *from, rk_local_key *to);

/* Read and decode the local object of `k` into *out (initialised; empty when absent). 0, or a
 * store or decode error (counted); RK_ECORRUPT, *out empty, for an object damaged on disk (its
 * checksum fails; counted in aae_damaged_objects): a coordinator refuses to write from it, since
 * it lost the key's history and could mint a dot again, and a read takes it as missing. */
int rk_local_read(rk_local *l, const rk_local_key *k, rk_dvvset *out);
/* The stored bytes of `k` into *out (owned: rk_store_buf_free), len 0 when absent or damaged
 * (counted: it reads as missing, to be overwritten by a replica write or read repair, never
 * sent). 0 or a store error (counted). */
int rk_local_read_raw(rk_local *l, const rk_local_key *k, rk_buf *out);
/* The same, saying which: *damaged is set when the copy failed its checksum (counted once, and
 * its partition's tree dropped for a rebuild that leaves it out), for callers to whom damaged
 * and absent differ (anti-entropy: a damaged copy is repaired, an absent key may be reaped). */
int rk_local_read_checked(rk_local *l, const rk_local_key *k, rk_buf *out, bool *damaged);

/* Encode `set` into the scratch buffer: valid until the next encode or write. 0 or
 * RK_ENOMEM. */
int rk_local_encode(rk_local *l, const rk_dvvset *set, const uint8_t **bytes_out,
                    size_t *len_out);

/* Write the encoded object `bytes` (rk_local_encode's, or bytes a peer sent and
 * rk_dvvset_decode_view checked) as the object of `k`, with `extra` ops in the same atomic
 * batch. `live`: the object has a live sibling; `was_live`: the one it replaces had (keeps
 * keys_live). *seq_out is the batch's seq. 0 or a store error (counted; nothing written). */
int rk_local_write(rk_local *l, const rk_local_key *k, const uint8_t *bytes, size_t len,
                   bool live, bool was_live, const rk_batch_op *extra, uint32_t extra_count,
                   uint64_t *seq_out);
/* Remove the object of `k` (`was_live` as above) with `extra` ops in the same batch. */
int rk_local_remove(rk_local *l, const rk_local_key *k, bool was_live, const rk_batch_op *extra,
                    uint32_t extra_count, uint64_t *seq_out);
/* An 8-byte little-endian record of RK_DB_META into *out (0 when absent): the epoch, the run,
 * what peers saw. 0, RK_ECORRUPT (not 8 bytes) or a store error. Needs only env (clock.c reads
 * before local is set up). */
int rk_local_meta_u64(const rk_env *env, const uint8_t *key, size_t key_len, uint64_t *out);
/* Records alone (never RK_DB_DATA: objects go through rk_local_write / _remove, which keep
 * keys_live). 0 or a store error (counted). */
int rk_local_write_records(rk_local *l, const rk_batch_op *ops, uint32_t count,
                           uint64_t *seq_out);

/* Whether this node stores a live key of bucket `name` (its keys are "name:..."): one seek per
 * partition (skey.h keeps a bucket contiguous inside a partition), stopping at the first live
 * one. 1, 0, or a store error. For RK.BUCKET's policy-change check, not a hot path. */
int rk_local_bucket_live(rk_local *l, const uint8_t *name, size_t name_len);

/* Keep `tree` up to date from now on (NULL: stop). */
void rk_local_set_tree(rk_local *l, rk_aae_tree *tree);

/* A failed sync rolled writes back: count the live keys again (and forget every tree, which
 * no longer agrees with the store). */
int rk_local_recount(rk_local *l);

/* Whether `set` has a live (not deleted) sibling. Pure. */
bool rk_local_set_live(const rk_dvvset *set);

/* ---- sets stored by element (local_set.c, setrows.h) ------------------------------------- */

/* States of this type tag (RK_POLICY_TAG_SET) are stored by element: a head in RK_DB_DATA and a
 * row per member in RK_DB_ELEMS. rk_local_read* and rk_local_write hide it (they read and take
 * whole states); the functions below touch only the rows they name. */
#define RK_LOCAL_ROWS_TAG 2u

/* Encode `set` into a fresh buffer *out (owned: rk_store_buf_free). 0 or RK_ENOMEM. */
int rk_local_encode_owned(const rk_dvvset *set, rk_buf *out);
/* The whole state of the set whose head is `head` (from RK_DB_DATA under skey), encoded as a
 * dvvset into *out (owned). 0, RK_ECORRUPT (the head or a row fails its checksum), a store
 * error, or RK_ENOMEM. */
int rk_local_set_materialize(rk_local *l, const uint8_t *skey, size_t skey_len,
                             const uint8_t *head, size_t head_len, rk_buf *out);
/* Store the whole set state `set` (tag RK_LOCAL_ROWS_TAG) as `k`'s head and rows: rows that
 * differ are written, rows no longer there deleted, in batches of RK_BATCH_OPS_MAX with the
 * head and `extra` in the last (a crash between them leaves rows ahead of the head: their dots
 * are kept until a merge from a side that saw them removed, setrows.h). */
int rk_local_set_write(rk_local *l, const rk_local_key *k, const rk_dvvset *set, bool was_live,
                       const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out);
/* The members a set key holds now (its head's count; 0 when absent or not stored by element). */
uint64_t rk_local_set_count(rk_local *l, const rk_local_key *k);
/* The state of `k` narrowed to `members` (an elems.h list): the whole clock and only those
 * members' dots — what a delta write reads at R (rows touched: one per member). A key stored
 * whole is read whole. *out is initialised. 0, RK_ECORRUPT or a store error. */
int rk_local_set_project(rk_local *l, const rk_local_key *k, const uint8_t *members,
                         size_t members_len, rk_dvvset *out);
/* Merge a delta (setrows.h: the touched `members` and the delta state) into `k`'s rows and head,
 * with `extra` records, in one atomic batch. With `need_ready`, RK_ENOTREADY (nothing written)
 * when it is not causally ready here (rk_setrows_ready). *changed says whether anything was
 * written (*seq_out is then its batch). 0, RK_ENOTREADY, RK_EWRONGTYPE (a live key of another
 * type), RK_ETOOBIG (the clock would pass RK_VV_ENTRIES_MAX), RK_ECORRUPT, a store error. */
int rk_local_set_merge_delta(rk_local *l, const rk_local_key *k, const uint8_t *members,
                             size_t members_len, const rk_dvvset *delta, bool need_ready,
                             const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out,
                             bool *changed);
/* Keep one chunk of another replica's whole set (setrows.h) until its stream is complete;
 * then *whole is the stream's whole state (owned), to merge as any whole state, and *done says
 * whom to answer. `waiter` (NULL: none) is whom the last chunk asks to be answered. Nothing is
 * written. 0, RK_EINVAL (a chunk that does not check: rows out of range or order), RK_ENOMEM,
 * RK_ECORRUPT (the whole state would not hold together). */
struct rk_setrows_chunk;
int rk_local_set_stage_chunk(rk_local *l, const rk_local_key *k,
                             const struct rk_setrows_chunk *chunk, const uint64_t *waiter,
                             rk_local_chunk_done *done, rk_buf *whole);
/* Free what the streams under way keep (rk_local_deinit). */
void rk_local_streams_free(rk_local *l);
/* Read `k`'s whole set once and hand it to `fn` in chunks (RK_SETROWS_CHUNK_ROWS_MAX rows or
 * RK_SETROWS_CHUNK_BYTES_MAX bytes at most) of stream `stream`, in order, the last flagged.
 * 0, or a store or encoding error (fn's non-zero return stops it and is returned). */
typedef int (*rk_local_chunk_fn)(void *ctx, const uint8_t *bytes, size_t len, bool last);
int rk_local_set_stream(rk_local *l, const rk_local_key *k, uint64_t stream,
                        rk_local_chunk_fn fn, void *ctx);
/* Delete every row of `k` (its head is the caller's), in batches. */
int rk_local_set_drop_rows(rk_local *l, const rk_local_key *k, uint64_t *seq_out);

#endif
