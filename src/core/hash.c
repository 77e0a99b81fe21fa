/* hash.c — key -> ring position with xxh3. */
#include "hash.h"

#include <xxhash.h>

#include "common.h"

uint64_t rk_hash_key(const uint8_t *key, size_t key_len)
{
    return XXH3_64bits(key, key_len);
}

uint32_t rk_hash_partition(uint64_t position, uint32_t partition_count)
{
    RK_ASSERT(partition_count >= 1);
    RK_ASSERT(partition_count <= 65536);
    RK_ASSERT((partition_count & (partition_count - 1)) == 0);

    if (partition_count == 1) {
        return 0;
    }
    uint32_t bits = (uint32_t)__builtin_ctz(partition_count);
    return (uint32_t)(position >> (64u - bits));
}
