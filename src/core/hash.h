/* hash.h — key -> ring position. xxh3 (libxxhash): fast, well distributed and stable across
 * versions and machines, so every node maps a key to the same partition (Dynamo 4.2 uses MD5
 * for the same job; any stable, uniform 64-bit hash serves). */
#ifndef RK_HASH_H
#define RK_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The ring position of a key. Pure. */
uint64_t rk_hash_key(const uint8_t *key, size_t key_len);

/* The partition of a ring position among `partition_count` equal partitions (Dynamo strategy
 * 3): the top bits of the position. partition_count must be a power of two, 1..65536. */
uint32_t rk_hash_partition(uint64_t position, uint32_t partition_count);

#endif
