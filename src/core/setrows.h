/* setrows.h — a set stored by element (issue 14): the byte formats of its rows and the pure
 * rules that change them. A set key's object row in RK_DB_DATA is a *head* (the set's clock,
 * its member count and a digest of its rows); each member is one row of RK_DB_ELEMS holding
 * the member and the dots of the adds that put it there. Reading one member touches one row,
 * a delta touches the rows of its members and the head, so neither costs more for a larger
 * set. local_set.c does the store I/O; this file owns no memory and knows no store.
 *
 *   head (RK_DB_DATA)   [u8 'S'][u8 format 1][u8 type tag][u8 0][history: rk_vv_encode]
 *                       [u64 member count][u64 digest][u64 XXH3 of every byte before]
 *   row key (ELEMS)     [prefix][u8 'm'][member]   the member fits the key
 *                       [prefix][u8 'h'][16-byte XXH3-128 of the member]
 *                       (when prefix + 1 + member_len > RK_LMDB_KEY_BYTES_MAX)
 *   prefix              [u16 BE skey_len][skey], or [0xffff][XXH3-128 of skey] for a storage
 *                       key over RK_SETROWS_SKEY_INLINE_MAX (492) bytes
 *   row value           [u32 member_len][member][u32 dot count]
 *                       count x ([u32 node][u64 counter][u64 timestamp_us]), sorted by dot
 *                       [u64 XXH3 of every byte before]
 *
 * The length prefix makes every key's rows one contiguous range that no other key's range
 * overlaps (a storage key is never a prefix of another's rows). The digest is the XOR of the
 * rows' checksums: two replicas with one clock, count and digest hold the same members, so
 * anti-entropy hashes the head alone. A delta travels as
 *
 *   [u8 'T'][u8 format 1][u32 LE members_len][members: elems.h][state: dvvset.h encoding]
 *
 * the members the operation touched and the delta state (their new dots as siblings; as
 * history exactly the dots the coordinator saw of them and the dots it minted). */
#ifndef RK_SETROWS_H
#define RK_SETROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "version.h"

#define RK_SETROWS_HEAD_MAGIC 0x53u     /* 'S' */
#define RK_SETROWS_DELTA_MAGIC 0x54u    /* 'T' */
#define RK_SETROWS_FORMAT 1u
#define RK_SETROWS_KIND_MEMBER 0x6du    /* 'm' */
#define RK_SETROWS_KIND_HASHED 0x68u    /* 'h' */
#define RK_SETROWS_MEMBER_HASH_BYTES 16u
#define RK_SETROWS_DOT_BYTES 20u
/* The longest storage key kept whole in its rows' prefix: 2 + it + 1 + a hashed member fit 511. */
#define RK_SETROWS_SKEY_INLINE_MAX (RK_LMDB_KEY_BYTES_MAX - 2u - 1u - RK_SETROWS_MEMBER_HASH_BYTES)
#define RK_SETROWS_CHECKSUM_BYTES 8u
#define RK_SETROWS_HEAD_TAIL_BYTES (8u + 8u + RK_SETROWS_CHECKSUM_BYTES)
#define RK_SETROWS_ROW_FIXED_BYTES (4u + 4u + RK_SETROWS_CHECKSUM_BYTES)
#define RK_SETROWS_DELTA_HEAD_BYTES 6u
/* Dots one member row may hold: concurrent adds of one member, one per coordinator at most in
 * practice; bounded like a clock. */
#define RK_SETROWS_DOTS_MAX RK_VV_ENTRIES_MAX

/* The head of a set stored by element. */
typedef struct rk_setrows_head {
    uint8_t type_tag;
    rk_vv history;
    uint64_t count;     /* member rows */
    uint64_t digest;    /* XOR of the rows' checksums */
} rk_setrows_head;

/* One add of a member: its dot and LWW stamp. */
typedef struct rk_setrows_dot {
    rk_dot dot;
    uint64_t timestamp_us;
} rk_setrows_dot;

/* Whether `bytes` begin as a head (magic and format; the checksum is checked by decode). */
bool rk_setrows_is_head(const uint8_t *bytes, size_t len);
size_t rk_setrows_head_len(const rk_setrows_head *h);
size_t rk_setrows_head_encode(const rk_setrows_head *h, uint8_t *out);
/* 0, or RK_ECORRUPT for anything but one intact head. */
int rk_setrows_head_decode(const uint8_t *bytes, size_t len, rk_setrows_head *out);

/* The prefix of every row of `skey` into out: [u16 BE skey_len][skey], or for a storage key
 * longer than RK_SETROWS_SKEY_INLINE_MAX (no room left for a hashed member) [0xffff][16-byte
 * XXH3-128 of skey]; returns its length, rk_setrows_prefix_len. */
