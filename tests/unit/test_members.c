/* test_members.c — the member table (src/core/members.c). Covers: adding and removing members,
 * slot reuse after a remove, ids anywhere in the u32 range (not positions), the refusals (id 0,
 * a duplicate id, a host without its NUL, one member past RK_MEMBERS_MAX, removing self or an
 * unknown id) each next to the case just inside the limit, the order of rk_members_ids, and this
 * node's view of each member: reachability (self always up, a link down is not up) and suspicion
 * (RK_MEMBER_SILENT_SUSPECT unanswered deadlines in a row suspect a peer for suspect_ms; hearing
 * from it clears that), and the generation (bumped by each successful add and remove, by no
 * refusal and no change of reachability or suspicion). The table is driven only through members.h, time passed in by hand;
 * slow-assert builds also check the whole table after every change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/core/members.h"

#define TEST_SELF 7u
#define TEST_SUSPECT_MS 500u

/* ---- helpers ------------------------------------------------------------------------------ */

static rk_member_addr test_addr(rk_node_id id)
{
    rk_member_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.id = id;
    strcpy(addr.host, "127.0.0.1");
    addr.client_port = (uint16_t)(7000u + (id % 1000u));
    addr.cluster_port = (uint16_t)(17000u + (id % 1000u));
    return addr;
}

static int test_add(rk_members *t, rk_node_id id)
{
    rk_member_addr addr = test_addr(id);
    return rk_members_add(t, &addr);
}

/* A table of self (slot 0) and peers 20, 30, 40 (slots 1..3). */
static void test_table(rk_members *t)
{
    rk_members_init(t, TEST_SELF, TEST_SUSPECT_MS);
    assert_int_equal(test_add(t, TEST_SELF), 0);
    assert_int_equal(test_add(t, 20), 1);
    assert_int_equal(test_add(t, 30), 2);
    assert_int_equal(test_add(t, 40), 3);
}

/* Let `count` requests to `id` reach their deadline unanswered at now_ms. */
static void test_silent(rk_members *t, rk_node_id id, uint32_t count, uint64_t now_ms)
{
    for (uint32_t i = 0; i < count; i++) {
        rk_members_silent(t, id, now_ms);
    }
}

/* ---- adding and removing ------------------------------------------------------------------ */

/* Members take slots in the order they come, and the table keeps a copy of each address. */
static void test_add_takes_slots_in_order_and_copies_the_address(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(t.count, 4);
    assert_int_equal(rk_members_slot(&t, 30), 2);
    const rk_member *m = rk_members_find(&t, 30);
    assert_non_null(m);
    assert_string_equal(m->addr.host, "127.0.0.1");
    assert_int_equal(m->addr.client_port, 7030);
    assert_int_equal(m->addr.cluster_port, 17030);
    assert_ptr_equal(rk_members_at(&t, 2), m);
}

static void test_remove_frees_the_slot(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(rk_members_remove(&t, 30), 0);

    assert_int_equal(t.count, 3);
    assert_int_equal(rk_members_slot(&t, 30), -1);
    assert_null(rk_members_find(&t, 30));
    assert_null(rk_members_at(&t, 2));
    assert_non_null(rk_members_find(&t, 40)); /* the others keep their slots */
    assert_int_equal(rk_members_slot(&t, 40), 3);
}

/* A freed slot is taken by the next member, so the table never needs to grow past its limit. */
static void test_add_reuses_the_lowest_freed_slot(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    assert_int_equal(rk_members_remove(&t, 30), 0);
    assert_int_equal(rk_members_remove(&t, 20), 0);

    assert_int_equal(test_add(&t, 50), 1);
    assert_int_equal(test_add(&t, 60), 2);
    assert_int_equal(test_add(&t, 70), 4);
}

/* A member re-added after leaving starts over: link up, not suspected, nothing unanswered. */
static void test_readded_member_starts_with_a_clean_view(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    assert_true(rk_members_set_link(&t, 20, false));
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT, 100);
    assert_int_equal(rk_members_remove(&t, 20), 0);

    assert_int_equal(test_add(&t, 20), 1);

    assert_true(rk_members_up(&t, 20, 100));
    assert_false(rk_members_suspected(&t, 20, 100));
    assert_int_equal(rk_members_find(&t, 20)->silent, 0);
}

