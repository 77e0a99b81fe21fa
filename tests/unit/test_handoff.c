/* test_handoff.c — sloppy quorum and hinted handoff (issue 6) on a five-node cluster of core
 * nodes in the simulator's stepping fixture (tests/unit/sim_fixture.h over src/sim/fixture.h):
 * every message is encoded to a wire frame when sent and decoded at delivery (src/net/wire.h,
 * as between real nodes) after a few simulated ms, syncs complete a few ms after they are asked
 * for, timers run on the virtual clock, client replies are captured per request. A node that
 * is "down" is a partition of one: its links are cut both ways and every node learns it through
 * the simulated failure detector. Some tests give nodes different views on purpose: a node can
 * go silent without anyone noticing (rk_fixture_disconnect), or come back with only the nodes
 * the test tells (rk_fixture_reconnect, rk_fixture_tell); one holds a message kind on one link.
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
#include "sim_fixture.h"

#define HO_NODES 5u

static const rk_node_stats *st(rk_fixture *fx, rk_node_id id)
{
    return fx_stats(fx, id);
}

static uint64_t timeout_ms(rk_fixture *fx)
{
    return rk_fixture_node_config(fx)->request_timeout_ms;
}

/* A fresh cluster, the first key of the default bucket in *k, its second and third primaries
 * down (the tests' usual start: p1 takes writes, f1 and f2 stand in for p2 and p3). */
static rk_fixture *start_two_down(fx_key *k)
{
    rk_fixture *fx = fx_new();
    fx_key_find(fx, "", 0, k);
    fx_down(fx, k->p[1]);
    fx_down(fx, k->p[2]);
    return fx;
}

/* The key's second and third primaries come back; within a few handoff ticks both hold
 * `value` (handed over by whoever held a hint for them). */
static void owners_return(rk_fixture *fx, const fx_key *k, const char *value)
{
    fx_up(fx, k->p[1]);
    fx_up(fx, k->p[2]);
    fx_advance(fx, 350);
    assert_true(fx_local_is(fx, k->p[1], k->name, value));
    assert_true(fx_local_is(fx, k->p[2], k->name, value));
}

/* ---- 1. sloppy write, then handoff --------------------------------------------------------- */

/* With two of a key's primaries down, a write through the third is acknowledged with the two
 * first reachable fallbacks standing in; each keeps a hinted copy. Once the owners return,
 * handoff gives them the value and the fallbacks drop their copies. */
static void test_sloppy_write_then_handoff(void **state)
{
    (void)state;
    fx_key k;
    rk_fixture *fx = start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0], f2 = k.f[1];

    const fx_reply *r = fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_true(r->integer >= 2);
    /* p1 coordinated with fallbacks; f1 stands in for p2, f2 for p3: one hint each */
    assert_int_equal(st(fx, p1)->fallback_writes, 1);
    assert_int_equal(st(fx, p1)->hints_pending, 0);
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    assert_int_equal(st(fx, f2)->hints_pending, 1);
    assert_int_equal(st(fx, f1)->hints_written, 1);
    assert_int_equal(st(fx, f2)->hints_written, 1);
    assert_true(fx_local_is(fx, p1, k.name, "v1"));
    assert_true(fx_local_is(fx, f1, k.name, "v1"));
    assert_true(fx_local_is(fx, f2, k.name, "v1"));
    assert_int_equal(fx_local_len(fx, p2, k.name), 0);
    assert_int_equal(fx_local_len(fx, p3, k.name), 0);

    /* While the owners are down the handoff timer finds nobody to send to. */
    fx_advance(fx, 350);
    assert_int_equal(st(fx, f1)->handoff_sent, 0);
    assert_int_equal(st(fx, f2)->handoff_sent, 0);
    assert_int_equal(st(fx, f1)->hints_pending, 1);

    owners_return(fx, &k, "v1");
    assert_true(fx_local_is(fx, p1, k.name, "v1"));
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_int_equal(fx_local_len(fx, f2, k.name), 0);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    for (uint32_t i = 0; i < 2; i++) {
        rk_node_id f = k.f[i];
        assert_int_equal(st(fx, f)->handoff_sent, 1);
        assert_int_equal(st(fx, f)->hints_delivered, 1);
        assert_int_equal(st(fx, f)->handoff_dropped_copies, 1);
        assert_int_equal(st(fx, f)->handoff_resent, 0);
        assert_int_equal(st(fx, f)->keys_live, 0);
    }
    /* a read of the key from anywhere sees it */
    const fx_reply *g = fx_get(fx, f1, k.name, 3, RK_SLOPPY_BUCKET);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_int_equal(g->value_len, 2);
    assert_memory_equal(g->value, "v1", 2);
    fx_free(fx);
}

