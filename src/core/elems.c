/* elems.c — the element-list codec (elems.h). */
#include "elems.h"

#include <string.h>

size_t rk_elems_encoded_len(const size_t *lens, uint32_t count)
{
    size_t total = RK_ELEMS_HEAD_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        if (lens[i] > UINT32_MAX || lens[i] > SIZE_MAX - RK_ELEMS_LEN_BYTES - total) {
            return SIZE_MAX;
        }
        total += RK_ELEMS_LEN_BYTES + lens[i];
    }
    return total;
}

size_t rk_elems_encode(const uint8_t *const *elems, const size_t *lens, uint32_t count,
                       uint8_t *out)
{
    uint8_t *p = out;
    rk_le32_put(p, count);
    p += RK_ELEMS_HEAD_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        RK_ASSERT(lens[i] <= UINT32_MAX);
        rk_le32_put(p, (uint32_t)lens[i]);
        p += RK_ELEMS_LEN_BYTES;
        if (lens[i] > 0) {
            memcpy(p, elems[i], lens[i]);
        }
        p += lens[i];
    }
    return (size_t)(p - out);
}

int rk_elems_check(const uint8_t *bytes, size_t len, uint32_t *count_out)
{
    if (len < RK_ELEMS_HEAD_BYTES) {
        return RK_ECORRUPT;
    }
    uint32_t count = rk_le32_get(bytes);
    size_t at = RK_ELEMS_HEAD_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        if (len - at < RK_ELEMS_LEN_BYTES) {
            return RK_ECORRUPT;
        }
        uint32_t elem_len = rk_le32_get(bytes + at);
        at += RK_ELEMS_LEN_BYTES;
        if (len - at < elem_len) {
            return RK_ECORRUPT;
        }
        at += elem_len;
    }
    if (at != len) {
        return RK_ECORRUPT;     /* trailing bytes: not exactly one encoding */
    }
    *count_out = count;
    return 0;
}

void rk_elems_iter_init(rk_elems_iter *it, const uint8_t *bytes, size_t len)
{
    RK_ASSERT(len >= RK_ELEMS_HEAD_BYTES);
    it->left = rk_le32_get(bytes);
    it->p = bytes + RK_ELEMS_HEAD_BYTES;
    it->end = bytes + len;
}

bool rk_elems_next(rk_elems_iter *it, const uint8_t **elem, size_t *len)
{
    if (it->left == 0) {
        return false;
    }
    RK_ASSERT(it->end - it->p >= (ptrdiff_t)RK_ELEMS_LEN_BYTES);
    uint32_t elem_len = rk_le32_get(it->p);
    it->p += RK_ELEMS_LEN_BYTES;
    RK_ASSERT(it->end - it->p >= (ptrdiff_t)elem_len);
    *elem = it->p;
    *len = elem_len;
    it->p += elem_len;
    it->left--;
    return true;
}
