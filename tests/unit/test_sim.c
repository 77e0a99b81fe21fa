/* test_sim.c — the simulator itself (src/sim): one seed gives one run, the fault names parse,
 * bad configs are refused, clean stops keep every promise, and the checkers can fail (a network
 * that strips siblings is caught as lost acknowledged writes, crashes that claim a clean stop
 * as reused dots). The cart workload (issue 12) likewise: it needs a merge-type bucket (union,
 * set, and since issue 13 counter or map, whose runs test_sim_counter.c covers), set keeps both
 * its promises, union shows resurrected removes without failing, and a set whose replicas drop
 * members is caught as lost adds. Whole-run suites live in tests/sim/run.sh;
 * these pin the library's contract with small runs, so they stay fast under ASan; the cart
 * checkers' rules are pinned on hand-written histories in test_sim_cart.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/sim/sim.h"

static void small_config(rk_sim_config *c, uint64_t seed)
{
    rk_sim_config_default(c);
    c->seed = seed;
    c->ops = 300;
}

/* The same seed and options give the same run: every counter and the trace hash. */
static void test_same_seed_same_run(void **state)
{
    (void)state;
    rk_sim_config c;
    small_config(&c, 11);
    c.faults = RK_SIM_FAULT_ALL;
    rk_sim_result a;
    rk_sim_result b;
    assert_int_equal(rk_sim_run(&c, &a), 0);
    assert_int_equal(rk_sim_run(&c, &b), 0);
    assert_true(a.trace_hash == b.trace_hash);
    assert_int_equal(a.ops, b.ops);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.acked_writes, b.acked_writes);
    assert_int_equal(a.stale_reads, b.stale_reads);
    assert_int_equal(a.simulated_ms, b.simulated_ms);
    assert_true(a.ops >= c.ops);
}

/* Another seed gives another schedule. */
static void test_other_seed_other_trace(void **state)
{
    (void)state;
    rk_sim_config c;
    small_config(&c, 11);
    rk_sim_result a;
    rk_sim_result b;
    assert_int_equal(rk_sim_run(&c, &a), 0);
    c.seed = 12;
    assert_int_equal(rk_sim_run(&c, &b), 0);
    assert_true(a.trace_hash != b.trace_hash);
}

/* Without faults, strict quorums keep every promise. */
static void test_no_faults_keeps_promises(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rk_sim_config c;
        small_config(&c, seed);
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        assert_false(r.failed);
        assert_true(r.converged);
        assert_int_equal(r.lost_acked_writes, 0);
        assert_int_equal(r.stale_reads, 0);
        assert_true(r.acked_writes > 0);
    }
}

/* A replica that drops siblings loses acknowledged writes, and the checker says so. */
static void test_broken_sibling_merge_is_caught(void **state)
{
    (void)state;
    uint64_t lost = 0;
    for (uint64_t seed = 1; seed <= 12 && lost == 0; seed++) {
        rk_sim_config c;
        small_config(&c, seed);
        c.break_sibling_merge = true;
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        lost += r.lost_acked_writes;
    }
    assert_true(lost > 0);
}

/* Clean stops beside crashes keep every promise; stopped nodes come back with their epoch. */
static void test_clean_stops_keep_promises(void **state)
{
    (void)state;
    uint64_t stops = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rk_sim_config c;
        small_config(&c, seed);
        c.ops = 1000;
        c.faults = RK_SIM_FAULT_CRASH | RK_SIM_FAULT_STOP;
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        assert_false(r.failed);
        assert_int_equal(r.dots_reused, 0);
        stops += r.clean_stops;
    }
    assert_true(stops > 0);
}

/* A node that claims a clean stop after a crash (a mark it never earned) keeps its epoch and
 * mints lost dots again: the checker says so. */
static void test_forged_clean_stop_is_caught(void **state)
{
    (void)state;
    uint64_t reused = 0;
    for (uint64_t seed = 1; seed <= 6 && reused == 0; seed++) {
        rk_sim_config c;
        small_config(&c, seed);
        c.ops = 2000;
        c.faults = RK_SIM_FAULT_CRASH;
        c.break_clean_stop = true;
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        reused += r.dots_reused;
        assert_true(r.dots_reused == 0 || r.failed);
    }
    assert_true(reused > 0);
}

