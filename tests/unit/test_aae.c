/* test_aae.c — active anti-entropy on whole core nodes (issue 17; tests/unit/sim_fixture.h):
 * the trees kept on every write equal trees rebuilt from the store, a wiped node is refilled
 * by exchanges alone (read repair off), a damaged copy nobody reads is found by RK.REPAIR's
 * rebuild or the periodic one and repaired without its bytes reaching another node, and an
 * exchange acts only on what differed twice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/hash.h"
#include "../../src/core/ring.h"
#include "sim_fixture.h"

#define AAE_KEYS 300u

/* Five nodes, N=3, anti-entropy on every 200 ms; read repair off unless `read_repair`. */
static rk_fixture *aae_fixture_every(bool read_repair, uint32_t rebuild_ms, uint32_t interval_ms)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.node.aae_on = true;
    c.node.aae_interval_ms = interval_ms;
    c.node.read_repair = read_repair;
    if (rebuild_ms != 0) {
        c.node.aae_rebuild_ms = rebuild_ms;
    }
    return fx_new_with(&c);
}

static rk_fixture *aae_fixture(bool read_repair, uint32_t rebuild_ms)
{
    return aae_fixture_every(read_repair, rebuild_ms, 200);
}

static void aae_key_name(uint32_t i, char *out, size_t out_bytes)
{
    snprintf(out, out_bytes, "aae:%u", i);
}

/* Write AAE_KEYS keys through rotating nodes (never `down`), some overwritten and some
 * deleted. */
