/* test_handoff.c — sloppy quorum and hinted handoff (issue 6) on a five-node cluster of core
 * nodes wired together by a small harness: one FIFO of messages, each encoded to a wire frame
 * when sent and decoded at delivery (src/net/wire.h, as between real nodes), a fake clock with
 * timers, syncs completed when the harness pumps, client replies recorded per node. A node that
 * is "down" is frozen: it handles nothing, messages to it are dropped, and every other node is
 * told (rk_node_on_peer false); some tests give nodes different views on purpose.
 *
 * Keys are found by name (k0, k1, ...) with rk_node_preflist, so each test knows its key's
 * primaries p1 p2 p3 and fallbacks f1 f2 (ring order: f1 stands in for the first primary seen
 * down, f2 for the second).
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

#include "../../src/core/dvvset.h"
#include "../../src/core/msg.h"
#include "../../src/core/node.h"
#include "../../src/net/wire.h"
#include "test_reply.h"

#define H_NODES 5u
#define H_REPLIES_MAX 256u
#define H_TIMERS_MAX 4096u
#define H_PUMP_STEPS_MAX 200000u

/* ---- the harness ------------------------------------------------------------------------------ */

typedef test_reply h_reply;

typedef struct h_msg {
    struct h_msg *next;
    rk_node_id from;
    rk_node_id to;
    rk_msg_kind kind;
    size_t frame_bytes;
    uint8_t *frame;             /* the message as encoded when sent */
} h_msg;

typedef struct h_timer {
    uint32_t node;      /* index */
    uint64_t at_ms;
    uint64_t id;
} h_timer;

struct harness;

typedef struct h_node {
    struct harness *h;
    uint32_t index;
    rk_node_id id;
    rk_env env;
    rk_store *store;
    rk_node *node;
    bool frozen;
    uint64_t sync_wanted;
    uint64_t sync_done;
    uint64_t wall_tick;
    h_reply replies[H_REPLIES_MAX];
    uint32_t reply_count;
} h_node;

typedef struct harness {
    rk_node_config config;
    h_node nodes[H_NODES];
    uint64_t now_ms;
    h_msg *head;
    h_msg *tail;
    h_msg *held_head;       /* messages matching the hold filter wait here until released */
    h_msg *held_tail;
    /* hold filter: a message of this kind from hold_from to hold_to (kind 0: none) */
    rk_msg_kind hold_kind;
    rk_node_id hold_from;
    rk_node_id hold_to;
    uint32_t held_count;
    h_timer timers[H_TIMERS_MAX];
    uint32_t timer_count;
    uint64_t delivered;
} harness;

static harness *h_new(void);
/* The harness of the running test: the teardown frees it even when an assertion failed. */
static harness *h_live;

static h_node *h_at(harness *h, rk_node_id id)
{
    assert_true(id >= 1 && id <= H_NODES);
    return &h->nodes[id - 1];
}

static rk_node *h_node_of(harness *h, rk_node_id id)
{
    return h_at(h, id)->node;
}

static uint64_t h_env_now_ms(void *ctx)
{
    return ((h_node *)ctx)->h->now_ms;
}

static uint64_t h_env_wall_us(void *ctx)
{
    h_node *hn = ctx;
    /* The clock in microseconds plus a per-node tick: increasing, and far from the others. */
    return hn->h->now_ms * 1000u + (++hn->wall_tick);
}

static uint64_t h_env_random(void *ctx)
{
    h_node *hn = ctx;
    return 0x9e3779b97f4a7c15ull * (++hn->wall_tick);
}

static void h_msg_free(h_msg *hm)
{
    free(hm->frame);
    free(hm);
}

static void h_list_append(h_msg **head, h_msg **tail, h_msg *hm)
{
    hm->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = hm;
    } else {
        *head = hm;
    }
    *tail = hm;
}

static void h_env_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    h_node *hn = ctx;
    harness *h = hn->h;
    assert_true(to >= 1 && to <= H_NODES);
    assert_int_not_equal(to, hn->id);
    if (h_at(h, to)->frozen) {
        return;     /* the link is down: lost */
    }
    h_msg *hm = calloc(1, sizeof(*hm));
    assert_non_null(hm);
    hm->from = hn->id;
    hm->to = to;
    hm->kind = m->kind;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_msg(&o, m), 0);
    hm->frame_bytes = o.len;
    hm->frame = o.data;         /* taken: the buffer holds exactly this one frame */
    o.data = NULL;
    rk_wire_out_deinit(&o);
    h_list_append(&h->head, &h->tail, hm);
}

static void h_env_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    h_node *hn = ctx;
    harness *h = hn->h;
    assert_true(h->timer_count < H_TIMERS_MAX);
    h->timers[h->timer_count++] = (h_timer){.node = hn->index, .at_ms = at_ms, .id = timer_id};
}

static void h_env_reply(void *ctx, uint64_t client_req, const rk_reply *r)
{
    h_node *hn = ctx;
    assert_true(hn->reply_count < H_REPLIES_MAX);
    test_reply_record(&hn->replies[hn->reply_count++], client_req, r);
}

static void h_env_sync(void *ctx, uint64_t seq)
{
    h_node *hn = ctx;
    if (seq > hn->sync_wanted) {
        hn->sync_wanted = seq;
    }
}

static void h_node_start(harness *h, h_node *hn)
{
    rk_node_config c = h->config;
    c.id = hn->id;
    hn->sync_wanted = 0;
    hn->sync_done = rk_store_durable_seq(hn->store);
    hn->env = (rk_env){.ctx = hn,
                       .now_ms = h_env_now_ms,
                       .wall_us = h_env_wall_us,
                       .random = h_env_random,
                       .send = h_env_send,
                       .set_timer = h_env_set_timer,
                       .reply = h_env_reply,
                       .sync = h_env_sync,
                       .store = hn->store};
    assert_int_equal(rk_node_new(&c, &hn->env, &hn->node), 0);
}

static harness *h_new(void)
{
    harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    assert_null(h_live);
    h_live = h;
    h->now_ms = 1000;
    rk_node_config_default(&h->config);
    h->config.member_count = H_NODES;
    for (uint32_t i = 0; i < H_NODES; i++) {
        h->config.members[i].id = i + 1;
    }
    for (uint32_t i = 0; i < H_NODES; i++) {
        h_node *hn = &h->nodes[i];
        hn->h = h;
        hn->index = i;
        hn->id = i + 1;
        hn->wall_tick = (uint64_t)i * 100u;
        assert_int_equal(rk_store_mem_open(&hn->store), 0);
        h_node_start(h, hn);
    }
    return h;
}

