/* test_clock.c — the dot floor, the clean-stop mark and LWW stamps (src/core/clock.c). Covers:
 * the epoch (1 on an empty store, bumped on every start over the same store, written through
 * local and synced before any dot is minted), readiness at exactly the start's seq, the run
 * (bumped at every start, clean or not, and above the epoch of a store from before it existed),
 * the clean stop (a durable mark keeps the epoch and fallback_dot_last for the next start, which
 * removes it in its own batch, so that a crash of that run bumps again; no mark, a damaged one
 * of any kind, or one the next start's batch removed: bump; refused while writes are not durable,
 * after a failed sync, and twice; no dot after it), the dot floor (epoch << RK_EPOCH_SHIFT) and
 * the fallback floor above the last fallback dot minted, stamps that strictly increase even when
 * the wall clock goes backwards and stay above floor_us, and the refusals: a stored epoch or run
 * of the wrong length (RK_ECORRUPT), epochs exhausted at the shift's limit (RK_ETOOBIG, with the
 * last usable epoch next to it), store errors. Runs on a mem store (its crash layer drops what
 * was not synced) through rk_local with a one-node ring and a fake env (test_local_env.h)
 * recording the syncs asked for; a test syncs the store itself where a runtime would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/core/clock.h"
#include "test_local_env.h"

#include <xxhash.h>

#define TEST_EPOCH_KEY "epoch"
#define TEST_RUN_KEY "run"
#define TEST_MARK_KEY RK_CLOCK_MARK_KEY

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

/* Store `len` bytes of `value` (little-endian) under meta key `key`. */
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

/* Store `len` bytes of `epoch` as the epoch record, as a node would have. */
static void test_store_epoch(test_fixture *fx, uint64_t epoch, size_t len)
{
    test_store_u64(fx, TEST_EPOCH_KEY, epoch, len);
}

/* Whether the store holds a clean-stop mark. */
static bool test_mark_present(test_fixture *fx)
{
    rk_buf buf = {0};
    int rc = rk_store_get(fx->le.store, RK_DB_META, (const uint8_t *)TEST_MARK_KEY,
                          strlen(TEST_MARK_KEY), &buf);
    rk_store_buf_free(&buf);
    assert_true(rc == 0 || rc == RK_ENOTFOUND);
    return rc == 0;
}

/* The mark's bytes as clock.h documents them, built here by hand (an oracle for
 * rk_clock_mark_encode), as a clean stop in `epoch` would write them. */
static void test_mark_bytes(uint64_t epoch, uint64_t fallback_dot_last,
                            uint8_t out[RK_CLOCK_MARK_BYTES])
{
    out[0] = RK_CLOCK_MARK_FORMAT;
    for (int i = 0; i < 8; i++) {
        out[1 + i] = (uint8_t)(epoch >> (8 * i));
        out[9 + i] = (uint8_t)(fallback_dot_last >> (8 * i));
    }
    uint64_t sum = XXH3_64bits(out, RK_CLOCK_MARK_BYTES - 8);
    for (int i = 0; i < 8; i++) {
        out[17 + i] = (uint8_t)(sum >> (8 * i));
    }
}

static void test_store_mark(test_fixture *fx, const uint8_t *bytes, size_t len)
{
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(fx->le.store, RK_DB_META, (const uint8_t *)TEST_MARK_KEY,
                                  strlen(TEST_MARK_KEY), bytes, len, &seq),
                     0);
}

/* What a runtime does: sync the store up to `seq` and tell the clock's owner. */
static uint64_t test_sync(test_fixture *fx, uint64_t seq)
{
    assert_int_equal(rk_store_sync(fx->le.store, seq), 0);
    return seq;
}

/* A clean stop as ringkvd makes it: every write durable, the mark written and made durable. */
static void test_stop_clean(test_fixture *fx)
{
    uint64_t durable = test_sync(fx, fx->le.local.written_seq);
    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, durable), 0);
    assert_true(rk_clock_stopping(&fx->clock));
    assert_int_equal(fx->le.env.sync_seq, fx->clock.stop_seq);
    assert_int_equal(rk_clock_stop_status(&fx->clock, durable), RK_EBUSY);
    durable = test_sync(fx, fx->clock.stop_seq);
    assert_int_equal(rk_clock_stop_status(&fx->clock, durable), 0);
    assert_true(test_mark_present(fx));
}

/* A start whose batch is made durable: the run that follows mints. */
static void test_start_durable(test_fixture *fx)
{
    test_start(fx);
    test_sync(fx, fx->clock.epoch_seq);
    assert_true(rk_clock_ready(&fx->clock, fx->clock.epoch_seq));
}

