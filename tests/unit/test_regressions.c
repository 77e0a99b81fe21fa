/* test_regressions.c — deterministic tests for each bug the simulator found (docs/simulator.md,
 * "Bugs it found"; tests/sim/seeds.txt). A regression seed only replays its bug while the
 * simulator's trace stays the same, and refactors of the core or of the simulator's message
 * path change traces; these tests build each bug's situation by hand instead, so they keep
 * reproducing it whatever the seeds now reach.
 *
 * How: a few core nodes (rk_node, through node.h's public API only) over mem stores, driven by
 * a small rk_env fixture. Each node's wall clock is the shared fake clock plus a per-node skew;
 * every message a node sends is deep-copied into one FIFO that the test delivers, drops or
 * duplicates by hand (rg_take picks one message by kind, sender and receiver); syncs complete
 * when the test pumps; client replies are recorded per node. Timers are never fired: no test
 * here needs a deadline. What a node stores is read back with rk_node_local_get and decoded
 * with dvvset.h, the same bytes its replicas get.
 *
 * Each test names the commit that fixed its bug and the assertion that fails without the fix;
 * each was checked by reverting its fix locally. The read-repair use-after-free has two: one
 * where the scratch buffer moves (ASan in build-asan/ reports the use-after-free; a plain
 * build's result depends on what the allocator leaves in the freed bytes) and one where it is
 * rewritten in place (the last replica gets the wrong bytes and stays stale in any build).
 */
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
#include "../../src/core/msg.h"
#include "../../src/core/node.h"
#include "../../src/net/wire.h"
#include "../../src/store/store.h"
#include "test_frame.h"
#include "test_reply.h"

#define RG_NODES_MAX 5u
#define RG_REPLIES_MAX 64u
#define RG_PUMP_STEPS_MAX 100000u
#define RG_CONTEXT_CHARS_MAX 256u /* the tests' contexts name at most a few dots */

/* ---- the fixture --------------------------------------------------------------------------- */

/* test_reply.h's record, plus the context token the lww tests hand back in an RK.PUT. */
typedef struct rg_reply {
    test_reply base;
    char context[RG_CONTEXT_CHARS_MAX]; /* RK_REPLY_VERSIONS / RK_REPLY_WRITTEN */
} rg_reply;

typedef struct rg_msg {
    struct rg_msg *next;
    rk_node_id from;
    rk_node_id to;
    rk_msg m;                   /* borrows from `in` */
    rk_wire_in in;
} rg_msg;

struct rg_cluster;

typedef struct rg_node {
    struct rg_cluster *cluster;
    rk_node_id id;
    rk_env env;
    rk_store *store;
    rk_node *node;
    int64_t skew_us;    /* this node's wall clock minus the shared clock */
    uint64_t wall_tick; /* keeps successive wall_us readings apart */
    uint64_t sync_wanted;
    uint64_t sync_done;
    rg_reply replies[RG_REPLIES_MAX];
    uint32_t reply_count;
} rg_node;

typedef struct rg_cluster {
    rk_node_config config;
    uint32_t node_count;
    rg_node nodes[RG_NODES_MAX];
    uint64_t now_ms;
    rg_msg *head;
    rg_msg *tail;
} rg_cluster;

/* The cluster of the running test: the teardown frees it even when an assertion failed. */
static rg_cluster *rg_live;

static rg_node *rg_at(rg_cluster *c, rk_node_id id)
{
    assert_true(id >= 1 && id <= c->node_count);
    return &c->nodes[id - 1];
}

static rk_node *rg_node_of(rg_cluster *c, rk_node_id id)
{
    return rg_at(c, id)->node;
}

static uint64_t rg_env_now_ms(void *ctx)
{
    return ((rg_node *)ctx)->cluster->now_ms;
}

static uint64_t rg_env_wall_us(void *ctx)
{
    rg_node *rn = ctx;
    int64_t wall_us = (int64_t)(rn->cluster->now_ms * 1000u) + rn->skew_us;
    assert_true(wall_us > 0);
    return (uint64_t)wall_us + (++rn->wall_tick);
}

static uint64_t rg_env_random(void *ctx)
{
    rg_node *rn = ctx;
    return 0x9e3779b97f4a7c15ull * (++rn->wall_tick);
}

