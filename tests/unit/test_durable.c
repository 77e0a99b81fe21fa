/* test_durable.c — the queue of work waiting for durability (src/core/durable.c). Covers: items
 * run in seq order once durable and not before; an item whose write is already durable runs at
 * once; sync `none` runs at once, counts acks_before_durable and still asks for the sync; a
 * failed sync fails exactly the items up to its seq, with its error and message, while later
 * ones go on waiting; the inflight gauge, the sync counters and rk_durable_room, down to 0 at
 * RK_DURABLE_PENDING_MAX; and an item that queues more while it runs. The queue runs over a
 * mem store and a fake env (test_env.h) that records the syncs asked for; the test decides when
 * each completes, and the `run` callback records every item it is handed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/durable.h"
#include "../../src/core/node.h"
#include "test_env.h"

#define TEST_RUNS_MAX 16u

typedef struct test_run {
    uint64_t seq;
    uint64_t id;
    int status;
    const char *message;
} test_run;

typedef struct test_fixture {
    test_env env;
    rk_store *store;
    rk_node_stats stats;
    rk_durable durable;
    test_run runs[TEST_RUNS_MAX];
    uint32_t run_count;
    rk_pending queue_when_run; /* seq 0: nothing; else queued by the next item that runs */
} test_fixture;

/* ---- helpers ------------------------------------------------------------------------------ */

static void test_on_run(void *ctx, const rk_pending *p, int status, const char *message)
{
    test_fixture *fx = ctx;
    if (fx->run_count < TEST_RUNS_MAX) { /* the first ones are all any test looks at */
        fx->runs[fx->run_count] =
            (test_run){.seq = p->seq, .id = p->id, .status = status, .message = message};
    }
    fx->run_count++;
    if (fx->queue_when_run.seq != 0) {
        rk_pending more = fx->queue_when_run;
        fx->queue_when_run.seq = 0;
        rk_durable_after(&fx->durable, &more);
    }
}

static test_fixture *test_fixture_new(bool sync_none)
{
    test_fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(rk_store_mem_open(&fx->store), 0);
    test_env_init(&fx->env, fx->store);
    assert_int_equal(
        rk_durable_init(&fx->durable, &fx->env.env, &fx->stats, sync_none, test_on_run, fx), 0);
    return fx;
}

static void test_fixture_free(test_fixture *fx)
{
    rk_durable_deinit(&fx->durable);
    rk_store_close(fx->store);
    free(fx);
}

/* Queue an item with id = 100 + seq, waiting for write `seq`. */
static void test_after(test_fixture *fx, uint64_t seq)
{
    rk_pending p = {.seq = seq, .id = 100 + seq, .kind = RK_PENDING_CLIENT};
    rk_durable_after(&fx->durable, &p);
}

/* ---- running in order --------------------------------------------------------------------- */

/* Items wait for their write's sync and run in seq order, each once. */
static void test_items_run_in_seq_order_once_durable(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    test_after(fx, 1);
    test_after(fx, 2);
    test_after(fx, 3);
    assert_int_equal(fx->run_count, 0);

    rk_durable_on_synced(&fx->durable, 2);
    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->runs[0].id, 101);
    assert_int_equal(fx->runs[1].id, 102);
    assert_int_equal(fx->runs[1].status, 0);
    assert_null(fx->runs[1].message);

    rk_durable_on_synced(&fx->durable, 3);
    assert_int_equal(fx->run_count, 3);
    assert_int_equal(fx->runs[2].id, 103);
    assert_int_equal(rk_durable_seq(&fx->durable), 3);
    test_fixture_free(fx);
}

/* Several items may wait for one write (a reply and a coordinator's own ack): all run. */
static void test_items_on_one_seq_all_run(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    rk_pending a = {.seq = 1, .id = 1, .kind = RK_PENDING_CLIENT};
    rk_pending b = {.seq = 1, .id = 2, .kind = RK_PENDING_PEER, .peer = 9};
    rk_durable_after(&fx->durable, &a);
    rk_durable_after(&fx->durable, &b);

    rk_durable_on_synced(&fx->durable, 1);

    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->runs[0].id, 1);
    assert_int_equal(fx->runs[1].id, 2);
    test_fixture_free(fx);
}

/* A queued item asks the env to sync its write. */
static void test_queued_item_asks_for_its_sync(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);

    test_after(fx, 4);

    assert_int_equal(fx->env.sync_count, 1);
    assert_int_equal(fx->env.sync_seq, 4);
    test_fixture_free(fx);
}

