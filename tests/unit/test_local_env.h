/* test_local_env.h — a node's local store access as the core parts above it see it, for unit
 * tests of local and of the parts that write through it (clock): a mem store behind the fake
 * env of test_env.h, a ring of RK_RING_PARTITIONS_DEFAULT partitions owned by node
 * TEST_LOCAL_NODE, the node's counters and an rk_local over them. Header-only; include after
 * <cmocka.h>. */
#ifndef RK_TEST_LOCAL_ENV_H
#define RK_TEST_LOCAL_ENV_H

#include <stdlib.h>
#include <string.h>

#include "../../src/core/local.h"
#include "../../src/core/node.h"
#include "test_env.h"

#define TEST_LOCAL_NODE 1u

typedef struct test_local_env {
    test_env env;
    rk_store *store; /* owned */
    rk_ring ring;
    rk_node_stats stats;
    rk_local local;
} test_local_env;

/* Fill *le (zeroed first): open the store, claim the ring, init local. */
static inline void test_local_env_init(test_local_env *le)
{
    memset(le, 0, sizeof(*le));
    assert_int_equal(rk_store_mem_open(&le->store), 0);
    test_env_init(&le->env, le->store);
    assert_int_equal(rk_ring_init(&le->ring, RK_RING_PARTITIONS_DEFAULT), 0);
    rk_node_id self = TEST_LOCAL_NODE;
    assert_int_equal(rk_ring_claim(&le->ring, &self, 1, 1), 0);
    assert_int_equal(rk_local_init(&le->local, &le->env.env, &le->ring, &le->stats), 0);
}

static inline void test_local_env_deinit(test_local_env *le)
{
    rk_local_deinit(&le->local);
    rk_store_close(le->store);
}

#endif
