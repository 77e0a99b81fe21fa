/* test_local_set.c — a set stored by element through this node's store access
 * (src/core/local_set.c, local.c's routing of tag RK_LOCAL_ROWS_TAG). Covers: a whole state
 * written with rk_local_write reads back (rk_local_read, rk_local_read_raw) as the very bytes
 * it was encoded to, with one RK_DB_ELEMS row per distinct member and a head whose count and
 * digest (XOR of the rows' checksums) agree with the rows; an overwrite that drops and adds
 * members moves the rows and keys_live with it; rk_local_set_project returns only the named
 * members with the whole clock; rk_local_set_merge_delta adds a member, refuses a delta that is
 * not ready (RK_ENOTREADY, nothing written) unless told not to check, and deletes the row of a
 * member whose dot a remove delta covers; rk_local_remove drops every row; a 5,000-member set
 * takes 100 deltas each touching exactly the rows it names (counted by a store wrapper that
 * forwards to the mem store) and no scan; a 600-byte member lives under a hashed key. Runs on
 * test_local_env.h's mem store and one-node ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/elems.h"
#include "../../src/core/setrows.h"
#include "test_local_env.h"

#define TEST_BIG_MEMBERS 5000u
#define TEST_DELTAS 100u

/* ---- a store that counts what it is asked -------------------------------------------------- */

typedef struct test_count_store {
    rk_store base;
    rk_store *inner;
    uint64_t gets[RK_DB_COUNT];
    uint64_t ops[RK_DB_COUNT];      /* batch ops per db */
    uint64_t batches;
    uint64_t iterates;
} test_count_store;

static test_count_store *test_count_of(rk_store *s)
{
    return (test_count_store *)(void *)s;
}

static int test_count_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    test_count_of(s)->gets[db]++;
    return rk_store_get(test_count_of(s)->inner, db, key, key_len, out);
}

static int test_count_write(rk_store *s, const rk_batch_op *ops, size_t op_count,
                            uint64_t *seq_out)
{
    test_count_store *c = test_count_of(s);
    c->batches++;
    for (size_t i = 0; i < op_count; i++) {
        c->ops[ops[i].db]++;
    }
    return rk_store_write(c->inner, ops, op_count, seq_out);
}

static int test_count_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                              const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    test_count_of(s)->iterates++;
    return rk_store_iterate(test_count_of(s)->inner, db, start, start_len, end, end_len, fn,
                            ctx);
}

static int test_count_sync(rk_store *s, uint64_t seq)
{
    return rk_store_sync(test_count_of(s)->inner, seq);
}

static uint64_t test_count_durable_seq(rk_store *s)
{
    return rk_store_durable_seq(test_count_of(s)->inner);
}

static void test_count_close(rk_store *s)
{
    (void)s;    /* the fixture closes the inner store */
}

static const rk_store_ops test_count_ops = {
    .name = "count",
    .durable = false,
    .get = test_count_get,
    .write = test_count_write,
    .iterate = test_count_iterate,
    .sync = test_count_sync,
    .checkpoint = NULL,
    .durable_seq = test_count_durable_seq,
    .close = test_count_close,
    .last_error = NULL,
};

typedef struct test_fixture {
    test_local_env le;
    test_count_store count;
} test_fixture;

static test_fixture *test_fixture_new(void)
{
    test_fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    test_local_env_init(&fx->le);
    fx->count.base.ops = &test_count_ops;
    fx->count.inner = fx->le.store;
    fx->le.env.env.store = &fx->count.base;     /* local reads env->store at every call */
    return fx;
}

static void test_fixture_free(test_fixture *fx)
{
    test_local_env_deinit(&fx->le);
    free(fx);
}

static void test_count_reset(test_fixture *fx)
{
    memset(fx->count.gets, 0, sizeof(fx->count.gets));
    memset(fx->count.ops, 0, sizeof(fx->count.ops));
    fx->count.batches = 0;
    fx->count.iterates = 0;
}

static void test_key(test_fixture *fx, const char *key, rk_local_key *out)
{
    assert_int_equal(rk_local_key_init(&fx->le.local, (const uint8_t *)key, strlen(key), out), 0);
}

static size_t test_rows(test_fixture *fx)
{
    return rk_store_mem_count(fx->le.store, RK_DB_ELEMS);
}

/* ---- states -------------------------------------------------------------------------------- */

/* Append a sibling holding `member` (len bytes) with `dot` to `set` (kept sorted by dot and
 * covered by the history). */
