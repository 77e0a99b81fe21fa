/* local_set_delta.c — a delta merged into a set stored by element (local.h, setrows.h): the
 * rows of the members it names and the head, in one atomic batch, when causally ready. Uses the
 * row helpers of local_set.c (local_set_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "elems.h"
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
    rc = rc != 0 ? rc
                 : list == NULL || encoded == NULL || keys == NULL ? RK_ENOMEM
                                                                   : rk_lset_batch_init(&b, l, 1u + extra_count);
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

/* Whether chunk `index` continues stream `stream` (chunk 0 starts one); the last forgets it. */
static bool set_chunk_in_order(rk_local *l, const rk_setrows_chunk *c)
{
    if (c->index == 0) {
        l->chunk_slot = (l->chunk_slot + 1) % 8;
        l->chunk_streams[l->chunk_slot] = c->stream;
        l->chunk_next[l->chunk_slot] = 0;
    }
    for (uint32_t i = 0; i < 8; i++) {
        if (l->chunk_streams[i] == c->stream && c->stream != 0) {
            bool ok = l->chunk_next[i] == c->index;
            l->chunk_next[i]++;
            if (!ok || c->last) {
                l->chunk_streams[i] = 0;
            }
            return ok;
        }
    }
    return false;
}

/* The merged dots of one member: local row `mine` (or none) against the chunk's `theirs`. */
static uint32_t set_chunk_member(const set_row *mine, const uint8_t *theirs, size_t theirs_len,
                                 const rk_vv *local_clock, const rk_vv *clock,
                                 rk_setrows_dot *out)
{
    rk_setrows_dot a[RK_SETROWS_DOTS_MAX];
    rk_setrows_dot b[RK_SETROWS_DOTS_MAX];
    uint32_t na = 0;
    uint32_t nb = 0;
    const uint8_t *member = NULL;
    size_t member_len = 0;
    if (mine != NULL &&
        rk_setrows_row_check(mine->value, mine->value_len, &member, &member_len, &na) == 0) {
        for (uint32_t i = 0; i < na; i++) {
            a[i] = rk_setrows_row_dot(mine->value, member_len, i);
        }
    }
    if (theirs != NULL &&
        rk_setrows_row_check(theirs, theirs_len, &member, &member_len, &nb) == 0) {
        for (uint32_t i = 0; i < nb; i++) {
            b[i] = rk_setrows_row_dot(theirs, member_len, i);
        }
    }
    return rk_setrows_merge(a, na, local_clock, b, nb, clock, out);
}

