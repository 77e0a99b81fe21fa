/* test_counter_node.c — counters and maps on whole core nodes (the simulator fixture,
 * tests/unit/sim_fixture.h): no acknowledged increment is lost when a coordinator's own copy
 * is lost (a wiped store) or handed back by a fallback, because a coordinator advances its own
 * actor only from a base known to hold every replica's view of it (policy_fields.h); INCR is a
 * read-modify-write at R whose reply counts what the quorum held; a map's HINCRBY and HGET
 * answer through any node. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/elems.h"
#include "sim_fixture.h"

/* INCRBY `delta` on key through `id`, pumped to its reply. */
static const fx_reply *counter_incr(rk_fixture *fx, rk_node_id id, const char *key,
                                    int64_t delta)
{
    uint8_t arg[RK_OP_INCREMENT_BYTES];
    rk_op_increment_encode(delta, arg);
    rk_request req = {.kind = RK_REQ_WRITE,
                      .op = RK_OP_INCRBY,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key),
                      .value = arg,
                      .value_len = sizeof(arg)};
    int64_t handle = rk_fixture_request(fx, id, &req);
    assert_true(handle > 0);
    return fx_pumped(fx, handle);
}

/* GET of a counter through `id` at R = `r` (0: the bucket's), as a number (INT64_MIN: nil). */
static int64_t counter_get(rk_fixture *fx, rk_node_id id, const char *key, uint32_t r)
{
    const fx_reply *reply = fx_get(fx, id, key, r, RK_SLOPPY_BUCKET);
    if (reply->kind == RK_REPLY_NIL) {
        return INT64_MIN;
    }
    assert_int_equal(reply->kind, RK_REPLY_VALUE);
    char text[32];
    assert_true(reply->value_len < sizeof(text));
    memcpy(text, reply->value, reply->value_len);
    text[reply->value_len] = '\0';
    return strtoll(text, NULL, 10);
}

static rk_fixture *counter_fixture(void)
{
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "cnt", "policy", "counter", 5);
    return fx;
}

/* p1 coordinates two increments, the second reaching only p1 and p3; then p1's disk is lost.
 * Its next increment reads at R = 2 from itself (empty) and p2, which holds the first only: a
 * coordinator that advanced its old actor from that view would write 2 over p3's 2, and the
 * maximum would drop an acknowledged increment. It starts a fresh actor instead: 3 at the end. */
static void test_counter_wiped_coordinator_loses_no_increment(void **state)
{
    (void)state;
    rk_fixture *fx = counter_fixture();
    fx_key k;
    fx_key_find(fx, "cnt:", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2];
    const fx_reply *r = counter_incr(fx, p1, k.name, 1);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 1);
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, p1, p2, 0);
    r = counter_incr(fx, p1, k.name, 1);
    assert_int_equal(r->integer, 2);
    rk_fixture_release(fx);
    fx_pump(fx);

    rk_fixture_wipe(fx, p1);
    rk_fixture_restart(fx, p1);
    fx_pump(fx);
    /* A wiped node forgot the bucket's properties too (membership gossip is a later issue). */
    fx_bucket_set(fx, p2, "cnt", "policy", "counter", 5);
    fx_down(fx, p3);        /* the read before the write hears p1 (empty) and p2 (stale) */
    uint64_t created = fx_stats(fx, p1)->counter_actors_created;
    r = counter_incr(fx, p1, k.name, 1);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(fx_stats(fx, p1)->counter_actors_created, created + 1);
    fx_up(fx, p3);
    fx_pump(fx);
    assert_int_equal(counter_get(fx, k.f[0], k.name, 3), 3);
    /* A fourth increment through the same node advances its new actor in place. */
    r = counter_incr(fx, p1, k.name, 1);
    assert_int_equal(r->integer, 4);
    assert_int_equal(fx_stats(fx, p1)->counter_actors_created, created + 1);
    fx_free(fx);
}

/* The first increment reaches p1 and p3 only; p1's disk is lost and p3 is down, so the read
 * before the next increment hears nothing of the first (p2 never had it). A new store mints in
 * another region (rk_clock_store_floor): its fresh actor cannot take the old actor's dot, which
 * the merge would then count once. Both increments count. */
