/* check_cart.c — the cart checkers over a recorded history (check_cart.h). Every SADD and
 * SREM, and every member of every final read, becomes an entry (key, member); both lists are
 * sorted by (key, member bytes), so the ops on one member sit together and whether the
 * member survived is one binary search. Counters go the same way with (key, field): the ops
 * on one counter sit together and its final value is one binary search away. O(n log n) in
 * ops plus final entries, no recursion, one allocation per list. */
#include "check_cart.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

typedef struct cart_entry {
    uint32_t key;
    const uint8_t *member;
    size_t member_len;
    size_t index;               /* ops: the op's place in the history; set finals: unused (0);
                                 * counter finals: the field's place in its key's final */
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

/* A total order (qsort is not stable): key, member, then `index`. */
static int cart_entry_cmp(const void *pa, const void *pb)
{
    const cart_entry *a = pa;
    const cart_entry *b = pb;
    int c = cart_entry_member_cmp(a, b);
    if (c != 0) {
        return c;
    }
    if (a->index != b->index) {
        return a->index < b->index ? -1 : 1;
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
                                        .member_len = op->member_len, .index = i};
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

/* The place in sorted[0..count) of an entry with probe's key and member, or SIZE_MAX. */
static size_t cart_find(const cart_entry *sorted, size_t count, const cart_entry *probe)
{
    size_t lo = 0;
    size_t hi = count;
    while (lo < hi) {       /* halves each turn: at most 64 */
        size_t mid = lo + (hi - lo) / 2;
        int c = cart_entry_member_cmp(&sorted[mid], probe);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SIZE_MAX;
}

/* The end of the run of entries equal to entries[start] in key and member. */
static size_t cart_run_end(const cart_entry *entries, size_t count, size_t start)
{
    size_t end = start + 1;
    while (end < count && cart_entry_member_cmp(&entries[start], &entries[end]) == 0) {
        end++;
    }
    return end;
}

/* Judge the ops entries[0..count) on one member of one key whose final read answered. */
static void cart_judge_member(const rk_cart_history *h, const cart_entry *entries, size_t count,
                              bool present, rk_cart_verdict *out)
{
    uint64_t acked_adds = 0;
    uint64_t removed = 0;
    bool excused = false;
    for (size_t i = 0; i < count; i++) {
        const rk_cart_op *op = &h->ops[entries[i].index];
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
        size_t end = cart_run_end(ops, op_count, start);
        if (h->finals[ops[start].key].read) {
            bool present = cart_find(finals, final_count, &ops[start]) != SIZE_MAX;
            cart_judge_member(h, ops + start, end - start, present, out);
        }
        start = end;
    }
    free(ops);
    free(finals);
    return 0;
}

/* ---- counters ------------------------------------------------------------------------------ */

/* Sums of int64 increments: 2^64 of them could not leave it, so judging never overflows. */
typedef __int128 counter_sum;

static bool counter_op_valid(const rk_counter_history *h, const rk_counter_op *op)
{
    if (op->key >= h->key_count || op->field == NULL) {
        return false;
    }
    return op->outcome == RK_CART_OK || op->outcome == RK_CART_REFUSED ||
           op->outcome == RK_CART_UNKNOWN;
}

/* The int64 that decimal `text` names ("-" then digits, or digits); false for anything else. */
static bool counter_parse(const uint8_t *text, size_t len, int64_t *out)
{
    bool negative = len > 0 && text[0] == '-';
    size_t start = negative ? 1 : 0;
    if (len == start || len - start > 19) {     /* INT64_MIN has 19 digits */
        return false;
    }
    counter_sum v = 0;
    for (size_t i = start; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        v = v * 10 + (text[i] - '0');
    }
    v = negative ? -v : v;
    if (v < INT64_MIN || v > INT64_MAX) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static int64_t counter_saturate(counter_sum v)
{
    return v < INT64_MIN ? INT64_MIN : (v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* Every op of h as an entry (key, field), sorted; NULL when out of memory. */
static cart_entry *counter_op_entries(const rk_counter_history *h)
{
    cart_entry *entries = malloc((h->op_count > 0 ? h->op_count : 1) * sizeof(*entries));
    for (size_t i = 0; entries != NULL && i < h->op_count; i++) {
        entries[i] = (cart_entry){.key = h->ops[i].key, .member = h->ops[i].field,
                                  .member_len = h->ops[i].field_len, .index = i};
    }
    if (entries != NULL) {
        qsort(entries, h->op_count, sizeof(*entries), cart_entry_cmp);
    }
    return entries;
}

/* Every counter of every final read that answered, sorted; *count_out of them. `index` is the
 * counter's place in its key's final. */
static cart_entry *counter_final_entries(const rk_counter_history *h, size_t *count_out)
{
    size_t total = 0;
    for (uint32_t k = 0; k < h->key_count; k++) {
        total += h->finals[k].read ? h->finals[k].field_count : 0;
    }
    cart_entry *entries = malloc((total > 0 ? total : 1) * sizeof(*entries));
    if (entries == NULL) {
        return NULL;
    }
    size_t count = 0;
    for (uint32_t k = 0; k < h->key_count; k++) {
        const rk_counter_final *f = &h->finals[k];
        for (uint32_t i = 0; f->read && i < f->field_count; i++) {
            entries[count++] = (cart_entry){.key = k, .member = f->fields[i],
                                            .member_len = f->field_lens[i], .index = i};
        }
    }
    RK_ASSERT(count == total);
    qsort(entries, count, sizeof(*entries), cart_entry_cmp);
    *count_out = count;
    return entries;
}

/* Judge one counter: `final` is its entry among the final reads (NULL: absent, so it reads 0),
 * [low, high] the values the history allows. */
static void counter_judge(const rk_counter_history *h, const cart_entry *counter,
                          const cart_entry *final, counter_sum low, counter_sum high,
                          rk_counter_verdict *out)
{
    const uint8_t *value = NULL;
    size_t value_len = 0;
    if (final != NULL) {
        const rk_counter_final *f = &h->finals[final->key];
        RK_ASSERT(final->index < f->field_count);
        value = f->values[final->index];
        value_len = f->value_lens[final->index];
    }
    int64_t read = 0;
    bool parsed = value == NULL || counter_parse(value, value_len, &read);
    out->counters++;
    if (parsed && read >= low && read <= high) {
        return;
    }
    out->out_of_range++;
    if (!out->example) {
        out->example = true;
        out->example_key = counter->key;
        out->example_field = counter->member;
        out->example_field_len = counter->member_len;
        out->example_value = value;
        out->example_value_len = value_len;
        out->example_low = counter_saturate(low);
        out->example_high = counter_saturate(high);
    }
}

/* Judge the ops entries[0..count) on one counter of a key whose final read answered: acked
 * increments happened, unknown ones may have (a decrement lowers the floor, an increment
 * raises the ceiling), refused ones did not. */
static void counter_judge_ops(const rk_counter_history *h, const cart_entry *entries,
                              size_t count, const cart_entry *finals, size_t final_count,
                              rk_counter_verdict *out)
{
    counter_sum low = 0;
    counter_sum high = 0;
    for (size_t i = 0; i < count; i++) {
        const rk_counter_op *op = &h->ops[entries[i].index];
        if (op->outcome == RK_CART_OK) {
            low += op->increment;
            high += op->increment;
        } else if (op->outcome == RK_CART_UNKNOWN && op->increment < 0) {
            low += op->increment;
        } else if (op->outcome == RK_CART_UNKNOWN) {
            high += op->increment;
        }
    }
    size_t at = cart_find(finals, final_count, &entries[0]);
    counter_judge(h, &entries[0], at != SIZE_MAX ? &finals[at] : NULL, low, high, out);
}

int rk_counter_check(const rk_counter_history *h, rk_counter_verdict *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < h->op_count; i++) {
        if (!counter_op_valid(h, &h->ops[i])) {
            return RK_EINVAL;
        }
    }
    size_t final_count = 0;
    cart_entry *ops = counter_op_entries(h);
    cart_entry *finals = counter_final_entries(h, &final_count);
    if (ops == NULL || finals == NULL) {
        free(ops);
        free(finals);
        return RK_ENOMEM;
    }
    for (size_t i = 0; i < h->op_count; i++) {
        out->acked_increments += h->ops[i].outcome == RK_CART_OK;
        out->unknown_increments += h->ops[i].outcome == RK_CART_UNKNOWN;
    }
    for (uint32_t k = 0; k < h->key_count; k++) {
        out->keys_unread += !h->finals[k].read;
    }
    size_t start = 0;
    while (start < h->op_count) {   /* each turn consumes at least one entry */
        size_t end = cart_run_end(ops, h->op_count, start);
        if (h->finals[ops[start].key].read) {
            counter_judge_ops(h, ops + start, end - start, finals, final_count, out);
        }
        start = end;
    }
    /* A counter the final read holds but no op named must read 0: nobody changed it. */
    for (size_t i = 0; i < final_count; i++) {
        if (cart_find(ops, h->op_count, &finals[i]) == SIZE_MAX) {
            counter_judge(h, &finals[i], &finals[i], 0, 0, out);
        }
    }
    free(ops);
    free(finals);
    return 0;
}
