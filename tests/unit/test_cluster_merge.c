/* test_cluster_merge.c — merge of cluster metadata copies (rk_cluster_merge, src/core/cluster.c;
 * docs/membership.md); one node's metadata is test_cluster.c's. Covers: another cluster refused
 * and left unchanged; merge as a join semilattice over seeded random operation sequences on
 * three copies of one bootstrap (commutative to the byte, associative, idempotent); done units
 * of one plan unioned; concurrent commits of one plan number (the higher origin wins whole);
 * split-brain force-removes after the heal. The property runs from a fixed seed; RK_SEED=<n>
 * replays another. Helpers: cluster_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"
#include "test_seed.h"

#define TEST_MERGE_ROUNDS 300u
#define TEST_MERGE_OPS 24u
#define TEST_SEED_DEFAULT 0x5eedc1u

/* ---- merge -------------------------------------------------------------------------------- */

static void test_merge_refuses_another_cluster(void **state)
{
    (void)state;
    rk_cluster_meta *a = test_boot(3);
    rk_cluster_meta *b = test_boot(4); /* another member list: another id */
    assert_true(a->cluster_id != b->cluster_id);
    rk_cluster_meta *a0 = test_copy(a);
    assert_int_equal(rk_cluster_merge(a, b), RK_EINVAL);
    assert_true(test_same_bytes(a, a0));
    test_meta_free(a0);
    test_meta_free(a);
    test_meta_free(b);
}

static uint32_t test_pick(uint64_t *rng, uint32_t bound)
{
    return (uint32_t)(test_rng_next(rng) % bound);
}

/* One random operation on copy `m`, acting as node `by`; refusals are fine. `next_id` hands out
 * fresh ids (distinct per copy). `peer` is another copy for an occasional sync. */
static void test_random_op(rk_cluster_meta *m, rk_node_id by, rk_node_id *next_id,
                           const rk_cluster_meta *peer, uint64_t *rng)
{
    char message[TEST_MESSAGE_BYTES];
    uint32_t op = test_pick(rng, 100);
    rk_node_id some = m->member_count > 0 ? m->members[test_pick(rng, m->member_count)].addr.id : 1;
    if (op < 15) {
        if (m->member_count < 12) {
            rk_member_addr addr = test_addr(*next_id);
            *next_id += 3;
            (void)rk_cluster_stage_join(m, by, &addr, message, sizeof(message));
        }
    } else if (op < 25) {
        (void)rk_cluster_stage_leave(m, by, some, test_pick(rng, 4) == 0, message, sizeof(message));
    } else if (op < 29) {
        rk_cluster_stage_clear(m, by);
    } else if (op < 40) {
        (void)rk_cluster_commit(m, by, 1 + test_pick(rng, TEST_N), message, sizeof(message));
    } else if (op < 65) {
        if (m->moving && m->unit_count > 0) {
            for (uint32_t k = 0; k < 1 + test_pick(rng, 6); k++) {
                rk_cluster_unit_done(m, test_pick(rng, m->unit_count));
            }
        }
    } else if (op < 72) {
        rk_cluster_flip(m);
    } else if (op < 80) {
        rk_cluster_saw(m, some, m->ring.version);
    } else if (op < 84) {
        const rk_cmember *cm = rk_cluster_member(m, some);
        if (!m->moving && cm != NULL && cm->state == RK_CMEMBER_LEAVING) {
            rk_cluster_member_left(m, some);
        }
    } else {
        assert_true(rk_cluster_merge(m, peer) >= 0); /* a sync: both sides then share a plan */
    }
}

/* merge(x, y) into a fresh copy of x. */
static rk_cluster_meta *test_merged(const rk_cluster_meta *x, const rk_cluster_meta *y)
{
    rk_cluster_meta *r = test_copy(x);
    assert_true(rk_cluster_merge(r, y) >= 0);
    return r;
}

/* merge(a, b), checked to encode to the same bytes as merge(b, a). Returns it, owned. */
static rk_cluster_meta *test_merged_both_ways(const rk_cluster_meta *a, const rk_cluster_meta *b)
{
    rk_cluster_meta *ab = test_merged(a, b);
    rk_cluster_meta *ba = test_merged(b, a);
    assert_true(test_same_bytes(ab, ba));
    test_meta_free(ba);
    return ab;
}

