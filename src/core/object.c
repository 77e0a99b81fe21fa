/* object.c — object encoding (see object.h). */
#include "object.h"

#include <string.h>

size_t rk_object_encoded_len(const rk_object *obj)
{
    return RK_OBJECT_HEAD_BYTES + (obj->tombstone ? 0 : obj->value_len);
}

static void object_put_le(uint8_t *out, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t object_get_le(const uint8_t *in, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) {
        v |= (uint64_t)in[i] << (8 * i);
    }
    return v;
}

size_t rk_object_encode(const rk_object *obj, uint8_t *out)
{
    RK_ASSERT(obj->tombstone || obj->value_len <= RK_VALUE_BYTES_MAX);
    RK_ASSERT(obj->tombstone || obj->value_len == 0 || obj->value != NULL);

    size_t value_len = obj->tombstone ? 0 : obj->value_len;
    out[0] = RK_OBJECT_MAGIC;
    out[1] = RK_OBJECT_FORMAT;
    out[2] = obj->tombstone ? RK_OBJECT_FLAG_TOMB : 0;
    out[3] = 0;
    object_put_le(out + 4, obj->stamp_us, 8);
    object_put_le(out + 12, value_len, 4);
    if (value_len > 0) {
        memcpy(out + RK_OBJECT_HEAD_BYTES, obj->value, value_len);
    }
    return RK_OBJECT_HEAD_BYTES + value_len;
}

int rk_object_decode(const uint8_t *bytes, size_t len, rk_object *out)
{
    memset(out, 0, sizeof(*out));
    if (len < RK_OBJECT_HEAD_BYTES) {
        return RK_ECORRUPT;
    }
    if (bytes[0] != RK_OBJECT_MAGIC || bytes[1] != RK_OBJECT_FORMAT || bytes[3] != 0) {
        return RK_ECORRUPT;
    }
    if ((bytes[2] & ~RK_OBJECT_FLAG_TOMB) != 0) {
        return RK_ECORRUPT;
    }
    uint64_t value_len = object_get_le(bytes + 12, 4);
    if (value_len != len - RK_OBJECT_HEAD_BYTES) {
        return RK_ECORRUPT;
    }
    out->tombstone = (bytes[2] & RK_OBJECT_FLAG_TOMB) != 0;
    if (out->tombstone && value_len != 0) {
        return RK_ECORRUPT;
    }
    out->stamp_us = object_get_le(bytes + 4, 8);
    out->value = out->tombstone ? NULL : bytes + RK_OBJECT_HEAD_BYTES;
    out->value_len = (size_t)value_len;
    return 0;
}