/* kill -9 of the process: the store loses what was not synced. */
static void test_crash(test_fixture *fx)
{
    rk_store_mem_crash(fx->le.store);
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

/* A failed read (epoch, run, mark) or write of the start is passed on, and bumps nothing. */
static void test_start_passes_on_store_errors(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    for (uint64_t op = 1; op <= 4; op++) { /* three reads, then the one batch */
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

/* Coordinator ids carry the run: it changes at every start, a clean one included. */
static void test_run_is_bumped_on_every_start_clean_or_not(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);
    assert_int_equal(fx->clock.run, 1);

    test_stop_clean(fx);
    test_start_durable(fx);
    assert_int_equal(fx->clock.run, 2);
    assert_int_equal(fx->clock.epoch, 1);
    test_crash(fx);
    test_start_durable(fx);

    assert_int_equal(fx->clock.run, 3);
    assert_int_equal(fx->clock.epoch, 2);
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

/* ---- the clean stop ----------------------------------------------------------------------- */

/* After a clean stop nothing minted can be lost: the next start keeps the epoch, so the keys
 * this node coordinates get no new history entry. */
static void test_clean_stop_then_start_keeps_the_epoch(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(5);
    test_sync(fx, fx->clock.epoch_seq);

    for (uint32_t i = 0; i < 3; i++) {
        test_stop_clean(fx);
        test_crash(fx);                 /* the process exits: only durable writes remain */
        test_start(fx);
        assert_int_equal(fx->clock.epoch, 5);
        assert_true(fx->clock.epoch_kept);
        assert_int_equal(rk_clock_dot_floor(&fx->clock, false), 5ull << RK_EPOCH_SHIFT);
        test_sync(fx, fx->clock.epoch_seq);
    }
    test_fixture_free(fx);
}

/* A start without a mark (kill -9, a crash, the first start) bumps, as it always did. */
static void test_start_without_a_mark_bumps(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);
    assert_false(fx->clock.epoch_kept);
    assert_false(test_mark_present(fx));

    test_crash(fx);
    test_start(fx);

    assert_int_equal(fx->clock.epoch, 2);
    assert_false(fx->clock.epoch_kept);
    test_fixture_free(fx);
}

/* The start that keeps the epoch removes the mark in its own batch, so a crash of that run,
 * once it may have minted, bumps again. */
static void test_crash_after_a_clean_start_bumps(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);
    test_stop_clean(fx);
    test_start(fx);
    assert_true(fx->clock.epoch_kept);
    assert_false(test_mark_present(fx));
    assert_int_equal(fx->le.env.sync_seq, fx->clock.epoch_seq);
    assert_false(rk_clock_ready(&fx->clock, fx->clock.epoch_seq - 1));
    test_sync(fx, fx->clock.epoch_seq);
    assert_true(rk_clock_ready(&fx->clock, fx->clock.epoch_seq));

    test_crash(fx);
    test_start(fx);

    assert_int_equal(fx->clock.epoch, 2);
    assert_false(fx->clock.epoch_kept);
    test_fixture_free(fx);
}

/* A crash before the clean start's batch is durable brings the mark back; the run minted
 * nothing (not ready), so keeping the epoch once more is still safe. */
static void test_crash_before_the_clean_start_is_durable_keeps_the_mark(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);
    test_stop_clean(fx);
    test_start(fx);
    assert_false(rk_clock_ready(&fx->clock, fx->clock.epoch_seq - 1));

    test_crash(fx);
    assert_true(test_mark_present(fx));
    test_start(fx);

    assert_int_equal(fx->clock.epoch, 1);
    assert_true(fx->clock.epoch_kept);
    test_fixture_free(fx);
}

/* A fallback's counter is node-wide: after a clean restart it goes on above the last one,
 * though its copies may have been handed back and deleted. */
static void test_fallback_dot_last_survives_a_clean_restart(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(3);
    uint64_t floor = 3ull << RK_EPOCH_SHIFT;
    uint64_t fallback_floor = floor | RK_EPOCH_FALLBACK_BIT;
    rk_clock_fallback_minted(&fx->clock, fallback_floor + 41);

    test_stop_clean(fx);
    test_crash(fx);
    test_start(fx);

    assert_int_equal(fx->clock.epoch, 3);
    assert_int_equal(fx->clock.fallback_dot_last, fallback_floor + 41);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), fallback_floor + 42);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), floor);
    test_fixture_free(fx);
}

/* A mark is judged byte by byte and against the stored epoch: anything a clean stop of this
 * epoch could not have written means a bump (never an assertion, never a refusal to start),
 * and the start removes it. */