static void test_add(rk_dvvset *set, const void *member, size_t len, rk_node_id node,
                     uint64_t counter, uint64_t stamp)
{
    rk_sibling *grown = realloc(set->siblings, (set->sibling_count + 1) * sizeof(*grown));
    assert_non_null(grown);
    set->siblings = grown;
    rk_dot dot = {.node = node, .counter = counter};
    uint32_t at = set->sibling_count;
    while (at > 0 && rk_dot_cmp(set->siblings[at - 1].dot, dot) > 0) {
        set->siblings[at] = set->siblings[at - 1];
        at--;
    }
    uint8_t *value = NULL;
    if (len > 0) {
        value = malloc(len);
        assert_non_null(value);
        memcpy(value, member, len);
    }
    set->siblings[at] = (rk_sibling){.dot = dot, .timestamp_us = stamp, .value = value,
                                     .value_len = (uint32_t)len};
    set->sibling_count++;
    assert_int_equal(rk_vv_merge(&set->history, &set->history, &dot, NULL, 0, &set->history), 0);
}

static void test_add_str(rk_dvvset *set, const char *member, rk_node_id node, uint64_t counter)
{
    test_add(set, member, strlen(member), node, counter, 1000 + counter);
}

static void test_set_init(rk_dvvset *set)
{
    rk_dvvset_init(set);
    set->type_tag = RK_LOCAL_ROWS_TAG;
}

/* Drop the siblings holding `member` (a remove; the history keeps their dots). */
static void test_drop(rk_dvvset *set, const char *member)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        rk_sibling *s = &set->siblings[i];
        if (s->value_len == strlen(member) && memcmp(s->value, member, s->value_len) == 0) {
            free(s->value);
            continue;
        }
        set->siblings[kept++] = *s;
    }
    set->sibling_count = kept;
}

/* The encoding of `set` (owned). */
static uint8_t *test_encode(const rk_dvvset *set, size_t *len)
{
    *len = rk_dvvset_encoded_len(set);
    uint8_t *bytes = malloc(*len);
    assert_non_null(bytes);
    assert_int_equal(rk_dvvset_encode(set, bytes), *len);
    return bytes;
}

static void test_write_whole(test_fixture *fx, const rk_local_key *k, const rk_dvvset *set,
                             bool was_live)
{
    size_t len = 0;
    uint8_t *bytes = test_encode(set, &len);
    uint64_t seq = 0;
    assert_int_equal(rk_local_write(&fx->le.local, k, bytes, len, rk_local_set_live(set),
                                    was_live, NULL, 0, &seq),
                     0);
    free(bytes);
}

/* What the node stores for `k` reads back as exactly the encoding of `set`. */
static void test_assert_reads_as(test_fixture *fx, const rk_local_key *k, const rk_dvvset *set)
{
    size_t len = 0;
    uint8_t *want = test_encode(set, &len);
    rk_buf raw;
    assert_int_equal(rk_local_read_raw(&fx->le.local, k, &raw), 0);
    assert_int_equal(raw.len, len);
    assert_memory_equal(raw.data, want, len);
    rk_store_buf_free(&raw);
    rk_dvvset back;
    assert_int_equal(rk_local_read(&fx->le.local, k, &back), 0);
    assert_true(rk_dvvset_equal(&back, set));
    assert_int_equal(back.type_tag, set->type_tag);
    rk_dvvset_deinit(&back);
    free(want);
}

typedef struct test_digest {
    const uint8_t *prefix;
    size_t prefix_len;
    uint64_t digest;
    uint64_t rows;
} test_digest;

static int test_digest_row(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    test_digest *d = ctx;
    if (key_len < d->prefix_len || memcmp(key, d->prefix, d->prefix_len) != 0) {
        return 1;
    }
    const uint8_t *member = NULL;
    size_t member_len = 0;
    uint32_t dots = 0;
    assert_int_equal(rk_setrows_row_check(value, value_len, &member, &member_len, &dots), 0);
    d->digest ^= rk_setrows_row_hash(value, value_len);
    d->rows++;
    return 0;
}

/* The head of `k` says `members` rows, and its digest is the XOR of those rows' checksums
 * (what anti-entropy hashes in place of the rows). */
