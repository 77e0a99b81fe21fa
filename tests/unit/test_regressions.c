/* test_regressions.c — deterministic tests for each bug the simulator found (docs/simulator.md,
 * "Bugs it found"; tests/sim/seeds.txt). A regression seed only replays its bug while the
 * simulator's trace stays the same, and refactors of the core or of the simulator's message
 * path change traces; these tests build each bug's situation by hand instead, so they keep
 * reproducing it whatever the seeds now reach.
 *
 * How: a few core nodes in the simulator's stepping fixture (tests/unit/sim_fixture.h over
 * src/sim/fixture.h), no workload and no random faults. Each node's wall clock is virtual time
 * plus a per-node skew (rk_fixture_skew); every message travels as a wire frame, and the test
 * drops, holds or duplicates the ones it names by kind, sender and receiver (rk_fixture_filter)
 * before they arrive; syncs complete a few simulated ms after they are asked for; client
 * replies are captured per request. What a node stores is read back with rk_node_local_get
 * and decoded with dvvset.h, the same bytes its replicas get.
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
#include "sim_fixture.h"

#define RG_NODES_MAX 5u
#define RG_CONTEXT_CHARS_MAX 256u /* the tests' contexts name at most a few dots */

/* ---- requests and what nodes hold ---------------------------------------------------------- */

/* A cluster of `nodes` nodes (ids 1..nodes) whose unconfigured buckets use `policy`, each
 * node's start-up epoch durable and nothing in flight. */
static rk_fixture *rg_new(uint32_t nodes, uint8_t policy)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.nodes = nodes;
    c.node.default_policy = policy;
    return fx_new_with(&c);
}

static int64_t rg_request(rk_fixture *fx, rk_node_id at, rk_request_kind kind, const char *key,
                          const char *value, const char *context, uint32_t r, uint32_t w)
{
    return fx_send_full(fx, at, kind, key, value, context, r, w, RK_SLOPPY_BUCKET);
}

static int64_t rg_set(rk_fixture *fx, rk_node_id at, const char *key, const char *value,
                      uint32_t w)
{
    return rg_request(fx, at, RK_REQ_PUT, key, value, NULL, 0, w);
}

/* The one reply to `handle` so far (fails if none or several). */
static const fx_reply *rg_reply_of(rk_fixture *fx, int64_t handle)
{
    const fx_reply *r = rk_fixture_reply_get(fx, handle);
    assert_non_null(r);
    assert_int_equal(r->answers, 1);
    return r;
}

