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
        if (rc != 0 || (n == old_n && memcmp(merged, old, n * sizeof(*old)) == 0)) {
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
