/* test_sim_membership.c — membership changes on whole core nodes in the simulator fixture
 * (tests/unit/sim_fixture.h, issue 15, docs/membership.md): a lone node joins a running
 * cluster (stage on a member, adopt its metadata on the joiner, commit), with writes going on
 * during the transfers and with messages lost or a member down meanwhile; a member leaves; and
 * 70 join/leave cycles of fresh ids (rk_fixture_fresh) writing one key through each joiner,
 * whose stored history must stay bounded because the ids that left are forgotten.
 *
 * "Settled" is what an operator reads in INFO membership on every member: no plan moving, one
 * ring version everywhere, no transfer pending and no hint left (the cleanup after the flip
 * hands keys no longer owned to their owners through hints). Then every key must be held by
 * exactly the N primaries of the final ring and nobody else, and read back through every
 * node. Everything here runs on the virtual clock; nothing asserts timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/elems.h"
#include "../../src/core/ring.h"
#include "sim_fixture.h"

#define MS_KEYS 300u
#define MS_STEP_MS 100u
/* A plan, its cleanup (a request timeout after every member holds the new ring) and the
 * hints' deliveries fit well inside this much virtual time, or they never finish. */
#define MS_SETTLE_MS_MAX 120000u
/* Under ASan every metadata copy a node receives (an rk_cluster_meta of ~155 KB, two rings of
 * 64 Ki partitions decoded per gossip message) costs page faults and madvise calls in ASan's
 * allocator: 70 cycles took 3 minutes per churn test there, past ctest's 300 s per binary
 * (35 took 228 s alone). 12 distinct minters still pass this test's history bound of 8: the
 * history stays at 2 entries when members that left are forgotten, and grew by one a cycle when
 * they were not. */
#if defined(__SANITIZE_ADDRESS__)
#define MS_CYCLES 12u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_CYCLES 12u
#endif
#endif
#ifndef MS_CYCLES
#define MS_CYCLES 70u
#endif
#define MS_HISTORY_ENTRIES_MAX 8u
_Static_assert(MS_CYCLES > MS_HISTORY_ENTRIES_MAX, "fewer minters than the bound prove nothing");
#define MS_WRITES_MAX 4096u

/* ---- the cluster's view -------------------------------------------------------------------- */

/* Whether `id` is in the member list of node `at`'s metadata. */
static bool ms_is_member(rk_fixture *fx, rk_node_id at, rk_node_id id)
{
    return rk_cluster_member(rk_node_cluster(fx_node(fx, at)), id) != NULL;
}

/* The live nodes that are members in their own eyes and in node `anchor`'s: the cluster. */
static uint32_t ms_members(rk_fixture *fx, rk_node_id anchor, rk_node_id *out)
{
    uint32_t count = 0;
    for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
        rk_node_id id = rk_fixture_id_at(fx, slot);
        if (rk_fixture_node(fx, id) != NULL && ms_is_member(fx, anchor, id)) {
            out[count++] = id;
        }
    }
    return count;
}

/* INFO membership agrees on every member of anchor's cluster: nothing moving, one ring, no
 * transfer pending, no hint held; and every member's metadata names the same members. */
static bool ms_settled(rk_fixture *fx, rk_node_id anchor)
{
    rk_node_id ids[RK_SIM_NODES_MAX];
    uint32_t count = ms_members(fx, anchor, ids);
    const rk_cluster_meta *a = rk_node_cluster(fx_node(fx, anchor));
    for (uint32_t i = 0; i < count; i++) {
        const rk_cluster_meta *m = rk_node_cluster(fx_node(fx, ids[i]));
        const rk_node_stats *s = fx_stats(fx, ids[i]);
        if (m->moving || m->ring.version != a->ring.version || m->member_count != a->member_count ||
            s->transfers_pending != 0 || s->hints_pending != 0 ||
            s->ring_version != a->ring.version) {
            return false;
        }
        for (uint32_t j = 0; j < m->member_count; j++) {
            if (m->members[j].addr.id != a->members[j].addr.id ||
                m->members[j].state != RK_CMEMBER_VALID) {
                return false;
            }
        }
    }
    return true;
}