/* ---- 2. strict quorum -------------------------------------------------------------------- */

static void strict_check_nothing_stored(rk_fixture *fx, const fx_key *k)
{
    for (rk_node_id id = 1; id <= HO_NODES; id++) {
        assert_int_equal(fx_local_len(fx, id, k->name), 0);
    }
    assert_int_equal(fx_hints_everywhere(fx), 0);
}

/* Sloppy off for the request: with two primaries down W=2 cannot be met, so the write is
 * refused before anything is stored, whether sent to a primary or to another node. */
static void test_strict_request_refused(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0];
    fx_down(fx, k.p[1]);
    fx_down(fx, k.p[2]);

    const fx_reply *r = fx_set(fx, p1, k.name, "v1", RK_SLOPPY_OFF);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    assert_int_equal(st(fx, p1)->unavailable, 1);
    strict_check_nothing_stored(fx, &k);

    /* through a non-primary: forwarded to p1, which refuses it the same way */
    r = fx_set(fx, f1, k.name, "v2", RK_SLOPPY_OFF);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    strict_check_nothing_stored(fx, &k);
    fx_advance(fx, 6000);     /* past every deadline: nothing shows up late */
    strict_check_nothing_stored(fx, &k);
    for (rk_node_id id = 1; id <= HO_NODES; id++) {
        assert_int_equal(st(fx, id)->fallback_writes, 0);
    }

    /* the same request with the bucket's default (sloppy) succeeds: the test can tell */
    r = fx_set(fx, p1, k.name, "v3", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    fx_free(fx);
}

/* Sloppy off for the bucket (RK.BUCKET strict: sloppy false), set while every node was up. */
static void test_strict_bucket_refused(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "strict", "sloppy", "false", HO_NODES);
    fx_key k;
    fx_key_find(fx, "strict:", 0, &k);
    rk_node_id p1 = k.p[0];
    fx_down(fx, k.p[1]);
    fx_down(fx, k.p[2]);
    for (rk_node_id id = 1; id <= HO_NODES; id++) {
        if (id != k.p[1] && id != k.p[2]) {
            const fx_reply *r = fx_set(fx, id, k.name, "v1", RK_SLOPPY_BUCKET);
            assert_int_equal(r->kind, RK_REPLY_ERROR);
            assert_int_equal(r->error, RK_EUNAVAIL);
        }
    }
    fx_advance(fx, 6000);
    strict_check_nothing_stored(fx, &k);
    /* a request may still ask for sloppy explicitly */
    const fx_reply *r = fx_set(fx, p1, k.name, "v2", RK_SLOPPY_ON);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, k.f[0])->hints_pending, 1);
    fx_free(fx);
}

/* ---- 3. a newer write while a handoff is in flight ------------------------------------------ */

/* f1 hands its copy to p2; before p2's ack arrives, a newer write reaches f1's copy (p1 still
 * sees p2 down, so f1 stands in again). The ack covers the old copy only: the hint is kept
 * (handoff_resent), and the next tick hands the newer value over, then the copy goes. */
