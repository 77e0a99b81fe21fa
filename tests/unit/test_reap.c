/* test_reap.c — tombstone reaping (issue 18; aae_reap.c) on whole core nodes
 * (tests/unit/sim_fixture.h): a tombstone goes from every replica once the grace delay passed,
 * never while a member is down or a hint is held; a key re-created after its reap mints a dot
 * above every dot of its first life, so a late copy of the first version (a duplicated message
 * delivered after the reap) neither takes the new write for one already seen nor comes back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_fixture.h"

#define REAP_GRACE_MS 2000u
#define REAP_SWEEP_MS 40000u    /* every partition passed over, a few times */

static rk_fixture *reap_fixture(void)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.node.aae_on = true;
    c.node.aae_interval_ms = 200;
    c.node.tombstone_grace_ms = REAP_GRACE_MS;
    return fx_new_with(&c);
}

static void reap_del(rk_fixture *fx, rk_node_id via, const char *key)
{
    const fx_reply *r = fx_pumped(fx, fx_send(fx, via, RK_REQ_DEL, key, NULL, 0,
                                              RK_SLOPPY_BUCKET));
    assert_int_equal(r->kind, RK_REPLY_INT);
}

/* A key written through its first primary and then deleted there: a tombstone on its way
 * to every replica. */
static void reap_tombstone(rk_fixture *fx, fx_key *k)
{
    fx_key_find(fx, "", 0, k);
    fx_set(fx, k->p[0], k->name, "v1", RK_SLOPPY_BUCKET);
    reap_del(fx, k->p[0], k->name);
}

/* How many nodes store anything for key. */
static uint32_t reap_holders(rk_fixture *fx, const char *key)
{
    uint32_t holders = 0;
    for (rk_node_id id = 1; id <= rk_fixture_node_count(fx); id++) {
        holders += fx_local_len(fx, id, key) > 0 ? 1u : 0u;
    }
    return holders;
}

static uint64_t reap_total(rk_fixture *fx)
{
    uint64_t total = 0;
    for (rk_node_id id = 1; id <= rk_fixture_node_count(fx); id++) {
        total += fx_stats(fx, id)->tombstones_reaped;
    }
    return total;
}

/* The counter of the dot of `id`'s copy of key's only sibling written by `coordinator`. */
static uint64_t reap_dot(rk_fixture *fx, rk_node_id id, const char *key, rk_node_id coordinator)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    rk_dvvset set;
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    uint64_t counter = 0;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        if (set.siblings[i].dot.node == coordinator) {
            counter = set.siblings[i].dot.counter;
        }
    }
    rk_dvvset_deinit(&set);
    return counter;
}

static void test_tombstone_reaped_on_every_replica_after_grace(void **state)
{
    (void)state;
    rk_fixture *fx = reap_fixture();
    fx_key k;
    reap_tombstone(fx, &k);
    fx_pump(fx);
    assert_int_equal(reap_holders(fx, k.name), 3);
    fx_advance(fx, REAP_GRACE_MS / 2);
    assert_int_equal(reap_holders(fx, k.name), 3);     /* within the grace delay: kept */
    fx_advance(fx, REAP_SWEEP_MS);
    assert_int_equal(reap_holders(fx, k.name), 0);
    assert_int_equal(reap_total(fx), 3);
    assert_null(fx_get(fx, k.p[1], k.name, 3, RK_SLOPPY_BUCKET)->value);
    for (rk_node_id id = 1; id <= rk_fixture_node_count(fx); id++) {
        assert_true(rk_node_aae_matches_store(fx_node(fx, id)));
        assert_int_equal(fx_stats(fx, id)->tombstones_pending, 0);
    }
    fx_free(fx);
}

/* A member down (even one that holds no copy) or a hint held anywhere stops every reap; the
 * tombstones held back still count in tombstones_pending. */