static void test_damaged_mark_bumps(void **state)
{
    (void)state;
    const uint64_t floor = 4ull << RK_EPOCH_SHIFT;
    const struct {
        uint64_t epoch;
        uint64_t fallback_dot_last;
        size_t len;             /* bytes stored: the mark's, or fewer or more */
        uint32_t flip_index;    /* a byte xored with flip_mask after encoding */
        uint8_t flip_mask;
    } bad[] = {
        {4, floor + 7, 0, 0, 0},                        /* empty */
        {4, floor + 7, RK_CLOCK_MARK_BYTES - 1, 0, 0},  /* truncated */
        {4, floor + 7, RK_CLOCK_MARK_BYTES + 1, 0, 0},  /* a byte too many */
        {4, floor + 7, RK_CLOCK_MARK_BYTES, 0, 0x03},   /* format 2, unknown */
        {4, floor + 7, RK_CLOCK_MARK_BYTES, 10, 0x20},  /* a flipped bit: the checksum */
        {3, 0, RK_CLOCK_MARK_BYTES, 0, 0},              /* another (older) epoch's */
        {0, 0, RK_CLOCK_MARK_BYTES, 0, 0},              /* epoch 0 */
        {4, floor - 1, RK_CLOCK_MARK_BYTES, 0, 0},      /* a fallback dot below the floor */
        {4, UINT64_MAX, RK_CLOCK_MARK_BYTES, 0, 0},     /* no room above the fallback dot */
    };
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_fixture *fx = test_fixture_at_epoch(4);
        test_sync(fx, fx->clock.epoch_seq);
        uint8_t bytes[RK_CLOCK_MARK_BYTES + 1] = {0};
        test_mark_bytes(bad[i].epoch, bad[i].fallback_dot_last, bytes);
        bytes[bad[i].flip_index] ^= bad[i].flip_mask;
        test_store_mark(fx, bytes, bad[i].len);

        test_start(fx);

        assert_int_equal(fx->clock.epoch, 5);
        assert_false(fx->clock.epoch_kept);
        assert_int_equal(fx->clock.fallback_dot_last, 0);
        assert_false(test_mark_present(fx));
        test_fixture_free(fx);
    }
}

/* The encoder other modules forge marks with writes the documented layout. */
static void test_mark_encode_writes_the_documented_layout(void **state)
{
    (void)state;
    uint8_t want[RK_CLOCK_MARK_BYTES];
    uint8_t got[RK_CLOCK_MARK_BYTES];
    test_mark_bytes(0x0102030405060708ull, 0x1112131415161718ull, want);

    rk_clock_mark_encode(0x0102030405060708ull, 0x1112131415161718ull, got);

    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(got[0], RK_CLOCK_MARK_FORMAT);
    assert_int_equal(got[1], 0x08);     /* little-endian */
}

/* An intact mark naming an epoch above the stored one (a damaged epoch record) is not kept,
 * but the bump starts above it: the floor never goes back. */
static void test_mark_of_a_higher_epoch_bumps_above_it(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(2);
    uint8_t bytes[RK_CLOCK_MARK_BYTES];
    test_mark_bytes(9, 0, bytes);
    test_store_mark(fx, bytes, sizeof(bytes));

    test_start(fx);

    assert_int_equal(fx->clock.epoch, 10);
    assert_false(fx->clock.epoch_kept);
    test_fixture_free(fx);
}

/* The last usable epoch can be kept by a clean stop, though it cannot be bumped past. */
static void test_last_epoch_is_kept_after_a_clean_stop(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_at_epoch(RK_EPOCH_LAST);
    test_stop_clean(fx);

    test_start(fx);
    assert_int_equal(fx->clock.epoch, RK_EPOCH_LAST);

    test_crash(fx);     /* the mark's removal was never synced: it comes back */
    test_start_durable(fx);
    assert_int_equal(rk_clock_start(&fx->clock, &fx->le.local, &fx->le.env.env), RK_ETOOBIG);
    test_fixture_free(fx);
}

/* A write not yet durable could still be lost in a crash, and with it a dot: no mark until it
 * is; the sync it waits for is asked for, and the clock goes on minting meanwhile. */
static void test_stop_waits_for_every_write_to_be_durable(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start(fx);
    uint64_t start_seq = fx->clock.epoch_seq;
    fx->le.env.sync_seq = 0;

    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, start_seq - 1),
                     RK_EBUSY);

    assert_int_equal(fx->le.env.sync_seq, start_seq);
    assert_false(rk_clock_stopping(&fx->clock));
    assert_true(rk_clock_ready(&fx->clock, start_seq));
    assert_false(test_mark_present(fx));
    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, start_seq), 0);
    test_fixture_free(fx);
}

/* After the mark the clock mints no more (the mark holds its last fallback counter), and a
 * second stop is refused. */
