/* test_version.c — histories, context tokens and sibling sets (src/core/version.c, dvvset.c).
 *
 * Named cases pin the behaviours the DVV paper and basho/riak_kv#746 are about: blind writes
 * through one coordinator both survive, a stale context keeps the writes it did not see, a
 * full context replaces everything, tombstones are siblings, a crash floor never reuses a dot
 * and its gap does not swallow writes made before the crash. Property tests run thousands of
 * seeded cases (the seed is printed; RK_SEED=<n> replays a run):
 *   - a small cluster (3 replicas, random writes with fresh, stale or empty contexts, syncs,
 *     crashes back to the last durable state) checked after every step against an oracle
 *     that tracks, per replica, the writes delivered and the writes some context superseded:
 *     siblings must be exactly delivered minus superseded, the history exactly their union;
 *     then sync is checked commutative, associative and idempotent on the replicas' states,
 *     and the encoding and token round trip byte for byte;
 *   - pruning: the bound holds, the result is a subset, kept dots and each node's highest
 *     counter stay, so whatever the pruned history dominates the original did too;
 *   - codecs: random garbage, truncations and bit flips are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_seed.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "../../src/core/dvvset.h"
#include "../../src/core/version.h"

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t test_rng_below(uint64_t *state, uint64_t bound)
{
    return test_rng_next(state) % bound;
}

static rk_dot dot_of(rk_node_id node, uint64_t counter)
{
    rk_dot dot = {.node = node, .counter = counter};
    return dot;
}

/* A history from (node, first, last) triples given in order. */
static void vv_build(rk_vv *vv, const uint64_t (*triples)[3], uint32_t count)
{
    rk_vv_init(vv);
    for (uint32_t i = 0; i < count; i++) {
        vv->entries[i].node = (rk_node_id)triples[i][0];
        vv->entries[i].first = triples[i][1];
        vv->entries[i].last = triples[i][2];
    }
    vv->entry_count = count;
    assert_true(rk_vv_valid(vv));
}

static rk_dot put_text(rk_dvvset *set, const rk_vv *context, const char *text,
                       rk_node_id coordinator)
{
    rk_dvvset_write w = {.value = (const uint8_t *)text, .value_len = strlen(text),
                         .timestamp_us = 1000};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(set, context, &w, coordinator, 0,
                                      RK_DVVSET_SIBLINGS_DEFAULT, &dot), 0);
    return dot;
}

static rk_dot delete_with(rk_dvvset *set, const rk_vv *context, rk_node_id coordinator)
{
    rk_dvvset_write w = {.tombstone = true, .timestamp_us = 2000};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(set, context, &w, coordinator, 0,
                                      RK_DVVSET_SIBLINGS_DEFAULT, &dot), 0);
    return dot;
}

static rk_vv join_of(const rk_dvvset *set)
{
    rk_vv vv;
    rk_dvvset_join(set, &vv);
    return vv;
}

/* The values of `set` as "a,b,c" in dot order. */
static const char *values_text(const rk_dvvset *set, char *out, size_t out_size)
{
    const rk_sibling *values[RK_DVVSET_SIBLINGS_MAX];
    uint32_t count = rk_dvvset_values(set, values, RK_DVVSET_SIBLINGS_MAX);
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        int n = snprintf(out + len, out_size - len, "%s%.*s", i > 0 ? "," : "",
                         (int)values[i]->value_len, (const char *)values[i]->value);
        assert_true(n >= 0 && (size_t)n < out_size - len);
        len += (size_t)n;
    }
    return out;
}

static void assert_values(const rk_dvvset *set, const char *expected)
{
    char text[512];
    assert_string_equal(values_text(set, text, sizeof(text)), expected);
}

/* ---- histories ------------------------------------------------------------------------ */

/* The four answers of compare, with ranges standing for plain counters and for gaps. */
static void test_vv_compare_equal_descends_dominated_concurrent(void **state)
{
    (void)state;
    rk_vv a;
    rk_vv b;
    rk_vv c;
    rk_vv empty;
    rk_vv_init(&empty);
    vv_build(&a, (const uint64_t[][3]){{1, 1, 3}, {2, 1, 1}}, 2);
    vv_build(&b, (const uint64_t[][3]){{1, 1, 2}}, 1);
    vv_build(&c, (const uint64_t[][3]){{1, 1, 2}, {3, 1, 1}}, 2);

    assert_int_equal(rk_vv_compare(&a, &a), RK_VV_EQUAL);
    assert_int_equal(rk_vv_compare(&empty, &empty), RK_VV_EQUAL);
    assert_int_equal(rk_vv_compare(&a, &b), RK_VV_DESCENDS);
    assert_int_equal(rk_vv_compare(&b, &a), RK_VV_DOMINATED);
    assert_int_equal(rk_vv_compare(&a, &c), RK_VV_CONCURRENT);
    assert_int_equal(rk_vv_compare(&a, &empty), RK_VV_DESCENDS);

    /* 1:[1..5] does not hold 1:[7..7]: a gap is not "seen". */
    rk_vv low;
    rk_vv gapped;
    vv_build(&low, (const uint64_t[][3]){{1, 1, 5}}, 1);
    vv_build(&gapped, (const uint64_t[][3]){{1, 1, 2}, {1, 7, 7}}, 2);
    assert_int_equal(rk_vv_compare(&low, &gapped), RK_VV_CONCURRENT);
    assert_false(rk_vv_covers(&gapped, dot_of(1, 5)));
    assert_true(rk_vv_covers(&gapped, dot_of(1, 7)));
    assert_int_equal(rk_vv_counter_max(&gapped, 1), 7);
    assert_int_equal(rk_vv_counter_max(&gapped, 9), 0);
}

