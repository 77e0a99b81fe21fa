/* check_cart.c — the cart checkers over a recorded history (check_cart.h). Every SADD and
 * SREM, and every member of every final read, becomes an entry (key, member); both lists are
 * sorted by (key, member bytes), so the ops on one member sit together and whether the
 * member survived is one binary search. O(n log n) in ops plus final members, no recursion,
 * one allocation per list. */
#include "check_cart.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

typedef struct cart_entry {
    uint32_t key;
    const uint8_t *member;
    size_t member_len;
    size_t op_index;            /* ops: the op; finals: unused (0) */
} cart_entry;

static int cart_entry_member_cmp(const cart_entry *a, const cart_entry *b)
{
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    size_t common = a->member_len < b->member_len ? a->member_len : b->member_len;
    int c = common > 0 ? memcmp(a->member, b->member, common) : 0;
    if (c != 0) {
        return c;
    }
    if (a->member_len != b->member_len) {
        return a->member_len < b->member_len ? -1 : 1;
    }
    return 0;
}

/* A total order (qsort is not stable): key, member, then the op's place in the history. */
static int cart_entry_cmp(const void *pa, const void *pb)
{
    const cart_entry *a = pa;
    const cart_entry *b = pb;
    int c = cart_entry_member_cmp(a, b);
    if (c != 0) {
        return c;
    }
    if (a->op_index != b->op_index) {
        return a->op_index < b->op_index ? -1 : 1;
    }
    return 0;
}

static bool cart_op_valid(const rk_cart_history *h, const rk_cart_op *op)
{
    if (op->key >= h->key_count) {
        return false;
    }
    if (op->kind < RK_CART_SADD || op->kind > RK_CART_SMEMBERS) {
        return false;
    }
    if (op->outcome < RK_CART_OK || op->outcome > RK_CART_FAILED) {
        return false;
    }
    return op->kind == RK_CART_SMEMBERS || op->member != NULL;
}

static bool cart_removed(const rk_cart_op *op)
{
    return op->kind == RK_CART_SREM && op->outcome == RK_CART_OK && op->reply > 0;
}

/* The SADDs and SREMs of h, sorted; *count_out of them. NULL when out of memory. */
static cart_entry *cart_op_entries(const rk_cart_history *h, size_t *count_out)
{
    cart_entry *entries = malloc((h->op_count > 0 ? h->op_count : 1) * sizeof(*entries));
    if (entries == NULL) {
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 0; i < h->op_count; i++) {
        const rk_cart_op *op = &h->ops[i];
        if (op->kind == RK_CART_SMEMBERS) {
            continue;
        }
        entries[count++] = (cart_entry){.key = op->key, .member = op->member,
                                        .member_len = op->member_len, .op_index = i};
    }
    qsort(entries, count, sizeof(*entries), cart_entry_cmp);
    *count_out = count;
    return entries;
}

/* Every member of every final read that answered, sorted; *count_out of them. */
static cart_entry *cart_final_entries(const rk_cart_history *h, size_t *count_out)
{
    size_t total = 0;
    for (uint32_t k = 0; k < h->key_count; k++) {
        total += h->finals[k].read ? h->finals[k].member_count : 0;
    }
    cart_entry *entries = malloc((total > 0 ? total : 1) * sizeof(*entries));
    if (entries == NULL) {
        return NULL;
    }
    size_t count = 0;
    for (uint32_t k = 0; k < h->key_count; k++) {
        const rk_cart_final *f = &h->finals[k];
        for (uint32_t m = 0; f->read && m < f->member_count; m++) {
            entries[count++] = (cart_entry){.key = k, .member = f->members[m],
                                            .member_len = f->member_lens[m]};
        }
    }
    RK_ASSERT(count == total);
    qsort(entries, count, sizeof(*entries), cart_entry_cmp);
    *count_out = count;
    return entries;
}

static bool cart_final_has(const cart_entry *finals, size_t count, const cart_entry *probe)
{
    size_t lo = 0;
    size_t hi = count;
    while (lo < hi) {       /* halves each turn: at most 64 */
        size_t mid = lo + (hi - lo) / 2;
        int c = cart_entry_member_cmp(&finals[mid], probe);
        if (c == 0) {
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* Judge the ops entries[0..count) on one member of one key whose final read answered. */
static void cart_judge_member(const rk_cart_history *h, const cart_entry *entries, size_t count,
                              bool present, rk_cart_verdict *out)
{
    uint64_t acked_adds = 0;
    uint64_t removed = 0;
    bool excused = false;
    for (size_t i = 0; i < count; i++) {
        const rk_cart_op *op = &h->ops[entries[i].op_index];
        if (op->kind == RK_CART_SADD && op->outcome == RK_CART_OK) {
            acked_adds++;
        }
        if (cart_removed(op)) {
            removed++;
            excused = true;     /* it observed the member and removed it */
        }
        if (op->kind == RK_CART_SREM && op->outcome == RK_CART_UNKNOWN) {
            excused = true;     /* it may have observed and removed it */
        }
    }
    if (!present && !excused) {
        out->lost_adds += acked_adds;
    }
    if (present) {
        out->resurrected_removes += removed;
    }
}

static void cart_tally(const rk_cart_history *h, rk_cart_verdict *out)
{
    for (size_t i = 0; i < h->op_count; i++) {
        const rk_cart_op *op = &h->ops[i];
        out->acked_adds += op->kind == RK_CART_SADD && op->outcome == RK_CART_OK;
        out->acked_removes += cart_removed(op);
    }
    for (uint32_t k = 0; k < h->key_count; k++) {
        out->keys_unread += !h->finals[k].read;
    }
}

int rk_cart_check(const rk_cart_history *h, rk_cart_verdict *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < h->op_count; i++) {
        if (!cart_op_valid(h, &h->ops[i])) {
            return RK_EINVAL;
        }
    }
    size_t op_count = 0;
    size_t final_count = 0;
    cart_entry *ops = cart_op_entries(h, &op_count);
    cart_entry *finals = cart_final_entries(h, &final_count);
    if (ops == NULL || finals == NULL) {
        free(ops);
        free(finals);
        return RK_ENOMEM;
    }
    cart_tally(h, out);
    size_t start = 0;
    while (start < op_count) {      /* each turn consumes at least one entry */
        size_t end = start + 1;
        while (end < op_count && cart_entry_member_cmp(&ops[start], &ops[end]) == 0) {
            end++;
        }
        if (h->finals[ops[start].key].read) {
            bool present = cart_final_has(finals, final_count, &ops[start]);
            cart_judge_member(h, ops + start, end - start, present, out);
        }
        start = end;
    }
    free(ops);
    free(finals);
    return 0;
}