static void h_free_list(h_msg *m)
{
    while (m != NULL) {
        h_msg *next = m->next;
        h_msg_free(m);
        m = next;
    }
}

static void h_free(harness *h)
{
    h_free_list(h->head);
    h_free_list(h->held_head);
    for (uint32_t i = 0; i < H_NODES; i++) {
        rk_node_free(h->nodes[i].node);
        rk_store_close(h->nodes[i].store);
    }
    if (h_live == h) {
        h_live = NULL;
    }
    free(h);
}

static int h_teardown(void **state)
{
    (void)state;
    if (h_live != NULL) {
        h_free(h_live);
    }
    return 0;
}

/* Complete a node's outstanding sync, as the runtime's worker would. True if there was one. */
static bool h_complete_sync(h_node *hn)
{
    if (hn->frozen || hn->sync_wanted <= hn->sync_done) {
        return false;
    }
    uint64_t seq = hn->sync_wanted;
    assert_int_equal(rk_store_sync(hn->store, seq), 0);
    hn->sync_done = seq;
    rk_node_on_durable(hn->node, seq);
    return true;
}

static bool h_should_hold(const harness *h, const h_msg *hm)
{
    return h->hold_kind != 0 && hm->kind == h->hold_kind && hm->from == h->hold_from &&
           hm->to == h->hold_to;
}

/* Deliver the first queued message. False when the queue is empty. */
static bool h_deliver_one(harness *h)
{
    h_msg *hm = h->head;
    if (hm == NULL) {
        return false;
    }
    h->head = hm->next;
    if (h->head == NULL) {
        h->tail = NULL;
    }
    if (h_should_hold(h, hm)) {
        h_list_append(&h->held_head, &h->held_tail, hm);
        h->held_count++;
        return true;
    }
    h_node *to = h_at(h, hm->to);
    h_node *from = h_at(h, hm->from);
    if (!to->frozen && !from->frozen) {
        h->delivered++;
        rk_wire_decoder d;
        assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
        rk_wire_frame frame;
        size_t consumed = 0;
        assert_int_equal(rk_wire_decode_frame(&d, hm->frame, hm->frame_bytes, &frame, &consumed),
                         1);
        rk_wire_in in;
        assert_int_equal(rk_wire_decode(&d, &frame, &in), 0);
        assert_int_equal(in.msg.kind, hm->kind);
        rk_node_on_message(to->node, hm->from, &in.msg);
        rk_wire_in_deinit(&in);
    }
    h_msg_free(hm);
    return true;
}

/* Deliver messages and complete syncs until nothing moves. */
static void h_pump(harness *h)
{
    for (uint32_t step = 0; step < H_PUMP_STEPS_MAX; step++) {
        if (h_deliver_one(h)) {
            continue;
        }
        bool any = false;
        for (uint32_t i = 0; i < H_NODES; i++) {
            any = h_complete_sync(&h->nodes[i]) || any;
        }
        if (!any) {
            return;
        }
    }
    fail_msg("the cluster did not go quiet in %u steps", H_PUMP_STEPS_MAX);
}

/* Put the held messages back at the end of the queue (not delivered yet). */
static void h_release(harness *h)
{
    h->hold_kind = 0;
    while (h->held_head != NULL) {
        h_msg *hm = h->held_head;
        h->held_head = hm->next;
        h_list_append(&h->head, &h->tail, hm);
    }
    h->held_tail = NULL;
    h->held_count = 0;
}

/* Move the clock forward by `ms`, firing due timers (earliest first) of running nodes and
 * pumping after each. Timers of frozen nodes wait (they fire once the node runs again). */
static void h_advance(harness *h, uint64_t ms)
{
    uint64_t target = h->now_ms + ms;
    h_pump(h);
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < h->timer_count; i++) {
            const h_timer *t = &h->timers[i];
            if (t->at_ms <= target && !h->nodes[t->node].frozen &&
                (best < 0 || t->at_ms < h->timers[best].at_ms)) {
                best = (int)i;
            }
        }
        if (best < 0) {
            break;
        }
        h_timer t = h->timers[best];
        h->timers[best] = h->timers[--h->timer_count];
        if (t.at_ms > h->now_ms) {
            h->now_ms = t.at_ms;
        }
        rk_node_on_timer(h->nodes[t.node].node, t.id);
        h_pump(h);
    }
    h->now_ms = target;
}

/* One node's view of another. */
static void h_view(harness *h, rk_node_id observer, rk_node_id peer, bool up)
{
    rk_node_on_peer(h_node_of(h, observer), peer, up);
}

/* Freeze `id` and tell every other node it is down. */
static void h_down(harness *h, rk_node_id id)
{
    h_at(h, id)->frozen = true;
    for (rk_node_id x = 1; x <= H_NODES; x++) {
        if (x != id) {
            h_view(h, x, id, false);
        }
    }
}

/* Run `id` again and tell every other node it is up (a frozen node saw nothing change). */
static void h_up(harness *h, rk_node_id id)
{
    h_at(h, id)->frozen = false;
    for (rk_node_id x = 1; x <= H_NODES; x++) {
        if (x != id) {
            h_view(h, x, id, true);
        }
    }
}

/* Freeze (or run again) every node but `live`. */
static void h_down_all_but(harness *h, rk_node_id live)
{
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        if (id != live) {
            h_down(h, id);
        }
    }
}

static void h_up_all_but(harness *h, rk_node_id live)
{
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        if (id != live) {
            h_up(h, id);
        }
    }
}

/* kill -9 of `id` and a restart on the same store: unsynced writes are gone, messages to and
 * from the old incarnation and its timers are lost. */
static void h_crash_restart(harness *h, rk_node_id id)
{
    h_node *hn = h_at(h, id);
    rk_node_free(hn->node);
    hn->node = NULL;
    rk_store_mem_crash(hn->store);
    h_msg **link = &h->head;
    h->tail = NULL;
    while (*link != NULL) {
        h_msg *hm = *link;
        if (hm->from == id || hm->to == id) {
            *link = hm->next;
            h_msg_free(hm);
        } else {
            h->tail = hm;
            link = &hm->next;
        }
    }
    for (uint32_t i = 0; i < h->timer_count;) {
        if (h->timers[i].node == hn->index) {
            h->timers[i] = h->timers[--h->timer_count];
        } else {
            i++;
        }
    }
    h_node_start(h, hn);
}