/* A merge is a union that joins ranges which touch, so a history stays canonical. */
static void test_vv_merge_joins_touching_ranges(void **state)
{
    (void)state;
    rk_vv a;
    rk_vv b;
    rk_vv out;
    rk_vv expected;
    vv_build(&a, (const uint64_t[][3]){{1, 1, 3}, {1, 10, 10}, {4, 1, 2}}, 3);
    vv_build(&b, (const uint64_t[][3]){{1, 4, 9}, {2, 1, 1}}, 2);

    rk_dot dot = dot_of(4, 3);
    assert_int_equal(rk_vv_merge(&a, &b, &dot, NULL, 0, &out), 0);
    vv_build(&expected, (const uint64_t[][3]){{1, 1, 10}, {2, 1, 1}, {4, 1, 3}}, 3);
    assert_true(rk_vv_equal(&out, &expected));

    /* out may alias an input */
    assert_int_equal(rk_vv_merge(&a, &b, NULL, NULL, 0, &a), 0);
    vv_build(&expected, (const uint64_t[][3]){{1, 1, 10}, {2, 1, 1}, {4, 1, 2}}, 3);
    assert_true(rk_vv_equal(&a, &expected));
}

/* Over the bound, a merge drops the oldest lower ranges (old crash epochs), never a node's
 * highest range, and the result is a subset of the union. */
static void test_vv_merge_over_bound_prunes_old_epochs(void **state)
{
    (void)state;
    rk_vv a;
    rk_vv b;
    rk_vv_init(&a);
    rk_vv_init(&b);
    /* a: nodes 1..32, each [1..node] and [100..100]; b: nodes 33..48, one entry each. The
     * union has 80 entries: the 16 oldest lower ranges not pinned must go. */
    for (uint32_t node = 1; node <= 32; node++) {
        rk_vv_entry *lo = &a.entries[a.entry_count++];
        lo->node = node;
        lo->first = 1;
        lo->last = node;            /* older epochs of low nodes end sooner */
        rk_vv_entry *hi = &a.entries[a.entry_count++];
        hi->node = node;
        hi->first = 100;
        hi->last = 100;
    }
    for (uint32_t node = 33; node <= 48; node++) {
        rk_vv_entry *e = &b.entries[b.entry_count++];
        e->node = node;
        e->first = 1;
        e->last = 1;
    }
    assert_true(rk_vv_valid(&a));
    assert_true(rk_vv_valid(&b));
    rk_dot keep = dot_of(1, 1);     /* a live sibling pins node 1's old range */

    rk_vv out;
    assert_int_equal(rk_vv_merge(&a, &b, NULL, &keep, 1, &out), 0);
    assert_int_equal(out.entry_count, RK_VV_ENTRIES_MAX);
    assert_true(rk_vv_covers(&out, keep));
    assert_false(rk_vv_covers(&out, dot_of(2, 1)));       /* oldest unpinned went first */
    assert_false(rk_vv_covers(&out, dot_of(17, 1)));
    assert_true(rk_vv_covers(&out, dot_of(18, 1)));
    for (uint32_t node = 1; node <= 48; node++) {
        assert_int_equal(rk_vv_counter_max(&out, node), node <= 32 ? 100 : 1);
    }
}

/* Sixty-five distinct nodes cannot be pruned without forgetting a counter: refused. */
static void test_vv_merge_refuses_more_nodes_than_bound(void **state)
{
    (void)state;
    rk_vv a;
    rk_vv_init(&a);
    for (uint32_t node = 1; node <= RK_VV_ENTRIES_MAX; node++) {
        rk_vv_entry *e = &a.entries[a.entry_count++];
        e->node = node;
        e->first = 1;
        e->last = 1;
    }
    rk_vv before = a;
    rk_dot dot = dot_of(RK_VV_ENTRIES_MAX + 1, 1);
    rk_vv empty;
    rk_vv_init(&empty);
    assert_int_equal(rk_vv_merge(&a, &empty, &dot, NULL, 0, &a), RK_ETOOBIG);
    assert_true(rk_vv_equal(&a, &before));

    /* one more counter for a known node fits */
    dot = dot_of(1, 2);
    assert_int_equal(rk_vv_merge(&a, &empty, &dot, NULL, 0, &a), 0);
    assert_int_equal(rk_vv_counter_max(&a, 1), 2);
}

/* Random histories pruned to random bounds: the bound holds unless refused, the result is a
 * subset, every kept dot and every node's highest counter survive, and so anything the
 * pruned history descends the original descends too (no false dominance). */
static void test_prune_keeps_bound_and_never_false_dominance(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_version prune");
    for (uint32_t round = 0; round < 4000; round++) {
        rk_vv vv;
        rk_vv_init(&vv);
        uint32_t node_count = 1 + (uint32_t)test_rng_below(&rng, 12);
        for (uint32_t node = 1; node <= node_count && vv.entry_count < RK_VV_ENTRIES_MAX;
             node++) {
            uint64_t next = 1 + test_rng_below(&rng, 3);
            uint32_t ranges = 1 + (uint32_t)test_rng_below(&rng, 6);
            for (uint32_t r = 0; r < ranges && vv.entry_count < RK_VV_ENTRIES_MAX; r++) {
                rk_vv_entry *e = &vv.entries[vv.entry_count++];
                e->node = node;
                e->first = next;
                e->last = next + test_rng_below(&rng, 4);
                next = e->last + 2 + test_rng_below(&rng, 50);
            }
        }
        assert_true(rk_vv_valid(&vv));
        rk_dot keep[4];
        uint32_t keep_count = (uint32_t)test_rng_below(&rng, 5);
        for (uint32_t k = 0; k < keep_count; k++) {
            const rk_vv_entry *e = &vv.entries[test_rng_below(&rng, vv.entry_count)];
            keep[k] = dot_of(e->node, e->first + test_rng_below(&rng, e->last - e->first + 1));
        }
        uint32_t bound = (uint32_t)test_rng_below(&rng, vv.entry_count + 1);

        rk_vv pruned = vv;
        int rc = rk_vv_prune(&pruned, bound, keep, keep_count);
        assert_true(rk_vv_valid(&pruned));
        if (rc == 0) {
            assert_true(pruned.entry_count <= bound);
        } else {
            assert_int_equal(rc, RK_ETOOBIG);
            assert_true(pruned.entry_count > bound);
        }
        assert_true(rk_vv_descends(&vv, &pruned));
        for (uint32_t k = 0; k < keep_count; k++) {
            assert_true(rk_vv_covers(&pruned, keep[k]));
        }
        for (uint32_t node = 1; node <= node_count; node++) {
            assert_int_equal(rk_vv_counter_max(&pruned, node), rk_vv_counter_max(&vv, node));
        }
        /* a probe: one random range of the original (or just beyond it) */
        const rk_vv_entry *e = &vv.entries[test_rng_below(&rng, vv.entry_count)];
        rk_vv probe;
        rk_vv_init(&probe);
        probe.entry_count = 1;
        probe.entries[0].node = e->node;
        probe.entries[0].first = e->first;
        probe.entries[0].last = e->last + test_rng_below(&rng, 2);
        if (rk_vv_descends(&pruned, &probe)) {
            assert_true(rk_vv_descends(&vv, &probe));
        }
    }
}

