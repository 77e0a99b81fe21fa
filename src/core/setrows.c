/* setrows.c — the formats and rules of a set stored by element (setrows.h). Pure: every
 * length is checked before a byte is read, so bytes from a disk or a peer are safe here. */
#include "setrows.h"

#include <string.h>
#include <xxhash.h>

#include "elems.h"

bool rk_setrows_is_head(const uint8_t *bytes, size_t len)
{
    return len >= 4 && bytes[0] == RK_SETROWS_HEAD_MAGIC && bytes[1] == RK_SETROWS_FORMAT;
}

size_t rk_setrows_head_len(const rk_setrows_head *h)
{
    return 4u + rk_vv_encoded_len(&h->history) + RK_SETROWS_HEAD_TAIL_BYTES;
}

size_t rk_setrows_head_encode(const rk_setrows_head *h, uint8_t *out)
{
    out[0] = RK_SETROWS_HEAD_MAGIC;
    out[1] = RK_SETROWS_FORMAT;
    out[2] = h->type_tag;
    out[3] = 0;
    size_t pos = 4 + rk_vv_encode(&h->history, out + 4);
    rk_le64_put(out + pos, h->count);
    rk_le64_put(out + pos + 8, h->digest);
    pos += 16;
    rk_le64_put(out + pos, XXH3_64bits(out, pos));
    return pos + RK_SETROWS_CHECKSUM_BYTES;
}

int rk_setrows_head_decode(const uint8_t *bytes, size_t len, rk_setrows_head *out)
{
    if (!rk_setrows_is_head(bytes, len) || len < 4 + 1 + RK_SETROWS_HEAD_TAIL_BYTES ||
        bytes[3] != 0) {
        return RK_ECORRUPT;
    }
    size_t body = len - RK_SETROWS_CHECKSUM_BYTES;
    if (rk_le64_get(bytes + body) != XXH3_64bits(bytes, body)) {
        return RK_ECORRUPT;
    }
    size_t used = 0;
    if (rk_vv_decode(bytes + 4, body - 16 - 4, &out->history, &used) != 0 ||
        4 + used + 16 != body) {
        return RK_ECORRUPT;
    }
    out->type_tag = bytes[2];
    out->count = rk_le64_get(bytes + 4 + used);
    out->digest = rk_le64_get(bytes + 4 + used + 8);
    return 0;
}

size_t rk_setrows_prefix_len(size_t skey_len)
{
    return skey_len <= RK_SETROWS_SKEY_INLINE_MAX ? 2u + skey_len
                                                  : 2u + RK_SETROWS_MEMBER_HASH_BYTES;
}

size_t rk_setrows_prefix(const uint8_t *skey, size_t skey_len, uint8_t *out)
{
    RK_ASSERT(skey_len <= RK_LMDB_KEY_BYTES_MAX);
    if (skey_len > RK_SETROWS_SKEY_INLINE_MAX) {
        /* Too long to leave a hashed member room: the key by its hash, under a length no key
         * has. */
        out[0] = 0xff;
        out[1] = 0xff;
        XXH128_hash_t h = XXH3_128bits(skey, skey_len);
        rk_le64_put(out + 2, h.high64);
        rk_le64_put(out + 10, h.low64);
        return 2u + RK_SETROWS_MEMBER_HASH_BYTES;
    }
    out[0] = (uint8_t)(skey_len >> 8);
    out[1] = (uint8_t)skey_len;
    memcpy(out + 2, skey, skey_len);
    return 2 + skey_len;
}

