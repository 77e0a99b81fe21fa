/* test_router.c — libringkv's router (src/client/router.c) against the node's own placement:
 * for many keys, the primaries the router computes from the ring a node hands out (the bytes
 * RK.RING ROUTE sends: rk_ring_encode) equal what rk_node_preflist answers on every node,
 * the computation behind RK.PREFLIST and behind the node's choice to coordinate or forward.
 * Clusters of 1 to 9 nodes with N from 1 to 5 run in the simulator's fixture
 * (tests/unit/sim_fixture.h), so the rings are the ones real nodes claim. Then what the router
 * refuses: bytes that fail validation, n out of range, lookups before any ring; a refused
 * ring leaves the one it had. No network: the ring is loaded with rkc_router_load_ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/client/ringkv_router.h"
#include "../../src/core/node.h"
#include "../../src/core/ring.h"
#include "sim_fixture.h"

#define ROUTER_TEST_KEYS 5000u

/* node 1's ring, encoded as RK.RING ROUTE sends it; *len_out its length. Returns owned. */
static uint8_t *router_test_ring_bytes(rk_fixture *fx, size_t *len_out)
{
    uint8_t *bytes = malloc(RK_RING_ENCODED_BYTES_MAX);
    assert_non_null(bytes);
    int len = rk_ring_encode(rk_node_ring(fx_node(fx, 1)), bytes, RK_RING_ENCODED_BYTES_MAX);
    assert_true(len > 0);
    *len_out = (size_t)len;
    return bytes;
}

/* A router loaded with node 1's ring and `n`; *bytes_out (owned) and *len_out keep the bytes. */
static rkc_router *router_test_load(rk_fixture *fx, uint32_t n, uint8_t **bytes_out,
                                   size_t *len_out)
{
    *bytes_out = router_test_ring_bytes(fx, len_out);
    rkc_router *router = rkc_router_new(NULL);
    assert_non_null(router);
    assert_int_equal(rkc_router_load_ring(router, *bytes_out, *len_out, n), 0);
    return router;
}

/* Key i of a mix: redis-benchmark's names, bucketed names, and raw bytes with NULs. */
static size_t router_test_key(uint32_t i, uint8_t *key, size_t key_bytes)
{
    switch (i % 3) {
    case 0:
        return (size_t)snprintf((char *)key, key_bytes, "key:%012u", i);
    case 1:
        return (size_t)snprintf((char *)key, key_bytes, "cart%u:user%u", i % 7, i);
    default:
        for (size_t b = 0; b < 9; b++) {
            key[b] = (uint8_t)((i * 2654435761u) >> (b % 4 * 8));
        }
        key[4] = 0;
        return 9;
    }
}

/* Every key's primaries from the router equal rk_node_preflist's on every node. */
static void router_test_agrees(uint32_t nodes, uint8_t n)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    c.nodes = nodes;
    c.node.default_n = n;
    c.node.default_r = 1;
    c.node.default_w = 1;
    rk_fixture *fx = fx_new_with(&c);
    size_t len = 0;
    uint8_t *bytes = NULL;
    rkc_router *router = router_test_load(fx, n, &bytes, &len);
    assert_int_equal(rkc_router_n(router), n);
    assert_int_equal(rkc_router_ring_version(router), rk_node_ring(fx_node(fx, 1))->version);

    uint32_t expect_count = n < nodes ? n : nodes;
    for (uint32_t i = 0; i < ROUTER_TEST_KEYS; i++) {
        uint8_t key[64];
        size_t key_len = router_test_key(i, key, sizeof(key));
        uint32_t got[RKC_ROUTER_MEMBERS_MAX];
        int count = rkc_router_primaries(router, key, key_len, got, RKC_ROUTER_MEMBERS_MAX);
        assert_int_equal(count, expect_count);
        for (rk_node_id id = 1; id <= nodes; id++) {
            rk_node_id want[RK_MEMBERS_MAX];
            uint32_t primaries = 0;
            rk_node_preflist(fx_node(fx, id), key, key_len, want, RK_MEMBERS_MAX, &primaries);
            assert_int_equal(primaries, (uint32_t)count);
            assert_memory_equal(got, want, primaries * sizeof(want[0]));
        }
    }
    rkc_router_free(router);
    free(bytes);
    fx_free(fx);
}

static void test_router_agrees_with_node_five_nodes_n3(void **state)
{
    (void)state;
    router_test_agrees(5, 3);
}

static void test_router_agrees_with_node_many_shapes(void **state)
{
    (void)state;
    static const struct {
        uint32_t nodes;
        uint8_t n;
    } shapes[] = {{1, 1}, {1, 3}, {2, 3}, {3, 3}, {4, 2}, {7, 3}, {7, 5}, {9, 4}};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        router_test_agrees(shapes[i].nodes, shapes[i].n);
    }
}