static void test_newer_write_during_handoff(void **state)
{
    (void)state;
    fx_key k;
    rk_fixture *fx = start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, f1)->hints_pending, 1);

    /* p2 is reachable again; only f1 learns it (p1 and the others still see it down) */
    rk_fixture_reconnect(fx, p2);
    rk_fixture_tell(fx, f1, p2);
    rk_fixture_filter(fx, RK_FIXTURE_HOLD, RK_MSG_PUT_RESP, p2, f1, 0);
    fx_advance(fx, 150);
    assert_int_equal(st(fx, f1)->handoff_sent, 1);
    assert_int_equal(rk_fixture_held(fx), 1);   /* p2 stored v1 and acknowledged: held */
    assert_true(fx_local_is(fx, p2, k.name, "v1"));

    /* the newer write: p1 coordinates with f1 standing in for p2 again */
    assert_int_equal(fx_set(fx, p1, k.name, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_true(fx_local_is(fx, f1, k.name, "v2"));
    assert_int_equal(st(fx, f1)->hints_pending, 1);   /* the same (owner, key) hint */
    assert_int_equal(st(fx, f1)->hints_written, 1);
    assert_true(fx_local_is(fx, p2, k.name, "v1"));      /* p1 did not send to p2 */

    assert_int_equal(rk_fixture_release(fx), 1);
    fx_pump(fx);
    assert_int_equal(st(fx, f1)->handoff_resent, 1);
    assert_int_equal(st(fx, f1)->hints_delivered, 0);
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    assert_true(fx_local_is(fx, f1, k.name, "v2"));      /* kept */

    fx_advance(fx, 250);
    assert_int_equal(st(fx, f1)->handoff_sent, 2);
    assert_int_equal(st(fx, f1)->hints_delivered, 1);
    assert_int_equal(st(fx, f1)->handoff_dropped_copies, 1);
    assert_int_equal(st(fx, f1)->hints_pending, 0);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_true(fx_local_is(fx, p2, k.name, "v2"));
    /* f2 still holds its hint for p3 (down for everyone), with the newest value */
    assert_int_equal(st(fx, f2)->hints_pending, 1);
    assert_true(fx_local_is(fx, f2, k.name, "v2"));
    fx_free(fx);
}

/* ---- 4. the fallback crashes ---------------------------------------------------------------- */

/* A fallback's hint and copy are durable before it acknowledges; after kill -9 and a restart
 * it still holds them and hands them back once the owner is up. */
static void test_hints_survive_fallback_crash(void **state)
{
    (void)state;
    fx_key k;
    rk_fixture *fx = start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, f1)->hints_pending, 1);

    fx_crash_restart(fx, f1);
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    assert_int_equal(st(fx, f1)->hints_written, 0);   /* counted at start-up, not written */
    assert_true(fx_local_is(fx, f1, k.name, "v1"));
    /* the restarted node learns its links at start: p2 and p3 are down */
    assert_false(rk_node_member_reachable(fx_node(fx, f1), p2));
    assert_false(rk_node_member_reachable(fx_node(fx, f1), p3));
    fx_advance(fx, 300);
    assert_int_equal(st(fx, f1)->handoff_sent, 0);

    owners_return(fx, &k, "v1");
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_int_equal(st(fx, f1)->hints_delivered, 1);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
}

/* A fallback that crashes before its copy is durable never acknowledged it: the coordinator
 * met W without it, and at its deadline records a hint itself for the primary nobody stored
 * the write for; once that primary is up the coordinator hands it over (and keeps its own
 * copy: it is a primary). */
static void test_fallback_crash_before_durable_coordinator_hints(void **state)
{
    (void)state;
    fx_key k;
    rk_fixture *fx = start_two_down(&k);
    rk_node_id p1 = k.p[0], f1 = k.f[0], f2 = k.f[1];
    int64_t put = fx_send_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET);
    /* run until f1 has stored its PUT_REQ and no further: its sync completes a simulated ms
     * or more later, so the crash finds the hint and copy unsynced */
    assert_true(rk_fixture_run_until_delivered(fx, RK_MSG_PUT_REQ, f1, 1, 100));
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    fx_crash_restart(fx, f1);                          /* f1's hint and copy were not synced */
    assert_int_equal(st(fx, f1)->hints_pending, 0);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    const fx_reply *r = fx_pumped(fx, put);
    assert_int_equal(r->kind, RK_REPLY_OK);          /* p1 and f2: W=2 */
    assert_int_equal(st(fx, p1)->hints_pending, 0);   /* still waiting for f1 */
    fx_advance(fx, timeout_ms(fx) + 10);
    assert_int_equal(st(fx, p1)->hints_pending, 1);   /* for p2, which f1 did not store */
    assert_int_equal(st(fx, f2)->hints_pending, 1);   /* for p3 */

    owners_return(fx, &k, "v1");
    assert_true(fx_local_is(fx, p1, k.name, "v1"));      /* a primary keeps its copy */
    assert_int_equal(st(fx, p1)->handoff_dropped_copies, 0);
    assert_int_equal(fx_local_len(fx, f2, k.name), 0);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
}

/* ---- 5. reads on the extended list ---------------------------------------------------------- */

/* With two primaries down, R=2 is met by the live primary and a fallback (and R=3 by both
 * fallbacks); a strict read cannot be. */
