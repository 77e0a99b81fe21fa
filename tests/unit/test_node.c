/* test_node.c — the node as a pure state machine over the mem store: requests, replies,
 * limits, and above all "acknowledged only after durable". Each test runs one core node in the
 * simulator's stepping fixture (tests/unit/sim_fixture.h over src/sim/fixture.h): requests are
 * handed to it at a virtual instant, syncs complete a few simulated ms later (or fail when the
 * test says so), the mem store's crash layer drops what was not synced, and a loop over every
 * crash point checks that no acknowledged write is lost (issue 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/dvvset.h"
#include "../../src/core/node.h"
#include "sim_fixture.h"

#define NODE 1u     /* the one node of every world here */

/* A world of one node (N=R=W=1) with the default node config. */
static void node_config_one(rk_fixture_config *c)
{
    rk_fixture_config_default(c);
    c->nodes = 1;
    c->node.default_n = 1;
    c->node.default_r = 1;
    c->node.default_w = 1;
}

/* One node with small limits and `policy`; its start-up epoch write is durable. */
static rk_fixture *node_start(rk_sync_policy policy)
{
    rk_fixture_config c;
    node_config_one(&c);
    c.node.sync = policy;
    c.node.value_bytes_max = 32;
    c.node.key_bytes_max = 16;
    return fx_new_with(&c);
}

/* Hand a request to the node and run what is due at once: nothing a sync would complete. */
static int64_t node_send(rk_fixture *fx, rk_request_kind kind, const char *key, const char *value)
{
    int64_t handle = fx_send(fx, NODE, kind, key, value, 0, RK_SLOPPY_BUCKET);
    rk_fixture_run_due(fx);
    return handle;
}

static const fx_reply *node_reply(rk_fixture *fx, int64_t handle)
{
    return rk_fixture_reply_get(fx, handle);
}

/* A put is answered only once durable under `batch`, and a get sees it at once. */
static void test_put_acknowledged_after_durable(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    int64_t put = node_send(fx, RK_REQ_PUT, "k", "v1");
    assert_null(node_reply(fx, put));
    int64_t get = node_send(fx, RK_REQ_GET, "k", NULL);
    const fx_reply *r = node_reply(fx, get);
    assert_non_null(r);
    fx_assert_value(r, "v1");
    assert_null(node_reply(fx, put));           /* the sync is still under way */
    const fx_reply *ack = fx_wait(fx, put);
    assert_int_equal(ack->kind, RK_REPLY_OK);
    assert_int_equal(fx_stats(fx, NODE)->acks_before_durable, 0);
    fx_free(fx);
}

/* Writes that arrive together share one sync (group commit): writes_synced / sync_calls > 1.
 * The simulator's disk, like the runtime's sync worker, runs one sync at a time, and the writes
 * asked for meanwhile share the next: ten puts that arrive while a first sync is under way are
 * all covered by the one sync after it. */
static void test_batch_writes_share_one_sync(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    int64_t first = node_send(fx, RK_REQ_PUT, "k", "v");
    int64_t handles[10];
    for (uint64_t i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%llu", (unsigned long long)i);
        handles[i] = node_send(fx, RK_REQ_PUT, key, "v");
    }
    fx_wait(fx, first);
    const rk_node_stats *st = fx_stats(fx, NODE);
    uint64_t syncs_before = st->sync_calls;
    uint64_t synced_before = st->writes_synced;
    for (uint32_t i = 0; i < 10; i++) {
        assert_null(node_reply(fx, handles[i]));
    }
    fx_pump(fx);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(fx_wait(fx, handles[i])->kind, RK_REPLY_OK);
    }
    assert_int_equal(st->sync_calls - syncs_before, 1);
    assert_int_equal(st->writes_synced - synced_before, 10);
    assert_int_equal(st->keys_live, 11);
    fx_free(fx);
}

/* Under `none` a write is answered at once and counted as acknowledged before durable. */
static void test_sync_none_acks_at_once_and_counts_it(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_NONE);
    uint64_t syncs_before = fx_stats(fx, NODE)->sync_calls;
    int64_t put = node_send(fx, RK_REQ_PUT, "k", "v");
    assert_non_null(node_reply(fx, put));
    assert_int_equal(fx_stats(fx, NODE)->acks_before_durable, 1);
    /* the store is still asked to catch up: the lazy sync completes later */
    fx_pump(fx);
    assert_true(fx_stats(fx, NODE)->sync_calls > syncs_before);
    fx_free(fx);
}