static void test_assert_head(test_fixture *fx, const rk_local_key *k, uint64_t members)
{
    rk_buf stored;
    assert_int_equal(rk_store_get(fx->le.store, RK_DB_DATA, k->skey, k->skey_len, &stored), 0);
    rk_setrows_head head;
    assert_int_equal(rk_setrows_head_decode(stored.data, stored.len, &head), 0);
    rk_store_buf_free(&stored);
    assert_int_equal(head.count, members);
    assert_int_equal(rk_local_set_count(&fx->le.local, k), members);
    uint8_t prefix[RK_LMDB_KEY_BYTES_MAX];
    test_digest d = {.prefix = prefix, .prefix_len = rk_setrows_prefix(k->skey, k->skey_len,
                                                                        prefix)};
    assert_int_equal(rk_store_iterate(fx->le.store, RK_DB_ELEMS, prefix, d.prefix_len, NULL, 0,
                                      test_digest_row, &d),
                     0);
    assert_int_equal(d.rows, members);
    assert_int_equal(d.digest, head.digest);
}

/* [u32 count] [u32 len][bytes] ... of the NULL-terminated `members` (owned). */
static uint8_t *test_members(const char *const *members, size_t *len_out)
{
    const uint8_t *elems[8];
    size_t lens[8];
    uint32_t n = 0;
    while (members[n] != NULL) {
        elems[n] = (const uint8_t *)members[n];
        lens[n] = strlen(members[n]);
        n++;
    }
    *len_out = rk_elems_encoded_len(lens, n);
    uint8_t *out = malloc(*len_out);
    assert_non_null(out);
    (void)rk_elems_encode(elems, lens, n, out);
    return out;
}

static int test_delta(test_fixture *fx, const rk_local_key *k, const char *const *members,
                      const rk_dvvset *delta, bool need_ready, bool *changed)
{
    size_t len = 0;
    uint8_t *list = test_members(members, &len);
    uint64_t seq = 0;
    int rc = rk_local_set_merge_delta(&fx->le.local, k, list, len, delta, need_ready, NULL, 0,
                                      &seq, changed);
    free(list);
    return rc;
}

/* The sample: a..e from node 1 (dots 1..5), "pen" added concurrently by nodes 1 and 2. */
static void test_sample(rk_dvvset *set)
{
    test_set_init(set);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (uint32_t i = 0; i < 5; i++) {
        test_add_str(set, names[i], 1, i + 1);
    }
    test_add_str(set, "pen", 1, 6);
    test_add_str(set, "pen", 2, 1);
}

/* ---- whole states ---------------------------------------------------------------------------- */

static void test_whole_state_reads_back_as_its_bytes_one_row_per_member(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    rk_dvvset set;
    test_sample(&set);

    test_write_whole(fx, &k, &set, false);

    assert_int_equal(test_rows(fx), 6);     /* pen's two dots share a row */
    assert_int_equal(fx->le.local.keys_live, 1);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 6);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

static void test_overwrite_moves_the_rows_with_the_members(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    rk_local_key other;
    test_key(fx, "basket:bob", &other);
    rk_dvvset set;
    test_sample(&set);
    test_write_whole(fx, &k, &set, false);
    rk_dvvset bob;
    test_set_init(&bob);
    test_add_str(&bob, "a", 3, 1);
    test_write_whole(fx, &other, &bob, false);
    assert_int_equal(test_rows(fx), 7);

    test_drop(&set, "b");
    test_drop(&set, "pen");
    test_add_str(&set, "f", 1, 7);
    test_add_str(&set, "g", 2, 2);
    test_write_whole(fx, &k, &set, true);

    assert_int_equal(test_rows(fx), 6 + 1);     /* a c d e f g, and bob's a */
    assert_int_equal(fx->le.local.keys_live, 2);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 6);
    test_assert_reads_as(fx, &other, &bob);     /* another key's rows untouched */

    /* Every member removed: no rows, the key no longer live, its clock kept. */
    const char *all[] = {"a", "c", "d", "e", "f", "g"};
    for (uint32_t i = 0; i < 6; i++) {
        test_drop(&set, all[i]);
    }
    test_write_whole(fx, &k, &set, true);
    assert_int_equal(test_rows(fx), 1);
    assert_int_equal(fx->le.local.keys_live, 1);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 0);
    rk_dvvset_deinit(&set);
    rk_dvvset_deinit(&bob);
    test_fixture_free(fx);
}