static void test_read_from_fallbacks(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0], f2 = k.f[1];
    fx_down(fx, k.p[1]);
    fx_down(fx, k.p[2]);
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);

    rk_node_id via[3] = {p1, f1, f2};
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t before = st(fx, via[i])->fallback_reads;
        const fx_reply *g = fx_get(fx, via[i], k.name, 2, RK_SLOPPY_BUCKET);
        assert_non_null(g);
        assert_int_equal(g->kind, RK_REPLY_VALUE);
        assert_int_equal(g->value_len, 2);
        assert_memory_equal(g->value, "v1", 2);
        assert_int_equal(st(fx, via[i])->fallback_reads, before + 1);
    }
    assert_int_equal(fx_get(fx, p1, k.name, 3, RK_SLOPPY_BUCKET)->kind, RK_REPLY_VALUE);
    /* strict: only p1 is reachable among the primaries */
    const fx_reply *g = fx_get(fx, p1, k.name, 2, RK_SLOPPY_OFF);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_ERROR);
    assert_int_equal(g->error, RK_EUNAVAIL);
    fx_free(fx);
}

/* A key written while every node was up, read (R=3) with two primaries down: the fallbacks
 * answer not-found and count toward R, and get no read repair (a repaired copy there would have
 * no hint, so nothing would ever remove it). */
static void test_read_no_repair_to_fallbacks(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    fx_down(fx, k.p[1]);
    fx_down(fx, k.p[2]);
    const fx_reply *g = fx_get(fx, p1, k.name, 3, RK_SLOPPY_BUCKET);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_memory_equal(g->value, "v1", 2);
    assert_int_equal(st(fx, p1)->fallback_reads, 1);
    assert_int_equal(st(fx, p1)->read_repairs, 0);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_int_equal(fx_local_len(fx, f2, k.name), 0);
    fx_free(fx);
}

/* ---- 6. degraded writes ---------------------------------------------------------------------- */

/* Bucket cart with `prop` 1 (set through node `via`), a cart key *k and a key of the default
 * bucket *plain whose first primary is k's. */
static void cart_keys(rk_fixture *fx, rk_node_id via, const char *prop, fx_key *k,
                      fx_key *plain)
{
    fx_bucket_set(fx, via, "cart", prop, "1", HO_NODES);
    fx_key_find(fx, "cart:", 0, k);
    fx_key_find(fx, "", k->p[0], plain);
}

/* Bucket cart: fallback_w 1. With four nodes down, W=2 cannot be met even sloppily; the write
 * through the one live node (a primary) is accepted with one replica and counted degraded, and
 * the primaries it missed get hints there. Without fallback_w the same write is refused. */