/* Ids are any nonzero u32, not positions: the largest ones are members like any other. */
static void test_ids_far_above_the_member_limit_are_members(void **state)
{
    (void)state;
    rk_members t;
    rk_members_init(&t, 1000000u, TEST_SUSPECT_MS);

    assert_int_equal(test_add(&t, 1000000u), 0);
    assert_int_equal(test_add(&t, UINT32_MAX), 1);
    assert_int_equal(test_add(&t, RK_MEMBERS_MAX), 2);

    assert_int_equal(rk_members_slot(&t, UINT32_MAX), 1);
    assert_int_equal(rk_members_find(&t, UINT32_MAX)->addr.id, UINT32_MAX);
    assert_true(rk_members_up(&t, UINT32_MAX, 0));
    assert_int_equal(rk_members_remove(&t, UINT32_MAX), 0);
    assert_int_equal(rk_members_slot(&t, UINT32_MAX), -1);
}

static void test_add_refuses_a_duplicate_id(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(test_add(&t, 30), RK_EINVAL);
    assert_int_equal(test_add(&t, TEST_SELF), RK_EINVAL);

    assert_int_equal(t.count, 4);
    assert_int_equal(rk_members_slot(&t, 30), 2);
}

/* Id 0 marks a free slot, so it can never name a member. */
static void test_add_refuses_id_zero(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(test_add(&t, 0), RK_EINVAL);

    assert_int_equal(t.count, 4);
    assert_int_equal(rk_members_slot(&t, 0), -1);
    assert_null(rk_members_find(&t, 0));
}

/* A host of RK_MEMBER_HOST_BYTES_MAX bytes fits with its NUL; a full buffer without one is
 * refused, since the runtime passes the host to connect as a C string. */
static void test_add_takes_the_longest_host_and_refuses_one_without_nul(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    rk_member_addr longest = test_addr(50);
    memset(longest.host, 'h', RK_MEMBER_HOST_BYTES_MAX);
    longest.host[RK_MEMBER_HOST_BYTES_MAX] = '\0';
    rk_member_addr unterminated = test_addr(60);
    memset(unterminated.host, 'h', sizeof(unterminated.host));

    assert_int_equal(rk_members_add(&t, &longest), 4);
    assert_int_equal(rk_members_add(&t, &unterminated), RK_EINVAL);

    assert_int_equal(strlen(rk_members_find(&t, 50)->addr.host), RK_MEMBER_HOST_BYTES_MAX);
    assert_null(rk_members_find(&t, 60));
    assert_int_equal(t.count, 5);
}

/* The table holds exactly RK_MEMBERS_MAX members; the next is refused until one leaves. */
static void test_add_holds_members_max_and_refuses_one_more(void **state)
{
    (void)state;
    rk_members t;
    rk_members_init(&t, 1, TEST_SUSPECT_MS);
    for (uint32_t i = 0; i < RK_MEMBERS_MAX; i++) {
        assert_int_equal(test_add(&t, 1u + i * 1000u), (int)i);
    }
    assert_int_equal(t.count, RK_MEMBERS_MAX);

    assert_int_equal(test_add(&t, 999999u), RK_ETOOBIG);
    assert_int_equal(t.count, RK_MEMBERS_MAX);
    assert_null(rk_members_find(&t, 999999u));

    assert_int_equal(rk_members_remove(&t, 1u + 10u * 1000u), 0);
    assert_int_equal(test_add(&t, 999999u), 10);
    assert_int_equal(t.count, RK_MEMBERS_MAX);
}

/* A node never removes itself: it would stop owning its own writes. */
static void test_remove_refuses_self(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(rk_members_remove(&t, TEST_SELF), RK_ENOTFOUND);

    assert_int_equal(t.count, 4);
    assert_int_equal(rk_members_slot(&t, TEST_SELF), 0);
}