/* DEL answers 1 for a live key and 0 for an absent or deleted one; the tombstone hides it. */
static void test_del_counts_live_keys_only(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_ALWAYS);
    fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "v"));
    const fx_reply *del = fx_wait(fx, node_send(fx, RK_REQ_DEL, "k", NULL));
    /* A DEL of a deleted key still writes its tombstone (replicas that missed the first
     * delete learn it), so it too waits for durability. */
    int64_t again_handle = node_send(fx, RK_REQ_DEL, "k", NULL);
    assert_null(node_reply(fx, again_handle));
    const fx_reply *again = fx_wait(fx, again_handle);
    const fx_reply *exists = fx_wait(fx, node_send(fx, RK_REQ_EXISTS, "k", NULL));
    const fx_reply *get = fx_wait(fx, node_send(fx, RK_REQ_GET, "k", NULL));
    assert_int_equal(del->integer, 1);
    assert_int_equal(again->integer, 0);
    assert_int_equal(exists->integer, 0);
    assert_int_equal(get->kind, RK_REPLY_NIL);
    assert_int_equal(fx_stats(fx, NODE)->keys_live, 0);
    fx_free(fx);
}

/* Keys and values over the limits are refused with RK_ETOOBIG; at the limit they pass. */
static void test_limits_on_both_sides(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_NONE);
    char key16[17] = "kkkkkkkkkkkkkkkk";
    char key17[18] = "kkkkkkkkkkkkkkkkk";
    char value32[33];
    char value33[34];
    memset(value32, 'v', 32);
    value32[32] = '\0';
    memset(value33, 'v', 33);
    value33[33] = '\0';
    int64_t at_limit = node_send(fx, RK_REQ_PUT, key16, value32);
    int64_t key_over = node_send(fx, RK_REQ_PUT, key17, "v");
    int64_t value_over = node_send(fx, RK_REQ_PUT, "k", value33);
    assert_int_equal(fx_wait(fx, at_limit)->kind, RK_REPLY_OK);
    assert_int_equal(fx_wait(fx, key_over)->error, RK_ETOOBIG);
    assert_int_equal(fx_wait(fx, value_over)->error, RK_ETOOBIG);
    fx_free(fx);
}

/* The heart of issue 3: for every crash point, a crash that loses unsynced writes never loses
 * an acknowledged one. The workload interleaves puts, deletes and sync completions (every third
 * step the world runs until no sync is pending); at crash point k the node crashes, a new
 * incarnation restarts on its store, and every write acknowledged before the crash must read
 * back as acknowledged (its value, or absent for a delete). */
static void crash_run(rk_sync_policy policy, uint32_t crash_at, uint32_t *lost_out)
{
    rk_fixture *fx = node_start(policy);
    enum { KEYS = 8, STEPS = 120 };
    char acked[KEYS][16];           /* last acknowledged value per key, "" for deleted/none */
    uint32_t req_key[STEPS + 1];
    char req_value[STEPS + 1][16];
    int64_t handle[STEPS + 1];
    bool seen[STEPS + 1];
    memset(acked, 0, sizeof(acked));
    memset(seen, 0, sizeof(seen));
    for (uint32_t step = 1; step <= STEPS && step < crash_at; step++) {
        uint32_t key_index = (step * 7u) % KEYS;
        char key[8];
        snprintf(key, sizeof(key), "k%u", key_index);
        req_key[step] = key_index;
        if (step % 5 == 0) {
            handle[step] = node_send(fx, RK_REQ_DEL, key, NULL);
            req_value[step][0] = '\0';
        } else {
            snprintf(req_value[step], sizeof(req_value[step]), "v%u", step);
            handle[step] = node_send(fx, RK_REQ_PUT, key, req_value[step]);
        }
        if (step % 3 == 0) {
            fx_pump(fx);
        }
        /* Replies come in durability order, which is the order the steps were sent in. */
        for (uint32_t s = 1; s <= step; s++) {
            const fx_reply *r = node_reply(fx, handle[s]);
            if (!seen[s] && r != NULL) {
                seen[s] = true;
                assert_int_not_equal(r->kind, RK_REPLY_ERROR);
                snprintf(acked[req_key[s]], sizeof(acked[0]), "%s", req_value[s]);
            }
        }
    }
    rk_fixture_crash(fx, NODE);
    rk_fixture_restart(fx, NODE);
    fx_pump(fx);                    /* the new epoch is durable */
    uint32_t lost = 0;
    for (uint32_t k = 0; k < KEYS; k++) {
        char key[8];
        snprintf(key, sizeof(key), "k%u", k);
        const fx_reply *r = fx_wait(fx, node_send(fx, RK_REQ_GET, key, NULL));
        /* Every acknowledged write was synced and nothing synced went unacknowledged, so
         * the store after the crash holds exactly the acknowledged state. */
        bool same = acked[k][0] == '\0'
                        ? r->kind == RK_REPLY_NIL
                        : (r->kind == RK_REPLY_VALUE && r->value_len == strlen(acked[k]) &&
                           memcmp(r->value, acked[k], r->value_len) == 0);
        lost += same ? 0 : 1;
    }
    *lost_out = lost;
    fx_free(fx);
}

