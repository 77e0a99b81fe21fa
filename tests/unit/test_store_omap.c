/* test_store_omap.c — the ordered map under the mem engine and the lmdb overlay: its hash
 * index must find exactly what the skiplist holds, through growth, replacement and removal,
 * and clear must leave a reusable map. Seeded; RK_SEED replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_seed.h"

#include <stdio.h>
#include <string.h>

#include "../../src/store/omap.h"

#define OMAP_TEST_KEYS 5000u

typedef struct omap_test_key {
    char text[16];
    size_t len;
    rk_omap_node *node;     /* linked node, or NULL */
} omap_test_key;

static rk_omap_node *omap_test_node(const omap_test_key *k)
{
    uint32_t level = rk_omap_level((const uint8_t *)k->text, k->len);
    rk_omap_node *n = calloc(1, rk_omap_node_bytes(level));
    assert_non_null(n);
    n->key = (const uint8_t *)k->text;
    n->key_len = k->len;
    n->level = level;
    return n;
}

static void omap_test_free(void *ctx, rk_omap_node *n)
{
    (void)ctx;
    free(n);
}

/* Random puts, replacements and removals; after each round every key is found exactly when it
 * is linked, as the very node linked, and an in-order walk sees each linked key once. */
static void test_hash_index_finds_exactly_what_is_linked(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_store_omap");
    static omap_test_key keys[OMAP_TEST_KEYS];
    for (uint32_t i = 0; i < OMAP_TEST_KEYS; i++) {
        keys[i].len = (size_t)snprintf(keys[i].text, sizeof(keys[i].text), "key:%u", i);
        keys[i].node = NULL;
    }
    rk_omap m;
    rk_omap_init(&m);
    for (uint32_t round = 0; round < 8; round++) {
        for (uint32_t op = 0; op < OMAP_TEST_KEYS; op++) {
            omap_test_key *k = &keys[test_rng_next(&rng) % OMAP_TEST_KEYS];
            if (test_rng_next(&rng) % 3 == 0) {
                rk_omap_node *gone = rk_omap_remove(&m, (const uint8_t *)k->text, k->len);
                assert_ptr_equal(gone, k->node);
                free(gone);
                k->node = NULL;
            } else {
                rk_omap_node *n = omap_test_node(k);
                rk_omap_node *old = rk_omap_put(&m, n);
                assert_ptr_equal(old, k->node);
                free(old);
                k->node = n;
            }
        }
        size_t linked = 0;
        for (uint32_t i = 0; i < OMAP_TEST_KEYS; i++) {
            assert_ptr_equal(rk_omap_find(&m, (const uint8_t *)keys[i].text, keys[i].len),
                             keys[i].node);
            linked += keys[i].node != NULL ? 1 : 0;
        }
        size_t walked = 0;
        for (rk_omap_node *n = rk_omap_first(&m); n != NULL; n = rk_omap_next(n)) {
            walked++;
        }
        assert_int_equal(walked, linked);
        assert_int_equal(m.count, linked);
    }
    rk_omap_clear(&m, omap_test_free, NULL);
    assert_null(rk_omap_find(&m, (const uint8_t *)"key:1", 5));
    /* A cleared map works again. */
    rk_omap_node *n = omap_test_node(&keys[1]);
    assert_null(rk_omap_put(&m, n));
    assert_ptr_equal(rk_omap_find(&m, (const uint8_t *)keys[1].text, keys[1].len), n);
    rk_omap_clear(&m, omap_test_free, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_index_finds_exactly_what_is_linked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
