/* test_coord_table.c — the table of coordinators in flight (src/core/coord_table.c). Covers:
 * new, find and free; ids (slot, generation, the run's low 16 bits on top), so that a stale
 * id of a reused slot and an id naming a slot past the table are never found; the limit of
 * RK_COORD_INFLIGHT_MAX on both sides with reuse of a freed slot; and the deadline list: one env
 * timer for the whole list, due only once the head's deadline has passed, set again after it
 * fired, unlinking at head, middle and tail on free, and deinit freeing whatever is left through
 * the caller's callback. A fake env (test_env.h) holds the clock and records each timer set;
 * ASan builds check that nothing leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/coord_table.h"
#include "test_env.h"

#define TEST_TIMEOUT_MS 1000u
#define TEST_RUN 3u
#define TEST_START_MS 5000u

/* A kind's struct embeds rk_coord first, with memory of its own after it. */
typedef struct test_coord {
    rk_coord base;
    uint64_t payload[4];
} test_coord;

typedef struct test_fixture {
    test_env env;
    rk_coord_table table;
} test_fixture;

/* ---- helpers ------------------------------------------------------------------------------ */

static uint32_t test_deinit_calls;

static void test_coord_deinit(rk_coord *c)
{
    assert_non_null(c);
    test_deinit_calls++;
}

static test_fixture *test_fixture_new(uint64_t run)
{
    test_fixture *fx = malloc(sizeof(*fx));
    assert_non_null(fx);
    test_env_init(&fx->env, NULL);
    fx->env.now_ms = TEST_START_MS;
    rk_coord_table_init(&fx->table, &fx->env.env, TEST_TIMEOUT_MS, run);
    test_deinit_calls = 0;
    return fx;
}

static void test_fixture_free(test_fixture *fx)
{
    rk_coord_table_deinit(&fx->table, test_coord_deinit);
    free(fx);
}

static rk_coord *test_new(test_fixture *fx)
{
    rk_coord *c = rk_coord_table_new(&fx->table, RK_COORD_PUT, sizeof(test_coord));
    assert_non_null(c);
    return c;
}

static uint32_t test_slot_of(const rk_coord *c)
{
    return (uint32_t)(c->id & 0xffffu);
}

/* Arm three coordinators one millisecond apart. */
static void test_arm_three(test_fixture *fx, rk_coord *c[3])
{
    for (uint32_t i = 0; i < 3; i++) {
        c[i] = test_new(fx);
        rk_coord_table_arm(&fx->table, c[i]);
        fx->env.now_ms++;
    }
}

/* Let every deadline pass, then take the due ones in order into `out`. */
static uint32_t test_take_all_due(test_fixture *fx, rk_coord **out, uint32_t out_count_max)
{
    fx->env.now_ms += 10u * TEST_TIMEOUT_MS;
    rk_coord_table_on_timer(&fx->table);
    uint32_t count = 0;
    rk_coord *c = NULL;
    while ((c = rk_coord_table_due(&fx->table)) != NULL) {
        assert_true(count < out_count_max);
        out[count++] = c;
        rk_coord_table_free(&fx->table, c);
    }
    return count;
}

/* Every deadline passes: the armed coordinators come due in exactly the order `expected`. */
static void test_assert_due_in_order(test_fixture *fx, rk_coord *const *expected, uint32_t count)
{
    rk_coord *due[4];
    assert_true(count <= 4);
    assert_int_equal(test_take_all_due(fx, due, 4), count);
    for (uint32_t i = 0; i < count; i++) {
        assert_ptr_equal(due[i], expected[i]);
    }
}

/* ---- slots and ids ------------------------------------------------------------------------ */

static void test_new_gives_a_zeroed_coordinator_of_its_kind(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);

    test_coord *c = (test_coord *)rk_coord_table_new(&fx->table, RK_COORD_GET, sizeof(*c));

    assert_non_null(c);
    assert_int_equal(c->base.kind, RK_COORD_GET);
    assert_false(c->base.armed);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(c->payload[i], 0);
    }
    assert_int_equal(rk_coord_table_count(&fx->table), 1);
    test_fixture_free(fx);
}