/* ---- requests and checks ------------------------------------------------------------------- */

static const h_reply *h_find_reply(harness *h, rk_node_id at, uint64_t client_req)
{
    h_node *hn = h_at(h, at);
    const h_reply *found = NULL;
    for (uint32_t i = 0; i < hn->reply_count; i++) {
        if (hn->replies[i].client_req == client_req) {
            assert_null(found);     /* exactly one reply per request */
            found = &hn->replies[i];
        }
    }
    return found;
}

static void h_put(harness *h, rk_node_id at, uint64_t req, const char *key, const char *value,
                  uint8_t sloppy)
{
    rk_request r = {.kind = RK_REQ_PUT,
                    .key = (const uint8_t *)key,
                    .key_len = strlen(key),
                    .value = (const uint8_t *)value,
                    .value_len = strlen(value),
                    .sloppy = sloppy};
    rk_node_on_request(h_node_of(h, at), req, &r);
}

static void h_get(harness *h, rk_node_id at, uint64_t req, const char *key, uint32_t r_count,
                  uint8_t sloppy)
{
    rk_request r = {.kind = RK_REQ_GET,
                    .key = (const uint8_t *)key,
                    .key_len = strlen(key),
                    .r = r_count,
                    .sloppy = sloppy};
    rk_node_on_request(h_node_of(h, at), req, &r);
}

/* A SET through `at`, pumped to its reply; returns the reply. */
static const h_reply *h_put_sync(harness *h, rk_node_id at, uint64_t req, const char *key,
                                 const char *value, uint8_t sloppy)
{
    h_put(h, at, req, key, value, sloppy);
    h_pump(h);
    const h_reply *r = h_find_reply(h, at, req);
    assert_non_null(r);
    return r;
}

static void h_bucket_set(harness *h, rk_node_id at, uint64_t req, const char *bucket,
                         const char *prop, const char *value)
{
    const char *props[1] = {prop};
    const char *values[1] = {value};
    rk_node_bucket_set(h_node_of(h, at), req, (const uint8_t *)bucket, strlen(bucket), props,
                       values, 1);
    h_pump(h);
    const h_reply *r = h_find_reply(h, at, req);
    assert_non_null(r);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, H_NODES);
}

/* Bytes of `id`'s own copy of key (0 when it has none). */
static size_t local_len(harness *h, rk_node_id id, const char *key)
{
    rk_buf buf;
    assert_int_equal(rk_node_local_get(h_node_of(h, id), (const uint8_t *)key, strlen(key), &buf),
                     0);
    size_t len = buf.len;
    rk_store_buf_free(&buf);
    return len;
}

/* True when `id`'s own copy of key holds exactly one live sibling, equal to `value`. */
static bool local_is(harness *h, rk_node_id id, const char *key, const char *value)
{
    rk_buf buf;
    assert_int_equal(rk_node_local_get(h_node_of(h, id), (const uint8_t *)key, strlen(key), &buf),
                     0);
    if (buf.len == 0) {
        return false;
    }
    rk_dvvset set;
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    uint32_t live = 0;
    bool same = false;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        const rk_sibling *s = &set.siblings[i];
        if (!s->tombstone) {
            live++;
            same = s->value_len == strlen(value) && memcmp(s->value, value, s->value_len) == 0;
        }
    }
    rk_dvvset_deinit(&set);
    return live == 1 && same;
}


/* Live siblings of `id`'s own copy of key; *has set when `value` is one of them. */
static uint32_t local_live(harness *h, rk_node_id id, const char *key, const char *value,
                           bool *has)
{
    rk_buf buf;
    assert_int_equal(rk_node_local_get(h_node_of(h, id), (const uint8_t *)key, strlen(key), &buf),
                     0);
    *has = false;
    if (buf.len == 0) {
        return 0;
    }
    rk_dvvset set;
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    uint32_t live = 0;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        const rk_sibling *s = &set.siblings[i];
        if (!s->tombstone) {
            live++;
            *has = *has || (s->value_len == strlen(value) &&
                            memcmp(s->value, value, s->value_len) == 0);
        }
    }
    rk_dvvset_deinit(&set);
    return live;
}

static const rk_node_stats *st(harness *h, rk_node_id id)
{
    return rk_node_stats_get(h_node_of(h, id));
}

static uint64_t hints_everywhere(harness *h)
{
    uint64_t sum = 0;
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        sum += st(h, id)->hints_pending;
    }
    return sum;
}

/* A key in `bucket_prefix` ("" for none) whose extended preference list is 5 nodes, 3 of them
 * primaries, with primaries[0] == want_p1 when want_p1 != 0. */
typedef struct h_key {
    char name[32];
    rk_node_id p[3];
    rk_node_id f[2];
} h_key;

static void h_find_key(harness *h, const char *bucket_prefix, rk_node_id want_p1, h_key *out)
{
    for (uint32_t i = 0; i < 1000; i++) {
        snprintf(out->name, sizeof(out->name), "%sk%u", bucket_prefix, i);
        rk_node_id list[8];
        uint32_t primaries = 0;
        uint32_t count = rk_node_preflist(h_node_of(h, 1), (const uint8_t *)out->name,
                                          strlen(out->name), list, 8, &primaries);
        assert_int_equal(count, H_NODES);
        assert_int_equal(primaries, 3);
        if (want_p1 != 0 && list[0] != want_p1) {
            continue;
        }
        /* every node agrees on the ring */
        for (rk_node_id id = 2; id <= H_NODES; id++) {
            rk_node_id other[8];
            uint32_t other_primaries = 0;
            assert_int_equal(rk_node_preflist(h_node_of(h, id), (const uint8_t *)out->name,
                                              strlen(out->name), other, 8, &other_primaries),
                             count);
            assert_memory_equal(other, list, count * sizeof(list[0]));
        }
        memcpy(out->p, list, sizeof(out->p));
        memcpy(out->f, list + 3, sizeof(out->f));
        return;
    }
    fail_msg("no key found");
}

/* Let every node's start-up epoch write become durable and settle start-up timers. */
static harness *h_start(void)
{
    harness *h = h_new();
    h_pump(h);
    return h;
}

/* A fresh cluster, the first key of the default bucket in *k, its second and third primaries
 * down (the tests' usual start: p1 takes writes, f1 and f2 stand in for p2 and p3). */