size_t rk_setrows_prefix(const uint8_t *skey, size_t skey_len, uint8_t *out);
size_t rk_setrows_prefix_len(size_t skey_len);
/* The row key of `member` into out (RK_LMDB_KEY_BYTES_MAX bytes); returns its length. */
size_t rk_setrows_key(const uint8_t *skey, size_t skey_len, const uint8_t *member,
                      size_t member_len, uint8_t *out);

size_t rk_setrows_row_len(size_t member_len, uint32_t dot_count);
/* Encode a row (dots sorted, count >= 1) into out (rk_setrows_row_len bytes). */
size_t rk_setrows_row_encode(const uint8_t *member, size_t member_len,
                             const rk_setrows_dot *dots, uint32_t dot_count, uint8_t *out);
/* Check a row: 0 with its member (borrowed) and dot count, or RK_ECORRUPT. */
int rk_setrows_row_check(const uint8_t *bytes, size_t len, const uint8_t **member,
                         size_t *member_len, uint32_t *dot_count);
/* Dot i of a checked row. */
rk_setrows_dot rk_setrows_row_dot(const uint8_t *bytes, size_t member_len, uint32_t i);
/* A checked row's checksum (what the head's digest XORs). */
uint64_t rk_setrows_row_hash(const uint8_t *bytes, size_t len);

/* ORSWOT's merge for one member (policy_set.c): keep a local dot the other side holds too or
 * has not seen; keep an incoming dot the local side holds or has not seen. Both lists sorted
 * by dot; out has room for nl + ni; returns its count (sorted; one dot twice keeps the later
 * stamp). */
uint32_t rk_setrows_merge(const rk_setrows_dot *local, uint32_t nl, const rk_vv *local_clock,
                          const rk_setrows_dot *in, uint32_t ni, const rk_vv *in_clock,
                          rk_setrows_dot *out);
/* Whether a delta of history `delta` is causally ready at a replica whose clock is `local`:
 * merging it leaves no gap the local clock did not have (every node's counters stay as
 * contiguous as they were), so the replica has every earlier dot of those coordinators. */
bool rk_setrows_ready(const rk_vv *local, const rk_vv *delta);

size_t rk_setrows_delta_len(size_t members_len, size_t state_len);
size_t rk_setrows_delta_encode(const uint8_t *members, size_t members_len, const uint8_t *state,
                               size_t state_len, uint8_t *out);
/* Split a delta: 0 with the members (checked elems) and the state bytes (not yet decoded), or
 * RK_ECORRUPT. */
int rk_setrows_delta_split(const uint8_t *bytes, size_t len, const uint8_t **members,
                           size_t *members_len, const uint8_t **state, size_t *state_len);

/* A whole set in chunks that each fit a frame (a replica that found a delta not ready gets the
 * whole set this way):
 *
 *   [u8 'C'][u8 format 1][u8 last][u8 type tag][u64 stream][u32 index]
 *   [u32 lo_len][lo][u32 hi_len][hi]       row-key suffixes (after the [u16][skey] prefix):
 *                                           the chunk holds every row lo <= suffix < hi
 *                                           (hi empty in the last chunk: to the end)
 *   [u32 clock_len][clock: rk_vv_encode]   the sender's clock when it read the rows
 *   [u32 row_count] row_count x ([u32 len][row])
 *
 * Every chunk of a stream carries the same clock (the sender reads the set once). A receiver
 * keeps the chunks until all came, in any order (local_set_delta.c), then merges the whole state
 * they make as any whole state: nothing of a stream cut short is ever written. */
typedef struct rk_setrows_chunk {
    uint64_t stream;
    uint32_t index;
    bool last;
    uint8_t type_tag;
    const uint8_t *lo;
    size_t lo_len;
    const uint8_t *hi;
    size_t hi_len;
    rk_vv clock;
    uint32_t row_count;
    const uint8_t *rows;        /* row_count x ([u32 len][row]) */
    size_t rows_len;
} rk_setrows_chunk;

#define RK_SETROWS_CHUNK_MAGIC 0x43u   /* 'C' */
#define RK_SETROWS_CHUNK_ROWS_MAX 512u
#define RK_SETROWS_CHUNK_BYTES_MAX (1u << 20)

size_t rk_setrows_chunk_len(const rk_setrows_chunk *c);
size_t rk_setrows_chunk_encode(const rk_setrows_chunk *c, uint8_t *out);
/* 0 with *out pointing into bytes (rows framed and counted, not yet checked), or RK_ECORRUPT. */
int rk_setrows_chunk_decode(const uint8_t *bytes, size_t len, rk_setrows_chunk *out);

#endif