int rk_local_set_merge_chunk(rk_local *l, const rk_local_key *k, const rk_setrows_chunk *c,
                             const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out,
                             bool *broken)
{
    *broken = false;
    *seq_out = l->written_seq;
    bool in_order = set_chunk_in_order(l, c);
    rk_setrows_head head;
    bool existed = false;
    int rc = c->type_tag == RK_LOCAL_ROWS_TAG ? set_delta_head(l, k, &head, &existed) : RK_EINVAL;
    if (rc == SET_CONVERTED) {
        rc = set_delta_head(l, k, &head, &existed);
    }
    /* The incoming rows: intact, in key order, inside the chunk's range. */
    uint32_t count = c->row_count;
    set_row *in = calloc(count + 1u, sizeof(*in));
    uint8_t (*keys)[RK_LMDB_KEY_BYTES_MAX] = malloc((count + 1u) * sizeof(*keys));
    rc = rc != 0 ? rc : in == NULL || keys == NULL ? RK_ENOMEM : 0;
    size_t prefix_len = rk_setrows_prefix_len(k->skey_len);
    size_t at = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        in[i].value_len = rk_le32_get(c->rows + at);
        in[i].value = (uint8_t *)(uintptr_t)(c->rows + at + 4);
        at += 4 + in[i].value_len;
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = 0;
        rc = rk_setrows_row_check(in[i].value, in[i].value_len, &member, &member_len, &dots);
        if (rc == 0) {
            in[i].key_len = rk_setrows_key(k->skey, k->skey_len, member, member_len, keys[i]);
            in[i].key = keys[i];
            set_row lo = {.key = (uint8_t *)(uintptr_t)c->lo, .key_len = c->lo_len};
            set_row hi = {.key = (uint8_t *)(uintptr_t)c->hi, .key_len = c->hi_len};
            set_row suffix = {.key = keys[i] + prefix_len, .key_len = in[i].key_len - prefix_len};
            bool ordered = i == 0 || rk_lset_row_key_cmp(&in[i - 1], &in[i]) < 0;
            bool inside = rk_lset_row_key_cmp(&lo, &suffix) <= 0 &&
                          (c->hi_len == 0 || rk_lset_row_key_cmp(&suffix, &hi) < 0);
            rc = ordered && inside ? 0 : RK_ECORRUPT;
        }
    }
    set_rows mine = {0};
    set_batch b = {0};
    if (rc == 0) {
        rc = rk_lset_rows_range(l, k->skey, k->skey_len, c->lo, c->lo_len, c->hi, c->hi_len, true,
                                &mine);
    }
    if (rc == 0) {
        rc = rk_lset_batch_init(&b, l, 1u + extra_count);
    }
    uint8_t **encoded = rc == 0 ? calloc(count + mine.count + 1u, sizeof(*encoded)) : NULL;
    rc = rc == 0 && encoded == NULL ? RK_ENOMEM : rc;
    bool was_live = head.count > 0;
    uint32_t i = 0;
    uint32_t j = 0;
    uint32_t e = 0;
    while (rc == 0 && (i < count || j < mine.count)) {
        int cmp = i == count ? 1 : j == mine.count ? -1 : rk_lset_row_key_cmp(&in[i], &mine.rows[j]);
        const set_row *old = cmp >= 0 ? &mine.rows[j] : NULL;
        const set_row *row = cmp <= 0 ? &in[i] : old;
        rk_setrows_dot merged[2 * RK_SETROWS_DOTS_MAX];
        uint32_t n = set_chunk_member(old, cmp <= 0 ? in[i].value : NULL,
                                      cmp <= 0 ? in[i].value_len : 0, &head.history, &c->clock,
                                      merged);
        i += cmp <= 0 ? 1u : 0u;
        j += cmp >= 0 ? 1u : 0u;
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = 0;
        (void)rk_setrows_row_check(row->value, row->value_len, &member, &member_len, &dots);
        size_t len = n > 0 ? rk_setrows_row_len(member_len, n) : 0;
        if (n > RK_SETROWS_DOTS_MAX || (n > 0 && (encoded[e] = malloc(len)) == NULL)) {
            rc = n > RK_SETROWS_DOTS_MAX ? RK_ETOOBIG : RK_ENOMEM;
            break;
        }
        uint64_t hash = 0;
        if (n > 0) {
            (void)rk_setrows_row_encode(member, member_len, merged, n, encoded[e]);
            hash = rk_setrows_row_hash(encoded[e], len);
        }
        if (old != NULL && hash == old->hash && n > 0) {
            free(encoded[e]);
            encoded[e] = NULL;
            continue;   /* unchanged */
        }
        head.digest ^= (old != NULL ? old->hash : 0) ^ hash;
        head.count = head.count - (old != NULL ? 1u : 0u) + (n > 0 ? 1u : 0u);
        rk_lset_batch_add(&b, n > 0 ? (rk_batch_op){.kind = RK_BATCH_PUT, .db = RK_DB_ELEMS,
                                                    .key = row->key, .key_len = row->key_len,
                                                    .value = encoded[e], .value_len = len}
                                    : (rk_batch_op){.kind = RK_BATCH_DEL, .db = RK_DB_ELEMS,
                                                    .key = row->key, .key_len = row->key_len});
        e++;
    }
    bool complete = c->last && in_order;
    if (rc == 0 && complete &&
        rk_vv_merge(&head.history, &c->clock, NULL, NULL, 0, &head.history) != 0) {
        rc = RK_ETOOBIG;
    }
    if (rc == 0) {
        rc = rk_lset_finish(l, k, &b, &head, was_live, extra, extra_count, seq_out);
    }
    free(b.ops);
    for (uint32_t x = 0; encoded != NULL && x < e + 1u && x < count + mine.count + 1u; x++) {
        free(encoded[x]);
    }
    free(encoded);
    rk_lset_rows_free(&mine);
    free(in);
    free(keys);
    *broken = rc == 0 && c->last && !in_order;
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