static void test_remove_refuses_an_unknown_id(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_int_equal(rk_members_remove(&t, 31), RK_ENOTFOUND);
    assert_int_equal(rk_members_remove(&t, 0), RK_ENOTFOUND);
    assert_int_equal(rk_members_remove(&t, 20), 0);
    assert_int_equal(rk_members_remove(&t, 20), RK_ENOTFOUND); /* twice: gone already */

    assert_int_equal(t.count, 3);
}

/* The ring is claimed in slot order, so ids come out in slot order, not sorted by id. */
static void test_ids_come_in_slot_order(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    assert_int_equal(rk_members_remove(&t, 20), 0);
    assert_int_equal(test_add(&t, 99), 1);
    assert_int_equal(rk_members_remove(&t, 30), 0);
    rk_node_id ids[RK_MEMBERS_MAX];

    uint32_t count = rk_members_ids(&t, ids);

    assert_int_equal(count, 3);
    assert_int_equal(ids[0], TEST_SELF);
    assert_int_equal(ids[1], 99);
    assert_int_equal(ids[2], 40);
}

static void test_at_gives_null_for_free_slots_and_past_the_end(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    assert_int_equal(rk_members_remove(&t, 20), 0);

    assert_non_null(rk_members_at(&t, 0));
    assert_null(rk_members_at(&t, 1));
    assert_non_null(rk_members_at(&t, 3));
    assert_null(rk_members_at(&t, 4));
    assert_null(rk_members_at(&t, RK_MEMBERS_MAX));
}

/* ---- generation --------------------------------------------------------------------------- */

/* Each change of who is a member moves the generation on by one, so the runtime notices every
 * one of them with a single compare, even a remove and re-add of the same id between two
 * looks (the ids are the same, but the re-added member starts over, counted up). */
static void test_generation_counts_every_add_and_remove(void **state)
{
    (void)state;
    rk_members t;
    rk_members_init(&t, TEST_SELF, TEST_SUSPECT_MS);
    assert_int_equal(t.generation, 0);

    test_table(&t);                                 /* 4 adds */
    assert_int_equal(t.generation, 4);
    assert_int_equal(rk_members_remove(&t, 30), 0);
    assert_int_equal(t.generation, 5);
    assert_int_equal(test_add(&t, 30), 2);
    assert_int_equal(t.generation, 6);
}

/* A refused add or remove changed nothing, so the runtime has nothing to reconcile. */
static void test_generation_stays_on_refusals(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    uint64_t before = t.generation;
    rk_member_addr unterminated = test_addr(90);
    memset(unterminated.host, 'h', sizeof(unterminated.host));

    assert_int_equal(test_add(&t, 0), RK_EINVAL);
    assert_int_equal(test_add(&t, 20), RK_EINVAL);
    assert_int_equal(rk_members_add(&t, &unterminated), RK_EINVAL);
    assert_int_equal(rk_members_remove(&t, TEST_SELF), RK_ENOTFOUND);
    assert_int_equal(rk_members_remove(&t, 99), RK_ENOTFOUND);

    assert_int_equal(t.generation, before);
}

/* At the limit: the add that fills the table counts, the one refused past it does not. */
static void test_generation_stays_when_the_table_is_full(void **state)
{
    (void)state;
    rk_members t;
    rk_members_init(&t, 1, TEST_SUSPECT_MS);
    for (rk_node_id id = 1; id <= RK_MEMBERS_MAX; id++) {
        assert_true(test_add(&t, id) >= 0);
    }
    assert_int_equal(t.generation, RK_MEMBERS_MAX);

    assert_int_equal(test_add(&t, RK_MEMBERS_MAX + 1), RK_ETOOBIG);

    assert_int_equal(t.generation, RK_MEMBERS_MAX);
}

/* Reachability and suspicion are the node's view of a member, not membership: the transport
 * must not rebuild links because a link went down or a peer was suspected. */
static void test_generation_ignores_reachability_and_suspicion(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    uint64_t before = t.generation;

    assert_true(rk_members_set_link(&t, 20, false));
    test_silent(&t, 30, RK_MEMBER_SILENT_SUSPECT, 100);
    assert_true(rk_members_heard(&t, 30));

    assert_int_equal(t.generation, before);
}