static void aae_fill(rk_fixture *fx, rk_node_id down)
{
    uint32_t nodes = rk_fixture_node_count(fx);
    char key[32];
    for (uint32_t i = 0; i < AAE_KEYS; i++) {
        aae_key_name(i, key, sizeof(key));
        rk_node_id via = (rk_node_id)(1 + i % nodes);
        via = via == down ? (rk_node_id)(1 + via % nodes) : via;
        assert_int_equal(fx_set(fx, via, key, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
        if (i % 7 == 0) {
            assert_int_equal(fx_set(fx, via, key, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
        }
        if (i % 11 == 0) {
            assert_int_equal(fx_pumped(fx, fx_send(fx, via, RK_REQ_DEL, key, NULL, 0,
                                                   RK_SLOPPY_BUCKET))->kind,
                             RK_REPLY_INT);
        }
    }
    fx_pump(fx);
}

/* Whether node `id` is a primary of key. */
static bool aae_is_primary(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_node_id list[RK_SIM_NODES_MAX];
    uint32_t primaries = 0;
    rk_node_preflist(fx_node(fx, 1), (const uint8_t *)key, strlen(key), list, RK_SIM_NODES_MAX,
                     &primaries);
    for (uint32_t i = 0; i < primaries; i++) {
        if (list[i] == id) {
            return true;
        }
    }
    return false;
}

/* Every primary of every key holds the same intact bytes; how many keys `id` is a primary of. */
static uint32_t aae_assert_replicas_equal(rk_fixture *fx, rk_node_id id)
{
    uint32_t held = 0;
    char key[32];
    for (uint32_t i = 0; i < AAE_KEYS; i++) {
        aae_key_name(i, key, sizeof(key));
        rk_buf first = {0};
        bool have_first = false;
        for (rk_node_id n = 1; n <= rk_fixture_node_count(fx); n++) {
            if (!aae_is_primary(fx, n, key)) {
                continue;
            }
            rk_buf copy;
            assert_int_equal(rk_fixture_local_get(fx, n, key, &copy), 0);
            assert_true(copy.len > 0);
            assert_true(rk_dvvset_frame_ok(copy.data, copy.len));
            held += n == id ? 1 : 0;
            if (!have_first) {
                first = copy;
                have_first = true;
                continue;
            }
            assert_int_equal(copy.len, first.len);
            assert_memory_equal(copy.data, first.data, copy.len);
            rk_store_buf_free(&copy);
        }
        rk_store_buf_free(&first);
    }
    return held;
}

static void aae_assert_trees_match_stores(rk_fixture *fx)
{
    for (rk_node_id id = 1; id <= rk_fixture_node_count(fx); id++) {
        assert_true(rk_node_aae_matches_store(fx_node(fx, id)));
    }
}

/* Trees kept by writes of every path (coordinated, replicated, deleted, handed off) equal trees
 * rebuilt from the stores, and every node built every tree. */
static void test_kept_trees_equal_rebuilt_trees(void **state)
{
    (void)state;
    rk_fixture *fx = aae_fixture(true, 0);
    fx_advance(fx, 5000);       /* 64 partitions, one a tick */
    for (rk_node_id id = 1; id <= rk_fixture_node_count(fx); id++) {
        assert_int_equal(fx_stats(fx, id)->aae_trees_built, 64);
    }
    fx_down(fx, 2);             /* some writes go to fallbacks, then are handed off */
    aae_fill(fx, 2);
    aae_assert_trees_match_stores(fx);
    fx_up(fx, 2);
    fx_advance(fx, 20000);
    aae_assert_trees_match_stores(fx);
    aae_assert_replicas_equal(fx, 2);
    fx_free(fx);
}

/* A node that lost its disk gets every key it is a primary of back from exchanges alone: read
 * repair is off and nobody reads. */
static void test_wiped_node_refilled_by_exchanges_alone(void **state)
{
    (void)state;
    rk_fixture *fx = aae_fixture(false, 0);
    aae_fill(fx, 0);
    fx_advance(fx, 5000);
    rk_fixture_wipe(fx, 3);
    rk_fixture_restart(fx, 3);
    assert_int_equal(fx_stats(fx, 3)->keys_live, 0);
    fx_advance(fx, 60000);
    uint32_t held = aae_assert_replicas_equal(fx, 3);
    assert_true(held > AAE_KEYS / 5 * 2);
    assert_true(fx_stats(fx, 3)->aae_keys_repaired + fx_stats(fx, 1)->aae_keys_repaired +
                    fx_stats(fx, 2)->aae_keys_repaired + fx_stats(fx, 4)->aae_keys_repaired +
                    fx_stats(fx, 5)->aae_keys_repaired >=
                held);
    assert_int_equal(fx_stats(fx, 3)->read_repairs, 0);
    aae_assert_trees_match_stores(fx);
    fx_free(fx);
}

/* Every object of node 2 damaged behind its back: RK.REPAIR rebuilds its trees (the rebuild
 * checks each checksum), the exchanges find every damaged key missing there and copy intact
 * objects in; no damaged byte reaches another node. */
static void test_damage_found_by_repair_and_never_spread(void **state)
{
    (void)state;
    rk_fixture *fx = aae_fixture(false, 0);
    aae_fill(fx, 0);
    fx_advance(fx, 5000);
    uint32_t damaged = rk_fixture_damage(fx, 2);
    assert_true(damaged > AAE_KEYS / 5);
    fx_advance(fx, 5000);       /* the kept trees do not see it: nothing repaired yet */
    assert_int_equal(fx_stats(fx, 2)->aae_keys_repaired, 0);
    int queued = rk_node_aae_repair(fx_node(fx, 2), true, 0);
    assert_true(queued > 0);
    assert_int_equal(fx_stats(fx, 2)->aae_repair_pending, (uint64_t)queued);
    fx_advance(fx, 60000);
    assert_int_equal(fx_stats(fx, 2)->aae_repair_pending, 0);
    assert_true(fx_stats(fx, 2)->aae_damaged_objects >= damaged);
    aae_assert_replicas_equal(fx, 2);   /* every copy intact and equal */
    aae_assert_trees_match_stores(fx);
    assert_int_equal(rk_node_aae_repair(fx_node(fx, 2), false, 64), RK_EINVAL);
    fx_free(fx);
}

/* Without RK.REPAIR, the periodic rebuild finds the damage too. */
static void test_damage_found_by_periodic_rebuild(void **state)
{
    (void)state;
    rk_fixture *fx = aae_fixture(false, 3000);
    aae_fill(fx, 0);
    fx_advance(fx, 5000);
    assert_true(rk_fixture_damage(fx, 4) > 0);
    fx_advance(fx, 60000);
    aae_assert_replicas_equal(fx, 4);
    fx_free(fx);
}

/* A difference that a write in flight explains is not acted on: a replica write to the key's
 * third primary is held in the network while RK.REPAIR runs an exchange; the first look sees
 * the key differ, the write lands during the pause before the second look, and nothing is
 * repaired. */
static void test_difference_confirmed_twice(void **state)
{
    (void)state;
    /* Periodic exchanges every 10 minutes: only RK.REPAIR's run in this test. */
    rk_fixture *fx = aae_fixture_every(false, 0, 600000);
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    fx_set(fx, k.p[0], k.name, "v1", RK_SLOPPY_BUCKET);
    fx_advance(fx, 5000);
    rk_node *p1 = fx_node(fx, k.p[0]);
    uint32_t partition = rk_ring_partition_of(rk_node_ring(p1),
                                              rk_hash_key((const uint8_t *)k.name,
                                                          strlen(k.name)));
    rk_fixture_filter(fx, RK_FIXTURE_HOLD, RK_MSG_PUT_REQ, k.p[0], k.p[2], 1);
    assert_int_equal(fx_set(fx, k.p[0], k.name, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(rk_fixture_held(fx), 1);
    uint64_t asked = rk_fixture_delivered(fx, RK_MSG_AAE_REQ, k.p[2]);
    assert_int_equal(rk_node_aae_repair(p1, false, partition), 2);
    /* Branches, segments, keys: the third request to p3 is the first look at the key. */
    for (uint32_t step = 0; rk_fixture_delivered(fx, RK_MSG_AAE_REQ, k.p[2]) < asked + 3; step++) {
        assert_true(step < 1000);
        fx_advance(fx, 1);
    }
    fx_advance(fx, 20);     /* its answer is in: the key differs, the pause has begun */
    assert_int_equal(rk_fixture_release(fx), 1);
    fx_advance(fx, 20000);
    assert_int_equal(fx_stats(fx, k.p[0])->aae_keys_repaired, 0);
    assert_int_equal(fx_stats(fx, k.p[0])->aae_keys_unconfirmed, 1);
    assert_int_equal(fx_stats(fx, k.p[0])->aae_exchanges, 2);
    bool has = false;
    fx_local_live(fx, k.p[2], k.name, "v2", &has);
    assert_true(has);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kept_trees_equal_rebuilt_trees, fx_teardown),
        cmocka_unit_test_teardown(test_wiped_node_refilled_by_exchanges_alone, fx_teardown),
        cmocka_unit_test_teardown(test_damage_found_by_repair_and_never_spread, fx_teardown),
        cmocka_unit_test_teardown(test_damage_found_by_periodic_rebuild, fx_teardown),
        cmocka_unit_test_teardown(test_difference_confirmed_twice, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