/* ---- sibling sets: the named behaviours ----------------------------------------------- */

/* A write whose context is the whole history replaces every sibling. */
static void test_update_with_full_context_replaces_all_siblings(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(&set, &empty, "a", 1);
    put_text(&set, &empty, "b", 2);
    put_text(&set, &empty, "c", 1);
    assert_values(&set, "a,c,b");

    rk_vv context = join_of(&set);
    rk_dot dot = put_text(&set, &context, "d", 3);
    assert_values(&set, "d");
    assert_int_equal(set.sibling_count, 1);
    assert_int_equal(dot.node, 3);
    assert_int_equal(dot.counter, 1);
    rk_vv after = join_of(&set);
    assert_int_equal(rk_vv_compare(&after, &context), RK_VV_DESCENDS);
    rk_dvvset_deinit(&set);
}

/* basho/riak_kv#746: two clients write blind (no context) through the same coordinator.
 * With server-side vector clocks the second would overwrite the first; with dots both
 * survive as siblings. */
static void test_blind_writes_at_one_coordinator_both_survive(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dot first = put_text(&set, &empty, "alice", 7);
    rk_dot second = put_text(&set, &empty, "bob", 7);

    assert_int_equal(first.counter, 1);
    assert_int_equal(second.counter, 2);
    assert_values(&set, "alice,bob");
    rk_dvvset_deinit(&set);
}

/* Peter reads v1, Mary then writes v2 (having read v1); Peter writes v3 with his old
 * context: v3 supersedes v1 only, and coexists with v2 which Peter never saw. */
static void test_write_with_old_context_keeps_later_writes_it_did_not_see(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(&set, &empty, "v1", 1);
    rk_vv peter = join_of(&set);
    rk_vv mary = join_of(&set);
    put_text(&set, &mary, "v2", 1);
    assert_values(&set, "v2");

    put_text(&set, &peter, "v3", 1);
    assert_values(&set, "v2,v3");

    /* on another coordinator too */
    rk_dvvset other;
    rk_dvvset_init(&other);
    put_text(&other, &empty, "v1", 1);
    rk_vv stale = join_of(&other);
    put_text(&other, &stale, "v2", 1);
    put_text(&other, &stale, "v3", 2);
    assert_values(&other, "v2,v3");
    rk_dvvset_deinit(&other);
    rk_dvvset_deinit(&set);
}

/* A delete is a tombstone sibling; a put with the tombstone's context supersedes it. */
static void test_tombstone_superseded_by_put_with_its_context(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(&set, &empty, "v1", 1);
    rk_vv context = join_of(&set);
    delete_with(&set, &context, 2);
    assert_int_equal(set.sibling_count, 1);
    assert_true(set.siblings[0].tombstone);
    assert_int_equal(rk_dvvset_values(&set, NULL, 0), 0);

    context = join_of(&set);
    put_text(&set, &context, "v2", 1);
    assert_int_equal(set.sibling_count, 1);
    assert_values(&set, "v2");
    rk_dvvset_deinit(&set);
}

/* A set of tombstones only reads as absent, yet its context is kept and returned, so a
 * write after the read supersedes the deletes; a blind write after a delete does not. */
static void test_tombstones_only_read_as_absent_with_context(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(&set, &empty, "v1", 1);
    rk_vv context = join_of(&set);
    delete_with(&set, &context, 1);
    delete_with(&set, &context, 2);     /* two concurrent deletes */
    assert_int_equal(set.sibling_count, 2);
    assert_int_equal(rk_dvvset_values(&set, NULL, 0), 0);
    rk_vv read = join_of(&set);
    assert_int_equal(read.entry_count, 2);

    rk_dvvset blind;
    assert_int_equal(rk_dvvset_copy(&set, &blind), 0);
    put_text(&blind, &empty, "blind", 3);
    assert_int_equal(blind.sibling_count, 3);
    assert_values(&blind, "blind");

    put_text(&set, &read, "v2", 3);
    assert_int_equal(set.sibling_count, 1);
    rk_dvvset_deinit(&blind);
    rk_dvvset_deinit(&set);
}

/* A node that lost its unsynced state passes a floor above anything it may have minted:
 * the next dot is the floor, not a counter some replica already holds. */