static void test_find_gives_the_coordinator_of_an_id(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *a = test_new(fx);
    rk_coord *b = test_new(fx);

    assert_int_not_equal(a->id, b->id);
    assert_ptr_equal(rk_coord_table_find(&fx->table, a->id), a);
    assert_ptr_equal(rk_coord_table_find(&fx->table, b->id), b);
    test_fixture_free(fx);
}

static void test_freed_coordinator_is_not_found(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    uint64_t id = c->id;

    rk_coord_table_free(&fx->table, c);

    assert_null(rk_coord_table_find(&fx->table, id));
    assert_int_equal(rk_coord_table_count(&fx->table), 0);
    test_fixture_free(fx);
}

/* A late answer to a finished coordinator carries its old id; the slot's next user has a new
 * generation, so the answer never reaches it. */
static void test_stale_id_of_a_reused_slot_is_not_found(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *old = test_new(fx);
    uint64_t old_id = old->id;
    rk_coord_table_free(&fx->table, old);

    rk_coord *next = test_new(fx);

    assert_int_equal(test_slot_of(next), (uint32_t)(old_id & 0xffffu));
    assert_int_not_equal(next->id, old_id);
    assert_null(rk_coord_table_find(&fx->table, old_id));
    assert_ptr_equal(rk_coord_table_find(&fx->table, next->id), next);
    test_fixture_free(fx);
}

/* Ids come from peers too: a slot field past the table names nothing, whatever else it says. */
static void test_id_with_a_slot_past_the_table_is_not_found(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    uint64_t upper = c->id & ~0xffffull;

    assert_null(rk_coord_table_find(&fx->table, upper | RK_COORD_INFLIGHT_MAX));
    assert_null(rk_coord_table_find(&fx->table, upper | 0xffffu));
    assert_null(rk_coord_table_find(&fx->table, upper | (RK_COORD_INFLIGHT_MAX - 1u)));
    assert_null(rk_coord_table_find(&fx->table, 0));
    assert_null(rk_coord_table_find(&fx->table, UINT64_MAX));
    test_fixture_free(fx);
}

/* An answer to a request made before a restart has the same slot and generation as a new one,
 * but the old run: not found. */
static void test_id_from_another_run_is_not_found(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    uint64_t before_restart = (c->id & 0xffffffffffffull) | ((uint64_t)(TEST_RUN - 1) << 48);

    assert_null(rk_coord_table_find(&fx->table, before_restart));
    assert_ptr_equal(rk_coord_table_find(&fx->table, c->id), c);
    test_fixture_free(fx);
}

/* The run's low 16 bits sit in the top 16 of every id, so ids stay unique across restarts. */
static void test_id_carries_the_run_in_its_top_bits(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(0x12345u);

    rk_coord *c = test_new(fx);

    assert_int_equal(c->id >> 48, 0x2345u);
    assert_int_equal((c->id >> 16) & 0xffffffffu, 1u); /* first generation of the slot */
    test_fixture_free(fx);
}

/* The table holds exactly RK_COORD_INFLIGHT_MAX coordinators; the next is refused until one is
 * freed, and then the freed slot is the one taken. */
static void test_table_fills_at_the_limit_and_reuses_a_freed_slot(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord **all = calloc(RK_COORD_INFLIGHT_MAX, sizeof(*all));
    assert_non_null(all);
    for (uint32_t i = 0; i < RK_COORD_INFLIGHT_MAX; i++) {
        all[i] = test_new(fx);
    }
    assert_int_equal(rk_coord_table_count(&fx->table), RK_COORD_INFLIGHT_MAX);

    assert_null(rk_coord_table_new(&fx->table, RK_COORD_PUT, sizeof(test_coord)));
    assert_int_equal(rk_coord_table_count(&fx->table), RK_COORD_INFLIGHT_MAX);

    uint32_t freed_slot = test_slot_of(all[100]);
    rk_coord_table_free(&fx->table, all[100]);
    rk_coord *again = test_new(fx);
    assert_int_equal(test_slot_of(again), freed_slot);
    assert_int_equal(rk_coord_table_count(&fx->table), RK_COORD_INFLIGHT_MAX);
    assert_null(rk_coord_table_new(&fx->table, RK_COORD_PUT, sizeof(test_coord)));

    free(all);
    test_fixture_free(fx);
    assert_int_equal(test_deinit_calls, RK_COORD_INFLIGHT_MAX);
}