static void test_degraded_write(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key plain;
    cart_keys(fx, 2, "fallback_w", &k, &plain);
    rk_node_id live = k.p[0];
    fx_down_all_but(fx, live);
    const fx_reply *r = fx_set(fx, live, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(r->integer, 1);
    assert_int_equal(st(fx, live)->degraded_writes, 1);
    assert_true(fx_local_is(fx, live, k.name, "v1"));
    assert_int_equal(st(fx, live)->hints_pending, 2);     /* for p2 and p3 */

    r = fx_set(fx, live, plain.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_int_equal(r->error, RK_EUNAVAIL);
    assert_int_equal(st(fx, live)->degraded_writes, 1);
    assert_int_equal(fx_local_len(fx, live, plain.name), 0);
    assert_int_equal(st(fx, live)->hints_pending, 2);

    /* everyone back: the missed primaries get the degraded write */
    fx_up_all_but(fx, live);
    fx_advance(fx, 350);
    assert_true(fx_local_is(fx, k.p[1], k.name, "v1"));
    assert_true(fx_local_is(fx, k.p[2], k.name, "v1"));
    assert_true(fx_local_is(fx, live, k.name, "v1"));
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
}

/* The same with the one live node a fallback of the key: it stands in for the first primary
 * (a hint through its own write) and notes hints for the two others. */
static void test_degraded_write_on_fallback(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 3, "cart", "fallback_w", "1", HO_NODES);
    fx_key k;
    fx_key_find(fx, "cart:", 0, &k);
    rk_node_id live = k.f[0];
    fx_down_all_but(fx, live);
    const fx_reply *r = fx_set(fx, live, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, live)->degraded_writes, 1);
    assert_int_equal(st(fx, live)->hints_pending, 3);
    fx_up_all_but(fx, live);
    fx_advance(fx, 350);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(fx_local_is(fx, k.p[i], k.name, "v1"));
    }
    assert_int_equal(fx_local_len(fx, live, k.name), 0);     /* not a primary: copy dropped */
    assert_int_equal(st(fx, live)->hints_delivered, 3);
    assert_int_equal(st(fx, live)->handoff_dropped_copies, 1);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
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
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id f1 = k.f[0], f2 = k.f[1];
    for (uint32_t round = 0; round < 2; round++) {
        const char *value = round == 0 ? "v1" : "v2";
        for (uint32_t i = 0; i < 3; i++) {
            fx_down(fx, k.p[i]);
        }
        const fx_reply *r = fx_set(fx, f2, k.name, value, RK_SLOPPY_BUCKET);
        assert_int_equal(r->kind, RK_REPLY_OK);
        /* f2 is chosen (for p2) so it coordinates itself; f1 stands in for p1 */
        assert_int_equal(st(fx, f2)->forwarded, 0);
        assert_int_equal(st(fx, f2)->coord_puts, 1 + round);
        assert_int_equal(st(fx, f2)->fallback_writes, 1 + round);
        assert_int_equal(st(fx, f2)->hints_pending, 2);        /* p2 (own write) and p3 */
        assert_int_equal(st(fx, f1)->hints_pending, 1);        /* p1 */
        assert_true(fx_local_is(fx, f1, k.name, value));
        assert_true(fx_local_is(fx, f2, k.name, value));
        for (uint32_t i = 0; i < 3; i++) {
            fx_up(fx, k.p[i]);
        }
        fx_advance(fx, 350);
        for (uint32_t i = 0; i < 3; i++) {
            assert_true(fx_local_is(fx, k.p[i], k.name, value));
        }
        assert_int_equal(fx_local_len(fx, f1, k.name), 0);
        assert_int_equal(fx_local_len(fx, f2, k.name), 0);
        assert_int_equal(fx_hints_everywhere(fx), 0);
        assert_int_equal(st(fx, f1)->handoff_dropped_copies, 1 + round);
        assert_int_equal(st(fx, f2)->handoff_dropped_copies, 1 + round);
        assert_int_equal(st(fx, f2)->hints_delivered, 2 * (1 + round));
    }
    fx_free(fx);
}

/* A DEL while two primaries are down leaves tombstones on the fallbacks; handoff hands the
 * tombstone over, so the key reads as absent everywhere afterwards. */
static void test_delete_handed_off(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0], f2 = k.f[1];
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_true(fx_local_is(fx, p2, k.name, "v1"));
    fx_down(fx, p2);
    fx_down(fx, p3);
    const fx_reply *r = fx_pumped(fx, fx_send(fx, p1, RK_REQ_DEL, k.name, NULL, 0,
                                              RK_SLOPPY_BUCKET));
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, 1);
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    assert_int_equal(st(fx, f1)->keys_live, 0);
    fx_up(fx, p2);
    fx_up(fx, p3);
    fx_advance(fx, 350);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_int_equal(fx_local_len(fx, f2, k.name), 0);
    for (rk_node_id id = 1; id <= HO_NODES; id++) {
        const fx_reply *g = fx_get(fx, id, k.name, 3, RK_SLOPPY_BUCKET);
        assert_non_null(g);
        assert_int_equal(g->kind, RK_REPLY_NIL);
    }
    assert_int_equal(st(fx, p2)->keys_live, 0);
    assert_int_equal(st(fx, p3)->keys_live, 0);
    fx_free(fx);
}

/* One fallback copy, two owners: f1 stands in for p2 on a first write and for p3 on a second
 * (p2 back by then). Handing the copy to p2 must keep it (p3's hint still needs it); the copy
 * goes with the last hint. */
static void test_one_copy_two_owners(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    fx_down(fx, p2);
    assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, f1)->hints_pending, 1);   /* for p2 */
    fx_down(fx, p3);
    rk_fixture_reconnect(fx, p2);                    /* p2 is back, only p1 learns it */
    rk_fixture_tell(fx, p1, p2);
    assert_int_equal(fx_set(fx, p1, k.name, "v2", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, f1)->hints_pending, 2);   /* for p2 and p3 */
    assert_int_equal(st(fx, f1)->hints_written, 2);
    assert_true(fx_local_is(fx, p2, k.name, "v2"));

    rk_fixture_tell(fx, f1, p2);                         /* f1 sees p2; p3 still down */
    fx_advance(fx, 250);
    assert_int_equal(st(fx, f1)->hints_delivered, 1);
    assert_int_equal(st(fx, f1)->hints_pending, 1);
    assert_int_equal(st(fx, f1)->handoff_dropped_copies, 0);
    assert_true(fx_local_is(fx, f1, k.name, "v2"));      /* still needed for p3 */

    fx_up(fx, p3);
    fx_up(fx, p2);
    fx_advance(fx, 250);
    assert_true(fx_local_is(fx, p3, k.name, "v2"));
    assert_int_equal(st(fx, f1)->hints_delivered, 2);
    assert_int_equal(st(fx, f1)->handoff_dropped_copies, 1);
    assert_int_equal(fx_local_len(fx, f1, k.name), 0);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
}