static harness *h_start_two_down(h_key *k)
{
    harness *h = h_start();
    h_find_key(h, "", 0, k);
    h_down(h, k->p[1]);
    h_down(h, k->p[2]);
    return h;
}

/* ---- 1. sloppy write, then handoff --------------------------------------------------------- */

/* With two of a key's primaries down, a write through the third is acknowledged with the two
 * first reachable fallbacks standing in; each keeps a hinted copy. Once the owners return,
 * handoff gives them the value and the fallbacks drop their copies. */
static void test_sloppy_write_then_handoff(void **state)
{
    (void)state;
    h_key k;
    harness *h = h_start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0], f2 = k.f[1];

    const h_reply *r = h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_true(r->integer >= 2);
    /* p1 coordinated with fallbacks; f1 stands in for p2, f2 for p3: one hint each */
    assert_int_equal(st(h, p1)->fallback_writes, 1);
    assert_int_equal(st(h, p1)->hints_pending, 0);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    assert_int_equal(st(h, f2)->hints_pending, 1);
    assert_int_equal(st(h, f1)->hints_written, 1);
    assert_int_equal(st(h, f2)->hints_written, 1);
    assert_true(local_is(h, p1, k.name, "v1"));
    assert_true(local_is(h, f1, k.name, "v1"));
    assert_true(local_is(h, f2, k.name, "v1"));
    assert_int_equal(local_len(h, p2, k.name), 0);
    assert_int_equal(local_len(h, p3, k.name), 0);

    /* While the owners are down the handoff timer finds nobody to send to. */
    h_advance(h, 350);
    assert_int_equal(st(h, f1)->handoff_sent, 0);
    assert_int_equal(st(h, f2)->handoff_sent, 0);
    assert_int_equal(st(h, f1)->hints_pending, 1);

    h_up(h, p2);
    h_up(h, p3);
    h_advance(h, 350);
    assert_true(local_is(h, p2, k.name, "v1"));
    assert_true(local_is(h, p3, k.name, "v1"));
    assert_true(local_is(h, p1, k.name, "v1"));
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_int_equal(local_len(h, f2, k.name), 0);
    assert_int_equal(hints_everywhere(h), 0);
    for (uint32_t i = 0; i < 2; i++) {
        rk_node_id f = k.f[i];
        assert_int_equal(st(h, f)->handoff_sent, 1);
        assert_int_equal(st(h, f)->hints_delivered, 1);
        assert_int_equal(st(h, f)->handoff_dropped_copies, 1);
        assert_int_equal(st(h, f)->handoff_resent, 0);
        assert_int_equal(st(h, f)->keys_live, 0);
    }
    /* a read of the key from anywhere sees it */
    h_get(h, f1, 2, k.name, 3, RK_SLOPPY_BUCKET);
    h_pump(h);
    const h_reply *g = h_find_reply(h, f1, 2);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_int_equal(g->value_len, 2);
    assert_memory_equal(g->value, "v1", 2);
    h_free(h);
}

/* ---- 2. strict quorum -------------------------------------------------------------------- */

static void strict_check_nothing_stored(harness *h, const h_key *k)
{
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        assert_int_equal(local_len(h, id, k->name), 0);
    }
    assert_int_equal(hints_everywhere(h), 0);
}

/* Sloppy off for the request: with two primaries down W=2 cannot be met, so the write is
 * refused before anything is stored, whether sent to a primary or to another node. */
static void test_strict_request_refused(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0];
    h_down(h, k.p[1]);
    h_down(h, k.p[2]);

    const h_reply *r = h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_OFF);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    assert_int_equal(st(h, p1)->unavailable, 1);
    strict_check_nothing_stored(h, &k);

    /* through a non-primary: forwarded to p1, which refuses it the same way */
    r = h_put_sync(h, f1, 2, k.name, "v2", RK_SLOPPY_OFF);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    strict_check_nothing_stored(h, &k);
    h_advance(h, 6000);     /* past every deadline: nothing shows up late */
    strict_check_nothing_stored(h, &k);
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        assert_int_equal(st(h, id)->fallback_writes, 0);
    }

    /* the same request with the bucket's default (sloppy) succeeds: the test can tell */
    r = h_put_sync(h, p1, 3, k.name, "v3", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    h_free(h);
}

/* Sloppy off for the bucket (RK.BUCKET strict: sloppy false), set while every node was up. */
static void test_strict_bucket_refused(void **state)
{
    (void)state;
    harness *h = h_start();
    h_bucket_set(h, 1, 100, "strict", "sloppy", "false");
    h_key k;
    h_find_key(h, "strict:", 0, &k);
    rk_node_id p1 = k.p[0];
    h_down(h, k.p[1]);
    h_down(h, k.p[2]);
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        if (!h_at(h, id)->frozen) {
            const h_reply *r = h_put_sync(h, id, 1, k.name, "v1", RK_SLOPPY_BUCKET);
            assert_int_equal(r->kind, RK_REPLY_ERROR);
            assert_int_equal(r->error, RK_EUNAVAIL);
        }
    }
    h_advance(h, 6000);
    strict_check_nothing_stored(h, &k);
    /* a request may still ask for sloppy explicitly */
    const h_reply *r = h_put_sync(h, p1, 2, k.name, "v2", RK_SLOPPY_ON);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(st(h, k.f[0])->hints_pending, 1);
    h_free(h);
}

/* ---- 3. a newer write while a handoff is in flight ------------------------------------------ */

/* f1 hands its copy to p2; before p2's ack arrives, a newer write reaches f1's copy (p1 still
 * sees p2 down, so f1 stands in again). The ack covers the old copy only: the hint is kept
 * (handoff_resent), and the next tick hands the newer value over, then the copy goes. */