static void test_project_returns_the_named_members_and_the_whole_clock(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    rk_dvvset set;
    test_sample(&set);
    test_write_whole(fx, &k, &set, false);

    const char *names[] = {"pen", "c", "nope", "c", NULL};
    size_t len = 0;
    uint8_t *list = test_members(names, &len);
    rk_dvvset got;
    assert_int_equal(rk_local_set_project(&fx->le.local, &k, list, len, &got), 0);
    free(list);

    assert_true(rk_vv_equal(&got.history, &set.history));
    assert_int_equal(got.type_tag, RK_LOCAL_ROWS_TAG);
    assert_int_equal(got.sibling_count, 3);     /* (1,3) c, (1,6) pen, (2,1) pen */
    assert_int_equal(got.siblings[0].dot.counter, 3);
    assert_memory_equal(got.siblings[0].value, "c", 1);
    assert_int_equal(got.siblings[0].timestamp_us, 1003);
    assert_int_equal(got.siblings[1].dot.node, 1);
    assert_int_equal(got.siblings[1].dot.counter, 6);
    assert_int_equal(got.siblings[2].dot.node, 2);
    assert_memory_equal(got.siblings[2].value, "pen", 3);
    assert_true(rk_dvvset_valid(&got));
    rk_dvvset_deinit(&got);

    /* An absent key projects to the empty state. */
    rk_local_key none;
    test_key(fx, "basket:nobody", &none);
    const char *one[] = {"a", NULL};
    list = test_members(one, &len);
    assert_int_equal(rk_local_set_project(&fx->le.local, &none, list, len, &got), 0);
    free(list);
    assert_int_equal(got.sibling_count, 0);
    assert_int_equal(got.history.entry_count, 0);
    rk_dvvset_deinit(&got);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

/* ---- deltas ------------------------------------------------------------------------------- */

static void test_delta_adds_refuses_unready_and_removes(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    rk_dvvset set;
    test_sample(&set);      /* clock {1:1..6, 2:1} */
    test_write_whole(fx, &k, &set, false);
    bool changed = false;

    /* Ready: (1,7) adds "new". */
    rk_dvvset delta;
    test_set_init(&delta);
    test_add_str(&delta, "new", 1, 7);
    const char *add[] = {"new", NULL};
    assert_int_equal(test_delta(fx, &k, add, &delta, true, &changed), 0);
    assert_true(changed);
    /* Delivered again (a retry): nothing to write. */
    test_count_reset(fx);
    assert_int_equal(test_delta(fx, &k, add, &delta, true, &changed), 0);
    assert_false(changed);
    assert_int_equal(fx->count.batches, 0);
    rk_dvvset_deinit(&delta);
    test_add_str(&set, "new", 1, 7);
    assert_int_equal(test_rows(fx), 7);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 7);

    /* Not ready: (1,9) while (1,8) was never seen. Nothing written. */
    test_set_init(&delta);
    test_add_str(&delta, "late", 1, 9);
    const char *late[] = {"late", NULL};
    uint64_t seq_before = fx->le.local.written_seq;
    test_count_reset(fx);
    assert_int_equal(test_delta(fx, &k, late, &delta, true, &changed), RK_ENOTREADY);
    assert_false(changed);
    assert_int_equal(fx->le.local.written_seq, seq_before);
    assert_int_equal(fx->count.batches, 0);
    assert_int_equal(test_rows(fx), 7);
    test_assert_reads_as(fx, &k, &set);

    /* Without the check it merges anyway (the clock gets its gap). */
    assert_int_equal(test_delta(fx, &k, late, &delta, false, &changed), 0);
    assert_true(changed);
    rk_dvvset_deinit(&delta);
    test_add_str(&set, "late", 1, 9);
    assert_int_equal(test_rows(fx), 8);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 8);

    /* A remove of "b": its history covers b's dot (1,2), no sibling. The row goes. */
    test_set_init(&delta);
    rk_dot b = {.node = 1, .counter = 2};
    assert_int_equal(rk_vv_merge(&delta.history, &delta.history, &b, NULL, 0, &delta.history),
                     0);
    const char *rem[] = {"b", NULL};
    assert_int_equal(test_delta(fx, &k, rem, &delta, true, &changed), 0);
    assert_true(changed);
    test_drop(&set, "b");
    assert_int_equal(test_rows(fx), 7);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 7);

    /* The same remove again changes nothing and writes nothing. */
    test_count_reset(fx);
    assert_int_equal(test_delta(fx, &k, rem, &delta, true, &changed), 0);
    assert_false(changed);
    assert_int_equal(fx->count.batches, 0);
    rk_dvvset_deinit(&delta);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

