/* local_set_delta.c — a delta merged into a set stored by element (local.h, setrows.h): the
 * rows of the members it names and the head, in one atomic batch, when causally ready. Uses the
 * row helpers of local_set.c (local_set_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "hash.h"
#include "local_set_internal.h"
#include "msg.h"
#include "node.h"
#include "setrows.h"

#define SET_CONVERTED 1     /* set_delta_head: not an error, read the head again */

/* Whether two dot lists are the same dots and stamps (field by field: the struct has padding). */
static bool set_dots_equal(const rk_setrows_dot *a, uint32_t na, const rk_setrows_dot *b,
                           uint32_t nb)
{
    for (uint32_t i = 0; na == nb && i < na; i++) {
        if (rk_dot_cmp(a[i].dot, b[i].dot) != 0 || a[i].timestamp_us != b[i].timestamp_us) {
            return false;
        }
    }
    return na == nb;
}

static int set_member_ptr_cmp(const void *a, const void *b)
{
    const rk_msg_bytes *x = a;
    const rk_msg_bytes *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->data, y->data, n) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The head `k` merges into: its own, a fresh one, or (a key stored whole) the whole state's
 * history with nothing live. SET_CONVERTED after storing a whole set by element (read again). */
static int set_delta_head(rk_local *l, const rk_local_key *k, rk_setrows_head *head,
                          bool *existed)
{
    rk_buf stored;
    int rc = rk_lset_get_object(l, k, &stored);
    memset(head, 0, sizeof(*head));
    head->type_tag = RK_LOCAL_ROWS_TAG;
    *existed = rc == 0 && stored.len > 0 && rk_setrows_is_head(stored.data, stored.len);
    if (rc == 0 && *existed) {
        rc = rk_setrows_head_decode(stored.data, stored.len, head);
    } else if (rc == 0 && stored.len > 0) {
        rk_dvvset whole;
        rc = rk_dvvset_frame_ok(stored.data, stored.len)
                 ? rk_dvvset_decode(stored.data, stored.len, &whole)
                 : RK_ECORRUPT;
        bool live = rc == 0 && rk_local_set_live(&whole);
        if (live && whole.type_tag != RK_LOCAL_ROWS_TAG) {
            rc = RK_EWRONGTYPE;
        } else if (live) {
            uint64_t seq = 0;
            rc = rk_local_set_write(l, k, &whole, true, NULL, 0, &seq);
            rc = rc == 0 ? SET_CONVERTED : rc;
        } else if (rc == 0) {
            head->history = whole.history;   /* a deleted key of any type: its history stays */
        }
        if (rc != RK_ECORRUPT) {
            rk_dvvset_deinit(&whole);
        }
    }
    rk_store_buf_free(&stored);
    return rc;
}

