/* test_cart_node.c — the cart's commands on whole core nodes (the simulator fixture,
 * tests/unit/sim_fixture.h): a set command is a read-modify-write at the bucket's R, so a
 * remove through a node that missed an add still removes it, and an add's reply counts what
 * the quorum held, not only the coordinator; typed reads answer through any node; a bucket
 * changes to or from a merge type only while no member stores a live key of it; a set's clock
 * does not grow with crashes of its replicas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/elems.h"
#include "sim_fixture.h"

/* SADD / SREM `member` on key through `id`, pumped to its reply. */
static const fx_reply *cart_write(rk_fixture *fx, rk_node_id id, rk_op_kind op, const char *key,
                                  const char *member)
{
    return fx_member_write(fx, id, op, key, member);
}

static const fx_reply *cart_read(rk_fixture *fx, rk_node_id id, rk_read_kind op, const char *key,
                                 const char *arg)
{
    rk_request req = {.kind = RK_REQ_READ,
                      .op = (uint8_t)op,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key),
                      .value = (const uint8_t *)arg,
                      .value_len = arg != NULL ? strlen(arg) : 0};
    int64_t handle = rk_fixture_request(fx, id, &req);
    assert_true(handle > 0);
    return fx_pumped(fx, handle);
}

static rk_fixture *cart_fixture(const char *policy)
{
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "cart", "policy", policy, 5);
    return fx;
}

/* An add that reached p1 and p3 only (p2 dropped it): an SREM through p2, whose own copy lacks
 * the member, still removes it, because it reads R = 2 first; the same for SADD's count. */
static void run_remove_through_node_that_missed_the_add(const char *policy)
{
    rk_fixture *fx = cart_fixture(policy);
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, k.p[0], k.p[1], 0);
    const fx_reply *r = cart_write(fx, k.p[0], RK_OP_SADD, k.name, "book");
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 1);
    rk_fixture_release(fx);
    assert_int_equal(fx_local_len(fx, k.p[1], k.name), 0);     /* p2 never got it */

    r = cart_write(fx, k.p[1], RK_OP_SADD, k.name, "book");
    assert_int_equal(r->integer, 0);    /* already a member at the quorum */
    r = cart_write(fx, k.p[1], RK_OP_SREM, k.name, "book");
    assert_int_equal(r->integer, 1);
    r = cart_read(fx, k.p[2], RK_READ_SCARD, k.name, NULL);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 0);
    fx_free(fx);
}

static void test_set_remove_reads_at_r_first(void **state)
{
    (void)state;
    run_remove_through_node_that_missed_the_add("set");
}

static void test_union_remove_reads_at_r_first(void **state)
{
    (void)state;
    run_remove_through_node_that_missed_the_add("union");
}

/* SMEMBERS through a node that is no replica answers the members sorted; TYPE says set; a
 * plain GET of the key is of the wrong type. */
static void test_typed_reads_through_any_node(void **state)
{
    (void)state;
    rk_fixture *fx = cart_fixture("set");
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    cart_write(fx, k.p[0], RK_OP_SADD, k.name, "pen");
    cart_write(fx, k.p[1], RK_OP_SADD, k.name, "book");
    const fx_reply *r = cart_read(fx, k.f[0], RK_READ_SMEMBERS, k.name, NULL);
    assert_int_equal(r->kind, RK_REPLY_SET);
    assert_int_equal(r->value_count, 2);
    assert_memory_equal(r->values[0], "book", 4);
    assert_memory_equal(r->values[1], "pen", 3);
    r = cart_read(fx, k.f[0], RK_READ_TYPE, k.name, NULL);
    assert_int_equal(r->kind, RK_REPLY_STATUS);
    assert_memory_equal(r->value, "set", 3);
    r = fx_get(fx, k.f[0], k.name, 0, RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EWRONGTYPE);
    fx_free(fx);
}

/* RK.BUCKET SET policy lww on a set bucket holding a live key is refused, naming the reason;
 * after the key is deleted (DEL removes what it observed) it is accepted. */
static void test_policy_change_waits_for_no_live_key(void **state)
{
    (void)state;
    rk_fixture *fx = cart_fixture("set");
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    cart_write(fx, k.p[0], RK_OP_SADD, k.name, "pen");
    /* Asked through a node that stores none of it: the others must say so. */
    int64_t handle = rk_fixture_bucket_set(fx, k.f[0], "cart", "policy", "lww");
    const fx_reply *r = fx_pumped(fx, handle);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_non_null(strstr(r->message, "holds live keys"));
    r = fx_pumped(fx, fx_send(fx, k.p[1], RK_REQ_DEL, k.name, NULL, 0, RK_SLOPPY_BUCKET));
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 1);
    fx_bucket_set(fx, k.f[0], "cart", "policy", "lww", 5);
    /* The deleted set gives way to a value and keeps its history. */
    r = fx_set(fx, k.p[0], k.name, "plain", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    fx_free(fx);
}

/* A member unreachable: the check cannot be made, and the change is refused as unavailable. */
static void test_policy_change_needs_every_member(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_down(fx, 4);
    int64_t handle = rk_fixture_bucket_set(fx, 1, "cart", "policy", "set");
    const fx_reply *r = fx_pumped(fx, handle);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    assert_non_null(strstr(r->message, "node 4 is unreachable"));
    fx_free(fx);
}

/* The entries of `id`'s own clock of key. */
static uint32_t cart_clock_entries(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_buf buf;
    rk_dvvset set;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    assert_true(buf.len > 0);
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    uint32_t entries = set.history.entry_count;
    rk_dvvset_deinit(&set);
    return entries;
}

/* A cart edited through 100 crashes (kill -9: unsynced writes lost, the epoch bumped) of its
 * replicas, each followed by an add through a replica: its clock keeps one entry per
 * coordinating node, far below the bound, and every acknowledged add is there. A set's write
 * is durable on its coordinator before it is sent, so no crash leaves a gap in the clock. */
static void test_set_clock_does_not_grow_with_crashes(void **state)
{
    (void)state;
    rk_fixture *fx = cart_fixture("set");
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    uint32_t acked = 0;
    for (uint32_t i = 0; i < 100; i++) {
        fx_crash_restart(fx, k.p[i % 3]);
        fx_pump(fx);
        char member[16];
        snprintf(member, sizeof(member), "item%u", i);
        const fx_reply *r = cart_write(fx, k.p[(i + 1) % 3], RK_OP_SADD, k.name, member);
        assert_int_equal(r->kind, RK_REPLY_INT);
        acked += (uint32_t)r->integer;
    }
    assert_int_equal(acked, 100);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(cart_clock_entries(fx, k.p[i], k.name) <= 3);
    }
    const fx_reply *r = cart_read(fx, k.f[0], RK_READ_SCARD, k.name, NULL);
    assert_int_equal(r->integer, 100);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_set_remove_reads_at_r_first, fx_teardown),
        cmocka_unit_test_teardown(test_union_remove_reads_at_r_first, fx_teardown),
        cmocka_unit_test_teardown(test_typed_reads_through_any_node, fx_teardown),
        cmocka_unit_test_teardown(test_policy_change_waits_for_no_live_key, fx_teardown),
        cmocka_unit_test_teardown(test_policy_change_needs_every_member, fx_teardown),
        cmocka_unit_test_teardown(test_set_clock_does_not_grow_with_crashes, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