static void test_no_reap_while_a_member_is_down_or_a_hint_is_held(void **state)
{
    (void)state;
    rk_fixture *fx = reap_fixture();
    fx_key k;
    reap_tombstone(fx, &k);
    fx_down(fx, k.f[0]);
    fx_advance(fx, REAP_SWEEP_MS);
    assert_int_equal(reap_holders(fx, k.name), 3);
    /* Held back, the tombstone is still counted: that is when an operator looks for it. */
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(fx_stats(fx, k.p[i])->tombstones_pending, 1);
    }
    fx_up(fx, k.f[0]);
    /* A write that misses a primary leaves a hint on a fallback. */
    fx_key other;
    fx_key_find(fx, "o", k.p[0], &other);
    fx_down(fx, other.p[2]);
    fx_set(fx, other.p[0], other.name, "x", RK_SLOPPY_BUCKET);
    assert_true(fx_hints_everywhere(fx) >= 1);
    fx_advance(fx, REAP_SWEEP_MS);
    assert_int_equal(reap_holders(fx, k.name), 3);     /* the hint holds every reap back */
    fx_up(fx, other.p[2]);
    fx_advance(fx, REAP_SWEEP_MS);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    assert_int_equal(reap_holders(fx, k.name), 0);
    fx_free(fx);
}

/* Create, delete, reap, re-create through the same coordinator: the new dot is above the first
 * life's. A duplicate of the first version's replica write, held in the network all along, is
 * delivered after the re-creation: the re-created value stands everywhere. */
static void test_recreated_key_is_not_taken_for_its_first_life(void **state)
{
    (void)state;
    rk_fixture *fx = reap_fixture();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_fixture_filter(fx, RK_FIXTURE_DUPLICATE, RK_MSG_PUT_REQ, k.p[0], k.p[2], 1);
    fx_set(fx, k.p[0], k.name, "first", RK_SLOPPY_BUCKET);
    fx_pump(fx);
    assert_int_equal(rk_fixture_held(fx), 1);
    uint64_t first_dot = reap_dot(fx, k.p[1], k.name, k.p[0]);
    reap_del(fx, k.p[0], k.name);
    fx_advance(fx, REAP_SWEEP_MS);
    assert_int_equal(reap_holders(fx, k.name), 0);
    fx_set(fx, k.p[0], k.name, "second", RK_SLOPPY_BUCKET);
    fx_pump(fx);
    assert_true(reap_dot(fx, k.p[1], k.name, k.p[0]) > first_dot);
    assert_int_equal(rk_fixture_release(fx), 1);    /* the late copy of "first" */
    fx_pump(fx);
    for (uint32_t i = 0; i < 3; i++) {
        bool has = false;
        fx_local_live(fx, k.p[i], k.name, "second", &has);
        assert_true(has);
        fx_assert_value(fx_get(fx, k.p[i], k.name, 3, RK_SLOPPY_BUCKET), "second");
    }
    fx_free(fx);
}

/* A replica whose tombstone is damaged answers "different" to the reap check, which finds the
 * damage: its tree is rebuilt without it, an exchange copies the tombstone back in, and the
 * reap goes through on every replica. */
static void test_damaged_tombstone_is_repaired_then_reaped(void **state)
{
    (void)state;
    rk_fixture *fx = reap_fixture();
    fx_key k;
    reap_tombstone(fx, &k);
    fx_pump(fx);
    fx_advance(fx, 5000);
    assert_true(rk_fixture_damage(fx, k.p[1]) >= 1);
    fx_advance(fx, 3 * REAP_SWEEP_MS);
    assert_int_equal(reap_holders(fx, k.name), 0);
    assert_true(fx_stats(fx, k.p[1])->aae_damaged_objects >= 1);
    /* The damaged replica reaped a repaired tombstone: nothing damaged is left behind. */
    assert_int_equal(fx_stats(fx, k.p[1])->tombstones_reaped, 1);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tombstone_reaped_on_every_replica_after_grace, fx_teardown),
        cmocka_unit_test_teardown(test_no_reap_while_a_member_is_down_or_a_hint_is_held,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_recreated_key_is_not_taken_for_its_first_life,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_damaged_tombstone_is_repaired_then_reaped, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