static void test_counter_floor_prevents_dot_reuse_after_crash(void **state)
{
    (void)state;
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset durable;
    rk_dvvset_init(&durable);
    put_text(&durable, &empty, "synced", 1);           /* 1:1 reached the disk */

    rk_dvvset live;
    assert_int_equal(rk_dvvset_copy(&durable, &live), 0);
    rk_dot lost = put_text(&live, &empty, "unsynced", 1);
    assert_int_equal(lost.counter, 2);

    /* crash: node 1 restarts from `durable`; its lease says nothing above 1000 was used */
    rk_dvvset_write w = {.value = (const uint8_t *)"after", .value_len = 5};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&durable, &empty, &w, 1, 1001,
                                      RK_DVVSET_SIBLINGS_DEFAULT, &dot), 0);
    assert_int_equal(dot.counter, 1001);
    assert_false(rk_vv_covers(&durable.history, lost));

    /* without the floor the lost dot would be minted again */
    rk_dvvset again;
    rk_dvvset_init(&again);
    put_text(&again, &empty, "synced", 1);
    rk_dot reused = put_text(&again, &empty, "other", 1);
    assert_int_equal(reused.counter, lost.counter);

    /* the floor never lowers a counter */
    assert_int_equal(rk_dvvset_update(&durable, &empty, &w, 1, 5, RK_DVVSET_SIBLINGS_DEFAULT,
                                      &dot), 0);
    assert_int_equal(dot.counter, 1002);
    rk_dvvset_deinit(&again);
    rk_dvvset_deinit(&live);
    rk_dvvset_deinit(&durable);
}

/* The write node 1 made before crashing reached node 2. After the crash node 1 mints above
 * the floor; a client context from node 1 does not claim the gap, so the pre-crash write
 * stays a sibling when the replicas sync (a plain vector raised to the floor would have
 * swallowed it). */
static void test_crash_gap_keeps_lost_writes_as_siblings(void **state)
{
    (void)state;
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset node1;
    rk_dvvset_init(&node1);
    put_text(&node1, &empty, "v1", 1);
    rk_dvvset node2;
    assert_int_equal(rk_dvvset_copy(&node1, &node2), 0);
    rk_vv context = join_of(&node1);
    put_text(&node1, &context, "before-crash", 1);           /* dot 1:2 */
    assert_int_equal(rk_dvvset_sync(&node2, &node1), 0);     /* replicated to node 2 */
    rk_dvvset_deinit(&node1);

    /* node 1 restarts with only v1 (1:1), floor 1000 */
    rk_dvvset_init(&node1);
    put_text(&node1, &empty, "v1", 1);
    context = join_of(&node1);
    rk_dvvset_write w = {.value = (const uint8_t *)"after-crash", .value_len = 11};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&node1, &context, &w, 1, 1000,
                                      RK_DVVSET_SIBLINGS_DEFAULT, &dot), 0);
    assert_int_equal(dot.counter, 1000);
    assert_false(rk_vv_covers(&node1.history, dot_of(1, 2)));

    assert_int_equal(rk_dvvset_sync(&node1, &node2), 0);
    assert_values(&node1, "before-crash,after-crash");
    assert_int_equal(rk_dvvset_sync(&node2, &node1), 0);
    assert_true(rk_dvvset_equal(&node1, &node2));

    /* a client that read both resolves them */
    context = join_of(&node1);
    put_text(&node1, &context, "resolved", 2);
    assert_values(&node1, "resolved");
    rk_dvvset_deinit(&node2);
    rk_dvvset_deinit(&node1);
}

static int put_blind_limit(rk_dvvset *set, uint32_t siblings_max, uint32_t i)
{
    char text[16];
    snprintf(text, sizeof(text), "w%u", i);
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset_write w = {.value = (const uint8_t *)text, .value_len = strlen(text)};
    rk_dot dot;
    return rk_dvvset_update(set, &empty, &w, 1 + i % 5, 0, siblings_max, &dot);
}

/* max_siblings: the write making exactly siblings_max siblings passes, the next is refused
 * and leaves the set as it was; a write whose context supersedes some still passes. */
static void test_max_siblings_both_sides_of_limit(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    for (uint32_t i = 0; i < RK_DVVSET_SIBLINGS_DEFAULT; i++) {
        assert_int_equal(put_blind_limit(&set, RK_DVVSET_SIBLINGS_DEFAULT, i), 0);
    }
    assert_int_equal(set.sibling_count, RK_DVVSET_SIBLINGS_DEFAULT);

    rk_dvvset before;
    assert_int_equal(rk_dvvset_copy(&set, &before), 0);
    assert_int_equal(put_blind_limit(&set, RK_DVVSET_SIBLINGS_DEFAULT, 100), RK_ETOOBIG);
    assert_true(rk_dvvset_equal(&set, &before));

    rk_vv context = join_of(&set);
    put_text(&set, &context, "resolved", 1);
    assert_int_equal(set.sibling_count, 1);

    /* siblings_max 1 is last-writer-by-context: a blind write is refused */
    assert_int_equal(put_blind_limit(&set, 1, 0), RK_ETOOBIG);
    assert_int_equal(put_blind_limit(&set, 2, 0), 0);
    rk_dvvset_deinit(&before);
    rk_dvvset_deinit(&set);
}

/* Bad arguments and limits are refused without touching the set. */
static void test_update_refuses_bad_arguments(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset_write w = {.value = (const uint8_t *)"x", .value_len = 1};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&set, &empty, &w, 1, 0, 0, &dot), RK_EINVAL);
    assert_int_equal(rk_dvvset_update(&set, &empty, &w, 1, 0, RK_DVVSET_SIBLINGS_MAX + 1, &dot),
                     RK_EINVAL);
    assert_int_equal(rk_dvvset_update(&set, &empty, &w, 1, 0, RK_DVVSET_SIBLINGS_MAX, &dot), 0);

    rk_dvvset_write big = {.value = (const uint8_t *)"x", .value_len = RK_VALUE_BYTES_MAX + 1u};
    assert_int_equal(rk_dvvset_update(&set, &empty, &big, 1, 0, 10, &dot), RK_ETOOBIG);

    /* the last counter is minted once, then the node is out of dots */
    assert_int_equal(rk_dvvset_update(&set, &empty, &w, 2, UINT64_MAX, 10, &dot), 0);
    assert_int_equal(dot.counter, UINT64_MAX);
    assert_int_equal(rk_dvvset_update(&set, &empty, &w, 2, 0, 10, &dot), RK_ETOOBIG);
    assert_int_equal(set.sibling_count, 2);
    rk_dvvset_deinit(&set);
}

