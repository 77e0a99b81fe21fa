/* test_node.c — the node as a pure state machine over the mem store: requests, replies,
 * limits, and above all "acknowledged only after durable": a fake env decides when syncs
 * complete, the mem store's crash layer drops what was not synced, and a loop over every crash
 * point checks that no acknowledged write is lost (issue 3). */
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
#include "test_reply.h"

#define FAKE_REPLIES_MAX 4096u

typedef test_reply fake_reply;

typedef struct fake_env {
    rk_env env;
    uint64_t now_us;
    uint64_t sync_wanted;
    uint32_t sync_calls;
    fake_reply replies[FAKE_REPLIES_MAX];
    uint32_t reply_count;
} fake_env;

static uint64_t fake_now_ms(void *ctx)
{
    return ((fake_env *)ctx)->now_us / 1000u;
}

static uint64_t fake_wall_us(void *ctx)
{
    fake_env *f = ctx;
    return f->now_us += 10;
}

static uint64_t fake_random(void *ctx)
{
    (void)ctx;
    return 4;   /* chosen by fair dice roll */
}

static void fake_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    (void)ctx;
    (void)to;
    (void)m;
}

static void fake_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    (void)ctx;
    (void)at_ms;
    (void)timer_id;
}

static void fake_reply_fn(void *ctx, uint64_t client_req, const rk_reply *r)
{
    fake_env *f = ctx;
    assert_true(f->reply_count < FAKE_REPLIES_MAX);
    test_reply_record(&f->replies[f->reply_count++], client_req, r);
}

static void fake_sync(void *ctx, uint64_t seq)
{
    fake_env *f = ctx;
    f->sync_calls++;
    if (seq > f->sync_wanted) {
        f->sync_wanted = seq;
    }
}

static void fake_env_init(fake_env *f, rk_store *store)
{
    memset(f, 0, sizeof(*f));
    f->now_us = 1000000;
    f->env = (rk_env){.ctx = f,
                      .now_ms = fake_now_ms,
                      .wall_us = fake_wall_us,
                      .random = fake_random,
                      .send = fake_send,
                      .set_timer = fake_set_timer,
                      .reply = fake_reply_fn,
                      .sync = fake_sync,
                      .store = store};
}

/* Complete the sync asked for so far, as the runtime's worker would. */
static int fake_complete_sync(fake_env *f, rk_node *n)
{
    uint64_t seq = f->sync_wanted;
    int rc = rk_store_sync(f->env.store, seq);
    if (rc == 0) {
        rk_node_on_durable(n, seq);
    }
    return rc;
}

static const fake_reply *fake_find(const fake_env *f, uint64_t client_req)
{
    for (uint32_t i = 0; i < f->reply_count; i++) {
        if (f->replies[i].client_req == client_req) {
            return &f->replies[i];
        }
    }
    return NULL;
}

static void node_put(rk_node *n, uint64_t req, const char *key, const char *value)
{
    rk_request r = {.kind = RK_REQ_PUT,
                    .key = (const uint8_t *)key,
                    .key_len = strlen(key),
                    .value = (const uint8_t *)value,
                    .value_len = strlen(value)};
    rk_node_on_request(n, req, &r);
}

static void node_simple(rk_node *n, uint64_t req, rk_request_kind kind, const char *key)
{
    rk_request r = {.kind = kind, .key = (const uint8_t *)key, .key_len = strlen(key)};
    rk_node_on_request(n, req, &r);
}

typedef struct node_fixture {
    rk_store *store;
    fake_env env;
    rk_node *node;
} node_fixture;

static void fixture_start(node_fixture *fx, rk_sync_policy policy)
{
    assert_int_equal(rk_store_mem_open(&fx->store), 0);
    fake_env_init(&fx->env, fx->store);
    rk_node_config c;
    rk_node_config_default(&c);
    c.sync = policy;
    c.value_bytes_max = 32;
    c.key_bytes_max = 16;
    assert_int_equal(rk_node_new(&c, &fx->env.env, &fx->node), 0);
    /* The node records its epoch before minting any dot: let that write become durable. */
    assert_int_equal(fake_complete_sync(&fx->env, fx->node), 0);
    fx->env.reply_count = 0;
    fx->env.sync_calls = 0;
}

