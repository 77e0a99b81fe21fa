/* test_clock.c — the dot floor and LWW stamps (src/core/clock.c). Covers: the epoch (1 on an
 * empty store, bumped on every start over the same store, written through local and synced
 * before any dot is minted), readiness at exactly the epoch's seq, the run (bumped at every
 * start, and above the epoch of a store from before it existed), the dot floor (epoch <<
 * RK_EPOCH_SHIFT) and the fallback floor above the last fallback dot minted, stamps that
 * strictly increase even when the wall clock goes backwards and stay above floor_us, and the
 * refusals: a stored epoch or run of the wrong length (RK_ECORRUPT), epochs exhausted at the shift's
 * limit (RK_ETOOBIG, with the last usable epoch next to it), store errors. Runs on a mem store
 * through rk_local with a one-node ring and a fake env (test_local_env.h) recording the syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/core/clock.h"
#include "test_local_env.h"

#define TEST_EPOCH_KEY "epoch"
#define TEST_RUN_KEY "run"

typedef struct test_fixture {
    test_local_env le;
    rk_clock clock;
} test_fixture;

/* ---- helpers ------------------------------------------------------------------------------ */

static test_fixture *test_fixture_new(void)
{
    test_fixture *fx = malloc(sizeof(*fx));
    assert_non_null(fx);
    memset(&fx->clock, 0, sizeof(fx->clock));
    test_local_env_init(&fx->le);
    return fx;
}

static void test_fixture_free(test_fixture *fx)
{
    test_local_env_deinit(&fx->le);
    free(fx);
}

static void test_start(test_fixture *fx)
{
    assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), 0);
}

/* Store `len` bytes of `value` (little-endian) under meta key `key`, as a node would have. */
static void test_store_u64(test_fixture *fx, const char *key, uint64_t value, size_t len)
{
    uint8_t bytes[16];
    memset(bytes, 0, sizeof(bytes));
    for (int i = 0; i < 8; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(fx->le.store, RK_DB_META, (const uint8_t *)key, strlen(key),
                                  bytes, len, &seq),
                     0);
}

/* Store `len` bytes of `epoch` as the epoch record. */
static void test_store_epoch(test_fixture *fx, uint64_t epoch, size_t len)
{
    test_store_u64(fx, TEST_EPOCH_KEY, epoch, len);
}

/* A started clock with the given epoch: stored epoch - 1, then started. */
static test_fixture *test_fixture_at_epoch(uint64_t epoch)
{
    test_fixture *fx = test_fixture_new();
    test_store_epoch(fx, epoch - 1, 8);
    test_start(fx);
    assert_int_equal(fx->clock.epoch, epoch);
    return fx;
}

/* ---- the epoch ---------------------------------------------------------------------------- */

static void test_epoch_is_one_on_an_empty_store(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    test_start(fx);

    assert_int_equal(fx->clock.epoch, 1);
    test_fixture_free(fx);
}

/* Every start over the same store mints above anything a crashed run may have handed out. */
static void test_epoch_is_bumped_on_each_start_over_the_same_store(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    for (uint64_t epoch = 1; epoch <= 4; epoch++) {
        test_start(fx);
        assert_int_equal(fx->clock.epoch, epoch);
    }
    test_fixture_free(fx);
}

/* The epoch is written through local (one batch, its seq kept) and its sync asked for. */
static void test_start_writes_the_epoch_and_asks_for_its_sync(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    test_start(fx);

    assert_true(fx->clock.epoch_seq > 0);
    assert_int_equal(fx->clock.epoch_seq, fx->le.local.written_seq);
    assert_int_equal(fx->le.env.sync_count, 1);
    assert_int_equal(fx->le.env.sync_seq, fx->clock.epoch_seq);
    test_fixture_free(fx);
}

/* No dot is minted before the epoch's write is durable: ready at exactly its seq. */
static void test_ready_only_once_the_epoch_is_durable(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start(fx);
    uint64_t seq = fx->clock.epoch_seq;

    assert_false(rk_clock_ready(&fx->clock, 0));
    assert_false(rk_clock_ready(&fx->clock, seq - 1));
    assert_true(rk_clock_ready(&fx->clock, seq));
    assert_true(rk_clock_ready(&fx->clock, seq + 1));
    test_fixture_free(fx);
}

/* Bytes from disk are validated: an epoch record of any length but 8 is corrupt. */
static void test_start_refuses_a_stored_epoch_of_the_wrong_length(void **state)
{
    (void)state;
    const size_t lengths[] = {0, 7, 9};
    for (uint32_t i = 0; i < 3; i++) {
        test_fixture *fx = test_fixture_new();
        test_store_epoch(fx, 5, lengths[i]);
        uint64_t written = fx->le.local.written_seq;

        assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ECORRUPT);

        assert_int_equal(fx->le.local.written_seq, written); /* no epoch written over it */
        assert_int_equal(fx->le.env.sync_count, 0);
        test_fixture_free(fx);
    }
}

/* Epochs run out where epoch << RK_EPOCH_SHIFT would overflow: the last one below still
 * starts, the next is refused rather than wrapping to a floor already used. */
static void test_start_takes_the_last_epoch_and_refuses_past_it(void **state)
{
    (void)state;
    uint64_t last = (1ull << (64 - RK_EPOCH_SHIFT)) - 1;
    test_fixture *fx = test_fixture_at_epoch(last);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), last << RK_EPOCH_SHIFT);

    assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ETOOBIG);
    test_fixture_free(fx);
}

/* Any stored epoch past the last usable one is refused, the largest included: epoch + 1 must
 * not wrap to 0, a floor under every dot ever minted. */