/* The key's primaries in node `at`'s ring, into p (room for RK_N_MAX); their count. */
static uint32_t ms_primaries(rk_fixture *fx, rk_node_id at, const char *key, rk_node_id *p)
{
    rk_node_id list[RK_SIM_NODES_MAX + RK_N_MAX];
    uint32_t primaries = 0;
    uint32_t count = rk_node_preflist(fx_node(fx, at), (const uint8_t *)key, strlen(key), list,
                                      RK_SIM_NODES_MAX + RK_N_MAX, &primaries);
    assert_true(count >= primaries);
    assert_true(primaries <= RK_N_MAX);
    memcpy(p, list, primaries * sizeof(list[0]));
    return primaries;
}

static bool ms_in(const rk_node_id *ids, uint32_t count, rk_node_id id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

/* Every key is held by exactly its n primaries of anchor's ring, on every live node of every
 * slot (members or not); the first misplaced key is described in `why`. */
static bool ms_placed(rk_fixture *fx, rk_node_id anchor, char (*keys)[32], uint32_t key_count,
                      char *why, size_t why_bytes)
{
    uint32_t n = rk_fixture_node_config(fx)->default_n;
    for (uint32_t k = 0; k < key_count; k++) {
        rk_node_id p[RK_N_MAX];
        uint32_t primaries = ms_primaries(fx, anchor, keys[k], p);
        if (primaries != n) {
            snprintf(why, why_bytes, "%s has %u primaries", keys[k], primaries);
            return false;
        }
        for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
            rk_node_id id = rk_fixture_id_at(fx, slot);
            if (rk_fixture_node(fx, id) == NULL) {
                continue;
            }
            bool holds = fx_local_len(fx, id, keys[k]) > 0;
            if (holds != ms_in(p, primaries, id)) {
                snprintf(why, why_bytes, "%s: node %u %s it (primaries %u %u %u)", keys[k], id,
                         holds ? "holds" : "lacks", p[0], p[1], p[2]);
                return false;
            }
        }
    }
    return true;
}

/* Run until settled and every key placed; fails the test with what was still wrong. */
static void ms_wait_settled(rk_fixture *fx, rk_node_id anchor, char (*keys)[32],
                            uint32_t key_count)
{
    char why[160] = "not settled";
    for (uint64_t waited = 0; waited <= MS_SETTLE_MS_MAX; waited += MS_STEP_MS) {
        if (ms_settled(fx, anchor) && ms_placed(fx, anchor, keys, key_count, why, sizeof(why))) {
            return;
        }
        fx_advance(fx, MS_STEP_MS);
    }
    const rk_cluster_meta *m = rk_node_cluster(fx_node(fx, anchor));
    fail_msg("after %u ms: %s (anchor %u: moving %d, ring %llu, units left %u, transfers_pending "
             "%llu, hints %llu)",
             MS_SETTLE_MS_MAX, why, anchor, m->moving, (unsigned long long)m->ring.version,
             rk_cluster_units_left(m),
             (unsigned long long)fx_stats(fx, anchor)->transfers_pending,
             (unsigned long long)fx_hints_everywhere(fx));
}

/* ---- membership commands ----------------------------------------------------------------- */