/* ---- reachability ------------------------------------------------------------------------- */

/* A member counts up from the moment it is added: a request waits for its connection. */
static void test_new_member_counts_up(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_true(rk_members_up(&t, 20, 0));
    assert_true(rk_members_find(&t, 20)->link_up);
}

static void test_self_is_always_up(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, TEST_SELF, RK_MEMBER_SILENT_SUSPECT + 1, 100);

    assert_true(rk_members_up(&t, TEST_SELF, 100));
    assert_false(rk_members_suspected(&t, TEST_SELF, 100));
    assert_int_equal(t.suspected_total, 0);
}

static void test_link_down_makes_a_member_not_up_until_it_comes_back(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_true(rk_members_set_link(&t, 20, false));
    assert_false(rk_members_up(&t, 20, 0));
    assert_true(rk_members_up(&t, 30, 0));
    assert_false(rk_members_suspected(&t, 20, 0)); /* down is not suspected */

    assert_true(rk_members_set_link(&t, 20, true));
    assert_true(rk_members_up(&t, 20, 0));
}

/* The runtime's word on a link means nothing for self (always up) or a non-member. */
static void test_set_link_refuses_self_and_unknown_ids(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_false(rk_members_set_link(&t, TEST_SELF, false));
    assert_false(rk_members_set_link(&t, 31, false));
    assert_false(rk_members_set_link(&t, 0, false));

    assert_true(rk_members_up(&t, TEST_SELF, 0));
    assert_null(rk_members_find(&t, 31));
}

static void test_unknown_member_is_not_up(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_false(rk_members_up(&t, 31, 0));
    assert_false(rk_members_up(&t, 0, 0));
    assert_false(rk_members_suspected(&t, 31, 0));
}

/* ---- suspicion ---------------------------------------------------------------------------- */

/* One unanswered request below the threshold is not enough: it may have been one slow disk. */
static void test_silence_below_the_threshold_does_not_suspect(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT - 1, 100);

    assert_false(rk_members_suspected(&t, 20, 100));
    assert_true(rk_members_up(&t, 20, 100));
    assert_int_equal(t.suspected_total, 0);
}

/* At the threshold the peer is suspected (not up) from now to now + suspect_ms, exclusive. */
static void test_silence_at_the_threshold_suspects_for_suspect_ms(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT, 100);

    assert_true(rk_members_suspected(&t, 20, 100));
    assert_false(rk_members_up(&t, 20, 100));
    assert_true(rk_members_suspected(&t, 20, 100 + TEST_SUSPECT_MS - 1));
    assert_false(rk_members_up(&t, 20, 100 + TEST_SUSPECT_MS - 1));
    assert_true(rk_members_up(&t, 30, 100)); /* only the silent one */
    assert_int_equal(t.suspected_total, 1);
}

/* A suspicion expires after suspect_ms: the peer is tried again. */
static void test_suspicion_expires_after_suspect_ms(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT, 100);

    assert_false(rk_members_suspected(&t, 20, 100 + TEST_SUSPECT_MS));
    assert_true(rk_members_up(&t, 20, 100 + TEST_SUSPECT_MS));
}

/* Silence counts in a row: a message between two unanswered requests starts the count over. */
static void test_heard_resets_the_silent_count(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT - 1, 100);

    assert_true(rk_members_heard(&t, 20));
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT - 1, 100);

    assert_false(rk_members_suspected(&t, 20, 100));
    assert_int_equal(rk_members_find(&t, 20)->silent, RK_MEMBER_SILENT_SUSPECT - 1);
}

/* Any message from a suspected peer is a sign of life: it is up again at once. */
static void test_heard_clears_a_suspicion(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT, 100);

    assert_true(rk_members_heard(&t, 20));

    assert_false(rk_members_suspected(&t, 20, 101));
    assert_true(rk_members_up(&t, 20, 101));
    assert_int_equal(rk_members_find(&t, 20)->silent, 0);
    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT - 1, 102);
    assert_false(rk_members_suspected(&t, 20, 102));
}

