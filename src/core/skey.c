/* skey.c — storage key layout (see skey.h). */
#include "skey.h"

#include <string.h>

size_t rk_skey_bucket_len(const uint8_t *key, size_t key_len)
{
    if (key_len == 0) {
        return 0;   /* the empty key (its pointer may be NULL, off the wire) */
    }
    const uint8_t *colon = memchr(key, ':', key_len);
    return colon == NULL ? 0 : (size_t)(colon - key);
}

static void skey_put_u16(uint8_t *out, uint32_t v)
{
    RK_ASSERT(v <= 0xffffu);
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
}

int rk_skey_encode(uint32_t partition, const uint8_t *key, size_t key_len, uint8_t *out)
{
    if (key_len > RK_KEY_BYTES_MAX) {
        return RK_ETOOBIG;
    }
    skey_put_u16(out, partition);
    skey_put_u16(out + 2, (uint32_t)rk_skey_bucket_len(key, key_len));
    if (key_len > 0) {
        memcpy(out + RK_SKEY_PREFIX_BYTES, key, key_len);
    }
    return (int)(RK_SKEY_PREFIX_BYTES + key_len);
}

int rk_skey_decode(const uint8_t *skey, size_t skey_len, uint32_t *partition_out,
                   const uint8_t **key_out, size_t *key_len_out)
{
    if (skey_len < RK_SKEY_PREFIX_BYTES || skey_len > RK_SKEY_BYTES_MAX) {
        return RK_ECORRUPT;
    }
    const uint8_t *key = skey + RK_SKEY_PREFIX_BYTES;
    size_t key_len = skey_len - RK_SKEY_PREFIX_BYTES;
    size_t bucket_len = ((size_t)skey[2] << 8) | skey[3];
    if (bucket_len != rk_skey_bucket_len(key, key_len)) {
        return RK_ECORRUPT;
    }
    *partition_out = ((uint32_t)skey[0] << 8) | skey[1];
    *key_out = key;
    *key_len_out = key_len;
    return 0;
}

void rk_skey_partition_range(uint32_t partition, uint8_t start_out[2], uint8_t end_out[2])
{
    RK_ASSERT(partition < 65536u);
    skey_put_u16(start_out, partition);
    /* The last partition's end wraps to 0x0000, which is no end: callers pass NULL then. */
    skey_put_u16(end_out, (partition + 1u) & 0xffffu);
}
