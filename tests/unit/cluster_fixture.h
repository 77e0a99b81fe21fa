/* cluster_fixture.h — helpers for the tests of the cluster metadata (src/core/cluster.c,
 * cluster_codec.c): test_cluster.c (bootstrap, codec, staging, plans) and test_cluster_merge.c
 * (merge, concurrent commits, split brain). Builds objects (a bootstrap of members 1..count,
 * copies), stages and commits expecting success, compares objects by their encoded bytes, and
 * recomputes a plan's units from the two rings (test_check_units). Header-only: each test file
 * is its own program. Include after <cmocka.h>; the tests link rk_io (CMakeLists.txt). */
#ifndef RK_TEST_CLUSTER_FIXTURE_H
#define RK_TEST_CLUSTER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/cluster.h"

#define TEST_Q 64u
#define TEST_N 3u
#define TEST_MESSAGE_BYTES 160u

static inline rk_member_addr test_addr(rk_node_id id)
{
    rk_member_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.id = id;
    snprintf(addr.host, sizeof(addr.host), "10.0.0.%u", id % 250u);
    addr.client_port = (uint16_t)(7000u + (id % 1000u));
    addr.cluster_port = (uint16_t)(17000u + (id % 1000u));
    return addr;
}

/* A zeroed object on the heap: one is ~150 KiB (two rings), too much for many on the stack. */
static inline rk_cluster_meta *test_meta_new(void)
{
    rk_cluster_meta *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    return m;
}

static inline void test_meta_free(rk_cluster_meta *m)
{
    rk_cluster_meta_deinit(m);
    free(m);
}

/* A bootstrap of members 1..count, Q = 64, n = 3, the cluster id derived from the list. */
static inline rk_cluster_meta *test_boot(uint32_t count)
{
    rk_member_addr addrs[RK_MEMBERS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        addrs[i] = test_addr(i + 1);
    }
    rk_cluster_meta *m = test_meta_new();
    assert_int_equal(
        rk_cluster_bootstrap(m, rk_cluster_id_of(addrs, count), TEST_Q, addrs, count, TEST_N), 0);
    return m;
}

static inline rk_cluster_meta *test_copy(const rk_cluster_meta *from)
{
    rk_cluster_meta *m = test_meta_new();
    assert_int_equal(rk_cluster_meta_copy(m, from), 0);
    return m;
}

static inline uint8_t *test_buf(void)
{
    uint8_t *buf = malloc(RK_CLUSTER_ENCODED_BYTES_MAX);
    assert_non_null(buf);
    return buf;
}

static inline int test_encode(const rk_cluster_meta *m, uint8_t *buf)
{
    int len = rk_cluster_encode(m, buf, RK_CLUSTER_ENCODED_BYTES_MAX);
    assert_true(len > 0);
    assert_true((size_t)len <= rk_cluster_encoded_bytes(m)); /* the bound membership.c uses */
    return len;
}

/* Whether a and b encode to the same bytes. */
static inline bool test_same_bytes(const rk_cluster_meta *a, const rk_cluster_meta *b)
{
    uint8_t *x = test_buf();
    uint8_t *y = test_buf();
    int lx = test_encode(a, x);
    int ly = test_encode(b, y);
    bool same = lx == ly && memcmp(x, y, (size_t)lx) == 0;
    free(x);
    free(y);
    return same;
}

/* Decode `bytes`, expect success, and expect the decoded object to encode to the same bytes. */
static inline rk_cluster_meta *test_round_trip(const uint8_t *bytes, int len)
{
    rk_cluster_meta *d = test_meta_new();
    assert_int_equal(rk_cluster_decode(d, bytes, (size_t)len), 0);
    uint8_t *again = test_buf();
    int len2 = test_encode(d, again);
    assert_int_equal(len2, len);
    assert_memory_equal(again, bytes, (size_t)len);
    free(again);
    return d;
}

/* Encode m and round-trip its bytes (test_round_trip). Returns the decoded copy, owned:
 * test_meta_free it. */
static inline rk_cluster_meta *test_reencoded(const rk_cluster_meta *m)
{
    uint8_t *buf = test_buf();
    rk_cluster_meta *d = test_round_trip(buf, test_encode(m, buf));
    free(buf);
    return d;
}