static void rg_env_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    rg_node *rn = ctx;
    rg_cluster *c = rn->cluster;
    assert_true(to >= 1 && to <= c->node_count);
    assert_int_not_equal(to, rn->id);
    rg_msg *rm = calloc(1, sizeof(*rm));
    assert_non_null(rm);
    rm->from = rn->id;
    rm->to = to;
    /* Encoded now, as the simulator's network and the runtime do: whatever the sender's
     * buffers hold at this moment is what travels. */
    test_frame_carry(m, &rm->in);
    rm->m = rm->in.msg;
    if (c->tail != NULL) {
        c->tail->next = rm;
    } else {
        c->head = rm;
    }
    c->tail = rm;
}

static void rg_env_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    (void)ctx;
    (void)at_ms;
    (void)timer_id; /* never fired: the tests finish every request before its deadline */
}

static void rg_env_reply(void *ctx, uint64_t client_req, const rk_reply *r)
{
    rg_node *rn = ctx;
    assert_true(rn->reply_count < RG_REPLIES_MAX);
    rg_reply *out = &rn->replies[rn->reply_count++];
    memset(out, 0, sizeof(*out));
    test_reply_record(&out->base, client_req, r);
    if ((r->kind == RK_REPLY_VERSIONS || r->kind == RK_REPLY_WRITTEN) && r->context != NULL) {
        assert_true(strlen(r->context) < sizeof(out->context));
        strcpy(out->context, r->context);
    }
}

static void rg_env_sync(void *ctx, uint64_t seq)
{
    rg_node *rn = ctx;
    if (seq > rn->sync_wanted) {
        rn->sync_wanted = seq;
    }
}

static void rg_node_start(rg_cluster *c, rg_node *rn)
{
    rk_node_config config = c->config;
    config.id = rn->id;
    rn->sync_wanted = 0;
    rn->sync_done = rk_store_durable_seq(rn->store);
    rn->env = (rk_env){.ctx = rn,
                       .now_ms = rg_env_now_ms,
                       .wall_us = rg_env_wall_us,
                       .random = rg_env_random,
                       .send = rg_env_send,
                       .set_timer = rg_env_set_timer,
                       .reply = rg_env_reply,
                       .sync = rg_env_sync,
                       .store = rn->store};
    assert_int_equal(rk_node_new(&config, &rn->env, &rn->node), 0);
}

static void rg_msg_free(rg_msg *rm)
{
    rk_wire_in_deinit(&rm->in);
    free(rm);
}

/* Complete every outstanding sync, as the runtime's worker would. True if there was one. */
static bool rg_complete_syncs(rg_cluster *c)
{
    bool any = false;
    for (uint32_t i = 0; i < c->node_count; i++) {
        rg_node *rn = &c->nodes[i];
        if (rn->sync_wanted > rn->sync_done) {
            uint64_t seq = rn->sync_wanted;
            assert_int_equal(rk_store_sync(rn->store, seq), 0);
            rn->sync_done = seq;
            rk_node_on_durable(rn->node, seq);
            any = true;
        }
    }
    return any;
}

/* Take the first queued message matching kind, sender and receiver (0: any) out of the queue;
 * the caller delivers it (rg_deliver) or drops it (rg_msg_free). Fails the test if none. */
static rg_msg *rg_take(rg_cluster *c, rk_msg_kind kind, rk_node_id from, rk_node_id to)
{
    rg_msg *prev = NULL;
    for (rg_msg *rm = c->head; rm != NULL; prev = rm, rm = rm->next) {
        if ((kind != 0 && rm->m.kind != kind) || (from != 0 && rm->from != from) ||
            (to != 0 && rm->to != to)) {
            continue;
        }
        if (prev != NULL) {
            prev->next = rm->next;
        } else {
            c->head = rm->next;
        }
        if (c->tail == rm) {
            c->tail = prev;
        }
        rm->next = NULL;
        return rm;
    }
    fail_msg("no message of kind %d from %u to %u is queued", (int)kind, from, to);
    return NULL;
}

static void rg_deliver(rg_cluster *c, const rg_msg *rm)
{
    rk_node_on_message(rg_node_of(c, rm->to), rm->from, &rm->m);
}

