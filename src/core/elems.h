/* elems.h — a list of byte strings carried as one byte string: the argument of SADD and SREM
 * (op.h, which gives an operation one argument), the members of SMISMEMBER, and the member list
 * a `union` version holds (policy_union.c). Owns no memory: encoding writes into the caller's
 * buffer, decoding walks the caller's bytes.
 *
 *   [u32 LE count] count x ([u32 LE len][len bytes])
 *
 * Every length is checked against what is left before a byte is read (RK_ECORRUPT), so any
 * bytes from a client or a peer are safe to hand to rk_elems_check. */
#ifndef RK_ELEMS_H
#define RK_ELEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define RK_ELEMS_HEAD_BYTES 4u
#define RK_ELEMS_LEN_BYTES 4u

/* Bytes the encoding of count strings of lens[0..count) takes (SIZE_MAX if it overflows). */
size_t rk_elems_encoded_len(const size_t *lens, uint32_t count);
/* Encode into out (rk_elems_encoded_len bytes); returns the length written. */
size_t rk_elems_encode(const uint8_t *const *elems, const size_t *lens, uint32_t count,
                       uint8_t *out);
/* Whether `bytes` are exactly one encoding: 0 with the count in *count_out, or RK_ECORRUPT. */
int rk_elems_check(const uint8_t *bytes, size_t len, uint32_t *count_out);

/* Walks a checked encoding. */
typedef struct rk_elems_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t left;
} rk_elems_iter;

/* Start walking `bytes` (checked with rk_elems_check first). */
void rk_elems_iter_init(rk_elems_iter *it, const uint8_t *bytes, size_t len);
/* The next string into *elem and *len (borrowed from the bytes); false after the last. */
bool rk_elems_next(rk_elems_iter *it, const uint8_t **elem, size_t *len);

#endif