static void ms_stage_join(rk_fixture *fx, rk_node_id via, rk_node_id joiner)
{
    char message[256] = "";
    rk_member_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.id = joiner;           /* the simulator's addresses: empty host, ports 0 */
    int rc = rk_node_cluster_stage_join(fx_node(fx, via), &addr, message, sizeof(message));
    if (rc != 0) {
        fail_msg("stage-join %u via %u: %d %s", joiner, via, rc, message);
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(rk_node_cluster_encode(fx_node(fx, via), &bytes, &len), 0);
    rc = rk_node_cluster_adopt(fx_node(fx, joiner), bytes, len, message, sizeof(message));
    free(bytes);
    if (rc != 0) {
        fail_msg("adopt on %u: %d %s", joiner, rc, message);
    }
    fx_pump(fx);
}

static void ms_commit(rk_fixture *fx, rk_node_id via)
{
    char message[256] = "";
    int rc = rk_node_cluster_commit(fx_node(fx, via), message, sizeof(message));
    if (rc != 0) {
        fail_msg("commit via %u: %d %s", via, rc, message);
    }
    rk_fixture_run_due(fx);
}

static void ms_stage_leave(rk_fixture *fx, rk_node_id via, rk_node_id leaver)
{
    char message[256] = "";
    int rc = rk_node_cluster_leave(fx_node(fx, via), leaver, false, message, sizeof(message));
    if (rc != 0) {
        fail_msg("leave %u via %u: %d %s", leaver, via, rc, message);
    }
    fx_pump(fx);
}

/* ---- data ---------------------------------------------------------------------------------- */

typedef struct ms_data {
    uint32_t count;
    char keys[MS_WRITES_MAX][32];
    char values[MS_WRITES_MAX][32];
} ms_data;

static ms_data *ms_data_new(void)
{
    ms_data *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    return d;
}

/* Write key<i> = v<i> for MS_KEYS keys through the given members, each acknowledged. */
static void ms_write_keys(rk_fixture *fx, ms_data *d, const rk_node_id *via, uint32_t via_count)
{
    for (uint32_t i = 0; i < MS_KEYS; i++) {
        uint32_t at = d->count++;
        snprintf(d->keys[at], sizeof(d->keys[at]), "key%u", i);
        snprintf(d->values[at], sizeof(d->values[at]), "v%u", i);
        const fx_reply *r = fx_set(fx, via[i % via_count], d->keys[at], d->values[at], 0);
        assert_int_equal(r->kind, RK_REPLY_OK);
    }
}

/* Every key reads back its value through every member of anchor's cluster. */
static void ms_read_back(rk_fixture *fx, rk_node_id anchor, const ms_data *d)
{
    rk_node_id ids[RK_SIM_NODES_MAX];
    uint32_t count = ms_members(fx, anchor, ids);
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t k = 0; k < d->count; k++) {
            const fx_reply *r = fx_get(fx, ids[i], d->keys[k], 0, 0);
            if (r->kind != RK_REPLY_VALUE || strcmp((const char *)r->value, d->values[k]) != 0) {
                fail_msg("GET %s through %u: kind %d %s, want %s", d->keys[k], ids[i], r->kind,
                         r->kind == RK_REPLY_VALUE ? (const char *)r->value : "", d->values[k]);
            }
        }
    }
}

/* 3 members (1..3) and `lone` nodes alone (4..), 300 keys written through the members when
 * d is given. request_timeout_ms 0 keeps the default (5 s); a shorter one shortens the wait
 * before each flip's cleanup, which is most of a churn cycle's virtual time. */
static rk_fixture *ms_cluster(uint64_t seed, uint32_t lone, uint32_t request_timeout_ms,
                              ms_data *d)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.seed = seed;
    c.nodes = 3 + lone;
    c.lone = lone;
    if (request_timeout_ms != 0) {
        c.node.request_timeout_ms = request_timeout_ms;
    }
    rk_fixture *fx = fx_new_with(&c);
    for (rk_node_id id = 1; id <= 3; id++) {
        assert_int_equal(rk_node_cluster(fx_node(fx, id))->member_count, 3);
    }
    for (rk_node_id id = 4; id <= 3 + lone; id++) {
        assert_int_equal(rk_node_cluster(fx_node(fx, id))->member_count, 1);
        assert_false(ms_is_member(fx, 1, id));
    }
    if (d != NULL) {
        const rk_node_id via[3] = {1, 2, 3};
        ms_write_keys(fx, d, via, 3);
    }
    return fx;
}