static void test_newer_write_during_handoff(void **state)
{
    (void)state;
    h_key k;
    harness *h = h_start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(h, f1)->hints_pending, 1);

    /* p2 runs again; only f1 learns it (p1 and the others still see it down) */
    h_at(h, p2)->frozen = false;
    h_view(h, f1, p2, true);
    h->hold_kind = RK_MSG_PUT_RESP;
    h->hold_from = p2;
    h->hold_to = f1;
    h_advance(h, 150);
    assert_int_equal(st(h, f1)->handoff_sent, 1);
    assert_int_equal(h->held_count, 1);         /* p2 stored v1 and acknowledged: held */
    assert_true(local_is(h, p2, k.name, "v1"));

    /* the newer write: p1 coordinates with f1 standing in for p2 again */
    assert_int_equal(h_put_sync(h, p1, 2, k.name, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_true(local_is(h, f1, k.name, "v2"));
    assert_int_equal(st(h, f1)->hints_pending, 1);   /* the same (owner, key) hint */
    assert_int_equal(st(h, f1)->hints_written, 1);
    assert_true(local_is(h, p2, k.name, "v1"));      /* p1 did not send to p2 */

    h_release(h);
    h_pump(h);
    assert_int_equal(st(h, f1)->handoff_resent, 1);
    assert_int_equal(st(h, f1)->hints_delivered, 0);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    assert_true(local_is(h, f1, k.name, "v2"));      /* kept */

    h_advance(h, 250);
    assert_int_equal(st(h, f1)->handoff_sent, 2);
    assert_int_equal(st(h, f1)->hints_delivered, 1);
    assert_int_equal(st(h, f1)->handoff_dropped_copies, 1);
    assert_int_equal(st(h, f1)->hints_pending, 0);
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_true(local_is(h, p2, k.name, "v2"));
    /* f2 still holds its hint for p3 (down for everyone), with the newest value */
    assert_int_equal(st(h, f2)->hints_pending, 1);
    assert_true(local_is(h, f2, k.name, "v2"));
    h_free(h);
}

/* ---- 4. the fallback crashes ---------------------------------------------------------------- */

/* A fallback's hint and copy are durable before it acknowledges; after kill -9 and a restart
 * it still holds them and hands them back once the owner is up. */
static void test_hints_survive_fallback_crash(void **state)
{
    (void)state;
    h_key k;
    harness *h = h_start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(h, f1)->hints_pending, 1);

    h_crash_restart(h, f1);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    assert_int_equal(st(h, f1)->hints_written, 0);   /* counted at start-up, not written */
    assert_true(local_is(h, f1, k.name, "v1"));
    /* the restarted node's failure detector finds p2 and p3 down again */
    h_view(h, f1, p2, false);
    h_view(h, f1, p3, false);
    h_advance(h, 300);
    assert_int_equal(st(h, f1)->handoff_sent, 0);

    h_up(h, p2);
    h_up(h, p3);
    h_advance(h, 350);
    assert_true(local_is(h, p2, k.name, "v1"));
    assert_true(local_is(h, p3, k.name, "v1"));
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_int_equal(st(h, f1)->hints_delivered, 1);
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}

/* A fallback that crashes before its copy is durable never acknowledged it: the coordinator
 * met W without it, and at its deadline records a hint itself for the primary nobody stored
 * the write for; once that primary is up the coordinator hands it over (and keeps its own
 * copy: it is a primary). */
static void test_fallback_crash_before_durable_coordinator_hints(void **state)
{
    (void)state;
    h_key k;
    harness *h = h_start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0], f2 = k.f[1];
    h_put(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    /* deliver the two PUT_REQs, nothing synced yet */
    assert_true(h_deliver_one(h));
    assert_true(h_deliver_one(h));
    assert_null(h->head);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    h_crash_restart(h, f1);                          /* f1's hint and copy were not synced */
    assert_int_equal(st(h, f1)->hints_pending, 0);
    assert_int_equal(local_len(h, f1, k.name), 0);
    h_view(h, f1, p2, false);
    h_view(h, f1, p3, false);
    h_pump(h);
    const h_reply *r = h_find_reply(h, p1, 1);
    assert_non_null(r);
    assert_int_equal(r->kind, RK_REPLY_OK);          /* p1 and f2: W=2 */
    assert_int_equal(st(h, p1)->hints_pending, 0);   /* still waiting for f1 */
    h_advance(h, h->config.request_timeout_ms + 10);
    assert_int_equal(st(h, p1)->hints_pending, 1);   /* for p2, which f1 did not store */
    assert_int_equal(st(h, f2)->hints_pending, 1);   /* for p3 */

    h_up(h, p2);
    h_up(h, p3);
    h_advance(h, 350);
    assert_true(local_is(h, p2, k.name, "v1"));
    assert_true(local_is(h, p3, k.name, "v1"));
    assert_true(local_is(h, p1, k.name, "v1"));      /* a primary keeps its copy */
    assert_int_equal(st(h, p1)->handoff_dropped_copies, 0);
    assert_int_equal(local_len(h, f2, k.name), 0);
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}

/* ---- 5. reads on the extended list ---------------------------------------------------------- */

/* With two primaries down, R=2 is met by the live primary and a fallback (and R=3 by both
 * fallbacks); a strict read cannot be. */
static void test_read_from_fallbacks(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0], f2 = k.f[1];
    h_down(h, k.p[1]);
    h_down(h, k.p[2]);
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);

    rk_node_id via[3] = {p1, f1, f2};
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t before = st(h, via[i])->fallback_reads;
        h_get(h, via[i], 10 + i, k.name, 2, RK_SLOPPY_BUCKET);
        h_pump(h);
        const h_reply *g = h_find_reply(h, via[i], 10 + i);
        assert_non_null(g);
        assert_int_equal(g->kind, RK_REPLY_VALUE);
        assert_int_equal(g->value_len, 2);
        assert_memory_equal(g->value, "v1", 2);
        assert_int_equal(st(h, via[i])->fallback_reads, before + 1);
    }
    h_get(h, p1, 20, k.name, 3, RK_SLOPPY_BUCKET);
    h_pump(h);
    assert_int_equal(h_find_reply(h, p1, 20)->kind, RK_REPLY_VALUE);
    /* strict: only p1 is reachable among the primaries */
    h_get(h, p1, 21, k.name, 2, RK_SLOPPY_OFF);
    h_pump(h);
    const h_reply *g = h_find_reply(h, p1, 21);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_ERROR);
    assert_int_equal(g->error, RK_EUNAVAIL);
    h_free(h);
}

/* A key written while every node was up, read (R=3) with two primaries down: the fallbacks
 * answer not-found and count toward R, and get no read repair (a repaired copy there would have
 * no hint, so nothing would ever remove it). */
static void test_read_no_repair_to_fallbacks(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    h_down(h, k.p[1]);
    h_down(h, k.p[2]);
    h_get(h, p1, 2, k.name, 3, RK_SLOPPY_BUCKET);
    h_pump(h);
    const h_reply *g = h_find_reply(h, p1, 2);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_memory_equal(g->value, "v1", 2);
    assert_int_equal(st(h, p1)->fallback_reads, 1);
    assert_int_equal(st(h, p1)->read_repairs, 0);
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_int_equal(local_len(h, f2, k.name), 0);
    h_free(h);
}