/* A delta to an absent key makes the head and the row. */
static void test_delta_to_an_absent_key_creates_it(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:new", &k);
    rk_dvvset delta;
    test_set_init(&delta);
    test_add_str(&delta, "x", 1, 1);
    const char *add[] = {"x", NULL};
    bool changed = false;
    assert_int_equal(test_delta(fx, &k, add, &delta, true, &changed), 0);
    assert_true(changed);
    assert_int_equal(test_rows(fx), 1);
    assert_int_equal(fx->le.local.keys_live, 1);
    test_assert_reads_as(fx, &k, &delta);
    test_assert_head(fx, &k, 1);
    rk_dvvset_deinit(&delta);
    test_fixture_free(fx);
}

static void test_remove_drops_every_row(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    rk_local_key other;
    test_key(fx, "basket:bob", &other);
    rk_dvvset set;
    test_sample(&set);
    test_write_whole(fx, &k, &set, false);
    test_write_whole(fx, &other, &set, false);
    assert_int_equal(test_rows(fx), 12);

    uint64_t seq = 0;
    assert_int_equal(rk_local_remove(&fx->le.local, &k, true, NULL, 0, &seq), 0);

    assert_int_equal(test_rows(fx), 6);
    assert_int_equal(fx->le.local.keys_live, 1);
    rk_buf raw;
    assert_int_equal(rk_local_read_raw(&fx->le.local, &k, &raw), 0);
    assert_int_equal(raw.len, 0);
    rk_store_buf_free(&raw);
    assert_int_equal(rk_local_set_count(&fx->le.local, &k), 0);
    test_assert_reads_as(fx, &other, &set);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

/* A delta costs the rows it names, not the set: 5,000 members, 100 deltas of one or two
 * members (adds of new members, adds again of old ones, removes), each one batch touching
 * exactly its members' rows and the head, reading only those rows, scanning nothing. */
static void test_deltas_touch_only_the_rows_they_name(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "big:set", &k);
    rk_dvvset set;
    test_set_init(&set);
    uint64_t dot_of[TEST_BIG_MEMBERS];
    bool present[TEST_BIG_MEMBERS];
    char name[32];
    for (uint32_t i = 0; i < TEST_BIG_MEMBERS; i++) {
        snprintf(name, sizeof(name), "m%u", i);
        test_add_str(&set, name, 1, i + 1);
        dot_of[i] = i + 1;
        present[i] = true;
    }
    test_write_whole(fx, &k, &set, false);
    rk_dvvset_deinit(&set);
    assert_int_equal(test_rows(fx), TEST_BIG_MEMBERS);
    test_assert_head(fx, &k, TEST_BIG_MEMBERS);

    uint64_t counter = TEST_BIG_MEMBERS;
    uint64_t rows = TEST_BIG_MEMBERS;
    uint32_t pick = 17;
    for (uint32_t d = 0; d < TEST_DELTAS; d++) {
        rk_dvvset delta;
        test_set_init(&delta);
        char names[2][32];
        const char *members[3] = {NULL, NULL, NULL};
        uint32_t named = d % 4 == 3 ? 2u : 1u;
        for (uint32_t n = 0; n < named; n++) {
            uint32_t kind = (d + n) % 3;
            if (kind == 0) {    /* a new member */
                snprintf(names[n], sizeof(names[n]), "new%u", d);
                test_add_str(&delta, names[n], 1, ++counter);
                rows++;
            } else {            /* an old one, present: add it again, or remove it */
                do {
                    pick = (pick * 7919u + 13u) % TEST_BIG_MEMBERS;
                } while (!present[pick]);
                snprintf(names[n], sizeof(names[n]), "m%u", pick);
                rk_dot old = {.node = 1, .counter = dot_of[pick]};
                assert_int_equal(rk_vv_merge(&delta.history, &delta.history, &old, NULL, 0,
                                             &delta.history),
                                 0);
                if (kind == 1) {
                    test_add_str(&delta, names[n], 1, ++counter);
                    dot_of[pick] = counter;
                } else {
                    present[pick] = false;
                    rows--;
                }
            }
            members[n] = names[n];
        }
        test_count_reset(fx);
        bool changed = false;
        assert_int_equal(test_delta(fx, &k, members, &delta, true, &changed), 0);
        assert_true(changed);
        assert_int_equal(fx->count.batches, 1);
        assert_int_equal(fx->count.ops[RK_DB_ELEMS], named);
        assert_int_equal(fx->count.ops[RK_DB_DATA], 1);
        assert_int_equal(fx->count.gets[RK_DB_ELEMS], named);
        assert_int_equal(fx->count.iterates, 0);
        assert_int_equal(test_rows(fx), rows);
        rk_dvvset_deinit(&delta);
    }
    test_assert_head(fx, &k, rows);
    /* The whole state still reads, valid, with every member where the deltas left it. */
    rk_dvvset back;
    assert_int_equal(rk_local_read(&fx->le.local, &k, &back), 0);
    assert_int_equal(back.sibling_count, rows);
    assert_true(rk_dvvset_valid(&back));
    rk_dvvset_deinit(&back);
    test_fixture_free(fx);
}