static void rg_deliver_taken(rg_cluster *c, rk_msg_kind kind, rk_node_id from, rk_node_id to)
{
    rg_msg *rm = rg_take(c, kind, from, to);
    rg_deliver(c, rm);
    rg_msg_free(rm);
}

static void rg_drop(rg_cluster *c, rk_msg_kind kind, rk_node_id from, rk_node_id to)
{
    rg_msg_free(rg_take(c, kind, from, to));
}

/* Deliver messages in order and complete syncs until nothing moves. */
static void rg_pump(rg_cluster *c)
{
    for (uint32_t step = 0; step < RG_PUMP_STEPS_MAX; step++) {
        if (c->head != NULL) {
            rg_deliver_taken(c, 0, 0, 0);
            continue;
        }
        if (!rg_complete_syncs(c)) {
            return;
        }
    }
    fail_msg("the cluster did not go quiet in %u steps", RG_PUMP_STEPS_MAX);
}

/* A cluster of node_count nodes (ids 1..node_count) whose unconfigured buckets use `policy`,
 * each node's start-up epoch durable and the queue empty. */
static rg_cluster *rg_new(uint32_t node_count, uint8_t policy)
{
    assert_true(node_count >= 1 && node_count <= RG_NODES_MAX);
    rg_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    assert_null(rg_live);
    rg_live = c;
    c->node_count = node_count;
    c->now_ms = 1000000;
    rk_node_config_default(&c->config);
    c->config.member_count = node_count;
    for (uint32_t i = 0; i < node_count; i++) {
        c->config.members[i].id = i + 1;
    }
    c->config.default_policy = policy;
    for (uint32_t i = 0; i < node_count; i++) {
        rg_node *rn = &c->nodes[i];
        rn->cluster = c;
        rn->id = i + 1;
        assert_int_equal(rk_store_mem_open(&rn->store), 0);
        rg_node_start(c, rn);
    }
    rg_pump(c);
    return c;
}

static void rg_free(rg_cluster *c)
{
    while (c->head != NULL) {
        rg_msg *next = c->head->next;
        rg_msg_free(c->head);
        c->head = next;
    }
    for (uint32_t i = 0; i < c->node_count; i++) {
        rk_node_free(c->nodes[i].node);
        rk_store_close(c->nodes[i].store);
    }
    if (rg_live == c) {
        rg_live = NULL;
    }
    free(c);
}

static int rg_teardown(void **state)
{
    (void)state;
    if (rg_live != NULL) {
        rg_free(rg_live);
    }
    return 0;
}

/* kill -9 of `id` after its last sync and a restart on the same store; queued messages to and
 * from the old incarnation are lost, as the runtime's connections would lose them. */
static void rg_crash_restart(rg_cluster *c, rk_node_id id)
{
    rg_node *rn = rg_at(c, id);
    rk_node_free(rn->node);
    rn->node = NULL;
    rk_store_mem_crash(rn->store);
    rg_msg **link = &c->head;
    c->tail = NULL;
    while (*link != NULL) {
        rg_msg *rm = *link;
        if (rm->from == id || rm->to == id) {
            *link = rm->next;
            rg_msg_free(rm);
        } else {
            c->tail = rm;
            link = &rm->next;
        }
    }
    rg_node_start(c, rn);
    rg_pump(c);
}

/* ---- requests and what nodes hold ---------------------------------------------------------- */

static void rg_request(rg_cluster *c, rk_node_id at, uint64_t req, rk_request_kind kind,
                       const char *key, const char *value, const char *context, uint32_t r,
                       uint32_t w)
{
    rk_request request = {.kind = kind,
                          .key = (const uint8_t *)key,
                          .key_len = strlen(key),
                          .value = (const uint8_t *)value,
                          .value_len = value != NULL ? strlen(value) : 0,
                          .context = context,
                          .context_len = context != NULL ? strlen(context) : 0,
                          .r = r,
                          .w = w};
    rk_node_on_request(rg_node_of(c, at), req, &request);
}

static void rg_set(rg_cluster *c, rk_node_id at, uint64_t req, const char *key, const char *value,
                   uint32_t w)
{
    rg_request(c, at, req, RK_REQ_PUT, key, value, NULL, 0, w);
}