/* Decode `id`'s own copy of key into *out (empty when it has none); rk_dvvset_deinit it. */
static void rg_local(rk_fixture *fx, rk_node_id id, const char *key, rk_dvvset *out)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
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
static void rg_only(rk_fixture *fx, rk_node_id id, const char *key, const char *value,
                    uint64_t *stamp_us_out, rk_dot *dot_out)
{
    rk_dvvset set;
    rg_local(fx, id, key, &set);
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
static uint32_t rg_preflist(rk_fixture *fx, const char *key, rk_node_id *out,
                            uint32_t *primary_count)
{
    return rk_node_preflist(fx_node(fx, 1), (const uint8_t *)key, strlen(key), out, RG_NODES_MAX,
                            primary_count);
}

/* ---- 1. lww lost the highest-stamped write under clock skew -------------------------------- */

/* Three nodes, every one a primary of every key (N=3), lww. Node 1's clock is slow, node 3's
 * 0.5 s fast, node 2's 1 s fast. The stamps below are read from the stored siblings. */
#define LWW_SLOW 1u
#define LWW_FAST 2u
#define LWW_MID 3u

static rk_fixture *lww_cluster(void)
{
    rk_fixture *fx = rg_new(3, RK_POLICY_LWW);
    rk_fixture_skew(fx, LWW_SLOW, 0);
    rk_fixture_skew(fx, LWW_FAST, 1000000);
    rk_fixture_skew(fx, LWW_MID, 500000);
    return fx;
}

/* A SET of `value` through `via` at W=2, acknowledged, whose copy for `lost` is dropped on the
 * way (the third node gets it). Returns the stamp `via` gave it. */
static uint64_t lww_set_missing(rk_fixture *fx, rk_node_id via, const char *key,
                                const char *value, rk_node_id lost)
{
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, via, lost, 1);
    int64_t set = rg_set(fx, via, key, value, 2);
    fx_pump(fx);
    assert_int_equal(rg_reply_of(fx, set)->kind, RK_REPLY_OK);
    uint64_t stamp_us = 0;
    rg_only(fx, via, key, value, &stamp_us, NULL);
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
    rk_fixture *fx = lww_cluster();
    const char *key = "k";

    /* U through the fast node: the slow node gets it, the middle node's copy is lost. */
    uint64_t stamp_u = lww_set_missing(fx, LWW_FAST, key, "U", LWW_MID);
    rg_only(fx, LWW_SLOW, key, "U", NULL, NULL);

    /* W through the middle node: only the fast node gets it, and keeps U (higher stamp). */
    fx_advance(fx, 10);
    uint64_t stamp_w = lww_set_missing(fx, LWW_MID, key, "W", LWW_SLOW);
    assert_true(stamp_w < stamp_u);
    rg_only(fx, LWW_FAST, key, "U", NULL, NULL);

    /* F through the slow node, which holds U and never saw W. */
    fx_advance(fx, 10);
    int64_t set_f = rg_set(fx, LWW_SLOW, key, "F", 2);
    fx_pump(fx);
    assert_int_equal(rg_reply_of(fx, set_f)->kind, RK_REPLY_OK);
    uint64_t stamp_f = 0;
    rg_only(fx, LWW_SLOW, key, "F", &stamp_f, NULL);
    /* The fix itself: a write is stamped above every stamp it supersedes. */
    assert_true(stamp_f > stamp_u);

    /* A read of all three repairs every copy; all converge on the highest stamp. */
    int64_t get = rg_request(fx, LWW_MID, RK_REQ_GET, key, NULL, NULL, 3, 0);
    fx_pump(fx);
    const fx_reply *got = rg_reply_of(fx, get);
    assert_int_equal(got->kind, RK_REPLY_VALUE);
    assert_memory_equal(got->value, "F", 1);
    for (rk_node_id id = 1; id <= 3; id++) {
        uint64_t stamp_final = 0;
        rg_only(fx, id, key, "F", &stamp_final, NULL);
        /* The simulator's lost_acked_writes: W was acknowledged, no write's coordinator held
         * it, so it may only lose to a higher stamp. */
        assert_true(stamp_final > stamp_w);
    }
    fx_free(fx);
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
    rk_fixture *fx = lww_cluster();
    const char *key = "k";

    /* U through the fast node reaches the middle node; the slow node's copy is lost. */
    uint64_t stamp_u = lww_set_missing(fx, LWW_FAST, key, "U", LWW_SLOW);
    rg_only(fx, LWW_MID, key, "U", NULL, NULL);

    /* RK.GET at R=1 through the middle node, its GET_REQs to the other two lost: the context
     * covers U. */
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_GET_REQ, LWW_MID, 0, 2);
    int64_t vget = rg_request(fx, LWW_MID, RK_REQ_VGET, key, NULL, NULL, 1, 0);
    fx_pump(fx);
    const fx_reply *versions = rg_reply_of(fx, vget);
    assert_int_equal(versions->kind, RK_REPLY_VERSIONS);
    assert_non_null(versions->context);
    assert_true(versions->context[0] != '\0');
    assert_true(strlen(versions->context) < RG_CONTEXT_CHARS_MAX);
    char context[RG_CONTEXT_CHARS_MAX];
    strcpy(context, versions->context);

    /* RK.PUT with that context through the slow node, which holds nothing. */
    fx_advance(fx, 10);
    int64_t vput = rg_request(fx, LWW_SLOW, RK_REQ_VPUT, key, "F", context, 0, 2);
    fx_pump(fx);
    assert_int_equal(rg_reply_of(fx, vput)->kind, RK_REPLY_WRITTEN);

    int64_t get = rg_request(fx, LWW_SLOW, RK_REQ_GET, key, NULL, NULL, 3, 0);
    fx_pump(fx);
    const fx_reply *got = rg_reply_of(fx, get);
    assert_int_equal(got->kind, RK_REPLY_VALUE);
    assert_memory_equal(got->value, "U", 1);
    for (rk_node_id id = 1; id <= 3; id++) {
        uint64_t stamp = 0;
        rg_only(fx, id, key, "U", &stamp, NULL);
        assert_int_equal(stamp, stamp_u);
    }
    fx_free(fx);
}