static void fixture_stop(node_fixture *fx)
{
    rk_node_free(fx->node);
    rk_store_close(fx->store);
}

/* A put is answered only once durable under `batch`, and a get sees it at once. */
static void test_put_acknowledged_after_durable(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_BATCH);
    node_put(fx.node, 1, "k", "v1");
    assert_null(fake_find(&fx.env, 1));
    node_simple(fx.node, 2, RK_REQ_GET, "k");
    const fake_reply *get = fake_find(&fx.env, 2);
    assert_non_null(get);
    assert_int_equal(get->kind, RK_REPLY_VALUE);
    assert_memory_equal(get->value, "v1", 2);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    const fake_reply *ack = fake_find(&fx.env, 1);
    assert_non_null(ack);
    assert_int_equal(ack->kind, RK_REPLY_OK);
    assert_int_equal(rk_node_stats_get(fx.node)->acks_before_durable, 0);
    fixture_stop(&fx);
}

/* Writes that arrive together share one sync (group commit): writes_synced / sync_calls > 1. */
static void test_batch_writes_share_one_sync(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_BATCH);
    for (uint64_t i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%llu", (unsigned long long)i);
        node_put(fx.node, i + 1, key, "v");
    }
    const rk_node_stats *st = rk_node_stats_get(fx.node);
    uint64_t syncs_before = st->sync_calls;
    uint64_t synced_before = st->writes_synced;
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    assert_int_equal(fx.env.reply_count, 10);
    assert_int_equal(st->sync_calls - syncs_before, 1);
    assert_int_equal(st->writes_synced - synced_before, 10);
    assert_int_equal(st->keys_live, 10);
    fixture_stop(&fx);
}

/* Under `none` a write is answered at once and counted as acknowledged before durable. */
static void test_sync_none_acks_at_once_and_counts_it(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_NONE);
    node_put(fx.node, 1, "k", "v");
    assert_non_null(fake_find(&fx.env, 1));
    assert_int_equal(rk_node_stats_get(fx.node)->acks_before_durable, 1);
    assert_true(fx.env.sync_calls > 0);  /* the store is still asked to catch up */
    fixture_stop(&fx);
}

/* DEL answers 1 for a live key and 0 for an absent or deleted one; the tombstone hides it. */
static void test_del_counts_live_keys_only(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_ALWAYS);
    node_put(fx.node, 1, "k", "v");
    fake_complete_sync(&fx.env, fx.node);
    node_simple(fx.node, 2, RK_REQ_DEL, "k");
    fake_complete_sync(&fx.env, fx.node);
    /* A DEL of a deleted key still writes its tombstone (replicas that missed the first
     * delete learn it), so it too waits for durability. */
    node_simple(fx.node, 3, RK_REQ_DEL, "k");
    fake_complete_sync(&fx.env, fx.node);
    node_simple(fx.node, 4, RK_REQ_EXISTS, "k");
    node_simple(fx.node, 5, RK_REQ_GET, "k");
    assert_int_equal(fake_find(&fx.env, 2)->integer, 1);
    assert_int_equal(fake_find(&fx.env, 3)->integer, 0);
    assert_int_equal(fake_find(&fx.env, 4)->integer, 0);
    assert_int_equal(fake_find(&fx.env, 5)->kind, RK_REPLY_NIL);
    assert_int_equal(rk_node_stats_get(fx.node)->keys_live, 0);
    fixture_stop(&fx);
}

/* Keys and values over the limits are refused with RK_ETOOBIG; at the limit they pass. */
static void test_limits_on_both_sides(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_NONE);
    char key16[17] = "kkkkkkkkkkkkkkkk";
    char key17[18] = "kkkkkkkkkkkkkkkkk";
    char value32[33];
    char value33[34];
    memset(value32, 'v', 32);
    value32[32] = '\0';
    memset(value33, 'v', 33);
    value33[33] = '\0';
    node_put(fx.node, 1, key16, value32);
    node_put(fx.node, 2, key17, "v");
    node_put(fx.node, 3, "k", value33);
    assert_int_equal(fake_find(&fx.env, 1)->kind, RK_REPLY_OK);
    assert_int_equal(fake_find(&fx.env, 2)->error, RK_ETOOBIG);
    assert_int_equal(fake_find(&fx.env, 3)->error, RK_ETOOBIG);
    fixture_stop(&fx);
}

