/* test_epochs.c — a node restarted without its data directory must not mint a dot it minted
 * before (issue 17; epochs.h): it learns from its peers the highest epoch they saw from it,
 * refuses the writes it would coordinate with -BUSY "node starting" until then (reads and
 * replica writes go on), and then mints above every epoch it used, so a new write it coordinates
 * supersedes the old ones instead of being taken for one the replicas saw. Also: a fresh
 * cluster learns within its start-up, peers record each member's epoch, a member down for good
 * delays learning only to epoch_learn_ms_max (then a majority will do; without a majority the
 * node keeps waiting), and a crash while learning learns again. On whole core nodes over the
 * simulator (tests/unit/sim_fixture.h), three of them, N = 3: every node is a primary of every
 * key and coordinates the writes sent to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/clock.h"
#include "../../src/core/epochs.h"
#include "sim_fixture.h"

static rk_fixture *epochs_fixture_seeded(uint64_t seed)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.seed = seed;
    c.nodes = 3;
    return fx_new_with(&c);
}

static rk_fixture *epochs_fixture(void)
{
    return epochs_fixture_seeded(1);
}

/* A write through `id`, answered. */
static const fx_reply *epochs_set(rk_fixture *fx, rk_node_id id, const char *key,
                                  const char *value)
{
    return fx_wait(fx, fx_send_set(fx, id, key, value, RK_SLOPPY_BUCKET));
}

static void epochs_assert_busy_starting(const fx_reply *r)
{
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EBUSY);
    assert_non_null(r->message);
    assert_true(strncmp(r->message, "node starting", strlen("node starting")) == 0);
}

/* Node 1 has written k0 and k1 and has been restarted after crashes, so the epochs its peers
 * recorded are above its birth epoch; returns that epoch. */
static uint64_t epochs_history(rk_fixture *fx)
{
    assert_int_equal(epochs_set(fx, 1, "k0", "old0")->kind, RK_REPLY_OK);
    fx_crash_restart(fx, 1);
    fx_pump(fx);
    fx_crash_restart(fx, 1);
    fx_pump(fx);
    assert_int_equal(epochs_set(fx, 1, "k1", "old1")->kind, RK_REPLY_OK);
    fx_pump(fx);
    uint64_t epoch = fx_stats(fx, 1)->epoch;
    assert_int_equal(rk_epochs_seen(fx_node(fx, 2), 1), epoch);
    assert_int_equal(rk_epochs_seen(fx_node(fx, 3), 1), epoch);
    return epoch;
}

/* Every node of a fresh cluster is done learning once the fixture started: each answered the
 * others 0 within a round trip. */
static void test_fresh_cluster_learns_at_start(void **state)
{
    (void)state;
    rk_fixture *fx = epochs_fixture();
    for (rk_node_id id = 1; id <= 3; id++) {
        assert_int_equal(fx_stats(fx, id)->epoch_learning, 0);
        assert_int_equal(fx_stats(fx, id)->epoch_learned_partial, 0);
        for (rk_node_id peer = 1; peer <= 3; peer++) {
            if (peer != id) {
                assert_int_equal(rk_epochs_seen(fx_node(fx, id), peer),
                                 fx_stats(fx, peer)->epoch);
            }
        }
    }
    assert_int_equal(epochs_set(fx, 1, "k0", "v")->kind, RK_REPLY_OK);
    fx_free(fx);
}

/* The case: node 1 wiped and restarted, with node 3's answers held. Writes to it are
 * refused busy, reads and writes another node coordinates are served (it takes the replica
 * write); once it heard everyone its epoch is above every epoch it used, and a new write it
 * coordinates to a key it wrote before (and no longer holds) is the value everyone reads.
 * Returns true when learning mattered: the new store's birth epoch was not above the old
 * epoch, so without learning it would have minted in an epoch it used before. */
