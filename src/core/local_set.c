/* local_set.c — a set stored by element (issue 14; formats and rules in setrows.h, the API in
 * local.h): its whole state read from and written to its head and rows for the paths that move
 * whole states (replication of small sets, read repair, handoff, anti-entropy, transfer), and
 * the two paths whose cost does not grow with the set: a projection onto a few members (the
 * read before a delta write) and a delta merge (the write itself, local_set_delta.c). Rows are
 * written only by these files; local.c routes whole states of the set type here. */
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "local_set_internal.h"
#include "msg.h"
#include "node.h"
#include "setrows.h"

/* ---- rows of one key ------------------------------------------------------------------------- */

void rk_lset_rows_free(set_rows *r)
{
    for (uint32_t i = 0; i < r->count; i++) {
        free(r->rows[i].key);
        free(r->rows[i].value);
    }
    free(r->rows);
    memset(r, 0, sizeof(*r));
}

static int set_rows_collect(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                            size_t value_len)
{
    set_rows *r = ctx;
    if (key_len < r->prefix_len || memcmp(key, r->prefix, r->prefix_len) != 0) {
        return 1;   /* past this key's rows */
    }
    const uint8_t *member = NULL;
    size_t member_len = 0;
    uint32_t dots = 0;
    bool intact = rk_setrows_row_check(value, value_len, &member, &member_len, &dots) == 0;
    if (r->values && !intact) {
        r->error = RK_ECORRUPT;
        return 1;
    }
    if (r->count == r->capacity) {
        uint32_t grown = r->capacity == 0 ? 64u : r->capacity * 2u;
        set_row *rows = realloc(r->rows, grown * sizeof(*rows));
        if (rows == NULL) {
            r->error = RK_ENOMEM;
            return 1;
        }
        r->rows = rows;
        r->capacity = grown;
    }
    set_row *row = &r->rows[r->count];
    memset(row, 0, sizeof(*row));
    row->key = malloc(key_len);
    row->value = r->values ? malloc(value_len) : NULL;
    if (row->key == NULL || (r->values && row->value == NULL)) {
        free(row->key);
        free(row->value);
        r->error = RK_ENOMEM;
        return 1;
    }
    memcpy(row->key, key, key_len);
    row->key_len = key_len;
    if (r->values) {
        memcpy(row->value, value, value_len);
        row->value_len = value_len;
    }
    /* A damaged row hashes as nothing: a whole-state write then rewrites it. */
    row->hash = intact ? rk_setrows_row_hash(value, value_len) : 0;
    r->count++;
    return 0;
}

int rk_lset_rows_range(rk_local *l, const uint8_t *skey, size_t skey_len, const uint8_t *lo,
                       size_t lo_len, const uint8_t *hi, size_t hi_len, bool values,
                       set_rows *r)
{
    uint8_t prefix[RK_LMDB_KEY_BYTES_MAX];
    uint8_t start[RK_LMDB_KEY_BYTES_MAX];
    uint8_t end[RK_LMDB_KEY_BYTES_MAX];
    size_t len = rk_setrows_prefix(skey, skey_len, prefix);
    memset(r, 0, sizeof(*r));
    if (len + lo_len > RK_LMDB_KEY_BYTES_MAX || len + hi_len > RK_LMDB_KEY_BYTES_MAX) {
        return RK_EINVAL;
    }
    memcpy(start, prefix, len);
    if (lo_len > 0) {
        memcpy(start + len, lo, lo_len);
    }
    memcpy(end, prefix, len);
    size_t end_len = len;
    if (hi_len > 0) {
        memcpy(end + len, hi, hi_len);
        end_len = len + hi_len;
    } else {
        /* To the end of this key's rows: the prefix plus one. */
        while (end_len > 0 && end[end_len - 1] == 0xff) {
            end_len--;
        }
        if (end_len > 0) {
            end[end_len - 1]++;
        }
    }
    r->values = values;
    r->prefix = prefix;
    r->prefix_len = len;
    int rc = rk_store_iterate(l->env->store, RK_DB_ELEMS, start, len + lo_len,
                              end_len > 0 ? end : NULL, end_len, set_rows_collect, r);
    r->prefix = NULL;
    if (rc < 0) {
        l->stats->store_errors++;
        return rc;
    }
    return r->error;
}