/* Every slot is taken once before any is taken twice, and ids stay distinct. */
static void test_each_slot_is_used_once_when_filling(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    uint8_t *seen = calloc(RK_COORD_INFLIGHT_MAX, 1);
    assert_non_null(seen);

    for (uint32_t i = 0; i < RK_COORD_INFLIGHT_MAX; i++) {
        rk_coord *c = test_new(fx);
        uint32_t slot = test_slot_of(c);
        assert_true(slot < RK_COORD_INFLIGHT_MAX);
        assert_int_equal(seen[slot], 0);
        seen[slot] = 1;
    }

    free(seen);
    test_fixture_free(fx);
}

/* ---- the deadline list -------------------------------------------------------------------- */

static void test_arm_sets_one_timer_at_now_plus_timeout(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);

    rk_coord_table_arm(&fx->table, c);

    assert_true(c->armed);
    assert_int_equal(c->deadline_ms, TEST_START_MS + TEST_TIMEOUT_MS);
    assert_int_equal(fx->env.timer_count, 1);
    assert_int_equal(fx->env.timer_at_ms, TEST_START_MS + TEST_TIMEOUT_MS);
    assert_int_equal(fx->env.timer_id, RK_TIMER_DEADLINES);
    test_fixture_free(fx);
}

/* One timer serves the whole list: arming more coordinators sets no more timers. */
static void test_arming_more_sets_no_more_timers(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];

    test_arm_three(fx, c);

    assert_int_equal(fx->env.timer_count, 1);
    assert_int_equal(fx->env.timer_at_ms, TEST_START_MS + TEST_TIMEOUT_MS);
    test_fixture_free(fx);
}

static void test_nothing_is_due_before_the_deadline(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    rk_coord_table_arm(&fx->table, c);

    fx->env.now_ms = TEST_START_MS + TEST_TIMEOUT_MS - 1;

    assert_null(rk_coord_table_due(&fx->table));
    assert_int_equal(fx->env.timer_count, 1); /* the one out still covers it */
    test_fixture_free(fx);
}

/* At the deadline the head is due; it stays due until the caller frees it. */
static void test_head_is_due_once_its_deadline_passed(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);

    fx->env.now_ms = TEST_START_MS + TEST_TIMEOUT_MS;
    rk_coord_table_on_timer(&fx->table);

    assert_ptr_equal(rk_coord_table_due(&fx->table), c[0]);
    assert_ptr_equal(rk_coord_table_due(&fx->table), c[0]);
    rk_coord_table_free(&fx->table, c[0]);
    assert_null(rk_coord_table_due(&fx->table)); /* c[1] is due a millisecond later */
    test_fixture_free(fx);
}

/* After the timer fired and nothing more is due, the timer is set for the next deadline. */
static void test_due_sets_the_timer_again_for_the_next_deadline(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);
    fx->env.now_ms = TEST_START_MS + TEST_TIMEOUT_MS;
    rk_coord_table_on_timer(&fx->table);
    rk_coord_table_free(&fx->table, rk_coord_table_due(&fx->table));

    assert_null(rk_coord_table_due(&fx->table));

    assert_int_equal(fx->env.timer_count, 2);
    assert_int_equal(fx->env.timer_at_ms, c[1]->deadline_ms);
    assert_null(rk_coord_table_due(&fx->table));
    assert_int_equal(fx->env.timer_count, 2); /* set once, not on every call */
    test_fixture_free(fx);
}

/* With the list empty after the timer fired, no timer is set; the next arm sets one. */
static void test_empty_list_sets_no_timer_until_the_next_arm(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    rk_coord_table_arm(&fx->table, c);
    rk_coord_table_free(&fx->table, c);
    rk_coord_table_on_timer(&fx->table);

    assert_null(rk_coord_table_due(&fx->table));
    assert_int_equal(fx->env.timer_count, 1);

    rk_coord *next = test_new(fx);
    rk_coord_table_arm(&fx->table, next);
    assert_int_equal(fx->env.timer_count, 2);
    assert_int_equal(fx->env.timer_at_ms, next->deadline_ms);
    test_fixture_free(fx);
}