/* fallback_r 1: with four nodes down a read R=2 through the live node answers from its copy,
 * counted degraded; without fallback_r it is refused. */
static void test_degraded_read(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key plain;
    cart_keys(fx, 1, "fallback_r", &k, &plain);
    rk_node_id live = k.p[0];
    assert_int_equal(fx_set(fx, live, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(fx_set(fx, live, plain.name, "v1", RK_SLOPPY_BUCKET)->kind,
                     RK_REPLY_OK);
    fx_down_all_but(fx, live);
    const fx_reply *g = fx_get(fx, live, k.name, 0, RK_SLOPPY_BUCKET);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_VALUE);
    assert_memory_equal(g->value, "v1", 2);
    assert_int_equal(st(fx, live)->degraded_reads, 1);
    g = fx_get(fx, live, plain.name, 0, RK_SLOPPY_BUCKET);
    assert_non_null(g);
    assert_int_equal(g->kind, RK_REPLY_ERROR);
    assert_int_equal(g->error, RK_EUNAVAIL);
    assert_int_equal(st(fx, live)->degraded_reads, 1);
    fx_free(fx);
}

/* A fallback coordinating the same key again after handing its copy back and dropping it must
 * mint a new dot (clock.h, rk_clock_dot_floor). Under `siblings` the second write, made without
 * seeing the first, is concurrent with it: the primaries must end with both values. A reused
 * dot would make them take one for the other and silently lose a write. `stop_between`: a clean
 * restart between them keeps the epoch: only the mark's fallback counter helps. */
static void fallback_coordinates_twice(bool stop_between)
{
    rk_fixture *fx = fx_new();
    fx_bucket_set(fx, 1, "sib", "policy", "siblings", HO_NODES);
    fx_key k;
    fx_key_find(fx, "sib:", 0, &k);
    rk_node_id f2 = k.f[1];
    uint64_t epoch = st(fx, f2)->epoch;
    const char *values[2] = {"v1", "v2"};
    for (uint32_t round = 0; round < 2; round++) {
        if (round == 1 && stop_between) {
            fx_stop_restart(fx, f2);
            fx_pump(fx);
            assert_int_equal(st(fx, f2)->epoch, epoch);
        }
        for (uint32_t i = 0; i < 3; i++) {
            fx_down(fx, k.p[i]);
        }
        const fx_reply *r = fx_set(fx, f2, k.name, values[round], RK_SLOPPY_BUCKET);
        assert_int_equal(r->kind, RK_REPLY_OK);
        for (uint32_t i = 0; i < 3; i++) {
            fx_up(fx, k.p[i]);
        }
        fx_advance(fx, 350);
        assert_int_equal(fx_local_len(fx, f2, k.name), 0);
        assert_int_equal(fx_hints_everywhere(fx), 0);
    }
    for (uint32_t i = 0; i < 3; i++) {
        bool has_v1 = false;
        bool has_v2 = false;
        assert_int_equal(fx_local_live(fx, k.p[i], k.name, "v1", &has_v1), 2);
        assert_int_equal(fx_local_live(fx, k.p[i], k.name, "v2", &has_v2), 2);
        assert_true(has_v1 && has_v2);
    }
    fx_free(fx);
}

static void test_fallback_coordinator_never_reuses_a_dot(void **state)
{
    (void)state;
    fallback_coordinates_twice(false);
}

static void test_fallback_coordinator_never_reuses_a_dot_across_a_clean_restart(void **state)
{
    (void)state;
    fallback_coordinates_twice(true);
}

/* A primary that went silent without anyone noticing (no rk_node_on_peer): the write goes to
 * it and is lost, W=2 is met by the others, and at the deadline the coordinator records a hint
 * for it. Handoff to the silent node times out: the second request in a row it left unanswered,
 * so p1 suspects it (counts it unreachable for a request timeout, issue 6 item 1) and sends
 * nothing more until that lapses; then the handoff goes again and succeeds once p2 runs. */
static void test_silent_primary_gets_hint_at_deadline(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2];
    rk_fixture_disconnect(fx, p2);                   /* silent: nobody is told */
    const fx_reply *r = fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    assert_int_equal(r->integer, 2);
    assert_int_equal(st(fx, p1)->fallback_writes, 0);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_advance(fx, timeout_ms(fx) + 10);
    assert_int_equal(st(fx, p1)->hints_pending, 1);   /* for p2 */
    assert_int_equal(fx_hints_everywhere(fx), 1);
    fx_advance(fx, 150);
    assert_int_equal(st(fx, p1)->handoff_sent, 1);    /* lost: p2 is silent */
    /* p2 learns its links are up and announces its epoch (epochs.h), a sign of life that would
     * clear p1's count of unanswered requests: lost too, p1 keeps hearing nothing from p2. */
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_EPOCH, p2, p1, 0);
    rk_fixture_reconnect(fx, p2);
    fx_advance(fx, 500);
    assert_int_equal(st(fx, p1)->handoff_sent, 1);    /* still in flight: not sent twice */
    assert_int_equal(fx_local_len(fx, p2, k.name), 0);
    fx_advance(fx, timeout_ms(fx));     /* the handoff's deadline */
    assert_int_equal(st(fx, p1)->peers_suspected, 1);
    assert_true(rk_node_member_suspected(fx_node(fx, p1), p2));
    assert_int_equal(st(fx, p1)->handoff_sent, 1);    /* a suspect gets nothing */
    rk_fixture_release(fx);
    fx_advance(fx, timeout_ms(fx));     /* the suspicion lapses */
    assert_false(rk_node_member_suspected(fx_node(fx, p1), p2));
    assert_int_equal(st(fx, p1)->handoff_sent, 2);
    assert_int_equal(st(fx, p1)->hints_delivered, 1);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    assert_true(fx_local_is(fx, p2, k.name, "v1"));
    assert_true(fx_local_is(fx, p1, k.name, "v1"));      /* a primary keeps its copy */
    assert_true(fx_local_is(fx, p3, k.name, "v1"));
    fx_free(fx);
}