static void test_start_refuses_every_stored_epoch_past_the_last(void **state)
{
    (void)state;
    uint64_t last = (1ull << (64 - RK_EPOCH_SHIFT)) - 1;
    const uint64_t stored[] = {last, last + 1, UINT64_MAX - 1, UINT64_MAX};
    for (uint32_t i = 0; i < 4; i++) {
        test_fixture *fx = test_fixture_new();
        test_store_epoch(fx, stored[i], 8);

        assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ETOOBIG);

        assert_int_equal(fx->le.env.sync_count, 0);
        test_fixture_free(fx);
    }
}

/* A failed read (epoch, run) or write of the start is passed on, and bumps nothing. */
static void test_start_passes_on_store_errors(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    for (uint64_t op = 1; op <= 3; op++) { /* two reads, then the one batch */
        rk_store_mem_fail_at(fx->le.store, op, false);
        assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ECRASHED);
        assert_int_equal(fx->clock.epoch, 0);
    }

    assert_int_equal(fx->le.env.sync_count, 0);
    test_start(fx);
    assert_int_equal(fx->clock.epoch, 1); /* no failure bumped it */
    test_fixture_free(fx);
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Coordinator ids carry the run: it changes at every start. */
static void test_run_is_bumped_on_every_start(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    for (uint64_t run = 1; run <= 3; run++) {
        test_start(fx);
        assert_int_equal(fx->clock.run, run);
    }
    test_fixture_free(fx);
}

/* A store from before the run record: its last run's ids carried the epoch, so the run starts
 * above it. */
static void test_run_starts_above_the_epoch_of_an_older_store(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_store_epoch(fx, 7, 8);

    test_start(fx);

    assert_int_equal(fx->clock.epoch, 8);
    assert_int_equal(fx->clock.run, 8);
    test_fixture_free(fx);
}

static void test_start_refuses_a_stored_run_of_the_wrong_length(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_store_u64(fx, TEST_RUN_KEY, 3, 4);

    assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ECORRUPT);

    assert_int_equal(fx->le.env.sync_count, 0);
    test_fixture_free(fx);
}

/* ---- dot floors --------------------------------------------------------------------------- */

static void test_dot_floor_is_the_epoch_shifted(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start(fx);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), 1ull << RK_EPOCH_SHIFT);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), 1ull << RK_EPOCH_SHIFT);

    test_start(fx);

    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), 2ull << RK_EPOCH_SHIFT);
    test_fixture_free(fx);
}

/* A fallback's next dot is above every dot it minted as a fallback; a primary's floor stays. */
static void test_fallback_floor_is_above_the_last_fallback_dot(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(3);
    uint64_t floor = 3ull << RK_EPOCH_SHIFT;

    rk_clock_fallback_minted(&fx->clock, floor);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), floor + 1);
    rk_clock_fallback_minted(&fx->clock, floor + 40);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), floor + 41);

    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), floor);
    test_fixture_free(fx);
}

/* ---- LWW stamps --------------------------------------------------------------------------- */

static void test_stamp_follows_the_wall_clock_going_forward(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(1);

    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, 0), 1000);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 2500, 0), 2500);
    test_fixture_free(fx);
}

/* A wall clock stepped back (NTP) must not order a later write before an earlier one. */
static void test_stamps_strictly_increase_when_the_wall_clock_goes_back(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(1);

    assert_int_equal(rk_clock_stamp_above(&fx->clock, 5000, 0), 5000);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 4000, 0), 5001);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 5001, 0), 5002); /* equal is not above */
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 5003, 0), 5003);
    test_fixture_free(fx);
}

/* A write superseding siblings stamped ahead of this node's wall clock still wins LWW. */
static void test_stamp_is_strictly_above_floor_us(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(1);

    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, 9000), 9001);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, 9000), 9002); /* and above the last */
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 20000, 19999), 20000);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 20000, 20000), 20001);
    test_fixture_free(fx);
}

/* floor_us comes from siblings other nodes stamped: one at UINT64_MAX leaves no stamp above it,
 * and the stamp stays at the top rather than wrapping to 0, below everything before it. */
static void test_stamp_stays_at_the_top_instead_of_wrapping(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(1);

    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, UINT64_MAX - 1), UINT64_MAX);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, UINT64_MAX), UINT64_MAX);
    assert_int_equal(rk_clock_stamp_above(&fx->clock, 1000, 0), UINT64_MAX);
    test_fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_is_one_on_an_empty_store),
        cmocka_unit_test(test_epoch_is_bumped_on_each_start_over_the_same_store),
        cmocka_unit_test(test_start_writes_the_epoch_and_asks_for_its_sync),
        cmocka_unit_test(test_ready_only_once_the_epoch_is_durable),
        cmocka_unit_test(test_start_refuses_a_stored_epoch_of_the_wrong_length),
        cmocka_unit_test(test_start_takes_the_last_epoch_and_refuses_past_it),
        cmocka_unit_test(test_start_refuses_every_stored_epoch_past_the_last),
        cmocka_unit_test(test_start_passes_on_store_errors),
        cmocka_unit_test(test_run_is_bumped_on_every_start),
        cmocka_unit_test(test_run_starts_above_the_epoch_of_an_older_store),
        cmocka_unit_test(test_start_refuses_a_stored_run_of_the_wrong_length),
        cmocka_unit_test(test_dot_floor_is_the_epoch_shifted),
        cmocka_unit_test(test_fallback_floor_is_above_the_last_fallback_dot),
        cmocka_unit_test(test_stamp_follows_the_wall_clock_going_forward),
        cmocka_unit_test(test_stamps_strictly_increase_when_the_wall_clock_goes_back),
        cmocka_unit_test(test_stamp_is_strictly_above_floor_us),
        cmocka_unit_test(test_stamp_stays_at_the_top_instead_of_wrapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