/* The heart of issue 3: for every crash point, a crash that loses unsynced writes never loses
 * an acknowledged one. The workload interleaves puts, deletes and sync completions; at crash
 * point k the store crashes, a new node restarts on it, and every write acknowledged before
 * the crash must read back as acknowledged (its value, or absent for a delete). */
static void crash_run(rk_sync_policy policy, uint32_t crash_at, uint32_t *lost_out)
{
    node_fixture fx;
    fixture_start(&fx, policy);
    enum { KEYS = 8, STEPS = 120 };
    char acked[KEYS][16];           /* last acknowledged value per key, "" for deleted/none */
    uint64_t req_key[STEPS + 1];
    char req_value[STEPS + 1][16];
    memset(acked, 0, sizeof(acked));
    uint32_t seen_replies = 0;
    for (uint32_t step = 1; step <= STEPS && step < crash_at; step++) {
        uint32_t key_index = (step * 7u) % KEYS;
        char key[8];
        snprintf(key, sizeof(key), "k%u", key_index);
        req_key[step] = key_index;
        if (step % 5 == 0) {
            node_simple(fx.node, step, RK_REQ_DEL, key);
            req_value[step][0] = '\0';
        } else {
            snprintf(req_value[step], sizeof(req_value[step]), "v%u", step);
            node_put(fx.node, step, key, req_value[step]);
        }
        if (step % 3 == 0) {
            assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
        }
        for (; seen_replies < fx.env.reply_count; seen_replies++) {
            const fake_reply *r = &fx.env.replies[seen_replies];
            assert_int_not_equal(r->kind, RK_REPLY_ERROR);
            snprintf(acked[req_key[r->client_req]], sizeof(acked[0]), "%s",
                     req_value[r->client_req]);
        }
    }
    rk_node_free(fx.node);
    rk_store_mem_crash(fx.store);
    fake_env_init(&fx.env, fx.store);
    rk_node_config c;
    rk_node_config_default(&c);
    assert_int_equal(rk_node_new(&c, &fx.env.env, &fx.node), 0);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    uint32_t lost = 0;
    for (uint32_t k = 0; k < KEYS; k++) {
        char key[8];
        snprintf(key, sizeof(key), "k%u", k);
        uint32_t before = fx.env.reply_count;
        node_simple(fx.node, 10000 + k, RK_REQ_GET, key);
        const fake_reply *r = &fx.env.replies[before];
        /* Every acknowledged write was synced and nothing synced went unacknowledged, so
         * the store after the crash holds exactly the acknowledged state. */
        bool same = acked[k][0] == '\0'
                        ? r->kind == RK_REPLY_NIL
                        : (r->kind == RK_REPLY_VALUE && r->value_len == strlen(acked[k]) &&
                           memcmp(r->value, acked[k], r->value_len) == 0);
        lost += same ? 0 : 1;
    }
    *lost_out = lost;
    fixture_stop(&fx);
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
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_BATCH);
    node_put(fx.node, 1, "k", "v");
    rk_node_on_sync_failed(fx.node, fx.env.sync_wanted, RK_EIO);
    const fake_reply *r = fake_find(&fx.env, 1);
    assert_non_null(r);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EIO);
    fixture_stop(&fx);
}

/* The dot of the only sibling stored under `key`, read through RK.LOCAL's entry point. */
static rk_dot local_dot(rk_node *n, const char *key)
{
    rk_buf buf;
    rk_dvvset set;
    assert_int_equal(rk_node_local_get(n, (const uint8_t *)key, strlen(key), &buf), 0);
    assert_true(buf.len > 0);
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    assert_int_equal(set.sibling_count, 1);
    rk_dot dot = set.siblings[0].dot;
    rk_dvvset_deinit(&set);
    return dot;
}