/* ---- 6. degraded writes ---------------------------------------------------------------------- */

/* Bucket cart with `prop` 1 (set through node `via`), a cart key *k and a key of the default
 * bucket *plain whose first primary is k's. */
static void h_cart_keys(harness *h, rk_node_id via, const char *prop, h_key *k, h_key *plain)
{
    h_bucket_set(h, via, 100, "cart", prop, "1");
    h_find_key(h, "cart:", 0, k);
    h_find_key(h, "", k->p[0], plain);
}

/* Bucket cart: fallback_w 1. With four nodes down, W=2 cannot be met even sloppily; the write
 * through the one live node (a primary) is accepted with one replica and counted degraded, and
 * the primaries it missed get hints there. Without fallback_w the same write is refused. */
static void test_degraded_write(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_key plain;
    h_cart_keys(h, 2, "fallback_w", &k, &plain);
    rk_node_id live = k.p[0];
    h_down_all_but(h, live);
    const h_reply *r = h_put_sync(h, live, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(r->integer, 1);
    assert_int_equal(st(h, live)->degraded_writes, 1);
    assert_true(local_is(h, live, k.name, "v1"));
    assert_int_equal(st(h, live)->hints_pending, 2);     /* for p2 and p3 */

    r = h_put_sync(h, live, 2, plain.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    assert_int_equal(st(h, live)->degraded_writes, 1);
    assert_int_equal(local_len(h, live, plain.name), 0);
    assert_int_equal(st(h, live)->hints_pending, 2);

    /* everyone back: the missed primaries get the degraded write */
    h_up_all_but(h, live);
    h_advance(h, 350);
    assert_true(local_is(h, k.p[1], k.name, "v1"));
    assert_true(local_is(h, k.p[2], k.name, "v1"));
    assert_true(local_is(h, live, k.name, "v1"));
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}

/* The same with the one live node a fallback of the key: it stands in for the first primary
 * (a hint through its own write) and notes hints for the two others. */
static void test_degraded_write_on_fallback(void **state)
{
    (void)state;
    harness *h = h_start();
    h_bucket_set(h, 3, 100, "cart", "fallback_w", "1");
    h_key k;
    h_find_key(h, "cart:", 0, &k);
    rk_node_id live = k.f[0];
    h_down_all_but(h, live);
    const h_reply *r = h_put_sync(h, live, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(st(h, live)->degraded_writes, 1);
    assert_int_equal(st(h, live)->hints_pending, 3);
    h_up_all_but(h, live);
    h_advance(h, 350);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(local_is(h, k.p[i], k.name, "v1"));
    }
    assert_int_equal(local_len(h, live, k.name), 0);     /* not a primary: copy dropped */
    assert_int_equal(st(h, live)->hints_delivered, 3);
    assert_int_equal(st(h, live)->handoff_dropped_copies, 1);
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}


/* ---- probes: more handoff paths -------------------------------------------------------------- */

/* Every primary down: the write, sent to the second fallback, is coordinated there (it stands
 * in for p2), the first fallback stands in for p1, and the coordinator notes a hint for p3
 * nobody stored it for. Handoff gives all three the value. A second round later (fallback
 * coordinating the same key again after dropping its copy) must mint a new dot: the primaries
 * then hold the newer value, not the first one. */
static void test_all_primaries_down_fallback_coordinates(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id f1 = k.f[0], f2 = k.f[1];
    for (uint32_t round = 0; round < 2; round++) {
        const char *value = round == 0 ? "v1" : "v2";
        for (uint32_t i = 0; i < 3; i++) {
            h_down(h, k.p[i]);
        }
        const h_reply *r = h_put_sync(h, f2, 1 + round, k.name, value, RK_SLOPPY_BUCKET);
        assert_int_equal(r->kind, RK_REPLY_OK);
        /* f2 is chosen (for p2) so it coordinates itself; f1 stands in for p1 */
        assert_int_equal(st(h, f2)->forwarded, 0);
        assert_int_equal(st(h, f2)->coord_puts, 1 + round);
        assert_int_equal(st(h, f2)->fallback_writes, 1 + round);
        assert_int_equal(st(h, f2)->hints_pending, 2);        /* p2 (own write) and p3 */
        assert_int_equal(st(h, f1)->hints_pending, 1);        /* p1 */
        assert_true(local_is(h, f1, k.name, value));
        assert_true(local_is(h, f2, k.name, value));
        for (uint32_t i = 0; i < 3; i++) {
            h_up(h, k.p[i]);
        }
        h_advance(h, 350);
        for (uint32_t i = 0; i < 3; i++) {
            assert_true(local_is(h, k.p[i], k.name, value));
        }
        assert_int_equal(local_len(h, f1, k.name), 0);
        assert_int_equal(local_len(h, f2, k.name), 0);
        assert_int_equal(hints_everywhere(h), 0);
        assert_int_equal(st(h, f1)->handoff_dropped_copies, 1 + round);
        assert_int_equal(st(h, f2)->handoff_dropped_copies, 1 + round);
        assert_int_equal(st(h, f2)->hints_delivered, 2 * (1 + round));
    }
    h_free(h);
}

/* A DEL while two primaries are down leaves tombstones on the fallbacks; handoff hands the
 * tombstone over, so the key reads as absent everywhere afterwards. */
static void test_delete_handed_off(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_true(local_is(h, p2, k.name, "v1"));
    h_down(h, p2);
    h_down(h, p3);
    rk_request del = {.kind = RK_REQ_DEL, .key = (const uint8_t *)k.name, .key_len = strlen(k.name)};
    rk_node_on_request(h_node_of(h, p1), 2, &del);
    h_pump(h);
    const h_reply *r = h_find_reply(h, p1, 2);
    assert_non_null(r);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 1);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    assert_int_equal(st(h, f1)->keys_live, 0);
    h_up(h, p2);
    h_up(h, p3);
    h_advance(h, 350);
    assert_int_equal(hints_everywhere(h), 0);
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_int_equal(local_len(h, f2, k.name), 0);
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        h_get(h, id, 10, k.name, 3, RK_SLOPPY_BUCKET);
        h_pump(h);
        const h_reply *g = h_find_reply(h, id, 10);
        assert_non_null(g);
        assert_int_equal(g->kind, RK_REPLY_NIL);
    }
    assert_int_equal(st(h, p2)->keys_live, 0);
    assert_int_equal(st(h, p3)->keys_live, 0);
    h_free(h);
}