/* Both sides of durable_seq: an item on it runs at once, one past it waits. */
static void test_item_already_durable_runs_at_once(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    rk_durable_on_synced(&fx->durable, 5);

    test_after(fx, 4);
    test_after(fx, 5);
    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->runs[1].status, 0);
    assert_int_equal(fx->env.sync_count, 0);

    test_after(fx, 6);
    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->stats.acks_before_durable, 0);
    test_fixture_free(fx);
}

/* After a restart the queue starts at what the store already made durable. */
static void test_init_starts_at_the_store_durable_seq(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    uint64_t seq = 0;
    assert_int_equal(
        rk_store_put(fx->store, RK_DB_META, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, &seq),
        0);
    assert_int_equal(rk_store_sync(fx->store, seq), 0);
    rk_durable_deinit(&fx->durable);

    assert_int_equal(
        rk_durable_init(&fx->durable, &fx->env.env, &fx->stats, false, test_on_run, fx), 0);

    assert_int_equal(rk_durable_seq(&fx->durable), seq);
    test_after(fx, seq);
    assert_int_equal(fx->run_count, 1);
    test_fixture_free(fx);
}

/* A sync report below durable_seq (a late one) runs nothing new and counts no sync. */
static void test_stale_sync_report_changes_nothing(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    rk_durable_on_synced(&fx->durable, 3);
    test_after(fx, 4);

    rk_durable_on_synced(&fx->durable, 2);

    assert_int_equal(fx->run_count, 0);
    assert_int_equal(rk_durable_seq(&fx->durable), 3);
    assert_int_equal(fx->stats.sync_calls, 1);
    assert_int_equal(fx->stats.writes_synced, 3);
    test_fixture_free(fx);
}

/* A sync covering several writes is one sync call covering them all. */
static void test_synced_counts_sync_calls_and_writes_synced(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);

    rk_durable_on_synced(&fx->durable, 3);
    rk_durable_on_synced(&fx->durable, 7);

    assert_int_equal(fx->stats.sync_calls, 2);
    assert_int_equal(fx->stats.writes_synced, 7);
    test_fixture_free(fx);
}

/* Running may queue more (a coordinator's ack sends the next write): it waits for its own. */
static void test_item_queued_while_running_waits_for_its_write(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    test_after(fx, 1);
    fx->queue_when_run = (rk_pending){.seq = 2, .id = 102, .kind = RK_PENDING_COORD};

    rk_durable_on_synced(&fx->durable, 1);
    assert_int_equal(fx->run_count, 1);
    assert_int_equal(fx->stats.inflight, 1);

    rk_durable_on_synced(&fx->durable, 2);
    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->runs[1].id, 102);
    assert_int_equal(fx->stats.inflight, 0);
    test_fixture_free(fx);
}

/* ---- sync none ---------------------------------------------------------------------------- */

/* Under sync `none` an item runs before its write is durable, counted, and the sync is still
 * asked for. */
static void test_sync_none_runs_at_once_and_counts(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(true);

    test_after(fx, 1);
    test_after(fx, 2);

    assert_int_equal(fx->run_count, 2);
    assert_int_equal(fx->runs[0].status, 0);
    assert_int_equal(fx->stats.acks_before_durable, 2);
    assert_int_equal(fx->env.sync_count, 2);
    assert_int_equal(fx->env.sync_seq, 2);
    assert_int_equal(fx->stats.inflight, 0);
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX);
    test_fixture_free(fx);
}

/* An item already durable was not acknowledged early, even under `none`. */
static void test_sync_none_does_not_count_an_item_already_durable(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(true);
    rk_durable_on_synced(&fx->durable, 1);

    test_after(fx, 1);

    assert_int_equal(fx->run_count, 1);
    assert_int_equal(fx->stats.acks_before_durable, 0);
    assert_int_equal(fx->env.sync_count, 0);
    test_fixture_free(fx);
}

/* ---- failed syncs ------------------------------------------------------------------------- */

/* The writes up to a failed sync's seq are gone: exactly the items waiting for them fail, with
 * its error and message; later ones wait on. */
static void test_failed_sync_fails_exactly_the_items_up_to_its_seq(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    test_after(fx, 1);
    test_after(fx, 2);
    test_after(fx, 3);

    rk_durable_on_failed(&fx->durable, 2, RK_EIO, "disk on fire");

    assert_int_equal(fx->run_count, 2);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(fx->runs[i].id, 101 + i);
        assert_int_equal(fx->runs[i].status, RK_EIO);
        assert_string_equal(fx->runs[i].message, "disk on fire");
    }
    assert_int_equal(fx->stats.sync_failures, 1);
    assert_int_equal(fx->stats.inflight, 1);

    rk_durable_on_synced(&fx->durable, 3);
    assert_int_equal(fx->run_count, 3);
    assert_int_equal(fx->runs[2].id, 103);
    assert_int_equal(fx->runs[2].status, 0);
    test_fixture_free(fx);
}