static void test_crash_at_every_point_loses_no_acked_write(void **state)
{
    (void)state;
    for (int p = RK_SYNC_ALWAYS; p <= RK_SYNC_BATCH; p++) {
        for (uint32_t crash_at = 1; crash_at <= 121; crash_at++) {
            uint32_t lost = 99;
            crash_run((rk_sync_policy)p, crash_at, &lost);
            if (lost != 0) {
                fail_msg("policy %d crash_at %u lost %u acknowledged writes", p, crash_at, lost);
            }
        }
    }
}

/* The crash layer can fail the test: under `none` acknowledged writes are lost by a crash. */
static void test_crash_under_none_loses_acked_writes(void **state)
{
    (void)state;
    uint32_t lost = 0;
    crash_run(RK_SYNC_NONE, 2, &lost);  /* one put acknowledged at once, never synced */
    assert_int_equal(lost, 1);
}

/* A failed sync fails the writes that waited on it instead of acknowledging them. */
static void test_sync_failure_fails_waiting_writes(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    rk_fixture_fail_next_sync(fx, NODE, RK_EIO);
    const fx_reply *r = fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "v"));
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EIO);
    assert_int_equal(fx_stats(fx, NODE)->sync_failures, 1);
    fx_free(fx);
}

/* Riak's kv679: a node that lost unsynced writes in a crash must not mint their dots again,
 * or replicas that received the lost write would take a different write for it. The epoch,
 * bumped and made durable at every start, puts new dots above anything minted before. */
static void test_crash_then_write_never_reuses_a_dot(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    node_send(fx, RK_REQ_PUT, "k", "before");     /* minted, never synced */
    rk_dot lost = fx_local_dot(fx, NODE, "k");
    rk_fixture_crash(fx, NODE);                     /* the write is gone from this node */
    rk_fixture_restart(fx, NODE);
    assert_int_equal(fx_local_len(fx, NODE, "k"), 0);
    /* Until the new epoch is durable the node refuses to mint at all. */
    const fx_reply *early = node_reply(fx, node_send(fx, RK_REQ_PUT, "k", "too early"));
    assert_non_null(early);
    assert_int_equal(early->error, RK_EBUSY);
    fx_pump(fx);
    node_send(fx, RK_REQ_PUT, "k", "after");
    rk_dot again = fx_local_dot(fx, NODE, "k");
    assert_int_equal(again.node, lost.node);
    assert_true(again.counter > lost.counter);
    fx_free(fx);
}

/* Entries of the history of `id`'s own copy of key (version.h: one per coordinator, plus one
 * per gap an epoch bump left). */
static uint32_t node_history_entries(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_dvvset set;
    fx_local_decode(fx, id, key, &set);
    uint32_t entries = set.history.entry_count;
    rk_dvvset_deinit(&set);
    return entries;
}

/* Issue 12: the clock must not grow with restarts. A clean stop loses nothing, so the next
 * start keeps the epoch: a key written through 20 clean restarts keeps one history entry, and
 * its dots still only go up. A crash afterwards bumps the epoch, and the first write after it
 * leaves the gap in the history (the kv679 protection is intact). */
static void test_clean_restarts_keep_the_epoch_and_the_history(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    uint64_t epoch = fx_stats(fx, NODE)->epoch;
    assert_int_equal(fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "v0"))->kind, RK_REPLY_OK);
    rk_dot last = fx_local_dot(fx, NODE, "k");

    for (uint32_t i = 1; i <= 20; i++) {
        fx_stop_restart(fx, NODE);
        fx_pump(fx);                /* the start's batch, without the mark, is durable */
        assert_int_equal(fx_stats(fx, NODE)->epoch, epoch);
        assert_int_equal(fx_stats(fx, NODE)->epoch_kept, 1);
        char value[8];
        snprintf(value, sizeof(value), "v%u", i);
        assert_int_equal(fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", value))->kind, RK_REPLY_OK);
        rk_dot dot = fx_local_dot(fx, NODE, "k");
        assert_true(dot.counter > last.counter);
        last = dot;
    }
    assert_int_equal(node_history_entries(fx, NODE, "k"), 1);

    fx_crash_restart(fx, NODE);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, NODE)->epoch, epoch + 1);
    assert_int_equal(fx_stats(fx, NODE)->epoch_kept, 0);
    assert_int_equal(fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "after"))->kind, RK_REPLY_OK);
    assert_true(fx_local_dot(fx, NODE, "k").counter > last.counter);
    assert_int_equal(node_history_entries(fx, NODE, "k"), 2);
    fx_free(fx);
}