size_t rk_setrows_key(const uint8_t *skey, size_t skey_len, const uint8_t *member,
                      size_t member_len, uint8_t *out)
{
    size_t pos = rk_setrows_prefix(skey, skey_len, out);
    RK_ASSERT(pos + 1 + RK_SETROWS_MEMBER_HASH_BYTES <= RK_LMDB_KEY_BYTES_MAX);
    if (pos + 1 + member_len <= RK_LMDB_KEY_BYTES_MAX) {
        out[pos++] = RK_SETROWS_KIND_MEMBER;
        if (member_len > 0) {
            memcpy(out + pos, member, member_len);
        }
        return pos + member_len;
    }
    out[pos++] = RK_SETROWS_KIND_HASHED;
    XXH128_hash_t h = XXH3_128bits(member, member_len);
    rk_le64_put(out + pos, h.high64);
    rk_le64_put(out + pos + 8, h.low64);
    return pos + RK_SETROWS_MEMBER_HASH_BYTES;
}

size_t rk_setrows_row_len(size_t member_len, uint32_t dot_count)
{
    return RK_SETROWS_ROW_FIXED_BYTES + member_len + (size_t)dot_count * RK_SETROWS_DOT_BYTES;
}

size_t rk_setrows_row_encode(const uint8_t *member, size_t member_len,
                             const rk_setrows_dot *dots, uint32_t dot_count, uint8_t *out)
{
    RK_ASSERT(dot_count >= 1 && member_len <= UINT32_MAX);
    rk_le32_put(out, (uint32_t)member_len);
    if (member_len > 0) {
        memcpy(out + 4, member, member_len);
    }
    size_t pos = 4 + member_len;
    rk_le32_put(out + pos, dot_count);
    pos += 4;
    for (uint32_t i = 0; i < dot_count; i++) {
        RK_ASSERT(i == 0 || rk_dot_cmp(dots[i - 1].dot, dots[i].dot) < 0);
        rk_le32_put(out + pos, dots[i].dot.node);
        rk_le64_put(out + pos + 4, dots[i].dot.counter);
        rk_le64_put(out + pos + 12, dots[i].timestamp_us);
        pos += RK_SETROWS_DOT_BYTES;
    }
    rk_le64_put(out + pos, XXH3_64bits(out, pos));
    return pos + RK_SETROWS_CHECKSUM_BYTES;
}

int rk_setrows_row_check(const uint8_t *bytes, size_t len, const uint8_t **member,
                         size_t *member_len, uint32_t *dot_count)
{
    if (len < RK_SETROWS_ROW_FIXED_BYTES) {
        return RK_ECORRUPT;
    }
    size_t body = len - RK_SETROWS_CHECKSUM_BYTES;
    if (rk_le64_get(bytes + body) != XXH3_64bits(bytes, body)) {
        return RK_ECORRUPT;
    }
    uint32_t mlen = rk_le32_get(bytes);
    if (mlen > body - 8) {
        return RK_ECORRUPT;
    }
    uint32_t count = rk_le32_get(bytes + 4 + mlen);
    if (count == 0 || count > RK_SETROWS_DOTS_MAX ||
        4u + mlen + 4u + (size_t)count * RK_SETROWS_DOT_BYTES != body) {
        return RK_ECORRUPT;
    }
    for (uint32_t i = 0; i < count; i++) {
        rk_setrows_dot d = rk_setrows_row_dot(bytes, mlen, i);
        if (d.dot.counter == 0 ||
            (i > 0 && rk_dot_cmp(rk_setrows_row_dot(bytes, mlen, i - 1).dot, d.dot) >= 0)) {
            return RK_ECORRUPT;
        }
    }
    *member = bytes + 4;
    *member_len = mlen;
    *dot_count = count;
    return 0;
}

rk_setrows_dot rk_setrows_row_dot(const uint8_t *bytes, size_t member_len, uint32_t i)
{
    const uint8_t *p = bytes + 4 + member_len + 4 + (size_t)i * RK_SETROWS_DOT_BYTES;
    rk_setrows_dot d = {.dot = {.node = rk_le32_get(p), .counter = rk_le64_get(p + 4)},
                        .timestamp_us = rk_le64_get(p + 12)};
    return d;
}

uint64_t rk_setrows_row_hash(const uint8_t *bytes, size_t len)
{
    RK_ASSERT(len >= RK_SETROWS_CHECKSUM_BYTES);
    return rk_le64_get(bytes + len - RK_SETROWS_CHECKSUM_BYTES);
}