static void test_merge_is_a_join_semilattice(void **state)
{
    (void)state;
    const char *env = getenv("RK_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : TEST_SEED_DEFAULT;
    print_message("merge semilattice: RK_SEED=%llu\n", (unsigned long long)seed);
    uint64_t rng = seed == 0 ? 1 : seed;
    rk_cluster_meta *boot = test_boot(4);
    uint32_t moving_merges = 0;
    for (uint32_t round = 0; round < TEST_MERGE_ROUNDS; round++) {
        rk_cluster_meta *c[3] = {test_copy(boot), test_copy(boot), test_copy(boot)};
        rk_node_id next_id[3] = {100, 101, 102};
        uint32_t ops = 1 + test_pick(&rng, TEST_MERGE_OPS);
        for (uint32_t i = 0; i < ops; i++) {
            uint32_t side = test_pick(&rng, 3);
            /* Each copy acts as its own node: 1, 2, 3 (origins differ as on real nodes). */
            test_random_op(c[side], side + 1, &next_id[side],
                           c[(side + 1 + test_pick(&rng, 2)) % 3], &rng);
        }
        rk_cluster_meta *ab = test_merged(c[0], c[1]);
        rk_cluster_meta *ba = test_merged(c[1], c[0]);
        if (!test_same_bytes(ab, ba)) {
            fail_msg("round %u (seed %llu): merge(A,B) and merge(B,A) differ", round,
                     (unsigned long long)seed);
        }
        moving_merges += ab->moving ? 1u : 0u;
        /* Idempotent: the join is above both, and above itself. */
        assert_int_equal(rk_cluster_merge(ab, c[0]), 0);
        assert_int_equal(rk_cluster_merge(ab, c[1]), 0);
        assert_int_equal(rk_cluster_merge(ab, ba), 0);
        rk_cluster_meta *self = test_copy(ab);
        assert_int_equal(rk_cluster_merge(ab, self), 0);
        test_meta_free(self);
        /* Associative: (A B) C = A (B C). */
        rk_cluster_meta *ab_c = test_merged(ab, c[2]);
        rk_cluster_meta *bc = test_merged(c[1], c[2]);
        rk_cluster_meta *a_bc = test_merged(c[0], bc);
        if (!test_same_bytes(ab_c, a_bc)) {
            fail_msg("round %u (seed %llu): (AB)C and A(BC) differ", round,
                     (unsigned long long)seed);
        }
        /* The join decodes and encodes to itself. */
        test_meta_free(test_reencoded(ab_c));
        test_meta_free(ab_c);
        test_meta_free(bc);
        test_meta_free(a_bc);
        test_meta_free(ab);
        test_meta_free(ba);
        for (uint32_t k = 0; k < 3; k++) {
            test_meta_free(c[k]);
        }
    }
    assert_true(moving_merges > TEST_MERGE_ROUNDS / 10); /* the plans and bitmaps were merged */
    test_meta_free(boot);
}

/* Two copies mark different units of one plan done: the merge has both, and flips after. */
static void test_merge_unions_done_units_of_one_plan(void **state)
{
    (void)state;
    rk_cluster_meta *a = test_boot(3);
    test_stage_join_ok(a, 1, 4);
    test_commit_ok(a, 1);
    rk_cluster_meta *b = test_copy(a);
    uint32_t count = a->unit_count;
    assert_true(count > 1);
    for (uint32_t i = 0; i < count; i++) {
        rk_cluster_unit_done(i % 2 == 0 ? a : b, i);
    }
    assert_false(rk_cluster_flip(a));
    assert_int_equal(rk_cluster_merge(a, b), 1);
    assert_int_equal(rk_cluster_units_left(a), 0);
    assert_true(rk_cluster_flip(a));
    /* The flipped copy beats the moving one of the same plan, either way round. */
    assert_int_equal(rk_cluster_merge(b, a), 1);
    assert_false(b->moving);
    assert_int_equal(rk_cluster_merge(a, b), 0);
    assert_true(test_same_bytes(a, b) || a->version != b->version);
    test_meta_free(a);
    test_meta_free(b);
}

/* Two nodes commit plan 1 concurrently (the design's one lossy case, docs/membership.md: the
 * plan by (number, phase, origin)). The merge is the same either way round, the higher
 * origin's plan wins whole, and what the lower one committed is left as member states only:
 * its joiner stays joining outside both rings, its leaver is leaving while it still owns
 * partitions, with nothing staged. Pinned here so a change to it is a decision; the way out
 * is a leave of the orphaned joiner, and another staged change for the leaver. */
static void test_concurrent_commits_the_higher_origin_wins(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *a = test_boot(4);
    rk_cluster_meta *b = test_copy(a);
    test_stage_join_ok(a, 1, 10);
    test_stage_leave_ok(a, 1, 3, false);
    test_commit_ok(a, 1);
    test_stage_join_ok(b, 2, 11);
    test_commit_ok(b, 2);
    assert_int_equal(a->plan, 1);
    assert_int_equal(b->plan, 1);

    rk_cluster_meta *ab = test_merged_both_ways(a, b);
    assert_int_equal(ab->plan_origin, 2);
    assert_memory_equal(&ab->next, &b->next, sizeof(b->next));
    assert_int_equal(ab->staged_count, 0);
    assert_int_equal(rk_cluster_member(ab, 10)->state, RK_CMEMBER_JOINING);
    assert_int_equal(rk_ring_owned_count(&ab->next, 10), 0);
    assert_int_equal(rk_cluster_member(ab, 3)->state, RK_CMEMBER_LEAVING);
    assert_true(rk_ring_owned_count(&ab->next, 3) > 0);

    test_finish(ab);
    assert_int_equal(rk_cluster_member(ab, 10)->state, RK_CMEMBER_JOINING);
    assert_int_equal(rk_cluster_member(ab, 11)->state, RK_CMEMBER_VALID);
    assert_true(rk_ring_owned_count(&ab->ring, 3) > 0);
    /* Nothing staged: no commit moves 3's partitions off until something else is staged. */
    assert_int_equal(rk_cluster_commit(ab, 1, TEST_N, message, sizeof(message)), RK_EINVAL);
    assert_int_equal(rk_cluster_stage_leave(ab, 1, 3, false, message, sizeof(message)), RK_EINVAL);
    /* The orphaned joiner: a leave stages, and the next plan drops both it and 3. */
    test_stage_leave_ok(ab, 1, 10, false);
    test_commit_ok(ab, 1);
    test_check_units(ab);
    assert_int_equal(rk_ring_owned_count(&ab->next, 3), 0);
    assert_int_equal(rk_ring_owned_count(&ab->next, 10), 0);
    test_finish(ab);
    rk_cluster_member_left(ab, 3);
    rk_cluster_member_left(ab, 10);
    assert_true(rk_cluster_gone(ab, 3));
    assert_true(rk_cluster_gone(ab, 10));
    test_meta_free(ab);
    test_meta_free(a);
    test_meta_free(b);
}

/* Split brain: each side of a partition force-removes the members it cannot reach. The merge
 * is commutative, but gone is a grow-only union, so after the heal nobody is a member and
 * the winning plan's ring is owned by gone ids. Pinned as it is (a design decision for the
 * lead, not a codec or merge bug): the metadata still encodes and decodes. */
static void test_split_brain_force_removes_leave_no_member(void **state)
{
    (void)state;
    rk_cluster_meta *a = test_boot(3);
    rk_cluster_meta *b = test_copy(a);
    test_stage_leave_ok(a, 1, 2, true);
    test_stage_leave_ok(a, 1, 3, true);
    test_commit_ok(a, 1);
    test_stage_leave_ok(b, 3, 1, true);
    test_stage_leave_ok(b, 3, 2, true);
    test_commit_ok(b, 3);
    rk_cluster_meta *ab = test_merged_both_ways(a, b);
    assert_int_equal(ab->member_count, 0);
    assert_int_equal(ab->gone_count, 3);
    assert_int_equal(ab->plan_origin, 3);
    test_meta_free(test_reencoded(ab));
    test_meta_free(ab);
    test_meta_free(a);
    test_meta_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_refuses_another_cluster),
        cmocka_unit_test(test_merge_is_a_join_semilattice),
        cmocka_unit_test(test_merge_unions_done_units_of_one_plan),
        cmocka_unit_test(test_concurrent_commits_the_higher_origin_wins),
        cmocka_unit_test(test_split_brain_force_removes_leave_no_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
