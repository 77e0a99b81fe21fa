/* test_fwd_seen.c — the forwarded writes a node remembers (src/core/fwd_seen.h): a duplicate
 * is caught, distinct origins are kept apart, exactly the last RK_FWD_SEEN_MAX are remembered,
 * and over a long seeded sequence with repeats the hash index answers exactly as a scan of the
 * ring (the code it replaced) would. RK_SEED=<n> replays the property. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/fwd_seen.h"
#include "test_seed.h"

static rk_fwd_seen *fwd_new(void)
{
    rk_fwd_seen *f = malloc(sizeof(*f));
    assert_non_null(f);
    rk_fwd_seen_init(f);
    return f;
}

static void test_a_duplicate_is_caught_once_taken(void **state)
{
    (void)state;
    rk_fwd_seen *f = fwd_new();
    assert_false(rk_fwd_seen_check(f, 2, 77));
    assert_true(rk_fwd_seen_check(f, 2, 77));
    assert_true(rk_fwd_seen_check(f, 2, 77));
    assert_false(rk_fwd_seen_check(f, 3, 77));     /* another origin's id 77 is another write */
    assert_false(rk_fwd_seen_check(f, 2, 78));
    free(f);
}

/* The last RK_FWD_SEEN_MAX are all remembered; one more forgets exactly the oldest. */
static void test_remembers_exactly_the_last_max(void **state)
{
    (void)state;
    rk_fwd_seen *f = fwd_new();
    for (uint64_t id = 1; id <= RK_FWD_SEEN_MAX; id++) {
        assert_false(rk_fwd_seen_check(f, 1, id << 16));
    }
    assert_false(rk_fwd_seen_check(f, 1, (uint64_t)(RK_FWD_SEEN_MAX + 1) << 16));
    for (uint64_t id = 2; id <= RK_FWD_SEEN_MAX + 1; id++) {
        assert_true(rk_fwd_seen_check(f, 1, id << 16));
    }
    /* id 1 was the oldest: forgotten, and taken again as new. */
    assert_false(rk_fwd_seen_check(f, 1, 1ull << 16));
    free(f);
}

/* The reference: the linear scan over the ring the index replaced. */
typedef struct fwd_model {
    rk_node_id origin[RK_FWD_SEEN_MAX];
    uint64_t req_id[RK_FWD_SEEN_MAX];
    bool used[RK_FWD_SEEN_MAX];
    uint32_t next;
} fwd_model;

static bool fwd_model_check(fwd_model *m, rk_node_id origin, uint64_t req_id)
{
    for (uint32_t i = 0; i < RK_FWD_SEEN_MAX; i++) {
        if (m->used[i] && m->origin[i] == origin && m->req_id[i] == req_id) {
            return true;
        }
    }
    m->origin[m->next] = origin;
    m->req_id[m->next] = req_id;
    m->used[m->next] = true;
    m->next = (m->next + 1) % RK_FWD_SEEN_MAX;
    return false;
}

static void test_index_answers_as_the_scan(void **state)
{
    (void)state;
    uint64_t seed = test_seed("fwd_seen index against the scan");
    uint64_t rng = seed;
    rk_fwd_seen *f = fwd_new();
    fwd_model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    uint32_t hits = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        /* Few origins and ids from a window that slides: repeats near and past the ring's
         * reach, so both answers and evictions are exercised. */
        rk_node_id origin = (rk_node_id)(1 + test_rng_next(&rng) % 4);
        uint64_t req_id = (i / 2 + test_rng_next(&rng) % 1500) << 16 | test_rng_next(&rng) % 3;
        bool want = fwd_model_check(m, origin, req_id);
        bool got = rk_fwd_seen_check(f, origin, req_id);
        hits += got ? 1 : 0;
        if (want != got) {
            fail_msg("step %u: origin %u id %llu: index says %d, scan says %d (seed %llu)", i,
                     origin, (unsigned long long)req_id, got, want, (unsigned long long)seed);
        }
    }
    /* Both answers were exercised, not only "new". */
    assert_true(hits > 1000);
    assert_true(hits < 199000);
    free(m);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_duplicate_is_caught_once_taken),
        cmocka_unit_test(test_remembers_exactly_the_last_max),
        cmocka_unit_test(test_index_answers_as_the_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