/* The node gained partitions and the ring moved on. */
static void ms_assert_joined(rk_fixture *fx, rk_node_id joiner, uint64_t ring_before)
{
    const rk_cluster_meta *m = rk_node_cluster(fx_node(fx, 1));
    assert_true(m->ring.version > ring_before);
    assert_non_null(rk_cluster_member(m, joiner));
    const rk_cluster_meta *own = rk_node_cluster(fx_node(fx, joiner));
    assert_int_equal(own->cluster_id, m->cluster_id);
    assert_int_equal(own->ring.version, m->ring.version);
    assert_true(fx_stats(fx, joiner)->transfers_done > 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* A lone node joins 3 members holding 300 keys: the plan moves, every member settles on the
 * same ring, and each key ends on exactly its 3 new primaries and reads back everywhere. */
static void test_join_moves_keys_to_new_primaries(void **state)
{
    (void)state;
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(11, 1, 0, d);
    uint64_t ring_before = rk_node_cluster(fx_node(fx, 1))->ring.version;

    ms_stage_join(fx, 1, 4);
    ms_commit(fx, 1);
    assert_true(rk_node_cluster(fx_node(fx, 1))->moving);
    ms_wait_settled(fx, 1, d->keys, d->count);

    ms_assert_joined(fx, 4, ring_before);
    assert_true(fx_stats(fx, 4)->transfer_keys_received > 0);
    uint64_t cleaned = 0;       /* copies the old primaries no longer own went through hints */
    for (rk_node_id id = 1; id <= 3; id++) {
        cleaned += fx_stats(fx, id)->cleanup_keys;
    }
    assert_true(cleaned > 0);
    ms_read_back(fx, 1, d);
    free(d);
}

/* Writes every few ms while the transfers run: every acknowledged one reads back after. */
static void test_join_keeps_writes_made_during_transfers(void **state)
{
    (void)state;
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(12, 1, 0, d);
    ms_stage_join(fx, 1, 4);
    ms_commit(fx, 1);

    int64_t handles[MS_KEYS];
    uint32_t sent = 0;
    for (; sent < MS_KEYS && rk_node_cluster(fx_node(fx, 1))->moving; sent++) {
        /* Half overwrite a loaded key, half write a new one; through members 1..3 in turn. */
        char key[32];
        char value[32];
        snprintf(key, sizeof(key), sent % 2 == 0 ? "key%u" : "new%u", sent);
        snprintf(value, sizeof(value), "w%u", sent);
        handles[sent] = fx_send_set(fx, (rk_node_id)(1 + sent % 3), key, value, 0);
        fx_advance(fx, 3);
    }
    assert_true(sent > 10);     /* the transfers took a while: writes overlapped them */
    uint32_t acked = 0;
    for (uint32_t i = 0; i < sent; i++) {
        const fx_reply *r = fx_wait(fx, handles[i]);
        char key[32];
        snprintf(key, sizeof(key), i % 2 == 0 ? "key%u" : "new%u", i);
        uint32_t at = d->count;
        if (i % 2 == 0) {
            for (at = 0; strcmp(d->keys[at], key) != 0; at++) {
            }
        }
        if (r->kind == RK_REPLY_OK) {
            acked++;
            snprintf(d->keys[at], sizeof(d->keys[at]), "%s", key);
            snprintf(d->values[at], sizeof(d->values[at]), "w%u", i);
            d->count += at == d->count ? 1u : 0u;
        } else {
            fail_msg("write %s through %u refused: %d %s", key, 1 + i % 3, r->error,
                     r->message != NULL ? r->message : "");
        }
    }
    assert_int_equal(acked, sent);
    ms_wait_settled(fx, 1, d->keys, d->count);
    ms_read_back(fx, 1, d);
    free(d);
}

/* After a join, node 2 leaves: it ends up gone from everyone's members, owns nothing, holds
 * no key, and every key still reads back through the members left. */
static void test_leave_hands_everything_off(void **state)
{
    (void)state;
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(13, 1, 0, d);
    ms_stage_join(fx, 1, 4);
    ms_commit(fx, 1);
    ms_wait_settled(fx, 1, d->keys, d->count);

    ms_stage_leave(fx, 1, 2);
    ms_commit(fx, 1);
    ms_wait_settled(fx, 1, d->keys, d->count);

    const rk_node_id left[3] = {1, 3, 4};
    for (uint32_t i = 0; i < 3; i++) {
        const rk_cluster_meta *m = rk_node_cluster(fx_node(fx, left[i]));
        assert_int_equal(m->member_count, 3);
        assert_null(rk_cluster_member(m, 2));
        assert_true(rk_cluster_gone(m, 2));
        const rk_ring *ring = &m->ring;
        for (uint32_t p = 0; p < ring->partition_count; p++) {
            assert_int_not_equal(rk_ring_owner(ring, p), 2);
        }
    }
    for (uint32_t k = 0; k < d->count; k++) {
        assert_int_equal(fx_local_len(fx, 2, d->keys[k]), 0);
    }
    assert_int_equal(fx_stats(fx, 2)->keys_live, 0);
    assert_true(fx_stats(fx, 2)->transfer_keys_sent + fx_stats(fx, 2)->cleanup_keys > 0);
    ms_read_back(fx, 1, d);
    free(d);
}

/* Transfer responses to the joiner are lost for a while: it asks again (counted) and the
 * plan finishes once the network heals. */
static void test_join_retries_lost_transfer_batches(void **state)
{
    (void)state;
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(14, 1, 0, d);
    ms_stage_join(fx, 1, 4);
    rk_fixture_filter(fx, RK_FIXTURE_DROP, RK_MSG_AAE_RESP, 0, 4, 0);
    ms_commit(fx, 1);
    fx_advance(fx, 20000);
    assert_true(rk_node_cluster(fx_node(fx, 1))->moving);   /* nothing got through */
    assert_true(fx_stats(fx, 4)->transfer_retries > 0);
    rk_fixture_release(fx);
    ms_wait_settled(fx, 1, d->keys, d->count);
    ms_read_back(fx, 1, d);
    free(d);
}

/* A source goes down right after the commit and comes back 10 s later: the joiner pulls
 * from the other sources (or again later) and the plan finishes. */
static void test_join_survives_source_down(void **state)
{
    (void)state;
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(15, 1, 0, d);
    ms_stage_join(fx, 1, 4);
    ms_commit(fx, 1);
    fx_advance(fx, 5);
    fx_down(fx, 2);
    fx_advance(fx, 10000);
    fx_up(fx, 2);
    ms_wait_settled(fx, 1, d->keys, d->count);
    ms_read_back(fx, 1, d);
    free(d);
}

/* ---- churn --------------------------------------------------------------------------------- */

typedef enum ms_churn {
    MS_CHURN_LWW = 0,       /* SET of the key: one sibling, the latest write */
    MS_CHURN_SET_REMOVED,   /* policy set: each joiner's members removed again before it leaves */
    MS_CHURN_SET_KEPT,      /* policy set: each joiner's members stay */
} ms_churn;

/* SADD or SREM of `member` (op) on key through `id`; fails unless answered with an integer. */
static void ms_set_write(rk_fixture *fx, rk_node_id id, rk_op_kind op, const char *key,
                         const char *member)
{
    const fx_reply *r = fx_member_write(fx, id, op, key, member);
    if (r->kind != RK_REPLY_INT) {
        fail_msg("%s %s %s through %u: kind %d, error %d: %s", op == RK_OP_SADD ? "SADD" : "SREM",
                 key, member, id, r->kind, r->error, r->message != NULL ? r->message : "");
    }
}

/* One write of the churn test (SET value, or SADD it as a member) through `id`. */
static void ms_churn_write(rk_fixture *fx, rk_node_id id, ms_churn mode, const char *key,
                           const char *value)
{
    if (mode == MS_CHURN_LWW) {
        const fx_reply *r = fx_set(fx, id, key, value, 0);
        if (r->kind != RK_REPLY_OK) {
            fail_msg("SET %s %s through %u: kind %d, error %d: %s", key, value, id, r->kind,
                     r->error, r->message != NULL ? r->message : "");
        }
        return;
    }
    ms_set_write(fx, id, RK_OP_SADD, key, value);
}

/* The largest history any live node stores for key. */
static uint32_t ms_history_max(rk_fixture *fx, const char *key)
{
    uint32_t most = 0;
    for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
        rk_node_id id = rk_fixture_id_at(fx, slot);
        if (rk_fixture_node(fx, id) == NULL || fx_local_len(fx, id, key) == 0) {
            continue;
        }
        rk_dvvset set;
        fx_local_decode(fx, id, key, &set);
        most = set.history.entry_count > most ? set.history.entry_count : most;
        rk_dvvset_deinit(&set);
    }
    return most;
}

/* The members of a set key read through `id`, joined by spaces (sorted, as SMEMBERS sorts). */
static void ms_smembers(rk_fixture *fx, rk_node_id id, const char *key, char *out, size_t size)
{
    rk_request req = {.kind = RK_REQ_READ,
                      .op = RK_READ_SMEMBERS,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key)};
    int64_t handle = rk_fixture_request(fx, id, &req);
    assert_true(handle > 0);
    const fx_reply *r = fx_pumped(fx, handle);
    assert_int_equal(r->kind, RK_REPLY_SET);
    size_t used = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < r->value_count; i++) {
        int written = snprintf(out + used, size - used, "%s%s", i > 0 ? " " : "",
                               (const char *)r->values[i]);
        assert_true(written > 0);
        assert_true((size_t)written < size - used);
        used += (size_t)written;
    }
}