/* A member too long for the key is stored under its hash and reads back whole. */
static void test_long_member_lives_under_a_hashed_key(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "basket:alice", &k);
    uint8_t member[600];
    for (size_t i = 0; i < sizeof(member); i++) {
        member[i] = (uint8_t)(i * 31 + 7);
    }
    rk_dvvset set;
    test_set_init(&set);
    test_add(&set, member, sizeof(member), 1, 1, 77);
    test_add_str(&set, "short", 1, 2);
    test_write_whole(fx, &k, &set, false);

    uint8_t key[RK_LMDB_KEY_BYTES_MAX];
    size_t key_len = rk_setrows_key(k.skey, k.skey_len, member, sizeof(member), key);
    assert_int_equal(key_len, 2 + k.skey_len + 1 + RK_SETROWS_MEMBER_HASH_BYTES);
    rk_buf row;
    assert_int_equal(rk_store_get(fx->le.store, RK_DB_ELEMS, key, key_len, &row), 0);
    const uint8_t *stored = NULL;
    size_t stored_len = 0;
    uint32_t dots = 0;
    assert_int_equal(rk_setrows_row_check(row.data, row.len, &stored, &stored_len, &dots), 0);
    assert_int_equal(stored_len, sizeof(member));
    assert_memory_equal(stored, member, sizeof(member));
    rk_store_buf_free(&row);
    test_assert_reads_as(fx, &k, &set);
    test_assert_head(fx, &k, 2);

    /* Projected and removed by a delta through the same hashed key. */
    const uint8_t *elems[1] = {member};
    size_t lens[1] = {sizeof(member)};
    size_t list_len = rk_elems_encoded_len(lens, 1);
    uint8_t *list = malloc(list_len);
    assert_non_null(list);
    (void)rk_elems_encode(elems, lens, 1, list);
    rk_dvvset got;
    assert_int_equal(rk_local_set_project(&fx->le.local, &k, list, list_len, &got), 0);
    assert_int_equal(got.sibling_count, 1);
    assert_int_equal(got.siblings[0].value_len, sizeof(member));
    assert_memory_equal(got.siblings[0].value, member, sizeof(member));
    assert_int_equal(got.siblings[0].timestamp_us, 77);
    rk_dvvset_deinit(&got);

    rk_dvvset delta;
    test_set_init(&delta);
    rk_dot first = {.node = 1, .counter = 1};
    assert_int_equal(rk_vv_merge(&delta.history, &delta.history, &first, NULL, 0,
                                 &delta.history),
                     0);
    uint64_t seq = 0;
    bool changed = false;
    assert_int_equal(rk_local_set_merge_delta(&fx->le.local, &k, list, list_len, &delta, true,
                                              NULL, 0, &seq, &changed),
                     0);
    assert_true(changed);
    assert_int_equal(rk_store_get(fx->le.store, RK_DB_ELEMS, key, key_len, &row), RK_ENOTFOUND);
    assert_int_equal(test_rows(fx), 1);
    test_assert_head(fx, &k, 1);
    free(list);
    rk_dvvset_deinit(&delta);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_state_reads_back_as_its_bytes_one_row_per_member),
        cmocka_unit_test(test_overwrite_moves_the_rows_with_the_members),
        cmocka_unit_test(test_project_returns_the_named_members_and_the_whole_clock),
        cmocka_unit_test(test_delta_adds_refuses_unready_and_removes),
        cmocka_unit_test(test_delta_to_an_absent_key_creates_it),
        cmocka_unit_test(test_remove_drops_every_row),
        cmocka_unit_test(test_deltas_touch_only_the_rows_they_name),
        cmocka_unit_test(test_long_member_lives_under_a_hashed_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
