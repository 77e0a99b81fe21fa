/* skey.h — the storage key layout: how a user key becomes a key in the store.
 *
 *   [u16 partition, big-endian][u16 bucket length, big-endian][user key bytes]
 *
 * Sorted bytewise, one ring partition is one contiguous range (handoff and Merkle trees scan
 * it whole), and inside it one bucket is one contiguous range (the bucket is the user key's
 * prefix up to the first ':', DESIGN.md). The user key is kept whole, so decoding needs no
 * other state. Owns nothing. */
#ifndef RK_SKEY_H
#define RK_SKEY_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

_Static_assert(RK_SKEY_PREFIX_BYTES == 4, "skey prefix is two u16");

#define RK_SKEY_BYTES_MAX (RK_SKEY_PREFIX_BYTES + RK_KEY_BYTES_MAX)

/* Length of the bucket part of `key`: the bytes before the first ':', or 0 when there is none
 * (the default bucket). */
size_t rk_skey_bucket_len(const uint8_t *key, size_t key_len);

/* Encode the storage key of `key` in `partition` into out (at least RK_SKEY_BYTES_MAX bytes).
 * Returns the encoded length, or RK_ETOOBIG when key_len > RK_KEY_BYTES_MAX. */
int rk_skey_encode(uint32_t partition, const uint8_t *key, size_t key_len, uint8_t *out);

/* Split a storage key. Returns 0 and the user key borrowed from `skey`, or RK_ECORRUPT. */
int rk_skey_decode(const uint8_t *skey, size_t skey_len, uint32_t *partition_out,
                   const uint8_t **key_out, size_t *key_len_out);

/* The first storage key of a partition and the first of the next one (an exclusive end):
 * out must hold 2 bytes each. */
void rk_skey_partition_range(uint32_t partition, uint8_t start_out[2], uint8_t end_out[2]);

#endif