static void test_counter_wiped_coordinator_that_read_nothing_mints_a_new_dot(void **state)
{
    (void)state;
    rk_fixture *fx = counter_fixture();
    fx_key k;
    fx_key_find(fx, "cnt:", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2];
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, p1, p2, 0);
    assert_int_equal(counter_incr(fx, p1, k.name, 1)->integer, 1);
    rk_fixture_release(fx);
    fx_pump(fx);
    rk_dot first = fx_local_dot(fx, p3, k.name);
    rk_fixture_wipe(fx, p1);
    rk_fixture_restart(fx, p1);
    fx_pump(fx);
    fx_bucket_set(fx, p2, "cnt", "policy", "counter", 5);
    fx_down(fx, p3);
    assert_int_equal(counter_incr(fx, p1, k.name, 1)->integer, 1);   /* all it could see */
    assert_true(fx_local_dot(fx, p1, k.name).counter != first.counter);
    fx_up(fx, p3);
    fx_pump(fx);
    assert_int_equal(counter_get(fx, k.f[0], k.name, 3), 2);
    fx_free(fx);
}

/* Every primary down: a fallback coordinates two increments, then hands the key back and
 * deletes its copy. Down again, its next increment cannot know what its old actor reached
 * (its copy is gone): it starts a fresh one. After the owners return, the total is 3. */
static void test_counter_fallback_handback_loses_no_increment(void **state)
{
    (void)state;
    rk_fixture *fx = counter_fixture();
    fx_key k;
    fx_key_find(fx, "cnt:", 0, &k);
    rk_node_id f1 = k.f[0];
    for (uint32_t i = 0; i < 3; i++) {
        fx_down(fx, k.p[i]);
    }
    assert_int_equal(counter_incr(fx, f1, k.name, 1)->integer, 1);
    assert_int_equal(counter_incr(fx, f1, k.name, 1)->integer, 2);
    assert_int_equal(fx_stats(fx, f1)->counter_actors_created, 1);
    for (uint32_t i = 0; i < 3; i++) {
        fx_up(fx, k.p[i]);
    }
    for (uint32_t round = 0; round < 20 && fx_hints_everywhere(fx) > 0; round++) {
        fx_advance(fx, 350);
    }
    assert_int_equal(fx_hints_everywhere(fx), 0);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);      /* handed back and deleted */

    for (uint32_t i = 0; i < 3; i++) {
        fx_down(fx, k.p[i]);
    }
    const fx_reply *r = counter_incr(fx, f1, k.name, 1);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(fx_stats(fx, f1)->counter_actors_created, 2);
    for (uint32_t i = 0; i < 3; i++) {
        fx_up(fx, k.p[i]);
    }
    for (uint32_t round = 0; round < 20 && fx_hints_everywhere(fx) > 0; round++) {
        fx_advance(fx, 350);
    }
    assert_int_equal(counter_get(fx, k.p[0], k.name, 3), 3);
    fx_free(fx);
}

/* A coordinator whose copy missed increments still answers INCR with the quorum's total: it
 * reads at R = 2 before it applies. Crashes (kill -9) of the coordinator do not start fresh
 * actors: its copy was durable before anything was sent. */
static void test_counter_incr_counts_the_quorum_and_survives_crashes(void **state)
{
    (void)state;
    rk_fixture *fx = counter_fixture();
    fx_key k;
    fx_key_find(fx, "cnt:", 0, &k);
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, k.p[0], k.p[1], 0);
    assert_int_equal(counter_incr(fx, k.p[0], k.name, 5)->integer, 5);
    rk_fixture_release(fx);
    assert_int_equal(fx_local_len(fx, k.p[1], k.name), 0);
    assert_int_equal(counter_incr(fx, k.p[1], k.name, -2)->integer, 3);
    for (uint32_t i = 0; i < 10; i++) {
        fx_crash_restart(fx, k.p[0]);
        fx_pump(fx);
        assert_int_equal(counter_incr(fx, k.p[0], k.name, 1)->integer, 4 + (int64_t)i);
    }
    assert_int_equal(fx_stats(fx, k.p[0])->counter_actors_created, 0);   /* a new incarnation */
    assert_int_equal(counter_get(fx, k.f[1], k.name, 3), 13);
    fx_free(fx);
}

/* A DEL through p2 resets p1's actor (RP = P); p1's next INCR still advances that actor — the
 * sums it owns are unchanged — so removes elsewhere do not use up the actor bound, and the new
 * value counts only what came after the DEL. */
static void test_counter_remove_elsewhere_keeps_the_actor(void **state)
{
    (void)state;
    rk_fixture *fx = counter_fixture();
    fx_key k;
    fx_key_find(fx, "cnt:", 0, &k);
    for (uint32_t round = 0; round < 40; round++) {
        assert_int_equal(counter_incr(fx, k.p[0], k.name, 3)->integer, 3);
        const fx_reply *r =
            fx_pumped(fx, fx_send(fx, k.p[1], RK_REQ_DEL, k.name, NULL, 0, RK_SLOPPY_BUCKET));
        assert_int_equal(r->kind, RK_REPLY_INT);
        assert_int_equal(r->integer, 1);
        assert_int_equal(counter_get(fx, k.p[2], k.name, 0), INT64_MIN);
    }
    assert_int_equal(fx_stats(fx, k.p[0])->counter_actors_created, 1);
    fx_free(fx);
}