static inline void test_stage_join_ok(rk_cluster_meta *m, rk_node_id by, rk_node_id id)
{
    char message[TEST_MESSAGE_BYTES] = "";
    rk_member_addr addr = test_addr(id);
    int rc = rk_cluster_stage_join(m, by, &addr, message, sizeof(message));
    if (rc != 0) {
        fail_msg("stage_join %u: %d %s", id, rc, message);
    }
}

/* A leave (or with `force` a force-remove) of `id` staged by `by`, expected to succeed. */
static inline void test_stage_leave_ok(rk_cluster_meta *m, rk_node_id by, rk_node_id id, bool force)
{
    char message[TEST_MESSAGE_BYTES] = "";
    int rc = rk_cluster_stage_leave(m, by, id, force, message, sizeof(message));
    if (rc != 0) {
        fail_msg("stage_leave %u: %d %s", id, rc, message);
    }
}

static inline void test_commit_ok(rk_cluster_meta *m, rk_node_id by)
{
    char message[TEST_MESSAGE_BYTES] = "";
    int rc = rk_cluster_commit(m, by, TEST_N, message, sizeof(message));
    if (rc != 0) {
        fail_msg("commit: %d %s", rc, message);
    }
}

/* Mark every unit done and flip. */
static inline void test_finish(rk_cluster_meta *m)
{
    for (uint32_t i = 0; i < m->unit_count; i++) {
        rk_cluster_unit_done(m, i);
    }
    assert_true(rk_cluster_flip(m));
    assert_false(m->moving);
}

/* Where `id` stands in `list`, or count when absent. */
static inline uint32_t test_index_of(const rk_node_id *list, uint32_t count, rk_node_id id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (list[i] == id) {
            return i;
        }
    }
    return count;
}

static inline uint32_t test_min(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* The units of m for receiver `node` of partition p: counted, and each checked to have as
 * sources the serving primaries `before` in order, minus the receiver and the gone. */
static inline uint32_t test_check_units_of(const rk_cluster_meta *m, uint32_t p, rk_node_id node,
                                           const rk_node_id *before, uint32_t nb)
{
    uint32_t found = 0;
    for (uint32_t u = 0; u < m->unit_count; u++) {
        const rk_cluster_unit *unit = &m->units[u];
        if (unit->partition != p || unit->receiver != node) {
            continue;
        }
        found++;
        uint32_t s = 0;
        for (uint32_t j = 0; j < nb; j++) {
            if (before[j] == node || rk_cluster_gone(m, before[j])) {
                continue;
            }
            assert_true(s < unit->source_count);
            assert_int_equal(unit->sources[s], before[j]);
            s++;
        }
        assert_int_equal(s, unit->source_count);
    }
    return found;
}

/* The expected units of m's plan, recomputed here from the two rings: (p, node) for each node
 * whose place in the first plan_n of p's preference list is better in next than in the
 * serving ring (absent counts as worst), so that for some n <= plan_n it holds keys it did not.
 * Checks m's units are exactly these, each once, with sources the serving primaries that are
 * neither the receiver nor gone. Returns the count. */
static inline uint32_t test_check_units(const rk_cluster_meta *m)
{
    assert_true(m->moving);
    uint32_t expected = 0;
    for (uint32_t p = 0; p < m->ring.partition_count; p++) {
        rk_node_id before[RK_N_MAX];
        rk_node_id after[RK_N_MAX];
        uint32_t nb = 0;
        uint32_t na = 0;
        assert_true(rk_ring_preflist(&m->ring, p, test_min(m->plan_n, m->ring.member_count), before,
                                     RK_N_MAX, &nb) > 0);
        assert_true(rk_ring_preflist(&m->next, p, test_min(m->plan_n, m->next.member_count), after,
                                     RK_N_MAX, &na) > 0);
        for (uint32_t i = 0; i < na; i++) {
            uint32_t was = test_index_of(before, nb, after[i]);
            uint32_t found = test_check_units_of(m, p, after[i], before, nb);
            if (was > i) {
                if (found != 1) {
                    fail_msg("partition %u node %u gains keys (index %u, was %u): %u units", p,
                             after[i], i, was, found);
                }
                expected++;
            } else {
                assert_int_equal(found, 0);
            }
        }
    }
    /* Every unit was matched above: a receiver outside next's primaries would be extra. */
    assert_int_equal(m->unit_count, expected);
    return expected;
}

#endif