/* Siblings come out in dot order (node, then counter), whatever the order of the writes. */
static void test_siblings_ordered_by_dot(void **state)
{
    (void)state;
    rk_dvvset set;
    rk_dvvset_init(&set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(&set, &empty, "n9", 9);
    put_text(&set, &empty, "n2", 2);
    put_text(&set, &empty, "n5", 5);
    put_text(&set, &empty, "n2b", 2);
    assert_values(&set, "n2,n2b,n5,n9");
    for (uint32_t i = 1; i < set.sibling_count; i++) {
        rk_dot a = set.siblings[i - 1].dot;
        rk_dot b = set.siblings[i].dot;
        assert_true(a.node < b.node || (a.node == b.node && a.counter < b.counter));
    }
    rk_dvvset_deinit(&set);
}

/* One dot with two contents (a node that reused a dot) still converges: both replicas keep
 * the later one, whichever side syncs. */
static void test_sync_same_dot_different_contents_converges(void **state)
{
    (void)state;
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset a;
    rk_dvvset b;
    rk_dvvset_init(&a);
    rk_dvvset_init(&b);
    rk_dvvset_write early = {.value = (const uint8_t *)"early", .value_len = 5,
                             .timestamp_us = 10};
    rk_dvvset_write late = {.value = (const uint8_t *)"late", .value_len = 4,
                            .timestamp_us = 20};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&a, &empty, &early, 1, 0, 10, &dot), 0);
    assert_int_equal(rk_dvvset_update(&b, &empty, &late, 1, 0, 10, &dot), 0);

    rk_dvvset ab;
    rk_dvvset ba;
    assert_int_equal(rk_dvvset_copy(&a, &ab), 0);
    assert_int_equal(rk_dvvset_copy(&b, &ba), 0);
    assert_int_equal(rk_dvvset_sync(&ab, &b), 0);
    assert_int_equal(rk_dvvset_sync(&ba, &a), 0);
    assert_true(rk_dvvset_equal(&ab, &ba));
    assert_values(&ab, "late");
    rk_dvvset_deinit(&ab);
    rk_dvvset_deinit(&ba);
    rk_dvvset_deinit(&a);
    rk_dvvset_deinit(&b);
}

/* ---- the cluster property ------------------------------------------------------------- */

#define MODEL_REPLICAS       3u
#define MODEL_WRITES_MAX     64u     /* write sets are uint64_t bitmasks */
#define MODEL_CONTEXTS_MAX   16u
#define MODEL_STEPS          60u
#define MODEL_EPOCH_COUNTERS 1000u   /* a lease: one epoch never mints more per key */

typedef struct model_replica {
    rk_dvvset set;
    uint64_t delivered;              /* writes whose sibling reached this replica */
    uint64_t superseded;             /* writes some applied context covered */
    rk_dvvset durable;               /* what survives a crash */
    uint64_t durable_delivered;
    uint64_t durable_superseded;
    uint64_t epoch;
} model_replica;

typedef struct model_context {
    rk_vv vv;
    uint64_t writes;
} model_context;

typedef struct model {
    model_replica replicas[MODEL_REPLICAS];
    rk_dot dots[MODEL_WRITES_MAX];
    bool tombstone[MODEL_WRITES_MAX];
    uint32_t write_count;
    model_context contexts[MODEL_CONTEXTS_MAX];
    uint32_t context_count;
} model;

static void model_value(uint32_t write_index, uint8_t *out, size_t *len)
{
    *len = (size_t)snprintf((char *)out, 32, "w%u", write_index);
    for (uint32_t i = 0; i < write_index % 7; i++) {
        out[(*len)++] = (uint8_t)(0xf0u + i);      /* some bytes that are not text */
    }
}

/* The replica must hold exactly the writes delivered and not superseded, with their values,
 * and its history must hold exactly the writes delivered or superseded. */
static void model_check_replica(const model *m, const model_replica *r)
{
    assert_true(rk_dvvset_valid(&r->set));
    uint64_t live = r->delivered & ~r->superseded;
    uint64_t seen = r->delivered | r->superseded;
    uint32_t live_count = 0;
    for (uint32_t w = 0; w < m->write_count; w++) {
        bool is_live = (live >> w) & 1u;
        live_count += is_live ? 1 : 0;
        assert_int_equal(rk_vv_covers(&r->set.history, m->dots[w]), (seen >> w) & 1u);
        const rk_sibling *found = NULL;
        for (uint32_t i = 0; i < r->set.sibling_count; i++) {
            if (r->set.siblings[i].dot.node == m->dots[w].node &&
                r->set.siblings[i].dot.counter == m->dots[w].counter) {
                found = &r->set.siblings[i];
            }
        }
        assert_int_equal(found != NULL, is_live);
        if (found != NULL) {
            assert_int_equal(found->tombstone, m->tombstone[w]);
            if (!m->tombstone[w]) {
                uint8_t value[64];
                size_t value_len = 0;
                model_value(w, value, &value_len);
                assert_int_equal(found->value_len, value_len);
                assert_memory_equal(found->value, value, value_len);
            }
        }
    }
    assert_int_equal(r->set.sibling_count, live_count);
}