int rk_local_set_merge_delta(rk_local *l, const rk_local_key *k, const uint8_t *members,
                             size_t members_len, const rk_dvvset *delta, bool need_ready,
                             const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out,
                             bool *changed)
{
    *changed = false;
    *seq_out = l->written_seq;
    uint32_t member_count = 0;
    if (rk_elems_check(members, members_len, &member_count) != 0 ||
        member_count + 1u + extra_count > RK_BATCH_OPS_MAX ||
        delta->type_tag != RK_LOCAL_ROWS_TAG) {
        return RK_EINVAL;
    }
    rk_setrows_head head;
    bool existed = false;
    int rc = set_delta_head(l, k, &head, &existed);
    if (rc == SET_CONVERTED) {
        rc = set_delta_head(l, k, &head, &existed);
    }
    if (rc != 0) {
        return rc;
    }
    if (need_ready && !rk_setrows_ready(&head.history, &delta->history)) {
        return RK_ENOTREADY;
    }
    rk_vv clock;
    if (rk_vv_union_count(&head.history, &delta->history) > RK_VV_ENTRIES_MAX ||
        rk_vv_merge(&head.history, &delta->history, NULL, NULL, 0, &clock) != 0) {
        return RK_ETOOBIG;
    }
    if (!existed) {
        rc = rk_local_set_drop_rows(l, k, seq_out);     /* rows a crash or a type change left */
    }
    /* Each member once, in order. */
    rk_msg_bytes *list = malloc((member_count + 1u) * sizeof(*list));
    uint8_t **encoded = calloc(member_count + 1u, sizeof(*encoded));
    uint8_t (*keys)[RK_LMDB_KEY_BYTES_MAX] = malloc((member_count + 1u) * sizeof(*keys));
    set_batch b = {0};
    if (rc == 0) {
        rc = list == NULL || encoded == NULL || keys == NULL
                 ? RK_ENOMEM
                 : rk_lset_batch_init(&b, l, 1u + extra_count);
    }
    uint32_t unique = 0;
    rk_elems_iter it;
    rk_elems_iter_init(&it, members, members_len);
    while (rc == 0 && rk_elems_next(&it, &list[unique].data, &list[unique].len)) {
        unique++;
    }
    if (rc == 0) {
        qsort(list, unique, sizeof(*list), set_member_ptr_cmp);
    }
    bool was_live = head.count > 0;
    for (uint32_t i = 0; rc == 0 && i < unique; i++) {
        if (i > 0 && set_member_ptr_cmp(&list[i - 1], &list[i]) == 0) {
            continue;
        }
        rk_setrows_dot old[RK_SETROWS_DOTS_MAX];
        rk_setrows_dot in[RK_SETROWS_DOTS_MAX];
        rk_setrows_dot merged[2 * RK_SETROWS_DOTS_MAX];
        uint32_t old_n = 0;
        uint32_t in_n = 0;
        uint64_t old_hash = 0;
        rc = rk_lset_member_dots(l, k, list[i].data, list[i].len, old, &old_n, &old_hash);
        for (uint32_t s = 0; rc == 0 && s < delta->sibling_count; s++) {
            const rk_sibling *sib = &delta->siblings[s];
            if (!sib->tombstone && sib->value_len == list[i].len &&
                (list[i].len == 0 || memcmp(sib->value, list[i].data, list[i].len) == 0)) {
                rc = in_n < RK_SETROWS_DOTS_MAX ? 0 : RK_ETOOBIG;
                in[in_n++] = (rk_setrows_dot){.dot = sib->dot, .timestamp_us = sib->timestamp_us};
            }
        }
        uint32_t n = rc == 0 ? rk_setrows_merge(old, old_n, &head.history, in, in_n,
                                                &delta->history, merged)
                             : 0;
        if (rc != 0 || set_dots_equal(merged, n, old, old_n)) {
            continue;
        }
        if (n > RK_SETROWS_DOTS_MAX) {
            rc = RK_ETOOBIG;
            break;
        }
        size_t key_len = rk_setrows_key(k->skey, k->skey_len, list[i].data, list[i].len, keys[i]);
        head.digest ^= old_hash;
        head.count -= old_n > 0 ? 1u : 0u;
        if (n == 0) {
            rk_lset_batch_add(&b, (rk_batch_op){.kind = RK_BATCH_DEL, .db = RK_DB_ELEMS,
                                            .key = keys[i], .key_len = key_len});
            continue;
        }
        size_t len = rk_setrows_row_len(list[i].len, n);
        encoded[i] = malloc(len);
        if (encoded[i] == NULL) {
            rc = RK_ENOMEM;
            break;
        }
        (void)rk_setrows_row_encode(list[i].data, list[i].len, merged, n, encoded[i]);
        head.digest ^= rk_setrows_row_hash(encoded[i], len);
        head.count++;
        rk_lset_batch_add(&b, (rk_batch_op){.kind = RK_BATCH_PUT, .db = RK_DB_ELEMS, .key = keys[i],
                                        .key_len = key_len, .value = encoded[i],
                                        .value_len = len});
    }
    bool same_clock = rk_vv_equal(&clock, &head.history);
    head.history = clock;
    if (rc == 0 && (b.count > 0 || !same_clock || !existed || extra_count > 0)) {
        rc = rk_lset_finish(l, k, &b, &head, was_live, extra, extra_count, seq_out);
        *changed = rc == 0;
    }
    free(b.ops);
    for (uint32_t i = 0; encoded != NULL && i < unique; i++) {
        free(encoded[i]);
    }
    free(encoded);
    free(keys);
    free(list);
    return rc;
}

/* ---- whole sets in chunks ------------------------------------------------------------------- */

/* A stream's chunks are kept here until every one came, then merged as one whole state: a
 * receiver never holds part of another replica's set under its own clock, and a stream cut
 * short (a crash, an eviction) leaves nothing behind. */