int rk_lset_rows_read(rk_local *l, const uint8_t *skey, size_t skey_len, bool values,
                      set_rows *r)
{
    return rk_lset_rows_range(l, skey, skey_len, NULL, 0, NULL, 0, values, r);
}

int rk_lset_row_key_cmp(const void *a, const void *b)
{
    const set_row *x = a;
    const set_row *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

int rk_lset_sibling_dot_cmp(const void *a, const void *b)
{
    return rk_dot_cmp(((const rk_sibling *)a)->dot, ((const rk_sibling *)b)->dot);
}

/* Make `history` cover `dot` (rows may hold dots a crash left ahead of their head). */
static int set_cover(rk_vv *history, rk_dot dot)
{
    if (rk_vv_covers(history, dot)) {
        return 0;
    }
    return rk_vv_merge(history, history, &dot, NULL, 0, history) == 0 ? 0 : RK_ECORRUPT;
}

/* ---- batches --------------------------------------------------------------------------------- */

int rk_lset_batch_init(set_batch *b, rk_local *l, uint32_t reserve)
{
    memset(b, 0, sizeof(*b));
    b->l = l;
    b->room = RK_BATCH_OPS_MAX - reserve;
    b->ops = malloc(RK_BATCH_OPS_MAX * sizeof(*b->ops));
    return b->ops != NULL ? 0 : RK_ENOMEM;
}

void rk_lset_batch_add(set_batch *b, rk_batch_op op)
{
    if (b->rc != 0) {
        return;
    }
    if (b->count == b->room) {
        b->rc = rk_local__write_ops(b->l, b->ops, b->count, &b->seq);
        b->count = 0;
    }
    b->ops[b->count++] = op;
}

/* Add the head and `extra` and write the last batch. */
static int set_batch_finish(set_batch *b, rk_batch_op head, const rk_batch_op *extra,
                            uint32_t extra_count, uint64_t *seq_out)
{
    if (b->rc == 0) {
        b->ops[b->count++] = head;
        for (uint32_t i = 0; i < extra_count; i++) {
            b->ops[b->count++] = extra[i];
        }
        b->rc = rk_local__write_ops(b->l, b->ops, b->count, seq_out);
    }
    free(b->ops);
    b->ops = NULL;
    return b->rc;
}

/* ---- whole states ---------------------------------------------------------------------------- */

int rk_local_encode_owned(const rk_dvvset *set, rk_buf *out)
{
    out->len = rk_dvvset_encoded_len(set);
    out->data = malloc(out->len);
    if (out->data == NULL) {
        out->len = 0;
        return RK_ENOMEM;
    }
    (void)rk_dvvset_encode(set, out->data);
    return 0;
}

/* A collected (checked) row's member and dot count. */
static uint32_t set_row_parse(const set_row *row, const uint8_t **member, size_t *member_len)
{
    uint32_t dots = 0;
    (void)rk_setrows_row_check(row->value, row->value_len, member, member_len, &dots);
    return dots;
}

int rk_local_set_materialize(rk_local *l, const uint8_t *skey, size_t skey_len,
                             const uint8_t *head_bytes, size_t head_len, rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    rk_setrows_head head;
    if (rk_setrows_head_decode(head_bytes, head_len, &head) != 0) {
        return RK_ECORRUPT;
    }
    set_rows r;
    int rc = rk_lset_rows_read(l, skey, skey_len, true, &r);
    size_t total = 0;
    for (uint32_t i = 0; rc == 0 && i < r.count; i++) {
        const uint8_t *member = NULL;
        size_t member_len = 0;
        total += set_row_parse(&r.rows[i], &member, &member_len);
    }
    rk_sibling *siblings = NULL;
    if (rc == 0 && total > RK_DVVSET_ELEMENTS_MAX) {
        rc = RK_ETOOBIG;
    }
    if (rc == 0) {
        siblings = calloc(total > 0 ? total : 1, sizeof(*siblings));
        rc = siblings != NULL ? 0 : RK_ENOMEM;
    }
    size_t count = 0;
    for (uint32_t i = 0; rc == 0 && i < r.count; i++) {
        const uint8_t *member = NULL;
        size_t member_len = 0;
        uint32_t dots = set_row_parse(&r.rows[i], &member, &member_len);
        for (uint32_t d = 0; rc == 0 && d < dots; d++) {
            rk_setrows_dot dot = rk_setrows_row_dot(r.rows[i].value, member_len, d);
            uint8_t *value = member_len > 0 ? (uint8_t *)(uintptr_t)member : NULL;
            siblings[count++] = (rk_sibling){.dot = dot.dot,
                                             .timestamp_us = dot.timestamp_us,
                                             .value = value,
                                             .value_len = (uint32_t)member_len};
            rc = set_cover(&head.history, dot.dot);
        }
    }
    if (rc == 0) {
        qsort(siblings, count, sizeof(*siblings), rk_lset_sibling_dot_cmp);
        for (size_t i = 1; i < count; i++) {
            if (rk_dot_cmp(siblings[i - 1].dot, siblings[i].dot) == 0) {
                rc = RK_ECORRUPT;   /* one dot in two rows */
            }
        }
    }
    if (rc == 0) {
        rk_dvvset set = {.history = head.history,
                         .sibling_count = (uint32_t)count,
                         .siblings = siblings,
                         .values_borrowed = true,
                         .type_tag = head.type_tag};
        rc = rk_local_encode_owned(&set, out);
    }
    free(siblings);
    rk_lset_rows_free(&r);
    return rc;
}

static int set_sibling_member_cmp(const void *a, const void *b)
{
    const rk_sibling *x = *(const rk_sibling *const *)a;
    const rk_sibling *y = *(const rk_sibling *const *)b;
    size_t n = x->value_len < y->value_len ? x->value_len : y->value_len;
    int c = n > 0 ? memcmp(x->value, y->value, n) : 0;
    if (c == 0) {
        c = (x->value_len > y->value_len) - (x->value_len < y->value_len);
    }
    return c != 0 ? c : rk_dot_cmp(x->dot, y->dot);
}

/* One row per member of `set` (its live siblings grouped), sorted by row key, into *rows. */
static int set_rows_build(const rk_local_key *k, const rk_dvvset *set, set_rows *rows)
{
    memset(rows, 0, sizeof(*rows));
    const rk_sibling **by_member = malloc((set->sibling_count + 1u) * sizeof(*by_member));
    rk_setrows_dot *dots = malloc((set->sibling_count + 1u) * sizeof(*dots));
    rows->rows = calloc(set->sibling_count + 1u, sizeof(*rows->rows));
    int rc = by_member != NULL && dots != NULL && rows->rows != NULL ? 0 : RK_ENOMEM;
    uint32_t live = 0;
    for (uint32_t i = 0; rc == 0 && i < set->sibling_count; i++) {
        if (!set->siblings[i].tombstone) {
            by_member[live++] = &set->siblings[i];
        }
    }
    if (rc == 0) {
        qsort(by_member, live, sizeof(*by_member), set_sibling_member_cmp);
    }
    for (uint32_t i = 0; rc == 0 && i < live;) {
        uint32_t j = i;
        uint32_t n = 0;
        while (j < live && by_member[j]->value_len == by_member[i]->value_len &&
               (by_member[i]->value_len == 0 ||
                memcmp(by_member[j]->value, by_member[i]->value, by_member[i]->value_len) == 0)) {
            dots[n++] = (rk_setrows_dot){.dot = by_member[j]->dot,
                                         .timestamp_us = by_member[j]->timestamp_us};
            j++;
        }
        if (n > RK_SETROWS_DOTS_MAX) {     /* (sorted by dot: the order breaks ties by it) */
            rc = RK_ETOOBIG;
            break;
        }
        set_row *row = &rows->rows[rows->count];
        uint8_t key[RK_LMDB_KEY_BYTES_MAX];
        row->key_len = rk_setrows_key(k->skey, k->skey_len, by_member[i]->value,
                                      by_member[i]->value_len, key);
        row->value_len = rk_setrows_row_len(by_member[i]->value_len, n);
        row->key = malloc(row->key_len);
        row->value = malloc(row->value_len);
        if (row->key == NULL || row->value == NULL) {
            free(row->key);
            free(row->value);
            rc = RK_ENOMEM;
            break;
        }
        memcpy(row->key, key, row->key_len);
        (void)rk_setrows_row_encode(by_member[i]->value, by_member[i]->value_len, dots, n,
                                    row->value);
        row->hash = rk_setrows_row_hash(row->value, row->value_len);
        rows->count++;
        i = j;
    }
    if (rc == 0) {
        qsort(rows->rows, rows->count, sizeof(*rows->rows), rk_lset_row_key_cmp);
        for (uint32_t i = 1; i < rows->count; i++) {
            if (rk_lset_row_key_cmp(&rows->rows[i - 1], &rows->rows[i]) == 0) {
                rc = RK_ETOOBIG;    /* two long members whose 128-bit hashes collide */
            }
        }
    }
    free(by_member);
    free(dots);
    return rc;
}

/* Encode `head` into a fresh buffer (owned) for the head op. */
static uint8_t *set_head_bytes(const rk_setrows_head *head, size_t *len_out)
{
    *len_out = rk_setrows_head_len(head);
    uint8_t *bytes = malloc(*len_out);
    if (bytes != NULL) {
        (void)rk_setrows_head_encode(head, bytes);
    }
    return bytes;
}

/* The head op of `k`, the object's accounting after the last batch. */
int rk_lset_finish(rk_local *l, const rk_local_key *k, set_batch *b,
                      const rk_setrows_head *head, bool was_live, const rk_batch_op *extra,
                      uint32_t extra_count, uint64_t *seq_out)
{
    size_t head_len = 0;
    uint8_t *head_bytes = set_head_bytes(head, &head_len);
    if (head_bytes == NULL) {
        free(b->ops);
        b->ops = NULL;
        return RK_ENOMEM;
    }
    uint64_t old_hash = l->tree != NULL ? rk_local__stored_hash(l, k) : 0;
    rk_batch_op op = {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = k->skey,
                      .key_len = k->skey_len, .value = head_bytes, .value_len = head_len};
    int rc = set_batch_finish(b, op, extra, extra_count, seq_out);
    if (rc == 0) {
        rk_local__count_live(l, was_live, head->count > 0);
        if (l->tree != NULL) {
            rk_local__tree_update(l, k, old_hash, head_bytes, head_len);
        }
    }
    free(head_bytes);
    return rc;
}

int rk_local_set_write(rk_local *l, const rk_local_key *k, const rk_dvvset *set, bool was_live,
                       const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out)
{
    RK_ASSERT(extra_count < 8);
    set_rows fresh;
    set_rows old;
    memset(&old, 0, sizeof(old));
    int rc = set_rows_build(k, set, &fresh);
    if (rc == 0) {
        rc = rk_lset_rows_read(l, k->skey, k->skey_len, false, &old);
    }
    set_batch b;
    if (rc == 0) {
        rc = rk_lset_batch_init(&b, l, 1u + extra_count);
    }
    if (rc != 0) {
        rk_lset_rows_free(&fresh);
        rk_lset_rows_free(&old);
        return rc;
    }
    rk_setrows_head head = {.type_tag = set->type_tag, .history = set->history,
                            .count = fresh.count};
    /* Both lists are in key order: put what is new or changed, delete what is gone. */
    uint32_t i = 0;
    uint32_t j = 0;
    while (i < fresh.count || j < old.count) {
        int cmp = i == fresh.count ? 1
                  : j == old.count ? -1
                                   : rk_lset_row_key_cmp(&fresh.rows[i], &old.rows[j]);
        if (cmp <= 0) {
            head.digest ^= fresh.rows[i].hash;
            if (cmp < 0 || fresh.rows[i].hash != old.rows[j].hash) {
                rk_lset_batch_add(&b, (rk_batch_op){.kind = RK_BATCH_PUT, .db = RK_DB_ELEMS,
                                                .key = fresh.rows[i].key,
                                                .key_len = fresh.rows[i].key_len,
                                                .value = fresh.rows[i].value,
                                                .value_len = fresh.rows[i].value_len});
            }
            i++;
            j += cmp == 0 ? 1u : 0u;
        } else {
            rk_lset_batch_add(&b, (rk_batch_op){.kind = RK_BATCH_DEL, .db = RK_DB_ELEMS,
                                            .key = old.rows[j].key,
                                            .key_len = old.rows[j].key_len});
            j++;
        }
    }
    rc = rk_lset_finish(l, k, &b, &head, was_live, extra, extra_count, seq_out);
    rk_lset_rows_free(&fresh);
    rk_lset_rows_free(&old);
    return rc;
}

int rk_local_set_drop_rows(rk_local *l, const rk_local_key *k, uint64_t *seq_out)
{
    set_rows old;
    int rc = rk_lset_rows_read(l, k->skey, k->skey_len, false, &old);
    for (uint32_t i = 0; rc == 0 && i < old.count; i += RK_BATCH_OPS_MAX) {
        rk_batch_op ops[64];
        uint32_t end = old.count - i < RK_BATCH_OPS_MAX ? old.count - i : RK_BATCH_OPS_MAX;
        for (uint32_t done = 0; rc == 0 && done < end; done += 64) {
            uint32_t n = end - done < 64 ? end - done : 64;
            for (uint32_t x = 0; x < n; x++) {
                const set_row *row = &old.rows[i + done + x];
                ops[x] = (rk_batch_op){.kind = RK_BATCH_DEL, .db = RK_DB_ELEMS,
                                       .key = row->key, .key_len = row->key_len};
            }
            rc = rk_local__write_ops(l, ops, n, seq_out);
        }
    }
    rk_lset_rows_free(&old);
    return rc;
}

/* ---- what does not grow with the set ------------------------------------------------------ */

/* The stored object row of `k`: 0 with *out (len 0: absent), or a store error. */
int rk_lset_get_object(rk_local *l, const rk_local_key *k, rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rk_store_get(l->env->store, RK_DB_DATA, k->skey, k->skey_len, out);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        l->stats->store_errors++;
    }
    return rc;
}