/* The one reply `at` gave to client_req (fails if none or several). */
static const test_reply *rg_reply_of(rg_cluster *c, rk_node_id at, uint64_t client_req)
{
    rg_node *rn = rg_at(c, at);
    const test_reply *found = NULL;
    for (uint32_t i = 0; i < rn->reply_count; i++) {
        if (rn->replies[i].base.client_req == client_req) {
            assert_null(found); /* exactly one reply per request */
            found = &rn->replies[i].base;
        }
    }
    assert_non_null(found);
    return found;
}

/* The context token of the one reply `at` gave to client_req. */
static const char *rg_context_of(rg_cluster *c, rk_node_id at, uint64_t client_req)
{
    /* base is the record's first member, so the record starts where it does */
    const rg_reply *found = (const rg_reply *)rg_reply_of(c, at, client_req);
    assert_true(found->context[0] != '\0');
    return found->context;
}

static uint32_t rg_reply_count(rg_cluster *c, rk_node_id at, uint64_t client_req)
{
    rg_node *rn = rg_at(c, at);
    uint32_t count = 0;
    for (uint32_t i = 0; i < rn->reply_count; i++) {
        count += rn->replies[i].base.client_req == client_req ? 1 : 0;
    }
    return count;
}

/* Decode `id`'s own copy of key into *out (empty when it has none); rk_dvvset_deinit it. */
static void rg_local(rg_cluster *c, rk_node_id id, const char *key, rk_dvvset *out)
{
    rk_buf buf;
    assert_int_equal(rk_node_local_get(rg_node_of(c, id), (const uint8_t *)key, strlen(key), &buf),
                     0);
    if (buf.len == 0) {
        rk_dvvset_init(out);
    } else {
        assert_int_equal(rk_dvvset_decode(buf.data, buf.len, out), 0);
    }
    rk_store_buf_free(&buf);
}

/* The live sibling of `set` holding `value`, or NULL. */
static const rk_sibling *rg_find(const rk_dvvset *set, const char *value)
{
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        const rk_sibling *s = &set->siblings[i];
        if (!s->tombstone && s->value_len == strlen(value) &&
            memcmp(s->value, value, s->value_len) == 0) {
            return s;
        }
    }
    return NULL;
}

/* The one sibling of `id`'s copy of key, which must hold `value`; its stamp and dot out. */
static void rg_only(rg_cluster *c, rk_node_id id, const char *key, const char *value,
                    uint64_t *stamp_us_out, rk_dot *dot_out)
{
    rk_dvvset set;
    rg_local(c, id, key, &set);
    assert_int_equal(set.sibling_count, 1);
    const rk_sibling *s = rg_find(&set, value);
    assert_non_null(s);
    if (stamp_us_out != NULL) {
        *stamp_us_out = s->timestamp_us;
    }
    if (dot_out != NULL) {
        *dot_out = s->dot;
    }
    rk_dvvset_deinit(&set);
}

/* The key's preference list (every node agrees on the ring: membership is static). */
static uint32_t rg_preflist(rg_cluster *c, const char *key, rk_node_id *out,
                            uint32_t *primary_count)
{
    return rk_node_preflist(rg_node_of(c, 1), (const uint8_t *)key, strlen(key), out, RG_NODES_MAX,
                            primary_count);
}

/* ---- 1. lww lost the highest-stamped write under clock skew -------------------------------- */

/* Three nodes, every one a primary of every key (N=3), lww. Node 1's clock is slow, node 3's
 * 0.5 s fast, node 2's 1 s fast. The stamps below are read from the stored siblings. */
#define LWW_SLOW 1u
#define LWW_FAST 2u
#define LWW_MID 3u

static rg_cluster *lww_cluster(void)
{
    rg_cluster *c = rg_new(3, RK_POLICY_LWW);
    rg_at(c, LWW_SLOW)->skew_us = 0;
    rg_at(c, LWW_FAST)->skew_us = 1000000;
    rg_at(c, LWW_MID)->skew_us = 500000;
    return c;
}