uint32_t rk_setrows_merge(const rk_setrows_dot *local, uint32_t nl, const rk_vv *local_clock,
                          const rk_setrows_dot *in, uint32_t ni, const rk_vv *in_clock,
                          rk_setrows_dot *out)
{
    uint32_t i = 0;
    uint32_t j = 0;
    uint32_t count = 0;
    while (i < nl || j < ni) {
        int cmp = i == nl ? 1 : j == ni ? -1 : rk_dot_cmp(local[i].dot, in[j].dot);
        if (cmp == 0) {     /* both hold it */
            out[count] = local[i];
            if (in[j].timestamp_us > local[i].timestamp_us) {
                out[count].timestamp_us = in[j].timestamp_us;
            }
            count++;
            i++;
            j++;
        } else if (cmp < 0) {   /* only here: kept unless the other side saw it removed */
            if (!rk_vv_covers(in_clock, local[i].dot)) {
                out[count++] = local[i];
            }
            i++;
        } else {
            if (!rk_vv_covers(local_clock, in[j].dot)) {
                out[count++] = in[j];
            }
            j++;
        }
    }
    return count;
}

/* Entries that are not a node's first counters: each is a gap below it. */
static uint32_t setrows_gaps(const rk_vv *vv)
{
    uint32_t gaps = 0;
    for (uint32_t i = 0; i < vv->entry_count; i++) {
        bool node_first = i == 0 || vv->entries[i - 1].node != vv->entries[i].node;
        gaps += node_first && vv->entries[i].first == 1 ? 0u : 1u;
    }
    return gaps;
}

bool rk_setrows_ready(const rk_vv *local, const rk_vv *delta)
{
    if (rk_vv_union_count(local, delta) > RK_VV_ENTRIES_MAX) {
        return false;
    }
    rk_vv merged;
    if (rk_vv_merge(local, delta, NULL, NULL, 0, &merged) != 0) {
        return false;
    }
    return setrows_gaps(&merged) <= setrows_gaps(local);
}

size_t rk_setrows_delta_len(size_t members_len, size_t state_len)
{
    return RK_SETROWS_DELTA_HEAD_BYTES + members_len + state_len;
}

size_t rk_setrows_delta_encode(const uint8_t *members, size_t members_len, const uint8_t *state,
                               size_t state_len, uint8_t *out)
{
    RK_ASSERT(members_len <= UINT32_MAX);
    out[0] = RK_SETROWS_DELTA_MAGIC;
    out[1] = RK_SETROWS_FORMAT;
    rk_le32_put(out + 2, (uint32_t)members_len);
    memcpy(out + RK_SETROWS_DELTA_HEAD_BYTES, members, members_len);
    memcpy(out + RK_SETROWS_DELTA_HEAD_BYTES + members_len, state, state_len);
    return rk_setrows_delta_len(members_len, state_len);
}

int rk_setrows_delta_split(const uint8_t *bytes, size_t len, const uint8_t **members,
                           size_t *members_len, const uint8_t **state, size_t *state_len)
{
    if (len < RK_SETROWS_DELTA_HEAD_BYTES || bytes[0] != RK_SETROWS_DELTA_MAGIC ||
        bytes[1] != RK_SETROWS_FORMAT) {
        return RK_ECORRUPT;
    }
    uint32_t mlen = rk_le32_get(bytes + 2);
    uint32_t count = 0;
    if (mlen > len - RK_SETROWS_DELTA_HEAD_BYTES ||
        rk_elems_check(bytes + RK_SETROWS_DELTA_HEAD_BYTES, mlen, &count) != 0) {
        return RK_ECORRUPT;
    }
    *members = bytes + RK_SETROWS_DELTA_HEAD_BYTES;
    *members_len = mlen;
    *state = bytes + RK_SETROWS_DELTA_HEAD_BYTES + mlen;
    *state_len = len - RK_SETROWS_DELTA_HEAD_BYTES - mlen;
    return 0;
}