static void set_stream_free(rk_local_stream *s)
{
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

/* The stream (id, key): found, or a slot taken over (the oldest goes, with what it kept). */
static rk_local_stream *set_stream(rk_local *l, uint64_t id, uint64_t key_hash)
{
    for (uint32_t i = 0; i < RK_LOCAL_STREAMS; i++) {
        if (l->streams[i].id == id && l->streams[i].key_hash == key_hash) {
            return &l->streams[i];
        }
    }
    rk_local_stream *s = &l->streams[l->stream_next];
    l->stream_next = (l->stream_next + 1) % RK_LOCAL_STREAMS;
    set_stream_free(s);
    s->id = id;
    s->key_hash = key_hash;
    return s;
}

void rk_local_streams_free(rk_local *l)
{
    for (uint32_t i = 0; i < RK_LOCAL_STREAMS; i++) {
        set_stream_free(&l->streams[i]);
    }
}

/* The framed row ([u32 len][row], framing checked by the chunk's decode) at *at, checked:
 * 0 with its member and dot count, or RK_ECORRUPT; *at moves past it either way. */
static int set_framed_row(const uint8_t *rows, size_t *at, const uint8_t **row,
                          const uint8_t **member, size_t *member_len, uint32_t *dots)
{
    size_t len = rk_le32_get(rows + *at);
    *row = rows + *at + 4;
    *at += 4 + len;
    return rk_setrows_row_check(*row, len, member, member_len, dots);
}

/* Check chunk `c`'s rows for key `k`: intact, in key order, inside the chunk's range. */
static int set_chunk_check(const rk_local_key *k, const rk_setrows_chunk *c, uint32_t *dots_out)
{
    size_t prefix_len = rk_setrows_prefix_len(k->skey_len);
    uint8_t prev[RK_LMDB_KEY_BYTES_MAX];
    uint8_t key[RK_LMDB_KEY_BYTES_MAX];
    set_row before = {.key = prev, .key_len = 0};
    set_row lo = {.key = (uint8_t *)(uintptr_t)c->lo, .key_len = c->lo_len};
    set_row hi = {.key = (uint8_t *)(uintptr_t)c->hi, .key_len = c->hi_len};
    size_t at = 0;
    *dots_out = 0;
    for (uint32_t i = 0; i < c->row_count; i++) {
        const uint8_t *row = NULL;
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = 0;
        if (set_framed_row(c->rows, &at, &row, &member, &member_len, &dots) != 0) {
            return RK_ECORRUPT;
        }
        set_row cur = {.key = key, .key_len = rk_setrows_key(k->skey, k->skey_len, member,
                                                             member_len, key)};
        set_row suffix = {.key = key + prefix_len, .key_len = cur.key_len - prefix_len};
        if ((i > 0 && rk_lset_row_key_cmp(&before, &cur) >= 0) ||
            rk_lset_row_key_cmp(&lo, &suffix) > 0 ||
            (c->hi_len > 0 && rk_lset_row_key_cmp(&suffix, &hi) >= 0)) {
            return RK_ECORRUPT;
        }
        memcpy(prev, key, cur.key_len);
        before.key_len = cur.key_len;
        *dots_out += dots;
    }
    return 0;
}

/* The stream's whole state (history: the sender's clock, siblings: every row's dots, values
 * borrowed from the kept rows), encoded into *out. */
static int set_stream_whole(const rk_local_stream *s, rk_buf *out)
{
    if (s->dots > RK_DVVSET_ELEMENTS_MAX) {
        return RK_ETOOBIG;
    }
    rk_sibling *siblings = calloc(s->dots + 1u, sizeof(*siblings));
    if (siblings == NULL) {
        return RK_ENOMEM;
    }
    rk_vv history = s->clock;
    uint32_t count = 0;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < s->rows_len;) {
        const uint8_t *row = NULL;
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = 0;
        (void)set_framed_row(s->rows, &at, &row, &member, &member_len, &dots);
        for (uint32_t d = 0; rc == 0 && d < dots && count < s->dots; d++) {
            rk_setrows_dot dot = rk_setrows_row_dot(row, member_len, d);
            uint8_t *value = member_len > 0 ? (uint8_t *)(uintptr_t)member : NULL;
            siblings[count++] = (rk_sibling){.dot = dot.dot, .timestamp_us = dot.timestamp_us,
                                             .value = value,
                                             .value_len = (uint32_t)member_len};
            /* A sender's rows ahead of its clock (a crash between batches): claimed exactly. */
            if (!rk_vv_covers(&history, dot.dot) &&
                rk_vv_merge(&history, &history, &dot.dot, NULL, 0, &history) != 0) {
                rc = RK_ECORRUPT;
            }
        }
    }
    if (rc == 0) {
        qsort(siblings, count, sizeof(*siblings), rk_lset_sibling_dot_cmp);
        for (uint32_t i = 1; i < count; i++) {
            rc = rk_dot_cmp(siblings[i - 1].dot, siblings[i].dot) == 0 ? RK_ECORRUPT : rc;
        }
    }
    if (rc == 0) {
        rk_dvvset set = {.history = history, .sibling_count = count, .siblings = siblings,
                         .values_borrowed = true, .type_tag = s->type_tag};
        rc = rk_local_encode_owned(&set, out);
    }
    free(siblings);
    return rc;
}