/* 70 cycles: a fresh id joins, writes one key three times through itself (coordinating the
 * writes when it is a primary of the key, which the test counts), then leaves; its slot takes
 * the next fresh id. 70 minters would outgrow any history bound (RK_VV_ENTRIES_MAX is 64, a
 * set's clock RK_SET_CLOCK_ENTRIES_MAX 32) unless the ids that left are forgotten. */
static void run_churn(ms_churn mode)
{
    const char *key = mode == MS_CHURN_LWW ? "k" : "cart:k";
    ms_data *d = ms_data_new();
    rk_fixture *fx = ms_cluster(16 + mode, 1, 1000, NULL);
    if (mode != MS_CHURN_LWW) {
        fx_bucket_set(fx, 1, "cart", "policy", "set", 3);
    }
    ms_churn_write(fx, 1, mode, key, "m0");
    snprintf(d->keys[0], sizeof(d->keys[0]), "%s", key);
    d->count = 1;
    rk_node_id joiner = 4;
    uint32_t coordinated = 0;
    uint32_t history_most = 0;
    for (uint32_t cycle = 1; cycle <= MS_CYCLES; cycle++) {
        ms_stage_join(fx, 1, joiner);
        ms_commit(fx, 1);
        ms_wait_settled(fx, 1, d->keys, d->count);
        rk_node_id p[RK_N_MAX];
        uint32_t primaries = ms_primaries(fx, 1, key, p);
        coordinated += ms_in(p, primaries, joiner) ? 1u : 0u;
        for (uint32_t w = 0; w < 3; w++) {
            char value[32];
            snprintf(value, sizeof(value), "m%u.%u", cycle, w);
            ms_churn_write(fx, joiner, mode, key, value);
            if (mode == MS_CHURN_SET_REMOVED) {
                ms_set_write(fx, joiner, RK_OP_SREM, key, value);
            }
        }
        ms_stage_leave(fx, 1, joiner);
        ms_commit(fx, 1);
        ms_wait_settled(fx, 1, d->keys, d->count);
        assert_false(ms_is_member(fx, 1, joiner));
        assert_int_equal(fx_local_len(fx, joiner, key), 0);
        uint32_t history = ms_history_max(fx, key);
        history_most = history > history_most ? history : history_most;
        if (history >= MS_HISTORY_ENTRIES_MAX) {
            fail_msg("cycle %u: %s's history holds %u entries", cycle, key, history);
        }
        joiner = rk_fixture_fresh(fx, joiner);
    }
    print_message("churn %d: %u cycles in %llu virtual ms, joiner a primary of the key in %u, "
                  "history at most %u entries\n", mode, MS_CYCLES,
                  (unsigned long long)rk_fixture_now_ms(fx), coordinated, history_most);
    assert_true(coordinated > MS_CYCLES / 3);  /* many distinct minters went through the key */
    ms_churn_write(fx, 2, mode, key, "last");
    for (rk_node_id id = 1; id <= 3; id++) {
        assert_int_equal(fx_stats(fx, id)->set_clock_refused, 0);
        assert_int_equal(fx_stats(fx, id)->siblings_refused, 0);
    }
    if (mode == MS_CHURN_LWW) {
        fx_assert_value(fx_get(fx, 3, key, 0, 0), "last");
    } else if (mode == MS_CHURN_SET_REMOVED) {
        char members[256];
        ms_smembers(fx, 3, key, members, sizeof(members));
        assert_string_equal(members, "last m0");
    } else {
        /* Every member any joiner added is still there: m0, 3 per cycle and "last". */
        char *members = malloc(64u * 1024u);
        assert_non_null(members);
        ms_smembers(fx, 3, key, members, 64u * 1024u);
        uint32_t count = 1;
        for (const char *c = members; *c != '\0'; c++) {
            count += *c == ' ' ? 1u : 0u;
        }
        free(members);
        assert_int_equal(count, 2u + 3u * MS_CYCLES);
    }
    free(d);
}