/* Riak's kv679: a node that lost unsynced writes in a crash must not mint their dots again,
 * or replicas that received the lost write would take a different write for it. The epoch,
 * bumped and made durable at every start, puts new dots above anything minted before. */
static void test_crash_then_write_never_reuses_a_dot(void **state)
{
    (void)state;
    node_fixture fx;
    fixture_start(&fx, RK_SYNC_BATCH);
    node_put(fx.node, 1, "k", "before");      /* minted, sent to replicas, never synced */
    rk_dot lost = local_dot(fx.node, "k");
    rk_node_free(fx.node);
    rk_store_mem_crash(fx.store);              /* the write is gone from this node */
    fake_env_init(&fx.env, fx.store);
    rk_node_config c;
    rk_node_config_default(&c);
    assert_int_equal(rk_node_new(&c, &fx.env.env, &fx.node), 0);
    /* Until the new epoch is durable the node refuses to mint at all. */
    node_put(fx.node, 2, "k", "too early");
    assert_int_equal(fake_find(&fx.env, 2)->error, RK_EBUSY);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    node_put(fx.node, 3, "k", "after");
    rk_dot again = local_dot(fx.node, "k");
    assert_int_equal(again.node, lost.node);
    assert_true(again.counter > lost.counter);
    fixture_stop(&fx);
}

/* An object holds at most max-value-bytes of values (plus RK_OBJECT_SLACK_BYTES of versions):
 * on a siblings bucket, a blind write that would add a second large sibling is refused with the
 * reason, and the object that is stored can always travel in one frame to a replica or in a
 * handoff. Resolving with the context (superseding the sibling) is accepted again. */
static void test_object_size_capped(void **state)
{
    (void)state;
    node_fixture fx;
    assert_int_equal(rk_store_mem_open(&fx.store), 0);
    fake_env_init(&fx.env, fx.store);
    rk_node_config c;
    rk_node_config_default(&c);
    c.value_bytes_max = 64u * 1024u;
    c.default_policy = RK_POLICY_SIBLINGS;
    assert_int_equal(rk_node_new(&c, &fx.env.env, &fx.node), 0);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    fx.env.reply_count = 0;
    static uint8_t big[48u * 1024u];
    memset(big, 'x', sizeof(big));
    rk_request r = {.kind = RK_REQ_VPUT,
                    .key = (const uint8_t *)"cart",
                    .key_len = 4,
                    .value = big,
                    .value_len = sizeof(big)};
    rk_node_on_request(fx.node, 1, &r);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    assert_int_equal(fake_find(&fx.env, 1)->kind, RK_REPLY_WRITTEN);
    rk_node_on_request(fx.node, 2, &r);     /* blind again: a second 48 KiB sibling */
    const fake_reply *refused = fake_find(&fx.env, 2);
    assert_non_null(refused);
    assert_int_equal(refused->kind, RK_REPLY_ERROR);
    assert_int_equal(refused->error, RK_ETOOBIG);
    assert_int_equal(rk_node_stats_get(fx.node)->objects_refused, 1);
    r.kind = RK_REQ_PUT;                    /* plain SET supersedes what the node holds */
    rk_node_on_request(fx.node, 3, &r);
    assert_int_equal(fake_complete_sync(&fx.env, fx.node), 0);
    assert_int_equal(fake_find(&fx.env, 3)->kind, RK_REPLY_OK);
    fixture_stop(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_acknowledged_after_durable),
        cmocka_unit_test(test_batch_writes_share_one_sync),
        cmocka_unit_test(test_sync_none_acks_at_once_and_counts_it),
        cmocka_unit_test(test_del_counts_live_keys_only),
        cmocka_unit_test(test_limits_on_both_sides),
        cmocka_unit_test(test_crash_at_every_point_loses_no_acked_write),
        cmocka_unit_test(test_crash_under_none_loses_acked_writes),
        cmocka_unit_test(test_sync_failure_fails_waiting_writes),
        cmocka_unit_test(test_crash_then_write_never_reuses_a_dot),
        cmocka_unit_test(test_object_size_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