/* A SET of `value` through `via` at W=2, acknowledged, whose copy for `lost` is dropped on the
 * way (the third node gets it). Returns the stamp `via` gave it. */
static uint64_t lww_set_missing(rg_cluster *c, rk_node_id via, uint64_t req, const char *key,
                                const char *value, rk_node_id lost)
{
    rg_set(c, via, req, key, value, 2);
    rg_drop(c, RK_MSG_PUT_REQ, via, lost);
    rg_pump(c);
    assert_int_equal(rg_reply_of(c, via, req)->kind, RK_REPLY_OK);
    uint64_t stamp_us = 0;
    rg_only(c, via, key, value, &stamp_us, NULL);
    return stamp_us;
}

/* The situation of seeds 238, 420, 56 and 146 (fixed in 0ffb7a3, "coord: stamp lww writes
 * above what they supersede"). U is written through the fast node and reaches the slow node,
 * not the middle one; W, through the middle node, reaches only the fast node, where it loses
 * to U on stamp (node_resolve_lww keeps W's dot in the history). Then the slow node, which
 * holds U and never saw W, coordinates F: a plain SET under lww supersedes what its
 * coordinator holds, so F supersedes U.
 *
 * Before the fix F got the slow node's wall clock, below U's and W's stamps. The fast node then
 * dropped U (superseded) and had no W (gone by stamp, its dot kept): "lost on stamp" read as
 * "seen and superseded", and W, acknowledged, never seen by F's coordinator and stamped above
 * F, vanished; a read then converged on F or on nothing. With the fix (coord_put_stamp, a
 * hybrid logical clock) F is stamped above everything it supersedes, so it is also above W and
 * the highest stamp survives. Without the fix the assertion that F is stamped above U fails;
 * with that one skipped, the read after it finds no value at all (W and F both gone). */
static void test_lww_write_stamped_above_what_it_supersedes(void **state)
{
    (void)state;
    rg_cluster *c = lww_cluster();
    const char *key = "k";

    /* U through the fast node: the slow node gets it, the middle node's copy is lost. */
    uint64_t stamp_u = lww_set_missing(c, LWW_FAST, 1, key, "U", LWW_MID);
    rg_only(c, LWW_SLOW, key, "U", NULL, NULL);

    /* W through the middle node: only the fast node gets it, and keeps U (higher stamp). */
    c->now_ms += 10;
    uint64_t stamp_w = lww_set_missing(c, LWW_MID, 2, key, "W", LWW_SLOW);
    assert_true(stamp_w < stamp_u);
    rg_only(c, LWW_FAST, key, "U", NULL, NULL);

    /* F through the slow node, which holds U and never saw W. */
    c->now_ms += 10;
    rg_set(c, LWW_SLOW, 3, key, "F", 2);
    rg_pump(c);
    assert_int_equal(rg_reply_of(c, LWW_SLOW, 3)->kind, RK_REPLY_OK);
    uint64_t stamp_f = 0;
    rg_only(c, LWW_SLOW, key, "F", &stamp_f, NULL);
    /* The fix itself: a write is stamped above every stamp it supersedes. */
    assert_true(stamp_f > stamp_u);

    /* A read of all three repairs every copy; all converge on the highest stamp. */
    rg_request(c, LWW_MID, 4, RK_REQ_GET, key, NULL, NULL, 3, 0);
    rg_pump(c);
    const test_reply *got = rg_reply_of(c, LWW_MID, 4);
    assert_int_equal(got->kind, RK_REPLY_VALUE);
    assert_memory_equal(got->value, "F", 1);
    for (rk_node_id id = 1; id <= 3; id++) {
        uint64_t stamp_final = 0;
        rg_only(c, id, key, "F", &stamp_final, NULL);
        /* The simulator's lost_acked_writes: W was acknowledged, no write's coordinator held
         * it, so it may only lose to a higher stamp. */
        assert_true(stamp_final > stamp_w);
    }
    rg_free(c);
}

/* The other half of 0ffb7a3: under lww a write supersedes exactly what its coordinator holds,
 * whatever context the client sends, since the coordinator cannot know the stamps of siblings
 * it has not seen. A client reads U (stamped by the fast node) through the middle node and
 * writes F with that context through the slow node, which never got U. Before the fix the
 * client's context made F (stamped by the slow clock, below U) supersede U on every replica,
 * so the highest-stamped write lost by causality instead of winning by stamp; the assertions
 * that the read answers U and that every copy, F's coordinator's included, ends with U fail
 * without the fix. */