/* One fallback copy, two owners: f1 stands in for p2 on a first write and for p3 on a second
 * (p2 back by then). Handing the copy to p2 must keep it (p3's hint still needs it); the copy
 * goes with the last hint. */
static void test_one_copy_two_owners(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    h_down(h, p2);
    assert_int_equal(h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(h, f1)->hints_pending, 1);   /* for p2 */
    h_down(h, p3);
    h_at(h, p2)->frozen = false;                     /* p2 runs, only p1 learns it */
    h_view(h, p1, p2, true);
    assert_int_equal(h_put_sync(h, p1, 2, k.name, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(h, f1)->hints_pending, 2);   /* for p2 and p3 */
    assert_int_equal(st(h, f1)->hints_written, 2);
    assert_true(local_is(h, p2, k.name, "v2"));

    h_view(h, f1, p2, true);                         /* f1 sees p2; p3 still down */
    h_advance(h, 250);
    assert_int_equal(st(h, f1)->hints_delivered, 1);
    assert_int_equal(st(h, f1)->hints_pending, 1);
    assert_int_equal(st(h, f1)->handoff_dropped_copies, 0);
    assert_true(local_is(h, f1, k.name, "v2"));      /* still needed for p3 */

    h_up(h, p3);
    h_up(h, p2);
    h_advance(h, 250);
    assert_true(local_is(h, p3, k.name, "v2"));
    assert_int_equal(st(h, f1)->hints_delivered, 2);
    assert_int_equal(st(h, f1)->handoff_dropped_copies, 1);
    assert_int_equal(local_len(h, f1, k.name), 0);
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}

/* fallback_r 1: with four nodes down a read R=2 through the live node answers from its copy,
 * counted degraded; without fallback_r it is refused. */
static void test_degraded_read(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_key plain;
    h_cart_keys(h, 1, "fallback_r", &k, &plain);
    rk_node_id live = k.p[0];
    assert_int_equal(h_put_sync(h, live, 1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(h_put_sync(h, live, 2, plain.name, "v1", RK_SLOPPY_BUCKET)->kind,
                     RK_REPLY_OK);
    h_down_all_but(h, live);
    h_get(h, live, 3, k.name, 0, RK_SLOPPY_BUCKET);
    h_pump(h);
    const h_reply *g = h_find_reply(h, live, 3);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_memory_equal(g->value, "v1", 2);
    assert_int_equal(st(h, live)->degraded_reads, 1);
    h_get(h, live, 4, plain.name, 0, RK_SLOPPY_BUCKET);
    h_pump(h);
    g = h_find_reply(h, live, 4);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_ERROR);
    assert_int_equal(g->error, RK_EUNAVAIL);
    assert_int_equal(st(h, live)->degraded_reads, 1);
    h_free(h);
}


/* A fallback coordinating the same key again after handing its copy back and dropping it must
 * mint a new dot (coord.c, coord_put_dot_floor). Under `siblings` the second write, made without
 * seeing the first, is concurrent with it: the primaries must end with both values. A reused
 * dot would make them take one for the other and silently lose a write. */
static void test_fallback_coordinator_never_reuses_a_dot(void **state)
{
    (void)state;
    harness *h = h_start();
    h_bucket_set(h, 1, 100, "sib", "policy", "siblings");
    h_key k;
    h_find_key(h, "sib:", 0, &k);
    rk_node_id f2 = k.f[1];
    const char *values[2] = {"v1", "v2"};
    for (uint32_t round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < 3; i++) {
            h_down(h, k.p[i]);
        }
        const h_reply *r = h_put_sync(h, f2, 1 + round, k.name, values[round], RK_SLOPPY_BUCKET);
        assert_int_equal(r->kind, RK_REPLY_OK);
        for (uint32_t i = 0; i < 3; i++) {
            h_up(h, k.p[i]);
        }
        h_advance(h, 350);
        assert_int_equal(local_len(h, f2, k.name), 0);
        assert_int_equal(hints_everywhere(h), 0);
    }
    for (uint32_t i = 0; i < 3; i++) {
        bool has_v1 = false;
        bool has_v2 = false;
        assert_int_equal(local_live(h, k.p[i], k.name, "v1", &has_v1), 2);
        assert_int_equal(local_live(h, k.p[i], k.name, "v2", &has_v2), 2);
        assert_true(has_v1 && has_v2);
    }
    h_free(h);
}

/* A primary that went silent without anyone noticing (no rk_node_on_peer): the write goes to
 * it and is lost, W=2 is met by the others, and at the deadline the coordinator records a hint
 * for it. Handoff to the silent node times out: the second request in a row it left unanswered,
 * so p1 suspects it (counts it unreachable for a request timeout, issue 6 item 1) and sends
 * nothing more until that lapses; then the handoff goes again and succeeds once p2 runs. */
static void test_silent_primary_gets_hint_at_deadline(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2];
    h_at(h, p2)->frozen = true;                      /* nobody is told */
    const h_reply *r = h_put_sync(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(r->integer, 2);
    assert_int_equal(st(h, p1)->fallback_writes, 0);
    assert_int_equal(hints_everywhere(h), 0);
    h_advance(h, h->config.request_timeout_ms + 10);
    assert_int_equal(st(h, p1)->hints_pending, 1);   /* for p2 */
    assert_int_equal(hints_everywhere(h), 1);
    h_advance(h, 150);
    assert_int_equal(st(h, p1)->handoff_sent, 1);    /* lost: p2 is frozen */
    h_at(h, p2)->frozen = false;
    h_advance(h, 500);
    assert_int_equal(st(h, p1)->handoff_sent, 1);    /* still in flight: not sent twice */
    assert_int_equal(local_len(h, p2, k.name), 0);
    h_advance(h, h->config.request_timeout_ms);     /* the handoff's deadline */
    assert_int_equal(st(h, p1)->peers_suspected, 1);
    assert_true(rk_node_member_suspected(h_node_of(h, p1), p2));
    assert_int_equal(st(h, p1)->handoff_sent, 1);    /* a suspect gets nothing */
    h_advance(h, h->config.request_timeout_ms);     /* the suspicion lapses */
    assert_false(rk_node_member_suspected(h_node_of(h, p1), p2));
    assert_int_equal(st(h, p1)->handoff_sent, 2);
    assert_int_equal(st(h, p1)->hints_delivered, 1);
    assert_int_equal(hints_everywhere(h), 0);
    assert_true(local_is(h, p2, k.name, "v1"));
    assert_true(local_is(h, p1, k.name, "v1"));      /* a primary keeps its copy */
    assert_true(local_is(h, p3, k.name, "v1"));
    h_free(h);
}

/* A primary whose requests hang is suspected after two deadlines in a row and then skipped:
 * the next write goes sloppily to a fallback at once instead of waiting for it. The first
 * message it sends clears the suspicion (any application message is a sign of life). */
static void test_silent_primary_suspected_then_heard(void **state)
{
    (void)state;
    harness *h = h_start();
    h_key k;
    h_find_key(h, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], f1 = k.f[0];
    h_at(h, p2)->frozen = true;                      /* nobody is told */
    for (uint64_t req = 1; req <= 2; req++) {
        assert_int_equal(h_put_sync(h, p1, req, k.name, "v1", RK_SLOPPY_BUCKET)->kind,
                         RK_REPLY_OK);
        h_advance(h, h->config.request_timeout_ms + 10);
    }
    assert_true(rk_node_member_suspected(h_node_of(h, p1), p2));
    assert_int_equal(st(h, p1)->fallback_writes, 0);
    assert_int_equal(h_put_sync(h, p1, 3, k.name, "v3", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(h, p1)->fallback_writes, 1);     /* f1 stood in for the suspect */
    assert_true(local_is(h, f1, k.name, "v3"));
    h_at(h, p2)->frozen = false;
    h_get(h, p2, 4, k.name, 0, RK_SLOPPY_BUCKET);         /* p2 asks p1: a sign of life */
    h_pump(h);
    assert_false(rk_node_member_suspected(h_node_of(h, p1), p2));
    h_free(h);
}

/* Handoff is throttled (admission control of background work): a fallback restarted with
 * handoff_objects_per_s 100 sends at most 10 copies per 100 ms tick to a returning owner, and
 * still hands back every one. */
static void test_handoff_throttled(void **state)
{
    (void)state;
    harness *h = h_start();
    const rk_node_id owner = 2;
    h_down(h, owner);
    uint32_t held[H_NODES + 1] = {0};
    char name[16];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        assert_int_equal(h_put_sync(h, 1, 100 + i, name, "v", RK_SLOPPY_BUCKET)->kind,
                         RK_REPLY_OK);
    }
    rk_node_id busiest = 1;
    for (rk_node_id id = 1; id <= H_NODES; id++) {
        held[id] = (uint32_t)st(h, id)->hints_pending;
        busiest = held[id] > held[busiest] ? id : busiest;
    }
    assert_true(held[busiest] > 20);
    h->config.handoff_objects_per_s = 100;  /* the restarted node's config: 10 per tick */
    h_crash_restart(h, busiest);
    assert_int_equal(st(h, busiest)->hints_pending, held[busiest]);
    h_up(h, owner);
    uint64_t ticks = 0;
    while (st(h, busiest)->hints_pending > 0) {
        uint64_t sent_before = st(h, busiest)->handoff_sent;
        h_advance(h, h->config.handoff_interval_ms);
        assert_true(st(h, busiest)->handoff_sent - sent_before <= 10);
        assert_true(++ticks <= held[busiest]);
    }
    assert_true(ticks >= (held[busiest] + 9) / 10);
    assert_int_equal(st(h, busiest)->hints_delivered, held[busiest]);
    assert_int_equal(hints_everywhere(h), 0);
    h_free(h);
}

/* The hint a coordinator records for a primary its write missed (rk_handoff_hint_missed) is
 * synced on its own: nobody waits on it, but if it waited for some later, unrelated write's
 * sync, a kill -9 of the coordinator would lose it and leave the missed primary stale until a
 * read came by. (Found by this test: the hint was first written without asking for a sync.) */
static void test_missed_primary_hint_survives_coordinator_crash(void **state)
{
    (void)state;
    h_key k;
    harness *h = h_start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    h_put(h, p1, 1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_true(h_deliver_one(h));
    assert_true(h_deliver_one(h));
    h_crash_restart(h, f1);                          /* f1 never stored it */
    h_view(h, f1, p2, false);
    h_view(h, f1, p3, false);
    h_pump(h);
    assert_int_equal(h_find_reply(h, p1, 1)->kind, RK_REPLY_OK);
    h_advance(h, h->config.request_timeout_ms + 10);
    assert_int_equal(st(h, p1)->hints_pending, 1);   /* for p2 */
    h_pump(h);                                       /* every sync asked for is done */
    h_crash_restart(h, p1);
    h_pump(h);
    assert_true(local_is(h, p1, k.name, "v1"));      /* the write itself was durable */
    assert_int_equal(st(h, p1)->hints_pending, 1);   /* FAILS: the hint was never synced */
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sloppy_write_then_handoff, h_teardown),
        cmocka_unit_test_teardown(test_strict_request_refused, h_teardown),
        cmocka_unit_test_teardown(test_strict_bucket_refused, h_teardown),
        cmocka_unit_test_teardown(test_newer_write_during_handoff, h_teardown),
        cmocka_unit_test_teardown(test_hints_survive_fallback_crash, h_teardown),
        cmocka_unit_test_teardown(test_fallback_crash_before_durable_coordinator_hints, h_teardown),
        cmocka_unit_test_teardown(test_read_from_fallbacks, h_teardown),
        cmocka_unit_test_teardown(test_read_no_repair_to_fallbacks, h_teardown),
        cmocka_unit_test_teardown(test_degraded_write, h_teardown),
        cmocka_unit_test_teardown(test_degraded_write_on_fallback, h_teardown),
        cmocka_unit_test_teardown(test_all_primaries_down_fallback_coordinates, h_teardown),
        cmocka_unit_test_teardown(test_delete_handed_off, h_teardown),
        cmocka_unit_test_teardown(test_one_copy_two_owners, h_teardown),
        cmocka_unit_test_teardown(test_degraded_read, h_teardown),
        cmocka_unit_test_teardown(test_fallback_coordinator_never_reuses_a_dot, h_teardown),
        cmocka_unit_test_teardown(test_silent_primary_gets_hint_at_deadline, h_teardown),
        cmocka_unit_test_teardown(test_silent_primary_suspected_then_heard, h_teardown),
        cmocka_unit_test_teardown(test_handoff_throttled, h_teardown),
        cmocka_unit_test_teardown(test_missed_primary_hint_survives_coordinator_crash, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