/* ---- 2. a duplicated forward was coordinated twice ----------------------------------------- */

/* Five nodes, N=3, siblings: the key's three primaries, and `origin`, its first fallback and
 * so no primary: a client write there is forwarded (FWD_REQ) to the first primary. */
static const char *fwd_key(rk_fixture *fx, rk_node_id *origin_out, rk_node_id *primaries_out)
{
    const char *key = "k";
    rk_node_id list[RG_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rg_preflist(fx, key, list, &primary_count), 5);
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
    rk_fixture *fx = rg_new(5, RK_POLICY_SIBLINGS);
    rk_node_id origin = 0;
    rk_node_id primaries[3];
    const char *key = fwd_key(fx, &origin, primaries);
    rk_node_id coordinator = primaries[0];

    /* The FWD_REQ is delivered, and a copy of it kept back for later. */
    rk_fixture_filter(fx, RK_FIXTURE_DUPLICATE, RK_MSG_FWD_REQ, origin, coordinator, 1);
    int64_t set = rg_set(fx, origin, key, "v", 2);
    fx_pump(fx);
    assert_int_equal(rk_fixture_held(fx), 1);
    const fx_reply *ack = rg_reply_of(fx, set);
    assert_int_equal(ack->kind, RK_REPLY_OK);
    rk_dot first = {0};
    rg_only(fx, coordinator, key, "v", NULL, &first);
    assert_int_equal(first.node, coordinator);
    uint64_t coord_puts = fx_stats(fx, coordinator)->coord_puts;

    /* The duplicate arrives after the first copy was coordinated and answered. */
    assert_int_equal(rk_fixture_release(fx), 1);
    fx_pump(fx);
    assert_int_equal(fx_stats(fx, coordinator)->coord_puts, coord_puts);
    for (uint32_t i = 0; i < 3; i++) {
        rk_dot dot = {0};
        rg_only(fx, primaries[i], key, "v", NULL, &dot);
        assert_int_equal(dot.node, first.node);
        assert_int_equal(dot.counter, first.counter);
    }
    assert_int_equal(rg_reply_of(fx, set)->answers, 1);
    fx_free(fx);
}

/* The same fix's other half: a coordinator id carries its node's run (clock.h), so the first
 * request a restarted origin forwards never has the id of one it forwarded before (its table of
 * coordinators starts over). Without the run in the id the primary would take the new write for
 * a duplicate and drop it: the assertions that the second write is answered and stored fail.
 * The id first carried the epoch; a clean restart keeps the epoch, so since 332e89b ("clock,
 * coord_table: coordinator ids carry a run bumped at every start") it carries the run, and the
 * clean variant fails with the epoch in its place. */
static void forward_from_restarted_origin(bool clean)
{
    rk_fixture *fx = rg_new(5, RK_POLICY_SIBLINGS);
    rk_node_id origin = 0;
    rk_node_id primaries[3];
    const char *key = fwd_key(fx, &origin, primaries);

    int64_t first = rg_set(fx, origin, key, "v1", 2);
    fx_pump(fx);
    assert_int_equal(rg_reply_of(fx, first)->kind, RK_REPLY_OK);

    if (clean) {
        fx_stop_restart(fx, origin);
    } else {
        fx_crash_restart(fx, origin);
    }
    fx_pump(fx);
    int64_t second = rg_set(fx, origin, key, "v2", 2);
    fx_pump(fx);
    assert_int_equal(rg_reply_of(fx, second)->kind, RK_REPLY_OK);
    for (uint32_t i = 0; i < 3; i++) {
        rg_only(fx, primaries[i], key, "v2", NULL, NULL);
    }
    fx_free(fx);
}

static void test_forward_from_restarted_origin_is_no_duplicate(void **state)
{
    (void)state;
    forward_from_restarted_origin(false);
}