static void test_lww_client_context_covers_no_unseen_sibling(void **state)
{
    (void)state;
    rg_cluster *c = lww_cluster();
    const char *key = "k";

    /* U through the fast node reaches the middle node; the slow node's copy is lost. */
    uint64_t stamp_u = lww_set_missing(c, LWW_FAST, 1, key, "U", LWW_SLOW);
    rg_only(c, LWW_MID, key, "U", NULL, NULL);

    /* RK.GET at R=1 through the middle node: the context covers U. */
    rg_request(c, LWW_MID, 2, RK_REQ_VGET, key, NULL, NULL, 1, 0);
    rg_drop(c, RK_MSG_GET_REQ, LWW_MID, LWW_SLOW);
    rg_drop(c, RK_MSG_GET_REQ, LWW_MID, LWW_FAST);
    assert_int_equal(rg_reply_of(c, LWW_MID, 2)->kind, RK_REPLY_VERSIONS);
    char context[RG_CONTEXT_CHARS_MAX];
    strcpy(context, rg_context_of(c, LWW_MID, 2));

    /* RK.PUT with that context through the slow node, which holds nothing. */
    c->now_ms += 10;
    rg_request(c, LWW_SLOW, 3, RK_REQ_VPUT, key, "F", context, 0, 2);
    rg_pump(c);
    assert_int_equal(rg_reply_of(c, LWW_SLOW, 3)->kind, RK_REPLY_WRITTEN);

    rg_request(c, LWW_SLOW, 4, RK_REQ_GET, key, NULL, NULL, 3, 0);
    rg_pump(c);
    const test_reply *got = rg_reply_of(c, LWW_SLOW, 4);
    assert_int_equal(got->kind, RK_REPLY_VALUE);
    assert_memory_equal(got->value, "U", 1);
    for (rk_node_id id = 1; id <= 3; id++) {
        uint64_t stamp = 0;
        rg_only(c, id, key, "U", &stamp, NULL);
        assert_int_equal(stamp, stamp_u);
    }
    rg_free(c);
}

/* ---- 2. a duplicated forward was coordinated twice ----------------------------------------- */

/* Five nodes, N=3, siblings: the key's three primaries, and `origin`, its first fallback and
 * so no primary: a client write there is forwarded (FWD_REQ) to the first primary. */
static const char *fwd_key(rg_cluster *c, rk_node_id *origin_out, rk_node_id *primaries_out)
{
    const char *key = "k";
    rk_node_id list[RG_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rg_preflist(c, key, list, &primary_count), 5);
    assert_int_equal(primary_count, 3);
    memcpy(primaries_out, list, 3 * sizeof(list[0]));
    *origin_out = list[3];
    return key;
}

/* Seeds 20261136020 and 20261137003 (fixed in 3be292a, "commands: plain commands and RK.*
 * answers as issue 4 item 7 asks": node_fwd_duplicate). The network delivers one FWD_REQ twice.
 * Before the fix the primary coordinated both copies: the second SET superseded the first (a
 * plain SET supersedes the coordinator's copy) with a second dot, so one client write minted
 * two dots and the dot the client's write was acknowledged with vanished. The assertions that
 * every primary still holds the first copy's dot, and that the second copy started no write,
 * fail without the fix. */
