/* test_sim_cart_large.c — the cart on large collections (issue 14): runs whose keys are first
 * preloaded with 5,000 members each (--preload-members), so the set's checkers judge every one
 * of them. Without removes every preloaded member must be read back at the end; with the
 * workload's removes (which pick from what SMEMBERS returned, preloaded members too) nothing
 * is lost or resurrected; replicas that drop members are caught on preloaded members as lost
 * adds; and the option is refused where it means nothing (maps, counters, values). Few keys
 * and few ops: the core's cost on a 5,000-member set is per operation and per preloaded key,
 * and these run under ASan with slow assertions too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/core/bucket.h"
#include "../../src/core/common.h"
#include "../../src/sim/sim.h"

#define LARGE_KEYS 2u
#define LARGE_MEMBERS 5000u

static void large_config(rk_sim_config *c, uint64_t seed)
{
    rk_sim_config_default(c);
    c->seed = seed;
    c->ops = 200;
    c->keys = LARGE_KEYS;
    c->workload = RK_SIM_WORKLOAD_CART;
    c->policy = RK_POLICY_SET;
    c->faults = RK_SIM_FAULT_ALL | RK_SIM_FAULT_STOP;
    c->preload_members = LARGE_MEMBERS;
}

/* No removes: every preloaded member of every key is in its final read, under every fault. */
static void test_preloaded_members_all_read_back(void **state)
{
    (void)state;
    rk_sim_config c;
    large_config(&c, 14);
    c.cart_remove_pct = 0;      /* adds and reads only */
    rk_sim_result r;
    assert_int_equal(rk_sim_run(&c, &r), 0);
    assert_false(r.failed);
    assert_int_equal(r.preload_unacked, 0);
    assert_true(r.preload_ops >= LARGE_KEYS * (LARGE_MEMBERS / RK_SIM_PRELOAD_BATCH));
    assert_int_equal(r.preloaded_present, (uint64_t)LARGE_KEYS * LARGE_MEMBERS);
    assert_true(r.acked_adds >= (uint64_t)LARGE_KEYS * LARGE_MEMBERS);
    assert_int_equal(r.acked_removes, 0);
    assert_int_equal(r.lost_adds, 0);
    assert_int_equal(r.final_reads_failed, 0);
    assert_true(r.converged);
    assert_true(r.crashes > 0);     /* the faults did run */
}

/* The workload's removes pick preloaded members too: each one absent at the end was removed by
 * an SREM that observed it, or may have been by one that timed out; none comes back. */
static void test_preloaded_members_removed_only_by_removes(void **state)
{
    (void)state;
    rk_sim_config c;
    large_config(&c, 15);
    rk_sim_result r;
    assert_int_equal(rk_sim_run(&c, &r), 0);
    assert_false(r.failed);
    assert_int_equal(r.lost_adds, 0);
    assert_int_equal(r.resurrected_removes, 0);
    assert_true(r.acked_removes > 0);
    uint64_t preloaded = (uint64_t)LARGE_KEYS * LARGE_MEMBERS;
    assert_true(r.preloaded_present < preloaded);
    assert_true(r.preloaded_present + r.acked_removes + r.indeterminate >= preloaded);
}

/* One seed, one run, preload included. */
static void test_preload_same_seed_same_run(void **state)
{
    (void)state;
    rk_sim_config c;
    large_config(&c, 16);
    c.ops = 60;
    c.keys = 1;
    rk_sim_result a;
    rk_sim_result b;
    assert_int_equal(rk_sim_run(&c, &a), 0);
    assert_int_equal(rk_sim_run(&c, &b), 0);
    assert_true(a.trace_hash == b.trace_hash);
    assert_int_equal(a.preloaded_present, b.preloaded_present);
    assert_int_equal(a.events, b.events);
}

/* Replicas that keep only the newest sibling lose preloaded members, and the checker sees it. */
static void test_dropped_preloaded_members_are_lost_adds(void **state)
{
    (void)state;
    rk_sim_config c;
    large_config(&c, 17);
    c.faults = 0;
    c.ops = 60;
    c.keys = 1;
    c.break_sibling_merge = true;
    rk_sim_result r;
    assert_int_equal(rk_sim_run(&c, &r), 0);
    assert_true(r.failed);
    assert_true(r.lost_adds > 0);
    assert_true(r.preloaded_present < LARGE_MEMBERS);
}

/* Maps, counters and the values workload take no preload; nor does a set past the bound. */
static void test_preload_refused_where_it_means_nothing(void **state)
{
    (void)state;
    rk_sim_config c;
    rk_sim_result r;
    uint8_t refused[] = {RK_POLICY_MAP, RK_POLICY_COUNTER};
    for (size_t i = 0; i < sizeof(refused); i++) {
        large_config(&c, 1);
        c.policy = refused[i];
        assert_non_null(rk_sim_config_mismatch(&c));
        assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    }
    large_config(&c, 1);
    c.workload = RK_SIM_WORKLOAD_VALUES;
    c.policy = RK_POLICY_SIBLINGS;
    assert_non_null(rk_sim_config_mismatch(&c));
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
    large_config(&c, 1);
    c.policy = RK_POLICY_UNION;
    assert_null(rk_sim_config_mismatch(&c));
    c.preload_members = RK_SIM_PRELOAD_MAX + 1;
    assert_int_equal(rk_sim_run(&c, &r), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preloaded_members_all_read_back),
        cmocka_unit_test(test_preloaded_members_removed_only_by_removes),
        cmocka_unit_test(test_preload_same_seed_same_run),
        cmocka_unit_test(test_dropped_preloaded_members_are_lost_adds),
        cmocka_unit_test(test_preload_refused_where_it_means_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