static void test_forward_from_cleanly_restarted_origin_is_no_duplicate(void **state)
{
    (void)state;
    forward_from_restarted_origin(true);
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
    rk_fixture *fx = rg_new(3, RK_POLICY_SIBLINGS);
    const char *key = "k";
    rk_node_id list[RG_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rg_preflist(fx, key, list, &primary_count), 3);
    assert_int_equal(primary_count, 3);
    rk_node_id first = list[0];
    rk_node_id coordinator = list[1];
    rk_node_id last = list[2];

    if (scratch_warm_bytes > 0) {
        char *warm = malloc(scratch_warm_bytes + 1);
        assert_non_null(warm);
        memset(warm, 'w', scratch_warm_bytes);
        warm[scratch_warm_bytes] = '\0';
        int64_t set = rg_set(fx, coordinator, "warm", warm, 3);
        free(warm);
        fx_pump(fx);
        assert_int_equal(rg_reply_of(fx, set)->kind, RK_REPLY_OK);
    }

    /* Three concurrent values, each written at W=1 and kept by its coordinator alone. */
    const char *values[3] = {"a", "b", "c"};
    for (uint32_t i = 0; i < 3; i++) {
        rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, list[i], 0, 2);
        int64_t set = rg_set(fx, list[i], key, values[i], 1);
        fx_pump(fx);
        assert_int_equal(rg_reply_of(fx, set)->kind, RK_REPLY_OK);
    }

    /* RK.GET at R=3 through the middle primary, its GET_REQ to the last held back; the first
     * primary answers {a}. */
    rk_fixture_filter(fx, RK_FIXTURE_HOLD, RK_MSG_GET_REQ, coordinator, last, 0);
    int64_t get = rg_request(fx, coordinator, RK_REQ_VGET, key, NULL, NULL, 3, 0);
    assert_true(rk_fixture_run_until_delivered(fx, RK_MSG_GET_RESP, coordinator, 1, 100));
    assert_int_equal(rk_fixture_held(fx), 1);

    /* Then d, a large value, through the first primary: it supersedes a there and reaches the
     * coordinator's copy (now {b, d}), not the last one. */
    char big[2048];
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_PUT_REQ, first, last, 1);
    rg_set(fx, first, key, big, 1);
    fx_pump(fx);
    assert_null(rk_fixture_reply_get(fx, get));     /* the read still waits for the last */
    {
        rk_dvvset own;
        rg_local(fx, coordinator, key, &own);
        assert_int_equal(own.sibling_count, 2);
        assert_non_null(rg_find(&own, "b"));
        assert_non_null(rg_find(&own, big));
        rk_dvvset_deinit(&own);
    }

    /* The last answer {c} completes the read: merged {a, b, c}, every replica stale. */
    assert_int_equal(rk_fixture_release(fx), 1);
    assert_true(rk_fixture_run_until_delivered(fx, RK_MSG_GET_RESP, coordinator, 2, 100));
    assert_int_equal(rg_reply_of(fx, get)->kind, RK_REPLY_VERSIONS);
    assert_int_equal(fx_stats(fx, coordinator)->read_repairs, 3);
    fx_pump(fx);

    /* The last replica got the merged object: a, b and c. */
    rk_dvvset repaired;
    rg_local(fx, last, key, &repaired);
    assert_int_equal(repaired.sibling_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_non_null(rg_find(&repaired, values[i]));
    }
    rk_dvvset_deinit(&repaired);
    /* The coordinator's own copy: d superseded a, so b, c and d. */
    rk_dvvset own;
    rg_local(fx, coordinator, key, &own);
    assert_int_equal(own.sibling_count, 3);
    assert_non_null(rg_find(&own, "b"));
    assert_non_null(rg_find(&own, "c"));
    assert_non_null(rg_find(&own, big));
    rk_dvvset_deinit(&own);
    fx_free(fx);
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
        cmocka_unit_test_teardown(test_lww_write_stamped_above_what_it_supersedes, fx_teardown),
        cmocka_unit_test_teardown(test_lww_client_context_covers_no_unseen_sibling, fx_teardown),
        cmocka_unit_test_teardown(test_duplicated_forward_coordinated_once, fx_teardown),
        cmocka_unit_test_teardown(test_forward_from_restarted_origin_is_no_duplicate, fx_teardown),
        cmocka_unit_test_teardown(test_forward_from_cleanly_restarted_origin_is_no_duplicate,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_read_repair_own_copy_moves_scratch, fx_teardown),
        cmocka_unit_test_teardown(test_read_repair_own_copy_rewrites_scratch, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