/* HINCRBY on a map through two nodes, read through a third: quantities add up, HGET answers
 * the decimal, and a concurrent HDEL (p2 saw 2 of the 5) keeps the 3 it did not see. */
static void test_map_hincrby_through_any_node(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "cart", "policy", "map", 5);
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    uint8_t amount[RK_OP_INCREMENT_BYTES] = {2};
    const uint8_t *parts[2] = {(const uint8_t *)"pen", amount};
    size_t lens[2] = {3, sizeof(amount)};
    uint8_t arg[64];
    size_t len = rk_elems_encode(parts, lens, 2, arg);
    rk_request req = {.kind = RK_REQ_WRITE, .op = RK_OP_HINCRBY,
                      .key = (const uint8_t *)k.name, .key_len = strlen(k.name),
                      .value = arg, .value_len = len};
    assert_int_equal(fx_pumped(fx, rk_fixture_request(fx, k.p[0], &req))->integer, 2);
    amount[0] = 3;
    len = rk_elems_encode(parts, lens, 2, arg);
    assert_int_equal(fx_pumped(fx, rk_fixture_request(fx, k.p[1], &req))->integer, 5);
    rk_request get = {.kind = RK_REQ_READ, .op = RK_READ_HGET,
                      .key = (const uint8_t *)k.name, .key_len = strlen(k.name),
                      .value = (const uint8_t *)"pen", .value_len = 3};
    const fx_reply *r = fx_pumped(fx, rk_fixture_request(fx, k.f[0], &get));
    fx_assert_value(r, "5");
    fx_free(fx);
}

/* HSET or HDEL of `field` (and `value`) on key through `id`, pumped to its reply. */
static const fx_reply *map_write(rk_fixture *fx, rk_node_id id, const char *key, rk_op_kind op,
                                 const char *field, const char *value)
{
    const uint8_t *parts[2] = {(const uint8_t *)field, (const uint8_t *)value};
    size_t lens[2] = {strlen(field), value != NULL ? strlen(value) : 0};
    uint8_t arg[128];
    size_t len = rk_elems_encode(parts, lens, value != NULL ? 2 : 1, arg);
    rk_request req = {.kind = RK_REQ_WRITE, .op = (uint8_t)op, .key = (const uint8_t *)key,
                      .key_len = strlen(key), .value = arg, .value_len = len};
    return fx_pumped(fx, rk_fixture_request(fx, id, &req));
}

/* A fallback's HSET, handed back and removed by an HDEL; a second HSET through the same
 * fallback must not mint the first one's dot again (the removed dot would swallow it): every
 * dot a fallback mints, registers included, moves its node-wide counter. Found in review. */
static void test_map_fallback_hset_mints_a_new_dot_after_handback(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "cart", "policy", "map", 5);
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    rk_node_id f1 = k.f[0];
    for (uint32_t round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < 3; i++) {
            fx_down(fx, k.p[i]);
        }
        const fx_reply *r = map_write(fx, f1, k.name, RK_OP_HSET, "f", round == 0 ? "a" : "b");
        assert_int_equal(r->kind, RK_REPLY_INT);
        for (uint32_t i = 0; i < 3; i++) {
            fx_up(fx, k.p[i]);
        }
        for (uint32_t tick = 0; tick < 20 && fx_hints_everywhere(fx) > 0; tick++) {
            fx_advance(fx, 350);
        }
        assert_int_equal(fx_hints_everywhere(fx), 0);
        if (round == 0) {
            assert_int_equal(map_write(fx, k.p[0], k.name, RK_OP_HDEL, "f", NULL)->integer, 1);
            fx_pump(fx);
        }
    }
    rk_request get = {.kind = RK_REQ_READ, .op = RK_READ_HGET, .key = (const uint8_t *)k.name,
                      .key_len = strlen(k.name), .value = (const uint8_t *)"f", .value_len = 1,
                      .r = 3};
    fx_assert_value(fx_pumped(fx, rk_fixture_request(fx, k.p[1], &get)), "b");
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_counter_wiped_coordinator_loses_no_increment, fx_teardown),
        cmocka_unit_test_teardown(test_counter_wiped_coordinator_that_read_nothing_mints_a_new_dot,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_counter_fallback_handback_loses_no_increment,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_counter_incr_counts_the_quorum_and_survives_crashes,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_counter_remove_elsewhere_keeps_the_actor, fx_teardown),
        cmocka_unit_test_teardown(test_map_hincrby_through_any_node, fx_teardown),
        cmocka_unit_test_teardown(test_map_fallback_hset_mints_a_new_dot_after_handback,
                                  fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