static void test_faults_parse(void **state)
{
    (void)state;
    uint32_t mask = 99;
    char name[64];
    assert_int_equal(rk_sim_faults_parse("none", &mask), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(rk_sim_faults_parse("all", &mask), 0);
    assert_int_equal(mask, RK_SIM_FAULT_ALL);
    assert_int_equal(rk_sim_faults_parse("crash,skew", &mask), 0);
    assert_int_equal(mask, RK_SIM_FAULT_CRASH | RK_SIM_FAULT_SKEW);
    rk_sim_faults_name(mask, name, sizeof(name));
    assert_string_equal(name, "crash,skew");
    assert_int_equal(rk_sim_faults_parse("all,stop", &mask), 0);
    assert_int_equal(mask, RK_SIM_FAULT_ALL | RK_SIM_FAULT_STOP);
    rk_sim_faults_name(mask, name, sizeof(name));
    assert_string_equal(name, "all,stop");
    assert_int_equal(rk_sim_faults_parse("stop", &mask), 0);
    assert_int_equal(mask & RK_SIM_FAULT_ALL, 0);   /* `all` keeps its old schedule */
    rk_sim_faults_name(mask, name, sizeof(name));
    assert_string_equal(name, "stop");
    assert_int_equal(rk_sim_faults_parse("crash,", &mask), 0);
    assert_int_equal(rk_sim_faults_parse("fire", &mask), RK_EINVAL);
    assert_int_equal(rk_sim_faults_parse("crash,,loss", &mask), RK_EINVAL);
}

/* n, r, w and the node count are checked before anything runs. */
static void test_bad_config_refused(void **state)
{
    (void)state;
    rk_sim_config c;
    rk_sim_result r;
    small_config(&c, 1);
    c.r = 4;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    small_config(&c, 1);
    c.nodes = RK_SIM_NODES_MAX + 1;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    small_config(&c, 1);
    c.n = 0;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    small_config(&c, 1);
    c.policy = 7;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
}

static void cart_config(rk_sim_config *c, uint64_t seed, uint8_t policy)
{
    small_config(c, seed);
    c->workload = RK_SIM_WORKLOAD_CART;
    c->policy = policy;
    c->faults = RK_SIM_FAULT_ALL;
}

/* A workload runs only on the policies it is written for: values on siblings and lww, the cart
 * on the merge types (union and set here); rk_sim_config_mismatch says why, rk_sim_run refuses
 * the rest. */
static void test_cart_workload_must_match_policy(void **state)
{
    (void)state;
    rk_sim_config c;
    rk_sim_result r;
    const uint8_t values[] = {RK_POLICY_SIBLINGS, RK_POLICY_LWW};
    const uint8_t sets[] = {RK_POLICY_UNION, RK_POLICY_SET};
    for (size_t i = 0; i < 2; i++) {
        cart_config(&c, 1, values[i]);
        assert_non_null(rk_sim_config_mismatch(&c));
        assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
        small_config(&c, 1);
        c.policy = sets[i];
        assert_non_null(rk_sim_config_mismatch(&c));
        assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
        cart_config(&c, 1, sets[i]);
        assert_null(rk_sim_config_mismatch(&c));
    }
    cart_config(&c, 1, RK_POLICY_SET);
    c.cart_add_pct = 80;
    c.cart_remove_pct = 21;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
}

/* An observed-remove set under every fault: no acknowledged add lost, no observed remove
 * undone, every final read answered; adds and observing removes both happened. */
static void test_cart_set_keeps_promises(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rk_sim_config c;
        cart_config(&c, seed, RK_POLICY_SET);
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        assert_false(r.failed);
        assert_true(r.converged);
        assert_int_equal(r.lost_adds, 0);
        assert_int_equal(r.resurrected_removes, 0);
        assert_int_equal(r.final_reads_failed, 0);
        assert_true(r.acked_adds > 0);
        assert_true(r.acked_removes > 0);
        assert_int_equal(r.lost_acked_writes, 0);   /* the value checkers do not run */
    }
}

/* Dynamo's cart unites a removed member back (the anomaly issue 12 shows), counted but not a
 * failure; it loses no acknowledged add. */
static void test_cart_union_resurrects_without_failing(void **state)
{
    (void)state;
    uint64_t resurrected = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        rk_sim_config c;
        cart_config(&c, seed, RK_POLICY_UNION);
        rk_sim_result r;
        assert_int_equal(rk_sim_run(&c, &r), 0);
        assert_false(r.failed);
        assert_int_equal(r.lost_adds, 0);
        resurrected += r.resurrected_removes;
    }
    assert_true(resurrected > 0);
}

/* Replicas that keep only the newest sibling drop a set's members: lost adds, and a failure. */
static void test_cart_broken_merge_is_caught(void **state)
{
    (void)state;
    rk_sim_config c;
    cart_config(&c, 1, RK_POLICY_SET);
    c.faults = 0;
    c.break_sibling_merge = true;
    rk_sim_result r;
    assert_int_equal(rk_sim_run(&c, &r), 0);
    assert_true(r.lost_adds > 0);
    assert_true(r.failed);
    assert_non_null(strstr(r.failures, "lost_adds"));
}

/* The cart replays like the values workload: same seed, same trace and counts. */
static void test_cart_same_seed_same_run(void **state)
{
    (void)state;
    rk_sim_config c;
    cart_config(&c, 5, RK_POLICY_UNION);
    rk_sim_result a;
    rk_sim_result b;
    assert_int_equal(rk_sim_run(&c, &a), 0);
    assert_int_equal(rk_sim_run(&c, &b), 0);
    assert_true(a.trace_hash == b.trace_hash);
    assert_int_equal(a.acked_adds, b.acked_adds);
    assert_int_equal(a.resurrected_removes, b.resurrected_removes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_other_seed_other_trace),
        cmocka_unit_test(test_no_faults_keeps_promises),
        cmocka_unit_test(test_broken_sibling_merge_is_caught),
        cmocka_unit_test(test_clean_stops_keep_promises),
        cmocka_unit_test(test_forged_clean_stop_is_caught),
        cmocka_unit_test(test_faults_parse),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_cart_workload_must_match_policy),
        cmocka_unit_test(test_cart_set_keeps_promises),
        cmocka_unit_test(test_cart_union_resurrects_without_failing),
        cmocka_unit_test(test_cart_broken_merge_is_caught),
        cmocka_unit_test(test_cart_same_seed_same_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