/* A failure below every waiting item fails none of them. */
static void test_failed_sync_below_the_queue_fails_nothing(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    test_after(fx, 5);

    rk_durable_on_failed(&fx->durable, 4, RK_ENOSPC, "full");

    assert_int_equal(fx->run_count, 0);
    assert_int_equal(fx->stats.sync_failures, 1);
    assert_int_equal(fx->stats.inflight, 1);
    test_fixture_free(fx);
}

/* ---- gauges and room ---------------------------------------------------------------------- */

static void test_inflight_tracks_the_items_waiting(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);

    test_after(fx, 1);
    test_after(fx, 2);
    test_after(fx, 3);
    assert_int_equal(fx->stats.inflight, 3);

    rk_durable_on_synced(&fx->durable, 1);
    assert_int_equal(fx->stats.inflight, 2);
    rk_durable_on_failed(&fx->durable, 2, RK_EIO, "x");
    assert_int_equal(fx->stats.inflight, 1);
    rk_durable_on_synced(&fx->durable, 3);
    assert_int_equal(fx->stats.inflight, 0);
    test_fixture_free(fx);
}

static void test_room_decreases_as_items_wait_and_comes_back(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX);

    test_after(fx, 1);
    test_after(fx, 2);
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX - 2);

    rk_durable_on_synced(&fx->durable, 2);
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX);
    test_fixture_free(fx);
}

/* The queue holds exactly RK_DURABLE_PENDING_MAX items (room 0 then), in order, and wraps. */
static void test_queue_holds_pending_max_items_and_wraps(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(false);
    test_after(fx, 1);
    rk_durable_on_synced(&fx->durable, 1); /* start off index 0 to wrap */
    fx->run_count = 0;

    for (uint64_t seq = 2; seq < 2 + RK_DURABLE_PENDING_MAX - 1; seq++) {
        test_after(fx, seq);
    }
    assert_int_equal(rk_durable_room(&fx->durable), 1);
    test_after(fx, 2 + RK_DURABLE_PENDING_MAX - 1);
    assert_int_equal(rk_durable_room(&fx->durable), 0);
    assert_int_equal(fx->stats.inflight, RK_DURABLE_PENDING_MAX);

    rk_durable_on_synced(&fx->durable, 2);
    assert_int_equal(rk_durable_room(&fx->durable), 1);
    assert_int_equal(fx->runs[0].id, 102);
    fx->run_count = 0;
    rk_durable_on_synced(&fx->durable, RK_DURABLE_PENDING_MAX); /* all but the last */
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX - 1);
    fx->run_count = 0;
    rk_durable_on_synced(&fx->durable, RK_DURABLE_PENDING_MAX + 1);
    assert_int_equal(fx->run_count, 1);
    assert_int_equal(fx->runs[0].id, 100 + RK_DURABLE_PENDING_MAX + 1);
    assert_int_equal(rk_durable_room(&fx->durable), RK_DURABLE_PENDING_MAX);
    test_fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_run_in_seq_order_once_durable),
        cmocka_unit_test(test_items_on_one_seq_all_run),
        cmocka_unit_test(test_queued_item_asks_for_its_sync),
        cmocka_unit_test(test_item_already_durable_runs_at_once),
        cmocka_unit_test(test_init_starts_at_the_store_durable_seq),
        cmocka_unit_test(test_stale_sync_report_changes_nothing),
        cmocka_unit_test(test_synced_counts_sync_calls_and_writes_synced),
        cmocka_unit_test(test_item_queued_while_running_waits_for_its_write),
        cmocka_unit_test(test_sync_none_runs_at_once_and_counts),
        cmocka_unit_test(test_sync_none_does_not_count_an_item_already_durable),
        cmocka_unit_test(test_failed_sync_fails_exactly_the_items_up_to_its_seq),
        cmocka_unit_test(test_failed_sync_below_the_queue_fails_nothing),
        cmocka_unit_test(test_inflight_tracks_the_items_waiting),
        cmocka_unit_test(test_room_decreases_as_items_wait_and_comes_back),
        cmocka_unit_test(test_queue_holds_pending_max_items_and_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