uint64_t rk_local_set_count(rk_local *l, const rk_local_key *k)
{
    rk_buf stored;
    rk_setrows_head head;
    uint64_t count = 0;
    if (rk_lset_get_object(l, k, &stored) == 0 &&
        rk_setrows_head_decode(stored.data, stored.len, &head) == 0) {
        count = head.count;
    }
    rk_store_buf_free(&stored);
    return count;
}

/* The dots of `member`'s row into dots (RK_SETROWS_DOTS_MAX room): their count, 0 when it has
 * none; *row_hash the stored row's checksum (0: none). RK_ECORRUPT for a damaged row. */
int rk_lset_member_dots(rk_local *l, const rk_local_key *k, const uint8_t *member,
                           size_t member_len, rk_setrows_dot *dots, uint32_t *count,
                           uint64_t *row_hash)
{
    *count = 0;
    *row_hash = 0;
    uint8_t key[RK_LMDB_KEY_BYTES_MAX];
    size_t key_len = rk_setrows_key(k->skey, k->skey_len, member, member_len, key);
    rk_buf row = {0};
    int rc = rk_store_get(l->env->store, RK_DB_ELEMS, key, key_len, &row);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        l->stats->store_errors++;
        return rc;
    }
    const uint8_t *stored_member = NULL;
    size_t stored_len = 0;
    uint32_t n = 0;
    rc = rk_setrows_row_check(row.data, row.len, &stored_member, &stored_len, &n);
    if (rc == 0 && (stored_len != member_len ||
                    (member_len > 0 && memcmp(stored_member, member, member_len) != 0))) {
        rc = RK_ECORRUPT;   /* a hashed key naming another member */
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        dots[i] = rk_setrows_row_dot(row.data, stored_len, i);
    }
    if (rc == 0) {
        *count = n;
        *row_hash = rk_setrows_row_hash(row.data, row.len);
    }
    rk_store_buf_free(&row);
    return rc;
}