/* A primary whose requests hang is suspected after two deadlines in a row and then skipped:
 * the next write goes sloppily to a fallback at once instead of waiting for it. The first
 * message it sends clears the suspicion (any application message is a sign of life). */
static void test_silent_primary_suspected_then_heard(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], f1 = k.f[0];
    rk_fixture_disconnect(fx, p2);                   /* silent: nobody is told */
    for (uint64_t req = 1; req <= 2; req++) {
        assert_int_equal(fx_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
        fx_advance(fx, timeout_ms(fx) + 10);
    }
    assert_true(rk_node_member_suspected(fx_node(fx, p1), p2));
    assert_int_equal(st(fx, p1)->fallback_writes, 0);
    assert_int_equal(fx_set(fx, p1, k.name, "v3", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    assert_int_equal(st(fx, p1)->fallback_writes, 1);     /* f1 stood in for the suspect */
    assert_true(fx_local_is(fx, f1, k.name, "v3"));
    rk_fixture_reconnect(fx, p2);
    fx_get(fx, p2, k.name, 0, RK_SLOPPY_BUCKET);          /* p2 asks p1: a sign of life */
    assert_false(rk_node_member_suspected(fx_node(fx, p1), p2));
    fx_free(fx);
}

/* Handoff is throttled (admission control of background work): a fallback restarted with
 * handoff_objects_per_s 100 sends at most 10 copies per 100 ms tick to a returning owner, and
 * still hands back every one. */
static void test_handoff_throttled(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    const rk_node_id owner = 2;
    fx_down(fx, owner);
    uint32_t held[HO_NODES + 1] = {0};
    char name[16];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        assert_int_equal(fx_set(fx, 1, name, "v", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    }
    rk_node_id busiest = 1;
    for (rk_node_id id = 1; id <= HO_NODES; id++) {
        held[id] = (uint32_t)st(fx, id)->hints_pending;
        busiest = held[id] > held[busiest] ? id : busiest;
    }
    assert_true(held[busiest] > 20);
    /* the restarted node's config: 10 per tick */
    rk_fixture_node_config(fx)->handoff_objects_per_s = 100;
    fx_crash_restart(fx, busiest);
    assert_int_equal(st(fx, busiest)->hints_pending, held[busiest]);
    fx_up(fx, owner);
    uint64_t ticks = 0;
    while (st(fx, busiest)->hints_pending > 0) {
        uint64_t sent_before = st(fx, busiest)->handoff_sent;
        fx_advance(fx, rk_fixture_node_config(fx)->handoff_interval_ms);
        assert_true(st(fx, busiest)->handoff_sent - sent_before <= 10);
        assert_true(++ticks <= held[busiest]);
    }
    assert_true(ticks >= (held[busiest] + 9) / 10);
    assert_int_equal(st(fx, busiest)->hints_delivered, held[busiest]);
    assert_int_equal(fx_hints_everywhere(fx), 0);
    fx_free(fx);
}

/* The hint a coordinator records for a primary its write missed (rk_handoff_hint_missed) is
 * synced on its own: nobody waits on it, but if it waited for some later, unrelated write's
 * sync, a kill -9 of the coordinator would lose it and leave the missed primary stale until a
 * read came by. (Found by this test: the hint was first written without asking for a sync.) */
static void test_missed_primary_hint_survives_coordinator_crash(void **state)
{
    (void)state;
    fx_key k;
    rk_fixture *fx = start_two_down(&k);
    rk_node_id p1 = k.p[0], p2 = k.p[1], p3 = k.p[2], f1 = k.f[0];
    int64_t put = fx_send_set(fx, p1, k.name, "v1", RK_SLOPPY_BUCKET);
    assert_true(rk_fixture_run_until_delivered(fx, RK_MSG_PUT_REQ, f1, 1, 100));
    fx_crash_restart(fx, f1);                          /* f1 never stored it durably */
    assert_false(rk_node_member_reachable(fx_node(fx, f1), p2));
    assert_false(rk_node_member_reachable(fx_node(fx, f1), p3));
    assert_int_equal(fx_pumped(fx, put)->kind, RK_REPLY_OK);
    fx_advance(fx, timeout_ms(fx) + 10);
    assert_int_equal(st(fx, p1)->hints_pending, 1);   /* for p2 */
    fx_pump(fx);                                       /* every sync asked for is done */
    fx_crash_restart(fx, p1);
    fx_pump(fx);
    assert_true(fx_local_is(fx, p1, k.name, "v1"));      /* the write itself was durable */
    assert_int_equal(st(fx, p1)->hints_pending, 1);   /* FAILS: the hint was never synced */
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sloppy_write_then_handoff, fx_teardown),
        cmocka_unit_test_teardown(test_strict_request_refused, fx_teardown),
        cmocka_unit_test_teardown(test_strict_bucket_refused, fx_teardown),
        cmocka_unit_test_teardown(test_newer_write_during_handoff, fx_teardown),
        cmocka_unit_test_teardown(test_hints_survive_fallback_crash, fx_teardown),
        cmocka_unit_test_teardown(test_fallback_crash_before_durable_coordinator_hints, fx_teardown),
        cmocka_unit_test_teardown(test_read_from_fallbacks, fx_teardown),
        cmocka_unit_test_teardown(test_read_no_repair_to_fallbacks, fx_teardown),
        cmocka_unit_test_teardown(test_degraded_write, fx_teardown),
        cmocka_unit_test_teardown(test_degraded_write_on_fallback, fx_teardown),
        cmocka_unit_test_teardown(test_all_primaries_down_fallback_coordinates, fx_teardown),
        cmocka_unit_test_teardown(test_delete_handed_off, fx_teardown),
        cmocka_unit_test_teardown(test_one_copy_two_owners, fx_teardown),
        cmocka_unit_test_teardown(test_degraded_read, fx_teardown),
        cmocka_unit_test_teardown(test_fallback_coordinator_never_reuses_a_dot, fx_teardown),
        cmocka_unit_test_teardown(
            test_fallback_coordinator_never_reuses_a_dot_across_a_clean_restart, fx_teardown),
        cmocka_unit_test_teardown(test_silent_primary_gets_hint_at_deadline, fx_teardown),
        cmocka_unit_test_teardown(test_silent_primary_suspected_then_heard, fx_teardown),
        cmocka_unit_test_teardown(test_handoff_throttled, fx_teardown),
        cmocka_unit_test_teardown(test_missed_primary_hint_survives_coordinator_crash, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
