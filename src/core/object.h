/* object.h — a stored object and its byte encoding in the store.
 *
 * This round an object is one version: a value or a tombstone, with the wall-clock stamp (µs)
 * of the write. The cluster issue grows it into siblings with dots and a causal context
 * (Dynamo 4.4); the format byte lets that change read what this one wrote.
 *
 *   [u8 'K'][u8 format = 1][u8 flags: bit 0 tombstone][u8 0][u64 stamp_us LE][u32 value_len LE]
 *   [value bytes]
 *
 * Tombstones are kept, not deleted: a later anti-entropy round must be able to tell "deleted"
 * from "never written". Owns nothing; decoding borrows from the encoded bytes. */
#ifndef RK_OBJECT_H
#define RK_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define RK_OBJECT_MAGIC       0x4bu   /* 'K' */
#define RK_OBJECT_FORMAT      1u
#define RK_OBJECT_FLAG_TOMB   0x01u
#define RK_OBJECT_HEAD_BYTES  16u
_Static_assert(RK_OBJECT_HEAD_BYTES <= RK_OBJECT_HEADER_BYTES, "common.h reserves the header");

typedef struct rk_object {
    bool tombstone;
    uint64_t stamp_us;
    const uint8_t *value;   /* borrowed; NULL for a tombstone */
    size_t value_len;
} rk_object;

/* Bytes the encoding of `obj` takes. */
size_t rk_object_encoded_len(const rk_object *obj);

/* Encode into out (rk_object_encoded_len bytes). Returns the length written. */
size_t rk_object_encode(const rk_object *obj, uint8_t *out);

/* Decode `bytes`; the value is borrowed from them. Returns 0 or RK_ECORRUPT (bad magic, unknown
 * format, length mismatch, a tombstone with a value). */
int rk_object_decode(const uint8_t *bytes, size_t len, rk_object *out);

#endif