/* Keep only the siblings of `set` whose value is among `members` (a key stored whole). */
static void set_keep_members(rk_dvvset *set, const uint8_t *members, size_t members_len)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        rk_sibling *s = &set->siblings[i];
        bool named = false;
        rk_elems_iter it;
        rk_elems_iter_init(&it, members, members_len);
        const uint8_t *m = NULL;
        size_t m_len = 0;
        while (!named && rk_elems_next(&it, &m, &m_len)) {
            named = m_len == s->value_len && (m_len == 0 || memcmp(m, s->value, m_len) == 0);
        }
        if (named) {
            set->siblings[kept++] = *s;
        } else {
            free(s->value);
        }
    }
    set->sibling_count = kept;
}

int rk_local_set_project(rk_local *l, const rk_local_key *k, const uint8_t *members,
                         size_t members_len, rk_dvvset *out)
{
    rk_dvvset_init(out);
    rk_buf stored;
    int rc = rk_lset_get_object(l, k, &stored);
    if (rc != 0 || stored.len == 0) {
        return rc;
    }
    rk_setrows_head head;
    if (!rk_setrows_is_head(stored.data, stored.len)) {
        rc = rk_dvvset_frame_ok(stored.data, stored.len)
                 ? rk_dvvset_decode(stored.data, stored.len, out)
                 : RK_ECORRUPT;
        if (rc == 0 && out->type_tag == RK_LOCAL_ROWS_TAG) {
            set_keep_members(out, members, members_len);
        }
        rk_store_buf_free(&stored);
        return rc;
    }
    rc = rk_setrows_head_decode(stored.data, stored.len, &head);
    rk_store_buf_free(&stored);
    uint32_t count = 0;
    rc = rc == 0 && rk_elems_check(members, members_len, &count) != 0 ? RK_ECORRUPT : rc;
    rk_sibling *siblings = NULL;
    uint32_t n = 0;
    rk_elems_iter it;
    rk_elems_iter_init(&it, members, members_len);
    const uint8_t *m = NULL;
    size_t m_len = 0;
    while (rc == 0 && rk_elems_next(&it, &m, &m_len)) {
        rk_setrows_dot dots[RK_SETROWS_DOTS_MAX];
        uint32_t dot_count = 0;
        uint64_t hash = 0;
        rc = rk_lset_member_dots(l, k, m, m_len, dots, &dot_count, &hash);
        if (rc == 0 && dot_count > 0) {
            rk_sibling *grown = realloc(siblings, (n + dot_count) * sizeof(*siblings));
            if (grown == NULL) {
                rc = RK_ENOMEM;
                break;
            }
            siblings = grown;
        }
        for (uint32_t d = 0; rc == 0 && d < dot_count; d++) {
            /* An empty member has no value bytes (dvvset.h: NULL when value_len is 0). */
            uint8_t *value = m_len > 0 ? malloc(m_len) : NULL;
            if (m_len > 0 && value == NULL) {
                rc = RK_ENOMEM;
                break;
            }
            if (m_len > 0) {
                memcpy(value, m, m_len);
            }
            siblings[n++] = (rk_sibling){.dot = dots[d].dot, .timestamp_us = dots[d].timestamp_us,
                                         .value = value, .value_len = (uint32_t)m_len};
            rc = set_cover(&head.history, dots[d].dot);
        }
    }
    if (rc == 0) {
        /* A member named twice: its dots once. */
        if (n > 1) {
            qsort(siblings, n, sizeof(*siblings), rk_lset_sibling_dot_cmp);
        }
        uint32_t kept = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (kept > 0 && rk_dot_cmp(siblings[kept - 1].dot, siblings[i].dot) == 0) {
                free(siblings[i].value);
                continue;
            }
            siblings[kept++] = siblings[i];
        }
        out->history = head.history;
        out->siblings = siblings;
        out->sibling_count = kept;
        out->type_tag = head.type_tag;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        free(siblings[i].value);
    }
    free(siblings);
    return rc;
}