/* A write not yet durable when the stop comes could be lost with its dot: the node refuses
 * the mark until it is durable (answering it on the way), then coordinates no more writes,
 * and reads still work. */
static void test_stop_waits_for_writes_then_refuses_new_ones(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    int64_t pending = node_send(fx, RK_REQ_PUT, "k", "v");
    assert_null(node_reply(fx, pending));

    assert_int_equal(rk_node_stop_clean(fx_node(fx, NODE)), RK_EBUSY);
    assert_int_equal(fx_wait(fx, pending)->kind, RK_REPLY_OK);
    assert_int_equal(rk_node_stop_clean(fx_node(fx, NODE)), 0);
    assert_int_equal(rk_node_stop_clean_status(fx_node(fx, NODE)), RK_EBUSY);

    const fx_reply *refused = fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "late"));
    assert_int_equal(refused->kind, RK_REPLY_ERROR);
    assert_int_equal(refused->error, RK_EBUSY);
    assert_non_null(strstr(refused->message, "node stopping"));
    fx_assert_value(fx_wait(fx, node_send(fx, RK_REQ_GET, "k", NULL)), "v");
    fx_pump(fx);
    assert_int_equal(rk_node_stop_clean_status(fx_node(fx, NODE)), 0);
    assert_int_equal(rk_node_stop_clean(fx_node(fx, NODE)), RK_EINVAL);
    fx_free(fx);
}

/* A failed sync rolled back a write whose dot may be on other replicas: that run leaves no
 * mark, and the next start bumps the epoch. */
static void test_stop_after_a_failed_sync_bumps_the_epoch(void **state)
{
    (void)state;
    rk_fixture *fx = node_start(RK_SYNC_BATCH);
    uint64_t epoch = fx_stats(fx, NODE)->epoch;
    rk_fixture_fail_next_sync(fx, NODE, RK_EIO);
    assert_int_equal(fx_wait(fx, node_send(fx, RK_REQ_PUT, "k", "v"))->error, RK_EIO);

    assert_int_equal(rk_fixture_stop(fx, NODE), RK_EIO);
    rk_fixture_restart(fx, NODE);

    assert_int_equal(fx_stats(fx, NODE)->epoch, epoch + 1);
    assert_int_equal(fx_stats(fx, NODE)->epoch_kept, 0);
    fx_free(fx);
}

/* An object holds at most max-value-bytes of values (plus RK_OBJECT_SLACK_BYTES of versions):
 * on a siblings bucket, a blind write that would add a second large sibling is refused with the
 * reason, and the object that is stored can always travel in one frame to a replica or in a
 * handoff. Resolving with the context (superseding the sibling) is accepted again. */
static void test_object_size_capped(void **state)
{
    (void)state;
    rk_fixture_config c;
    node_config_one(&c);
    c.node.value_bytes_max = 64u * 1024u;
    c.node.default_policy = RK_POLICY_SIBLINGS;
    rk_fixture *fx = fx_new_with(&c);
    static uint8_t big[48u * 1024u];
    memset(big, 'x', sizeof(big));
    rk_request r = {.kind = RK_REQ_VPUT,
                    .key = (const uint8_t *)"cart",
                    .key_len = 4,
                    .value = big,
                    .value_len = sizeof(big)};
    assert_int_equal(fx_wait(fx, rk_fixture_request(fx, NODE, &r))->kind, RK_REPLY_WRITTEN);
    int64_t second = rk_fixture_request(fx, NODE, &r); /* blind again: a second 48 KiB sibling */
    rk_fixture_run_due(fx);
    const fx_reply *refused = node_reply(fx, second);
    assert_non_null(refused);
    assert_int_equal(refused->kind, RK_REPLY_ERROR);
    assert_int_equal(refused->error, RK_ETOOBIG);
    assert_int_equal(fx_stats(fx, NODE)->objects_refused, 1);
    r.kind = RK_REQ_PUT;                    /* plain SET supersedes what the node holds */
    assert_int_equal(fx_wait(fx, rk_fixture_request(fx, NODE, &r))->kind, RK_REPLY_OK);
    fx_free(fx);
}