static void test_duplicated_forward_coordinated_once(void **state)
{
    (void)state;
    rg_cluster *c = rg_new(5, RK_POLICY_SIBLINGS);
    rk_node_id origin = 0;
    rk_node_id primaries[3];
    const char *key = fwd_key(c, &origin, primaries);
    rk_node_id coordinator = primaries[0];

    rg_set(c, origin, 1, key, "v", 2);
    rg_msg *fwd = rg_take(c, RK_MSG_FWD_REQ, origin, coordinator);
    rg_deliver(c, fwd);
    rg_pump(c);
    const test_reply *ack = rg_reply_of(c, origin, 1);
    assert_int_equal(ack->kind, RK_REPLY_OK);
    rk_dot first = {0};
    rg_only(c, coordinator, key, "v", NULL, &first);
    assert_int_equal(first.node, coordinator);
    uint64_t coord_puts = rk_node_stats_get(rg_node_of(c, coordinator))->coord_puts;

    /* The duplicate arrives after the first copy was coordinated and answered. */
    rg_deliver(c, fwd);
    rg_msg_free(fwd);
    rg_pump(c);
    assert_int_equal(rk_node_stats_get(rg_node_of(c, coordinator))->coord_puts, coord_puts);
    for (uint32_t i = 0; i < 3; i++) {
        rk_dot dot = {0};
        rg_only(c, primaries[i], key, "v", NULL, &dot);
        assert_int_equal(dot.node, first.node);
        assert_int_equal(dot.counter, first.counter);
    }
    assert_int_equal(rg_reply_count(c, origin, 1), 1);
    rg_free(c);
}

/* The same fix's other half: a coordinator id carries its node's epoch, so the first request a
 * restarted origin forwards never has the id of one it forwarded before the crash (its table
 * of coordinators starts over). Without the epoch in the id the primary would take the new
 * write for a duplicate and drop it: the assertions that the second write is answered and
 * stored fail. */
static void test_forward_from_restarted_origin_is_no_duplicate(void **state)
{
    (void)state;
    rg_cluster *c = rg_new(5, RK_POLICY_SIBLINGS);
    rk_node_id origin = 0;
    rk_node_id primaries[3];
    const char *key = fwd_key(c, &origin, primaries);

    rg_set(c, origin, 1, key, "v1", 2);
    rg_pump(c);
    assert_int_equal(rg_reply_of(c, origin, 1)->kind, RK_REPLY_OK);

    rg_crash_restart(c, origin);
    rg_set(c, origin, 2, key, "v2", 2);
    rg_pump(c);
    assert_int_equal(rg_reply_of(c, origin, 2)->kind, RK_REPLY_OK);
    for (uint32_t i = 0; i < 3; i++) {
        rg_only(c, primaries[i], key, "v2", NULL, NULL);
    }
    rg_free(c);
}

/* ---- 3. use-after-free in read repair ------------------------------------------------------ */

/* Seed 20261136011 (fixed in 807250d, "coord: fix a use-after-free in read repair"). Read
 * repair encoded the merged object into the node's scratch buffer and sent it to a stale
 * replica, repaired its own stale copy (a local write, which encodes into that same buffer
 * and may move it), then sent the old pointer to the next stale replica.
 *
 * Three nodes, N=3, siblings; the read's coordinator is the middle of the key's preference
 * list, so the repair loop meets a remote replica, itself, then another remote replica, all
 * stale: each holds a different concurrent value (a, b, c). While the read waits for its last
 * answer, a big write (d, through the first primary, after that primary answered) reaches the
 * coordinator's own copy, so repairing itself writes an object other than the merged one, and
 * larger than any the coordinator encoded before unless `scratch_warm_bytes` made its scratch
 * buffer larger first (a write of that many bytes to another key through it).
 *
 * Without the fix the last replica is sent what the stale pointer finds, and the assertion
 * that it was repaired to a, b and c fails: with the buffer moved, freed memory (ASan reports
 * the heap-use-after-free in the send; in a plain build what the bytes hold depends on the
 * allocator), with the buffer rewritten in place, a prefix of the coordinator's own object,
 * which fails its checksum in any build. */