size_t rk_setrows_chunk_len(const rk_setrows_chunk *c)
{
    return 4u + 8u + 4u + 4u + c->lo_len + 4u + c->hi_len + 4u + rk_vv_encoded_len(&c->clock) +
           4u + c->rows_len;
}

size_t rk_setrows_chunk_encode(const rk_setrows_chunk *c, uint8_t *out)
{
    out[0] = RK_SETROWS_CHUNK_MAGIC;
    out[1] = RK_SETROWS_FORMAT;
    out[2] = c->last ? 1u : 0u;
    out[3] = c->type_tag;
    rk_le64_put(out + 4, c->stream);
    rk_le32_put(out + 12, c->index);
    size_t pos = 16;
    rk_le32_put(out + pos, (uint32_t)c->lo_len);
    if (c->lo_len > 0) {
        memcpy(out + pos + 4, c->lo, c->lo_len);
    }
    pos += 4 + c->lo_len;
    rk_le32_put(out + pos, (uint32_t)c->hi_len);
    if (c->hi_len > 0) {
        memcpy(out + pos + 4, c->hi, c->hi_len);
    }
    pos += 4 + c->hi_len;
    size_t clock_len = rk_vv_encode(&c->clock, out + pos + 4);
    rk_le32_put(out + pos, (uint32_t)clock_len);
    pos += 4 + clock_len;
    rk_le32_put(out + pos, c->row_count);
    if (c->rows_len > 0) {
        memcpy(out + pos + 4, c->rows, c->rows_len);
    }
    return pos + 4 + c->rows_len;
}

/* A [u32 len][bytes] field at *pos of bytes[0..len): 0 and advances, or RK_ECORRUPT. */
static int setrows_field(const uint8_t *bytes, size_t len, size_t *pos, const uint8_t **field,
                         size_t *field_len)
{
    if (len - *pos < 4 || rk_le32_get(bytes + *pos) > len - *pos - 4) {
        return RK_ECORRUPT;
    }
    *field_len = rk_le32_get(bytes + *pos);
    *field = bytes + *pos + 4;
    *pos += 4 + *field_len;
    return 0;
}

int rk_setrows_chunk_decode(const uint8_t *bytes, size_t len, rk_setrows_chunk *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 16 || bytes[0] != RK_SETROWS_CHUNK_MAGIC || bytes[1] != RK_SETROWS_FORMAT ||
        bytes[2] > 1) {
        return RK_ECORRUPT;
    }
    out->last = bytes[2] == 1;
    out->type_tag = bytes[3];
    out->stream = rk_le64_get(bytes + 4);
    out->index = rk_le32_get(bytes + 12);
    size_t pos = 16;
    const uint8_t *clock = NULL;
    size_t clock_len = 0;
    size_t used = 0;
    if (setrows_field(bytes, len, &pos, &out->lo, &out->lo_len) != 0 ||
        setrows_field(bytes, len, &pos, &out->hi, &out->hi_len) != 0 ||
        setrows_field(bytes, len, &pos, &clock, &clock_len) != 0 ||
        rk_vv_decode(clock, clock_len, &out->clock, &used) != 0 || used != clock_len ||
        len - pos < 4) {
        return RK_ECORRUPT;
    }
    out->row_count = rk_le32_get(bytes + pos);
    out->rows = bytes + pos + 4;
    out->rows_len = len - pos - 4;
    /* The rows are framed exactly: count of them, and nothing after. */
    size_t at = 0;
    for (uint32_t i = 0; i < out->row_count; i++) {
        const uint8_t *row = NULL;
        size_t row_len = 0;
        if (setrows_field(out->rows, out->rows_len, &at, &row, &row_len) != 0) {
            return RK_ECORRUPT;
        }
    }
    return at == out->rows_len && out->row_count <= RK_SETROWS_CHUNK_ROWS_MAX ? 0 : RK_ECORRUPT;
}