static void model_step_write(model *m, uint64_t *rng)
{
    uint32_t r_index = (uint32_t)test_rng_below(rng, MODEL_REPLICAS);
    model_replica *r = &m->replicas[r_index];
    rk_vv context;
    uint64_t context_writes = 0;
    uint64_t how = test_rng_below(rng, 4);
    if (how == 0 || (how == 1 && m->context_count == 0)) {
        rk_vv_init(&context);                                  /* blind */
    } else if (how == 1) {
        const model_context *c = &m->contexts[test_rng_below(rng, m->context_count)];
        context = c->vv;                                       /* stale: read long ago */
        context_writes = c->writes;
    } else {
        const model_replica *from = &m->replicas[test_rng_below(rng, MODEL_REPLICAS)];
        rk_dvvset_join(&from->set, &context);                  /* fresh read anywhere */
        context_writes = from->delivered | from->superseded;
    }
    uint32_t w = m->write_count;
    uint8_t value[64];
    size_t value_len = 0;
    model_value(w, value, &value_len);
    bool tombstone = test_rng_below(rng, 5) == 0;
    rk_dvvset_write write = {.value = value, .value_len = value_len, .tombstone = tombstone,
                             .timestamp_us = test_rng_next(rng)};
    uint64_t floor = r->epoch * MODEL_EPOCH_COUNTERS + (r->epoch > 0 ? 1 : 0);
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&r->set, &context, &write, r_index + 1, floor,
                                      RK_DVVSET_SIBLINGS_MAX, &dot), 0);
    for (uint32_t i = 0; i < w; i++) {
        bool reused = m->dots[i].node == dot.node && m->dots[i].counter == dot.counter;
        assert_false(reused);
    }
    m->dots[w] = dot;
    m->tombstone[w] = tombstone;
    m->write_count++;
    r->delivered |= 1ull << w;
    r->superseded |= context_writes;
}

static void model_step_sync(model *m, uint64_t *rng)
{
    uint32_t to = (uint32_t)test_rng_below(rng, MODEL_REPLICAS);
    uint32_t from = (uint32_t)test_rng_below(rng, MODEL_REPLICAS);
    if (to == from) {
        return;
    }
    model_replica *a = &m->replicas[to];
    const model_replica *b = &m->replicas[from];
    assert_int_equal(rk_dvvset_sync(&a->set, &b->set), 0);
    a->delivered |= b->delivered;
    a->superseded |= b->superseded;
}

static void model_replace(rk_dvvset *dst, const rk_dvvset *src)
{
    rk_dvvset_deinit(dst);
    assert_int_equal(rk_dvvset_copy(src, dst), 0);
}

static void model_step_durable_or_crash(model *m, uint64_t *rng)
{
    model_replica *r = &m->replicas[test_rng_below(rng, MODEL_REPLICAS)];
    if (test_rng_below(rng, 3) != 0) {
        model_replace(&r->durable, &r->set);
        r->durable_delivered = r->delivered;
        r->durable_superseded = r->superseded;
        return;
    }
    model_replace(&r->set, &r->durable);              /* crash: unsynced state is gone */
    r->delivered = r->durable_delivered;
    r->superseded = r->durable_superseded;
    r->epoch++;
}

static void model_step(model *m, uint64_t *rng)
{
    uint64_t kind = test_rng_below(rng, 10);
    if (kind < 5 && m->write_count < MODEL_WRITES_MAX) {
        model_step_write(m, rng);
    } else if (kind < 8) {
        model_step_sync(m, rng);
    } else if (kind < 9) {
        model_step_durable_or_crash(m, rng);
    } else if (m->context_count < MODEL_CONTEXTS_MAX) {
        const model_replica *r = &m->replicas[test_rng_below(rng, MODEL_REPLICAS)];
        model_context *c = &m->contexts[m->context_count++];
        rk_dvvset_join(&r->set, &c->vv);
        c->writes = r->delivered | r->superseded;
    }
}

static void sync_into_copy(const rk_dvvset *a, const rk_dvvset *b, rk_dvvset *out)
{
    assert_int_equal(rk_dvvset_copy(a, out), 0);
    assert_int_equal(rk_dvvset_sync(out, b), 0);
}

static void check_sync_laws(const rk_dvvset *a, const rk_dvvset *b, const rk_dvvset *c)
{
    rk_dvvset ab;
    rk_dvvset ba;
    sync_into_copy(a, b, &ab);
    sync_into_copy(b, a, &ba);
    assert_true(rk_dvvset_equal(&ab, &ba));                      /* commutative */

    rk_dvvset ab_c;
    rk_dvvset bc;
    rk_dvvset a_bc;
    sync_into_copy(&ab, c, &ab_c);
    sync_into_copy(b, c, &bc);
    sync_into_copy(a, &bc, &a_bc);
    assert_true(rk_dvvset_equal(&ab_c, &a_bc));                  /* associative */

    rk_dvvset aa;
    sync_into_copy(a, a, &aa);
    assert_true(rk_dvvset_equal(&aa, a));                        /* idempotent */
    rk_dvvset ab_b;
    sync_into_copy(&ab, b, &ab_b);
    assert_true(rk_dvvset_equal(&ab_b, &ab));                    /* absorbs what it has */

    rk_dvvset_deinit(&ab);
    rk_dvvset_deinit(&ba);
    rk_dvvset_deinit(&ab_c);
    rk_dvvset_deinit(&bc);
    rk_dvvset_deinit(&a_bc);
    rk_dvvset_deinit(&aa);
    rk_dvvset_deinit(&ab_b);
}

static void check_round_trips(const rk_dvvset *set)
{
    size_t len = rk_dvvset_encoded_len(set);
    uint8_t *bytes = malloc(len);
    assert_non_null(bytes);
    assert_int_equal(rk_dvvset_encode(set, bytes), len);
    rk_dvvset decoded;
    assert_int_equal(rk_dvvset_decode(bytes, len, &decoded), 0);
    assert_true(rk_dvvset_equal(&decoded, set));
    uint8_t *again = malloc(len);
    assert_non_null(again);
    assert_int_equal(rk_dvvset_encoded_len(&decoded), len);
    assert_int_equal(rk_dvvset_encode(&decoded, again), len);
    assert_memory_equal(bytes, again, len);
    free(again);
    free(bytes);
    rk_dvvset_deinit(&decoded);

    char token[RK_VV_TOKEN_CHARS_MAX + 1];
    int token_len = rk_vv_token_encode(&set->history, token, sizeof(token));
    assert_true(token_len > 0);
    rk_vv back;
    assert_int_equal(rk_vv_token_decode(token, (size_t)token_len, &back), 0);
    assert_true(rk_vv_equal(&back, &set->history));
}