static void test_no_dot_after_the_mark(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);

    test_stop_clean(fx);

    assert_false(rk_clock_ready(&fx->clock, UINT64_MAX));
    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, UINT64_MAX),
                     RK_EINVAL);
    test_fixture_free(fx);
}

/* A failed sync rolled writes back, maybe with dots other replicas hold: no mark in this run. */
static void test_stop_refused_after_a_failed_sync(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);

    rk_clock_on_sync_failed(&fx->clock, fx->clock.epoch_seq);

    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, UINT64_MAX),
                     RK_EIO);
    assert_false(test_mark_present(fx));
    test_fixture_free(fx);
}

/* A sync that fails before the mark is durable may have taken it: the stop reports it. One
 * failing after it was durable changes nothing. */
static void test_sync_failure_before_the_mark_is_durable_is_reported(void **state)
{
    (void)state;
    for (uint32_t durable_first = 0; durable_first <= 1; durable_first++) {
        test_fixture *fx = test_fixture_new();
        test_start_durable(fx);
        uint64_t durable = test_sync(fx, fx->le.local.written_seq);
        assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, durable), 0);
        durable = durable_first ? fx->clock.stop_seq : durable;

        rk_clock_on_sync_failed(&fx->clock, durable);

        assert_int_equal(rk_clock_stop_status(&fx->clock, fx->clock.stop_seq),
                         durable_first ? 0 : RK_EIO);
        test_fixture_free(fx);
    }
}

/* A store error writing the mark is passed on; nothing changed, and the stop may be tried
 * again. */
static void test_stop_passes_on_store_errors(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start_durable(fx);

    rk_store_mem_fail_at(fx->le.store, 1, false);
    assert_int_equal(rk_clock_stop(&fx->clock, &fx->le.local, &fx->le.env.env, UINT64_MAX),
                     RK_ECRASHED);

    assert_false(rk_clock_stopping(&fx->clock));
    assert_true(rk_clock_ready(&fx->clock, UINT64_MAX));
    test_stop_clean(fx);
    test_fixture_free(fx);
}

/* ---- dot floors --------------------------------------------------------------------------- */

static void test_dot_floor_is_the_epoch_shifted(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_start(fx);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, false), 1ull << RK_EPOCH_SHIFT);
    /* A fallback mints in the upper half of the epoch's range. */
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true),
                     (1ull << RK_EPOCH_SHIFT) | RK_EPOCH_FALLBACK_BIT);

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
    uint64_t fallback_floor = floor | RK_EPOCH_FALLBACK_BIT;

    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), fallback_floor);
    rk_clock_fallback_minted(&fx->clock, fallback_floor);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), fallback_floor + 1);
    rk_clock_fallback_minted(&fx->clock, fallback_floor + 40);
    assert_int_equal(rk_clock_dot_floor(&fx->clock, true), fallback_floor + 41);

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
        cmocka_unit_test(test_run_is_bumped_on_every_start_clean_or_not),
        cmocka_unit_test(test_run_starts_above_the_epoch_of_an_older_store),
        cmocka_unit_test(test_start_refuses_a_stored_run_of_the_wrong_length),
        cmocka_unit_test(test_clean_stop_then_start_keeps_the_epoch),
        cmocka_unit_test(test_start_without_a_mark_bumps),
        cmocka_unit_test(test_crash_after_a_clean_start_bumps),
        cmocka_unit_test(test_crash_before_the_clean_start_is_durable_keeps_the_mark),
        cmocka_unit_test(test_fallback_dot_last_survives_a_clean_restart),
        cmocka_unit_test(test_damaged_mark_bumps),
        cmocka_unit_test(test_mark_encode_writes_the_documented_layout),
        cmocka_unit_test(test_mark_of_a_higher_epoch_bumps_above_it),
        cmocka_unit_test(test_last_epoch_is_kept_after_a_clean_stop),
        cmocka_unit_test(test_stop_waits_for_every_write_to_be_durable),
        cmocka_unit_test(test_no_dot_after_the_mark),
        cmocka_unit_test(test_stop_refused_after_a_failed_sync),
        cmocka_unit_test(test_sync_failure_before_the_mark_is_durable_is_reported),
        cmocka_unit_test(test_stop_passes_on_store_errors),
        cmocka_unit_test(test_dot_floor_is_the_epoch_shifted),
        cmocka_unit_test(test_fallback_floor_is_above_the_last_fallback_dot),
        cmocka_unit_test(test_stamp_follows_the_wall_clock_going_forward),
        cmocka_unit_test(test_stamps_strictly_increase_when_the_wall_clock_goes_back),
        cmocka_unit_test(test_stamp_is_strictly_above_floor_us),
        cmocka_unit_test(test_stamp_stays_at_the_top_instead_of_wrapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