/* The fixture replays: the same calls give the same trace, byte for byte. */
static void test_same_calls_same_trace(void **state)
{
    (void)state;
    uint64_t hashes[2];
    for (uint32_t run = 0; run < 2; run++) {
        rk_fixture *fx = node_start(RK_SYNC_BATCH);
        for (uint32_t i = 0; i < 20; i++) {
            char key[8];
            snprintf(key, sizeof(key), "k%u", i % 4);
            node_send(fx, RK_REQ_PUT, key, "v");
        }
        fx_pump(fx);
        hashes[run] = rk_fixture_trace_hash(fx);
        fx_free(fx);
    }
    assert_true(hashes[0] == hashes[1]);
}

/* Every object carries its type (policy.h): a replica sent an object of another type than the
 * one it holds refuses the merge and counts it, keeping its copy; a key whose object is of
 * another type answers a write to the bucket's policy with WRONGTYPE. The replicated objects
 * are made by hand, since no policy writes a second type yet. */
static void test_objects_of_two_types_never_merge(void **state)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.nodes = 3;
    (void)state;
    rk_fixture *fx = fx_new_with(&c);
    assert_int_equal(fx_set(fx, 1, "typed:a", "v", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    fx_pump(fx);

    /* An object of tag RK_DVVSET_TYPE_TAG_MAX, as a future policy's, minted by node 2. */
    rk_dvvset other;
    rk_dvvset_init(&other);
    rk_vv empty;
    rk_vv_init(&empty);
    rk_dvvset_write w = {.value = (const uint8_t *)"w", .value_len = 1, .timestamp_us = 1};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(&other, &empty, &w, 2, 0, 10, &dot), 0);
    other.type_tag = RK_DVVSET_TYPE_TAG_MAX;
    uint8_t bytes[256];
    size_t len = rk_dvvset_encode(&other, bytes);
    rk_dvvset_deinit(&other);

    for (rk_node_id id = 1; id <= 3; id++) {
        rk_msg m = {.kind = RK_MSG_PUT_REQ,
                    .req_id = 77,
                    .key = (const uint8_t *)"typed:a",
                    .key_len = 7,
                    .object = bytes,
                    .object_len = len};
        rk_node_on_message(fx_node(fx, id), id == 1 ? 2 : 1, &m);
        assert_int_equal(fx_stats(fx, id)->objects_type_refused, 1);
        assert_true(fx_local_is(fx, id, "typed:a", "v"));
    }
    /* An absent key takes the other type whole; a write of the bucket's type is refused. */
    for (rk_node_id id = 1; id <= 3; id++) {
        rk_msg m = {.kind = RK_MSG_PUT_REQ,
                    .req_id = 78,
                    .key = (const uint8_t *)"typed:b",
                    .key_len = 7,
                    .object = bytes,
                    .object_len = len};
        rk_node_on_message(fx_node(fx, id), id == 1 ? 2 : 1, &m);
    }
    fx_pump(fx);
    const fx_reply *r = fx_set(fx, 1, "typed:b", "v", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EWRONGTYPE);
    assert_non_null(strstr(r->message, "Operation against a key holding the wrong kind of value"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_put_acknowledged_after_durable, fx_teardown),
        cmocka_unit_test_teardown(test_batch_writes_share_one_sync, fx_teardown),
        cmocka_unit_test_teardown(test_sync_none_acks_at_once_and_counts_it, fx_teardown),
        cmocka_unit_test_teardown(test_del_counts_live_keys_only, fx_teardown),
        cmocka_unit_test_teardown(test_limits_on_both_sides, fx_teardown),
        cmocka_unit_test_teardown(test_crash_at_every_point_loses_no_acked_write, fx_teardown),
        cmocka_unit_test_teardown(test_crash_under_none_loses_acked_writes, fx_teardown),
        cmocka_unit_test_teardown(test_sync_failure_fails_waiting_writes, fx_teardown),
        cmocka_unit_test_teardown(test_crash_then_write_never_reuses_a_dot, fx_teardown),
        cmocka_unit_test_teardown(test_clean_restarts_keep_the_epoch_and_the_history,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_stop_waits_for_writes_then_refuses_new_ones, fx_teardown),
        cmocka_unit_test_teardown(test_stop_after_a_failed_sync_bumps_the_epoch, fx_teardown),
        cmocka_unit_test_teardown(test_object_size_capped, fx_teardown),
        cmocka_unit_test_teardown(test_same_calls_same_trace, fx_teardown),
        cmocka_unit_test_teardown(test_objects_of_two_types_never_merge, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