int rk_local_set_stage_chunk(rk_local *l, const rk_local_key *k, const rk_setrows_chunk *c,
                             const uint64_t *waiter, rk_local_chunk_done *done, rk_buf *whole)
{
    memset(done, 0, sizeof(*done));
    memset(whole, 0, sizeof(*whole));
    uint32_t dots = 0;
    if (c->stream == 0 || c->index >= RK_LOCAL_STREAM_CHUNKS_MAX ||
        c->type_tag != RK_LOCAL_ROWS_TAG || set_chunk_check(k, c, &dots) != 0) {
        return RK_EINVAL;
    }
    rk_local_stream *s = set_stream(l, c->stream, rk_hash_key(k->skey, k->skey_len));
    uint64_t bit = 1ull << (c->index % 64u);
    if ((s->seen[c->index / 64u] & bit) == 0) {
        if (s->rows_len + c->rows_len > s->rows_cap) {
            size_t cap = s->rows_cap * 2u > s->rows_len + c->rows_len
                             ? s->rows_cap * 2u
                             : s->rows_len + c->rows_len + 1u;
            uint8_t *grown = realloc(s->rows, cap);
            if (grown == NULL) {
                return RK_ENOMEM;
            }
            s->rows = grown;
            s->rows_cap = cap;
        }
        if (c->rows_len > 0) {
            memcpy(s->rows + s->rows_len, c->rows, c->rows_len);
        }
        s->rows_len += c->rows_len;
        s->dots += dots;
        s->seen[c->index / 64u] |= bit;
        s->received++;
        s->clock = c->clock;        /* one snapshot: every chunk carries the same clock */
        s->type_tag = c->type_tag;
    }
    if (c->last) {
        s->total = c->index + 1u;
        if (waiter != NULL) {
            s->has_waiter = true;
            s->waiter[0] = waiter[0];
            s->waiter[1] = waiter[1];
        }
    }
    if (s->total == 0 || s->received != s->total) {
        return 0;
    }
    done->complete = true;
    done->answer = s->has_waiter;
    done->waiter[0] = s->waiter[0];
    done->waiter[1] = s->waiter[1];
    int rc = set_stream_whole(s, whole);
    set_stream_free(s);
    return rc;
}

int rk_local_set_stream(rk_local *l, const rk_local_key *k, uint64_t stream,
                        rk_local_chunk_fn fn, void *ctx)
{
    rk_buf stored;
    rk_setrows_head head;
    int rc = rk_lset_get_object(l, k, &stored);
    rc = rc == 0 && rk_setrows_head_decode(stored.data, stored.len, &head) != 0 ? RK_ECORRUPT
                                                                              : rc;
    rk_store_buf_free(&stored);
    set_rows rows = {0};
    if (rc == 0) {
        rc = rk_lset_rows_read(l, k->skey, k->skey_len, true, &rows);
    }
    size_t prefix_len = rk_setrows_prefix_len(k->skey_len);
    uint8_t *buf = NULL;
    uint32_t index = 0;
    for (uint32_t first = 0; rc == 0 && (first < rows.count || index == 0); index++) {
        uint32_t end = first;
        size_t bytes = 0;
        while (end < rows.count && end - first < RK_SETROWS_CHUNK_ROWS_MAX &&
               (end == first || bytes + rows.rows[end].value_len <= RK_SETROWS_CHUNK_BYTES_MAX)) {
            bytes += 4u + rows.rows[end].value_len;
            end++;
        }
        bool last = end == rows.count;
        rk_setrows_chunk c = {.stream = stream, .index = index, .last = last,
                              .type_tag = head.type_tag, .clock = head.history,
                              .lo = first > 0 ? rows.rows[first].key + prefix_len : NULL,
                              .lo_len = first > 0 ? rows.rows[first].key_len - prefix_len : 0,
                              .hi = last ? NULL : rows.rows[end].key + prefix_len,
                              .hi_len = last ? 0 : rows.rows[end].key_len - prefix_len,
                              .row_count = end - first, .rows_len = bytes};
        uint8_t *framed = malloc(bytes + 1u);
        rc = framed != NULL ? 0 : RK_ENOMEM;
        for (uint32_t r = first, at = 0; rc == 0 && r < end; r++) {
            rk_le32_put(framed + at, (uint32_t)rows.rows[r].value_len);
            memcpy(framed + at + 4, rows.rows[r].value, rows.rows[r].value_len);
            at += 4u + (uint32_t)rows.rows[r].value_len;
        }
        c.rows = framed;
        size_t len = rc == 0 ? rk_setrows_chunk_len(&c) : 0;
        buf = rc == 0 ? malloc(len) : NULL;
        rc = rc == 0 && buf == NULL ? RK_ENOMEM : rc;
        if (rc == 0) {
            (void)rk_setrows_chunk_encode(&c, buf);
            rc = fn(ctx, buf, len, last);
        }
        free(framed);
        free(buf);
        buf = NULL;
        first = end;
    }
    rk_lset_rows_free(&rows);
    return rc;
}