static void test_churn_keeps_history_bounded(void **state)
{
    (void)state;
    run_churn(MS_CHURN_LWW);
}

/* A set whose members from each joiner are removed before it leaves: no live member's dot
 * pins a gone id, so its clock entries are forgotten. */
static void test_churn_keeps_set_clock_bounded(void **state)
{
    (void)state;
    run_churn(MS_CHURN_SET_REMOVED);
}

/* A set whose members added through each joiner stay. Every live member's dot names the id
 * that added it, and rk_dvvset_forget keeps the history entry of any id a sibling's dot names:
 * before policy_set.c re-added such members under the next coordinator's dots, the set's clock
 * gained one entry per cycle and at cycle 32 the joiner's SADD was refused ("the set's clock
 * would hold 33 entries"). Now the history stays small and every member added stays. */
static void test_churn_set_with_members_of_gone_ids(void **state)
{
    (void)state;
    run_churn(MS_CHURN_SET_KEPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_join_moves_keys_to_new_primaries, fx_teardown),
        cmocka_unit_test_teardown(test_join_keeps_writes_made_during_transfers, fx_teardown),
        cmocka_unit_test_teardown(test_leave_hands_everything_off, fx_teardown),
        cmocka_unit_test_teardown(test_join_retries_lost_transfer_batches, fx_teardown),
        cmocka_unit_test_teardown(test_join_survives_source_down, fx_teardown),
        cmocka_unit_test_teardown(test_churn_keeps_history_bounded, fx_teardown),
        cmocka_unit_test_teardown(test_churn_keeps_set_clock_bounded, fx_teardown),
        cmocka_unit_test_teardown(test_churn_set_with_members_of_gone_ids, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