/* Thousands of small clusters against the oracle, then the sync laws and the codecs on the
 * states they reached. */
static void test_sync_property_cluster_matches_oracle_and_laws(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_version cluster");
    for (uint32_t round = 0; round < 3000; round++) {
        model *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        for (uint32_t i = 0; i < MODEL_REPLICAS; i++) {
            rk_dvvset_init(&m->replicas[i].set);
            rk_dvvset_init(&m->replicas[i].durable);
        }
        for (uint32_t step = 0; step < MODEL_STEPS; step++) {
            model_step(m, &rng);
            for (uint32_t i = 0; i < MODEL_REPLICAS; i++) {
                model_check_replica(m, &m->replicas[i]);
            }
        }
        check_sync_laws(&m->replicas[0].set, &m->replicas[1].set, &m->replicas[2].set);
        check_sync_laws(&m->replicas[2].set, &m->replicas[0].set, &m->replicas[1].set);
        for (uint32_t i = 0; i < MODEL_REPLICAS; i++) {
            check_round_trips(&m->replicas[i].set);
            check_round_trips(&m->replicas[i].durable);
            rk_dvvset_deinit(&m->replicas[i].set);
            rk_dvvset_deinit(&m->replicas[i].durable);
        }
        free(m);
    }
}

/* ---- tokens and bytes ----------------------------------------------------------------- */

/* The empty context is a short, fixed, printable token. */
static void test_token_empty_is_short_fixed(void **state)
{
    (void)state;
    rk_vv empty;
    rk_vv_init(&empty);
    char token[RK_VV_TOKEN_CHARS_MAX + 1];
    int len = rk_vv_token_encode(&empty, token, sizeof(token));
    assert_int_equal(len, RK_VV_TOKEN_EMPTY_CHARS);
    assert_string_equal(token, RK_VV_TOKEN_EMPTY);

    rk_vv back;
    assert_int_equal(rk_vv_token_decode(RK_VV_TOKEN_EMPTY, RK_VV_TOKEN_EMPTY_CHARS, &back), 0);
    assert_true(rk_vv_equal(&back, &empty));

    /* too small a buffer is refused, not truncated */
    char small[RK_VV_TOKEN_EMPTY_CHARS];
    assert_int_equal(rk_vv_token_encode(&empty, small, sizeof(small)), RK_ETOOBIG);
    assert_string_equal(small, "");
}

static void random_vv(rk_vv *vv, uint64_t *rng, uint32_t entry_count_max)
{
    rk_vv_init(vv);
    uint32_t count = (uint32_t)test_rng_below(rng, entry_count_max + 1);
    uint64_t node = test_rng_below(rng, 4);
    uint64_t next = 1;
    for (uint32_t i = 0; i < count; i++) {
        if (i == 0 || test_rng_below(rng, 3) != 0) {
            node += 1 + test_rng_below(rng, i % 5 == 4 ? UINT32_MAX / 128 : 3);
            if (node > UINT32_MAX) {
                break;
            }
            next = 1;
        }
        uint64_t size_kind = test_rng_below(rng, 4);
        uint64_t span = size_kind == 0 ? test_rng_next(rng) >> 1 : test_rng_below(rng, 1000);
        rk_vv_entry *e = &vv->entries[vv->entry_count++];
        e->node = (rk_node_id)node;
        e->first = next + test_rng_below(rng, 3);
        e->last = e->first + (span > UINT64_MAX / 4 - e->first ? 0 : span);
        if (e->last > UINT64_MAX / 2) {
            node += 1;                      /* leave room: move on to another node */
            next = 1;
        } else {
            next = e->last + 2;
        }
    }
    assert_true(rk_vv_valid(vv));
}

/* decode(encode(x)) == x for random histories, the full bound included, and the token
 * stays within its documented length. */
static void test_token_round_trip_property(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_version token");
    for (uint32_t round = 0; round < 5000; round++) {
        rk_vv vv;
        random_vv(&vv, &rng, round % 10 == 0 ? RK_VV_ENTRIES_MAX : 6);
        char token[RK_VV_TOKEN_CHARS_MAX + 1];
        int len = rk_vv_token_encode(&vv, token, sizeof(token));
        assert_true(len > 0);
        assert_true((size_t)len <= RK_VV_TOKEN_CHARS_MAX);
        assert_int_equal(strlen(token), (size_t)len);
        for (int i = 0; i < len; i++) {
            bool printable = (token[i] >= 'A' && token[i] <= 'Z') ||
                             (token[i] >= 'a' && token[i] <= 'z') ||
                             (token[i] >= '0' && token[i] <= '9') || token[i] == '-' ||
                             token[i] == '_';
            assert_true(printable);
        }
        rk_vv back;
        assert_int_equal(rk_vv_token_decode(token, (size_t)len, &back), 0);
        assert_true(rk_vv_equal(&back, &vv));
    }
}

/* Random strings, truncations, every single flipped bit and every wrong character of real
 * tokens are refused. */
