/* test_clock_learn.c — a new store's epoch learned from its peers (src/core/clock.c,
 * rk_clock_start_learning and rk_clock_learned; the asking is epochs.c's, tested over the
 * simulator in test_epochs.c). Covers: a learning start writes no epoch and is never ready; the
 * learned epoch is max(birth epoch, highest seen + 1), becomes the store's floor for good and is
 * ready only once its write is durable; a crash or a clean stop while learning (or before the
 * learned epoch is durable) leaves the store new, so the next start learns again; a store with
 * an epoch never learns; seen epochs at the last one are refused. Runs on a mem store through
 * rk_local and the fake env of test_local_env.h (its random is 4: the birth epoch is 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/core/clock.h"
#include "test_local_env.h"

typedef struct learn_fixture {
    test_local_env le;
    rk_clock clock;
} learn_fixture;

static learn_fixture *learn_fixture_new(void)
{
    learn_fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    test_local_env_init(&fx->le);
    return fx;
}

static void learn_fixture_free(learn_fixture *fx)
{
    test_local_env_deinit(&fx->le);
    free(fx);
}

static void learn_start(learn_fixture *fx)
{
    assert_int_equal(rk_clock_start_learning(&fx->clock, &fx->le.local, &fx->le.env.env), 0);
}

static void learn_sync_all(learn_fixture *fx)
{
    assert_int_equal(rk_store_sync(fx->le.store, fx->le.local.written_seq), 0);
}

/* The stored epoch record (0: none). */
static uint64_t learn_stored_epoch(learn_fixture *fx)
{
    rk_buf buf = {0};
    int rc = rk_store_get(fx->le.store, RK_DB_META, (const uint8_t *)"epoch", 5, &buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(buf.len, 8);
    uint64_t epoch = rk_le64_get(buf.data);
    rk_store_buf_free(&buf);
    return epoch;
}

/* A new store in a cluster records no epoch and mints nothing, durable or not. */
static void test_learning_start_writes_no_epoch_and_is_not_ready(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    assert_true(rk_clock_learning(&fx->clock));
    learn_sync_all(fx);
    assert_false(rk_clock_ready(&fx->clock, fx->le.local.written_seq));
    assert_int_equal(learn_stored_epoch(fx), 0);
    learn_fixture_free(fx);
}

/* Peers saw epoch 41 from the lost store: the new one mints from 42, and its store floor (the
 * durable_before_send dots') moves there for good: a later start bumps the epoch, not it. */
static void test_learned_epoch_is_above_what_peers_saw(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    assert_int_equal(rk_clock_learned(&fx->clock, &fx->le.local, &fx->le.env.env, 41), 0);
    assert_false(rk_clock_learning(&fx->clock));
    assert_int_equal(fx->clock.epoch, 42);
    assert_int_equal(fx->le.env.sync_seq, fx->clock.epoch_seq);
    assert_false(rk_clock_ready(&fx->clock, fx->clock.epoch_seq - 1));
    assert_true(rk_clock_ready(&fx->clock, fx->clock.epoch_seq));
    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), 42ull << RK_EPOCH_SHIFT);
    assert_int_equal(rk_clock_store_floor(&fx->clock), 42ull << RK_EPOCH_SHIFT);
    assert_true(fx->clock.handback_floor < ((42ull << RK_EPOCH_SHIFT) | RK_EPOCH_FALLBACK_BIT));
    learn_sync_all(fx);
    assert_int_equal(learn_stored_epoch(fx), 42);

    learn_start(fx);    /* after a crash with everything durable */
    assert_false(rk_clock_learning(&fx->clock));
    assert_int_equal(fx->clock.epoch, 43);
    assert_int_equal(rk_clock_store_floor(&fx->clock), 42ull << RK_EPOCH_SHIFT);
    learn_fixture_free(fx);
}

/* Peers saw nothing (a fresh cluster), or less than the birth epoch: the birth epoch stays. */
static void test_learned_epoch_never_below_the_birth_epoch(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    uint64_t birth = rk_clock_birth_epoch(&fx->clock);
    assert_int_equal(rk_clock_learned(&fx->clock, &fx->le.local, &fx->le.env.env, 0), 0);
    assert_int_equal(fx->clock.epoch, birth);
    assert_int_equal(rk_clock_store_floor(&fx->clock), birth << RK_EPOCH_SHIFT);
    learn_fixture_free(fx);
}

/* A crash while learning, or before the learned epoch was durable: the store is still new and
 * the next start learns again instead of bumping an epoch nobody checked. */
static void test_crash_while_learning_learns_again(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    learn_sync_all(fx);
    rk_store_mem_crash(fx->le.store);
    learn_start(fx);
    assert_true(rk_clock_learning(&fx->clock));
    assert_int_equal(rk_clock_learned(&fx->clock, &fx->le.local, &fx->le.env.env, 7), 0);
    rk_store_mem_crash(fx->le.store);     /* the learned epoch was not synced */
    learn_start(fx);
    assert_true(rk_clock_learning(&fx->clock));
    learn_fixture_free(fx);
}

/* A clean stop while learning writes no mark (there is no epoch to keep) and is done at once;
 * the next start learns again. */
static void test_stop_while_learning_leaves_the_store_new(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    learn_sync_all(fx);
    uint64_t durable = fx->le.local.written_seq;
    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, durable), 0);
    assert_true(rk_clock_stopping(&fx->clock));
    assert_int_equal(rk_clock_stop_status(&fx->clock, durable), 0);
    assert_int_equal(fx->le.local.written_seq, durable);    /* nothing written */
    learn_start(fx);
    assert_true(rk_clock_learning(&fx->clock));
    learn_fixture_free(fx);
}

/* A store that has an epoch bumps it as always; rk_clock_start (a cluster of one) never learns. */
static void test_only_a_new_store_learns(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), 0);
    assert_false(rk_clock_learning(&fx->clock));
    assert_int_equal(learn_stored_epoch(fx), 1);
    learn_sync_all(fx);
    learn_start(fx);
    assert_false(rk_clock_learning(&fx->clock));
    assert_int_equal(fx->clock.epoch, 2);
    learn_fixture_free(fx);
}

/* Nothing is above the last epoch: learning it is refused, and the clock keeps learning. */
static void test_learned_last_epoch_is_refused(void **state)
{
    (void)state;
    learn_fixture *fx = learn_fixture_new();
    learn_start(fx);
    assert_int_equal(rk_clock_learned(&fx->clock, &fx->le.local, &fx->le.env.env, RK_EPOCH_LAST),
                     RK_ETOOBIG);
    assert_true(rk_clock_learning(&fx->clock));
    assert_int_equal(rk_clock_learned(&fx->clock, &fx->le.local, &fx->le.env.env,
                                      RK_EPOCH_LAST - 1),
                     0);
    assert_int_equal(fx->clock.epoch, RK_EPOCH_LAST);
    learn_fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learning_start_writes_no_epoch_and_is_not_ready),
        cmocka_unit_test(test_learned_epoch_is_above_what_peers_saw),
        cmocka_unit_test(test_learned_epoch_never_below_the_birth_epoch),
        cmocka_unit_test(test_crash_while_learning_learns_again),
        cmocka_unit_test(test_stop_while_learning_leaves_the_store_new),
        cmocka_unit_test(test_only_a_new_store_learns),
        cmocka_unit_test(test_learned_last_epoch_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