static void read_repair_three_stale(size_t scratch_warm_bytes)
{
    rg_cluster *c = rg_new(3, RK_POLICY_SIBLINGS);
    const char *key = "k";
    rk_node_id list[RG_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rg_preflist(c, key, list, &primary_count), 3);
    assert_int_equal(primary_count, 3);
    rk_node_id first = list[0];
    rk_node_id coordinator = list[1];
    rk_node_id last = list[2];

    if (scratch_warm_bytes > 0) {
        char *warm = malloc(scratch_warm_bytes + 1);
        assert_non_null(warm);
        memset(warm, 'w', scratch_warm_bytes);
        warm[scratch_warm_bytes] = '\0';
        rg_set(c, coordinator, 1, "warm", warm, 3);
        free(warm);
        rg_pump(c);
        assert_int_equal(rg_reply_of(c, coordinator, 1)->kind, RK_REPLY_OK);
    }

    /* Three concurrent values, each written at W=1 and kept by its coordinator alone. */
    const char *values[3] = {"a", "b", "c"};
    for (uint32_t i = 0; i < 3; i++) {
        rg_set(c, list[i], 10 + i, key, values[i], 1);
        for (uint32_t j = 0; j < 3; j++) {
            if (j != i) {
                rg_drop(c, RK_MSG_PUT_REQ, list[i], list[j]);
            }
        }
        rg_pump(c);
        assert_int_equal(rg_reply_of(c, list[i], 10 + i)->kind, RK_REPLY_OK);
    }

    /* RK.GET at R=3 through the middle primary; the first primary answers {a}. */
    rg_request(c, coordinator, 20, RK_REQ_VGET, key, NULL, NULL, 3, 0);
    rg_deliver_taken(c, RK_MSG_GET_REQ, coordinator, first);
    rg_deliver_taken(c, RK_MSG_GET_RESP, first, coordinator);

    /* Then d, a large value, through the first primary: it supersedes a there and reaches the
     * coordinator's copy (now {b, d}), not the last one. */
    char big[2048];
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rg_set(c, first, 21, key, big, 1);
    rg_drop(c, RK_MSG_PUT_REQ, first, last);
    rg_deliver_taken(c, RK_MSG_PUT_REQ, first, coordinator);
    rg_complete_syncs(c);
    {
        rk_dvvset own;
        rg_local(c, coordinator, key, &own);
        assert_int_equal(own.sibling_count, 2);
        assert_non_null(rg_find(&own, "b"));
        assert_non_null(rg_find(&own, big));
        rk_dvvset_deinit(&own);
    }

    /* The last answer {c} completes the read: merged {a, b, c}, every replica stale. */
    rg_deliver_taken(c, RK_MSG_GET_REQ, coordinator, last);
    rg_deliver_taken(c, RK_MSG_GET_RESP, last, coordinator);
    assert_int_equal(rg_reply_of(c, coordinator, 20)->kind, RK_REPLY_VERSIONS);
    assert_int_equal(rk_node_stats_get(rg_node_of(c, coordinator))->read_repairs, 3);
    rg_pump(c);

    /* The last replica got the merged object: a, b and c. */
    rk_dvvset repaired;
    rg_local(c, last, key, &repaired);
    assert_int_equal(repaired.sibling_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_non_null(rg_find(&repaired, values[i]));
    }
    rk_dvvset_deinit(&repaired);
    /* The coordinator's own copy: d superseded a, so b, c and d. */
    rk_dvvset own;
    rg_local(c, coordinator, key, &own);
    assert_int_equal(own.sibling_count, 3);
    assert_non_null(rg_find(&own, "b"));
    assert_non_null(rg_find(&own, "c"));
    assert_non_null(rg_find(&own, big));
    rk_dvvset_deinit(&own);
    rg_free(c);
}

/* The scratch buffer moves when the coordinator repairs its own copy: the use-after-free
 * itself, as ASan caught it in the simulator. */
static void test_read_repair_own_copy_moves_scratch(void **state)
{
    (void)state;
    read_repair_three_stale(0);
}

/* The scratch buffer is large enough and is rewritten in place: the stale pointer is valid
 * memory holding the wrong object, which fails the test in a plain build too. */
static void test_read_repair_own_copy_rewrites_scratch(void **state)
{
    (void)state;
    read_repair_three_stale(16 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_lww_write_stamped_above_what_it_supersedes, rg_teardown),
        cmocka_unit_test_teardown(test_lww_client_context_covers_no_unseen_sibling, rg_teardown),
        cmocka_unit_test_teardown(test_duplicated_forward_coordinated_once, rg_teardown),
        cmocka_unit_test_teardown(test_forward_from_restarted_origin_is_no_duplicate, rg_teardown),
        cmocka_unit_test_teardown(test_read_repair_own_copy_moves_scratch, rg_teardown),
        cmocka_unit_test_teardown(test_read_repair_own_copy_rewrites_scratch, rg_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