/* Fewer ids asked for than there are primaries: the count is still all of them. */
static void test_router_primaries_count_beyond_room(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    size_t len = 0;
    uint8_t *bytes = NULL;
    rkc_router *router = router_test_load(fx, 3, &bytes, &len);
    uint32_t one = 0;
    assert_int_equal(rkc_router_primaries(router, "k", 1, &one, 1), 3);
    rk_node_id want[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    rk_node_preflist(fx_node(fx, 2), (const uint8_t *)"k", 1, want, RK_MEMBERS_MAX, &primaries);
    assert_int_equal(one, want[0]);
    rkc_router_free(router);
    free(bytes);
    fx_free(fx);
}

/* Before any ring, lookups refuse rather than guess. */
static void test_router_without_ring_refuses(void **state)
{
    (void)state;
    rkc_router *router = rkc_router_new(NULL);
    uint32_t ids[4];
    assert_int_equal(rkc_router_partition(router, "k", 1), RKC_EINVAL);
    assert_int_equal(rkc_router_primaries(router, "k", 1, ids, 4), RKC_EINVAL);
    assert_int_equal(rkc_router_members(router, ids, 4), 0);
    rkc_conn *conn = NULL;
    assert_int_equal(rkc_router_conn(router, "k", 1, &conn), RKC_EINVAL);
    assert_null(conn);
    assert_int_equal(rkc_router_refresh(router), RKC_EINVAL);
    rkc_router_free(router);
}

/* Corrupt bytes and n outside 1..64 are refused, and the ring loaded before keeps routing. */
static void test_router_refuses_bad_ring_and_keeps_old(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    size_t len = 0;
    uint8_t *bytes = NULL;
    rkc_router *router = router_test_load(fx, 3, &bytes, &len);
    uint32_t before[3];
    assert_int_equal(rkc_router_primaries(router, "cart:1", 6, before, 3), 3);

    bytes[RK_RING_HEADER_BYTES + 1] ^= 0x40;     /* a member id: the checksum catches it */
    assert_int_equal(rkc_router_load_ring(router, bytes, len, 3), RKC_EPROTO);
    bytes[RK_RING_HEADER_BYTES + 1] ^= 0x40;
    assert_int_equal(rkc_router_load_ring(router, bytes, len - 1, 3), RKC_EPROTO);
    assert_int_equal(rkc_router_load_ring(router, bytes, 0, 3), RKC_EPROTO);
    assert_int_equal(rkc_router_load_ring(router, bytes, len, 0), RKC_EINVAL);
    assert_int_equal(rkc_router_load_ring(router, bytes, len, RK_RING_TARGET_N_MAX + 1),
                     RKC_EINVAL);
    assert_int_equal(rkc_router_load_ring(router, bytes, len, RK_RING_TARGET_N_MAX), 0);
    assert_int_equal(rkc_router_load_ring(router, bytes, len, 3), 0);

    uint32_t after[3];
    assert_int_equal(rkc_router_primaries(router, "cart:1", 6, after, 3), 3);
    assert_memory_equal(before, after, sizeof(before));
    assert_true(strlen(rkc_router_errstr(router)) > 0);
    rkc_router_free(router);
    free(bytes);
    fx_free(fx);
}

/* A seed nobody listens on: connect fails with RKC_ECONNECT and names the address. */
static void test_router_connect_refused(void **state)
{
    (void)state;
    rkc_options opts;
    rkc_options_init(&opts);
    opts.connect_timeout_ms = 1000;
    rkc_router *router = rkc_router_new(&opts);
    assert_int_equal(rkc_router_connect(router, "127.0.0.1", 1), RKC_ECONNECT);
    assert_non_null(strstr(rkc_router_errstr(router), "127.0.0.1:1"));
    assert_int_equal(rkc_router_connect(router, NULL, 1), RKC_EINVAL);
    assert_int_equal(rkc_router_connect(router, "127.0.0.1", 0), RKC_EINVAL);
    rkc_router_free(router);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_router_agrees_with_node_five_nodes_n3, fx_teardown),
        cmocka_unit_test_teardown(test_router_agrees_with_node_many_shapes, fx_teardown),
        cmocka_unit_test_teardown(test_router_primaries_count_beyond_room, fx_teardown),
        cmocka_unit_test(test_router_without_ring_refuses),
        cmocka_unit_test_teardown(test_router_refuses_bad_ring_and_keeps_old, fx_teardown),
        cmocka_unit_test(test_router_connect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