static void test_token_rejects_garbage(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_version token garbage");
    rk_vv out;
    assert_int_equal(rk_vv_token_decode("", 0, &out), RK_ECORRUPT);
    assert_int_equal(rk_vv_token_decode("not a token", 11, &out), RK_ECORRUPT);
    assert_int_equal(rk_vv_token_decode("AQB2Bvk=", 8, &out), RK_ECORRUPT);
    char huge[RK_VV_TOKEN_CHARS_MAX + 8];
    memset(huge, 'A', sizeof(huge));
    assert_int_equal(rk_vv_token_decode(huge, sizeof(huge), &out), RK_ECORRUPT);

    for (uint32_t round = 0; round < 3000; round++) {
        char junk[64];
        size_t junk_len = (size_t)test_rng_below(&rng, sizeof(junk));
        for (size_t i = 0; i < junk_len; i++) {
            junk[i] = (char)test_rng_next(&rng);
        }
        assert_int_equal(rk_vv_token_decode(junk, junk_len, &out), RK_ECORRUPT);
        /* base64url junk passes the alphabet, so the checksum must catch it */
        for (size_t i = 0; i < junk_len; i++) {
            junk[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                [test_rng_below(&rng, 64)];
        }
        assert_int_equal(rk_vv_token_decode(junk, junk_len, &out), RK_ECORRUPT);
    }

    for (uint32_t round = 0; round < 300; round++) {
        rk_vv vv;
        random_vv(&vv, &rng, 5);
        char token[RK_VV_TOKEN_CHARS_MAX + 1];
        int len = rk_vv_token_encode(&vv, token, sizeof(token));
        for (int cut = 0; cut < len; cut++) {
            assert_int_equal(rk_vv_token_decode(token, (size_t)cut, &out), RK_ECORRUPT);
        }
        for (int i = 0; i < len; i++) {
            char saved = token[i];
            for (int bit = 0; bit < 8; bit++) {
                token[i] = (char)(saved ^ (1 << bit));
                assert_int_equal(rk_vv_token_decode(token, (size_t)len, &out), RK_ECORRUPT);
            }
            token[i] = saved;
        }
        assert_int_equal(rk_vv_token_decode(token, (size_t)len, &out), 0);
    }
}

static void build_sample_set(rk_dvvset *set)
{
    rk_dvvset_init(set);
    rk_vv empty;
    rk_vv_init(&empty);
    put_text(set, &empty, "alpha", 1);
    put_text(set, &empty, "", 2);
    delete_with(set, &empty, 3);
    rk_dvvset_write w = {.value = (const uint8_t *)"gap", .value_len = 3, .timestamp_us = 5};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(set, &empty, &w, 1, 500, 10, &dot), 0);
}

/* The store encoding round-trips byte for byte, empty set included. */
static void test_encoding_round_trip_byte_for_byte(void **state)
{
    (void)state;
    rk_dvvset empty;
    rk_dvvset_init(&empty);
    check_round_trips(&empty);
    rk_dvvset set;
    build_sample_set(&set);
    check_round_trips(&set);
    assert_int_equal(set.history.entry_count, 4);      /* 1:[1..1], 1:[500..500], 2, 3 */
    rk_dvvset_deinit(&set);
}

/* Truncations at every length, every flipped bit and a wrong but checksummed structure are
 * refused with RK_ECORRUPT, leaving an empty set. */
static void test_decode_rejects_corruption(void **state)
{
    (void)state;
    rk_dvvset set;
    build_sample_set(&set);
    size_t len = rk_dvvset_encoded_len(&set);
    uint8_t *bytes = malloc(len);
    assert_non_null(bytes);
    rk_dvvset_encode(&set, bytes);

    rk_dvvset out;
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(rk_dvvset_decode(bytes, cut, &out), RK_ECORRUPT);
        assert_int_equal(out.sibling_count, 0);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(rk_dvvset_decode(bytes, len, &out), RK_ECORRUPT);
            bytes[i] ^= (uint8_t)(1u << bit);
        }
    }

    /* a sibling the history does not cover, with a valid checksum */
    rk_dvvset broken;
    assert_int_equal(rk_dvvset_copy(&set, &broken), 0);
    broken.siblings[0].dot.counter = 2;               /* 1:2 is in the gap */
    size_t pos = len - RK_DVVSET_CHECKSUM_BYTES;
    uint8_t *forged = malloc(len);
    assert_non_null(forged);
    memcpy(forged, bytes, len);
    /* siblings start after head, history and count; the first dot's counter is at +4 */
    size_t sibling_at = RK_DVVSET_HEAD_BYTES + rk_vv_encoded_len(&set.history) + 4;
    forged[sibling_at + 4] = 2;
    uint64_t sum = XXH3_64bits(forged, pos);
    for (size_t i = 0; i < RK_DVVSET_CHECKSUM_BYTES; i++) {
        forged[pos + i] = (uint8_t)(sum >> (8 * i));
    }
    assert_int_equal(rk_dvvset_decode(forged, len, &out), RK_ECORRUPT);
    assert_int_equal(rk_dvvset_decode(bytes, len, &out), 0);
    rk_dvvset_deinit(&out);
    free(forged);
    rk_dvvset_deinit(&broken);
    free(bytes);
    rk_dvvset_deinit(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vv_compare_equal_descends_dominated_concurrent),
        cmocka_unit_test(test_vv_merge_joins_touching_ranges),
        cmocka_unit_test(test_vv_merge_over_bound_prunes_old_epochs),
        cmocka_unit_test(test_vv_merge_refuses_more_nodes_than_bound),
        cmocka_unit_test(test_prune_keeps_bound_and_never_false_dominance),
        cmocka_unit_test(test_update_with_full_context_replaces_all_siblings),
        cmocka_unit_test(test_blind_writes_at_one_coordinator_both_survive),
        cmocka_unit_test(test_write_with_old_context_keeps_later_writes_it_did_not_see),
        cmocka_unit_test(test_tombstone_superseded_by_put_with_its_context),
        cmocka_unit_test(test_tombstones_only_read_as_absent_with_context),
        cmocka_unit_test(test_counter_floor_prevents_dot_reuse_after_crash),
        cmocka_unit_test(test_crash_gap_keeps_lost_writes_as_siblings),
        cmocka_unit_test(test_max_siblings_both_sides_of_limit),
        cmocka_unit_test(test_update_refuses_bad_arguments),
        cmocka_unit_test(test_siblings_ordered_by_dot),
        cmocka_unit_test(test_sync_same_dot_different_contents_converges),
        cmocka_unit_test(test_sync_property_cluster_matches_oracle_and_laws),
        cmocka_unit_test(test_token_empty_is_short_fixed),
        cmocka_unit_test(test_token_round_trip_property),
        cmocka_unit_test(test_token_rejects_garbage),
        cmocka_unit_test(test_encoding_round_trip_byte_for_byte),
        cmocka_unit_test(test_decode_rejects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