static void test_heard_from_an_unknown_id_is_refused(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    assert_false(rk_members_heard(&t, 31));
    assert_false(rk_members_heard(&t, 0));
}

/* More deadlines while suspected do not count again or stretch the suspicion; the first one
 * after it expired suspects again (the peer still never answered), counted once more. */
static void test_suspected_total_counts_each_suspicion_once(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, 20, RK_MEMBER_SILENT_SUSPECT + 3, 100);
    assert_int_equal(t.suspected_total, 1);
    rk_members_silent(&t, 20, 100 + TEST_SUSPECT_MS - 1);
    assert_int_equal(t.suspected_total, 1);
    assert_false(rk_members_suspected(&t, 20, 100 + TEST_SUSPECT_MS));

    rk_members_silent(&t, 20, 100 + TEST_SUSPECT_MS);
    assert_int_equal(t.suspected_total, 2);
    assert_true(rk_members_suspected(&t, 20, 100 + 2 * TEST_SUSPECT_MS - 1));

    test_silent(&t, 30, RK_MEMBER_SILENT_SUSPECT, 100);
    assert_int_equal(t.suspected_total, 3);
}

/* The silent count is a u8: a peer silent for longer stays at the top, never wraps to 0. */
static void test_silent_count_saturates(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, 20, UINT8_MAX + 10u, 100);

    assert_int_equal(rk_members_find(&t, 20)->silent, UINT8_MAX);
    assert_true(rk_members_suspected(&t, 20, 100));
}

static void test_silent_on_an_unknown_id_changes_nothing(void **state)
{
    (void)state;
    rk_members t;
    test_table(&t);

    test_silent(&t, 31, RK_MEMBER_SILENT_SUSPECT, 100);

    assert_int_equal(t.suspected_total, 0);
    assert_int_equal(t.count, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_takes_slots_in_order_and_copies_the_address),
        cmocka_unit_test(test_remove_frees_the_slot),
        cmocka_unit_test(test_add_reuses_the_lowest_freed_slot),
        cmocka_unit_test(test_readded_member_starts_with_a_clean_view),
        cmocka_unit_test(test_ids_far_above_the_member_limit_are_members),
        cmocka_unit_test(test_add_refuses_a_duplicate_id),
        cmocka_unit_test(test_add_refuses_id_zero),
        cmocka_unit_test(test_add_takes_the_longest_host_and_refuses_one_without_nul),
        cmocka_unit_test(test_add_holds_members_max_and_refuses_one_more),
        cmocka_unit_test(test_remove_refuses_self),
        cmocka_unit_test(test_remove_refuses_an_unknown_id),
        cmocka_unit_test(test_ids_come_in_slot_order),
        cmocka_unit_test(test_at_gives_null_for_free_slots_and_past_the_end),
        cmocka_unit_test(test_generation_counts_every_add_and_remove),
        cmocka_unit_test(test_generation_stays_on_refusals),
        cmocka_unit_test(test_generation_stays_when_the_table_is_full),
        cmocka_unit_test(test_generation_ignores_reachability_and_suspicion),
        cmocka_unit_test(test_new_member_counts_up),
        cmocka_unit_test(test_self_is_always_up),
        cmocka_unit_test(test_link_down_makes_a_member_not_up_until_it_comes_back),
        cmocka_unit_test(test_set_link_refuses_self_and_unknown_ids),
        cmocka_unit_test(test_unknown_member_is_not_up),
        cmocka_unit_test(test_silence_below_the_threshold_does_not_suspect),
        cmocka_unit_test(test_silence_at_the_threshold_suspects_for_suspect_ms),
        cmocka_unit_test(test_suspicion_expires_after_suspect_ms),
        cmocka_unit_test(test_heard_resets_the_silent_count),
        cmocka_unit_test(test_heard_clears_a_suspicion),
        cmocka_unit_test(test_heard_from_an_unknown_id_is_refused),
        cmocka_unit_test(test_suspected_total_counts_each_suspicion_once),
        cmocka_unit_test(test_silent_count_saturates),
        cmocka_unit_test(test_silent_on_an_unknown_id_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