/* A coordinator that is never armed never comes due. */
static void test_unarmed_coordinator_is_never_due(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    test_new(fx);
    rk_coord *due[1];

    assert_int_equal(test_take_all_due(fx, due, 1), 0);
    assert_int_equal(fx->env.timer_count, 0);
    assert_int_equal(rk_coord_table_count(&fx->table), 1);
    test_fixture_free(fx);
}

static void test_freeing_the_armed_head_unlinks_it(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);

    rk_coord_table_free(&fx->table, c[0]);

    assert_ptr_equal(fx->table.armed_head, c[1]);
    assert_null(c[1]->armed_prev);
    rk_coord *expected[] = {c[1], c[2]};
    test_assert_due_in_order(fx, expected, 2);
    test_fixture_free(fx);
}

static void test_freeing_an_armed_middle_unlinks_it(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);

    rk_coord_table_free(&fx->table, c[1]);

    assert_ptr_equal(c[0]->armed_next, c[2]);
    assert_ptr_equal(c[2]->armed_prev, c[0]);
    rk_coord *expected[] = {c[0], c[2]};
    test_assert_due_in_order(fx, expected, 2);
    test_fixture_free(fx);
}

/* After the tail goes, a new arm appends behind the new tail, keeping deadline order. */
static void test_freeing_the_armed_tail_unlinks_it(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);

    rk_coord_table_free(&fx->table, c[2]);

    assert_ptr_equal(fx->table.armed_tail, c[1]);
    assert_null(c[1]->armed_next);
    rk_coord *late = test_new(fx);
    rk_coord_table_arm(&fx->table, late);
    rk_coord *expected[] = {c[0], c[1], late};
    test_assert_due_in_order(fx, expected, 3);
    test_fixture_free(fx);
}

static void test_freeing_the_only_armed_one_empties_the_list(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c = test_new(fx);
    rk_coord_table_arm(&fx->table, c);

    rk_coord_table_free(&fx->table, c);

    assert_null(fx->table.armed_head);
    assert_null(fx->table.armed_tail);
    test_fixture_free(fx);
}

/* Deinit hands each coordinator left, armed or not, to the callback once, then frees it. */
static void test_deinit_frees_every_coordinator_left_through_the_callback(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new(TEST_RUN);
    rk_coord *c[3];
    test_arm_three(fx, c);
    test_new(fx);
    rk_coord_table_free(&fx->table, test_new(fx));

    test_fixture_free(fx);

    assert_int_equal(test_deinit_calls, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_gives_a_zeroed_coordinator_of_its_kind),
        cmocka_unit_test(test_find_gives_the_coordinator_of_an_id),
        cmocka_unit_test(test_freed_coordinator_is_not_found),
        cmocka_unit_test(test_stale_id_of_a_reused_slot_is_not_found),
        cmocka_unit_test(test_id_with_a_slot_past_the_table_is_not_found),
        cmocka_unit_test(test_id_from_another_run_is_not_found),
        cmocka_unit_test(test_id_carries_the_run_in_its_top_bits),
        cmocka_unit_test(test_table_fills_at_the_limit_and_reuses_a_freed_slot),
        cmocka_unit_test(test_each_slot_is_used_once_when_filling),
        cmocka_unit_test(test_arm_sets_one_timer_at_now_plus_timeout),
        cmocka_unit_test(test_arming_more_sets_no_more_timers),
        cmocka_unit_test(test_nothing_is_due_before_the_deadline),
        cmocka_unit_test(test_head_is_due_once_its_deadline_passed),
        cmocka_unit_test(test_due_sets_the_timer_again_for_the_next_deadline),
        cmocka_unit_test(test_empty_list_sets_no_timer_until_the_next_arm),
        cmocka_unit_test(test_unarmed_coordinator_is_never_due),
        cmocka_unit_test(test_freeing_the_armed_head_unlinks_it),
        cmocka_unit_test(test_freeing_an_armed_middle_unlinks_it),
        cmocka_unit_test(test_freeing_the_armed_tail_unlinks_it),
        cmocka_unit_test(test_freeing_the_only_armed_one_empties_the_list),
        cmocka_unit_test(test_deinit_frees_every_coordinator_left_through_the_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