static bool epochs_wipe_case(uint64_t seed)
{
    rk_fixture *fx = epochs_fixture_seeded(seed);
    uint64_t epoch_before = epochs_history(fx);

    rk_fixture_wipe(fx, 1);
    rk_fixture_filter(fx, RK_FIXTURE_HOLD, RK_MSG_EPOCH_RESP, 3, 1, 0);
    rk_fixture_restart(fx, 1);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    epochs_assert_busy_starting(epochs_set(fx, 1, "k1", "early"));
    assert_int_equal(fx_local_len(fx, 1, "k1"), 0);
    fx_advance(fx, 5 * RK_EPOCH_ASK_INTERVAL_MS);   /* asks again; still held */
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    epochs_assert_busy_starting(epochs_set(fx, 1, "k1", "early"));
    fx_assert_value(fx_get(fx, 1, "k0", 0, RK_SLOPPY_BUCKET), "old0");
    assert_int_equal(epochs_set(fx, 2, "k2", "by2")->kind, RK_REPLY_OK);
    fx_pump(fx);
    assert_true(fx_local_is(fx, 1, "k2", "by2"));

    assert_true(rk_fixture_release(fx) >= 1);
    fx_pump(fx);
    const rk_node_stats *s = fx_stats(fx, 1);
    assert_int_equal(s->epoch_learning, 0);
    assert_int_equal(s->epoch_learned_partial, 0);
    assert_true(s->epoch > epoch_before);
    /* The peers heard the new epoch. */
    assert_int_equal(rk_epochs_seen(fx_node(fx, 2), 1), s->epoch);

    assert_int_equal(fx_local_len(fx, 1, "k1"), 0);
    assert_int_equal(epochs_set(fx, 1, "k1", "new1")->kind, RK_REPLY_OK);
    fx_pump(fx);
    fx_assert_value(fx_get(fx, 2, "k1", 3, RK_SLOPPY_BUCKET), "new1");
    for (rk_node_id id = 1; id <= 3; id++) {
        assert_true(fx_local_is(fx, id, "k1", "new1"));
    }
    rk_dot dot = fx_local_dot(fx, 2, "k1");
    assert_int_equal(dot.node, 1);
    assert_true(dot.counter >= s->epoch << RK_EPOCH_SHIFT);
    bool mattered = s->epoch == epoch_before + 1;
    fx_free(fx);
    return mattered;
}

/* Over a few seeds (a new store's birth epoch is random): every case holds, and in some the
 * birth epoch alone would have reused an old epoch, so learning is what kept the dots apart. */
static void test_wiped_node_learns_its_epoch_before_taking_writes(void **state)
{
    (void)state;
    uint32_t mattered = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        mattered += epochs_wipe_case(seed) ? 1 : 0;
    }
    assert_true(mattered >= 1);
}

/* Node 3 is down for good while node 1 restarts wiped: node 1 waits epoch_learn_ms_max, then
 * takes node 2's answer (itself and node 2 are a majority of three) and says so in INFO. */
static void test_member_down_for_good_ends_learning_with_a_majority(void **state)
{
    (void)state;
    rk_fixture *fx = epochs_fixture();
    uint64_t epoch_before = epochs_history(fx);
    uint32_t learn_ms_max = rk_fixture_node_config(fx)->epoch_learn_ms_max;
    fx_down(fx, 3);
    rk_fixture_wipe(fx, 1);
    rk_fixture_restart(fx, 1);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    fx_advance(fx, learn_ms_max - 2 * RK_EPOCH_ASK_INTERVAL_MS);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    fx_advance(fx, 3 * RK_EPOCH_ASK_INTERVAL_MS);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 0);
    assert_int_equal(fx_stats(fx, 1)->epoch_learned_partial, 1);
    assert_true(fx_stats(fx, 1)->epoch > epoch_before);
    assert_int_equal(epochs_set(fx, 1, "k1", "new1")->kind, RK_REPLY_OK);
    fx_free(fx);
}

/* Without a majority (both peers down) the node keeps learning past the bound: what it would
 * mint could be a dot the silent peers hold. It learns once one of them is back. */
static void test_no_majority_keeps_learning(void **state)
{
    (void)state;
    rk_fixture *fx = epochs_fixture();
    uint64_t epoch_before = epochs_history(fx);
    uint32_t learn_ms_max = rk_fixture_node_config(fx)->epoch_learn_ms_max;
    fx_down(fx, 2);
    fx_down(fx, 3);
    rk_fixture_wipe(fx, 1);
    rk_fixture_restart(fx, 1);
    fx_pump(fx);
    fx_advance(fx, 2 * (uint64_t)learn_ms_max);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    fx_up(fx, 2);
    fx_advance(fx, 2 * RK_EPOCH_ASK_INTERVAL_MS);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 0);
    assert_int_equal(fx_stats(fx, 1)->epoch_learned_partial, 1);
    assert_true(fx_stats(fx, 1)->epoch > epoch_before);
    fx_free(fx);
}

/* A crash while learning leaves the store new: the next incarnation learns again, and still
 * ends above what the peers saw. */
static void test_crash_while_learning_learns_again(void **state)
{
    (void)state;
    rk_fixture *fx = epochs_fixture();
    uint64_t epoch_before = epochs_history(fx);
    rk_fixture_wipe(fx, 1);
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_EPOCH_RESP, 0, 1, 0);
    rk_fixture_restart(fx, 1);
    fx_pump(fx);
    fx_advance(fx, RK_EPOCH_ASK_INTERVAL_MS);
    fx_crash_restart(fx, 1);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 1);
    rk_fixture_release(fx);
    fx_advance(fx, 2 * RK_EPOCH_ASK_INTERVAL_MS);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, 1)->epoch_learning, 0);
    assert_true(fx_stats(fx, 1)->epoch > epoch_before);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fresh_cluster_learns_at_start, fx_teardown),
        cmocka_unit_test_teardown(test_wiped_node_learns_its_epoch_before_taking_writes,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_member_down_for_good_ends_learning_with_a_majority,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_no_majority_keeps_learning, fx_teardown),
        cmocka_unit_test_teardown(test_crash_while_learning_learns_again, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
